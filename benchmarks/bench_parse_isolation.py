"""Benchmark: what parsing every document in the isolated pool costs against parsing inline.

The daemon parses every fetched document in `ingest.parsepool` (CPU and memory caps), also
small documents in small passes. This measures, in one run, the same documents parsed
(a) inline in a thread, as `parse_workers: 0` does (the baseline), and (b) through a
one-worker pool, and the one-off cost of starting the pool.

    .venv/bin/python benchmarks/bench_parse_isolation.py [--docs 200] [--items 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.feedparse import parse_feed
from ingest.parsepool import Limits, ParsePool
from tests.origin import rss


async def inline(docs: list[bytes]) -> float:
    t = time.perf_counter()
    for i, doc in enumerate(docs):
        await asyncio.to_thread(parse_feed, doc, f"s{i}")
    return time.perf_counter() - t


async def pooled(pool: ParsePool, docs: list[bytes]) -> float:
    t = time.perf_counter()
    for i, doc in enumerate(docs):
        await pool.run(parse_feed, doc, f"s{i}")
    return time.perf_counter() - t


async def main(n: int, items: int, body: int) -> None:
    docs = [rss(n=items, prefix=f"feed{i}", body_bytes=body) for i in range(n)]
    size = sum(map(len, docs)) / n / 1024
    await inline(docs[:5])  # warm both paths (imports, language model)
    t = time.perf_counter()
    pool = ParsePool(1, Limits(), preload=("ingest.feedparse",))
    await pool.run(parse_feed, docs[0], "warm")
    start = time.perf_counter() - t
    try:
        base = await inline(docs)
        iso = await pooled(pool, docs)
    finally:
        pool.close()
    print(f"{n} documents x {items} items ({size:.0f} KB each)")
    print(f"  inline (thread, no limits)  {base * 1000 / n:7.2f} ms/doc   baseline")
    print(
        f"  isolated pool, 1 worker     {iso * 1000 / n:7.2f} ms/doc   ratio {iso / base:.2f}"
        f"   (+{(iso - base) * 1000 / n:.2f} ms/doc)"
    )
    print(f"  pool start (forkserver + preload, once per process)  {start:.2f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--body-bytes", type=int, default=2000)
    a = ap.parse_args()
    asyncio.run(main(a.docs, a.items, a.body_bytes))
    # small documents in small passes are where the pool costs most, relative
    asyncio.run(main(a.docs, 2, 300))
