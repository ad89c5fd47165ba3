"""plan_write with the column types given (what `fediscope process` passes from Arrow) must plan exactly what
inference plans for the same rows: the same schema, the same rows with the same Python types, the same
evolution — only faster."""

from __future__ import annotations

import pytest

from fediscope.engine.metrics import parse_metric
from fediscope.errors import StoreError
from fediscope.store.schema import TableSchema, WritePlan, plan_write

M = parse_metric("m", "-- question: q\n-- key: k, day\n-- rank: n DESC\nSELECT 1")
TYPES = {"k": "str", "day": "int", "n": "int", "share": "float", "bot": "bool", "none": "null"}
ROWS = [
    {"k": "b", "day": 2, "n": 2**53 + 1, "share": 1e300, "bot": True, "none": None},
    {"k": "a", "day": 1, "n": None, "share": -2.5e-300, "bot": False, "none": None},
    {"k": "ü ✓ 🐘", "day": -1, "n": 0, "share": None, "bot": None, "none": None},
    {"k": "b", "day": 2, "n": 7, "share": 0.0, "bot": False, "none": None},  # the same key again: the last wins
]


def same(typed: WritePlan, untyped: WritePlan) -> None:
    assert typed == untyped
    assert [[type(v) for v in r.values()] for r in typed.rows] == [[type(v) for v in r.values()] for r in untyped.rows]
    assert [list(r) for r in typed.rows] == [list(r) for r in untyped.rows]


def test_a_first_write_plans_the_same_rows_without_copying_them():
    typed = plan_write(M, ROWS, None, types=TYPES)
    same(typed, plan_write(M, ROWS, None))
    assert typed.schema.columns == tuple(TYPES.items())
    assert [r["n"] for r in typed.rows] == [7, None, 0] and typed.rows[0] is ROWS[3]


@pytest.mark.parametrize("stored_types", [
    {"k": "str", "day": "int", "n": "float", "share": "float", "bot": "int", "none": "str"},  # wider: cast
    {"k": "str", "day": "int", "n": "int", "older": "str", "share": "float", "bot": "bool", "none": "null"},  # more
    {"k": "str", "day": "int", "n": "bool", "share": "int", "bot": "null", "none": "null"},  # narrower: widened
    {"k": "str", "day": "str", "n": "int", "share": "str", "bot": "bool", "none": "int"},  # key type: rebuild
    {"k": "str", "day": "int", "n": "int"},  # columns added
])
def test_against_a_stored_schema_the_plan_is_the_inferred_one(stored_types):
    existing = TableSchema(metric="m", key=M.key, columns=tuple(stored_types.items()), rank_column="n")
    typed = plan_write(M, ROWS, existing, types=TYPES)
    same(typed, plan_write(M, ROWS, existing))
    assert list(typed.schema.types)[:len(stored_types)] == list(stored_types)


def test_an_all_null_column_must_be_typed_null_as_inference_types_it():
    rows = [{"k": "a", "day": 1, "n": None}]
    assert plan_write(M, rows, None).schema.types["n"] == "null"
    same(plan_write(M, rows, None, types={"k": "str", "day": "int", "n": "null"}), plan_write(M, rows, None))


def test_no_rows_plan_the_given_types_as_the_empty_tables_schema():
    """Without rows, inference knows no column; the given types (the result's schema) are the empty table's."""
    assert plan_write(M, [], None).schema.columns == ()
    typed = plan_write(M, [], None, types=TYPES)
    assert typed.schema.columns == tuple(TYPES.items()) and typed.rows == [] and not typed.rebuild
    stored = plan_write(M, ROWS, None).schema
    assert plan_write(M, [], stored, types=TYPES).schema == stored  # the same result's table: nothing changes
    widened = plan_write(M, [], stored, types={**TYPES, "bot": "int", "extra": "str"})
    assert (widened.widened, widened.added, widened.rebuild) == (("bot",), ("extra",), False)
    assert plan_write(M, [], stored, types={**TYPES, "day": "str"}).rebuild  # a key column's type changed


def test_unknown_type_names_plan_as_without_types():
    same(plan_write(M, [], None, types={**TYPES, "tags": "list<item: string>"}), plan_write(M, [], None))
    rows = [{"k": "a", "day": 1, "n": 1, "tags": ["x"]}]
    with pytest.raises(StoreError, match="cannot store a value of type list"):  # inferred, so refused as usual
        plan_write(M, rows, None, types={"k": "str", "day": "int", "n": "int", "tags": "list<item: string>"})


def test_rows_whose_columns_are_not_the_given_ones_are_a_caller_error():
    with pytest.raises(ValueError, match="not the given types' columns"):
        plan_write(M, [{"day": 1, "k": "a", "n": 1}], None, types={"k": "str", "day": "int", "n": "int"})


@pytest.mark.parametrize(("rows", "message"), [
    ([{"k": "a", "day": 1, "n": 1}, {"k": "a", "day": None, "n": 1}, {"k": "x" * 256, "day": 1, "n": 1}],
     r"key column\(s\) day are NULL"),
    ([{"k": "a", "day": 1, "n": 1}, {"k": "x" * 256, "day": 1, "n": 1}, {"k": "a", "day": None, "n": 1}],
     "key column 'k' has a value of 256 characters"),
])
def test_refusals_name_the_first_offending_row_either_way(rows, message):
    types = {"k": "str", "day": "int", "n": "int"}
    with pytest.raises(StoreError, match=message) as typed:
        plan_write(M, rows, None, types=types)
    with pytest.raises(StoreError) as untyped:
        plan_write(M, rows, None)
    assert str(typed.value) == str(untyped.value)
