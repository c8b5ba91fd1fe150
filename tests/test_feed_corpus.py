"""Every corpus feed document goes through parse + store without an exception escaping;
a representative set also through real HTTP and the parse pool; goldens pin what is stored.

Regenerate the goldens on purpose, then review the diff:
    WIREDESK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_feed_corpus.py -k golden
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.poller import SourceSpec
from tests.conftest import CORPUS, REPO, write_config
from tests.origin import Origin, Route
from wiredesk.config import load_config
from wiredesk.desk import Desk

GOLDEN = REPO / "tests" / "golden" / "feeds"
REGEN = os.environ.get("WIREDESK_REGEN_GOLDEN") == "1"
REAL = CORPUS / "feeds-real"
INDEX = {f["file"]: f for f in json.loads((REAL / "INDEX.json").read_text())["files"]}


def corpus_files() -> list[Path]:
    files = [REAL / name for name in sorted(INDEX)]
    files += sorted((CORPUS / "feedparser-tests").rglob("*.xml"))
    files += sorted((CORPUS / "feedparser-tests" / "json").glob("*.json"))
    files += sorted((CORPUS / "validator").rglob("*.xml"))
    return files


def case_id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


# feedparser's fixtures name the HTTP headers they were served with
_HEADER = re.compile(rb"^\s*Header:\s*([\w-]+):\s*(.+?)\s*$", re.M)


def served_headers(data: bytes) -> dict[str, str]:
    return {k.decode().lower(): v.decode("latin-1") for k, v in _HEADER.findall(data[:2000])}


def source_name(path: Path) -> str:
    return "c-" + hashlib.sha1(case_id(path).encode()).hexdigest()[:12]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    cfg = write_config(tmp_path_factory.mktemp("corpus"), fetch={"parse_workers": 0})
    d = Desk(load_config(cfg))
    yield d
    d.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Desk]:
    """A store of its own: what is stored must not depend on what other tests stored."""
    (tmp_path / "fresh").mkdir()
    d = Desk(load_config(write_config(tmp_path / "fresh", fetch={"parse_workers": 0})))
    yield d
    d.close()


def counts(conn: sqlite3.Connection, name: str) -> tuple[int, int]:
    sightings = conn.execute("SELECT count(*) FROM sightings WHERE source=?", (name,)).fetchone()[0]
    failures = conn.execute("SELECT count(*) FROM failures WHERE source=?", (name,)).fetchone()[0]
    return sightings, failures


@pytest.mark.parametrize("path", corpus_files(), ids=case_id)
def test_corpus_document_is_stored_or_refused_with_a_reason(desk: Desk, path: Path) -> None:
    data = path.read_bytes()
    name = source_name(path)
    spec = SourceSpec(name, "http://corpus.example/" + case_id(path))
    summary, parsed = desk.poller.ingest_bytes(spec, data, served_headers(data))
    conn = desk.store.reader()
    row = conn.execute(
        "SELECT last_error, error_count FROM sources WHERE name=?", (name,)
    ).fetchone()
    meta = INDEX.get(str(path.relative_to(REAL))) if path.is_relative_to(REAL) else None
    if parsed is None:
        # refused: the reason is recorded on the source
        assert summary.error and row["last_error"] == summary.error and row["error_count"] == 1
        if meta is not None:  # a real feed with entries must never be refused
            assert meta["format_dir"] == "not-a-feed" or not meta.get("entries"), summary.error
        return
    # nothing lost: every entry is a sighting, a recorded failure or a repeat inside the document
    sightings, failures = counts(conn, name)
    assert sightings + failures + summary.counts["repeated"] == parsed.entries_total
    assert row["error_count"] == 0 and row["last_error"] is None
    if meta is not None and meta.get("entries"):
        assert parsed.entries_total > 0
        if meta["format_dir"] == "jsonfeed":
            assert parsed.entries_total == meta["entries"]


def test_not_a_feed_documents_are_refused(desk: Desk) -> None:
    for name in sorted(INDEX):
        if INDEX[name]["format_dir"] == "not-a-feed":
            path = REAL / name
            summary, parsed = desk.poller.ingest_bytes(
                SourceSpec("naf-" + path.stem, "http://x.example/"), path.read_bytes()
            )
            assert parsed is None and summary.error, name


# -- a representative set: goldens, and the same through real HTTP and the parse pool --------

REPRESENTATIVE = [
    "rss2/feedreader_reuters.xml",  # news agency, RFC 822 dates
    "rss2/feedreader_yandex-russia.xml",  # double-encoded UTF-8, no weekday in dates
    "rss2/rssant_koi8-r.xml",  # koi8-r
    "rss2/miniflux_ibash-windows-1251.xml",  # windows-1251
    "rss2/rssparser-kt_aif-ru.xml",  # `2019-05-18 10:58:46 +0300`
    "rss2/kagi_eliotjones-utf16.xml",  # declares utf-16, is not
    "rss2/feedjira_invalid-date-format.xml",
    "rss2/nodefeedparser_guid-dupes.xml",  # repeated guids
    "rss2/rssparser-kt_malformed.xml",  # not well-formed: lenient parse, warning kept
    "rss1-rdf/kagi_deutsche-welle.xml",  # RDF, dc:date
    "rss09x/rome_rss091-netscape.xml",
    "atom/netnewswire_daringfireball.xml",
    "atom/rssant_v2ex-no-id.xml",  # Atom entries without id
    "atom03/rome_atom03.xml",
    "jsonfeed/netnewswire_daringfireball.json",
    "jsonfeed/feedjira_jsonfeed-escaped-uris.json",
    "jsonfeed/rssant_gbk-gb18030.json",  # JSON Feed in GBK
    "json-other/" + next((p.name for p in (REAL / "json-other").iterdir()), ""),
]


def representative() -> list[str]:
    """The names above that exist, plus one per format folder (first by name)."""
    chosen = [n for n in REPRESENTATIVE if n in INDEX]
    for fmt in sorted({f["format_dir"] for f in INDEX.values()} - {"not-a-feed"}):
        first = next(n for n in sorted(INDEX) if INDEX[n]["format_dir"] == fmt)
        if first not in chosen:
            chosen.append(first)
    return chosen


def golden_source(name: str) -> str:
    return "g-" + name.replace("/", "-")


def stored(conn: sqlite3.Connection, source: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT s.item_key, a.title, a.url, a.published, a.published_raw, a.first_seen,
                  a.language, a.body
           FROM sightings s JOIN articles a ON a.id = s.article_id
           WHERE s.source = ? ORDER BY s.item_key""",
        (source,),
    ).fetchall()
    return [
        {
            "item_key": r["item_key"],
            "title": r["title"],
            "url": r["url"],
            # a missing or absurd date is stored as the time first seen: not a fixed value
            "published": "first-seen" if r["published"] == r["first_seen"] else r["published"],
            "published_raw": r["published_raw"],
            "language": r["language"],
            "body_sha1": hashlib.sha1((r["body"] or "").encode()).hexdigest()[:12],
        }
        for r in rows
    ]


