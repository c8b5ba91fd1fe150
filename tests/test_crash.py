"""kill -9 at random points while the daemon takes in a drop folder, then compare with a clean run."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import write_config

WORDS = [
    "army",
    "navy",
    "border",
    "talks",
    "minister",
    "summit",
    "drills",
    "missile",
    "base",
    "troops",
    "envoy",
    "treaty",
    "parliament",
    "election",
    "court",
    "police",
    "ministry",
    "forces",
    "visit",
    "agreement",
    "security",
    "exercise",
]
CITIES = ["BISHKEK", "ALMATY", "DUSHANBE", "TASHKENT", "MOSCOW", "ASTANA"]


def make_drops(folder: Path, n: int, rng: random.Random) -> None:
    folder.mkdir(parents=True)
    stories = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        city = rng.choice(CITIES)
        stories.append(
            f" date 2024-05-{1 + i % 28:02d} {city}, May {1 + i % 28}. /TASS/. Story {i} says {words}.\n\n"
            f"Second paragraph {i}: {words[::-1]}.\n"
        )
    t0 = time.time() - 3600
    for i, text in enumerate(stories):
        path = folder / f"story-{i:04d}.txt"
        path.write_text(text, encoding="utf-8")
        os.utime(path, (t0 + i, t0 + i))
    # the same content under other names: sightings, not articles
    for j in range(0, n, 10):
        path = folder / f"copy-{j:04d}.txt"
        path.write_text(stories[j], encoding="utf-8")
        os.utime(path, (t0 + n + j, t0 + n + j))


def snapshot(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return {
        "articles": sorted(
            conn.execute("SELECT guid, title, published, fingerprint FROM articles")
        ),
        "sightings": sorted(
            conn.execute(
                "SELECT s.source, s.item_key, s.match, a.guid FROM sightings s"
                " JOIN articles a ON a.id = s.article_id"
            )
        ),
        "topics": sorted(
            conn.execute(
                "SELECT a.guid, t.topic FROM article_topics t JOIN articles a ON a.id = t.article_id"
            )
        ),
        "fts": conn.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'story'"
        ).fetchone()[0],
        "failures": conn.execute("SELECT count(*) FROM failures").fetchone()[0],
    }


def setup(root: Path, rng_seed: int, n: int) -> Path:
    root.mkdir()
    cfg = write_config(root)
    data = yaml.safe_load(cfg.read_text())
    data["drops"]["interval"] = "1s"
    # small transactions, so a kill can land between two of them within one start's files
    data["drops"]["batch"] = 25
    cfg.write_text(yaml.safe_dump(data))
    make_drops(root / "drops", n, random.Random(rng_seed))
    return cfg


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    n = 1000
    clean_cfg = setup(tmp_path / "clean", 7, n)
    res = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(clean_cfg), "ingest"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    expected = snapshot(tmp_path / "clean" / "wiredesk.db")
    assert len(expected["articles"]) == n  # type: ignore[arg-type]

    crash_cfg = setup(tmp_path / "crash", 7, n)
    drops = tmp_path / "crash" / "drops"
    # feed the files in 20 chunks, oldest first, so every start has fresh work to be killed in
    staging = tmp_path / "crash" / "staging"
    drops.rename(staging)
    drops.mkdir()
    files = sorted(staging.iterdir(), key=lambda p: (p.stat().st_mtime, p.name))
    chunk = -(-len(files) // 20)
    rng = random.Random(1234)
    kills = 0
    progressed = []
    while kills < 20:
        for path in files[kills * chunk : (kills + 1) * chunk]:
            os.replace(path, drops / path.name)
        (drops / "done").mkdir(exist_ok=True)
        before = len(os.listdir(drops / "done"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "wiredesk", "--config", str(crash_cfg), "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # wait until this run is taking files in, then kill it a random moment later:
        # mid-transaction, between commit and move, or between two files
        deadline = time.monotonic() + 30
        while len(os.listdir(drops / "done")) == before and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        progressed.append(len(list((drops / "done").glob("*"))) - before)
    # every kill must have landed while files were being taken in, or this proves little
    assert all(p > 0 for p in progressed), progressed
    assert sum(1 for p in progressed if p < chunk) >= 15, progressed
    finish = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(crash_cfg), "ingest"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finish.returncode == 0, finish.stderr
    got = snapshot(tmp_path / "crash" / "wiredesk.db")
    assert got == expected
    assert sorted(p.name for p in drops.iterdir() if p.is_file()) == []
    assert len(list((drops / "done").iterdir())) == n + n // 10
    assert list((drops / "failed").iterdir()) == []
    shutil.rmtree(tmp_path / "clean")
