"""ISO 8601 timestamps read from upstream answers and lake files."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(text: object) -> datetime | None:
    """``text`` as an aware datetime (a timestamp without an offset is taken as UTC); None when ``text`` is not
    an ISO 8601 timestamp string."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
