"""Shared fixtures. Each area keeps its own fixtures in tests/<area>/conftest.py; only cross-area ones live here."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    return DATA / "mastodon" / "recordings"


# Mastodon double replaying the real recordings (paging, rate limits, faults): the `mastodon_server` fixture.
# Owner: collector helper.
from doubles.mastodon_server import MastodonDouble, mastodon_server  # noqa: E402, F401, I001

# WebHDFS double (namenode + datanode on 127.0.0.1): the `webhdfs_server` fixture. Owner: lake/infra helper.
from doubles.webhdfs_server import webhdfs_server  # noqa: E402, F401

# Stores: HBase Thrift double, a real MariaDB server, and `metric_store` (one fresh store per kind). Owner: stores.
from doubles.hbase_thrift_server import hbase_double  # noqa: E402, F401
from doubles.mariadb import mariadb_instance, mariadb_url  # noqa: E402, F401
from doubles.stores import metric_store  # noqa: E402, F401
from doubles.sample_metrics import sample_metric_rows  # noqa: E402, F401
