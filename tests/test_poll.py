"""The poller end to end against the misbehaving origin: state kept per source in the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from db import parse_iso
from tests.conftest import write_config
from tests.origin import Origin, Route, gzip_bomb, refused_url, rss
from wiredesk.cli import cli
from wiredesk.config import load_config
from wiredesk.desk import Desk

MakeDesk = Callable[..., Desk]


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as o:
        yield o


@pytest.fixture
def make_desk(tmp_path: Path) -> Iterator[MakeDesk]:
    made: list[Desk] = []

    def make(sources: dict[str, str], **fetch: Any) -> Desk:
        cfg = write_config(
            tmp_path,
            sources=[{"name": n, "url": u, "interval": "15m"} for n, u in sources.items()],
            fetch={"timeout": "3s", "parse_workers": 0, **fetch},
        )
        desk = Desk(load_config(cfg))
        made.append(desk)
        return desk

    yield make
    for d in made:
        d.close()


def db(desk: Desk) -> sqlite3.Connection:
    conn = sqlite3.connect(desk.config.database)
    conn.row_factory = sqlite3.Row
    return conn


def source(desk: Desk, name: str) -> sqlite3.Row:
    row: sqlite3.Row = db(desk).execute("SELECT * FROM sources WHERE name=?", (name,)).fetchone()
    return row


FETCH_COLUMNS = {"last_fetch", "last_success", "next_fetch", "last_status"}


def snapshot(desk: Desk) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sources without its fetch timestamps."""
    conn = db(desk)
    out = {}
    for t in (
        "articles",
        "sightings",
        "article_topics",
        "article_keys",
        "failures",
        "feed_versions",
    ):
        out[t] = [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")]
    cols = [r[1] for r in conn.execute("PRAGMA table_info(sources)") if r[1] not in FETCH_COLUMNS]
    out["sources"] = [
        tuple(r) for r in conn.execute(f"SELECT {','.join(cols)} FROM sources ORDER BY name")
    ]
    return out


def test_repoll_of_unchanged_feeds_is_all_304_and_writes_nothing(
    origin: Origin, make_desk: MakeDesk
) -> None:
    names = {f"f{i}": f"/f{i}.xml" for i in range(6)}
    for i, path in enumerate(names.values()):
        # half validate by ETag, half by Last-Modified only
        origin.routes[path] = Route(
            rss(n=5, prefix=f"f{i}"),
            etag=i % 2 == 0,
            last_modified=None if i % 2 == 0 else datetime(2024, 1, 1, tzinfo=UTC),
        )
    desk = make_desk({n: origin.url(p) for n, p in names.items()})
    first = desk.poll_sources(due_only=False)
    assert sum(s.counts["new"] for s in first.values()) == 30
    before = snapshot(desk)
    origin.statuses.clear()
    again = desk.poll_sources(due_only=False)
    assert origin.statuses == [304] * 6
    assert all(not s.counts and s.error is None for s in again.values())
    assert snapshot(desk) == before
    rows = db(desk).execute("SELECT last_status, last_fetch, next_fetch FROM sources").fetchall()
    assert {r[0] for r in rows} == {304} and all(r[1] and r[2] for r in rows)


def test_a_feed_that_changes_one_item_yields_exactly_one_update(
    origin: Origin, make_desk: MakeDesk
) -> None:
    items = [(f"g{i}", f"Title {i}", f"http://example.org/{i}") for i in range(5)]
    origin.routes["/f"] = Route(rss(items))
    desk = make_desk({"f": origin.url("/f")})
    desk.poll_sources(due_only=False)
    items[2] = ("g2", "Title 2, corrected", "http://example.org/2")
    origin.routes["/f"] = Route(rss(items))
    s = desk.poll_sources(due_only=False)["f"]
    assert s.counts["update"] == 1 and s.counts["new"] == 0 and s.counts["unchanged"] == 4
    conn = db(desk)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 5
    assert (
        conn.execute("SELECT title FROM articles WHERE url='http://example.org/2'").fetchone()[0]
        == "Title 2, corrected"
    )
    assert conn.execute("SELECT count(*) FROM sightings WHERE match='update'").fetchone()[0] == 1


def test_guids_that_rotate_on_every_fetch_make_no_phantom_articles(
    origin: Origin, make_desk: MakeDesk
) -> None:
    def feed(fetch_no: int) -> bytes:
        return rss(
            [
                (f"urn:uuid:{fetch_no}-{i}", f"Story {i}", f"http://example.org/s/{i}")
                for i in range(6)
            ]
        )

    origin.routes["/f"] = Route(feed(1))
    desk = make_desk({"f": origin.url("/f")})
    assert desk.poll_sources(due_only=False)["f"].counts["new"] == 6
    for n in (2, 3, 4):
        origin.routes["/f"] = Route(feed(n))
        s = desk.poll_sources(due_only=False)["f"]
        assert s.counts["new"] == 0 and s.counts["exact"] == 0 and s.counts["unchanged"] == 6, n
    conn = db(desk)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 6
    keys = [r[0] for r in conn.execute("SELECT item_key FROM sightings ORDER BY item_key")]
    assert keys == [f"http://example.org/s/{i}" for i in range(6)]
    src = source(desk, "f")
    assert src["identity"] == "link"


def test_stable_guids_with_a_new_item_keep_guid_identity(
    origin: Origin, make_desk: MakeDesk
) -> None:
    items = [(f"g{i}", f"T {i}", f"http://example.org/{i}") for i in range(4)]
    origin.routes["/f"] = Route(rss(items))
    desk = make_desk({"f": origin.url("/f")})
    desk.poll_sources(due_only=False)
    # a story moves to a new link under the same guid, and a new one arrives: no switch
    items[0] = ("g0", "T 0", "http://example.org/moved")
    origin.routes["/f"] = Route(rss([("g9", "T 9", "http://example.org/9"), *items]))
    s = desk.poll_sources(due_only=False)["f"]
    assert s.counts["new"] == 1
    assert source(desk, "f")["identity"] == "guid"


def test_repeated_guids_in_one_document(origin: Origin, make_desk: MakeDesk) -> None:
    items = [
        ("same", "First story", "http://example.org/a"),
        ("same", "Second story", "http://example.org/b"),  # a different item, same guid
        ("same", "First story", "http://example.org/a"),  # the first one told twice
        ("other", "Third story", "http://example.org/c"),
    ]
    origin.routes["/f"] = Route(rss(items))
    desk = make_desk({"f": origin.url("/f")})
    s = desk.poll_sources(due_only=False)["f"]
    assert s.counts["new"] == 3 and s.counts["repeated"] == 1
    again = desk.poll_sources(due_only=False)
    assert again["f"].counts == {}  # 304
    origin.routes["/f"] = Route(rss([*items, ("x", "Fourth", "http://example.org/d")]))
    s = desk.poll_sources(due_only=False)["f"]
    assert s.counts["new"] == 1 and s.counts["unchanged"] == 3
    titles = sorted(r[0] for r in db(desk).execute("SELECT title FROM articles"))
    assert titles == ["First story", "Fourth", "Second story", "Third story"]


def test_permanent_redirect_moves_the_url_only_after_a_successful_parse(
    origin: Origin, make_desk: MakeDesk
) -> None:
    origin.routes["/old"] = Route(status=301, redirect="/new")
    origin.routes["/new"] = Route(
        b"<html><body>maintenance</body></html>", content_type="text/html"
    )
    desk = make_desk({"f": origin.url("/old")})
    desk.poll_sources(due_only=False)
    assert source(desk, "f")["url"] == origin.url("/old")
    assert source(desk, "f")["last_error"] == "an HTML page, not a feed"
    origin.routes["/new"] = Route(rss(n=2))
    desk.poll_sources(due_only=False)
    row = source(desk, "f")
    assert row["url"] == origin.url("/new") and row["error_count"] == 0
    origin.hits.clear()
    desk.poll_sources(due_only=False)
    assert origin.hits["/old"] == 0 and origin.hits["/new"] == 1


def test_temporary_redirect_never_moves_the_url(origin: Origin, make_desk: MakeDesk) -> None:
    origin.routes["/old"] = Route(status=307, redirect="/tmp")
    origin.routes["/tmp"] = Route(rss(n=2))
    desk = make_desk({"f": origin.url("/old")})
    assert desk.poll_sources(due_only=False)["f"].counts["new"] == 2
    assert source(desk, "f")["url"] == origin.url("/old")


def test_410_gone_stops_polling_until_asked_by_name(origin: Origin, make_desk: MakeDesk) -> None:
    origin.routes["/f"] = Route(status=410)
    desk = make_desk({"f": origin.url("/f")})
    desk.poll_sources(due_only=False)
    row = source(desk, "f")
    assert row["gone"] == 1 and row["next_fetch"] is None and "410 Gone" in row["last_error"]
    desk.poll_sources(due_only=True)
    desk.poll_sources(due_only=False)
    assert origin.hits["/f"] == 1
    desk.poll_sources(due_only=False, only="f")
    assert origin.hits["/f"] == 2


def test_retry_after_is_honoured(origin: Origin, make_desk: MakeDesk) -> None:
    origin.routes["/f"] = Route(status=429, headers={"Retry-After": "7200"})
    desk = make_desk({"f": origin.url("/f")})
    now = datetime.now(UTC)
    desk.poll_sources(due_only=False)
    row = source(desk, "f")
    due = parse_iso(row["next_fetch"])
    assert now + timedelta(seconds=7190) <= due <= now + timedelta(seconds=7300)
    assert row["last_status"] == 429 and row["error_count"] == 1


def test_backoff_grows_with_errors_and_resets_on_success(
    origin: Origin, make_desk: MakeDesk
) -> None:
    origin.routes["/f"] = Route(status=500)
    desk = make_desk({"f": origin.url("/f")}, jitter=0)
    delays = []
    for _ in range(3):
        now = datetime.now(UTC)
        desk.poll_sources(due_only=False)
        delays.append((parse_iso(source(desk, "f")["next_fetch"]) - now).total_seconds())
    assert source(desk, "f")["error_count"] == 3
    assert source(desk, "f")["last_error"] == "HTTP 500 Internal Server Error"
    assert [round(d / 900) for d in delays] == [2, 4, 8]
    origin.routes["/f"] = Route(rss(n=1))
    now = datetime.now(UTC)
    desk.poll_sources(due_only=False)
    row = source(desk, "f")
    assert row["error_count"] == 0 and row["last_error"] is None and row["last_success"]
    assert round((parse_iso(row["next_fetch"]) - now).total_seconds() / 900) == 1


def test_feed_ttl_is_a_lower_bound_on_the_interval(origin: Origin, make_desk: MakeDesk) -> None:
    origin.routes["/f"] = Route(rss(n=1, ttl=120))  # minutes
    desk = make_desk({"f": origin.url("/f")}, jitter=0)
    now = datetime.now(UTC)
    desk.poll_sources(due_only=False)
    assert abs((parse_iso(source(desk, "f")["next_fetch"]) - now).total_seconds() - 7200) <= 2
    now = datetime.now(UTC)
    desk.poll_sources(due_only=False)  # a 304 carries no ttl: the stored one still counts
    assert origin.statuses[-1] == 304
    assert abs((parse_iso(source(desk, "f")["next_fetch"]) - now).total_seconds() - 7200) <= 2


def test_due_only_polls_what_the_store_says_is_due(origin: Origin, make_desk: MakeDesk) -> None:
    origin.routes["/a"] = Route(rss(n=1, prefix="a"))
    origin.routes["/b"] = Route(rss(n=1, prefix="b"))
    desk = make_desk({"a": origin.url("/a"), "b": origin.url("/b")})
    desk.poll_sources(due_only=True)
    assert origin.hits == {"/a": 1, "/b": 1}
    desk.poll_sources(due_only=True)
    assert origin.hits == {"/a": 1, "/b": 1}
    with desk.store.write() as w:
        w.conn.execute("UPDATE sources SET next_fetch='2000-01-01T00:00:00Z' WHERE name='b'")
    desk.poll_sources(due_only=True)
    assert origin.hits == {"/a": 1, "/b": 2}


def test_per_host_limit_queues_without_eating_the_deadline(
    origin: Origin, make_desk: MakeDesk
) -> None:
    for i in range(6):
        origin.routes[f"/s{i}"] = Route(rss(n=1, prefix=f"s{i}"), trickle=0.0015)
    size = len(origin.routes["/s0"].body)
    desk = make_desk(
        {f"s{i}": origin.url(f"/s{i}") for i in range(6)},
        per_host=2,
        timeout=f"{size * 0.0015 * 2.5:.1f}s",
    )
    out = desk.poll_sources(due_only=False)
    assert origin.peak == 2
    assert all(s.error is None and s.counts["new"] == 1 for s in out.values()), out


def test_bad_inputs_are_recorded_on_their_source_and_nothing_else_is_affected(
    origin: Origin, make_desk: MakeDesk
) -> None:
    huge = b"".join(
        b"<item><guid>g%d</guid><title>t %d</title></item>" % (i, i) for i in range(100_000)
    )
    origin.routes.update(
        {
            "/good": Route(rss(n=3, prefix="good")),
            "/html": Route(
                b"<!DOCTYPE html><html><body>Not here</body></html>", content_type="text/html"
            ),
            "/empty": Route(b""),
            "/bomb": Route(raw_encoded=gzip_bomb(1 << 30), encoding="gzip"),
            "/loop1": Route(status=302, redirect="/loop2"),
            "/loop2": Route(status=302, redirect="/loop1"),
            "/hang": Route(hang=True),
            "/huge": Route(
                b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>'
                + huge
                + b"</channel></rss>"
            ),
        }
    )
    sources = {
        name: origin.url(f"/{name}") for name in ("good", "html", "empty", "bomb", "hang", "huge")
    }
    sources |= {
        "loop": origin.url("/loop1"),
        "missing": origin.url("/nothing"),
        "refused": refused_url(),
    }
    desk = make_desk(sources, max_items=1000, timeout="4s", parse_workers=2)
    out = desk.poll_sources(due_only=False)
    expected = {
        "html": "an HTML page, not a feed",
        "empty": "empty body: no feed document",
        "bomb": f"body larger than {16 << 20} bytes (decoded): refused",
        "loop": f"redirect loop: {origin.url('/loop1')} again",
        "hang": "timed out: no complete answer within 4s",
        "missing": "HTTP 404 Not Found",
        "huge": "feed has 100000 entries: only the first 1000 taken in",
    }
    for name, error in expected.items():
        row = source(desk, name)
        assert (row["last_error"], row["error_count"], out[name].error) == (error, 1, error), name
    assert source(desk, "refused")["last_error"].startswith("cannot connect")
    assert out["good"].error is None and out["good"].counts["new"] == 3
    assert source(desk, "good")["error_count"] == 0
    assert out["huge"].counts["new"] == 1000
    failures = db(desk).execute("SELECT reason FROM failures WHERE source='huge'").fetchall()
    assert [f[0] for f in failures] == [
        "feed has 100000 entries, more than fetch.max_items=1000: 99000 not taken in"
    ]


def test_status_command_shows_each_sources_error(
    origin: Origin, make_desk: MakeDesk, tmp_path: Path
) -> None:
    origin.routes["/ok"] = Route(rss(n=2))
    desk = make_desk({"ok": origin.url("/ok"), "broken": origin.url("/nothing")})
    desk.poll_sources(due_only=False)
    desk.close()
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.yaml"), "status"], obj={})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "404" in lines["broken"] and "HTTP 404 Not Found" in lines["broken"]
    assert lines["broken"].split()[3] == "1"  # error count
    assert "200" in lines["ok"]


def test_workers_started_before_a_poll_parse_it(origin: Origin, make_desk: MakeDesk) -> None:
    """`Desk.start_workers` (the benchmarks call it before timing) starts the parse pool
    and the drop pool with the topic rules; the poll then parses in those very workers."""
    items = [(f"g{i}", f"Troops and NATO drills {i}", f"http://example.org/{i}") for i in range(3)]
    origin.routes["/f"] = Route(rss(items))
    desk = make_desk({"f": origin.url("/f")}, parse_workers=1)
    desk.drops.workers = 1
    desk.start_workers()
    pool = desk.poller._pool
    assert pool is not None
    started = pool.pids()
    assert len(started) == 1
    assert desk.drops._pool is not None
    out = desk.poll_sources(due_only=False)
    assert out["f"].counts["new"] == 3 and out["f"].error is None
    assert pool.pids() == started  # the same worker, not a new one
    assert db(desk).execute("SELECT count(*) FROM article_topics").fetchone()[0] > 0
