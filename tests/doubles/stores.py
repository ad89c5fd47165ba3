"""The ``metric_store`` fixture: one fresh, empty store of each kind, for tests that must hold on all of them.

Kinds: ``sqlite`` (a file under tmp_path), ``mariadb`` (a new database on the session's MariaDB server; marker
``mariadb``), ``hbase`` (the Thrift double, a table prefix of its own) and ``hbase-real`` (a real HBase Thrift
server at ``FEDISCOPE_TEST_HBASE=host:port``, only when that is set; its tables are deleted afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fediscope.store.port import MetricStore, open_store

STORE_KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
    pytest.param("hbase", id="hbase"),
]
if os.environ.get("FEDISCOPE_TEST_HBASE"):
    STORE_KINDS.append(pytest.param("hbase-real", id="hbase-real"))


def _drop_hbase_tables(host: str, port: int, prefix: str) -> None:
    import happybase

    connection = happybase.Connection(host, port)
    try:
        for name in connection.tables():
            if name.decode().startswith(prefix):
                connection.delete_table(name, disable=True)
    finally:
        connection.close()


@pytest.fixture(params=STORE_KINDS)
def metric_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetricStore]:
    kind = request.param
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    elif kind == "mariadb":
        store = open_store(request.getfixturevalue("mariadb_url"))
    elif kind == "hbase":
        store = open_store(request.getfixturevalue("hbase_double").url, table_prefix=prefix)
    else:
        store = open_store(f"hbase://{os.environ['FEDISCOPE_TEST_HBASE']}", table_prefix=prefix)
    store.kind = kind  # type: ignore[attr-defined]
    try:
        yield store
    finally:
        store.close()
        if kind == "hbase-real":
            host, _, port = os.environ["FEDISCOPE_TEST_HBASE"].partition(":")
            _drop_hbase_tables(host, int(port or 9090), prefix)
