"""The HTTP app (Starlette): feeds with ETag/304/gzip, OPML, index, search, health, metrics."""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import queries
from feeds.index import render_search
from feeds.publish import FilterError, Publisher, Rendered

log = logging.getLogger("wiredesk.http")

HTTP_REQUESTS = Counter(
    "wiredesk_http_requests_total", "HTTP requests answered", ["route", "status"]
)
HTTP_SECONDS = Histogram("wiredesk_http_request_seconds", "HTTP request latency", ["route"])
_GZIP_MIN = 256


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None


class RequestLog:
    """The last requests answered (bounded), so operators and tests can see what feed
    readers really send, e.g. whether they poll conditionally."""

    def __init__(self, size: int = 4096) -> None:
        self.entries: deque[LoggedRequest] = deque(maxlen=size)

    def add(self, request: Request, status: int) -> None:
        h = request.headers
        self.entries.append(
            LoggedRequest(
                request.method,
                request.url.path,
                status,
                h.get("if-none-match"),
                h.get("if-modified-since"),
            )
        )


class _GzipCache:
    """Compressed bodies keyed by ETag, so a cached feed is compressed once."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._data: dict[str, bytes] = {}

    def get(self, r: Rendered) -> bytes:
        gz = self._data.get(r.etag)
        if gz is None:
            gz = gzip.compress(r.body, 6, mtime=0)
            if len(self._data) >= self.size:
                self._data.pop(next(iter(self._data)))
            self._data[r.etag] = gz
        return gz


def _not_modified(request: Request, r: Rendered, etag: str) -> bool:
    """If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2); weak comparison."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags or r.etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            return parsedate_to_datetime(r.last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def create_app(
    publisher: Publisher, health: Callable[[], dict[str, object]] | None = None
) -> Starlette:
    gz = _GzipCache()
    request_log = RequestLog()

    def send(request: Request, r: Rendered) -> Response:
        use_gzip = "gzip" in request.headers.get("accept-encoding", "") and len(r.body) >= _GZIP_MIN
        etag = r.etag[:-1] + '-gz"' if use_gzip else r.etag
        headers = {
            "ETag": etag,
            "Last-Modified": r.last_modified,
            "Cache-Control": r.cache_control,
            "Vary": "Accept-Encoding",
        }
        if _not_modified(request, r, etag):
            return Response(status_code=304, headers=headers)
        body = gz.get(r) if use_gzip else r.body
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=r.media_type, headers=headers)

    def timed(
        route: str, fn: Callable[[Request], Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            start = time.perf_counter()
            try:
                response = fn(request)
            except sqlite3.OperationalError as exc:
                log.error("event=http_db_error route=%s error=%r", route, str(exc))
                response = Response("store unavailable\n", status_code=503, media_type="text/plain")
            HTTP_REQUESTS.labels(route, str(response.status_code)).inc()
            request_log.add(request, response.status_code)
            HTTP_SECONDS.labels(route).observe(time.perf_counter() - start)
            return response

        return endpoint

    def text(body: str, status: int) -> Response:
        return Response(body + "\n", status_code=status, media_type="text/plain; charset=utf-8")

    def feed(request: Request) -> Response:
        try:
            req = publisher.parse_request(request.url.path.lstrip("/"), dict(request.query_params))
        except FilterError as exc:
            return text(f"bad query: {exc}", 400)
        if req is None:
            return text("no such feed", 404)
        try:
            rendered = publisher.get(req)
        except sqlite3.OperationalError as exc:
            if req.filter.q is None:
                raise
            return text(f"bad query: q: not a valid full-text query ({exc})", 400)
        if rendered is None:
            return text("no such archive document: no stories that day", 404)
        return send(request, rendered)

    def index(request: Request) -> Response:
        return send(request, publisher.index())

    def static(request: Request) -> Response:
        rendered = publisher.static(request.path_params["name"])
        return send(request, rendered) if rendered else text("no such file", 404)

    def opml(request: Request) -> Response:
        return send(request, publisher.opml())

    def article(request: Request) -> Response:
        raw = request.path_params["id"]
        rendered = publisher.article(int(raw)) if raw.isdigit() else None
        return send(request, rendered) if rendered else text("no such article", 404)

    def search(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        rows: list[sqlite3.Row] = []
        error = None
        if q:
            conn = publisher.store.reader()
            try:
                rows = queries.search(conn, q, limit=50)
            except sqlite3.OperationalError:
                # people type words, not FTS5 syntax: search them as plain terms instead
                plain = " ".join('"' + w.replace('"', '""') + '"' for w in q.split())
                try:
                    rows = queries.search(conn, plain, limit=50)
                except sqlite3.OperationalError as exc:
                    error = f"cannot search for that: {exc}"
        body = render_search(q, rows, publisher.base_url, error)
        return Response(
            body, media_type="text/html; charset=utf-8", status_code=400 if error else 200
        )

    def healthz(request: Request) -> Response:
        info: dict[str, object] = {"status": "ok"}
        try:
            info.update(queries.totals(publisher.store.reader()))
        except sqlite3.Error as exc:
            info = {"status": "error", "error": str(exc)}
        if health is not None:
            info.update(health())
        code = 200 if info.get("status") == "ok" else 503
        return Response(json.dumps(info), status_code=code, media_type="application/json")

    def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    get = ["GET", "HEAD"]
    routes = [
        Route("/", timed("index", index), methods=get),
        Route("/index.html", timed("index", index), methods=get),
        Route("/feeds.opml", timed("opml", opml), methods=get),
        Route("/all.{fmt}", timed("feed", feed), methods=get),
        Route("/all/archive/{day}", timed("feed", feed), methods=get),
        Route("/topics/{name}", timed("feed", feed), methods=get),
        Route("/topics/{name}/archive/{day}", timed("feed", feed), methods=get),
        Route("/static/{name}", timed("static", static), methods=get),
        Route("/articles/{id}", timed("article", article), methods=get),
        Route("/search", timed("search", search), methods=get),
        Route("/healthz", timed("healthz", healthz), methods=get),
        Route("/metrics", timed("metrics", metrics), methods=get),
    ]
    app = Starlette(routes=routes)
    app.state.request_log = request_log
    return app
