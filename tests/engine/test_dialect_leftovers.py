"""Own-metric constructs that passed the portability check and then failed the Spark run with Spark's error where
DuckDB answers: written for Spark so that it gives DuckDB's answer, or refused up front saying what to write."""

from __future__ import annotations

import pytest
from sql_rows import ENGINES, rows_on

from fediscope.engine.dialect import NotPortableError, check_portable, to_spark


@pytest.mark.parametrize(("duckdb", "spark"), [
    ("a{,2}", "a\\\\{,2}"),  # RE2: the text 'a{,2}'; Java: Illegal repetition
    ("x{", "x\\\\{"),
    ("a{ 2}", "a\\\\{ 2}"),
    ("a{2}b{2,}c{2,3}", "a{2}b{2,}c{2,3}"),  # repetitions: alike
    ("\\x{41}{,1}", "\\\\x{41}\\\\{,1}"),  # an escape's braces are kept
    ("[{]", "[{]"),  # in a class: itself in both
])
def test_a_brace_that_begins_no_repetition_is_escaped_for_java(duckdb: str, spark: str) -> None:
    assert to_spark(f"SELECT regexp_matches(uri, '{duckdb}') FROM statuses") == (
        f"SELECT uri RLIKE '{spark}' FROM statuses")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_brace_that_begins_no_repetition_matches_itself_on_every_engine(
        engine: str, request: pytest.FixtureRequest) -> None:
    sql = ("SELECT regexp_matches(s, 'a{,2}') AS literal, regexp_matches(s, '^a{2}') AS repeated "
           "FROM (VALUES (1, 'a{,2}'), (2, 'aa')) AS t(i, s) ORDER BY i")
    assert rows_on(engine, sql, request) == [(True, False), (False, True)]


@pytest.mark.parametrize("escape", ["X", "x"])
def test_ilike_with_an_escape_character_that_has_a_case_is_refused(escape: str) -> None:
    """DuckDB keeps the escape character as written; the translation lowers the pattern, escape character and all
    (``'aXXb' ILIKE … ESCAPE 'X'`` would match nothing, ``'axb' … ESCAPE 'x'`` would escape the b)."""
    sql = f"SELECT uri ILIKE 'a{escape}%' ESCAPE '{escape}' FROM statuses"
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql, "q")
    assert str(refused.value) == (
        f"q: uri ILIKE 'a{escape}%' ESCAPE '{escape}' has an escape character with a case ('{escape}'), which DuckDB "
        "keeps as it is written while it matches the pattern's letters in either case; Spark SQL (both sides "
        "lowered) would lower it with them (ESCAPE 'X' would not escape, an 'x' would); write an escape character "
        "without a case, e.g. ESCAPE '!' (with '!%' for a %)")


@pytest.mark.parametrize("engine", ENGINES)
def test_ilike_with_an_escape_character_without_a_case_is_alike(engine: str, request: pytest.FixtureRequest) -> None:
    sql = ("SELECT s ILIKE 'A!%%' ESCAPE '!' AS escaped FROM (VALUES (1, 'a%b'), (2, 'ab'), (3, 'A%')) AS t(i, s) "
           "ORDER BY i")
    assert rows_on(engine, sql, request) == [(True,), (False,), (True,)]


@pytest.mark.parametrize("engine", ENGINES)
def test_split_part_past_an_int_is_empty_on_every_engine(engine: str, request: pytest.FixtureRequest) -> None:
    """DuckDB takes the part's index as a BIGINT (``''`` past the last part); Spark casts it to INT and failed the
    run (CAST_OVERFLOW)."""
    sql = ("SELECT split_part(s, ',', 3000000000) AS past, split_part(s, ',', -3000000000) AS before, "
           "split_part(s, ',', i) AS computed, split_part(s, '', i) AS by_character "
           "FROM (VALUES (1, 'a,b', 2), (2, 'a,b', 2147483648), (3, 'a,b', -9223372036854775808)) AS t(n, s, i) "
           "ORDER BY n")
    assert rows_on(engine, sql, request) == [("", "", "b", ","), ("", "", "", ""), ("", "", "", "")]


def test_regexp_extract_with_a_list_of_group_names_is_refused_for_a_struct_of_its_groups() -> None:
    with pytest.raises(NotPortableError) as refused:
        check_portable("SELECT regexp_extract(uri, '(\\w+)://([^/]+)', ['scheme', 'host']) FROM statuses", "q")
    assert str(refused.value) == (
        "q: regexp_extract() with a list of group names (REGEXP_EXTRACT(uri, '(\\w+)://([^/]+)', ['scheme', "
        "'host'])) is not a Spark function (Spark takes one group's number); write one regexp_extract per group in a "
        "struct: {'scheme': regexp_extract(uri, '(\\w+)://([^/]+)', 1), 'host': regexp_extract(uri, "
        "'(\\w+)://([^/]+)', 2)}")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_advice_for_regexp_extract_with_names_gives_duckdbs_struct(
        engine: str, request: pytest.FixtureRequest) -> None:
    advice = "{'scheme': regexp_extract(s, '(\\w+)://([^/]+)', 1), 'host': regexp_extract(s, '(\\w+)://([^/]+)', 2)}"
    named = "regexp_extract(s, '(\\w+)://([^/]+)', ['scheme', 'host'])"
    sql = f"SELECT {advice}.scheme, {advice}.host FROM (VALUES ('https://a.example/x'), ('none')) AS t(s)"
    expected = [("https", "a.example"), ("", "")]
    assert rows_on(engine, sql, request) == expected
    if engine == "duckdb":
        assert rows_on(engine, f"SELECT ({named}).scheme, ({named}).host FROM (VALUES ('https://a.example/x'), "
                       "('none')) AS t(s)", request) == expected


@pytest.mark.parametrize("escape", ["É", "\u212a"])
def test_ilike_with_an_escape_character_of_more_than_one_byte_is_refused_as_duckdb_refuses_it(escape: str) -> None:
    """DuckDB refuses an escape of more than one byte (É, the Kelvin sign: a case or not), where Spark takes it; the
    refusal says that DuckDB counts bytes, as its own message ("… one character") does not."""
    sql = f"SELECT uri ILIKE 'a{escape}%' ESCAPE '{escape}' FROM statuses"
    with pytest.raises(NotPortableError) as refused:
        check_portable(sql, "q")
    assert str(refused.value) == (
        f"q: uri ILIKE 'a{escape}%' ESCAPE '{escape}' has the escape character {escape!r}, one character but of more "
        "than one byte in UTF-8, which DuckDB refuses, counting bytes (its message: \"Escape string must be empty or "
        "one character\"), and Spark takes; write an ASCII escape character, e.g. ESCAPE '!' (with '!%' for a %)")
