"""The parse worker's faster functions give exactly what the code before them gave (issue 8):
tokens, topic hits and explanations, fingerprints and cleaned HTML, compared with the frozen
copies in tests/reference_worker.py on the corpus, the benchmark farm and generated input."""

from __future__ import annotations

import csv
import html
import json
import random
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

import ingest.feedmodel as feedmodel
from ingest.feedparse import parse_feed
from ingest.markup import clean_fragment
from ingest.normalize import fingerprint, normalised_words
from ingest.prepare import prepare
from ingest.rules import Also, TopicRule, WeightedTerm
from ingest.stemming import tokenize
from ingest.text import first_sentence
from ingest.topics import Matcher
from tests import reference_worker as ref
from tests.conftest import CORPUS, REPO, SEED

# (title, lead, rest of the body, language, source, body, summary): as `prepare` and
# `ingest.prepare.classify` hand them on
Article = tuple[str, str, str, str | None, str, str | None, str | None]
LANGUAGES = (None, "en", "ru", "de")
SOURCES = ("wire", "sports-wire", "gov-wire")
PER_FILE = 1500  # records read from each large corpus file (keeps the test a few seconds)


def _article(i: int, title: str, body: str, language: str | None = None) -> Article:
    body = body.replace("\r\n", "\n")
    lead, _, rest = body.partition("\n\n")
    if not rest:  # one paragraph: its first sentence stands for the lead
        lead = first_sentence(body)
        rest = body[len(lead) :]
    lang = language if language is not None else LANGUAGES[i % len(LANGUAGES)]
    return (title, lead, rest, lang, SOURCES[i % len(SOURCES)], body, None)


