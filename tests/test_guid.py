"""Published guids are the RFC 4122 name-based UUIDs of where a story was first seen."""

from __future__ import annotations

import random
import uuid

from ingest.pipeline import article_guid

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
