"""Guesses an article's language when the source does not say."""

from __future__ import annotations

import re

import py3langid

# Most undeclared text here is English or Russian wire copy: those are recognised from
# their function words (~20 us) before the n-gram classifier (~200-500 us) is asked.
# Only text that is unambiguous on every count takes the shortcut; anything else, and
# every other language, goes to py3langid. tests/test_language.py checks the shortcut
# agrees with py3langid on every corpus text it accepts.
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_WORD_ASCII = re.compile(_WORD.pattern, re.ASCII)
_LATIN = re.compile(r"[a-z]")
_CYRILLIC = re.compile(r"[а-яё]")
_EN = frozenset(
    """the of and to in is was for on that with by as at from it its said has have had
be are were this an which will would after not but he she they their who been""".split()  # noqa: SIM905
)
_RU = frozenset(
    """и в на не что с по к из о за от для как а у до это он она они его ее её года
также был была были который которые при после уже во со же""".split()  # noqa: SIM905
)
# letters of other Cyrillic languages (Ukrainian, Belarusian, Kazakh, Serbian, ...)
_NOT_RU = re.compile(r"[іїєґўәғқңөұүһјљњћџђѓќѕ]")
# Bulgarian has the same letters and shares many function words, but not these
_RU_ONLY = re.compile(r"[ыэЫЭ]")  # letters Bulgarian does not have
_BG = frozenset(["че", "ще", "са", "се", "е", "към", "това", "които", "който", "бъде", "още"])
# letters English text does not have (French, German, Spanish, Turkish, ...)
_NOT_EN = re.compile(r"[^\x00-\x7f‘’“”–—…«»€£°·•\u00a0]")
MIN_WORDS = 25


def _obvious(text: str) -> str | None:
    folded = text.casefold()
    # ASCII text: its words are ASCII letters (the ASCII-mode pattern finds the same
    # ones, faster), all Latin, and it has no letter English lacks
    plain = text.isascii()
    words = (_WORD_ASCII if plain else _WORD).findall(folded)
    if len(words) < MIN_WORDS:
        return None
    if plain or (all(map(_LATIN.match, words)) and not _NOT_EN.search(text)):
        if sum(map(_EN.__contains__, words)) >= 0.2 * len(words):
            return "en"
    elif all(map(_CYRILLIC.match, words)) and not _NOT_RU.search(folded):
        bulgarian = any(w in _BG for w in words) or ("ъ" in text and not _RU_ONLY.search(text))
        if not bulgarian and sum(map(_RU.__contains__, words)) >= 0.15 * len(words):
            return "ru"
    return None


def detect_language(text: str) -> str | None:
    text = text.strip()
    if len(text) < 20:
        return None
    obvious = _obvious(text)
    if obvious is not None:
        return obvious
    lang, _score = py3langid.classify(text)
    return str(lang)
