"""UTC timestamps in the one ISO 8601 form the store uses everywhere."""

from __future__ import annotations

import time
from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(dt: datetime) -> str:
    """`2023-10-12T00:00:00Z`: sortable as text, which the store's indexes rely on."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime(ISO_FORMAT)


def epoch_iso(seconds: float) -> str:
    """`iso` of a Unix time."""
    return time.strftime(ISO_FORMAT, time.gmtime(seconds))


# the last second formatted: a batch stamps every row it writes (several per item) and
# the text only changes once a second
_last: tuple[int, str] = (-1, "")


def now_iso() -> str:
    global _last
    second = int(time.time())
    if _last[0] != second:
        _last = (second, epoch_iso(second))
    return _last[1]


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
