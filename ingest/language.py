"""Guesses an article's language when the source does not say."""

from __future__ import annotations

import py3langid


def detect_language(text: str) -> str | None:
    text = text.strip()
    if len(text) < 20:
        return None
    lang, _score = py3langid.classify(text)
    return str(lang)
