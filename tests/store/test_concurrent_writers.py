"""Two writers opening one new store at once (two lakes loading one store, a ``gdpr erase`` beside a first
``fediscope process``): each looks for the catalog and creates it when it finds none, so the second one may find
none and then meet the catalog the first created in between. On every store that second open must go on, not fail
with "table … already exists" (it did on all three: SQLite, MariaDB and HBase).

The race is made here without threads: the second writer's look is made to miss the catalog the first one already
created (the moment between its look and its create, when the other writer's create lands)."""

from __future__ import annotations

import happybase
import pytest
from metric_header import metric

from fediscope.store.hbase_schema import catalog_table
from fediscope.store.port import open_store
from fediscope.store.sql import CATALOG

ACCOUNTS = metric("accounts", "account", rank="followers DESC")
ROWS = [{"account": "alice", "followers": 3}, {"account": "bob", "followers": 5}]


def _catalog_looked_for_too_early(store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next look for the catalog say it is not there, though ``store`` created it."""
    if store.kind.startswith("hbase"):
        listed = happybase.Connection.tables
        catalog = catalog_table(store.prefix).encode()

        def tables(self):  # noqa: ANN001, ANN202
            return [name for name in listed(self) if name != catalog]

        monkeypatch.setattr(happybase.Connection, "tables", tables)
        return
    dialect = type(store._engine.dialect)
    has_table = dialect.has_table

    def catalog_missing(self, connection, table_name, *args, **kwargs):  # noqa: ANN001, ANN202
        return False if table_name == CATALOG else has_table(self, connection, table_name, *args, **kwargs)

    monkeypatch.setattr(dialect, "has_table", catalog_missing)


def test_a_writer_whose_catalog_another_created_meanwhile_opens_and_keeps_its_rows(metric_store, monkeypatch):
    metric_store.write(ACCOUNTS, ROWS)
    _catalog_looked_for_too_early(metric_store, monkeypatch)
    options = {"table_prefix": metric_store.prefix} if metric_store.kind.startswith("hbase") else {}
    second = open_store(metric_store.url, **options)
    monkeypatch.undo()
    try:
        assert second.stored_metrics() == {"accounts": 2}
        assert [r["account"] for r in second.top(ACCOUNTS, 5)] == ["bob", "alice"]
        second.write(ACCOUNTS, [*ROWS, {"account": "carol", "followers": 4}])
        assert [r["account"] for r in metric_store.top(ACCOUNTS, 5)] == ["bob", "carol", "alice"]
    finally:
        second.close()
