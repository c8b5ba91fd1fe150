"""A real feed reader (newsboat, headless `-x reload`) subscribes to the published Atom
and RSS feeds: its cache holds every entry with the right titles, a new story arrives on
the next reload, and from its third reload on it polls conditionally and gets 304s."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from feeds.app import RequestLog
from tests.conftest import LiveServer
from tests.seeding import NAVY_TITLE, navy_story, seed
from tests.system import need_binary
from wiredesk.desk import Desk

pytestmark = [pytest.mark.reader]


class Newsboat:
    def __init__(self, binary: str, home: Path, urls: list[str]) -> None:
        self.binary = binary
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        (home / "urls").write_text("\n".join(urls) + "\n", encoding="utf-8")
        (home / "config").write_text("reload-threads 2\n", encoding="utf-8")
        self.cache = home / "cache.db"

    def reload(self) -> None:
        env = {**os.environ, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home),
               "XDG_DATA_HOME": str(self.home), "TERM": "dumb"}  # fmt: skip
        run = subprocess.run(
            [
                self.binary,
                "-u",
                str(self.home / "urls"),
                "-c",
                str(self.cache),
                "-C",
                str(self.home / "config"),
                "-x",
                "reload",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert run.returncode == 0, run.stderr

    def titles(self, feed_url: str) -> list[str]:
        with sqlite3.connect(self.cache) as conn:
            return sorted(
                r[0]
                for r in conn.execute(
                    "SELECT title FROM rss_item WHERE feedurl = ? AND deleted = 0", (feed_url,)
                )
            )

    def feed_title(self, feed_url: str) -> str:
        with sqlite3.connect(self.cache) as conn:
            row = conn.execute(
                "SELECT title FROM rss_feed WHERE rssurl = ?", (feed_url,)
            ).fetchone()
        return str(row[0]) if row else ""


def _stored_titles(desk: Desk, topic: str | None) -> list[str]:
    conn = desk.store.reader()
    if topic is None:
        rows = conn.execute("SELECT title FROM articles")
    else:
        rows = conn.execute(
            "SELECT a.title FROM articles a JOIN article_topics t ON t.article_id = a.id"
            " WHERE t.topic = ?",
            (topic,),
        )
    # newsboat shows what XML can carry: the characters XML forbids were removed on output
    return sorted(
        "".join(ch for ch in r[0] if ch >= " " and ch not in "\ufffe\uffff") for r in rows
    )


def test_newsboat_reads_every_feed_and_polls_conditionally(
    desk: Desk, live: LiveServer, tmp_path: Path
) -> None:
    binary = need_binary("newsboat")
    seed(desk)
    base = desk.config.server.base_url
    feeds = {
        f"{base}topics/defense.atom": "defense",
        f"{base}topics/regional-security.rss": "regional-security",
        f"{base}all.atom": None,
        f"{base}all.rss": None,
    }
    # newsboat keys its cache by GUID across feeds, so one reader per feed sees each
    # feed whole
    readers = {url: Newsboat(binary, tmp_path / f"reader{i}", [url]) for i, url in enumerate(feeds)}

    def reload_all() -> None:
        for reader in readers.values():
            reader.reload()

    reload_all()
    for url, topic in feeds.items():
        titles = readers[url].titles(url)
        assert titles == _stored_titles(desk, topic), url
        assert len(titles) >= 3
        assert readers[url].feed_title(url).startswith("wiredesk:")

    # a new story is picked up on the next reload
    desk.pipeline.ingest([navy_story()])
    reload_all()
    defense = f"{base}topics/defense.atom"
    assert NAVY_TITLE in readers[defense].titles(defense)
    assert readers[f"{base}all.rss"].titles(f"{base}all.rss") == _stored_titles(desk, None)

    # nothing changes now: newsboat's later reloads are conditional and answered 304
    log: RequestLog = live.server.config.app.state.request_log
    log.entries.clear()
    for _ in range(3):
        reload_all()
    feed_paths = {url.removeprefix(base.rstrip("/")) for url in feeds}
    seen = [r for r in log.entries if r.path in feed_paths]
    assert len(seen) == 3 * len(feeds)
    assert all(r.status in (200, 304) for r in seen)
    not_modified = [r for r in seen if r.status == 304]
    assert {r.path for r in not_modified} == feed_paths
    assert all(r.if_none_match or r.if_modified_since for r in not_modified)
    for url, topic in feeds.items():
        assert readers[url].titles(url) == _stored_titles(desk, topic), url


def test_one_reader_subscribed_to_overlapping_feeds_sees_each_story_once(
    desk: Desk, live: LiveServer, tmp_path: Path
) -> None:
    """The same GUID in every feed: a reader subscribed to a topic and to /all files
    each story once, nothing repeated."""
    binary = need_binary("newsboat")
    seed(desk)
    base = desk.config.server.base_url
    urls = [f"{base}topics/defense.atom", f"{base}topics/regional-security.atom", f"{base}all.atom"]
    reader = Newsboat(binary, tmp_path / "reader", urls)
    reader.reload()
    with sqlite3.connect(reader.cache) as conn:
        guids = [r[0] for r in conn.execute("SELECT guid FROM rss_item WHERE deleted = 0")]
    stored = [r[0] for r in desk.store.reader().execute("SELECT guid FROM articles")]
    assert sorted(guids) == sorted(stored)
