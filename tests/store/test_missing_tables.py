"""A metric's table dropped by hand while the catalog still lists it: :meth:`missing_tables` names it, and the
metric's next write is a first write (every row, the tables made again), on every store. Was: the next write
compared the result with the missing table (an error), or on HBase left a dropped rank table missing for good."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path
from typing import Any

import happybase
import pytest
from cli_run import clean_env, run
from metric_header import metric
from report_text import unwrapped

from fediscope.errors import MissingTableError, StoreError
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
    with pytest.raises(MissingTableError, match=rf"metric accounts: its table {prefix}_accounts-rank is missing"):
        store.top(ACCOUNTS, 2)
    assert store.all(ACCOUNTS) == sorted(ROWS, key=lambda r: r["account"])  # its data table is read as before
    assert store.write_counted(ACCOUNTS, ROWS) == WriteCounts(rows=3, changed=3, stale=0)
    assert store.missing_tables() == {}
    assert [r["account"] for r in store.top(ACCOUNTS, 3)] == ["alice", "carol", "bob"]
    assert store.all(ACCOUNTS) == sorted(ROWS, key=lambda r: r["account"])


def assert_names_the_fix(error: MissingTableError, name: str, table: str) -> None:
    message = str(error)
    assert f"metric {name}: its table {table} is missing (dropped by hand?)" in message, message
    assert f"run `fediscope process` to write it again (`fediscope store drop {name}`" in message, message
    assert "`fediscope doctor`" in message and "\n" not in message, message
    assert error.metric == name and error.tables == [table]


def test_a_read_of_a_dropped_table_names_the_metric_and_the_fix(metric_store: Any) -> None:
    """Was the database's own words alone: ``no such table: metric_accounts`` (SQLite), ``Table '….metric_accounts'
    doesn't exist`` (MariaDB), ``TableNotFoundException: <prefix>_accounts`` (HBase)."""
    filled(metric_store)
    for name in ("accounts", "by_day"):
        drop_by_hand(metric_store, data_table(metric_store, name))
    reads = {"accounts": [lambda: metric_store.top(ACCOUNTS, 2), lambda: metric_store.all(ACCOUNTS),
                          lambda: metric_store.get(ACCOUNTS, ["alice"]),
                          lambda: metric_store.delete_where(ACCOUNTS, "account", "alice")],
             "by_day": [lambda: metric_store.scan_prefix(BY_DAY, "2025-01-01"), lambda: metric_store.all(BY_DAY)]}
    for name, calls in reads.items():
        for call in calls:
            with pytest.raises(MissingTableError) as caught:
                call()
            assert_names_the_fix(caught.value, name, data_table(metric_store, name))
    copy = pickle.loads(pickle.dumps(caught.value))  # as a worker process hands it back
    assert (str(copy), copy.metric) == (str(caught.value), "by_day")
    named = caught.value.rerun_as("`fediscope process` (fediscope.python_api.process)")  # its fix names a caller's
    assert str(pickle.loads(pickle.dumps(named))) == str(named) != str(caught.value)


def test_a_read_that_fails_otherwise_is_not_called_a_missing_table(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the database's own "no such table" is, the store's tables confirming it: not another failure of a
    read (a MariaDB table the user may not read, which SHOW TABLES leaves out too: tests/api, 503), even of a
    metric whose table is gone."""
    from sqlalchemy.exc import OperationalError

    from fediscope.store.port import open_store

    store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.kind = "sqlite"  # type: ignore[attr-defined]
    filled(store)
    drop_by_hand(store, "metric_accounts")

    def locked(*_: Any) -> None:
        with store._errors("read metric_accounts"):  # type: ignore[attr-defined]
            raise OperationalError("SELECT …", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(store, "_top", locked)
    try:
        with pytest.raises(StoreError, match="could not read metric_accounts: database is locked") as caught:
            store.top(ACCOUNTS, 2)
        assert not isinstance(caught.value, MissingTableError)
    finally:
        store.close()


@pytest.mark.parametrize("command", [["report", "--no-charts"], ["store", "export", "accounts"]])
def test_report_and_store_export_name_it_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    from fediscope.store.port import open_store

    path = tmp_path / "metrics.db"
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=f"sqlite:///{path}")
    store = open_store(f"sqlite:///{path}")
    store.write(ACCOUNTS, ROWS)
    store.close()
    with sqlite3.connect(path) as connection:
        connection.execute('DROP TABLE "metric_accounts"')
    connection.close()

    code, out, err = run(capsys, *command)
    fix = ("its table metric_accounts is missing (dropped by hand?): run `fediscope process` to write it again "
           "(`fediscope store drop accounts` if no SQL file defines it any more)")
    if command[0] == "report":  # the metric is named in its place, the rest printed (tests/test_report.py)
        assert code == 1 and f"Could not read accounts: metric accounts: {fix}" in unwrapped(out), out
        assert err.endswith("fediscope: error: 1 other metric could not be read (see above): accounts\n"), err
        assert "Traceback" not in err
        return
    assert (code, out) == (1, "")
    assert err.startswith("fediscope: error: store sqlite:///") and err.count("\n") == 1, err
    assert f"metric accounts: {fix}" in err
