"""The drop folder under stress: FIFOs, huge files, many copies, thousands of files, a full disk."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ingest import dropfolder
from tests.conftest import SEED, drop
from wiredesk.desk import Desk


def test_fifo_is_quarantined_without_blocking(desk: Desk) -> None:
    os.mkfifo(desk.config.drops.path / "pipe.txt")
    drop(desk, "kant.txt", SEED)
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and (report.drops.taken, report.drops.failed) == (1, 1)
    reason = (desk.config.drops.path / "failed" / "pipe.txt.error.txt").read_text()
    assert "not a regular file" in reason


def test_huge_file_is_refused_with_its_size(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dropfolder, "MAX_BYTES", 4096)
    drop(desk, "huge.txt", "word " * 2000)
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.failed == 1
    assert (
        "file too large: 10000 bytes"
        in (desk.config.drops.path / "failed" / "huge.txt.error.txt").read_text()
    )


def test_thousands_of_files_and_many_copies_are_each_taken_once(desk: Desk) -> None:
    for i in range(1500):
        (desk.config.drops.path / f"s{i:05d}.txt").write_text(
            f"ALMATY, May 3. /TASS/. Report number {i} about the border talks in detail.\n\nMore text {i}.",
            encoding="utf-8",
        )
    for i in range(200):
        (desk.config.drops.path / f"copy{i:03d}.txt").write_bytes(SEED.read_bytes())
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and (report.drops.taken, report.drops.failed) == (1700, 0)
    conn = sqlite3.connect(desk.config.database)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1501
    assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == 1700
    assert conn.execute("SELECT count(*) FROM sightings WHERE match = 'exact'").fetchone()[0] == 199
    assert len(os.listdir(desk.config.drops.path / "done")) == 1700


def test_disk_full_rolls_back_and_keeps_the_file(desk: Desk) -> None:
    drop(desk, "first.txt", SEED)
    desk.ingest_pass(due_only=False)
    conn = sqlite3.connect(desk.config.database)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    # the store may not grow: SQLITE_FULL on the next article's write
    desk.store._wconn.execute(f"PRAGMA max_page_count = {pages}")
    big = " date 2024-01-02 ALMATY, January 2. /TASS/. " + "Long wire story text. " * 3000
    path = drop(desk, "big.txt", big)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        desk.ingest_pass(due_only=False)
    assert path.exists(), "the input is kept for a later retry"
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM failures").fetchone()[0] == 0
    desk.store._wconn.execute("PRAGMA max_page_count = 1073741823")
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.taken == 1
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_metrics_count_items_by_outcome(desk: Desk, tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    def value(outcome: str) -> float:
        return (
            REGISTRY.get_sample_value(
                "wiredesk_items_total", {"source": "drops", "outcome": outcome}
            )
            or 0.0
        )

    new0, exact0 = value("new"), value("exact")
    drop(desk, "a.txt", SEED)
    drop(desk, "b.txt", SEED)
    desk.ingest_pass(due_only=False)
    assert (value("new") - new0, value("exact") - exact0) == (1, 1)
