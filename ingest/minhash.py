"""Text features of one copy of a story: stemmed words, numbers, names and a MinHash signature."""

from __future__ import annotations

import re
import struct
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from operator import itemgetter
from typing import Any, cast

import numpy as np
import Stemmer
import xxhash

from ingest import compiled

NUM_PERM = 128
LEAD_WORDS = 80  # content words of title + lead that feed the signature
MAX_WORDS = 600  # content words compared in full; longer stories are cut here
HEAD_WORDS = 40  # content words after the title that the LSH signature is made of
assert HEAD_WORDS <= LEAD_WORDS  # features() folds the head's signature into the lead's
_EMPTY = np.zeros(0, dtype=np.uint32)
_HEAD = "<II11I"  # length, update flag, then the size of each packed array

# a token is a word (letters, inner hyphens and apostrophes) or a number (digits with
# thousands separators and a decimal part)
_LETTERS = r"[^\W\d_]+(?:[-'’][^\W\d_]+)*"
_DIGITS = r"\d+(?:[.,:\s]\d{3})*(?:[.,]\d+)?"
_WORD = re.compile(f"{_LETTERS}|{_DIGITS}", re.UNICODE)
# `_WORD` with a group for each kind of token: split, it gives the text between tokens
# (parts[0::3]), the words (parts[1::3]) and the numbers (parts[2::3]), None where the
# token is of the other kind
_SPLIT = re.compile(f"({_LETTERS})|({_DIGITS})", re.UNICODE)
# the same for ASCII text (~18% faster to split); it is the same split for ASCII text
# except where Unicode's \s holds \x1c-\x1f (ASCII's does not): those take `_SPLIT`
_SPLIT_ASCII = re.compile(_SPLIT.pattern, re.ASCII)
_UNIT_SEPARATORS = re.compile("[\x1c-\x1f]")
# a place no token spans (a token holds whitespace only as a number's separator, before a
# digit): the text before it splits into the same tokens as the whole text's start
_CUT = re.compile(r"\s(?=\D)")
_CHARS_PER_WORD = 16  # the first slice of a long text: enough for `limit` words, mostly
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
        """Compact bytes for the `dedup_signatures` table (those it was unpacked from, if
        it was: the writer stores every item's features as the worker sent them)."""
        packed: bytes | None = self.__dict__.get("_packed")
        if packed is not None:
            return packed
        arrays = [getattr(self, name) for name in _ARRAYS]
        head = struct.pack(_HEAD, self.length, int(self.update), *(len(a) for a in arrays))
        return head + b"".join(a.astype("<u4").tobytes() for a in arrays)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # from a parse worker to the writer as one packed string: pickling eleven numpy
        # arrays measured ~10x the cost of packing them
        parts: tuple[bytes, tuple[int, int, int]] | None = self.__dict__.get("_parts")
        if parts is not None:
            return _unpack_unsigned, (self.pack(), *parts)
        return Features.unpack, (self.pack(),)

    def signed(self) -> Features:
        """These features with their MinHash signatures: itself when it has them, else
        (`features(..., signed=False)`) computed once from the hashed words it kept."""
        parts: tuple[bytes, tuple[int, int, int]] | None = self.__dict__.get("_parts")
        if parts is None:
            return self
        done: Features | None = self.__dict__.get("_signed")
        if done is None:
            values, sizes = parts
            flat = np.frombuffer(values, dtype="<u4").astype(np.uint32, copy=False)
            title_signature, signature, lead_signature = _nested_signatures(flat, sizes)
            # the fields set directly, as `unpack` does (a frozen dataclass's __init__
            # and a dict built for it measured ~7 us of the writer's time per copy)
            fields = dict(self.__dict__)
            del fields["_parts"]
            packed: bytes | None = fields.pop("_packed", None)
            fields.update(
                signature=signature,
                lead_signature=lead_signature,
                title_signature=title_signature,
            )
            done = object.__new__(Features)
            done.__dict__.update(fields)
            self.__dict__["_signed"] = done
            if packed is not None:  # the same bytes `pack` would give, without packing again
                length, update, *counts = _HEAD_STRUCT.unpack_from(packed)
                counts[-_SIGNATURES:] = [NUM_PERM] * _SIGNATURES
                done.__dict__["_packed"] = b"".join(
                    (
                        _HEAD_STRUCT.pack(length, update, *counts),
                        packed[_HEAD_STRUCT.size :],
                        signature.astype("<u4", copy=False).tobytes(),
                        lead_signature.astype("<u4", copy=False).tobytes(),
                        title_signature.astype("<u4", copy=False).tobytes(),
                    )
                )
        return done

    @classmethod
    def unpack(cls, data: bytes) -> Features:
        """The features `pack` wrote. The arrays are read-only views of `data` (one
        buffer, no copies: ~0.9 KB of array headers besides `data`, where copies took
        ~4 KB), and the fields are set directly rather than through the frozen
        dataclass's __init__ (3.2 us against 6.6 us that way, 14 us copying each array):
        the dedup layer holds its whole window so, and the writer unpacks every item."""
        length, update, *sizes = _HEAD_STRUCT.unpack_from(data)
        flat = np.frombuffer(data, dtype="<u4", count=sum(sizes), offset=_HEAD_STRUCT.size)
        if flat.dtype != np.uint32:  # a big-endian machine
            flat = flat.astype(np.uint32)
        out = object.__new__(cls)
        fields = out.__dict__
        offset = 0
        for name, n in zip(_ARRAYS, sizes, strict=True):
            fields[name] = flat[offset : offset + n] if n else _EMPTY
            offset += n
        fields["length"] = length
        fields["update"] = bool(update)
        if type(data) is bytes:  # immutable: it stays the bytes of these read-only views
            fields["_packed"] = data
        return out


