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
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np

from db import dedup_store
from db.clock import parse_iso
from db.store import Store
from db.writer import Writer
from ingest.minhash import Features, features

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


@dataclass
class _Entry:
    article_id: int
    features: Features
    published: float | None  # epoch seconds; None when the source gave no date
    seen: float
    language: str | None
    source: str | None


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


class BandIndex:
    """LSH buckets: the MinHash signature cut into `bands` bands of `rows` values, each
    band hashed to one 64-bit key; copies sharing any key are candidates.

    Written here rather than using datasketch's MinHashLSH because its dict storage
    (a set per bucket, a bytes key per band) measured ~30 KB per copy with our 100 bands;
    this plain dict of int keys holds ~9 KB. datasketch still computes the signatures."""

    def __init__(self, bands: int, rows: int, cap: int = 64) -> None:
        self.bands, self.rows, self.cap = bands, rows, cap
        self._buckets: dict[int, int | list[int]] = {}
        self._salt = np.arange(self.bands, dtype=np.uint64)

    def keys(self, signature: np.ndarray) -> list[int]:
        m = signature[: self.bands * self.rows].astype(np.uint64).reshape(self.bands, self.rows)
        h = self._salt.copy()
        for r in range(self.rows):  # array arithmetic wraps modulo 2**64, as a hash should
            h = h * _MIX + m[:, r]
        keys: list[int] = h.tolist()
        return keys

    def insert(self, entry_id: int, keys: list[int]) -> None:
        buckets = self._buckets
        for k in keys:
            held = buckets.get(k)
            if held is None:
                buckets[k] = entry_id
            elif isinstance(held, int):
                buckets[k] = [held, entry_id]
            else:
                if len(held) >= self.cap:
                    del held[0]  # the oldest copy leaves this bucket only
                held.append(entry_id)

    def remove(self, entry_id: int, keys: list[int]) -> None:
        buckets = self._buckets
        for k in keys:
            held = buckets.get(k)
            if held == entry_id:
                del buckets[k]
            elif isinstance(held, list) and entry_id in held:
                held.remove(entry_id)
                if len(held) == 1:
                    buckets[k] = held[0]

    def query(self, keys: list[int], found: list[int]) -> None:
        """Append to `found` the copies in each bucket of `keys` (a copy appears once per
        bucket it shares)."""
        buckets = self._buckets
        for k in keys:
            held = buckets.get(k)
            if held is None:
                continue
            if isinstance(held, int):
                found.append(held)
            else:
                found.extend(held)


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
        self._head, self._lead, self._title = self._new_tables()
        self._last: tuple[Features, list[tuple[BandIndex, list[int]]]] | None = None
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
        for entry_id, article_id, source, published, seen, language, blob in rows:
            self._index(
                entry_id,
                _Entry(
                    article_id,
                    Features.unpack(blob),
                    _epoch(published),
                    _epoch(seen) or now,
                    language,
                    source,
                ),
            )
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
            v = compare(f, e.features)
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
        now = time.time()
        entry_id = dedup_store.save(
            w.conn,
            article_id,
            sighting_id,
            source,
            published if dated else None,
            _iso(now),
            language,
            f.pack(),
        )
        self._index(
            entry_id,
            _Entry(article_id, f, _epoch(published) if dated else None, now, language, source),
        )
        self._pending.append(entry_id)
        self._evict(now)
        return entry_id

    def forget(self, article_id: int) -> None:
        """Drop an article's entries from memory (the rows stay for the record)."""
        for entry_id in [k for k, e in self._entries.items() if e.article_id == article_id]:
            self._unindex(entry_id)

    # -- internals ------------------------------------------------------------

    def _index(self, entry_id: int, e: _Entry) -> None:
        if entry_id in self._entries:
            return
        self._entries[entry_id] = e
        for table, keys in self._tables(e.features):
            table.insert(entry_id, keys)

    def _unindex(self, entry_id: int) -> None:
        e = self._entries.pop(entry_id, None)
        if e is None:
            return
        for table, keys in self._tables(e.features):
            table.remove(entry_id, keys)

    def _tables(self, f: Features) -> list[tuple[BandIndex, list[int]]]:
        """The LSH tables a copy belongs in, each with its bucket keys there. The keys of
        the last copy asked about are kept: a new copy is queried, then indexed."""
        if self._last is not None and self._last[0] is f:
            return self._last[1]
        out = []
        if len(f.lead):
            out += [
                (self._head, self._head.keys(f.signature)),
                (self._lead, self._lead.keys(f.lead_signature)),
            ]
        if len(f.title) >= MIN_TITLE_WORDS:
            out.append((self._title, self._title.keys(f.title_signature)))
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
        self._head, self._lead, self._title = self._new_tables()
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


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(iso_text: str | None) -> float | None:
    if not iso_text:
        return None
    return parse_iso(iso_text).timestamp()
