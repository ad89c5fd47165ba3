"""A ``substring``/``left``/``right`` position or length past Spark's INT: DuckDB takes it as a BIGINT, Spark casts
it to INT. Was: ``substr(s, 2, 3000000000)`` was left as it was (a start other than 0, a length of 0 or more) and
failed the Spark run with CAST_OVERFLOW, where DuckDB gives the rest of the text."""

from __future__ import annotations

import pytest
from sql_rows import ENGINES, rows_on

SELECT = """SELECT substr(s, 2, 3000000000) AS rest, substr(s, 3000000000, 2) AS past_end,
  substr(s, -3000000000, 3000000002) AS from_before, left(s, 3000000000) AS left_all, right(s, -3000000000) AS none
FROM (VALUES ('hello')) AS t(s)"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_position_or_length_past_an_int_gives_duckdbs_answer(engine: str, request: pytest.FixtureRequest) -> None:
    got = rows_on(engine, SELECT, request)
    assert got == [("ello", "", "hello", "hello", "")]
