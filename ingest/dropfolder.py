"""The drop folder: finds stable files, reads them into Items, moves them to done/ or failed/."""

from __future__ import annotations

import logging
import multiprocessing
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.feedparse import FeedFormatError, parse_feed
from ingest.item import Item
from ingest.metrics import DROP_FILES, DROP_QUEUE
from ingest.prepare import attach, use_rules
from ingest.rules import TopicRule
from ingest.text import NotTextError, decode_text
from ingest.wire import WireFormatError, parse_wire

log = logging.getLogger("wiredesk.drops")

SOURCE = "drops"  # the `source` of every dropped file
MAX_BYTES = 20 * 1024 * 1024
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")
_SUBDIRS = ("done", "failed", "tmp")
BATCH_ITEMS = 200  # items stored per transaction (their files move once it commits): a commit
# per 25 measured ~10% more of the writer's time per file (FTS flush, WAL pages, lookups)
POOL_MIN_FILES = 64  # a pickup this big reads and prepares files in worker processes


class DropError(ValueError):
    """A dropped file that cannot be taken in; the message says why."""


@dataclass
class DropResult:
    taken: int = 0
    failed: int = 0
    waiting: int = 0  # still growing or too fresh to trust
    errors: list[str] = field(default_factory=list)


def is_temporary(name: str) -> bool:
    return name.startswith(".") or name.endswith(_TEMP_SUFFIXES)


@dataclass
class DropRead:
    """A dropped file's stories, and the entries of it that could not be read (key, reason)."""

    items: list[Item]
    failures: list[tuple[str, str]] = field(default_factory=list)


def read_drop(path: Path, data: bytes, mtime: float | None = None) -> DropRead:
    """Parse one dropped file's bytes (modified at `mtime`, else its stat's): a feed
    document or wire text."""
    if not data.strip():
        raise DropError("empty file")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"<", b"{"):
        try:
            feed = parse_feed(data, SOURCE)
        except FeedFormatError as exc:
            raise DropError(str(exc)) from None
        # dropped feeds are keyed by file name + entry so two files never collide
        for item in feed.items:
            item.item_key = f"{path.name}#{item.item_key}"
        failures = [(f"{path.name}#{key}", reason) for key, reason in feed.failures]
        if not feed.items:
            why = f": {failures[0][1]}" if failures else ""
            raise DropError(f"feed document with no usable entries{why}")
        return DropRead(feed.items, failures)
    try:
        text = decode_text(data)
        modified = path.stat().st_mtime if mtime is None else mtime
        story = parse_wire(text, reference=datetime.fromtimestamp(modified, UTC))
    except (NotTextError, WireFormatError) as exc:
        raise DropError(str(exc)) from None
    return DropRead(
        [
            Item(
                source=SOURCE,
                item_key=path.name,
                title=story.title,
                body=story.body,
                summary=story.summary,
                content_html=story.html(),
                published=story.published,
                published_raw=story.published_raw,
                agency=story.agency,
                dateline=story.dateline,
                subheads=story.subheads,
            )
        ]
    )


