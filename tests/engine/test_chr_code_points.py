"""``chr(n)`` is the character of code point ``n`` on Spark as on DuckDB. Was: Spark's ``CHR`` takes ``n`` modulo
256, so ``chr(8233)`` (the paragraph separator) was ``)`` and ``chr(128512)`` (😀) was ``\\x00``, in an own metric
that replaced or counted such characters."""

from __future__ import annotations

import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import to_spark

SELECT = """SELECT n, chr(n) AS computed, chr(10) AS line_break, chr(255) AS y_umlaut, chr(8233) AS paragraph,
  chr(128512) AS grin
FROM (VALUES (1, 65), (2, 256), (3, 12288), (4, 1114111), (5, NULL)) AS t(i, n) ORDER BY i"""

EXPECTED = [(65, "A"), (256, "\u0100"), (12288, "\u3000"), (1114111, "\U0010ffff"), (None, None)]


@pytest.mark.parametrize("engine", ENGINES)
def test_chr_is_the_character_of_its_code_point_on_every_engine(engine: str, request: pytest.FixtureRequest) -> None:
    got = rows_on(engine, SELECT, request)
    assert got == [(*pair, "\n", "\u00ff", "\u2029", "\U0001f600") for pair in EXPECTED]


def test_chr_of_a_code_point_up_to_255_is_left_as_it_is() -> None:
    assert to_spark("SELECT chr(10) || chr(255) FROM statuses") == "SELECT CHR(10) || CHR(255) FROM statuses"


@pytest.mark.parametrize("engine", ENGINES)
def test_chr_of_a_number_in_a_values_row(engine: str, request: pytest.FixtureRequest) -> None:
    """A VALUES row takes constants only on Spark: ``chr`` of a number is written as the character itself."""
    sql = "SELECT s FROM (VALUES ('e' || chr(769)), (chr(8203))) AS t(s)"
    got = rows_on(engine, sql, request)
    assert got == [("e\u0301",), ("\u200b",)]
