"""An own metric's regular expressions, ``split_part``, ``to_timestamp``, ``date_add`` with an INTERVAL, ``prefix``/
``suffix``/``strlen`` and ``corr`` of constant input store the same rows on both engines. Was: on Spark ``'a\\n' ~
'a$'`` was true (Java's ``$`` matches before a final line break), ``'a\\rb' ~ '^a.b$'`` false (Java's ``.`` matches
no ``\\r``), ``(?i)é`` did not match ``É`` and ``regexp_matches``' option ``'i'`` was dropped; ``SIMILAR TO``,
``regexp_full_match``, ``split_part(s, d, 0)``, ``date_add(ts, INTERVAL …)``, ``prefix``, ``suffix`` and ``strlen``
failed the run; ``split_part(s, '', i)`` was the whole text or ``''`` (DuckDB: the ``i``-th character); and
``to_timestamp(1.5)`` dropped the fraction of a second."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, rows_on_both_engines

KEY = "own-metric-regex-dates-spark-test-pseudonym-key"

TEXT = r"""-- question: How do a few words match, split, and become timestamps?
-- key: instance, word
WITH words(word, n, secs) AS (
  VALUES ('straße', 2, 1.5), ('É', -1, -1.5), ('a' || chr(10), 0, 1.0000015),
         ('a' || chr(13) || 'b', 3, 1700000000.123456789), ('x$y', -4, 0.0000025), ('', 1, 0)
)
SELECT instance, word,
  split_part(word, '', n) AS nth_char, split_part(word, '', 2) AS second_char, split_part(instance, '.', n) AS part,
  CAST(to_timestamp(CAST(secs AS DOUBLE)) AS TIMESTAMP) AS at, CAST(to_timestamp(n) AS TIMESTAMP) AS at_whole,
  regexp_matches(word, 'a$') AS ends_a, word ~ '^a.b$' AS a_any_b, regexp_matches(word, 'é', 'i') AS e_option,
  word ~ '(?i)^é$' AS e_inline, word SIMILAR TO 'a.' AS similar, regexp_full_match(word, '[a-zß]+') AS letters,
  regexp_extract(word, '(.)$', 1) AS last_char, regexp_replace(word, '$', '!', 'g') AS bang,
  regexp_matches(word, '[$]|\$') AS dollar,
  prefix(word, 'a') AS starts_a, suffix(word, 'e') AS ends_e, strlen(word) AS bytes,
  date_add(TIMESTAMP '2024-02-28 10:00:00', INTERVAL 1 DAY) AS next_day,
  (SELECT corr(x, y) FROM (VALUES (1.0, 2.0), (1.0, 3.0)) AS v(x, y)) AS constant_corr,
  (SELECT regr_slope(y, x) FROM (VALUES (1.0, 2.0), (1.0, 3.0)) AS v(x, y)) AS constant_slope
FROM (SELECT DISTINCT instance FROM statuses) AS s CROSS JOIN words
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("regex") / "lake", KEY)


@pytest.mark.spark
def test_regexes_split_parts_and_timestamps_store_the_same_rows_on_both_engines(
        lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001 - lazy pyspark
    stored = rows_on_both_engines(lake, spark, tmp_path, "regex_dates", TEXT, KEY, order_by="instance, word")
    duckdb = stored["duckdb"]
    by_word = {row[1]: row for row in duckdb if row[0] == duckdb[0][0]}
    # the rows hold what the test is about: DuckDB's answers where Spark's own functions differ
    assert by_word["straße"][2:4] == ("t", "t") and by_word["É"][2] == "É" and by_word["a\n"][2] == ""
    assert by_word["a\n"][7:9] == (0, 0) and by_word["a\rb"][8] == 1 and by_word["É"][9:11] == (1, 1)
    assert by_word["a\n"][13:15] == ("", "a\n!") and by_word["x$y"][15] == 1
    assert by_word["straße"][15:19] == (0, 0, 1, 7)
    assert by_word["straße"][5] != by_word[""][5]  # the fraction of a second is kept
    assert by_word["straße"][20:22] == (None, None)  # NaN is stored as NULL
    assert stored["spark"] == duckdb
