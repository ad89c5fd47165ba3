"""A metric computed with no rows has its table, with its columns, on every store, as one with rows has: a BI
dashboard built on it shows "no data" instead of failing on a missing table, and the table does not come and go
between runs. The column types come from the result's schema (``types``, which ``fediscope process`` passes from
the Arrow result); a write without them knows no column and only lists the metric (test_contract.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from metric_header import metric

from fediscope.engine.metric_state import arrow_types, normalize_table
from fediscope.store.port import WriteCounts

ACCOUNTS = metric("accounts", "account", rank="followers DESC")
TYPES = {"account": "str", "followers": "int", "rate": "float", "bot": "bool", "note": "str"}
ROWS = [{"account": "alice", "followers": 120, "rate": 0.5, "bot": False, "note": "x"},
        {"account": "bob", "followers": 30, "rate": -1.0, "bot": True, "note": None}]


def _tables(store) -> dict[str, list[str]]:
    """The metric tables the database holds, each with its column names as the database declares them (on HBase,
    which has no columns, with none)."""
    if store.kind.startswith("hbase"):
        with store._pool.connection() as conn:
            names = [name.decode() for name in conn.tables()]
        return {name: [] for name in names if name.startswith(f"{store.prefix}_") and "catalog" not in name}
    from sqlalchemy import inspect

    inspector = inspect(store._engine)
    return {name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()
            if name != "fediscope_catalog"}


def _table_names(store) -> set[str]:
    """The tables of metric ``accounts`` (ranked) in ``store``."""
    if store.kind.startswith("hbase"):
        return {f"{store.prefix}_accounts", f"{store.prefix}_accounts-rank"}
    return {"metric_accounts"}


def _declared(store) -> dict[str, str]:
    """The SQL stores' declared column types of ``metric_accounts``, as a BI tool reads them (upper case)."""
    from sqlalchemy import inspect

    return {c["name"]: str(c["type"]).upper() for c in inspect(store._engine).get_columns("metric_accounts")}


def test_a_metric_computed_with_no_rows_has_its_table_with_its_columns(metric_store):
    assert metric_store.write_counted(ACCOUNTS, [], types=TYPES) == WriteCounts(0, 0, 0)
    assert metric_store.stored_metrics() == {"accounts": 0}
    assert metric_store.column_types("accounts") == TYPES  # the catalog entry records the columns
    tables = _tables(metric_store)
    assert set(tables) == _table_names(metric_store)
    if not metric_store.kind.startswith("hbase"):
        assert tables["metric_accounts"] == list(TYPES)
    assert metric_store.all(ACCOUNTS) == [] and metric_store.top(ACCOUNTS, 3) == []
    assert metric_store.get(ACCOUNTS, ["alice"]) is None and metric_store.scan_prefix(ACCOUNTS, "alice") == []
    assert metric_store.unlisted_metrics() == {}
    empty = metric_store.generation("accounts")
    # computed with no rows again: nothing changed, the generation is kept (open cursors go on)
    assert metric_store.write_counted(ACCOUNTS, [], types=TYPES) == WriteCounts(0, 0, 0)
    assert metric_store.generation("accounts") == empty
    # rows the next time: written into that table
    assert metric_store.write_counted(ACCOUNTS, ROWS, types=TYPES) == WriteCounts(2, 2, 0)
    assert metric_store.all(ACCOUNTS) == ROWS and metric_store.stored_metrics() == {"accounts": 2}
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 3)] == ["alice", "bob"]
    assert metric_store.generation("accounts") != empty


def test_a_metric_whose_rows_are_gone_keeps_its_table_empty(metric_store):
    """From rows to none: the table stays, with its columns and none of the old rows; also when the result's
    columns changed so that the table is rebuilt (a column gone, a column now text), where it was dropped."""
    metric_store.write(ACCOUNTS, ROWS, types=TYPES)
    assert metric_store.write_counted(ACCOUNTS, [], types=TYPES) == WriteCounts(0, 0, 2)
    assert metric_store.all(ACCOUNTS) == [] and metric_store.stored_metrics() == {"accounts": 0}
    assert metric_store.column_types("accounts") == TYPES
    assert set(_tables(metric_store)) == _table_names(metric_store)

    metric_store.write(ACCOUNTS, ROWS, types=TYPES)
    fewer = {"account": "str", "followers": "int", "bot": "str"}  # rate and note gone, bot now text: a rebuild
    assert metric_store.write_counted(ACCOUNTS, [], types=fewer) == WriteCounts(0, 0, 2)
    assert metric_store.all(ACCOUNTS) == [] and metric_store.top(ACCOUNTS, 3) == []
    assert metric_store.stored_metrics() == {"accounts": 0} and metric_store.column_types("accounts") == fewer
    tables = _tables(metric_store)
    assert set(tables) == _table_names(metric_store)
    if not metric_store.kind.startswith("hbase"):
        assert tables["metric_accounts"] == list(fewer)
    assert metric_store.write(ACCOUNTS, [{"account": "carol", "followers": 1, "bot": "maybe"}], types=fewer) == 1
    assert metric_store.all(ACCOUNTS) == [{"account": "carol", "followers": 1, "bot": "maybe"}]


def test_a_metric_listed_without_a_table_gets_one_at_its_next_typed_write_of_no_rows(metric_store):
    """A metric an earlier fediscope (or a write without types) listed with no columns and no table."""
    metric_store.write(ACCOUNTS, [])
    assert metric_store.stored_metrics() == {"accounts": 0} and _tables(metric_store) == {}
    metric_store.write(ACCOUNTS, [], types=TYPES)
    assert metric_store.column_types("accounts") == TYPES and set(_tables(metric_store)) == _table_names(metric_store)


def test_an_empty_result_missing_its_key_column_is_refused_as_one_with_rows_is(metric_store):
    from fediscope.errors import StoreError

    with pytest.raises(StoreError, match="key column"):
        metric_store.write(ACCOUNTS, [], types={"followers": "int"})
    with pytest.raises(StoreError, match="rank column 'followers'"):
        metric_store.write(ACCOUNTS, [], types={"account": "str"})
    assert metric_store.stored_metrics() == {} and _tables(metric_store) == {}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_the_empty_table_declares_the_types_a_table_with_rows_declares(kind, tmp_path, request):
    """What a BI tool reads: the empty table's declared column types are those the same result with rows gives,
    a date column included (text, as its values are stored)."""
    from fediscope.store.port import open_store

    url = f"sqlite:///{tmp_path / 'm.db'}" if kind == "sqlite" else request.getfixturevalue("mariadb_url")
    result = pa.table({"account": ["alice"], "followers": pa.array([120], pa.int32()), "rate": [0.5],
                       "bot": [False], "note": ["x"], "day": pa.array([19_000], pa.date32())})
    declared = {}
    for rows in (result, result.slice(0, 0)):
        table = normalize_table(rows)
        store = open_store(url)
        store.kind = kind
        try:
            store.write(ACCOUNTS, table.to_pylist(), types=arrow_types(table))
            declared[rows.num_rows] = _declared(store)
            store.drop("accounts")
        finally:
            store.close()
    assert declared[0] == declared[1]
    assert list(declared[0]) == ["account", "followers", "rate", "bot", "note", "day"]
