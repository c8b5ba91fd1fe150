"""The format-neutral result of parsing one feed document, and how an entry becomes an Item."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ingest.item import Item
from ingest.language import detect_language
from ingest.markup import clean_fragment
from ingest.text import clean_text, html_to_text, make_title

# a date this far ahead is a publisher's mistake: the item counts as published when first seen
FUTURE_TOLERANCE = timedelta(days=1)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


class FeedFormatError(ValueError):
    """The bytes are not a feed (HTML page, empty body, hostile DTD, …)."""


@dataclass
class ParsedFeed:
    items: list[Item]
    title: str | None = None
    version: str | None = None
    ttl_seconds: int | None = None  # the feed's own <ttl>, a lower bound on the interval
    warning: str | None = None  # why the document was not well-formed, when it still parsed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (item key, reason)
    entries_total: int = 0  # entries in the document, also those past `max_items`

    def add(self, key: str, item: Item | None) -> None:
        """Take an entry in, or record why it could not be."""
        if item is None:
            self.failures.append((key, "entry has no title, summary or content"))
        else:
            self.items.append(item)

    @property
    def skipped(self) -> int:
        """Entries beyond the per-document cap, not taken in."""
        return max(0, self.entries_total - len(self.items) - len(self.failures))


def struct_to_dt(st: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime (None when out of range)."""
    if st is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(st), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def sane_date(when: datetime | None, now: datetime | None = None) -> datetime | None:
    """The date, or None when it is absurd (far future, before 1900): the caller then
    stores the time first seen and keeps the raw text."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if when < EARLIEST or when > (now or datetime.now(UTC)) + FUTURE_TOLERANCE:
        return None
    return when


def build_item(
    source: str,
    *,
    key: str,
    guid: str | None,
    link: str | None,
    title_html: str | None,
    content_html: str | None,
    summary_html: str | None,
    base: str | None,
    published: datetime | None,
    published_raw: str | None,
    author: str | None,
    language: str | None,
) -> Item | None:
    """One entry as an Item with its plain-text body and language worked out here, in the
    parse worker, so the pipeline's single writer has less to do. None if it is empty."""
    title = clean_text(html_to_text(title_html or "")) or None
    content = clean_fragment(content_html, base)
    # feedparser copies an Atom entry's content into its summary: clean it once
    summary = content if summary_html == content_html else clean_fragment(summary_html, base)
    if content is None:
        # the only text is the body; a summary identical to it would be stored, indexed
        # and fingerprinted twice (renderers take the lead paragraph when none is given)
        content, summary = summary, None
    body = html_to_text(content) if content else None
    if summary and (summary == content or html_to_text(summary) == body):
        summary = None
    if not (title or body):
        return None
    lang = (language or "").strip() or None
    if lang is None:
        heading = title or make_title(body or "") or "(untitled)"
        lang = detect_language(f"{heading}\n{(body or '')[:600]}")
    return Item(
        source=source,
        item_key=key,
        title=title,
        body=body or None,
        summary=summary,
        content_html=content,
        url=link,
        guid=guid,
        published=sane_date(published),
        published_raw=published_raw,
        author=clean_text(author) if author else None,
        language=lang,
    )
