"""The feed farm served from a process of its own, as a remote origin would be.

Served from a thread of the measuring process, the farm's HTTP work shared that process's
GIL with whatever it measured (the desk's event loop and writer, or reader's threads):
every answer it sent was time the measured program could not run Python. In its own
process it still shares the machine's cores, as a second program would, but not the GIL.
The parent talks to it over a pipe: the port once started, then `statuses`/`clear`/`stop`.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any


def _serve(docs: list[bytes], conn: Connection) -> None:
    from tests.origin import Origin, Route

    with Origin() as origin:
        for i, doc in enumerate(docs):
            origin.routes[f"/f{i}.xml"] = Route(doc)
        conn.send(origin.port)
        while True:
            command = conn.recv()
            if command == "statuses":
                conn.send(list(origin.statuses))
            elif command == "clear":
                origin.statuses.clear()
                conn.send(None)
            else:
                break
    conn.send(None)


class FarmServer:
    """`/f{i}.xml` for each document, from a child process; `pid` is left out of the
    benchmark's CPU and memory figures by the caller."""

    def __init__(self, docs: list[bytes]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process: Any = ctx.Process(target=_serve, args=(docs, child), daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(60):
            raise RuntimeError("the farm server did not start")
        self.port: int = self._conn.recv()
        self.pid: int = self._process.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def statuses(self) -> list[int]:
        """The status of every answer since the start or the last `clear()`."""
        self._conn.send("statuses")
        out: list[int] = self._conn.recv()
        return out

    def clear(self) -> None:
        self._conn.send("clear")
        self._conn.recv()

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send("stop")
            self._conn.poll(10)
        except OSError:
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
