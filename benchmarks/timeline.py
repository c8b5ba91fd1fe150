"""The first poll's timeline: when each feed's parse ended and each commit group ran.

`python -m benchmarks.timeline [--runs N]` polls the 200 x 50 farm as figure (1) does
and prints, per run, the poll's wall time, when the parse worker finished its last feed,
how long the single writer was busy and the last few commit groups. It tells which of
the two processes bounds the poll (the one that finishes last), which the suite's CPU
seconds alone do not; it wraps two methods of `ingest.poller.Poller` to take the times.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import suite


def _timed(marks: list[tuple[str, float, float, int]], t0: list[float]) -> Callable[[], None]:
    """Wrap the poller's parse and commit-group steps to record (kind, start, end, items)
    relative to `t0[0]`; returns the function that takes the wrappers off again."""
    import ingest.poller as poller

    parse, group = poller.Poller._parse, poller.Poller._finish_group

    async def timed_parse(self: Any, *args: Any) -> Any:
        start = time.perf_counter()
        out = await parse(self, *args)
        marks.append(("parse", start - t0[0], time.perf_counter() - t0[0], len(out.items)))
        return out

    def timed_group(self: Any, jobs: list[Any]) -> Any:
        start = time.perf_counter()
        out = group(self, jobs)
        items = sum(poller._count(j) for j in jobs)
        marks.append(("group", start - t0[0], time.perf_counter() - t0[0], items))
        return out

    poller.Poller._parse = timed_parse  # type: ignore[method-assign]
    poller.Poller._finish_group = timed_group  # type: ignore[method-assign]

    def undo() -> None:
        poller.Poller._parse = parse  # type: ignore[method-assign]
        poller.Poller._finish_group = group  # type: ignore[method-assign]

    return undo


def run_once(docs: list[bytes]) -> dict[str, Any]:
    marks: list[tuple[str, float, float, int]] = []
    t0 = [0.0]
    undo = _timed(marks, t0)
    origin = suite._served(docs)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sources = [{"name": f"f{i}", "url": origin.url(f"/f{i}.xml")} for i in range(len(docs))]
            desk = suite._desk(Path(tmp), sources)
            try:
                suite._start_workers(desk)
                t0[0] = time.perf_counter()
                desk.poll_sources(due_only=False)
                poll = time.perf_counter() - t0[0]
            finally:
                desk.close()
    finally:
        undo()
        origin.__exit__()
    parses = [m for m in marks if m[0] == "parse"]
    groups = [m for m in marks if m[0] == "group"]
    return {
        "poll_s": round(poll, 3),
        "last_parse_end_s": round(max(m[2] for m in parses), 3),
        "writer_busy_s": round(sum(m[2] - m[1] for m in groups), 3),
        "groups": len(groups),
        "last_groups": [(round(m[1], 2), round(m[2], 2), m[3]) for m in groups[-4:]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    docs = suite.farm_docs(200, 50)
    for i in range(args.runs):
        r = run_once(docs)
        print(
            f"run {i + 1}: poll {r['poll_s']} s; last parse ended at {r['last_parse_end_s']} s;"
            f" writer busy {r['writer_busy_s']} s in {r['groups']} groups;"
            f" last groups (start, end, items) {r['last_groups']}"
        )


if __name__ == "__main__":
    main()
