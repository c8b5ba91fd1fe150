"""The fast `features()` returns exactly what the straightforward reference does, for any text.

The reference (tests/reference_features.py) walks the regex match by match and builds
every field with its own numpy call; the module tokenizes with its compiled scanner
(ingest/_speedups.c) or, without it, splits with the regex in C and reads memo tables by
`map`, and folds three signatures out of one matrix. Every field must be equal (values
and dtype) on the corpus, the benchmark farm's items and generated adversarial text, by
both tokenizers, each starting from empty memo tables.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable

import numpy as np
import pytest

from benchmarks.eval_dedup import SETS
from benchmarks.farm import documents
from ingest import minhash
from ingest.dropfolder import read_drop
from ingest.feedparse import parse_feed
from tests import reference_features as reference
from tests.conftest import CORPUS, SEED

Text = tuple[str | None, str | None]


@pytest.fixture(autouse=True)
def tokenizer(speedups: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each case with the compiled tokenizer and with the Python one, each from empty
    memo tables."""
    monkeypatch.setattr(minhash, "_READING", {})
    monkeypatch.setattr(minhash, "_TABLE", None)
    monkeypatch.setattr(minhash, "_STEM_HASH", {})
    return speedups


def _differences(title: str | None, body: str | None) -> list[str]:
    got, want = minhash.features(title, body), reference.features(title, body)
    out = []
    unsigned = minhash.features(title, body, signed=False)
    fields = {k: v for k, v in unsigned.__dict__.items() if not k.startswith("_")}
    if unsigned.pack() != minhash.Features(**fields).pack():  # the bytes it came with
        out.append("pack")
    for field in dataclasses.fields(minhash.Features):
        a, b = getattr(got, field.name), getattr(want, field.name)
        if isinstance(b, np.ndarray):
            if not (isinstance(a, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)):
                out.append(field.name)
        elif a != b or type(a) is not type(b):
            out.append(field.name)
    return out


def _assert_equal(texts: Iterable[Text]) -> int:
    n = 0
    for title, body in texts:
        diff = _differences(title, body)
        assert not diff, f"fields {diff} differ for title={title!r:.80} body={body!r:.200}"
        n += 1
    return n


def test_corpus_texts() -> None:
    texts: list[Text] = []
    for name, make in SETS.items():
        if name != "own":
            assert (CORPUS / "near-duplicates").is_dir(), "the shared corpus is missing"
        texts += [(i.title, i.body) for i in make().items]
    wire = sorted((CORPUS / "wire-stories" / "tass-en" / "txt").glob("*.txt"))
    for path in [SEED, *wire]:
        texts += [(i.title, i.body) for i in read_drop(path, path.read_bytes()).items]
    assert _assert_equal(texts) > 1300


def test_farm_items() -> None:
    items = [i for n, d in enumerate(documents(20, 50)) for i in parse_feed(d, f"f{n}").items]
    assert _assert_equal((i.title, i.body) for i in items) == 1000


# pieces of text that exercise each rule: word joiners, numbers with separators (a space
# or newline inside a number), sentence ends, quotes, capitals, Cyrillic with ё, stopwords,
# single letters, underscores, letters touching digits
_PIECES = [
    *[
        "abc",
        "Kant",
        "Königsberg",
        "Ёлка",
        "ёж",
        "Щука",
        "москва",
        "Москва",
        "Pyotr",
        "iPhone",
        "x",
        "Y",
        "Z",
    ],
    *["the", "The", "and", "И", "и", "она", "Она", "ещё", "Ещё", "said", "Said", "a", "A", "I"],
    *[
        "1",
        "22",
        "2024",
        "1,000",
        "1.000",
        "1",
        "000",
        "3,000.50",
        "12:30",
        "7.5",
        "0,5",
        "100",
        "000",
    ],
    "1\n000",
    "2\u00a0500",
    "¹²",
    "Ⅻ",
    "٣",
    "_",
    "__init__",
    "abc123Def",
    "9Abc",
    "-",
    "'",
    "’",
    "co-op",
    "O'Neil",
    "don’t",
    "--",
    "Jean-Pierre",
    "-Abc",
    "'Abc",
    ".",
    "!",
    "?",
    "…",
    ":",
    ",",
    ";",
    "(",
    ")",
    "—",
    '"',
    "«",
    "»",
    "“",
    "”",
    " ",
    " ",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\n \n",
    "\t",
    "\r\n",
    "\u2028",
    "\u00a0",
    "«Кофемания»",
    "“Interaction-2024”",
    "«Long quoted speech that says a lot of words»",
]


def _random_text(rng: random.Random, pieces: int) -> str:
    out = []
    for _ in range(pieces):
        out.append(rng.choice(_PIECES))
        if rng.random() < 0.6:
            out.append(rng.choice((" ", " ", " ", "\n", ". ", ", ", "")))
    return "".join(out)


def _words(n: int, start: int = 0, capital_every: int = 0) -> list[str]:
    """n distinct content words (letters only, never a stopword)."""

    def word(i: int) -> str:
        out = "zq"
        while True:
            i, r = divmod(i, 26)
            out += chr(97 + r)
            if not i:
                return out

    words = [word(start + i) for i in range(n)]
    if capital_every:
        words = [w.title() if i % capital_every == 0 else w for i, w in enumerate(words)]
    return words


def test_generated_adversarial_texts() -> None:
    rng = random.Random(8)
    texts: list[Text] = [(None, None), ("", ""), (" ", "\n"), ("A", "B"), ("1", "2")]
    for _ in range(3000):
        title = _random_text(rng, rng.randint(0, 12))
        body = _random_text(rng, rng.choice((0, 1, 3, 10, 40, 150, 400)))
        texts.append((title, body))
    assert _assert_equal(texts) == len(texts)


