"""UTC timestamps in the one ISO 8601 form the store uses everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(dt: datetime) -> str:
    """`2023-10-12T00:00:00Z`: sortable as text, which the store's indexes rely on."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
