"""The figures of the performance suite, one per subprocess, each printed as one JSON line.

    python -m benchmarks.suite FIGURE [--quick] [--parse-workers N]

`python -m benchmarks` (benchmarks/__main__.py) runs them all and prints the table. Every
figure reports its peak memory: the largest VmHWM of its process and of every process it
started (parse workers, the server), read just before they end.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CACHE = Path(os.environ.get("WIREDESK_BENCH_CACHE", REPO / "benchmarks" / ".cache"))


# -- memory -------------------------------------------------------------------------------


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_s(pid: int) -> float:
    """utime + stime of a live process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# processes of the set-up, not of the measured program (the farm's server)
_NOT_MEASURED: set[int] = set()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for c in children.get(pid, []):
            if c in _NOT_MEASURED:
                continue
            out.append(c)
            todo.append(c)
    return out


class Peak:
    """Peak resident memory of this process and of the processes it started, the CPU time
    they used since `start()`, and the machine's load average (the cores are shared:
    on a busy machine wall times stretch, CPU seconds much less)."""

    def __init__(self) -> None:
        self.children: dict[int, float] = {}
        self.child_cpu: dict[int, float] = {}
        self.start()

    def start(self) -> None:
        """Begin the timed part: CPU used before it (setup, generation) is not counted."""
        self._cpu0 = sum(os.times()[:2])
        self._child0 = {pid: _cpu_s(pid) for pid in _descendants(os.getpid())}
        self._load0 = os.getloadavg()[0]

    def sample(self) -> None:
        """Call at the end of the timed part, while the helpers are still alive."""
        self._cpu1 = sum(os.times()[:2])
        for pid in _descendants(os.getpid()):
            self.children[pid] = max(self.children.get(pid, 0.0), _hwm_mb(pid))
            self.child_cpu[pid] = _cpu_s(pid) - self._child0.get(pid, 0.0)

    def report(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        largest = max(self.children.values(), default=0.0)
        cpu1 = getattr(self, "_cpu1", sum(os.times()[:2]))
        return {
            "peak_mb": round(max(own, largest), 1),
            "peak_main_mb": round(own, 1),
            "peak_helpers_mb": round(sum(self.children.values()), 1),
            "cpu_main_s": round(cpu1 - self._cpu0, 2),
            "cpu_helpers_s": round(sum(self.child_cpu.values()), 2),
            "load": round((self._load0 + os.getloadavg()[0]) / 2, 1),
        }


# -- the farm, cached ----------------------------------------------------------------------


def _cached(name: str, make: Callable[[], Any]) -> Any:
    import pickle

    path = CACHE / f"{name}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = make()
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(value))
    tmp.replace(path)
    return value


def farm_docs(feeds: int, items: int) -> list[bytes]:
    from benchmarks.farm import documents

    docs: list[bytes] = _cached(f"farm-{feeds}x{items}", lambda: documents(feeds, items))
    return docs


def _served(docs: list[bytes]) -> Any:
    from benchmarks.farmserver import FarmServer

    farm = FarmServer(docs)
    _NOT_MEASURED.add(farm.pid)
    return farm


def _desk(tmp: Path, sources: list[dict[str, str]], **fetch_overrides: Any) -> Any:
    from tests.conftest import write_config
    from wiredesk.config import load_config
    from wiredesk.desk import Desk

    # the farm is one host; the wild is many
    fetch = {"concurrency": 64, "per_host": 64, **fetch_overrides}
    cfg = write_config(tmp, sources=sources, fetch=fetch)
    return Desk(load_config(cfg))


def _start_workers(desk: Any) -> float:
    """Start the desk's worker processes before the timed part, as a running daemon has
    them: their start-up (forkserver, imports) is reported apart, as the baselines'
    imports are not timed either."""
    t = time.perf_counter()
    desk.start_workers()
    gc.freeze()  # as run_daemon does once start-up is done
    return round(time.perf_counter() - t, 3)


