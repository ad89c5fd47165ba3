"""An own metric using DuckDB's list functions stores the same rows on Spark as on DuckDB, or is refused on Spark
with one line naming its file and the rewrite that runs alike, before anything is curated or computed. Was:
``list_has_any`` (``&&``) became Spark's ``&&``, which Spark does not parse; ``list_has_all``, ``list_position``,
``list_count``, ``list_unique``, ``list_sum`` and ``list_aggregate`` are not Spark functions (Spark refused them
only when the metric came to run, after curation and the metrics before it, in its own words, and ``fediscope
doctor`` passed them); ``array_position`` gave 0 for a missing item (DuckDB NULL); and ``list_sort`` of a list of
lists sorted a NULL inside an item first on Spark, last on DuckDB, unrefused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, own_metric_settings, rows_on_both_engines

from fediscope.engine.metrics import read_metric
from fediscope.engine.process import run_process
from fediscope.errors import MetricFileError

KEY = "own-metric-list-functions-spark-test-pseudonym-key"

#: per status, its long tags with NULL for each short one (``t``) and the reverse (``s``): two lists sharing no
#: item but NULL, each holding NULLs when the status has tags of both lengths
PER_STATUS = """-- question: How do a status's long and short tags compare?
-- key: uri
SELECT uri,
  list_has_any(t, s) AS shared, t && hashtags AS any_long,
  list_has_all(hashtags, t) AS all_long, list_has_all(t, hashtags) AS only_long,
  hashtags @> s AS all_short, s <@ t AS short_in_long,
  list_position(t, NULL) AS first_short, list_position(t, 'no-such-tag') AS missing,
  array_position(hashtags, list_max(hashtags)) AS largest_at,
  list_count(t) AS long_tags, list_unique(list_concat(t, t)) AS distinct_long
FROM (SELECT uri, hashtags,
             list_transform(hashtags, lambda h: CASE WHEN length(h) > 6 THEN h END) AS t,
             list_transform(hashtags, lambda h: CASE WHEN length(h) <= 6 THEN h END) AS s
      FROM statuses)
ORDER BY uri
"""

#: per instance, its languages listed with NULL for a third of the statuses
PER_INSTANCE = """-- question: Which languages per instance, NULLs listed?
-- key: instance
SELECT instance,
  list_has_any(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END), [NULL, 'xx']) AS has_xx,
  list_count(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)) AS languages,
  list_unique(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)) AS distinct_languages,
  list_position(list_sort(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)), NULL) AS first_null,
  count(*) AS statuses
FROM statuses
GROUP BY instance
ORDER BY instance
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("listfunctions") / "lake", KEY, statuses=120)






@pytest.mark.spark
def test_list_functions_store_the_same_rows_on_spark_as_on_duckdb(lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001
    stored = rows_on_both_engines(lake, spark, tmp_path, "tag_lengths", PER_STATUS, KEY, "uri")
    rows = stored["duckdb"]
    # the corpus has what the metric is about: lists holding NULLs beside other items, sharing none but NULL
    # (booleans stored as 0 and 1)
    mixed = [row for row in rows if row[7] is not None and row[10]]
    assert mixed and all((row[1], row[3], row[4], row[6]) == (0, 1, 0, 0) for row in mixed)
    assert all(row[8] is None for row in rows)  # a missing item: NULL, not 0
    assert any(row[9] and row[9] > 1 for row in rows)
    assert stored["spark"] == rows

    stored = rows_on_both_engines(lake, spark, tmp_path, "languages_listed", PER_INSTANCE, KEY, "instance")
    rows = stored["duckdb"]
    assert rows and all(row[1] == 0 and row[4] == row[2] + 1 for row in rows)  # NULLs listed, sorted last
    assert stored["spark"] == rows


#: a construct refused on Spark, what its message says, and the rewrite it advises (which runs alike)
_REFUSED = [
    ("sum(list_sum(list_transform(hashtags, lambda h: length(h))))",
     "list_sum() is not a Spark function; aggregate the items as rows instead",
     "sum(length(h))", "(SELECT instance, unnest(hashtags) AS h FROM statuses)"),
    ("list_sum(list(favourites_count))", "for list_sum(list(x)) aggregate x itself",
     "sum(favourites_count)", "statuses"),
    ("list_aggregate(list(language), 'count')", "list_aggregate() is not a Spark function; write list_max, "
     "list_min, list_count", "list_count(list(language))", "statuses"),
    # a NULL inside a list: the tags sorted last in DuckDB ([a, NULL] after [a]), first in Spark
    ("array_to_string(list_transform(list_sort(list(list_transform(hashtags, lambda h: CASE WHEN length(h) > 6 "
     "THEN h END))), lambda l: array_to_string(l, ' ')), ',')",
     "sorts a NULL inside an item last in DuckDB, first in Spark; sort plain values: list_sort(flatten(l)), or the "
     "items as text: list_sort(list_transform(l, lambda x: array_to_string(x, ',')))",
     "array_to_string(list_sort(list_transform(list(list_transform(hashtags, lambda h: CASE WHEN length(h) > 6 "
     "THEN h END)), lambda x: array_to_string(x, ','))), ';')", "statuses"),
]


@pytest.mark.spark
@pytest.mark.parametrize("refused, said, rewrite, source", _REFUSED,
                         ids=["list_sum-unnest", "list_sum-list", "list_aggregate", "list_sort-nested"])
def test_a_list_function_spark_runs_otherwise_is_refused_before_anything_is_computed(
        lake: Path, spark, tmp_path: Path, capsys: pytest.CaptureFixture[str],  # noqa: ANN001 - lazy pyspark
        refused: str, said: str, rewrite: str, source: str) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    first, path = mine / "a_first.sql", mine / "b_lists.sql"
    first.write_text("-- question: How many?\n-- key: instance\n"
                     "SELECT instance, count(*) AS n FROM statuses GROUP BY instance ORDER BY instance\n")
    sql = ("-- question: Which?\n-- key: instance\n"
           f"SELECT instance, {refused} AS x FROM {source} GROUP BY instance ORDER BY instance\n")
    path.write_text(sql)
    with pytest.raises(MetricFileError) as stopped:
        run_process(own_metric_settings(lake, tmp_path / "spark.db", KEY), engine="spark",
                    metrics={"a_first": read_metric(first), "b_lists": read_metric(path)},
                    engine_options={"spark": spark}, progress=True)
    message = str(stopped.value)
    assert message.startswith(f"metric b_lists ({path}): not portable to Spark SQL: ") and said in message
    assert "\n" not in message
    # refused before the engine started: nothing curated, no metric computed
    assert capsys.readouterr().err == ""
    assert not (tmp_path / "spark.db").exists()
    path.unlink()
    first.unlink()
    stored = rows_on_both_engines(lake, spark, tmp_path, "rewritten", sql.replace(refused, rewrite), KEY, "instance")
    assert stored["duckdb"] and any(row[1] for row in stored["duckdb"])
    assert stored["spark"] == stored["duckdb"]
