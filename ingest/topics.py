"""All topics compiled into one word index; classifies an article and explains every topic."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from db.models import TopicHit
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


@dataclass
class _Rule:
    rule: TopicRule
    order: int
    terms: list[_Term]
    require: list[_Term]
    exclude: list[_Term]
    also: list[tuple[str, list[_Term]]]
    needs_text: bool  # regular expressions: must look at every article


@dataclass
class _Doc:
    text: dict[str, str]
    found: dict[str, Found]


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
        self._index: dict[str, list[int]] = defaultdict(list)
        self._prefix: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._compiled: list[_Rule] = []
        # phrase id -> (rule, term) pairs whose score it feeds; rules a phrase can assign
        self._feeds: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self._wakes: dict[int, set[int]] = defaultdict(set)
        ordered = topological_order(rules)
        position = {r.id: i for i, r in enumerate(ordered)}
        for r in rules:
            self._compiled.append(self._compile_rule(r, position[r.id]))
        self._order = sorted(range(len(self._compiled)), key=lambda i: self._compiled[i].order)
        for ri, cr in enumerate(self._compiled):
            for ti, t in enumerate(cr.terms):
                if isinstance(t.term, Phrase):
                    self._feeds[t.pids[0]].append((ri, ti))
                if t.weight > 0:
                    for pid in t.pids:
                        self._wakes[pid].add(ri)
        self._always = [
            ri
            for ri, cr in enumerate(self._compiled)
            if cr.needs_text or cr.also or cr.rule.sources_include
        ]
        self._prefix_lengths = sorted(self._prefix)

    @property
    def fingerprint(self) -> str:
        """sha256 of the rules as configured: equal rules, equal decisions."""
        data = [asdict(r) for r in self.rules.values()]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    # -- compiling ------------------------------------------------------------------

    def _phrase_id(self, p: Phrase) -> int:
        pid = self._pid.get(p)
        if pid is not None:
            return pid
        pid = len(self._phrases)
        self._pid[p] = pid
        self._phrases.append(p)
        self._tails.append(tuple(_word_test(w) for w in p.words[1:]))
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
        require = [self._term(t) for t in r.require]
        exclude = [self._term(t) for t in r.exclude]
        also = [(a.topic, [self._term(t) for t in a.require]) for a in r.also]
        needs_text = any(isinstance(t.term, Regex) and t.weight > 0 for t in terms)
        return _Rule(r, order, terms, require, exclude, also, needs_text)

    # -- reading an article ---------------------------------------------------------

    def find(self, tokens: list[str]) -> Found:
        """Every phrase in `tokens`, with the positions where it starts."""
        found: Found = {}
        n = len(tokens)
        index, prefix, lengths, tails = self._index, self._prefix, self._prefix_lengths, self._tails
        for i, tok in enumerate(tokens):
            cands = index.get(tok)
            if is_cyrillic(tok):
                stemmed = index.get(STEM_MARK + russian_stem(tok))
                if stemmed:
                    cands = [*cands, *stemmed] if cands else stemmed
            for length in lengths:
                if length > len(tok):
                    break
                more = prefix[length].get(tok[:length])
                if more:
                    cands = [*cands, *more] if cands else more
            if not cands:
                continue
            for pid in cands:
                tail = tails[pid]
                if tail and (
                    i + len(tail) >= n
                    or not all(test(tokens[i + 1 + k]) for k, test in enumerate(tail))
                ):
                    continue
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

    def _anywhere(self, terms: list[_Term], doc: _Doc) -> list[str]:
        return [t.text for t in terms if any(self._present(t, doc, f) for f in FIELDS)]

    def _evaluate(
        self,
        ri: int,
        doc: _Doc,
        phrase_hits: dict[int, dict[int, str]],
        language: str | None,
        source: str | None,
        assigned: dict[str, Explanation],
    ) -> Explanation:
        cr = self._compiled[ri]
        r = cr.rule
        fw = r.field_weights
        own = r.languages()
        active = {ANY_LANGUAGE} | (own if language is None or language not in own else {language})
        hits: list[TermHit] = []
        best = phrase_hits.get(ri, {})
        for ti, t in enumerate(cr.terms):
            if t.language not in active:
                continue
            if isinstance(t.term, Phrase):
                where = best.get(ti)
            else:
                fields = [f for f in FIELDS if self._present(t, doc, f)]
                where = max(fields, key=lambda f: fw.get(f, 1.0)) if fields else None
            if where is not None:
                weight = fw.get(where, 1.0)
                hits.append(TermHit(t.text, t.weight, where, t.weight * weight, t.language))
        score = round(sum(h.contribution for h in hits), 6)
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

    def _phrase_hits(self, doc: _Doc, rules: set[int] | None) -> dict[int, dict[int, str]]:
        """rule -> term -> the best field each found phrase term occurs in."""
        out: dict[int, dict[int, str]] = {}
        for f in FIELDS:
            for pid in doc.found[f]:
                for ri, ti in self._feeds.get(pid, ()):
                    if rules is not None and ri not in rules:
                        continue
                    fw = self._compiled[ri].rule.field_weights
                    terms = out.setdefault(ri, {})
                    prev = terms.get(ti)
                    if prev is None or fw.get(f, 1.0) > fw.get(prev, 1.0):
                        terms[ti] = f
        return out

    def _run(
        self,
        title: str,
        lead: str,
        body: str,
        language: str | None,
        source: str | None,
        everything: bool,
    ) -> dict[str, Explanation]:
        doc = self._read(title, lead, body)
        if everything:
            todo = list(self._order)
            scope: set[int] | None = None
        else:
            woken: set[int] = set(self._always)
            for f in FIELDS:
                for pid in doc.found[f]:
                    woken |= self._wakes.get(pid, set())
            todo = sorted(woken, key=lambda i: self._compiled[i].order)
            scope = woken
        phrase_hits = self._phrase_hits(doc, scope)
        out: dict[str, Explanation] = {}
        assigned: dict[str, Explanation] = {}
        for ri in todo:
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
        out = self._run(title, lead, body, language, source, everything=True)
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
        """The topics that hold the article, in config order. Only topics one of whose
        phrases occurs are scored (plus those with regexes, sources or `also`)."""
        out = self._run(title, lead, body, language, source, everything=False)
        return [
            TopicHit(e.topic, round(e.score, 3), e.matched)
            for tid in self.rules
            if (e := out.get(tid)) is not None and e.assigned
        ]
