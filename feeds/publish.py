"""Which feeds exist, their rendered bytes cached per store version, archives, and static export."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from prometheus_client import Counter

from db import Store, queries
from db.clock import iso
from feeds.index import TopicCard, render_article, render_index
from feeds.opml import render_opml
from feeds.render import FORMATS, MEDIA_TYPES, FeedSpec, http_date, render
from feeds.sanitize import safe_url

log = logging.getLogger("wiredesk.publish")

FEED_RENDERS = Counter("wiredesk_feed_renders_total", "Feed documents rendered", ["format"])
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
CHART_DAYS = 30
MAX_LIMIT = 1000


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
    cache_control: str = "public, max-age=60"

    @classmethod
    def of(
        cls,
        body: bytes,
        media_type: str,
        changed_at: str | None,
        cache_control: str = "public, max-age=60",
    ) -> Rendered:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, media_type, etag, http_date(changed_at), cache_control)


class FilterError(ValueError):
    """A feed's query string asks for something invalid; the message names the parameter."""


@dataclass(frozen=True)
class FeedFilter:
    """A filtered feed: `?q=` (FTS5 syntax), `source`, `lang`, `since`, `limit`."""

    q: str | None = None
    source: str | None = None
    lang: str | None = None
    since: str | None = None
    limit: int | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> FeedFilter:
        """Unknown parameters are ignored (trackers add them); known ones are checked."""

        def text(name: str, cap: int) -> str | None:
            value = params.get(name, "").strip()
            if len(value) > cap:
                raise FilterError(f"{name}: longer than {cap} characters")
            return value or None

        lang = text("lang", 8)
        if lang is not None and not re.fullmatch(r"[a-z]{2,3}", lang.lower()):
            raise FilterError(f"lang: expected a language code such as en or ru, not {lang!r}")
        since = text("since", 40)
        if since is not None:
            try:
                since = iso(datetime.fromisoformat(since.replace("Z", "+00:00")))
            except ValueError:
                raise FilterError(
                    f"since: expected a date such as 2023-10-12 or 2023-10-12T08:00:00Z,"
                    f" not {since!r}"
                ) from None
        raw_limit = text("limit", 6)
        limit = None
        if raw_limit is not None:
            if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
                raise FilterError(f"limit: expected a whole number from 1 to {MAX_LIMIT}")
            limit = int(raw_limit)
        return cls(text("q", 500), text("source", 200), lang and lang.lower(), since, limit)

    @property
    def query(self) -> str:
        """The canonical query string (sorted, only what is set): the cache key and self link."""
        pairs = [
            (k, str(v))
            for k, v in sorted(
                {
                    "q": self.q,
                    "source": self.source,
                    "lang": self.lang,
                    "since": self.since,
                    "limit": self.limit,
                }.items()
            )
            if v is not None
        ]
        return urlencode(pairs)


NO_FILTER = FeedFilter()

_FEED_PATH = re.compile(
    r"^(?:topics/(?P<topics>[a-z0-9_+-]+)|(?P<all>all))"
    r"(?:/archive/(?P<day>\d{4}-\d{2}-\d{2}))?\.(?P<fmt>atom|rss|json)$"
)