@pytest.mark.parametrize("n", [59, 60, 61, 79, 80, 81, 599, 600, 601, 1500])
def test_texts_at_the_lead_and_word_limits(n: int) -> None:
    """Numbers and names right before and after the lead-th and the limit-th word."""
    rng = random.Random(n)
    texts: list[Text] = []
    for capital_every in (0, 1, 3):
        words = _words(n, capital_every=capital_every)
        plain = " ".join(words)
        texts.append((plain, plain))  # a title of more than its 60 words, too
        texts.append(("T", f"{plain} 42 Zqname 7,000"))
        texts.append(("T", f"1 000 {plain}. Zqname 1\n000"))
        texts.append(("T", f"{plain}123Zqname"))
        mixed = []
        for w in words:
            mixed.append(rng.choice(_PIECES))
            mixed.append(rng.choice((" ", ". ", "\n", "")))
            mixed.append(w)
            mixed.append(" ")
        texts.append(("T", "".join(mixed)))
    assert _assert_equal(texts) == len(texts)


def test_long_texts_split_in_slices() -> None:
    """Past the first slice: words spread thin, numbers across the place it would be cut."""
    thin = " ... ".join(_words(700, capital_every=2))
    numbers = " ".join(["1 000"] * 3000) + " " + " ".join(_words(700))
    stop = " ".join(["the and of"] * 4000) + " " + " ".join(_words(700, capital_every=5))
    digits_then_words = "7" * 20_000 + "Abc " + " ".join(_words(700))
    megabyte = " ".join(_words(2000, capital_every=4) * 90)  # ~1 MB
    assert len(megabyte) > 1_000_000
    texts: list[Text] = [
        ("T", thin),
        ("T", numbers),
        ("T", stop),
        ("T", digits_then_words),
        ("T", megabyte),
        ("T", "x" * 50_000),
        ("T", "1 " * 50_000),
    ]
    assert _assert_equal(texts) == len(texts)


def test_nearly_full_memo_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memo tables emptied between and within documents change no value."""
    rng = random.Random(5)
    texts: list[Text] = [
        (_random_text(rng, 8), _random_text(rng, rng.choice((10, 60, 300)))) for _ in range(300)
    ]
    texts += [("T", " ".join(_words(700, start=i * 50, capital_every=3))) for i in range(5)]
    for cap in (3, 40, 500):
        monkeypatch.setattr(minhash, "_MEMO_MAX", cap)
        minhash._READING.clear()
        minhash._TABLE = None
        assert _assert_equal(texts) == len(texts)
        held = len(minhash._READING) + len(minhash._TABLE or ())
        assert held <= cap + 2 * 800  # one document's tokens past the cap


def test_ascii_texts_split_by_the_ascii_pattern_read_the_same() -> None:
    """ASCII text takes the faster ASCII-mode split; Unicode's \\s also holds \\x1c-\\x1f,
    so text with those (inside numbers: "1\\x1c000") must read as the Unicode split does."""
    rng = random.Random(11)
    pieces = [p for p in _PIECES if p.isascii()] + ["1", "000", "3.5", "Zqname", "zqword"]
    gaps = [" ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", ". ", ""]
    texts: list[Text] = []
    for _ in range(1500):
        parts = []
        for _ in range(rng.choice((1, 5, 30, 120))):
            parts += [rng.choice(pieces), rng.choice(gaps)]
        texts.append(("".join(parts[:6]), "".join(parts)))
    assert sum(body.isascii() for _, body in texts if body) == len(texts)
    assert _assert_equal(texts) == len(texts)


def test_the_scanner_asks_for_the_tokens_it_cannot_read_yet(tokenizer: str) -> None:
    """A token missing from the table is read by the `learn` callback, once, as the
    scanner meets it, and kept; a token is the same whatever string it is read out of
    (an ASCII word in Cyrillic text); a reading of another shape makes it hand the text
    back to the Python tokenizer (None) rather than guess; an error in `learn` comes
    through."""
    if tokenizer == "python":
        return
    from ingest._speedups import TokenTable, scan

    asked: list[str] = []
    readings: dict[str, object] = {"Alpha": ("alpha", True, 7), "beta": None, "1,000": 5}
    readings |= {"and": None, "x": None, "Жук": ("жук", True, 9)}

    def learn(token: str) -> object:
        asked.append(token)
        return readings[token]

    table = TokenTable()
    assert scan("Alpha, beta 1,000 and beta", 10, 1, table, learn) == ([7], [5], [], (1, 0, 0))
    assert asked == ["Alpha", "beta", "1,000", "and"] and len(table) == 4
    assert table.get("Alpha") == (3 << 32) | 7 and table.get("1,000") == (1 << 32) | 5
    assert table.get("beta") == 0 and table.get("gamma") is None
    assert scan("x Alpha", 10, 0, table, learn) == ([7], [], [7], (1, 0, 1))
    assert scan("Жук, x Alpha", 10, 0, table, learn) == ([9, 7], [], [7], (2, 0, 1))
    assert asked == ["Alpha", "beta", "1,000", "and", "x", "Жук"]
    table.put("Alpha", (1 << 32) | 3)
    assert scan("Alpha", 10, 0, table, learn) is None  # a number's reading for a word
    for odd in ("a str", ("alpha", True), ("alpha", True, 1 << 32), ("alpha", True, -1), 2.5):
        readings["Odd"] = odd
        assert scan("Odd", 10, 0, TokenTable(), learn) is None, odd
    with pytest.raises(KeyError):
        scan("Gamma", 10, 0, table, learn)
    with pytest.raises(TypeError):
        scan("Alpha", 10, 0, {}, learn)
