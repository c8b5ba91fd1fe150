"""Benchmark: poll N local feeds over loopback (first poll, then an all-304 re-poll).

Prints each figure beside a baseline measured in the same run: feedparser alone
(default options, one process) parsing exactly the bytes the first poll fetched.

    .venv/bin/python benchmarks/bench_fetch.py                 # 200 feeds x 50 items
    .venv/bin/python benchmarks/bench_fetch.py --repoll-feeds 1000
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.farmserver import FarmServer
from benchmarks.suite import _hwm_mb
from tests.conftest import write_config
from tests.origin import rss
from wiredesk.config import load_config
from wiredesk.desk import Desk


def make_feeds(n: int, items: int, body_bytes: int, language: bool) -> list[bytes]:
    docs = []
    for i in range(n):
        doc = rss(n=items, prefix=f"feed{i}", body_bytes=body_bytes)
        if language:  # news feeds declare their language; without it each item is detected
            doc = doc.replace(
                b"<description>test</description>",
                b"<description>test</description><language>en</language>",
                1,
            )
        docs.append(doc)
    return docs


def pool_pids(desk: Desk) -> list[int]:
    pool = desk.poller._pool
    return pool.pids() if pool is not None else []


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process (forkserver workers are not our children: no rusage)."""
    return _hwm_mb(pid)


def feedparser_alone(docs: list[bytes]) -> tuple[float, int]:
    t = time.perf_counter()
    entries = sum(len(feedparser.parse(io.BytesIO(d)).entries) for d in docs)
    return time.perf_counter() - t, entries


def run(
    n: int, items: int, body_bytes: int, language: bool, workers: int, topics: bool = True
) -> None:
    docs = make_feeds(n, items, body_bytes, language)
    total_bytes = sum(map(len, docs))
    base_s, base_entries = feedparser_alone(docs)
    origin = FarmServer(docs)  # in its own process, as a remote origin is
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(
            Path(tmp),
            sources=[{"name": f"f{i}", "url": origin.url(f"/f{i}.xml")} for i in range(n)],
            fetch={"concurrency": 64, "per_host": 64, "parse_workers": workers},
            **({} if topics else {"topics": {}}),
        )
        desk = Desk(load_config(cfg))
        try:
            t = time.perf_counter()
            first = desk.poll_sources(due_only=False)
            first_s = time.perf_counter() - t
            new = sum(s.counts["new"] for s in first.values())
            errors = [s.error for s in first.values() if s.error]
            origin.clear()
            t = time.perf_counter()
            desk.poll_sources(due_only=False)
            repoll_s = time.perf_counter() - t
            all_304 = origin.statuses() == [304] * n
            worker_peaks = [peak_rss_mb(pid) for pid in pool_pids(desk)]
        finally:
            desk.close()
            origin.__exit__()
    peak_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = max(worker_peaks, default=0.0)
    print(
        f"feeds={n} items/feed={items} item_html~{body_bytes}B bytes={total_bytes / 1e6:.1f}MB "
        f"language_declared={language} parse_workers={workers} topics={'shipped config' if topics else 'none'}"
    )
    print(
        f"baseline  feedparser alone, 1 process: {base_s:6.2f} s  {base_entries / base_s:8.0f} items/s"
    )
    print(
        f"first poll (fetch+parse+store):        {first_s:6.2f} s  {new / first_s:8.0f} items/s"
        f"  new={new} errors={len(errors)}  ratio to baseline time {first_s / base_s:.2f}"
        f" ({'OK' if first_s <= base_s else 'SLOWER'} vs <= 1.00)"
    )
    print(
        f"re-poll, all 304={all_304}:               {repoll_s:6.2f} s  {n / repoll_s:8.0f} feeds/s"
        f"  ratio to baseline time {repoll_s / base_s:.3f}"
    )
    print(f"peak RSS: main {peak_main:.0f} MB, largest parse worker {peak_child:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--body-bytes", type=int, default=2000, help="HTML per item")
    ap.add_argument("--no-language", action="store_true", help="feeds without <language>")
    ap.add_argument("--workers", type=int, default=-1, help="parse processes (-1: one per CPU)")
    ap.add_argument("--no-topics", action="store_true", help="no topic rules (isolates their cost)")
    ap.add_argument(
        "--repoll-feeds",
        type=int,
        default=0,
        help="also time an all-304 re-poll of this many small feeds",
    )
    args = ap.parse_args()
    run(
        args.feeds,
        args.items,
        args.body_bytes,
        not args.no_language,
        args.workers,
        not args.no_topics,
    )
    if args.repoll_feeds:
        print()
        run(args.repoll_feeds, 5, 200, True, args.workers)


if __name__ == "__main__":
    main()
