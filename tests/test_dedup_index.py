"""The compact LSH index (ingest.lsh) answers exactly as the plain dict of lists it
replaced, through inserts, removals, rollbacks, full buckets and merges, and holds a
copy of a story in a few KB."""

from __future__ import annotations

import functools
import gc
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ingest.dedup
import ingest.lsh
from benchmarks.bench_dedup import TextGen
from db import Store, Writer
from ingest.dedup import Deduplicator, DedupSettings, Match
from ingest.lsh import Bands, BucketIndex
from ingest.minhash import Features, features, strip_signatures

_MIX = np.uint64(0x9E3779B97F4A7C15)


class DictBuckets:
    """The reference: the dict version BucketIndex replaced, a bucket a list of entry ids
    (oldest first) from which a full bucket drops its oldest."""

    def __init__(self, cap: int = 64) -> None:
        self.cap = cap
        self.buckets: dict[int, list[int]] = {}
        self.keys_held: dict[int, list[int]] = {}

    def build(self, entry_ids: np.ndarray, keys: np.ndarray) -> None:
        for entry_id, k in zip(entry_ids.tolist(), keys.tolist(), strict=True):
            self.keys_held.setdefault(entry_id, []).append(k)
            self._add(entry_id, k)

    def insert(self, entry_id: int, keys: np.ndarray) -> None:
        self.keys_held[entry_id] = keys.tolist()
        for k in keys.tolist():
            self._add(entry_id, k)

    def _add(self, entry_id: int, k: int) -> None:
        held = self.buckets.setdefault(k, [])
        if len(held) >= max(self.cap, 2):
            del held[0]
        held.append(entry_id)

    def remove(self, entry_id: int) -> None:
        for k in self.keys_held.pop(entry_id, []):
            held = self.buckets.get(k, [])
            if entry_id in held:
                held.remove(entry_id)

    def query(self, keys: np.ndarray, found: list[int]) -> None:
        for k in keys.tolist():
            found.extend(self.buckets.get(k, []))


def _old_keys(signature: np.ndarray, bands: int, rows: int, first: int = 0) -> list[int]:
    """Bucket keys as the dict version computed them, its bands salted first, first + 1..."""
    m = signature[: bands * rows].astype(np.uint64).reshape(bands, rows)
    h = np.arange(first, first + bands, dtype=np.uint64)
    for r in range(rows):
        h = h * _MIX + m[:, r]
    keys: list[int] = h.tolist()
    return keys


def _hits(index: BucketIndex | DictBuckets, keys: np.ndarray) -> list[int]:
    found: list[int] = []
    index.query(keys, found)
    return sorted(found)