def _unpack_unsigned(data: bytes, values: bytes, sizes: tuple[int, int, int]) -> Features:
    out = Features.unpack(data)
    out.__dict__["_parts"] = (values, sizes)
    return out


_HEAD_STRUCT = struct.Struct(_HEAD)
_SIGNATURES = 3  # the packed arrays end with the three MinHash signatures


def strip_signatures(data: bytes) -> bytes:
    """Packed features (`Features.pack`) without their MinHash signatures, which only
    the LSH tables need (they keep the band keys): about half the bytes; unpacked, the
    signatures are empty."""
    length, update, *sizes = _HEAD_STRUCT.unpack_from(data)
    kept = sizes[:-_SIGNATURES]
    end = _HEAD_STRUCT.size + 4 * sum(kept)
    return (
        _HEAD_STRUCT.pack(length, update, *kept, *[0] * _SIGNATURES) + data[_HEAD_STRUCT.size : end]
    )


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
    """The affine permutations h -> a * h + b (mod 2**32, `a` odd) that datasketch's
    MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32") draws, drawn the same way here
    (tests/test_prepare.py compares signatures with datasketch's): importing datasketch
    pulls in scipy, ~1 s and ~40 MB in every process that signs, the writer included."""
    gen = np.random.RandomState(1)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _h(token: str) -> int:
    return xxhash.xxh32_intdigest(token.encode("utf-8"))


# Per-process memo tables (a word's stem hash, a raw token's reading): news text repeats
# its vocabulary, so most tokens are looked up rather than stemmed and hashed again.
# Cleared when full, so memory stays bounded (~30 MB each at the cap).
_MEMO_MAX = 200_000
_STEM_HASH: dict[str, int] = {}
# raw token -> None (stopword, too short), a number's hash or (word, capitalised, stem hash)
_Reading = tuple[str, bool, int] | int | None
_READING: dict[str | None, _Reading] = {}
# the compiled scanner's readings (ingest._speedups.TokenTable), made when first needed
_TABLE: Any = None


def _bounded(memo: dict[str, object]) -> None:
    if len(memo) >= _MEMO_MAX:
        memo.clear()


def _stem_hashes(words: list[str]) -> list[int]:
    """xxh32 of each word's stem (Russian stemmer for Cyrillic words, English for the rest)."""
    memo = _STEM_HASH
    # a full memo is emptied before the lookup, never between it and the reads below
    _bounded(memo)  # type: ignore[arg-type]
    missing = [w for w in dict.fromkeys(words) if w not in memo]
    if missing:
        for w, s in zip(missing, _stem(missing), strict=True):
            memo[w] = _h(s)
    return list(map(memo.__getitem__, words))


