"""The performance suite: every figure of issue 8 with its baseline ratio and peak memory.

    .venv/bin/python -m benchmarks            # the full suite (~15 min on 2 cores)
    .venv/bin/python -m benchmarks --quick    # smaller sizes (~4 min)
    .venv/bin/python -m benchmarks --only first_poll,feedparser

Each figure runs in a process of its own (`benchmarks.suite`), so its peak memory is its
own. The farm and the generated stores are cached in benchmarks/.cache (git-ignored);
the first full run generates the 1M-article store (several minutes, ~10 GB).
`--parse-workers N` runs (1) with N parse processes instead of the default (CPUs - 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ORDER = ["feedparser", "reader", "first_poll", "repoll", "drops", "steady", "serve"]


def run_figure(name: str, quick: bool, workers: int | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.suite", name]
    cmd += ["--quick"] if quick else []
    cmd += ["--parse-workers", str(workers)] if workers is not None else []
    t = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-3000:])
        return {"figure": name, "failed": f"exit {proc.returncode}"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall"] = round(time.perf_counter() - t, 1)
    print(
        f"  {name}: done in {result['wall']}s",
        file=sys.stderr,
        flush=True,
    )
    return result


def _mem(r: dict[str, Any]) -> str:
    """Peak MB (helpers' sum), CPU seconds (main + helpers), load average during the run."""
    if "peak_mb" not in r:
        return "- | - | -"
    helpers = f" (+{r['peak_helpers_mb']:.0f})" if r.get("peak_helpers_mb") else ""
    cpu = f"{r['cpu_main_s']:.1f}"
    if r.get("cpu_helpers_s"):
        cpu += f" + {r['cpu_helpers_s']:.1f}"
    return f"{r['peak_mb']:.0f}{helpers} | {cpu} | {r['load']:.1f}"


def _startup(r: dict[str, Any]) -> str:
    s = r.get("worker_startup_seconds")
    return f" (+{s:.2f} s worker start-up, untimed)" if s else ""


def table(res: dict[str, dict[str, Any]], quick: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    fp, rd = res.get("feedparser", {}), res.get("reader", {})
    r = res.get("first_poll")
    if r and "failed" not in r:
        label = f"{r.get('parse_workers', '?')} parse workers"
        vs_fp = r["seconds"] / fp["seconds"] if fp.get("seconds") else float("nan")
        vs_rd = r["seconds"] / rd["seconds"] if rd.get("seconds") else float("nan")
        rows.append(
            (
                f"1. first poll {r['items']} items, end to end ({label})",
                f"{r['seconds']:.2f} s, {r['rate']:.0f} items/s{_startup(r)}",
                f"{vs_fp:.2f} vs feedparser; {vs_rd:.2f} vs reader",
                "<= 1.0; <= 0.5",
                _mem(r),
            )
        )
    if fp.get("seconds"):
        rows.append(
            (
                "2a. feedparser alone, same bytes, 1 process",
                f"{fp['seconds']:.2f} s, {fp['rate']:.0f} items/s",
                "baseline",
                "",
                _mem(fp),
            )
        )
    if rd.get("seconds"):
        rows.append(
            (
                "2b. peer lemon24/reader, update_feeds(workers=8)",
                f"{rd['seconds']:.2f} s, {rd['rate']:.0f} items/s",
                f"{rd['seconds'] / fp['seconds']:.2f} vs feedparser" if fp.get("seconds") else "",
                "",
                _mem(rd),
            )
        )
    r = res.get("repoll")
    if r and "failed" not in r:
        ok = r["statuses"] == {"304": r["feeds"]}
        rows.append(
            (
                f"3. re-poll {r['feeds']} unchanged feeds ({'all 304' if ok else r['statuses']})",
                f"{r['seconds']:.2f} s, {r['rate']:.0f} feeds/s",
                f"{r['seconds'] / fp['seconds']:.2f} of the feedparser time"
                if fp.get("seconds")
                else "",
                "< 5 s" if not quick else "",
                _mem(r),
            )
        )
    r = res.get("drops")
    if r and "failed" not in r:
        rows.append(
            (
                f"4. drop folder, {r['files']} wire files",
                f"{r['seconds']:.2f} s, {r['rate']:.0f} files/s{_startup(r)}",
                f"taken {r['taken']}, failed {r['files_failed']}",
                ">= 1000 files/s",
                _mem(r),
            )
        )
    r = res.get("steady")
    if r and "failed" not in r:
        rows.append(
            (
                f"5. ingest cost per new article, store of {r['big']:,} (writer process)",
                f"{r['us_big']:.0f} us/article (median of {r.get('rounds', 1)}); file"
                f" {r['file_mb'] / 1000:.1f} GB",
                f"{r['ratio']:.2f} vs {r['us_small']:.0f} us at 10,000",
                "<= 1.5",
                _mem(r),
            )
        )
    r = res.get("serve")
    if r and "failed" not in r:
        x = r["results"]
        for kind in ("200", "304"):
            f, b = x[f"feed_{kind}"], x[f"baseline_{kind}"]
            rows.append(
                (
                    f"6. cached topic feed, {kind}, {r['connections']} clients ({r['tool']})",
                    f"{f['rps']:,} req/s, p99 {f['p99_ms']:.1f} ms",
                    f"{f['rps'] / b['rps']:.2f}x static bytes ({b['rps']:,} req/s)",
                    "",
                    _mem(r),
                )
            )
    return rows


def render(rows: list[tuple[str, ...]]) -> str:
    head = (
        "figure",
        "measured",
        "ratio to baseline",
        "target",
        "peak MB (+helpers)",
        "CPU s (main+helpers)",
        "load avg",
    )
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--only", help="comma-separated figures: " + ",".join(ORDER))
    ap.add_argument("--parse-workers", type=int, help="parse processes for (1)")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--render", type=Path, help="print the table of a --json file, run nothing")
    args = ap.parse_args()
    if args.render:
        saved = json.loads(args.render.read_text())
        print(render(table(saved, "--quick" in str(args.render))))
        return 0
    names = args.only.split(",") if args.only else ORDER
    print(f"wiredesk performance suite: cores={os.cpu_count()} quick={args.quick}", file=sys.stderr)
    res: dict[str, dict[str, Any]] = {}
    for name in names:
        res[name] = run_figure(
            name, args.quick, args.parse_workers if name == "first_poll" else None
        )
    for name, r in res.items():
        if "failed" in r:
            print(f"FAILED: {name}: {r['failed']}", file=sys.stderr)
    print(render(table(res, args.quick)))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 1 if any("failed" in r for r in res.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
