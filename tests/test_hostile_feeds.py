"""Hostile feed documents, each served by the local origin: a clear error on that source,
bounded memory and CPU, nothing leaked, no other source affected."""

from __future__ import annotations

import io
import re
import sqlite3
from hashlib import sha1
from pathlib import Path
from typing import Any

import feedparser
import pytest

from ingest.feedparse import FeedFormatError, parse_feed
from tests import test_poll
from tests.origin import Origin, Route, prose, rss
from tests.test_poll import MakeDesk
from wiredesk.desk import Desk

ENTITY_ERROR = "the document declares XML entities (<!ENTITY): refused"
DECL = '<?xml version="1.0" encoding="{enc}"?>\n'


def _feed(
    dtd: str, title: str, *, enc: str = "utf-8", before_dtd: str = "", body: str = "body"
) -> str:
    return (
        DECL.format(enc=enc)
        + before_dtd
        + dtd
        + '\n<rss version="2.0"><channel><title>hostile</title><link>http://example.org/</link>'
        + f"<description>x</description><item><guid>urn:x:{sha1(body.encode()).hexdigest()[:12]}</guid>"
        + f"<title>{title}</title><description>{body}</description></item></channel></rss>\n"
    )


def billion_laughs(enc: str = "utf-8") -> str:
    """10 levels of 10 references: 10^9 'lol's if expanded."""
    ents = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return _feed("<!DOCTYPE rss [\n" + "\n".join(ents) + "\n]>", "&lol9;", enc=enc)


def quadratic(enc: str = "utf-8", *, size: int = 50_000, refs: int = 50_000, **kw: Any) -> str:
    """One 50 KB entity referenced 50,000 times: 2.5 GB if expanded, no nesting at all
    (the form expat's amplification limit and feedparser's loose parser disagree on)."""
    dtd = kw.pop("dtd", None) or f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * size}">\n]>'
    return _feed(dtd, "&a;" * refs, enc=enc, **kw)


LATE_DTD = (
    "<!DOCTYPE rss [\n<!ELEMENT rss ANY>\n<!-- "
    + "padding " * 10_000
    + '-->\n<!ATTLIST rss version CDATA #IMPLIED>\n<!ENTITY a "'
    + "A" * 50_000
    + '">\n]>'
)

# (name, document bytes, extra response headers)
ENTITY_DOCUMENTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("laughs-utf8", billion_laughs().encode(), {}),
    ("quadratic-utf8", quadratic().encode(), {}),
    ("quadratic-late-in-subset", quadratic(dtd=LATE_DTD).encode(), {}),
    ("quadratic-after-80kb-of-comments", quadratic(before_dtd="<!-- c -->\n" * 8000).encode(), {}),
    (
        "quadratic-one-line-dtd",
        quadratic(dtd=f'<!DOCTYPE rss [<!ENTITY a "{"A" * 50_000}">]>').encode(),
        {},
    ),
    ("parameter-entity", _feed('<!DOCTYPE rss [\n<!ENTITY % p "x">\n]>', "t").encode(), {}),
    ("laughs-utf16", billion_laughs("utf-16").encode("utf-16"), {}),
    ("quadratic-utf16-bom", quadratic("utf-16").encode("utf-16"), {}),
    ("quadratic-utf16be-bom", b"\xfe\xff" + quadratic("utf-16").encode("utf-16-be"), {}),
    ("quadratic-utf16le-no-bom", quadratic("utf-16").encode("utf-16-le"), {}),
    ("quadratic-utf32", quadratic("utf-32").encode("utf-32"), {}),
    (
        "quadratic-utf16-by-header",
        quadratic("utf-16").encode("utf-16"),
        {"Content-Type": "application/rss+xml; charset=utf-16"},
    ),
    ("quadratic-ebcdic", quadratic("cp037").encode("cp037"), {}),
    (
        "quadratic-utf7",
        quadratic("utf-7").replace("<!ENTITY", "+ADwAIQ-ENTITY").encode("ascii"),
        {},
    ),
]


