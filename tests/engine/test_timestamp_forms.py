"""Curation reads a timestamp the same on DuckDB, Spark and the MapReduce mapper (``curate_sql._ts``).

Each engine's own cast accepts more than ISO 8601, but not the same more: DuckDB read ``24:00:00`` and `` utc``,
Spark ``+1`` and a space before the offset, and only DuckDB a time without seconds, so one raw status was
curated on one engine and dropped (or another version of it kept) on the other. Only the form of
``curate_sql.TIMESTAMP_RE`` reaches a cast now; these are the exact instants every implementation must give.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from engine_data import settings_for

from fediscope.engine import curate_sql
from fediscope.engine.dialect import to_spark
from fediscope.engine.duckdb_engine import DuckDBEngine
from spark_jobs.mapreduce import mapper

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(*parts: int, offset: timedelta = timedelta(0)) -> int:
    moment = datetime(*parts, tzinfo=UTC) - offset
    return (moment - EPOCH) // timedelta(microseconds=1)


#: (text, microseconds since the epoch in UTC, or None: unknown)
CASES: list[tuple[str, int | None]] = [
    ("2026-08-01T13:55:50.338Z", _us(2026, 8, 1, 13, 55, 50, 338000)),  # Mastodon's form
    ("2026-08-01T13:55:50Z", _us(2026, 8, 1, 13, 55, 50)),
    ("2026-08-01T13:55:50.123456789Z", _us(2026, 8, 1, 13, 55, 50, 123456)),  # beyond microseconds: truncated
    ("2026-08-01T13:55:50.000+00:00", _us(2026, 8, 1, 13, 55, 50)),
    ("2026-08-01T13:55:50+02:00", _us(2026, 8, 1, 11, 55, 50)),
    ("2026-08-01T13:55:50.5-05:30", _us(2026, 8, 1, 19, 25, 50, 500000)),
    ("2026-08-01T13:55:50+0200", _us(2026, 8, 1, 11, 55, 50)),
    ("2026-08-01T13:55:50+01", _us(2026, 8, 1, 12, 55, 50)),
    ("2026-08-01T13:55:50+18:00", _us(2026, 7, 31, 19, 55, 50)),
    ("2026-08-01T13:55:50-1800", _us(2026, 8, 2, 7, 55, 50)),
    ("2026-08-01 13:55:50Z", _us(2026, 8, 1, 13, 55, 50)),
    ("2026-08-01T13:55:50", _us(2026, 8, 1, 13, 55, 50)),  # no offset: UTC
    ("2026-08-01", _us(2026, 8, 1)),  # a date alone: its midnight
    ("2026-08-01T13:55Z", _us(2026, 8, 1, 13, 55)),  # no seconds (Spark reads none: ':00' is added)
    ("2026-08-01T13:55+02:00", _us(2026, 8, 1, 11, 55)),
    ("2026-08-01T13:55", _us(2026, 8, 1, 13, 55)),
    ("2024-02-29T23:59:59.999999Z", _us(2024, 2, 29, 23, 59, 59, 999999)),
    ("1582-10-10T00:00:00Z", _us(1582, 10, 10)),  # in the Julian-to-Gregorian gap: proleptic Gregorian everywhere
    ("0001-01-01T00:00:00Z", _us(1, 1, 1)),
    # forms one engine read and another did not (or read otherwise): unknown on every engine
    ("2026-08-01T24:00:00Z", None),
    ("9999-12-31T24:00:00Z", None),
    ("2026-08-01T13:55:50 utc", None),
    ("2026-08-01T13:55:50 UTC", None),
    ("2026-08-01T13:55:50+1", None),
    ("2026-08-01T13:55:50UTC+01:00", None),
    ("2026-08-01T13:55:50.338 +01:00", None),
    ("2026-08-01T13:55:50+01:00:30", None),
    ("2026-08-01T13:55:50+18:30", None),
    ("2026-08-01T13:55:50+24:00", None),
    ("2026-08-01T13:55:50.Z", None),
    ("2026-08-01t13:55:50z", None),
    ("2026-8-1T13:55:50Z", None),
    ("12026-08-01T00:00:00Z", None),
    (" 2026-08-01T13:55:50Z", None),
    ("2026-08-01T13:55:50Z\n", None),
    ("\uff12\uff10\uff12\uff16-08-01", None),  # fullwidth digits: Python's \d matches them, the engines' [0-9] not
    # no such time
    ("2026-02-30", None),
    ("2026-02-30T00:00:00Z", None),
    ("2026-08-01T13:55:60Z", None),
    ("2026-13-01T00:00:00Z", None),
    ("", None),
    ("yesterday", None),
]
TEXTS = [text for text, _ in CASES]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duckdb(tmp_path: Path) -> list[int | None]:
    values = ", ".join(f"({i}, {_literal(t)})" for i, t in enumerate(TEXTS))
    sql = (f"SELECT epoch_us({curate_sql._ts('t')}) AS us FROM (VALUES {values}) AS texts(i, t) ORDER BY i")
    with DuckDBEngine(settings_for(tmp_path / "lake")) as engine:
        return [row["us"] for row in engine.query(sql)]


def _spark(spark) -> list[int | None]:  # noqa: ANN001
    spark.createDataFrame(list(enumerate(TEXTS)), "i INT, t STRING").createOrReplaceTempView("ts_texts")
    try:
        spark.sql(to_spark(f"SELECT i, {curate_sql._ts('t')} AS ts FROM ts_texts")).createOrReplaceTempView("ts_read")
        # unix_micros: year 1 and the like are no Python datetime, and the instant is what is compared
        rows = spark.sql("SELECT unix_micros(CAST(ts AS TIMESTAMP)) AS us FROM ts_read ORDER BY i").collect()
        return [row["us"] for row in rows]
    finally:
        spark.catalog.dropTempView("ts_read")
        spark.catalog.dropTempView("ts_texts")


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark), "mapper"])
def test_every_engine_reads_a_timestamp_alike(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if engine == "duckdb":
        got = _duckdb(tmp_path)
    elif engine == "spark":
        got = _spark(request.getfixturevalue("spark"))
    else:
        got = [mapper.micros(t) for t in TEXTS]
    wrong = [(text, expected, us) for (text, expected), us in zip(CASES, got, strict=True) if us != expected]
    assert not wrong, f"{engine} read these otherwise (text, expected, got): {wrong}"
    assert sum(us is None for us in got) >= 20 and sum(us is not None for us in got) >= 15


def test_the_mapper_carries_the_curation_timestamp_pattern() -> None:
    """The mapper (shipped alone to Hadoop nodes) keeps a copy of the pattern: the same one, in Python's anchors."""
    assert mapper.TIMESTAMP_RE.pattern == curate_sql.TIMESTAMP_RE.removeprefix("^").replace(r"\z", r"\Z")
    assert re.fullmatch(mapper.TIMESTAMP_RE.pattern, "2026-08-01T13:55:50.338Z")
