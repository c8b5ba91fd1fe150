"""Near-duplicate detection: finds the stored article that tells the same story in other words.

The exact layer (guid, canonical URL, fingerprint) lives in the pipeline's key lookup;
this module owns the similarity layer. Each copy of a story that carried text has an
entry: its features (ingest.minhash) persisted in `dedup_signatures` and, while it is
inside the time window, indexed in memory by three MinHash LSH band tables (the head: title and first
words, for briefs; the whole lead, for rewrites that reorder it; the title, for items that
are only a headline). A query costs the same whatever the store's size: only the window is
indexed, and LSH returns a handful of candidates that are then verified exactly.

Verification (measured on the labelled sets, see docs/dedup.md):
  similarity = max(Jaccard of all content words, Jaccard of the leads,
                   containment of the shorter text in the longer one (briefs),
                   Jaccard of the titles when one side is only a headline)
  and no strong evidence of a different event: numbers in one lead missing from the
  other text *and* vice versa (two drug seizures, two matches, two earthquakes), names
  that barely overlap, short «quoted» names (a contest, an operation) that differ, publication dates further apart than the window, or two
  different languages.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np

from db import dedup_store
from db.clock import parse_iso
from db.store import Store
from db.writer import Writer
from ingest.minhash import Features, features, strip_signatures

log = logging.getLogger("wiredesk.dedup")

EXPANSION_CONTAINMENT = 0.8  # an outlet's later, longer copy holding this much of its earlier one
MIN_CONTAINMENT_WORDS = 15
CONTAINMENT_MIN = 0.6  # a short text half-contained in a long one is only the same topic  # a shorter text is contained in anything: it says too little
MIN_TITLE_WORDS = 3
TITLE_MIN = 0.6  # headlines alone are thin evidence: they must agree at least this much
SHORT_TEXT_WORDS = 15  # below this a copy is "only a headline"
NAMES_MIN = 3  # names are evidence only when both sides have a few
NAMES_MIN_OVERLAP = 0.1


@dataclass(frozen=True)
class DedupSettings:
    threshold: float = 0.5  # similarity at or above which two copies are one story
    update_threshold: float = 0.6  # a marked update may change numbers, but must be this close
    window: float = 3 * 86400.0  # seconds: copies further apart are never compared
    max_entries: int = 100_000  # hard cap on the in-memory index
    head_bands: tuple[int, int] = (42, 3)  # LSH (bands, rows) on title + first words
    lead_bands: tuple[int, int] = (42, 3)  # LSH (bands, rows) on title + the whole lead
    title_bands: tuple[int, int] = (16, 2)  # LSH (bands, rows) on the title words
    # A bucket that many copies share (a templated headline, a feed's boilerplate) says
    # nothing about which story a copy is, yet without a cap every copy would be compared
    # with every other one: a bucket keeps its most recent `bucket_cap` copies, and a
    # query verifies at most `max_candidates`, those sharing the most buckets with it.
    bucket_cap: int = 64
    max_candidates: int = 48


@dataclass(frozen=True)
class Verdict:
    similarity: float
    reason: str
    conflict: str | None = None  # why the two copies are different events, if they are


@dataclass
class Match:
    article_id: int
    similarity: float
    reason: str
    entry_id: int
    conflict: str | None = None  # set only when the caller tolerated one
    same_source: bool = False  # the outlet's own earlier copy: a re-issue, not another outlet


@dataclass(slots=True)
class _Entry:
    article_id: int
    packed: bytes  # its features without the signatures (the LSH tables hold their keys)
    published: float | None  # epoch seconds; None when the source gave no date
    seen: float
    language: str | None
    source: str | None
    tables: int  # the LSH tables it is in: bit i for Deduplicator._all[i]


def _member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Which elements of `a` are in `b` (both sorted and unique, as Features keeps them):
    one binary search per element, far cheaper than numpy's set routines on arrays this
    small."""
    idx = np.searchsorted(b, a)
    idx[idx == len(b)] = 0
    found: np.ndarray = b[idx] == a
    return found


def _inter(a: np.ndarray, b: np.ndarray) -> int:
    if not len(a) or not len(b):
        return 0
    if len(a) > len(b):
        a, b = b, a
    return int(np.count_nonzero(_member(a, b)))


