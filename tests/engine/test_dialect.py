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
    # a list column, or a list computed from one: was passed, and Spark refused LENGTH of an ARRAY when run
    ("SELECT len(hashtags) FROM statuses", "length() of a list"),
    ("SELECT uri FROM statuses WHERE length(mentions) > 1", "length() of a list"),
    ("WITH t AS (SELECT hashtags AS h FROM statuses) SELECT len(h) FROM t", "length() of a list"),
    ("SELECT len(list_distinct(hashtags)) FROM statuses", "length() of a list"),
    ("SELECT len(string_split(language, '-')) FROM statuses", "length() of a list"),
    ("SELECT strftime(created_at, '%Y-%m-%dT%H') FROM statuses", "literal letters"),
    ("SELECT FROM WHERE", "not valid DuckDB SQL"),
    # Spark numbers these otherwise (DuckDB dow: Sunday = 0, Spark: Sunday = 1; second: Spark keeps the fraction)
    ("SELECT extract(dow FROM DATE '2026-07-20')", "extract(dow) differs"),
    ("SELECT extract(isodow FROM created_at) FROM statuses", "extract(isodow) differs"),
    ("SELECT extract(second FROM created_at) FROM statuses", "extract(second) differs"),
    ("SELECT date_part('dow', created_at) FROM statuses", "date_part(dow) differs"),
    ("SELECT datepart('weekday', created_at) FROM statuses", "datepart(weekday) differs"),
    ("SELECT date_part('yearweek', dt) FROM statuses", "date_part(yearweek) differs"),
    ("SELECT yearweek(dt) FROM statuses", "yearweek() (the ISO year times 100 plus the ISO week in DuckDB) is not a "
                                          "Spark function"),
    # DuckDB counts midnights crossed (1), Spark whole 24-hour periods (0)
    ("SELECT date_diff('day', TIMESTAMP '2026-07-01 23:00', TIMESTAMP '2026-07-02 01:00')", "not known to be a DATE"),
    ("SELECT date_diff('day', created_at, fetched_at) FROM statuses", "write CAST(created_at AS DATE)"),
    ("SELECT datediff('day', dt, fetched_at) FROM statuses", "write CAST(fetched_at AS DATE)"),
    ("SELECT date_diff('month', dt, last_status_at) FROM statuses JOIN accounts USING (account_key)",
     "date_diff('month', …) counts boundaries"),
    ("SELECT strftime(dt, '%w') FROM statuses", "strftime code %w"),
    ("SELECT strftime(created_at, '%Y %V') FROM statuses", "strftime code %V"),
    ("SELECT strftime(dt, '%j') FROM statuses", "strftime code %j"),  # DuckDB '005', Spark '05'
    # each checked on both engines (DuckDB's result first, Spark's second)
    ("SELECT dt - DATE '2026-03-01' FROM statuses", "DATE - DATE (dt - DATE '2026-03-01') is a number of "
     "days in DuckDB, an interval in Spark; write date_diff('day', DATE '2026-03-01', dt)"),  # 4, 4 days
    ("SELECT CAST(created_at AS DATE) - dt FROM statuses", "DATE - DATE"),
    ("SELECT dt + INTERVAL 1 MONTH FROM statuses", "DATE ± INTERVAL"),  # 2026-04-05 00:00:00, 2026-04-05
    ("SELECT INTERVAL 3 DAY + DATE '2026-03-05'", "write CAST(INTERVAL 3 DAY + DATE '2026-03-05' AS DATE)"),
    ("SELECT date_trunc('month', dt) FROM statuses", "date_trunc of a DATE"),  # a TIMESTAMP, a DATE
    ("SELECT age(created_at, fetched_at) FROM statuses", "age() is not a Spark function"),
    ("SELECT date_sub('day', dt, CAST(fetched_at AS DATE)) FROM statuses", "date_sub() counts whole units"),
    ("SELECT week(dt) FROM statuses", "write weekofyear(x) or extract(week FROM x)"),  # Spark: no week()
    ("SELECT dayname(dt) FROM statuses", "strftime(x, '%A')"),  # 'Sunday', 'Sun'
    ("SELECT monthname(created_at) FROM statuses", "strftime(x, '%B')"),  # 'March', 'Mar'
    ("SELECT epoch(created_at) FROM statuses", "epoch() keeps the fraction"),  # 1772706600.5, 1772706600
    ("SELECT log(favourites_count) FROM statuses", "log(x) is base 10 in DuckDB"),  # log(100): 2.0, 4.605…
    ("SELECT format('{}: {}', language, favourites_count) FROM statuses", "write concat() or ||"),  # Spark: '{}: {}'
    ("SELECT count(*) * 100.0 / 7 FROM statuses", "/ with a decimal literal"),  # 42.857142857142854, 42.857143
    ("SELECT favourites_count / 2.0 FROM statuses", "/ with a decimal literal"),
    ("SELECT CAST(avg(favourites_count) AS BIGINT) FROM statuses", "rounds in DuckDB, truncates in Spark"),  # 4, 3
    ("SELECT TRY_CAST(3.7 AS INTEGER)", "CAST of a fractional number to INT"),
    ("SELECT round(avg(favourites_count), 2) FROM statuses", "write round(x * 100) / 100"),  # 1.005: 1.0, 1.01
    # DuckDB: its items in no fixed order ('31,43,17,…' for a list of 0…49), Spark: in first-seen order
    ("SELECT array_to_string(list_distinct(list(language)), ',') FROM statuses",
     "list_distinct() (LIST_DISTINCT(ARRAY_AGG(language))) gives its items in no fixed order in DuckDB, in first-seen "
     "order in Spark; write list_sort(LIST_DISTINCT(ARRAY_AGG(language))), or only count it (array_length) or "
     "unnest it"),
    ("SELECT array_distinct(hashtags) FROM statuses", "write list_sort(LIST_DISTINCT(hashtags))"),
    ("SELECT list_distinct(hashtags)[1] FROM statuses", "no fixed order"),
    # sqlglot writes Spark's COLLECT_LIST without the ORDER BY: DuckDB 'a,b,b,c', Spark 'b,a,b,c'
    ("SELECT array_to_string(list(language ORDER BY created_at DESC), ',') FROM statuses",
     "ARRAY_AGG(language ORDER BY created_at DESC) loses its ORDER BY in Spark (collect_list, its items in no fixed "
     "order); to join the items in that order write string_agg(language, ',' ORDER BY created_at DESC, language)"),
    ("SELECT array_to_string(array_agg(DISTINCT language ORDER BY language), ',') FROM statuses",
     "write string_agg(DISTINCT language, ',' ORDER BY language)"),
    # items joined in the order the rows come: DuckDB 'c,b,a', Spark 'b,a,c'
    ("SELECT string_agg(DISTINCT language) FROM statuses",
     "string_agg(DISTINCT language) joins its items in no fixed order (in the order the rows come, which differs "
     "between DuckDB and Spark); write string_agg(DISTINCT language, ',' ORDER BY language)"),
    ("SELECT string_agg(language, '; ') FROM statuses", "write string_agg(language, '; ' ORDER BY language)"),
    # rows tied on the ORDER BY keys (two statuses of one dt) joined in the order the rows come: DuckDB 'b,a,c',
    # Spark 'c,a,b'
    ("SELECT string_agg(language, '; ' ORDER BY dt DESC) FROM statuses",
     "string_agg(language, '; ' ORDER BY dt DESC) joins rows tied on dt DESC in no fixed order (in the order the rows "
     "come, which differs between DuckDB and Spark); add the value as the last key: string_agg(language, '; ' "
     "ORDER BY dt DESC, language)"),
    # over a window ordered by dt, rows of one dt are peers, joined in the order the rows come (DuckDB 'z,y,x',
    # Spark 'x,z,y')
    ("SELECT string_agg(language, ';') FILTER (WHERE is_reply) OVER (PARTITION BY instance ORDER BY dt) FROM statuses",
     "string_agg(language, ';') over a window ordered by dt joins rows tied on dt (peers) in no fixed order (in the "
     "order the rows come, which differs between DuckDB and Spark); add the value as the window's last key (ORDER BY "
     "dt, language), which also makes rows tied on dt no longer peers"),
    ("SELECT array_to_string(list(language) OVER (ORDER BY dt), ',') FROM statuses", "no fixed order"),
    ("SELECT string_agg(favourites_count % 7 ORDER BY created_at) FILTER (WHERE is_reply) FROM statuses",
     "add the value as the last key: string_agg(favourites_count % 7, ',' ORDER BY created_at, "
     "favourites_count % 7)"),
    ("SELECT group_concat(language) FILTER (WHERE is_reply) FROM statuses", "no fixed order"),
    ("SELECT string_agg(language, ',') OVER (PARTITION BY instance) FROM statuses", "no fixed order"),
    ("SELECT array_to_string(array_agg(DISTINCT language), ',') FROM statuses",
     "ARRAY_AGG(DISTINCT language) gives its items in no fixed order (in the order the rows come, which differs "
     "between DuckDB and Spark); to join them write string_agg(DISTINCT language, ',' ORDER BY language), or sort "
     "it (list_sort(ARRAY_AGG(DISTINCT language))), only count it (array_length) or unnest it"),
    ("SELECT list(language)[1] FROM statuses", "no fixed order"),
    ("SELECT array_to_string(flatten(list(hashtags)), ',') FROM statuses", "no fixed order"),
    ("SELECT array_to_string(list_transform(list(language), lambda l: upper(l)), ',') FROM statuses",
     "no fixed order"),
    ("WITH l AS (SELECT list(language) AS langs FROM statuses) SELECT array_to_string(langs, ',') FROM l",
     "no fixed order"),  # a list column of a CTE: its use is not followed
    ("SELECT array_to_string(list(language) OVER (PARTITION BY instance), ',') FROM statuses", "no fixed order"),
    # DuckDB list functions Spark has not, left as they are by sqlglot: Spark refused them only when the metric ran
    ("SELECT list_sum(list(favourites_count)) FROM statuses", "list_sum() is not a Spark function; aggregate the "
     "items as rows instead: for list_sum(list(x)) aggregate x itself, or unnest the list in a subquery and "
     "aggregate that"),
    ("SELECT list_avg(list_transform(hashtags, lambda t: length(t))) FROM statuses", "list_avg() is not a Spark"),
    ("SELECT list_aggregate(hashtags, 'count') FROM statuses", "write list_max, list_min, list_count"),
    ("SELECT array_aggr(hashtags, 'max') FROM statuses", "array_aggr() is not a Spark function"),
    ("SELECT list_reduce(hashtags, lambda a, b: a || b) FROM statuses", "list_reduce() is not a Spark function"),
    ("SELECT list_apply(hashtags, lambda t: upper(t)) FROM statuses", "write list_transform(l, lambda x: …)"),
    ("SELECT list_sort(hashtags, language) FROM statuses", "only with its order as quoted text"),
    # a NULL inside an item sorts last in DuckDB, first in Spark ([[1], [NULL]] and [[NULL], [1]])
    ("SELECT list_sort(list(hashtags))[1] FROM statuses", "list_sort() of a list of lists or structs "
     "(list_sort(list(hashtags))) sorts a NULL inside an item last in DuckDB, first in Spark; sort plain "
     "values: list_sort(flatten(l)), or the items as text: list_sort(list_transform(l, lambda x: "
     "array_to_string(x, ',')))"),
    ("SELECT list_reverse_sort([hashtags, mentions]) FROM statuses", "list_sort() of a list of lists"),
    ("SELECT list_sort(list(list_transform(hashtags, lambda t: CASE WHEN length(t) > 6 THEN t END))) "
     "FROM statuses", "list_sort() of a list of lists"),
    ("SELECT list_sort(list({'l': language})) FROM statuses", "list_sort() of a list of lists or structs"),
    # a DOUBLE as text: DuckDB '123456789.0', '2e+20', '1e-05'; Spark '1.23456789E8', '2.0E20', '1.0E-5'
    ("SELECT CAST(favourites_count / 7 AS VARCHAR) FROM statuses",
     "the DOUBLE favourites_count / 7 written as text (CAST(favourites_count / 7 AS VARCHAR)) differs between DuckDB "
     "and Spark (DuckDB writes 123456789.0, 2e+20 and -0.0, Spark 1.23456789E8, 2.0E20 and 0.0, and a DISTINCT or "
     "GROUP BY keeps -0.0 or 0.0 otherwise); write it as a DECIMAL or an integer, whose text is alike: "
     "CAST(round((favourites_count / 7) * 100) / 100 AS DECIMAL(18, 2)) for two places, or "
     "CAST(round(favourites_count / 7) AS BIGINT)"),
    ("SELECT avg(favourites_count)::VARCHAR FROM statuses", "the DOUBLE avg(favourites_count) written as text "
     "(avg(favourites_count)::VARCHAR)"),
    ("SELECT TRY_CAST(CAST(favourites_count AS FLOAT) AS TEXT) FROM statuses", "written as text"),
    ("SELECT CAST(favourites_count * 1e3 AS VARCHAR) FROM statuses", "written as text"),  # 1e3: a DOUBLE
    ("SELECT CAST(floor(favourites_count) AS VARCHAR) FROM statuses",  # DuckDB '7.0' (a DOUBLE), Spark '7' (BIGINT)
     "(CAST(floor(favourites_count) AS VARCHAR)) differs between DuckDB and Spark (DuckDB writes 123456789.0, 2e+20 "
     "and -0.0, Spark 1.23456789E8, 2.0E20 and 0.0, and a DISTINCT or GROUP BY keeps -0.0 or 0.0 otherwise); write it "
     "as a DECIMAL or an integer, whose text is alike: CAST(round(floor(favourites_count) * 100) / 100 AS DECIMAL(18, "
     "2)) for two places, or CAST(floor(favourites_count) AS BIGINT)"),
    ("SELECT concat(language, ': ', avg(favourites_count)) FROM statuses GROUP BY language", "written as text"),
    ("SELECT language || stddev(favourites_count) FROM statuses GROUP BY language", "written as text"),
    ("SELECT concat_ws(',', language, sum(favourites_count / 2)) FROM statuses GROUP BY language", "written as text"),
    ("SELECT string_agg(favourites_count / 7, ',' ORDER BY favourites_count / 7) FROM statuses", "written as text"),
    # DuckDB '-0.0,0.0,…', Spark '0.0,…' (one of the two), besides the text of each
    ("SELECT string_agg(DISTINCT favourites_count / 7, ',' ORDER BY favourites_count / 7) FROM statuses",
     "the DOUBLE favourites_count / 7 written as text"),
    ("SELECT array_to_string(list_sort(list(favourites_count / 7)), ',') FROM statuses",
     "DOUBLEs joined as text (array_to_string(list_sort(list(favourites_count / 7)), ',')) differ"),
    ("SELECT array_to_string([avg(favourites_count), 1], ',') FROM statuses", "DOUBLEs joined as text"),
    ("SELECT printf('%.2f', avg(favourites_count)) FROM statuses",  # 1.005: DuckDB '1.00', Spark '1.01'
     "printf rounds a tie such as 1.005"),
    ("WITH m AS (SELECT instance, avg(favourites_count) AS mean FROM statuses GROUP BY instance) "
     "SELECT CAST(mean AS VARCHAR) FROM m", "the DOUBLE mean written as text"),  # a CTE's column, typed
    # 1.005 (201 / 200): DuckDB 1.00 (its binary value is below the tie), Spark 1.01 (its text)
    ("SELECT CAST(favourites_count / 200 AS DECIMAL(18, 2)) FROM statuses",
     "CAST of a DOUBLE to DECIMAL(18, 2) (CAST(favourites_count / 200 AS DECIMAL(18, 2))) rounds a tie such as 1.005 "
     "by its binary value in DuckDB (1.00), by its decimal text in Spark (1.01); round it to 2 places first: "
     "CAST(round((favourites_count / 200) * 100) / 100 AS DECIMAL(18, 2))"),
    ("SELECT CAST(avg(favourites_count) AS DECIMAL) FROM statuses", "round it to 3 places first"),  # DECIMAL(18, 3)
    ("SELECT CAST(round(favourites_count / 200 * 1000) / 1000 AS DECIMAL(18, 2)) FROM statuses",
     "CAST of a DOUBLE to DECIMAL(18, 2)"),  # rounded to 3 places, then to 2: the tie again
    # a DOUBLE with a DECIMAL, and a DECIMAL divided, are DOUBLEs in DuckDB (sqlglot typed both DECIMAL, so that a
    # CTE's column computed so passed as a DECIMAL)
    ("WITH m AS (SELECT avg(favourites_count) * CAST(2 AS DECIMAL(10, 1)) AS v FROM statuses) "
     "SELECT CAST(v AS VARCHAR) FROM m", "the DOUBLE v written as text"),
    ("WITH m AS (SELECT sum(CAST(favourites_count AS DECIMAL(18, 2))) / count(*) AS v FROM statuses) "
     "SELECT round(v, 2) FROM m", "round() of a DOUBLE to decimal places (round(v, 2))"),
    ("SELECT concat(CAST(favourites_count AS DECIMAL(18, 2)) / 7, '') FROM statuses", "written as text"),
    # DuckDB 3.3333333333333335 (a DOUBLE), Spark 3.333333 (a DECIMAL with 4 more places)
    ("SELECT avg(CAST(favourites_count AS DECIMAL(18, 2))) FROM statuses",
     "avg() of a DECIMAL (avg(CAST(favourites_count AS DECIMAL(18, 2)))) is a DOUBLE in DuckDB, a DECIMAL rounded to "
     "4 more places in Spark; write sum(CAST(favourites_count AS DECIMAL(18, 2))) / count(CAST(favourites_count AS "
     "DECIMAL(18, 2))) (divided as DOUBLEs in both)"),
    # DuckDB 7.5 // 2 is 3.75 (a DOUBLE); Spark's DIV 3, and fails for a DOUBLE
    ("SELECT CAST(favourites_count AS DECIMAL(9, 1)) // 2 FROM statuses",
     "// of a DOUBLE or DECIMAL (CAST(favourites_count AS DECIMAL(9, 1)) // 2) divides without rounding in DuckDB "
     "(7.5 // 2 is 3.75), to a whole number in Spark (DIV: 3; of a DOUBLE it fails); write floor(x / y) for the whole "
     "number, or x / y"),
    ("SELECT avg(favourites_count) // 2 FROM statuses", "// of a DOUBLE or DECIMAL"),
    # DuckDB [3, 1, 2] or [2, 1, 3] (no fixed order), Spark the first list's order
    ("SELECT array_to_string(array_intersect(hashtags, mentions), ',') FROM statuses",
     "array_intersect() (ARRAY_INTERSECT(hashtags, mentions)) gives its items in no fixed order in DuckDB, in the "
     "first list's order in Spark; write list_sort(ARRAY_INTERSECT(hashtags, mentions)), or only count it "
     "(array_length) or unnest it"),
    ("SELECT array_intersect(hashtags, mentions)[1] FROM statuses", "array_intersect() (ARRAY_INTERSECT"),
    # JSON's arrow in a function's arguments: was read as a lambda (COALESCE(j -> 'i', 'x') on Spark, refused there)
    ("SELECT coalesce(j -> 'i', 'x') FROM (SELECT '{\"i\": \"a\"}' AS j)",
     "j -> 'i' is JSON in DuckDB, a string keeping its quotes (\"a\"), and the string's text in Spark (a); write "
     "j ->> '$.i' (json_extract_string), the text in both"),
    ("SELECT json_extract(j, '$.i') = '\"a\"' FROM (SELECT '{\"i\": \"a\"}' AS j)",
     "json_extract(j, '$.i') is JSON in DuckDB"),
    ("SELECT list_transform(hashtags, t -> upper(t)) FROM statuses",
     "t -> upper(t) is DuckDB's arrow lambda, which DuckDB refuses (deprecated), or JSON's -> with a path that is "
     "not quoted text"),
    # text cast to JSON: Spark's TO_JSON (sqlglot's) failed the run on text; json(x) rewrites the text in DuckDB
    ("SELECT s::JSON ->> 'i' FROM (SELECT '{\"i\": \"a\"}' AS s)",
     "s::JSON is not translated to Spark SQL, which has no JSON type (sqlglot's TO_JSON takes structs, maps "
     "and lists, and fails the run on text; json(x) rewrites the text in DuckDB, {\"i\":1} for {\"i\": 1}); DuckDB's "
     "JSON functions read text: write x ->> 'k' or json_extract_string(x, '$.k') of the text x itself"),
    ("SELECT json(s) FROM (SELECT '{\"i\": \"a\"}' AS s)", "json(s) is not translated to Spark SQL"),
    # DuckDB {"a":2.5,"c":null}, Spark {"a":2.50}; json_object as JSON_OBJECT('a': 1), which Spark does not parse
    ("SELECT to_json({'a': 2.50, 'c': NULL})",
     "to_json() writes a value's JSON otherwise in Spark (a NULL field left out, a DECIMAL 2.50 as 2.50 where DuckDB "
     "writes 2.5, a DOUBLE 1e20 as 1.0E20, a TIMESTAMP with a T); build the JSON text with concat() instead, e.g. "
     "concat('{\"n\":', n, '}') of a whole number n (alike in both)"),
    ("SELECT json_object('a', 1)", "json_object() (json_object('a', 1)) is not a Spark function"),
    ("SELECT json_array(1, 'a')", "json_array() (json_array(1, 'a')) is not a Spark function"),
    # text read from JSON cast to an integer: DuckDB 2 for '1.9', Spark stopped the run (sqlglot leaves it untyped)
    ("SELECT CAST(json_extract_string(j, '$.i') AS BIGINT) FROM (SELECT '{\"i\": \"1.9\"}' AS j)",
     "CAST of text to BIGINT (CAST(json_extract_string(j, '$.i') AS BIGINT)) reads '1.9' as 2"),
    ("SELECT TRY_CAST((j ->> 'i') AS INT) FROM (SELECT '{\"i\": \"1.9\"}' AS j)",
     "TRY_CAST of text to INT (TRY_CAST((j ->> 'i') AS INT)) reads '1.9' as 2"),
    # a fraction of an interval's unit: Spark fails the run (INVALID_FRACTION), DuckDB cut it off or kept it
    ("SELECT created_at + INTERVAL 1.5 DAY FROM statuses",
     "INTERVAL 1.5 DAY (a number of days not written as a whole number) is not translated to Spark SQL, which fails "
     "the run on it, and DuckDB cuts its fraction off (INTERVAL 1.5 DAY is INTERVAL 1 DAY there); write "
     "1.5 * INTERVAL 1 DAY, alike in both"),
    ("SELECT created_at - INTERVAL '2.25 hours' FROM statuses",
     "INTERVAL '2.25 hours' (a number of hours not written as a whole number) is not translated to Spark SQL, which "
     "fails the run on it, and DuckDB keeps its fraction; write 2.25 * INTERVAL 1 HOUR"),
    ("SELECT created_at + INTERVAL '1.5' MONTH FROM statuses", "write whole months and days, e.g. INTERVAL 1 MONTH"),
    ("SELECT created_at + INTERVAL 1e1 MINUTES FROM statuses", "INTERVAL 1e1 MINUTES (a number of minutes"),
    # of text of several parts: Spark did not parse it (INVALID_TYPED_LITERAL)
    ("SELECT created_at + INTERVAL '1 day 1.5 hours' FROM statuses",
     "INTERVAL '1 day 1.5 hours' (a number of hours not written as a whole number) is not translated to Spark SQL, "
     "which fails the run on it, and DuckDB keeps its fraction; write 1.5 * INTERVAL 1 HOUR for 1.5 hours"),
    # a quoted timestamp's zone (checked on both): Spark fails the run on one after minutes; DuckDB on +2 and GMT+2,
    # Spark on utc; a zone name each engine looks up in its own zone database
    ("SELECT TIMESTAMP '2026-01-01 10:00+02' FROM statuses",
     "the timestamp '2026-01-01 10:00+02' has the zone '+02' without seconds, which Spark fails the run on (DuckDB "
     "reads it); write the seconds and an offset of two-digit hours right after them, '2026-01-01 10:00:00+02:00' (Z "
     "for UTC)"),
    ("SELECT '2026-01-01 10:00-05:30'::TIMESTAMPTZ FROM statuses", "has the zone '-05:30' without seconds"),
    ("SELECT CAST('2026-01-01 10:00:00+2' AS TIMESTAMPTZ) FROM statuses",
     "the timestamp '2026-01-01 10:00:00+2' has the zone '+2', which the engines do not both read"),
    ("SELECT TRY_CAST('2026-01-01 10:00:00 utc' AS TIMESTAMP) FROM statuses", "has the zone 'utc', which"),
    ("SELECT TIMESTAMPTZ '2026-01-01 10:00:00 Europe/Paris' FROM statuses", "has the zone 'Europe/Paris', which"),
    ("SELECT TIMESTAMPTZ '2026-01-01 10:00:00 +02:00' FROM statuses", "has the zone '+02:00', which"),
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
    # the spellings the refusals of date arithmetic, rounding and division suggest (or leave alone)
    check_portable("SELECT dt - 3, dt + 3, created_at - fetched_at, created_at - CAST(dt AS TIMESTAMP), "
                   "created_at + INTERVAL 1 MONTH, CAST(dt + INTERVAL 1 MONTH AS DATE), "
                   "CAST(date_trunc('week', dt) AS DATE), date_trunc('hour', created_at), weekofyear(dt), "
                   "strftime(dt, '%A %B'), log10(favourites_count), log(2, favourites_count), ln(favourites_count), "
                   "100 * favourites_count / 7, favourites_count / 2, round(avg(favourites_count)), "
                   "round(avg(favourites_count) * 100) / 100, round(2.675, 2), CAST(round(avg(replies_count)) AS "
                   "BIGINT), CAST(count(*) AS INTEGER), concat(language, '!') FROM statuses GROUP BY ALL")
    check_portable("SELECT length(language), len(uri), array_length(hashtags) FROM statuses")  # text; a list's size
    # numbers as text where both engines write the same: integers, DECIMALs (a literal with a decimal point, and
    # what computes with one, is a DECIMAL in DuckDB; sqlglot types it DOUBLE), a DOUBLE rounded to a DECIMAL's places
    check_portable("SELECT CAST(favourites_count AS VARCHAR), concat(language, favourites_count), "
                   "language || count(*), string_agg(favourites_count, ',' ORDER BY favourites_count), "
                   "string_agg(DISTINCT replies_count % 7, ';' ORDER BY replies_count % 7), "
                   "CAST(favourites_count * 1.5 AS VARCHAR), CAST(round(favourites_count * 1.5, 1) AS VARCHAR), "
                   "concat(abs(favourites_count - 0.5), '!'), CAST(floor(favourites_count * 1.5) AS VARCHAR), "
                   "CAST(CAST(round(avg(favourites_count) * 100) / 100 AS DECIMAL(18, 2)) AS VARCHAR), "
                   "CAST(CAST(round(avg(favourites_count)) AS BIGINT) AS VARCHAR), "
                   "CAST(round(avg(favourites_count) * 10) / 10 AS DECIMAL(18, 2)), "
                   "CAST(avg(favourites_count) AS DECIMAL(18, 0)), "
                   "CAST(floor(avg(favourites_count)) AS DECIMAL(9, 2)), "
                   "array_to_string(list_sort(list(favourites_count)), ','), printf('%d', count(*)), "
                   "avg(favourites_count) FROM statuses GROUP BY ALL")
    # list_distinct counted, sorted or unnested: its items' order does not show
    check_portable("SELECT array_to_string(list_sort(list_distinct(list(language))), ','), "
                   "array_length((list_distinct(hashtags))), list_reverse_sort(list_distinct(hashtags)), "
                   "unnest(list_distinct(hashtags)) FROM statuses GROUP BY ALL")
    check_portable("SELECT t FROM statuses, unnest(list_distinct(hashtags)) AS u(t)")
    # an INTERVAL is refused only as text: compared, or added to a TIMESTAMP (a TIMESTAMP, whose text is alike)
    check_portable("SELECT uri, CAST(created_at - INTERVAL 1 DAY AS VARCHAR), created_at - fetched_at > INTERVAL 1 "
                   "HOUR, concat(CAST(created_at + INTERVAL 30 MINUTE AS VARCHAR), '') FROM statuses")
    # JSON cast to a list, or read further; a fraction of a second (alike in both); whole quoted text to an integer
    check_portable("SELECT CAST(j -> 'l' AS INT[]), j -> 'o' ->> 'k', list_transform(CAST(j -> 'l' AS INT[]), "
                   "lambda x: x + 1), created_at + INTERVAL 1.5 SECOND, created_at + INTERVAL '2.5 seconds', "
                   "created_at + INTERVAL '1 day 2 hours', INTERVAL '01:30:00', "
                   "CAST('12' AS INT) FROM statuses, (SELECT '{\"l\": [1], \"o\": {\"k\": 2}}' AS j)")


