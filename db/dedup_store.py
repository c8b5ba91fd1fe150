"""Reads and writes of the near-duplicate layer: persisted features and the representative copy."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator


def save(
    conn: sqlite3.Connection,
    article_id: int,
    sighting_id: int | None,
    source: str | None,
    published: str | None,
    seen_at: str,
    language: str | None,
    blob: bytes,
) -> int:
    cur = conn.execute(
        """INSERT INTO dedup_signatures (article_id, sighting_id, source, published, seen_at,
             language, features) VALUES (?,?,?,?,?,?,?)""",
        (article_id, sighting_id, source, published, seen_at, language, blob),
    )
    return int(cur.lastrowid or 0)


def window(
    conn: sqlite3.Connection, since: str, limit: int
) -> list[tuple[int, int, str | None, str | None, str, str | None, bytes]]:
    """The newest `limit` entries seen since `since`, oldest first."""
    rows = conn.execute(
        """SELECT id, article_id, source, published, seen_at, language, features
           FROM dedup_signatures WHERE seen_at >= ? ORDER BY seen_at DESC, id DESC LIMIT ?""",
        (since, limit),
    ).fetchall()
    return [tuple(r) for r in reversed(rows)]


def unindexed(
    conn: sqlite3.Connection, since: str
) -> Iterator[tuple[int, str, str | None, str, str, str | None, str]]:
    """Articles first seen since `since` that have no entry (stored before this layer)."""
    for r in conn.execute(
        """SELECT a.id, a.title, a.body, a.source, a.published, a.language, a.first_seen
           FROM articles a WHERE a.first_seen >= ?
             AND NOT EXISTS (SELECT 1 FROM dedup_signatures d WHERE d.article_id = a.id)
           ORDER BY a.id""",
        (since,),
    ).fetchall():
        yield r[0], r[1], r[2], r[3], r[4], r[5], r[6]


def representative(conn: sqlite3.Connection, article_id: int) -> sqlite3.Row | None:
    """What the rule needs to know about the copy an article shows now."""
    row: sqlite3.Row | None = conn.execute(
        """SELECT id, source, agency, published, length(coalesce(body, '')) AS length,
                  rep_sighting FROM articles WHERE id = ?""",
        (article_id,),
    ).fetchone()
    return row


def set_representative(
    conn: sqlite3.Connection,
    article_id: int,
    sighting_id: int,
    url: str | None,
    canonical_url: str | None,
    published: str,
) -> None:
    """Point the article at another copy (its text is replaced by `Writer.update_article`);
    guid, source and first_seen stay, `published` keeps the earliest date."""
    conn.execute(
        """UPDATE articles SET rep_sighting = ?, url = ?, canonical_url = ?,
             published = min(published, ?) WHERE id = ?""",
        (sighting_id, url, canonical_url, published, article_id),
    )


def pin_representative(conn: sqlite3.Connection, article_id: int, sighting_id: int) -> None:
    """Record the first copy as the representative before its sighting's match changes."""
    conn.execute(
        "UPDATE articles SET rep_sighting = ? WHERE id = ? AND rep_sighting IS NULL",
        (sighting_id, article_id),
    )


def is_representative(conn: sqlite3.Connection, article_id: int, sighting_id: int) -> bool:
    row = conn.execute(
        """SELECT a.rep_sighting, s.match FROM articles a, sightings s
           WHERE a.id = ? AND s.id = ?""",
        (article_id, sighting_id),
    ).fetchone()
    if row is None:
        return False
    rep, match = row
    return bool(rep == sighting_id or (rep is None and match == "new"))


def has_source(conn: sqlite3.Connection, article_id: int, source: str) -> bool:
    """Does the article already hold an item from `source`?"""
    return (
        conn.execute(
            "SELECT 1 FROM sightings WHERE article_id = ? AND source = ? LIMIT 1",
            (article_id, source),
        ).fetchone()
        is not None
    )
