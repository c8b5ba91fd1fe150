"""`wiredesk run` as a real process: drop pickup, serving with ETag/304/gzip, clean stop."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import SEED, write_config


def get(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    cfg_path = write_config(tmp_path, log_level="info")
    cfg = yaml.safe_load(cfg_path.read_text())
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "kant.txt").write_bytes(SEED.read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg_path), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = cfg["server"]["base_url"].rstrip("/")
    try:
        yield proc, base, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def wait_for(url: str, needle: bytes, timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    last = b""
    while time.monotonic() < deadline:
        try:
            status, _, body = get(url)
            if status == 200 and needle in body:
                return body
            last = body
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never contained {needle!r}; last body {last[:300]!r}")


def test_daemon_serves_the_seed_and_stops_cleanly(
    daemon: tuple[subprocess.Popen[str], str, Path],
) -> None:
    proc, base, tmp = daemon
    feed = f"{base}/topics/defense.atom"
    wait_for(feed, b"air force base Kant in Kyrgyzstan")
    assert (tmp / "drops" / "done" / "kant.txt").exists()

    status, h, body = get(feed)
    assert status == 200
    assert h["content-type"] == "application/atom+xml; charset=utf-8"
    etag, modified = h["etag"], h["last-modified"]
    assert get(feed, **{"If-None-Match": etag})[0] == 304
    assert get(feed, **{"If-Modified-Since": modified})[0] == 304

    status, h, gz = get(feed, **{"Accept-Encoding": "gzip"})
    assert status == 200 and h["content-encoding"] == "gzip"
    assert "accept-encoding" in h["vary"].lower()
    assert gzip.decompress(gz) == body

    status, h, head_body = get(feed, method="HEAD")
    assert status == 200 and head_body == b"" and h["etag"] == etag

    assert (
        get(f"{base}/topics/defense.rss")[1]["content-type"] == "application/rss+xml; charset=utf-8"
    )
    assert (
        get(f"{base}/topics/defense.json")[1]["content-type"]
        == "application/feed+json; charset=utf-8"
    )
    assert get(f"{base}/topics/no-such-topic.atom")[0] == 404
    assert get(f"{base}/nowhere")[0] == 404
    assert get(feed, method="POST")[0] == 405
    assert b"defense" in get(f"{base}/feeds.opml")[2]
    assert get(f"{base}/healthz")[0] == 200
    assert b"wiredesk_http_requests_total" in get(f"{base}/metrics")[2]
    assert b"Defense" in get(f"{base}/")[2]

    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert "event=daemon_stopped" in out


def test_second_daemon_on_the_same_store_is_refused(
    daemon: tuple[subprocess.Popen[str], str, Path],
) -> None:
    proc, base, tmp = daemon
    wait_for(f"{base}/healthz", b"ok")
    second = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(tmp / "config.yaml"), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert second.returncode == 1
    assert "another wiredesk daemon" in second.stderr
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_the_daemon_caps_malloc_arenas_on_glibc() -> None:
    """Threads of every poll pass would each grow an arena of their own (the soak saw the
    daemon's memory climb ~45 MB before levelling off)."""
    import platform

    from wiredesk.daemon import cap_malloc_arenas

    assert platform.libc_ver()[0] == "glibc"  # this project's machines; musl would return False
    assert cap_malloc_arenas() is True
