"""``dow()``, ``weekday()`` and ``yearweek()`` are refused with what to write instead, advice that is itself
portable and gives DuckDB's numbers on both engines. Was: the generic ``dow() is not portable to Spark SQL (use
array_length for lists, date_diff arithmetic for weekdays)``, where ``isodow``/``dayofweek`` named the expression."""

from __future__ import annotations

import datetime

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable

#: around the years' turns, where the ISO year is not the calendar year (2020-12-28 is in 2020-W53, 2021-01-03 too;
#: 2024-12-30 in 2025-W01), and before 1970-01-04, where a negative day difference's % 7 is negative
DAYS = [datetime.datetime(2020, 12, 26, 23, 30) + datetime.timedelta(days=n) for n in range(10)] + [
    datetime.datetime(2024, 12, 28, 0, 15) + datetime.timedelta(days=n) for n in range(6)] + [
    datetime.datetime(1969, 12, 27, 12) + datetime.timedelta(days=n) for n in range(9)]
VALUES = "(VALUES " + ", ".join(f"(TIMESTAMP '{day}')" for day in DAYS) + ") AS v(t)"


def _refusal(function: str) -> str:
    with pytest.raises(NotPortableError) as refused:
        check_portable(f"SELECT {function}(created_at) AS d, count(*) AS n FROM statuses GROUP BY d")
    return str(refused.value)


@pytest.mark.parametrize(("function", "says"), [
    ("dow", "query: dow() is a function of neither DuckDB nor Spark (DuckDB's date part dow, dayofweek(x), is "
            "Sunday = 0); for the ISO weekday write "),
    ("weekday", "query: weekday() is Sunday = 0 in DuckDB, Monday = 0 in Spark; for the ISO weekday write "),
    ("yearweek", "query: yearweek() (the ISO year times 100 plus the ISO week in DuckDB) is not a Spark function; "
                 "write "),
])
def test_each_is_refused_saying_what_it_is_and_what_to_write(function: str, says: str) -> None:
    assert _refusal(function).startswith(says)


def _advice() -> tuple[str, str, str]:
    """The ISO weekday, DuckDB's weekday (Sunday = 0) and yearweek as the refusals write them, of the column t."""
    weekday = _refusal("weekday").split("for the ISO weekday write ")[1]
    iso, sunday = weekday.removesuffix(" (Sunday = 0)").split(" (Monday = 1), for DuckDB's numbering ")
    yearweek = _refusal("yearweek").split("; write ")[1]
    return tuple(advice.replace("(x", "(t").replace("x)", "t)") for advice in (iso, sunday, yearweek))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_advice_is_portable_and_gives_duckdbs_numbers_on_both_engines(
        engine: str, request: pytest.FixtureRequest) -> None:
    iso, sunday, yearweek = _advice()
    sql = f"SELECT t, {iso} AS iso, {sunday} AS wd, {yearweek} AS yw FROM {VALUES} ORDER BY t"
    check_portable(sql)
    expected = duckdb.sql(f"SELECT t, isodow(t), weekday(t), yearweek(t) FROM {VALUES} ORDER BY t").fetchall()
    assert {row[3] for row in expected} >= {202053, 202101, 202452, 202501, 196952, 197001}  # the turns are covered
    assert rows_on(engine, sql, request) == expected
