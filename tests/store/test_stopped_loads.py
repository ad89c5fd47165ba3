"""A load (a metric's first write, or a rebuild) stopped half-way. MariaDB loads a table as ``_new_<metric>`` and
swaps it in with ``RENAME TABLE`` (the old one goes by ``_old_<metric>`` until dropped); its DDL commits at once, so
a run killed in between leaves that table, holding rows no catalog entry describes. The store lists it among its
unlisted tables (``fediscope doctor``'s store check, the erasure's warning), ``drop`` removes it, and the metric's
next write of any kind drops it. SQLite loads in one transaction: a stopped load leaves nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from metric_header import metric
from sqlalchemy import inspect, text

import fediscope.store.sql as sql_module
import fediscope.store.sqlite as sqlite_module
from fediscope.errors import StoreError
from fediscope.store.port import open_store

ACCOUNTS = metric("accounts", "account", rank="followers DESC")
ROWS = [{"account": "alice", "followers": 120}, {"account": "bob", "followers": 30}]
KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb)]


@pytest.fixture(params=KINDS)
def sql_store(request: pytest.FixtureRequest, tmp_path) -> Iterator:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("mariadb_url")
    store = open_store(url)
    store.kind = request.param
    yield store
    store.close()


def _tables(store) -> set[str]:
    return set(inspect(store._engine).get_table_names()) - {"fediscope_catalog"}


def _stop_before_the_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next load fail once its rows are in, before its table is swapped in (a run killed there)."""
    def killed(*_: object) -> None:
        raise StoreError("killed (injected)")

    monkeypatch.setattr(sql_module, "create_indexes", killed)
    monkeypatch.setattr(sqlite_module, "create_indexes", killed)


def test_a_first_load_stopped_half_way_is_listed_and_dropped(sql_store, monkeypatch):
    _stop_before_the_swap(monkeypatch)
    with pytest.raises(StoreError, match="injected"):
        sql_store.write(ACCOUNTS, ROWS)
    monkeypatch.undo()
    assert sql_store.stored_metrics() == {}
    if sql_store.kind == "sqlite":  # rolled back: nothing left
        assert _tables(sql_store) == set() and sql_store.unlisted_metrics() == {}
        return
    assert _tables(sql_store) == {"_new_accounts"}
    assert sql_store.unlisted_metrics() == {"accounts": ["_new_accounts"]}
    assert sql_store.drop("accounts") is False  # not listed, but its leftover goes
    assert _tables(sql_store) == set() and sql_store.unlisted_metrics() == {}
    with pytest.raises(StoreError, match="injected"):  # failed in this store: its next write drops it
        _stop_before_the_swap(monkeypatch)
        sql_store.write(ACCOUNTS, ROWS)
    monkeypatch.undo()
    assert _tables(sql_store) == {"_new_accounts"}
    assert sql_store.write(ACCOUNTS, [], types={"account": "str", "followers": "int"}) == 0
    assert _tables(sql_store) == {"metric_accounts"} and sql_store.unlisted_metrics() == {}


def test_a_rebuild_stopped_half_way_is_listed_beside_the_listed_metric_and_its_next_write_drops_it(
        sql_store, monkeypatch):
    sql_store.write(ACCOUNTS, ROWS)
    per_followers = metric("accounts", "followers")  # another key: a rebuild, loaded beside the table
    _stop_before_the_swap(monkeypatch)
    with pytest.raises(StoreError, match="injected"):
        sql_store.write(per_followers, ROWS)
    monkeypatch.undo()
    assert sql_store.all(ACCOUNTS) == ROWS  # readers still see the old table, whole
    if sql_store.kind == "sqlite":
        assert _tables(sql_store) == {"metric_accounts"} and sql_store.unlisted_metrics() == {}
        return
    assert _tables(sql_store) == {"metric_accounts", "_new_accounts"}
    assert sql_store.unlisted_metrics() == {"accounts": ["_new_accounts"]}
    # the next run's write is no load (the key is back as stored): it drops the leftover all the same
    with open_store(sql_store.url) as next_run:
        assert next_run.write_counted(ACCOUNTS, ROWS).changed == 0
        assert _tables(next_run) == {"metric_accounts"} and next_run.unlisted_metrics() == {}
        assert next_run.all(ACCOUNTS) == ROWS


def test_the_table_a_load_stopped_after_its_swap_left_is_listed_and_dropped_with_the_metric(sql_store):
    """``_old_<metric>``: the replaced table, left when a load stopped between its RENAME and its DROP."""
    sql_store.write(ACCOUNTS, ROWS)
    with sql_store._engine.begin() as conn:  # as a stopped MariaDB load leaves it (made by hand on SQLite too)
        conn.execute(text("CREATE TABLE _old_accounts (account VARCHAR(10) PRIMARY KEY, followers BIGINT)"))
        conn.execute(text("CREATE TABLE _old_not_a_metric_Name (x BIGINT)"))  # not a metric's name: not listed
    assert sql_store.unlisted_metrics() == {"accounts": ["_old_accounts"]}
    assert sql_store.drop("accounts") is True
    assert _tables(sql_store) == {"_old_not_a_metric_Name"} and sql_store.unlisted_metrics() == {}


@pytest.mark.mariadb
def test_doctor_names_a_stopped_load_of_a_metric_without_its_sql_file(mariadb_url, monkeypatch, tmp_path):
    from fediscope.config import load_settings
    from fediscope.doctor import WARN, check_store

    store = open_store(mariadb_url)
    _stop_before_the_swap(monkeypatch)
    with pytest.raises(StoreError, match="injected"):
        store.write(metric("half_written", "tag"), [{"tag": "python", "uses": 2}])
    monkeypatch.undo()
    store.close()
    monkeypatch.chdir(tmp_path)  # no fediscope.toml here
    check = check_store(load_settings(env={}, store=mariadb_url))
    assert check.status == WARN, check
    assert "_new_half_written (metric half_written)" in check.detail
    assert check.fix == "remove them: fediscope store drop half_written"
