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