def _jaccard_of(i: int, a: np.ndarray, b: np.ndarray) -> float:
    u = len(a) + len(b) - i
    return i / u if u else 0.0


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return _jaccard_of(_inter(a, b), a, b)


def _missing(a: np.ndarray, b: np.ndarray) -> bool:
    """Does `a` hold anything `b` lacks?"""
    if not len(a):
        return False
    if not len(b):
        return True
    return not _member(a, b).all()


def compare(a: Features, b: Features) -> Verdict:
    """How alike two copies are, and whether something says they are different events."""
    i_words = _inter(a.words, b.words)
    j_words = _jaccard_of(i_words, a.words, b.words)
    j_lead = _jaccard(a.lead, b.lead)
    scores = {"words": j_words, "lead": j_lead}
    small = min(len(a.words), len(b.words))
    if small >= MIN_CONTAINMENT_WORDS:
        containment = i_words / small
        scores["containment"] = containment if containment >= CONTAINMENT_MIN else 0.0
    headline_only = min(a.length, b.length) < SHORT_TEXT_WORDS
    if headline_only and min(len(a.title), len(b.title)) >= MIN_TITLE_WORDS:
        j_title = _jaccard(a.title, b.title)
        scores["title"] = j_title if j_title >= TITLE_MIN else 0.0
    kind, similarity = max(scores.items(), key=lambda kv: kv[1])
    reason = f"{kind} {similarity:.2f}"
    if _missing(a.lead_numbers, b.numbers) and _missing(b.lead_numbers, a.numbers):
        return Verdict(similarity, reason, "different numbers")
    if len(a.quoted) and len(b.quoted) and not _inter(a.quoted, b.quoted):
        return Verdict(similarity, reason, "different quoted names")
    if (
        min(len(a.names), len(b.names)) >= NAMES_MIN
        and _jaccard(a.names, b.names) < NAMES_MIN_OVERLAP
    ):
        return Verdict(similarity, reason, "different names")
    return Verdict(similarity, reason)


_MIX = np.uint64(0x9E3779B97F4A7C15)
_NO_KEYS = np.zeros(0, dtype=np.uint64)
_NO_IDS = np.zeros(0, dtype=np.uint32)
_MAX_ID = 2**32 - 1  # entry ids are stored as uint32 (SQLite rowids of dedup_signatures)


class _Run:
    """(bucket key, entry id) pairs sorted by key; within a bucket, oldest insert first.
    `live` is False for a pair its bucket dropped (`BandIndex.cap`)."""

    __slots__ = ("ids", "keys", "live")

    def __init__(self, keys: np.ndarray = _NO_KEYS, ids: np.ndarray = _NO_IDS) -> None:
        self.keys, self.ids = keys, ids
        self.live = np.ones(len(keys), dtype=bool)

    def __len__(self) -> int:
        return len(self.keys)


