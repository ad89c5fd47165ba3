"""An own metric slicing a list (``l[a:b]``, ``list_slice``, ``array_slice``), using a map (``MAP {…}``, ``m[k]``,
``map_keys``, ``map_contains``), concatenating lists one of which is NULL, or dividing by 0 stores the same rows on
Spark as on DuckDB. Was: ``l[a:b]`` passed to Spark as it is, which does not parse it, and ``array_slice(l, a, b)``
written as Spark's ``SLICE(l, a, b)``, whose third argument is a length; ``MAP {'a': 1}`` written as ``MAP STRUCT(1
AS a)``, which Spark does not parse, and ``m[1]`` as Spark's ``m[0]``; ``list_concat`` NULL on Spark with a NULL list
(DuckDB skips it); ``map_keys(m)[i]`` Spark's plain ``MAP_KEYS(m)[i - 1]``, which failed the run out of range
(DuckDB: NULL); and ``x / 0`` stopped the run on Spark (ANSI mode), where DuckDB gives ±infinity (``%`` of a
DOUBLE: NaN)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, rows_on_both_engines

KEY = "own-metric-slices-maps-spark-test-pseudonym-key"

#: per status: hashtags sliced with literal, negative, computed (negative too) and NULL bounds; maps looked up by a
#: text key (one missing) and a computed number key; lists concatenated with a NULL one; a map's keys and values
#: indexed out of range, by a computed index (-2 to 2: 0 NULL) and from the end, and counted (NULL for a NULL map)
SLICES_MAPS = """-- question: What do a status's hashtags give, sliced, and its counts, in a map?
-- key: uri
WITH s AS (SELECT uri, hashtags, favourites_count AS f, replies_count AS r, language, is_reply,
                  CASE WHEN is_reply THEN hashtags END AS reply_tags,
                  MAP {'replies': replies_count, 'favourites': favourites_count} AS counts FROM statuses)
SELECT uri,
  array_to_string(hashtags[2:3], ',') AS second_third,
  array_to_string(hashtags[:2], ',') AS first_two,
  array_to_string(hashtags[-2:], ',') AS last_two,
  array_to_string(hashtags[f % 5 - 2:r % 4 - 1], ',') AS computed,
  array_to_string(hashtags[:f % 4 - 2], ',') AS up_to_computed,
  array_to_string(hashtags[CASE WHEN is_reply THEN 1 END:2], ',') AS null_bound,
  array_to_string(list_slice(hashtags, 1, f % 3), ',') AS listed,
  array_to_string(array_slice(hashtags, 2, 3), ',') AS arrayed,
  counts['favourites'] AS favourites,
  counts[language] AS missing,
  MAP {0: 'none', 1: 'one', 2: 'two'}[f % 4] AS named,
  cardinality(counts) AS entries,
  array_to_string(map_keys(counts), ',') AS names,
  map_contains(counts, CASE WHEN is_reply THEN 'replies' ELSE 'boosts' END) AS has_key,
  array_length(list_concat(hashtags, reply_tags)) AS concatenated,
  array_to_string(list_concat(reply_tags, ['x']), ',') AS with_x,
  array_length(hashtags || reply_tags) AS piped,
  map_keys(counts)[3] AS third_name,
  map_values(counts)[f % 5 - 2] AS count_at,
  map_keys(counts)[-1] AS last_name,
  array_length(map_values(CASE WHEN is_reply THEN counts END)) AS reply_entries
FROM s
ORDER BY uri
"""

#: per status: divided by a count that is 0 for some (±infinity, NaN for 0 / 0), a DOUBLE's remainder by it (NaN),
#: shown as whether the value is past any number (infinity and NaN are) or NULL
BY_ZERO = """-- question: What does a status's favourites count give, divided by 0?
-- key: uri
SELECT uri,
  favourites_count / (favourites_count % 3) AS divided,
  CASE WHEN favourites_count / (favourites_count % 3) > 1e300 THEN 'past' ELSE 'within' END AS past,
  CASE WHEN (favourites_count - 2) / CAST(favourites_count % 3 AS DOUBLE) < -1e300 THEN 'below' END AS below,
  CASE WHEN CAST(favourites_count AS DOUBLE) % (favourites_count % 3) > 1e300 THEN 'nan' END AS remainder,
  count(favourites_count / (favourites_count % 3)) OVER () AS counted
FROM statuses
ORDER BY uri
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("slices") / "lake", KEY, statuses=120)


@pytest.mark.spark
def test_slices_maps_and_concatenated_lists_store_the_same_rows_on_both_engines(
        lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001 - lazy pyspark
    stored = rows_on_both_engines(lake, spark, tmp_path, "slices", SLICES_MAPS, KEY, "uri")
    duckdb_rows = stored["duckdb"]
    # the corpus has what the metric is about: statuses with 3 or more hashtags and fewer, computed slices empty and
    # not, NULL bounds, every number key, replies (a list) and not (NULL)
    assert duckdb_rows and any(row[1] and "," in row[1] for row in duckdb_rows)
    assert {bool(row[4]) for row in duckdb_rows} == {True, False}
    assert {row[6] is None for row in duckdb_rows} == {True, False}
    assert {row[11] for row in duckdb_rows} == {"none", "one", "two", None} and {row[10] for row in duckdb_rows} == {
        None}
    assert {row[16] for row in duckdb_rows} >= {"x"} and any(row[16] and row[16] != "x" for row in duckdb_rows)
    assert {row[17] is None for row in duckdb_rows} == {True, False}
    # a map's keys and values: [3] past its 2 entries NULL (Spark's MAP_KEYS(m)[2] failed the run), [0] NULL, every
    # other computed index a count, -1 the last key; array_length NULL for a NULL map, 2 otherwise
    assert {row[18] for row in duckdb_rows} == {None} and {row[20] for row in duckdb_rows} == {"favourites"}
    assert None in {row[19] for row in duckdb_rows} and any(row[19] is not None for row in duckdb_rows)
    assert {row[21] for row in duckdb_rows} == {None, 2}
    assert stored["spark"] == duckdb_rows


@pytest.mark.spark
def test_a_division_by_zero_stores_the_same_rows_on_both_engines(lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001
    stored = rows_on_both_engines(lake, spark, tmp_path, "by_zero", BY_ZERO, KEY, "uri")
    duckdb_rows = stored["duckdb"]
    # infinity (stored as NULL) and numbers both, -infinity, NaN, and every row counted (infinity is no NULL)
    assert {row[2] for row in duckdb_rows} == {"past", "within"}
    assert {row[1] is None for row in duckdb_rows} == {True, False}
    assert "below" in {row[3] for row in duckdb_rows} and "nan" in {row[4] for row in duckdb_rows}
    assert {row[5] for row in duckdb_rows} == {len(duckdb_rows)}
    assert stored["spark"] == duckdb_rows
