"""A metric whose result has a map or interval column is refused on Spark as on DuckDB, naming its file and the column
(:func:`fediscope.engine.metric_state.refuse_unstorable_types`), rows or none. Was, on Spark alone: a result with
such a column leaves Spark's Arrow path, and ``collect()``'s Python values had lost the column's type, so a map was
stored as its Python text (``{'x': 1}``), a day-time interval as a ``timedelta``'s (``23:00:00``), and a year-month
interval failed with a PySpark traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_data import settings_for

from fediscope.engine.metrics import parse_metric
from fediscope.errors import MetricFileError

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("where", ["true", "false"])
@pytest.mark.parametrize(("value", "kind"), [
    ("map(['x'], [1])", "lists"),
    ("CAST('2024-05-02' AS TIMESTAMP) - CAST('2024-05-01 01:00:00' AS TIMESTAMP)", "intervals"),
    ("INTERVAL 1 MONTH", "intervals"),
])
def test_a_map_or_interval_column_is_refused_on_spark_as_on_duckdb(tmp_path: Path, spark: object, value: str,
                                                                     kind: str, where: str) -> None:
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.engine.spark_engine import SparkEngine

    metric = parse_metric("odd", f"-- question: Which?\n-- key: k\nSELECT 'a' AS k, {value} AS v WHERE {where}\n",
                          source="odd.sql")
    settings = settings_for(tmp_path / "lake")
    errors = []
    for engine in (SparkEngine(settings, spark=spark), DuckDBEngine(settings)):
        with engine, pytest.raises(MetricFileError) as raised:
            engine.metric_table(metric)
        errors.append(str(raised.value))
    assert errors[0] == errors[1], errors
    assert errors[0].startswith(f"metric odd (odd.sql): column 'v' holds {kind}, which no store holds"), errors
