"""Which copy of a story the published entry shows: a deterministic, configurable rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# `agency`: a copy with an agency dateline (/TASS/.) beats one without;
# `earliest`: the earlier publication date wins; `longest`: the longer text wins.
CRITERIA = ("agency", "earliest", "longest")
DEFAULT_PREFER = ("agency", "earliest", "longest")


@dataclass(frozen=True)
class Copy:
    agency: str | None
    published: str  # ISO 8601 UTC, sortable as text
    length: int  # characters of body text


def better(new: Copy, current: Copy, prefer: Sequence[str] = DEFAULT_PREFER) -> bool:
    """Does `new` beat the copy shown now? Criteria are tried in order; the first that
    tells them apart decides. A tie keeps the current copy, so the choice never flaps."""
    for criterion in prefer:
        if criterion == "agency":
            if bool(new.agency) != bool(current.agency):
                return bool(new.agency)
        elif criterion == "earliest":
            if new.published != current.published:
                return new.published < current.published
        elif criterion == "longest":
            if new.length != current.length:
                return new.length > current.length
        else:
            raise ValueError(f"unknown representative criterion {criterion!r}")
    return False
