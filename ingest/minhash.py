"""Text features of one copy of a story: stemmed words, numbers, names and a MinHash signature."""

from __future__ import annotations

import re
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer
import xxhash
from datasketch import MinHash

NUM_PERM = 128
LEAD_WORDS = 80  # content words of title + lead that feed the signature
MAX_WORDS = 600  # content words compared in full; longer stories are cut here
_SCHEME = "affine32"
HEAD_WORDS = 40  # content words after the title that the LSH signature is made of
_EMPTY = np.zeros(0, dtype=np.uint32)
_HEAD = "<II11I"  # length, update flag, then the size of each packed array

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*|\d+(?:[.,:\s]\d{3})*(?:[.,]\d+)?", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]")
_SENTENCE_START = re.compile(r"(?:^|[.!?…:]\s+|[\"«“]\s*|\n)$")
_PARA = re.compile(r"\n\s*\n")
# «Кофемания», “Interaction-2024”: a short quoted phrase names a thing (a contest, an
# operation, a club, a ship); a long one is speech and says nothing about identity
_QUOTED = re.compile(r"[«“]([^»”\n]{2,40})[»”]")

# Hand-written because no maintained library ships small EN/RU stopword lists without
# pulling in a corpus download (nltk); these are the function words and reporting verbs
# that every news story shares and that say nothing about which story it is.
_STOP_EN = """a an the and or but nor of to in on at by for from with without into onto over
under about above below after before during since until than then as is are was were be
been being am has have had having do does did will would shall should can could may might
must it its this that these those there here he she they we you i me him her them us his
hers their our your my who whom whose which what when where why how all any both each few
more most other some such no not only own same so too very just also said says say saying
told tells according added adding reported reports stated noted new one two first last
year years day days week month time per mr ms via while s t""".split()  # noqa: SIM905
_STOP_RU = """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по
только ее её мне было вот от меня еще ещё нет о из ему теперь когда даже ну ли если уже или
ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где
есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж
тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее
сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше
тот через эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой
перед иногда лучше чуть том нельзя такой им более всегда конечно всю между это также
заявил заявила заявили сообщил сообщила сообщили сообщает сообщается говорится отметил
отметила сказал сказала словам данным который которая которые которых году год года""".split()  # noqa: SIM905
STOPWORDS = frozenset(_STOP_EN) | frozenset(w.replace("ё", "е") for w in _STOP_RU)