class BandIndex:
    """LSH buckets: the MinHash signature cut into `bands` bands of `rows` values, each
    band hashed to one 64-bit key; copies sharing any key are candidates. A bucket keeps
    its `cap` most recent copies (at least two).

    Written here rather than using datasketch's MinHashLSH because its dict storage (a
    set per bucket, a bytes key per band) measured ~30 KB per copy with our 100 bands,
    and a dict of Python ints still ~7 KB: a key held as a Python int costs ~70 bytes,
    in numpy 8. The pairs live in two sorted numpy runs (`_big`, the older, and `_small`)
    plus a dict of the latest inserts (`_pending`, at most `pending_max` pairs), so a
    pair costs 13 bytes. A query binary-searches all its keys at once in each run. When
    `_pending` is full it is merged into `_small`, and `_small` into `_big` when it has
    grown to about sqrt(2 * pending_max * len(_big)) pairs, which balances the two
    merges' copying (~20 us per copy indexed at 75,000 copies). A removed copy is only
    marked (`_dead`) and its pairs dropped at the next merge; a removal of one still in
    `_pending` (a rolled-back item) is done at once, as the dict version did.

    Same answers as a dict of lists, bucket by bucket (tests/test_dedup_index.py)."""

    def __init__(self, bands: int, rows: int, cap: int = 64, pending_max: int = 16_384) -> None:
        self.bands, self.rows, self.cap = bands, rows, cap
        self.pending_max = pending_max
        self._keep = max(cap, 2)  # the dict version held two copies even under a cap of 1
        self._salt = np.arange(self.bands, dtype=np.uint64)
        self._big = self._small = _Run()
        self._pending: dict[int, list[int]] = {}  # key -> entry ids, oldest first
        self._pending_pairs = 0
        self._fresh: dict[int, list[int]] = {}  # entries in _pending -> their keys
        self._dead: set[int] = set()  # removed entries whose pairs are still in a run
        # the runs' ranges of the last keys looked up: a copy is queried, then inserted
        self._ranges_of: tuple[np.ndarray, list[tuple[_Run, np.ndarray, np.ndarray]]] | None
        self._ranges_of = None

    def __len__(self) -> int:
        """Pairs held, dropped ones included until their run is merged."""
        return len(self._big) + len(self._small) + self._pending_pairs

    def keys(self, signature: np.ndarray) -> np.ndarray:
        """The bucket keys (uint64, one per band) of one signature."""
        keys: np.ndarray = self.keys_of(signature.reshape(1, -1))[0]
        return keys

    def keys_of(self, signatures: np.ndarray) -> np.ndarray:
        """The bucket keys of many signatures (one per row): shape (rows, bands)."""
        n = len(signatures)
        m = signatures[:, : self.bands * self.rows].astype(np.uint64)
        m = m.reshape(n, self.bands, self.rows)
        h = np.broadcast_to(self._salt, (n, self.bands))
        for r in range(self.rows):  # array arithmetic wraps modulo 2**64, as a hash should
            h = h * _MIX + m[:, :, r]
        return np.ascontiguousarray(h)

    def build(self, entry_ids: np.ndarray, keys: np.ndarray) -> None:
        """Fill an empty index with many copies at once (`keys` from `keys_of`, one row
        per id, in insertion order): the buckets that inserting them one by one gives."""
        if len(self):
            raise ValueError("BandIndex.build needs an empty index")
        ids = np.asarray(entry_ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() > _MAX_ID):
            raise ValueError(f"entry ids must be in 0..{_MAX_ID}")
        flat = keys.reshape(-1)
        owners = np.repeat(ids.astype(np.uint32), keys.shape[1] if keys.ndim == 2 else 0)
        order = np.argsort(flat, kind="stable")  # stable: insertion order within a bucket
        flat, owners = flat[order], owners[order]
        del order
        # a pair survives when its bucket holds fewer than `_keep` pairs after it
        keep = np.ones(len(flat), dtype=bool)
        if len(flat) > self._keep:
            keep[: -self._keep] = flat[: -self._keep] != flat[self._keep :]
        self._big = _Run(flat[keep], owners[keep])
        self._ranges_of = None

    def insert(self, entry_id: int, keys: np.ndarray) -> None:
        if not 0 <= entry_id <= _MAX_ID:
            raise ValueError(f"entry id {entry_id} not in 0..{_MAX_ID}")
        if entry_id in self._dead:
            self._compact()  # the pairs of its earlier life must not come back with it
        ranges = self._ranges(keys)
        in_runs = sum(hi - lo for _, lo, hi in ranges).tolist() if ranges else None
        key_list: list[int] = keys.tolist()
        pending = self._pending
        keep = self._keep
        for i, k in enumerate(key_list):
            held = pending.get(k)
            if held is None:
                held = pending[k] = []
            if len(held) + (in_runs[i] if in_runs else 0) >= keep:
                self._make_room(k, i, ranges, held)
            held.append(entry_id)
        self._fresh[entry_id] = key_list
        self._pending_pairs += len(key_list)
        if self._pending_pairs >= self.pending_max:
            self._flush()

    def remove(self, entry_id: int) -> None:
        key_list = self._fresh.pop(entry_id, None)
        if key_list is None:
            self._dead.add(entry_id)
            return
        pending = self._pending
        for k in key_list:
            held = pending.get(k)
            if held is not None and entry_id in held:  # not if its bucket dropped it
                held.remove(entry_id)
                self._pending_pairs -= 1
                if not held:
                    del pending[k]

    def query(self, keys: np.ndarray, found: list[int]) -> None:
        """Append to `found` the copies in each bucket of `keys` (a copy appears once per
        bucket it shares)."""
        dead = self._dead
        for run, lo, hi in self._ranges(keys):
            counts = hi - lo
            total = int(counts.sum())
            if not total:
                continue
            hit = counts.nonzero()[0]
            starts, counts = lo[hit], counts[hit]
            at = np.arange(total) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
            ids: list[int] = run.ids[at[run.live[at]]].tolist()
            found.extend([i for i in ids if i not in dead] if dead else ids)
        if self._pending:
            pending = self._pending
            for k in keys.tolist():
                held = pending.get(k)
                if held:
                    found.extend(held)

    def _ranges(self, keys: np.ndarray) -> list[tuple[_Run, np.ndarray, np.ndarray]]:
        """Each run with the [lo, hi) range of every key's bucket in it."""
        memo = self._ranges_of
        if memo is not None and memo[0] is keys:
            return memo[1]
        out = [
            (run, run.keys.searchsorted(keys, "left"), run.keys.searchsorted(keys, "right"))
            for run in (self._big, self._small)
            if len(run)
        ]
        self._ranges_of = (keys, out)
        return out

    def _make_room(
        self,
        k: int,
        i: int,
        ranges: list[tuple[_Run, np.ndarray, np.ndarray]],
        held: list[int],
    ) -> None:
        """Bucket `k` may be full: if so, its oldest copy leaves it (that bucket only)."""
        dead = self._dead
        alive = len(held)
        oldest: tuple[_Run, int] | None = None
        for run, lo, hi in ranges:
            a, b = int(lo[i]), int(hi[i])
            at = a + run.live[a:b].nonzero()[0]
            for p, entry_id in zip(at.tolist(), run.ids[at].tolist(), strict=True):
                if entry_id not in dead:
                    alive += 1
                    if oldest is None:
                        oldest = (run, p)
        if alive < self._keep:
            return
        if oldest is not None:
            oldest[0].live[oldest[1]] = False
        else:
            del held[0]
            self._pending_pairs -= 1

    def _flush(self) -> None:
        """Merge `_pending` into `_small`, and `_small` into `_big` once it is large."""
        pending = self._pending
        lengths = [len(v) for v in pending.values()]
        keys = np.repeat(np.fromiter(pending, dtype=np.uint64, count=len(pending)), lengths)
        ids = np.fromiter(
            itertools.chain.from_iterable(pending.values()), dtype=np.uint32, count=len(keys)
        )
        order = np.argsort(keys, kind="stable")
        fresh = _Run(keys[order], ids[order])
        pending.clear()
        self._fresh.clear()
        self._pending_pairs = 0
        self._small = self._merge(self._small, fresh)
        if len(self._small) ** 2 >= 2 * self.pending_max * len(self._big):
            self._big = self._merge(self._big, self._small)
            self._small = _Run()
            self._dead.clear()  # both runs are rid of them, and _pending never holds one
        self._ranges_of = None

    def _compact(self) -> None:
        """Drop the pairs of removed copies from both runs."""
        self._big = _Run(*self._survivors(self._big))
        self._small = _Run(*self._survivors(self._small))
        self._dead.clear()
        self._ranges_of = None

    def _merge(self, old: _Run, new: _Run) -> _Run:
        """One run of the live pairs of `old` and then `new` (newer within a bucket)."""
        old_keys, old_ids = self._survivors(old)
        new_keys, new_ids = self._survivors(new)
        if not len(new_keys):
            return _Run(old_keys, old_ids)
        if not len(old_keys):
            return _Run(new_keys, new_ids)
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


