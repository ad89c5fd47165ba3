"""A MariaDB store's connections given no TLS option share the process's one TLS context
(``fediscope.store.mysql._BoundedHandshake._create_ssl_ctx``): PyMySQL made one per connection, each loading the
system's CA certificates (~40 ms of CPU), although in its "preferred" mode (TLS when the server offers it) it verifies
nothing. A connection given TLS options still gets a context of its own, made from them; and a store's connection
takes TLS exactly when PyMySQL's own does, on the real server."""

from __future__ import annotations

import ssl

import pymysql
import pytest
from sqlalchemy import text

from fediscope.store.mysql import MySQLStore, _BoundedHandshake
from fediscope.store.port import mysql_url

pytestmark = pytest.mark.mariadb


def _cipher(connection: pymysql.connections.Connection) -> str:
    """The session's TLS cipher as the server sees it ('' for a plain connection)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        return str(cursor.fetchone()[1])


def test_connections_given_no_tls_option_share_one_context_with_pymysqls_settings() -> None:
    first = _BoundedHandshake(host="127.0.0.1", defer_connect=True)
    second = _BoundedHandshake(host="127.0.0.1", defer_connect=True)
    own = pymysql.connections.Connection(host="127.0.0.1", defer_connect=True)  # PyMySQL's, made for it alone
    assert first.ctx is second.ctx
    assert first.ctx is not own.ctx
    for attribute in ("verify_mode", "check_hostname", "verify_flags", "options", "minimum_version"):
        assert getattr(first.ctx, attribute) == getattr(own.ctx, attribute), attribute
    assert (first.ssl, first._ssl_required) == (own.ssl, own._ssl_required) == (True, False)  # TLS if offered


def test_a_connection_given_tls_options_gets_a_context_made_from_them() -> None:
    shared = _BoundedHandshake(host="127.0.0.1", defer_connect=True).ctx
    verified = _BoundedHandshake(host="127.0.0.1", defer_connect=True, ssl={"verify_mode": "optional"})
    assert verified.ctx is not shared
    assert verified.ctx.verify_mode == ssl.CERT_OPTIONAL and shared.verify_mode == ssl.CERT_NONE
    assert verified._ssl_required


def test_a_stores_connections_take_tls_as_pymysqls_own_do(mariadb_url: str) -> None:
    url = mysql_url(mariadb_url)
    plain = pymysql.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                            database=url.database)
    try:
        expected = _cipher(plain) != ""
    finally:
        plain.close()
    store = MySQLStore(mariadb_url)
    try:
        with store._engine.connect() as first, store._engine.connect() as second:
            contexts = {id(connection.connection.dbapi_connection.ctx) for connection in (first, second)}
            ciphers = [connection.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).one()[1]
                       for connection in (first, second)]
        assert len(contexts) == 1
        assert [cipher != "" for cipher in ciphers] == [expected, expected], ciphers
    finally:
        store.close()
