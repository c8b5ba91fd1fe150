"""All topics compiled into one word index; classifies an article and explains every topic."""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from itertools import compress, repeat
from typing import Any

from db.models import TopicHit
from ingest import compiled
from ingest.rules import (
    ANY_LANGUAGE,
    DEFAULT_FIELD_WEIGHTS,
    FIELDS,
    STEM_MARK,
    Near,
    Phrase,
    Regex,
    RuleError,
    Term,
    TopicRule,
    Word,
    check_rules,
    parse_term,
    topological_order,
)
from ingest.stemming import (
    MIN_STEM,
    english_forms,
    is_cyrillic,
    russian_forms,
    russian_stem,
    tokenize,
)

__all__ = [
    "DEFAULT_FIELD_WEIGHTS",
    "FIELDS",
    "Explanation",
    "Matcher",
    "TermHit",
    "TopicRule",
    "tokenize",
]

Found = dict[int, list[int]]  # phrase id -> word positions in one field
TOKEN_CACHE = 200_000
_Entry = tuple[list[int], dict[str, list[int]], dict[str, list[int]], list[int]]
_NOTHING: tuple[()] = ()  # the cached entry of every word that starts no phrase (falsy)
_UNSEEN: _Entry = ([], {}, {}, [])  # a word not in the cache yet (truthy)


@dataclass
class TermHit:
    term: str
    weight: float
    field: str  # the field that counted: the one with the highest field weight
    contribution: float  # weight x field weight
    language: str = ANY_LANGUAGE


@dataclass
class Explanation:
    """Why a topic does or does not hold an article; every number the decision used."""

    topic: str
    score: float
    threshold: float
    assigned: bool
    hits: list[TermHit]
    reason: str
    field_weights: dict[str, float] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)  # term lists that applied
    required: list[str] | None = None  # required terms found; None: the topic requires none
    excluded: list[str] = field(default_factory=list)  # exclusions found (each vetoes)
    via: list[str] = field(default_factory=list)  # 'source:NAME' or 'topic:ID' + the term

    @property
    def matched(self) -> list[str]:
        return [h.term for h in self.hits if h.contribution > 0] + self.via


@dataclass
class _Term:
    text: str
    weight: float
    language: str
    term: Term
    pids: tuple[int, ...]  # the phrases it needs (one, or two for NEAR)


class _Terms(list[_Term]):
    """Terms of which any one counts (require, exclude, also): with their phrase ids, when
    every one is a phrase, so an article that has none of them is told in one set test."""

    def __init__(self, terms: list[_Term]) -> None:
        super().__init__(terms)
        self.phrase_pids: frozenset[int] | None = (
            frozenset(t.pids[0] for t in terms)
            if all(isinstance(t.term, Phrase) for t in terms)
            else None
        )


@dataclass
class _Rule:
    rule: TopicRule
    order: int
    terms: list[_Term]
    require: _Terms
    exclude: _Terms
    also: list[tuple[str, _Terms]]
    needs_text: bool  # regular expressions: must look at every article
    languages: frozenset[str] = frozenset()  # the languages with a term list of their own
    others: list[int] = field(default_factory=list)  # NEAR and regex terms (not in the index)

    @property
    def special(self) -> bool:
        """Decided by more than its indexed phrases: always scored in full."""
        r = self.rule
        return bool(self.others or self.also or r.sources_include or r.sources_exclude)

    def active(self, language: str | None) -> frozenset[str]:
        own = self.languages
        if language is None or language not in own:
            return own | {ANY_LANGUAGE}
        return frozenset((ANY_LANGUAGE, language))


@dataclass
class _Doc:
    text: dict[str, str]
    found: dict[str, Found]

    @cached_property
    def seen(self) -> set[int]:
        """The phrases found in any field."""
        return set().union(*self.found.values())


def _word_test(w: Word) -> Callable[[str], bool]:
    if w.mode == "exact":
        return w.text.__eq__
    if w.mode == "prefix":
        return lambda tok: tok.startswith(w.text)
    if is_cyrillic(w.text):
        stem = russian_stem(w.text)
        forms = russian_forms(w.text)
        if len(stem) < MIN_STEM:
            return forms.__contains__
        return lambda tok: tok in forms or (is_cyrillic(tok) and russian_stem(tok) == stem)
    return english_forms(w.text).__contains__


