"""``range``/``generate_series`` as a table (a calendar: ``FROM range(24) AS t(h) LEFT JOIN statuses …``) and the
weekday and ``date_diff`` refusals a researcher met writing one. Was:

* ``FROM range(3) AS t(id)`` translated to ``FROM EXPLODE(SEQUENCE(0, 2), _u(t))``, which Spark refused when the
  metric ran (``Cannot resolve routine `_u```), and doctor (pure Python) passed; and as a list ``range(1, 4, 2)``
  was ``[1]`` on Spark (``SEQUENCE(1, 2, 2)``), ``generate_series(1, n, 2)`` of ``n`` 0 stopped the run;
* ``date_diff('day', DATE '1970-01-05', created_at) AS d … GROUP BY d`` refused naming the DATE literal (``of
  CAST('1970-01-05' AS DATE), not known to be a DATE``) instead of ``created_at``, the TIMESTAMP;
* the ``dayofweek`` refusal advised ``date_diff('day', DATE '1970-01-05', d) % 7 + 1``, itself refused of a TIMESTAMP
  (and negative before 1970-01-05)."""

from __future__ import annotations

import datetime
import re

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable, to_spark

# each selects its column by the name DuckDB gives it: the alias's column, else the alias, else the function
SERIES = {
    "calendar": ("SELECT h, count(s.x) AS n FROM range(4) AS t(h) LEFT JOIN (VALUES (1), (1), (3)) AS s(x) "
                 "ON s.x = t.h GROUP BY h ORDER BY h", [(0, 0), (1, 2), (2, 0), (3, 1)]),
    "unaliased": ("SELECT range FROM range(3) ORDER BY 1", [(0,), (1,), (2,)]),
    "table_alias": ("SELECT t, t.t FROM range(1, 6, 2) AS t ORDER BY 1", [(1, 1), (3, 3), (5, 5)]),
    "backwards": ("SELECT h FROM range(5, 0, -2) AS t(h) ORDER BY 1", [(1,), (3,), (5,)]),
    "empty": ("SELECT count(*) FROM range(3, 3) AS t(h)", [(0,)]),
    "inclusive": ("SELECT generate_series FROM generate_series(1, 3) ORDER BY 1", [(1,), (2,), (3,)]),
    "inclusive_one": ("SELECT g FROM generate_series(2) AS g ORDER BY 1", [(0,), (1,), (2,)]),
    "inclusive_down": ("SELECT x FROM generate_series(3, 1, -1) AS g(x) ORDER BY 1", [(1,), (2,), (3,)]),
    "inclusive_computed_step": ("SELECT x FROM generate_series(7, 1, -(1 + 2)) AS g(x) ORDER BY 1",
                                [(1,), (4,), (7,)]),
    "joined": ("SELECT v.k, count(*) FROM (VALUES ('a'), ('b')) AS v(k), range(2) AS t(i) GROUP BY v.k ORDER BY 1",
               [("a", 2), ("b", 2)]),
}

