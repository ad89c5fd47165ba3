"""HBase: tables made before a metric's first write (``hbase_schema --create``, the shell script, by hand, with
settings such as compression) are kept by that write and by a rebuild, emptied of leftover rows, never re-created."""

from __future__ import annotations

import pytest
from metric_header import metric

from fediscope.engine.metrics import load_metrics
from fediscope.errors import StoreError
from fediscope.store import hbase_schema

LANGUAGES = load_metrics()["languages"]  # key: language; rank: toots DESC
TOP = metric("top", "account", rank="followers DESC")


GZ = {"max_versions": 1, "compression": "GZ"}


def create_by_hand(connection, ranked: bool = True) -> None:  # noqa: ANN001
    """The metric TOP's tables as an operator makes them up front, compressed."""
    connection.create_table("_top", {"m": GZ, "i": GZ})
    if ranked:
        connection.create_table("_top-rank", {"r": GZ})


def compression(connection, table: str) -> dict[bytes, bytes]:  # noqa: ANN001
    return {family: options["compression"] for family, options in connection.table(table).families().items()}


def test_the_first_write_keeps_tables_made_beforehand(store, connection, hbase_double):
    create_by_hand(connection)
    deletes = hbase_double.calls["deleteTable"]
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    assert hbase_double.calls["deleteTable"] == deletes
    assert compression(connection, "_top") == {b"m": b"GZ", b"i": b"GZ"}
    assert compression(connection, "_top-rank") == {b"r": b"GZ"}
    assert store.top(TOP, 5) == [{"account": "b", "followers": 2}, {"account": "a", "followers": 1}]


def test_the_schema_command_tables_are_kept_by_the_first_write(store, hbase_double, prefix):
    assert hbase_schema.main(["--create", "--url", hbase_double.url, "--prefix", prefix]) == 0
    tables = set(hbase_double.handler.tables)
    store.write(LANGUAGES, [{"language": "de", "toots": 3, "share": 1.0}])
    assert set(hbase_double.handler.tables) == tables
    assert store.top(LANGUAGES, 5) == [{"language": "de", "toots": 3, "share": 1.0}]


def test_the_first_write_empties_kept_tables_of_what_an_interrupted_first_write_left(store, connection, hbase_double,
                                                                                     prefix):
    create_by_hand(connection)
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "gone", "followers": 9}])
    connection.table("-catalog").delete(b"top")  # as if it stopped before the catalog update
    assert store.stored_metrics() == {}
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    assert compression(connection, "_top") == {b"m": b"GZ", b"i": b"GZ"}
    assert store.all(TOP) == [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}]
    assert [r["account"] for r in store.top(TOP, 5)] == ["b", "a"]
    assert len(hbase_double.table(f"{prefix}_top").rows) == len(hbase_double.table(f"{prefix}_top-rank").rows) == 2


def test_a_rebuild_keeps_the_tables_and_their_settings(store, connection, hbase_double, prefix):
    create_by_hand(connection)
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    by_day = metric("top", "account, day", rank="followers DESC")  # a changed key: the tables are rebuilt
    store.write(by_day, [{"account": "a", "day": "d1", "followers": 5}, {"account": "c", "day": "d1", "followers": 7}])
    assert compression(connection, "_top") == {b"m": b"GZ", b"i": b"GZ"}
    assert compression(connection, "_top-rank") == {b"r": b"GZ"}
    assert store.all(by_day) == [{"account": "a", "day": "d1", "followers": 5},
                                 {"account": "c", "day": "d1", "followers": 7}]
    assert [r["account"] for r in store.top(by_day, 5)] == ["c", "a"]
    assert len(hbase_double.table(f"{prefix}_top").rows) == len(hbase_double.table(f"{prefix}_top-rank").rows) == 2


def test_a_table_made_without_the_layout_families_is_a_clear_error_and_stays(store, connection):
    connection.create_table("_top", {"m": GZ})
    connection.table("_top").put(b"x", {b"m:a": b"1"})
    with pytest.raises(StoreError, match=r"HBase table t\w+_top exists without the column family i fediscope "
                                         r"writes \(m, i; infra/hbase/README\.md\)"):
        store.write(TOP, [{"account": "a", "followers": 1}])
    assert connection.table("_top").row(b"x") == {b"m:a": b"1"}
