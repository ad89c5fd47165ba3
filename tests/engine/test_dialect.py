"""One SQL text for two engines: the metric files and the curation SQL translate, and traps are refused."""

from __future__ import annotations

import re

import pytest

from fediscope.engine import curate_sql
from fediscope.engine.dialect import NotPortableError, check_portable, to_spark
from fediscope.engine.metrics import SQL_DIR, load_metrics, parse_metric
from fediscope.engine.schema import CURATED, duckdb_columns, spark_ddl
from fediscope.errors import ConfigError

METRICS = load_metrics()


def test_every_sql_file_is_a_metric_with_a_question_and_a_key() -> None:
    files = sorted(p.stem for p in SQL_DIR.glob("*.sql"))
    assert files == sorted(METRICS) and len(files) >= 14
    for metric in METRICS.values():
        assert metric.question.endswith("?"), metric.name
        assert metric.key and all(k in metric.sql for k in metric.key), metric.name
        assert metric.sql.rstrip().splitlines()[-1].lstrip().upper().startswith("ORDER BY"), \
            f"{metric.name}: rows must come out in a deterministic order"


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_translates_to_spark(name: str) -> None:
    spark_sql = re.sub(r"/\*.*?\*/", "", to_spark(METRICS[name].sql)).strip()
    assert spark_sql.upper().startswith(("SELECT", "WITH"))
    assert "LIST_" not in spark_sql.upper() and "STRFTIME" not in spark_sql.upper()


@pytest.mark.parametrize("name", sorted(curate_sql.STATEMENTS))
def test_curation_statement_translates_to_spark(name: str) -> None:
    spark_sql = to_spark(curate_sql.STATEMENTS[name]).upper()
    assert spark_sql.lstrip().startswith(("SELECT", "WITH"))  # one query (the statuses merge names its steps)
    assert "LIST_FILTER" not in spark_sql and "LIST_TRANSFORM" not in spark_sql and "LIST_CONCAT" not in spark_sql


def test_the_raw_pass_uses_spark_higher_order_functions() -> None:
    spark_sql = to_spark(curate_sql.STATUS_RECORDS).upper()
    assert "FILTER(" in spark_sql and "LIST_FILTER" not in spark_sql and "LIST_TRANSFORM" not in spark_sql


@pytest.mark.parametrize("sql, reason", [
    ("SELECT isodow(created_at) FROM statuses", "isodow"),
    ("SELECT dayofweek(created_at) FROM statuses", "isodow/dayofweek"),
    ("SELECT regexp_replace(content, '<[^>]*>', '') FROM statuses", "'g' flag"),
    ("SELECT len(list_filter(hashtags, lambda t: t = 'x')) FROM statuses", "array_length"),
    ("SELECT strftime(created_at, '%Y-%m-%dT%H') FROM statuses", "literal letters"),
    ("SELECT FROM WHERE", "not valid DuckDB SQL"),
    # Spark numbers these otherwise (DuckDB dow: Sunday = 0, Spark: Sunday = 1; second: Spark keeps the fraction)
    ("SELECT extract(dow FROM DATE '2026-07-20')", "extract(dow) differs"),
    ("SELECT extract(isodow FROM created_at) FROM statuses", "extract(isodow) differs"),
    ("SELECT extract(second FROM created_at) FROM statuses", "extract(second) differs"),
    ("SELECT date_part('dow', created_at) FROM statuses", "date_part(dow) differs"),
    ("SELECT datepart('weekday', created_at) FROM statuses", "datepart(weekday) differs"),
    ("SELECT date_part('yearweek', dt) FROM statuses", "date_part(yearweek) differs"),
    ("SELECT yearweek(dt) FROM statuses", "yearweek() is not portable"),
    # DuckDB counts midnights crossed (1), Spark whole 24-hour periods (0)
    ("SELECT date_diff('day', TIMESTAMP '2026-07-01 23:00', TIMESTAMP '2026-07-02 01:00')", "not known to be a DATE"),
    ("SELECT date_diff('day', created_at, fetched_at) FROM statuses", "write CAST(created_at AS DATE)"),
    ("SELECT datediff('day', dt, fetched_at) FROM statuses", "write CAST(fetched_at AS DATE)"),
    ("SELECT date_diff('month', dt, last_status_at) FROM statuses JOIN accounts USING (account_key)",
     "date_diff('month', …) counts boundaries"),
    ("SELECT strftime(dt, '%w') FROM statuses", "strftime code %w"),
    ("SELECT strftime(created_at, '%Y %V') FROM statuses", "strftime code %V"),
    ("SELECT strftime(dt, '%j') FROM statuses", "strftime code %j"),  # DuckDB '005', Spark '05'
])
def test_constructs_that_translate_wrongly_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(NotPortableError, match=re.escape(reason)):
        check_portable(sql)