# as a list: sqlglot wrote range's last value as end - step (range(1, 4, 2) was [1]) and generate_series's end as it
# is (Spark stopped at an end before the start: Illegal sequence boundaries)
LISTS = "FROM (VALUES (1, 0), (2, 4), (3, -3)) AS v(i, n) ORDER BY i"
SERIES |= {
    "list_steps": (f"SELECT range(1, n, 2), range(5, n, -2), range(n), range(2, n) {LISTS}",
                   [([], [5, 3, 1], [], []), ([1, 3], [5], [0, 1, 2, 3], [2, 3]),
                    ([], [5, 3, 1, -1], [], [])]),
    "list_inclusive": (f"SELECT generate_series(1, n, 2), generate_series(5, n, -2), generate_series(n) {LISTS}",
                       [([], [5, 3, 1], [0]), ([1, 3], [5], [0, 1, 2, 3, 4]), ([], [5, 3, 1, -1, -3], [])]),
    "list_literal": ("SELECT range(1, 4, 2), range(5, 0, -2), generate_series(3, 1, -1), range(0), "
                     "array_length(range(3))", [([1, 3], [5, 3, 1], [3, 2, 1], [], 3)]),
    "unnested": ("SELECT unnest(range(1, 6, 2)) AS x ORDER BY x", [(1,), (3,), (5,)]),
    # a step of 0 is [] in DuckDB; was: generate_series(1, 4, 0) stopped the run on Spark (Illegal sequence
    # boundaries), generate_series(1, 1, 0) and that of a computed 0 step from 1 to 1 were [1]
    "list_zero_step": (f"SELECT range(1, 4, 0), generate_series(1, 4, 0), generate_series(1, 1, 0), "
                       f"generate_series(1, i, n * 0), range(1, 4, n * 0) {LISTS}", [([], [], [], [], [])] * 3),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", SERIES)
def test_a_series_gives_duckdbs_rows_on_every_engine(
        engine: str, case: str, request: pytest.FixtureRequest) -> None:
    sql, rows = SERIES[case]
    assert duckdb.sql(sql).fetchall() == rows  # DuckDB's own answer, so that the case says what it is
    assert rows_on(engine, sql, request) == rows


def test_a_calendar_on_the_curated_statuses_is_spark_sql() -> None:
    """The researcher's calendar: Spark's own ``RANGE`` table, named as DuckDB names it (Spark's column is ``id``)."""
    assert to_spark("SELECT h, count(s.created_at) AS n FROM range(24) AS t(h) LEFT JOIN statuses AS s "
                    "ON hour(s.created_at) = t.h GROUP BY h") == (
        "SELECT h, COUNT(s.created_at) AS n FROM RANGE(0, 24, 1) AS t(h) LEFT JOIN statuses AS s "
        "ON HOUR(s.created_at) = t.h GROUP BY h")


@pytest.mark.parametrize(("sql", "message"), [
    # as written (was: range(0, v.n), sqlglot's start added)
    ("SELECT * FROM (VALUES (2)) AS v(n), range(v.n) AS t(h)",
     "range() as a table of another table's column (range(v.n)) is not translated to Spark SQL"),
    ("SELECT * FROM (VALUES (2)) AS v(n), generate_series(1, v.n, 2) AS t(h)",
     "generate_series() as a table of another table's column (generate_series(1, v.n, 2))"),
    ("SELECT h FROM range(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-02', INTERVAL 1 HOUR) AS t(h)",
     "range() of timestamps as a table"),
    ("SELECT h FROM generate_series(DATE '2024-01-01', DATE '2024-01-02', INTERVAL 1 DAY) AS t(h)",
     "generate_series() of timestamps as a table"),
    # DuckDB: Binder Error: interval cannot be 0!; Spark: FAILED_FUNCTION_CALL
    ("SELECT h FROM range(1, 4, 0) AS t(h)", "range() as a table with a step of 0 (range(1, 4, 0)) fails the run on "
                                             "both engines; write a step other than 0"),
    ("SELECT h FROM generate_series(4, 4, -0) AS t(h)", "generate_series() as a table with a step of 0"),
])
def test_a_series_table_spark_cannot_make_is_refused_up_front(sql: str, message: str) -> None:
    with pytest.raises(NotPortableError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_portable(sql)


@pytest.mark.parametrize("series", ["range(1, 5, 1, 2)", "generate_series(1, 5, 1, 2)", "range()"])
@pytest.mark.parametrize("place", ["SELECT {} AS l", "SELECT h FROM {} AS t(h)"])
def test_a_series_of_other_than_one_to_three_arguments_is_refused_as_duckdb_refuses_it(
        series: str, place: str) -> None:
    """Was: the fourth argument dropped, so that Spark ran ``range(1, 5, 1, 2)`` as ``range(1, 5, 1)`` (as a list
    ``SEQUENCE(1, 4, 1)``), where DuckDB refuses it (``No function matches … 'range(INTEGER_LITERAL, …)'``)."""
    sql = place.format(series)
    with pytest.raises(duckdb.BinderException, match=re.escape(f"'{series.split('(')[0]}(")):
        duckdb.sql(sql).fetchall()
    function = series.split("(")[0]
    count = 0 if series.endswith("()") else 4
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql)
    assert str(refused.value) == (
        f"query: {function}() with {count} arguments ({series}) is refused by DuckDB, which takes {function}(end), "
        f"{function}(start, end) or {function}(start, end, step), and is not translated to Spark SQL")


@pytest.mark.parametrize("grouped", ["", " GROUP BY d"])
def test_a_date_diff_of_a_timestamp_is_refused_naming_the_timestamp(grouped: str) -> None:
    with pytest.raises(NotPortableError, match=r"date_diff\('day', …\) of created_at, not known to be a DATE: .*"
                                               r"write CAST\(created_at AS DATE\)$"):
        check_portable(f"SELECT date_diff('day', DATE '1970-01-05', created_at) AS d FROM statuses{grouped}")


def test_the_weekday_advice_is_itself_portable_and_the_iso_weekday() -> None:
    with pytest.raises(NotPortableError) as refused:
        check_portable("SELECT dayofweek(created_at) AS wd FROM statuses")
    advice = str(refused.value).split("for the ISO weekday use ")[1].removesuffix(" (Monday = 1)")
    sql = f"SELECT {advice.replace('CAST(x ', 'CAST(created_at ')} AS wd, count(*) AS n FROM statuses GROUP BY wd"
    check_portable(sql)  # of a TIMESTAMP, grouped by it: not refused
    days = [datetime.datetime(1969, 12, 28, 23, 30) + datetime.timedelta(days=n) for n in range(9)]
    values = ", ".join(f"(TIMESTAMP '{day}')" for day in days)
    weekday = advice.replace("CAST(x ", "CAST(t ")
    rows = duckdb.sql(f"SELECT {weekday}, isodow(t) FROM (VALUES {values}) AS v(t)").fetchall()
    assert [wd for wd, _ in rows] == [iso for _, iso in rows] == [7, 1, 2, 3, 4, 5, 6, 7, 1]


@pytest.mark.parametrize("engine", ENGINES)
def test_floating_point_statistics_are_not_refused_and_agree_but_for_the_last_digits(
        engine: str, request: pytest.FixtureRequest) -> None:
    """Not refused, deliberately: the engines add the values in another order and by other formulas, so a DOUBLE
    statistic may differ in its last digits (``stddev_samp`` 3.7656119785455617 in DuckDB, 3.765611978545562 in
    Spark), ordinary floating-point rounding that the README states for every floating-point aggregate."""
    sql = ("SELECT stddev_samp(x), var_pop(x), corr(x, y), regr_slope(y, x) FROM (VALUES (5.218480833305253, 1.0), "
           "(7.916216388874584, 2.5), (0.4779177778297, 0.25)) AS t(x, y)")
    check_portable(sql)
    (expected,) = duckdb.sql(sql).fetchall()
    (got,) = rows_on(engine, sql, request)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
