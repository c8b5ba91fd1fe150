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

import logging
import sys
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np

from db import dedup_store
from db.clock import epoch_iso, parse_iso
from db.store import Store
from db.writer import Writer
from ingest import compiled
from ingest.lsh import Bands, BucketIndex
from ingest.minhash import NUM_PERM, Features, features, strip_signatures

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
    # its features without the signatures (the LSH index holds their keys): views of one
    # packed bytes string, ~2.1 KB where the arrays themselves took ~4 KB
    features: Features
    published: float | None  # epoch seconds; None when the source gave no date
    seen: float
    language: str | None
    source: str | None
    indexed: bool  # has bucket keys (it has text, or a title of a few words)

    @classmethod
    def of(
        cls,
        article_id: int,
        blob: bytes,
        published: float | None,
        seen: float,
        language: str | None,
        source: str | None,
        tables: tuple[bool, bool, bool],
    ) -> _Entry:
        """The entry of a copy packed as `blob`, in the LSH `tables` given."""
        features = Features.unpack(strip_signatures(blob))
        return cls(
            article_id, features, published, seen, _shared(language), _shared(source), any(tables)
        )


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
    c = compiled.speedups
    if c is not None:  # one merge in C, not a search per element and three numpy calls
        count: int = c.inter_count(a, b)
        return count
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


def compare(a: Features, b: Features, threshold: float = 0.0) -> Verdict:
    """How alike two copies are, and whether something says they are different events
    (not looked for when they are less alike than `threshold`: no match either way)."""
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
    if similarity < threshold:
        return Verdict(similarity, reason)
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


SCREEN_MIN = 4  # candidates from which one array pass screens out the unalike


