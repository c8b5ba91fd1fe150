"""Opens the SQLite file: pragmas, migrations, the single writer and read-only readers."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from db.schema import migrations
from db.writer import Writer

log = logging.getLogger("wiredesk.db")


WRITER_PRAGMAS = (
    "cache_size = -32768",
    # the writer checkpoints only if the background checkpointer falls this far behind
    "wal_autocheckpoint = 16000",
    f"journal_size_limit = {64 << 20}",
)


class StoreError(Exception):
    """The database cannot be opened or is not a wiredesk store."""


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30
        )
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


CHECKPOINT_EVERY = 0.5  # seconds between the background checkpointer's passes


class _Checkpointer:
    """Copies committed WAL frames back into the database file every `interval` seconds,
    from a thread and a connection of its own: a PASSIVE checkpoint waits for no one and
    no one waits for it. The writer's own automatic checkpoint (every 4,000 pages) ran
    inside the commit that crossed the mark, copying and syncing ~64 MB while the
    single writer stood still: ~0.2-0.5 s of a 6 s first poll."""

    def __init__(self, path: Path, interval: float = CHECKPOINT_EVERY) -> None:
        self._path = path
        self._conn = _connect(path, readonly=False)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wiredesk-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # a full disk: the writer's own checkpoint remains
                log.warning("event=checkpoint_failed path=%s error=%r", self._path, str(exc))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()


class Store:
    """One SQLite file: exactly one writer connection (serialised by a lock, like
    datasette's write thread) and a read-only connection per reading thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self._wconn = _connect(self.path, readonly=False)
            if new:
                # page_size only takes effect before the first table exists;
                # 16 KB pages measured ~2x faster inserts of 2 KB rows.
                self._wconn.execute("PRAGMA page_size = 16384")
            mode = self._wconn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._wconn.execute("PRAGMA synchronous = NORMAL")
            # the writer's page cache (default 2 MB) holds the indexes and FTS segments a
            # batch touches; WAL frames are copied back by `_Checkpointer`, the writer
            # itself only as a backstop (16,000 pages); the file is cut back after
            for pragma in WRITER_PRAGMAS:
                self._wconn.execute(f"PRAGMA {pragma}")
            ok = self._wconn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path}: not a usable SQLite database ({exc}); refusing to touch it"
            ) from exc
        if ok != "ok":
            raise StoreError(f"{self.path}: integrity check failed: {ok}; refusing to touch it")
        if mode.lower() != "wal":
            log.warning("event=wal_unavailable path=%s mode=%s", self.path, mode)
        self._lock = threading.RLock()
        self._local = threading.local()
        with self._lock:
            migrations.apply(Database(self._wconn))
        self._checkpointer = _Checkpointer(self.path) if mode.lower() == "wal" else None

    @contextlib.contextmanager
    def write(self) -> Iterator[Writer]:
        """A write transaction opened with BEGIN IMMEDIATE, so it never fails half-way
        on a lock upgrade; commits on success, rolls back on any exception."""
        with self._lock:
            conn = self._wconn
            conn.execute("BEGIN IMMEDIATE")
            try:
                w = Writer(conn)
                yield w
                w.flush()
            except BaseException:
                # SQLITE_FULL, IOERR or NOMEM may have rolled the transaction back already
                # (the full-text index's bulk insert does, on a full disk); a ROLLBACK
                # then would fail and hide the error that matters
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (WAL lets it read while the writer writes)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        with self._lock:
            self._wconn.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
