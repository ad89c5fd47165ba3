"""Fixtures of the HBase store tests (``test_hbase*.py``): a throwaway table prefix, an HBaseStore with it on the
Thrift double (``hbase_double``, tests/conftest.py), and a happybase connection that sees the same tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import happybase
import pytest

from fediscope.store.hbase import HBaseStore


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(hbase_double, prefix) -> HBaseStore:  # noqa: ANN001
    return HBaseStore(hbase_double.url, table_prefix=prefix)


@pytest.fixture
def connection(hbase_double, prefix) -> Iterator[happybase.Connection]:  # noqa: ANN001
    """A happybase connection whose table names are the store's without its prefix (``_top`` is ``<prefix>_top``)."""
    connection = happybase.Connection("127.0.0.1", hbase_double.port, table_prefix=prefix, table_prefix_separator=b"")
    yield connection
    connection.close()
