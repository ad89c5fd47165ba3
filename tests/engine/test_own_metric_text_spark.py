"""An own metric's text functions give DuckDB's answer on Spark too. Was: ``substr(s, 0, n)`` took one character more
on Spark (DuckDB counts a start of 0 as one before the first character), ``substr(s, p, -n)`` (backwards in DuckDB)
and ``left``/``right`` of a negative count were ``''``; ``regexp_replace``'s ``\\1`` was the text ``1`` on Spark,
``$0`` the match; a ``LIKE`` pattern's backslash escaped the next character on Spark (DuckDB has no escape character
without ``ESCAPE``); ``upper('straße')`` was ``STRASSE`` (DuckDB ``STRAẞE``), ``lower('ΛΟΓΟΣ')`` ``λογος``
(DuckDB ``λογοσ``) and ``lower('İ')`` two characters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, rows_on_both_engines

KEY = "own-metric-text-spark-test-pseudonym-key"

#: each instance beside adversarial words, cut, replaced, matched and case-mapped
TEXT = r"""-- question: How do the instances' names and a few words cut, replace, match and map case?
-- key: instance, word
WITH words(word, pattern, p, n) AS (
  VALUES ('straße', 'STRA_E', 0, -2), ('ΛΟΓΟΣ ΣΑ', '%Σ%', 3, -1), ('İstanbul', 'İ%', -2, 2),
         ('a\_b', 'a\_b', 0, 2), ('a_b', 'a\_b', -9, -3), ('ﬀ ǰ ᾳ 𐵐', '%', 7, NULL)
)
SELECT instance, word,
  substr(instance, 0, 3) AS from_zero, substr(instance, 4, -2) AS backwards, substr(word, p, n) AS computed,
  substring(instance, p) AS to_end, left(instance, -4) AS but_last, right(instance, -2) AS but_first,
  left(word, n) AS left_computed, right(word, n) AS right_computed,
  regexp_replace(instance, '([a-z]+)\.([a-z]+)', '\2.\1 [\0] $1 \\', 'g') AS swapped,
  regexp_replace(word, '(.)', '\1\1', 'g') AS doubled,
  word LIKE 'a\_b' AS like_literal, word LIKE pattern AS like_column, upper(word) ILIKE pattern AS ilike_column,
  word LIKE 'a!_b' ESCAPE '!' AS like_escape,
  upper(word) AS upper_word, lower(word) AS lower_word, lower(upper(instance)) = instance AS round_trip
FROM (SELECT DISTINCT instance FROM statuses) AS s CROSS JOIN words
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("text") / "lake", KEY)


@pytest.mark.spark
def test_text_functions_store_the_same_rows_on_both_engines(
        lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001 - lazy pyspark
    stored = rows_on_both_engines(lake, spark, tmp_path, "text", TEXT, KEY, order_by="instance, word")
    duckdb = stored["duckdb"]
    # the rows hold what the test is about: DuckDB's answers where Spark's own functions differ
    straße = next(row for row in duckdb if row[1] == "straße")
    instance = straße[0]
    assert straße[2:5] == (instance[:2], instance[1:3], "") and straße[6:9] == (instance[:-4], instance[2:], "stra")
    assert "[" in straße[10] and "] $1 \\" in straße[10] and straße[16] == "STRAẞE"
    assert next(row for row in duckdb if row[1] == "a\\_b")[12:14] == (1, 1)
    assert next(row for row in duckdb if row[1] == "ΛΟΓΟΣ ΣΑ")[17] == "λογοσ σα"
    assert next(row for row in duckdb if row[1] == "İstanbul")[17] == "istanbul"
    assert stored["spark"] == duckdb
