"""One rule for every timestamp that enters a service: aware, in UTC.

Journal replays hand timestamps back as ISO text, so text is accepted too; a naive datetime
is refused, because guessing its zone would misplace a deadline or a KPI period by hours.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(at: datetime | str | None) -> datetime:
    """`at` as an aware UTC datetime; None means now."""
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: pass an aware datetime")
    return at.astimezone(UTC)
