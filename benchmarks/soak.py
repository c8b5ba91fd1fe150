"""Soak: the daemon polls 500 local feeds that change every minute while readers hit its feeds.

Not part of the test suite (30 minutes by default). Reports, every sample interval, the
memory of the daemon and its parse workers, what was taken in, fetch errors and reader
requests; at the end checks that every item ever published was ingested exactly once
(one article, one `new` sighting), that no source and no reader saw an error, and that
memory stayed flat (the last third of the run against the first sample after warm-up).
Exit status 0 only when all of that holds.

    .venv/bin/python benchmarks/soak.py                  # 30 minutes, 500 feeds
    .venv/bin/python benchmarks/soak.py --minutes 3      # a short proof run

Everything runs on loopback: the origin (aiohttp.web, in this process) and the daemon
(`wiredesk run`, a subprocess); every loop here stops by itself at the deadline.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import write_config
from tests.origin import Origin, Route, rss
from tests.test_shutdown import descendants

WINDOW = 20  # items in each feed document (older ones fall off, as in real feeds)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Feeds:
    """N feeds; feed i publishes a new item once a minute, at its own offset in the minute."""

    def __init__(self, origin: Origin, n: int, period: float) -> None:
        self.origin = origin
        self.n = n
        self.period = period
        self.count = [WINDOW] * n  # items published so far per feed
        self.lock = threading.Lock()
        for i in range(n):
            self._publish(i)

    def _publish(self, i: int) -> None:
        k = self.count[i]
        items = [
            (f"f{i}-{j}", f"feed {i} story {j}", f"http://soak.example/f{i}/{j}")
            for j in range(max(0, k - WINDOW), k)
        ]
        # 40 words of its own per item: distinct stories, as the exactly-once check assumes
        self.origin.routes[f"/f{i}.xml"] = Route(rss(items, prefix=f"f{i}", words=40))

    def run(self, stop_at: float, stop: threading.Event) -> None:
        start = time.monotonic()
        tick = 0
        while not stop.is_set() and time.monotonic() < stop_at:
            # feed i changes at start + (minute + i/n) * period
            due = start + (tick // self.n) * self.period + (tick % self.n) / self.n * self.period
            if due > stop_at:
                break
            wait = due - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            i = tick % self.n
            with self.lock:
                self.count[i] += 1
                self._publish(i)
            tick += 1

    def published(self) -> set[tuple[str, str]]:
        return {(f"f{i}", f"f{i}-{j}") for i in range(self.n) for j in range(self.count[i])}


@dataclass
class Readers:
    base: str
    paths: list[str]
    requests: int = 0
    not_modified: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    by_path: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, stop: threading.Event, seed: int) -> None:
        rng = random.Random(seed)
        etags: dict[str, str] = {}
        while not stop.is_set():
            path = rng.choice(self.paths)
            headers = {"Accept-Encoding": "gzip"}
            if path in etags and rng.random() < 0.7:
                headers["If-None-Match"] = etags[path]
            req = urllib.request.Request(self.base + path, headers=headers)
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    resp.read()
                    etags[path] = resp.headers.get("ETag", "")
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError as exc:
                status = 0
                with self.lock:
                    self.errors.append(f"{path}: {exc}")
            with self.lock:
                self.requests += 1
                self.latencies.append(time.perf_counter() - t)
                self.by_path.setdefault(path, []).append(self.latencies[-1])
                if status == 304:
                    self.not_modified += 1
                elif status != 200 and status != 0:
                    self.errors.append(f"{path}: HTTP {status}")
            stop.wait(0.02)


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--period", type=float, default=60.0, help="seconds between changes")
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--sample", type=float, default=15.0, help="seconds between reports")
    ap.add_argument("--max-growth-mb", type=float, default=40.0)
    ap.add_argument(
        "--index-entries",
        type=int,
        default=10_000,
        help="dedup.max_entries: the near-duplicate index is bounded by it; the first pass"
        " fills it, so later growth is a leak, not the index filling its window",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wiredesk-soak-"))
    shipped = yaml.safe_load((Path(__file__).parent.parent / "config.yaml").read_text())
    stop = threading.Event()
    with Origin() as origin:
        feeds = Feeds(origin, args.feeds, args.period)
        cfg = write_config(
            tmp,
            log_level="warning",
            log_format="json",
            drops={"path": str(tmp / "drops"), "interval": "10s"},  # the shipped default
            sources=[
                {"name": f"f{i}", "url": origin.url(f"/f{i}.xml"), "interval": "1m"}
                for i in range(args.feeds)
            ],
            # every feed is on 127.0.0.1: the per-host limit is for real hosts
            fetch={"tick": "5s", "per_host": 32, "concurrency": 32},
            dedup={**shipped["dedup"], "max_entries": args.index_entries},
        )
        port = int(yaml.safe_load(cfg.read_text())["server"]["port"])
        db = tmp / "wiredesk.db"
        log_path = tmp / "daemon.log"
        log_file = log_path.open("w")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "wiredesk", "--config", str(cfg), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        print(
            f"soak: {args.feeds} feeds changing every {args.period:g}s for {args.minutes:g} min,"
            f" {args.readers} readers; daemon pid {daemon.pid}; folder {tmp}",
            flush=True,
        )
        t0 = time.monotonic()
        first = args.feeds * WINDOW
        while time.monotonic() - t0 < 300 and daemon.poll() is None:
            try:
                if int(query(db, "SELECT count(*) FROM sightings")[0][0]) >= first:  # type: ignore[arg-type]
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
                    break
            except (sqlite3.Error, OSError):
                pass
            time.sleep(0.5)
        print(f"first pass: {first} items in {time.monotonic() - t0:.1f}s", flush=True)
        start = time.monotonic()
        changes_end = start + args.minutes * 60
        changer = threading.Thread(target=feeds.run, args=(changes_end, stop), daemon=True)
        changer.start()
        readers = Readers(
            f"http://127.0.0.1:{port}",
            ["/all.atom", "/all.json", "/all.rss", "/topics/defense.atom", "/", "/feeds.opml"],
        )
        reader_threads = [
            threading.Thread(target=readers.run, args=(stop, n), daemon=True)
            for n in range(args.readers)
        ]
        for t in reader_threads:
            t.start()
        samples: list[tuple[float, float, float, int, int]] = []
        print(" t(s)  daemon MB  workers MB  sightings  src errors  reader req  reader err")
        # after the last change: one more interval + tick so the daemon takes it in
        settle_end = changes_end + 60 + 15
        try:
            while time.monotonic() < settle_end and daemon.poll() is None:
                time.sleep(min(args.sample, max(0.1, settle_end - time.monotonic())))
                t = time.monotonic() - start
                workers = sum(rss_mb(p) for p in descendants(daemon.pid))
                main_mb = rss_mb(daemon.pid)
                try:
                    sightings = int(query(db, "SELECT count(*) FROM sightings")[0][0])  # type: ignore[arg-type]
                    src_errors = int(
                        query(db, "SELECT count(*) FROM sources WHERE last_error IS NOT NULL")[0][0]  # type: ignore[arg-type]
                    )
                except sqlite3.Error:
                    sightings, src_errors = 0, 0
                samples.append((t, main_mb, workers, sightings, src_errors))
                print(
                    f"{t:5.0f}  {main_mb:9.1f}  {workers:10.1f}  {sightings:9d}  {src_errors:10d}"
                    f"  {readers.requests:10d}  {len(readers.errors):10d}",
                    flush=True,
                )
        finally:
            stop.set()
            for t in reader_threads:
                t.join(15)
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                code = -9
            log_file.close()

    # -- verdict ------------------------------------------------------------------
    problems: list[str] = []
    published = feeds.published()
    sightings = query(db, "SELECT source, item_key, match FROM sightings")
    seen = [(s, k) for s, k, _ in sightings]
    missing = published - set(seen)
    dupes = len(seen) - len(set(seen))
    not_new = [r for r in sightings if r[2] != "new"]
    articles = int(query(db, "SELECT count(*) FROM articles")[0][0])  # type: ignore[arg-type]
    failures = query(db, "SELECT source, item_key, reason FROM failures")
    src_errors = query(db, "SELECT name, last_error FROM sources WHERE last_error IS NOT NULL")
    log_lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    # a scheduler tick that comes while the previous pass still runs is skipped on purpose
    # (max_instances=1, coalesce): counted and shown, not an error
    skipped = [x for x in log_lines if "maximum number of running instances" in x.get("msg", "")]
    bad_logs = [
        x
        for x in log_lines
        if x.get("level") in ("warning", "error", "critical") and x not in skipped
    ]
    print()
    print(f"published items        {len(published)}")
    print(f"sightings / articles   {len(seen)} / {articles}")
    print(f"missing / duplicated   {len(missing)} / {dupes}   (not 'new': {len(not_new)})")
    print(f"recorded failures      {len(failures)}; sources with an error: {len(src_errors)}")
    print(
        f"daemon warnings/errors {len(bad_logs)}; scheduler ticks skipped while a pass ran"
        f" {len(skipped)}; exit status {code}"
    )
    if readers.latencies:
        lat = sorted(readers.latencies)
        p99 = lat[int(len(lat) * 0.99) - 1] * 1000
        print(
            f"readers                {readers.requests} requests ({readers.not_modified} 304),"
            f" {len(readers.errors)} errors, median {statistics.median(lat) * 1000:.1f} ms,"
            f" p99 {p99:.1f} ms"
        )
        for path, lats in sorted(readers.by_path.items()):
            print(
                f"  {path:22s} {len(lats):6d} requests, median {statistics.median(lats) * 1000:.1f} ms"
            )
    warm = [s for s in samples if s[0] >= min(120.0, args.minutes * 60 / 3)]
    if len(warm) >= 2:
        first = warm[0][1] + warm[0][2]
        tail = warm[len(warm) * 2 // 3 :]
        last = max(s[1] + s[2] for s in tail)
        growth = last - first
        minutes = (tail[-1][0] - warm[0][0]) / 60
        print(
            f"memory (daemon+workers) {first:.1f} MB after warm-up -> {last:.1f} MB at the end"
            f" ({growth:+.1f} MB over {minutes:.1f} min)"
        )
        if growth > args.max_growth_mb:
            problems.append(f"memory grew {growth:.1f} MB (> {args.max_growth_mb:g})")
    else:
        problems.append("too few samples after warm-up to judge memory")
    if missing:
        problems.append(f"{len(missing)} items never ingested, e.g. {sorted(missing)[:3]}")
    if dupes or not_new or articles != len(published):
        problems.append(
            f"not exactly once: {dupes} duplicate sightings, {len(not_new)} not new,"
            f" {articles} articles for {len(published)} items"
        )
    if failures or src_errors:
        problems.append(f"errors: {failures[:3]} {src_errors[:3]}")
    if bad_logs:
        problems.append(f"daemon logged {len(bad_logs)} warnings/errors, e.g. {bad_logs[:2]}")
    if readers.errors:
        problems.append(f"readers: {readers.errors[:3]}")
    if code != 0:
        problems.append(f"daemon exit status {code}")
    print("RESULT:", "ok" if not problems else "FAILED")
    for p in problems:
        print("  -", p)
    if not args.keep and not problems:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
