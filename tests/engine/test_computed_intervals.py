"""A computed INTERVAL on Spark: ``date_add(ts, n * INTERVAL 1 DAY)`` adds it as DuckDB does, and ``INTERVAL (n) DAY``,
which Spark does not parse, is refused before Spark starts, naming what to write. Was: both went to Spark as they
were and failed the run there (``DATE_ADD`` takes a number of days only; ``INTERVAL (n)`` read as a function)."""

from __future__ import annotations

import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable

SELECT = """SELECT date_add(ts, n * INTERVAL 1 DAY) AS days, date_add(ts, INTERVAL 2 HOUR * n) AS hours,
  date_add(ts, INTERVAL 1 MONTH) AS month
FROM (VALUES (1, TIMESTAMP '2024-01-31 10:00:00', 3), (2, NULL, NULL)) AS t(i, ts, n) ORDER BY i"""


@pytest.mark.parametrize("engine", ENGINES)
def test_date_add_of_a_computed_interval_adds_it_on_every_engine(engine: str, request: pytest.FixtureRequest) -> None:
    from datetime import datetime

    got = rows_on(engine, SELECT, request)
    assert got == [(datetime(2024, 2, 3, 10), datetime(2024, 1, 31, 16), datetime(2024, 2, 29, 10)), (None, None, None)]


def test_an_interval_of_a_computed_value_is_refused_naming_what_to_write() -> None:
    with pytest.raises(NotPortableError) as refused:
        check_portable("SELECT created_at + INTERVAL (favourites_count) DAY FROM statuses", "q")
    assert str(refused.value) == (
        "q: an INTERVAL of a computed value (INTERVAL (favourites_count) DAY) is not translated to Spark SQL (Spark "
        "does not parse it, and fails the run); write n * INTERVAL 1 DAY, alike in both (DuckDB's INTERVAL (n) DAY "
        "cuts a fraction of n off, in every unit but SECOND: the same for a whole n)")
