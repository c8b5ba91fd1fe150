"""Shared fixtures: a config on a temporary store and drop folder, a live server on loopback."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
import yaml

from ingest import compiled
from ingest.prepare import forget_seen
from wiredesk.config import Config, load_config
from wiredesk.desk import Desk

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SEED = REPO / "tests" / "data" / "seed_kant.txt"  # the reference story of ../shared/seeds


@pytest.fixture(autouse=True)
def _fresh_preparation() -> Iterator[None]:
    """Each test starts with no memory of items prepared by an earlier one in this process
    (`attach` would hand those back as `Seen`)."""
    forget_seen()
    yield


@pytest.fixture(params=["compiled", "python"])
def speedups(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the compiled helpers (ingest/_speedups.c) and again without them:
    both paths must give the same answers. Fails, not skips, where they were not built."""
    if request.param == "python":
        monkeypatch.setattr(compiled, "speedups", None)
    else:
        assert compiled.speedups is not None, "ingest._speedups is not built: pip install -e ."
    return str(request.param)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp: Path, **overrides: object) -> Path:
    """The shipped config.yaml with a temporary store/drop folder and no network sources."""
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    port = free_port()
    data["database"] = str(tmp / "wiredesk.db")
    data["drops"] = {"path": str(tmp / "drops"), "interval": "1s", "settle": "0s"}
    data["server"] = {"host": "127.0.0.1", "port": port, "base_url": f"http://127.0.0.1:{port}/"}
    data["sources"] = []
    data["log_level"] = "warning"
    for key, value in overrides.items():
        data[key] = value
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture
def desk(config: Config) -> Iterator[Desk]:
    d = Desk(config)
    yield d
    d.close()


def drop(desk: Desk, name: str, content: str | bytes | Path) -> Path:
    """Write a file into the drop folder the way a careful writer does: temp name, rename."""
    folder = desk.config.drops.path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    if isinstance(content, Path):
        shutil.copyfile(content, tmp)
    elif isinstance(content, str):
        tmp.write_text(content, encoding="utf-8")
    else:
        tmp.write_bytes(content)
    dest = folder / name
    tmp.rename(dest)
    return dest


class LiveServer:
    """wiredesk's real app under a real uvicorn on a loopback port, in a thread."""

    def __init__(self, desk: Desk) -> None:
        from wiredesk.daemon import build_server

        self.server: uvicorn.Server = build_server(desk)
        self.base = desk.config.server.base_url.rstrip("/")
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live(desk: Desk) -> Iterator[LiveServer]:
    with LiveServer(desk) as srv:
        yield srv
