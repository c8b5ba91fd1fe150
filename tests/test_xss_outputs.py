"""feedparser's sanitize cases (XSS), ingested through the drop folder and also as raw
unsanitised HTML, leave no active content in any output: Atom, RSS, JSON Feed, the
index, article pages and search results."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import feedparser
import pytest
from lxml import etree, html  # type: ignore[import-untyped]

from feeds.publish import FeedRequest
from ingest.item import Item
from tests.conftest import CORPUS, LiveServer, drop
from tests.test_http_feeds import fetch
from wiredesk.desk import Desk

SANITIZE = CORPUS / "feedparser-tests" / "wellformed" / "sanitize"
CASES = sorted(SANITIZE.glob("*.xml")) if SANITIZE.exists() else []

DANGEROUS_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
    "button", "textarea", "select", "style", "link", "meta", "base", "svg", "math",
    "animate", "set", "foreignobject", "handler", "listener", "xml", "import",
}  # fmt: skip
URL_ATTRS = {
    "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
    "lowsrc", "dynsrc", "cite", "longdesc", "usemap", "codebase", "srcset",
}  # fmt: skip
_BAD_SCHEME = re.compile(r"^(javascript|vbscript|data|livescript|mocha):", re.I)


def active_content(fragment: str, *, page: bool = False) -> list[str]:
    """Everything in an HTML fragment or page that could run or submit something.
    A page (ours) may carry its own <link>/<meta> in <head>, the chart's inline SVG (with
    no links) and its own search form outside any story; nothing may have handlers."""
    if not fragment.strip():
        return []
    root = (
        html.document_fromstring(fragment)
        if page
        else html.fragment_fromstring(fragment, create_parent="div")
    )
    found = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.split("}")[-1].lower()
        in_head = page and any(a.tag == "head" for a in el.iterancestors())
        chart_svg = (
            page
            and (tag in ("svg", "rect", "line", "title"))
            and (tag == "svg" or any(a.tag == "svg" for a in el.iterancestors()))
        )
        form = el if tag == "form" else next(el.iterancestors("form"), None)
        own_search = (
            page
            and form is not None
            and form.get("class") == "search"
            and form.get("action") == "search"
            and next(form.iterancestors("article", "li", "section"), None) is None
        )
        allowed = (in_head and tag in ("link", "meta")) or chart_svg or own_search
        if tag in DANGEROUS_TAGS and not allowed:
            found.append(f"<{tag}>")
        if tag == "a" and any(a.tag == "svg" for a in el.iterancestors()):
            found.append("<svg><a>")
        for name, value in el.attrib.items():
            lname = str(name).split("}")[-1].lower()
            if lname.startswith("on") or lname == "style" or lname == "formaction":
                found.append(f"{tag}@{lname}")
            cleaned = re.sub(r"[\x00-\x20]", "", value)
            if (lname in URL_ATTRS or "href" in lname) and _BAD_SCHEME.match(cleaned):
                found.append(f"{tag}@{lname}={value[:40]!r}")
    return found


def _xml_fragments(body: bytes) -> list[str]:
    """The HTML a reader would render from an Atom/RSS document."""
    root = etree.fromstring(body)
    out = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = el.tag.split("}")[-1]
        if local in ("content", "description", "encoded", "summary", "subtitle") and el.text:
            out.append(el.text)
        if el.tag.startswith("{http://www.w3.org/1999/xhtml}"):
            out.append(etree.tostring(el, encoding="unicode"))
    return out


def _all_outputs(desk: Desk, live: LiveServer) -> dict[str, list[str]]:
    """Every output, each as the HTML fragments or pages a client would render."""
    pub = desk.publisher
    out: dict[str, list[str]] = {}
    for topics in [[t] for t in pub.topics] + [None]:
        for fmt in ("atom", "rss", "json"):
            reqs = [FeedRequest(topics, fmt)] + [
                FeedRequest(topics, fmt, d) for d in pub.days(topics)
            ]
            for req in reqs:
                r = pub.get(req)
                assert r is not None
                key = f"{pub.feed_path(topics)}/{req.day or 'current'}.{fmt}"
                if fmt == "json":
                    doc = json.loads(r.body)
                    out[key] = [i["content_html"] for i in doc["items"]]
                    out[key] += [json.dumps(i["title"]) for i in doc["items"]]
                else:
                    out[key] = _xml_fragments(r.body)
    out["index"] = [fetch("GET", f"{live.base}/").body.decode()]
    out["search"] = [fetch("GET", f"{live.base}/search?q=script").body.decode()]
    ids = [r[0] for r in desk.store.reader().execute("SELECT id FROM articles")]
    out["articles"] = [fetch("GET", f"{live.base}/articles/{i}").body.decode() for i in ids]
    return out


def _assert_clean(outputs: dict[str, list[str]]) -> None:
    problems = {}
    for name, fragments in outputs.items():
        page = name in ("index", "search", "articles")
        found = [p for f in fragments for p in active_content(f, page=page)]
        if found:
            problems[name] = sorted(set(found))
    assert problems == {}


@pytest.mark.skipif(not CASES, reason="the shared corpus is not checked out")
def test_sanitize_cases_dropped_as_feeds_leave_no_active_content(
    desk: Desk, live: LiveServer
) -> None:
    for path in CASES:
        drop(desk, path.name, path)
    report = desk.ingest_pass(due_only=False)
    assert report.drops is not None and report.drops.taken + report.drops.failed == len(CASES)
    conn = desk.store.reader()
    # once sanitised many attacks leave the same harmless text (duplicates of each other)
    # or nothing at all (a recorded failure): every entry is one or the other
    seen = conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
    failed = conn.execute("SELECT count(*) FROM failures WHERE source = 'drops'").fetchone()[0]
    assert seen + failed > 200
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] > 15
    _assert_clean(_all_outputs(desk, live))


def _raw_items(path: Path) -> list[Item]:
    """The attack HTML exactly as written, without feedparser's own sanitiser."""
    parsed = feedparser.parse(io.BytesIO(path.read_bytes()), sanitize_html=False)
    items = []
    for i, e in enumerate(parsed.entries):
        raw = (e.get("content") or [{}])[0].get("value") or e.get("summary") or ""
        items.append(
            Item(
                source="raw",
                item_key=f"{path.name}#{i}",
                title=f"{path.stem} military troops",  # joins the defense topic
                content_html=raw + " armed forces army",
                url=e.get("link") or "javascript:alert(1)",
            )
        )
    return items


@pytest.mark.skipif(not CASES, reason="the shared corpus is not checked out")
def test_raw_attack_html_is_neutralised_on_output(desk: Desk, live: LiveServer) -> None:
    items = [it for path in CASES for it in _raw_items(path)]
    assert len(items) > 200
    # prove the inputs really are hostile before the output is judged
    hostile = sum(1 for it in items if active_content(it.content_html or ""))
    assert hostile > 100
    desk.pipeline.ingest(items)
    _assert_clean(_all_outputs(desk, live))


def test_the_detector_sees_active_content() -> None:
    for bad in (
        '<a href=" javascript:alert(1)">x</a>',
        '<img src="x" onerror="alert(1)">',
        "<svg><a xlink:href='javascript:alert(1)'>x</a></svg>",
        "<form action='x'><input></form>",
        '<a href="data:text/html,&lt;script&gt;">x</a>',
        '<p style="background:url(javascript:x)">x</p>',
        "<iframe src='x'></iframe>",
    ):
        assert active_content(bad), bad
    assert active_content('<p><a href="https://example.org/">ok</a></p>') == []
