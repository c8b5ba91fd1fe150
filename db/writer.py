"""Every write the store accepts, as methods on one open write transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import fields

from db.clock import now_iso
from db.models import ArticleData, SightingData, SourceState, TopicHit

ALL_FEED = "*"  # the feed_versions row for /all.*
_SIGHTING_COLUMNS = "id, article_id, content_hash, match, item_key"
_CHUNK = 500  # values bound in one IN (...): far below SQLite's limit of 32,766


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values))


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def item_tombstone(source: str, item_key: str) -> str:
    """The tombstone key of a pruned sighting."""
    return f"item:{source}\n{item_key}"


class Writer:
    """Valid only inside `Store.write()`; the caller owns the transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._bumped: set[str] = set()  # feeds whose version moves when the transaction ends
        # what `prefetch` looked up for a batch: a sighting row (or None: no such
        # sighting) per (source, item key), an article id (or None) per key, and the
        # tombstones among the keys checked. A write through this writer drops the
        # entries it touches, so a later lookup asks the database again: the caches
        # never need undoing when an item rolls back to its savepoint
        self._sightings: dict[tuple[str, str], sqlite3.Row | None] = {}
        self._keys: dict[str, int | None] = {}
        self._tomb_checked: set[str] = set()
        self._tombs: set[str] = set()
        # articles inserted in this transaction and not yet in `articles_fts` (ordered)
        self._unindexed: dict[int, None] = {}

    def flush(self) -> None:
        """Write what is deferred to the end of the transaction (`Store.write` calls it
        before COMMIT): the new articles' full-text index, and one version bump per
        changed feed, not one per item."""
        self.index_text()
        if self._bumped:
            now = now_iso()
            self.conn.executemany(
                """INSERT INTO feed_versions (topic, version, changed_at) VALUES (?, 1, ?)
                   ON CONFLICT (topic) DO UPDATE SET version = version + 1,
                     changed_at = excluded.changed_at""",
                [(t, now) for t in sorted(self._bumped)],
            )
            self._bumped.clear()

    def index_text(self) -> None:
        """Add the articles inserted since the last call to `articles_fts`, in one
        statement: on the first-poll farm this cost ~50 us an article where the per-row
        trigger it replaced (migration 0008) cost ~150. Called before COMMIT and before
        a savepoint (its rollback must not undo rows indexed here for earlier items).
        Until then a row is in no index: its text may change, or the row go, without
        the update and delete triggers touching the index (migration 0010), and it is
        indexed with the text it has at the end."""
        if self._unindexed:
            self.conn.execute(
                """INSERT INTO articles_fts (rowid, title, summary, body)
                   SELECT id, title, summary, body FROM articles
                   WHERE id IN (SELECT value FROM json_each(?))""",
                (json.dumps(list(self._unindexed)),),
            )
            self._unindexed.clear()

    # -- lookups the pipeline makes inside its transaction --------------------

    def prefetch(
        self, sightings: Iterable[tuple[str, str]], keys: Iterable[str], tombstones: Iterable[str]
    ) -> None:
        """Answer a batch's coming `sighting`, `articles_for_keys` and `tombstoned` calls
        with one query each per few hundred values, not three per item (measured ~40 us
        an item on the first-poll farm)."""
        by_source: dict[str, list[str]] = {}
        for source, item_key in dict.fromkeys(sightings):
            by_source.setdefault(source, []).append(item_key)
            self._sightings[(source, item_key)] = None
        for source, item_keys in by_source.items():
            for chunk in _chunks(item_keys):
                for row in self.conn.execute(
                    f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE source = ?"
                    f" AND item_key IN ({_marks(chunk)})",
                    (source, *chunk),
                ):
                    self._sightings[(source, row["item_key"])] = row
        wanted = [k for k in dict.fromkeys(keys) if k not in self._keys]
        self._keys.update(dict.fromkeys(wanted))
        for chunk in _chunks(wanted):
            self._keys.update(self._article_keys(chunk))
        checked = [k for k in dict.fromkeys(tombstones) if k not in self._tomb_checked]
        self._tomb_checked.update(checked)
        for chunk in _chunks(checked):
            self._tombs.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT key FROM tombstones WHERE key IN ({_marks(chunk)})", chunk
                )
            )

    def articles_for_keys(self, keys: list[str]) -> dict[str, int]:
        """The article each known key names (one query for those not prefetched)."""
        cached = self._keys
        missing = [k for k in keys if k not in cached]
        found = self._article_keys(missing) if missing else {}
        for k in keys:
            if k in cached and cached[k] is not None:
                found[k] = cached[k]  # type: ignore[assignment]
        return found

    def _article_keys(self, keys: list[str]) -> dict[str, int]:
        return {
            r[0]: int(r[1])
            for r in self.conn.execute(
                f"SELECT key, article_id FROM article_keys WHERE key IN ({_marks(keys)})", keys
            )
        }

    def tombstoned(self, keys: Iterable[str]) -> bool:
        """True when any key belongs to an article that retention pruned."""
        keys = list(keys)
        if not keys:
            return False
        if self._tomb_checked.issuperset(keys):
            return not self._tombs.isdisjoint(keys)
        return (
            self.conn.execute(
                f"SELECT 1 FROM tombstones WHERE key IN ({_marks(keys)}) LIMIT 1", keys
            ).fetchone()
            is not None
        )

    def sighting(self, source: str, item_key: str) -> sqlite3.Row | None:
        if (source, item_key) in self._sightings:
            return self._sightings[(source, item_key)]
        row: sqlite3.Row | None = self.conn.execute(
            f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE source = ? AND item_key = ?",
            (source, item_key),
        ).fetchone()
        return row

    # -- articles --------------------------------------------------------------

    def insert_article(self, art: ArticleData, keys: Iterable[str]) -> int:
        now = now_iso()
        cur = self.conn.execute(
            """INSERT INTO articles (guid, title, summary, body, content_html, url,
                 canonical_url, published, published_raw, updated, source, author,
                 agency, dateline, language, subheads, fingerprint, first_seen)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                art.guid,
                art.title,
                art.summary,
                art.body,
                art.content_html,
                art.url,
                art.canonical_url,
                art.published,
                art.published_raw,
                art.published,
                art.source,
                art.author,
                art.agency,
                art.dateline,
                art.language,
                json.dumps(art.subheads, ensure_ascii=False),
                art.fingerprint,
                now,
            ),
        )
        article_id = int(cur.lastrowid or 0)
        self._unindexed[article_id] = None
        self.add_keys(article_id, keys)
        self.bump_feeds([ALL_FEED])
        return article_id

    def update_article(self, article_id: int, art: ArticleData, keys: Iterable[str]) -> None:
        """Replace the text of a stored article; its guid and first_seen stay."""
        self.conn.execute(
            """UPDATE articles SET title=?, summary=?, body=?, content_html=?,
                 fingerprint=?, subheads=?, updated=?,
                 author=coalesce(?, author), agency=coalesce(?, agency),
                 dateline=coalesce(?, dateline), language=coalesce(?, language)
               WHERE id=?""",
            (
                art.title,
                art.summary,
                art.body,
                art.content_html,
                art.fingerprint,
                json.dumps(art.subheads, ensure_ascii=False),
                now_iso(),
                art.author,
                art.agency,
                art.dateline,
                art.language,
                article_id,
            ),
        )
        self.add_keys(article_id, keys)
        self.bump_feeds([ALL_FEED, *self.topics_of(article_id)])

    def add_keys(self, article_id: int, keys: Iterable[str]) -> None:
        rows = [(k, article_id) for k in keys]
        for k, _ in rows:
            self._keys.pop(k, None)
        self.conn.executemany(
            "INSERT OR IGNORE INTO article_keys (key, article_id) VALUES (?, ?)", rows
        )

    def add_sighting(self, article_id: int, s: SightingData) -> int:
        self._sightings.pop((s.source, s.item_key), None)
        cur = self.conn.execute(
            """INSERT INTO sightings (article_id, source, item_key, url, seen_at, match,
                 similarity, reason, content_hash)
               VALUES (?,?,?,?,?,?,?,?,?)
               ON CONFLICT (source, item_key) DO UPDATE SET
                 match=excluded.match, seen_at=excluded.seen_at,
                 content_hash=excluded.content_hash, reason=excluded.reason""",
            (
                article_id,
                s.source,
                s.item_key,
                s.url,
                now_iso(),
                s.match,
                s.similarity,
                s.reason,
                s.content_hash,
            ),
        )
        if s.match in ("exact", "near"):
            # the entry now credits one more outlet: its feeds must re-render
            self.bump_feeds([ALL_FEED, *self.topics_of(article_id)])
        return int(cur.lastrowid or 0)

    # -- topics ----------------------------------------------------------------

    def topics_of(self, article_id: int) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT topic FROM article_topics WHERE article_id = ?", (article_id,)
            )
        ]

    def set_topics(
        self, article_id: int, hits: Iterable[TopicHit], *, new: bool = False
    ) -> tuple[set[str], set[str]]:
        """Replace the article's topics; returns (added, removed) topic ids. `new`: the
        article was inserted in this transaction, so it has no topics to look up yet."""
        before = set() if new else set(self.topics_of(article_id))
        hits = list(hits)
        after = {h.topic for h in hits}
        if not new:
            self.conn.execute("DELETE FROM article_topics WHERE article_id = ?", (article_id,))
        self.conn.executemany(
            "INSERT INTO article_topics (article_id, topic, score, matched) VALUES (?,?,?,?)",
            [
                (article_id, h.topic, h.score, json.dumps(h.matched, ensure_ascii=False))
                for h in hits
            ],
        )
        changed = (after - before) | (before - after)
        if changed:
            self.bump_feeds(changed)
        return after - before, before - after

    def bump_feeds(self, topics: Iterable[str]) -> None:
        """These feeds changed: their versions move at the end of the transaction (an
        item rolled back to its savepoint may leave a bump behind: one needless render)."""
        self._bumped.update(topics)

    # -- sources and failures -------------------------------------------------

    def ensure_source(self, name: str, url: str) -> None:
        """Register a configured source; when its configured URL changed, its fetch state
        (validators, redirect target, gone, backoff) starts afresh."""
        self.conn.execute(
            """INSERT INTO sources (name, url, config_url) VALUES (?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET config_url = excluded.config_url
               WHERE sources.config_url IS NULL""",
            (name, url, url),
        )
        self.conn.execute(
            """UPDATE sources SET url = ?, config_url = ?, etag = NULL, last_modified = NULL,
                 gone = 0, error_count = 0, next_fetch = NULL, last_error = NULL
               WHERE name = ? AND config_url IS NOT ?""",
            (url, url, name, url),
        )

    def save_source(self, st: SourceState) -> None:
        cols = [f.name for f in fields(SourceState)]
        values = [getattr(st, c) for c in cols]
        values[cols.index("gone")] = int(st.gone)
        updates = ", ".join(f"{c}=excluded.{c}" for c in cols if c != "name")
        self.conn.execute(
            f"INSERT INTO sources ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            f" ON CONFLICT (name) DO UPDATE SET {updates}",
            values,
        )

    def rekey_sightings(self, source: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Move a source's sightings to new item keys (a feed whose guids rotate is keyed
        by link from then on); a key already taken is left alone."""
        self._sightings.clear()
        self.conn.executemany(
            "UPDATE OR IGNORE sightings SET item_key = ? WHERE source = ? AND item_key = ?",
            [(new, source, old) for old, new in pairs if old != new],
        )

    def record_failure(self, source: str, item_key: str | None, reason: str) -> None:
        self.conn.execute(
            "INSERT INTO failures (source, item_key, at, reason) VALUES (?,?,?,?)",
            (source, item_key, now_iso(), reason),
        )

    # -- re-classification progress -------------------------------------------

    def save_reclassify_progress(
        self, rules_hash: str, last_id: int, *, finished: bool = False
    ) -> None:
        """Saved in the batch's own transaction, so progress is never ahead of the data."""
        now = now_iso()
        self.conn.execute(
            """INSERT INTO reclassify_runs (rules_hash, last_id, started_at, updated_at,
                 finished_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (rules_hash) DO UPDATE SET last_id = excluded.last_id,
                 started_at = CASE WHEN finished_at IS NULL THEN started_at
                                   ELSE excluded.started_at END,
                 updated_at = excluded.updated_at, finished_at = excluded.finished_at""",
            (rules_hash, last_id, now, now, now if finished else None),
        )
