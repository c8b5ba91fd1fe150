"""The topic rule language: topics as configured, term syntax, and checks with key paths.

Term syntax (one string; see docs/topics.md):

- `air base`        words in a row; each word matches its inflected forms: English
                    plurals (bases), possessives (base's), Russian case endings by
                    Snowball stem (база, базы, базе)
- `=arms`           this exact form only (not `arm`, not `armses`)
- `военн*`          any word that starts with `военн` (at least 3 letters before `*`)
- `kant NEAR/5 base`  both, their first words at most 5 words apart, in one field
- `/nato\\b.{0,40}summit/`   a regular expression (case-insensitive) on the field text
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

from ingest.stemming import (
    MIN_STEM,
    english_forms,
    is_cyrillic,
    russian_forms,
    russian_stem,
    tokenize,
)

FIELDS = ("title", "lead", "body")
DEFAULT_FIELD_WEIGHTS = {"title": 2.0, "lead": 1.5, "body": 1.0}
ANY_LANGUAGE = "any"
MIN_PREFIX = 3
MAX_NEAR = 50

_NEAR = re.compile(r"\s+NEAR/(\d+)\s+", re.IGNORECASE)
_PIECE = re.compile(r"^=?[\w'’.\-]+\*?$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
STEM_MARK = "~"  # index keys of Russian stems, which never collide with a token


class RuleError(ValueError):
    """Topic rules that cannot be compiled; `problems` holds one `key.path: message` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# -- terms --------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """One word of a phrase and how it matches a token."""

    text: str
    mode: Literal["forms", "exact", "prefix"]

    def index_keys(self) -> tuple[str, ...]:
        """The index keys of a whole-word match (`prefix` words are indexed apart):
        the word itself, its English plurals, or `~stem` for a Russian word."""
        if self.mode == "forms" and is_cyrillic(self.text):
            stem = russian_stem(self.text)
            forms = sorted(russian_forms(self.text))
            return (STEM_MARK + stem, *forms) if len(stem) >= MIN_STEM else tuple(forms)
        if self.mode == "forms":
            return tuple(sorted(english_forms(self.text)))
        return (self.text,)


@dataclass(frozen=True)
class Phrase:
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Near:
    left: Phrase
    right: Phrase
    within: int


@dataclass(frozen=True)
class Regex:
    pattern: re.Pattern[str]


Term = Phrase | Near | Regex


def _phrase(text: str) -> Phrase:
    words: list[Word] = []
    for piece in text.split():
        if not _PIECE.match(piece):
            bad = sorted({c for c in piece if not (c.isalnum() or c in "_'’.-=*")})
            hint = "; write a regular expression as /.../" if bad else ""
            where = "'=' only at the start and '*' only at the end of a word"
            raise ValueError(
                f"unexpected character {''.join(bad)!r}{hint}"
                if bad
                else f"bad word {piece!r}: {where}"
            )
        exact, prefix = piece.startswith("="), piece.endswith("*")
        toks = tokenize(piece.strip("=*"))
        if not toks:
            raise ValueError(f"{piece!r} has no letters or digits")
        for i, tok in enumerate(toks):
            if prefix and i == len(toks) - 1:
                if len(tok) < MIN_PREFIX:
                    raise ValueError(
                        f"prefix {tok + '*'!r} is too short: give at least {MIN_PREFIX} letters"
                    )
                words.append(Word(tok, "prefix"))
            else:
                words.append(Word(tok, "exact" if exact else "forms"))
    if not words:
        raise ValueError("empty term")
    return Phrase(tuple(words))