def _sorted_arrays(*sets: set[int]) -> list[np.ndarray]:
    """Each set as a sorted uint32 array (what np.unique gives for its list), all of them
    views of one buffer: one conversion instead of one numpy call per field."""
    lists = [sorted(s) for s in sets]
    flat = np.array([h for values in lists for h in values], dtype=np.uint32)
    out, start = [], 0
    for values in lists:
        out.append(flat[start : start + len(values)] if values else _EMPTY)
        start += len(values)
    return out


def _fmix32(hv: np.ndarray) -> np.ndarray:
    """The MurmurHash3 32-bit finalizer, as datasketch's "affine32" scheme pre-mixes."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    out: np.ndarray = hv ^ (hv >> np.uint32(16))
    return out


def _signature(hashes: np.ndarray) -> np.ndarray:
    """datasketch's MinHash (affine32, seed 1) of already-hashed tokens, computed in one
    array expression instead of building a MinHash object per signature (equal values,
    checked by tests/test_prepare.py against datasketch itself)."""
    if not len(hashes):
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    a, b = _permutations()
    hv = _fmix32(hashes.astype(np.uint32).reshape(-1, 1))
    return np.asarray((hv * a + b).min(axis=0), dtype=np.uint32)


def _nested_parts(
    inner: set[int], middle: set[int], outer: set[int]
) -> tuple[bytes, tuple[int, int, int]]:
    """Three nested sets (inner <= middle <= outer) as `_nested_signatures` takes them:
    the values of inner, then those middle adds, then those outer adds, as uint32 bytes."""
    parts = (inner, middle - inner, outer - middle)
    values = np.array([h for p in parts for h in p], dtype="<u4").tobytes()
    return values, (len(parts[0]), len(parts[1]), len(parts[2]))


def _nested_signatures(
    values: np.ndarray, sizes: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_signature` of each of three nested sets given as `_nested_parts` gives them, from
    one matrix of the outer set's hashed values: a MinHash of a union is the element-wise
    minimum of its parts' MinHashes, so each set's is the previous one's folded with the
    minima over the values it adds."""
    c = compiled.speedups
    if c is not None:  # the same arithmetic in one C loop, without the matrix
        flat = np.frombuffer(c.nested_signatures(values, sizes, *_permutations()), np.uint32)
        return flat[:NUM_PERM], flat[NUM_PERM : 2 * NUM_PERM], flat[2 * NUM_PERM :]
    out = np.full((len(sizes), NUM_PERM), 0xFFFFFFFF, dtype=np.uint32)
    if sizes[-1] + sizes[1] + sizes[0]:
        a, b = _permutations()
        hv = _fmix32(values.reshape(-1, 1)) * a + b
        filled = [i for i, n in enumerate(sizes) if n]
        starts = [sum(sizes[:i]) for i in filled]
        # each start reduces up to the next filled part's start: its own rows only
        out[filled] = np.minimum.reduceat(hv, starts, axis=0)
        np.minimum.accumulate(out, axis=0, out=out)
    return out[0], out[1], out[2]


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
    hashes: list[int]  # of the words' stems
    numbers: list[int]  # hashes of the numbers, separators removed
    names: list[int]  # stem hashes
    # how many words, numbers and names had been read when the lead (`lead` words) was full
    lead_counts: tuple[int, int, int] = (0, 0, 0)


def _reading(tok: str) -> tuple[str, bool] | str | None:
    """What one raw token contributes: a number, a content word (and whether it is
    capitalised), or nothing (a stopword or a single letter)."""
    if tok[0].isdigit():
        return _number(tok)
    low = tok.casefold().replace("ё", "е")
    if low in STOPWORDS or len(low) < 2:
        return None
    return low, tok[0].isupper()


def _read(tokens: list[str | None]) -> list[_Reading]:
    """Each token's reading, from the memo (None, a place the split left empty, reads as
    nothing)."""
    memo = _READING
    # a full memo is emptied before the lookup, never between it and the reads below
    _bounded(memo)  # type: ignore[arg-type]
    memo[None] = None
    try:
        return list(map(memo.__getitem__, tokens))
    except KeyError:
        # None is always in the memo: every token read here is a str
        _learn([t for t in dict.fromkeys(tokens) if t not in memo])  # type: ignore[misc]
        return list(map(memo.__getitem__, tokens))