@pytest.mark.parametrize("name", representative())
def test_golden(fresh: Desk, name: str) -> None:
    path = REAL / name
    source = golden_source(name)
    fresh.poller.ingest_bytes(SourceSpec(source, "http://golden.example/feed"), path.read_bytes())
    got = stored(fresh.store.reader(), source)
    golden = GOLDEN / (name.replace("/", "__") + ".json")
    text = json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if REGEN or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        if not REGEN:
            pytest.fail(f"golden {golden.name} was missing: written, review it and commit")
    assert got, name
    assert all(g["published"] == "first-seen" or g["published"].endswith("Z") for g in got)
    assert json.loads(golden.read_text(encoding="utf-8")) == got


def test_same_stories_in_atom_and_json_feed_are_one_set_of_articles(fresh: Desk) -> None:
    """Daring Fireball as Atom, then as JSON Feed: the JSON items are the same articles."""
    for source, name in (
        ("df-atom", "atom/netnewswire_daringfireball.xml"),
        ("df-json", "jsonfeed/netnewswire_daringfireball.json"),
    ):
        fresh.poller.ingest_bytes(
            SourceSpec(source, "http://df.example/"), (REAL / name).read_bytes()
        )
    conn = fresh.store.reader()
    matches = dict(
        conn.execute(
            "SELECT match, count(*) FROM sightings WHERE source='df-json' GROUP BY match"
        ).fetchall()
    )
    atom = conn.execute("SELECT count(*) FROM sightings WHERE source='df-atom'").fetchone()[0]
    assert atom > 0 and matches.get("exact", 0) >= 0.8 * sum(matches.values()), matches


def test_representative_feeds_over_http_and_the_parse_pool_store_the_same(
    tmp_path: Path, fresh: Desk
) -> None:
    # the JSON twin of the Atom feed would make what is stored depend on fetch order
    names = [n for n in representative() if n != "jsonfeed/netnewswire_daringfireball.json"]
    with Origin() as origin:
        for i, name in enumerate(names):
            ctype = "application/feed+json" if name.endswith(".json") else "application/xml"
            origin.routes[f"/{i}"] = Route(
                (REAL / name).read_bytes(), content_type=ctype, encoding="gzip" if i % 2 else None
            )
        cfg = write_config(
            tmp_path,
            sources=[
                {"name": golden_source(n), "url": origin.url(f"/{i}")} for i, n in enumerate(names)
            ],
            fetch={"parse_workers": 2},
        )
        http_desk = Desk(load_config(cfg))
        try:
            assert len(names) >= 8  # enough sources for the pass to use the process pool
            out = http_desk.poll_sources(due_only=False)
            assert http_desk.poller._pool is not None
            assert all(s.error is None for s in out.values()), {k: v.error for k, v in out.items()}
            for n in names:
                source = golden_source(n)
                fresh.poller.ingest_bytes(
                    SourceSpec(source, "http://golden.example/feed"), (REAL / n).read_bytes()
                )
                direct = stored(fresh.store.reader(), source)
                # relative links resolve against where the feed came from
                text = json.dumps(stored(http_desk.store.reader(), source))
                over_http = json.loads(text.replace(origin.url("/"), "http://golden.example/"))
                assert over_http == direct, n
        finally:
            http_desk.close()
