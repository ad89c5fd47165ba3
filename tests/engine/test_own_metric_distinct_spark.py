"""An own metric using ``list_distinct`` over a list holding NULLs, ``string_agg(DISTINCT x, sep ORDER BY x)`` beside
another DISTINCT aggregate, or ``list(x ORDER BY …)`` runs on Spark as on DuckDB: the same rows stored, or one line
refusing it before Spark runs it. Was: ``list_distinct`` kept one NULL on Spark (its ``array_distinct``) where DuckDB
drops them (more items counted and unnested on Spark); the ``string_agg`` stopped the run inside Spark with a
ClassCastException (sqlglot's ``LISTAGG(DISTINCT x) WITHIN GROUP (ORDER BY x)``, which Spark fails once the query
has another DISTINCT aggregate); and sqlglot dropped the ``ORDER BY`` of ``list(x ORDER BY …)``, joining the items
in another order on Spark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, own_metric_settings, rows_on_both_engines

from fediscope.engine.metrics import read_metric
from fediscope.engine.process import run_process
from fediscope.errors import MetricFileError

KEY = "own-metric-distinct-spark-test-pseudonym-key"

#: hashtags mapped to NULL unless long (a list holding NULLs: the curated lists hold none), languages and remainders
#: joined distinct and sorted beside count(DISTINCT …), a group with no value to join (NULL in both)
DISTINCT = """-- question: Which tags, languages and posters per instance?
-- key: instance
SELECT instance,
  sum(array_length(list_distinct(list_transform(hashtags, lambda t: CASE WHEN length(t) > 6 THEN t END))))
    AS long_tags,
  array_to_string(list_sort(list_distinct(flatten(list(list_transform(hashtags,
    lambda t: CASE WHEN length(t) > 6 THEN t END))))), ',') AS long_tag_list,
  string_agg(DISTINCT language, ',' ORDER BY language) AS languages,
  string_agg(DISTINCT favourites_count % 7, '; ' ORDER BY favourites_count % 7 DESC) AS remainders,
  string_agg(DISTINCT language, ',' ORDER BY language) FILTER (WHERE favourites_count < 0) AS none_joined,
  count(DISTINCT account_key) AS posters
FROM statuses
GROUP BY instance
ORDER BY instance
"""

#: the tags unnested: as many rows on Spark as on DuckDB
UNNESTED = """-- question: How many long tags per instance, unnested?
-- key: instance
SELECT instance, count(*) AS rows_unnested, count(tag) AS tags
FROM (SELECT instance, unnest(list_distinct(list_transform(hashtags,
        lambda t: CASE WHEN length(t) > 6 THEN t END))) AS tag
      FROM statuses)
GROUP BY instance
ORDER BY instance
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("distinct") / "lake", KEY, statuses=120)




@pytest.mark.spark
@pytest.mark.parametrize("metric, sql", [("distinct_joined", DISTINCT), ("unnested", UNNESTED)])
def test_distinct_lists_and_joins_store_the_same_rows_on_spark_as_on_duckdb(
        lake: Path, spark, tmp_path: Path, metric: str, sql: str) -> None:  # noqa: ANN001 - lazy pyspark
    stored = rows_on_both_engines(lake, spark, tmp_path, metric, sql, KEY)
    assert stored["duckdb"], "no rows: the corpus has no statuses"
    if metric == "distinct_joined":  # the corpus has what the metric is about: NULLs mapped, values to join
        assert any(row[1] for row in stored["duckdb"]) and all(row[3] for row in stored["duckdb"])
        assert all(row[5] is None for row in stored["duckdb"])
    assert stored["spark"] == stored["duckdb"]


@pytest.mark.spark
def test_a_list_with_order_by_is_refused_on_spark_with_the_string_agg_that_runs_alike(
        lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001 - lazy pyspark
    (tmp_path / "mine").mkdir()
    path = tmp_path / "mine" / "ordered.sql"
    path.write_text("-- question: Which languages, by their first post?\n-- key: instance\n"
                    "SELECT instance, array_to_string(list(language ORDER BY created_at DESC), ',') AS languages "
                    "FROM statuses GROUP BY instance ORDER BY instance\n")
    metrics = {"ordered": read_metric(path)}
    with pytest.raises(MetricFileError) as refused:
        run_process(own_metric_settings(lake, tmp_path / "spark.db", KEY), engine="spark", metrics=metrics,
                    engine_options={"spark": spark}, progress=False)
    assert str(refused.value) == (
        f"metric ordered ({path}): not portable to Spark SQL: ARRAY_AGG(language ORDER BY created_at DESC) loses its "
        "ORDER BY in Spark (collect_list, its items in no fixed order); to join the items in that order write "
        "string_agg(language, ',' ORDER BY created_at DESC, language)")
    rewritten = path.read_text().replace("array_to_string(list(language ORDER BY created_at DESC), ',')",
                                         "string_agg(language, ',' ORDER BY created_at DESC, language)")
    stored = rows_on_both_engines(lake, spark, tmp_path, "rewritten", rewritten, KEY)
    assert stored["duckdb"] and stored["spark"] == stored["duckdb"]
