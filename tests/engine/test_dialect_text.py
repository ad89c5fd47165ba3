"""The text constructs Spark would run otherwise than DuckDB: refused before Spark starts, naming the construct and
what to write, or written for Spark as DuckDB means them (run on both engines in test_own_metric_text_spark.py).
Was: each ran on Spark and stored other values (``hash``: other numbers; ``mode``/``arg_max``: another of tied rows;
``reverse``: an emoji's modifier cut from it; a computed ``regexp_replace`` replacement: ``\\1`` read as ``1``;
``TRY_CAST('1.9' AS INTEGER)``: NULL, where DuckDB gives 2; ``[[:digit:]]``: a set of the characters ``:dgit``)."""

from __future__ import annotations

import pytest

from fediscope.engine.dialect import NotPortableError, check_portable, to_spark

REFUSED = {
    "SELECT hash(language) FROM statuses":
        "q: hash() is another hash function in DuckDB than in Spark (other numbers); write md5(x) or sha256(x), "
        "alike in both",
    "SELECT mode(language) FROM statuses":
        "q: mode() (MODE(language)) gives, of values tied for the most rows, the one each engine meets first, which "
        "differs between DuckDB and Spark; count the rows per value and rank them, ties broken by the value: "
        "row_number() OVER (ORDER BY count(*) DESC, x) = 1, with QUALIFY",
    "SELECT max_by(uri, favourites_count) FROM statuses":
        "q: ARG_MAX(uri, favourites_count) gives, of rows tied on the value, the one each engine meets first, which "
        "differs between DuckDB and Spark (and DuckDB skips a row whose result is NULL, Spark gives it); take the "
        "first row of a ranking that breaks ties: row_number() OVER (PARTITION BY … ORDER BY value DESC, result) = "
        "1, with QUALIFY",
    "SELECT reverse(language) FROM statuses":
        "q: reverse() (REVERSE(language)) keeps a character's combining marks and an emoji's modifiers with it in "
        "DuckDB, and reverses code points in Spark; it is not translated to Spark SQL",
    "SELECT regexp_replace(uri, '/', language, 'g') FROM statuses":
        "q: regexp_replace() with a replacement that is not quoted text (language) is not translated to Spark SQL "
        "(DuckDB reads \\1 in it as a group and $ as itself, Spark $1 as the group and \\ as an escape); write the "
        "replacement as quoted text",
    "SELECT regexp_replace(uri, '/', '\\n', 'g') FROM statuses":
        "q: regexp_replace() replacement '\\\\n' has a backslash before 'n', which DuckDB refuses (\\1 to \\9 are "
        "the groups, \\0 the match, \\\\ a backslash)",
    # was: "…, or CAST(x AS BIGINT)" too, which is refused itself (a CAST of text to an integer type)
    "SELECT TRY_CAST(language AS INTEGER) FROM statuses":
        "q: TRY_CAST of text to INT (TRY_CAST(language AS INTEGER)) reads '1.9' as 2 and '1e3' as 1000 in DuckDB, as "
        "NULL in Spark; write TRY_CAST(round(TRY_CAST(x AS DOUBLE)) AS BIGINT), alike in both",
    "SELECT regexp_extract(language, '[[:digit:]]+') FROM statuses":
        "q: the regular expression '[[:digit:]]+' has the POSIX class [:digit:], which DuckDB (RE2) knows and Spark "
        "(Java) reads as the characters it is written with; write the characters instead: [a-zA-Z] for [:alpha:], "
        "[0-9] for [:digit:], [\\s\\v] for [:space:]",
}


@pytest.mark.parametrize("sql", list(REFUSED))
def test_a_text_construct_spark_runs_otherwise_is_refused_naming_it_and_what_to_write(sql: str) -> None:
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql, "q")
    assert str(refused.value) == REFUSED[sql]


@pytest.mark.parametrize(("duckdb", "spark"), [
    ("'\\1'", "'$1'"),  # a group
    ("'\\10'", "'$1\\\\0'"),  # a group and a digit: Java would read $10 as group 10 where the pattern has one
    ("'$1 $'", "'\\\\$1 \\\\$'"),  # a dollar is itself in DuckDB
    ("'\\\\$'", "'\\\\\\\\\\\\$'"),  # a backslash, and a dollar
])
def test_a_replacement_is_written_as_java_reads_it(duckdb: str, spark: str) -> None:
    assert to_spark(f"SELECT regexp_replace(uri, '(a)', {duckdb}, 'g') FROM statuses") == (
        f"SELECT REGEXP_REPLACE(uri, '(a)', {spark}) FROM statuses")


def test_like_without_escape_matches_a_backslash_itself_on_spark() -> None:
    from fediscope.engine.case_mapping import LOWER_DUCKDB, LOWER_FROM

    held = "".join(chr(0x10FE00 + i) for i in range(len(LOWER_FROM) + 1))

    def lowered(spark: str) -> str:  # DuckDB's lower() on Spark: an ILIKE lowers both sides so
        return f"TRANSLATE(LOWER(TRANSLATE({spark}, '{LOWER_FROM}\u03a3', '{held}')), '{held}', '{LOWER_DUCKDB}\u03c3')"

    pattern = "REPLACE(language, '\\\\', '\\\\\\\\')"  # its backslashes doubled, then lowered
    assert to_spark("SELECT uri LIKE 'a\\_b', uri ILIKE language, uri LIKE 'a!_b' ESCAPE '!' FROM statuses") == (
        "SELECT uri LIKE 'a\\\\\\\\_b', " + lowered("uri") + " LIKE " + lowered(pattern) + ", "
        "uri LIKE 'a!_b' ESCAPE '!' FROM statuses")


def test_the_advice_for_a_posix_class_matches_what_the_class_matches() -> None:
    """Each replacement the refusal advises matches on DuckDB the very characters its POSIX class does (was: ``\\s``
    for ``[:space:]``, which leaves out the vertical tab; ``[\\s\\v]`` is written for Spark as RE2 reads it:
    test_regex_scope_parity.py)."""
    import re

    import duckdb

    with pytest.raises(NotPortableError) as refused:
        check_portable("SELECT regexp_matches(language, '[[:space:]]') FROM statuses", "q")
    advised = re.findall(r"(\S+) for \[:(\w+):\]", str(refused.value))
    assert [name for _, name in advised] == ["alpha", "digit", "space"]
    for replacement, name in advised:
        differ = duckdb.sql(
            f"SELECT list(c ORDER BY c) FROM (SELECT chr(CAST(c AS INTEGER)) AS s, c FROM range(1, 768) AS t(c)) "
            f"WHERE regexp_matches(s, '[[:{name}:]]') != regexp_matches(s, '{replacement}')").fetchall()[0][0]
        assert differ is None, f"{replacement} for [:{name}:] differs at code points {differ}"