@pytest.mark.parametrize(
    ("data", "headers"),
    [(d, h) for _, d, h in ENTITY_DOCUMENTS],
    ids=[n for n, _, _ in ENTITY_DOCUMENTS],
)
def test_every_form_of_entity_declaration_is_refused_before_parsing(
    data: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(FeedFormatError) as exc:
        parse_feed(data, "s", response_headers=headers)
    assert str(exc.value) == ENTITY_ERROR


def test_the_hazard_is_real_feedparser_alone_expands_a_utf16_quadratic_blowup() -> None:
    """Why the check must read the document as feedparser does: a raw-bytes search for
    `<!ENTITY` misses UTF-16, and feedparser then expands the entity without limit."""
    data = quadratic("utf-16", size=10_000, refs=300).encode("utf-16")
    assert b"<!ENTITY" not in data
    out = feedparser.parse(io.BytesIO(data), response_headers={"content-type": "application/xml"})
    assert len(out.entries[0].title) == 10_000 * 300  # 3 MB from a 60 KB document


def test_entity_text_inside_cdata_is_an_article_not_a_declaration() -> None:
    doc = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>sec</title>'
        b"<item><guid>x1</guid><title>XXE explained</title><description><![CDATA["
        b'<p>Attackers write <!ENTITY xxe SYSTEM "file:///etc/passwd"> in a DTD.</p>'
        b"]]></description></item></channel></rss>"
    )
    feed = parse_feed(doc, "s")
    assert [i.title for i in feed.items] == ["XXE explained"]


# -- through the poller: one pass, every hostile source beside a good one ----------------


# the poller tests' fixtures, here with the parse pool on (one worker, as on 2 cores)
origin = test_poll.origin
make_desk = test_poll.make_desk
HOSTILE: dict[str, Any] = {"timeout": "20s", "parse_workers": 1, "parse_memory": "768MB"}


def _status_mb(field: str) -> int:
    m = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    assert m
    return int(m.group(1)) // 1024


class PeakGrowth:
    """How far this process's resident memory rose above where it stood at the start
    (the kernel's high-water mark, reset through /proc/self/clear_refs)."""

    def __enter__(self) -> PeakGrowth:
        Path("/proc/self/clear_refs").write_text("5")
        self.base = _status_mb("VmRSS")
        self.mb = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.mb = _status_mb("VmHWM") - self.base


def rows(desk: Desk, sql: str, *args: object) -> list[tuple[Any, ...]]:
    return sqlite3.connect(desk.config.database).execute(sql, args).fetchall()


def errors(desk: Desk) -> dict[str, str | None]:
    return dict(rows(desk, "SELECT name, last_error FROM sources"))


def whole_store_text(desk: Desk) -> str:
    conn = sqlite3.connect(desk.config.database)
    out = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        if table.startswith("articles_fts"):
            continue
        out += [repr(r) for r in conn.execute(f"SELECT * FROM [{table}]")]
    return "\n".join(out)


def test_entity_bombs_over_http_are_errors_with_bounded_memory(
    origin: Origin, make_desk: MakeDesk
) -> None:
    origin.routes["/good"] = Route(rss(n=3, prefix="good"))
    for name, data, headers in ENTITY_DOCUMENTS:
        ctype = headers.get("Content-Type", "application/rss+xml")
        origin.routes[f"/{name}"] = Route(data, content_type=ctype)
    desk = make_desk({path.strip("/"): origin.url(path) for path in origin.routes}, **HOSTILE)
    with PeakGrowth() as grown:
        out = desk.poll_sources(due_only=False)
    assert out["good"].error is None and out["good"].counts["new"] == 3
    for name, _, _ in ENTITY_DOCUMENTS:
        assert errors(desk)[name] == ENTITY_ERROR, name
    # a single expansion would have been 2.5 GB (1e9 bytes for the laughs)
    assert grown.mb < 150, f"peak RSS grew {grown.mb} MB"
    assert rows(desk, "SELECT count(*) FROM articles") == [(3,)]


