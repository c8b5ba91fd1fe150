"""The full-text index (`articles_fts`) holds exactly the stored articles' text.

The writer indexes new articles in one statement per transaction instead of a trigger per
row (migration 0008); these tests compare the live index, token by token, with one
rebuilt from the articles table after inserts, updates, failed items and pruning."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from db.maintenance import _delete_articles, prune
from db.models import ArticleData
from db.schema import migrations
from db.store import Store
from tests.conftest import write_config
from tests.test_dedup import kinds, wire_item
from wiredesk.config import load_config
from wiredesk.desk import Desk


def index_entries(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    """Every (term, rowid, column, offset) the FTS5 table `table` holds."""
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, 'instance')"
    )
    return [tuple(r) for r in conn.execute(f"SELECT * FROM temp.{table}_vocab ORDER BY 1, 2, 3, 4")]


def assert_index_matches_articles(database: Path) -> int:
    """The live index equals one built from scratch from `articles`; returns its size."""
    conn = sqlite3.connect(database)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()[0]
    with conn:
        conn.execute(
            sql.replace("[articles_fts]", "fts_rebuilt").replace('"articles_fts"', "fts_rebuilt")
        )
        conn.execute("INSERT INTO fts_rebuilt (fts_rebuilt) VALUES ('rebuild')")
    live, rebuilt = index_entries(conn, "articles_fts"), index_entries(conn, "fts_rebuilt")
    with conn:
        conn.execute("DROP TABLE fts_rebuilt")
    assert live == rebuilt
    docs = {row for _, row, _, _ in live}
    stored = {r[0] for r in conn.execute("SELECT id FROM articles WHERE body != '' OR title != ''")}
    assert docs == stored
    return len(live)


def test_the_index_holds_every_article_through_updates_failures_and_pruning(desk: Desk) -> None:
    # an article and its update in one transaction: the update meets an unindexed row
    assert kinds(
        desk,
        wire_item("en_csto_exercise_tass.txt", "tass"),
        wire_item("en_quake_rasht_tass.txt", "tass"),
        wire_item("en_csto_exercise_tass_update.txt", "tass"),
    ) == ["new", "new", "update"]
    assert assert_index_matches_articles(desk.config.database) > 100
    conn = sqlite3.connect(desk.config.database)
    assert conn.execute(
        "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'Bekbolotov'"
    ).fetchone() == (1,)

    # A batch whose update fails after its text was written: the batch is stored again
    # item by item in savepoints, and the failed update's rollback must undo its own
    # re-indexing only, not the indexing of the article inserted before it.
    batch = [
        wire_item("ru_zemletryasenie_almaty_tass.txt", "tass-ru"),
        wire_item("ru_zemletryasenie_almaty_tass_obnovleno.txt", "tass-ru"),
        wire_item("en_drugs_almaty_tengrinews.txt", "tengrinews"),
    ]
    original = desk.pipeline._classify
    calls = []

    def update_fails(w: object, article_id: int, p: object, *, new: bool = False) -> None:
        calls.append(new)
        if not new and p.art.source == "tass-ru":  # type: ignore[attr-defined]
            raise RuntimeError("topic rules broke")
        original(w, article_id, p, new=new)  # type: ignore[arg-type]

    desk.pipeline._classify = update_fails  # type: ignore[method-assign]
    assert kinds(desk, *batch) == ["new", "failed", "new"]
    desk.pipeline._classify = original  # type: ignore[method-assign]
    assert False in calls  # the update did reach the point of failure
    assert_index_matches_articles(desk.config.database)
    assert conn.execute(
        "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'землетрясение'"
    ).fetchone() == (1,)

    # the update again, now succeeding, in its own transaction: a row indexed earlier
    assert kinds(desk, batch[1]) == ["update"]
    assert_index_matches_articles(desk.config.database)

    # pruning deletes through the delete trigger: the index loses exactly those rows
    published = sorted(r[0] for r in conn.execute("SELECT published FROM articles"))
    cutoff = datetime.fromisoformat(published[len(published) // 2].replace("Z", "+00:00"))
    removed = prune(desk.store, timedelta(0), now=cutoff)
    assert 0 < removed < len(published)
    assert_index_matches_articles(desk.config.database)


def test_a_store_made_before_the_writer_indexed_keeps_its_index(tmp_path: Path) -> None:
    """A store at migration 0007 (insert trigger) moves to writer indexing, and the rows
    the trigger indexed stay indexed once: no gap, no row twice."""
    config = load_config(write_config(tmp_path))
    database = Database(config.database)
    migrations.apply(database, stop_before="0008_fts_indexed_by_writer")
    database.execute(
        "INSERT INTO articles (guid, title, summary, body, published, updated, source,"
        " fingerprint, first_seen) VALUES ('g1', 'Old headline', 'old summary',"
        " 'Body indexed by the trigger', ?1, ?1, 'old', 'f1', ?1)",
        ["2026-01-01T00:00:00Z"],
    )
    database.conn.commit()
    database.close()
    Store(config.database).close()  # opening it applies 0008
    conn = sqlite3.connect(config.database)
    triggers = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    assert set(triggers) == {"articles_au", "articles_ad"}
    assert "UPDATE OF" in triggers["articles_au"]
    assert_index_matches_articles(config.database)

    desk = Desk(config)
    try:
        assert kinds(desk, wire_item("en_quake_rasht_tass.txt", "tass")) == ["new"]
    finally:
        desk.close()
    assert assert_index_matches_articles(config.database) > 10
    assert conn.execute(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'trigger'"
    ).fetchall() == [(1,)]


def test_an_article_deleted_in_the_transaction_that_stored_it_leaves_no_trace(
    tmp_path: Path,
) -> None:
    config = load_config(write_config(tmp_path))
    store = Store(config.database)

    def article(n: int) -> ArticleData:
        return ArticleData(
            guid=f"g{n}",
            title=f"Headline number {n}",
            summary=None,
            body=f"Body text {n}",
            content_html=None,
            url=None,
            canonical_url=None,
            published="2026-01-01T00:00:00Z",
            published_raw=None,
            source="s",
            fingerprint=f"f{n}",
        )

    try:
        with store.write() as w:
            kept = w.insert_article(article(1), [])
            gone = w.insert_article(article(2), [])
            _delete_articles(w, [gone])
    finally:
        store.close()
    assert assert_index_matches_articles(config.database) > 0
    conn = sqlite3.connect(config.database)
    assert conn.execute(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'headline'"
    ).fetchall() == [(kept,)]