def test_a_list_or_join_without_order_by_is_refused_only_where_its_items_order_shows() -> None:
    """Refused joined; passed counted, sorted, deduplicated, searched, unnested, over an ordered window, or as the
    result column itself (which is refused for every engine, with its own advice)."""
    for shows in ("array_to_string(list(language), ',')", "string_agg(language)"):
        with pytest.raises(NotPortableError, match="no fixed order"):
            check_portable(f"SELECT {shows} FROM statuses")
    check_portable("SELECT array_length(list(language)), list_sort(array_agg(DISTINCT language)), "
                   "list_reverse_sort(flatten(list(hashtags))), array_length(list_distinct(list(language))), "
                   "list_contains(list(language), 'en'), list_max(list(favourites_count)), "
                   "array_to_string(list_sort(list_concat(list(language), list(instance))), ','), "
                   "array_length((list(language) FILTER (WHERE is_reply))), "
                   "string_agg(language, ',' ORDER BY created_at, statuses.language), "
                   "string_agg(DISTINCT language ORDER BY language) "
                   "FROM statuses")
    check_portable("SELECT unnest(list(language)) FROM statuses GROUP BY instance")
    check_portable("SELECT array_to_string(list(language) OVER (PARTITION BY instance ORDER BY created_at, language), "
                   "','), string_agg(language, ',') OVER (ORDER BY created_at, language), "
                   "array_length(list(language) OVER (ORDER BY created_at)) FROM statuses")
    check_portable("SELECT instance, list(language) AS langs FROM statuses GROUP BY instance "
                   "UNION ALL SELECT 'all', list(language) FROM statuses")


