"""A ``-- timestamps:`` column of text is checked as a whole: the plain values (``YYYY-MM-DD HH:MM:SS[.ffffff]``,
what ``strftime`` writes) by one Arrow cast, only the others one by one as the stores' readers read them
(:func:`~fediscope.timestamps.rfc3339_utc`), with the same verdicts and the same value named. Was: every distinct
value read in Python (about 13 µs each: 1.3 s a run for 100,000 distinct timestamps)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from fediscope.engine import metric_state
from fediscope.engine.metric_state import check_timestamp_columns
from fediscope.engine.metrics import parse_metric
from fediscope.errors import MetricFileError
from fediscope.timestamps import rfc3339_utc

STAMPED = parse_metric("stamped", "-- question: when?\n-- key: id\n-- timestamps: at\nSELECT 1")

#: each a value the readers take or refuse, plain or not: the cast must refuse what fromisoformat refuses
EDGES = ["2026-11-01 12:00:00", "2026-11-01T12:00:00", "2026-11-01 12:00:00.1", "2026-11-01 12:00:00.123456",
         "2026-11-01 12:00:00.1234567", "2024-02-29 00:00:00", "2026-02-29 00:00:00", "1900-02-29 00:00:00",
         "2000-02-29 23:59:59", "2026-04-31 00:00:00", "2026-13-01 00:00:00", "2026-00-10 00:00:00",
         "2026-11-00 00:00:00", "2026-11-01 24:00:00", "2026-11-01 23:60:00", "2026-11-01 23:59:60",
         "0000-01-01 00:00:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999", "2026-11-01 12:00",
         "2026-11-01", "2026-11-01 12:00:00Z", "2026-11-01 12:00:00+02:00", "9999-12-31 23:30:00-01:00",
         "2026-11-01 12:00:00 ", " 2026-11-01 12:00:00", "2026-11-01 12:00:00\n", "2026-11-01  12:00:00",
         "2026-11-01 1:00:00", "2026-1-01 12:00:00", "２０２６-11-01 12:00:00", "2026-11-01 12:00:00.", "", "x"]


def _verdict(values: list[str | None]) -> str | None:
    """The check's refusal of a column holding ``values`` (its message), None when it takes them."""
    table = pa.table({"id": list(range(len(values))), "at": pa.array(values, pa.string())})
    try:
        check_timestamp_columns(STAMPED, table.schema, table)
    except MetricFileError as exc:
        return str(exc)
    return None


def _python_takes(value: str) -> bool:
    try:
        rfc3339_utc(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("value", EDGES)
def test_each_value_is_taken_or_refused_as_the_readers_read_it(value: str) -> None:
    verdict = _verdict(["2026-11-01 12:00:00", value, None])
    assert (verdict is None) == _python_takes(value), verdict
    if verdict is not None:
        assert f"holds {value[:40]!r}, which is not a UTC timestamp" in verdict


def test_the_value_named_is_the_first_one_no_reader_takes() -> None:
    """A plain value the cast refuses makes every value read in Python: the one named is the column's first."""
    first = "2026-11-01 12:00:00+02:00 x"
    assert f"holds {first!r}," in _verdict(["2026-11-01 12:00:00", first, "2026-02-30 00:00:00"])
    assert "holds '2026-02-30 00:00:00'," in _verdict(["2026-11-01 12:00:00", "2026-02-30 00:00:00", first])
    assert _verdict(["2026-11-01 12:00:00+02:00", None, "2026-11-01T12:00:00.5"]) is None


def test_plain_timestamps_are_not_read_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 distinct plain timestamps and two with an offset: only those two are read in Python."""
    read: list[str] = []

    def counted(value: object) -> str | None:
        read.append(str(value))
        return rfc3339_utc(value)

    monkeypatch.setattr(metric_state, "rfc3339_utc", counted)
    start = datetime(2026, 1, 1)
    values = [str(start + timedelta(seconds=7 * n)) for n in range(10_000)]
    assert _verdict([*values, "2026-11-01 12:00:00+02:00", "2026-11-01 12:00:00Z", *values]) is None
    assert read == ["2026-11-01 12:00:00+02:00", "2026-11-01 12:00:00Z"]
