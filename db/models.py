"""Plain records passed between the pipeline, the store and the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArticleData:
    """An article as the pipeline wants it stored (all dates ISO 8601 UTC)."""

    guid: str
    title: str
    summary: str | None
    body: str | None
    content_html: str | None
    url: str | None
    canonical_url: str | None
    published: str
    published_raw: str | None
    source: str
    fingerprint: str
    author: str | None = None
    agency: str | None = None
    dateline: str | None = None
    language: str | None = None
    subheads: list[str] = field(default_factory=list)


@dataclass
class TopicHit:
    topic: str
    score: float
    matched: list[str]


@dataclass
class SightingData:
    source: str
    item_key: str
    url: str | None
    match: str  # 'new' | 'exact' | 'near' | 'update'
    similarity: float | None = None
    reason: str | None = None
    content_hash: str | None = None


@dataclass
class SourceState:
    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetch: str | None = None
    last_success: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_count: int = 0
    next_fetch: str | None = None
    gone: bool = False
    config_url: str | None = None
    identity: str = "guid"  # 'link' once the feed's guids are seen to rotate
    last_warning: str | None = None
    ttl_seconds: int | None = None
    publish_interval: float | None = None
    last_error_at: str | None = None
