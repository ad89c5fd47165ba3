"""Two inputs the check passed that the engines answered differently:

* ``range``/``generate_series`` of timestamps as a list: Spark stopped the run on ``range``'s (the translation
  compared its INTERVAL step with 0: ``DATATYPE_MISMATCH``) and on a ``generate_series`` whose end lies before its
  start (``Illegal sequence boundaries``; DuckDB gives ``[]``). Refused, as the same series as a table already was;
  the advice (whole numbers, the timestamps computed from them) runs alike on both engines.
* ``split_part`` with a part index of text or JSON (``json_extract_string(j, '$.i')``): DuckDB refuses it
  (``No function matches … array_extract(VARCHAR[], VARCHAR)``), Spark read it as a number. Refused, as a DOUBLE
  index already was; the advice runs alike."""

from __future__ import annotations

import datetime

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable

A, B = "TIMESTAMP '2026-01-01 00:00:00'", "TIMESTAMP '2026-01-01 03:30:00'"


@pytest.mark.parametrize("series", [f"range({A}, {B}, INTERVAL 1 HOUR)", f"generate_series({B}, {A}, INTERVAL 1 HOUR)",
                                    f"generate_series({A}, {B}, INTERVAL 1 HOUR)"])
def test_a_series_of_timestamps_as_a_list_is_refused(series: str) -> None:
    sql = f"SELECT {series} AS r"
    duckdb.sql(sql).fetchall()  # DuckDB's answer; Spark stopped the run on the first two
    advice = r"list_transform\(range\(n\), lambda h: start \+ h \* INTERVAL 1 HOUR\)"
    with pytest.raises(NotPortableError, match=r"\(\) of timestamps as a list \(.*\) is not translated to Spark SQL .*"
                                               + advice):
        check_portable(sql)
    with pytest.raises(NotPortableError, match="of timestamps as a list"):
        check_portable(f"SELECT unnest({series}) AS t")


@pytest.mark.parametrize("index", ["json_extract_string(j, '$.i')", "json_extract(j, '$.i')", "CAST(j AS VARCHAR)"])
def test_a_part_index_of_text_or_json_is_refused_as_duckdb_refuses_it(index: str) -> None:
    sql = f"SELECT split_part('a/b/c', '/', {index}) AS p FROM (VALUES ('{{\"i\": 2}}')) AS v(j)"
    with pytest.raises(duckdb.BinderException, match="No function matches"):
        duckdb.sql(sql).fetchall()
    with pytest.raises(NotPortableError, match=r"split_part\(\) with the part index .*, text or JSON, not a number, "
                                               r"is not translated to Spark SQL .* CAST\(floor\(CAST\(i AS DOUBLE\)\) "
                                               r"AS BIGINT\) of the index i$"):
        check_portable(sql)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_advice_runs_alike_on_both_engines(engine: str, request: pytest.FixtureRequest) -> None:
    sql = (f"SELECT list_transform(range(4), lambda h: {A} + h * INTERVAL 1 HOUR), "
           "split_part('a/b/c', '/', CAST(floor(CAST(json_extract_string(j, '$.i') AS DOUBLE)) AS BIGINT)) "
           "FROM (VALUES ('{\"i\": 2.5}')) AS v(j)")
    check_portable(sql)
    hours = [datetime.datetime(2026, 1, 1, h) for h in range(4)]
    assert duckdb.sql(sql).fetchall() == [(hours, "b")]
    assert duckdb.sql(f"SELECT range({A}, {B}, INTERVAL 1 HOUR)").fetchall() == [(hours,)]  # what it stands for
    assert rows_on(engine, sql, request) == [(hours, "b")]
