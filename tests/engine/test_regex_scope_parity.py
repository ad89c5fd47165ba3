"""An own metric's regular expression means on Spark what it means on DuckDB (RE2) where Java reads the same text
otherwise. Was: ``(?i:a)b`` matched ``aB`` on Spark (the ``(?i)`` found in the pattern was put before all of it);
``regexp_full_match(s, p, 'i')`` dropped its option; ``s SIMILAR TO '[[:alpha:]]+'`` was not refused (Java reads
the class as the characters ``:alph``); ``\\s`` took the vertical tab on Spark, ``\\v`` every vertical space, ``\\b``
saw ``é`` as a word character; ``[a[]`` failed the run and ``[a&&b]`` was an intersection on Spark; ``\\101`` (RE2:
octal ``A``) a back reference; ``(?U)`` (RE2: lazy repetitions) Java's Unicode classes; and a ``(?m)`` after an
escaped backslash was not refused."""

from __future__ import annotations

import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable, to_spark

#: each pattern beside the texts it is about, on both engines
SELECT = r"""SELECT i,
  regexp_matches(s, '(?i:a)b') AS scoped, regexp_full_match(s, 'ab', 'i') AS full_i,
  regexp_matches(s, '\s') AS space, regexp_matches(s, '[x\S]') AS not_space, regexp_matches(s, '\v') AS vtab,
  regexp_matches(s, '\bb') AS boundary, regexp_matches(s, 'é\Bb') AS no_boundary,
  regexp_matches(s, '[a[]') AS bracket, regexp_matches(s, '[a&&b]') AS ampersand, regexp_matches(s, '\101') AS octal
FROM (VALUES (1, 'aB'), (2, 'AB'), (3, chr(11)), (4, 'éb'), (5, '['), (6, '&'), (7, 'A'), (8, 'ab')) AS t(i, s)
ORDER BY i"""

#: DuckDB's answers (i, scoped, full_i, space, not_space, vtab, boundary, no_boundary, bracket, ampersand, octal)
EXPECTED = [
    (1, False, True, False, True, False, False, False, True, True, False),
    (2, False, True, False, True, False, False, False, False, False, True),
    (3, False, False, False, True, True, False, False, False, False, False),
    (4, False, False, False, True, False, True, False, False, True, False),
    (5, False, False, False, True, False, False, False, True, False, False),
    (6, False, False, False, True, False, False, False, False, True, False),
    (7, False, False, False, True, False, False, False, False, False, True),
    (8, True, True, False, True, False, False, False, True, True, False),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_reads_scoped_flags_shorthands_classes_and_octal_alike(
        engine: str, request: pytest.FixtureRequest) -> None:
    got = rows_on(engine, SELECT, request)
    assert got == EXPECTED


@pytest.mark.parametrize(("duckdb_sql", "spark_sql"), [
    ("uri ~ '(?i:a)b'", "uri RLIKE '(?u)(?i:a)b'"),  # only the group folds case
    ("regexp_full_match(uri, 'a', 'i')", "uri RLIKE '(?iu)^(?:a)\\\\z'"),
    ("uri ~ '\\s[\\s]'", "uri RLIKE '[\\\\t\\\\n\\\\f\\\\r ][\\\\t\\\\n\\\\f\\\\r ]'"),
    ("uri ~ '[^\\S]'", "uri RLIKE '[^[^\\\\t\\\\n\\\\f\\\\r ]]'"),  # Java: a nested class is a union
    ("uri ~ '[a[&]'", "uri RLIKE '[a\\\\[\\\\&]'"),
    ("uri ~ '\\101\\0[\\01]'", "uri RLIKE '\\\\x{41}\\\\x{0}[\\\\x{1}]'"),
    ("uri ~ '\\\\(?i)a'", "uri RLIKE '(?u)\\\\\\\\(?i)a'"),  # an escaped backslash, then a flag group
])
def test_written_for_java_as_re2_reads_it(duckdb_sql: str, spark_sql: str) -> None:
    assert to_spark(f"SELECT {duckdb_sql} FROM statuses") == f"SELECT {spark_sql} FROM statuses"


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT uri SIMILAR TO '[[:alpha:]]+' FROM statuses", "has the POSIX class [:alpha:]"),
    ("SELECT regexp_extract(uri, '(?U)a+') FROM statuses", "has the flag U, which makes repetitions lazy"),
    ("SELECT regexp_matches(uri, '\\\\(?m)a$') FROM statuses", "has the multi-line flag m"),
])
def test_what_java_reads_otherwise_and_is_not_written_is_refused(sql: str, message: str) -> None:
    with pytest.raises(NotPortableError, match=message.replace("[", "\\[")):
        check_portable(sql, "q")
