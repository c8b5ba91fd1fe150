"""Per-item work that needs no store: plain text, title, language, keys' text parts, features.

Pure and picklable, so it can run in a parse worker right after parsing (`parse_and_prepare`
is a pool job) and the pipeline's single writer is left with lookups and writes. An item
that arrives without it (drop folder, tests, inline parsing) is prepared by the pipeline
with the same function, so both paths store the same thing.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.clock import iso
from db.models import TopicHit
from ingest.identity import article_guid
from ingest.item import Item
from ingest.language import detect_language
from ingest.minhash import UPDATE_MARKER, Features, features
from ingest.normalize import canonical_url, fingerprint
from ingest.rules import TopicRule
from ingest.text import html_to_text, make_title
from ingest.topics import Matcher, rules_fingerprint


@dataclass(frozen=True)
class Prepared:
    """What the pipeline derives from an item's text, and the text it was derived from."""

    basis: tuple[str | None, str | None, str | None, str | None, str | None, str | None]
    title: str
    body: str | None
    summary: str | None
    language: str | None
    canonical_url: str | None
    fingerprint: str  # of title + body: the `fp:` key
    content_hash: str  # of title + body + summary: detects a changed item on a later poll
    features: Features
    # the topics, when a matcher was at hand: (its rules' fingerprint, the hits)
    topics: tuple[str, list[TopicHit]] | None = None
    # the article guid, with the source and item key it is made from (the poller may
    # re-key an item after it was prepared), and the date as stored, with the date
    guid: tuple[str, str, str] = ("", "", "")
    published: tuple[datetime, str] | None = None

    def matches(self, item: Item) -> bool:
        """Was this prepared from the item as it is now?"""
        return self.basis == _basis(item)


def _basis(item: Item) -> tuple[str | None, ...]:
    return (item.title, item.body, item.summary, item.content_html, item.url, item.language)


def classify(
    matcher: Matcher, title: str, body: str | None, language: str | None, source: str
) -> list[TopicHit]:
    """The article's topics: title, lead (first paragraph) and the rest of the body."""
    lead, _, rest = (body or "").partition("\n\n")
    return matcher.classify(title, lead, rest, language=language, source=source)


def prepare(item: Item, matcher: Matcher | None = None) -> Prepared:
    body = item.body
    if not body and item.content_html:
        body = html_to_text(item.content_html)
    if not body and item.summary:
        body = html_to_text(item.summary)
    title = (item.title or "").strip()
    if body and (not title or UPDATE_MARKER.match(title)):
        # a title made from an "Updated at 14:30 with …" line says nothing: take the
        # next paragraph's first sentence
        paras = [p for p in body.split("\n\n") if p.strip()]
        while paras and UPDATE_MARKER.match(paras[0]) and len(paras) > 1:
            paras = paras[1:]
        title = make_title(paras[0]) if paras else title
    title = title or make_title(body or "") or "(untitled)"
    declared = (item.language or "").replace("_", "-").split("-")[0].strip().lower()
    language = declared or detect_language(f"{title}\n{(body or '')[:600]}")
    summary = html_to_text(item.summary) if item.summary else None
    fp = fingerprint(title, body)
    # without a summary the content hash is the fingerprint: don't normalise the text twice
    content_hash = fingerprint(title, (body or "") + summary) if summary else fp
    topics = None
    if matcher is not None:
        hits = classify(matcher, title, body, language, item.source)
        topics = (matcher.fingerprint, hits)
    return Prepared(
        _basis(item),  # type: ignore[arg-type]
        title,
        body,
        summary,
        language,
        canonical_url(item.url),
        fp,
        content_hash,
        features(title, body, signed=False),  # the near-duplicate layer signs them
        topics,
        (item.source, item.item_key, article_guid(item.source, item.item_key)),
        None if item.published is None else (item.published, iso(item.published)),
    )


@dataclass(frozen=True)
class Seen:
    """What a worker attaches instead of a `Prepared` to an item it prepared before, the
    same in every field preparation reads: the content hash it found then. The writer
    takes the item as unchanged when its sighting has that hash, and otherwise prepares
    it after all (`prepared`), so a stale or wrong answer here costs time, not data."""

    content_hash: str


# A worker's memory of the items it prepared: digest of (source, the fields preparation
# reads) -> the content hash. A changed feed is re-parsed whole, and most of its items are
# the ones stored before; preparing each again (features, topics: ~0.6 ms) was most of a
# worker's steady-state work. ~170 bytes an entry; the oldest go first.
_SEEN_MAX = 100_000
_seen: dict[bytes, bytes] = {}


def forget_seen() -> None:
    """Forget the items this process prepared (each is prepared afresh next time)."""
    _seen.clear()


def _digest(item: Item) -> bytes:
    h = hashlib.blake2b(item.source.encode(), digest_size=16)
    for part in _basis(item):
        h.update(b"\x00" if part is None else b"\x01" + part.encode("utf-8", "surrogatepass"))
        h.update(b"\xff")
    return h.digest()


def prepared(item: Item) -> Prepared:
    """The item's preparation: the one a worker attached, else made now."""
    pre = item.prepared
    if isinstance(pre, Prepared) and pre.matches(item):
        return pre
    return prepare(item)


# a worker's matcher, compiled once per set of rules (see `use_rules`)
_matcher: Matcher | None = None


@dataclass(frozen=True)
class PackedRules:
    """Topic rules as every parse task carries them: their fingerprint and their pickled
    form, so a worker unpickles and compiles them only when they change (fingerprinting
    the rules measured ~6 ms and pickling them ~1 ms: per document, more than parsing
    a 50-item feed with the fast path)."""

    fingerprint: str
    blob: bytes

    @classmethod
    def of(cls, rules: list[TopicRule]) -> PackedRules:
        return cls(rules_fingerprint(rules), pickle.dumps(rules))


def use_rules(rules: list[TopicRule] | PackedRules | None) -> None:
    """Give this (worker) process the topic rules, so `attach` also classifies; a pool
    initializer. Compiling takes ~15 ms, so it happens only when the rules change."""
    global _matcher
    if rules is None:
        _matcher = None
    elif isinstance(rules, PackedRules):
        if _matcher is None or _matcher.fingerprint != rules.fingerprint:
            _matcher = Matcher(pickle.loads(rules.blob))
    elif _matcher is None or _matcher.fingerprint != rules_fingerprint(rules):
        _matcher = Matcher(rules)


def attach(items: list[Item]) -> list[Item]:
    """Prepare every item in place (in a worker, before the items travel back); an item
    this process prepared before, unchanged, gets a `Seen` instead."""
    for item in items:
        digest = _digest(item)
        known = _seen.pop(digest, None)
        if known is not None:
            item.prepared = Seen(known.hex())
        else:
            pre = item.prepared = prepare(item, _matcher)
            known = bytes.fromhex(pre.content_hash)
            if len(_seen) >= _SEEN_MAX:
                del _seen[next(iter(_seen))]
        _seen[digest] = known  # the most recent last
    return items


def parse_and_prepare(
    data: bytes,
    source: str,
    *,
    rules: list[TopicRule] | PackedRules | None = None,
    **kwargs: Any,
) -> Any:
    """`parse_feed` plus the preparation of every item (and its topics, given the rules):
    a drop-in for `parse_feed` as a parse-pool task. Module-level, so it pickles by name
    (also inside `functools.partial(parse_and_prepare, rules=...)`)."""
    from ingest.feedparse import parse_feed

    if rules is not None:
        use_rules(rules)
    parsed = parse_feed(data, source, **kwargs)
    attach(parsed.items)
    return parsed
