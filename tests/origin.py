"""A real HTTP origin on loopback (aiohttp.web in a thread) that misbehaves on purpose.

Each path is a `Route`: a body plus how to serve it (status, headers, ETag/Last-Modified
with real conditional-GET handling, gzip/deflate, trickling, redirects, hanging). Tests
and the benchmark change routes while the server runs and read `hits` to see what the
client asked for.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # send a strong ETag and answer If-None-Match with 304
    last_modified: datetime | None = None  # send it and answer If-Modified-Since
    encoding: str | None = None  # 'gzip' | 'deflate': compress the body on the wire
    raw_encoded: bytes | None = None  # send these bytes as-is with `encoding` (bombs)
    redirect: str | None = None  # Location for a 3xx status
    trickle: float | None = None  # seconds between single bytes
    hang: bool = False  # accept the request, never answer
    delay: float = 0.0  # seconds to wait before answering (a slow but honest server)
    endless: bool = False  # after the body, stream 64 KB chunks of it forever


_VOCAB = [
    *[
        "copper",
        "wheat",
        "drone",
        "frigate",
        "embassy",
        "ceasefire",
        "referendum",
        "inflation",
        "budget",
        "typhoon",
    ],
    *[
        "monastery",
        "highway",
        "lithium",
        "uranium",
        "canal",
        "vineyard",
        "shipyard",
        "observatory",
        "dam",
    ],
    *[
        "protest",
        "sanctions",
        "tunnel",
        "ferry",
        "cathedral",
        "marathon",
        "archive",
        "laboratory",
        "quarry",
    ],
    "army",
    "border",
    "summit",
    "treaty",
    "minister",
    "parliament",
    "drought",
    "harvest",
    "election",
    "court",
    "bank",
    "railway",
    "pipeline",
    "festival",
    "museum",
    "vaccine",
    "satellite",
    "glacier",
    "earthquake",
    "tariff",
    "strike",
    "refinery",
    "airport",
    "bridge",
    "university",
    "hospital",
    "orchestra",
    "tournament",
    "reservoir",
    "census",
]


def _words(seed: str, n: int = 24) -> str:
    """Distinct text per item, so generated items are different stories to dedup."""
    digest = hashlib.sha256(seed.encode()).digest()
    return " ".join(_VOCAB[b % len(_VOCAB)] for b in digest[:n])


def prose(seed: str, words: int) -> str:
    """`words` pseudo-words of three random syllables (~10^6 possible), the same for the
    same seed: long bodies that no near-duplicate detector takes for one another."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    return " ".join("".join(rng.choice(syllables) for _ in range(3)) for _ in range(words))


def rss(
    items: list[tuple[str, str, str | None]] | None = None,
    *,
    n: int = 0,
    prefix: str = "item",
    body_bytes: int = 0,
    words: int = 0,
    ttl: int | None = None,
    base: str = "http://example.org",
) -> bytes:
    """An RSS 2.0 document: explicit `(guid, title, link)` triples, or `n` generated items
    each with about `body_bytes` of shared filler HTML and `words` words of its own."""
    if items is None:
        items = [(f"{prefix}-{i}", f"{prefix} title {i}", f"{base}/{prefix}/{i}") for i in range(n)]
    para = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.</p>"
    filler = para * (body_bytes // len(para))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{prefix}</title><link>{base}/</link><description>test</description>"
        + (f"<ttl>{ttl}</ttl>" if ttl is not None else "")
    ]
    for i, (guid, title, link) in enumerate(items):
        date = format_datetime(start + timedelta(minutes=i), usegmt=True)
        parts.append(
            "<item>"
            + (f"<guid isPermaLink='false'>{guid}</guid>" if guid else "")
            + f"<title>{title}</title>"
            + (f"<link>{link}</link>" if link else "")
            + f"<pubDate>{date}</pubDate>"
            + f"<description><![CDATA[<p>{title} body: {_words(title + (link or ''))}.</p>"
            + (f"<p>{prose(guid or title, words)}</p>" if words else "")
            + f"{filler}]]></description></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip stream of `decoded_bytes` zeros, built in chunks (1 GB → ~1 MB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    out = []
    left = decoded_bytes
    while left > 0:
        out.append(comp.compress(chunk[: min(left, len(chunk))]))
        left -= len(chunk)
    out.append(comp.flush())
    return b"".join(out)


class Origin:
    """`with Origin() as o: o.routes['/a.xml'] = Route(...); o.url('/a.xml')`."""

    def __init__(self, hosts: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.hosts = hosts  # loopback addresses to listen on, all on one port
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()  # requests that carried a validator
        self.statuses: list[int] = []  # status of every answer, in order
        self.active = 0  # requests being answered now …
        self.peak = 0  # … and the most at once
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            resp = await self._answer(request)
        finally:
            self.active -= 1
        self.statuses.append(resp.status)
        return resp

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        route = self.routes.get(path)
        if route is None:
            return web.Response(status=404, text="no such feed")
        if route.hang:
            await asyncio.sleep(3600)
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.redirect is not None:
            return web.Response(status=route.status, headers={"Location": route.redirect})
        headers = dict(route.headers)
        if route.status == 200:
            tag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            if inm or ims:
                self.conditional[path] += 1
            if route.etag:
                headers["ETag"] = tag
            if route.last_modified is not None:
                headers["Last-Modified"] = format_datetime(route.last_modified, usegmt=True)
            fresh = (route.etag and inm == tag) or (
                not inm and route.last_modified is not None and ims == headers.get("Last-Modified")
            )
            if fresh:
                return web.Response(status=304, headers=headers)
        body = route.body
        if route.raw_encoded is not None:
            body = route.raw_encoded
            headers["Content-Encoding"] = route.encoding or "gzip"
        elif route.encoding == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        elif route.encoding == "deflate":
            body = zlib.compress(body)
            headers["Content-Encoding"] = "deflate"
        headers["Content-Type"] = route.content_type
        if route.endless:
            resp = web.StreamResponse(status=route.status, headers=headers)
            await resp.prepare(request)
            chunk = (body or b"x") * (65536 // max(1, len(body)) + 1)
            while True:  # until the client hangs up
                await resp.write(chunk[:65536])
        if route.trickle is None:
            return web.Response(status=route.status, body=body, headers=headers)
        resp = web.StreamResponse(status=route.status, headers=headers)
        await resp.prepare(request)
        for i in range(len(body)):
            await resp.write(body[i : i + 1])
            await asyncio.sleep(route.trickle)
        await resp.write_eof()
        return resp

    async def _main(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.hosts[0], 0, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for host in self.hosts[1:]:  # the same port on other loopback addresses
            await web.TCPSite(self._runner, host, self.port, backlog=1024).start()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await self._runner.cleanup()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())
        self._loop.close()

    def __enter__(self) -> Origin:
        self._thread = threading.Thread(target=self._run, daemon=True, name="origin")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("origin did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)


def refused_url() -> str:
    """A loopback URL on which nothing listens (the port was free a moment ago)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"
