"""The parsed item every reader (feed, drop file) hands to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.prepare import Prepared, Seen


@dataclass
class Item:
    """One story as read from a source, before deduplication.

    `item_key` identifies the item within its source: the guid (else the link, else
    title+date) for feed items, the original file name for dropped files.
    """

    source: str
    item_key: str
    title: str | None
    body: str | None = None  # plain text, paragraphs separated by blank lines
    summary: str | None = None
    content_html: str | None = None  # as the source gave it; sanitised on output
    url: str | None = None
    guid: str | None = None
    published: datetime | None = None
    published_raw: str | None = None
    author: str | None = None
    agency: str | None = None
    dateline: str | None = None
    language: str | None = None
    subheads: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # the pipeline's text work, when a parse worker already did it (ingest.prepare)
    prepared: Prepared | Seen | None = field(default=None, compare=False, repr=False)