def _learn_one(token: str) -> _Reading:
    """The reading of a token the compiled scanner has not met (what `_learn` works out
    for many at once), for its table of readings."""
    r = _reading(token)
    if isinstance(r, tuple):
        low = r[0]
        stem_hash = _STEM_HASH.get(low)
        if stem_hash is None:  # `_stem_hashes([low])` without its lists (~37,000 calls a poll)
            _bounded(_STEM_HASH)  # type: ignore[arg-type]
            language = "russian" if _CYRILLIC.search(low) else "english"
            stem_hash = _STEM_HASH[low] = _h(_stemmer(language).stemWord(low))
        return (*r, stem_hash)
    if r is None:
        return None
    return _h(r)


def _learn(tokens: list[str]) -> None:
    """Put the readings of these tokens, none of them in the memo, into it."""
    memo = _READING
    new = {t: _reading(t) for t in tokens}
    words = {t: r for t, r in new.items() if isinstance(r, tuple)}
    stems = _stem_hashes([low for low, _ in words.values()])
    memo.update((t, _h(r)) for t, r in new.items() if isinstance(r, str))
    memo.update((t, None) for t, r in new.items() if r is None)
    memo.update((t, (*r, h)) for (t, r), h in zip(words.items(), stems, strict=True))


def _tokenize(text: str, limit: int, lead: int = 0) -> _Tokens:
    """`_tokenize_py`, by the compiled scanner when it is built (the same tokens:
    tests/test_features_equivalence.py runs both). The scanner keeps the readings in a
    table of its own (`TokenTable`: a token's reading costs one cache line there, where
    `_READING`'s str keys and tuples cost ~4: in a parse worker, whose other work keeps
    evicting them, the scan measured ~85 us an item with the dict)."""
    c = compiled.speedups
    if c is None:
        return _tokenize_py(text, limit, lead)
    global _TABLE
    table = _TABLE
    if table is None:
        table = _TABLE = c.TokenTable()
    elif len(table) >= _MEMO_MAX:  # emptied before the scan, never during it
        table.clear()
    out = c.scan(text, limit, lead, table, _learn_one)
    if out is None:  # a reading of another shape (a word read as a number): Python decides
        return _tokenize_py(text, limit, lead)
    return _Tokens(*out)


def _tokenize_py(text: str, limit: int, lead: int = 0) -> _Tokens:
    """The first `limit` content words of the text, the numbers read before the last of
    them, and the names among them (capitalised words that do not start a sentence).

    Split in C (one regex split, memo reads by `map`) rather than walked match by match:
    a long text is split in slices that grow until one holds `limit` words."""
    size = limit * _CHARS_PER_WORD
    split = (
        _SPLIT_ASCII.split if text.isascii() and not _UNIT_SEPARATORS.search(text) else _SPLIT.split
    )
    while True:
        cut = _CUT.search(text, size) if len(text) > size else None
        # separator, word or None, number or None; separator, ...
        parts = split(text if cut is None else text[: cut.end()])
        reads = _read(parts[1::3])  # a word's (word, capitalised), or None
        at = list(compress(range(len(reads)), reads))  # where the content words are
        if len(at) >= limit or cut is None:
            break
        size *= 4
    raw = parts[2::3]
    if len(at) >= limit:  # nothing after the last word counts
        del at[limit:], raw[at[-1] + 1 :]
    read = cast(list[tuple[str, bool, int]], list(filter(None, reads))[:limit])
    hashes = list(map(itemgetter(2), read))
    numbers = cast(list[int], _read(list(filter(None, raw))))
    # A capitalised word starts a sentence when the three characters before it do. None
    # of the characters the pattern looks for can end a token, so those are the last
    # three of the separator before it; but two tokens can touch ("abc123"): an empty
    # separator after a token is no sentence start, though "" matches `^$`.
    seps = parts[0::3]
    start = _SENTENCE_START.search
    named = [
        k
        for k in compress(range(len(read)), map(itemgetter(1), read))
        if not ((sep := seps[at[k]]) or not at[k]) or not start(sep[-3:])
    ]
    names = [hashes[k] for k in named]
    if 0 < lead <= len(at):
        end = at[lead - 1]
        counts = (lead, end - raw[:end].count(None), bisect_left(named, lead))
    else:
        counts = (len(hashes), len(numbers), len(names))
    return _Tokens(hashes, numbers, names, counts)


def _quoted_hashes(text: str) -> list[int]:
    """Stem hashes of the words of short «quoted» names."""
    hashes: list[int] = []
    if "«" not in text and "“" not in text:  # how every quoted name starts
        return hashes
    for m in _QUOTED.finditer(text):
        if len(m.group(1).split()) <= 4:
            hashes += _tokenize(m.group(1), 8).hashes
    return hashes


