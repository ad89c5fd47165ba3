"""An own metric dividing a DECIMAL, taking a list's item by its index (``l[i]``) or intersecting two lists stores
the same rows on Spark as on DuckDB. Was: Spark divided a DECIMAL to a DECIMAL rounded to 6 places (2.333333 where
DuckDB gives the DOUBLE 2.3333333333333335); ``l[i]`` out of range or 0 failed the run on Spark (ANSI mode) where
DuckDB gives NULL, ``l[-1]`` (the last item) was Spark's ``l[-2]`` and a computed index took the next item; and
``array_intersect`` kept a NULL both lists hold on Spark (DuckDB drops it) and was NULL with the second list NULL
(DuckDB ``[]``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, rows_on_both_engines

KEY = "own-metric-typed-spark-test-pseudonym-key"

#: per status: a DECIMAL divided (directly and as a CTE's column), hashtags by index (first, last, 0, out of range,
#: computed from 0 to 4 and from -4 to 0), hashtags intersected with lists holding a NULL, or NULL themselves, and
#: an item of a flattened list (a list sqlglot does not type) by a computed index
PER_STATUS = """-- question: What do a status's favourites and hashtags give, divided, indexed and intersected?
-- key: uri
WITH d AS (SELECT uri, CAST(favourites_count AS DECIMAL(18, 2)) AS favourites, hashtags, is_reply FROM statuses)
SELECT uri,
  favourites / 7 AS sevenths,
  CAST(favourites_count AS DECIMAL(9, 1)) / count_of AS per_count,
  hashtags[1] AS first_tag,
  hashtags[-1] AS last_tag,
  hashtags[0] AS no_tag,
  hashtags[99] AS far_tag,
  hashtags[favourites_count % 5] AS counted_tag,
  hashtags[-(favourites_count % 5)] AS counted_from_end,
  array_length(array_intersect(list_concat(hashtags, [CAST(NULL AS VARCHAR)]),
                               list_concat([CAST(NULL AS VARCHAR)], hashtags))) AS shared,
  array_length(array_intersect(hashtags, CASE WHEN is_reply THEN hashtags END)) AS shared_when_reply,
  array_to_string(list_sort(array_intersect(hashtags, list_concat(['x'], hashtags))), ',') AS shared_sorted,
  flatten([hashtags, ['x']])[favourites_count % 5] AS flat_tag
FROM d JOIN (SELECT uri, favourites_count, 3 + favourites_count % 4 AS count_of FROM statuses) USING (uri)
ORDER BY uri
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("typed") / "lake", KEY, statuses=120)


@pytest.mark.spark
def test_decimal_division_list_items_and_intersections_store_the_same_rows_on_both_engines(
        lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001 - lazy pyspark
    stored = rows_on_both_engines(lake, spark, tmp_path, "typed", PER_STATUS, KEY, "uri")
    duckdb_rows = stored["duckdb"]
    # the corpus has what the metric is about: fractions past 6 places, statuses with hashtags and without, indexes
    # in range and out of it, replies and not
    assert duckdb_rows and any(len(repr(row[1]).split(".")[-1]) > 6 for row in duckdb_rows)
    assert any(row[3] is not None for row in duckdb_rows) and any(row[3] is None for row in duckdb_rows)
    assert any(row[7] is not None for row in duckdb_rows) and any(row[7] is None and row[3] for row in duckdb_rows)
    assert {row[10] for row in duckdb_rows} >= {0} and any(row[9] for row in duckdb_rows)
    assert any(row[12] is not None for row in duckdb_rows) and any(row[12] is None for row in duckdb_rows)
    assert stored["spark"] == duckdb_rows
