"""The exact layer's keys: canonical URLs and text fingerprints."""

from __future__ import annotations

import pytest

from ingest.normalize import canonical_url, fingerprint
from ingest.text import html_to_text

SAME_URLS = [
    "https://www.Example.com/news/story-1",
    "http://example.com/news/story-1",
    "HTTPS://EXAMPLE.COM:443/news/story-1/",
    "http://example.com:80/news/story-1#comments",
    "https://example.com/news/story-1?utm_source=rss&utm_medium=feed&utm_campaign=x",
    "https://example.com/news/story-1?fbclid=IwAR0abc&gclid=Cj0KCQ",
    "https://example.com//news//story-1?yclid=1&mc_cid=2&mc_eid=3",
]


@pytest.mark.parametrize("url", SAME_URLS)
def test_url_variants_share_one_key(url: str) -> None:
    assert canonical_url(url) == "example.com/news/story-1"


def test_meaningful_query_parameters_stay_sorted() -> None:
    a = canonical_url("https://example.com/item?id=42&page=2&utm_source=x")
    b = canonical_url("https://example.com/item?page=2&id=42")
    assert a == b == "example.com/item?id=42&page=2"
    assert canonical_url("https://example.com/item?id=43") != a


def test_other_ports_paths_and_schemes_stay_apart() -> None:
    assert canonical_url("https://example.com:8443/a") == "example.com:8443/a"
    assert canonical_url("https://example.com/a") != canonical_url("https://example.com/b")
    assert canonical_url("ftp://example.com/a") is None
    assert canonical_url("not a url") is None
    assert canonical_url(None) is None


BODY = (
    'The minister said: "The exercise will last until September 6." '
    "More than 2,500 servicemen and about 300 units of equipment take part in the drills "
    "held at the Edelweiss range, the ministry said in a statement on Monday, adding that "
    "the troops will practice the localization of an armed conflict and the evacuation of "
    "civilians, while aircraft of the air base provide support to the ground units."
)


@pytest.mark.usefixtures("speedups")
def test_fingerprint_ignores_whitespace_quotes_case_and_markup() -> None:
    base = fingerprint("Title", BODY)
    variants = [
        BODY.replace(" ", "  ").replace(". ", ".\n\n"),
        BODY.replace('"', "«", 1).replace('6."', "6.»"),
        BODY.replace('"', "“", 1).replace('6."', "6.”"),
        BODY.upper(),
        html_to_text(f"<p>{BODY[:60]}</p><p>{BODY[60:]}</p>"),
    ]
    for v in variants:
        assert fingerprint("Another headline", v) == base, v[:80]


@pytest.mark.usefixtures("speedups")
def test_fingerprint_tells_different_text_apart() -> None:
    assert fingerprint("T", BODY) != fingerprint("T", BODY.replace("2,500", "2,600"))


@pytest.mark.usefixtures("speedups")
def test_a_short_blurb_keeps_its_headline_in_the_fingerprint() -> None:
    blurb = "Elon Musk has merged SpaceX and xAI, creating a new power structure."
    assert fingerprint("How Musk rewrites the rules", blurb) != fingerprint(
        "How far will Musk go", blurb
    )
    assert fingerprint("How Musk rewrites the rules", blurb) == fingerprint(
        "How  Musk rewrites the rules!", blurb
    )


def test_plain_links_take_the_short_way_to_the_same_key() -> None:
    """A link of the plain shape (lower-case http(s) host, plain path, nothing else) is
    canonicalised without parsing; on every link the answer is the parsed one's."""
    import random

    from ingest.normalize import _PLAIN_URL, _parsed_canonical_url

    rng = random.Random(3)
    host = ["www.", "a", "b1", "-", ".", "..", "example", ".com", "0", "www", "x-y", "Ex", ":8"]
    path = ["/", "//", "a", "%2F", "~", ".", "..", ":", "@", "!", "$", "&", "'", "(", ")", "*"]
    path += ["+", ",", ";", "=", "-", "_", "story-1", "?", "?utm_source=x", "#f", " ", "ä"]
    plain = 0
    for _ in range(30_000):
        url = rng.choice(["http://", "https://", "HTTP://", "ftp://", ""])
        url += "".join(rng.choice(host) for _ in range(rng.randint(1, 4)))
        url += "".join(rng.choice(path) for _ in range(rng.randint(0, 6)))
        plain += _PLAIN_URL.fullmatch(url) is not None
        assert canonical_url(url) == _parsed_canonical_url(url), url
    assert plain > 1_000  # the short way was taken, often