def load_file(path: Path) -> DropRead:
    """Read a candidate; raises DropError for anything that is not a readable regular file."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        raise DropError("a symbolic link: links are never followed")
    if not stat.S_ISREG(st.st_mode):
        raise DropError("not a regular file (FIFO, socket or device)")
    if st.st_size > MAX_BYTES:
        raise DropError(f"file too large: {st.st_size} bytes > {MAX_BYTES}")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        data = _read_at_most(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)
    return read_drop(path, data, st.st_mtime)


def _read_at_most(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes, read in chunks: a buffered `read(limit)` allocates `limit`
    bytes first (20 MB, ~20 us a file of a few KB)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(limit - size, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _load_job(path: Path) -> DropRead | str:
    """A pool job: the file read, parsed and its items prepared, or why it cannot be."""
    try:
        read = load_file(path)
    except (DropError, OSError) as exc:
        return str(exc)
    attach(read.items)
    return read


def _worker_init(rules: list[TopicRule] | None, parent: int) -> None:
    """Pool initializer: the topic rules, and a watchdog that ends this worker when the
    process that started the pool is gone (killed with SIGKILL, its workers would block
    on their queue for ever: they hold its write end too)."""
    use_rules(rules)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # alive, another user's process (the pid was reused): keep going

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _workers() -> int:
    # storing stays in this process: leave it a core
    cpus = os.cpu_count() or 1
    return cpus - 1 if cpus > 1 else 0


class DropFolder:
    """A file is taken once its size and mtime have held still for `settle` seconds."""

    def __init__(
        self,
        path: Path,
        settle: float = 1.0,
        *,
        workers: int | None = None,
        rules: list[TopicRule] | None = None,
        batch: int = BATCH_ITEMS,
    ) -> None:
        self.path = path
        self.settle = settle
        self.batch = batch
        self.workers = _workers() if workers is None else workers
        self.rules = rules  # the workers also file items under topics by these
        self._pool: ProcessPoolExecutor | None = None
        for sub in _SUBDIRS:
            (path / sub).mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def set_rules(self, rules: list[TopicRule] | None) -> None:
        """New topic rules (config reload): the next big pickup starts fresh workers.
        (Items a worker filed by other rules are filed again by the pipeline anyway.)"""
        self.rules = rules
        self.close()

    def _reads(self, paths: list[Path]) -> Iterator[DropRead | str]:
        """Each file read (or why not), in order; big pickups in worker processes."""
        done = 0
        if self.workers and len(paths) >= POOL_MIN_FILES:
            try:
                for read in self._workers_pool().map(_load_job, paths, chunksize=16):
                    yield read
                    done += 1
                return
            except (RuntimeError, OSError) as exc:
                # no pool here, or a worker died: the files not read yet are read here
                self._pool_unavailable(exc)
        for path in paths[done:]:
            try:
                yield self.load(path)
            except (DropError, OSError) as exc:
                yield str(exc)

    def _workers_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: never fork a process that runs uvicorn and scheduler threads
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["ingest.dropfolder"])
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(self.rules, os.getpid()),
            )
        return self._pool

    def _pool_unavailable(self, exc: BaseException) -> None:
        # no pool here (no __main__ guard, no /dev/shm) or a worker died
        log.warning("event=drop_pool_unavailable error=%r", str(exc)[:200])
        self.workers = 0
        self._pool = None

    def start(self) -> None:
        """Start the reading workers now, not at the first big pickup (forkserver,
        imports, topic rules: ~0.6 s on 2 cores)."""
        if not self.workers:
            return
        try:
            pool = self._workers_pool()
            for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
                future.result(timeout=60)
        except (RuntimeError, OSError) as exc:
            self._pool_unavailable(exc)

    def candidates(self) -> tuple[list[Path], int]:
        """(stable files, oldest first; count of files still settling)."""
        ready: list[tuple[float, str, Path]] = []
        waiting = 0
        now = time.time()
        with os.scandir(self.path) as it:
            for entry in it:
                if is_temporary(entry.name) or entry.name in _SUBDIRS:
                    continue
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    continue
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime < self.settle:
                    waiting += 1
                    continue
                ready.append((st.st_mtime, entry.name, Path(entry.path)))
        ready.sort()
        return [p for _, _, p in ready], waiting

    def load(self, path: Path) -> DropRead:
        """Read a candidate; raises DropError for anything that is not a readable regular file."""
        return load_file(path)

    def _destination(self, sub: str, name: str) -> Path:
        dest = self.path / sub / name
        n = 1
        while dest.exists() or dest.is_symlink():
            dest = self.path / sub / f"{name}.{n}"
            n += 1
        return dest

    def done(self, path: Path) -> None:
        os.replace(path, self._destination("done", path.name))

    def fail(self, path: Path, reason: str) -> None:
        dest = self._destination("failed", path.name)
        # the reason is written first: a crash in between leaves the file where it was
        Path(f"{dest}.error.txt").write_text(f"{path.name}: {reason}\n", encoding="utf-8")
        os.replace(path, dest)

    def pending_counts(self) -> dict[str, int]:
        def count(p: Path) -> int:
            return (
                sum(1 for e in p.iterdir() if not e.name.endswith(".error.txt"))
                if p.exists()
                else 0
            )

        waiting = sum(
            1 for e in self.path.iterdir() if e.name not in _SUBDIRS and not is_temporary(e.name)
        )
        return {
            "waiting": waiting,
            "done": count(self.path / "done"),
            "failed": count(self.path / "failed"),
        }

    def run_once(
        self,
        store_items: Callable[[list[Item]], object],
        record_failure: Callable[[str, str], None],
        *,
        limit: int | None = None,
    ) -> DropResult:
        """Take every stable file: commit its items through `store_items` (several files
        per transaction, up to `batch` items), then move it. A file whose content is
        committed but not yet moved (crash) is seen again, found unchanged by the
        pipeline, and moved then."""
        result = DropResult()
        paths, result.waiting = self.candidates()
        DROP_QUEUE.set(len(paths) + result.waiting)
        batch: list[tuple[Path, DropRead]] = []
        pending = 0

        def flush() -> None:
            # one transaction for the batch; its files move only once it committed
            store_items([item for _, read in batch for item in read.items])
            for path, read in batch:
                for key, reason in read.failures:
                    record_failure(key, reason)
                self.done(path)
                result.taken += 1
                DROP_FILES.labels("taken").inc()
                DROP_QUEUE.dec()
                log.info(
                    "event=drop_taken file=%s items=%d failed_entries=%d",
                    path.name,
                    len(read.items),
                    len(read.failures),
                )
            batch.clear()

        paths = paths[:limit]
        for path, read in zip(paths, self._reads(paths), strict=True):
            if isinstance(read, str):
                record_failure(path.name, read)
                self.fail(path, read)
                result.failed += 1
                DROP_FILES.labels("failed").inc()
                result.errors.append(f"{path.name}: {read}")
                log.warning("event=drop_failed file=%s reason=%r", path.name, read)
                continue
            batch.append((path, read))
            pending += len(read.items)
            if pending >= self.batch:
                flush()
                pending = 0
        if batch:
            flush()
        return result
