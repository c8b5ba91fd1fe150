"""The flow owner: items in, one decision each (new, duplicate, update, unchanged), one commit."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from db import ArticleData, SightingData, Store, Writer, dedup_store, iso
from db.models import TopicHit
from db.writer import item_tombstone
from ingest.dedup import Deduplicator, Match
from ingest.identity import article_guid
from ingest.item import Item
from ingest.metrics import ITEMS
from ingest.minhash import Features
from ingest.normalize import normalised_words
from ingest.prepare import Prepared, Seen, classify, prepared
from ingest.representative import DEFAULT_PREFER, Copy, better
from ingest.topics import Matcher

log = logging.getLogger("wiredesk.ingest")

# a date this far ahead of now is a publisher's mistake, not a scheduled story
FUTURE_TOLERANCE = timedelta(days=1)


class _ItemFailed(Exception):
    """An item failed in a batch stored without savepoints: store it again with them."""


@dataclass
class Outcome:
    """What one item became; `article_id` is None only for failures and unchanged items."""

    kind: str  # 'new' | 'exact' | 'near' | 'update' | 'unchanged' | 'pruned' | 'failed'
    article_id: int | None = None
    reason: str | None = None


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # why the source itself failed, if it did

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.kind] += 1

    def line(self, name: str) -> str:
        c = self.counts
        dup = c["exact"] + c["near"]
        return (
            f"{name}: new={c['new']} duplicate={dup} updated={c['update']}"
            f" unchanged={c['unchanged']} failed={c['failed']}"
            + (f" pruned={c['pruned']}" if c["pruned"] else "")
            + (f" error={self.error!r}" if self.error else "")
        )


def identity_keys(item: Item, canon: str | None, fp: str) -> list[str]:
    """The exact-duplicate keys of an item, most specific first."""
    keys = []
    if item.guid:
        # URL-like and URN guids are global; bare ones ("1234") only mean something per source
        scope = "" if ":" in item.guid else f"{item.source}:"
        keys.append(f"guid:{scope}{item.guid.strip()}")
    if canon:
        keys.append(f"url:{canon}")
    keys.append(f"fp:{fp}")
    return keys


@dataclass
class _Prepared:
    """An item made ready for the store, with what the near-duplicate layer needs."""

    art: ArticleData
    feats: Features
    dated: bool  # the source gave a usable date
    content_hash: str
    topics: tuple[str, list[TopicHit]] | None = None  # classified already, by these rules


class Pipeline:
    def __init__(
        self,
        store: Store,
        matcher: Matcher,
        dedup: Deduplicator | None = None,
        *,
        prefer: tuple[str, ...] = DEFAULT_PREFER,
    ) -> None:
        self.store = store
        self.matcher = matcher
        self.dedup = dedup if dedup is not None else Deduplicator()
        self.prefer = prefer
        if not self.dedup.loaded:
            self.dedup.load(store)

    def ingest(
        self, items: list[Item], then: Callable[[Writer], object] | None = None
    ) -> list[Outcome]:
        """Store a batch in one write transaction; a failing item is recorded, not raised.
        `then` writes what goes with the batch (its sources' fetch state) in the same
        transaction: both commit or neither does.

        The batch is first stored without a savepoint per item (two statements an item,
        ~1% of the writer's time); should an item fail, the transaction rolls back and the
        batch is stored again item by item in savepoints, so the failure is recorded and
        nothing of it half-written."""
        if not items and then is None:
            return []
        try:
            outcomes = self._store(items, then, careful=False)
        except _ItemFailed:
            outcomes = self._store(items, then, careful=True)
        counts = Counter(
            (item.source, outcome.kind) for item, outcome in zip(items, outcomes, strict=True)
        )
        for (source, kind), n in counts.items():
            ITEMS.labels(source, kind).inc(n)
        return outcomes

    def _store(
        self, items: list[Item], then: Callable[[Writer], object] | None, *, careful: bool
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            with self.store.write() as w:
                self._prefetch(w, items)
                for item in items:
                    outcomes.append(self._guarded(w, item) if careful else self._bare(w, item))
                if then is not None:
                    then(w)
        except BaseException:
            self.dedup.rollback()
            raise
        self.dedup.commit()
        return outcomes

    def _bare(self, w: Writer, item: Item) -> Outcome:
        try:
            return self._one(w, item)
        except sqlite3.DatabaseError:
            raise  # the store itself failed: the batch fails, as in `_guarded`
        except Exception as exc:
            raise _ItemFailed from exc

    def _prefetch(self, w: Writer, items: list[Item]) -> None:
        """Look up the batch's sightings, keys and tombstones at once, and the
        near-duplicate buckets of its new copies. An item whose preparation fails here is
        left out: `_guarded` meets the error again and records it."""
        sightings, keys, tombstones = [], [], []
        each: list[tuple[Item, Prepared, list[str]]] = []
        for item in items:
            if isinstance(item.prepared, Seen):  # expected to be seen: only its sighting
                sightings.append((item.source, item.item_key))
                continue
            try:
                pre = item.prepared = prepared(item)
            except Exception:
                continue
            sightings.append((item.source, item.item_key))
            item_keys = identity_keys(item, pre.canonical_url, pre.fingerprint)
            keys += item_keys
            tombstones += [item_tombstone(item.source, item.item_key), *item_keys]
            each.append((item, pre, item_keys))
        w.prefetch(sightings, keys, tombstones)
        # the near-duplicate query's buckets, for the items it will see: not those seen
        # before (unchanged or updated by their identity) nor exact duplicates
        self.dedup.look_up(
            [
                pre.features
                for item, pre, item_keys in each
                if w.sighting(item.source, item.item_key) is None
                and not w.articles_for_keys(item_keys)
            ]
        )

    def _guarded(self, w: Writer, item: Item) -> Outcome:
        """One item inside a savepoint, so a failure leaves nothing half-written behind."""
        mark = self.dedup.mark()
        w.index_text()
        w.conn.execute("SAVEPOINT item")
        try:
            outcome = self._one(w, item)
        except sqlite3.DatabaseError:
            # the store itself failed (disk full, I/O): the whole batch rolls back so
            # its input is kept and retried, never half-recorded
            raise
        except Exception as exc:  # one bad item must not sink the batch
            w.conn.execute("ROLLBACK TO SAVEPOINT item")
            w.conn.execute("RELEASE SAVEPOINT item")
            self.dedup.rollback(mark)
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("event=item_failed source=%s item=%s", item.source, item.item_key)
            w.record_failure(item.source, item.item_key, reason)
            return Outcome("failed", reason=reason)
        w.conn.execute("RELEASE SAVEPOINT item")
        return outcome

    def _prepare(self, item: Item, now: datetime) -> _Prepared:
        pre = prepared(item)
        published = item.published
        dated = published is not None and published <= now + FUTURE_TOLERANCE
        # the worker formatted the guid and the date (~12 us an item off the writer),
        # for the key and the date the item had then: the poller may re-key it since
        source, key, guid = pre.guid
        if source != item.source or key != item.item_key:
            guid = article_guid(item.source, item.item_key)
        if dated and pre.published is not None and pre.published[0] == published:
            published_text = pre.published[1]
        else:
            published_text = iso(published if dated and published is not None else now)
        art = ArticleData(
            guid=guid,
            title=pre.title,
            summary=pre.summary,
            body=pre.body,
            content_html=item.content_html,
            url=item.url,
            canonical_url=pre.canonical_url,
            published=published_text,
            published_raw=item.published_raw,
            source=item.source,
            fingerprint=pre.fingerprint,
            author=item.author,
            agency=item.agency,
            dateline=item.dateline,
            language=pre.language,
            subheads=item.subheads,
        )
        return _Prepared(art, pre.features, dated, pre.content_hash, pre.topics)

    def _classify(self, w: Writer, article_id: int, p: _Prepared, *, new: bool = False) -> None:
        if p.topics is not None and p.topics[0] == self.matcher.fingerprint:
            hits = p.topics[1]  # a worker classified it by these very rules
        else:
            art = p.art
            hits = classify(self.matcher, art.title, art.body, art.language, art.source)
        w.set_topics(article_id, hits, new=new)

    def _index(self, w: Writer, article_id: int, sighting_id: int | None, p: _Prepared) -> None:
        self.dedup.add(
            w,
            article_id,
            sighting_id,
            p.feats,
            p.art.published,
            p.dated,
            p.art.language,
            p.art.source,
        )

    def _sighting(
        self, item: Item, p: _Prepared, match: str, similarity: float | None, reason: str | None
    ) -> SightingData:
        return SightingData(
            item.source, item.item_key, item.url, match, similarity, reason, p.content_hash
        )

    def _replace_text(
        self, w: Writer, article_id: int, sighting_id: int, p: _Prepared, keys: list[str]
    ) -> None:
        """The article now shows this copy: its text, link and agency; guid stays."""
        w.update_article(article_id, p.art, keys)
        dedup_store.set_representative(
            w.conn, article_id, sighting_id, p.art.url, p.art.canonical_url, p.art.published
        )
        self._classify(w, article_id, p)

    def _one(self, w: Writer, item: Item) -> Outcome:
        if isinstance(item.prepared, Seen):
            row = w.sighting(item.source, item.item_key)
            same = None if row is None else _unchanged(row, item.prepared.content_hash)
            if same is not None:
                return same
            # not as the worker remembered it (its store rolled back, retention pruned
            # it): prepared here after all
        now = datetime.now(UTC)
        p = self._prepare(item, now)
        art = p.art
        seen = w.sighting(item.source, item.item_key)
        if seen is not None:
            return self._seen_again(w, item, p, seen)

        keys = identity_keys(item, art.canonical_url, art.fingerprint)
        if w.tombstoned([item_tombstone(item.source, item.item_key), *keys]):
            # retention pruned this story: it must never come back
            return Outcome("pruned")
        known = w.articles_for_keys(keys)
        existing, key_kind = self._exact(w, item, art.title, keys, known)
        if existing is not None:
            same_text = known.get(f"fp:{art.fingerprint}") == existing
            if not same_text and p.feats.update:
                # the same guid/link re-issued with an update marker: new text, same entry
                sid = w.add_sighting(
                    existing, self._sighting(item, p, "update", None, f"same {key_kind}; marked")
                )
                self._replace_text(w, existing, sid, p, keys)
                self._index(w, existing, sid, p)
                return Outcome("update", existing)
            w.add_keys(existing, keys)
            w.add_sighting(existing, self._sighting(item, p, "exact", 1.0, f"same {key_kind}"))
            return Outcome("exact", existing)

        near = self._find_near(w, p)
        if near is not None:
            outcome = self._near(w, item, p, keys, near)
            if outcome is not None:
                return outcome

        article_id = w.insert_article(art, keys)
        self._classify(w, article_id, p, new=True)
        sid = w.add_sighting(article_id, self._sighting(item, p, "new", None, None))
        self._index(w, article_id, sid, p)
        return Outcome("new", article_id)

    @staticmethod
    def _exact(
        w: Writer, item: Item, title: str, keys: list[str], known: dict[str, int]
    ) -> tuple[int | None, str]:
        """The article an exact key names, and the key's kind. Against an article the same
        source already gave under another identity, a shared link is not enough (blogs
        and wires tell items apart by fragment, `page.html#a0306`, which canonical URLs
        drop), and neither is shared text under another headline (template posts).
        `known` maps each of `keys` already stored to its article."""
        for key in keys:
            found = known.get(key)
            if found is None:
                continue
            kind = key.split(":", 1)[0]
            if kind in ("url", "fp") and dedup_store.has_source(w.conn, found, item.source):
                if kind == "url":
                    continue
                stored = w.conn.execute(
                    "SELECT title FROM articles WHERE id = ?", (found,)
                ).fetchone()
                if stored and normalised_words(stored[0]) != normalised_words(title):
                    continue
            return found, kind
        return None, ""

    def _find_near(self, w: Writer, p: _Prepared) -> Match | None:
        """The near match, skipping stories that already hold another item of this source:
        an outlet does not carry the same story twice except as a re-issue."""
        exclude: set[int] = set()
        for _ in range(3):
            near = self.dedup.find(
                p.feats,
                _epoch(p.art.published) if p.dated else None,
                p.art.language,
                p.art.source,
                allow_conflict_above=(
                    self.dedup.settings.update_threshold if p.feats.update else None
                ),
                exclude=exclude,
            )
            if near is None or near.same_source or p.feats.update:
                return near
            if not dedup_store.has_source(w.conn, near.article_id, p.art.source):
                return near
            exclude.add(near.article_id)
        return None

    def _near(
        self, w: Writer, item: Item, p: _Prepared, keys: list[str], near: Match
    ) -> Outcome | None:
        rep = dedup_store.representative(w.conn, near.article_id)
        if rep is None:  # the entry outlived its article
            return None
        same_origin = item.source == rep["source"] or bool(
            p.art.agency and rep["agency"] and p.art.agency.casefold() == rep["agency"].casefold()
        )
        if near.same_source and not (p.feats.update or not (item.guid or item.url)):
            # a feed item with its own guid or link is its own item: a same-outlet look-alike
            # (BondiBlock, PhonoBlock, ...) is a template story, not a re-issue, unless marked
            return None
        if near.same_source or (p.feats.update and same_origin):
            sid = w.add_sighting(
                near.article_id, self._sighting(item, p, "update", near.similarity, near.reason)
            )
            self._replace_text(w, near.article_id, sid, p, keys)
            self._index(w, near.article_id, sid, p)
            return Outcome("update", near.article_id)
        if near.conflict:
            return None  # a conflict is forgiven only to a marked update from the same origin
        sid = w.add_sighting(
            near.article_id, self._sighting(item, p, "near", near.similarity, near.reason)
        )
        w.add_keys(near.article_id, keys)
        self._index(w, near.article_id, sid, p)
        current = Copy(rep["agency"], rep["published"], int(rep["length"]))
        new = Copy(p.art.agency, p.art.published, len(p.art.body or ""))
        if better(new, current, self.prefer):
            self._replace_text(w, near.article_id, sid, p, keys)
        return Outcome("near", near.article_id)

    def _seen_again(self, w: Writer, item: Item, p: _Prepared, row: sqlite3.Row) -> Outcome:
        """The same item from the same source again: unchanged, or its text changed."""
        same = _unchanged(row, p.content_hash)
        if same is not None:
            return same
        article_id = int(row["article_id"])
        sighting_id = int(row["id"])
        if dedup_store.is_representative(w.conn, article_id, sighting_id):
            dedup_store.pin_representative(w.conn, article_id, sighting_id)
            w.update_article(article_id, p.art, [f"fp:{p.art.fingerprint}"])
            self._classify(w, article_id, p)
            self._index(w, article_id, sighting_id, p)
            match = "update"
        else:
            # another outlet's copy changed: it still credits the same story
            match = str(row["match"])
        w.add_sighting(article_id, self._sighting(item, p, match, None, "content changed"))
        return Outcome("update", article_id)


def _unchanged(row: sqlite3.Row, content_hash: str) -> Outcome | None:
    """An item's sighting again, its text as then: nothing to write."""
    if row["content_hash"] == content_hash:
        return Outcome("unchanged", row["article_id"])
    return None


def _epoch(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()
