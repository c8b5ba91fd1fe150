"""The parse pool's limits on real worker processes: CPU in Python and in C, memory, crashes.

The jobs below stand in for a parser gone wrong; they run in forkserver workers exactly
as `parse_feed` does (module-level functions, pickled by reference).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import nh3
import pytest

from ingest.parsepool import Limits, ParseAborted, ParsePool

T = TypeVar("T")


def echo(x: T) -> T:
    return x


def pid() -> int:
    return os.getpid()


def spin_python() -> None:
    while True:
        pass


def spin_c() -> None:
    # 100,000 nested elements cost html5ever (Rust, inside nh3) ~20 s of CPU without
    # returning to Python once: no signal handler runs, only the kernel's RLIMIT_CPU stops it
    nh3.clean("<div>" * 100_000)


def allocate(n: int) -> int:
    return len(bytearray(n))


def crash() -> None:
    ctypes.string_at(0)  # SIGSEGV


def run(pool: ParsePool, fn: Callable[..., T], *args: Any) -> T:
    async def go() -> T:
        return await pool.run(fn, *args)

    return asyncio.run(go())


def gather(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
    async def go() -> list[Any]:
        return await asyncio.gather(*coros, return_exceptions=True)

    return asyncio.run(go())


@pytest.fixture
def pool() -> Any:
    p = ParsePool(1, Limits(cpu_seconds=1, memory_bytes=512 << 20))
    yield p
    p.close()


def test_python_cpu_runaway_is_stopped_and_the_worker_survives(pool: ParsePool) -> None:
    before = run(pool, pid)
    with pytest.raises(ParseAborted, match=r"^parse aborted: exceeded 1s CPU$"):
        run(pool, spin_python)
    assert run(pool, pid) == before  # the timer raised inside the job: same worker


def test_cpu_runaway_inside_c_is_killed_by_the_kernel_and_the_worker_replaced(
    pool: ParsePool,
) -> None:
    before = run(pool, pid)
    with pytest.raises(ParseAborted, match=r"^parse aborted: exceeded 1s CPU$"):
        run(pool, spin_c)
    after = run(pool, pid)
    assert after != before  # SIGXCPU ended the old worker; a fresh one took over
    assert run(pool, echo, "still parsing") == "still parsing"


def test_memory_cap_turns_a_huge_allocation_into_an_error(pool: ParsePool) -> None:
    with pytest.raises(ParseAborted, match=r"^parse aborted: exceeded the 512 MB memory cap$"):
        run(pool, allocate, 2 << 30)
    assert run(pool, allocate, 64 << 20) == 64 << 20  # the worker is fine afterwards


def test_a_crashing_worker_fails_only_its_own_document() -> None:
    pool = ParsePool(2, Limits(cpu_seconds=2, memory_bytes=512 << 20))
    try:
        out = gather(pool.run(crash), *(pool.run(echo, i) for i in range(6)))
    finally:
        pool.close()
    assert isinstance(out[0], ParseAborted)
    assert str(out[0]) == "parse aborted: the parse worker died (SIGSEGV)"
    assert out[1:] == list(range(6))


def test_the_parsers_own_errors_pass_through_unchanged(pool: ParsePool) -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        run(pool, int, "not a number")


def test_cancelling_a_job_stops_its_worker(pool: ParsePool) -> None:
    before = run(pool, pid)

    async def cancel_soon() -> None:
        task = asyncio.ensure_future(pool.run(spin_c))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_soon())
    assert run(pool, pid) != before


@pytest.mark.parametrize("started", [True, False])
def test_the_pipes_hold_a_whole_feed_and_its_result(pool: ParsePool, started: bool) -> None:
    """Widened once the pool is up, whether `start` or the first task started it: a
    task and its result then cross without the worker waiting on this process's GIL.
    Several megabytes still cross whole (in several turns)."""
    import fcntl
    from pathlib import Path

    from ingest.parsepool import PIPE_BYTES

    if started:
        pool.start()
    big = os.urandom(3 * PIPE_BYTES)
    assert run(pool, echo, big) == big
    cap = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    assert pool.pipe_bytes == (PIPE_BYTES if cap >= PIPE_BYTES else 0)
    channel = pool._pool._pool_manager.worker_manager.pool_channel  # type: ignore[attr-defined]
    for conn in (channel.reader, channel.writer):
        assert fcntl.fcntl(conn.fileno(), fcntl.F_GETPIPE_SZ) == max(pool.pipe_bytes, 65536)
