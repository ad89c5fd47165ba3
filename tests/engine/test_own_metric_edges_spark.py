"""Own metrics at the edges where DuckDB and Spark disagreed: each case stores the same rows on both engines, or
fails on both with the same clear error (exit 2 where it is the metric's to mend). Was:

* ``sum`` of BIGINTs whose partial sums pass 64 bits (2^63 - 1, 10 and -20): DuckDB sums to a HUGEINT and stored
  the total, Spark stopped with ``[ARITHMETIC_OVERFLOW] … Use 'try_add'``; a total beyond 64 bits, refused by DuckDB
  with ``CAST it to DOUBLE``, was the same overflow on Spark, also for ``CAST(sum(x) AS DOUBLE)``, the advice;
* a ``TIMESTAMPTZ`` result column: stored ``2024-01-01 08:00:00+00:00`` by DuckDB, ``2024-01-01 08:00:00`` by Spark;
* ``\\b``/``\\B`` next to a non-ASCII letter: RE2's word characters are ASCII (``'éa' ~ '\\ba'`` true), Java 17's
  any letter, digit or combining mark (false);
* ``to_timestamp`` beyond the year 9999: a Python ``OverflowError`` (DuckDB) or ``ValueError: year 10000 is out of
  range`` (Spark) while the rows were stored, and beyond 2^63 microseconds DuckDB's ``Epoch seconds out of range``
  where Spark said ``[CAST_OVERFLOW] … "DOUBLE" cannot be cast to "BIGINT"``;
* a calendar, ``FROM range(24) AS t(h)``: refused by Spark when the metric ran (``Cannot resolve routine `_u```)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, own_metric_settings, stored_rows

KEY = "own-metric-edges-spark-test-pseudonym-key"
ONE = "FROM (SELECT DISTINCT instance FROM statuses) AS s CROSS JOIN"
BIG = "(VALUES (CAST(9223372036854775807 AS BIGINT)), (CAST(10 AS BIGINT))"

CASES = {
    # the total fits 64 bits, a partial sum does not; also with FILTER and DISTINCT, cast and in arithmetic
    "sums": (f"-- key: instance\nSELECT instance, sum(x) AS total, sum(x) FILTER (WHERE x <> 10) AS filtered, "
             f"sum(DISTINCT x) AS distinct_total, CAST(sum(x) AS DOUBLE) AS as_double, "
             f"max(x) - sum(x) AS rest {ONE} {BIG}, (CAST(-20 AS BIGINT))) AS v(x) GROUP BY instance", "rows"),
    # a total beyond 64 bits computed with, to a result within them (was: refused on Spark as "wider than 64 bits")
    "sums_computed_with": (f"-- key: instance\nSELECT instance, sum(x) - 100 AS rest, sum(x) / 2 AS half {ONE} {BIG}) "
                           "AS v(x) GROUP BY instance HAVING sum(x) > 9223372036854775807", "rows"),
    "sum_as_double": (f"-- key: instance\nSELECT instance, CAST(sum(x) AS DOUBLE) AS total {ONE} {BIG}) AS v(x) "
                      "GROUP BY instance", "rows"),
    "sum_too_wide": (f"-- key: instance\nSELECT instance, sum(x) AS total {ONE} {BIG}) AS v(x) GROUP BY instance",
                     "9223372036854775817, wider than the 64 bits every store holds; CAST it to DOUBLE in the "
                     "metric's SQL"),
    "zoned": ("-- key: instance\nSELECT instance, TIMESTAMPTZ '2024-01-01 10:00:00+02' AS fixed, "
              "CAST(max(created_at) AS TIMESTAMPTZ) AS latest, to_timestamp(1.5) AS epoch FROM statuses "
              "GROUP BY instance", "rows"),
    "word_bounds": ("-- key: instance, word\nSELECT instance, word, regexp_matches(word, '\\ba') AS starts, "
                    "regexp_matches(word, 'a\\b') AS ends, regexp_matches(word, '\\Ba') AS inside, "
                    "regexp_extract(word, '\\b\\w+', 0) AS first_word, regexp_matches(word, '(?i)\\bk') AS k_word, "
                    f"regexp_replace(word, '\\b', '|', 'g') AS marked {ONE} (VALUES ('éa'), ('aé'), ('дa'), "
                    "('a\u0301'), ('a\u00b2'), ('a\u0661'), ('\u212ak'), ('\u017fk'), ('x a_b')) AS v(word)", "rows"),
    "after_9999": (f"-- key: instance, n\nSELECT instance, n, year(to_timestamp(n)) AS y, to_timestamp(n) AS at "
                   f"{ONE} (VALUES (253402300799), (253402300800)) AS v(n)",
                   "column 'at' holds timestamps outside the years 1 to 9999, which no store holds; keep them"),
    "before_year_1": (f"-- key: instance\nSELECT instance, CAST(to_timestamp(-62135596801) AS DATE) AS d {ONE} "
                      "(VALUES (1)) AS v(n)", "column 'd' holds dates outside the years 1 to 9999"),
    # a calendar of hours and ISO weekdays (the dayofweek refusal's advice) with every hour, toots or none (was:
    # translated to EXPLODE(SEQUENCE(0, 23), _u(t)), which Spark refused: Cannot resolve routine `_u`)
    "calendar": ("-- key: instance, h, wd\nSELECT i.instance, t.h, w.wd, count(s.created_at) AS toots "
                 "FROM (SELECT DISTINCT instance FROM statuses) AS i CROSS JOIN range(24) AS t(h) "
                 "CROSS JOIN generate_series(1, 7) AS w(wd) LEFT JOIN statuses AS s "
                 "ON s.instance = i.instance AND hour(s.created_at) = t.h "
                 "AND (date_diff('day', DATE '1970-01-05', CAST(s.created_at AS DATE)) % 7 + 7) % 7 + 1 = w.wd "
                 "GROUP BY i.instance, t.h, w.wd", "rows"),
    "beyond_micros": (f"-- key: instance\nSELECT instance, to_timestamp(9223372036855) AS at {ONE} (VALUES (1)) AS "
                      "v(n)", "Epoch seconds out of range for TIMESTAMP WITH TIME ZONE"),
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("edges") / "lake", KEY)


def _outcomes(lake: Path, spark, tmp_path: Path, metric: str, sql: str) -> dict[str, object]:  # noqa: ANN001
    """What each engine made of ``sql`` as the own metric ``metric``: the rows it stored, or its error (type and
    message)."""
    return _all_outcomes(lake, spark, tmp_path, {metric: sql})[metric]


def _all_outcomes(lake: Path, spark, tmp_path: Path,  # noqa: ANN001
                  sqls: dict[str, str]) -> dict[str, dict[str, object]]:
    """What each engine made of each of ``sqls`` as an own metric of its name, by name: the rows it stored, or its
    error (type and message). One run of each engine computes them all; should one fail, each runs alone, so that an
    error is its own metric's."""
    from fediscope.engine.metrics import read_metric
    from fediscope.engine.process import run_process
    from fediscope.errors import FediscopeError

    (tmp_path / "mine").mkdir()
    metrics = {}
    for metric, sql in sqls.items():
        path = tmp_path / "mine" / f"{metric}.sql"
        path.write_text(f"-- question: What happens at the edge of {metric}?\n{sql}\n")
        metrics[metric] = read_metric(path)
    outcomes: dict[str, dict[str, object]] = {metric: {} for metric in sqls}

    def process(engine: str, options: dict[str, object], run: dict[str, object]) -> FediscopeError | None:
        """``run``'s metrics computed and stored by one process of ``engine``: their rows in ``outcomes``, or its
        error."""
        store = tmp_path / f"{engine}-{len(run)}-{next(iter(run))}.db"
        try:
            run_process(own_metric_settings(lake, store, KEY), engine=engine, metrics=run, engine_options=options,
                        progress=False)
        except FediscopeError as exc:
            return exc
        for metric in run:
            outcomes[metric][engine] = stored_rows(store, metric,
                                                   order_by=sqls[metric].split("\n")[0].removeprefix("-- key: "))
        return None

    for engine, options in (("duckdb", {}), ("spark", {"spark": spark})):
        failed = process(engine, options, metrics)
        if failed is None:
            continue
        for metric in metrics:  # their run together failed: each alone, so that an error is its own metric's
            error = failed if len(metrics) == 1 else process(engine, options, {metric: metrics[metric]})
            if error is not None:
                outcomes[metric][engine] = (type(error).__name__, error.exit_code, str(error))
    return outcomes