def _records(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        if path.suffix == ".jsonl":
            for line in f:
                yield {k: v for k, v in json.loads(line).items() if isinstance(v, str)}
        else:
            yield from csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")


def _texts() -> Iterator[tuple[str, str]]:
    """(title, text) of every corpus text the other tests use."""
    seed = SEED.read_text(encoding="utf-8")
    yield seed.split("\n", 1)[0], seed
    for name in ("en", "ru", "holdout"):
        data = REPO / "tests" / "data" / "topics" / f"articles_{name}.yaml"
        for a in yaml.safe_load(data.read_text(encoding="utf-8")):
            yield a["headline"], a["text"]
    for path in sorted((CORPUS / "near-duplicates").rglob("*")):
        if path.suffix not in (".tsv", ".csv", ".jsonl"):
            continue
        csv.field_size_limit(1 << 24)
        for n, rec in enumerate(_records(path)):
            if n >= PER_FILE:
                break
            titles = [v for k, v in rec.items() if k and "title" in k.lower() and v]
            long = [v for v in rec.values() if isinstance(v, str) and len(v) > 80]
            for j, text in enumerate(long):
                yield (titles[j % len(titles)] if titles else ""), text
    for path in sorted((CORPUS / "wire-stories").rglob("*")):
        if path.is_file() and path.suffix in (".txt", ".tst", ".sgm", ".csv", ".json"):
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix == ".sgm":
                yield from re.findall(r"<TITLE>(.*?)</TITLE>.*?<BODY>(.*?)</BODY>", text, re.S)
            else:
                yield path.stem, text


@cache
def _feeds() -> tuple[list[Article], list[tuple[str, str | None]]]:
    """Every entry of feeds-real and of the benchmark farm as `prepare` reads it, and every
    (markup, base) that parsing handed to `clean_fragment`."""
    from benchmarks.suite import farm_docs

    docs = [p.read_bytes() for p in sorted((CORPUS / "feeds-real").rglob("*")) if p.is_file()]
    docs += farm_docs(20, 50)
    fragments: list[tuple[str, str | None]] = []

    def recording(markup: str | None, base: str | None) -> str | None:
        if markup:
            fragments.append((markup, base))
        return clean_fragment(markup, base)

    articles: list[Article] = []
    mp = pytest.MonkeyPatch()
    mp.setattr(feedmodel, "clean_fragment", recording)
    try:
        for i, doc in enumerate(docs):
            try:
                # every other feed as fetched from a URL: its relative links are resolved
                base_url = f"http://127.0.0.1:8080/f{i}.xml" if i % 2 else None
                items = parse_feed(doc, f"feed{i}", base_url=base_url).items
            except Exception:
                continue  # not a feed: nothing to prepare
            for item in items:
                p = prepare(item)
                lead, _, rest = (p.body or "").partition("\n\n")
                source = SOURCES[len(articles) % len(SOURCES)]
                articles.append((p.title, lead, rest, p.language, source, p.body, p.summary))
    finally:
        mp.undo()
    return articles, fragments


@cache
def corpus_articles() -> list[Article]:
    """The corpus texts, feeds-real entries and farm items, as articles."""
    out = [_article(i, t, b) for i, (t, b) in enumerate(_texts())]
    return out + _feeds()[0]


# -- generated input ------------------------------------------------------------------

EXTRA_RULES = [
    TopicRule(
        "alpha",
        2.0,
        [
            WeightedTerm("missile", 1.5),
            WeightedTerm("air base", 2.0),
            WeightedTerm("=arms", 1.0),
            WeightedTerm("военн*", 1.0),
            WeightedTerm("военная база", 2.0, "ru"),
            WeightedTerm("kant NEAR/3 base", 2.0),
            WeightedTerm("/nato\\b.{0,40}summit/", 2.0),
            WeightedTerm("drill", 1.0, "en"),
            WeightedTerm("ministry of defence", 1.5),
            WeightedTerm("sport", -3.0),
        ],
        require=["russia", "/moscow/", "kant NEAR/5 air", "росси*"],
        exclude=["football", "футбол*"],
        sources_exclude=["sports-wire"],
    ),
    TopicRule(
        "beta",
        1.0,
        [WeightedTerm("president", 1.0), WeightedTerm("government of the", 1.0)],
        sources_include=["gov-wire"],
        also=[Also("alpha", ["army", "армия", "=s"])],
    ),
    TopicRule(
        "gamma",
        2.0,
        [WeightedTerm(w, 1.0) for w in ("said", "year", "police", "city", "people", "it")],
        require=["police", "court", "minister", "город"],
        exclude=["weather", "погод*"],
    ),
]


@cache
def shipped_rules() -> list[TopicRule]:
    from wiredesk.config import load_config

    return load_config(REPO / "config.yaml").topic_rules()


def _vocabulary() -> list[str]:
    words = {"the", "a", "it", "s", "said", "of", "and", "в", "и", "на", "", "2024", "7", "_"}
    for r in [*shipped_rules(), *EXTRA_RULES]:
        for t in [*(w.text for w in r.terms), *r.require, *r.exclude]:
            words.update(re.findall(r"[\w'’-]+", t))
    out = []
    for w in sorted(words):
        out += [w, w.upper(), w.capitalize(), w + "s", w + "'s", w + "’s", w + "es", w + "-" + w]
        out += [w.replace("е", "ё"), w + "ого", w + "ами", w[:-1] + "ies", "'" + w + "'"]
    return out


SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", ", ", ". ", "-", "'", "’", "«", "»", '"']
SEPARATORS += ["—", "(", ")", "\t", "''", "'s ", "&", "/", "_", "ﬁ", "２", "İ", "ẞ", "e\u0301"]


def generated_articles(n: int, seed: int = 8) -> list[Article]:
    rnd = random.Random(seed)
    vocab = _vocabulary()

    def text(k: int) -> str:
        return "".join(rnd.choice(vocab) + rnd.choice(SEPARATORS) for _ in range(k))

    out: list[Article] = [("", "", "", None, "wire", "", None)]
    for i in range(n):
        title, lead, rest = (
            text(rnd.randint(0, 8)),
            text(rnd.randint(0, 30)),
            text(rnd.randint(0, 90)),
        )
        out.append((title, lead, rest, LANGUAGES[i % 4], SOURCES[i % 3], lead + rest, None))
    return out


# -- the comparisons ------------------------------------------------------------------


def _all_articles() -> list[Article]:
    return corpus_articles() + generated_articles(3000)


def test_the_inputs_are_there() -> None:
    """The comparisons below are only as good as their inputs: every kind is present."""
    articles, fragments = _feeds()
    assert len(articles) > 4000  # feeds-real (~3,000 entries) and the farm (1,000)
    assert len(fragments) > 3000
    assert len(corpus_articles()) > 10_000
    assert any(re.search("[а-я]", a[2]) for a in corpus_articles())


def test_tokenize_is_unchanged() -> None:
    for a in _all_articles():
        for text in a[:3]:
            assert tokenize(text) == ref.tokenize(text), text


@pytest.mark.parametrize("rules", ["shipped", "extra"])
def test_topics_are_unchanged(rules: str) -> None:
    """Same hits (topic, score, matched terms) and the same explanation of every topic."""
    rs = shipped_rules() if rules == "shipped" else EXTRA_RULES
    new, old = Matcher(rs), ref.Matcher(rs)
    assigned = 0
    for title, lead, rest, lang, source, _body, _summary in _all_articles():
        hits = new.classify(title, lead, rest, language=lang, source=source)
        assert hits == old.classify(title, lead, rest, language=lang, source=source), title
        assigned += len(hits)
        if hits or len(title) % 5 == 0:  # explaining costs more: every hit, a fifth of the rest
            got = new.explain(title, lead, rest, language=lang, source=source)
            assert got == old.explain(title, lead, rest, language=lang, source=source)
    assert assigned > 1000


def test_find_is_unchanged_on_a_cold_and_a_warm_cache() -> None:
    """`find` caches per word: the first sight of a word and later ones give the same."""
    new, old = Matcher(shipped_rules()), ref.Matcher(shipped_rules())
    for _ in range(2):
        for a in generated_articles(500, seed=3):
            tokens = ref.tokenize(a[1] + " " + a[2])
            assert new.find(tokens) == old.find(tokens)


@pytest.mark.usefixtures("speedups")  # ASCII text folded in C, else in Python
def test_fingerprints_are_unchanged() -> None:
    for title, _lead, _rest, _lang, _src, body, summary in _all_articles():
        assert normalised_words(body or "") == ref.normalised_words(body or "")
        assert fingerprint(title, body) == ref.fingerprint(title, body)
        with_summary = (body or "") + (summary or title)
        assert fingerprint(title, with_summary) == ref.fingerprint(title, with_summary)
    for title, body in [(None, None), ("", ""), (None, "x"), ("x", None), ("  ", "\n")]:
        assert fingerprint(title, body) == ref.fingerprint(title, body)


URLS = [
    "a/b.html", "../up/x.png", "./same", "/root/y", "//cdn.example.net/i.jpg", "", " ", "#frag",
    "?q=1&utm_source=x", "http://example.com/a b", "HTTPS://Example.COM/Path", "https://x.org",
    "https://x.org/../a/./b", "http://x.org/a/../../b", "javascript:alert(1)", " JavaScript:x",
    "mailto:someone@example.com", "data:image/png;base64,AAAA", "http://[::1", "http://[::1]:8080/v",
    "http://[bad", "https://x.org:99999/", "http:relative", "https:/one-slash", "\thttp://tab.org/",
    "http://x.org/%zz", "http://x.org/a?b#c", "http://пример.рф/путь", "http://x.org/\\back",
    "https://x.org/a\nb", "https://user:pw@x.org/", "ftp://files.x.org/f", "tel:+123", "HTTP://x",
    "http://", "https://", "http:", "//", "///triple", "https://x.org/ trailing ", "&amp;",
    "https://x.org/?a=1&amp;b=2", "https://x.org/a;p?q", "http://x.org/a/b/", "https://x.org//a",
    "http://x.org/a?", "http://x.org/a#", "http://x.org/a?#", "https://x.org?q", "http://x.org#f",
    "https://x.org/a?b=", "http://x.org/a\x0bb", "http://x.org/a\x00b", "http://a@b:c/", "http://?x",
    "http://#x", "https:///x", "http://x.org/a;", "http://x.org:/", "http://x.org/a?b?c#d#e",
]  # fmt: skip
BASES = [
    None, "", "http://e.com", "http://e.com/a/b.html", "https://e.com/dir/", "http://[::1]/x/",
    "http://[bad/", "ftp://x/y/", "relative/base", "//proto.rel/base", "http://e.com/a?q#f",
    "javascript:void(0)", "http://e.com/a/../b/", "https://E.COM:443/x", "http://e.com/a;p/c",
]  # fmt: skip
TAGS = [
    '<a href="{u}">link</a>', "<img src='{u}' alt='x &amp; y'>", '<blockquote cite="{u}">q</blockquote>',
    '<video poster="{u}" src="{u}"></video>', '<img longdesc="{u}">', '<a title="{u}" href=x>t</a>',
    "<script>alert('{u}')</script>", "<p onclick='x'>{u}</p>", "<!-- {u} -->", "plain &amp; {u}",
    '<a href="{u}" rel=nofollow target=_blank>x</a>', "<iframe src='{u}'></iframe>", "<b>{u}",
]  # fmt: skip


def generated_fragments(n: int, seed: int = 8) -> list[tuple[str, str | None]]:
    rnd = random.Random(seed)
    out: list[tuple[str, str | None]] = [("", None), ("text only", "http://e.com"), ("a & b", None)]
    for _ in range(n):
        parts = [
            rnd.choice(TAGS).replace("{u}", rnd.choice(URLS)) for _ in range(rnd.randint(1, 4))
        ]
        out.append(("".join(parts), rnd.choice(BASES)))
    return out


def test_clean_fragment_is_unchanged() -> None:
    cases = _feeds()[1] + generated_fragments(4000)
    for markup, base in cases:
        assert clean_fragment(markup, base) == ref.clean_fragment(markup, base), (markup, base)


def _every_character() -> Iterator[str]:
    """Texts that hold every code point once (lone surrogates too), beside letters,
    apostrophes and spaces, so each is seen inside, before and after a word."""
    for start in range(0, 0x110000, 40):
        chars = [chr(c) for c in range(start, min(start + 40, 0x110000))]
        yield " ".join(f"a{c}b'{c}s {c}’s A{c}" for c in chars)


def test_every_character_is_read_as_before() -> None:
    for text in _every_character():
        assert tokenize(text) == ref.tokenize(text)
        assert normalised_words(text) == ref.normalised_words(text)


def test_resolving_absolute_urls_is_unchanged() -> None:
    """Random http(s) URLs, heavy in the characters urllib treats specially."""
    rnd = random.Random(5)
    alphabet = "ab/./?#;:@%[]=&\t\n\x0b -_~Zé"
    cases = []
    for _ in range(6000):
        tail = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))
        url = rnd.choice(("http://", "https://", "HTTP://", "http:/", "")) + tail
        markup = f'<a href="{html.escape(url)}">x</a><img src="{html.escape(url)}">'
        cases.append((markup, rnd.choice(BASES)))
    for markup, base in cases:
        assert clean_fragment(markup, base) == ref.clean_fragment(markup, base), (markup, base)