def test_sql_that_does_not_parse_is_refused_in_one_line_naming_where() -> None:
    """Was: sqlglot's own message, over two lines with the text near the error underlined in terminal escape
    codes: on Spark, a metric file's syntax error was then printed over two lines, escape codes and all."""
    with pytest.raises(NotPortableError) as raised:
        check_portable("SELECT a,\n  count(* FROM statuses", "metric m")
    assert str(raised.value) == "metric m: not valid DuckDB SQL: Expecting ) at line 2 near 'FROM'"


def test_portable_equivalents_pass() -> None:
    check_portable("SELECT array_length(list_filter(hashtags, lambda t: t = 'x')), "
                   "regexp_replace(content, 'a', 'b', 'g'), strftime(created_at, '%Y-%m-%d %H:%M') FROM statuses")


def test_date_diff_in_days_between_dates_passes() -> None:
    """DATEs: a cast, a literal, a DATE column of a curated table, or one computed from those (in a CTE)."""
    check_portable("SELECT date_diff('day', DATE '1970-01-05', CAST(s.created_at AS DATE)), date_diff('day', dt, "
                   "current_date), datediff('day', s.dt, a.last_status_at), extract(week FROM dt), "
                   "date_part('hour', s.created_at), strftime(s.created_at, '%-d/%-m %a') "
                   "FROM statuses AS s JOIN accounts AS a USING (account_key)")
    check_portable("WITH b AS (SELECT max(dt) AS last_day FROM hashtags) "
                   "SELECT date_diff('day', h.dt, b.last_day) FROM hashtags AS h CROSS JOIN b")


def test_a_refused_date_diff_says_what_to_write() -> None:
    with pytest.raises(NotPortableError) as raised:
        to_spark("SELECT date_diff('day', created_at, fetched_at) AS days FROM statuses ORDER BY days")
    assert str(raised.value) == (
        "not portable to Spark SQL: date_diff('day', …) of created_at, not known to be a DATE: DuckDB counts "
        "midnights crossed, Spark whole 24-hour periods; write CAST(created_at AS DATE)")


def test_metric_header_parsing() -> None:
    metric = parse_metric("m", "-- question: Why?\n-- key: a, b\n-- rank: n ASC\n-- prefix: b\nSELECT 1 ORDER BY 1")
    assert (metric.key, metric.rank_column, metric.rank_desc, metric.prefix) == (("a", "b"), "n", False, "b")
    with pytest.raises(ConfigError, match="key"):  # exit 2 naming the file, not a ValueError's traceback
        parse_metric("m", "-- question: Why?\nSELECT 1")


def test_raw_and_curated_schemas_render_for_both_engines() -> None:
    assert '"group" BOOLEAN' in duckdb_columns("statuses")["data"]
    assert "`group`: BOOLEAN" in spark_ddl("statuses")
    assert set(CURATED) == {"statuses", "accounts", "hashtags", "instance_activity", "tag_trends",
                            "instance_peers", "status_deletions"}
    assert CURATED["statuses"].partition_by == "dt" and "dt" not in CURATED["statuses"].file_columns
    with pytest.raises(ValueError, match="no raw schema"):
        spark_ddl("instance")
