"""The drop folder: finds stable files, reads them into Items, moves them to done/ or failed/."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.feedparse import FeedFormatError, parse_feed
from ingest.item import Item
from ingest.metrics import DROP_FILES, DROP_QUEUE
from ingest.text import NotTextError, decode_text
from ingest.wire import WireFormatError, parse_wire

log = logging.getLogger("wiredesk.drops")

SOURCE = "drops"  # the `source` of every dropped file
MAX_BYTES = 20 * 1024 * 1024
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")
_SUBDIRS = ("done", "failed", "tmp")


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


def read_drop(path: Path, data: bytes) -> DropRead:
    """Parse one dropped file's bytes: a feed document or wire text."""
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
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        story = parse_wire(text, reference=mtime)
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


class DropFolder:
    """A file is taken once its size and mtime have held still for `settle` seconds."""

    def __init__(self, path: Path, settle: float = 1.0) -> None:
        self.path = path
        self.settle = settle
        for sub in _SUBDIRS:
            (path / sub).mkdir(parents=True, exist_ok=True)

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
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            raise DropError("a symbolic link: links are never followed")
        if not stat.S_ISREG(st.st_mode):
            raise DropError("not a regular file (FIFO, socket or device)")
        if st.st_size > MAX_BYTES:
            raise DropError(f"file too large: {st.st_size} bytes > {MAX_BYTES}")
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        return read_drop(path, data)

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
        """Take every stable file: commit its items through `store_items`, then move it.
        A file whose content is committed but not yet moved (crash) is seen again, found
        unchanged by the pipeline, and moved then."""
        result = DropResult()
        paths, result.waiting = self.candidates()
        DROP_QUEUE.set(len(paths) + result.waiting)
        for path in paths[:limit]:
            try:
                read = self.load(path)
            except (DropError, OSError) as exc:
                reason = str(exc)
                record_failure(path.name, reason)
                self.fail(path, reason)
                result.failed += 1
                DROP_FILES.labels("failed").inc()
                result.errors.append(f"{path.name}: {reason}")
                log.warning("event=drop_failed file=%s reason=%r", path.name, reason)
                continue
            store_items(read.items)
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
        return result
