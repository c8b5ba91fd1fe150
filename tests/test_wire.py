"""The plain-text wire format: date token, dateline, agency, title, deck, subheads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.wire import WireFormatError, parse_wire
from tests.conftest import CORPUS, SEED


def test_seed_fields() -> None:
    s = parse_wire(SEED.read_text(encoding="utf-8"))
    assert s.published == datetime(2023, 10, 12, tzinfo=UTC)
    assert (s.dateline, s.agency) == ("BISHKEK", "TASS")
    assert s.title_from_lead
    assert s.title.startswith("The establishment of the Russian air force base Kant in Kyrgyzstan")
    assert len(s.title) <= 161
    assert s.subheads == ["Part of CSTO", "Military service"]
    assert s.lead.startswith("The establishment")
    assert s.paragraphs[-1].endswith("he said.")


def test_russian_dateline_and_year_from_reference() -> None:
    text = (
        "БИШКЕК, 12 октября. /ТАСС/. Президент заявил о важности базы. Это важно.\n\nВторой абзац."
    )
    s = parse_wire(text, reference=datetime(2024, 3, 1, tzinfo=UTC))
    assert (s.dateline, s.agency) == ("БИШКЕК", "ТАСС")
    # October is after March: the story is from the previous October
    assert s.published == datetime(2023, 10, 12, tzinfo=UTC)
    assert s.title == "Президент заявил о важности базы"


def test_title_and_deck_before_the_dateline() -> None:
    path = sorted((CORPUS / "wire-stories" / "tass-en" / "txt").glob("*.txt"))[0]
    s = parse_wire(path.read_text(encoding="utf-8"), reference=datetime(2024, 12, 27, tzinfo=UTC))
    assert s.title == "Russia ready to assist Syria in organizing elections, top diplomat says"
    assert s.summary and s.summary.startswith("The framework of the election campaign")
    assert (s.dateline, s.agency) == ("MOSCOW", "TASS")
    assert s.published == datetime(2024, 12, 26, tzinfo=UTC)
    assert not s.title_from_lead


def test_every_tass_file_reads() -> None:
    for path in sorted((CORPUS / "wire-stories" / "tass-en" / "txt").glob("*.txt")):
        s = parse_wire(path.read_text(encoding="utf-8"))
        assert s.agency == "TASS", path.name
        assert s.dateline, path.name
        assert s.title and s.lead, path.name


def test_region_qualified_dateline() -> None:
    s = parse_wire("IGORA /Leningrad Region/, December 26. /TASS/. Leaders met.\n\nMore.")
    assert s.dateline == "IGORA /Leningrad Region/"
    assert s.lead == "Leaders met."


def test_no_date_no_dateline() -> None:
    s = parse_wire(
        "Border talks resume\n\nOfficials of both countries met on Monday to discuss the border."
    )
    assert s.title == "Border talks resume"
    assert s.dateline is None and s.published is None
    assert s.lead.startswith("Officials")


@pytest.mark.parametrize(
    "text", ["", "   \n\n  ", " date 2023-10-12 BISHKEK, October 12. /TASS/. "]
)
def test_unreadable_wire_text_is_an_error(text: str) -> None:
    with pytest.raises(WireFormatError):
        parse_wire(text)


def test_bad_date_token_is_named() -> None:
    with pytest.raises(WireFormatError, match="2023-13-45"):
        parse_wire(" date 2023-13-45 BISHKEK, October 12. /TASS/. Lead text here.")
