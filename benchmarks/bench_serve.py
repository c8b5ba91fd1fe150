"""Serving throughput: requests/s and p99 latency of a cached topic feed (200 and 304
answers) with 200 concurrent keep-alive clients on loopback, each figure printed with its
ratio to a trivial static-bytes Starlette endpoint on the same server, same run.

    .venv/bin/python benchmarks/bench_serve.py [--seconds 10] [--connections 200]
        [--http auto|h11|httptools] [--loop auto|asyncio|uvloop]

The server runs in its own process (uvicorn, one worker, as `wiredesk serve` runs it);
the load comes from wrk when installed (Debian package `wrk`), else from an aiohttp
load generator in another process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def seed_store(tmp: Path) -> Path:
    """A store with a full defense feed (50 entries) and the config to serve it."""
    from tests.conftest import write_config
    from tests.seeding import seed
    from wiredesk.config import load_config
    from wiredesk.desk import Desk

    cfg = write_config(tmp)
    desk = Desk(load_config(cfg))
    seed(desk)
    from ingest.item import Item

    desk.pipeline.ingest(
        [
            Item(
                source="tass",
                item_key=f"bench-{i}",
                title=f"Military drills of the armed forces, part {'abcdefghij'[i % 10]}{i}",
                body=f"Troops and missiles took part; exercise {' '.join(['x' * (i % 7 + 1)] * 40)}."
                f" {'Word' * (i + 1)}",
            )
            for i in range(60)
        ]
    )
    desk.close()
    return cfg


def serve(cfg_path: str, port: int, http: str, loop: str) -> None:
    """The server process: wiredesk's app plus a baseline route returning fixed bytes."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from feeds.app import create_app
    from wiredesk.config import load_config
    from wiredesk.desk import Desk

    desk = Desk(load_config(Path(cfg_path)))
    app = create_app(desk.publisher)
    body = desk.publisher.feed(["defense"], "atom").body

    async def baseline(request: Request) -> Response:
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    async def baseline_304(request: Request) -> Response:
        return Response(status_code=304, headers={"ETag": '"x"'})

    app.router.routes.insert(0, Route("/__baseline", baseline))
    app.router.routes.insert(0, Route("/__baseline304", baseline_304))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        http=http,  # type: ignore[arg-type]
        loop=loop,  # type: ignore[arg-type]
        backlog=2048,
    )


@dataclass
class Result:
    rps: float
    p99_ms: float
    errors: int


def run_wrk(url: str, headers: dict[str, str], seconds: int, conns: int) -> Result:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m, out
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(errs.group(1)) if errs else 0
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return Result(rps, p99, errors)


def run_aiohttp(url: str, headers: dict[str, str], seconds: int, conns: int) -> Result:
    """The fallback load generator: `conns` keep-alive clients in one event loop."""
    import aiohttp

    async def go() -> Result:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds
        connector = aiohttp.TCPConnector(limit=conns)
        async with aiohttp.ClientSession(connector=connector) as s:

            async def client() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    t = time.perf_counter()
                    async with s.get(url, headers=headers) as r:
                        await r.read()
                        if r.status >= 400:
                            errors += 1
                    latencies.append(time.perf_counter() - t)

            start = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(conns)))
            elapsed = time.perf_counter() - start
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
        return Result(len(latencies) / elapsed, p99, errors)

    return asyncio.run(go())


def wait_up(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("server did not start")


CASES = [
    ("baseline static 200", "/__baseline", False),
    ("feed 200", "/topics/defense.atom", False),
    ("baseline static 304", "/__baseline304", False),
    ("feed 304 (If-None-Match)", "/topics/defense.atom", True),
]


@dataclass
class Measured:
    tool: str
    size: int  # bytes of the cached feed
    results: dict[str, Result]


def measure(
    seconds: int,
    conns: int,
    http: str = "auto",
    loop: str = "auto",
    while_up: Callable[[], None] | None = None,
) -> Measured:
    """Seed a store, start the server process, load each case (after a warm-up); call
    `while_up` before the server ends (to read its memory)."""
    from tests.conftest import free_port

    with tempfile.TemporaryDirectory() as tmp:
        cfg = seed_store(Path(tmp))
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(cfg),
                str(port),
                "--http",
                http,
                "--loop",
                loop,
            ],
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            wait_up(port)
            base = f"http://127.0.0.1:{port}"
            import urllib.request

            with urllib.request.urlopen(f"{base}/topics/defense.atom") as r:  # loopback only
                etag = r.headers["ETag"]
                size = len(r.read())
            load = run_wrk if shutil.which("wrk") else run_aiohttp
            results = {}
            for name, path, conditional in CASES:
                headers = {"If-None-Match": etag} if conditional else {}
                load(base + path, headers, 2, conns)  # warm up
                results[name] = load(base + path, headers, seconds, conns)
            if while_up is not None:
                while_up()
        finally:
            server.terminate()
            server.wait(10)
    return Measured("wrk" if load is run_wrk else "aiohttp", size, results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    ap.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    ap.add_argument("--serve", nargs=2, metavar=("CONFIG", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.http, args.loop)
        return
    m = measure(args.seconds, args.connections, args.http, args.loop)
    print(
        f"bench_serve: cached topic feed of {m.size} bytes, {args.connections} keep-alive"
        f" clients, {args.seconds}s each, load by {m.tool}, cores={os.cpu_count()},"
        f" http={args.http} loop={args.loop}"
    )
    for name, r in m.results.items():
        kind = "200" if "200" in name else "304"
        ref = m.results[f"baseline static {kind}"]
        print(
            f"  {name:<28} {r.rps:>9.0f} req/s ({r.rps / ref.rps:4.2f}x baseline)"
            f"  p99 {r.p99_ms:7.1f} ms ({r.p99_ms / max(ref.p99_ms, 1e-6):4.2f}x)"
            f"  errors {r.errors}"
        )
    target = m.results["feed 304 (If-None-Match)"].rps
    print(f"  target >= 2000 req/s for 304s: {'met' if target >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