def _second_word_keys(w: Word) -> tuple[frozenset[str], str | None] | None:
    """The tokens `w` matches as a finite set, plus the Russian stem it also matches;
    None for a prefix, which only a test can check."""
    if w.mode == "exact":
        return frozenset((w.text,)), None
    if w.mode == "prefix":
        return None
    if not is_cyrillic(w.text):
        return frozenset(english_forms(w.text)), None
    stem = russian_stem(w.text)
    return frozenset(russian_forms(w.text)), (stem if len(stem) >= MIN_STEM else None)


def rules_fingerprint(rules: list[TopicRule]) -> str:
    """sha256 of topic rules as configured (`Matcher.fingerprint` without compiling)."""
    data = [asdict(r) for r in rules]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class Matcher:
    """Every phrase of every topic sits in one index keyed by its first word (a token,
    an English form, or `~stem` for Russian; prefixes by length), so the cost per
    article grows with its length and its hits, not with the number of terms."""

    def __init__(self, rules: list[TopicRule]) -> None:
        problems = check_rules(rules)
        if problems:
            raise RuleError(problems)
        self.rules = {r.id: r for r in rules}
        self._phrases: list[Phrase] = []
        self._pid: dict[Phrase, int] = {}
        self._tails: list[tuple[Callable[[str], bool], ...]] = []
        # for two-word phrases: every token the second word accepts, when that is a
        # finite set (not a prefix, not a Russian stem)
        self._second_keys: list[tuple[frozenset[str], str | None] | None] = []
        self._index: dict[str, list[int]] = defaultdict(list)
        self._prefix: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._compiled: list[_Rule] = []
        # phrase id -> (rule, term, weight, language) of every term it is;
        # phrase id -> the `special` rules (NEAR, regex, sources, also) it can wake
        self._feeds: dict[int, list[tuple[int, int, tuple[float, ...], str]]] = defaultdict(list)
        self._wakes: dict[int, set[int]] = defaultdict(set)
        ordered = topological_order(rules)
        position = {r.id: i for i, r in enumerate(ordered)}
        for r in rules:
            self._compiled.append(self._compile_rule(r, position[r.id]))
        self._order = sorted(range(len(self._compiled)), key=lambda i: self._compiled[i].order)
        for ri, cr in enumerate(self._compiled):
            for ti, t in enumerate(cr.terms):
                if isinstance(t.term, Phrase):
                    fw = cr.rule.field_weights
                    contrib = tuple(t.weight * fw.get(f, 1.0) for f in FIELDS)
                    self._feeds[t.pids[0]].append((ri, ti, contrib, t.language))
                if t.weight > 0 and cr.special:
                    for pid in t.pids:
                        self._wakes[pid].add(ri)
        self._always = [
            ri
            for ri, cr in enumerate(self._compiled)
            if cr.needs_text or cr.also or cr.rule.sources_include
        ]
        self._fw = [[cr.rule.field_weights.get(f, 1.0) for f in FIELDS] for cr in self._compiled]
        self._langs = [cr.languages for cr in self._compiled]
        self._language_free = not any(self._langs)
        self._config_order = {tid: i for i, tid in enumerate(self.rules)}
        self._thresholds = [cr.rule.threshold - 1e-9 for cr in self._compiled]
        self._prefix_lengths = sorted(self._prefix)
        # token -> phrases its word starts; news vocabulary repeats, so most tokens
        # cost one lookup (bounded: cleared when full)
        self._token_cache: dict[str, _Entry | tuple[()]] = {}
        # with the compiled helpers, the words that start no phrase are kept here instead
        # (ingest._speedups.TokenTable: one cache line a lookup where the dict took ~4;
        # in a parse worker the scan for phrase starts measured ~55 us an item with it)
        self._starts_nothing: Any = None

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the rules as configured: equal rules, equal decisions (the rules of
        a Matcher never change, so it is computed once)."""
        return rules_fingerprint(list(self.rules.values()))

    # -- compiling ------------------------------------------------------------------

    def _phrase_id(self, p: Phrase) -> int:
        pid = self._pid.get(p)
        if pid is not None:
            return pid
        pid = len(self._phrases)
        self._pid[p] = pid
        self._phrases.append(p)
        self._tails.append(tuple(_word_test(w) for w in p.words[1:]))
        self._second_keys.append(_second_word_keys(p.words[1]) if len(p.words) == 2 else None)
        first = p.words[0]
        if first.mode == "prefix":
            self._prefix[len(first.text)][first.text].append(pid)
        else:
            for key in first.index_keys():
                self._index[key].append(pid)
        return pid

    def _term(self, text: str, weight: float = 0.0, language: str = ANY_LANGUAGE) -> _Term:
        term = parse_term(text)
        if isinstance(term, Phrase):
            pids: tuple[int, ...] = (self._phrase_id(term),)
        elif isinstance(term, Near):
            pids = (self._phrase_id(term.left), self._phrase_id(term.right))
        else:
            pids = ()
        return _Term(text, weight, language, term, pids)

    def _compile_rule(self, r: TopicRule, order: int) -> _Rule:
        terms = [self._term(t.text, t.weight, t.language) for t in r.terms]
        require = _Terms([self._term(t) for t in r.require])
        exclude = _Terms([self._term(t) for t in r.exclude])
        also = [(a.topic, _Terms([self._term(t) for t in a.require])) for a in r.also]
        needs_text = any(isinstance(t.term, Regex) and t.weight > 0 for t in terms)
        others = [i for i, t in enumerate(terms) if not isinstance(t.term, Phrase)]
        languages = frozenset(r.languages())
        return _Rule(r, order, terms, require, exclude, also, needs_text, languages, others)

    # -- reading an article ---------------------------------------------------------

    def _first_word(self, tok: str) -> list[int]:
        """Phrases whose first word matches `tok`: as itself or an English form, by its
        Russian stem, or by a prefix."""
        index = self._index
        cands = list(index.get(tok, ()))
        if is_cyrillic(tok):
            cands += index.get(STEM_MARK + russian_stem(tok), ())
        for length in self._prefix_lengths:
            if length > len(tok):
                break
            cands += self._prefix[length].get(tok[:length], ())
        return cands

    def _entry(self, tok: str) -> _Entry:
        """What a token starts, split for speed: one-word phrases; two-word phrases
        keyed by every token their second word accepts; the rest, tested word by word."""
        singles: list[int] = []
        pairs: dict[str, list[int]] = {}
        stems: dict[str, list[int]] = {}
        longer: list[int] = []
        for pid in self._first_word(tok):
            nexts = self._second_keys[pid]
            if not self._tails[pid]:
                singles.append(pid)
            elif nexts is not None:
                forms, stem = nexts
                for key in forms:
                    pairs.setdefault(key, []).append(pid)
                if stem is not None:
                    stems.setdefault(stem, []).append(pid)
            else:
                longer.append(pid)
        return singles, pairs, stems, longer

    def find(self, tokens: list[str]) -> Found:
        """Every phrase in `tokens`, with the positions where it starts."""
        found: Found = {}
        n = len(tokens)
        cache, tails = self._token_cache, self._tails
        # most words start no phrase: one lookup each, all in C (the compiled `starts`,
        # or `map` and `compress`), keeps the positions worth a closer look: a word never
        # seen (`_UNSEEN`) or one that starts a phrase (a non-empty entry; `_NOTHING` is
        # falsy). A word seen earlier in this text is known by the time it is read.
        c = compiled.speedups
        nothing = None
        if c is not None:
            nothing = self._starts_nothing
            if nothing is None:
                nothing = self._starts_nothing = c.TokenTable()
            looks: Iterable[int] = c.starts(tokens, nothing)
        else:
            looks = compress(range(n), map(cache.get, tokens, repeat(_UNSEEN)))
        for i in looks:
            tok = tokens[i]
            entry = cache.get(tok, _UNSEEN)
            if entry is _UNSEEN:
                if nothing is not None and nothing.get(tok) is not None:
                    continue  # met earlier in this text: it starts nothing
                if len(cache) >= TOKEN_CACHE:
                    cache.clear()
                if nothing is not None and len(nothing) >= TOKEN_CACHE:
                    nothing.clear()
                entry = self._entry(tok)
                if not any(entry):
                    entry = _NOTHING
                if nothing is not None and not entry:
                    nothing.put(tok, 0)  # and never looked at again
                else:
                    cache[tok] = entry
            if not entry:
                continue
            singles, pairs, stems, longer = entry
            for pid in singles:
                found.setdefault(pid, []).append(i)
            if i + 1 < n:
                nxt = tokens[i + 1]
                if pairs:
                    for pid in pairs.get(nxt, ()):
                        found.setdefault(pid, []).append(i)
                if stems and is_cyrillic(nxt):
                    for pid in stems.get(russian_stem(nxt), ()):
                        at = found.setdefault(pid, [])
                        if not at or at[-1] != i:  # not found already by its form
                            at.append(i)
                for pid in longer:
                    tail = tails[pid]
                    if i + len(tail) < n and all(
                        test(tokens[i + 1 + j]) for j, test in enumerate(tail)
                    ):
                        found.setdefault(pid, []).append(i)
        return found

    def _read(self, title: str, lead: str, body: str) -> _Doc:
        text = {"title": title or "", "lead": lead or "", "body": body or ""}
        return _Doc(text, {f: self.find(tokenize(t)) for f, t in text.items()})

    # -- deciding -------------------------------------------------------------------

    @staticmethod
    def _present(t: _Term, doc: _Doc, f: str) -> bool:
        term = t.term
        if isinstance(term, Phrase):
            return t.pids[0] in doc.found[f]
        if isinstance(term, Regex):
            return term.pattern.search(doc.text[f]) is not None
        left = doc.found[f].get(t.pids[0])
        right = doc.found[f].get(t.pids[1])
        if not left or not right:
            return False
        return any(abs(a - b) <= term.within for a in left for b in right)

    def _anywhere(self, terms: _Terms, doc: _Doc) -> list[str]:
        seen = doc.seen
        if terms.phrase_pids is not None and seen.isdisjoint(terms.phrase_pids):
            return []
        return [
            t.text
            for t in terms
            if (
                t.pids[0] in seen
                if isinstance(t.term, Phrase)
                else any(self._present(t, doc, f) for f in FIELDS)
            )
        ]

    def _evaluate(
        self,
        ri: int,
        doc: _Doc,
        phrase_hits: dict[int, dict[int, int]],
        language: str | None,
        source: str | None,
        assigned: Mapping[str, object],
    ) -> Explanation:
        cr = self._compiled[ri]
        r = cr.rule
        fw = r.field_weights
        active = cr.active(language)
        found = {ti: FIELDS[fi] for ti, fi in phrase_hits.get(ri, {}).items()}
        for ti in cr.others:
            fields = [f for f in FIELDS if self._present(cr.terms[ti], doc, f)]
            if fields:
                found[ti] = max(fields, key=lambda f: fw.get(f, 1.0))
        hits: list[TermHit] = []
        for ti, where in found.items():
            t = cr.terms[ti]
            if t.language in active:
                weight = fw.get(where, 1.0)
                hits.append(TermHit(t.text, t.weight, where, t.weight * weight, t.language))
        # strongest first, and a sum exact in any order: the decision and its record
        # do not depend on the order terms are written in the config
        hits.sort(key=lambda h: (-h.contribution, h.term, h.language))
        score = round(math.fsum(h.contribution for h in hits), 6)
        e = Explanation(r.id, score, r.threshold, False, hits, "", dict(fw), sorted(active))
        e.excluded = self._anywhere(cr.exclude, doc)
        if cr.require:
            e.required = self._anywhere(cr.require, doc)
        if source is not None and source in r.sources_exclude:
            e.reason = f"source {source!r} is excluded from this topic"
            return e
        if source is not None and source in r.sources_include:
            e.assigned, e.via = True, [f"source:{source}"]
            e.reason = f"source {source!r} always files into this topic"
            return e
        if e.excluded:
            e.reason = f"vetoed by exclusion {e.excluded}"
            return e
        own_ok = score >= r.threshold and (not cr.require or bool(e.required))
        if own_ok:
            e.assigned = True
            e.reason = f"score {score:.2f} reaches threshold {r.threshold:g}" + (
                f", required term {e.required[0]!r} present" if e.required else ""
            )
            return e
        for topic, req in cr.also:
            if topic in assigned:
                present = self._anywhere(req, doc)
                if present:
                    e.assigned, e.via = True, [f"topic:{topic}", present[0]]
                    e.reason = f"in topic {topic!r} and mentions {present[0]!r}"
                    return e
        if score < r.threshold:
            e.reason = f"score {score:.2f} below threshold {r.threshold:g}"
        else:
            e.reason = f"score {score:.2f} reaches threshold but none of the required terms"
        return e

    def _phrase_hits(
        self, doc: _Doc, language: str | None
    ) -> tuple[dict[int, dict[int, int]], dict[int, float]]:
        """rule -> term -> the index in FIELDS of the best field its phrase occurs in,
        and each rule's score from those phrases, summed as they are found."""
        hits: dict[int, dict[int, int]] = {}
        score: dict[int, float] = defaultdict(float)
        langs, check = self._langs, not self._language_free and language is not None
        for fi, f in enumerate(FIELDS):
            for pid in doc.found[f]:
                for ri, ti, contrib, lang in self._feeds.get(pid, ()):
                    terms = hits.get(ri)
                    if terms is None:
                        hits[ri] = {ti: fi}
                        gain = contrib[fi]
                    else:
                        prev = terms.get(ti)
                        if prev is None:
                            gain = contrib[fi]
                        elif abs(contrib[fi]) > abs(contrib[prev]):  # a field weighed more
                            gain = contrib[fi] - contrib[prev]
                        else:
                            continue
                        terms[ti] = fi
                    if not check or lang in (ANY_LANGUAGE, language) or language not in langs[ri]:
                        score[ri] += gain
        return hits, score

    def _explain_all(
        self, title: str, lead: str, body: str, language: str | None, source: str | None
    ) -> dict[str, Explanation]:
        doc = self._read(title, lead, body)
        phrase_hits, _scores = self._phrase_hits(doc, language)
        out: dict[str, Explanation] = {}
        assigned: dict[str, Explanation] = {}
        for ri in self._order:
            e = self._evaluate(ri, doc, phrase_hits, language, source, assigned)
            out[e.topic] = e
            if e.assigned:
                assigned[e.topic] = e
        return out

    def explain(
        self,
        title: str,
        lead: str,
        body: str,
        *,
        language: str | None = None,
        source: str | None = None,
    ) -> list[Explanation]:
        """Every topic, in config order, held or not, with every number that decided it."""
        out = self._explain_all(title, lead, body, language, source)
        return [out[tid] for tid in self.rules]

    def classify(
        self,
        title: str,
        lead: str,
        body: str,
        *,
        language: str | None = None,
        source: str | None = None,
    ) -> list[TopicHit]:
        """The topics that hold the article, in config order. A plain topic is looked at
        only when the phrases found reach its threshold; it is decided without building
        an explanation, by the same sums `explain` shows."""
        doc = self._read(title, lead, body)
        phrase_hits, scores = self._phrase_hits(doc, language)
        compiled, thresholds = self._compiled, self._thresholds
        todo = {ri for ri, sc in scores.items() if sc >= thresholds[ri]}
        todo.update(self._always)
        for f in FIELDS:
            for pid in doc.found[f]:
                woken = self._wakes.get(pid)
                if woken:
                    todo |= woken
        assigned: dict[str, TopicHit] = {}
        for ri in sorted(todo, key=lambda i: compiled[i].order):
            cr = compiled[ri]
            if cr.special:
                e = self._evaluate(ri, doc, phrase_hits, language, source, assigned)
                if e.assigned:
                    assigned[e.topic] = TopicHit(e.topic, round(e.score, 3), e.matched)
            else:
                hit = self._decide(cr, doc, phrase_hits.get(ri, {}), language)
                if hit is not None:
                    assigned[hit.topic] = hit
        return sorted(assigned.values(), key=lambda h: self._config_order[h.topic])

    def _decide(
        self, cr: _Rule, doc: _Doc, found: dict[int, int], language: str | None
    ) -> TopicHit | None:
        """`_evaluate`'s verdict for a plain topic (no NEAR, regex, sources or also)."""
        r, active = cr.rule, cr.active(language)
        fw = r.field_weights
        hits: list[tuple[float, str, str]] = []
        for ti, fi in found.items():
            t = cr.terms[ti]
            if t.language in active:
                hits.append((-t.weight * fw.get(FIELDS[fi], 1.0), t.text, t.language))
        hits.sort()  # as `_evaluate` orders them
        score = round(-math.fsum(h[0] for h in hits), 6)
        matched = [text for neg, text, _lang in hits if neg < 0]
        if score < r.threshold:
            return None
        if cr.exclude and self._anywhere(cr.exclude, doc):
            return None
        if cr.require and not self._anywhere(cr.require, doc):
            return None
        return TopicHit(r.id, round(score, 3), matched)
