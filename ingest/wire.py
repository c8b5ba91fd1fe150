"""Parses plain-text agency wire copy (`date … CITY, Month DD. /AGENCY/. lead`) into an Item."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingest.text import clean_text, make_title


class WireFormatError(ValueError):
    """The text is not wire copy we can read (empty, binary, no paragraphs)."""


_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan", "января", "январь"),
            ("february", "feb", "февраля", "февраль"),
            ("march", "mar", "марта", "март"),
            ("april", "apr", "апреля", "апрель"),
            ("may", "мая", "май"),
            ("june", "jun", "июня", "июнь"),
            ("july", "jul", "июля", "июль"),
            ("august", "aug", "августа", "август"),
            ("september", "sep", "sept", "сентября", "сентябрь"),
            ("october", "oct", "октября", "октябрь"),
            ("november", "nov", "ноября", "ноябрь"),
            ("december", "dec", "декабря", "декабрь"),
        ],
        start=1,
    )
    for m in names
}

_DATE_TOKEN = re.compile(r"^\s*date\s+(?P<date>\d{4}-\d{2}-\d{2})(?:\s+|$)", re.IGNORECASE)
# City in capitals, optionally with a /Region/ qualifier (TASS: `IGORA /Leningrad Region/`),
# then `Month DD.` (English) or `DD месяца.` (Russian), then `/AGENCY/.`
_DATELINE = re.compile(
    r"""^(?P<city>[A-ZА-ЯЁ][A-ZА-ЯЁ0-9'’.\- ]*?(?:\s*/[^/\n]{1,60}/)?)
        ,\s+(?:(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})
             |(?P<ruday>\d{1,2})\s+(?P<rumonth>[а-яё]{3,9}))
        \.?\s+/(?P<agency>[^/\n]{2,30})/\.?\s*""",
    re.VERBOSE,
)
_FINAL_PUNCT = ".!?:;,\"'”»“…)]"
_MAX_SUBHEAD = 90


@dataclass
class WireStory:
    title: str
    lead: str
    paragraphs: list[str]  # lead first; subheads are in `subheads` and marked here
    subheads: list[str] = field(default_factory=list)
    summary: str | None = None
    published: datetime | None = None
    published_raw: str | None = None
    dateline: str | None = None
    agency: str | None = None
    title_from_lead: bool = False

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    def html(self) -> str:
        from html import escape

        heads = set(self.subheads)
        parts = []
        for i, p in enumerate(self.paragraphs):
            if i > 0 and p in heads:
                parts.append(f"<h3>{escape(p)}</h3>")
            else:
                parts.append(f"<p>{escape(p)}</p>")
        return "\n".join(parts)


def _split_paragraphs(text: str) -> list[str]:
    paras = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [re.sub(r"\s*\n\s*", " ", p).strip() for p in paras if p.strip()]


def _is_subhead(p: str) -> bool:
    return (
        len(p) <= _MAX_SUBHEAD and p[-1] not in _FINAL_PUNCT and not p.startswith(('"', "«", "“"))
    )


def _match_dateline(p: str, ref: datetime) -> tuple[re.Match[str], datetime | None] | None:
    m = _DATELINE.match(p)
    if m is None:
        return None
    if m.group("month"):
        month = _MONTHS.get(m.group("month").lower().rstrip("."))
        day = int(m.group("day"))
    else:
        month = _MONTHS.get(m.group("rumonth").lower())
        day = int(m.group("ruday"))
    if month is None:
        return None
    # the dateline has no year: take the latest one that is not after the reference
    when: datetime | None = None
    for year in (ref.year, ref.year - 1):
        try:
            cand = datetime(year, month, day, tzinfo=UTC)
        except ValueError:
            continue
        if cand.date() <= ref.date():
            when = cand
            break
    return m, when


def parse_wire(text: str, *, reference: datetime | None = None) -> WireStory:
    """Read wire copy. `reference` (the file's time) supplies the year a bare dateline lacks."""
    ref = reference or datetime.now(UTC)
    text = clean_text(text)
    paras = _split_paragraphs(text)
    if not paras:
        raise WireFormatError("no text: the file is empty or only whitespace")

    published: datetime | None = None
    published_raw: str | None = None
    dateline = agency = None
    title: str | None = None
    summary: str | None = None

    # Paragraphs before the one carrying `date`/the dateline are the title and a deck.
    lead_index = 0
    for i, p in enumerate(paras[:4]):
        if _DATE_TOKEN.match(p) or _DATELINE.match(p):
            lead_index = i
            break
    head, paras = paras[:lead_index], paras[lead_index:]
    if head:
        title = head[0]
        summary = " ".join(head[1:]) or None

    lead = paras[0]
    m = _DATE_TOKEN.match(lead)
    if m:
        published_raw = m.group("date")
        try:
            published = datetime.strptime(published_raw, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError as exc:
            raise WireFormatError(f"bad date token {published_raw!r}: {exc}") from None
        lead = lead[m.end() :]
    dm = _match_dateline(lead, ref)
    if dm is not None:
        match, when = dm
        dateline = re.sub(r"\s+", " ", match.group("city")).strip()
        agency = match.group("agency").strip()
        if published is None and when is not None:
            published, published_raw = when, match.group(0).strip()
        lead = lead[match.end() :]
    lead = lead.strip()
    if not lead:
        raise WireFormatError("the lead paragraph is empty after the date and dateline")
    paras[0] = lead

    if title is None and len(paras) > 1 and _is_subhead(lead) and not dm:
        # a first short unpunctuated line is the headline
        title, paras = lead, paras[1:]
        lead = paras[0]
    subheads = [p for p in paras[1:] if _is_subhead(p)]
    from_lead = title is None
    return WireStory(
        title=title or make_title(lead),
        lead=lead,
        paragraphs=paras,
        subheads=subheads,
        summary=summary,
        published=published,
        published_raw=published_raw,
        dateline=dateline,
        agency=agency,
        title_from_lead=from_lead,
    )
