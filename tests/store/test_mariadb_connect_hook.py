"""The pool's ``connect`` hook of a MariaDB store reads the new connection's ``max_allowed_packet``
(:func:`fediscope.store.mysql._note_packet`). A read that fails there names itself in the store's error (was: only the
server's reason, "could not connect to the store: (2013, 'Lost connection to MySQL server during query')", no query
named), and the connection it was read on is closed, not left open on the server until the garbage collector finds it:
SQLAlchemy's pool closes a connection a failed hook strands, which this checks on the real server, as fediscope relies
on it (the hook does not close it itself: PyMySQL refuses a second close, which the pool would log)."""

from __future__ import annotations

import pytest

from fediscope.errors import StoreError
from fediscope.store import mysql
from fediscope.store.mysql import MySQLStore
from fediscope.store.port import open_store

pytestmark = pytest.mark.mariadb


def _sessions(mariadb_instance, database: str) -> list[tuple]:  # noqa: ANN001
    """The server's sessions of the test user in ``database``."""
    with mariadb_instance._root() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, command FROM information_schema.processlist WHERE user = 'fediscope' AND db = %s",
                       (database,))
        return list(cursor.fetchall())


def test_a_failed_read_of_max_allowed_packet_on_a_new_connection_is_a_clear_error_and_leaves_no_session(
        mariadb_instance, mariadb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The server refuses the hook's query (a real error, 1193, on a connection that stays open: the read asks for a
    variable the server lacks): the store says which read failed, and the server has no session of the test's
    database left."""
    database = mariadb_url.rsplit("/", 1)[1]

    def refused_read(dbapi_connection) -> int:  # noqa: ANN001
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT @@no_such_variable")
            return int(cursor.fetchone()[0])

    monkeypatch.setattr(mysql, "_read_packet", refused_read)
    with pytest.raises(StoreError) as refused:
        MySQLStore(mariadb_url)
    assert str(refused.value).endswith(
        "could not connect to the store: (1193, \"reading the server's max_allowed_packet (SELECT @@max_allowed_packet)"
        " on a new connection failed: Unknown system variable 'no_such_variable'\")"), str(refused.value)
    assert "\n" not in str(refused.value)
    assert _sessions(mariadb_instance, database) == []  # the connection was closed, not stranded
    monkeypatch.undo()
    store = open_store(mariadb_url)  # a new connection reads it again, and the store works
    try:
        assert store.stored_metrics() == {}
        assert store._max_allowed_packet() > 0
    finally:
        store.close()
