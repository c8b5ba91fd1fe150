"""Words for topic matching: tokens, English plural forms and Russian Snowball stems."""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from ingest.text import ascii_fold_table, fold_ascii, split_words

# Words, with inner apostrophes kept so a possessive can be cut off whole
_TOKEN = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)
# A final 's of a word (not `'s'` on its own, not the first of `x's's`), cut before the
# words are found, so the tokenizer is two C-speed passes with no loop in Python
_POSSESSIVE_END = re.compile(r"(?<=\w)['’]s(?!\w|['’]\w)", re.UNICODE)
_VOWELS = frozenset("aeiou")
# Pure-Python Snowball: ~17 µs a word uncached, so stems are cached per distinct word
# (news vocabulary repeats; the bound keeps a long-running daemon's memory flat).
_RUSSIAN = snowballstemmer.stemmer("russian")


def normalise(text: str) -> str:
    """Case-folded, with ё read as е (Russian copy writes either)."""
    return text.casefold().replace("ё", "е")


# ASCII letters lower-cased, word characters and apostrophes kept, all else a space
_FOLD = ascii_fold_table(b"abcdefghijklmnopqrstuvwxyz0123456789_'")


def _ascii_tokens(text: str) -> list[str]:
    """`tokenize` of ASCII text without the regex (a quarter of its time): the words are
    what `split` leaves once every apostrophe not between two word characters is gone."""
    text = fold_ascii(text, _FOLD)
    if "'" in text:
        # a run of n apostrophes leaves n % 2 of them, no two adjacent; then those at a
        # word's edge go, and a final 's (the possessive) with them
        text = f" {text} ".replace("''", " ").replace("' ", " ").replace(" '", " ")
        text = text.replace("'s ", " ")
    return text.split()


def tokenize(text: str) -> list[str]:
    """The words of `text`, normalised; `Russia's` is `russia`, `air-base` is two words."""
    if text.isascii():
        return _ascii_tokens(text)
    # ASCII punctuation folded to spaces in C, so most chunks `split` leaves are words as
    # they stand; the regex reads only the rest (other punctuation, apostrophes, `_`)
    return split_words(fold_ascii(normalise(text), _FOLD).split(), _read_chunk)


def _read_chunk(chunk: str) -> list[str]:
    if "'s" in chunk or "’s" in chunk:
        chunk = _POSSESSIVE_END.sub("", chunk)
    tokens: list[str] = _TOKEN.findall(chunk)
    return tokens


def is_cyrillic(word: str) -> bool:
    return bool(word) and "\u0400" <= word[0] <= "\u04ff"


@lru_cache(maxsize=1 << 18)
def russian_stem(word: str) -> str:
    """Snowball stem: военный, военного, военные → воен; база, базы, базе → баз."""
    return str(_RUSSIAN.stemWord(word))


# Russian inflectional endings (nouns and adjectives, all cases and numbers)
_RU_ENDINGS = (
    "", "а", "я", "о", "е", "и", "ы", "у", "ю", "ь", "й",
    "ой", "ей", "ом", "ем", "ам", "ям", "ах", "ях", "ами", "ями", "ов", "ев", "ою", "ею", "ью",
    "ый", "ий", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему", "ым", "им",
    "ую", "юю", "ых", "их", "ыми", "ими", "ии", "ия", "ию", "ием", "иям", "иями", "иях",
)  # fmt: skip
_RU_FINAL = frozenset("аяоеиыуюьй")
MIN_STEM = 3


def russian_forms(word: str) -> set[str]:
    """Surface forms a Russian word stands for, beside its Snowball stem: the word, its
    stem and the word less its final vowel, each with every case ending. Snowball alone
    splits proper nouns (кыргызстан → кыргызста, кыргызстане → кыргызстан)."""
    bases = {word}
    stem = russian_stem(word)
    if len(stem) >= MIN_STEM:
        bases.add(stem)
    if word[-1] in _RU_FINAL and len(word) > MIN_STEM:
        bases.add(word[:-1])
    return {b + e for b in bases for e in _RU_ENDINGS}


def english_forms(word: str) -> set[str]:
    """The word and its regular plurals: base/bases, force/forces, army/armies.
    (Possessives need no forms: the tokenizer cuts `'s` off every word.)"""
    forms = {word}
    if not (word.isascii() and word.isalpha() and len(word) > 2):
        return forms
    forms |= {word + "s", word + "es"}
    if word.endswith("y") and word[-2] not in _VOWELS:
        forms.add(word[:-1] + "ies")
    return forms
