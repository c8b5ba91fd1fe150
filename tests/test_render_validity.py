"""The feed checker used on wiredesk's output agrees with the W3C Feed Validator's own
test cases (../shared/corpus/validator) for every rule it implements."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from tests.conftest import CORPUS
from tests.feedcheck import check_atom, check_rss

VALIDATOR = CORPUS / "validator"
# the validator's message classes this checker implements, for the elements wiredesk emits
IMPLEMENTED = {
    "DuplicateElement",
    "InvalidRFC3339Date",
    "InvalidRFC2822Date",
    "MissingElement",
    "MissingTitle",
    "MissingLink",
    "MissingDescription",
    "InvalidFullLink",
    "InvalidLink",
    "InvalidURN",
    "InvalidContact",
    "MissingHref",
    "MissingAttribute",
    "DuplicateAtomLink",
    "MisplacedMetadata",
    "InvalidTextType",
    "ItemMustContainTitleOrDescription",
    "InvalidPermalink",
}
PARENTS = {None, "feed", "entry", "channel", "item", "source", "category", "author", "rss"}
# the validator names some of one rule's failures differently; either name counts
SAME = {"InvalidLink": {"InvalidFullLink"}, "MissingAttribute": {"MissingHref"}}


def _cases() -> list[dict[str, Any]]:
    index = VALIDATOR / "INDEX.json"
    if not index.exists():
        return []
    cases: list[dict[str, Any]] = json.loads(index.read_text(encoding="utf-8"))["cases"]
    return [c for c in cases if c["file"].startswith(("atom/", "rss20/"))]


def _check(path: str) -> set[str]:
    data = (VALIDATOR / path).read_bytes()
    root = etree.fromstring(data)
    problems = check_atom(data) if root.tag.endswith("feed") else check_rss(data)
    return {p[0] for p in problems}


ERROR_CASES = [
    c
    for c in _cases()
    if c["label"] == "error"
    and c["message_class"] in IMPLEMENTED
    and c["params"].get("parent") in PARENTS
    and c["params"].get("element") not in ("generator", "enclosure", "cloud")
    and "creativeCommons" not in str(c["params"])
]
CLEAN_CASES = [
    c
    for c in _cases()
    if c["negated"]
    and c["message_class"] in ("Error", "Warning")
    and etree.fromstring((VALIDATOR / c["file"]).read_bytes()).tag.split("}")[-1] in ("feed", "rss")
]


def test_the_corpus_is_there() -> None:
    assert len(ERROR_CASES) > 80 and len(CLEAN_CASES) > 25


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c["file"])
def test_checker_reports_what_the_validator_reports(case: dict[str, Any]) -> None:
    want = {case["message_class"], *SAME.get(case["message_class"], set())}
    assert want & _check(case["file"]), case["description"]


@pytest.mark.parametrize("case", CLEAN_CASES, ids=lambda c: c["file"])
def test_checker_passes_what_the_validator_passes(case: dict[str, Any]) -> None:
    assert _check(case["file"]) == set(), case["description"]
