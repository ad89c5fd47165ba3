"""Schema inference, type widening, value normalisation and lookup coercion shared by every store."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from fediscope.engine.metrics import parse_metric
from fediscope.errors import StoreError
from fediscope.store.schema import (
    TableSchema,
    check_metric_name,
    coerce_query,
    key_text_limit,
    merge_types,
    normalize_value,
    plan_write,
)

M = parse_metric("m", "-- question: q\n-- key: k\n-- rank: v DESC\nSELECT 1")


def test_normalize_values_engines_return():
    assert normalize_value(decimal.Decimal("2.5")) == 2.5
    assert normalize_value(dt.date(2024, 5, 1)) == "2024-05-01"
    assert normalize_value(dt.datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00"
    assert normalize_value(float("nan")) is None
    assert normalize_value(-0.0) == 0.0 and str(normalize_value(-0.0)) == "0.0"
    with pytest.raises(StoreError, match="cannot store a value of type list"):
        normalize_value([1, 2])


@pytest.mark.parametrize(("old", "new", "merged"), [
    ("null", "int", "int"), ("int", "null", "int"), ("bool", "int", "int"), ("int", "float", "float"),
    ("float", "bool", "float"), ("str", "str", "str"), ("str", "int", None), ("float", "str", None),
])
def test_type_lattice(old, new, merged):
    assert merge_types(old, new) == merged


@pytest.mark.parametrize(("value", "type_", "expected"), [
    (3, "int", (True, 3)), (3.0, "int", (True, 3)), (3.5, "int", (False, None)), ("3", "int", (False, None)),
    (True, "int", (True, 1)), (2, "float", (True, 2.0)), ("x", "str", (True, "x")), (1, "str", (False, None)),
    (1, "bool", (True, True)), (2, "bool", (False, None)), (None, "str", (False, None)), ("x", "null", (False, None)),
    (2**63 - 1, "int", (True, 2**63 - 1)), (-(2**63), "int", (True, -(2**63))), (2**63, "int", (False, None)),
    (-(2**63) - 1, "int", (False, None)), (1e300, "int", (False, None)), (10**400, "float", (False, None)),
])
def test_lookup_values_are_coerced_to_the_column_type(value, type_, expected):
    assert coerce_query(value, type_) == expected


def test_plan_infers_types_in_first_seen_order_and_casts_rows():
    plan = plan_write(M, [{"k": "a", "v": 1, "x": None}, {"k": "b", "v": 2.5, "x": None, "y": True}], None)
    assert plan.schema.columns == (("k", "str"), ("v", "float"), ("x", "null"), ("y", "bool"))
    assert plan.rows == [{"k": "a", "v": 1.0, "x": None, "y": None}, {"k": "b", "v": 2.5, "x": None, "y": True}]
    assert isinstance(plan.rows[0]["v"], float)
    assert not plan.rebuild


def test_plan_against_a_stored_schema_adds_widens_or_rebuilds():
    stored = plan_write(M, [{"k": "a", "v": 1, "x": None}], None).schema
    plan = plan_write(M, [{"k": "a", "v": 1, "x": "t", "z": 1}], stored)
    assert plan.added == ("z",) and plan.widened == ("x",) and not plan.rebuild
    assert plan_write(M, [{"k": "a", "v": 1.5}], stored).rebuild  # the rank column's type is in its row keys
    assert plan_write(M, [{"k": 1, "v": 1}], stored).rebuild  # a key column's type
    other_key = parse_metric("m", "-- question: q\n-- key: k, v\nSELECT 1")
    assert plan_write(other_key, [{"k": "a", "v": 1}], stored).rebuild


def test_schema_json_round_trip():
    schema = TableSchema("m", ("k",), (("k", "str"), ("v", "int")), "v", False, None)
    assert TableSchema.from_json(schema.to_json()) == schema


@pytest.mark.parametrize("name", ["Top", "1st", "a-b", "x" * 58, ""])
def test_metric_names_must_fit_every_store(name):
    with pytest.raises(StoreError):
        check_metric_name(name)


def test_plan_infers_types_whatever_the_row_order_and_names_the_first_offending_value():
    import enum

    from fediscope.store.schema import plan_write

    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    m = parse_metric("mixed", "-- question: q\n-- key: k\nSELECT 1\n")
    rows = [{"k": Name("b"), "n": 2.5, "b": Level.HIGH}, {"k": "a", "n": True, "b": None}, {"k": "c", "n": 1}]
    plan = plan_write(m, rows, None)
    assert plan.schema.columns == (("k", "str"), ("n", "float"), ("b", "int"))
    assert [(r["k"], r["n"], r["b"]) for r in plan.rows] == [("b", 2.5, 3), ("a", 1.0, None), ("c", 1.0, None)]
    assert [type(r["n"]) for r in plan.rows] == [float] * 3 and type(plan.rows[0]["b"]) is int
    with pytest.raises(StoreError, match=r"column 'n' mixes text and numbers \(e.g. 'x'\)"):
        plan_write(m, [{"k": "a", "n": 1}, {"k": "b", "n": None}, {"k": "c", "n": "x"}, {"k": "d", "n": "y"}], None)


@pytest.mark.parametrize(("key_types", "rank_type", "limit"), [
    (["str"], None, 255),
    (["str", "str", "str"], None, 255),  # 3 × 255 × 4 = 3060 bytes
    (["str"] * 4, None, 192),  # 3072
    (["str"] * 4, "str", 192),  # a text rank column outside the key is indexed alone
    (["str"] * 4, "float", 191),  # a DOUBLE before the key in the rank index: 8 + 3056
    (["str", "str", "str", "int", "int"], None, 254),  # 3 × 255 × 4 + 16 = 3076: MariaDB refused the table
    (["str", "str", "str", "int", "bool", "bool", "bool", "bool"], None, 255),  # 3060 + 8 + 4 × 1 = 3072
    (["str", "str", "str", "int", "bool", "bool", "bool", "bool", "bool"], None, 254),  # 3073
    (["str"] * 32, None, 24),
    (["str"] * 33, None, 255),  # more columns than a MariaDB key takes: no MariaDB table, HBase's row key limits it
    (["int", "float"], "int", 255),
])
def test_the_text_key_limit_is_what_a_mariadb_key_holds_in_each_text_column(key_types, rank_type, limit):
    """The byte counts were checked against MariaDB 10.11: a key (or an index) of 3072 bytes is created, one of 3073 is
    refused (error 1071); VARCHAR(n) of utf8mb4 counts 4n bytes, BIGINT and DOUBLE 8, BOOL 1; at most 32 columns."""
    assert key_text_limit(key_types, rank_type) == limit
