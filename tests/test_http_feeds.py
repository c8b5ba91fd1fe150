"""The feeds over real HTTP (uvicorn on loopback, aiohttp client): ETag/Last-Modified and
304s, gzip with Vary, HEAD, media types, 404/405/400, filtered and archived feeds, OPML,
static assets, WebSub pings, and the static export."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import feedparser
import pytest
from aiohttp import web
from lxml import etree  # type: ignore[import-untyped]
from multidict import CIMultiDictProxy

from db import queries
from tests.conftest import LiveServer, write_config
from tests.seeding import seed
from wiredesk.config import load_config
from wiredesk.desk import Desk


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


def fetch(method: str, url: str, headers: dict[str, str] | None = None) -> Answer:
    async def go() -> Answer:
        async with (
            aiohttp.ClientSession(auto_decompress=False) as s,
            # aiohttp asks for gzip by default; a plain request must say identity
            s.request(method, url, headers={"Accept-Encoding": "identity", **(headers or {})}) as r,
        ):
            return Answer(r.status, r.headers, await r.read())

    return asyncio.run(go())


MEDIA = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


@pytest.fixture
def seeded(desk: Desk, live: LiveServer) -> LiveServer:
    seed(desk)
    return live


def test_media_types_validators_and_cache_headers(seeded: LiveServer) -> None:
    for path in (
        "topics/defense",
        "topics/regional-security",
        "all",
        "topics/defense+regional-security",
    ):
        for fmt, media in MEDIA.items():
            a = fetch("GET", f"{seeded.base}/{path}.{fmt}")
            assert a.status == 200, path
            assert a.headers["Content-Type"] == media
            assert a.headers["ETag"].startswith('"')
            assert a.headers["Last-Modified"].endswith(" GMT")
            assert "max-age" in a.headers["Cache-Control"]
            assert a.headers["Vary"] == "Accept-Encoding"
    assert (
        fetch("GET", f"{seeded.base}/feeds.opml")
        .headers["Content-Type"]
        .startswith("text/x-opml; charset=utf-8")
    )
    assert fetch("GET", f"{seeded.base}/").headers["Content-Type"] == "text/html; charset=utf-8"


def test_both_conditional_forms_answer_304(seeded: LiveServer) -> None:
    url = f"{seeded.base}/topics/defense.atom"
    first = fetch("GET", url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    by_etag = fetch("GET", url, {"If-None-Match": etag})
    assert (by_etag.status, by_etag.body) == (304, b"")
    assert by_etag.headers["ETag"] == etag
    assert fetch("GET", url, {"If-None-Match": f'W/{etag}, "other"'}).status == 304
    assert fetch("GET", url, {"If-Modified-Since": modified}).status == 304
    assert fetch("GET", url, {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status == 200
    # If-None-Match wins over If-Modified-Since
    assert (
        fetch("GET", url, {"If-None-Match": '"stale"', "If-Modified-Since": modified}).status == 200
    )
    # the ETag comes from the bytes: the same body gives the same tag
    assert fetch("GET", url).headers["ETag"] == etag


def test_gzip_and_head(seeded: LiveServer) -> None:
    url = f"{seeded.base}/all.rss"
    plain = fetch("GET", url)
    zipped = fetch("GET", url, {"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body) == plain.body
    assert len(zipped.body) < len(plain.body)
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert (
        fetch(
            "GET", url, {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
        ).status
        == 304
    )
    head = fetch("HEAD", url)
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(plain.body))
    assert head.headers["ETag"] == plain.headers["ETag"]


def test_unknown_feeds_and_methods(seeded: LiveServer) -> None:
    for path in (
        "topics/nope.atom",
        "topics/defense.xml",
        "topics/defense+nope.rss",
        "topics/defense+defense.rss",
        "topics/defense/archive/1999-01-01.atom",
        "topics/defense/archive/2024-13-45.atom",
        "nothing-here",
        "static/../config.yaml",
        "static/missing.css",
        "articles/999999",
        "articles/abc",
    ):
        assert fetch("GET", f"{seeded.base}/{path}").status == 404, path
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        a = fetch(method, f"{seeded.base}/topics/defense.atom")
        assert a.status == 405, method
        assert set(a.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_filtered_feeds_over_http(seeded: LiveServer, desk: Desk) -> None:
    a = fetch("GET", f"{seeded.base}/all.atom?q=Kant&utm_source=x")
    assert a.status == 200
    parsed = feedparser.parse(a.body)
    assert [e.title for e in parsed.entries if "Kant" in e.title] == [
        e.title for e in parsed.entries
    ]
    assert len(parsed.entries) == 1
    self_link = next(ln.href for ln in parsed.feed.links if ln.rel == "self")
    assert self_link == f"{desk.config.server.base_url}all.atom?q=Kant"
    j = json.loads(fetch("GET", f"{seeded.base}/topics/defense.json?lang=ru&limit=5").body)
    assert [i["language"] for i in j["items"]] == ["ru"]
    assert j["feed_url"].endswith("topics/defense.json?lang=ru&limit=5")
    for bad in ("q=%22unbalanced", "limit=0", "since=yesterday", "lang=x1"):
        r = fetch("GET", f"{seeded.base}/all.atom?{bad}")
        assert r.status == 400, bad
        assert bad.split("=")[0] in r.body.decode()
    assert fetch("GET", f"{seeded.base}/all/archive/2024-03-04.atom?q=x").status == 400


def test_archive_documents_over_http(seeded: LiveServer) -> None:
    sub = feedparser.parse(fetch("GET", f"{seeded.base}/all.atom").body)
    prev = next(ln.href for ln in sub.feed.links if ln.rel == "prev-archive")
    a = fetch("GET", prev)
    assert a.status == 200 and b"<fh:archive/>" in a.body
    assert a.headers["Cache-Control"] == "public, max-age=3600"  # a past day


def test_opml_lists_every_topic_in_every_format(seeded: LiveServer, desk: Desk) -> None:
    root = etree.fromstring(fetch("GET", f"{seeded.base}/feeds.opml").body)
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    want = [
        f"{desk.config.server.base_url}{p}.{fmt}"
        for p in [*(f"topics/{t}" for t in desk.publisher.topics), "all"]
        for fmt in ("atom", "rss", "json")
    ]
    assert sorted(urls) == sorted(want)
    assert all(o.get("type") == "rss" for o in root.iter("outline") if o.get("xmlUrl"))
    for url in urls:
        assert fetch("GET", url).status == 200


def test_index_links_every_feed_and_uses_only_local_assets(seeded: LiveServer, desk: Desk) -> None:
    html = fetch("GET", f"{seeded.base}/").body.decode()
    doc = etree.HTML(html)
    alternates = {ln.get("href") for ln in doc.iter("link") if ln.get("rel") == "alternate"}
    base = desk.config.server.base_url
    for p in [*(f"topics/{t}" for t in desk.publisher.topics), "all"]:
        for fmt in ("atom", "rss", "json"):
            assert f"{base}{p}.{fmt}" in alternates
    assert doc.xpath("//form[@role='search']//input[@name='q']")
    assert len(doc.xpath("//figure[@class='chart']/svg")) == len(desk.publisher.topics) + 1
    for el in doc.iter("link", "script", "img"):
        ref = el.get("href") or el.get("src") or ""
        if el.get("rel") != "alternate":
            assert not ref.startswith(("http:", "https:", "//")), ref
    for asset, media in (("style.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        a = fetch("GET", f"{seeded.base}/static/{asset}")
        assert a.status == 200 and a.headers["Content-Type"].startswith(media)
    assert fetch("GET", f"{seeded.base}/search?q=Kant").body.count(b"<li>") == 1
    # people type words, not FTS5 syntax
    assert fetch("GET", f"{seeded.base}/search?q=Kant's%20%22base").status == 200


def test_render_count_does_not_grow_with_requests(seeded: LiveServer, desk: Desk) -> None:
    fetch("GET", f"{seeded.base}/topics/defense.atom")
    before = desk.publisher.renders
    for _ in range(20):
        fetch("GET", f"{seeded.base}/topics/defense.atom")
    assert desk.publisher.renders == before


class Hub:
    """A WebSub hub on loopback that records publish pings."""

    def __init__(self) -> None:
        self.pings: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.pings.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.Response(status=204)


def test_websub_hub_is_linked_and_pinged_when_a_topic_changes(tmp_path: Path) -> None:
    hub = Hub()

    changed: set[str] = set()  # the topics that have stories after seeding

    async def scenario() -> list[dict[str, str]]:
        app = web.Application()
        app.router.add_post("/hub", hub.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        cfg = load_config(
            write_config(tmp_path, publish={"websub_hub": f"http://127.0.0.1:{port}/hub"})
        )
        desk = Desk(cfg)
        try:
            seed(desk)
            atom = feedparser.parse(desk.publisher.feed(["defense"], "atom").body)
            assert {ln.rel: ln.href for ln in atom.feed.links}["hub"] == cfg.publish.websub_hub
            js = json.loads(desk.publisher.feed(["defense"], "json").body)
            assert js["hubs"] == [{"type": "WebSub", "url": cfg.publish.websub_hub}]
            await asyncio.to_thread(desk.announce)
            first = list(hub.pings)
            changed.update(queries.topic_counts(desk.store.reader()))
            await asyncio.to_thread(desk.announce)  # nothing changed: no ping
            assert hub.pings == first
            from ingest.item import Item

            desk.pipeline.ingest(
                [Item(source="tass", item_key="w", title="Sunny weather", body="Warm.")]
            )
            await asyncio.to_thread(desk.announce)
            return [*first, {"later": "1"}, *hub.pings[len(first) :]]
        finally:
            desk.close()
            await runner.cleanup()

    pings = asyncio.run(scenario())
    split = pings.index({"later": "1"})
    first, later = pings[:split], pings[split + 1 :]
    assert all(p["hub.mode"] == "publish" for p in first + later)
    assert {"defense", "regional-security"} <= changed
    assert {p["hub.url"].rsplit("/", 1)[1] for p in first} == {
        f"{t}.{fmt}" for t in [*changed, "all"] for fmt in ("atom", "rss", "json")
    }
    # only /all moved (the weather story joined no topic)
    assert sorted(p["hub.url"].rsplit("/", 1)[1] for p in later) == [
        "all.atom",
        "all.json",
        "all.rss",
    ]


def test_cli_export_writes_feeds_archives_opml_index_and_assets(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path)
    desk = Desk(load_config(cfg_path))
    seeded = seed(desk)
    desk.close()
    out = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, "-m", "wiredesk", "--config", str(cfg_path), "export", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    for day in seeded.per_day:
        for fmt in ("atom", "rss", "json"):
            assert (out / "all" / "archive" / f"{day}.{fmt}").stat().st_size > 0
    for rel in ("topics/defense.atom", "feeds.opml", "index.html", "static/style.css"):
        assert (out / rel).stat().st_size > 0
    # the archive links in the exported subscription document point at exported files
    sub = feedparser.parse((out / "all.atom").read_bytes())
    prev = next(ln.href for ln in sub.feed.links if ln.rel == "prev-archive")
    base = load_config(cfg_path).server.base_url
    assert (out / prev.removeprefix(base)).exists()
