"""Strict allowlist sanitising of HTML and XML-safe text on output.

feedparser's sanitiser lets `javascript:` links, SVG `xlink:href` and forms through, and
stored text may carry characters XML cannot hold: everything published passes here.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

import nh3

_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "blockquote": {"cite"},
    "q": {"cite"},
}


def xml_text(text: str | None) -> str:
    """Text with every character XML 1.0 forbids removed."""
    return _XML_INVALID.sub("", text or "")


def clean_html(html: str | None) -> str:
    """Only allowlisted tags and attributes; only http(s) and mailto URLs; no scripts,
    handlers, iframes, forms, SVG or styles."""
    if not html:
        return ""
    return xml_text(
        nh3.clean(
            xml_text(html),
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )


# RFC 3986 reserved and unreserved characters plus '%': everything else is escaped
_URI_SAFE = "!#$&'()*+,/:;=?@[]~-._%"


def safe_url(url: str | None) -> str | None:
    """An absolute http(s) URL that is a valid IRI in any feed or page, or None.

    `javascript:`, `data:`, relative and otherwise odd links from sources are refused
    here, so no published link can carry active content.
    """
    text = xml_text(url).strip()
    if not text:
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    else:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_URI_SAFE),
            quote(parts.query, safe=_URI_SAFE),
            quote(parts.fragment, safe=_URI_SAFE),
        )
    )