def test_external_dtd_and_external_entities_fetch_nothing_and_leak_nothing(
    origin: Origin, make_desk: MakeDesk
) -> None:
    dtd_url = origin.url("/evil.dtd")
    origin.routes["/evil.dtd"] = Route(
        b'<!ENTITY xxe SYSTEM "file:///etc/passwd">', content_type="application/xml-dtd"
    )
    docs = {
        # an external DTD that would define &xxe;: not fetched, the reference stays unresolved
        "system-dtd": _feed(
            f'<!DOCTYPE rss SYSTEM "{dtd_url}">', "a &xxe; b", body=prose("one", 80)
        ),
        "public-dtd": _feed(
            f'<!DOCTYPE rss PUBLIC "-//EVIL//DTD X//EN" "{dtd_url}">',
            "c &xxe; d",
            body=prose("two", 80),
        ),
        # external entities and parameter entities: refused before any parser sees them
        "file-entity": _feed(
            '<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>', "&xxe;"
        ),
        "http-entity": _feed(f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{dtd_url}">\n]>', "&xxe;"),
        "param-entity": _feed(
            f'<!DOCTYPE rss [\n<!ENTITY % ext SYSTEM "{dtd_url}">\n%ext;\n]>', "&xxe;"
        ),
    }
    for name, doc in docs.items():
        origin.routes[f"/{name}"] = Route(doc.encode())
    desk = make_desk({name: origin.url(f"/{name}") for name in docs}, **HOSTILE)
    desk.poll_sources(due_only=False)
    assert origin.hits["/evil.dtd"] == 0
    errs = errors(desk)
    for name in ("file-entity", "http-entity", "param-entity"):
        assert errs[name] == ENTITY_ERROR, name
    assert errs["system-dtd"] is None and errs["public-dtd"] is None
    assert len(rows(desk, "SELECT id FROM articles")) == 2
    text = whole_store_text(desk)
    passwd = Path("/etc/passwd").read_text()
    assert "root:" in passwd and "root:" not in text


def test_feedparser_itself_resolves_no_external_entity() -> None:
    """The second line of defence, without our `<!ENTITY` check in front: neither expat
    (external general entities off) nor the loose parser reads the file."""
    doc = _feed('<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>', "a &xxe; b")
    out = feedparser.parse(
        io.BytesIO(doc.encode()), response_headers={"content-type": "application/xml"}
    )
    assert "root:" not in repr(out)


def _pathological() -> dict[str, bytes]:
    head = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>p</title>'
    tail = b"</channel></rss>"

    def item(n: int, title: bytes = b"t", desc: bytes = b"", extra: bytes = b"") -> bytes:
        """One entry with a guid and body of its own, so no two are duplicates."""
        desc = desc or b"distinct body %d" % n
        return (
            b"<item><guid>urn:g:%d</guid><title>%s</title><description>%s</description>%s</item>"
            % (
                n,
                title,
                desc,
                extra,
            )
        )

    attrs = b" ".join(b'a%d="1"' % i for i in range(200_000))
    return {
        "title-5mb": head + item(1, title=b"word " * 1_000_000) + tail,
        "nested-100k": head + item(2, extra=b"<x>" * 100_000 + b"</x>" * 100_000) + tail,
        "entity-refs-1m": head + item(3, title=b"&amp;" * 1_000_000) + tail,
        "attributes-200k": head + item(4, extra=b"<x " + attrs + b"/>") + tail,
        "html-nesting-100k": head
        + item(5, desc=b"<![CDATA[" + b"<div>" * 100_000 + b"x" + b"</div>" * 100_000 + b"]]>")
        + tail,
        "json-nesting": b'{"version":"https://jsonfeed.org/version/1.1","items":'
        + b"[" * 200_000
        + b"]" * 200_000
        + b"}",
    }


@pytest.mark.slow
def test_pathological_fields_are_parsed_or_stopped_at_the_cpu_limit(
    origin: Origin, make_desk: MakeDesk
) -> None:
    origin.routes["/good"] = Route(rss(n=3, prefix="good"))
    for name, data in _pathological().items():
        origin.routes[f"/{name}"] = Route(data)
    desk = make_desk(
        {path.strip("/"): origin.url(path) for path in origin.routes},
        **HOSTILE,
        parse_cpu="4s",
        concurrency=8,
    )
    with PeakGrowth() as grown:
        out = desk.poll_sources(due_only=False)
    assert grown.mb < 300, f"peak RSS grew {grown.mb} MB"  # a 5 MB title, stored and indexed
    errs = errors(desk)
    # slow in feedparser's Python code (quadratic in attributes): the CPU timer stops it
    assert errs["attributes-200k"] == "parse aborted: exceeded 4s CPU"
    # slow inside nh3's Rust code, where no Python handler runs: the kernel stops it
    assert errs["html-nesting-100k"] == "parse aborted: exceeded 4s CPU"
    assert errs["json-nesting"] == "JSON nested too deeply: refused"
    for name in ("title-5mb", "nested-100k", "entity-refs-1m", "good"):
        assert errs[name] is None, name
        assert out[name].counts["new"] >= 1, name
    # the workers that were stopped were replaced: the next pass parses as before
    origin.routes["/good"] = Route(rss(n=4, prefix="good"))
    again = desk.poll_sources(due_only=False, only="good")
    assert again["good"].error is None and again["good"].counts["new"] == 1


def test_hostile_servers_each_get_a_clear_error(origin: Origin, make_desk: MakeDesk) -> None:
    login = (
        b"<!-- sso -->\n<html><head><title>Sign in</title></head><body>"
        b'<form action="/login" method="post"><input name="user"></form></body></html>'
    )
    origin.routes.update(
        {
            "/good": Route(rss(n=2, prefix="good")),
            "/endless": Route(b"<rss>" + b"<item>x</item>" * 100, endless=True),
            "/to-file": Route(status=302, redirect="file:///etc/passwd"),
            "/to-ftp": Route(status=301, redirect="ftp://127.0.0.1/feed.xml"),
            "/to-gopher": Route(status=307, redirect="gopher://127.0.0.1:70/1"),
            "/to-login": Route(status=302, redirect="/login"),
            "/login": Route(login, content_type="text/html; charset=utf-8"),
            "/xml-error-page": Route(b'<?xml version="1.0"?><error>quota exceeded</error>'),
            "/binary": Route(bytes(range(256)) * 100, content_type="application/octet-stream"),
        }
    )
    names = [p.strip("/") for p in origin.routes if p != "/login"]
    desk = make_desk(
        {n: origin.url(f"/{n}") for n in names}, **{**HOSTILE, "max_bytes": "2MB", "timeout": "10s"}
    )
    with PeakGrowth() as grown:
        out = desk.poll_sources(due_only=False)
    assert grown.mb < 150, f"peak RSS grew {grown.mb} MB"
    errs = errors(desk)
    assert out["good"].counts["new"] == 2 and errs["good"] is None
    assert errs["endless"] == f"body larger than {2 << 20} bytes (decoded): refused"
    assert errs["to-file"] == "refused redirect to a non-http(s) URL: file:///etc/passwd"
    assert errs["to-ftp"] == "refused redirect to a non-http(s) URL: ftp://127.0.0.1/feed.xml"
    assert errs["to-gopher"] == "refused redirect to a non-http(s) URL: gopher://127.0.0.1:70/1"
    assert errs["to-login"] == "an HTML page, not a feed"
    assert errs["xml-error-page"] is not None
    assert errs["xml-error-page"].startswith("not a recognised feed format")
    assert errs["binary"] is not None
    assert errs["binary"].startswith("not a recognised feed format")
    assert rows(desk, "SELECT count(*) FROM articles") == [(2,)]