def test_lists_keep_their_null_items_on_spark() -> None:
    """DuckDB's list keeps the rows' NULLs as items, and is NULL with no row; Spark's COLLECT_LIST drops them and
    gives []; flatten, array_to_string and list_contains then treat NULL items as DuckDB does (run on both engines
    in test_own_metric_list_nulls_spark.py)."""
    collected = ("COLLECT_SET(NAMED_STRUCT('fediscope_value', language)) FILTER(WHERE is_reply)")
    assert to_spark("SELECT array_length(list(DISTINCT language) FILTER (WHERE is_reply)) FROM statuses") == (
        f"SELECT SIZE(IF(SIZE({collected}) = 0, NULL, TRANSFORM({collected}, fediscope_item -> "
        "fediscope_item.fediscope_value))) FROM statuses")
    assert to_spark("SELECT flatten(hashtags), list_contains(mentions, 'a'), array_to_string(hashtags, ';') "
                    "FROM statuses") == (
        "SELECT FLATTEN(FILTER(hashtags, fediscope_item -> NOT fediscope_item IS NULL)), ARRAY_CONTAINS(FILTER("
        "mentions, fediscope_item -> NOT fediscope_item IS NULL), 'a'), IF(SIZE(hashtags) > 0 AND FORALL(hashtags, "
        "fediscope_item -> fediscope_item IS NULL), NULL, ARRAY_JOIN(hashtags, ';')) FROM statuses")


def test_list_functions_spark_has_not_are_written_as_spark_sql_giving_duckdbs_answer() -> None:
    """sqlglot wrote list_has_any as Spark's ``&&``, which Spark does not parse, and left list_has_all,
    list_position, list_count and list_unique as they are, which Spark does not know; array_position was Spark's,
    0 for a missing item where DuckDB gives NULL. NULL items are ignored as DuckDB ignores them (run on both engines
    in test_own_metric_list_functions_spark.py)."""
    def without(items: str) -> str:
        return f"FILTER({items}, fediscope_item -> NOT fediscope_item IS NULL)"

    tags, mentions, a = without("hashtags"), without("mentions"), without("ARRAY('a')")
    has_all = f"SIZE(ARRAY_EXCEPT({mentions}, hashtags)) = 0"
    assert to_spark("SELECT list_has_any(hashtags, mentions), hashtags && ['a'], list_has_all(hashtags, mentions), "
                    "hashtags @> mentions, mentions <@ hashtags FROM statuses") == (
        f"SELECT ARRAYS_OVERLAP({tags}, {mentions}), ARRAYS_OVERLAP({tags}, {a}), {has_all}, {has_all}, {has_all} "
        "FROM statuses")
    assert to_spark("SELECT list_position(hashtags, language), array_position(mentions, NULL), list_count(hashtags), "
                    "list_unique(mentions) FROM statuses") == (
        "SELECT NULLIF(ARRAY_POSITION(TRANSFORM(hashtags, fediscope_item -> fediscope_item IS NOT DISTINCT FROM "
        "language), TRUE), 0), NULLIF(ARRAY_POSITION(TRANSFORM(mentions, fediscope_item -> fediscope_item IS NOT "
        f"DISTINCT FROM NULL), TRUE), 0), SIZE({tags}), SIZE(ARRAY_DISTINCT({mentions})) FROM statuses")
    # nested: the inner call too
    inner = f"FILTER(hashtags, t -> ARRAYS_OVERLAP({without('ARRAY(t)')}, {mentions}))"
    assert to_spark("SELECT list_count(list_filter(hashtags, lambda t: list_has_any([t], mentions))) "
                    "FROM statuses") == f"SELECT SIZE({without(inner)}) FROM statuses"
    # a list whose order does not show in them is not refused
    check_portable("SELECT list_has_any(list(language), ['en']), list_has_all(['en'], list(language)), "
                   "list_count(list(language)), list_unique(list(DISTINCT language)), list_sort(list(language)), "
                   "list_sort(flatten(list(hashtags))), list_sort(list_transform(list(hashtags), "
                   "lambda h: array_to_string(h, ','))) FROM statuses")
    with pytest.raises(NotPortableError, match="no fixed order"):  # a position shows the order
        check_portable("SELECT list_position(list(language), 'en') FROM statuses")


def test_date_diff_in_days_between_dates_passes() -> None:
    """DATEs: a cast, a literal, a DATE column of a curated table, or one computed from those (in a CTE)."""
    check_portable("SELECT date_diff('day', DATE '1970-01-05', CAST(s.created_at AS DATE)), date_diff('day', dt, "
                   "current_date), datediff('day', s.dt, a.last_status_at), extract(week FROM dt), "
                   "date_part('hour', s.created_at), strftime(s.created_at, '%-d/%-m %a') "
                   "FROM statuses AS s JOIN accounts AS a USING (account_key)")
    check_portable("WITH b AS (SELECT max(dt) AS last_day FROM hashtags) "
                   "SELECT date_diff('day', h.dt, b.last_day) FROM hashtags AS h CROSS JOIN b")


def test_list_distinct_drops_nulls_on_spark_too() -> None:
    """DuckDB's list_distinct drops the list's NULLs; Spark's ARRAY_DISTINCT keeps one (run on both engines in
    test_own_metric_distinct_spark.py)."""
    assert to_spark("SELECT array_length(list_distinct(hashtags)), list_sort(array_distinct(mentions)) "
                    "FROM statuses") == ("SELECT SIZE(ARRAY_COMPACT(ARRAY_DISTINCT(hashtags))), "
                                         "ARRAY_SORT(ARRAY_COMPACT(ARRAY_DISTINCT(mentions))) FROM statuses")


