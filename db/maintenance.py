"""Housekeeping on the store: online backup, retention with tombstones, integrity checks."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.clock import iso, now_iso
from db.store import Store
from db.writer import ALL_FEED, Writer, item_tombstone


class BackupError(Exception):
    """The backup could not be written (target exists, disk full, …)."""


def backup(store: Store, target: Path) -> Path:
    """A consistent copy with `VACUUM INTO` on a read connection: the daemon keeps writing."""
    target = target.resolve()
    if target.exists():
        raise BackupError(f"{target} exists: refusing to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        conn.execute("VACUUM INTO ?", (str(target),))
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"backup to {target} failed: {exc}") from exc
    finally:
        conn.close()
    check = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        ok = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    if ok != "ok":
        raise BackupError(f"backup {target} failed its integrity check: {ok}")
    return target


def prune(
    store: Store, older_than: timedelta, *, now: datetime | None = None, batch: int = 500
) -> int:
    """Delete articles published before now - older_than, with their sightings, topics
    and keys, leaving tombstones so that no later poll brings them back."""
    cutoff = iso((now or datetime.now(UTC)) - older_than)
    total = 0
    while True:
        with store.write() as w:
            ids = [
                r[0]
                for r in w.conn.execute(
                    "SELECT id FROM articles WHERE published < ? ORDER BY id LIMIT ?",
                    (cutoff, batch),
                )
            ]
            if not ids:
                return total
            _delete_articles(w, ids)
        total += len(ids)


def _delete_articles(w: Writer, ids: list[int]) -> None:
    marks = ",".join("?" * len(ids))
    stamp = now_iso()
    conn = w.conn
    topics = [
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT topic FROM article_topics WHERE article_id IN ({marks})", ids
        )
    ]
    conn.executemany(
        "INSERT OR IGNORE INTO tombstones (key, pruned_at) VALUES (?, ?)",
        [
            (item_tombstone(s, k), stamp)
            for s, k in conn.execute(
                f"SELECT source, item_key FROM sightings WHERE article_id IN ({marks})", ids
            )
        ],
    )
    conn.execute(
        f"INSERT OR IGNORE INTO tombstones (key, pruned_at) SELECT key, ? FROM article_keys"
        f" WHERE article_id IN ({marks})",
        [stamp, *ids],
    )
    for table, col in (
        ("article_topics", "article_id"),
        ("dedup_signatures", "article_id"),
        ("sightings", "article_id"),
        ("article_keys", "article_id"),
        ("articles", "id"),
    ):
        conn.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", ids)
    w.bump_feeds([ALL_FEED, *topics])


def integrity(store: Store) -> str:
    return str(store.reader().execute("PRAGMA integrity_check").fetchone()[0])
