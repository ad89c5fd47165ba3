"""Regular expressions, ``split_part``, ``to_timestamp``, ``date_add`` with an INTERVAL, ``prefix``/``suffix``/
``strlen`` and a CAST of text to an integer: written for Spark as DuckDB means them, or refused up front (run on
both engines in test_own_metric_regex_dates_spark.py). Was: Java's ``$`` matched before a final line break and its
``.`` no ``\\r``, ``(?i)`` folded ASCII letters only and ``regexp_matches``' option ``'i'`` was dropped, ``SIMILAR
TO`` and ``regexp_full_match`` failed the run; ``split_part(s, '', i)`` was the whole text and ``split_part(s, d,
0)`` failed the run; ``to_timestamp(1.5)`` dropped the fraction; ``date_add(ts, INTERVAL …)``, ``prefix``,
``suffix`` and ``strlen`` failed the run, and so did ``CAST('1.9' AS INT)`` (2 in DuckDB)."""

from __future__ import annotations

import pytest

from fediscope.engine.dialect import NotPortableError, check_portable, to_spark

REFUSED = {
    "SELECT regexp_matches(uri, '(?m)^a$') FROM statuses":
        "q: the regular expression '(?m)^a$' has the multi-line flag m, whose ^ and $ match at other line breaks in "
        "DuckDB (RE2: \\n only) than in Spark (Java: also \\r, and ^ not after a final one); it is not translated "
        "to Spark SQL: match the line breaks themselves, (^|\\n)x(\\n|\\z)",
    "SELECT regexp_extract(uri, language) FROM statuses":
        "q: a regular expression that is not quoted text (REGEXP_EXTRACT(uri, language)) is not translated to Spark "
        "SQL (Java reads $, . and (?i) otherwise than RE2, and only a quoted one is rewritten); write the pattern "
        "as quoted text",
    "SELECT regexp_matches(uri, 'a.b', 's') FROM statuses":
        "q: REGEXP_MATCHES(uri, 'a.b', 's'): the option 's' is not translated to Spark SQL (only 'i', "
        "case-insensitive, and 'g' for regexp_replace); write it as an inline flag in the pattern where both "
        "engines know it ((?s) for '.' to match a line break)",
    "SELECT CAST(language AS INTEGER) FROM statuses":
        "q: CAST of text to INT (CAST(language AS INTEGER)) reads '1.9' as 2 and '1e3' as 1000 in DuckDB, and fails "
        "the run on such text in Spark; write CAST(round(CAST(x AS DOUBLE)) AS BIGINT), alike in both (exact up "
        "to 2^53)",
}


@pytest.mark.parametrize("sql", list(REFUSED))
def test_a_construct_spark_runs_otherwise_is_refused_naming_it_and_what_to_write(sql: str) -> None:
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql, "q")
    assert str(refused.value) == REFUSED[sql]


