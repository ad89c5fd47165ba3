"""A curation regex spells its character classes out: every engine reads it alike.

RE2 (DuckDB), Java (Spark) and Python (the MapReduce mapper) read the shorthand classes and ``.`` differently: Java's
``\\s`` also takes the vertical tab (RE2's is ``[\\t\\n\\f\\r ]``, Python's every Unicode space); Java's ``.`` stops at
``\\r``, U+0085, U+2028 and U+2029 as well as ``\\n``, RE2's at ``\\n`` only; Java's ``\\b`` sees non-ASCII letters.
With ``<a\\s[^>]*>``, ``<a\\x0bhref="…">`` was a link on Spark and none on DuckDB and in the mapper, so one raw
status had another ``url_count`` on each engine. The rules fingerprint hashes the anchor as spelt before (``\\s``),
which DuckDB reads as the spelt-out class: lakes curated before are not told to re-curate.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_data import curation_patterns, settings_for, statuses

from fediscope.engine import curate_sql
from fediscope.engine.dialect import to_spark
from fediscope.engine.duckdb_engine import DuckDBEngine
from spark_jobs.mapreduce import mapper

#: Escapes RE2, Java and Python read differently (or not at all): shorthand classes, Unicode properties, Java's
#: line break and grapheme.
_SHORTHANDS = frozenset("sSwWdDbBhHvVpPRX")
#: Inline flags: case folding beyond ASCII, and what ``^``, ``$`` and ``.`` match, differ between the engines.
_FLAGS = frozenset("imsuxU")


def engine_dependent(pattern: str) -> list[str]:
    """What ``pattern`` holds that the engines read differently: a shorthand class (``\\s``, in a class too), a
    ``.`` outside a class, an inline flag, and inside a class Java's intersection ``&&`` or a nested ``[``."""
    found: list[str] = []
    in_class, i = False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1] in _SHORTHANDS:
                found.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif char == "[" or pattern.startswith("&&", i):
                found.append(pattern[i:i + 2] if char == "&" else char)
        elif char == "[":
            in_class = True
            i += 2 if pattern.startswith("[^", i) else 1
            continue
        elif char == ".":
            found.append(char)
        elif pattern.startswith("(?", i) and pattern[i + 2:i + 3] in _FLAGS:
            found.append(pattern[i:i + 3])
        i += 1
    return found


def test_no_curation_regex_holds_what_the_engines_read_differently() -> None:
    patterns = curation_patterns()
    assert len(patterns) > 50 and any(pattern == curate_sql.ANCHOR_RE for _, pattern in patterns)
    found = sorted({(name, pattern[:80], tuple(engine_dependent(pattern))) for name, pattern in patterns
                    if engine_dependent(pattern)})
    assert not found, f"regexes RE2 (DuckDB) and Java (Spark) read differently (statement, regex, what): {found}"
    # what the check finds
    assert engine_dependent(r"<a\s[^>]*>") == [r"\s"]
    assert engine_dependent(r"a.b[.]\.") == ["."]
    assert engine_dependent(r"(?i)x(?:y)[\w]") == ["(?i", r"\w"]
    assert engine_dependent(r"[a-z&&[^x]][]x]") == ["&&", "["]
    assert engine_dependent(r"[^\x{9}-\x{D}]+\z&[#A-Za-z0-9]+;") == []


#: What may follow ``<a`` in a text: HTML's tag spaces (``\t \n \f \r`` and the space) and characters that are none
#: (the vertical tab, which Java's ``\s`` took; Unicode's other spaces and line separators).
_AFTER_A = ["\t", "\n", "\f", "\r", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u2029", "\u3000"]


def _contents() -> list[str]:
    """REAL recorded contents holding anchors (a link, a mention, a quote's fallback link), and each with every
    character of :data:`_AFTER_A` after its ``<a`` instead of the space."""
    recorded = sorted({s["content"] for name in ("test_status_quote_revoke.json", "test_public_tl.json")
                       for s in statuses(name) if "<a " in (s.get("content") or "")})
    assert len(recorded) >= 3 and any(mapper.url_count(text) for text in recorded)
    return recorded + [text.replace("<a ", f"<a{char}") for text in recorded for char in _AFTER_A]


def _url_count_sql() -> str:
    """The curated ``url_count`` of the text ``t`` (read without a quote's fallback), as curation computes it."""
    shared = curate_sql._Shared(curate_sql._authored_text("t"), "NULL", "NULL", "NULL", "NULL")
    (expr,) = [expr for expr, name in curate_sql._status_columns("data", False, shared) if name == "url_count"]
    return f"SELECT i, {expr} AS n FROM texts ORDER BY i"


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_every_engine_counts_links_after_any_character_alike(
        engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    contents = _contents()
    expected = [mapper.url_count(mapper.authored_text(text)) for text in contents]
    link = next(text for text in contents if "youtube.com" in text and "<a " in text)
    # the mapper reads the anchor as RE2 (and HTML) does: a vertical tab is no tag space
    assert expected[contents.index(link.replace("<a ", "<a\x0b"))] == 0 < expected[contents.index(link)]
    if engine == "duckdb":
        values = ", ".join(f"({i}, {_literal(text)})" for i, text in enumerate(contents))
        with DuckDBEngine(settings_for(tmp_path / "lake")) as duck:
            rows = duck.query(f"WITH texts AS (SELECT * FROM (VALUES {values}) AS v(i, t)) {_url_count_sql()}")
            got = [row["n"] for row in rows]
    else:
        spark = request.getfixturevalue("spark")
        spark.createDataFrame(list(enumerate(contents)), "i INT, t STRING").createOrReplaceTempView("texts")
        try:
            got = [row["n"] for row in spark.sql(to_spark(_url_count_sql())).collect()]
        finally:
            spark.catalog.dropTempView("texts")
    wrong = [(text, want, value) for text, want, value in zip(contents, expected, got, strict=True) if value != want]
    assert not wrong, f"{engine} counted these otherwise than the mapper (text, expected, got): {wrong}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_the_rules_fingerprint_hashes_the_anchor_as_it_is(tmp_path: Path) -> None:
    """The fingerprint hashed the anchor regex with ``\\s``, as it was written before its spaces were spelt out (DuckDB
    read both alike). Rules version 2 reads an anchor's name in any case (``<A HREF=…>``, as HTML does): other rows
    than that old spelling, so it is hashed as it is now, not as spelt before."""
    before = r"<a\s[^>]*>"
    assert curate_sql.ANCHOR_RE not in curate_sql._RULES_SPELT_BEFORE
    hashed = curate_sql._rules_statements()
    assert hashed["ANCHOR_RE"] == curate_sql.ANCHOR_RE
    assert f"'{curate_sql.ANCHOR_RE}'" in hashed["STATUS_RECORDS"] and f"'{before}'" not in hashed["STATUS_RECORDS"]
    contents = [*_contents(), '<p><A HREF="https://example.com/">a link</A></p>']
    values = ", ".join(f"({i}, {_literal(text)})" for i, text in enumerate(contents))
    now = _url_count_sql()
    assert f"'{curate_sql.ANCHOR_RE}'" in now
    with DuckDBEngine(settings_for(tmp_path / "lake")) as duck:
        counts = [[row["n"] for row in duck.query(f"WITH texts AS (SELECT * FROM (VALUES {values}) AS v(i, t)) "
                                                  f"{sql}")]
                  for sql in (now, now.replace(f"'{curate_sql.ANCHOR_RE}'", f"'{before}'"))]
    assert counts[0][:-1] == counts[1][:-1] and any(counts[0])
    assert (counts[0][-1], counts[1][-1]) == (1, 0)
