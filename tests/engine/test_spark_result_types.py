"""A Spark result outside its Arrow path (one with a timestamp column, collected row by row) has the column types of
its SQL, as on DuckDB, not ones guessed from the values collected: a DECIMAL column (``count(*) * 1.0``) was an
integer column when every value of a run happened to be whole, a float one otherwise, so ``fediscope process``
(which writes a whole result with its types) made the store's column an integer one where DuckDB's was a float
one, and rebuilt the table whenever a run's values flipped it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from fediscope.config import Settings, load_settings
from fediscope.engine.metrics import read_metric
from fediscope.engine.process import run_process

KEY = "spark-result-types-test-pseudonym-key"


def _settings(lake: Path, store: Path) -> Settings:
    return load_settings(env={}, toml_path=False, lake=str(lake), pseudonym_key=KEY, store=f"sqlite:///{store}")


@pytest.mark.spark
def test_a_decimal_column_beside_a_timestamp_is_a_float_column_on_spark_as_on_duckdb_whole_values_or_not(
        tmp_path: Path, spark) -> None:  # noqa: ANN001 - lazy pyspark
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    lake = tmp_path / "lake"
    settings = _settings(lake, tmp_path / "unused.db")
    write_raw_lake(open_lake(settings.lake), 40, seed=7, policy=policy_from_settings(settings))
    with DuckDBEngine(settings) as engine:  # curated once: the curated tables are the same for both engines
        assert engine.curate().raw_files
    (tmp_path / "mine").mkdir()
    path = tmp_path / "mine" / "halves.sql"
    # count(*) * 1.0 is a DECIMAL of scale 1 in both engines, whose values are all whole here
    path.write_text("-- question: How many, as a decimal?\n-- key: language\n"
                    "SELECT language, count(*) * 1.0 AS half, max(created_at) AS last_seen FROM statuses "
                    "WHERE language IS NOT NULL "
                    "GROUP BY language\n")
    metrics = {"halves": read_metric(path)}
    columns = {}
    for engine, options in (("duckdb", {}), ("spark", {"spark": spark})):
        store = tmp_path / f"{engine}.db"
        run_process(_settings(lake, store), engine=engine, metrics=metrics, engine_options=options, progress=False)
        with closing(sqlite3.connect(store)) as db:
            assert all(float(n).is_integer() for (n,) in db.execute("SELECT half FROM metric_halves")), engine
            columns[engine] = {name: kind for _, name, kind, *_ in db.execute("PRAGMA table_info(metric_halves)")}
    assert columns["spark"] == columns["duckdb"]
    assert columns["duckdb"]["half"] != columns["duckdb"]["language"]  # a float column, not text
    assert "INT" not in columns["spark"]["half"].upper()