def parse_term(text: str) -> Term:
    """One term string to its matcher form; ValueError says what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError("a term must be text")
    s = text.strip()
    if len(s) >= 2 and s.startswith("/") and s.endswith("/"):
        try:
            return Regex(re.compile(s[1:-1], re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    if s.startswith("/"):
        raise ValueError("a regular expression must end with '/'")
    parts = _NEAR.split(s)
    if len(parts) == 1:
        return _phrase(s)
    if len(parts) != 3:
        raise ValueError("one NEAR/N per term: 'a NEAR/5 b'")
    within = int(parts[1])
    if not 1 <= within <= MAX_NEAR:
        raise ValueError(f"NEAR/{within}: the distance must be 1 to {MAX_NEAR} words")
    return Near(_phrase(parts[0]), _phrase(parts[2]), within)


# -- topics -------------------------------------------------------------------------


@dataclass
class WeightedTerm:
    text: str
    weight: float
    language: str = ANY_LANGUAGE  # 'any' or an ISO 639-1 code such as 'en', 'ru'


@dataclass
class Also:
    """Join this topic when `topic` holds the article and one of `require` occurs."""

    topic: str
    require: list[str]


@dataclass
class TopicRule:
    """A topic as configured. `terms` holds every language's list; `require` (at least
    one), `exclude` (any one vetoes) and `also[].require` take term strings too."""

    id: str
    threshold: float
    terms: list[WeightedTerm]
    title: str | None = None
    description: str | None = None
    require: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    field_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FIELD_WEIGHTS))
    sources_include: list[str] = field(default_factory=list)
    sources_exclude: list[str] = field(default_factory=list)
    also: list[Also] = field(default_factory=list)
    flat_terms: bool = False  # terms were written without language groups (for key paths)

    def languages(self) -> set[str]:
        return {t.language for t in self.terms} - {ANY_LANGUAGE}


def _key(text: str) -> str:
    return "[" + json.dumps(text, ensure_ascii=False) + "]"


def term_path(rule: TopicRule, term: WeightedTerm) -> str:
    if rule.flat_terms and term.language == ANY_LANGUAGE:
        return f"topics.{rule.id}.terms{_key(term.text)}"
    return f"topics.{rule.id}.terms.{term.language}{_key(term.text)}"


def terms_from_config(raw: dict[str, object]) -> tuple[list[WeightedTerm], bool]:
    """Config `terms:` to a list: `{term: weight}` applies to every language,
    `{en: {term: weight}, ru: {...}, any: {...}}` groups by language; both may mix.
    Shapes are checked by `check_rules`, so bad values pass through as NaN."""
    out: list[WeightedTerm] = []
    flat = False
    for key, value in raw.items():
        if isinstance(value, dict):
            for term, w in value.items():
                out.append(WeightedTerm(str(term), _weight(w), str(key)))
        elif isinstance(value, list):  # a language's plain list: weight 1 each
            out.extend(WeightedTerm(str(term), 1.0, str(key)) for term in value)
        else:
            flat = True
            out.append(WeightedTerm(str(key), _weight(value), ANY_LANGUAGE))
    return out, flat


def _weight(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def check_rules(rules: list[TopicRule]) -> list[str]:
    """Every problem in the rules, each prefixed with its config key path."""
    problems: list[str] = []
    ids = {r.id for r in rules}

    def check(path: str, text: str) -> None:
        try:
            parse_term(text)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")

    for r in rules:
        base = f"topics.{r.id}"
        for lang in sorted({t.language for t in r.terms}):
            if lang != ANY_LANGUAGE and not _LANGUAGE.match(lang):
                problems.append(
                    f"{base}.terms.{lang}: not a language code (use 'any' or one such as en, ru)"
                )
        for t in r.terms:
            path = term_path(r, t)
            if t.language != ANY_LANGUAGE and not _LANGUAGE.match(t.language):
                continue
            if t.weight != t.weight:  # NaN: not a number in the config
                problems.append(f"{path}: the weight must be a number")
            elif t.weight == 0:
                problems.append(f"{path}: a weight of 0 does nothing; remove the term")
            check(path, t.text)
        for i, text in enumerate(r.require):
            check(f"{base}.require[{i}]", text)
        for i, text in enumerate(r.exclude):
            check(f"{base}.exclude[{i}]", text)
        for i, a in enumerate(r.also):
            if a.topic not in ids:
                problems.append(f"{base}.also[{i}].topic: no topic {a.topic!r}")
            elif a.topic == r.id:
                problems.append(f"{base}.also[{i}].topic: a topic cannot build on itself")
            for j, text in enumerate(a.require):
                check(f"{base}.also[{i}].require[{j}]", text)
        if not any(t.weight > 0 for t in r.terms) and not r.also and not r.sources_include:
            problems.append(f"{base}.terms: needs at least one term with a positive weight")
    if not problems:
        try:
            topological_order(rules)
        except RuleError as exc:
            problems.extend(exc.problems)
    return problems


def topological_order(rules: list[TopicRule]) -> list[TopicRule]:
    """Rules ordered so a topic comes after every topic it builds on (`also`)."""
    by_id = {r.id: r for r in rules}
    done: dict[str, TopicRule] = {}
    visiting: list[str] = []

    def visit(r: TopicRule) -> None:
        if r.id in done:
            return
        if r.id in visiting:
            cycle = [*visiting[visiting.index(r.id) :], r.id]
            raise RuleError(
                [
                    f"topics.{r.id}.also: topics build on each other in a cycle: "
                    + " -> ".join(cycle)
                ]
            )
        visiting.append(r.id)
        for a in r.also:
            if a.topic in by_id:
                visit(by_id[a.topic])
        visiting.pop()
        done[r.id] = r

    for r in rules:
        visit(r)
    return list(done.values())
