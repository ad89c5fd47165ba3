"""``INTERVAL -1 DAY`` (a sign before the interval's number) is refused up front with what to write: DuckDB's
parser refuses it (``syntax error at or near "DAY"``), so the DuckDB engine failed the metric, where sqlglot reads
it as ``INTERVAL '-1' DAY`` and Spark ran it (``fediscope doctor`` and ``--engine spark`` took it)."""

from __future__ import annotations

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable

T = "TIMESTAMP '2026-01-02 00:00:00'"


@pytest.mark.parametrize(("interval", "advice"), [
    ("INTERVAL -1 DAY", "-INTERVAL 1 DAY or INTERVAL '-1' DAY"),
    ("INTERVAL +2 hours", "INTERVAL 2 hours or INTERVAL '2' hours"),
    ("INTERVAL -(n + 1) DAY", "-(n + 1) * INTERVAL 1 DAY"),
    ("INTERVAL - n MINUTE", "-n * INTERVAL 1 MINUTE"),
])
def test_a_signed_interval_is_refused_as_duckdb_refuses_it(interval: str, advice: str) -> None:
    sql = f"SELECT {T} + {interval} AS t FROM (VALUES (1)) AS v(n)"
    with pytest.raises(duckdb.ParserException, match="syntax error"):
        duckdb.sql(sql).fetchall()
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql)
    unit = interval.split()[-1]
    assert str(refused.value) == (f"query: {interval} (a sign before the interval's number) is not valid DuckDB SQL "
                                  f"(a syntax error at {unit}), though Spark takes it; write {advice}")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_advice_runs_alike_on_both_engines(
        engine: str, request: pytest.FixtureRequest) -> None:
    sql = (f"SELECT {T} + -INTERVAL 1 DAY, {T} + INTERVAL '-1' DAY, {T} + -(n + 1) * INTERVAL 1 DAY "
           "FROM (VALUES (1)) AS v(n)")
    check_portable(sql)
    expected = duckdb.sql(sql).fetchall()
    assert [tuple(str(value) for value in row) for row in expected] == [
        ("2026-01-01 00:00:00", "2026-01-01 00:00:00", "2025-12-31 00:00:00")]
    assert rows_on(engine, sql, request) == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_a_column_named_interval_is_that_column_on_both_engines(engine: str, request: pytest.FixtureRequest) -> None:
    """``interval - 1`` is the column ``interval`` minus 1 to DuckDB; sqlglot read it as ``INTERVAL '-1'`` (which
    Spark refused), ``interval * 2`` as a sum of intervals and ``interval / 2`` not at all."""
    sql = ("SELECT interval - 1 AS a, interval + 1 AS b, interval * 2 AS c, interval / 2 AS d, interval % 2 AS e, "
           "interval-n AS f, interval - interval AS g FROM (VALUES (5, 2)) AS v(interval, n)")
    check_portable(sql)
    expected = duckdb.sql(sql).fetchall()
    assert expected == [(4, 6, 10, 2.5, 1, 3, 0)]
    assert rows_on(engine, sql, request) == expected
