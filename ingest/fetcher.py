"""HTTP fetching of feed bytes with aiohttp: conditional GET, byte cap, total deadline, redirects.

Errors are values, not exceptions: every outcome is a FetchResult whose `error` says
what went wrong in words an operator can act on. We follow redirects and decode
gzip/deflate ourselves: the first so that a permanent redirect can be told from a
temporary one and loops named, the second so the byte cap bounds the *decoded* body.

Address safety (server-side request forgery): a fetch whose configured URL names a
public host may only ever connect to public addresses, unless `allow_private`. Two
checks, because aiohttp resolves names itself and skips the resolver for IP literals:
`is_private` looks at the URL of every hop (IP literals in any form the C library
accepts: `127.1`, `0x7f000001`, `2130706433`, `[::ffff:127.0.0.1]`, `0.0.0.0`, and
`localhost` names), and `GuardedResolver` checks every address a name resolves to at
connect time, so a name that resolves to loopback, or a DNS answer that changes between
two fetches (rebinding), cannot reach a private address either. Sources the operator
configured with a private literal (`http://127.0.0.1:8080/feed`) are fetched through a
separate session without the guard, so the two kinds never share a kept-alive connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}


@dataclass
class FetchSettings:
    timeout: float = 30.0  # total deadline, whatever the server does
    max_bytes: int = 16 * 1024 * 1024  # cap on the decoded body
    max_redirects: int = 5
    user_agent: str = "wiredesk/0.1"
    allow_private: bool = False  # may a redirect from a public host lead to a private one


@dataclass
class FetchResult:
    url: str  # the URL finally fetched
    status: int | None = None
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None  # set when every hop was a permanent redirect
    retry_after: float | None = None  # seconds, from Retry-After
    cache_seconds: float | None = None  # from Cache-Control max-age / Expires
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _cache_seconds(headers: dict[str, str]) -> float | None:
    cc = headers.get("cache-control", "")
    for part in cc.split(","):
        k, _, v = part.strip().partition("=")
        if k.lower() == "max-age" and v.strip().isdigit():
            return float(v)
    exp = headers.get("expires")
    if exp:
        try:
            when = parsedate_to_datetime(exp)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None
    return None


class _TooLarge(Exception):
    pass


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def private_ip(addr: IPAddress) -> bool:
    """Loopback, private, link-local (169.254/16, fe80::/10), unspecified (0.0.0.0, which
    Linux connects to loopback), multicast or reserved; an IPv4-mapped IPv6 address is
    judged by its IPv4 address."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_unspecified
        or addr.is_multicast
        or addr.is_reserved
    )


def ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means, in every form the C library
    accepts (`127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`); None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_private(url: str) -> bool:
    """The URL's host is a private address literal or a `localhost` name (no DNS look-up:
    names are checked at connect time by GuardedResolver)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    addr = ip_literal(host)
    return addr is not None and private_ip(addr)


class PrivateAddressError(OSError):
    """A public source's host name resolved to a private address: refused."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(
            f"refused: {host} resolves to {address}, a private address"
            " (set fetch.allow_private: true to allow)"
        )


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's resolver, then refuses the host if ANY of its addresses is
    private: checked on every connection aiohttp opens, not once per source."""

    def __init__(
        self,
        inner: AbstractResolver | None = None,
        blocked: Callable[[IPAddress], bool] = private_ip,
    ) -> None:
        self._inner = inner or DefaultResolver()
        self._blocked = blocked

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self._inner.resolve(host, port, family)
        for info in infos:
            addr = ip_literal(info["host"])
            if addr is None or self._blocked(addr):
                raise PrivateAddressError(host, info["host"])
        return infos

    async def close(self) -> None:
        await self._inner.close()


class Sessions:
    """The client sessions of one pass: `public` (guarded: connects to public addresses
    only) and `private` (for sources configured with a private address literal, and for
    everything when `allow_private`). `async with Sessions(settings, limit) as s: ...`"""

    def __init__(
        self,
        settings: FetchSettings,
        limit: int,
        resolver: AbstractResolver | None = None,
        blocked: Callable[[IPAddress], bool] = private_ip,
    ) -> None:
        self.settings = settings
        self._limit = limit
        self._resolver = resolver  # the name look-up under the guard (tests: a fake DNS)
        self._blocked = blocked  # which resolved addresses the guard refuses
        self.public: aiohttp.ClientSession | None = None
        self.private: aiohttp.ClientSession | None = None

    def _session(self, resolver: AbstractResolver | None) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, resolver=resolver)
        # fetch() enforces its own total deadline
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))

    async def __aenter__(self) -> Sessions:
        self.private = self._session(self._resolver)
        self.public = (
            self.private
            if self.settings.allow_private
            else self._session(GuardedResolver(self._resolver, self._blocked))
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in {id(s): s for s in (self.public, self.private) if s is not None}.values():
            await session.close()

    def for_url(self, url: str) -> aiohttp.ClientSession:
        session = self.private if is_private(url) else self.public
        if session is None:
            raise RuntimeError("Sessions used outside `async with`")
        return session


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """Read and decode the body ourselves, so a gzip bomb stops at `cap` decoded bytes."""
    encoding = resp.headers.get("Content-Encoding", "").lower().strip()
    decomp = None
    if encoding in ("gzip", "x-gzip"):
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    async for chunk in resp.content.iter_chunked(65536):
        if encoding == "deflate" and decomp is None:
            # RFC 9110 deflate is zlib-wrapped; some servers send raw deflate
            zlib_header = (
                len(chunk) >= 2 and (chunk[0] & 0x0F) == 8 and int.from_bytes(chunk[:2]) % 31 == 0
            )
            decomp = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        # max_length stops inflating one byte past the cap: a bomb never expands in memory
        out += decomp.decompress(chunk, cap + 1 - len(out)) if decomp is not None else chunk
        if len(out) > cap:
            raise _TooLarge
    if decomp is not None:
        out += decomp.flush(cap + 1 - len(out))
        if len(out) > cap:
            raise _TooLarge
    return bytes(out)


async def fetch(
    session: aiohttp.ClientSession | Sessions,
    url: str,
    settings: FetchSettings,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """Fetch `url`. With `Sessions`, a public URL goes through the guarded session; a plain
    ClientSession is used as it is (its resolver is the caller's choice)."""
    if isinstance(session, Sessions):
        session = session.for_url(url)
    try:
        return await asyncio.wait_for(
            _fetch(session, url, settings, etag, last_modified), settings.timeout
        )
    except TimeoutError:
        return FetchResult(url, error=f"timed out: no complete answer within {settings.timeout:g}s")


async def _fetch(
    session: aiohttp.ClientSession,
    url: str,
    settings: FetchSettings,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult:
    headers = {
        "User-Agent": settings.user_agent,
        "Accept": "application/atom+xml, application/rss+xml, application/feed+json,"
        " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        # we decode ourselves (byte cap): ask only for what we can cap
        "Accept-Encoding": "gzip, deflate",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    all_permanent = True
    seen = {url}
    for _hop in range(settings.max_redirects + 1):
        scheme = urlsplit(current).scheme.lower()
        if scheme not in ("http", "https"):
            return FetchResult(current, error=f"refused redirect to a non-http(s) URL: {current}")
        if urlsplit(current).hostname is None:
            return FetchResult(
                current, error=f"refused redirect to a URL without a host: {current}"
            )
        try:
            async with session.get(
                current, headers=headers, allow_redirects=False, auto_decompress=False
            ) as resp:
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                if resp.status in REDIRECTS and "location" in hdrs:
                    nxt = urljoin(current, hdrs["location"])
                    if urlsplit(nxt).scheme.lower() not in ("http", "https"):
                        return FetchResult(
                            current,
                            resp.status,
                            error=f"refused redirect to a non-http(s) URL: {nxt}",
                        )
                    if nxt in seen:
                        return FetchResult(
                            current, resp.status, error=f"redirect loop: {nxt} again"
                        )
                    if not settings.allow_private and is_private(nxt) and not is_private(url):
                        return FetchResult(
                            current,
                            resp.status,
                            error=f"refused redirect from a public host to a private address: {nxt}",
                        )
                    seen.add(nxt)
                    all_permanent = all_permanent and resp.status in PERMANENT
                    current = nxt
                    continue
                result = FetchResult(
                    current,
                    resp.status,
                    etag=hdrs.get("etag"),
                    last_modified=hdrs.get("last-modified"),
                    permanent_url=current if current != url and all_permanent else None,
                    retry_after=parse_retry_after(hdrs.get("retry-after")),
                    cache_seconds=_cache_seconds(hdrs),
                    headers=hdrs,
                )
                if resp.status == 304:
                    return result
                if resp.status != 200:
                    result.error = f"HTTP {resp.status} {resp.reason or ''}".strip()
                    return result
                try:
                    result.body = await _read_capped(resp, settings.max_bytes)
                except _TooLarge:
                    result.error = f"body larger than {settings.max_bytes} bytes (decoded): refused"
                except zlib.error as exc:
                    result.error = f"corrupt compressed body: {exc}"
                return result
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                return FetchResult(current, error=str(exc.os_error))
            return FetchResult(current, error=f"cannot connect: {exc.os_error or exc}")
        except aiohttp.ClientError as exc:
            return FetchResult(current, error=f"HTTP error: {type(exc).__name__}: {exc}")
        except OSError as exc:
            return FetchResult(current, error=f"network error: {exc}")
    return FetchResult(current, error=f"too many redirects (more than {settings.max_redirects})")