@pytest.mark.parametrize(("duckdb", "spark"), [
    ("regexp_matches(uri, 'a$')", "uri RLIKE 'a\\\\z'"),  # Java's $ also matches before a final line break
    ("uri ~ '[$]|\\$|\\Q$\\E'", "uri RLIKE '[$]|\\\\$|\\\\Q$\\\\E'"),  # no anchor: in a class, escaped, quoted
    ("uri ~ '[]$]x$'", "uri RLIKE '[]$]x\\\\z'"),  # a ] first in a class is itself
    ("uri ~ '^a.b'", "uri RLIKE '(?d)^a.b'"),  # Java's . matches no \r without UNIX_LINES
    ("regexp_matches(uri, 'é', 'i')", "uri RLIKE '(?iu)é'"),  # the option was dropped; Java folds ASCII only
    ("uri ~ '(?i)é'", "uri RLIKE '(?u)(?i)é'"),  # u: Java folds beyond ASCII where (?i) is on
    ("uri SIMILAR TO 'a.'", "uri RLIKE '(?d)^(?:a.)\\\\z'"),  # Spark does not parse SIMILAR TO
    ("regexp_full_match(uri, 'a|b')", "uri RLIKE '^(?:a|b)\\\\z'"),  # nor has regexp_full_match
    ("regexp_replace(uri, '(a)$', '\\1', 'g')", "REGEXP_REPLACE(uri, '(a)\\\\z', '$1')"),
    ("prefix(uri, 'a')", "STARTSWITH(uri, 'a')"),
    ("suffix(uri, 'a')", "ENDSWITH(uri, 'a')"),
    ("strlen(uri)", "OCTET_LENGTH(uri)"),
    ("date_add(created_at, INTERVAL 1 DAY)", "created_at + INTERVAL '1' DAY"),  # Spark's date_add adds days only
    ("split_part(uri, '/', 2)", "SPLIT_PART(uri, '/', 2)"),
    ("to_timestamp(favourites_count)",
     "CASE WHEN favourites_count IS NULL THEN NULL WHEN ABS(CAST(favourites_count AS DOUBLE) * 1000000) < "
     "9.223372036854775807E18 THEN TIMESTAMP_MICROS(CAST(RINT(CAST(favourites_count AS DOUBLE) * 1000000) AS "
     "BIGINT)) ELSE RAISE_ERROR('Epoch seconds out of range for TIMESTAMP WITH TIME ZONE') END"),
    ("CAST('12' AS INT)", "CAST('12' AS INT)"),  # whole-number text: alike
    # RE2's \b: between an ASCII word character and another (Java 17's counts é as a word character)
    # (Java's \w is ASCII's whatever (?iu) says; RE2's (?U) is refused)
    ("regexp_matches(uri, '\\Bx\\b')", "uri RLIKE '(?:(?<=\\\\w)(?=\\\\w)|(?<!\\\\w)(?!\\\\w))x"
     "(?:(?<=\\\\w)(?!\\\\w)|(?<!\\\\w)(?=\\\\w))'"),
    # in a class, escaped: as they are (RE2 refuses \b in a class: refused, test_regex_invalid_escapes.py)
    ("regexp_matches(uri, '[\\d]\\\\b')", "uri RLIKE '[\\\\d]\\\\\\\\b'"),
    # Spark's BIGINT sum, as fast as it comes: the engine sums as DuckDB's HUGEINT only once it overflowed
    ("sum(favourites_count)", "SUM(favourites_count)"),
    ("CAST(sum(favourites_count) AS DOUBLE)", "CAST(SUM(favourites_count) AS DOUBLE)"),
])
def test_written_for_spark_as_duckdb_means_it(duckdb: str, spark: str) -> None:
    assert to_spark(f"SELECT {duckdb} FROM statuses") == f"SELECT {spark} FROM statuses"


@pytest.mark.parametrize(("duckdb", "spark"), [
    # summed as DuckDB's HUGEINT, back to a BIGINT unless cast
    ("sum(favourites_count)", "CAST(SUM(CAST(favourites_count AS DECIMAL(38, 0))) AS BIGINT)"),
    ("CAST(sum(favourites_count) AS DOUBLE)", "CAST(SUM(CAST(favourites_count AS DECIMAL(38, 0))) AS DOUBLE)"),
    ("sum(CAST(favourites_count AS DOUBLE))", "SUM(CAST(favourites_count AS DOUBLE))"),  # no whole numbers: as is
    # computed with as a HUGEINT (a result within 64 bits of a sum beyond them), divided as a DOUBLE, as in DuckDB
    ("sum(favourites_count) - 1", "SUM(CAST(favourites_count AS DECIMAL(38, 0))) - 1"),
    ("sum(favourites_count) / 2", "CAST(SUM(CAST(favourites_count AS DECIMAL(38, 0))) AS DOUBLE) / 2"),
])
def test_wide_sums_are_summed_as_duckdbs_hugeint(duckdb: str, spark: str) -> None:
    assert to_spark(f"SELECT {duckdb} FROM statuses", wide_sums=True) == f"SELECT {spark} FROM statuses"


def test_split_part_of_an_empty_delimiter_or_part_zero_is_written_out() -> None:
    assert to_spark("SELECT split_part(uri, language, 0) FROM statuses") == (
        "SELECT CASE WHEN uri IS NULL OR language IS NULL OR 0 IS NULL THEN NULL WHEN 0 = 0 THEN '' "
        "WHEN language = '' THEN CASE WHEN ABS(0) <= LENGTH(uri) THEN SUBSTRING(uri, CAST(0 AS INT), 1) ELSE '' END "
        "ELSE SPLIT_PART(uri, language, 0) END FROM statuses")


def test_date_add_of_a_date_and_an_interval_is_refused_as_date_plus_interval() -> None:
    with pytest.raises(NotPortableError, match=r"DATE ± INTERVAL .* is a TIMESTAMP in DuckDB, a DATE in Spark"):
        check_portable("SELECT date_add(CAST(created_at AS DATE), INTERVAL 1 DAY) FROM statuses", "q")
