"""The reference wire story goes from the drop folder to SQLite to Atom/RSS, exactly right."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import feedparser

from tests.conftest import SEED, drop, write_config
from wiredesk.desk import Desk


def _db(desk: Desk) -> sqlite3.Connection:
    conn = sqlite3.connect(desk.config.database)
    conn.row_factory = sqlite3.Row
    return conn


def test_seed_is_stored_right(desk: Desk) -> None:
    drop(desk, "kant.txt", SEED)
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.taken == 1
    conn = _db(desk)
    rows = conn.execute("SELECT * FROM articles").fetchall()
    assert len(rows) == 1
    a = rows[0]
    assert a["published"].startswith("2023-10-12")
    assert a["dateline"] == "BISHKEK"
    assert a["agency"] == "TASS"
    assert a["language"] == "en"
    assert "air force base Kant in Kyrgyzstan" in a["title"]
    assert not a["title"].lower().startswith("date")
    assert "2023-10-12" not in a["title"]
    assert json.loads(a["subheads"]) == ["Part of CSTO", "Military service"]
    assert "<h3>Part of CSTO</h3>" in a["content_html"]
    assert "<h3>Military service</h3>" in a["content_html"]
    # subheads stay paragraphs of their own in the body, not glued to a neighbour
    assert "\n\nPart of CSTO\n\n" in a["body"]
    assert a["body"].startswith("The establishment of the Russian air force base Kant")
    topics = {
        r["topic"]: json.loads(r["matched"])
        for r in conn.execute(
            "SELECT topic, matched FROM article_topics WHERE article_id = ?", (a["id"],)
        )
    }
    # central-asia files by place names (Kant is in Kyrgyzstan); terrorism is only mentioned
    assert set(topics) == {"defense", "regional-security", "central-asia"}
    assert "military" in topics["defense"] and "air base" in topics["defense"]
    assert "regional security" in topics["regional-security"]
    assert "csto" in topics["regional-security"]
    sightings = conn.execute("SELECT * FROM sightings").fetchall()
    assert [(s["source"], s["item_key"], s["match"]) for s in sightings] == [
        ("drops", "kant.txt", "new")
    ]
    # the file moved to done/ only after the commit
    assert (desk.config.drops.path / "done" / "kant.txt").exists()
    assert not (desk.config.drops.path / "kant.txt").exists()


def test_dropping_the_story_again_is_a_sighting_not_an_article(desk: Desk) -> None:
    drop(desk, "kant.txt", SEED)
    desk.ingest_pass(due_only=False)
    text = SEED.read_text(encoding="utf-8")
    # another name, other whitespace and quote style: the same story
    variant = text.replace('"', "“").replace("  ", " ").replace("\n\n", "\n   \n\n")
    drop(desk, "kant-again.txt", variant)
    drop(desk, "kant-copy.txt", SEED)
    desk.ingest_pass(due_only=False)
    conn = _db(desk)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    matches = conn.execute("SELECT item_key, match, reason FROM sightings ORDER BY id").fetchall()
    assert [(m["item_key"], m["match"]) for m in matches] == [
        ("kant.txt", "new"),
        ("kant-again.txt", "exact"),
        ("kant-copy.txt", "exact"),
    ]
    assert matches[1]["reason"] == "same fp"


def test_exported_feeds_parse_back_to_the_same_entry(desk: Desk, tmp_path: Path) -> None:
    drop(desk, "kant.txt", SEED)
    desk.ingest_pass(due_only=False)
    out = tmp_path / "site"
    desk.publisher.export(out)
    row = _db(desk).execute("SELECT * FROM articles").fetchone()
    for fmt in ("atom", "rss"):
        data = (out / "topics" / f"defense.{fmt}").read_bytes()
        parsed = feedparser.parse(data)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert len(parsed.entries) == 1
        e = parsed.entries[0]
        assert e.title == row["title"]
        assert e.link == f"{desk.config.server.base_url}articles/{row['id']}"
        assert e.id == row["guid"]
        assert e.published_parsed[:3] == (2023, 10, 12)
        assert sorted(t.term for t in e.tags) == ["central-asia", "defense", "regional-security"]
    for name in (
        "topics/regional-security.atom",
        "all.rss",
        "all.json",
        "feeds.opml",
        "index.html",
    ):
        assert (out / name).stat().st_size > 0, name
    # same store, same bytes: renders carry no "now"
    again = tmp_path / "again"
    desk.publisher.export(again)
    for fmt in ("atom", "rss", "json"):
        assert (out / "topics" / f"defense.{fmt}").read_bytes() == (
            again / "topics" / f"defense.{fmt}"
        ).read_bytes()


def test_cli_ingest_and_export_end_to_end(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "kant.txt").write_bytes(SEED.read_bytes())
    run = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), "ingest"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "drops: new=1 duplicate=0" in run.stdout
    exp = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), "export", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exp.returncode == 0, exp.stderr
    atom = (tmp_path / "out" / "topics" / "defense.atom").read_text(encoding="utf-8")
    assert "air force base Kant in Kyrgyzstan" in atom
    search = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), "search", "Kant", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert search.returncode == 0, search.stderr
    hits = [json.loads(line) for line in search.stdout.splitlines()]
    assert len(hits) == 1 and hits[0]["dateline"] == "BISHKEK"
