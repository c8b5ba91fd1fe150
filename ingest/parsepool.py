"""Untrusted bytes parsed in worker processes that can be stopped: CPU and memory caps per document.

Built on pebble's ProcessPool, which runs each task in a worker it can stop and replaces a
worker that dies, failing only the task that worker held (the standard library's pool
breaks for every pending task). Three limits, from gentlest to hardest:

1. `ITIMER_PROF` armed around each job: after `cpu_seconds` of CPU the worker raises
   ParseAborted between two Python bytecodes and stays alive for the next document.
2. `RLIMIT_CPU` moved to "CPU used so far + cpu_seconds + grace" before each job: a parse
   stuck inside C or Rust (expat, nh3), where no Python signal handler runs, is killed
   by the kernel with SIGXCPU; pebble replaces the worker.
3. pebble's wall-clock timeout per task (a multiple of the CPU limit): the backstop for
   anything else, e.g. a worker starved of CPU by the machine.

`RLIMIT_AS` (set once per worker by the initializer) caps the worker's address space, so a
document that would need gigabytes ends in MemoryError (or a dead worker), not in the
kernel's OOM killer choosing the daemon.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import multiprocessing
import resource
import signal
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool

log = logging.getLogger("wiredesk.parsepool")

T = TypeVar("T")

CPU_GRACE = 2.0  # seconds past the soft limit before the kernel steps in
WALL_FACTOR = 3.0  # wall-clock backstop as a multiple of the CPU limit …
WALL_SLACK = 10.0  # … plus this


class ParseAborted(Exception):
    """A document was stopped for exceeding a limit; the message says which."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 20.0  # CPU one document may take
    memory_bytes: int = 1 << 30  # address space of one worker process (0: no cap)

    @property
    def wall_seconds(self) -> float:
        return self.cpu_seconds * WALL_FACTOR + WALL_SLACK

    def cpu_message(self) -> str:
        return f"parse aborted: exceeded {self.cpu_seconds:g}s CPU"

    def memory_message(self) -> str:
        return f"parse aborted: exceeded the {self.memory_bytes >> 20} MB memory cap"


class _CpuExceeded(BaseException):
    """Raised by the SIGPROF handler; a BaseException so no `except Exception` in the
    parser swallows it."""


_armed = False


def _on_sigprof(_signum: int, _frame: FrameType | None) -> None:
    if _armed:
        raise _CpuExceeded


def _init_worker(memory_bytes: int) -> None:
    """Runs once in every new worker."""
    signal.signal(signal.SIGPROF, _on_sigprof)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a killed worker leaves no core file
    if memory_bytes > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _warm_up(task: Callable[[], object] | None) -> None:
    if task is not None:
        task()


def _cpu_used() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _guarded(fn: Callable[..., T], limits: Limits, args: tuple[Any, ...], kw: dict[str, Any]) -> T:
    """Runs in a worker: one job under the CPU limits (see the module docstring)."""
    global _armed
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(_cpu_used() + limits.cpu_seconds + CPU_GRACE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    _armed = True
    signal.setitimer(signal.ITIMER_PROF, limits.cpu_seconds)
    try:
        return fn(*args, **kw)
    except _CpuExceeded:
        raise ParseAborted(limits.cpu_message()) from None
    except MemoryError:
        raise ParseAborted(limits.memory_message()) from None
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_PROF, 0)


def _death_reason(exc: ProcessExpired, limits: Limits) -> str:
    code = exc.exitcode
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return limits.cpu_message()
    if code == -signal.SIGABRT and limits.memory_bytes:
        # Rust and C++ abort when an allocation fails under RLIMIT_AS
        return limits.memory_message() + " (worker aborted)"
    name = signal.Signals(-code).name if code is not None and code < 0 else f"exit {code}"
    return f"parse aborted: the parse worker died ({name})"


