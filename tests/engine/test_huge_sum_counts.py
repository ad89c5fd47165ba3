"""A count, position or index computed from a ``sum`` of whole numbers (``left(s, sum(x) - n)``, ``l[sum(x)]``) is
refused up front, saying to cast the sum: DuckDB's sum of whole numbers is a HUGEINT, which ``left``, ``right``,
``substring``, ``repeat``, ``split_part``, ``lpad``/``rpad``, ``chr``, ``round``'s places, ``range``/``generate_series``
and a list's index refuse (``No function matches … left(VARCHAR, HUGEINT)``), also of a CTE's or subquery's column
summed so, so the DuckDB engine failed the metric that ``fediscope doctor`` and ``--engine spark`` took (Spark's
sum is a BIGINT: ``left`` gave ``'a'``). Cast, it runs on both engines alike."""

from __future__ import annotations

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable

VALUES = "(VALUES ('abcdef', [10, 20, 30], 1, 1), ('abcdef', [10, 20, 30], 2, 1)) AS v(s, l, x, n)"
REFUSED = {
    "left(s, sum(x) - n)": "left() with sum(x) - n (left(s, sum(x) - n))",
    "l[sum(x)]": "l[i] with sum(x) (l[sum(x)])",
    "right(s, abs(sum(x)))": "right() with abs(sum(x)) (right(s, abs(sum(x))))",
    "substring(s, 2, sum(x) * 2)": "substring() with sum(x) * 2",
    "repeat(s, sum(DISTINCT x))": "repeat() with sum(DISTINCT x)",
    "split_part(s, 'c', sum(x) - 2)": "split_part() with sum(x) - 2",
    "range(sum(x))": "range() with sum(x) (range(sum(x)))",
    "left(s, coalesce(sum(x), 0))": "left() with coalesce(sum(x), 0)",
    "generate_series(1, sum(x), 1)": "generate_series() with sum(x) (generate_series(1, sum(x), 1))",
}
#: the sum in a CTE's or a subquery's column, the count computed from that column
THROUGH_A_COLUMN = {
    f"WITH t AS (SELECT s, sum(x) AS total FROM {VALUES} GROUP BY s) SELECT left(s, total - 1) AS c FROM t":
        "left() with total - 1 (left(s, total - 1)), of a sum of whole numbers (total, from sum(x)),",
    f"SELECT l[n] AS c FROM (SELECT l, sum(x) AS n FROM {VALUES} GROUP BY l) AS u":
        "l[i] with n (l[n]), of a sum of whole numbers (n, from sum(x)),",
    f"WITH t AS (SELECT s, sum(x) AS total FROM {VALUES} GROUP BY s), u AS (SELECT s, total + 1 AS m FROM t) "
    "SELECT repeat(s, m) AS c FROM u": "repeat() with m (repeat(s, m)), of a sum of whole numbers (m, from sum(x)),",
}
#: lpad/rpad's count and chr's code point: an INTEGER in DuckDB, which refuses a BIGINT there too (Spark casts it)
INTEGER_ONLY = {
    "lpad(s, sum(x) + 6, '-')": "lpad() with sum(x) + 6 (lpad(s, sum(x) + 6, '-')), of a sum of whole numbers, a "
                                "HUGEINT in DuckDB, which takes an INTEGER there and refuses it (Spark took it); "
                                "write CAST(sum(x) + 6 AS INT)",
    "rpad(s, count(*) + 6, '-')": "rpad() with count(*) + 6 (rpad(s, count(*) + 6, '-')), a BIGINT in DuckDB, which "
                                  "takes an INTEGER there and refuses it (Spark took it); write "
                                  "CAST(count(*) + 6 AS INT)",
    "lpad(s, length(s) + 1, '-')": "lpad() with length(s) + 1 (lpad(s, length(s) + 1, '-')), a BIGINT",
    "lpad(s, strpos(s, 'b'), '-')": "lpad() with strpos(s, 'b') (lpad(s, strpos(s, 'b'), '-')), a BIGINT",
    "chr(instr(s, 'a') + 64)": "chr() with instr(s, 'a') + 64 (chr(instr(s, 'a') + 64)), a BIGINT",
    "rpad(s, levenshtein(s, 'ab'), '-')": "rpad() with levenshtein(s, 'ab') (rpad(s, levenshtein(s, 'ab'), '-')), "
                                          "a BIGINT",
    "lpad(s, strlen(s), '-')": "lpad() with strlen(s) (lpad(s, strlen(s), '-')), a BIGINT",
    "rpad(s, length_grapheme(s) + 1, '-')": "rpad() with length_grapheme(s) + 1 (rpad(s, length_grapheme(s) + 1, "
                                            "'-')), a BIGINT",
    "chr(sum(x) + 64)": "chr() with sum(x) + 64 (chr(sum(x) + 64)), of a sum of whole numbers, a HUGEINT",
    "chr(CAST(sum(x) AS BIGINT) + 64)": "chr() with CAST(sum(x) AS BIGINT) + 64 (chr(CAST(sum(x) AS BIGINT) + 64)), "
                                        "a BIGINT",
}


