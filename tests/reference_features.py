"""The straightforward `features()` that ingest.minhash's fast one must equal, kept as a reference.

A plain copy of the match-by-match tokeniser and the per-field numpy code the module had
before it was made cheaper (no memo tables: every value is computed afresh), over the
module's own rules (patterns, stopwords, stemmers, the update marker, the permutations),
so it stays the reference when a rule changes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from ingest.minhash import (
    _EMPTY,
    _QUOTED,
    _SENTENCE_START,
    _WORD,
    HEAD_WORDS,
    LEAD_WORDS,
    MAX_WORDS,
    NUM_PERM,
    STOPWORDS,
    UPDATE_MARKER,
    Features,
    _fmix32,
    _h,
    _number,
    _permutations,
    _stem,
    strip_update_marker,
)


def stem_hashes(words: list[str]) -> list[int]:
    return [_h(s) for s in _stem(words)] if words else []


def unique(hashes: list[int]) -> np.ndarray:
    if not hashes:
        return _EMPTY
    return np.unique(np.array(hashes, dtype=np.uint32))


def signature(hashes: np.ndarray) -> np.ndarray:
    if not len(hashes):
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    a, b = _permutations()
    hv = _fmix32(hashes.astype(np.uint32).reshape(-1, 1))
    return np.asarray((hv * a + b).min(axis=0), dtype=np.uint32)


@dataclass
class Tokens:
    words: list[str]
    numbers: list[str]
    names: list[str]
    lead_counts: tuple[int, int, int]


def tokenize(text: str, limit: int, lead: int = 0) -> Tokens:
    words: list[str] = []
    numbers: list[str] = []
    names: list[str] = []
    counts = None
    for m in _WORD.finditer(text):
        tok = m.group(0)
        if tok[0].isdigit():
            numbers.append(_number(tok))
            continue
        low = tok.casefold().replace("ё", "е")
        if low in STOPWORDS or len(low) < 2:
            continue
        words.append(low)
        if tok[0].isupper():
            start = m.start()
            if not _SENTENCE_START.search(text[max(0, start - 3) : start]):
                names.append(low)
        if len(words) == lead:
            counts = (lead, len(numbers), len(names))
        if len(words) >= limit:
            break
    return Tokens(words, numbers, names, counts or (len(words), len(numbers), len(names)))


def quoted_words(text: str) -> list[str]:
    words: list[str] = []
    for m in _QUOTED.finditer(text):
        if len(m.group(1).split()) <= 4:
            words += tokenize(m.group(1), 8).words
    return words


def features(title: str | None, body: str | None) -> Features:
    title = unicodedata.normalize("NFKC", title or "")
    text, marked = strip_update_marker(unicodedata.normalize("NFKC", body or ""))
    marked = marked or bool(UPDATE_MARKER.match(title))
    t = tokenize(title, 60)
    b = tokenize(text, MAX_WORDS, LEAD_WORDS)
    n_lead, n_numbers, n_names = b.lead_counts
    title_h = stem_hashes(t.words)
    body_h = stem_hashes(b.words)
    title_set = unique(title_h)
    lead = unique(title_h + body_h[:n_lead])
    numbers_t = [_h(n) for n in t.numbers]
    numbers_b = [_h(n) for n in b.numbers]
    names_h = stem_hashes(b.names)
    return Features(
        words=unique(title_h + body_h),
        lead=lead,
        title=title_set,
        numbers=unique(numbers_t + numbers_b),
        lead_numbers=unique(numbers_t + numbers_b[:n_numbers]),
        names=unique(names_h),
        lead_names=unique(names_h[:n_names]),
        quoted=unique(stem_hashes(quoted_words(f"{title}\n{text}"))),
        signature=signature(unique(title_h + body_h[:HEAD_WORDS])),
        lead_signature=signature(lead),
        title_signature=signature(title_set),
        length=len(text.split()),
        update=marked,
    )
