"""Worker-side preparation (ingest.prepare) stores exactly what the pipeline's own does.

The same corpus feeds and wire files go into two fresh stores: once as parsed, once with
every item prepared and filed under topics beforehand (as a parse or drop-folder worker
does). Everything stored must be equal, except times that are "now" by nature.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import pickle
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasketch import MinHash

from ingest import dropfolder as drops_module
from ingest import minhash
from ingest.dropfolder import read_drop
from ingest.feedparse import parse_feed
from ingest.item import Item
from ingest.prepare import (
    PackedRules,
    Prepared,
    Seen,
    attach,
    parse_and_prepare,
    prepare,
    prepared,
    use_rules,
)
from ingest.topics import Matcher
from tests.conftest import CORPUS, SEED, write_config
from wiredesk.config import load_config
from wiredesk.desk import Desk

REAL = CORPUS / "feeds-real"
FEEDS = [
    "rss2/feedreader_reuters.xml",
    "rss2/feedreader_yandex-russia.xml",
    "rss2/miniflux_ibash-windows-1251.xml",
    "rss2/nodefeedparser_guid-dupes.xml",
    "atom/netnewswire_daringfireball.xml",
    "rss1-rdf/kagi_deutsche-welle.xml",
    "jsonfeed/netnewswire_daringfireball.json",
]
WIRE = sorted((CORPUS / "wire-stories" / "tass-en" / "txt").glob("*.txt"))[:40]


def _batches() -> list[list[Item]]:
    out = []
    for name in FEEDS:
        path = REAL / name
        if path.exists():
            out.append(parse_feed(path.read_bytes(), name.replace("/", "-")).items)
    out.append([i for p in [SEED, *WIRE] for i in read_drop(p, p.read_bytes()).items])
    assert sum(map(len, out)) > 100
    return out


def _dump(conn: sqlite3.Connection) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    return {
        "articles": rows(
            """SELECT id, guid, title, summary, body, content_html, url, canonical_url,
                      CASE WHEN published = first_seen THEN 'first-seen' ELSE published END,
                      published_raw, source, author, agency, dateline, language, subheads,
                      fingerprint, rep_sighting FROM articles ORDER BY id"""
        ),
        "sightings": rows(
            """SELECT id, article_id, source, item_key, url, match, similarity, reason,
                      content_hash FROM sightings ORDER BY id"""
        ),
        "topics": rows("SELECT * FROM article_topics ORDER BY article_id, topic"),
        "keys": rows("SELECT * FROM article_keys ORDER BY key"),
        "dedup": rows(
            "SELECT article_id, sighting_id, source, published, language, features"
            " FROM dedup_signatures ORDER BY id"
        ),
        "failures": rows("SELECT source, item_key, reason FROM failures ORDER BY id"),
    }


def _store(tmp: Path, batches: list[list[Item]]) -> dict[str, Any]:
    tmp.mkdir()
    desk = Desk(load_config(write_config(tmp)))
    try:
        for items in batches:
            desk.pipeline.ingest(items)
        return _dump(desk.store.reader())
    finally:
        desk.close()


def _roundtrip(batches: list[list[Item]]) -> list[list[Item]]:
    """Items as they come back from a worker process."""
    out: list[list[Item]] = pickle.loads(pickle.dumps(batches))
    return out


@pytest.fixture(scope="module")
def inline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _store(tmp_path_factory.mktemp("inline") / "s", _batches())


def test_items_prepared_in_a_worker_store_the_same(tmp_path: Path, inline: dict[str, Any]) -> None:
    rules = load_config(write_config(tmp_path)).topic_rules()
    batches = _batches()
    use_rules(rules)
    try:
        for items in batches:
            attach(items)
    finally:
        use_rules(None)
    batches = _roundtrip(batches)
    assert all(i.prepared is not None and i.prepared.topics for b in batches for i in b)
    got = _store(tmp_path / "prepared", batches)
    assert got["topics"], "the corpus files some stories under topics"
    assert got == inline


def test_an_item_prepared_before_comes_back_seen_and_costs_no_preparation(
    tmp_path: Path, inline: dict[str, Any]
) -> None:
    """A re-parsed feed's items that this process prepared before come back as `Seen`:
    the writer takes them as unchanged from their sighting alone. One changed item is
    prepared and updates its article; against a store without their sightings, `Seen`
    items are prepared by the writer and stored exactly as inline."""
    first = _batches()
    for items in first:
        attach(items)
    assert all(isinstance(i.prepared, Prepared) for b in first for i in b)
    again = _batches()
    changed = again[0][0]
    changed.title = f"{changed.title} (corrected)"
    for items in again:
        attach(items)
    seen = [i for b in again for i in b if isinstance(i.prepared, Seen)]
    assert len(seen) == sum(map(len, again)) - 1 and isinstance(changed.prepared, Prepared)
    hashes = {(i.source, i.item_key): i.prepared.content_hash for b in first for i in b}  # type: ignore[union-attr]
    assert all(hashes[(i.source, i.item_key)] == i.prepared.content_hash for i in seen)  # type: ignore[union-attr]

    (tmp_path / "desk").mkdir()
    desk = Desk(load_config(write_config(tmp_path / "desk")))
    try:
        for items in _roundtrip(first):
            desk.pipeline.ingest(items)
        before = _dump(desk.store.reader())
        kinds = [o.kind for items in _roundtrip(again) for o in desk.pipeline.ingest(items)]
        assert kinds.count("update") == 1 and kinds.count("unchanged") == len(kinds) - 1
        after = _dump(desk.store.reader())
    finally:
        desk.close()
    assert len(after["sightings"]) == len(before["sightings"])
    assert after["articles"] != before["articles"]

    third = _batches()
    for items in third:
        attach(items)
    assert all(isinstance(i.prepared, Seen) for b in third for i in b)
    assert _store(tmp_path / "fresh", _roundtrip(third)) == inline


def test_topics_filed_by_other_rules_are_filed_again(
    tmp_path: Path, inline: dict[str, Any]
) -> None:
    cfg = load_config(write_config(tmp_path))
    other = [dataclasses.replace(r, threshold=0.5) for r in cfg.topic_rules()]
    batches = _batches()
    use_rules(other)
    try:
        for items in batches:
            attach(items)
    finally:
        use_rules(None)
    assert _store(tmp_path / "other-rules", _roundtrip(batches)) == inline


def test_an_item_changed_after_preparation_is_prepared_again() -> None:
    item = parse_feed((REAL / FEEDS[0]).read_bytes(), "s").items[0]
    attach([item])
    first = item.prepared
    assert first is not None and prepared(item) is first
    item.body = "A different story altogether, told in other words by another outlet."
    again = prepared(item)
    assert again is not first and again.body == item.body
    assert again.fingerprint != first.fingerprint


def test_content_hash_without_summary_is_the_fingerprint() -> None:
    item = Item(source="s", item_key="k", title="Title here", body="Body text of the story.")
    p = prepare(item)
    assert p.content_hash == p.fingerprint
    with_summary = prepare(
        Item(source="s", item_key="k", title="Title here", body=item.body, summary="Short.")
    )
    assert with_summary.content_hash != with_summary.fingerprint


def test_signature_equals_datasketch_minhash() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 7, 40, 300):
        hashes = np.unique(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32))
        m = MinHash(num_perm=minhash.NUM_PERM, seed=1, scheme="affine32")
        m.hashfunc = int
        m.update_batch(hashes.tolist())
        assert np.array_equal(minhash._signature(hashes), np.asarray(m.hashvalues, np.uint32))


def test_unsigned_features_travel_lighter_and_sign_to_the_same_bytes() -> None:
    """A worker's features leave the MinHash signatures to the writer: after the trip
    (pickle), `signed()` gives what `features()` gives, byte for byte."""
    texts = [("", SEED.read_text(encoding="utf-8"))] + [
        ("", p.read_text(encoding="utf-8")) for p in WIRE
    ]
    texts += [("Title only, a few words", None), ("", ""), ("Short", "Two words.")]
    for title, body in texts:
        signed = minhash.features(title, body)
        unsigned = minhash.features(title, body, signed=False)
        assert not len(unsigned.signature) and not len(unsigned.lead_signature)
        trip = pickle.loads(pickle.dumps(unsigned))
        assert len(pickle.dumps(unsigned)) < len(pickle.dumps(signed))
        assert trip.signed().pack() == signed.pack()
        assert trip.signed() is trip.signed()  # computed once
        assert signed.signed() is signed
        assert np.array_equal(trip.words, signed.words) and trip.update == signed.update


def test_memo_tables_stay_bounded(speedups: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cleared when full: never more than the cap plus one document's words, with the
    compiled tokenizer (its own table of readings) or without it (`_READING`)."""
    monkeypatch.setattr(minhash, "_READING", {})
    monkeypatch.setattr(minhash, "_TABLE", None)

    def word(n: int) -> str:  # letters only: a digit would split it into several tokens
        out = "zq"
        while n:
            n, r = divmod(n, 26)
            out += chr(97 + r)
        return out

    text = " ".join(word(i) for i in range(400))
    before = minhash.features("A title", text).pack()
    monkeypatch.setattr(minhash, "_MEMO_MAX", 50)
    for d in range(1, 6):
        minhash.features("A title", " ".join(word(d * 1000 + i) for i in range(400)))
        if speedups == "compiled":  # the scanner's table, holding this document's words
            assert minhash._TABLE is not None and 400 <= len(minhash._TABLE) <= 50 + 400
        assert len(minhash._READING) <= 50 + 400
        assert len(minhash._STEM_HASH) <= 50 + 400
    assert minhash.features("A title", text).pack() == before  # same values, memo or not
    # a full memo holding some of a document's words, not all: emptied before the lookup,
    # not between finding what is missing and reading the rest (a KeyError once did)
    mixed = minhash.features("A title", f"{text} {word(99_999)}")
    assert len(mixed.words) == len(minhash.features("A title", text).words) + 1


