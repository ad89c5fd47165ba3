"""An own metric whose SQL Spark accepts but whose rows it cannot compute (``//`` or ``%`` by zero, which Spark's
ANSI mode stops at, and DuckDB too; a cast a row's value refuses) stops ``fediscope process`` on Spark as on DuckDB:
one line naming the metric's file and the failure, a :class:`FediscopeError` (exit 1: no mistake of the text, which
the engine took), nothing stored. Was: pyspark's own exception, raised as it came (a traceback: ``InternalError``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from metric_fixtures import curated_generated_lake, own_metric_settings

from fediscope.config import Settings
from fediscope.engine.metrics import SQL_DIR, read_metric
from fediscope.engine.process import run_process
from fediscope.errors import ConfigError, FediscopeError

KEY = "spark-runtime-errors-test-pseudonym-key"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small generated corpus, curated once by DuckDB (the curated tables are the same for both engines)."""
    yield curated_generated_lake(tmp_path_factory.mktemp("runtime") / "lake", KEY)


def _settings(lake: Path, store: Path) -> Settings:
    return own_metric_settings(lake, store, KEY)


@pytest.mark.spark
@pytest.mark.parametrize(("value", "spark_error"), [
    # // and % stop at a divisor of 0 on both engines (/ gives DuckDB's infinity on Spark too): Spark's advice
    # (try_divide, a setting) replaced by what both engines run alike
    ("sum(favourites_count) // (count(*) - count(*))",
     "Spark failed: [DIVIDE_BY_ZERO] Division by zero (// and % stop at a divisor of 0 on DuckDB and on Spark; write "
     "nullif(y, 0) as the divisor in the metric's SQL, which gives NULL there on both)"),
    ("sum(favourites_count) % (count(*) - count(*))",
     "Spark failed: [REMAINDER_BY_ZERO] Remainder by zero (// and % stop at a divisor of 0 on DuckDB and on Spark; "
     "write nullif(y, 0) as the divisor in the metric's SQL, which gives NULL there on both)"),
    # both engines stop at a value the cast refuses (a cast of text to an integer type is refused before any row is
    # computed; one to a date is not)
    ("max(CAST(CASE WHEN favourites_count >= 0 THEN 'many' ELSE '2024-01-01' END AS DATE))",
     "Spark failed: [CAST_INVALID_INPUT]"),
], ids=["division-by-zero", "remainder-by-zero", "cast"])
def test_a_value_spark_refuses_while_computing_stops_the_run_in_one_line_naming_the_file(
        lake: Path, spark, tmp_path: Path, value: str, spark_error: str) -> None:  # noqa: ANN001 - lazy pyspark
    (tmp_path / "mine").mkdir()
    path = tmp_path / "mine" / "refused.sql"
    path.write_text(f"-- question: Which?\n-- key: k\nSELECT 'a' AS k, {value} AS v FROM statuses GROUP BY 1\n")
    metrics = {"languages": read_metric(SQL_DIR / "languages.sql"), "refused": read_metric(path)}
    store = tmp_path / "spark.db"
    with pytest.raises(FediscopeError) as stopped:
        run_process(_settings(lake, store), engine="spark", metrics=metrics, engine_options={"spark": spark},
                    progress=False)
    assert not isinstance(stopped.value, ConfigError)  # the SQL's text was taken: exit 1, as DuckDB's failures
    message = str(stopped.value)
    assert message.startswith(f"metric refused ({path}): {spark_error}") and "\n" not in message, message
    if store.exists():  # nothing written, not even the built-in metric computed before this one
        with closing(sqlite3.connect(store)) as db:
            assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'metric_%'").fetchall() == []
