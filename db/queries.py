"""Every read the renderers, the CLI and the HTTP app make, on a read-only connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields

from db.models import SourceState
from db.writer import ALL_FEED


@dataclass
class Credit:
    source: str
    url: str | None
    match: str


@dataclass
class FeedEntry:
    """One published entry: an article with its topics and the outlets that carried it."""

    id: int
    guid: str
    title: str
    summary: str | None
    body: str | None
    content_html: str | None
    url: str | None
    published: str
    updated: str
    source: str
    author: str | None
    agency: str | None
    dateline: str | None
    language: str | None
    topics: list[str] = field(default_factory=list)
    also: list[Credit] = field(default_factory=list)
    source_url: str | None = None  # the feed the story first came from, when it has one


def feed_version(conn: sqlite3.Connection, topics: list[str] | None) -> tuple[int, str | None]:
    """(sum of versions, latest change) of the given topics, or of every article."""
    keys = topics or [ALL_FEED]
    marks = ",".join("?" * len(keys))
    row = conn.execute(
        f"SELECT coalesce(sum(version), 0), max(changed_at) FROM feed_versions"
        f" WHERE topic IN ({marks})",
        keys,
    ).fetchone()
    return int(row[0]), row[1]


def _topic_filter(topics: list[str] | None, where: list[str], args: list[object]) -> None:
    if topics:
        marks = ",".join("?" * len(topics))
        where.append(f"a.id IN (SELECT article_id FROM article_topics WHERE topic IN ({marks}))")
        args.extend(topics)


def feed_entries(
    conn: sqlite3.Connection,
    topics: list[str] | None,
    limit: int | None = 50,
    *,
    query: str | None = None,
    source: str | None = None,
    language: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[FeedEntry]:
    """Newest first. `topics=None` means every article; several topics are a union.
    `since` is inclusive, `until` exclusive (ISO 8601 text); `limit=None` is no limit."""
    where: list[str] = []
    args: list[object] = []
    _topic_filter(topics, where, args)
    if query:
        where.append("a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
        args.append(query)
    if source:
        where.append("a.source = ?")
        args.append(source)
    if language:
        where.append("a.language = ?")
        args.append(language)
    if since:
        where.append("a.published >= ?")
        args.append(since)
    if until:
        where.append("a.published < ?")
        args.append(until)
    sql = "SELECT a.* FROM articles a"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY a.published DESC, a.id DESC LIMIT ?"
    args.append(-1 if limit is None else limit)
    return _entries(conn, conn.execute(sql, args).fetchall())


def published_days(conn: sqlite3.Connection, topics: list[str] | None) -> list[str]:
    """Every UTC day (`YYYY-MM-DD`) with at least one published article, oldest first."""
    where: list[str] = []
    args: list[object] = []
    _topic_filter(topics, where, args)
    sql = "SELECT DISTINCT substr(a.published, 1, 10) AS day FROM articles a"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [r[0] for r in conn.execute(sql + " ORDER BY day", args)]


def daily_counts(conn: sqlite3.Connection, since_day: str) -> dict[str, dict[str, int]]:
    """Articles per published day from `since_day` on: per topic, and under '*' for all."""
    out: dict[str, dict[str, int]] = {}
    for topic, day, n in conn.execute(
        """SELECT t.topic, substr(a.published, 1, 10) AS day, count(*)
           FROM articles a JOIN article_topics t ON t.article_id = a.id
           WHERE a.published >= ? GROUP BY t.topic, day
           UNION ALL
           SELECT '*', substr(published, 1, 10) AS day, count(*)
           FROM articles WHERE published >= ? GROUP BY day""",
        (since_day, since_day),
    ):
        out.setdefault(topic, {})[day] = n
    return out


def entries_by_id(conn: sqlite3.Connection, ids: list[int]) -> list[FeedEntry]:
    marks = ",".join("?" * len(ids))
    return _entries(
        conn, conn.execute(f"SELECT * FROM articles WHERE id IN ({marks})", ids).fetchall()
    )


def _entries(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[FeedEntry]:
    entries = [
        FeedEntry(
            id=r["id"],
            guid=r["guid"],
            title=r["title"],
            summary=r["summary"],
            body=r["body"],
            content_html=r["content_html"],
            url=r["url"],
            published=r["published"],
            updated=r["updated"],
            source=r["source"],
            author=r["author"],
            agency=r["agency"],
            dateline=r["dateline"],
            language=r["language"],
        )
        for r in rows
    ]
    _attach_topics_and_credits(conn, entries)
    return entries


def _attach_topics_and_credits(conn: sqlite3.Connection, entries: list[FeedEntry]) -> None:
    if not entries:
        return
    by_id = {e.id: e for e in entries}
    marks = ",".join("?" * len(by_id))
    for aid, topic in conn.execute(
        f"SELECT article_id, topic FROM article_topics WHERE article_id IN ({marks})"
        " ORDER BY topic",
        list(by_id),
    ):
        by_id[aid].topics.append(topic)
    # every other copy is credited: duplicates, and the first copy when another one was
    # chosen to represent the story (articles.rep_sighting); each outlet+link once
    for aid, src, url, match in conn.execute(
        f"""SELECT s.article_id, s.source, s.url, s.match FROM sightings s
            JOIN articles a ON a.id = s.article_id
            WHERE s.article_id IN ({marks}) AND s.match IN ('new', 'exact', 'near')
              AND s.id != coalesce(a.rep_sighting,
                    (SELECT min(f.id) FROM sightings f WHERE f.article_id = a.id))
            ORDER BY s.id""",
        list(by_id),
    ):
        entry = by_id[aid]
        if (src, url) == (entry.source, entry.url) or (url is not None and url == entry.url):
            continue
        if any((c.source, c.url) == (src, url) for c in entry.also):
            continue
        entry.also.append(Credit(src, url, match))
    urls = dict(conn.execute("SELECT name, url FROM sources"))
    for entry in entries:
        entry.source_url = urls.get(entry.source)


def article(conn: sqlite3.Connection, article_id: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM articles WHERE id = ?", (article_id,)
    ).fetchone()
    return row


def article_topics(conn: sqlite3.Connection, article_id: int) -> dict[str, tuple[float, list[str]]]:
    return {
        r["topic"]: (r["score"], json.loads(r["matched"]))
        for r in conn.execute(
            "SELECT topic, score, matched FROM article_topics WHERE article_id = ?",
            (article_id,),
        )
    }


def sightings(conn: sqlite3.Connection, article_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM sightings WHERE article_id = ? ORDER BY id", (article_id,)
    ).fetchall()


def match_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Sightings per match kind: new, exact, near, update."""
    return {
        r[0]: r[1] for r in conn.execute("SELECT match, count(*) FROM sightings GROUP BY match")
    }


