"""Every write the store accepts, as methods on one open write transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from db.clock import now_iso
from db.models import ArticleData, SightingData, SourceState, TopicHit

ALL_FEED = "*"  # the feed_versions row for /all.*


class Writer:
    """Valid only inside `Store.write()`; the caller owns the transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- lookups the pipeline makes inside its transaction --------------------

    def article_for_keys(self, keys: Iterable[str]) -> int | None:
        for key in keys:
            row = self.conn.execute(
                "SELECT article_id FROM article_keys WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                return int(row[0])
        return None

    def sighting(self, source: str, item_key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT id, article_id, content_hash, match FROM sightings"
            " WHERE source = ? AND item_key = ?",
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
        self.conn.executemany(
            "INSERT OR IGNORE INTO article_keys (key, article_id) VALUES (?, ?)",
            [(k, article_id) for k in keys],
        )

    def add_sighting(self, article_id: int, s: SightingData) -> int:
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

    def set_topics(self, article_id: int, hits: Iterable[TopicHit]) -> tuple[set[str], set[str]]:
        """Replace the article's topics; returns (added, removed) topic ids."""
        before = set(self.topics_of(article_id))
        hits = list(hits)
        after = {h.topic for h in hits}
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
        now = now_iso()
        self.conn.executemany(
            """INSERT INTO feed_versions (topic, version, changed_at) VALUES (?, 1, ?)
               ON CONFLICT (topic) DO UPDATE SET version = version + 1,
                 changed_at = excluded.changed_at""",
            [(t, now) for t in set(topics)],
        )

    # -- sources and failures -------------------------------------------------

    def ensure_source(self, name: str, url: str) -> None:
        self.conn.execute(
            "INSERT INTO sources (name, url) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, url),
        )

    def save_source(self, st: SourceState) -> None:
        self.conn.execute(
            """INSERT INTO sources (name, url, etag, last_modified, last_fetch, last_success,
                 last_status, last_error, error_count, next_fetch, gone)
               VALUES (?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT (name) DO UPDATE SET url=excluded.url, etag=excluded.etag,
                 last_modified=excluded.last_modified, last_fetch=excluded.last_fetch,
                 last_success=excluded.last_success, last_status=excluded.last_status,
                 last_error=excluded.last_error, error_count=excluded.error_count,
                 next_fetch=excluded.next_fetch, gone=excluded.gone""",
            (
                st.name,
                st.url,
                st.etag,
                st.last_modified,
                st.last_fetch,
                st.last_success,
                st.last_status,
                st.last_error,
                st.error_count,
                st.next_fetch,
                int(st.gone),
            ),
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