def test_string_agg_distinct_ordered_is_a_sorted_set_joined_on_spark() -> None:
    """sqlglot's LISTAGG(DISTINCT x) WITHIN GROUP (ORDER BY x) fails inside Spark (a ClassCastException) beside
    another DISTINCT aggregate; without DISTINCT it is left as LISTAGG, which runs."""
    assert to_spark("SELECT string_agg(DISTINCT language, '; ' ORDER BY language DESC) FILTER (WHERE is_reply), "
                    "count(DISTINCT account_key), string_agg(language, ',' ORDER BY language) FROM statuses") == (
        "SELECT IF(SIZE(COLLECT_SET(language) FILTER(WHERE is_reply)) = 0, NULL, ARRAY_JOIN(TRANSFORM(SORT_ARRAY("
        "COLLECT_SET(language) FILTER(WHERE is_reply), FALSE), fediscope_item -> CAST(fediscope_item AS STRING)), "
        "'; ')), COUNT(DISTINCT account_key), LISTAGG(language, ',') WITHIN GROUP (ORDER BY language NULLS LAST) "
        "FROM statuses")


def test_concat_casts_each_argument_to_text_on_spark() -> None:
    """sqlglot's CONCAT(COALESCE(x, ''), …) makes x and '' one type in Spark, x's: a DECIMAL became a DOUBLE (3.50
    written 3.5) and a NULL number failed the run ('' is no BIGINT); run on both engines in _REWRITES."""
    assert to_spark("SELECT concat(language, '/', favourites_count * 0.25, CAST(dt AS VARCHAR)), "
                    "concat_ws(',', favourites_count, 'x') FROM statuses") == (
        "SELECT CONCAT(COALESCE(CAST(language AS STRING), ''), '/', COALESCE(CAST(favourites_count * 0.25 AS STRING), "
        "''), COALESCE(CAST(dt AS STRING), '')), CONCAT_WS(',', CAST(favourites_count AS STRING), 'x') FROM statuses")


def test_a_decimal_divided_is_divided_as_doubles_on_spark() -> None:
    """DuckDB divides a DECIMAL to a DOUBLE, Spark to a DECIMAL rounded to 6 places (2.3333333333333335, 2.333333):
    the DECIMAL is cast to a DOUBLE on Spark, typed also through a CTE's column and an aggregate; other divisions are
    left as they are (run on both engines in test_own_metric_typed_spark.py)."""
    assert to_spark("SELECT CAST(favourites_count AS DECIMAL(18, 2)) / 3, 7 / CAST(reblogs_count AS DECIMAL(9, 1)), "
                    "favourites_count / 7, avg(favourites_count) / 2 FROM statuses GROUP BY ALL") == (
        "SELECT CAST(CAST(favourites_count AS DECIMAL(18, 2)) AS DOUBLE) / 3, (CASE WHEN CAST(CAST(reblogs_count AS "
        "DECIMAL(9, 1)) AS DOUBLE) = 0 THEN CAST(7 AS DOUBLE) * CAST('Infinity' AS DOUBLE) ELSE 7 / CAST(CAST("
        "reblogs_count AS DECIMAL(9, 1)) AS DOUBLE) END), favourites_count / 7, AVG(favourites_count) / 2 FROM "
        "statuses GROUP BY ALL")
    assert to_spark("WITH m AS (SELECT sum(CAST(favourites_count AS DECIMAL(18, 2))) AS s, count(*) AS n "
                    "FROM statuses) SELECT s / n, sum(s) / n FROM m GROUP BY ALL") == (
        "WITH m AS (SELECT SUM(CAST(favourites_count AS DECIMAL(18, 2))) AS s, COUNT(*) AS n FROM statuses) "
        "SELECT (CASE WHEN n = 0 THEN CAST(CAST(s AS DOUBLE) AS DOUBLE) * CAST('Infinity' AS DOUBLE) ELSE CAST(s AS "
        "DOUBLE) / n END), (CASE WHEN n = 0 THEN CAST(CAST(SUM(s) AS DOUBLE) AS DOUBLE) * CAST('Infinity' AS DOUBLE) "
        "ELSE CAST(SUM(s) AS DOUBLE) / n END) FROM m GROUP BY ALL")


def test_a_list_item_is_try_element_at_on_spark() -> None:
    """DuckDB's l[i] (from 1, from the end when negative) is NULL out of range and for 0, where Spark (ANSI mode)
    fails; sqlglot wrote l[-1] (the last item) as Spark's l[-2], and a computed index unshifted (the next item);
    also a CTE's list column (run on both engines in test_own_metric_typed_spark.py)."""
    assert to_spark("SELECT hashtags[1], hashtags[-1], hashtags[0], hashtags[favourites_count], "
                    "(string_split(language, '-'))[2] FROM statuses") == (
        "SELECT TRY_ELEMENT_AT(hashtags, 1), TRY_ELEMENT_AT(hashtags, -1), TRY_ELEMENT_AT(hashtags, "
        "CAST(NULLIF(0, 0) AS INT)), TRY_ELEMENT_AT(hashtags, CAST(NULLIF(favourites_count, 0) AS INT)), "
        r"TRY_ELEMENT_AT((SPLIT(language, CONCAT('\\Q', '-', '\\E'))), 2) FROM statuses")
    assert to_spark("WITH t AS (SELECT mentions AS m FROM statuses) SELECT m[2] FROM t") == (
        "WITH t AS (SELECT mentions AS m FROM statuses) SELECT TRY_ELEMENT_AT(m, 2) FROM t")


def test_an_item_of_a_list_sqlglot_does_not_type_is_try_element_at_on_spark() -> None:
    """flatten, list_append, list_prepend and string_split_regex give lists sqlglot types as nothing: their l[i] was
    sqlglot's, a computed index unshifted (FLATTEN(…)[favourites_count], Spark's item after DuckDB's), l[-1] Spark's
    l[-2] and an index out of range a failed run (ANSI mode); and length() of one Spark's string LENGTH."""
    assert to_spark("SELECT flatten([hashtags, mentions])[favourites_count], list_append(hashtags, 'x')[-1], "
                    "list_prepend('x', hashtags)[2], string_split_regex(language, '-')[3] FROM statuses") == (
        "SELECT TRY_ELEMENT_AT(FLATTEN(FILTER(ARRAY(hashtags, mentions), fediscope_item -> NOT fediscope_item IS "
        "NULL)), CAST(NULLIF(favourites_count, 0) AS INT)), TRY_ELEMENT_AT(ARRAY_APPEND(COALESCE(hashtags, ARRAY()), "
        "'x'), -1), TRY_ELEMENT_AT(ARRAY_PREPEND(COALESCE(hashtags, ARRAY()), 'x'), 2), TRY_ELEMENT_AT(SPLIT(language, "
        "'-'), 3) FROM statuses")
    with pytest.raises(NotPortableError, match=re.escape("length() of a list becomes a string LENGTH in Spark")):
        check_portable("SELECT length(flatten([hashtags, mentions])) FROM statuses")


def test_a_list_slice_is_spark_slice_with_duckdbs_bounds() -> None:
    """DuckDB's l[a:b] (from 1, the end included, negative from the end, a start of 0 the first, NULL with a NULL
    bound) was passed to Spark as it is, which does not parse it, and array_slice(l, a, b) written as Spark's SLICE(l,
    a, b), whose third argument is a length (every bound from -7 to 7 and NULL, of lists of 0 to 5 items, run on both
    engines in test_own_metric_slices_maps_spark.py)."""
    assert to_spark("SELECT hashtags[2:3], hashtags[:2], hashtags[2:], hashtags[0:9], hashtags[3:1], "
                    "list_slice(hashtags, 2, 3), array_slice(hashtags, 2, 3) FROM statuses") == (
        "SELECT SLICE(hashtags, 2, 2), SLICE(hashtags, 1, 2), SLICE(hashtags, 2, SIZE(hashtags)), SLICE(hashtags, 1, "
        "9), SLICE(hashtags, 3, 0), SLICE(hashtags, 2, 2), SLICE(hashtags, 2, 2) FROM statuses")
    assert to_spark("SELECT hashtags[-2:] FROM statuses") == (
        "SELECT SLICE(hashtags, CAST(GREATEST(SIZE(hashtags) + (-2) + 1, 1) AS INT), CAST(GREATEST(SIZE(hashtags) - "
        "GREATEST(SIZE(hashtags) + (-2) + 1, 1) + 1, 0) AS INT)) FROM statuses")
    # a computed bound (also l[:b], which sqlglot parsed as the parameter :b): NULL with a NULL bound
    assert to_spark("SELECT hashtags[:replies_count] FROM statuses") == (
        "SELECT CASE WHEN replies_count IS NULL THEN NULL ELSE SLICE(hashtags, 1, CAST(GREATEST(IF(replies_count < 0, "
        "SIZE(hashtags) + (replies_count) + 1, replies_count) - 1 + 1, 0) AS INT)) END FROM statuses")


def test_a_slice_without_a_start_takes_a_computed_end() -> None:
    """DuckDB's l[:abs(b)] was refused as not valid DuckDB SQL (sqlglot read :abs as a parameter, then stopped at its
    bracket), and l[:b:2] lost its step (the parameter :b a start, 2 an end); l[:f(b)] is l[1:f(b)] (run on both
    engines in test_own_metric_slices_maps_spark.py)."""
    assert to_spark("SELECT hashtags[:abs(replies_count)] FROM statuses") == to_spark(
        "SELECT hashtags[1:abs(replies_count)] FROM statuses") == (
        "SELECT CASE WHEN ABS(replies_count) IS NULL THEN NULL ELSE SLICE(hashtags, 1, CAST(GREATEST(IF(ABS("
        "replies_count) < 0, SIZE(hashtags) + (ABS(replies_count)) + 1, ABS(replies_count)) - 1 + 1, 0) AS INT)) END "
        "FROM statuses")
    with pytest.raises(NotPortableError, match=re.escape("a slice with a step (:replies_count:2) is not translated")):
        check_portable("SELECT hashtags[:replies_count:2] FROM statuses")
    with pytest.raises(NotPortableError, match=re.escape("write substring(language, 1, greatest(replies_count, 1))")):
        check_portable("SELECT language[:greatest(replies_count, 1)] FROM statuses")


@pytest.mark.parametrize("sql, refusal", [
    ("SELECT hashtags[1:5:2] FROM statuses", "a slice with a step (1:5:2) is not translated to Spark SQL; write the "
                                            "slice without a step"),
    ("SELECT list_slice(hashtags, 1, 5, 2) FROM statuses", "a slice with a step"),
    ("SELECT language[2:3] FROM statuses", "a slice of text (language[2:3]) is not translated to Spark SQL (only "
                                          "a list's); write substring(language, 2, 3 - 2 + 1), with a start of 1"),
    ("SELECT language[:2] FROM statuses", "write substring(language, 1, 2)"),
    # text sqlglot does not type was sliced as a list (Spark's SLICE, which refuses text)
    ("SELECT json_extract_string(uri, '$.a')[2:3] FROM statuses", "a slice of a value whose type is not known "
     "(json_extract_string(uri, '$.a')[2:3]) is translated to Spark SQL only as a list's, and DuckDB slices text "
     "too; for text write substring(json_extract_string(uri, '$.a'), 2, 3 - 2 + 1), with a start of 1 or more; for a "
     "list cast it first: CAST(json_extract_string(uri, '$.a') AS VARCHAR[])[2:3]"),
    ("SELECT regexp_extract(uri, '[a-z]+')[:abs(replies_count)] FROM statuses", "write substring(regexp_extract(uri, "
     "'[a-z]+'), 1, abs(replies_count))"),
    ("SELECT list_transform(json_extract('[\"ab\"]', '$'), lambda t: t[1:2])", "a slice of a value whose type is not "
     "known (t[1:2])"),
    ("SELECT element_at(MAP {'a': 1}, 'a')", "element_at() of a map is a list ([v], or [] for a missing key) in "
                                             "DuckDB, the value in Spark; write m[k]"),
    ("SELECT map_extract(MAP {'a': 1}, 'a')", "map_extract() of a map is a list"),
    ("SELECT map_concat(MAP {'a': 1}, MAP {'a': 2})['a']", "map_concat() keeps the last map's value"),
    ("SELECT map_contains_value(MAP {'a': 1}, 1)", "write list_contains(map_values(m), v)"),
    ("SELECT map_to_pg_oid(MAP {'a': 1})", "map_to_pg_oid() is not a Spark function"),
])
def test_slices_and_map_functions_spark_cannot_run_alike_are_refused(sql: str, refusal: str) -> None:
    """Was: passed, and refused by Spark only when the metric ran (l[a:b], map_extract, …) or run to another answer
    (element_at of a map: a list in DuckDB, the value in Spark; map_concat of a key both maps hold)."""
    with pytest.raises(NotPortableError, match=re.escape(refusal)):
        check_portable(sql)


