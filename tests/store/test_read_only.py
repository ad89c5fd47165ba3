"""Stores opened for reading (``open_store(url, read_only=True)``, what the results API and ``fediscope report``
use) create nothing: no file, no directory, no catalog; a missing catalog reads as an empty store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fediscope.analysis import metric
from fediscope.config import Settings
from fediscope.errors import StoreError
from fediscope.store.port import open_for_reading, open_store


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_sqlite_file_without_a_catalog_reads_as_empty_and_stays_so(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    store = open_store(f"sqlite:///{path}", read_only=True)
    try:
        assert store.stored_metrics() == {}
        assert store.generations() == {}
        assert store.generation("languages") is None
        assert store.top(metric("languages"), 5) == []
        with pytest.raises(StoreError, match="read"):
            store.write(metric("languages"), [{"language": "en", "statuses": 1, "share": 1.0}])
        with pytest.raises(StoreError, match="read"):
            store.delete_where(metric("languages"), "language", "en")
        with pytest.raises(StoreError, match="cannot drop metric languages: .* opened for reading only"):
            store.drop("languages")
    finally:
        store.close()
    assert _tables(path) == {"notes"}


def test_a_store_opened_for_reading_sees_what_a_writer_stores_later(tmp_path: Path,
                                                                    sample_metric_rows: dict[str, list[Any]]) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    sqlite3.connect(tmp_path / "metrics.db").close()  # an empty file, no catalog yet
    reader = open_store(url, read_only=True)
    try:
        assert reader.stored_metrics() == {}
        writer = open_store(url)
        writer.write(metric("languages"), sample_metric_rows["languages"])
        writer.close()
        assert reader.stored_metrics() == {"languages": len(sample_metric_rows["languages"])}
        assert len(reader.top(metric("languages"), 3)) == 3
    finally:
        reader.close()


def test_a_missing_sqlite_file_is_refused_without_creating_anything(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "x.db"
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{path}", read_only=True)
    assert not path.parent.exists()
    with pytest.raises(StoreError, match="fediscope process"):
        open_for_reading(Settings(store=f"sqlite:///{path}"))
    assert not path.parent.exists()


def test_a_corrupt_sqlite_file_is_an_open_error_not_a_create_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"not a database" * 200)
    with pytest.raises(StoreError, match="could not open the store: file is not a database") as info:
        open_store(f"sqlite:///{path}", read_only=True)
    assert "create" not in str(info.value)


def test_hbase_opened_for_reading_creates_no_catalog_table(hbase_double: Any,
                                                           sample_metric_rows: dict[str, list[Any]]) -> None:
    import happybase

    reader = open_store(hbase_double.url, table_prefix="ro1", read_only=True)
    host, port = hbase_double.url.removeprefix("hbase://").split(":")
    connection = happybase.Connection(host, int(port))
    try:
        assert reader.stored_metrics() == {}
        assert reader.generations() == {}
        assert not [t for t in connection.tables() if t.startswith(b"ro1")]
        writer = open_store(hbase_double.url, table_prefix="ro1")
        writer.write(metric("languages"), sample_metric_rows["languages"])
        writer.close()
        assert reader.stored_metrics() == {"languages": len(sample_metric_rows["languages"])}
    finally:
        connection.close()
        reader.close()
