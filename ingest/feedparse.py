"""Feed bytes (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed) to Items, via feedparser."""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.item import Item
from ingest.text import clean_text, html_to_text


class FeedFormatError(ValueError):
    """The bytes are not a feed (HTML page, empty body, hostile DTD, …)."""


# feedparser's loose parser expands internal entities without limit (a 110 KB feed
# became a 300 MB title): refuse any document that declares one before it sees it.
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.S
)


@dataclass
class ParsedFeed:
    items: list[Item]
    title: str | None = None
    version: str | None = None
    ttl_seconds: int | None = None
    warning: str | None = None  # feedparser's bozo exception, kept when it still parsed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (item key, reason)


def _struct_to_dt(st: time.struct_time | None) -> datetime | None:
    if st is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(st), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _entry_date(entry: Any) -> tuple[datetime | None, str | None]:
    # `entry.get("updated")` warns when only `published` exists: read the keys directly
    for key in ("published", "updated", "created"):
        if key in entry:
            raw = entry[key]
            return _struct_to_dt(entry.get(f"{key}_parsed")), raw
    return None, None


def _content_html(entry: Any) -> str | None:
    contents = entry.get("content") or []
    best = max((c.get("value", "") for c in contents), key=len, default="")
    return best or None


def entry_identity(entry: Any, link: str | None, title: str | None, date_raw: str | None) -> str:
    """guid, else the link, else a hash of title and date (the interface's item_key)."""
    guid = (entry.get("id") or "").strip()
    if guid:
        return guid
    if link:
        return link
    basis = f"{title or ''}\n{date_raw or ''}"
    return "sha256:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def parse_feed(
    data: bytes,
    source: str,
    *,
    base_url: str | None = None,
    response_headers: dict[str, str] | None = None,
) -> ParsedFeed:
    if not data.strip():
        raise FeedFormatError("empty body: no feed document")
    if _ENTITY_DECL.search(data[:65536]):
        raise FeedFormatError("the document declares XML entities (<!ENTITY): refused")
    if _HTML_START.match(data[:4096]):
        raise FeedFormatError("an HTML page, not a feed")
    headers = dict(response_headers or {})
    if base_url:
        headers.setdefault("content-location", base_url)
    parsed = feedparser.parse(
        io.BytesIO(data), response_headers=headers, sanitize_html=True, resolve_relative_uris=True
    )
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}"
    if not parsed.get("version") and not parsed.entries:
        raise FeedFormatError(f"not a recognised feed format ({warning or 'no feed elements'})")

    feed = parsed.get("feed", {})
    ttl = None
    if str(feed.get("ttl", "")).strip().isdigit():
        ttl = int(str(feed["ttl"]).strip()) * 60
    out = ParsedFeed(
        [], clean_text(feed.get("title", "")) or None, parsed.get("version"), ttl, warning
    )
    for entry in parsed.entries:
        link = entry.get("link") or None
        title = clean_text(html_to_text(entry.get("title", ""))) or None
        published, raw = _entry_date(entry)
        key = entry_identity(entry, link, title, raw)
        content = _content_html(entry)
        summary = entry.get("summary") or None
        if summary and content and html_to_text(summary) == html_to_text(content):
            summary = None
        if not (title or content or summary):
            out.failures.append((key, "entry has no title, summary or content"))
            continue
        out.items.append(
            Item(
                source=source,
                item_key=key,
                title=title,
                summary=summary,
                content_html=content or summary,
                url=link,
                guid=(entry.get("id") or "").strip() or None,
                published=published,
                published_raw=raw,
                author=entry.get("author") or None,
                language=(entry.get("language") or feed.get("language") or None),
            )
        )
    return out