def test_a_map_literal_and_its_values_are_spark_map_and_try_element_at() -> None:
    """sqlglot wrote DuckDB's MAP {'a': 1} as MAP STRUCT(1 AS a), which Spark does not parse (and failed on a number
    key), and m[1] as Spark's m[0]; map_contains is Spark's map_contains_key (run on both engines in
    test_own_metric_slices_maps_spark.py)."""
    assert to_spark("SELECT MAP {'a': favourites_count, 'b': 2}['b'], map_keys(MAP {1: 'x', 2: 'y'}), "
                    "map_contains(MAP {'a': 1}, language) FROM statuses") == (
        "SELECT TRY_ELEMENT_AT(MAP('a', favourites_count, 'b', 2), 'b'), MAP_KEYS(MAP(1, 'x', 2, 'y')), "
        "MAP_CONTAINS_KEY(MAP('a', 1), language) FROM statuses")
    assert to_spark("WITH t AS (SELECT MAP {1: 'x'} AS m, MAP(['a'], [favourites_count]) AS n FROM statuses) "
                    "SELECT m[1], n['a'] FROM t") == (
        "WITH t AS (SELECT MAP(1, 'x') AS m, MAP_FROM_ARRAYS(ARRAY('a'), ARRAY(favourites_count)) AS n FROM statuses) "
        "SELECT TRY_ELEMENT_AT(m, 1), TRY_ELEMENT_AT(n, 'a') FROM t")


def test_an_item_of_a_maps_keys_or_values_is_try_element_at_on_spark() -> None:
    """map_keys(m)[i] and map_values(m)[i] were Spark's plain index (sqlglot typed neither as a list): MAP_KEYS(m)[0]
    for DuckDB's [1], a computed index unshifted, and an index out of range a failed run (ANSI mode) where DuckDB gives
    NULL; a lambda over a map's values was refused as over items of no known type (run on both engines in
    test_own_metric_slices_maps_spark.py)."""
    assert to_spark("WITH t AS (SELECT MAP {'a': favourites_count, 'b': replies_count} AS m, MAP {'x': hashtags} AS l, "
                    "replies_count AS r FROM statuses) SELECT map_keys(m)[1], map_values(m)[-1], map_values(m)[3], "
                    "map_keys(m)[r], map_values(l)[1][2] FROM t") == (
        "WITH t AS (SELECT MAP('a', favourites_count, 'b', replies_count) AS m, MAP('x', hashtags) AS l, "
        "replies_count AS r FROM statuses) SELECT TRY_ELEMENT_AT(MAP_KEYS(m), 1), TRY_ELEMENT_AT(MAP_VALUES(m), -1), "
        "TRY_ELEMENT_AT(MAP_VALUES(m), 3), TRY_ELEMENT_AT(MAP_KEYS(m), CAST(NULLIF(r, 0) AS INT)), "
        "TRY_ELEMENT_AT(TRY_ELEMENT_AT(MAP_VALUES(l), 1), 2) FROM t")
    assert to_spark("SELECT list_transform(map_values(MAP {'a': 1.5}), lambda v: v / 2)") == (
        "SELECT TRANSFORM(MAP_VALUES(MAP('a', 1.5)), v -> CAST(v AS DOUBLE) / 2)")


@pytest.mark.parametrize("sql", [
    "SELECT length(map_keys(MAP {'a': 1}))",
    "SELECT len(map_values(MAP {'a': favourites_count})) FROM statuses",
    "WITH t AS (SELECT MAP {'a': hashtags} AS m FROM statuses) SELECT length(map_values(m)) FROM t",
])
def test_length_of_a_maps_keys_or_values_is_refused_for_array_length(sql: str) -> None:
    """length(map_keys(m)) passed, and became Spark's string LENGTH, which refuses a list (a list's length in
    DuckDB); array_length is SIZE (run on both engines in test_own_metric_slices_maps_spark.py)."""
    with pytest.raises(NotPortableError, match=re.escape("becomes a string LENGTH in Spark, which refuses a list; "
                                                         "use array_length()")):
        check_portable(sql)
    check_portable(re.sub(r"\blen(gth)?\(", "array_length(", sql))


def test_list_concat_skips_a_null_list_on_spark_too() -> None:
    """DuckDB's list_concat skips a NULL list (list_concat(NULL, NULL) is []), Spark's CONCAT is NULL with one; || is
    NULL with a NULL list on both (run on both engines in test_own_metric_slices_maps_spark.py)."""
    assert to_spark("SELECT list_concat(hashtags, mentions, ['x']), hashtags || mentions FROM statuses") == (
        "SELECT CONCAT(COALESCE(hashtags, ARRAY()), COALESCE(mentions, ARRAY()), ARRAY('x')), hashtags || mentions "
        "FROM statuses")


def test_a_division_by_zero_gives_duckdbs_infinity_on_spark() -> None:
    """DuckDB divides by 0 to ±inf (NaN for 0 / 0; % of a DOUBLE: NaN), where Spark (ANSI mode) stopped the run; a
    divisor that cannot be 0 is left as it is (run on both engines in test_own_metric_slices_maps_spark.py)."""
    assert to_spark("SELECT favourites_count / replies_count, favourites_count / 7, "
                    "favourites_count / nullif(replies_count, 0) FROM statuses") == (
        "SELECT (CASE WHEN replies_count = 0 THEN CAST(favourites_count AS DOUBLE) * CAST('Infinity' AS DOUBLE) ELSE "
        "favourites_count / replies_count END), favourites_count / 7, favourites_count / NULLIF(replies_count, 0) "
        "FROM statuses")
    # a DOUBLE divisor may be -0.0 (DuckDB: -inf); % of a DOUBLE by 0 is NaN
    assert to_spark("WITH t AS (SELECT favourites_count / 2 AS d FROM statuses) SELECT 1 / d, d % d FROM t") == (
        "WITH t AS (SELECT favourites_count / 2 AS d FROM statuses) SELECT (CASE WHEN d = 0 THEN CAST(1 AS DOUBLE) * "
        "IF(CAST(d AS STRING) LIKE '-%', -CAST('Infinity' AS DOUBLE), CAST('Infinity' AS DOUBLE)) ELSE 1 / d END), "
        "(CASE WHEN d = 0 THEN CAST(d AS DOUBLE) * CAST('NaN' AS DOUBLE) ELSE d % d END) FROM t")
    # // and % of whole numbers: DuckDB stops at 0 too (the engines' errors say so)
    assert to_spark("SELECT favourites_count // replies_count, favourites_count % replies_count FROM statuses") == (
        "SELECT favourites_count DIV replies_count, favourites_count % replies_count FROM statuses")


def test_array_intersect_drops_nulls_on_spark_too() -> None:
    """DuckDB's array_intersect drops the NULLs both lists hold and is [] when the second is NULL; Spark keeps one
    NULL and is NULL (run on both engines in test_own_metric_typed_spark.py)."""
    assert to_spark("SELECT array_length(array_intersect(hashtags, mentions)), "
                    "list_sort(array_intersect(hashtags, ['a', NULL])) FROM statuses") == (
        "SELECT SIZE(ARRAY_COMPACT(ARRAY_INTERSECT(hashtags, COALESCE(mentions, FILTER(hashtags, fediscope_item -> "
        "FALSE))))), ARRAY_SORT(ARRAY_COMPACT(ARRAY_INTERSECT(hashtags, ARRAY('a', NULL)))) FROM statuses")


@pytest.mark.parametrize("sql, refusal", [
    # a lambda over a list whose items sqlglot cannot type: l[1] a list's item, a map's value or a character, and d / 3
    # of a DECIMAL or not, decide the Spark SQL
    ("SELECT list_transform(json_extract('[[1]]', '$'), lambda l: l[1])", "l[1] indexes a lambda's parameter whose "
     "type is not known (the items of its list are not typed), so it is not translated to Spark SQL as DuckDB numbers "
     "it; cast the list to its type first, e.g. list_transform(CAST(l AS VARCHAR[][]), lambda x: x[1])"),
    ("SELECT list_filter(json_extract('[1]', '$'), lambda d: d / 3 > 1)", "d / 3 divides a lambda's parameter whose "
     "type is not known"),
    # DuckDB 'a' for 'abc'[1]; Spark has no index of text (the run stopped)
    ("SELECT language[1] FROM statuses", "an index of text (language[1]: a character in DuckDB) is not translated to "
     "Spark SQL, which has none; write substring(language, 1, 1)"),
    ("SELECT list_transform(hashtags, lambda t: t[2]) FROM statuses", "an index of text (t[2]"),
    # DuckDB 0.03 (a DECIMAL, cut), Spark 0.035 (a DOUBLE)
    ("SELECT median(CAST(favourites_count AS DECIMAL(10, 2))) FROM statuses", "an interpolated quantile of a DECIMAL "
     "(median(CAST(favourites_count AS DECIMAL(10, 2)))) is a DECIMAL cut to its places in DuckDB"),
    ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(favourites_count AS DECIMAL(10, 2))) FROM statuses",
     "an interpolated quantile of a DECIMAL"),
    ("SELECT quantile_cont(favourites_count, [0.25, 0.75]) FROM statuses", "a quantile of a list of fractions"),
    ("SELECT approx_quantile(favourites_count, 0.5) FROM statuses", "is estimated otherwise in DuckDB (T-Digest) and "
     "Spark (percentile_approx); write quantile_cont(x, q) or quantile_disc(x, q)"),
    # a DATE's or TIMESTAMP's was cast to a DOUBLE, which Spark refused when the metric ran (DuckDB: a TIMESTAMP)
    ("SELECT median(dt) FROM statuses", "an interpolated quantile of a DATE (median(dt)) is not translated to Spark "
     "SQL, which interpolates numbers only; take one of the values (a TIMESTAMP between two of them in DuckDB): "
     "quantile_disc(dt, 0.5)"),
    ("SELECT quantile_cont(created_at, 0.25) FROM statuses", "an interpolated quantile of a TIMESTAMP"),
    ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY fetched_at) FROM statuses",
     "an interpolated quantile of a TIMESTAMP"),
    ("SELECT median(language) FROM statuses", "an interpolated quantile of a VARCHAR (median(language)) is not "
     "translated to Spark SQL, which interpolates numbers only; take one of the values: quantile_disc(language, 0.5)"),
    # a TIMESTAMP minus a TIMESTAMP is an INTERVAL in DuckDB (sqlglot: a TIMESTAMP)
    ("SELECT median(created_at - fetched_at) FROM statuses", "an interpolated quantile of an INTERVAL "
     "(median(created_at - fetched_at)) is not translated to Spark SQL, which interpolates numbers only; take one of "
     "the values: quantile_disc(created_at - fetched_at, 0.5)"),
    # descending: quantile_disc(x, 1 - q) is another value (4 of 1, 2, 3, 4 at 0.25 descending, 3 at 0.75)
    ("SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY language DESC) FROM statuses", "take one of the values: "
     "percentile_disc(0.25) WITHIN GROUP (ORDER BY language DESC)"),
    # not a Spark function (Spark refused it when the metric ran)
    ("SELECT reservoir_quantile(favourites_count, 0.5) FROM statuses", "reservoir_quantile() is not a Spark function "
     "(DuckDB estimates it from a sample of the values); write quantile_cont(x, q) or quantile_disc(x, q)"),
    # DuckDB numbers the items before the IF, Spark's FILTER after it
    ("SELECT [t || i FOR t, i IN hashtags IF t <> 'x'] FROM statuses", "a list comprehension using its position after "
     "IF ([t || i FOR t, i IN hashtags IF t <> 'x']) is not translated to Spark SQL (DuckDB numbers the items before "
     "the IF, Spark's FILTER and TRANSFORM after it); use i only in the IF, or leave the IF out"),
    ("SELECT regexp_split_to_array(uri, 'x', 'i') FROM statuses", "regexp_split_to_array() with 3 arguments is not "
     "translated to Spark SQL; write regexp_split_to_array(s, pattern), with its options in the pattern"),
    ("SELECT string_split_regex(uri, 'x', 'i') FROM statuses", "string_split_regex() with options"),
    ("SELECT fmod(favourites_count) FROM statuses", "fmod() with 1 arguments is not translated"),
    # a DOUBLE, written as text otherwise by each engine
    ("SELECT CAST(fmod(favourites_count, 7) AS VARCHAR) FROM statuses", "the DOUBLE fmod(favourites_count, 7) "
     "written as text"),
    ("SELECT divide(favourites_count / 2, 3) FROM statuses", "// of a DOUBLE or DECIMAL"),
])
def test_lambdas_quantiles_and_functions_spark_cannot_run_alike_are_refused(sql: str, refusal: str) -> None:
    """Was: passed, and run to another answer on Spark (a DECIMAL's median, an interpolated quantile's last digit,
    approx_quantile's estimate) or refused by Spark only when the metric ran (an index of text, FMOD, options)."""
    with pytest.raises(NotPortableError, match=re.escape(refusal)):
        check_portable(sql)


