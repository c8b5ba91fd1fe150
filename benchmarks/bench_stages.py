"""Per-item cost of each CPU stage on the farm's items (best of 3 rounds), no I/O.

    .venv/bin/python benchmarks/bench_stages.py

Run it from another checkout's root (with this file copied there) to compare two
versions of the code on the same items: it only calls functions both have.
"""

from __future__ import annotations

import inspect
import io
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))


def best(f: Callable[[], object], n: int, rounds: int = 3) -> float:
    t = float("inf")
    for _ in range(rounds):
        a = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - a)
    return t / n * 1e6


def parse_rows(docs: list[bytes]) -> list[tuple[str, Callable[[], object] | None]]:
    """The parse stage, from feedparser alone to ours as shipped (rows the checkout under
    test lacks are printed as n/a)."""
    import feedparser

    from ingest import feedparse
    from ingest.feedparse import parse_feed

    def raw(d: bytes) -> object:
        return feedparser.parse(io.BytesIO(d), sanitize_html=False, resolve_relative_uris=False)

    has_fast = "fast_path" in inspect.signature(parse_feed).parameters
    fast_only = getattr(feedparse, "parse_wellformed", None)

    def lxml_entries() -> object:
        assert fast_only is not None
        out = []
        for d in docs:
            headers = {"content-type": "application/xml"}
            utf8, found = feedparse._check(d, headers)
            out.append(fast_only(utf8, found, headers))
        assert all(out), "a farm document left the fast path"
        return out

    return [
        ("feedparser.parse, defaults", lambda: [feedparser.parse(io.BytesIO(d)) for d in docs]),
        ("feedparser.parse, no sanitiser/resolver", lambda: [raw(d) for d in docs]),
        (
            "parse_feed, feedparser path (+nh3, Items)",
            (lambda: [parse_feed(d, "s", fast_path=False) for d in docs]) if has_fast else None,
        ),
        ("parse_feed as shipped", lambda: [parse_feed(d, "s") for d in docs]),
        ("  of which lxml fast path to entries", lxml_entries if fast_only else None),
    ]


def main() -> None:
    from benchmarks.suite import farm_docs
    from ingest.dedup import compare
    from ingest.feedparse import parse_feed
    from ingest.minhash import features
    from ingest.normalize import fingerprint
    from ingest.topics import Matcher
    from tests.conftest import write_config
    from wiredesk.config import load_config

    docs = farm_docs(60, 50)[:20]
    items = [i for d in docs for i in parse_feed(d, "s").items]
    n = len(items)
    matcher = Matcher(load_config(write_config(Path(tempfile.mkdtemp()))).topic_rules())

    def classify() -> None:
        for i in items:
            lead, _, rest = (i.body or "").partition("\n\n")
            matcher.classify(i.title or "", lead, rest, language=i.language, source=i.source)

    feats = [features(i.title, i.body) for i in items]
    rng = random.Random(1)
    pairs = [(rng.choice(feats), rng.choice(feats)) for _ in range(n)]
    rows = [
        *parse_rows(docs),
        ("features (MinHash, words, names)", lambda: [features(i.title, i.body) for i in items]),
        ("fingerprint", lambda: [fingerprint(i.title, i.body) for i in items]),
        ("topic classification", classify),
        ("near-dup verification, one pair", lambda: [compare(a, b) for a, b in pairs]),
    ]
    print(f"{n} farm items, us per item (best of 3), code in {Path.cwd()}")
    print(f"  {'stage':<44} {'us/item':>8} {'x feedparser defaults':>22}")
    baseline = None
    for label, f in rows:
        if f is None:
            print(f"  {label:<44} {'n/a':>8}")
            continue
        us = best(f, n)
        baseline = baseline or us
        print(f"  {label:<44} {us:8.0f} {us / baseline:22.2f}")


if __name__ == "__main__":
    main()
