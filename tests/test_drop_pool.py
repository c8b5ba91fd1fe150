"""The drop folder's worker processes end with the process that started them, even when it
is killed with SIGKILL (no clean shutdown): nothing is left behind after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

CHILD = """
import os, sys, tempfile, time
from pathlib import Path
from ingest.dropfolder import DropFolder
folder = DropFolder(Path(tempfile.mkdtemp()), settle=0, workers=1)
list(folder._reads([Path("/nonexistent")] * 70))  # big enough for the pool
print(os.getpid(), flush=True)
time.sleep(120)
"""


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d.name))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
def test_pool_workers_exit_when_the_daemon_is_killed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert proc.stdout is not None
    with proc.stdout:
        pid = int(proc.stdout.readline())
    helpers = _children(pid)
    workers = [w for h in helpers for w in _children(h)]
    assert workers, "the pool started a worker (under the forkserver)"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()]
    assert not alive, f"workers outlived the killed daemon: {alive}"