def test_a_lambdas_parameters_are_typed_from_its_list() -> None:
    """sqlglot typed no lambda's parameter: l[1] of a list of lists stayed Spark's l[0] (the run stopped at an empty
    list), d / 3 of DECIMALs a DECIMAL rounded to 6 places, list_transform(…)[1][2] a plain index; and a lambda's
    position counts from 1 in DuckDB, from 0 in Spark (run on both engines in
    test_own_metric_lambdas_quantiles_spark.py)."""
    assert to_spark("SELECT list_transform([hashtags, mentions], lambda l: l[-1]), "
                    "list_transform([CAST(favourites_count AS DECIMAL(9, 2))], lambda d: d / 3), "
                    "list_transform([hashtags], lambda l: l)[1][2], "
                    "list_filter(hashtags, lambda t, i: i > 1) FROM statuses") == (
        "SELECT TRANSFORM(ARRAY(hashtags, mentions), l -> TRY_ELEMENT_AT(l, -1)), "
        "TRANSFORM(ARRAY(CAST(favourites_count AS DECIMAL(9, 2))), d -> CAST(d AS DOUBLE) / 3), "
        "TRY_ELEMENT_AT(TRY_ELEMENT_AT(TRANSFORM(ARRAY(hashtags), l -> l), 1), 2), "
        "FILTER(hashtags, (t, i) -> (i + 1) > 1) FROM statuses")
    # a lambda inside a lambda, over a CTE's column, and a CAST typing a list sqlglot cannot
    assert "TRY_ELEMENT_AT(x, 1)" in to_spark(
        "WITH t AS (SELECT [[hashtags]] AS lll FROM statuses) "
        "SELECT list_transform(lll, lambda ll: list_transform(ll, lambda x: x[1])) FROM t")
    assert to_spark("SELECT list_transform(CAST(json_extract('[[1]]', '$') AS INTEGER[][]), lambda l: l[1])").endswith(
        "l -> TRY_ELEMENT_AT(l, 1))")


def test_duckdbs_aliases_and_functions_spark_has_not_are_written_as_spark_sql() -> None:
    """list_intersect was refused as no Spark function, regexp_split_to_array, fmod and divide passed to Spark,
    which refused them when the metric ran, and [1, 2] || NULL failed with a type error (run on both engines in
    test_own_metric_lambdas_quantiles_spark.py)."""
    assert to_spark("SELECT array_length(list_intersect(hashtags, mentions)), regexp_split_to_array(uri, '/+'), "
                    "divide(favourites_count - 5, 2), hashtags || NULL, NULL || mentions FROM statuses") == (
        "SELECT SIZE(ARRAY_COMPACT(ARRAY_INTERSECT(hashtags, COALESCE(mentions, FILTER(hashtags, fediscope_item -> "
        "FALSE))))), SPLIT(uri, '/+'), ((favourites_count - 5) DIV 2), IF(FALSE, hashtags, NULL), "
        "IF(FALSE, mentions, NULL) FROM statuses")
    assert to_spark("SELECT fmod(favourites_count, replies_count) FROM statuses") == (
        "SELECT (CASE WHEN CAST(replies_count AS DOUBLE) = 0 THEN CAST(favourites_count AS DOUBLE) * CAST('NaN' AS "
        "DOUBLE) ELSE CAST(favourites_count AS DOUBLE) - CAST(replies_count AS DOUBLE) * IF(ABS(CAST(favourites_count "
        "AS DOUBLE) / CAST(replies_count AS DOUBLE)) < 4503599627370496, CAST(FLOOR(CAST(favourites_count AS DOUBLE) "
        "/ CAST(replies_count AS DOUBLE)) AS DOUBLE), CAST(favourites_count AS DOUBLE) / CAST(replies_count AS "
        "DOUBLE)) END) FROM statuses")


def test_quantiles_are_duckdbs_on_spark() -> None:
    """sqlglot wrote quantile (DuckDB: one of the values) as Spark's interpolated PERCENTILE, percentile_cont/disc
    WITHIN GROUP as PERCENTILE_APPROX (approximate, ascending) and quantile_cont/disc as functions Spark refuses
    with two arguments; the values are sorted and DuckDB's position taken (run on both engines in
    test_own_metric_lambdas_quantiles_spark.py)."""
    sorted_values = "ARRAY(SORT_ARRAY(COLLECT_LIST(favourites_count), FALSE))"
    assert to_spark("SELECT percentile_disc(0.7) WITHIN GROUP (ORDER BY favourites_count DESC) FROM statuses") == (
        f"SELECT ELEMENT_AT(TRANSFORM({sorted_values}, fediscope_sorted -> TRY_ELEMENT_AT(fediscope_sorted, "
        "CAST(GREATEST(SIZE(fediscope_sorted) - FLOOR(SIZE(fediscope_sorted) - SIZE(fediscope_sorted) * 0.7), 1) AS "
        "INT))), 1) FROM statuses")
    spark_sql = to_spark("SELECT median(favourites_count) FILTER (WHERE is_reply), quantile(replies_count, 0.3), "
                         "quantile_cont(favourites_count, 0.75) OVER (PARTITION BY instance) FROM statuses")
    assert "PERCENTILE" not in spark_sql and "MEDIAN" not in spark_sql
    assert "COLLECT_LIST(favourites_count) FILTER(WHERE is_reply)" in spark_sql
    assert "COLLECT_LIST(favourites_count) OVER (PARTITION BY instance)" in spark_sql


@pytest.mark.parametrize("sql", [
    "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY language DESC) FROM statuses",
    "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY dt DESC) FROM statuses",
])
def test_a_refused_descending_quantiles_advice_keeps_its_order(sql: str) -> None:
    """The advice was quantile_disc(x, q), the ascending order's value (1 of 1, 2, 3, 4 at 0.25, where descending
    takes 4; quantile_disc(x, 1 - q) is 3, no better): the advised statement is portable, and descending on Spark."""
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql)
    advised = re.search(r"take one of the values(?: \([^)]*\))?: (.*)$", str(refused.value))
    assert advised is not None
    column = re.search(r"ORDER BY (\w+) DESC", sql).group(1)  # type: ignore[union-attr]
    spark_sql = to_spark(f"SELECT {advised.group(1)} FROM statuses")
    assert f"SORT_ARRAY(COLLECT_LIST({column}), FALSE)" in spark_sql


def test_a_list_comprehension_is_the_list_functions_it_is() -> None:
    """DuckDB's [f(x) FOR x IN l IF c] passed the check and was written for Spark as it is, ARRAY(f(x) FOR x IN l IF
    c), which Spark does not parse; it is list_transform(list_filter(l, lambda x: c), lambda x: f(x)), checked and
    translated as those are (run on both engines in test_own_metric_lambdas_quantiles_spark.py)."""
    assert to_spark("SELECT [trim(t) FOR t IN hashtags IF t <> 'x'], [t FOR t IN hashtags IF t <> 'x'], "
                    "[l[1] FOR l IN [hashtags, mentions]], [t || i FOR t, i IN hashtags], "
                    "[t FOR t, i IN hashtags IF i > 1], [[t FOR t IN l IF t > 'm'] FOR l IN [hashtags]] "
                    "FROM statuses") == (
        "SELECT TRANSFORM(FILTER(hashtags, t -> t <> 'x'), t -> TRIM(t)), FILTER(hashtags, t -> t <> 'x'), "
        "TRANSFORM(ARRAY(hashtags, mentions), l -> TRY_ELEMENT_AT(l, 1)), TRANSFORM(hashtags, (t, i) -> t || (i + 1)), "
        "FILTER(hashtags, (t, i) -> (i + 1) > 1), TRANSFORM(ARRAY(hashtags), l -> FILTER(l, t -> t > 'm')) "
        "FROM statuses")
    # checked as the list functions: a list of the rows' values in no fixed order
    with pytest.raises(NotPortableError, match=re.escape("ARRAY_AGG(language) gives its items in no fixed order")):
        check_portable("SELECT array_to_string([x FOR x IN list(language)], ',') FROM statuses")


def test_log10_is_spark_log10() -> None:
    """Spark's LOG(10, x), sqlglot's translation, is ln(x) / ln(10): 2.9999999999999996 for 1000."""
    assert to_spark("SELECT log10(favourites_count), log(10, replies_count) FROM statuses") == (
        "SELECT LOG10(favourites_count), LOG10(replies_count) FROM statuses")


#: A trap check_portable refuses (over the curated ``statuses``), and what its message says to write instead: run
#: on both engines over ``dialect_probe`` (``dt``, ``created_at``, ``favourites_count``), the results are equal.
#: a JSON object's text per row of ``dialect_probe``: a year as a string, a number, a number's text, an object
_JSON = ("concat('{\"s\": \"', strftime(dt, '%Y'), '\", \"n\": ', favourites_count, ', \"f\": \"', favourites_count, "
         "'.9\", \"o\": {\"k\": [1, 2]}}')")