def topic_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        r[0]: r[1]
        for r in conn.execute("SELECT topic, count(*) FROM article_topics GROUP BY topic")
    }


def sources(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    # grouped once over the indexes (articles_source, sightings_match_source), not
    # counted per source: 500 sources once cost 500 scans of the articles table
    return conn.execute(
        """SELECT s.*, coalesce(a.n, 0) AS articles, coalesce(d.n, 0) AS duplicates
           FROM sources s
           LEFT JOIN (SELECT source, count(*) AS n FROM articles GROUP BY source) a
             ON a.source = s.name
           LEFT JOIN (SELECT source, count(*) AS n FROM sightings
                      WHERE match IN ('exact', 'near') GROUP BY source) d
             ON d.source = s.name
           ORDER BY s.name"""
    ).fetchall()


def totals(conn: sqlite3.Connection) -> dict[str, int]:
    row = conn.execute(
        """SELECT (SELECT count(*) FROM articles),
                  (SELECT count(*) FROM sightings),
                  (SELECT count(*) FROM sightings WHERE match IN ('exact', 'near')),
                  (SELECT count(*) FROM failures)"""
    ).fetchone()
    return {"articles": row[0], "sightings": row[1], "duplicates": row[2], "failures": row[3]}


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    topic: str | None = None,
    since: str | None = None,
    limit: int = 20,
) -> list[sqlite3.Row]:
    """FTS5 search ranked by bm25; `query` uses FTS5 syntax."""
    sql = """SELECT a.id, a.title, a.url, a.published, a.source, a.agency, a.dateline,
                    snippet(articles_fts, 2, '[', ']', '…', 12) AS snippet
             FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
             WHERE articles_fts MATCH ?"""
    args: list[object] = [query]
    if topic:
        sql += " AND a.id IN (SELECT article_id FROM article_topics WHERE topic = ?)"
        args.append(topic)
    if since:
        sql += " AND a.published >= ?"
        args.append(since)
    sql += " ORDER BY bm25(articles_fts) LIMIT ?"
    args.append(limit)
    return conn.execute(sql, args).fetchall()


def recent_failures(conn: sqlite3.Connection, limit: int = 20) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM failures ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def source_state(conn: sqlite3.Connection, name: str) -> SourceState | None:
    row = conn.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    names = {f.name for f in fields(SourceState)}
    data = {k: row[k] for k in names & set(row.keys())}
    data["gone"] = bool(data.get("gone"))
    return SourceState(**data)


def source_schedule(conn: sqlite3.Connection) -> dict[str, tuple[str | None, bool]]:
    """name -> (next_fetch, gone) for every stored source."""
    return {
        r[0]: (r[1], bool(r[2])) for r in conn.execute("SELECT name, next_fetch, gone FROM sources")
    }


def _chunks(values: Iterable[str], size: int = 500) -> Iterator[list[str]]:
    batch: list[str] = []
    for v in values:
        batch.append(v)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def known_item_keys(conn: sqlite3.Connection, source: str, keys: Iterable[str]) -> set[str]:
    """Which of these item keys the source already has sightings for."""
    out: set[str] = set()
    for batch in _chunks(keys):
        marks = ",".join("?" * len(batch))
        out.update(
            r[0]
            for r in conn.execute(
                f"SELECT item_key FROM sightings WHERE source = ? AND item_key IN ({marks})",
                (source, *batch),
            )
        )
    return out


def item_keys_for_urls(
    conn: sqlite3.Connection, source: str, urls: Iterable[str]
) -> dict[str, str]:
    """url -> the item key it was last sighted under, for this source."""
    out: dict[str, str] = {}
    for batch in _chunks(urls):
        marks = ",".join("?" * len(batch))
        for r in conn.execute(
            f"SELECT url, item_key FROM sightings WHERE source = ? AND url IN ({marks})"
            " ORDER BY seen_at",
            (source, *batch),
        ):
            out[r[0]] = r[1]
    return out


def reclassify_resume_point(conn: sqlite3.Connection, rules_hash: str) -> int:
    """The last article id an unfinished `reclassify` with these rules got to, else 0."""
    row = conn.execute(
        "SELECT last_id FROM reclassify_runs WHERE rules_hash = ? AND finished_at IS NULL",
        (rules_hash,),
    ).fetchone()
    return int(row[0]) if row else 0