def _expands(new: Features, old: Features) -> bool:
    """Is `new` a longer version of `old` (a flash followed by the full story)?"""
    if new.length <= old.length or not len(old.words):
        return False
    return _inter(new.words, old.words) / len(old.words) >= EXPANSION_CONTAINMENT


class Deduplicator:
    """The near-duplicate index over a time window of copies, persisted in the store."""

    def __init__(self, settings: DedupSettings | None = None) -> None:
        self.settings = settings or DedupSettings()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._all = self._new_tables()
        self._last: tuple[Features, list[tuple[BandIndex, np.ndarray]]] | None = None
        self._pending: list[int] = []  # entries added in the open transaction
        self.loaded = False

    def __len__(self) -> int:
        return len(self._entries)

    # -- lifecycle ------------------------------------------------------------

    def load(self, store: Store, now: float | None = None) -> int:
        """Fill the index from the store's persisted entries inside the window; entries
        missing for articles of the window (a store from before this layer) are rebuilt."""
        now = time.time() if now is None else now
        cutoff = now - self.settings.window
        self._clear()
        with store.write() as w:
            rebuilt = 0
            for aid, title, body, src, pub, lang, first_seen in dedup_store.unindexed(
                w.conn, _iso(cutoff)
            ):
                f = features(title, body)
                dedup_store.save(w.conn, aid, None, src, pub, first_seen, lang, f.pack())
                rebuilt += 1
            rows = dedup_store.window(w.conn, _iso(cutoff), self.settings.max_entries)
        # the tables are built at once from every entry's keys, not entry by entry
        members: list[list[int]] = [[], [], []]
        signatures: list[list[np.ndarray]] = [[], [], []]
        for entry_id, article_id, source, published, seen, language, blob in rows:
            if entry_id in self._entries:
                continue
            f = Features.unpack(blob)
            tables = self._membership(f)
            self._entries[entry_id] = _Entry(
                article_id,
                strip_signatures(blob),
                _epoch(published),
                _epoch(seen) or now,
                _shared(language),
                _shared(source),
                tables,
            )
            for i, sig in enumerate((f.signature, f.lead_signature, f.title_signature)):
                if tables >> i & 1:
                    members[i].append(entry_id)
                    signatures[i].append(sig)
        for table, ids, sigs in zip(self._all, members, signatures, strict=True):
            if ids:
                table.build(np.array(ids, dtype=np.int64), table.keys_of(np.stack(sigs)))
        self.loaded = True
        log.info("event=dedup_loaded entries=%d rebuilt=%d", len(self._entries), rebuilt)
        return len(self._entries)

    def mark(self) -> int:
        """A point to roll back to (an item's savepoint)."""
        return len(self._pending)

    def commit(self) -> None:
        self._pending.clear()

    def rollback(self, mark: int = 0) -> None:
        """The entries added since `mark` were rolled back in the store: forget them."""
        for entry_id in self._pending[mark:]:
            self._unindex(entry_id)
        del self._pending[mark:]

    # -- queries --------------------------------------------------------------

    def find(
        self,
        f: Features,
        published: float | None,
        language: str | None,
        source: str | None = None,
        *,
        allow_conflict_above: float | None = None,
        exclude: set[int] | None = None,
    ) -> Match | None:
        """The best-matching article in the window, if any passes the threshold and
        shows no sign of being another event. A conflict is tolerated only at or above
        `allow_conflict_above` (a marked correction may change numbers).

        An outlet does not duplicate its own stories: a copy from the same `source` matches
        only as a re-issue (marked as an update, or a longer version holding the earlier
        text), never because it resembles a different item of the same outlet (two video
        and podcast blurbs, part 1 and part 2)."""
        if not len(f.lead) and not len(f.title):
            return None
        hits: list[int] = []
        for table, keys in self._tables(f):
            table.query(keys, hits)
        candidates = _strongest(hits, self.settings.max_candidates)
        best: Match | None = None
        threshold = self.settings.threshold
        for entry_id in candidates:
            e = self._entries.get(entry_id)
            if e is None or (exclude and e.article_id in exclude):
                continue
            if language and e.language and language != e.language:
                continue
            if (
                published is not None
                and e.published is not None
                and abs(published - e.published) > self.settings.window
            ):
                continue
            other = Features.unpack(e.packed)
            v = compare(f, other)
            if v.similarity < threshold:
                continue
            same_source = source is not None and source == e.source
            if same_source and not (f.update or _expands(f, other)):
                continue
            if v.conflict and (allow_conflict_above is None or v.similarity < allow_conflict_above):
                continue
            reason = v.reason + (f"; {v.conflict} tolerated" if v.conflict else "")
            if (
                best is None
                or v.similarity > best.similarity
                or (v.similarity == best.similarity and e.article_id < best.article_id)
            ):
                best = Match(
                    e.article_id, round(v.similarity, 4), reason, entry_id, v.conflict, same_source
                )
        return best

    # -- changes --------------------------------------------------------------

    def add(
        self,
        w: Writer,
        article_id: int,
        sighting_id: int | None,
        f: Features,
        published: str,
        dated: bool,
        language: str | None,
        source: str | None,
    ) -> int:
        """Persist a copy's features and index them (undone by `rollback`)."""
        now = time.time()
        blob = f.pack()
        entry_id = dedup_store.save(
            w.conn,
            article_id,
            sighting_id,
            source,
            published if dated else None,
            _iso(now),
            language,
            blob,
        )
        self._index(
            entry_id,
            f,
            _Entry(
                article_id,
                strip_signatures(blob),
                _epoch(published) if dated else None,
                now,
                _shared(language),
                _shared(source),
                0,
            ),
        )
        self._pending.append(entry_id)
        self._evict(now)
        return entry_id

    def forget(self, article_id: int) -> None:
        """Drop an article's entries from memory (the rows stay for the record)."""
        for entry_id in [k for k, e in self._entries.items() if e.article_id == article_id]:
            self._unindex(entry_id)

    # -- internals ------------------------------------------------------------

    def _index(self, entry_id: int, f: Features, e: _Entry) -> None:
        if entry_id in self._entries:
            return
        e.tables = self._membership(f)
        self._entries[entry_id] = e
        for table, keys in self._tables(f):
            table.insert(entry_id, keys)

    def _unindex(self, entry_id: int) -> None:
        e = self._entries.pop(entry_id, None)
        if e is None:
            return
        for i, table in enumerate(self._all):
            if e.tables >> i & 1:
                table.remove(entry_id)

    @staticmethod
    def _membership(f: Features) -> int:
        """The LSH tables a copy belongs in (bits for head, lead, title)."""
        return (0b011 if len(f.lead) else 0) | (0b100 if len(f.title) >= MIN_TITLE_WORDS else 0)

    def _tables(self, f: Features) -> list[tuple[BandIndex, np.ndarray]]:
        """The LSH tables a copy belongs in, each with its bucket keys there. The keys of
        the last copy asked about are kept: a new copy is queried, then indexed."""
        if self._last is not None and self._last[0] is f:
            return self._last[1]
        tables = self._membership(f)
        signatures = (f.signature, f.lead_signature, f.title_signature)
        out = [
            (table, table.keys(sig))
            for i, (table, sig) in enumerate(zip(self._all, signatures, strict=True))
            if tables >> i & 1
        ]
        self._last = (f, out)
        return out

    def _new_tables(self) -> tuple[BandIndex, BandIndex, BandIndex]:
        s = self.settings
        return (
            BandIndex(*s.head_bands, s.bucket_cap),
            BandIndex(*s.lead_bands, s.bucket_cap),
            BandIndex(*s.title_bands, s.bucket_cap),
        )

    def _evict(self, now: float) -> None:
        cutoff = now - self.settings.window
        while self._entries:
            entry_id, e = next(iter(self._entries.items()))
            if e.seen >= cutoff and len(self._entries) <= self.settings.max_entries:
                break
            self._unindex(entry_id)

    def _clear(self) -> None:
        self._entries.clear()
        self._all = self._new_tables()
        self._last = None
        self._pending.clear()


def _strongest(hits: list[int], limit: int) -> list[int]:
    """The distinct candidates among `hits`, at most `limit`: those sharing the most
    buckets, the most recent first among equals (a true duplicate shares many)."""
    distinct = set(hits)
    if len(distinct) <= limit:
        return sorted(distinct)
    counts = Counter(hits)
    return sorted(distinct, key=lambda e: (-counts[e], -e))[:limit]


def _shared(text: str | None) -> str | None:
    """One string object for every entry of a source or language (a row gives a new one)."""
    return None if text is None else sys.intern(text)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(iso_text: str | None) -> float | None:
    if not iso_text:
        return None
    return parse_iso(iso_text).timestamp()