def test_big_drop_pickup_in_a_worker_stores_the_same(tmp_path: Path) -> None:
    texts = [(f"w{i:03d}.txt", p.read_bytes()) for i, p in enumerate([SEED, *WIRE] * 4)]
    assert len(texts) >= drops_module.POOL_MIN_FILES
    dumps = []
    for workers in (0, 1):
        root = tmp_path / f"workers{workers}"
        root.mkdir()
        desk = Desk(load_config(write_config(root)))
        desk.drops.workers = workers
        try:
            for name, data in texts:
                (desk.config.drops.path / name).write_bytes(data)
            result = desk.pick_up_drops()
            assert (result.taken, result.failed) == (len(texts), 0)
            assert (desk.drops._pool is not None) == bool(workers)
            dumps.append(_dump(desk.store.reader()))
        finally:
            desk.close()
    assert dumps[0]["sightings"] and dumps[0] == dumps[1]


@pytest.mark.parametrize("packed", [False, True])
def test_parse_and_prepare_runs_as_a_pool_task(tmp_path: Path, packed: bool) -> None:
    """A drop-in for parse_feed in a worker: pickles (inside a partial), prepares, files
    by the very rules given, as a list or packed as the poller sends them."""
    rules = load_config(write_config(tmp_path)).topic_rules()
    data = (REAL / FEEDS[0]).read_bytes()
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        given = PackedRules.of(rules) if packed else rules
        task = functools.partial(parse_and_prepare, rules=given)
        parsed = pool.submit(task, data, "s", base_url="http://x.example/").result(60)
    inline = parse_feed(data, "s", base_url="http://x.example/")
    assert [i.item_key for i in parsed.items] == [i.item_key for i in inline.items]
    for got, item in zip(parsed.items, inline.items, strict=True):
        assert got.prepared is not None and got.prepared.matches(item)
        assert got.prepared.topics is not None
        assert got.prepared.topics[0] == Matcher(rules).fingerprint
        assert got.prepared.fingerprint == prepare(item).fingerprint


