"""An own metric writing a DOUBLE as text (``CAST(x AS VARCHAR)``, ``concat``/``||``, ``string_agg``,
``array_to_string``, ``printf``) or casting one to a DECIMAL is refused on Spark with one line naming its file and
the rewrite both engines run alike, before Spark runs it; the rewrite stores the same rows on both. Was: run
unrefused, it stored other text on Spark (DuckDB ``123456789.0``, ``2e+20``; Spark ``1.23456789E8``, ``2.0E20``),
and a DOUBLE at a tie such as 1.005 cast to ``DECIMAL(18, 2)`` was 1.00 on DuckDB, 1.01 on Spark."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, own_metric_settings, rows_on_both_engines

from fediscope.engine.metrics import read_metric
from fediscope.engine.process import run_process
from fediscope.errors import MetricFileError

KEY = "own-metric-float-text-spark-test-pseudonym-key"

#: per instance, its mean favourites (a DOUBLE) and a million times it, written as text
TRAP = """-- question: What are the mean favourites per instance, as text?
-- key: instance
SELECT instance, concat('mean ', avg(favourites_count) * 1e6) AS mean_text
FROM statuses
GROUP BY instance
ORDER BY instance
"""

#: the rewrite the refusal advises, and the DECIMAL's and integer's text beside it (joined distinct too)
REWRITTEN = """-- question: What are the mean favourites per instance, as text?
-- key: instance
SELECT instance,
  concat('mean ', CAST(round(avg(favourites_count) * 1e6 * 100) / 100 AS DECIMAL(38, 2))) AS mean_text,
  CAST(CAST(round(avg(favourites_count) * 1e6) AS BIGINT) AS VARCHAR) AS mean_whole,
  string_agg(DISTINCT CAST(round(favourites_count / 7 * 100) / 100 AS DECIMAL(18, 2)), ','
             ORDER BY CAST(round(favourites_count / 7 * 100) / 100 AS DECIMAL(18, 2))) AS sevenths,
  string_agg(DISTINCT CAST(round(favourites_count / 200 * 100) / 100 AS DECIMAL(18, 2)), ','
             ORDER BY CAST(round(favourites_count / 200 * 100) / 100 AS DECIMAL(18, 2))) AS hundredths
FROM statuses
GROUP BY instance
ORDER BY instance
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("floattext") / "lake", KEY, statuses=120)




@pytest.mark.spark
def test_a_double_as_text_is_refused_on_spark_and_its_rewrite_stores_the_same_rows(
        lake: Path, spark, tmp_path: Path) -> None:  # noqa: ANN001 - lazy pyspark
    (tmp_path / "mine").mkdir()
    path = tmp_path / "mine" / "mean_text.sql"
    path.write_text(TRAP)
    with pytest.raises(MetricFileError) as refused:
        run_process(own_metric_settings(lake, tmp_path / "spark.db", KEY), engine="spark",
                    metrics={"mean_text": read_metric(path)}, engine_options={"spark": spark}, progress=False)
    assert str(refused.value) == (
        f"metric mean_text ({path}): not portable to Spark SQL: the DOUBLE avg(favourites_count) * 1e6 written as "
        "text (concat('mean ', avg(favourites_count) * 1e6)) differs between DuckDB and Spark (DuckDB writes "
        "123456789.0, 2e+20 and -0.0, Spark 1.23456789E8, 2.0E20 and 0.0, and a DISTINCT or GROUP BY keeps -0.0 or "
        "0.0 otherwise); write it as a DECIMAL or an integer, whose text is alike: CAST(round((avg(favourites_count) "
        "* 1e6) * 100) / 100 AS DECIMAL(18, 2)) for two places, or CAST(round(avg(favourites_count) * 1e6) AS BIGINT)")
    assert not (tmp_path / "spark.db").exists() or not _tables(tmp_path / "spark.db")
    stored = rows_on_both_engines(lake, spark, tmp_path, "rewritten", REWRITTEN, KEY)
    # the corpus has what the metric is about: means of seven or more digits (DuckDB's double text switches to an
    # exponent at 1e+16, Spark's at 1.0E7), fractions
    assert stored["duckdb"] and any(len(row[2]) >= 7 and "." in row[3] for row in stored["duckdb"])
    assert stored["spark"] == stored["duckdb"]


def _tables(store: Path) -> list[str]:
    with closing(sqlite3.connect(store)) as db:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'metric_%'")]
