"""A Thrift server restarted on the same address while a process (the results API, a long ``fediscope`` run) keeps
its process-wide connection pool: the pooled connections the old server closed are opened again before a call is
sent on them, so the first calls after the restart succeed, reads and writes, on every connection of the pool.

Was: each pooled connection failed its next call (``TSocket read 0 bytes; the server closed the connection``) and was
only then replaced, so the results API answered up to ``pool_size`` requests 503 with the server back."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from doubles.hbase_thrift_server import HBaseThriftDouble

from fediscope.engine.metrics import parse_metric
from fediscope.store.hbase import HBaseStore

TOP = parse_metric("top", "-- question: Who leads?\n-- key: account\n-- rank: followers DESC\nSELECT 1")
POOL_SIZE = 3


class Servers:
    """The Thrift double of a test and its restarts (``current``): each stopped when the test ends."""

    def __init__(self) -> None:
        self.started = [HBaseThriftDouble().start()]

    @property
    def current(self) -> HBaseThriftDouble:
        return self.started[-1]

    def restart(self) -> HBaseThriftDouble:
        old = self.current
        self.started.append(old.restarted())
        assert self.current.port == old.port
        return self.current


@pytest.fixture
def servers() -> Iterator[Servers]:
    servers = Servers()
    yield servers
    for server in servers.started:
        server.stop(close_connections=True)


@pytest.fixture
def store(servers: Servers) -> HBaseStore:
    url = f"{servers.current.url}?pool_size={POOL_SIZE}&timeout=5000"
    store = HBaseStore(url, table_prefix=f"t{uuid.uuid4().hex[:10]}")
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    return store


def on_every_connection(store: HBaseStore, call: Callable[[], Any]) -> list[Any]:
    """``call()`` in as many threads as the pool has connections, each holding its own connection meanwhile (the
    store's calls in a thread go on the connection the thread holds): what a busy results API does."""
    barrier = threading.Barrier(POOL_SIZE, timeout=60)
    results: list[Any] = []

    def hold() -> None:
        try:
            with store._connection("hold a connection"):
                barrier.wait()  # every thread holds a connection of its own: the pool's every connection is out
                results.append(call())
        except BaseException as exc:  # noqa: BLE001  # the test's assertion shows it
            results.append(exc)

    threads = [threading.Thread(target=hold) for _ in range(POOL_SIZE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_the_first_read_after_a_restart_on_the_same_port_succeeds(store, servers):
    assert store.get(TOP, ["a"]) == {"account": "a", "followers": 1}
    servers.restart()
    assert store.get(TOP, ["a"]) == {"account": "a", "followers": 1}
    assert [row["account"] for row in store.top(TOP, 5)] == ["b", "a"]
    assert store.stored_metrics() == {"top": 2}


def test_every_pooled_connection_works_after_a_restart(store, servers):
    def read() -> Any:
        return store.get(TOP, ["b"])

    assert on_every_connection(store, read) == [{"account": "b", "followers": 2}] * POOL_SIZE
    servers.restart()
    assert on_every_connection(store, read) == [{"account": "b", "followers": 2}] * POOL_SIZE


def test_the_first_write_after_a_restart_succeeds_once(store, servers):
    """The write is sent on a new connection only: the dropped one never carried any of it. Its lease is taken and
    released (a second write after it is not kept waiting)."""
    store.get(TOP, ["a"])
    server = servers.restart()
    before = server.calls["checkAndPut"]
    store.write(TOP, [{"account": "a", "followers": 5}, {"account": "b", "followers": 2}])
    assert server.calls["checkAndPut"] - before == 2  # the lease taken, then released: each once
    assert [(r["account"], r["followers"]) for r in store.top(TOP, 5)] == [("a", 5), ("b", 2)]
    store.write(TOP, [{"account": "c", "followers": 9}], replace=False)
    assert [r["account"] for r in store.top(TOP, 5)] == ["c", "a", "b"]

