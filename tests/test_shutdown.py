"""`wiredesk run` as a real process: SIGTERM mid-fetch and mid-parse exits 0 within 10 s and
commits what finished; /metrics reports the ingest side; JSON logs are one object a line."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SEED, write_config
from tests.origin import Origin, Route, rss
from tests.test_daemon import get

SHUTDOWN_BOUND = 10.0  # seconds: the requirement, not a performance figure


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as o:
        yield o


def _port(tmp: Path) -> int:
    return int(yaml.safe_load((tmp / "config.yaml").read_text())["server"]["port"])


def start(tmp: Path, sources: dict[str, str], **fetch: Any) -> tuple[subprocess.Popen[str], Path]:
    cfg = write_config(
        tmp,
        log_level="info",
        log_format="json",
        sources=[{"name": n, "url": u, "interval": "1h"} for n, u in sources.items()],
        fetch={"timeout": "30s", "tick": "1s", **fetch},
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, tmp / "wiredesk.db"


def wait_until(check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (the forkserver and its parse workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(proc: subprocess.Popen[str]) -> tuple[float, list[dict[str, Any]]]:
    """SIGTERM; the seconds until exit and the JSON log lines."""
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=SHUTDOWN_BOUND + 20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    elapsed = time.monotonic() - t
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    return elapsed, lines


def stop_in_time(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """SIGTERM, and the daemon must exit 0 within the bound; its JSON log lines."""
    try:
        elapsed, logs = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, logs[-5:]
    assert elapsed < SHUTDOWN_BOUND, f"{elapsed:.1f}s to stop"
    return logs


def test_sigterm_during_a_trickling_fetch_exits_0_within_10s_and_commits_what_finished(
    origin: Origin, tmp_path: Path
) -> None:
    origin.routes["/good"] = Route(rss(n=3, prefix="good"))
    origin.routes["/slow"] = Route(rss(n=3, prefix="slow"), trickle=0.5)  # ~10 minutes
    proc, db = start(tmp_path, {"good": origin.url("/good"), "slow": origin.url("/slow")})
    try:
        wait_until(
            lambda: (
                query(db, "SELECT count(*) FROM articles WHERE source='good'") == [(3,)]
                and origin.active > 0
            ),
            what="good stored while slow is being fetched",
        )
    finally:
        logs = stop_in_time(proc)
    events = [(line["event"], line.get("source")) for line in logs if "event" in line]
    assert ("poll_cancelled", "slow") in events
    assert events[-1] == ("daemon_stopped", None)
    # what finished is committed; the cancelled source was not touched and is still due
    rows = dict(
        (name, (fetched, err))
        for name, fetched, err in query(db, "SELECT name, last_fetch, last_error FROM sources")
    )
    assert rows["good"][0] is not None and rows["good"][1] is None
    assert rows["slow"] == (None, None)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sigterm_during_a_runaway_parse_exits_0_and_leaves_no_worker(
    origin: Origin, tmp_path: Path
) -> None:
    # feedparser needs minutes for this document (quadratic in attributes)
    attrs = b" ".join(b'a%d="1"' % i for i in range(200_000))
    origin.routes["/heavy"] = Route(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>h</title><item>'
        b"<title>t</title><x " + attrs + b"/></item></channel></rss>"
    )
    proc, db = start(tmp_path, {"heavy": origin.url("/heavy")}, parse_workers=1, parse_cpu="300s")
    try:
        wait_until(lambda: origin.hits["/heavy"] == 1, what="the heavy feed fetched")
        wait_until(lambda: len(descendants(proc.pid)) >= 2, what="a parse worker")
        time.sleep(1.0)  # well inside the parse
        children = descendants(proc.pid)
    finally:
        stop_in_time(proc)
    wait_until(lambda: not any(alive(p) for p in children), timeout=10, what="workers gone")
    assert query(db, "SELECT last_fetch FROM sources WHERE name='heavy'") == [(None,)]


def test_metrics_report_fetches_items_queues_renders_and_requests(
    origin: Origin, tmp_path: Path
) -> None:
    origin.routes["/good"] = Route(rss(n=3, prefix="good"))
    proc, db = start(tmp_path, {"good": origin.url("/good"), "missing": origin.url("/missing")})
    (tmp_path / "drops").mkdir(exist_ok=True)
    (tmp_path / "drops" / "kant.txt").write_bytes(SEED.read_bytes())
    base = f"http://127.0.0.1:{_port(tmp_path)}"
    try:
        wait_until(
            lambda: (
                len(query(db, "SELECT name FROM sources WHERE last_fetch IS NOT NULL")) == 2
                and (tmp_path / "drops" / "done" / "kant.txt").exists()
            ),
            what="both sources polled and the drop taken",
        )
        assert get(f"{base}/all.atom")[0] == 200
        assert get(f"{base}/topics/defense.rss")[0] == 200
        wait_until(lambda: b"wiredesk_fetch_seconds_count" in get(f"{base}/metrics")[2])
        status, headers, body = get(f"{base}/metrics")
    finally:
        _, logs = stop(proc)
    assert status == 200 and headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(body.decode())
        for s in fam.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("wiredesk_fetches_total", source="good", result="ok") == 1
    assert value("wiredesk_fetches_total", source="missing", result="error") == 1
    assert value("wiredesk_fetch_seconds_count") == 2
    assert value("wiredesk_items_total", source="good", outcome="new") == 3
    assert value("wiredesk_items_total", source="drops", outcome="new") == 1
    assert value("wiredesk_drop_files_total", result="taken") == 1
    assert value("wiredesk_sources_queued") == 0
    assert value("wiredesk_parse_queue") == 0
    assert value("wiredesk_drop_queue") == 0
    assert value("wiredesk_feed_renders_total", format="atom") >= 1
    assert value("wiredesk_feed_renders_total", format="rss") >= 1
    assert value("wiredesk_http_requests_total", route="feed", status="200") >= 2
    assert proc.returncode == 0
    # every log line is one JSON object with the fields of its event
    failed = [line for line in logs if line.get("event") == "fetch_failed"]
    assert failed and failed[0]["source"] == "missing"
    assert failed[0]["error"] == "HTTP 404 Not Found" and failed[0]["level"] == "warning"
    polled = {line["source"]: line for line in logs if line.get("event") == "source_polled"}
    assert polled["good"]["new"] == 3


def test_log_format_is_validated(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, log_format="xml")
    out = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert out.returncode == 2
    assert "log_format: must be one of 'kv' or 'json'" in out.stdout + out.stderr