_REWRITES = [
    ("SELECT dt - DATE '2020-12-25' FROM statuses", "SELECT date_diff('day', DATE '2020-12-25', CAST(dt AS DATE))"),
    ("SELECT dt - INTERVAL 1 MONTH FROM statuses",
     "SELECT CAST(dt + INTERVAL 1 MONTH AS DATE), CAST(dt - INTERVAL 1 YEAR AS DATE), dt - 3, dt + 40, "
     "CAST(CAST(dt AS TIMESTAMP) + INTERVAL 1 MONTH AS VARCHAR), CAST(created_at - INTERVAL 1 MONTH AS VARCHAR)"),
    ("SELECT date_trunc('week', dt) FROM statuses",
     "SELECT CAST(date_trunc('week', dt) AS DATE), CAST(date_trunc('month', dt) AS DATE), "
     "CAST(date_trunc('quarter', dt) AS DATE), CAST(date_trunc('week', created_at) AS VARCHAR)"),
    ("SELECT age(created_at, CAST(dt AS TIMESTAMP)) FROM statuses",
     "SELECT created_at - CAST(DATE '2020-12-25' AS TIMESTAMP), created_at - CAST(dt AS TIMESTAMP)"),
    ("SELECT date_sub('day', DATE '2020-12-25', dt) FROM statuses",
     "SELECT date_diff('day', DATE '2020-12-25', CAST(dt AS DATE)), dt - 3"),
    ("SELECT week(dt) FROM statuses",
     "SELECT weekofyear(dt), extract(week FROM dt), date_part('week', created_at), extract(year FROM dt)"),
    ("SELECT dayname(dt) FROM statuses", "SELECT strftime(dt, '%A'), strftime(created_at, '%B')"),
    ("SELECT epoch(created_at) FROM statuses",
     "SELECT date_diff('day', DATE '1970-01-01', CAST(created_at AS DATE)) * 86400 + hour(created_at) * 3600 "
     "+ minute(created_at) * 60 + second(created_at)"),
    ("SELECT log(favourites_count) FROM statuses",
     "SELECT log10(favourites_count), floor(log10(favourites_count)) = 3, log(10, favourites_count)"),
    ("SELECT format('{}!', favourites_count) FROM statuses", "SELECT concat(strftime(dt, '%Y'), '!')"),
    ("SELECT favourites_count * 100.0 / 7 FROM statuses",
     "SELECT 100 * favourites_count / 7, CAST(favourites_count AS DOUBLE) / 7"),
    ("SELECT CAST(favourites_count / 7 AS BIGINT) FROM statuses",
     "SELECT CAST(round(favourites_count / 7) AS BIGINT), CAST(floor(favourites_count / 7) AS BIGINT)"),
    ("SELECT round(favourites_count / 200, 2) FROM statuses", "SELECT round(favourites_count / 200 * 100) / 100"),
    ("SELECT array_to_string(list_distinct(list(favourites_count % 50)), ',') FROM statuses",
     "SELECT (SELECT array_to_string(list_sort(list_distinct(list(favourites_count % 50))), ',') FROM dialect_probe), "
     "array_to_string(list_sort(list_distinct([strftime(dt, '%m'), strftime(dt, '%Y'), strftime(dt, '%m'), "
     "strftime(dt, '%d')])), ','), array_length(list_distinct([hour(created_at), 1, hour(created_at), 2]))"),
    ("SELECT array_to_string(list(favourites_count ORDER BY dt DESC), ',') FROM statuses",
     "SELECT (SELECT string_agg(favourites_count, ',' ORDER BY dt DESC, favourites_count) FROM dialect_probe), "
     "(SELECT string_agg(DISTINCT favourites_count, ',' ORDER BY favourites_count) FROM dialect_probe), "
     "(SELECT count(DISTINCT dt) FROM dialect_probe)"),
    # rows tied on year(dt) joined in the order the rows come on each engine; with the value last, in one order
    ("SELECT string_agg(favourites_count, ',' ORDER BY year(dt)) FROM statuses",
     "SELECT (SELECT string_agg(favourites_count, ',' ORDER BY year(dt), favourites_count) FROM dialect_probe), "
     "string_agg(favourites_count, ',') OVER (ORDER BY year(dt), favourites_count)"),
    # a DOUBLE as text (143 * 1e6 / 7 is 20428571428.571430 in DuckDB, 2.042857142857143E10 in Spark): a DECIMAL's
    # or an integer's text instead, and a DECIMAL's (a literal with a decimal point) as it is
    ("SELECT CAST(favourites_count * 1e6 / 7 AS VARCHAR) FROM statuses",
     "SELECT CAST(CAST(round(favourites_count * 1e6 / 7 * 100) / 100 AS DECIMAL(38, 2)) AS VARCHAR), "
     "CAST(CAST(round(favourites_count / 7e6) AS BIGINT) AS VARCHAR), concat(CAST(round(favourites_count / 7) AS "
     "BIGINT), '/', favourites_count * 0.25, '/', nullif(favourites_count, 7)), "
     "CAST(round(favourites_count * 0.0015, 1) AS VARCHAR), "
     "CAST(floor(favourites_count * 1.5) AS VARCHAR), CAST(CAST(favourites_count AS DECIMAL(18, 2)) * 2 AS VARCHAR)"),
    ("SELECT string_agg(DISTINCT favourites_count / 7, ',' ORDER BY favourites_count / 7) FROM statuses",
     "SELECT (SELECT string_agg(DISTINCT CAST(round(favourites_count * 1e6 / 7 * 100) / 100 AS DECIMAL(38, 2)), ',' "
     "ORDER BY CAST(round(favourites_count * 1e6 / 7 * 100) / 100 AS DECIMAL(38, 2))) FROM dialect_probe), "
     "(SELECT array_to_string(list_sort(list(CAST(round(favourites_count * 1e3 / 7) AS BIGINT))), ';') "
     "FROM dialect_probe)"),
    # 201 / 200 = 1.005 (a double just below it): DuckDB 1.00, Spark 1.01
    ("SELECT CAST(favourites_count / 200 AS DECIMAL(18, 2)) FROM statuses",
     "SELECT CAST(round(favourites_count / 200 * 100) / 100 AS DECIMAL(18, 2)), "
     "CAST(favourites_count / 200 AS DECIMAL(18, 0)), CAST(round(favourites_count / 200 * 10) / 10 AS DECIMAL(9, 2))"),
    # JSON's arrow: a string "a" in DuckDB, a in Spark; its text (->>), in a function's arguments too, is alike
    ("SELECT coalesce(j -> 's', 'x') FROM (SELECT '{\"s\": \"a\"}' AS j)",
     f"SELECT coalesce({_JSON} ->> 's', 'x'), {_JSON} ->> 'n', json_extract_string({_JSON}, '$.o'), "
     f"{_JSON} ->> '$.missing', CAST({_JSON} -> 'o' -> 'k' AS BIGINT[])[2], {_JSON} -> 'o' ->> 'k'"),
    # '10.9' read from JSON: 11 in DuckDB, Spark stopped the run
    ("SELECT CAST(json_extract_string(j, '$.f') AS BIGINT) FROM (SELECT '{\"f\": \"1.9\"}' AS j)",
     f"SELECT CAST(round(CAST({_JSON} ->> 'f' AS DOUBLE)) AS BIGINT), "
     f"TRY_CAST(round(TRY_CAST(json_extract_string({_JSON}, '$.s') AS DOUBLE)) AS BIGINT)"),
    # DuckDB {"n":2.5,"c":null}, Spark {"n":2.50}: the JSON text built with concat instead
    ("SELECT to_json({'n': favourites_count * 0.5, 'c': NULL}) FROM statuses",
     "SELECT concat('{\"n\":', favourites_count, '}'), concat('{\"n\":', favourites_count, '}') ->> 'n'"),
    # 1 day in DuckDB (its fraction cut off), Spark stopped the run
    ("SELECT created_at + INTERVAL 1.5 DAY FROM statuses",
     "SELECT created_at + 1.5 * INTERVAL 1 DAY, created_at + INTERVAL 36 HOUR, created_at - 2.25 * INTERVAL 1 HOUR, "
     "created_at + 1.5 * INTERVAL 1 WEEK, created_at + INTERVAL 1.5 SECOND, created_at + INTERVAL '2.5 seconds', "
     "created_at + INTERVAL '1 day 2 hours'"),
    # a quoted timestamp's zone after the seconds, read alike (was: Spark failed the run on it after minutes)
    ("SELECT TIMESTAMP '2026-01-01 10:00+02' FROM statuses",
     "SELECT TIMESTAMP '2026-01-01 10:00:00+02:00', CAST('2026-01-01T10:00:00.5-0530' AS TIMESTAMP), "
     "TIMESTAMPTZ '2026-01-01 10:00:00+02' = TIMESTAMPTZ '2026-01-01 08:00:00Z', "
     "'2026-01-01 10:00:00-05:30'::TIMESTAMPTZ = TIMESTAMPTZ '2026-01-01 15:30:00 UTC', "
     "TIMESTAMPTZ '2026-01-01 10:00:00+02:30:00' < created_at"),
]


_REWRITE_IDS = [
    "date-date", "date+interval", "date_trunc", "age", "date_sub", "week", "dayname", "epoch", "log", "format",
    "decimal-division", "cast-to-integer", "round-to-places", "list_distinct", "list-order-by",
    "string_agg-ties", "double-as-text", "string_agg-doubles", "double-to-decimal", "json-arrow",
    "json-text-to-integer", "to_json", "fractional-interval", "zoned-timestamp"]
#: how each rewrite is run: its columns, row by row
_PROBE_ORDER = " FROM dialect_probe ORDER BY dt"


def _dialect_probe() -> list[tuple]:
    """The rows of ``dialect_probe``: ISO weeks at the ends of 2020, 2024 and 2026 (53, 1, 53 weeks), month ends,
    a leap day, fractions of seconds; every ``dt`` once."""
    import datetime as dt

    days = [dt.date(2020, 12, 25) + dt.timedelta(days=i) for i in range(12)] + [
        dt.date(2024, 12, 28) + dt.timedelta(days=i) for i in range(6)] + [
        dt.date(2026, 12, 26) + dt.timedelta(days=i) for i in range(11)] + [
        dt.date(2024, 2, 29), dt.date(2026, 1, 31), dt.date(2026, 3, 31)]
    counts = [1, 10, 100, 999, 1000, 1001, 201, 7, 1_000_000]
    return [(day, dt.datetime.combine(day, dt.time(i % 24, 30, 7, 900_000 if i % 2 else 0)), counts[i % len(counts)])
            for i, day in enumerate(days)]


@pytest.fixture(scope="module")
def rewrites_on_spark(spark) -> dict[str, object]:  # noqa: ANN001
    """What Spark gives for each rewrite of :data:`_REWRITES` over ``dialect_probe``, by id: its rows (its own
    columns), or the error it raised. Each rewrite is translated alone, as the test of its id would run it; the
    translations' columns are selected by one Spark query (was: one query each, ~0.6 s apiece), each rewrite's
    columns sliced back out by the number DuckDB gives for it alone. Should that query fail, every rewrite runs
    alone, so that an error is the failing rewrite's own."""
    import duckdb
    from pyspark.sql.types import DateType, LongType, StructField, StructType, TimestampNTZType

    rows = _dialect_probe()
    con = duckdb.connect()
    con.execute("CREATE TABLE dialect_probe (dt DATE, created_at TIMESTAMP, favourites_count BIGINT)")
    con.executemany("INSERT INTO dialect_probe VALUES (?, ?, ?)", rows)
    alone = {case: to_spark(f"{rewrite}{_PROBE_ORDER}") for case, (_trap, rewrite) in zip(_REWRITE_IDS, _REWRITES,
                                                                                             strict=True)}
    widths = {case: len(con.execute(f"{rewrite}{_PROBE_ORDER}").description)
              for case, (_trap, rewrite) in zip(_REWRITE_IDS, _REWRITES, strict=True)}
    spark_order = f"{_PROBE_ORDER} NULLS LAST"
    assert all(sql.startswith("SELECT ") and sql.endswith(spark_order) for sql in alone.values()), alone
    merged = "SELECT " + ", ".join(sql.removeprefix("SELECT ").removesuffix(spark_order)
                                   for sql in alone.values()) + spark_order
    schema = StructType([StructField("dt", DateType()), StructField("created_at", TimestampNTZType()),
                         StructField("favourites_count", LongType())])
    spark.createDataFrame(rows, schema).createOrReplaceTempView("dialect_probe")
    outcomes: dict[str, object] = {}
    try:
        try:
            together = [tuple(r) for r in spark.sql(merged).collect()]
        except Exception:  # noqa: BLE001 - each rewrite alone says whose error it is
            for case, sql in alone.items():
                try:
                    outcomes[case] = [tuple(r) for r in spark.sql(sql).collect()]
                except Exception as exc:  # noqa: BLE001 - the test of its id raises it
                    outcomes[case] = exc
        else:
            start = 0
            for case in alone:
                outcomes[case] = [r[start:start + widths[case]] for r in together]
                start += widths[case]
            assert all(len(r) == start for r in together), (start, together[0])
    finally:
        spark.catalog.dropTempView("dialect_probe")
    return outcomes


@pytest.mark.spark
@pytest.mark.parametrize("trap, rewrite", _REWRITES, ids=_REWRITE_IDS)
def test_a_refused_construct_has_a_rewrite_both_engines_run_alike(rewrites_on_spark: dict[str, object],
                                                                  request: pytest.FixtureRequest, trap: str,
                                                                  rewrite: str) -> None:
    """Spark's rows: :func:`rewrites_on_spark`, all of the rewrites in one query."""
    import duckdb

    with pytest.raises(NotPortableError):
        check_portable(trap)
    con = duckdb.connect()
    con.execute("CREATE TABLE dialect_probe (dt DATE, created_at TIMESTAMP, favourites_count BIGINT)")
    con.executemany("INSERT INTO dialect_probe VALUES (?, ?, ?)", _dialect_probe())
    on_spark = rewrites_on_spark[request.node.callspec.id]
    if isinstance(on_spark, Exception):
        raise on_spark
    assert on_spark == con.execute(f"{rewrite}{_PROBE_ORDER}").fetchall()