def strip_update_marker(body: str) -> tuple[str, bool]:
    """The body without a leading or trailing "Updated at …" paragraph, and whether one was there."""
    paras = _PARA.split(body.strip())
    marked = False
    if paras and UPDATE_MARKER.match(paras[0]) and len(paras[0]) < 300:
        paras, marked = paras[1:], True
    if paras and UPDATE_MARKER.match(paras[-1]) and len(paras[-1]) < 300:
        paras, marked = paras[:-1], True
    return "\n\n".join(paras), marked


def features(title: str | None, body: str | None, *, signed: bool = True) -> Features:
    """Features of a story's title and plain-text body (paragraphs split by blank lines).

    `signed=False` leaves the MinHash signatures (~30 us an item in numpy, 5-8 compiled) to
    `Features.signed()`, which only the near-duplicate layer calls: a parse worker's
    items then travel without them, and the writer computes them only for copies it
    queries or indexes (not for exact duplicates or items seen before). On a two-core
    machine that moves the work from the busier process to the one with room."""
    title = unicodedata.normalize("NFKC", title or "")
    text, marked = strip_update_marker(unicodedata.normalize("NFKC", body or ""))
    marked = marked or bool(UPDATE_MARKER.match(title))
    t = _tokenize(title, 60)
    # one pass over the body: the lead is its first LEAD_WORDS words and what came with them
    b = _tokenize(text, MAX_WORDS, LEAD_WORDS)
    n_lead, n_numbers, n_names = b.lead_counts
    title_h, body_h = t.hashes, b.hashes
    quoted_h = _quoted_hashes(title) + _quoted_hashes(text)  # no quote spans a line
    c = compiled.speedups
    length = len(text.split()) if c is None else c.word_count(text)
    packed: bytes | None = None  # what `pack` will give, where it is known already
    if c is not None:  # the sets below, made in C from the lists as they are
        values, sizes = c.sorted_unique(
            title_h + body_h,
            title_h + body_h[:n_lead],
            title_h,
            t.numbers + b.numbers,
            t.numbers + b.numbers[:n_numbers],
            b.names,
            b.names[:n_names],
            quoted_h,
            title_h + body_h[:HEAD_WORDS],
        )
        flat, arrays, at = np.frombuffer(values, dtype=np.uint32), [], 0
        for n in sizes:
            arrays.append(flat[at : at + n])
            at += n
        words, lead_a, title_a, numbers_a, lead_numbers, names, lead_names, quoted, head_a = arrays
        parts = c.nested_parts(title_a, head_a, lead_a)
        # the fields' arrays lie end to end in `values` in `_ARRAYS` order, as `pack`
        # would write them (little-endian: the compiled helpers run on no other)
        kept = sizes[: len(_ARRAYS) - _SIGNATURES]
        packed = (
            _HEAD_STRUCT.pack(length, int(marked), *kept, *[0] * _SIGNATURES)
            + values[: 4 * sum(kept)]
        )
    else:
        title_set = set(title_h)
        head = title_set.union(body_h[:HEAD_WORDS])
        lead = title_set.union(body_h[:n_lead])  # holds the head: HEAD_WORDS <= LEAD_WORDS
        parts = _nested_parts(title_set, head, lead)
        numbers = set(t.numbers)
        words, lead_a, title_a, numbers_a, lead_numbers, names, lead_names, quoted = _sorted_arrays(
            lead.union(body_h),
            lead,
            title_set,
            numbers.union(b.numbers),
            numbers.union(b.numbers[:n_numbers]),
            # headlines are often in Title Case: names come from the body only
            set(b.names),
            set(b.names[:n_names]),
            set(quoted_h),
        )
    unsigned = Features(
        words=words,
        lead=lead_a,
        title=title_a,
        numbers=numbers_a,
        lead_numbers=lead_numbers,
        names=names,
        lead_names=lead_names,
        quoted=quoted,
        signature=_EMPTY,
        lead_signature=_EMPTY,
        title_signature=_EMPTY,
        length=length,
        update=marked,
    )
    unsigned.__dict__["_parts"] = parts
    if packed is not None:
        unsigned.__dict__["_packed"] = packed
    return unsigned.signed() if signed else unsigned