def _inter_counts(ref: np.ndarray, arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """For each sorted unique array, how many of its elements `ref` holds; and its length.
    (The numpy screen's: with the compiled helpers the screen runs in C whole.)"""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    if not len(ref) or not lengths.sum():
        return np.zeros(len(arrays), dtype=np.int64), lengths
    hits = np.concatenate(([0], np.cumsum(_member(np.concatenate(arrays), ref), dtype=np.int64)))
    ends = np.cumsum(lengths)
    return hits[ends] - hits[ends - lengths], lengths


def _jaccards(i: np.ndarray, n_a: int, n_b: np.ndarray) -> np.ndarray:
    u = n_a + n_b - i
    out = np.zeros(len(i), dtype=np.float64)
    np.divide(i, u, out=out, where=u > 0)
    return out


def similarities(f: Features, others: list[Features]) -> np.ndarray:
    """`compare(f, o).similarity` for every o at once (the same arithmetic in arrays):
    one pass screens the candidates of a query before each survivor is compared."""
    c = compiled.speedups
    if c is not None:  # the loop in C: ~20 numpy calls on arrays of a few dozen cost more
        scores: bytes = c.similarities(
            f,
            others,
            MIN_CONTAINMENT_WORDS,
            CONTAINMENT_MIN,
            SHORT_TEXT_WORDS,
            MIN_TITLE_WORDS,
            TITLE_MIN,
        )
        out: np.ndarray = np.frombuffer(scores, dtype=np.float64)
        return out
    i_words, n_words = _inter_counts(f.words, [o.words for o in others])
    best = _jaccards(i_words, len(f.words), n_words)
    i_lead, n_lead = _inter_counts(f.lead, [o.lead for o in others])
    best = np.maximum(best, _jaccards(i_lead, len(f.lead), n_lead))
    small = np.minimum(len(f.words), n_words)
    contained = np.zeros(len(others), dtype=np.float64)
    np.divide(i_words, small, out=contained, where=small >= MIN_CONTAINMENT_WORDS)
    best = np.maximum(best, np.where(contained >= CONTAINMENT_MIN, contained, 0.0))
    lengths = np.fromiter((o.length for o in others), dtype=np.int64, count=len(others))
    n_title = np.fromiter((len(o.title) for o in others), dtype=np.int64, count=len(others))
    headline = (np.minimum(f.length, lengths) < SHORT_TEXT_WORDS) & (
        np.minimum(len(f.title), n_title) >= MIN_TITLE_WORDS
    )
    if headline.any():
        i_title, _ = _inter_counts(f.title, [o.title for o in others])
        j_title = _jaccards(i_title, len(f.title), n_title)
        best = np.maximum(best, np.where(headline & (j_title >= TITLE_MIN), j_title, 0.0))
    screened: np.ndarray = best
    return screened


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
        s = self.settings
        self._bands = Bands((s.head_bands, s.lead_bands, s.title_bands), NUM_PERM)
        self._buckets = BucketIndex(s.bucket_cap)
        self._last: tuple[Features, np.ndarray] | None = None
        # the bucket keys of a batch's copies (`look_up`): id(signed features) -> both
        self._batch: dict[int, tuple[Features, np.ndarray]] = {}
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
                w.conn, epoch_iso(cutoff)
            ):
                f = features(title, body)
                dedup_store.save(w.conn, aid, None, src, pub, first_seen, lang, f.pack())
                rebuilt += 1
            rows = dedup_store.window(w.conn, epoch_iso(cutoff), self.settings.max_entries)
        # the buckets are built at once from every entry's keys, not entry by entry
        ids: list[int] = []
        signatures: list[np.ndarray] = []
        member: list[tuple[bool, bool, bool]] = []
        owners: list[np.ndarray] = []
        keys: list[np.ndarray] = []

        def pairs() -> None:  # of the entries read so far, a few thousand at a time
            if ids:
                o, k = self._bands.pairs(
                    np.array(ids, dtype=np.int64), np.stack(signatures), np.array(member)
                )
                owners.append(o)
                keys.append(k)
            ids.clear()
            signatures.clear()
            member.clear()

        for entry_id, article_id, source, published, seen, language, blob in rows:
            if entry_id in self._entries:
                continue
            f = Features.unpack(blob)
            tables = _tables(f)
            self._entries[entry_id] = _Entry.of(
                article_id, blob, _epoch(published), _epoch(seen) or now, language, source, tables
            )
            ids.append(entry_id)
            signatures.append(_signatures(f))
            member.append(tables)
            if len(ids) == 4096:
                pairs()
        pairs()
        del rows  # the packed rows (~2.8 KB a copy) are not needed by the sort below
        if keys:
            self._buckets.build(np.concatenate(owners), np.concatenate(keys))
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

    def look_up(self, copies: list[Features]) -> None:
        """Sign a batch of copies about to be queried and find their LSH buckets at once
        (`BucketIndex.look_up`); `find` and `add` then use what was found. Only for
        copies that will be queried: signing one costs ~30 us in numpy (5-8 compiled)."""
        self._batch.clear()
        many = []
        for f in copies:
            if not _queried(f):
                continue
            try:
                signed = f.signed()
                keys = self._band_keys(signed)
            except Exception:
                continue  # `find` meets the error again, inside the item's own guard
            self._batch[id(signed)] = (signed, keys)
            many.append(keys)
        self._buckets.look_up(many)

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
        if not _queried(f):
            return None
        f = f.signed()
        hits: list[int] = []
        self._buckets.query(self._keys(f), hits)
        candidates = _strongest(hits, self.settings.max_candidates)
        best: Match | None = None
        threshold = self.settings.threshold
        eligible: list[tuple[int, _Entry]] = []
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
            eligible.append((entry_id, e))
        if len(eligible) > SCREEN_MIN:
            alike = similarities(f, [e.features for _, e in eligible]) >= threshold
            eligible = [c for c, keep in zip(eligible, alike, strict=True) if keep]
        for entry_id, e in eligible:
            v = compare(f, e.features, threshold)
            if v.similarity < threshold:
                continue
            same_source = source is not None and source == e.source
            if same_source and not (f.update or _expands(f, e.features)):
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
        f = f.signed()
        now = time.time()
        blob = f.pack()
        entry_id = dedup_store.save(
            w.conn,
            article_id,
            sighting_id,
            source,
            published if dated else None,
            epoch_iso(now),
            language,
            blob,
        )
        self._index(
            entry_id,
            f,
            _Entry.of(
                article_id,
                blob,
                _epoch(published) if dated else None,
                now,
                language,
                source,
                _tables(f),
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
        self._entries[entry_id] = e
        if e.indexed:
            self._buckets.insert(entry_id, self._keys(f))

    def _unindex(self, entry_id: int) -> None:
        e = self._entries.pop(entry_id, None)
        if e is not None and e.indexed:
            self._buckets.remove(entry_id)

    def _keys(self, f: Features) -> np.ndarray:
        """A copy's bucket keys in the LSH tables it belongs in. Those of the last copy
        asked about are kept: a new copy is queried, then indexed."""
        if self._last is not None and self._last[0] is f:
            return self._last[1]
        looked = self._batch.get(id(f))
        keys = looked[1] if looked is not None and looked[0] is f else self._band_keys(f)
        self._last = (f, keys)
        return keys

    def _band_keys(self, f: Features) -> np.ndarray:
        return self._bands.keys((f.signature, f.lead_signature, f.title_signature), _tables(f))

    def _evict(self, now: float) -> None:
        cutoff = now - self.settings.window
        while self._entries:
            entry_id, e = next(iter(self._entries.items()))
            if e.seen >= cutoff and len(self._entries) <= self.settings.max_entries:
                break
            self._unindex(entry_id)

    def _clear(self) -> None:
        self._entries.clear()
        self._buckets = BucketIndex(self.settings.bucket_cap)
        self._last = None
        self._batch.clear()
        self._pending.clear()


def _queried(f: Features) -> bool:
    """Has a copy anything the LSH tables could find it by (text, or a title)?"""
    return bool(len(f.lead) or len(f.title))


def _tables(f: Features) -> tuple[bool, bool, bool]:
    """Is a copy in the head, the lead and the title LSH table? The first two need
    text, the title a few words."""
    return bool(len(f.lead)), bool(len(f.lead)), len(f.title) >= MIN_TITLE_WORDS


def _signatures(f: Features) -> np.ndarray:
    return np.concatenate((f.signature, f.lead_signature, f.title_signature))


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


def _epoch(iso_text: str | None) -> float | None:
    if not iso_text:
        return None
    return parse_iso(iso_text).timestamp()
