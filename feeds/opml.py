"""OPML 2.0 listing every topic feed in every format, for one-step subscription."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from feeds.render import FORMATS, FeedSpec
from feeds.sanitize import xml_text

_LABEL = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}


def render_opml(title: str, specs: list[FeedSpec], date_modified: str) -> bytes:
    """OPML 2.0 says subscriptions are `type="rss"` whatever their format (readers
    such as newsboat and Feedly only import those); the format is in the title."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{escape(xml_text(title))}</title>",
        f"    <dateModified>{date_modified}</dateModified>",
        "  </head>",
        "  <body>",
    ]
    for spec in specs:
        lines.append(f"    <outline text={quoteattr(xml_text(spec.title))}>")
        for fmt in FORMATS:
            label = f"{spec.title} ({_LABEL[fmt]})"
            lines.append(
                f'      <outline type="rss" text={quoteattr(xml_text(label))}'
                f" title={quoteattr(xml_text(label))} xmlUrl={quoteattr(spec.url(fmt))}"
                f" htmlUrl={quoteattr(spec.base_url)}/>"
            )
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")