def _refused_by_both(sql: str) -> str:
    """The portability check's refusal of ``sql``, which DuckDB refuses too (its binder finds no such function)."""
    with pytest.raises(duckdb.BinderException, match="No function matches"):
        duckdb.sql(sql).fetchall()
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql)
    return str(refused.value)


@pytest.mark.parametrize("expression", REFUSED)
def test_a_count_of_a_whole_sum_is_refused_as_duckdb_refuses_it(expression: str) -> None:
    sql = f"SELECT {expression} AS c FROM {VALUES} GROUP BY s, l, n"
    refused = _refused_by_both(sql)
    assert refused.startswith(f"query: {REFUSED[expression]}")
    assert refused.endswith(", of a sum of whole numbers, a HUGEINT in DuckDB, which refuses it there "
                            "(Spark took it); write CAST(sum(x) AS BIGINT)") or "DISTINCT" in expression


@pytest.mark.parametrize("sql", THROUGH_A_COLUMN)
def test_a_count_of_a_whole_sum_through_a_cte_or_subquery_column_is_refused(sql: str) -> None:
    """The column is followed to the SELECT computing it (was: let through, as sqlglot types the column BIGINT)."""
    refused = _refused_by_both(sql)
    assert refused.startswith(f"query: {THROUGH_A_COLUMN[sql]}")
    assert refused.endswith("; write CAST(sum(x) AS BIGINT) in the CTE or subquery that sums it")


@pytest.mark.parametrize("expression", INTEGER_ONLY)
def test_an_integer_count_of_a_bigint_or_a_whole_sum_is_refused_as_duckdb_refuses_it(expression: str) -> None:
    sql = f"SELECT {expression} AS c FROM {VALUES} GROUP BY s, l, n"
    refused = _refused_by_both(sql)
    assert refused.startswith(f"query: {INTEGER_ONLY[expression]}")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_advice_runs_alike_on_both_engines(engine: str, request: pytest.FixtureRequest) -> None:
    sql = ("SELECT left(s, CAST(sum(x) AS BIGINT) - n), l[CAST(sum(x) AS BIGINT)], left(s, count(*)), "
           "l[-CAST(sum(x) AS BIGINT)], lpad(s, CAST(sum(x) + 6 AS INT), '-'), chr(CAST(sum(x) + 64 AS INT)), "
           f"range(CAST(sum(x) AS BIGINT)), rpad(s, CAST(length(s) + 1 AS INT), '-') FROM {VALUES} GROUP BY s, l, n")
    check_portable(sql)
    expected = [("ab", 30, "ab", 10, "---abcdef", "C", [0, 1, 2], "abcdef-")]
    assert duckdb.sql(sql).fetchall() == expected
    assert rows_on(engine, sql, request) == expected
    through = (f"WITH t AS (SELECT s, CAST(sum(x) AS BIGINT) AS total FROM {VALUES} GROUP BY s) "
               "SELECT left(s, total - 1) FROM t")
    check_portable(through)
    assert rows_on(engine, through, request) == [("ab",)]


@pytest.mark.spark
def test_spark_takes_what_duckdb_refuses_so_the_refusal_is_needed(spark) -> None:  # noqa: ANN001
    """The refused forms run on Spark (sqlglot's own translation, unchecked): the DuckDB engine alone failed them."""
    import sqlglot

    for sql, row in ((f"SELECT lpad(s, sum(x) + 6, '-'), chr(count(*) + 64) FROM {VALUES} GROUP BY s",
                      ("---abcdef", "B")),
                     (f"SELECT left(s, total - 1) FROM (SELECT s, sum(x) AS total FROM {VALUES} GROUP BY s) AS u",
                      ("ab",))):
        spark_sql = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
        assert [tuple(r) for r in spark.sql(spark_sql).collect()] == [row], sql
