"""MinHash LSH buckets held in numpy: which stored copies share a band with a new one."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from ingest import compiled

_MIX = np.uint64(0x9E3779B97F4A7C15)
_NO_KEYS = np.zeros(0, dtype=np.uint64)
_NO_IDS = np.zeros(0, dtype=np.uint32)
_ZERO = np.zeros(1, dtype=np.uint32)
_BIT = np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=np.uint8)
_BITMAP_FROM = 1 << 16  # pairs in a run from which it has a bitmap (~0.5 MB of keys)
MAX_ID = 2**32 - 1  # entry ids are stored as uint32 (rowids of dedup_signatures)


class Bands:
    """The LSH tables of a copy: table t cuts MinHash signature t into `bands` bands of
    `rows` values, and each band is hashed to one 64-bit bucket key,
    h = salt; h = h * MIX + value for each value of the band (modulo 2**64),
    the salt being the band's number counted across the tables, so the tables of one
    index never share a key (but by a 64-bit accident, as two bands of one table never
    do either). All the keys of a copy are computed in one array expression: the
    recurrence unrolled is salt * MIX**rows + sum(value_r * MIX**(rows - 1 - r))."""

    def __init__(self, tables: Sequence[tuple[int, int]], width: int = 128) -> None:
        self.tables = tuple(tables)
        self.width = width
        most = max(rows for _, rows in self.tables)
        pad = len(self.tables) * width  # where the signatures end: a zero is put there
        gather, coefficients, salt, table_of = [], [], [], []
        number = 0
        for t, (bands, rows) in enumerate(self.tables):
            if bands * rows > width:
                raise ValueError(f"{bands} bands of {rows} rows need more than {width} values")
            for b in range(bands):
                gather.append([t * width + b * rows + r if r < rows else pad for r in range(most)])
                coefficients.append([_power(rows - 1 - r) if r < rows else 0 for r in range(most)])
                salt.append(number * _power(rows) % 2**64)
                table_of.append(t)
                number += 1
        self._rows = most  # columns of the gather and coefficient rows
        self._gather = np.array(gather, dtype=np.intp)
        self._coefficients = np.array(coefficients, dtype=np.uint64)
        self._salt = np.array(salt, dtype=np.uint64)
        self._table_of = np.array(table_of, dtype=np.intp)
        self._chosen: dict[tuple[bool, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def keys(self, signatures: Sequence[np.ndarray], member: Sequence[bool]) -> np.ndarray:
        """The bucket keys (uint64) of one copy in the tables it is a `member` of, table
        by table, from its signatures (one per table, `width` values each)."""
        gather, coefficients, salt = self._choose(tuple(member))
        c = compiled.speedups
        if c is not None and len(signatures) == len(self.tables):  # ~1 us against ~6
            raw = c.band_keys(tuple(signatures), self.width, gather, coefficients, salt, self._rows)
            return np.frombuffer(raw, dtype=np.uint64)
        flat = np.concatenate([*signatures, _ZERO])
        if len(flat) != len(self.tables) * self.width + 1:
            raise ValueError(f"expected {len(self.tables)} signatures of {self.width} values")
        values = flat[gather].astype(np.uint64)
        keys: np.ndarray = salt + (values * coefficients).sum(axis=1)
        return keys

    def pairs(
        self, entry_ids: np.ndarray, signatures: np.ndarray, member: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Many copies' (entry id, bucket key) pairs, copy by copy as `keys` gives them:
        `signatures` has a row per copy (its signatures end to end), `member` a row of
        booleans per copy (one per table)."""
        n = len(entry_ids)
        owners, keys = [], []
        for start in range(0, n, 4096):  # (copies, bands, rows) of uint64 is large
            rows = signatures[start : start + 4096]
            flat = np.concatenate([rows, np.zeros((len(rows), 1), rows.dtype)], axis=1)
            values = flat[:, self._gather].astype(np.uint64)
            chunk = self._salt + (values * self._coefficients).sum(axis=2)
            kept = member[start : start + 4096][:, self._table_of]
            keys.append(chunk[kept])
            owners.append(np.repeat(entry_ids[start : start + 4096], kept.sum(axis=1)))
        if not keys:
            return np.zeros(0, dtype=np.int64), _NO_KEYS
        return np.concatenate(owners), np.concatenate(keys)

    def _choose(self, member: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        chosen = self._chosen.get(member)
        if chosen is None:
            if len(member) != len(self.tables):
                raise ValueError(f"expected {len(self.tables)} table memberships")
            bands = np.flatnonzero(np.array(member, dtype=bool)[self._table_of])
            chosen = self._chosen[member] = (
                self._gather[bands],
                self._coefficients[bands],
                self._salt[bands],
            )
        return chosen


def _power(e: int) -> int:
    return pow(int(_MIX), e, 2**64)


class _Run:
    """(bucket key, entry id) pairs sorted by key; within a bucket, oldest insert first.
    `live` is False for a pair its full bucket dropped.

    A binary search in a large run costs a cache miss per level for most of its ~20
    levels, and most keys of a query are in no bucket: a bitmap with a bit per 2**shift
    key values (about 8 bits a pair, so ~1 in 9 absent keys passes) spares those keys
    the search. Measured in the dedup stage (6,000 copies): 150 -> 70 us a query."""

    __slots__ = ("_bits", "_shift", "dropped", "ids", "keys", "live")

    def __init__(self, keys: np.ndarray = _NO_KEYS, ids: np.ndarray = _NO_IDS) -> None:
        self.keys, self.ids = keys, ids
        self.live = np.ones(len(keys), dtype=bool)
        self.dropped = 0  # pairs with `live` False
        self._bits: np.ndarray | None = None
        self._shift = np.uint64(0)
        if not len(keys) or len(keys) < _BITMAP_FROM:
            return
        width = (8 * len(keys)).bit_length()  # the bitmap has 2**width bits
        self._shift = np.uint64(64 - width)
        self._bits = bits = np.zeros(1 << (width - 3), dtype=np.uint8)
        c = compiled.speedups
        if c is not None:  # one pass in C (the loop below took ~8 ms a million pairs)
            c.fill_bitmap(keys, 64 - width, bits)
            return
        for start in range(0, len(keys), 1 << 20):  # chunks keep the temporaries small
            slot = keys[start : start + (1 << 20)] >> self._shift
            byte = slot >> np.uint64(3)
            bit = _BIT[slot & np.uint64(7)]
            first = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])  # keys are sorted
            bits[byte[first]] |= np.bitwise_or.reduceat(bit, first)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, keys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """The [lo, hi) range of the bucket of each of `keys` (empty if it has none),
        or of those the bitmap lets through, whose indices come first (else None)."""
        at = None
        if self._bits is not None:
            slot = keys >> self._shift
            at = (self._bits[slot >> np.uint64(3)] & _BIT[slot & np.uint64(7)]).nonzero()[0]
            keys = keys[at]
        return at, self.keys.searchsorted(keys, "left"), self.keys.searchsorted(keys, "right")


