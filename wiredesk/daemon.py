"""`wiredesk run`: APScheduler jobs (sources, drop folder, export) beside the uvicorn server."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from feeds.app import create_app
from wiredesk.config import ConfigError, load_config
from wiredesk.desk import Desk

log = logging.getLogger("wiredesk.daemon")


class AlreadyRunning(RuntimeError):
    """Another daemon holds the store's lock."""


def acquire_lock(db_path: Path) -> IO[str]:
    """An advisory lock beside the database: one daemon per store (and drop folder)."""
    lock_path = db_path.with_name(db_path.name + ".lock")
    fh = open(lock_path, "a+")  # noqa: SIM115 - held for the daemon's lifetime
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise AlreadyRunning(
            f"another wiredesk daemon is using {db_path} (lock {lock_path})"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


class Health:
    """What /healthz reports about the daemon beyond the store."""

    def __init__(self) -> None:
        self.last_ingest: str | None = None
        self.scheduler: BackgroundScheduler | None = None

    def __call__(self) -> dict[str, object]:
        running = bool(self.scheduler and self.scheduler.running)
        return {
            "scheduler": "running" if running else "stopped",
            "last_ingest": self.last_ingest,
            **({} if running or self.scheduler is None else {"status": "degraded"}),
        }


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGTERM after its graceful shutdown, which would kill
    us before the scheduler and store are closed: take the signal, exit 0 ourselves.
    `on_exit` callbacks run the moment the signal arrives, so in-flight work is told to
    stop while uvicorn drains its connections, not after."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.on_exit: list[Callable[[], None]] = []

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        for callback in self.on_exit:
            callback()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def build_server(desk: Desk, health: Health | None = None) -> _Server:
    app = create_app(desk.publisher, health)
    cfg = uvicorn.Config(
        app,
        host=desk.config.server.host,
        port=desk.config.server.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return _Server(cfg)


M_ARENA_MAX = -8  # glibc mallopt parameter (malloc.h)


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Limit glibc to `arenas` malloc arenas, as MALLOC_ARENA_MAX=2 would. Each new
    thread otherwise may get an arena of its own (up to 8 per core), and every poll pass
    stores from fresh worker threads: in the 30-minute soak the daemon's resident memory
    climbed ~45 MB before it levelled off. Returns whether the limit took (glibc only)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): nothing to limit


def run_daemon(desk: Desk, config_path: Path | None = None) -> None:
    lock = acquire_lock(desk.config.database)
    health = Health()
    busy = threading.Lock()  # sources and drops jobs share the writer; keep them apart

    def sources_job() -> None:
        with busy:
            for name, s in desk.poll_sources(due_only=True).items():
                log.info("event=source_polled source=%s %s", name, s.line(name).split(": ", 1)[1])
            health.last_ingest = datetime.now(UTC).isoformat()
            desk.announce()

    def drops_job() -> None:
        with busy:
            r = desk.pick_up_drops()
            if r.taken or r.failed:
                log.info(
                    "event=drops_pass taken=%d failed=%d waiting=%d", r.taken, r.failed, r.waiting
                )
            health.last_ingest = datetime.now(UTC).isoformat()
            desk.announce()

    def housekeeping_job() -> None:
        with busy:
            pruned = desk.housekeeping()
            if pruned:
                log.info("event=retention_pruned articles=%d", pruned)

    def reload_job() -> None:
        if config_path is None:
            return
        try:
            new = load_config(config_path)
        except ConfigError as exc:
            log.error("event=reload_refused path=%s problems=%r", config_path, exc.problems)
            return
        with busy:
            restart = desk.reload(new)
        log.info("event=config_reloaded sources=%d topics=%d", len(new.sources), len(new.topics))
        if restart:
            log.warning("event=reload_needs_restart keys=%s", ",".join(restart))

    scheduler = BackgroundScheduler(
        timezone=UTC,
        # APScheduler skips a run more than 1 s late by default: a busy pass must not
        # silently drop the next; coalesce so a backlog runs once, not N times
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    now = datetime.now(UTC)
    cfg = desk.config
    scheduler.add_job(
        drops_job, "interval", seconds=cfg.drops.interval, id="drops", next_run_time=now
    )
    scheduler.add_job(
        sources_job, "interval", seconds=cfg.fetch.tick, id="sources", next_run_time=now
    )
    if cfg.publish.export_dir is not None:
        scheduler.add_job(
            desk.export, "interval", seconds=cfg.publish.interval, id="export", next_run_time=now
        )
    scheduler.add_job(housekeeping_job, "interval", hours=1, id="housekeeping", next_run_time=now)
    health.scheduler = scheduler
    server = build_server(desk, health)
    # SIGTERM/SIGINT: cancel the running poll pass at once (what was parsed still commits),
    # so shutdown never waits for a slow fetch's deadline
    server.on_exit.append(desk.poller.stop)
    # the workers start now, not at the first poll, and what start-up built (config, the
    # near-duplicate window, compiled rules) lives as long as the process: frozen, the
    # collector stops walking it in every full collection (~0.1 s of a first poll)
    desk.start_workers()
    gc.freeze()
    scheduler.start()
    # SIGHUP re-reads config.yaml; the reload runs as a job so it never races an ingest
    signal.signal(
        signal.SIGHUP,
        lambda *_: scheduler.add_job(reload_job, id="reload", replace_existing=True),
    )
    log.info("event=daemon_started url=%s db=%s", cfg.server.base_url, cfg.database)
    try:
        server.run()  # returns on SIGINT/SIGTERM
    finally:
        log.info("event=daemon_stopping")
        desk.poller.stop()
        scheduler.shutdown(wait=True)
        desk.close()
        lock.close()
        log.info("event=daemon_stopped")
