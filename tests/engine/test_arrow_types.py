"""arrow_types: the store types of a normalised Arrow result, as `fediscope process` passes them to the store."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from engine_data import settings_for

from fediscope.engine.metric_state import arrow_types, normalize_table
from fediscope.engine.metrics import parse_metric
from fediscope.store.schema import plan_write


def test_arrow_types_names_the_store_types_and_null_for_all_null_columns() -> None:
    table = normalize_table(pa.table({
        "i": pa.array([1, None], pa.int32()),
        "f": pa.array([0.5, None], pa.float32()),
        "b": pa.array([True, None]),
        "s": pa.array(["a", None], pa.large_string()),
        "d": pa.array([1, 2], pa.decimal128(10, 0)),
        "int_nulls": pa.array([None, None], pa.int64()),
        "nan_only": pa.array([float("nan"), None], pa.float64()),  # NaN is NULL once normalised
        "nulls": pa.array([None, None]),
        "list": pa.array([[1], [2]]),
    }))
    assert arrow_types(table) == {"i": "int", "f": "float", "b": "bool", "s": "str", "d": "int", "int_nulls": "null",
                                  "nan_only": "null", "nulls": "null", "list": "list<item: int64>"}
    assert list(arrow_types(table)) == table.schema.names
    # no rows: no values to go by, so each column has its Arrow type (the metric's empty table gets them)
    assert arrow_types(table.slice(0, 0)) == {"i": "int", "f": "float", "b": "bool", "s": "str", "d": "int",
                                              "int_nulls": "int", "nan_only": "float", "nulls": "null",
                                              "list": "list<item: int64>"}


def test_an_empty_result_has_the_column_types_a_result_with_rows_has() -> None:
    """A date or timestamp column is text once normalised (its values as ISO text): with no rows too, not the null
    type Arrow gives a column built from no values, which would make a text key column a number column."""
    import datetime as dt

    result = pa.table({"day": pa.array([dt.date(2024, 5, 1)]), "at": pa.array([dt.datetime(2024, 5, 1, 12)]),
                       "n": pa.array([1], pa.int16()), "tags": pa.array([["a"]])})
    with_rows, without = normalize_table(result), normalize_table(result.slice(0, 0))
    assert arrow_types(with_rows) == {"day": "str", "at": "str", "n": "int", "tags": "list<item: string>"}
    assert arrow_types(without) == {**arrow_types(with_rows), "tags": "null"}


def test_arrow_types_give_the_plan_inference_gives() -> None:
    metric = parse_metric("m", "-- question: q\n-- key: k\n-- rank: n DESC\nSELECT 1")
    table = normalize_table(pa.table({"k": ["b", "a", "c"], "n": pa.array([3, None, 2**53 + 1], pa.int64()),
                                      "share": [0.25, -0.0, None], "bot": [True, False, None],
                                      "none": pa.array([None] * 3, pa.int16())}))
    rows = table.to_pylist()
    typed = plan_write(metric, rows, None, types=arrow_types(table))
    assert typed == plan_write(metric, rows, None)
    assert typed.schema.columns == (("k", "str"), ("n", "int"), ("share", "float"), ("bot", "bool"), ("none", "null"))


@pytest.mark.spark
def test_an_empty_spark_result_outside_the_arrow_path_keeps_its_columns(tmp_path: Path, spark: object) -> None:
    """A timestamp or list column sends a Spark result through ``collect()``: with no rows that gave a table without
    columns, so a metric with no rows was refused ("columns are none") on Spark alone, DuckDB typing its table."""
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.engine.spark_engine import SparkEngine

    sql = ("SELECT 'a' AS k, CAST('2024-05-01 12:00:00' AS TIMESTAMP) AS at, 1 AS n, {tags} AS tags "
           "FROM (SELECT 1 AS one) AS t WHERE one = 0")
    settings = settings_for(tmp_path / "lake")
    with SparkEngine(settings, spark=spark) as engine:
        on_spark = normalize_table(engine.query_arrow(sql.format(tags="array('x')")))
    with DuckDBEngine(settings) as engine:
        on_duckdb = normalize_table(engine.query_arrow(sql.format(tags="['x']")))
    assert on_spark.num_rows == on_duckdb.num_rows == 0
    assert on_spark.schema.names == ["k", "at", "n", "tags"]
    assert arrow_types(on_spark) == arrow_types(on_duckdb)
