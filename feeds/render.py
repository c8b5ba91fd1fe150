"""Renders a list of entries as Atom 1.0, RSS 2.0 or JSON Feed 1.1 bytes, deterministically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from html import escape

from feedgen.feed import FeedGenerator

from db.clock import parse_iso
from db.queries import FeedEntry
from feeds.sanitize import clean_html, xml_text

FORMATS = ("atom", "rss", "json")
MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
GENERATOR = "wiredesk"
EPOCH = "1970-01-01T00:00:00Z"


@dataclass
class FeedSpec:
    """What a feed is: `path` without extension (`topics/defense`, `all`)."""

    path: str
    title: str
    description: str
    base_url: str

    def url(self, fmt: str) -> str:
        return f"{self.base_url}{self.path}.{fmt}"


def entry_link(e: FeedEntry, base_url: str) -> str:
    """The story's own URL; a dropped wire story has none and links to its page here."""
    return e.url or f"{base_url}articles/{e.id}"


def entry_html(e: FeedEntry) -> str:
    """Sanitised content plus the dateline and the outlets that also carried the story."""
    parts = []
    if e.dateline or e.agency:
        where = ", ".join(x for x in (e.dateline, e.agency) if x)
        parts.append(f"<p><strong>{escape(where)}</strong></p>")
    body = clean_html(e.content_html)
    if not body and e.body:
        body = "".join(f"<p>{escape(p)}</p>" for p in e.body.split("\n\n"))
    parts.append(body)
    if e.also:
        links = ", ".join(
            f'<a href="{escape(c.url)}">{escape(c.source)}</a>' if c.url else escape(c.source)
            for c in e.also
        )
        parts.append(f"<p>Also reported by: {links}</p>")
    return xml_text("\n".join(parts))


def entry_summary(e: FeedEntry) -> str:
    text = e.summary or (e.body or "").split("\n\n", 1)[0]
    return xml_text(text[:600])


def _author(e: FeedEntry) -> str:
    return xml_text(e.author or e.agency or e.source)


def _latest(entries: list[FeedEntry]) -> str:
    return max((e.updated for e in entries), default=EPOCH)


def _generator(fg: FeedGenerator, spec: FeedSpec, fmt: str, entries: list[FeedEntry]) -> None:
    fg.id(spec.url("atom"))
    fg.title(xml_text(spec.title))
    fg.subtitle(xml_text(spec.description))
    fg.description(xml_text(spec.description))
    fg.link(href=spec.url(fmt), rel="self")
    fg.link(href=spec.base_url, rel="alternate")
    fg.language("en")
    fg.generator(GENERATOR)
    # feedgen stamps "now" unless told otherwise: pin every date to the data
    latest = parse_iso(_latest(entries))
    fg.updated(latest)
    fg.lastBuildDate(latest)
    fg.author({"name": GENERATOR})
    for e in entries:
        fe = fg.add_entry(order="append")
        fe.id(e.guid)
        fe.guid(e.guid, permalink=False)
        fe.title(xml_text(e.title))
        fe.link(href=entry_link(e, spec.base_url), rel="alternate")
        fe.published(parse_iso(e.published))
        fe.updated(parse_iso(e.updated))
        fe.author({"name": _author(e)})
        for t in e.topics:
            fe.category(term=t, label=t)
        fe.summary(entry_summary(e))
        fe.content(entry_html(e), type="html")
        if e.url:
            fe.source(url=e.url, title=xml_text(e.source))


def render_atom(spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    fg = FeedGenerator()
    _generator(fg, spec, "atom", entries)
    return bytes(fg.atom_str(pretty=True))


def render_rss(spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    fg = FeedGenerator()
    _generator(fg, spec, "rss", entries)
    return bytes(fg.rss_str(pretty=True))


def render_json(spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    items = []
    for e in entries:
        item: dict[str, object] = {
            "id": e.guid,
            "url": entry_link(e, spec.base_url),
            "title": xml_text(e.title),
            "content_html": entry_html(e),
            "summary": entry_summary(e),
            "date_published": e.published,
            "date_modified": e.updated,
            "authors": [{"name": _author(e)}],
            "tags": e.topics,
            "_wiredesk": {
                "source": e.source,
                "agency": e.agency,
                "dateline": e.dateline,
                "also_reported_by": [{"source": c.source, "url": c.url} for c in e.also],
            },
        }
        if e.language:
            item["language"] = e.language
        items.append(item)
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": spec.base_url,
        "feed_url": spec.url("json"),
        "description": spec.description,
        "items": items,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


RENDERERS = {"atom": render_atom, "rss": render_rss, "json": render_json}


def render(fmt: str, spec: FeedSpec, entries: list[FeedEntry]) -> bytes:
    return RENDERERS[fmt](spec, entries)


def http_date(iso_text: str | None) -> str:
    """RFC 7231 date for Last-Modified."""
    return format_datetime(parse_iso(iso_text or EPOCH).astimezone(UTC), usegmt=True)