def _worker_manager(pool: ProcessPool) -> Any:
    """pebble's worker manager, which holds the workers and the pipes to them (pebble
    has no public accessor for either); None if a pebble release moved it."""
    return getattr(getattr(pool, "_pool_manager", None), "worker_manager", None)


PIPE_BYTES = 1 << 20  # Linux's default cap for an unprivileged process (pipe-max-size)


def widen_pipes(pool: ProcessPool, size: int = PIPE_BYTES) -> int:
    """Give the pipes between this process and the workers room for a whole task and a
    whole result; the size they have after (0 where that cannot be done).

    A feed (~150 KB on the farm) and its prepared items (~330 KB) did not fit a pipe's
    64 KB: each was passed in 64 KB turns, and every turn waited for this process's
    thread to get the GIL from the writer (up to the 5 ms switch interval). The worker
    stood idle ~3 ms between feeds, 0.7 s of a 6 s first poll. With room for both, it
    writes its result and reads its next feed without waiting for this process."""
    channel = getattr(_worker_manager(pool), "pool_channel", None)
    setter = getattr(fcntl, "F_SETPIPE_SZ", None)
    if channel is None or setter is None:  # not Linux, or a pebble that keeps them elsewhere
        log.info("event=parse_pipes_not_widened")
        return 0
    got = []
    for conn in (channel.reader, channel.writer):  # the worker-to-us and us-to-worker pipes
        try:
            got.append(fcntl.fcntl(conn.fileno(), setter, size))
        except OSError as exc:  # a lower pipe-max-size: keep the default
            log.info("event=parse_pipes_not_widened error=%r", str(exc))
            return 0
    return min(got)


class ParsePool:
    """`await pool.run(fn, *args, **kw)`: fn(*args, **kw) in a worker under `limits`.
    Raises ParseAborted when a limit stopped it; fn's own exceptions come through as they are.
    """

    def __init__(
        self, workers: int, limits: Limits | None = None, preload: tuple[str, ...] = ()
    ) -> None:
        self.limits = limits or Limits()
        self.workers = workers
        # forkserver: never fork a process that runs uvicorn and scheduler threads
        ctx = multiprocessing.get_context("forkserver")
        if preload:
            ctx.set_forkserver_preload(list(preload))
        self._pool = ProcessPool(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(self.limits.memory_bytes,),
            context=ctx,
        )
        self.pipe_bytes: int | None = None  # what `widen_pipes` made of pebble's pipes

    async def run(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        limits = self.limits
        future = self._pool.schedule(
            _guarded, args=(fn, limits, args, kw), timeout=limits.wall_seconds
        )
        if self.pipe_bytes is None:  # started by this task, not by `start`
            self.pipe_bytes = widen_pipes(self._pool)
        try:
            # cancelling the awaiting task cancels the future: pebble stops its worker
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            raise ParseAborted(
                f"parse aborted: no result within {limits.wall_seconds:g}s (worker stopped)"
            ) from None
        except ProcessExpired as exc:
            reason = _death_reason(exc, limits)
            log.warning("event=parse_worker_died exitcode=%s reason=%r", exc.exitcode, reason)
            raise ParseAborted(reason) from None

    def start(self, warm: Callable[[], object] | None = None, timeout: float = 60.0) -> None:
        """Start the workers now, not at the first parse (forkserver, imports: ~0.6 s on
        2 cores), each running `warm` (e.g. compiling the topic rules) once it is up."""
        futures = [self._pool.schedule(_warm_up, args=(warm,)) for _ in range(self.workers)]
        for future in futures:
            future.result(timeout=timeout)
        self.pipe_bytes = widen_pipes(self._pool)

    def pids(self) -> list[int]:
        """The live workers' process ids (for benchmarks and the soak's memory report;
        pebble keeps them in its worker manager and has no public accessor)."""
        workers = getattr(_worker_manager(self._pool), "workers", {})
        return [int(pid) for pid in workers]

    def close(self) -> None:
        """Stop the workers now (running jobs are abandoned) and wait for them."""
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=10)
