"""Text helpers shared by the readers: decoding, control characters, HTML to text, titles."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

# C0/C1 controls except tab and newlines, plus the XML-invalid noncharacters: any of
# these in one entry would break a published feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_TAG = re.compile(r"<[^>]*>")
_BLOCK = re.compile(
    r"</?(?:p|div|br|h[1-6]|li|ul|ol|blockquote|tr|table|section|article)\b[^>]*>", re.I
)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_SENTENCE_END = re.compile(r"(?<![A-ZА-Я])(?<!\b[A-Z][a-z])[.!?…][\"'”»]?(?=\s+[\"'“«A-ZА-ЯЁ0-9])")
# runs of whitespace other than a lone space (which would be replaced by itself)
_SPACES = re.compile(r" [ \t\r\f\v\n]+|[\t\r\f\v\n][ \t\r\f\v\n]*")
_PARAGRAPHS = re.compile(r"\n\s*\n")
TITLE_MAX = 160


class NotTextError(ValueError):
    """The bytes are not text in any encoding we accept."""


def clean_text(text: str) -> str:
    if text.isascii():
        # NFC leaves ASCII as it is, and the only controls it can hold are the ones
        # isprintable() flags: skip the regex scan when there are none (most text)
        if text.replace("\n", " ").replace("\t", " ").replace("\r", " ").isprintable():
            return text
        return _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    return _CONTROL.sub("", text)


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM or not), else windows-1251 when it reads as Cyrillic, else refuse."""
    if b"\x00" in data[:4096]:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        raise NotTextError("binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    cp = data.decode("cp1251", errors="replace")
    letters = [c for c in cp if c.isalpha()]
    cyr = sum(1 for c in letters if "\u0400" <= c <= "\u04ff")
    if letters and cyr / len(letters) > 0.5:
        return cp
    latin = data.decode("latin-1")
    printable = sum(1 for c in latin if c.isprintable() or c in "\r\n\t")
    if printable / max(1, len(latin)) > 0.95:
        return latin
    raise NotTextError(f"not UTF-8 text ({utf8_error.reason} at byte {utf8_error.start})")


def _squeeze(text: str) -> str:
    """Every run of ASCII whitespace as one space (the substring tests are much faster than
    the regex over text that has nothing to replace, as most paragraphs have not)."""
    if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\f" in text or "\v" in text:
        return _SPACES.sub(" ", text)
    return text


def html_to_text(markup: str) -> str:
    """Readable plain text of an HTML fragment, paragraphs split by blank lines."""
    markup = _SCRIPT.sub(" ", markup)
    markup = _BLOCK.sub("\n\n", markup)
    text = html.unescape(_TAG.sub("", markup))
    paras = [_squeeze(p).strip() for p in _PARAGRAPHS.split(text)]
    return clean_text("\n\n".join(p for p in paras if p))


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    m = _SENTENCE_END.search(text)
    return text[: m.end()] if m else text


def make_title(lead: str, limit: int = TITLE_MAX) -> str:
    """A headline from the lead: its first sentence, cut at a word under `limit`."""
    sentence = first_sentence(lead).rstrip()
    if len(sentence) <= limit:
        return sentence.rstrip(".")
    cut = sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:-–— ")
    return cut + "…"


def ascii_fold_table(keep: bytes) -> bytes:
    """A `bytes.translate` table: ASCII letters lower-cased (what casefold does to them),
    the ASCII bytes in `keep` as they are, every other ASCII byte a space; bytes
    0x80-0xff untouched (in UTF-8 they only ever encode non-ASCII characters)."""
    table = bytearray(b" " * 128) + bytes(range(128, 256))
    for c in keep:
        table[c] = c
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[c] = c + 32
    return bytes(table)


def fold_ascii(text: str, table: bytes) -> str:
    """`text` through an `ascii_fold_table` in one C pass (a lone surrogate, which a JSON
    feed can hold, passes through too)."""
    if text.isascii():
        return text.encode("ascii").translate(table).decode("ascii")
    utf8 = text.encode("utf-8", "surrogatepass")
    return utf8.translate(table).decode("utf-8", "surrogatepass")


def split_words(chunks: list[str], read: Callable[[str], list[str]]) -> list[str]:
    """The words of whitespace-split `chunks`: a chunk of letters and digits is one word
    as it stands (most are, once ASCII punctuation is folded away); `read` reads the rest."""
    if all(map(str.isalnum, chunks)):
        return chunks
    out: list[str] = []
    for chunk in chunks:
        if chunk.isalnum():
            out.append(chunk)
        else:
            out += read(chunk)
    return out
