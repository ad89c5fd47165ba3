"""Own-metric constructs that passed the portability check and then failed the Spark run with Spark's error where
DuckDB answers: written for Spark so that it gives DuckDB's answer, or refused up front saying what to write."""

from __future__ import annotations

import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import to_spark


@pytest.mark.parametrize(("duckdb", "spark"), [
    ("a{,2}", "a\\\\{,2}"),  # RE2: the text 'a{,2}'; Java: Illegal repetition
    ("x{", "x\\\\{"),
    ("a{ 2}", "a\\\\{ 2}"),
    ("a{2}b{2,}c{2,3}", "a{2}b{2,}c{2,3}"),  # repetitions: alike
    ("\\x{41}{,1}", "\\\\x{41}\\\\{,1}"),  # an escape's braces are kept
    ("[{]", "[{]"),  # in a class: itself in both
])
def test_a_brace_that_begins_no_repetition_is_escaped_for_java(duckdb: str, spark: str) -> None:
    assert to_spark(f"SELECT regexp_matches(uri, '{duckdb}') FROM statuses") == (
        f"SELECT uri RLIKE '{spark}' FROM statuses")


@pytest.mark.spark
@pytest.mark.parametrize("engine", ENGINES)
def test_a_brace_that_begins_no_repetition_matches_itself_on_every_engine(
        engine: str, request: pytest.FixtureRequest) -> None:
    sql = ("SELECT regexp_matches(s, 'a{,2}') AS literal, regexp_matches(s, '^a{2}') AS repeated "
           "FROM (VALUES (1, 'a{,2}'), (2, 'aa')) AS t(i, s) ORDER BY i")
    assert rows_on(engine, sql, request) == [(True, False), (False, True)]
