"""Topic rules compiled into one token matcher; scores an article and explains the score."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from db.models import TopicHit

_TOKEN = re.compile(r"[\w]+(?:[’'][\w]+)*", re.UNICODE)
FIELDS = ("title", "lead", "body")
DEFAULT_FIELD_WEIGHTS = {"title": 2.0, "lead": 1.5, "body": 1.0}


@dataclass
class TopicRule:
    """A topic as configured: weighted terms (a trailing `*` matches any ending),
    a threshold, terms of which at least one is required, and vetoing exclusions."""

    id: str
    threshold: float
    terms: dict[str, float]
    title: str | None = None
    description: str | None = None
    require: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    field_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FIELD_WEIGHTS))


@dataclass
class TermHit:
    term: str
    weight: float
    field: str
    contribution: float


@dataclass
class Explanation:
    topic: str
    score: float
    threshold: float
    assigned: bool
    hits: list[TermHit]
    reason: str


def tokenize(text: str) -> list[str]:
    out = []
    for tok in _TOKEN.findall(text.casefold().replace("ё", "е")):
        # possessives: "russia's" is "russia"
        if tok.endswith(("'s", "’s")):
            tok = tok[:-2]
        out.append(tok)
    return out


@dataclass(frozen=True)
class _Pattern:
    tokens: tuple[str, ...]
    prefix_last: bool  # the last token matches any word that starts with it


def _compile_term(term: str) -> list[_Pattern]:
    prefix = term.endswith("*")
    toks = tuple(tokenize(term.rstrip("*")))
    if not toks:
        raise ValueError(f"term {term!r} has no words")
    if prefix:
        return [_Pattern(toks, True)]
    last = toks[-1]
    variants = {last}
    if last.isascii() and last.isalpha() and len(last) > 2:
        # English plurals: base/bases, force/forces, army/armies
        variants |= {last + "s", last + "es"}
        if last.endswith("y"):
            variants.add(last[:-1] + "ies")
    return [_Pattern((*toks[:-1], v), False) for v in sorted(variants)]


class Matcher:
    """All topics' terms in one index keyed by first word, so the cost per article
    grows with its length, not with the number of terms."""

    def __init__(self, rules: list[TopicRule]) -> None:
        self.rules = {r.id: r for r in rules}
        self._exact: dict[str, list[tuple[_Pattern, str]]] = defaultdict(list)
        self._prefix: dict[int, dict[str, list[tuple[_Pattern, str]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        terms: set[str] = set()
        for r in rules:
            terms.update(r.terms, r.require, r.exclude)
        for term in sorted(terms):
            for pat in _compile_term(term):
                if len(pat.tokens) == 1 and pat.prefix_last:
                    self._prefix[len(pat.tokens[0])][pat.tokens[0]].append((pat, term))
                else:
                    self._exact[pat.tokens[0]].append((pat, term))
        self._prefix_lengths = sorted(self._prefix)

    def find_terms(self, tokens: list[str]) -> set[str]:
        found: set[str] = set()
        n = len(tokens)
        for i, tok in enumerate(tokens):
            for pat, term in self._exact.get(tok, ()):
                k = len(pat.tokens)
                if i + k > n or tokens[i : i + k - 1] != list(pat.tokens[:-1]):
                    continue
                last = tokens[i + k - 1]
                if last == pat.tokens[-1] or (pat.prefix_last and last.startswith(pat.tokens[-1])):
                    found.add(term)
            for length in self._prefix_lengths:
                if length > len(tok):
                    break
                for _pat, term in self._prefix[length].get(tok[:length], ()):
                    found.add(term)
        return found

    def field_terms(self, title: str, lead: str, body: str) -> dict[str, set[str]]:
        return {
            "title": self.find_terms(tokenize(title)),
            "lead": self.find_terms(tokenize(lead)),
            "body": self.find_terms(tokenize(body)),
        }

    def explain(self, title: str, lead: str, body: str) -> list[Explanation]:
        found = self.field_terms(title, lead, body)
        return [self._score(rule, found) for rule in self.rules.values()]

    def classify(self, title: str, lead: str, body: str) -> list[TopicHit]:
        return [
            TopicHit(e.topic, round(e.score, 3), [h.term for h in e.hits if h.contribution > 0])
            for e in self.explain(title, lead, body)
            if e.assigned
        ]

    def _score(self, rule: TopicRule, found: dict[str, set[str]]) -> Explanation:
        hits: list[TermHit] = []
        for term, weight in rule.terms.items():
            fields = [f for f in FIELDS if term in found[f]]
            if not fields:
                continue
            best = max(fields, key=lambda f: rule.field_weights.get(f, 1.0))
            fw = rule.field_weights.get(best, 1.0)
            hits.append(TermHit(term, weight, best, weight * fw))
        score = sum(h.contribution for h in hits)
        anywhere = found["title"] | found["lead"] | found["body"]
        excluded = [t for t in rule.exclude if t in anywhere]
        if excluded:
            return Explanation(
                rule.id, score, rule.threshold, False, hits, f"excluded by {excluded}"
            )
        if rule.require and not any(t in anywhere for t in rule.require):
            return Explanation(
                rule.id, score, rule.threshold, False, hits, "none of the required terms"
            )
        if score < rule.threshold:
            return Explanation(
                rule.id,
                score,
                rule.threshold,
                False,
                hits,
                f"score {score:.2f} below threshold {rule.threshold:g}",
            )
        return Explanation(
            rule.id,
            score,
            rule.threshold,
            True,
            hits,
            f"score {score:.2f} reaches threshold {rule.threshold:g}",
        )
