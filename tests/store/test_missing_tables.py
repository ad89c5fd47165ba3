"""A metric's table dropped by hand while the catalog still lists it: :meth:`missing_tables` names it, and the
metric's next write is a first write (every row, the tables made again), on every store. Was: the next write
compared the result with the missing table (an error), or on HBase left a dropped rank table missing for good."""

from __future__ import annotations

import sqlite3
from typing import Any

import happybase
import pytest
from metric_header import metric

from fediscope.errors import StoreError
from fediscope.store.port import MetricStore, WriteCounts, mysql_url

ACCOUNTS = metric("accounts", "account", rank="followers DESC")
BY_DAY = metric("by_day", "instance, day", prefix="day")
NOTHING = metric("nothing", "account")  # computed with no rows, no column types: listed, no table by design

ROWS = [{"account": "alice", "followers": 120, "note": "a"}, {"account": "bob", "followers": 30, "note": None},
        {"account": "carol", "followers": 75, "note": "c"}]
DAYS = [{"instance": "a.example", "day": "2025-01-01", "toots": 3},
        {"instance": "b.example", "day": "2025-01-02", "toots": 5}]


def data_table(store: Any, name: str) -> str:
    return f"{store.prefix}_{name}" if store.kind.startswith("hbase") else f"metric_{name}"


def drop_by_hand(store: Any, table: str) -> None:
    """``DROP TABLE`` (``disable``/``drop`` in the hbase shell) on a connection of its own, not the store's."""
    if store.kind == "sqlite":
        with sqlite3.connect(store.url.removeprefix("sqlite:///")) as connection:
            connection.execute(f'DROP TABLE "{table}"')
    elif store.kind == "mariadb":
        from sqlalchemy import create_engine, text

        engine = create_engine(mysql_url(store.url))
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE `{table}`"))
        engine.dispose()
    else:
        host, _, port = store._address.partition(":")
        connection = happybase.Connection(host, int(port))
        connection.delete_table(table, disable=True)
        connection.close()


def filled(store: MetricStore) -> None:
    store.write(ACCOUNTS, ROWS)
    store.write(BY_DAY, DAYS)
    store.write(NOTHING, [])
    assert store.missing_tables() == {}


def test_a_dropped_table_is_named_and_the_next_write_makes_it_again(metric_store: Any) -> None:
    filled(metric_store)
    table = data_table(metric_store, "accounts")
    drop_by_hand(metric_store, table)

    # named; the metric listed with no columns has no table by design and is not
    assert metric_store.missing_tables() == {"accounts": [table]}
    assert metric_store.stored_metrics() == {"accounts": 3, "by_day": 2, "nothing": 0}
    with pytest.raises(StoreError):  # what report and store export stop at
        metric_store.top(ACCOUNTS, 2)
    # the incremental path cannot apply a difference to a table that is not there
    assert metric_store.write_changes(ACCOUNTS, [ROWS[0]], [], 3) is None

    # a first write: every row, the table made again (not compared with the missing table)
    assert metric_store.write_counted(ACCOUNTS, ROWS) == WriteCounts(rows=3, changed=3, stale=0)
    assert metric_store.missing_tables() == {}
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 3)] == ["alice", "carol", "bob"]
    assert metric_store.all(ACCOUNTS) == sorted(ROWS, key=lambda r: r["account"])
    assert metric_store.all(BY_DAY) == DAYS  # the other metrics untouched


def test_a_dropped_table_of_a_metric_written_with_no_rows_but_its_columns_is_named(metric_store: Any) -> None:
    """With ``types`` a metric of no rows has its empty table (``fediscope process``): that one can go missing."""
    metric_store.write(NOTHING, [], types={"account": "str", "toots": "int"})
    table = data_table(metric_store, "nothing")
    drop_by_hand(metric_store, table)
    assert metric_store.missing_tables() == {"nothing": [table]}
    metric_store.write(NOTHING, [], types={"account": "str", "toots": "int"})
    assert metric_store.missing_tables() == {} and metric_store.all(NOTHING) == []


def test_hbase_a_dropped_rank_table_is_named_and_the_next_write_makes_it_again(store: Any, prefix: str,
                                                                              connection: happybase.Connection
                                                                              ) -> None:
    """The data table is left with its rows: the write compared the result with them, found nothing changed,
    and the rank table stayed missing (``top`` failed for good)."""
    store.write(ACCOUNTS, ROWS)
    connection.delete_table("_accounts-rank", disable=True)

    assert store.missing_tables() == {"accounts": [f"{prefix}_accounts-rank"]}
    with pytest.raises(StoreError, match="accounts-rank"):
        store.top(ACCOUNTS, 2)
    assert store.write_counted(ACCOUNTS, ROWS) == WriteCounts(rows=3, changed=3, stale=0)
    assert store.missing_tables() == {}
    assert [r["account"] for r in store.top(ACCOUNTS, 3)] == ["alice", "carol", "bob"]
    assert store.all(ACCOUNTS) == sorted(ROWS, key=lambda r: r["account"])