def test_features_keep_the_bytes_they_came_in() -> None:
    """The writer stores the bytes a worker sent (no second packing): they must be what
    packing the unpacked features gives, for features with and without signatures."""
    text = SEED.read_text(encoding="utf-8")
    f = minhash.features("Seed", text)
    packed = f.pack()
    received = pickle.loads(pickle.dumps(f))
    assert all(np.array_equal(getattr(received, n), getattr(f, n)) for n in minhash._ARRAYS)
    assert received.pack() is received.pack() and received.pack() == packed
    fresh = dataclasses.replace(received)  # built by __init__: packed from its arrays
    assert fresh.pack() == packed
    stripped = minhash.Features.unpack(minhash.strip_signatures(packed))
    assert stripped.pack() == dataclasses.replace(stripped).pack()
    assert len(stripped.signature) == 0
    mutable = minhash.Features.unpack(bytearray(packed))  # not kept: it could change
    assert mutable.pack() == packed and "_packed" not in mutable.__dict__


def test_an_item_back_to_text_the_worker_remembers_is_still_an_update(tmp_path: Path) -> None:
    """The worker remembers text A; the feed changes the item to B (stored), then back to
    A: the worker says `Seen` (A's hash) but the sighting holds B's, so the writer
    prepares it and updates the article back to A."""

    def item(title: str) -> Item:
        return Item(source="s", item_key="k1", title=title, body="A body of several words.")

    desk = Desk(load_config(write_config(tmp_path)))
    try:
        outcomes = []
        for title in ("Version A", "Version B", "Version A"):
            items = attach([item(title)])
            outcomes.append(desk.pipeline.ingest(_roundtrip([items])[0])[0].kind)
        assert isinstance(items[0].prepared, Seen)
        (title,) = desk.store.reader().execute("SELECT title FROM articles").fetchone()
    finally:
        desk.close()
    assert outcomes == ["new", "update", "update"]
    assert title == "Version A"
