"""A metric's ``-- timestamps:`` columns as the results API and ``fediscope report --format json`` give them: RFC 3339
in UTC with ``Z`` (:func:`fediscope.timestamps.rfc3339_utc`), from what each store hands back.

Every store keeps such a column as text (its logical type is ``str``): SQLite's TEXT, MariaDB's LONGTEXT and HBase's
bytes all decode to the ``str`` the metric wrote (test_api_results.py's every-store test compares the API's
answers over the three). A ``datetime`` is taken too, naive as UTC, should a store or a caller ever give one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fediscope.engine.metrics import load_metrics
from fediscope.timestamps import rfc3339_rows, rfc3339_utc


@pytest.mark.parametrize(("stored", "given"), [
    ("2026-11-01 12:00:00", "2026-11-01T12:00:00Z"),  # the text each store returns (top_toots' strftime)
    ("2026-11-01 12:00:00.250000", "2026-11-01T12:00:00.250000Z"),  # fractional seconds kept
    ("2026-11-01 12:00:00.25", "2026-11-01T12:00:00.250000Z"),
    ("2026-11-01T14:00:00+02:00", "2026-11-01T12:00:00Z"),  # text with an offset: converted to UTC
    (datetime(2026, 11, 1, 12, 0), "2026-11-01T12:00:00Z"),  # a naive datetime is UTC
    (datetime(2026, 11, 1, 12, 0, 0, 500), "2026-11-01T12:00:00.000500Z"),
    (datetime(2026, 11, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-11-01T12:00:00Z"),
    (None, None),
])
def test_a_stored_timestamp_is_given_as_rfc3339_utc(stored: object, given: str | None) -> None:
    assert rfc3339_utc(stored) == given
    if given is not None:  # it reads back as the same moment, in UTC
        moment = stored if isinstance(stored, datetime) else datetime.fromisoformat(str(stored))
        expected = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        assert datetime.fromisoformat(given) == expected and datetime.fromisoformat(given).utcoffset() == timedelta(0)


@pytest.mark.parametrize("stored", ["2026-11-01", "2026-11", "soon", "", 1761998400, b"2026-11-01 12:00:00"])
def test_a_value_that_is_no_timestamp_is_refused(stored: object) -> None:
    """A date alone is no moment (date columns stay ``YYYY-MM-DD``, unlisted); other values mean the metric's header
    names the wrong column: ValueError, which the results API answers as 409 stale_metric."""
    with pytest.raises(ValueError, match="not a UTC timestamp written YYYY-MM-DD HH:MM:SS"):
        rfc3339_utc(stored)


@pytest.mark.parametrize("stored", ["9999-12-31 23:30:00-01:00", "0001-01-01 00:30:00+01:00",
                                    datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))])
def test_a_moment_outside_the_years_1_to_9999_in_utc_is_refused_as_no_timestamp(stored: object) -> None:
    """Was: an OverflowError (from ``astimezone``), which the report and the results API did not take for a value
    they cannot read: ``fediscope report --format json`` ended in a traceback, the API in a 500."""
    with pytest.raises(ValueError, match=r"^not a UTC timestamp between the years 1 and 9999: '[0-9]"):
        rfc3339_utc(stored)


def test_rows_get_new_dicts_and_keep_their_stored_values() -> None:
    """A page's cursor is made from the stored values: converting the rows for the answer must not change them."""
    rows = [{"id": 1, "created_at": "2026-11-01 12:00:00", "day": "2026-11-01"}, {"id": 2, "day": "2026-11-02"}]
    assert rfc3339_rows(rows, ("created_at",)) == [
        {"id": 1, "created_at": "2026-11-01T12:00:00Z", "day": "2026-11-01"}, {"id": 2, "day": "2026-11-02"}]
    assert rows[0]["created_at"] == "2026-11-01 12:00:00"
    assert rfc3339_rows(rows, ()) is rows


def test_the_shipped_timestamp_columns() -> None:
    """top_toots.created_at is the only shipped column holding a moment; days, weeks and months are dates."""
    listed = {name: metric.timestamp_columns for name, metric in load_metrics().items() if metric.timestamp_columns}
    assert listed == {"top_toots": ("created_at",)}