# a run, the indices of the keys its bitmap let through (None: all), their buckets' [lo, hi)
_Ranges = tuple[_Run, np.ndarray | None, np.ndarray, np.ndarray]


class BucketIndex:
    """LSH buckets: entry ids by 64-bit bucket key; copies sharing a key are candidates.
    A bucket keeps its `cap` most recent copies (at least two).

    Written here rather than using datasketch's MinHashLSH because its dict storage (a
    set per bucket, a bytes key per band) measured ~30 KB per copy with our 100 bands,
    and a dict of Python ints still ~7 KB: a key held as a Python int costs ~70 bytes,
    in numpy 8. The pairs live in two sorted numpy runs (`_big`, the older, and `_small`)
    plus dicts of the latest inserts (`_pending`, at most `pending_max` pairs), so a
    pair costs 13 bytes (14 with a large run's bitmap). A query looks all its keys up
    at once in each run (bitmap, then binary search). When `_pending` is full it is
    merged into `_small`, and `_small` into `_big` once it has grown to
    sqrt(2 * pending_max * len(_big)) pairs, which balances the copying of the two
    merges. A removed copy is only marked (`_dead`) and its pairs dropped at the next
    merge; one still in `_pending` (a rolled-back item) is removed at once.

    Answers as a dict of lists would, bucket by bucket (tests/test_dedup_index.py)."""

    def __init__(self, cap: int = 64, pending_max: int = 65_536) -> None:
        self.cap = cap
        self.pending_max = pending_max
        self._keep = max(cap, 2)  # the dict version held two copies even under a cap of 1
        self._big = self._small = _Run()
        # the latest inserts: key -> its oldest pending copy, and the later ones if any
        # (two dicts of ints, not a list per key: a list per key measured four times
        # the time of an insert, and ints convert to numpy at C speed when merged)
        self._pending: dict[int, int] = {}
        self._later: dict[int, list[int]] = {}
        self._pending_pairs = 0
        self._fresh: dict[int, list[int]] = {}  # entries in _pending -> their keys
        self._dead: set[int] = set()  # removed entries whose pairs are still in a run
        # the runs' ranges of the last keys looked up: a copy is queried, then inserted
        self._ranges_of: tuple[np.ndarray, list[_Ranges]] | None = None
        self._list_of: tuple[np.ndarray, list[int]] | None = None  # the last keys as ints
        # the ranges `look_up` found for a batch's copies: id(keys) -> (keys, ranges)
        self._batch: dict[int, tuple[np.ndarray, list[_Ranges]]] = {}

    def __len__(self) -> int:
        """Pairs held, dropped ones included until their run is merged."""
        return len(self._big) + len(self._small) + self._pending_pairs

    def build(self, entry_ids: np.ndarray, keys: np.ndarray) -> None:
        """Fill an empty index with many pairs at once (`entry_ids[i]` in bucket
        `keys[i]`, in insertion order): the buckets that inserting them one by one gives."""
        if len(self):
            raise ValueError("BucketIndex.build needs an empty index")
        ids = np.asarray(entry_ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() > MAX_ID):
            raise ValueError(f"entry ids must be in 0..{MAX_ID}")
        order = np.argsort(keys, kind="stable")  # stable: insertion order within a bucket
        flat, owners = keys[order], ids[order].astype(np.uint32)
        del order
        # a pair survives when its bucket holds fewer than `_keep` pairs after it
        keep = np.ones(len(flat), dtype=bool)
        if len(flat) > self._keep:
            keep[: -self._keep] = flat[: -self._keep] != flat[self._keep :]
        self._big = _Run(flat[keep], owners[keep])
        self._runs_changed()

    def insert(self, entry_id: int, keys: np.ndarray) -> None:
        if not 0 <= entry_id <= MAX_ID:
            raise ValueError(f"entry id {entry_id} not in 0..{MAX_ID}")
        if entry_id in self._dead:
            self._compact()  # the pairs of its earlier life must not come back with it
        key_list = self._key_list(keys)
        total: np.ndarray | None = None  # each key's pairs in the runs
        for _, at, lo, hi in self._ranges(keys):
            counts = hi - lo
            if counts.any():
                if total is None:
                    total = np.zeros(len(key_list), dtype=np.intp)
                if at is None:
                    total += counts
                else:  # the keys the bitmap let through, each once
                    total[at] += counts
        runs: list[int] | None = None if total is None else total.tolist()
        pending, later = self._pending, self._later
        keep = self._keep
        c = compiled.speedups
        if c is not None:  # the loop below in C (~100 keys a copy)
            c.bucket_insert(pending, later, key_list, runs, entry_id, keep, self._make_room)
        else:
            in_runs: Iterable[int] = itertools.repeat(0) if runs is None else runs
            for k, n in zip(key_list, in_runs, strict=False):
                first = pending.get(k)
                if first is None:
                    if n >= keep:
                        self._make_room(k)
                    pending[k] = entry_id
                    continue
                more = later.get(k)
                if n + 1 + (len(more) if more else 0) >= keep:
                    self._make_room(k)
                    if k not in pending:  # the pending copy it held left
                        pending[k] = entry_id
                        continue
                    more = later.get(k)
                if more is None:
                    later[k] = [entry_id]
                else:
                    more.append(entry_id)
        self._fresh[entry_id] = key_list
        self._pending_pairs += len(key_list)
        self._batch.pop(id(keys), None)  # its ranges are used: not looked up again
        if self._pending_pairs >= self.pending_max:
            self._flush()

    def remove(self, entry_id: int) -> None:
        key_list = self._fresh.pop(entry_id, None)
        if key_list is None:
            self._dead.add(entry_id)
            return
        for k in key_list:
            if self._pending.get(k) == entry_id:
                self._pop_oldest(k)
                continue
            more = self._later.get(k)
            if more and entry_id in more:  # not if its full bucket dropped it
                more.remove(entry_id)
                self._pending_pairs -= 1
                if not more:
                    del self._later[k]

    def query(self, keys: np.ndarray, found: list[int]) -> None:
        """Append to `found` the copies in each bucket of `keys` (a copy appears once per
        bucket it shares)."""
        dead = self._dead
        c = compiled.speedups
        for run, _, lo, hi in self._ranges(keys):
            if c is not None:  # the loops below in C (~100 keys a copy)
                c.run_hits(lo, hi, run.ids, run.live if run.dropped else None, dead or None, found)
                continue
            counts = hi - lo
            total = int(counts.sum())
            if not total:
                continue
            at = lo
            if total != len(counts) or counts.max() > 1:  # none or several: each position
                at = np.arange(total) + np.repeat(lo - (np.cumsum(counts) - counts), counts)
            if run.dropped:
                at = at[run.live[at]]
            ids: list[int] = run.ids[at].tolist()
            found.extend(itertools.filterfalse(dead.__contains__, ids) if dead else ids)
        if not self._pending:
            return
        key_list = self._key_list(keys)
        if c is not None:
            c.pending_hits(self._pending, self._later, key_list, found)
            return
        firsts = map(self._pending.get, key_list)  # at C speed: most are in none
        hits = [(i, first) for i, first in enumerate(firsts) if first is not None]
        for i, first in hits:
            found.append(first)
            more = self._later.get(key_list[i])
            if more:
                found.extend(more)

    def look_up(self, many: Sequence[np.ndarray]) -> None:
        """Find the buckets of a batch of copies' keys in the runs at once, before the
        copies are queried and inserted one by one: one bitmap test and two binary
        searches per run over all the keys, sorted (each search starts where the last
        ended), instead of per copy. Kept until the runs change (a merge) or the next
        batch; what the batch's own inserts add is in `_pending`, which `query` reads
        as it goes."""
        self._batch.clear()
        runs = [run for run in (self._big, self._small) if len(run)]
        if not many or not runs:
            return
        flat = np.concatenate(many)
        order = np.argsort(flat)
        needles = flat[order]
        found = []
        for run in runs:
            at, lo, hi = run.find(needles)
            where = order if at is None else order[at]
            full_lo = np.zeros(len(flat), dtype=np.intp)
            full_hi = np.zeros(len(flat), dtype=np.intp)
            full_lo[where], full_hi[where] = lo, hi
            found.append((run, full_lo, full_hi))
        start = 0
        for keys in many:
            end = start + len(keys)
            ranges: list[_Ranges] = [
                (run, None, lo[start:end], hi[start:end]) for run, lo, hi in found
            ]
            self._batch[id(keys)] = (keys, ranges)
            start = end

    def _key_list(self, keys: np.ndarray) -> list[int]:
        """`keys` as Python ints, made once for the query and the insert of a copy."""
        memo = self._list_of
        if memo is None or memo[0] is not keys:
            memo = self._list_of = (keys, keys.tolist())
        return memo[1]

    def _ranges(self, keys: np.ndarray) -> list[_Ranges]:
        """Each run with the keys that have a bucket in it and those buckets' ranges."""
        memo = self._ranges_of
        if memo is not None and memo[0] is keys:
            return memo[1]
        looked = self._batch.get(id(keys))
        if looked is not None and looked[0] is keys:
            out = looked[1]
        else:
            out = [(run, *run.find(keys)) for run in (self._big, self._small) if len(run)]
        self._ranges_of = (keys, out)
        return out

    def _make_room(self, k: int) -> None:
        """Bucket `k` may be full: if so, its oldest copy leaves it (that bucket only)."""
        dead = self._dead
        alive = 0
        if k in self._pending:
            alive = 1 + len(self._later.get(k, ()))
        oldest: tuple[_Run, int] | None = None
        key = np.array([k], dtype=np.uint64)
        for run in (self._big, self._small):
            a, b = (
                int(run.keys.searchsorted(key, "left")[0]),
                int(run.keys.searchsorted(key, "right")[0]),
            )
            at = a + run.live[a:b].nonzero()[0]
            for p, entry_id in zip(at.tolist(), run.ids[at].tolist(), strict=True):
                if entry_id not in dead:
                    alive += 1
                    if oldest is None:
                        oldest = (run, p)
        if alive < self._keep:
            return
        if oldest is None:
            self._pop_oldest(k)
            return
        run, p = oldest
        run.live[p] = False
        run.dropped += 1

    def _pop_oldest(self, k: int) -> None:
        """The oldest pending copy of bucket `k` leaves it."""
        more = self._later.get(k)
        if more:
            self._pending[k] = more.pop(0)
            if not more:
                del self._later[k]
        else:
            del self._pending[k]
        self._pending_pairs -= 1

    def _flush(self) -> None:
        """Merge `_pending` into `_small`, and `_small` into `_big` once it is large."""
        pending, later = self._pending, self._later
        keys = np.fromiter(pending, dtype=np.uint64, count=len(pending))
        ids = np.fromiter(pending.values(), dtype=np.uint32, count=len(pending))
        if later:  # after the oldest of their bucket: the sort below is stable
            lengths = [len(v) for v in later.values()]
            more_keys = np.fromiter(later, dtype=np.uint64, count=len(later))
            keys = np.concatenate((keys, np.repeat(more_keys, lengths)))
            more_ids = itertools.chain.from_iterable(later.values())
            ids = np.concatenate((ids, np.fromiter(more_ids, np.uint32, count=sum(lengths))))
        order = np.argsort(keys, kind="stable")
        fresh = _Run(keys[order], ids[order])
        pending.clear()
        later.clear()
        self._fresh.clear()
        self._pending_pairs = 0
        self._small = self._merge(self._small, fresh)
        if len(self._small) ** 2 >= 2 * self.pending_max * len(self._big):
            self._big = self._merge(self._big, self._small)
            self._small = _Run()
            self._dead.clear()  # both runs are rid of them, and _pending never holds one
        self._runs_changed()

    def _compact(self) -> None:
        """Drop the pairs of removed copies from both runs."""
        self._big = _Run(*self._survivors(self._big))
        self._small = _Run(*self._survivors(self._small))
        self._dead.clear()
        self._runs_changed()

    def _runs_changed(self) -> None:
        """The ranges found in the runs (the last copy's, a batch's) point nowhere now:
        the batch's copies not inserted yet are looked up again in the new runs (in the
        first poll a merge fell amid ~45% of the batches' copies, and looked up one by
        one they cost ~45 us each against ~15 in a batch)."""
        self._ranges_of = None
        waiting = [keys for keys, _ in self._batch.values()]
        self._batch.clear()
        if waiting:
            self.look_up(waiting)

    def _merge(self, old: _Run, new: _Run) -> _Run:
        """One run of the live pairs of `old` and then `new` (newer within a bucket)."""
        old_keys, old_ids = self._survivors(old)
        new_keys, new_ids = self._survivors(new)
        if not len(new_keys):
            return _Run(old_keys, old_ids)
        if not len(old_keys):
            return _Run(new_keys, new_ids)
        c = compiled.speedups
        if c is not None:  # one merge pass in C, where np.insert makes several
            keys, ids = c.merge_runs(old_keys, old_ids, new_keys, new_ids)
            return _Run(np.frombuffer(keys, np.uint64), np.frombuffer(ids, np.uint32))
        at = old_keys.searchsorted(new_keys, "right")  # after the older pairs of the bucket
        return _Run(np.insert(old_keys, at, new_keys), np.insert(old_ids, at, new_ids))

    def _survivors(self, run: _Run) -> tuple[np.ndarray, np.ndarray]:
        keep = run.live
        if self._dead and len(run):
            dead = np.fromiter(self._dead, dtype=np.int64, count=len(self._dead))
            keep = keep & ~np.isin(run.ids, dead, kind="table")
        if keep.all():
            return run.keys, run.ids
        return run.keys[keep], run.ids[keep]
