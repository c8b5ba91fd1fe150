"""The flow owner: items in, one decision each (new, duplicate, update, unchanged), one commit."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from db import ArticleData, SightingData, Store, Writer, iso
from db.writer import item_tombstone
from ingest.dedup import Deduplicator
from ingest.item import Item
from ingest.language import detect_language
from ingest.metrics import ITEMS
from ingest.normalize import canonical_url, fingerprint
from ingest.text import html_to_text, make_title
from ingest.topics import Matcher

log = logging.getLogger("wiredesk.ingest")

# a date this far ahead of now is a publisher's mistake, not a scheduled story
FUTURE_TOLERANCE = timedelta(days=1)


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


def article_guid(source: str, item_key: str) -> str:
    """Derived from where the story was first seen, so it is the same in every topic
    feed, across restarts and even across a rebuilt store."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'wiredesk:{source}:{item_key}')}"


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


class Pipeline:
    def __init__(self, store: Store, matcher: Matcher, dedup: Deduplicator | None = None) -> None:
        self.store = store
        self.matcher = matcher
        self.dedup = dedup or Deduplicator()

    def ingest(self, items: list[Item]) -> list[Outcome]:
        """Store a batch in one write transaction; a failing item is recorded, not raised."""
        if not items:
            return []
        outcomes: list[Outcome] = []
        with self.store.write() as w:
            for item in items:
                try:
                    outcome = self._one(w, item)
                except sqlite3.DatabaseError:
                    # the store itself failed (disk full, I/O): roll the whole batch
                    # back so its input is kept and retried, never half-recorded
                    raise
                except Exception as exc:  # one bad item must not sink the batch
                    reason = f"{type(exc).__name__}: {exc}"
                    log.exception("event=item_failed source=%s item=%s", item.source, item.item_key)
                    w.record_failure(item.source, item.item_key, reason)
                    outcome = Outcome("failed", reason=reason)
                outcomes.append(outcome)
        for item, outcome in zip(items, outcomes, strict=True):
            ITEMS.labels(item.source, outcome.kind).inc()
        return outcomes

    def _prepare(self, item: Item, now: datetime) -> ArticleData:
        body = item.body
        if not body and item.content_html:
            body = html_to_text(item.content_html)
        if not body and item.summary:
            body = html_to_text(item.summary)
        title = (item.title or "").strip() or make_title(body or "") or "(untitled)"
        published = item.published
        if published is None or published > now + FUTURE_TOLERANCE:
            published = now
        declared = (item.language or "").replace("_", "-").split("-")[0].strip().lower()
        language = declared or detect_language(f"{title}\n{(body or '')[:600]}")
        return ArticleData(
            guid=article_guid(item.source, item.item_key),
            title=title,
            summary=html_to_text(item.summary) if item.summary else None,
            body=body,
            content_html=item.content_html,
            url=item.url,
            canonical_url=canonical_url(item.url),
            published=iso(published),
            published_raw=item.published_raw,
            source=item.source,
            fingerprint=fingerprint(title, body),
            author=item.author,
            agency=item.agency,
            dateline=item.dateline,
            language=language,
            subheads=item.subheads,
        )

    def _classify(self, w: Writer, article_id: int, art: ArticleData) -> None:
        body = art.body or ""
        lead, _, rest = body.partition("\n\n")
        hits = self.matcher.classify(
            art.title, lead, rest, language=art.language, source=art.source
        )
        w.set_topics(article_id, hits)

    def _one(self, w: Writer, item: Item) -> Outcome:
        now = datetime.now(UTC)
        art = self._prepare(item, now)
        content_hash = fingerprint(art.title, (art.body or "") + (art.summary or ""))
        seen = w.sighting(item.source, item.item_key)
        if seen is not None:
            if seen["content_hash"] == content_hash:
                return Outcome("unchanged", seen["article_id"])
            article_id = int(seen["article_id"])
            if seen["match"] in ("new", "update"):
                w.update_article(article_id, art, [f"fp:{art.fingerprint}"])
                self._classify(w, article_id, art)
                self.dedup.forget(article_id)
                self.dedup.add(article_id, art)
            w.add_sighting(
                article_id,
                SightingData(
                    item.source,
                    item.item_key,
                    item.url,
                    "update",
                    reason="content changed",
                    content_hash=content_hash,
                ),
            )
            return Outcome("update", article_id)

        keys = identity_keys(item, art.canonical_url, art.fingerprint)
        if w.tombstoned([item_tombstone(item.source, item.item_key), *keys]):
            # retention pruned this story: it must never come back
            return Outcome("pruned")
        existing = w.article_for_keys(keys)
        if existing is not None:
            key_kind = next(k for k in keys if w.article_for_keys([k]) == existing).split(":")[0]
            w.add_keys(existing, keys)
            w.add_sighting(
                existing,
                SightingData(
                    item.source,
                    item.item_key,
                    item.url,
                    "exact",
                    1.0,
                    f"same {key_kind}",
                    content_hash,
                ),
            )
            return Outcome("exact", existing)

        near = self.dedup.find(w, art)
        if near is not None:
            near_id, similarity, why = near
            w.add_keys(near_id, keys)
            w.add_sighting(
                near_id,
                SightingData(
                    item.source, item.item_key, item.url, "near", similarity, why, content_hash
                ),
            )
            return Outcome("near", near_id)

        article_id = w.insert_article(art, keys)
        self._classify(w, article_id, art)
        w.add_sighting(
            article_id,
            SightingData(item.source, item.item_key, item.url, "new", content_hash=content_hash),
        )
        self.dedup.add(article_id, art)
        return Outcome("new", article_id)