def _publish(desk: Any) -> int:
    """Render every published feed in every format, as the first requests after a pass do."""
    n = 0
    for topic_ids in [[t] for t in desk.publisher.topics] + [None]:
        for fmt in ("atom", "rss", "json"):
            desk.publisher.feed(topic_ids, fmt)
            n += 1
    return n


# -- figures -------------------------------------------------------------------------------


def _timed(seconds: float, items: int, peak: Peak) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "items": items,
        "rate": round(items / seconds, 1),
        **peak.report(),
    }


def first_poll(args: argparse.Namespace) -> dict[str, Any]:
    from ingest.poller import _pool_size

    feeds = 60 if args.quick else 200
    docs = farm_docs(feeds, 50)
    peak = Peak()
    origin = _served(docs)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sources = [{"name": f"f{i}", "url": origin.url(f"/f{i}.xml")} for i in range(feeds)]
            workers = {} if args.parse_workers is None else {"parse_workers": args.parse_workers}
            desk = _desk(Path(tmp), sources, **workers)
            pool_size = _pool_size(desk.config.fetch.parse_workers)
            try:
                startup_s = _start_workers(desk)
                peak.start()
                t = time.perf_counter()
                summaries = desk.poll_sources(due_only=False)
                poll_s = time.perf_counter() - t
                rendered = _publish(desk)
                total_s = time.perf_counter() - t
                peak.sample()
                counts: Counter[str] = Counter()
                for s in summaries.values():
                    counts.update(s.counts)
                errors = sum(1 for s in summaries.values() if s.error)
                topics = (
                    desk.store.reader().execute("SELECT count(*) FROM article_topics").fetchone()[0]
                )
            finally:
                desk.close()
    finally:
        origin.__exit__()
    items = sum(counts[k] for k in ("new", "exact", "near", "update"))
    return {
        "seconds": round(total_s, 3),
        "poll_seconds": round(poll_s, 3),
        "items": items,
        "rate": round(items / total_s, 1),
        "counts": dict(counts),
        "parse_workers": pool_size,
        "worker_startup_seconds": startup_s,
        "errors": errors,
        "topic_rows": topics,
        "feeds_rendered": rendered,
        "bytes": sum(map(len, docs)),
        **peak.report(),
    }


def feedparser_alone(args: argparse.Namespace) -> dict[str, Any]:
    import feedparser

    feeds = 60 if args.quick else 200
    docs = farm_docs(feeds, 50)
    peak = Peak()
    t = time.perf_counter()
    entries = sum(len(feedparser.parse(io.BytesIO(d)).entries) for d in docs)
    s = time.perf_counter() - t
    peak.sample()
    return _timed(s, entries, peak)


def peer_reader(args: argparse.Namespace) -> dict[str, Any]:
    from reader import make_reader

    feeds = 60 if args.quick else 200
    docs = farm_docs(feeds, 50)
    peak = Peak()
    origin = _served(docs)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            r = make_reader(str(Path(tmp) / "reader.sqlite"))
            for i in range(feeds):
                r.add_feed(origin.url(f"/f{i}.xml"))
            peak.start()
            t = time.perf_counter()
            r.update_feeds(workers=8)
            s = time.perf_counter() - t
            peak.sample()
            entries = r.get_entry_counts().total
            r.close()
    finally:
        origin.__exit__()
    return _timed(s, entries, peak)


def repoll(args: argparse.Namespace) -> dict[str, Any]:
    feeds = 200 if args.quick else 1000
    docs = farm_docs(feeds, 5)
    peak = Peak()
    origin = _served(docs)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sources = [{"name": f"f{i}", "url": origin.url(f"/f{i}.xml")} for i in range(feeds)]
            desk = _desk(Path(tmp), sources)
            try:
                desk.poll_sources(due_only=False)
                origin.clear()
                peak.start()
                t = time.perf_counter()
                desk.poll_sources(due_only=False)
                s = time.perf_counter() - t
                peak.sample()
                statuses = Counter(origin.statuses())
            finally:
                desk.close()
    finally:
        origin.__exit__()
    return {
        "seconds": round(s, 3),
        "feeds": feeds,
        "rate": round(feeds / s, 1),
        "statuses": {str(k): v for k, v in statuses.items()},
        **peak.report(),
    }


