"""Feed bytes (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed 1.0/1.1) to Items.

Well-formed RSS/Atom documents that `ingest.fastparse` can read exactly as feedparser
would go through lxml there; every other XML document goes through feedparser (any
encoding, lenient on ill-formed XML, the warning kept) with its slow HTML sanitiser and
URI resolver off: `ingest.markup` does both in one nh3 pass. JSON goes through
`ingest.jsonfeed`. Everything here is pure and picklable, so it runs in a worker process
(see `ingest.parsepool`).
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8  # type: ignore[import-untyped]

from ingest.fastparse import Document, parse_wellformed
from ingest.feedmodel import FeedFormatError, ParsedFeed, build_item, struct_to_dt
from ingest.identity import entry_key
from ingest.jsonfeed import parse_json_feed
from ingest.text import clean_text

__all__ = ["FeedFormatError", "ParsedFeed", "parse_feed"]

# feedparser's loose parser expands internal entities without limit (a 110 KB feed
# became a 300 MB title): refuse any document that declares one before it sees it.
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_CDATA_OPEN, _CDATA_CLOSE = b"<![CDATA[", b"]]>"
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.S
)
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _entry_date(entry: Any) -> tuple[datetime | None, str | None]:
    # `entry.get("updated")` warns when only `published` exists: read the keys directly
    for key in ("published", "updated", "created"):
        if key in entry:
            return struct_to_dt(entry.get(f"{key}_parsed")), entry[key]
    return None, None


def _content(entry: Any) -> tuple[str | None, str | None]:
    """The longest content value, and the base URL its relative links resolve against."""
    contents = entry.get("content") or []
    best = max(contents, key=lambda c: len(c.get("value", "")), default=None)
    if best is None or not best.get("value"):
        return None, None
    return best["value"], best.get("base")


def _is_json(data: bytes) -> bool:
    head = data[:64]
    for bom in _BOMS:
        head = head.removeprefix(bom)
    return head.lstrip()[:1] == b"{"


def _declares_entities(utf8: bytes) -> bool:
    """Whether the document declares an XML entity, read the way feedparser will read it.

    feedparser first converts the bytes to UTF-8 (from UTF-16/32, EBCDIC, UTF-7, whatever
    the headers or the XML declaration say) and only then looks for `<!ENTITY` anywhere
    before the root element: a check of the raw bytes, or of their first kilobytes,
    misses both. So this converts with feedparser's own function (~1 ms per MB, against
    ~600 ms to parse that MB) and looks at the whole result; a `<!ENTITY` inside a
    CDATA section is article text, not a declaration.
    """
    pos = 0  # always outside a CDATA section: each stretch is scanned once
    while m := _ENTITY_DECL.search(utf8, pos):
        opened = utf8.rfind(_CDATA_OPEN, pos, m.start())
        if opened == -1 or utf8.find(_CDATA_CLOSE, opened, m.start()) != -1:
            return True
        pos = utf8.find(_CDATA_CLOSE, m.start())
        if pos == -1:
            return False
    return False


def _check(data: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, Any]]:
    """Refuse what is not a feed or is hostile; else the document as feedparser will read
    it (converted to UTF-8 with feedparser's own function) and what that conversion found
    (`encoding`, and `bozo` when the declared and the real encoding disagree)."""
    if not data.strip():
        raise FeedFormatError("empty body: no feed document")
    if _HTML_START.match(data[:4096]):
        raise FeedFormatError("an HTML page, not a feed")
    found: dict[str, Any] = {}
    utf8 = convert_to_utf8(dict(headers), data, found)
    if _declares_entities(utf8):
        raise FeedFormatError("the document declares XML entities (<!ENTITY): refused")
    return utf8, found


def parse_feed(
    data: bytes,
    source: str,
    *,
    base_url: str | None = None,
    response_headers: dict[str, str] | None = None,
    max_items: int | None = None,
    fast_path: bool = True,
) -> ParsedFeed:
    """Raises FeedFormatError when the bytes are not a feed; otherwise every entry is an
    Item or a recorded failure. `fast_path=False` sends every XML document to feedparser
    (the equivalence tests and the benchmark compare both paths)."""
    headers = {k.lower(): v for k, v in (response_headers or {}).items()}
    if _is_json(data):
        m = _CHARSET.search(headers.get("content-type", ""))
        return parse_json_feed(
            data,
            source,
            base_url=base_url,
            charset=m.group(1) if m else None,
            max_items=max_items,
        )
    if base_url:
        headers.setdefault("content-location", base_url)
    if not _CHARSET.search(headers.get("content-type", "")):
        # without a charset feedparser follows RFC 3023 (text/xml means us-ascii, no
        # header means latin-1) and ignores the XML declaration and chardet: a type
        # that leaves the choice to the document reads real feeds right
        headers["content-type"] = "application/xml"
    utf8, found = _check(data, headers)
    fast = parse_wellformed(utf8, found, headers) if fast_path else None
    if fast is not None:
        return _build(fast, source, base_url=base_url, max_items=max_items)
    parsed = feedparser.parse(
        io.BytesIO(data),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}"
    if not parsed.get("version") and not parsed.entries:
        raise FeedFormatError(f"not a recognised feed format ({warning or 'no feed elements'})")
    doc = Document(parsed.get("feed", {}), parsed.entries, parsed.get("version"), warning)
    return _build(doc, source, base_url=base_url, max_items=max_items)


def _build(
    doc: Document, source: str, *, base_url: str | None, max_items: int | None
) -> ParsedFeed:
    """Items from feedparser's entries (or the fast path's same-shaped dicts)."""
    feed = doc.feed
    ttl_text = str(feed.get("ttl", "")).strip()
    ttl = int(ttl_text) * 60 if ttl_text.isdigit() and len(ttl_text) < 7 else None
    out = ParsedFeed([], clean_text(feed.get("title", "")) or None, doc.version, ttl, doc.warning)
    out.entries_total = len(doc.entries)
    for entry in doc.entries[:max_items]:
        link = (entry.get("link") or "").strip() or None
        guid = (entry.get("id") or "").strip() or None
        title = entry.get("title") or None
        published, raw = _entry_date(entry)
        key = entry_key(guid, link, title, raw)
        content, content_base = _content(entry)
        summary_detail = entry.get("summary_detail") or {}
        out.add(
            key,
            build_item(
                source,
                key=key,
                guid=guid,
                link=link,
                title_html=title,
                content_html=content,
                summary_html=entry.get("summary") or None,
                base=content_base or summary_detail.get("base") or base_url,
                published=published,
                published_raw=raw,
                author=entry.get("author") or None,
                language=entry.get("language") or feed.get("language") or None,
            ),
        )
    return out
