"""Server-side request forgery: a public source never reaches a private address.

The origin listens on 127.0.0.1 and 127.0.0.2 (same port). In these tests 127.0.0.2 plays
"the internet": a fake DNS maps `public.test` there and the guard is told that this one
address is public. Everything else keeps the real rules, so each refusal below is the
production code refusing a real loopback, private or link-local address. A refused
redirect must leave the origin's hit counter for its target at zero.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from ingest.fetcher import (
    FetchResult,
    FetchSettings,
    GuardedResolver,
    IPAddress,
    PrivateAddressError,
    Sessions,
    fetch,
    is_private,
    private_ip,
)
from tests.conftest import write_config
from tests.origin import Origin, Route, rss
from wiredesk.config import load_config
from wiredesk.desk import Desk

PUBLIC = ipaddress.ip_address("127.0.0.2")


def blocked_for_tests(addr: IPAddress) -> bool:
    return addr != PUBLIC and private_ip(addr)


class FakeDNS(AbstractResolver):
    """Answers from a table; a host with several answer sets gives the next one on each
    look-up (the last one repeats): DNS rebinding."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = {k: list(v) for k, v in table.items()}
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        answers = self.table.get(host)
        if not answers:
            raise OSError(f"no such host: {host}")
        ips = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in ips
        ]

    async def close(self) -> None:
        pass


DNS = {
    "public.test": [["127.0.0.2"]],
    "internal.test": [["127.0.0.1"]],  # a name for loopback other than localhost
    "localhost": [["127.0.0.1"]],
    "mixed.test": [["127.0.0.2", "127.0.0.1"]],
    "metadata.test": [["169.254.169.254"]],
}


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin(hosts=("127.0.0.1", "127.0.0.2")) as o:
        o.routes["/feed"] = Route(rss(n=2))
        o.routes["/target"] = Route(rss(n=1, prefix="secret"))
        yield o


def get(
    url: str,
    dns: FakeDNS | None = None,
    *,
    allow_private: bool = False,
) -> FetchResult:
    settings = FetchSettings(timeout=5, allow_private=allow_private)

    async def go() -> FetchResult:
        async with Sessions(settings, 4, dns or FakeDNS(DNS), blocked_for_tests) as sessions:
            return await fetch(sessions, url, settings)

    return asyncio.run(go())


def test_the_public_stand_in_is_reachable(origin: Origin) -> None:
    r = get(f"http://public.test:{origin.port}/feed")
    assert r.status == 200 and r.error is None


PRIVATE_TARGETS = [
    "http://127.0.0.1:{port}/target",
    "http://127.1:{port}/target",
    "http://0x7f000001:{port}/target",
    "http://2130706433:{port}/target",
    "http://0177.0.0.1:{port}/target",
    "http://localhost:{port}/target",
    "http://localhost.:{port}/target",
    "http://LOCALHOST:{port}/target",
    "http://feeds.localhost:{port}/target",
    "http://[::1]:{port}/target",
    "http://[::ffff:127.0.0.1]:{port}/target",
    "http://0.0.0.0:{port}/target",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/admin",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
]


@pytest.mark.parametrize("target", PRIVATE_TARGETS)
def test_redirect_from_public_to_a_private_literal_is_refused(origin: Origin, target: str) -> None:
    target = target.format(port=origin.port)
    origin.routes["/hop"] = Route(status=302, redirect=target)
    r = get(f"http://public.test:{origin.port}/hop")
    assert r.error == f"refused redirect from a public host to a private address: {target}"
    assert origin.hits["/target"] == 0


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("internal.test", "127.0.0.1"),
        ("mixed.test", "127.0.0.1"),
        ("metadata.test", "169.254.169.254"),
    ],
)
def test_redirect_to_a_name_that_resolves_private_is_refused_at_connect(
    origin: Origin, name: str, address: str
) -> None:
    origin.routes["/hop"] = Route(status=301, redirect=f"http://{name}:{origin.port}/target")
    r = get(f"http://public.test:{origin.port}/hop")
    assert r.error == (
        f"refused: {name} resolves to {address}, a private address"
        " (set fetch.allow_private: true to allow)"
    )
    assert origin.hits["/target"] == 0


