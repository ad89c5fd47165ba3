"""arrow_types: the store types of a normalised Arrow result, as `fediscope process` passes them to the store."""

from __future__ import annotations

import pyarrow as pa

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
    assert arrow_types(table.slice(0, 0)) == dict.fromkeys(table.schema.names, "null")  # no rows: nothing known


def test_arrow_types_give_the_plan_inference_gives() -> None:
    metric = parse_metric("m", "-- question: q\n-- key: k\n-- rank: n DESC\nSELECT 1")
    table = normalize_table(pa.table({"k": ["b", "a", "c"], "n": pa.array([3, None, 2**53 + 1], pa.int64()),
                                      "share": [0.25, -0.0, None], "bot": [True, False, None],
                                      "none": pa.array([None] * 3, pa.int16())}))
    rows = table.to_pylist()
    typed = plan_write(metric, rows, None, types=arrow_types(table))
    assert typed == plan_write(metric, rows, None)
    assert typed.schema.columns == (("k", "str"), ("n", "int"), ("share", "float"), ("bot", "bool"), ("none", "null"))
