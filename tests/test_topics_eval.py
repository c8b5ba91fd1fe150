"""The shipped topics against the labelled set (wire files and feed items) and the corpus."""

from __future__ import annotations

import pytest

from benchmarks.eval_topics import (
    GATED,
    evaluate_set,
    generated_files,
    load_articles,
    scoop_check,
    tgcontest_check,
)
from tests.conftest import CORPUS

# every case with the compiled phrase scan and with the Python one
pytestmark = pytest.mark.usefixtures("speedups")


def test_the_labelled_set_is_big_bilingual_and_hard() -> None:
    articles = load_articles()
    assert len(articles) >= 80
    assert {a.lang for a in articles} == {"en", "ru"}
    assert min(sum(a.lang == lang for a in articles) for lang in ("en", "ru")) >= 30
    hard = [a for a in articles if a.hard and not (a.labels & set(GATED))]
    assert len(hard) >= len(articles) / 4
    for topic in GATED:
        assert sum(topic in a.labels for a in articles) >= 20, topic
    assert len({a.id for a in articles}) == len(articles)


def test_wire_files_and_feeds_in_the_repo_match_the_labelled_set() -> None:
    """The committed files are what `python -m benchmarks.eval_topics --write` makes."""
    for path, content in generated_files(load_articles()).items():
        assert path.read_text(encoding="utf-8") == content, f"{path} is stale: rerun --write"


def test_shipped_topics_meet_precision_and_recall_on_the_labelled_set() -> None:
    results = evaluate_set(load_articles())
    assert set(results) == {"wire", "feed"}
    for rep, scores in results.items():
        for topic in GATED:
            s = scores[topic]
            assert s.precision >= 0.95, (rep, topic, s.errors)
            assert s.recall >= 0.90, (rep, topic, s.errors)


def test_corpus_sanity_checks() -> None:
    assert CORPUS.exists(), "the shared corpus is test data this suite needs"
    tg = tgcontest_check()
    assert tg["checked"] >= 80
    # sports, entertainment, technology, science and economy stories stay out
    assert len(tg["false_positives"]) <= tg["checked"] * 0.03, tg["false_positives"]
    scoop = scoop_check()
    assert scoop["defense"].tp + scoop["defense"].fn >= 15
    assert scoop["defense"].precision >= 0.9, scoop["defense"].errors
    assert scoop["defense"].recall >= 0.7, scoop["defense"].errors  # one-sentence bodies
    assert scoop["regional-security"].fp == 0, scoop["regional-security"].errors
