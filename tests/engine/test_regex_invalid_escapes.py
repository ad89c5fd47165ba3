"""A regular expression with an escape RE2 has not (``\\1``–``\\9`` not starting an octal escape, ``\\Z``, ``\\h``,
``\\b`` in a class, a non-ASCII character) is refused up front: DuckDB fails the run on it (``invalid escape
sequence``), where Spark (Java) answered — ``(a)\\1``, a back reference, matched ``aa``; ``a\\8``, to a group that
is not there, matched nothing. Was: passed by the check, so ``fediscope doctor`` and ``--engine spark`` took a
metric the DuckDB engine fails."""

from __future__ import annotations

import duckdb
import pytest

from fediscope.engine.dialect import NotPortableError, check_portable, to_spark


@pytest.mark.parametrize("pattern", ["a\\8", "(a)\\1", "(a)\\18", "[\\8]", "[\\b]", "[\\z]", "\\Z", "\\h", "\\é"])
def test_an_escape_duckdb_refuses_is_refused_on_spark_alike(pattern: str) -> None:
    sql = f"SELECT regexp_matches(s, '{pattern}') AS m FROM (VALUES ('aa'), ('a8')) AS v(s)"
    with pytest.raises(duckdb.InvalidInputException, match="invalid escape sequence"):
        duckdb.sql(sql).fetchall()
    escape = pattern[pattern.index("\\"):pattern.index("\\") + 2]
    with pytest.raises(NotPortableError, match=(
            f"query: the regular expression {pattern!r} has the escape {escape}, an invalid escape sequence to "
            "DuckDB").replace("\\", "\\\\").replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        check_portable(sql)


@pytest.mark.parametrize("pattern", ["a\\101\\0\\10", "\\x41\\x{42}\\d\\D\\w\\W\\s\\S\\pL\\p{Greek}\\A\\z\\b\\B",
                                     "\\a\\f\\t\\n\\r\\v", "[\\d\\pL\\-\\]\\\\]", "\\Qa\\8\\E", "\\.\\$\\(\\{"])
def test_the_escapes_re2_reads_are_not_refused(pattern: str) -> None:
    sql = f"SELECT regexp_matches(s, '{pattern}') AS m FROM (VALUES ('aa')) AS v(s)"
    duckdb.sql(sql).fetchall()  # DuckDB runs it
    check_portable(sql)
    to_spark(sql)