def test_dns_rebinding_is_caught_on_the_next_connection(origin: Origin) -> None:
    dns = FakeDNS({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    url = f"http://rebind.test:{origin.port}/feed"
    first = get(url, dns)
    assert first.status == 200
    second = get(url, dns)
    assert second.error is not None and second.error.startswith(
        "refused: rebind.test resolves to 127.0.0.1"
    )
    assert origin.hits["/feed"] == 1
    assert dns.lookups == ["rebind.test", "rebind.test"]


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.2/feed.xml",
        "gopher://127.0.0.2:70/1",
        "data:text/xml,<rss/>",
        "javascript:alert(1)",
    ],
)
def test_redirect_to_another_scheme_is_refused_even_with_allow_private(
    origin: Origin, target: str
) -> None:
    origin.routes["/hop"] = Route(status=302, redirect=target)
    for allow in (False, True):
        r = get(f"http://public.test:{origin.port}/hop", allow_private=allow)
        assert r.error == f"refused redirect to a non-http(s) URL: {target}"


def test_a_source_configured_with_a_private_address_is_allowed(origin: Origin) -> None:
    origin.routes["/hop"] = Route(status=302, redirect=f"http://localhost:{origin.port}/target")
    for url in (
        f"http://127.0.0.1:{origin.port}/feed",
        f"http://localhost:{origin.port}/feed",
        f"http://127.0.0.1:{origin.port}/hop",  # private to private: the operator's network
    ):
        r = get(url)
        assert r.status == 200 and r.error is None, url


def test_a_configured_name_that_resolves_private_needs_allow_private(origin: Origin) -> None:
    """Only a private *literal* in the config counts as the operator's explicit choice: a
    name is judged by what it resolves to at each connection (else rebinding wins)."""
    url = f"http://internal.test:{origin.port}/feed"
    assert get(url).error == (
        "refused: internal.test resolves to 127.0.0.1, a private address"
        " (set fetch.allow_private: true to allow)"
    )
    assert get(url, allow_private=True).status == 200


def test_allow_private_lets_public_sources_redirect_inward(origin: Origin) -> None:
    origin.routes["/hop"] = Route(status=302, redirect=f"http://127.0.0.1:{origin.port}/target")
    r = get(f"http://public.test:{origin.port}/hop", allow_private=True)
    assert r.status == 200 and origin.hits["/target"] == 1


def test_guard_with_the_systems_own_resolver() -> None:
    """No fake DNS: the C library's answers for names in /etc/hosts are checked too."""

    async def go(host: str) -> None:
        await GuardedResolver().resolve(host, 80)

    for host in ("localhost", socket.gethostname()):
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, 80, socket.AF_INET)}
        if all(private_ip(ipaddress.ip_address(a)) for a in addrs):
            with pytest.raises(PrivateAddressError, match=f"refused: {host} resolves to"):
                asyncio.run(go(host))


def test_literal_classification() -> None:
    for url in PRIVATE_TARGETS:
        assert is_private(url.format(port=80)), url
    for url in ("http://example.org/", "http://93.184.216.34/", "http://[2606:4700::1111]/"):
        assert not is_private(url), url
    assert not private_ip(ipaddress.ip_address("::ffff:93.184.216.34"))


def test_poller_records_each_refusal_on_its_source(origin: Origin, tmp_path: Path) -> None:
    port = origin.port
    origin.routes["/to-loopback"] = Route(status=302, redirect=f"http://127.0.0.1:{port}/target")
    sources = {
        "public": f"http://public.test:{port}/feed",
        "to-loopback": f"http://public.test:{port}/to-loopback",
        "internal-name": f"http://internal.test:{port}/feed",
        "explicit": f"http://127.0.0.1:{port}/feed",
    }
    cfg = write_config(
        tmp_path,
        sources=[{"name": n, "url": u} for n, u in sources.items()],
        fetch={"parse_workers": 0, "timeout": "5s"},
    )
    desk = Desk(load_config(cfg))
    try:
        desk.poller.resolver_factory = lambda: FakeDNS(DNS)
        desk.poller.blocked_address = blocked_for_tests
        desk.poll_sources(due_only=False)
    finally:
        desk.close()
    errs = dict(
        sqlite3.connect(desk.config.database).execute("SELECT name, last_error FROM sources")
    )
    assert errs["public"] is None and errs["explicit"] is None
    assert errs["to-loopback"] == (
        f"refused redirect from a public host to a private address: http://127.0.0.1:{port}/target"
    )
    assert errs["internal-name"].startswith("refused: internal.test resolves to 127.0.0.1")
    assert origin.hits["/target"] == 0
