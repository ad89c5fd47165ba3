"""ISO 8601 timestamps read from upstream answers and lake files, and Mastodon's time-based ids.

Mastodon ids (since 2.0) are 64-bit "snowflakes": the creation time in milliseconds shifted left by 16 bits,
plus 16 low bits that make ids created in the same millisecond distinct. So ids sort by time, and a client can
page by id.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any

#: A day as the options and settings that take one spell it: exactly ``YYYY-MM-DD`` in ASCII digits.
DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> date:
    """``text`` written exactly ``YYYY-MM-DD`` as a date; ValueError for any other text.

    ``date.fromisoformat`` alone is looser since Python 3.11: it also takes ``20261128`` and ISO week dates
    (``2026-W48-1``), which the messages saying ``YYYY-MM-DD`` would then not describe."""
    if not DAY_RE.fullmatch(text):
        raise ValueError(f"not a date written YYYY-MM-DD: {text!r}")
    return date.fromisoformat(text)


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


def rfc3339_utc(value: object) -> str | None:
    """A stored UTC timestamp (a metric's ``-- timestamps:`` column) as RFC 3339 UTC with ``Z``:
    ``2026-11-01 12:00:00`` → ``2026-11-01T12:00:00Z``, fractional seconds kept (as microseconds:
    ``…12:00:00.250000Z``); None stays None.

    Every store hands such a value back as the text the metric wrote (its logical type is text, so SQLite, MariaDB's
    LONGTEXT and HBase's bytes all decode to ``str``), which is read as UTC unless it carries an offset (then it is
    converted to UTC); a ``datetime`` is taken the same way (naive as UTC), should a store ever return one.
    Without the ``Z``, JavaScript's ``new Date("2026-11-01 12:00:00")`` takes the text as local time. ValueError
    for anything else (the column holds no timestamp: the metric's header names the wrong column), and for a moment
    with an offset that falls outside the years 1 to 9999 in UTC (``9999-12-31 23:30:00-01:00``), which no
    ``datetime`` holds."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else parse_iso(value)
    if moment is None or len(str(value)) <= len("YYYY-MM-DD"):  # a date alone is no moment in time
        raise ValueError(f"not a UTC timestamp written YYYY-MM-DD HH:MM:SS: {str(value)[:40]!r}")
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # was raised as itself: the report's reading of the metric (ValueError) missed it
            raise ValueError(f"not a UTC timestamp between the years 1 and 9999: {str(value)[:40]!r}") from None
    return moment.isoformat() + "Z"


def rfc3339_rows(rows: list[dict[str, Any]], columns: Collection[str]) -> list[dict[str, Any]]:
    """``rows`` with their ``columns`` (a metric's ``timestamp_columns``) as :func:`rfc3339_utc` gives them, for an
    answer: new dicts, the rows themselves unchanged (a page's cursor holds the stored values). A column a row
    lacks is left out, as before."""
    if not columns:
        return rows
    return [{name: rfc3339_utc(value) if name in columns else value for name, value in row.items()} for row in rows]


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("use timezone-aware datetimes (UTC)")
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def snowflake(ms: int, low: int) -> int:
    """The id Mastodon would give a record created at ``ms`` (Unix milliseconds)."""
    return (ms << 16) | (low & 0xFFFF)


def snowflake_ms(snowflake_id: int | str) -> int:
    """The creation time (Unix milliseconds) inside a snowflake id."""
    return int(snowflake_id) >> 16


#: Ids whose time part falls before this are not Mastodon snowflakes (sequential ids, other software).
SNOWFLAKES_SINCE = datetime(2017, 1, 1, tzinfo=UTC)


def is_snowflake(status_id: str) -> bool:
    """Whether ``status_id`` is a Mastodon snowflake: ASCII digits whose time part falls between 2017 and
    tomorrow (not a sequential id of older or other software, nor text)."""
    if not (status_id.isascii() and status_id.isdigit()):
        return False
    return to_ms(SNOWFLAKES_SINCE) <= snowflake_ms(status_id) <= to_ms(datetime.now(UTC) + timedelta(days=1))
