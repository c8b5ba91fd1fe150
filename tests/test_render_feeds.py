"""Every published feed is valid (validator rules, JSON Feed 1.1), round-trips through
feedparser with every field, keeps its GUIDs, pages back through archives, and is
rendered again only when its topic changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest

from db import Store
from feeds.publish import FeedFilter, FeedRequest, Publisher
from ingest.item import Item
from tests.feedcheck import check_json_feed, check_published_xml
from tests.seeding import HOSTILE_TITLE, navy_story, seed
from wiredesk.desk import Desk

FEEDS = [["defense"], ["regional-security"], ["defense", "regional-security"], None]


def _all_documents(pub: Publisher) -> list[tuple[FeedRequest, str]]:
    """Every subscription, archive and a few filtered documents, with their URLs."""
    out = []
    for topics in FEEDS:
        for fmt in ("atom", "rss", "json"):
            spec = pub.spec_for(topics)
            out.append((FeedRequest(topics, fmt), spec.url(fmt)))
            for day in pub.days(topics):
                out.append(
                    (
                        FeedRequest(topics, fmt, day),
                        spec.path_url(f"{spec.path}/archive/{day}", fmt),
                    )
                )
            flt = FeedFilter.parse({"q": "drills", "limit": "3", "lang": "en"})
            out.append((FeedRequest(topics, fmt, None, flt), f"{spec.url(fmt)}?{flt.query}"))
    return out


def test_every_published_document_is_valid(desk: Desk) -> None:
    seed(desk)
    docs = _all_documents(desk.publisher)
    assert len(docs) > 40
    for req, url in docs:
        r = desk.publisher.get(req)
        assert r is not None, url
        if req.fmt == "json":
            problems = check_json_feed(r.body, url)
        else:
            problems = check_published_xml(r.body, req.fmt, url)
            parsed = feedparser.parse(r.body)
            assert not parsed.bozo, (url, parsed.get("bozo_exception"))
        assert problems == [], (url, problems)


def test_entries_round_trip_through_feedparser_with_every_field(desk: Desk) -> None:
    seed(desk)
    conn = desk.store.reader()
    base = desk.config.server.base_url
    rows = {r["guid"]: r for r in conn.execute("SELECT * FROM articles")}
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(desk.publisher.feed(None, fmt).body)
        assert len(parsed.entries) == len(rows)
        for e in parsed.entries:
            row = rows[e.id]
            assert e.title == row["title"].replace("\x00", "").replace("\x07", "").replace(
                "\x1b", ""
            ).replace("\ufffe", "").replace("\uffff", "")
            assert (
                e.published_parsed[:6]
                == datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
                .astimezone(UTC)
                .timetuple()[:6]
            )
            assert e.link.startswith(("https://", base))
            assert e.author in (row["author"] or row["agency"] or row["source"]).replace(
                "\x0b", ""
            ) or e.author == (row["agency"] or "")
            tags = sorted(t.term for t in e.get("tags", []))
            stored = sorted(
                r[0]
                for r in conn.execute(
                    "SELECT topic FROM article_topics WHERE article_id = ?", (row["id"],)
                )
            )
            assert tags == stored
            assert e.source.get("title") == row["source"]
            source_href = e.source.get("href") or e.source.get("link")
            assert source_href.startswith(("https://", base))
        kant = next(e for e in parsed.entries if "Kant" in e.title)
        assert kant.get("dc_coverage") == "BISHKEK"
        assert "TASS" in kant.author
        dup = next(e for e in parsed.entries if e.title.startswith("Military drills 1:"))
        content = dup.content[0].value
        assert "Also reported by" in content and "akipress" in content
        if fmt == "atom":
            related = [ln.href for ln in dup.links if ln.rel == "related"]
            assert related == ["https://akipress.example/copy/1"]


def test_json_feed_carries_every_field(desk: Desk) -> None:
    seed(desk)
    doc = json.loads(desk.publisher.feed(["defense"], "json").body)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    kant = next(i for i in doc["items"] if "Kant" in i["title"])
    assert kant["_wiredesk"]["dateline"] == "BISHKEK"
    assert kant["_wiredesk"]["agency"] == "TASS"
    assert {"defense", "regional-security"} <= set(kant["tags"])
    assert kant["date_published"].startswith("2023-10-12")
    dup = next(i for i in doc["items"] if i["title"].startswith("Military drills 1:"))
    assert dup["_wiredesk"]["also_reported_by"] == [
        {"source": "akipress", "url": "https://akipress.example/copy/1"}
    ]
    assert dup["_wiredesk"]["source_feed"] == "https://tass.example/rss/v2.xml"


def test_hostile_characters_and_links_never_break_a_feed(desk: Desk) -> None:
    seed(desk)
    for fmt in ("atom", "rss"):
        body = desk.publisher.feed(None, fmt).body
        parsed = feedparser.parse(body)
        assert not parsed.bozo
        hostile = next(e for e in parsed.entries if "quotes" in e.title)
        # text stays text: the angle brackets are characters, not markup
        assert hostile.title == 'Bad title with <b>tags</b> & "quotes"  and missiles'
        assert hostile.link == "https://tass.example/news/a%20b?x=%C3%BC"
        assert b"javascript:" not in body
        assert b"<script" not in body and b"&lt;script" not in body
        assert b"onclick" not in body
    doc = json.loads(desk.publisher.feed(None, "json").body)
    ru = next(i for i in doc["items"] if i.get("language") == "ru")
    assert ru["url"].startswith(desk.config.server.base_url + "articles/")
    assert HOSTILE_TITLE not in json.dumps(doc, ensure_ascii=False)


def test_guids_are_the_same_in_every_feed_and_after_a_restart(desk: Desk) -> None:
    seed(desk)

    def ids(pub: Publisher, topics: list[str] | None) -> set[str]:
        return {e.id for e in feedparser.parse(pub.feed(topics, "atom").body).entries}

    all_ids = ids(desk.publisher, None)
    defense = ids(desk.publisher, ["defense"])
    assert defense and defense <= all_ids
    rss_ids = {e.id for e in feedparser.parse(desk.publisher.feed(None, "rss").body).entries}
    assert rss_ids == all_ids
    before = desk.publisher.feed(["defense"], "atom").body
    desk.store.close()
    again = Desk(desk.config, Store(desk.config.database))
    try:
        assert ids(again.publisher, None) == all_ids
        assert again.publisher.feed(["defense"], "atom").body == before
    finally:
        again.close()


def test_archives_walk_back_through_the_whole_history(desk: Desk) -> None:
    seeded = seed(desk)
    pub = desk.publisher
    pub.entries = 3  # a short subscription document, so history lives in the archives
    seen: set[str] = set()
    parsed = feedparser.parse(pub.feed(None, "atom").body)
    assert len(parsed.entries) == 3
    seen |= {e.id for e in parsed.entries}
    hops = 0
    links = {ln.rel: ln.href for ln in parsed.feed.links}
    assert links["next"] == links["prev-archive"]
    url = links.get("prev-archive")
    while url:
        day = url.rsplit("/", 1)[1].removesuffix(".atom")
        r = pub.get(FeedRequest(None, "atom", day))
        assert r is not None
        doc = feedparser.parse(r.body)
        assert b"<fh:archive/>" in r.body
        assert len(doc.entries) == seeded.per_day[day]
        links = {ln.rel: ln.href for ln in doc.feed.links}
        assert links["current"] == pub.spec_for(None).url("atom")
        assert links["self"] == url
        seen |= {e.id for e in doc.entries}
        url = links.get("prev-archive")
        hops += 1
    assert hops == len(seeded.per_day)
    assert len(seen) == sum(seeded.per_day.values())


def test_feeds_are_rendered_again_only_when_their_topic_changes(desk: Desk) -> None:
    seed(desk)
    pub = desk.publisher
    for topics in (["defense"], ["regional-security"], None):
        pub.feed(topics, "atom")
    start = pub.renders
    for _ in range(5):
        for topics in (["defense"], ["regional-security"], None):
            pub.feed(topics, "atom")
    assert pub.renders == start  # all cached
    # a story that joins no topic: only /all moves
    desk.pipeline.ingest(
        [Item(source="tass", item_key="weather", title="Sunny weather in Bishkek", body="Warm.")]
    )
    for topics in (["defense"], ["regional-security"], None):
        pub.feed(topics, "atom")
    assert pub.renders == start + 1
    # a defense story moves defense and /all, not regional-security
    desk.pipeline.ingest([navy_story()])
    for topics in (["defense"], ["regional-security"], None):
        pub.feed(topics, "atom")
    assert pub.renders == start + 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"since": "last tuesday"}, "since"),
        ({"lang": "english!"}, "lang"),
    ],
)
def test_bad_filters_name_the_parameter(desk: Desk, params: dict[str, str], message: str) -> None:
    from feeds.publish import FilterError

    with pytest.raises(FilterError, match=message):
        FeedFilter.parse(params)


def test_filters_select_by_query_source_language_and_date(desk: Desk) -> None:
    seed(desk)
    pub = desk.publisher

    def titles(**params: str) -> list[str]:
        r = pub.get(FeedRequest(None, "atom", None, FeedFilter.parse(params)))
        assert r is not None
        return [e.title for e in feedparser.parse(r.body).entries]

    assert titles(q="Kant") == [t for t in titles() if "Kant" in t]
    assert len(titles(q="Kant")) == 1
    assert titles(lang="ru") == ["Военные учения армии и ракетные войска у границы Кыргызстана"]
    conn = desk.store.reader()

    def stored(sql: str) -> list[str]:
        return [r[0] for r in conn.execute(sql + " ORDER BY published DESC, id DESC")]

    assert titles(source="akipress") == stored(
        "SELECT title FROM articles WHERE source = 'akipress'"
    )
    assert len(titles(source="akipress")) == 4
    assert titles(limit="2") == titles()[:2]
    assert titles(since="2024-03-06") == stored(
        "SELECT title FROM articles WHERE published >= '2024-03-06'"
    )
    assert 0 < len(titles(since="2024-03-06")) < len(titles())
