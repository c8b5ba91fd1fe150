"""The compiled helpers (ingest/_speedups.c) equal the Python and numpy code they stand in
for, on random input at the edges (empty sets, repeats, the uint32 extremes), and name
what is wrong with input they cannot take. The tokenizer has its own equivalence tests
(test_features_equivalence.py, which runs every case both ways)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ingest import compiled, dedup, minhash

c = compiled.speedups


@pytest.fixture(autouse=True)
def _built() -> None:
    assert c is not None, "ingest._speedups is not built: pip install -e ."


def _values(rng: random.Random, n: int) -> list[int]:
    pool = [0, 1, 2, 0xFFFFFFFF, 0xFFFFFFFE, 0x80000000]
    return [rng.choice(pool) if rng.random() < 0.2 else rng.getrandbits(32) for _ in range(n)]


def _sorted(rng: random.Random, n: int, pool: list[int]) -> np.ndarray:
    picked = {rng.choice(pool) for _ in range(n)} if pool else set()
    return np.array(sorted(picked), dtype=np.uint32)


def test_sorted_unique_is_numpy_unique_of_each_group() -> None:
    rng = random.Random(1)
    for _ in range(300):
        groups = [_values(rng, rng.choice((0, 1, 2, 5, 60, 700))) for _ in range(rng.randint(0, 9))]
        groups = [g + g[: rng.randint(0, len(g))] for g in groups]  # repeats
        data, sizes = c.sorted_unique(*groups)
        flat = np.frombuffer(data, dtype=np.uint32)
        assert list(sizes) == [len(set(g)) for g in groups]
        at = 0
        for g, n in zip(groups, sizes, strict=True):
            assert np.array_equal(flat[at : at + n], np.unique(np.array(g, dtype=np.uint32)))
            at += n
        assert at == len(flat)


def test_nested_parts_and_signatures_equal_the_numpy_ones() -> None:
    rng = random.Random(2)
    a, b = minhash._permutations()
    for _ in range(300):
        pool = _values(rng, 400)
        inner = set(rng.sample(pool, rng.choice((0, 1, 10, 60))))
        middle = inner | set(rng.sample(pool, rng.choice((0, 1, 30))))
        outer = middle | set(rng.sample(pool, rng.choice((0, 1, 80))))
        arrays = [np.array(sorted(s), dtype=np.uint32) for s in (inner, middle, outer)]
        values, sizes = c.nested_parts(*arrays)
        want_values, want_sizes = minhash._nested_parts(inner, middle, outer)
        assert sizes == want_sizes
        got = np.frombuffer(values, dtype=np.uint32)
        want = np.frombuffer(want_values, dtype="<u4")
        starts = [0, sizes[0], sizes[0] + sizes[1], sum(sizes)]
        for k in range(3):  # the same values in each part; the order is the set's
            part = slice(starts[k], starts[k + 1])
            assert sorted(got[part].tolist()) == sorted(want[part].tolist())
        signed = np.frombuffer(c.nested_signatures(got, sizes, a, b), dtype=np.uint32)
        monkey = compiled.speedups
        try:
            compiled.speedups = None
            reference = minhash._nested_signatures(want.astype(np.uint32), want_sizes)
        finally:
            compiled.speedups = monkey
        assert np.array_equal(signed, np.concatenate(reference))


def test_inter_count_equals_numpy_intersections() -> None:
    rng = random.Random(3)
    for _ in range(300):
        pool = _values(rng, rng.choice((1, 50, 500)))
        ref = _sorted(rng, rng.choice((0, 1, 40, 300)), pool)
        arrays = [
            _sorted(rng, rng.choice((0, 1, 20, 200)), pool) for _ in range(rng.randint(0, 12))
        ]
        want = [len(np.intersect1d(ref, x)) for x in arrays]
        counts, lengths = dedup._inter_counts(ref, arrays)  # the numpy screen's counts
        assert [int(v) for v in counts] == want
        assert [int(v) for v in lengths] == [len(x) for x in arrays]
        assert [c.inter_count(ref, x) for x in arrays] == want
        assert [c.inter_count(x, ref) for x in arrays] == want


def test_word_count_is_the_length_of_split() -> None:
    # every character str.split cuts at, and some it does not (zero-width space, NBSP's
    # narrow cousin), in each of the three string widths
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()] + ["\u200b", "\u202f", "\ufeff"]
    letters = ["a", "é", "Ж", "字", "\U0001f600", "1", "-", "_"]
    rng = random.Random(5)
    for _ in range(2000):
        text = "".join(
            rng.choice(spaces if rng.random() < 0.4 else letters) for _ in range(rng.randint(0, 30))
        )
        assert c.word_count(text) == len(text.split()), repr(text)


def test_run_and_pending_hits_read_what_the_python_loops_read() -> None:
    rng = random.Random(6)
    for _ in range(300):
        size = rng.choice((0, 1, 5, 300))
        ids = np.array(_values(rng, size), dtype=np.uint32)
        live = np.array([rng.random() < 0.8 for _ in range(size)], dtype=bool)
        lo = np.array(
            sorted(rng.randint(0, size) for _ in range(rng.randint(0, 40))), dtype=np.intp
        )
        hi = np.minimum(lo + np.array([rng.choice((0, 0, 1, 3)) for _ in lo], np.intp), size)
        dead = {int(i) for i in ids if rng.random() < 0.1}
        for alive, gone in ((None, None), (live, None), (live, dead), (None, dead)):
            found: list[int] = [7]
            c.run_hits(lo, hi, ids, alive, gone, found)
            want = [
                int(ids[p])
                for a, b in zip(lo, hi, strict=True)
                for p in range(a, b)
                if (alive is None or alive[p]) and (not gone or int(ids[p]) not in gone)
            ]
            assert found == [7, *want]
        pending = {k: rng.randint(0, 9) for k in _values(rng, 20)}
        later = {
            k: [rng.randint(0, 9) for _ in range(rng.randint(1, 3))]
            for k in pending
            if rng.random() < 0.5
        }
        keys = [rng.choice([*pending, 1 << 63, 5]) for _ in range(30)]
        found = []
        c.pending_hits(pending, later, keys, found)
        assert found == [e for k in keys if k in pending for e in (pending[k], *later.get(k, ()))]


def test_ascii_words_are_the_normalised_words() -> None:
    from ingest.normalize import _words

    rng = random.Random(7)
    alphabet = "aZq09 \t\n\r.,!-_'\"\x00\x1f\x7f~"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        words = _words(text)
        assert c.ascii_words(text) == (" ".join(words).encode(), len(words)), repr(text)
    assert c.ascii_words("naïve") is None


def test_token_table_keeps_every_token_it_is_given_through_its_growth() -> None:
    table = c.TokenTable()
    tokens = [f"w{i}" for i in range(50_000)] + ["", "é", "Жук", "字", "\U0001f600x", "a" * 300]
    for i, tok in enumerate(tokens):
        table.put(tok, i * 7919 % (1 << 64))
    assert len(table) == len(tokens)
    assert all(table.get(tok) == i * 7919 % (1 << 64) for i, tok in enumerate(tokens))
    assert table.get("w50000") is None and table.get("Жука", -1) == -1
    table.put("w3", (1 << 64) - 1)  # a new value, not a new token
    assert len(table) == len(tokens) and table.get("w3") == (1 << 64) - 1
    table.clear()
    assert len(table) == 0 and table.get("w3") is None


def test_merge_runs_and_fill_bitmap_equal_numpy() -> None:
    rng = np.random.default_rng(8)
    for _ in range(200):
        pool = rng.integers(0, 2**64, size=rng.choice((1, 5, 50)), dtype=np.uint64)
        pool[:1] = np.array([0, 2**64 - 1], dtype=np.uint64)[rng.integers(2)]
        old = np.sort(rng.choice(pool, size=rng.choice((0, 1, 40))))
        new = np.sort(rng.choice(pool, size=rng.choice((0, 1, 40))))
        old_ids = rng.integers(0, 2**32, size=len(old), dtype=np.uint32)
        new_ids = rng.integers(0, 2**32, size=len(new), dtype=np.uint32)
        keys, ids = c.merge_runs(old, old_ids, new, new_ids)
        at = old.searchsorted(new, "right")  # the numpy merge it stands in for
        assert np.frombuffer(keys, np.uint64).tolist() == np.insert(old, at, new).tolist()
        assert np.frombuffer(ids, np.uint32).tolist() == np.insert(old_ids, at, new_ids).tolist()
        shift = int(rng.integers(50, 64))
        bits = np.zeros((1 << (64 - shift)) // 8 + 1, dtype=np.uint8)
        c.fill_bitmap(old, shift, bits)
        want = np.zeros(len(bits) * 8, dtype=bool)
        want[(old >> np.uint64(shift)).astype(np.intp)] = True
        assert np.unpackbits(bits, bitorder="little").astype(bool).tolist() == want.tolist()


def test_input_it_cannot_take_is_named() -> None:
    keys = np.array([2**63], dtype=np.uint64)
    with pytest.raises(ValueError, match="past the bitmap"):
        c.fill_bitmap(keys, 60, np.zeros(1, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"0\.\.63"):
        c.fill_bitmap(keys, 64, np.zeros(1, dtype=np.uint8))
    with pytest.raises(BufferError):  # read-only
        c.fill_bitmap(keys, 63, bytes(1))
    with pytest.raises(ValueError, match="an id per key"):
        c.merge_runs(keys, np.zeros(2, np.uint32), keys, np.zeros(1, np.uint32))
    with pytest.raises(TypeError, match="uint64"):
        c.merge_runs(keys.astype(np.int64), np.zeros(1, np.uint32), keys, np.zeros(1, np.uint32))
    with pytest.raises(TypeError, match="no arguments"):
        c.TokenTable(5)
    with pytest.raises(OverflowError):
        c.TokenTable().put("x", -1)
    with pytest.raises(TypeError, match="str"):
        c.starts([1], c.TokenTable())
    with pytest.raises(TypeError, match="str"):
        c.ascii_words(b"bytes")
    ids = np.zeros(4, dtype=np.uint32)
    two = np.array([0, 2], dtype=np.intp)
    with pytest.raises(ValueError, match="outside the run"):
        c.run_hits(two, np.array([1, 5], dtype=np.intp), ids, None, None, [])
    with pytest.raises(ValueError, match="as long"):
        c.run_hits(two, two[:1], ids, None, None, [])
    with pytest.raises(TypeError, match="intp"):
        c.run_hits(two.astype(np.int32), two, ids, None, None, [])
    with pytest.raises(TypeError, match="bool"):
        c.run_hits(two, two, ids, np.ones(4, dtype=np.int8), None, [])
    with pytest.raises(TypeError, match="set"):
        c.run_hits(two, two, ids, None, [1], [])
    with pytest.raises(TypeError, match="lists"):
        c.pending_hits({1: 2}, {1: 3}, [1], [])
    sig = np.zeros(4, dtype=np.uint32)
    gather, coefficients, salt = (
        np.array([[0, 8]]),
        np.ones((1, 2), np.uint64),
        np.ones(1, np.uint64),
    )
    assert np.frombuffer(c.band_keys((sig, sig), 4, gather, coefficients, salt, 2), np.uint64) == [
        1
    ]
    with pytest.raises(ValueError, match="past the signatures"):
        c.band_keys((sig, sig), 4, gather + 1, coefficients, salt, 2)
    with pytest.raises(ValueError, match="width"):
        c.band_keys((sig, sig[:3]), 4, gather, coefficients, salt, 2)
    with pytest.raises(ValueError, match="a row per band"):
        c.band_keys((sig, sig), 4, gather, coefficients, salt, 3)
    with pytest.raises(TypeError, match="uint64"):
        c.band_keys((sig, sig), 4, gather, coefficients.astype(np.int64), salt, 2)
    with pytest.raises(TypeError, match="str"):
        c.word_count(b"bytes")
    with pytest.raises(OverflowError, match="uint32"):
        c.sorted_unique([1 << 32])
    with pytest.raises(OverflowError):
        c.sorted_unique([-1])
    with pytest.raises(TypeError, match="sequences"):
        c.sorted_unique(5)
    with pytest.raises(TypeError, match="uint32"):
        c.inter_count(np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.uint32))
    with pytest.raises(TypeError, match="uint32"):
        c.inter_count(np.zeros(3, dtype=np.uint32), np.zeros(3, dtype=np.uint16))
    feats = minhash.features("A title of words", "Some body text here")
    odd = minhash.Features.unpack(feats.pack())
    object.__setattr__(odd, "lead", np.zeros(2, dtype=np.float32))
    with pytest.raises(TypeError, match="uint32"):
        c.similarities(feats, [feats, odd], 15, 0.6, 15, 3, 0.6)
    with pytest.raises(TypeError, match="uint32"):
        c.nested_parts(np.zeros(3, dtype=">u4"), np.zeros(0, np.uint32), np.zeros(0, np.uint32))
    a, b = minhash._permutations()
    with pytest.raises(ValueError, match="sizes"):
        c.nested_signatures(np.zeros(3, dtype=np.uint32), (1, 1, 2), a, b)
    with pytest.raises(ValueError, match="sizes"):
        c.nested_signatures(np.zeros(3, dtype=np.uint32), (1, 1, 1), a, b[:5])
