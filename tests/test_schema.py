"""Migrations: the indexes a store ends with serve the store's own queries, and none of
them is only written (each index costs a random B-tree write per article at 1M)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from db import Store
from db.schema import migrations
from tests.conftest import write_config
from tests.test_dedup import kinds, wire_item
from wiredesk.config import load_config
from wiredesk.desk import Desk


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    return {name for (name,) in rows}


def test_a_store_from_before_0009_loses_only_the_write_only_indexes(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    database = Database(config.database)
    migrations.apply(database, stop_before="0009_drop_write_only_indexes")
    database.close()
    before = _indexes(config.database)
    assert {"articles_fingerprint", "articles_canonical_url"} <= before
    Store(config.database).close()  # opening it applies 0009
    assert _indexes(config.database) == before - {"articles_fingerprint", "articles_canonical_url"}


def test_lookups_by_url_or_fingerprint_go_through_article_keys(tmp_path: Path) -> None:
    """What the dropped indexes would have served, as the README shows it: by key."""
    desk = Desk(load_config(write_config(tmp_path)))
    try:
        assert kinds(
            desk,
            wire_item("en_quake_rasht_tass.txt", "tass", url="https://t.example/a?utm_source=x"),
        ) == ["new"]
        conn = desk.store.reader()
        url, fp = conn.execute("SELECT canonical_url, fingerprint FROM articles").fetchone()
        for key in (f"url:{url}", f"fp:{fp}"):
            plan = " ".join(
                r[3]
                for r in conn.execute(
                    "EXPLAIN QUERY PLAN SELECT a.* FROM article_keys k JOIN articles a"
                    " ON a.id = k.article_id WHERE k.key = ?",
                    [key],
                )
            )
            assert "SCAN" not in plan, plan
            got = conn.execute(
                "SELECT a.canonical_url FROM article_keys k JOIN articles a"
                " ON a.id = k.article_id WHERE k.key = ?",
                [key],
            ).fetchall()
            assert [tuple(r) for r in got] == [(url,)]
    finally:
        desk.close()


def test_fts_triggers_act_on_indexed_rows_only_after_0010(tmp_path: Path) -> None:
    """From 0010 the update and delete triggers leave rows not yet in the index alone
    (the writer indexes them at the end of the transaction); an indexed row changed or
    deleted by anyone, a user's own SQL too, still moves through the index."""
    from tests.test_fts_index import assert_index_matches_articles

    config = load_config(write_config(tmp_path))
    database = Database(config.database)
    migrations.apply(database, stop_before="0010_fts_triggers_skip_unindexed_rows")
    database.close()
    Store(config.database).close()  # opening it applies 0010
    desk = Desk(config)
    try:
        assert kinds(desk, wire_item("en_quake_rasht_tass.txt", "tass")) == ["new"]
    finally:
        desk.close()
    conn = sqlite3.connect(config.database)
    triggers = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    assert set(triggers) == {"articles_au", "articles_ad"}
    assert all("articles_fts_docsize" in sql for sql in triggers.values())
    with conn:  # an indexed row's text changed outside wiredesk
        conn.execute("UPDATE articles SET body = 'Zyxwvut replaces the text' WHERE id = 1")
    assert_index_matches_articles(config.database)
    match = "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?"
    assert conn.execute(match, ["zyxwvut"]).fetchone() == (1,)
    with conn:  # a row that was never indexed, changed and deleted: the index stays whole
        conn.execute(
            "INSERT INTO articles (guid, title, body, published, updated, source, fingerprint,"
            " first_seen) VALUES ('g2', 'Unindexed', 'text', ?1, ?1, 's', 'f2', ?1)",
            ["2026-01-01T00:00:00Z"],
        )
        conn.execute("UPDATE articles SET body = 'other text' WHERE guid = 'g2'")
        conn.execute("DELETE FROM articles WHERE guid = 'g2'")
        conn.execute("DELETE FROM articles WHERE id = 1")
    assert assert_index_matches_articles(config.database) == 0
    conn.close()
