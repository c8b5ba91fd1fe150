"""JSON Feed 1.0/1.1 (and Scripting News' RSS-in-JSON) to Items: feedparser 6 reads neither.

Hand-written because no maintained Python library parses JSON Feed into feedparser-like
entries; it is a small, well-specified format (https://jsonfeed.org/version/1.1).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.feedmodel import FeedFormatError, ParsedFeed, build_item, struct_to_dt
from ingest.identity import entry_key
from ingest.markup import text_to_html

_FALLBACK_ENCODINGS = ("gb18030", "cp1251", "latin-1")


def _decode(data: bytes, charset: str | None) -> tuple[str, str | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        first = exc
    for enc in ([charset] if charset else []) + list(_FALLBACK_ENCODINGS):
        try:
            return data.decode(
                enc
            ), f"not UTF-8 ({first.reason} at byte {first.start}): read as {enc}"
        except (UnicodeDecodeError, LookupError):
            continue
    raise FeedFormatError("JSON document in no readable encoding")  # latin-1 never fails


def parse_date(raw: Any) -> datetime | None:
    """RFC 3339 as JSON Feed requires, else any format feedparser's date parsers know."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        pass
    return struct_to_dt(feedparser.datetimes._parse_date(raw))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value).strip() or None


def _author(entry: dict[str, Any], feed: dict[str, Any]) -> str | None:
    for holder in (entry, feed):
        authors = holder.get("authors") or ([holder["author"]] if holder.get("author") else [])
        for a in authors if isinstance(authors, list) else []:
            if isinstance(a, dict) and _text(a.get("name")):
                return _text(a.get("name"))
            if isinstance(a, str) and a.strip():
                return a.strip()
    return None


def _rss_in_json(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Scripting News' `{"rss": {"channel": {"item": [...]}}}` mapped onto JSON Feed keys."""
    channel = doc["rss"].get("channel") or {}
    raw = channel.get("item") or []
    out = []
    for it in raw if isinstance(raw, list) else [raw]:
        if not isinstance(it, dict):
            continue
        guid = it.get("guid")
        out.append(
            {
                "id": guid.get("#value") if isinstance(guid, dict) else guid,
                "url": it.get("link"),
                "title": it.get("title"),
                "content_html": it.get("description"),
                "date_published": it.get("pubDate"),
            }
        )
    feed = {"title": channel.get("title"), "language": channel.get("language")}
    return feed, out


def parse_json_feed(
    data: bytes,
    source: str,
    *,
    base_url: str | None,
    charset: str | None = None,
    max_items: int | None = None,
) -> ParsedFeed:
    text, warning = _decode(data, charset)
    try:
        doc = json.loads(text, strict=False)  # raw control characters in strings are common
    except json.JSONDecodeError as exc:
        raise FeedFormatError(f"not valid JSON: {exc}") from None
    except RecursionError:
        # json's C decoder recurses per level: [[[[… a few hundred KB deep
        raise FeedFormatError("JSON nested too deeply: refused") from None
    if not isinstance(doc, dict):
        raise FeedFormatError("JSON document is not an object: not a JSON Feed")
    if "jsonfeed.org/version" in str(doc.get("version", "")):
        feed, entries = doc, doc.get("items")
        version = "json" + str(doc["version"]).rstrip("/").rsplit("/", 1)[-1].replace(".", "")
    elif isinstance(doc.get("rss"), dict):
        feed, entries = _rss_in_json(doc)
        version = "rss-in-json"
    else:
        raise FeedFormatError("JSON without a jsonfeed.org version: not a JSON Feed")
    if not isinstance(entries, list):
        raise FeedFormatError("JSON Feed without an `items` list")
    base = _text(feed.get("home_page_url")) or base_url
    out = ParsedFeed([], _text(feed.get("title")), version, None, warning)
    out.entries_total = len(entries)
    for n, entry in enumerate(entries[:max_items]):
        if not isinstance(entry, dict):
            out.failures.append((f"#{n}", "JSON Feed item is not an object"))
            continue
        guid = _text(entry.get("id"))
        link = _text(entry.get("url")) or _text(entry.get("external_url"))
        title = _text(entry.get("title"))
        raw_date = _text(entry.get("date_published")) or _text(entry.get("date_modified"))
        key = entry_key(guid, link, title, raw_date)
        out.add(
            key,
            build_item(
                source,
                key=key,
                guid=guid,
                link=link,
                title_html=title,
                content_html=_text(entry.get("content_html"))
                or text_to_html(_text(entry.get("content_text"))),
                summary_html=_text(entry.get("summary")),
                base=base,
                published=parse_date(raw_date),
                published_raw=raw_date,
                author=_author(entry, feed),
                language=_text(entry.get("language")) or _text(feed.get("language")),
            ),
        )
    return out
