"""The background checkpointer (db.store._Checkpointer): committed pages reach the
database file without the single writer stopping to copy them, and it stops with the
store."""

from __future__ import annotations

import threading
from pathlib import Path


def _db_size_after_writes(
    tmp_path: Path, interval: float, wait: float
) -> tuple[int, int, threading.Thread]:
    """The file's size before and after a commit, and the checkpointer's thread."""
    import time

    import db.store as store_module

    store = store_module.Store(tmp_path / "w.db")
    try:
        store._checkpointer.close()  # type: ignore[union-attr]
        store._checkpointer = checkpointer = store_module._Checkpointer(store.path, interval)
        before = store.path.stat().st_size
        with store.write() as w:
            w.conn.execute("CREATE TABLE filler (x BLOB)")
            w.conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,)] * 500)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and store.path.stat().st_size == before:
            time.sleep(0.02)
        return before, store.path.stat().st_size, checkpointer._thread
    finally:
        store.close()


def test_committed_pages_reach_the_database_file_without_the_writer(tmp_path: Path) -> None:
    """The background checkpointer copies a commit's WAL frames into the file within a
    pass; the writer's own automatic checkpoint (16,000 pages) is far off here, so
    without the checkpointer the file stays as it was (the control)."""
    before, after, thread = _db_size_after_writes(tmp_path / "a", 0.05, wait=5)
    assert after > before + 1_000_000
    assert not thread.is_alive()  # stopped with its store
    before, after, thread = _db_size_after_writes(tmp_path / "b", 3600, wait=1)
    assert after == before
    assert not thread.is_alive()
