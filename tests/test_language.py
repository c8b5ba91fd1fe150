"""The English/Russian shortcut of language detection agrees with py3langid where it answers."""

from __future__ import annotations

import random
from functools import cache

import py3langid
import pytest

from ingest import language
from ingest.feedparse import parse_feed
from ingest.language import _obvious, detect_language
from ingest.text import make_title
from tests.conftest import CORPUS


@cache
def corpus_texts() -> list[str]:
    """What detection sees for every item of the real feeds: heading and first 600 chars."""
    texts = []
    for path in sorted((CORPUS / "feeds-real").rglob("*")):
        if not path.is_file() or path.name == "INDEX.json" or "not-a-feed" in path.parts:
            continue
        try:
            parsed = parse_feed(path.read_bytes(), "s")
        except Exception:  # broken documents are other tests' business
            continue
        for item in parsed.items:
            heading = item.title or make_title(item.body or "")
            texts.append(f"{heading}\n{(item.body or '')[:600]}".strip())
    return texts


def test_the_shortcut_agrees_with_py3langid_on_the_real_feeds() -> None:
    texts = corpus_texts()
    answered = [(t, lang) for t in texts if (lang := _obvious(t)) is not None]
    disagree = [(lang, py3langid.classify(t)[0], t[:80]) for t, lang in answered]
    disagree = [d for d in disagree if d[0] != d[1]]
    assert len(texts) > 3000
    # it must carry real weight, else it only adds its own cost
    assert len(answered) > 1000, len(answered)
    assert {lang for _, lang in answered} == {"en", "ru"}
    assert len(disagree) <= len(answered) // 500, disagree


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Ukrainian, Bulgarian, Belarusian: Cyrillic, never taken for Russian
        (
            "Президент України заявив, що уряд підготує нові рішення щодо енергетики та"
            " безпеки країни найближчим часом, а парламент розгляне їх уже наступного тижня"
            " після консультацій з партнерами та представниками регіонів і громад.",
            "uk",
        ),
        (
            "Президентът на България заяви, че правителството ще подготви нови решения за"
            " енергетиката и сигурността на страната в най-скоро време, а парламентът ще ги"
            " разгледа следващата седмица след консултации с партньорите и регионите.",
            "bg",
        ),
        # French and German: Latin letters with accents, never taken for English
        (
            "Le président de la République a annoncé mardi que le gouvernement présentera de"
            " nouvelles mesures pour l'énergie et la sécurité du pays dans les prochaines"
            " semaines, après des consultations avec les partenaires et les régions.",
            "fr",
        ),
        (
            "Der Bundeskanzler hat am Dienstag angekündigt, dass die Regierung in den nächsten"
            " Wochen neue Maßnahmen für Energie und Sicherheit des Landes vorlegen wird, nach"
            " Gesprächen mit den Partnern und den Ländern über die Finanzierung der Pläne.",
            "de",
        ),
    ],
)
def test_other_languages_go_to_the_classifier(text: str, expected: str) -> None:
    assert _obvious(text) is None
    assert detect_language(text) == expected


def test_english_and_russian_wire_copy_take_the_shortcut() -> None:
    en = (
        "BISHKEK, October 12. /TASS/. Russia's air force base Kant in Kyrgyzstan will hold"
        " drills with the participation of more than 500 servicemen, the press service of"
        " the Central Military District said on Thursday. The exercise is part of the plan."
    )
    ru = (
        "БИШКЕК, 12 октября. /ТАСС/. Российская авиабаза Кант в Киргизии проведет учения с"
        " участием более 500 военнослужащих, сообщили в пресс-службе Центрального военного"
        " округа. Учения пройдут в рамках плана боевой подготовки на этот год."
    )
    assert _obvious(en) == "en" == detect_language(en)
    assert _obvious(ru) == "ru" == detect_language(ru)
    assert _obvious("Too short to say.") is None


def _obvious_reference(text: str) -> str | None:
    """The shortcut as first written (a count per word, one pattern for all text): the
    faster `_obvious` must answer exactly as it does."""
    folded = text.casefold()
    words = language._WORD.findall(folded)
    if len(words) < language.MIN_WORDS:
        return None
    latin = sum(1 for w in words if language._LATIN.match(w))
    cyrillic = sum(1 for w in words if language._CYRILLIC.match(w))
    if latin == len(words) and not language._NOT_EN.search(text):
        if sum(1 for w in words if w in language._EN) >= 0.2 * len(words):
            return "en"
    elif cyrillic == len(words) and not language._NOT_RU.search(folded):
        bulgarian = any(w in language._BG for w in words) or (
            "ъ" in text and not language._RU_ONLY.search(text)
        )
        if not bulgarian and sum(1 for w in words if w in language._RU) >= 0.15 * len(words):
            return "ru"
    return None


def test_the_shortcut_answers_as_its_reference() -> None:
    rng = random.Random(5)
    # casefold makes ASCII of some letters (long s, Kelvin sign, ligatures): not English
    odd = ["ſ", "\u212a", "ﬁ", "é", "ё", "ъ", "ы", "і", "1", "_", "\x1c", "—", "«"]
    english = ["the", "of", "and", "said", "troops", "in", "was", "for", "the", "of"]
    russian = ["и", "в", "на", "сказал", "армия", "по", "что", "и", "в"]
    texts = list(corpus_texts())
    for _ in range(3000):
        words = rng.choice((english, russian, english + russian))
        text = [rng.choice(words) for _ in range(rng.randint(20, 60))]
        if rng.random() < 0.7:  # one odd letter or sign in an otherwise plain text
            at = rng.randrange(len(text))
            text[at] = rng.choice((text[at], "")) + rng.choice(odd)
        texts.append(" ".join(text))
    answered = 0
    for text in texts:
        expected = _obvious_reference(text)
        assert _obvious(text) == expected, text[:120]
        answered += expected is not None
    assert answered > 1000
