"""The shortcuts in the curation SQL give exactly what their definitions give, on DuckDB and on Spark.

``content_length`` and ``unicode_emoji_count`` skip their regexes where they cannot change the result. Both are
checked against their plain definitions (Python, and the regex-only SQL) on strings built to take every
branch: tags left open, ``>`` without ``<``, references split by tags, newlines, emoji, non-ASCII text.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from engine_data import settings_for
from metric_reference import emoji_count

from fediscope.engine import curate_sql
from fediscope.engine.dialect import to_spark
from fediscope.engine.duckdb_engine import DuckDBEngine

#: The definitions, in Python: text without tags (``<`` and a letter, ``/``, ``!`` or ``?``, to the next ``>``), a
#: character reference (a numeric one with or without its ``;``) as one character, read before the tags are removed.
_TAG = re.compile(r"<[A-Za-z/!?][^>]*>")
_ENTITY = re.compile(r"&(?:#(?:[0-9]+|[xX][0-9a-fA-F]+);?|[A-Za-z0-9]+;)")

CASES = [
    "", "plain text", "<", ">", "<>", "><", "a<b", "a>b", "<p>x</p>", "<a<b>c>", "<p>a &amp; b</p>", "&amp;",
    "a&b<", "<p>x</p><", "<p>x</p>y<z", "x<y>z", "<<>>", ">>", "<\n>x\n<b\n>", "日本<a href='x'>語</a>", "<p>é</p>",
    "🎉<b>x</b>", "&#39;<i>&lt;</i>", "<b>x</b", "a<>>", "<p></p>", "<<<>", "x>", "x>>y>", "&x;>", "<&amp;>",
    "<a>&amp</a>;", "<a>&am</a>p;", "<p>Toot! 🎉 ❤️ 👍🏽 :blobcat: &amp; more</p>", "⭐ ok", "😀😀", "\u2600", "\u27bf<",
    '<p><a href="https://x.test/tags/a" class="mention hashtag" rel="tag">#<span>a</span></a> 📷 日本</p>',
    # a "<" that starts no tag is text (HTML: "<" and a letter, "/", "!" or "?" start one); references without ";"
    "a < b > c", "<p>x < y <b>z</b></p>", "<p>I <3 you</p>", "1<2>", "<!-- x --><?x?>y</>",
    "<p>&#65<b>9</b> &#x41;</p>", "&#65 &#;&#x;&#xg; &a#b;",
]


def _random_cases(count: int = 400, seed: int = 5) -> list[str]:
    pieces = ["<", ">", "&", "#", ";", "a", "p", "/", " ", "\n", "é", "日", "🎉", "❤", "amp", "<p>", "</p>", "&amp;"]
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 24))) for _ in range(count)]


TEXTS = CASES + _random_cases()


def _visible_length(text: str) -> int:
    return len(_TAG.sub("", _ENTITY.sub("&", text)))


#: The same columns written as plain regexes (the curation SQL before the shortcuts).
REGEX_LENGTH = (f"length(regexp_replace(regexp_replace(text, '{curate_sql.ENTITY_RE}', '&', 'g'), "
                f"'{curate_sql.TAG_RE}', '', 'g'))")
REGEX_EMOJI = (f"coalesce(array_length(regexp_extract_all(regexp_replace(regexp_replace(text, '{curate_sql.TAG_RE}', "
               f"'', 'g'), '{curate_sql.NON_EMOJI_RE}', ' ', 'g'), '{curate_sql.EMOJI_RE}')), 0)")
COLUMNS = (f"text, {curate_sql._visible_length('text')} AS visible, {REGEX_LENGTH} AS regex_visible, "
           f"{curate_sql._unicode_emoji_count('text')} AS emoji, {REGEX_EMOJI} AS regex_emoji")


def _check(rows: list[dict]) -> None:
    assert len(rows) == len(TEXTS)
    for row in rows:
        text = row["text"]
        assert row["visible"] == row["regex_visible"] == _visible_length(text), repr(text)
        assert row["emoji"] == row["regex_emoji"] == emoji_count(_TAG.sub("", text)), repr(text)
    # every branch of the content_length shortcut is taken by some case
    assert any("&" in t for t in TEXTS) and any("<" not in t and "&" not in t for t in TEXTS)
    assert any(t.endswith(">") and "<" in t and "&" not in t for t in TEXTS)
    assert any("&" not in t and "<" in t.rsplit(">", 1)[-1] for t in TEXTS)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_content_length_and_emoji_shortcuts_equal_the_regexes_on_duckdb(tmp_path: Path) -> None:
    values = ", ".join(f"({_literal(t)})" for t in TEXTS)
    with DuckDBEngine(settings_for(tmp_path / "lake")) as engine:
        _check(engine.query(f"SELECT {COLUMNS} FROM (VALUES {values}) AS texts(text)"))


@pytest.mark.spark
def test_content_length_and_emoji_shortcuts_equal_the_regexes_on_spark(spark) -> None:  # noqa: ANN001
    spark.createDataFrame([(t,) for t in TEXTS], "text STRING").createOrReplaceTempView("curate_sql_texts")
    try:
        rows = [r.asDict() for r in spark.sql(to_spark(f"SELECT {COLUMNS} FROM curate_sql_texts")).collect()]
    finally:
        spark.catalog.dropTempView("curate_sql_texts")
    _check(rows)


def test_the_status_order_names_every_column_a_version_may_differ_in() -> None:
    """The merge's order is total (a column added to the curated statuses but left out of it would leave ties that
    the file order breaks): every column but the status's ``uri`` and the merge's own ``deleted``, ``copies`` and
    ``last_fetched_at``."""
    from fediscope.engine.schema import STATUSES

    named = set(re.findall(r'"?\b([a-z_]+)\b"? (?:ASC|DESC)', curate_sql.STATUS_ORDER))
    assert set(STATUSES.columns) - named == {"uri", "deleted", "copies", "last_fetched_at"}
    assert set(curate_sql.MERGED_COLUMNS) == {"deleted", "copies", "last_fetched_at"}


def test_the_raw_pass_spells_each_status_s_authored_text_out_once() -> None:
    """The raw pass (``STATUS_RECORDS``) reads a status's authored text (its ``content`` without a quote post's
    fallback) for ``url_count``, ``unicode_emoji_count`` and ``content_length``, several times each: a column of its
    subquery holds it, once for the record's status and once for the original it reblogs, and the Spark translation
    keeps it so. Was: spelt out at every use (168 copies of ``content``, a 56 KB statement that DuckDB took a tenth
    of a second to plan and sqlglot half a second to translate, at every curation). The columns read from it are
    still the content columns an erasure may change."""
    for content in ("data.content", "data.reblog.content"):
        assert curate_sql.STATUS_RECORDS.count(curate_sql._authored_text(f"coalesce({content}, '')")) == 1, content
    twice = to_spark(f"SELECT {curate_sql._authored_text('a')} AS a, {curate_sql._authored_text('b')} AS b FROM t")
    assert to_spark(curate_sql.STATUS_RECORDS).count("quote-inline") == twice.count("quote-inline")
    assert {"url_count", "unicode_emoji_count", "content_length"} <= set(curate_sql.CONTENT_COLUMNS)


def test_the_raw_pass_parses_each_timestamp_and_reads_each_author_once() -> None:
    """The raw pass parses a record's ``fetched_at`` once for its four snapshots (the status, the original it reblogs,
    both authors), each status's ``created_at`` once for ``created_at`` and ``dt``, and computes each author's key and
    home instance once for the status and the author's snapshot: columns of its subquery, as the authored text. The
    Spark translation keeps that: nine timestamp texts parsed (those three, and the edits, the authors' creation and
    last status, read once each), two home instances. Was: ``fetched_at`` parsed four times, each ``created_at``
    twice, each author's key and home twice (a 35 KB statement, 32 KB now)."""
    sql = curate_sql.STATUS_RECORDS
    for text in ("meta.fetched_at", "data.created_at", "data.reblog.created_at"):
        assert sql.count(curate_sql._ts(text)) == 1, text
    for account in ("data.account", "data.reblog.account"):
        for expression in curate_sql._author(account):
            assert sql.count(expression) == 1, account
    spark = to_spark(sql)
    assert spark.count(" RLIKE '^[0-9]{4}-") == 9
    assert spark.count("'@([^@]+)\\\\z'") == 2


def test_the_rules_fingerprint_reads_the_raw_pass_with_its_shared_expressions_spelt_out() -> None:
    """Computing the authored texts, the parsed ``created_at`` and ``fetched_at`` and the authors' keys and home
    instances once changes how the raw pass is written, not the rows it makes: the rules fingerprint hashes it as
    written before (each spelt out at every use, read from ``raw_statuses``), so lakes curated before are not told
    to re-curate. Spelt out again, the statement run is that one."""
    sql = curate_sql.STATUS_RECORDS
    subquery = sql[sql.index("FROM (\n"):]
    spelt = sql.replace(subquery, "FROM raw_statuses\n")
    assert len(curate_sql._RECORD_COLUMNS) == 9
    for column, expression in curate_sql._RECORD_COLUMNS.items():
        assert subquery.count(column) == 1 and spelt.count(column) >= 1, column
        spelt = spelt.replace(column, expression)
    assert spelt == curate_sql._STATUS_RECORDS_RULES != sql
