"""Operations: backup while running, retention with tombstones, corrupt stores, SIGHUP reload."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import yaml

from db.maintenance import backup, prune
from tests.conftest import SEED, drop, write_config
from tests.test_daemon import get, wait_for
from wiredesk.desk import Desk


def test_backup_is_a_consistent_copy(desk: Desk, tmp_path: Path) -> None:
    drop(desk, "kant.txt", SEED)
    desk.ingest_pass(due_only=False)
    target = backup(desk.store, tmp_path / "backups" / "copy.db")
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT dateline FROM articles").fetchall() == [("BISHKEK",)]
    assert (
        conn.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'Kant'"
        ).fetchone()[0]
        == 1
    )


def test_backup_cli_refuses_to_overwrite(config_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "b.db"
    cmd = [sys.executable, "-m", "wiredesk", "--config", str(config_path), "backup", str(target)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "refusing to overwrite" in second.stderr


def test_retention_prunes_and_tombstones_keep_stories_out(desk: Desk) -> None:
    drop(desk, "kant.txt", SEED)
    desk.ingest_pass(due_only=False)
    assert prune(desk.store, timedelta(days=90)) == 1  # the seed is from 2023
    conn = sqlite3.connect(desk.config.database)
    for table in ("articles", "sightings", "article_topics", "article_keys"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert (
        conn.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'Kant'"
        ).fetchone()[0]
        == 0
    )
    # the same story under another name, and the same file again: neither comes back
    drop(desk, "kant-again.txt", SEED)
    report = desk.ingest_pass(due_only=False)
    assert report.drop_summary.counts["pruned"] == 1
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_corrupt_store_is_refused_and_left_untouched(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    db_path = tmp_path / "wiredesk.db"
    garbage = b"SQLite format 3\x00" + bytes(range(256)) * 64
    db_path.write_bytes(garbage)
    res = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert "refusing to touch it" in res.stderr
    assert db_path.read_bytes() == garbage


def test_sighup_reloads_topics_and_keeps_the_old_config_when_invalid(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path, log_level="info")
    cfg = yaml.safe_load(cfg_path.read_text())
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "kant.txt").write_bytes(SEED.read_bytes())
    base = cfg["server"]["base_url"].rstrip("/")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg_path), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"{base}/topics/defense.atom", b"Kant")
        assert get(f"{base}/topics/kyrgyz-bases.atom")[0] == 404
        cfg["topics"]["kyrgyz-bases"] = {"threshold": 1, "terms": {"kant": 1}}
        cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while get(f"{base}/topics/kyrgyz-bases.atom")[0] != 200:
            assert time.monotonic() < deadline, "reload never took the new topic"
            time.sleep(0.2)
        # a broken config is refused; the daemon keeps serving with the old one
        cfg_path.write_text("topics: [not, a, mapping\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert get(f"{base}/topics/kyrgyz-bases.atom")[0] == 200
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert "event=config_reloaded" in out
        assert "event=reload_refused" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_source_counts_come_from_indexes_not_a_scan_per_source(desk: Desk) -> None:
    """The index page and `status` count articles and duplicates per source: with 500
    sources a scan of `articles` per source once took ~1 s and held the event loop."""
    from db import queries
    from ingest.item import Item

    with desk.store.write() as w:
        for name in ("tass", "akipress", "quiet"):
            w.ensure_source(name, f"http://{name}.example/feed")
    body = SEED.read_text(encoding="utf-8")
    story = {"title": "Drills at Kant air base", "body": body, "url": "http://t.example/1"}
    kinds = [
        o.kind
        for o in desk.pipeline.ingest(
            [
                Item(source="tass", item_key="1", **story),
                Item(source="akipress", item_key="9", **story),
            ]
        )
    ]
    assert kinds == ["new", "exact"]
    conn = desk.store.reader()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        rows = queries.sources(conn)
    finally:
        conn.set_trace_callback(None)
    counts = {r["name"]: (r["articles"], r["duplicates"]) for r in rows}
    assert counts == {"tass": (1, 0), "akipress": (0, 1), "quiet": (0, 0)}
    plan = " ".join(
        str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {statements[-1]}").fetchall()
    )
    assert "COVERING INDEX articles_source" in plan, plan
    assert "COVERING INDEX sightings_match_source" in plan, plan
    assert not re.search(r"SCAN (articles|a)\b(?! USING COVERING INDEX)", plan), plan
