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


ANY_BYTE = "SELECT regexp_matches(s, '^a\\C$') AS m FROM (VALUES ('ab'), ('aé')) AS v(s)"


def test_re2s_any_byte_escape_is_refused_naming_the_any_character_dot() -> None:
    """``\\C`` is one byte to RE2 (``'aé'`` is three), which DuckDB runs; Java has no such escape (below)."""
    assert duckdb.sql(ANY_BYTE).fetchall() == [(True,), (False,)]
    with pytest.raises(NotPortableError, match=(
            r"^query: the regular expression '\^a\\\\C\$' has the escape \\C, any byte to DuckDB \(RE2: 'é' is two\), "
            r"an escape Java has not \(Spark fails the run\); it is not translated to Spark SQL: write \. for any "
            r"character, \(\?s\)\. to take a line break too$")):
        check_portable(ANY_BYTE)


@pytest.mark.spark
def test_spark_fails_the_run_on_re2s_any_byte_escape(spark) -> None:  # noqa: ANN001
    """What the translation wrote for ``\\C`` before it was refused: Java refuses the escape, failing the run."""
    import sqlglot

    with pytest.raises(Exception, match=r"INVALID_PARAMETER_VALUE\.PATTERN"):  # noqa: PT011 - Spark's own error
        spark.sql(sqlglot.transpile(ANY_BYTE, read="duckdb", write="spark")[0]).collect()
