"""A count, position or index computed from a ``sum`` of whole numbers (``left(s, sum(x) - n)``, ``l[sum(x)]``) is
refused up front, saying to cast the sum: DuckDB's sum of whole numbers is a HUGEINT, which ``left``, ``right``,
``substring``, ``repeat``, ``split_part`` and a list's index refuse (``No function matches … left(VARCHAR,
HUGEINT)``), so the DuckDB engine failed the metric that ``fediscope doctor`` and ``--engine spark`` took (Spark's
sum is a BIGINT: ``left`` gave ``'a'``). Cast, it runs on both engines alike."""

from __future__ import annotations

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable

VALUES = "(VALUES ('abcdef', [10, 20, 30], 1, 1), ('abcdef', [10, 20, 30], 2, 1)) AS v(s, l, x, n)"
REFUSED = {
    "left(s, sum(x) - n)": "left() with SUM(x) - n (LEFT(s, SUM(x) - n))",
    "l[sum(x)]": "l[i] with SUM(x) (l[SUM(x)])",
    "right(s, abs(sum(x)))": "right() with ABS(SUM(x))",
    "substring(s, 2, sum(x) * 2)": "substring() with SUM(x) * 2",
    "repeat(s, sum(DISTINCT x))": "repeat() with SUM(DISTINCT x)",
    "split_part(s, 'c', sum(x) - 2)": "split_part() with SUM(x) - 2",
}


@pytest.mark.parametrize("expression", REFUSED)
def test_a_count_of_a_whole_sum_is_refused_as_duckdb_refuses_it(expression: str) -> None:
    sql = f"SELECT {expression} AS c FROM {VALUES} GROUP BY s, l, n"
    with pytest.raises(duckdb.BinderException, match="No function matches"):
        duckdb.sql(sql).fetchall()
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql)
    assert str(refused.value).startswith(f"query: {REFUSED[expression]}")
    assert str(refused.value).endswith(", of a sum of whole numbers, a HUGEINT in DuckDB, which refuses it there "
                                       "(Spark took it); write CAST(SUM(x) AS BIGINT)") or "DISTINCT" in expression


@pytest.mark.parametrize("engine", ENGINES)
def test_the_advice_runs_alike_on_both_engines(engine: str, request: pytest.FixtureRequest) -> None:
    sql = ("SELECT left(s, CAST(sum(x) AS BIGINT) - n), l[CAST(sum(x) AS BIGINT)], left(s, count(*)), "
           f"l[-CAST(sum(x) AS BIGINT)] FROM {VALUES} GROUP BY s, l, n")
    check_portable(sql)
    assert duckdb.sql(sql).fetchall() == [("ab", 30, "ab", 10)]
    assert rows_on(engine, sql, request) == [("ab", 30, "ab", 10)]
