"""The results API on HBase after its Thrift server restarted on the same address: the first request answers 200.

Was: 503 ``store_unavailable`` (``TSocket read 0 bytes; the server closed the connection``) for the first request on
each pooled connection the old server had closed, with the server back. The API is served over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_testing import LiveApi, make_settings
from doubles.hbase_scans import FOLLOWERS, accounts, keys_by_rank
from doubles.hbase_thrift_server import HBaseThriftDouble

from fediscope.analysis import metric
from fediscope.store.hbase import HBaseStore


@pytest.fixture
def servers() -> Iterator[list[HBaseThriftDouble]]:
    """The test's Thrift double, then its restarts: each stopped when the test ends."""
    servers = [HBaseThriftDouble().start()]
    yield servers
    for server in servers:
        server.stop(close_connections=True)


def test_the_first_request_after_a_thrift_restart_on_the_same_port_is_answered(
        servers: list[HBaseThriftDouble], live_api: Callable[..., LiveApi],
        sample_metric_rows: dict[str, list[Any]]) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    rows = accounts(sample_metric_rows[FOLLOWERS])
    HBaseStore(servers[0].url, table_prefix=prefix).write(metric(FOLLOWERS), rows)  # fediscope process
    api = live_api(make_settings(store=servers[0].url, hbase_table_prefix=prefix))

    def keys() -> list[str]:
        response = api.get(f"/v1/metrics/{FOLLOWERS}")
        assert response.status_code == 200, response.text
        return [row["account_key"] for row in response.json()["rows"]]

    assert keys() == keys_by_rank(rows)
    servers.append(servers[0].restarted())
    assert servers[1].port == servers[0].port
    assert keys() == keys_by_rank(rows)
