"""Published guids are the RFC 4122 name-based UUIDs of where a story was first seen."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

from ingest.item import Item
from ingest.pipeline import article_guid
from ingest.prepare import prepare
from tests.conftest import write_config
from wiredesk.config import load_config
from wiredesk.desk import Desk

NAMES = [
    ("tass", "https://tass.com/politics/1234"),
    ("drops", "BISHKEK-2023-10-12.txt"),
    ("akipress", "guid:42"),
    ("ria", "https://ria.ru/20231012/новости.html"),
    ("", ""),
    ("emoji", "\U0001f600 \u00e9\u0301"),
]


def test_article_guid_equals_uuid5_of_the_url_namespace() -> None:
    rng = random.Random(7)
    alphabet = "abcXYZ019:/?#&%_-. ёжЖ\u00e9\u4e2d\U0001f600"
    names = NAMES + [
        (
            "".join(rng.choices(alphabet, k=rng.randint(0, 12))),
            "".join(rng.choices(alphabet, k=rng.randint(0, 80))),
        )
        for _ in range(2000)
    ]
    for source, key in names:
        expected = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'wiredesk:{source}:{key}')}"
        assert article_guid(source, key) == expected, (source, key)


def test_article_guid_is_a_version_5_uuid() -> None:
    u = uuid.UUID(article_guid("tass", "https://tass.com/1"))
    assert u.version == 5 and u.variant == uuid.RFC_4122


def test_the_guid_and_date_a_worker_made_follow_the_item_as_it_is_stored(
    tmp_path: Path,
) -> None:
    """A parse worker formats the guid and the date; the writer takes them only while
    the item still has the key and date they were made from (the poller re-keys items
    whose guid repeats in a document), and a date too far ahead is stored as now."""
    desk = Desk(load_config(write_config(tmp_path)))
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    texts = [
        ("Council meets on budget", "The council met on Tuesday to discuss schools."),
        ("Harbour reopens after storm", "Ships returned to the harbour after three days."),
        ("Observatory names a comet", "Astronomers catalogued a faint comet near Vega."),
    ]
    kept, rekeyed, ahead = (
        Item("src", f"k{i}", title, body, published=when) for i, (title, body) in enumerate(texts)
    )
    ahead.published = when.replace(year=2099)
    for item in (kept, rekeyed, ahead):
        item.prepared = prepare(item)
    assert rekeyed.prepared is not None and rekeyed.prepared.guid[2] == article_guid("src", "k1")
    rekeyed.item_key = "k1-renamed"
    try:
        desk.pipeline.ingest([kept, rekeyed, ahead])
        rows = dict(desk.store.reader().execute("SELECT guid, published FROM articles"))
    finally:
        desk.close()
    assert len(rows) == 3
    assert rows[article_guid("src", "k0")] == "2026-01-02T03:04:05Z"
    assert rows[article_guid("src", "k1-renamed")] == "2026-01-02T03:04:05Z"
    assert rows[article_guid("src", "k2")].startswith(str(datetime.now(UTC).year))