def drops(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.farm import wire_files

    n = 2000 if args.quick else 10_000
    files: list[tuple[str, str]] = _cached(f"wire-{n}", lambda: wire_files(n))
    peak = Peak()
    with tempfile.TemporaryDirectory() as tmp:
        desk = _desk(Path(tmp), [])
        try:
            folder = desk.config.drops.path
            old = time.time() - 60
            for name, text in files:
                p = folder / name
                p.write_text(text, encoding="utf-8")
                os.utime(p, (old, old))
            startup_s = _start_workers(desk)
            peak.start()
            t = time.perf_counter()
            result = desk.pick_up_drops()
            s = time.perf_counter() - t
            peak.sample()
            stored = desk.store.reader().execute("SELECT count(*) FROM sightings").fetchone()[0]
        finally:
            desk.close()
    return {
        "seconds": round(s, 3),
        "files": n,
        "taken": result.taken,
        "files_failed": result.failed,
        "worker_startup_seconds": startup_s,
        "sightings": stored,
        "rate": round(result.taken / s, 1),
        **peak.report(),
    }


STEADY_ROUNDS = 3  # one pass of 2,000 articles varied 0.65-0.94 ms at 10k on this host


def steady(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest cost per new article into a store of 10k and of 1M (or 100k with --quick):
    the median of `STEADY_ROUNDS` passes at each size, taken in turn (10k, 1M, 10k, ...)
    so that a slow minute of the host weighs on both sizes alike."""
    from benchmarks.store1m import measure_ingest, store_at

    big = 100_000 if args.quick else 1_000_000
    rounds = 1 if args.quick else STEADY_ROUNDS
    paths = {n: store_at(n) for n in (10_000, big)}
    peak = Peak()
    out: dict[str, Any] = {str(n): {"passes": []} for n in paths}
    for _ in range(rounds):
        for n, path in paths.items():
            out[str(n)]["passes"].append(measure_ingest(path, n))
    for n, path in paths.items():
        detail = out[str(n)]
        detail["us_per_article"] = statistics.median(p["us_per_article"] for p in detail["passes"])
        detail["file_mb"] = round(path.stat().st_size / 1e6, 1)
    small, large = out["10000"], out[str(big)]
    return {
        "big": big,
        "rounds": rounds,
        "us_small": small["us_per_article"],
        "us_big": large["us_per_article"],
        "ratio": round(large["us_per_article"] / small["us_per_article"], 2),
        "file_mb": large["file_mb"],
        "detail": out,
        **peak.report(),
    }


def serve(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.bench_serve import measure

    seconds, conns = (3 if args.quick else 8), 200
    peak = Peak()
    m = measure(seconds, conns, while_up=peak.sample)
    names = {
        "baseline static 200": "baseline_200",
        "feed 200": "feed_200",
        "baseline static 304": "baseline_304",
        "feed 304 (If-None-Match)": "feed_304",
    }
    results = {
        names[k]: {"rps": round(r.rps), "p99_ms": r.p99_ms, "errors": r.errors}
        for k, r in m.results.items()
    }
    return {"tool": m.tool, "connections": conns, "results": results, **peak.report()}


FIGURES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "first_poll": first_poll,
    "feedparser": feedparser_alone,
    "reader": peer_reader,
    "repoll": repoll,
    "drops": drops,
    "steady": steady,
    "serve": serve,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("figure", choices=sorted(FIGURES))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parse-workers", type=int, help="parse processes for first_poll")
    args = ap.parse_args(argv)
    result = FIGURES[args.figure](args)
    print(json.dumps({"figure": args.figure, **result}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
