"""An own metric listing a nullable value with ``list``/``array_agg`` stores the same rows on Spark as on DuckDB, and
one joining its items in no fixed order is refused on Spark with the rewrite that runs alike. Was: DuckDB keeps the
rows' NULLs as items of ``list(x)`` (one of ``list(DISTINCT x)``), Spark's ``collect_list``/``collect_set`` dropped
them (fewer items counted and unnested on Spark), and gave an empty list where DuckDB gives NULL (no row kept by a
``FILTER``); ``flatten`` gave NULL on Spark for a list holding a NULL list, ``array_to_string`` ``''`` for a list of
NULLs only (NULL in DuckDB) and ``list_contains`` NULL for a list holding NULLs (false in DuckDB); and
``string_agg(DISTINCT x)`` without ``ORDER BY`` joined its items in another order on Spark, unrefused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, own_metric_settings, rows_on_both_engines

from fediscope.engine.metrics import read_metric
from fediscope.engine.process import run_process
from fediscope.errors import MetricFileError

KEY = "own-metric-list-nulls-spark-test-pseudonym-key"

#: a language mapped to NULL for a third of the statuses, hashtag lists mapped to NULL for half of them
NULLS = """-- question: How many languages, NULLs included, per instance?
-- key: instance
SELECT instance,
  array_length(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)) AS listed,
  array_length(array_agg(DISTINCT CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)) AS distinct_listed,
  array_length(list(language) FILTER (WHERE favourites_count < 0)) AS none_listed,
  array_to_string(list_sort(list(CASE WHEN favourites_count < 0 THEN language END)), ',') AS nulls_joined,
  array_to_string(list_sort(list(DISTINCT CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)), ',')
    AS languages,
  array_length(flatten(list(CASE WHEN favourites_count % 2 = 0 THEN hashtags END))) AS tags,
  list_contains(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END), 'xx') AS has_xx,
  count(*) AS statuses
FROM statuses
GROUP BY instance
ORDER BY instance
"""

#: the listed languages unnested, and listed over a window in its order: as many rows and items on Spark
UNNESTED = """-- question: How many languages per instance, unnested?
-- key: instance
SELECT instance, count(*) AS rows_unnested, count(lang) AS languages, max(running) AS most_running
FROM (SELECT instance, unnest(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)) AS lang,
             NULL AS running
      FROM statuses GROUP BY instance
      UNION ALL
      SELECT instance, 'x' AS lang,
             array_length(list(CASE WHEN favourites_count % 3 = 0 THEN NULL ELSE language END)
                          OVER (PARTITION BY instance ORDER BY uri)) AS running
      FROM statuses)
GROUP BY instance
ORDER BY instance
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("listnulls") / "lake", KEY, statuses=120)






@pytest.mark.spark
@pytest.mark.parametrize("metric, sql", [("listed_nulls", NULLS), ("unnested_nulls", UNNESTED)])
def test_lists_holding_nulls_store_the_same_rows_on_spark_as_on_duckdb(
        lake: Path, spark, tmp_path: Path, metric: str, sql: str) -> None:  # noqa: ANN001 - lazy pyspark
    stored = rows_on_both_engines(lake, spark, tmp_path, metric, sql, KEY)
    assert stored["duckdb"], "no rows: the corpus has no statuses"
    if metric == "listed_nulls":  # the corpus has what the metric is about: NULLs listed, lists of NULLs only
        assert all(row[1] == row[8] for row in stored["duckdb"])  # every status listed, NULL or not
        assert all(row[3] is None and row[4] is None and row[7] == 0 for row in stored["duckdb"])
        assert any(row[5] for row in stored["duckdb"]) and any(row[5] is None for row in stored["duckdb"])
    assert stored["spark"] == stored["duckdb"]


@pytest.mark.spark
@pytest.mark.parametrize("joined, rewritten", [
    ("string_agg(DISTINCT language, '; ')", "string_agg(DISTINCT language, '; ' ORDER BY language)"),
    ("array_to_string(array_agg(DISTINCT language), ',')", "string_agg(DISTINCT language, ',' ORDER BY language)"),
    ("string_agg(language)", "string_agg(language, ',' ORDER BY language)"),
], ids=["string_agg-distinct", "array_agg-distinct", "string_agg"])
def test_items_joined_in_no_fixed_order_are_refused_on_spark_with_the_rewrite_that_runs_alike(
        lake: Path, spark, tmp_path: Path, joined: str, rewritten: str) -> None:  # noqa: ANN001 - lazy pyspark
    (tmp_path / "mine").mkdir()
    path = tmp_path / "mine" / "joined.sql"
    sql = ("-- question: Which languages?\n-- key: instance\n"
           f"SELECT instance, {joined} AS languages, count(DISTINCT account_key) AS posters "
           "FROM statuses GROUP BY instance ORDER BY instance\n")
    path.write_text(sql)
    with pytest.raises(MetricFileError) as refused:
        run_process(own_metric_settings(lake, tmp_path / "spark.db", KEY), engine="spark",
                    metrics={"joined": read_metric(path)}, engine_options={"spark": spark}, progress=False)
    message = str(refused.value)
    assert message.startswith(f"metric joined ({path}): not portable to Spark SQL: ") and "no fixed order" in message
    assert message.endswith(f"write {rewritten}") or f"write {rewritten}, or sort it" in message
    path.unlink()
    stored = rows_on_both_engines(lake, spark, tmp_path, "rewritten", sql.replace(joined, rewritten), KEY)
    assert any(separator in (row[1] or "") for row in stored["duckdb"] for separator in ",;")  # items joined
    assert stored["spark"] == stored["duckdb"]