@dataclass(frozen=True)
class FeedRequest:
    topics: list[str] | None
    fmt: str
    day: str | None = None  # an RFC 5005 archive document of one UTC day
    filter: FeedFilter = field(default=NO_FILTER)


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
        drops_counts: Callable[[], dict[str, int]] | None = None,
        hub: str | None = None,
        cache_size: int = 1024,
    ) -> None:
        self.store = store
        self.topics = {t.id: t for t in topics}
        self.base_url = base_url
        self.title = title
        self.entries = entries
        self.drops_counts = drops_counts
        self.hub = hub
        self.cache_size = cache_size
        self.renders = 0  # feed documents rendered since start: the cache's yardstick
        self._cache: OrderedDict[str, tuple[tuple[int, str | None], Rendered]] = OrderedDict()
        self._days: dict[str, tuple[tuple[int, str | None], list[str]]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _version(
        self, conn: sqlite3.Connection, topic_ids: list[str] | None
    ) -> tuple[int, str | None]:
        """The feed's version, read again only when the store changed: SQLite's
        `data_version` moves on this connection whenever another one commits, and costs
        no table read (the hot path of a 304)."""
        data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        memo: tuple[int, dict[str, tuple[int, str | None]], sqlite3.Connection] | None
        memo = getattr(self._local, "memo", None)
        if memo is None or memo[0] != data_version or memo[2] is not conn:
            memo = (data_version, {}, conn)
            self._local.memo = memo
        key = self.feed_path(topic_ids)
        version: tuple[int, str | None] | None = memo[1].get(key)
        if version is None:
            version = queries.feed_version(conn, topic_ids)
            memo[1][key] = version
        return version

    # -- which feeds exist ----------------------------------------------------------

    def feed_path(self, topic_ids: list[str] | None) -> str:
        return "topics/" + "+".join(topic_ids) if topic_ids else "all"

    def set_topics(self, topics: list[TopicInfo]) -> None:
        with self._lock:
            self.topics = {t.id: t for t in topics}
            self._cache.clear()

    def spec_for(self, topic_ids: list[str] | None) -> FeedSpec:
        labels = {t.id: t.title for t in self.topics.values()}
        path = self.feed_path(topic_ids)
        if not topic_ids:
            return FeedSpec(
                path,
                f"{self.title}: all stories",
                "Every story, once.",
                self.base_url,
                hub=self.hub,
                labels=labels,
            )
        infos = [self.topics[t] for t in topic_ids]
        return FeedSpec(
            path,
            f"{self.title}: " + " + ".join(i.title for i in infos),
            " ".join(i.description for i in infos),
            self.base_url,
            hub=self.hub,
            labels=labels,
        )

    def specs(self) -> list[FeedSpec]:
        return [self.spec_for([t]) for t in self.topics] + [self.spec_for(None)]

    def parse_feed_path(self, path: str) -> tuple[list[str] | None, str] | None:
        """`topics/a+b.atom` → (['a', 'b'], 'atom'); None for an unknown feed."""
        req = self.parse_request(path)
        return None if req is None or req.day else (req.topics, req.fmt)

    def parse_request(self, path: str, params: dict[str, str] | None = None) -> FeedRequest | None:
        """The feed a path names, or None when there is no such feed.
        Raises FilterError for a bad query string."""
        m = _FEED_PATH.match(path)
        if not m:
            return None
        ids = None if m.group("all") else m.group("topics").split("+")
        if ids is not None and (
            any(t not in self.topics for t in ids) or len(set(ids)) != len(ids)
        ):
            return None
        day = m.group("day")
        if day is not None:
            try:
                date.fromisoformat(day)
            except ValueError:
                return None
        flt = FeedFilter.parse(params or {})
        if day is not None and flt != NO_FILTER:
            raise FilterError("archive documents take no query parameters")
        return FeedRequest(ids, m.group("fmt"), day, flt)

    # -- rendering with a cache -----------------------------------------------------

    def feed(self, topic_ids: list[str] | None, fmt: str) -> Rendered:
        rendered = self.get(FeedRequest(topic_ids, fmt))
        assert rendered is not None  # a subscription document always exists
        return rendered

    def get(self, req: FeedRequest) -> Rendered | None:
        """The rendered document, or None for an archive day without entries.
        Raises sqlite3.OperationalError for a bad FTS5 query."""
        conn = self.store.reader()
        version = self._version(conn, req.topics)
        key = f"{self.feed_path(req.topics)}|{req.day or ''}|{req.filter.query}.{req.fmt}"
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == version:
                self._cache.move_to_end(key)
                return hit[1]
        rendered = self._render(conn, req, version)
        if rendered is None:
            return None
        with self._lock:
            self._cache[key] = (version, rendered)
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return rendered

    def days(self, topic_ids: list[str] | None) -> list[str]:
        """The UTC days with entries in this feed, oldest first (cached per version)."""
        conn = self.store.reader()
        version = self._version(conn, topic_ids)
        key = self.feed_path(topic_ids)
        with self._lock:
            hit = self._days.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        days = queries.published_days(conn, topic_ids)
        with self._lock:
            self._days[key] = (version, days)
        return days

    def _render(
        self, conn: sqlite3.Connection, req: FeedRequest, version: tuple[int, str | None]
    ) -> Rendered | None:
        spec = self.spec_for(req.topics)
        base = spec.path
        spec.feed_path = base
        archive_path = base + "/archive/"
        cache_control = "public, max-age=60"
        f = req.filter
        if req.day is not None:
            days = self.days(req.topics)
            if req.day not in days:
                return None
            i = days.index(req.day)
            nxt_day = (date.fromisoformat(req.day) + timedelta(days=1)).isoformat()
            entries = queries.feed_entries(conn, req.topics, None, since=req.day, until=nxt_day)
            spec.path = archive_path + req.day
            spec.title += f" ({req.day})"
            spec.archive = True
            spec.links.append(("current", base))
            if i > 0:
                spec.links += [("prev-archive", archive_path + days[i - 1])]
                spec.links += [("next", archive_path + days[i - 1])]
            if i + 1 < len(days):
                spec.links += [("next-archive", archive_path + days[i + 1])]
                spec.links += [("previous", archive_path + days[i + 1])]
            else:
                spec.links.append(("previous", base))
            if req.day < datetime.now(UTC).date().isoformat():
                cache_control = "public, max-age=3600"  # a past day rarely changes
        elif f != NO_FILTER:
            entries = queries.feed_entries(
                conn,
                req.topics,
                f.limit or self.entries,
                query=f.q,
                source=f.source,
                language=f.lang,
                since=f.since,
            )
            spec.query = f.query
            spec.title += " (filtered)"
        else:
            entries = queries.feed_entries(conn, req.topics, self.entries)
            if entries:
                # the day of the oldest entry shown: every newer entry is in this document
                oldest = archive_path + entries[-1].published[:10]
                spec.links += [("prev-archive", oldest), ("next", oldest)]
        body = render(req.fmt, spec, entries)
        self.renders += 1
        FEED_RENDERS.labels(req.fmt).inc()
        log.debug("event=feed_rendered path=%s fmt=%s entries=%d", spec.path, req.fmt, len(entries))
        return Rendered.of(body, MEDIA_TYPES[req.fmt], version[1], cache_control)

    # -- other documents ------------------------------------------------------------

    def opml(self) -> Rendered:
        conn = self.store.reader()
        _, changed = queries.feed_version(conn, [*list(self.topics), "*"])
        body = render_opml(self.title, self.specs(), http_date(changed))
        return Rendered.of(body, MEDIA_TYPES["opml"], changed)

    def index(self) -> Rendered:
        conn = self.store.reader()
        counts = queries.topic_counts(conn)
        today = datetime.now(UTC).date()
        first = today - timedelta(days=CHART_DAYS - 1)
        daily = queries.daily_counts(conn, first.isoformat())
        span = [(first + timedelta(days=i)).isoformat() for i in range(CHART_DAYS)]
        cards = [
            TopicCard(
                self.spec_for([t]),
                counts.get(t, 0),
                queries.feed_entries(conn, [t], 5),
                [daily.get(t, {}).get(d, 0) for d in span],
            )
            for t in self.topics
        ]
        totals = queries.totals(conn)
        all_card = TopicCard(
            self.spec_for(None),
            totals["articles"],
            queries.feed_entries(conn, None, 5),
            [daily.get("*", {}).get(d, 0) for d in span],
        )
        drops = self.drops_counts() if self.drops_counts is not None else None
        body = render_index(self.title, cards, all_card, span, queries.sources(conn), totals, drops)
        _, changed = queries.feed_version(conn, None)
        return Rendered.of(body, MEDIA_TYPES["html"], changed, "no-cache")

    def article(self, article_id: int) -> Rendered | None:
        entries = queries.entries_by_id(self.store.reader(), [article_id])
        if not entries:
            return None
        body = render_article(entries[0], self.base_url, self.spec_for(None).labels)
        return Rendered.of(body, MEDIA_TYPES["html"], entries[0].updated)

    def static(self, name: str) -> Rendered | None:
        """A file of feeds/static/, by plain name only (no paths)."""
        if not re.fullmatch(r"[a-z0-9_-]+\.[a-z]+", name):
            return None
        path = STATIC_DIR / name
        media_type = STATIC_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            return None
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return Rendered.of(path.read_bytes(), media_type, iso(mtime), "public, max-age=86400")

    # -- static export --------------------------------------------------------------

    def export(self, directory: Path) -> list[Path]:
        """Write every feed (with its archive documents), the OPML file, the index, the
        static assets and the pages of stories without a link of their own, under the
        server's paths. Each file is written to a temporary name and renamed, so a web
        server never serves half a file."""
        written: list[Path] = []

        def put(rel: str, rendered: Rendered | None) -> None:
            if rendered is None:
                return
            dest = directory / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            tmp.write_bytes(rendered.body)
            os.replace(tmp, dest)
            written.append(dest)

        for t in [[t] for t in self.topics] + [None]:
            path = self.feed_path(t)
            days = self.days(t)
            for fmt in FORMATS:
                put(f"{path}.{fmt}", self.feed(t, fmt))
                for day in days:
                    put(f"{path}/archive/{day}.{fmt}", self.get(FeedRequest(t, fmt, day)))
        put("feeds.opml", self.opml())
        put("index.html", self.index())
        for asset in sorted(STATIC_DIR.iterdir()):
            put(f"static/{asset.name}", self.static(asset.name))
        conn = self.store.reader()
        for row in conn.execute("SELECT id, url FROM articles ORDER BY id"):
            if safe_url(row["url"]) is None:
                put(f"articles/{row['id']}", self.article(int(row["id"])))
        return written
