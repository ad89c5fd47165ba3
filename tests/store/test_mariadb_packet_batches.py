"""A MariaDB store sends the rows and stale keys of a write in statements its server's ``max_allowed_packet`` takes,
however low it is set (:mod:`fediscope.store.packets`).

PyMySQL folds an ``executemany``'s rows into ``INSERT``\\ s of up to 1,024,000 bytes, and the store deleted stale keys
a thousand at a time: a server whose ``max_allowed_packet`` is below that refused such a statement (1153, seen as 2006
``MySQL server has gone away`` or 2013 ``Lost connection``) though every row fits, the store's own check of each row
(tests/store/test_mariadb_packet_size.py) passing it. Here the server's value is lowered to 64 KiB for the test (set
back afterwards), and rows of some 200 bytes make a thousand of them some 200 KB.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mariadb_packet import store_with_packet
from metric_header import metric
from sqlalchemy import event
from sqlalchemy.engine import make_url

from fediscope.store.port import MetricStore

pytestmark = pytest.mark.mariadb

PACKET = 64 * 1024
W = metric("w", "k")


@pytest.fixture
def store(mariadb_instance, mariadb_url: str) -> Iterator[MetricStore]:  # noqa: ANN001
    """A store of a server whose max_allowed_packet is 64 KiB (set back afterwards)."""
    with store_with_packet(mariadb_instance, mariadb_url, PACKET) as opened:
        yield opened


def test_the_rows_of_a_write_are_folded_into_inserts_the_server_takes(store: MetricStore) -> None:
    rows = [{"k": i, "v": f"{i:04d}" + "v" * 200} for i in range(2000)]  # some 420 KB as one folded INSERT
    store.write(W, rows)  # a first write: the table loaded
    assert store.all(W) == rows
    more = [{"k": i, "v": f"{i:04d}" + "w" * 200} for i in range(1000, 3000)]
    store.write(W, more, replace=False)  # rows upserted into the table kept
    assert store.all(W) == rows[:1000] + more


def test_the_stale_keys_of_a_write_are_deleted_in_statements_the_server_takes(store: MetricStore) -> None:
    rows = [{"k": f"{i:04d}" + "k" * 200, "v": i} for i in range(1500)]  # 1,000 keys: some 210 KB in one DELETE
    for start in range(0, len(rows), 200):  # INSERTs of some 45 KB, whatever PyMySQL folds
        store.write(W, rows[start:start + 200], replace=False)
    assert store.stored_metrics() == {"w": 1500}
    store.write(W, rows[:1])  # the other 1,499 rows are stale
    assert store.all(W) == rows[:1]
    store.write(W, rows[:700], replace=False)
    assert store.write_changes(W, [], [(row["k"],) for row in rows[1:700]], 1) is not None
    assert store.all(W) == rows[:1]


def _lose_connections(mariadb_instance: Any, url: str) -> None:
    """Close the server side of every connection to ``url``'s database (the store's pooled ones, its lock's), as a
    restart of the server or its idle timeout does: the store connects again (its pool's pre-ping)."""
    with mariadb_instance._root() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM information_schema.processlist WHERE db = %s", (make_url(url).database,))
        for (session,) in cursor.fetchall():
            cursor.execute(f"KILL CONNECTION {int(session)}")


def test_connections_made_after_the_server_s_max_allowed_packet_was_lowered_get_statements_it_takes(
        mariadb_instance, mariadb_url: str) -> None:  # noqa: ANN001
    """A session's ``max_allowed_packet`` is the global one when it connected: after ``SET GLOBAL`` lowered it, the
    store's new connections take less than its first ones did. Was: the store read the value once and folded the
    rows of a new connection to the old size, which the server refused (2006)."""
    with store_with_packet(mariadb_instance, mariadb_url, 16 << 20) as store:
        rows = [{"k": i, "v": f"{i:04d}" + "v" * 200} for i in range(2000)]  # some 420 KB as one folded INSERT
        store.write(W, rows)
        with mariadb_instance._root() as conn, conn.cursor() as cursor:
            cursor.execute(f"SET GLOBAL max_allowed_packet = {PACKET}")  # set back by store_with_packet
        _lose_connections(mariadb_instance, mariadb_url)
        more = [{**row, "v": row["v"].replace("v", "w")} for row in rows]
        store.write(W, more)
        assert store.all(W) == more


def test_the_rows_of_a_statement_are_folded_without_taking_another_connection(store: MetricStore) -> None:
    """The size the rows of an ``executemany`` are folded to is the connection's own: reading it while the statement
    executes took a second pooled connection then (a store that had not read it yet: a pool of one would wait for
    good)."""
    engine = store._engine  # type: ignore[attr-defined]
    checkouts: list[object] = []

    def count(*args: object) -> None:
        checkouts.append(args)

    with engine.begin() as conn:
        event.listen(engine, "checkout", count)
        try:
            conn.exec_driver_sql("CREATE TABLE t (k BIGINT PRIMARY KEY, v LONGTEXT)")
            conn.exec_driver_sql("INSERT INTO t VALUES (%s, %s)", [(i, "v" * 200) for i in range(2000)])
        finally:
            event.remove(engine, "checkout", count)
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar_one() == 2000
    assert checkouts == []


def test_the_checks_before_a_change_take_no_connection_of_their_own(store: MetricStore) -> None:
    """Every connection a write or a deletion checks out sends a statement of it: the checks of its rows and catalog
    entry against the server's ``max_allowed_packet`` read the value of a connection the change holds (its lock's,
    the catalog write's). Was: a pooled connection checked out for each check alone (a pre-ping each), three a write."""
    engine = store._engine  # type: ignore[attr-defined]
    checkouts: list[list[Any]] = []  # each checkout's connection and the statements sent on it

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checkouts.append([proxy, 0])

    def execute(conn: Any, *args: Any) -> None:
        next(entry for entry in reversed(checkouts) if entry[0] is conn.connection)[1] += 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "before_cursor_execute", execute)
    try:
        rows = [{"k": i, "v": f"v{i}"} for i in range(10)]
        store.write(W, rows)  # a first write: the table loaded
        store.write(W, [{**row, "v": "w"} for row in rows[:5]], replace=False)  # rows upserted
        assert store.write_changes(W, [], [(0,)], 9) is not None
        assert store.delete_where(W, "k", 1) == 1
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "before_cursor_execute", execute)
    assert len(checkouts) > 4 and [sent for _, sent in checkouts if not sent] == []
    assert store.all(W) == [{"k": i, "v": "w"} for i in range(2, 5)] + rows[5:]