@pytest.fixture(scope="module")
def rows_outcomes(lake: Path, spark, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:  # noqa: ANN001
    """:func:`_all_outcomes` of the cases each engine stores rows of: one run of each engine for them all (was: one
    each, ~1 s apiece on Spark)."""
    return _all_outcomes(lake, spark, tmp_path_factory.mktemp("edge-rows"),
                         {case: sql for case, (sql, expected) in CASES.items() if expected == "rows"})


@pytest.mark.spark
@pytest.mark.parametrize("case", list(CASES))
def test_an_edge_case_stores_the_same_rows_or_fails_alike_on_both_engines(
        case: str, lake: Path, spark, tmp_path: Path, request: pytest.FixtureRequest) -> None:  # noqa: ANN001 - lazy pyspark
    """The cases of rows: computed together (:func:`rows_outcomes`); each error case runs alone."""
    sql, expected = CASES[case]
    if expected == "rows":
        outcomes = request.getfixturevalue("rows_outcomes")[case]
    else:
        outcomes = _outcomes(lake, spark, tmp_path, case, sql)
    duckdb, on_spark = outcomes["duckdb"], outcomes["spark"]
    if expected == "rows":
        assert isinstance(duckdb, list) and duckdb, duckdb
        assert on_spark == duckdb
        first = [row for row in duckdb if row[0] == duckdb[0][0]]
        if case == "sums":  # the rows hold what the test is about: DuckDB's exact total of the 64-bit values
            assert first[0][1:] == (2**63 - 11, 2**63 - 21, 2**63 - 11, float(2**63 - 11), 10)
        if case == "sums_computed_with":
            assert first[0][1:] == (2**63 - 91, float(2**63 + 9) / 2)
        if case == "zoned":
            assert first[0][1:] == ("2024-01-01 08:00:00", first[0][2], "1970-01-01 00:00:01.500000")
            assert "+" not in first[0][2]
        if case == "calendar":  # every hour of every weekday, the toots counted once each
            assert len(first) == 24 * 7 and sum(row[3] for row in duckdb) > 0
        if case == "word_bounds":
            by_word = {row[1]: row[2:] for row in first}
            assert by_word["éa"][:4] == (1, 1, 0, "a") and by_word["x a_b"][5] == "|x| |a_b|"
            # K (the Kelvin sign) and ſ are no ASCII letters, so a word starts at the k, also with (?i)
            assert by_word["\u212ak"][4] == 1 and by_word["\u017fk"][4] == 1
        return
    for engine, outcome in outcomes.items():
        assert isinstance(outcome, tuple), (engine, outcome)
        kind, code, message = outcome
        assert expected in message and "Traceback" not in message, (engine, message)
        assert message.startswith(f"metric {case} ("), (engine, message)  # names the metric's file
    assert outcomes["duckdb"][:2] == outcomes["spark"][:2]  # the same kind of error, the same exit code


def test_shipped_sums_are_spark_s_plain_bigint_sums() -> None:
    """The DECIMAL sums cost (the built-in metrics took half as long again): a metric's run gets them only once its
    BIGINT sum overflowed (:meth:`SparkEngine._job <fediscope.engine.spark_engine.SparkEngine._job>`)."""
    from fediscope.engine.dialect import to_spark
    from fediscope.engine.metrics import load_metrics

    sql = load_metrics()["account_engagement"].sql
    assert "SUM(favourites_count)" in to_spark(sql) and "DECIMAL(38, 0)" not in to_spark(sql)
    assert "SUM(CAST(favourites_count AS DECIMAL(38, 0)))" in to_spark(sql, wide_sums=True)


@pytest.mark.spark
def test_a_sum_that_overflowed_runs_again_once_summed_as_duckdb_does(tmp_path: Path, spark) -> None:  # noqa: ANN001
    """Spark's BIGINT sum of 2^63 - 1, 10 and -20 in three partitions stops where the partial sums merge; the query
    runs again summing as DuckDB does. An overflow that is no sum's fails as it did, after that one retry (not again
    and again). (The column is cast: the translation widens only a sum it knows to be of whole numbers.)"""
    from engine_data import settings_for
    from pyspark.errors import ArithmeticException

    from fediscope.engine.dialect import to_spark
    from fediscope.engine.spark_engine import SparkEngine
    from fediscope.errors import FediscopeError

    sql = "SELECT sum(CAST(x AS BIGINT)) AS total FROM v"
    with SparkEngine(settings_for(tmp_path / "lake"), spark=spark) as engine:
        spark.createDataFrame([(2**63 - 1,), (10,), (-20,)], "x BIGINT").repartition(3).createOrReplaceTempView("v")
        with pytest.raises(ArithmeticException, match=r"ARITHMETIC_OVERFLOW"):  # the plain translation alone
            spark.sql(to_spark(sql)).collect()
        assert engine.query(sql) == [{"total": 2**63 - 11}]
        assert engine.query("SELECT CAST(sum(CAST(x AS BIGINT)) AS DOUBLE) AS total FROM v") == [
            {"total": float(2**63 - 11)}]
        # a HUGEINT in DuckDB, computed with as one (beyond 64 bits: refused only when stored, as on DuckDB)
        assert engine.query("SELECT sum(CAST(x AS BIGINT)) + max(x) AS y FROM v") == [{"y": 2**64 - 12}]
        for no_sum in ("SELECT max(x) + 1 AS y FROM v", "SELECT sum(CAST(x AS BIGINT)) AS s, max(x) + 1 AS y FROM v"):
            with pytest.raises(FediscopeError, match=r"^Spark failed: \[ARITHMETIC_OVERFLOW\]"):
                engine.query(no_sum)
        assert engine.query("SELECT sum(CAST(x AS BIGINT)) AS total FROM v WHERE x < 100") == [{"total": -10}]
        # the metric's own DECIMAL cast to a BIGINT, in a run without wide sums: Spark's failure, not said to be a sum's
        with pytest.raises(FediscopeError, match=r"^Spark failed: \[CAST_OVERFLOW\]"):
            engine.query("SELECT CAST(floor(CAST(x AS DECIMAL(38, 0)) * 2) AS BIGINT) AS y FROM v")
    spark.catalog.dropTempView("v")


@pytest.mark.spark
def test_a_wide_sum_computed_with_or_of_an_untyped_value_is_duckdbs(tmp_path: Path, spark) -> None:  # noqa: ANN001
    """Once its BIGINT sum overflowed, the query's sums are DuckDB's HUGEINT also where a result within 64 bits is
    computed from a total beyond them (``sum(x) - 1000``, ``sum(x) / 2``, ``HAVING sum(x) > …``,
    ``coalesce(sum(x), 0) - 1000``: was the cast back to a BIGINT failing, refused as "wider than the 64 bits"), and a
    sum of a value whose type sqlglot does not know (the view ``w`` here: was not widened, the same overflow) too. The
    same rows as DuckDB's."""
    import decimal


    fraction = decimal.Decimal("0.123456789")  # a DECIMAL(18, 9): its 9 places kept in the wide run's sums
    values = [(2**63 - 1, 1, fraction), (100, 1, fraction), (-20, 1, fraction), (5, 2, fraction)]
    queries = [
        "SELECT k, sum(CAST(x AS BIGINT)) - 1000 AS rest, sum(CAST(x AS BIGINT)) / 2 AS half, "
        "(sum(CAST(x AS BIGINT)) - sum(CAST(x AS BIGINT))) // 3 AS nothing, "
        "printf('%d', sum(CAST(x AS BIGINT)) - 1000) AS shown FROM w GROUP BY k "
        "HAVING sum(CAST(x AS BIGINT)) > 9223372036854775807 OR k = 2 ORDER BY k",
        # x and d untyped
        "SELECT k, sum(x) AS total, sum(DISTINCT x) AS distinct_total, sum(d) AS d_total FROM w GROUP BY k ORDER BY k",
        "SELECT k, sum(x) - 1000 AS rest, sum(x) / 4 AS quarter FROM w GROUP BY k ORDER BY k",
        # through coalesce too (was: its sum cast back to a BIGINT inside it, refused as "wider than the 64 bits")
        "SELECT k, coalesce(sum(CAST(x AS BIGINT)), 0) - 1000 AS rest, "
        "ifnull(sum(CAST(x AS BIGINT)), 0) - sum(CAST(x AS BIGINT)) AS nothing FROM w GROUP BY k ORDER BY k",
    ]
    rows_sql = ", ".join(f"({x}::BIGINT, {k}, {d}::DECIMAL(18, 9))" for x, k, d in values)
    _assert_alike_on_both(spark, tmp_path, f"SELECT * FROM (VALUES {rows_sql}) AS t(x, k, d)", values,
                          "x BIGINT, k INT, d DECIMAL(18, 9)", queries)


def _assert_alike_on_both(spark, tmp_path: Path, duckdb_rows: str, values: list[tuple],  # noqa: ANN001
                          spark_schema: str, queries: list[str]) -> None:
    """Each of ``queries`` over a view ``w`` of ``values`` gives Spark (a :class:`SparkEngine`, ``values`` in 4
    partitions) DuckDB's rows (``w`` made by ``duckdb_rows``)."""
    import duckdb
    from engine_data import settings_for

    from fediscope.engine.spark_engine import SparkEngine

    duck = duckdb.connect()
    duck.execute(f"CREATE TABLE w AS {duckdb_rows}")
    with SparkEngine(settings_for(tmp_path / "lake"), spark=spark) as engine:
        spark.createDataFrame(values, spark_schema).repartition(4).createOrReplaceTempView("w")
        try:
            for sql in queries:
                rows = duck.sql(sql)
                expected = [dict(zip([d[0] for d in rows.description], row, strict=True)) for row in rows.fetchall()]
                assert engine.query(sql) == expected, sql
        finally:
            spark.catalog.dropTempView("w")


@pytest.mark.spark
def test_two_wide_sums_computed_with_and_cast_back_are_both_widened(tmp_path: Path, spark) -> None:  # noqa: ANN001
    """``sum(a) - sum(b)`` where it is cast back to a BIGINT as a whole (in a CTE's column, inside ``printf`` or
    ``coalesce``): both sums are DuckDB's HUGEINT in the wide run. Was: the cast back copied the difference before its
    first sum was widened, so that sum stayed Spark's BIGINT sum and the run failed again with Spark's
    ``[ARITHMETIC_OVERFLOW] … Use 'try_add'`` where DuckDB stores 0."""

    from fediscope.engine.dialect import to_spark

    values = [(2**63 - 1, 1), (100, 1), (-20, 1), (5, 2)]
    big = "sum(CAST(x AS BIGINT))"
    queries = [
        f"WITH d AS (SELECT k, {big} - {big} AS diff FROM w GROUP BY k) SELECT k, diff FROM d ORDER BY k",
        f"SELECT k, printf('%d', {big} - {big}) AS shown FROM w GROUP BY k ORDER BY k",
        f"SELECT k, coalesce({big} - {big} + 1, 0) AS one FROM w GROUP BY k ORDER BY k",
    ]
    rows_sql = ", ".join(f"({x}::BIGINT, {k})" for x, k in values)
    _assert_alike_on_both(spark, tmp_path, f"SELECT * FROM (VALUES {rows_sql}) AS t(x, k)", values, "x BIGINT, k INT",
                          queries)
    for sql in queries:  # every sum widened, whichever the cast back copies
        assert to_spark(sql, wide_sums=True).count("SUM(CAST(CAST(x AS BIGINT) AS DECIMAL(38, 0)))") == 2, sql


@pytest.mark.spark
def test_a_series_whose_column_sqlglot_cannot_name_is_translated(lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001
    """``SELECT * FROM generate_series(0, 23) AS h ORDER BY 1`` (a series table without a column list, ordered by
    position): sqlglot cannot expand its ``*`` and fails with an AssertionError while typing the statement, which
    stopped ``fediscope process --engine spark`` with a traceback; the statement is translated untyped, as one whose
    columns sqlglot cannot resolve, and stores DuckDB's rows."""
    sql = "-- key: h\nSELECT * FROM generate_series(0, 23) AS h ORDER BY 1"
    outcomes = _outcomes(lake, spark, tmp_path, "positional_series", sql)
    assert outcomes["duckdb"] == [(h,) for h in range(24)]
    assert outcomes["spark"] == outcomes["duckdb"]