@pytest.mark.usefixtures("speedups")  # insert and query loops in C (_speedups.c), else Python
@pytest.mark.parametrize("bitmap", [False, True], ids=["search", "bitmap"])
@pytest.mark.parametrize("seed", range(6))
def test_bucket_index_answers_as_the_dict_of_lists_through_every_change(
    seed: int, bitmap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random inserts (keys from a small pool, so buckets fill past their cap), batches
    of them looked up at once (`look_up`, the runs then merging mid-batch), removals
    of the oldest (eviction), of any (forget) and of the newest followed by their ids'
    reuse (a rolled-back savepoint), with merges every few inserts; every query of every
    step gives the same ids, each as often, as the reference. With `bitmap`, every run
    has the bitmap that spares absent keys the search (else only runs of 65,536 pairs)."""
    if bitmap:
        monkeypatch.setattr(ingest.lsh, "_BITMAP_FROM", 1)
    rng = random.Random(seed)
    bands = 6
    cap = rng.choice([1, 2, 3, 5])
    real = BucketIndex(cap, pending_max=rng.choice([7, 20, 60]))
    ref = DictBuckets(cap)
    pool = np.array([rng.getrandbits(64) for _ in range(40)], dtype=np.uint64)

    def some_keys() -> np.ndarray:
        return pool[[rng.randrange(len(pool)) for _ in range(bands)]]

    alive: list[int] = []
    if seed % 2:  # a restart: the first copies are loaded in bulk
        first = np.concatenate([some_keys() for _ in range(50)])
        ids = np.repeat(np.arange(1, 51), bands)
        real.build(ids, first)
        ref.build(ids, first)
        alive += list(range(1, 51))
    next_id = len(alive) + 1
    merges = 0
    for _step in range(1500):
        op = rng.random()
        if op < 0.1:  # a batch looked up at once, then queried and inserted copy by copy
            batch = [some_keys() for _ in range(rng.randrange(1, 9))]
            real.look_up(batch)
            for keys in batch:
                assert _hits(real, keys) == _hits(ref, keys)
                real.insert(next_id, keys)
                ref.insert(next_id, keys)
                alive.append(next_id)
                next_id += 1
        elif op < 0.55 or not alive:
            keys = some_keys()
            real.insert(next_id, keys)
            ref.insert(next_id, keys)
            alive.append(next_id)
            next_id += 1
        elif op < 0.75:
            victim = alive.pop(0)  # the oldest leaves the window
            real.remove(victim)
            ref.remove(victim)
        elif op < 0.85:
            victim = alive.pop(rng.randrange(len(alive)))
            real.remove(victim)
            ref.remove(victim)
        else:  # roll back the newest few; their ids come again
            for _ in range(min(len(alive), rng.randrange(1, 4))):
                victim = alive.pop()
                real.remove(victim)
                ref.remove(victim)
            next_id = (alive[-1] if alive else 0) + 1
        merges += real._pending_pairs == 0
        probe = np.append(some_keys(), np.uint64(rng.getrandbits(64)))  # and one in no bucket
        assert _hits(real, probe) == _hits(ref, probe)
        if alive:
            held = ref.keys_held[alive[rng.randrange(len(alive))]]
            own = np.array(held, dtype=np.uint64)
            assert _hits(real, own) == _hits(ref, own)
    assert merges > 20  # the sorted runs were merged, not only the pending dict used
    everything = pool.copy()
    assert _hits(real, everything) == _hits(ref, everything)


def test_memory_stays_flat_while_copies_come_and_go() -> None:
    """A window of 100 copies sliding over 5,000: the pairs of removed copies leave at
    the next merges, and the set of removed ids is emptied (a daemon runs for months)."""
    rng = random.Random(1)
    index = BucketIndex(pending_max=40)
    most_pairs = most_dead = 0
    for i in range(1, 5001):
        index.insert(i, np.array([rng.getrandbits(64) for _ in range(4)], dtype=np.uint64))
        if i > 100:
            index.remove(i - 100)
        if i > 1000:
            most_pairs = max(most_pairs, len(index))
            most_dead = max(most_dead, len(index._dead))
    live = 100 * 4
    assert live <= most_pairs <= 2 * live
    assert most_dead <= 100


def test_bulk_build_keeps_the_newest_copies_of_a_full_bucket() -> None:
    index = BucketIndex(cap=3)
    keys = np.array([7, 8] * 5 + [7, 9], dtype=np.uint64)
    index.build(np.repeat(np.arange(10, 16), 2), keys)
    assert _hits(index, np.array([7], dtype=np.uint64)) == [13, 14, 15]
    assert _hits(index, np.array([8], dtype=np.uint64)) == [12, 13, 14]
    assert _hits(index, np.array([9], dtype=np.uint64)) == [15]
    with pytest.raises(ValueError, match="empty index"):
        index.build(np.arange(2), keys[:2])


@pytest.mark.usefixtures("speedups")  # the keys' arithmetic in C, else in numpy
def test_keys_are_the_band_hashes_of_each_table_and_pairs_the_keys_of_each_copy() -> None:
    rng = np.random.default_rng(3)
    signatures = rng.integers(0, 2**32, (20, 3 * 128), dtype=np.uint32)
    member = rng.random((20, 3)) < 0.7
    bands = Bands(((42, 3), (42, 3), (16, 2)))
    expected_ids, expected_keys = [], []
    for i, (sig, tables) in enumerate(zip(signatures, member, strict=True)):
        expected = []
        for t, (first, n, rows) in enumerate(((0, 42, 3), (42, 42, 3), (84, 16, 2))):
            if tables[t]:
                expected += _old_keys(sig[t * 128 : (t + 1) * 128], n, rows, first)
        keys = bands.keys(np.split(sig, 3), tuple(tables))
        assert keys.dtype == np.uint64 and keys.tolist() == expected
        expected_ids += [i] * len(expected)
        expected_keys += expected
    ids, keys = bands.pairs(np.arange(20), signatures, member)
    assert ids.tolist() == expected_ids and keys.tolist() == expected_keys


def test_one_index_for_three_tables_shares_buckets_as_three_indexes_did() -> None:
    """The head, lead and title tables now share one index, their bands numbered on
    (42 + 42 + 16): two copies share a key exactly when they shared one in a table of
    the dict version (bands salted 0, 1, ... in each), and no key of one table is a key
    of another. So every query finds the same copies, as often."""
    d = Deduplicator()
    tables = [("signature", 42, 3), ("lead_signature", 42, 3), ("title_signature", 16, 2)]
    copies = _stream(700, 11)
    seen: dict[int, int] = {}  # key -> table
    for t, (name, n, rows) in enumerate(tables):
        only = tuple(i == t for i in range(3))
        new_bucket: dict[int, tuple[int, int]] = {}  # key -> its first (copy, band)
        old_bucket: dict[int, tuple[int, int]] = {}
        for i, f in enumerate(copies):
            signatures = (f.signature, f.lead_signature, f.title_signature)
            new = d._bands.keys(signatures, only).tolist()
            old = _old_keys(getattr(f, name), n, rows)
            for b, (new_key, old_key) in enumerate(zip(new, old, strict=True)):
                first = new_bucket.setdefault(new_key, (i, b))
                assert first == old_bucket.setdefault(old_key, (i, b))
                assert seen.setdefault(new_key, t) == t
        assert len(new_bucket) == len(old_bucket) < len(copies) * n  # some are shared


def test_stripped_features_unpack_to_the_same_features_without_signatures() -> None:
    f = features("Kyrgyz border guards detain 3", "BISHKEK, 12 May. Border guards said " * 20)
    stripped = strip_signatures(f.pack())
    g = Features.unpack(stripped)
    assert len(stripped) < len(f.pack()) - 3 * 128 * 4 + 1
    for name in ("words", "lead", "title", "numbers", "lead_numbers", "names", "quoted"):
        assert getattr(g, name).tolist() == getattr(f, name).tolist(), name
    assert (g.length, g.update) == (f.length, f.update)
    assert not len(g.signature) and not len(g.lead_signature) and not len(g.title_signature)


@functools.cache
def _stream(n: int, seed: int) -> list[Features]:
    return [features(title, body) for title, body in _texts(n, seed)]


def _texts(n: int, seed: int) -> Iterator[tuple[str, str]]:
    """Stories, other outlets' rewrites of recent ones, and a daily template whose copies
    share most buckets (full buckets, many candidates)."""
    gen = TextGen(seed)
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []
    template = (
        "The city weather service said on {d} that the temperature would reach {t} degrees"
        " with light winds and no rain expected until the evening."
    )
    for i in range(n):
        kind = i % 6
        if kind == 0 and recent:
            yield gen.rewrite(*recent[rng.randrange(len(recent))])
        elif kind == 3:
            yield f"Weather for day {i}", template.format(d=f"day {i}", t=1000 + i)
        else:
            story = gen.article()
            recent = [*recent[-59:], story]
            yield story


def _verdicts(tmp: Path, buckets: type, settings: DedupSettings) -> list[object]:
    """Every verdict of a Deduplicator whose LSH buckets are `buckets`, over a stream
    with rollbacks, forgotten articles, evictions and a restart."""
    store = Store(tmp / "store.db")
    original = ingest.dedup.BucketIndex
    ingest.dedup.BucketIndex = buckets  # type: ignore[misc]
    try:
        out: list[object] = []
        d = Deduplicator(settings)
        d.load(store)
        stream = _stream(700, 11)
        with store.write() as w:
            for j, f in enumerate(stream):
                mark = d.mark()
                m = d.find(f, 1.7e9, "en", f"s{j % 3}")
                out.append(_tuple(m))
                aid = m.article_id if m else j + 1
                _article(w, j + 1)
                d.add(w, aid, None, f, "2023-11-14T22:13:20Z", True, "en", f"s{j % 3}")
                if j % 29 == 0:  # the item failed: its entry goes, its rowid comes again
                    w.conn.execute(
                        "DELETE FROM dedup_signatures WHERE id = (SELECT max(id) FROM"
                        " dedup_signatures)"
                    )
                    d.rollback(mark)
                if j % 97 == 0:
                    d.forget(j // 2 + 1)
            out.append(len(d))
        again = Deduplicator(settings)
        out.append(again.load(store))
        for f in stream[::5]:
            out.append(_tuple(again.find(f, 1.7e9, "en", "other")))
        store.close()
        return out
    finally:
        ingest.dedup.BucketIndex = original  # type: ignore[misc]


def _article(w: Writer, article_id: int) -> None:
    """A bare article row for entries to point at."""
    when = "2023-11-14T22:13:20Z"
    w.conn.execute(
        """INSERT INTO articles (id, guid, title, published, updated, source, fingerprint,
             first_seen) VALUES (?, ?, 't', ?, ?, 's', ?, ?)""",
        (article_id, f"g{article_id}", when, when, f"fp{article_id}", when),
    )


def _tuple(m: Match | None) -> object:
    return m and (m.article_id, m.similarity, m.reason, m.entry_id, m.conflict, m.same_source)


def _merging_often(cap: int = 64) -> BucketIndex:
    return BucketIndex(cap, pending_max=300)


@pytest.mark.parametrize(
    "settings",
    [
        DedupSettings(max_entries=150, bucket_cap=4, max_candidates=5),
        DedupSettings(bucket_cap=3),
        DedupSettings(),
    ],
    ids=["evicting", "small-buckets", "defaults"],
)
def test_deduplicator_verdicts_are_those_of_the_dict_index(
    tmp_path: Path, settings: DedupSettings
) -> None:
    compact = _verdicts(tmp_path / "a", _merging_often, settings)
    reference = _verdicts(tmp_path / "b", DictBuckets, settings)
    assert compact == reference
    assert sum(v is not None for v in compact[:700]) > 50  # rewrites and templates found


def test_a_copy_costs_a_few_kilobytes_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries with their features and bucket keys, measured with tracemalloc: ~3.5 KB
    each (packed features ~1.2 KB and their array views ~0.9 KB, ~90 bucket pairs at
    13-14 bytes, bookkeeping) where the dict version held ~8 KB for these texts (~11 KB
    for the feed farm's: 7.3 KB of buckets, 4 KB of features). The buffer of the latest
    inserts has a fixed size (`pending_max` pairs, ~5 MB by default, 1-2% of a full
    window): a small one here keeps it from weighing on 2,000 copies."""
    monkeypatch.setattr(ingest.dedup, "BucketIndex", lambda cap: BucketIndex(cap, 2048))
    feats = _stream(2000, 5)
    store = Store(tmp_path / "store.db")
    d = Deduplicator()
    d.load(store)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with store.write() as w:
            for i, f in enumerate(feats):
                _article(w, i + 1)
                d.add(w, i + 1, None, f, "2023-11-14T22:13:20Z", True, "en", "s")
            d.commit()
            d._last = None  # the keys of the last copy are not the index
            gc.collect()
            per_entry = (tracemalloc.get_traced_memory()[0] - before) / len(feats)
    finally:
        tracemalloc.stop()
        store.close()
    assert len(d) == len(feats) and len(d._buckets) >= 80 * len(feats)
    assert per_entry <= 4500, per_entry
