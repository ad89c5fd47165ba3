"""Own-metric SQL DuckDB refuses or answers otherwise than Spark did, run on both engines (DuckDB's SQL, and its
Spark translation): the same rows, or a failure on both. Was:

* ``split_part(s, d, 1.5)`` (or of a DOUBLE index): DuckDB refuses it (``array_extract(VARCHAR[], DECIMAL(2,1))``),
  Spark cut the fraction off and answered;
* ``LIKE``/``ILIKE … ESCAPE`` of a character of more than one byte (``§``, the Kelvin sign): DuckDB refuses it,
  Spark answered; ``ESCAPE ''`` (no escape character in DuckDB): Spark failed the run;
* RE2's named group ``(?P<name>…)``: Java fails the run on it (``INVALID_PARAMETER_VALUE.PATTERN``)."""

from __future__ import annotations

import duckdb
import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError

REFUSED_BY_BOTH = {
    "SELECT split_part('a/b/c', '/', 1.5) AS p": (r"array_extract\(VARCHAR\[\], DECIMAL",
                                                  r"split_part\(\) with the part index 1\.5"),
    "SELECT split_part('a/b/c', '/', x / 2) AS p FROM (VALUES (3)) AS v(x)": (
        r"array_extract\(VARCHAR\[\], DOUBLE", r"split_part\(\) with the part index x / 2 \(of the type DOUBLE\)"),
    "SELECT 'a%' ILIKE 'a§%' ESCAPE '§' AS m": ("Escape string must be empty or one character",) * 2,
    "SELECT 'a%' ILIKE 'a\u212a%' ESCAPE '\u212a' AS m": ("Escape string must be empty or one character",) * 2,
    "SELECT 'a%' LIKE 'a§%' ESCAPE '§' AS m": ("Escape string must be empty or one character",) * 2,
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("sql", list(REFUSED_BY_BOTH))
def test_what_duckdb_refuses_is_refused_for_spark(engine: str, sql: str, request: pytest.FixtureRequest) -> None:
    on_duckdb, on_spark = REFUSED_BY_BOTH[sql]
    with pytest.raises(duckdb.Error if engine == "duckdb" else NotPortableError,
                       match=on_duckdb if engine == "duckdb" else on_spark):
        rows_on(engine, sql, request)


SAME_ROWS = [
    # DuckDB: ESCAPE '' is no escape character (a backslash matches itself, ! too)
    ("SELECT x, x LIKE 'a\\%' ESCAPE '' AS backslash, x ILIKE 'A!%' ESCAPE '' AS bang, x NOT ILIKE 'a\\_' ESCAPE '' "
     "AS negated FROM (VALUES ('a\\%'), ('a\\x'), ('a%'), ('a!%'), ('A!x'), ('a\\_'), ('ab')) AS v(x) ORDER BY x",
     ("a\\%", True, False, False)),
    # RE2's named groups: numbered as any group
    ("SELECT x, regexp_extract(x, '(?P<word>[a-z]+)-(?P<n_1>[0-9]+)', 2) AS n, regexp_matches(x, '^(?P<w>[a-z]+)$') "
     "AS word, regexp_replace(x, '(?P<w>[a-z]+)', '<\\1>', 'g') AS marked "
     "FROM (VALUES ('ab-12'), ('cd'), ('9-x')) AS v(x) ORDER BY x",
     ("9-x", "", False, "9-<x>")),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("sql", "first"), SAME_ROWS)
def test_the_same_rows_on_both_engines(engine: str, sql: str, first: tuple, request: pytest.FixtureRequest) -> None:
    rows = rows_on(engine, sql, request)
    assert rows == duckdb.sql(sql).fetchall()
    assert {row[0]: row for row in rows}[first[0]] == first  # the rows hold what the test is about
