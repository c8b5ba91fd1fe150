"""The drop folder: stable files only, quarantine with a reason, nothing lost, moves after commit."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from ingest.dropfolder import _read_at_most
from tests.conftest import CORPUS, SEED, drop
from wiredesk.desk import Desk


def _count(desk: Desk, sql: str) -> int:
    return int(sqlite3.connect(desk.config.database).execute(sql).fetchone()[0])


def test_unreadable_file_is_quarantined_and_the_next_is_taken(desk: Desk) -> None:
    drop(desk, "a-garbage.bin", b"\x00\x01\x02\xff\xfe binary \x00 junk" * 20)
    drop(desk, "b-empty.txt", b"")
    drop(desk, "c-kant.txt", SEED)
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None
    assert (report.drops.taken, report.drops.failed) == (1, 2)
    failed = desk.config.drops.path / "failed"
    assert (failed / "a-garbage.bin").exists()
    assert "binary content" in (failed / "a-garbage.bin.error.txt").read_text()
    assert "empty file" in (failed / "b-empty.txt.error.txt").read_text()
    assert (desk.config.drops.path / "done" / "c-kant.txt").exists()
    # recorded in the store too, with the reason
    conn = sqlite3.connect(desk.config.database)
    reasons = dict(conn.execute("SELECT item_key, reason FROM failures WHERE source = 'drops'"))
    assert set(reasons) == {"a-garbage.bin", "b-empty.txt"}
    assert _count(desk, "SELECT count(*) FROM articles") == 1


def test_temporary_names_are_left_alone(desk: Desk) -> None:
    folder = desk.config.drops.path
    for name in (".hidden.txt", "story.tmp", "story.part"):
        (folder / name).write_bytes(SEED.read_bytes())
    (folder / "tmp").mkdir(exist_ok=True)
    (folder / "tmp" / "inner.txt").write_bytes(SEED.read_bytes())
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.taken == 0
    assert _count(desk, "SELECT count(*) FROM articles") == 0
    assert (folder / "story.tmp").exists() and (folder / "tmp" / "inner.txt").exists()


def test_a_growing_file_waits_until_it_is_stable(desk: Desk) -> None:
    desk.drops.settle = 30.0
    path = desk.config.drops.path / "growing.txt"
    path.write_bytes(SEED.read_bytes()[:200])
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and (report.drops.taken, report.drops.waiting) == (0, 1)
    assert path.exists()
    old = time.time() - 60
    os.utime(path, (old, old))
    path.write_bytes(SEED.read_bytes())
    os.utime(path, (old, old))
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.taken == 1


def test_feed_documents_can_be_dropped(desk: Desk) -> None:
    feed = CORPUS / "feeds-real" / "rss2"
    path = sorted(feed.glob("*.xml"))[0]
    drop(desk, "feed.xml", path)
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.taken == 1
    assert _count(desk, "SELECT count(*) FROM sightings WHERE source = 'drops'") >= 1


def test_cp1251_wire_text_is_decoded(desk: Desk) -> None:
    text = "МОСКВА, 5 марта. /ТАСС/. Минобороны России сообщило об учениях войск.\n\nВторой абзац."
    drop(desk, "ru.txt", text.encode("cp1251"))
    desk.ingest_pass(due_only=False)
    row = (
        sqlite3.connect(desk.config.database)
        .execute("SELECT dateline, language FROM articles")
        .fetchone()
    )
    assert row == ("МОСКВА", "ru")


def test_crash_after_commit_before_move_takes_the_file_once(desk: Desk) -> None:
    """Committed but never moved (a crash in between): the next pass finds the story
    unchanged, adds nothing and moves the file."""
    path = drop(desk, "kant.txt", SEED)
    items = desk.drops.load(path).items
    desk.pipeline.ingest(items)  # committed; the process "dies" before done()
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.taken == 1
    assert report.drop_summary.counts["unchanged"] == 1
    assert _count(desk, "SELECT count(*) FROM articles") == 1
    assert _count(desk, "SELECT count(*) FROM sightings") == 1
    assert (desk.config.drops.path / "done" / "kant.txt").exists()


def test_symlink_is_never_followed(desk: Desk, tmp_path: os.PathLike[str]) -> None:
    outside = desk.config.drops.path.parent / "secret.txt"
    outside.write_bytes(SEED.read_bytes())
    (desk.config.drops.path / "link.txt").symlink_to(outside)
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.failed == 1
    assert _count(desk, "SELECT count(*) FROM articles") == 0
    assert "symbolic link" in (desk.config.drops.path / "failed" / "link.txt.error.txt").read_text()
    assert outside.exists()


def test_same_name_dropped_twice_keeps_both_in_done(desk: Desk) -> None:
    drop(desk, "kant.txt", SEED)
    desk.ingest_pass(due_only=False)
    drop(desk, "kant.txt", SEED.read_text(encoding="utf-8") + "\n\nAn added closing paragraph.")
    desk.ingest_pass(due_only=False)
    done = sorted(p.name for p in (desk.config.drops.path / "done").iterdir())
    assert done == ["kant.txt", "kant.txt.1"]
    # the same file name from the same source with new text is an update of its article
    conn = sqlite3.connect(desk.config.database)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    assert conn.execute("SELECT match FROM sightings").fetchall() == [("update",)]
    assert "An added closing paragraph." in conn.execute("SELECT body FROM articles").fetchone()[0]


def test_a_file_is_read_whole_in_chunks_up_to_the_limit(tmp_path: Path) -> None:
    data = os.urandom(2_500_000)  # more than one 1 MB chunk
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    for limit, expected in ((3_000_000, data), (1_500_000, data[:1_500_000]), (10, data[:10])):
        fd = os.open(path, os.O_RDONLY)
        try:
            assert _read_at_most(fd, limit) == expected
        finally:
            os.close(fd)