# A re-issued story announces itself in its first or last lines.
UPDATE_MARKER = re.compile(
    r"^\s*[(\[]?\s*(?:updated?\b|update\s*\d|corrected\b|corrects?\b|correction\b|refiled\b|"
    r"recasts?\b|adds\b|writethru\b|clarification\b|обновлено|обновлен[аоы]?\b|дополнено|"
    r"исправлено|уточнено|исправленная версия|добавлены)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Features:
    """What the near-duplicate layer compares; every array is sorted unique uint32 hashes."""

    words: np.ndarray  # content words (stemmed) of title and body, up to MAX_WORDS
    lead: np.ndarray  # content words of the title and the first LEAD_WORDS of the body
    title: np.ndarray
    numbers: np.ndarray  # numbers anywhere in the text, separators removed
    lead_numbers: np.ndarray
    names: np.ndarray  # capitalised words that do not start a sentence (people, places)
    lead_names: np.ndarray
    quoted: np.ndarray  # words of short «quoted» names
    signature: np.ndarray  # MinHash of the head (title + first HEAD_WORDS), NUM_PERM uint32
    lead_signature: np.ndarray  # MinHash of `lead` (a rewrite may swap the first paragraphs)
    title_signature: np.ndarray  # MinHash of `title`
    length: int  # words in the text
    update: bool  # carries an "Updated at …" / "CORRECTED" style marker

    def pack(self) -> bytes:
        """Compact bytes for the `dedup_signatures` table."""
        arrays = [getattr(self, name) for name in _ARRAYS]
        head = struct.pack(_HEAD, self.length, int(self.update), *(len(a) for a in arrays))
        return head + b"".join(a.astype("<u4").tobytes() for a in arrays)

    @classmethod
    def unpack(cls, data: bytes) -> Features:
        length, update, *sizes = struct.unpack_from(_HEAD, data)
        offset = struct.calcsize(_HEAD)
        arrays: dict[str, np.ndarray] = {}
        for name, n in zip(_ARRAYS, sizes, strict=True):
            arrays[name] = np.frombuffer(data, dtype="<u4", count=n, offset=offset).astype(
                np.uint32
            )
            offset += 4 * n
        return cls(**arrays, length=length, update=bool(update))


_ARRAYS = (
    "words",
    "lead",
    "title",
    "numbers",
    "lead_numbers",
    "names",
    "lead_names",
    "quoted",
    "signature",
    "lead_signature",
    "title_signature",
)


@lru_cache(maxsize=2)
def _stemmer(lang: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(lang)


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    # generated once and shared: building them per document costs more than hashing
    perms: tuple[np.ndarray, np.ndarray] = MinHash(num_perm=NUM_PERM, seed=1).permutations
    return perms


def _h(token: str) -> int:
    return xxhash.xxh32_intdigest(token.encode("utf-8"))


def _hashes(tokens: list[str]) -> np.ndarray:
    if not tokens:
        return _EMPTY
    return np.unique(np.fromiter((_h(t) for t in tokens), dtype=np.uint32, count=len(tokens)))


def _signature(hashes: np.ndarray) -> np.ndarray:
    if not len(hashes):
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    m = MinHash(num_perm=NUM_PERM, seed=1, permutations=_permutations(), scheme=_SCHEME)
    m.hashfunc = int  # the tokens are already 32-bit hashes
    m.update_batch(hashes.tolist())
    return np.asarray(m.hashvalues, dtype=np.uint32)


def _number(token: str) -> str:
    return re.sub(r"[.,:\s]", "", token)


def _stem(words: list[str]) -> list[str]:
    """Russian stemmer for Cyrillic words, English for the rest."""
    ru = [i for i, w in enumerate(words) if _CYRILLIC.search(w)]
    if not ru:
        stemmed: list[str] = _stemmer("english").stemWords(words)
        return stemmed
    out = list(words)
    ru_set = set(ru)
    en = [i for i in range(len(words)) if i not in ru_set]
    for idx, lang in ((ru, "russian"), (en, "english")):
        if idx:
            for i, s in zip(idx, _stemmer(lang).stemWords([words[i] for i in idx]), strict=True):
                out[i] = s
    return out


@dataclass
class _Tokens:
    words: list[str]
    numbers: list[str]
    names: list[str]


def _tokenize(text: str, limit: int) -> _Tokens:
    words: list[str] = []
    numbers: list[str] = []
    names: list[str] = []
    for m in _WORD.finditer(text):
        tok = m.group(0)
        if tok[0].isdigit():
            numbers.append(_number(tok))
            continue
        low = tok.casefold().replace("ё", "е")
        if low in STOPWORDS or len(low) < 2:
            continue
        words.append(low)
        if tok[0].isupper() and not _SENTENCE_START.search(text[max(0, m.start() - 3) : m.start()]):
            names.append(low)
        if len(words) >= limit:
            break
    return _Tokens(words, numbers, names)


def _quoted_words(text: str) -> list[str]:
    words: list[str] = []
    for m in _QUOTED.finditer(text):
        if len(m.group(1).split()) <= 4:
            words += _tokenize(m.group(1), 8).words
    return words


def strip_update_marker(body: str) -> tuple[str, bool]:
    """The body without a leading or trailing "Updated at …" paragraph, and whether one was there."""
    paras = _PARA.split(body.strip())
    marked = False
    if paras and UPDATE_MARKER.match(paras[0]) and len(paras[0]) < 300:
        paras, marked = paras[1:], True
    if paras and UPDATE_MARKER.match(paras[-1]) and len(paras[-1]) < 300:
        paras, marked = paras[:-1], True
    return "\n\n".join(paras), marked


def features(title: str | None, body: str | None) -> Features:
    """Features of a story's title and plain-text body (paragraphs split by blank lines)."""
    title = unicodedata.normalize("NFKC", title or "")
    text, marked = strip_update_marker(unicodedata.normalize("NFKC", body or ""))
    marked = marked or bool(UPDATE_MARKER.match(title))
    t = _tokenize(title, 60)
    b = _tokenize(text, MAX_WORDS)
    lb = _tokenize(text, LEAD_WORDS)
    stems_t = _stem(t.words)
    stems_b = _stem(b.words)
    lead_stems = stems_t + stems_b[:LEAD_WORDS]
    title_set = _hashes(stems_t)
    lead = _hashes(lead_stems)
    return Features(
        words=_hashes(stems_t + stems_b),
        lead=lead,
        title=title_set,
        numbers=_hashes(t.numbers + b.numbers),
        lead_numbers=_hashes(t.numbers + lb.numbers),
        # headlines are often in Title Case: names come from the body only
        names=_hashes(_stem(b.names)),
        lead_names=_hashes(_stem(lb.names)),
        quoted=_hashes(_stem(_quoted_words(f"{title}\n{text}"))),
        signature=_signature(_hashes(stems_t + stems_b[:HEAD_WORDS])),
        lead_signature=_signature(lead),
        title_signature=_signature(title_set),
        length=len(text.split()),
        update=marked,
    )
