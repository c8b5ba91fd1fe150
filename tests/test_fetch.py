"""The fetcher against a real misbehaving origin on loopback (aiohttp.web), not a mock."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from ingest.fetcher import FetchResult, FetchSettings, fetch, is_private, parse_retry_after
from tests.origin import Origin, Route, gzip_bomb, refused_url, rss


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as o:
        yield o


def get(url: str, settings: FetchSettings | None = None, **kw: str | None) -> FetchResult:
    async def go() -> FetchResult:
        async with aiohttp.ClientSession() as session:
            return await fetch(session, url, settings or FetchSettings(timeout=5), **kw)

    return asyncio.run(go())


def test_plain_200_keeps_validators_and_conditional_get_is_304(origin: Origin) -> None:
    lm = datetime(2024, 5, 1, tzinfo=UTC)
    origin.routes["/f"] = Route(rss(n=3), last_modified=lm)
    first = get(origin.url("/f"))
    assert first.status == 200 and first.error is None
    assert first.body == origin.routes["/f"].body
    assert first.etag and first.last_modified == format_datetime(lm, usegmt=True)
    again = get(origin.url("/f"), etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.body is None and again.error is None
    assert origin.conditional["/f"] == 1


def test_last_modified_alone_gives_304(origin: Origin) -> None:
    lm = datetime(2024, 5, 1, tzinfo=UTC)
    origin.routes["/f"] = Route(rss(n=1), etag=False, last_modified=lm)
    first = get(origin.url("/f"))
    assert first.etag is None
    assert get(origin.url("/f"), last_modified=first.last_modified).status == 304


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded(origin: Origin, encoding: str) -> None:
    body = rss(n=20, body_bytes=500)
    origin.routes["/f"] = Route(body, encoding=encoding)
    assert get(origin.url("/f")).body == body


def test_raw_deflate_without_zlib_header_is_decoded(origin: Origin) -> None:
    body = rss(n=5)
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    origin.routes["/f"] = Route(
        body, encoding="deflate", raw_encoded=comp.compress(body) + comp.flush()
    )
    assert get(origin.url("/f")).body == body


def test_gzip_bomb_stops_at_the_byte_cap(origin: Origin) -> None:
    origin.routes["/bomb"] = Route(raw_encoded=gzip_bomb(1 << 30), encoding="gzip")
    r = get(origin.url("/bomb"), FetchSettings(timeout=20, max_bytes=4 << 20))
    assert r.body is None
    assert r.error == f"body larger than {4 << 20} bytes (decoded): refused"


def test_plain_body_over_the_cap_is_refused(origin: Origin) -> None:
    origin.routes["/big"] = Route(b"x" * 300_000)
    r = get(origin.url("/big"), FetchSettings(timeout=5, max_bytes=100_000))
    assert r.error is not None and "larger than 100000 bytes" in r.error


def test_corrupt_gzip_is_a_clear_error(origin: Origin) -> None:
    origin.routes["/f"] = Route(raw_encoded=b"\x1f\x8b\x08\x00garbage-garbage", encoding="gzip")
    r = get(origin.url("/f"))
    assert r.error is not None and r.error.startswith("corrupt compressed body")


def test_trickling_body_is_cut_by_the_total_deadline(origin: Origin) -> None:
    origin.routes["/slow"] = Route(rss(n=2), trickle=0.5)
    t = time.monotonic()
    r = get(origin.url("/slow"), FetchSettings(timeout=1.0))
    assert time.monotonic() - t < 3
    assert r.error == "timed out: no complete answer within 1s"


def test_never_answering_server_is_cut_by_the_deadline(origin: Origin) -> None:
    origin.routes["/hang"] = Route(hang=True)
    t = time.monotonic()
    r = get(origin.url("/hang"), FetchSettings(timeout=0.5))
    assert time.monotonic() - t < 3 and r.error is not None and "timed out" in r.error


def test_permanent_redirect_chain_reports_the_new_url(origin: Origin) -> None:
    origin.routes["/old"] = Route(status=301, redirect="/mid")
    origin.routes["/mid"] = Route(status=308, redirect=origin.url("/new"))
    origin.routes["/new"] = Route(rss(n=1))
    r = get(origin.url("/old"))
    assert r.status == 200 and r.url == origin.url("/new") and r.permanent_url == r.url


def test_a_temporary_hop_means_no_permanent_url(origin: Origin) -> None:
    origin.routes["/old"] = Route(status=301, redirect="/mid")
    origin.routes["/mid"] = Route(status=302, redirect="/new")
    origin.routes["/new"] = Route(rss(n=1))
    r = get(origin.url("/old"))
    assert r.status == 200 and r.permanent_url is None


def test_redirect_loop_and_too_many_redirects(origin: Origin) -> None:
    origin.routes["/a"] = Route(status=302, redirect="/b")
    origin.routes["/b"] = Route(status=302, redirect="/a")
    loop = get(origin.url("/a"))
    assert loop.error == f"redirect loop: {origin.url('/a')} again"
    for i in range(10):
        origin.routes[f"/r{i}"] = Route(status=307, redirect=f"/r{i + 1}")
    many = get(origin.url("/r0"), FetchSettings(timeout=5, max_redirects=3))
    assert many.error == "too many redirects (more than 3)"


def test_status_errors_and_refused_connection(origin: Origin) -> None:
    assert get(origin.url("/missing")).error == "HTTP 404 Not Found"
    origin.routes["/gone"] = Route(status=410)
    assert get(origin.url("/gone")).status == 410
    refused = get(refused_url())
    assert refused.status is None and refused.error is not None
    assert refused.error.startswith("cannot connect")


def test_retry_after_seconds_and_date(origin: Origin) -> None:
    origin.routes["/busy"] = Route(status=429, headers={"Retry-After": "120"})
    assert get(origin.url("/busy")).retry_after == 120.0
    when = datetime.now(UTC) + timedelta(hours=1)
    origin.routes["/down"] = Route(
        status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    r = get(origin.url("/down"))
    assert r.retry_after is not None and 3500 < r.retry_after <= 3600


def test_parse_retry_after_rejects_garbage() -> None:
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(past) == 0.0


def test_cache_control_max_age_is_reported(origin: Origin) -> None:
    origin.routes["/f"] = Route(rss(n=1), headers={"Cache-Control": "public, max-age=3600"})
    assert get(origin.url("/f")).cache_seconds == 3600.0


def test_private_address_check() -> None:
    assert is_private("http://127.0.0.1/x") and is_private("http://localhost:8080/")
    assert is_private("http://10.1.2.3/") and is_private("http://[::1]/")
    assert not is_private("http://example.org/") and not is_private("http://93.184.216.34/")