#: DOUBLEs written as text: DuckDB's and Spark's text (as the reviewer found them), -0.0 beside 0.0
_DOUBLES_AS_TEXT = [
    "CAST(d AS VARCHAR)", "d::VARCHAR", "concat(d, '')", "d || ''", "CAST(CAST(d AS FLOAT) AS VARCHAR)",
    "CAST(floor(d) AS VARCHAR)", "printf('%.2f', d)", "CAST(d AS DECIMAL(18, 2))",
    "(SELECT string_agg(d, ',' ORDER BY d) FROM doubles)",
    "(SELECT string_agg(DISTINCT d, ',' ORDER BY d) FROM doubles)",
    "(SELECT array_to_string(list_sort(list(d)), ',') FROM doubles)"]


@pytest.mark.spark
@pytest.mark.parametrize("expression", _DOUBLES_AS_TEXT)
def test_a_double_written_as_text_differs_between_the_engines_and_is_refused(
        spark, monkeypatch: pytest.MonkeyPatch, expression: str) -> None:  # noqa: ANN001
    """The trap the refusal is for, run on both engines as to_spark would translate it without the refusal:
    DuckDB writes 123456789.0, 2000000000000000.0, 1e-05, Spark 1.23456789E8, 2.0E15, 1.0E-5; floor is a DOUBLE in
    DuckDB (1.0), a BIGINT in Spark (1); printf and a CAST to DECIMAL round 1.005 to 1.00 in DuckDB, 1.01 in Spark;
    DuckDB's string_agg(DISTINCT …) keeps -0.0 beside 0.0, Spark one of them."""
    import duckdb
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    from fediscope.engine import dialect

    with pytest.raises(NotPortableError):  # over the curated statuses, where d is a DOUBLE
        to_spark(f"WITH doubles AS (SELECT uri AS k, favourites_count / 7 AS d FROM statuses) "
                 f"SELECT k, {expression} FROM doubles")
    rows = [(i, v) for i, v in enumerate([123456789.0, 2e15, 1e-5, -0.0, 0.0, 1.005, 0.1, 1.5])]
    sql = f"SELECT k, {expression} FROM doubles ORDER BY k"
    con = duckdb.connect()
    con.execute("CREATE TABLE doubles (k BIGINT, d DOUBLE)")
    con.executemany("INSERT INTO doubles VALUES (?, ?)", rows)
    spark.createDataFrame(rows, StructType([StructField("k", LongType()), StructField("d", DoubleType())])) \
        .createOrReplaceTempView("doubles")
    monkeypatch.setattr(dialect, "check_portable", lambda *args: None)
    try:
        translated = dialect.to_spark.__wrapped__(sql)
        assert [tuple(r) for r in spark.sql(translated).collect()] != con.execute(sql).fetchall()
    finally:
        spark.catalog.dropTempView("doubles")


def test_a_refused_date_diff_says_what_to_write() -> None:
    with pytest.raises(NotPortableError) as raised:
        to_spark("SELECT date_diff('day', created_at, fetched_at) AS days FROM statuses ORDER BY days")
    assert str(raised.value) == (
        "not portable to Spark SQL: date_diff('day', …) of created_at, not known to be a DATE: DuckDB counts "
        "midnights crossed, Spark whole 24-hour periods; write CAST(created_at AS DATE)")


#: An INTERVAL written as text: DuckDB writes ``1 day 00:30:00``, Spark ``INTERVAL '1 00:30:00' DAY TO SECOND``
_INTERVALS_AS_TEXT = [
    "CAST(created_at - fetched_at AS VARCHAR)", "CAST(created_at - fetched_at AS TEXT)",
    "CAST(created_at - fetched_at AS STRING)", "(created_at - fetched_at)::VARCHAR",
    "TRY_CAST(created_at - fetched_at AS VARCHAR)", "'took ' || (created_at - fetched_at)",
    "concat('took ', created_at - fetched_at)", "concat_ws(' ', 'took', created_at - fetched_at)",
    "printf('took %s', created_at - fetched_at)", "CAST(max(created_at) - min(fetched_at) AS VARCHAR)",
    "CAST(created_at - dt AS VARCHAR)", "CAST(INTERVAL 1 DAY AS VARCHAR)",
    "(SELECT string_agg(created_at - fetched_at, ',' ORDER BY created_at - fetched_at) FROM statuses)",
    "(SELECT array_to_string(list_sort(list(created_at - fetched_at)), ',') FROM statuses)",
]


@pytest.mark.parametrize("expression", _INTERVALS_AS_TEXT)
def test_an_interval_written_as_text_is_refused(expression: str) -> None:
    """Was: passed, and written as another text on Spark (a metric whose column differs between the engines)."""
    with pytest.raises(NotPortableError, match=r"^own: an INTERVAL written as text \(.+\) differs between DuckDB and "
                       r"Spark \(1 day 00:30:00 in DuckDB, INTERVAL '1 00:30:00' DAY TO SECOND in Spark\); write it "
                       r"as a number: "):
        check_portable(f"SELECT uri, {expression} AS took FROM statuses", "own")


def test_an_interval_of_a_cte_written_as_text_is_refused() -> None:
    with pytest.raises(NotPortableError, match=re.escape("an INTERVAL written as text (CAST(took AS VARCHAR))")):
        check_portable("WITH t AS (SELECT uri, created_at - fetched_at AS took FROM statuses) "
                       "SELECT uri, CAST(took AS VARCHAR) FROM t")


def test_a_refused_interval_as_text_says_what_to_write_and_that_passes() -> None:
    """The rewrite named in the refusal, over the interval's own timestamps, passes the check; over an interval not
    written as one timestamp minus another, the advice of an interval result column (checked on both engines)."""
    from fediscope.engine.metric_state import interval_advice

    with pytest.raises(NotPortableError) as raised:
        check_portable("SELECT uri, CAST(created_at - fetched_at AS VARCHAR) AS took FROM statuses")
    said = str(raised.value)
    assert "\n" not in said
    seconds, days = re.fullmatch(r".*write it as a number: (.+) for seconds \(between their whole seconds\) or "
                                 r"(.+) for days \(midnights crossed\)", said).groups()
    assert days == "date_diff('day', CAST(fetched_at AS DATE), CAST(created_at AS DATE))"
    for rewrite in (seconds, days):
        check_portable(f"SELECT uri, CAST({rewrite} AS VARCHAR) AS took FROM statuses")
    with pytest.raises(NotPortableError) as raised:
        check_portable("SELECT CAST(INTERVAL 1 DAY AS VARCHAR)")
    assert str(raised.value).endswith(interval_advice().split("; for b - a between two timestamps, e.g. ")[1])


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


#: (a, b) pairs of timestamps: fractions of a second on either side, midnight, month, year and leap-day crossings,
#: b before a, the same instant, days apart
_SPANS = [
    ("2026-03-05 10:30:00.5", "2026-03-05 10:30:01.2"), ("2026-03-05 10:30:00.9", "2026-03-05 10:30:00.1"),
    ("2026-03-05 23:59:59.999", "2026-03-06 00:00:00"), ("2026-03-06 00:00:00", "2026-03-05 23:59:59.5"),
    ("2025-12-31 23:00:00", "2026-01-01 01:00:00"), ("2024-02-28 12:00:00", "2024-03-01 11:59:59.75"),
    ("2026-03-05 10:30:00", "2026-03-05 10:30:00"), ("2020-01-01 00:00:00.25", "2026-07-04 18:45:31.5"),
    ("2026-07-04 18:45:31", "2020-01-01 00:00:00.5"), ("2026-01-31 05:06:07.123456", "2026-03-31 04:05:06.654321"),
]


def _interval_advice() -> dict[str, str]:
    """What the refusal of an interval column advises writing instead, for seconds and for days, over two
    timestamps ``a`` and ``b`` (the interval ``b - a``) or the interval column itself (``span``)."""
    from fediscope.engine.metric_state import interval_column_error

    said = str(interval_column_error("span"))
    found = re.search(r"e\.g\. (.+) for seconds.* or (.+?) for days", said)
    assert found, said
    return {"seconds": found.group(1), "days": found.group(2)}


def _spelled(advice: str, a: str, b: str) -> str:
    """``advice`` over the timestamps ``a`` and ``b``."""
    return re.sub(r"\b(span|a|b)\b", lambda m: {"span": f"({b} - {a})", "a": a, "b": b}[m.group(1)], advice)


def test_the_advice_for_an_interval_column_is_portable_and_right_on_duckdb() -> None:
    """The refusal of an interval column suggested ``epoch(span)``, which check_portable refuses (Spark drops the
    fraction DuckDB keeps): what it suggests passes the check, in a metric over the curated statuses, and gives
    the seconds between the whole seconds of a and b, and the midnights crossed."""
    import datetime as dt

    import duckdb

    advice = _interval_advice()
    for unit, sql in advice.items():
        check_portable(f"SELECT instance, {_spelled(sql, 'min(created_at)', 'max(created_at)')} AS span "
                       "FROM statuses GROUP BY instance", f"advised {unit}")
    con = duckdb.connect()
    con.execute("CREATE TABLE spans (a TIMESTAMP, b TIMESTAMP)")
    con.executemany("INSERT INTO spans VALUES (?, ?)", _SPANS)
    got = con.execute(f"SELECT {advice['seconds']}, {advice['days']} FROM spans").fetchall()
    expected = []
    for a_text, b_text in _SPANS:
        a, b = dt.datetime.fromisoformat(a_text), dt.datetime.fromisoformat(b_text)
        whole = (b.replace(microsecond=0) - a.replace(microsecond=0))
        expected.append((whole.days * 86400 + whole.seconds, (b.date() - a.date()).days))
    assert got == expected


@pytest.mark.spark
def test_the_advice_for_an_interval_column_gives_the_same_numbers_on_spark(spark) -> None:  # noqa: ANN001
    import datetime as dt

    import duckdb
    from pyspark.sql.types import StructField, StructType, TimestampNTZType

    advice = _interval_advice()
    sql = f"SELECT {advice['seconds']} AS seconds, {advice['days']} AS days FROM spans"
    con = duckdb.connect()
    con.execute("CREATE TABLE spans (a TIMESTAMP, b TIMESTAMP)")
    con.executemany("INSERT INTO spans VALUES (?, ?)", _SPANS)
    rows = [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in _SPANS]
    schema = StructType([StructField("a", TimestampNTZType()), StructField("b", TimestampNTZType())])
    spark.createDataFrame(rows, schema).createOrReplaceTempView("spans")
    try:
        assert [tuple(r) for r in spark.sql(to_spark(sql)).collect()] == con.execute(sql).fetchall()
    finally:
        spark.catalog.dropTempView("spans")


#: a refused construct as the metric's SQL has it, on one line, not as sqlglot writes it (CAST(s AS JSON),
#: JSON_EXTRACT, LEFT(s, SUM(x) - 1)); a column's table kept (v.x)
_AS_WRITTEN = {
    "SELECT s :: json FROM (SELECT '{}' AS s)": "query: s :: json is not translated to Spark SQL",
    "SELECT Json_Extract(j,'$.i') FROM (SELECT '{}' AS j)": "query: Json_Extract(j,'$.i') is JSON in DuckDB",
    "SELECT LEFT(s,\n  SUM(x)-1) FROM (VALUES ('a', 1)) AS v(s, x) GROUP BY s":
        "query: left() with SUM(x)-1 (LEFT(s, SUM(x)-1)), of a sum",
    "SELECT v.n, generate_series(1, sum(v.x)) FROM (VALUES (1, 2)) AS v(n, x) GROUP BY v.n":
        "query: generate_series() with sum(v.x) (generate_series(1, sum(v.x))), of a sum",
    "SELECT list_sort(list(hashtags))[1] FROM statuses": "query: list_sort() of a list of lists or structs "
                                                         "(list_sort(list(hashtags)))",
}


@pytest.mark.parametrize("sql", _AS_WRITTEN)
def test_a_refusal_quotes_the_construct_as_written(sql: str) -> None:
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql)
    assert str(refused.value).startswith(_AS_WRITTEN[sql])
    assert "\n" not in str(refused.value)
