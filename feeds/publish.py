"""Which feeds exist, their rendered bytes cached per store version, and static export."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from db import Store, queries
from feeds.index import TopicCard, render_index
from feeds.opml import render_opml
from feeds.render import FORMATS, MEDIA_TYPES, FeedSpec, http_date, render


@dataclass(frozen=True)
class TopicInfo:
    id: str
    title: str
    description: str


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str
    etag: str
    last_modified: str  # HTTP date

    @classmethod
    def of(cls, body: bytes, media_type: str, changed_at: str | None) -> Rendered:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, media_type, etag, http_date(changed_at))


_FEED_PATH = re.compile(
    r"^(?:topics/(?P<topics>[a-z0-9_+-]+)|(?P<all>all))\.(?P<fmt>atom|rss|json)$"
)


class Publisher:
    """Renders feeds on demand and keeps the bytes until the store's version for
    those topics moves (bumped in the same transaction as the change)."""

    def __init__(
        self,
        store: Store,
        topics: list[TopicInfo],
        base_url: str,
        *,
        title: str = "wiredesk",
        entries: int = 50,
        drops_counts: object = None,
    ) -> None:
        self.store = store
        self.topics = {t.id: t for t in topics}
        self.base_url = base_url
        self.title = title
        self.entries = entries
        self.drops_counts = drops_counts  # a callable returning the drop folder's counts
        self._cache: dict[str, tuple[tuple[int, str | None], Rendered]] = {}
        self._lock = threading.Lock()

    def set_topics(self, topics: list[TopicInfo]) -> None:
        with self._lock:
            self.topics = {t.id: t for t in topics}
            self._cache.clear()

    def spec_for(self, topic_ids: list[str] | None) -> FeedSpec:
        if not topic_ids:
            return FeedSpec(
                "all", f"{self.title}: all stories", "Every story, once.", self.base_url
            )
        infos = [self.topics[t] for t in topic_ids]
        return FeedSpec(
            "topics/" + "+".join(topic_ids),
            f"{self.title}: " + " + ".join(i.title for i in infos),
            " ".join(i.description for i in infos),
            self.base_url,
        )

    def specs(self) -> list[FeedSpec]:
        return [self.spec_for([t]) for t in self.topics] + [self.spec_for(None)]

    def parse_feed_path(self, path: str) -> tuple[list[str] | None, str] | None:
        """`topics/a+b.atom` → (['a', 'b'], 'atom'); None for an unknown feed."""
        m = _FEED_PATH.match(path)
        if not m:
            return None
        if m.group("all"):
            return None, m.group("fmt")
        ids = m.group("topics").split("+")
        if any(t not in self.topics for t in ids) or len(set(ids)) != len(ids):
            return None
        return ids, m.group("fmt")

    def feed(self, topic_ids: list[str] | None, fmt: str) -> Rendered:
        conn = self.store.reader()
        version = queries.feed_version(conn, topic_ids)
        key = f"{'+'.join(topic_ids or ['*'])}.{fmt}"
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        entries = queries.feed_entries(conn, topic_ids, self.entries)
        rendered = Rendered.of(
            render(fmt, self.spec_for(topic_ids), entries), MEDIA_TYPES[fmt], version[1]
        )
        with self._lock:
            self._cache[key] = (version, rendered)
        return rendered

    def opml(self) -> Rendered:
        conn = self.store.reader()
        _, changed = queries.feed_version(conn, [*list(self.topics), "*"])
        body = render_opml(self.title, self.specs(), http_date(None))
        return Rendered.of(body, MEDIA_TYPES["opml"], changed)

    def index(self) -> Rendered:
        conn = self.store.reader()
        counts = queries.topic_counts(conn)
        cards = [
            TopicCard(self.spec_for([t]), counts.get(t, 0), queries.feed_entries(conn, [t], 5))
            for t in self.topics
        ]
        drops = self.drops_counts() if callable(self.drops_counts) else None
        body = render_index(
            self.title,
            cards,
            self.spec_for(None),
            queries.sources(conn),
            queries.totals(conn),
            drops,
        )
        _, changed = queries.feed_version(conn, None)
        return Rendered.of(body, MEDIA_TYPES["html"], changed)

    def export(self, directory: Path) -> list[Path]:
        """Write every feed, the OPML file and the index under the server's paths.
        Each file is written to a temporary name and renamed, so a web server never
        serves half a file."""
        written = []
        outputs: list[tuple[str, Rendered]] = []
        for t in [[t] for t in self.topics] + [None]:
            for fmt in FORMATS:
                spec = self.spec_for(t)
                outputs.append((f"{spec.path}.{fmt}", self.feed(t, fmt)))
        outputs.append(("feeds.opml", self.opml()))
        outputs.append(("index.html", self.index()))
        for rel, rendered in outputs:
            dest = directory / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            tmp.write_bytes(rendered.body)
            os.replace(tmp, dest)
            written.append(dest)
        return written
