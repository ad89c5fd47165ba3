"""SQLite and MariaDB specifics: URLs, file handling, BI-friendly DDL, error messages; the store factory."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from doubles import serving
from doubles.greeting import greeting_port
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from fediscope.config import load_settings
from fediscope.engine.metrics import parse_metric
from fediscope.errors import ConfigError, StoreError
from fediscope.store.port import open_store, store_from_settings

TOP = parse_metric("top", "-- question: Who leads?\n-- key: account, instance\n-- rank: followers DESC\n"
                          "-- prefix: instance\nSELECT 1")
ROWS = [{"account": "a", "instance": "x.example", "followers": 5, "rate": 0.5, "bot": True, "note": "n"}]


def test_sqlite_creates_the_file_and_its_directories(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'deep' / 'er' / 'm.db'}")
    store.write(TOP, ROWS)
    conn = sqlite3.connect(tmp_path / "deep" / "er" / "m.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # while its writer has it open
    conn.close()
    store.close()
    with sqlite3.connect(tmp_path / "deep" / "er" / "m.db") as conn:
        # left in rollback-journal mode: readable where the reader cannot write (tests/store/test_read_only_storage.py)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        columns = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(metric_top)")}
        assert columns == {"account": "TEXT", "instance": "TEXT", "followers": "BIGINT", "rate": "DOUBLE",
                           "bot": "BOOLEAN", "note": "TEXT"}
        pk = [row[1] for row in sorted(conn.execute("PRAGMA table_info(metric_top)"), key=lambda r: r[5]) if row[5]]
        assert pk == ["account", "instance"]
        assert conn.execute("SELECT question, row_count FROM fediscope_catalog").fetchall() == [("Who leads?", 1)]
        assert _indexes(conn, "metric_top") == {"rank_top": ["followers", "account", "instance"],
                                                "prefix_top": ["instance"]}


def _indexes(conn: sqlite3.Connection, table: str) -> dict[str, list[str]]:
    """A SQLite table's own indexes (not the primary key's automatic one) and their columns."""
    return {name: [c[2] for c in conn.execute(f"PRAGMA index_info({name})")]
            for _, name, *_ in conn.execute(f"PRAGMA index_list({table})") if not name.startswith("sqlite_")}


def test_a_first_write_interrupted_before_its_indexes_is_done_again_whole(tmp_path, monkeypatch):
    """The secondary indexes are built after a new table's first rows, in the same transaction on SQLite: a write
    that stops in between leaves neither a catalog entry nor a table, and the next write ends with its indexes."""
    path = tmp_path / "m.db"
    store = open_store(f"sqlite:///{path}")

    def fail(conn, table):
        raise OperationalError("CREATE INDEX …", {}, sqlite3.OperationalError("disk full (injected)"))

    monkeypatch.setattr("fediscope.store.sqlite.create_indexes", fail)
    with pytest.raises(StoreError, match="injected"):
        store.write(TOP, ROWS)
    assert store.stored_metrics() == {} and store.unlisted_metrics() == {}
    monkeypatch.undo()
    assert store.write(TOP, ROWS) == 1 and store.all(TOP) == ROWS
    store.close()
    with sqlite3.connect(path) as conn:
        assert set(_indexes(conn, "metric_top")) == {"rank_top", "prefix_top"}


def test_sqlite_declares_a_widened_column_with_its_new_type(tmp_path):
    """A BI tool types a column by its declaration: after a bool column gets 5, a column with no value so far gets
    0.5 and an int column 2.5, they are declared BIGINT, DOUBLE and DOUBLE (were BOOLEAN, BLOB and BIGINT: 5 shown
    as true, 0.5 as binary), with every row, the indexes and the added column kept."""
    path = tmp_path / "m.db"
    store = open_store(f"sqlite:///{path}")
    first = dict(ROWS[0], bot=True, rate=None, n=5)
    store.write(TOP, [first])
    later = dict(ROWS[0], account="b", bot=5, rate=0.5, n=2.5, added="new")
    store.write(TOP, [later], replace=False)
    store.close()
    with sqlite3.connect(path) as conn:
        columns = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(metric_top)")}
        assert [columns[c] for c in ("bot", "rate", "n", "added")] == ["BIGINT", "DOUBLE", "DOUBLE", "TEXT"]
        assert conn.execute("SELECT account, bot, rate, n, added FROM metric_top ORDER BY account").fetchall() \
            == [("a", 1, None, 5.0, None), ("b", 5, 0.5, 2.5, "new")]
        assert _indexes(conn, "metric_top") == {"rank_top": ["followers", "account", "instance"],
                                                "prefix_top": ["instance"]}
        assert [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == \
            ["fediscope_catalog", "metric_top"]
    reopened = open_store(f"sqlite:///{path}")
    assert reopened.all(TOP) == [dict(first, n=5.0, bot=1, added=None), dict(later, bot=5)]
    reopened.close()


def test_sqlite_relative_and_memory_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel/m.db")
    relative.write(TOP, ROWS)
    assert (tmp_path / "rel" / "m.db").exists()
    memory = open_store("sqlite:///:memory:")
    memory.write(TOP, ROWS)
    assert memory.all(TOP) == ROWS


def test_sqlite_unreadable_file_is_a_store_error(tmp_path):
    (tmp_path / "bad.db").write_text("this is not a database" * 100)
    with pytest.raises(StoreError, match="could not open the store: file is not a database"):
        open_store(f"sqlite:///{tmp_path / 'bad.db'}")


@pytest.mark.mariadb
def test_mariadb_tables_are_friendly_to_bi_tools(mariadb_url):
    store = open_store(mariadb_url)
    store.write(TOP, ROWS)
    engine = create_engine(mariadb_url)
    with engine.connect() as conn:
        types = dict(conn.execute(text("SELECT column_name, column_type FROM information_schema.columns "
                                       "WHERE table_schema = DATABASE() AND table_name = 'metric_top'")).all())
        assert types == {"account": "varchar(255)", "instance": "varchar(255)", "followers": "bigint(20)",
                         "rate": "double", "bot": "tinyint(1)", "note": "longtext"}
        collation = conn.execute(text("SELECT table_collation FROM information_schema.tables "
                                      "WHERE table_schema = DATABASE() AND table_name = 'metric_top'")).scalar()
        assert collation == "utf8mb4_nopad_bin"
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("metric_top")["constrained_columns"] == ["account", "instance"]
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("metric_top")}
    assert indexes == {"rank_top": ["followers", "account", "instance"], "prefix_top": ["instance"]}
    assert "fediscope_catalog" in inspector.get_table_names()
    engine.dispose()


@pytest.mark.parametrize(("server_is_mariadb", "collation"), [(True, "utf8mb4_nopad_bin"),
                                                                 (False, "utf8mb4_0900_bin")])
@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_tables_get_the_binary_no_pad_collation_of_the_server(scheme, server_is_mariadb, collation):
    """MySQL has no utf8mb4_nopad_bin: a CREATE TABLE naming it fails there ("Unknown collation"). The DDL a
    connected dialect compiles names the collation of the server it found, whatever the URL's scheme (MySQL is not
    run here: this checks the statement; the MariaDB tests run it)."""
    from sqlalchemy import Column, MetaData, String, Table
    from sqlalchemy.dialects import mysql
    from sqlalchemy.schema import CreateTable

    from fediscope.store.mysql import MySQLStore

    table = Table("metric_t", MetaData(), Column("k", String(10), primary_key=True), **MySQLStore.table_options)
    dialect = mysql.dialect()
    dialect.name, dialect.is_mariadb = scheme, server_is_mariadb  # as a connection to that server leaves them
    ddl = str(CreateTable(table).compile(dialect=dialect))
    assert ddl.rstrip().endswith(f"ENGINE=InnoDB CHARSET=utf8mb4 COLLATE {collation}")


@pytest.mark.mariadb
def test_mariadb_widens_a_column_in_place(mariadb_url):
    store = open_store(mariadb_url)
    store.write(TOP, [dict(ROWS[0], note=None, rate=1)])
    store.write(TOP, [dict(ROWS[0], account="b", note="text now", rate=0.25)], replace=False)
    engine = create_engine(mariadb_url)
    with engine.connect() as conn:
        types = dict(conn.execute(text("SELECT column_name, column_type FROM information_schema.columns "
                                       "WHERE table_schema = DATABASE() AND table_name = 'metric_top'")).all())
    engine.dispose()
    assert types["rate"] == "double" and types["note"] == "longtext"  # null (BIGINT) widened to text
    assert [(r["account"], r["rate"], r["note"]) for r in store.all(TOP)] == [("a", 1.0, None), ("b", 0.25, "text now")]


@pytest.mark.mariadb
def test_mariadb_wrong_password_is_a_clear_error_without_the_password(mariadb_url):
    wrong = mariadb_url.replace("fediscope-test-password", "not-the-password")
    with pytest.raises(StoreError) as caught:
        open_store(wrong)
    assert "could not connect to the store: (1045, \"Access denied" in str(caught.value)  # not the catalog table
    assert "not-the-password" not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.mariadb
@pytest.mark.parametrize("password, hinted", [("p%ZZword", True), ("password%", True), ("u%2Fp%25x", False),
                                              ("not-the-password", False)])
def test_a_refused_login_whose_password_holds_a_bad_percent_escape_says_how_to_write_it(mariadb_url, password,
                                                                                         hinted):
    """Was: the bare 1045 "Access denied": a password written unencoded (its % starting no escape, which SQLAlchemy
    sends as written) looked like a wrong one. The hint never shows the password."""
    with pytest.raises(StoreError) as caught:
        open_store(mariadb_url.replace("fediscope-test-password", password))
    message = str(caught.value)
    assert "could not connect to the store: (1045, \"Access denied" in message
    assert ("holds a % that is not followed by two hex digits" in message) is hinted
    assert ("A % in it is written %25" in message) is hinted
    assert password not in message and "\n" not in message


def test_mysql_url_problems_are_config_errors():
    with pytest.raises(ConfigError, match="names no database"):
        open_store("mysql+pymysql://u:p@127.0.0.1:3306")
    with pytest.raises(StoreError, match=r"could not connect to the store: \(2003, "):  # not the catalog table
        open_store("mysql+pymysql://u:secret@127.0.0.1:1/db", connect_timeout=1)


def test_a_port_that_takes_the_connection_but_never_speaks_mysql_fails_instead_of_hanging():
    """Was: PyMySQL's connect_timeout bounds the TCP connect only, and the server's greeting was awaited without a
    timeout: a MySQL URL at a port that takes connections and says nothing (another service, a proxy whose backend
    is down) made `fediscope report`, `process` and `doctor` hang for good. The watchdog below only turns such a
    hang into a failure; the error comes after connect_timeout."""
    outcome: list[BaseException] = []

    def open_it(url: str) -> None:
        try:
            open_store(url, connect_timeout=1)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    with socket.socket() as silent:  # takes connections (the kernel's backlog), never reads nor answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"mysql+pymysql://u:secret@127.0.0.1:{silent.getsockname()[1]}/db"
        worker = threading.Thread(target=open_it, args=(url,), daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "still waiting for the server's greeting"
    [error] = outcome
    assert isinstance(error, StoreError), repr(error)
    assert "could not connect to the store: (2003, " in str(error) and "timed out" in str(error)
    assert "secret" not in str(error) and "u:***@" in str(error)


def test_the_connect_timeout_of_the_url_bounds_the_opening():
    """Was: the URL's ``?connect_timeout=`` was checked, then overridden by the store's own 10 s (SQLAlchemy's
    ``connect_args`` win over the URL's query). The error names the timeout the connection waited for."""
    with socket.socket() as silent:  # takes connections (the kernel's backlog), never reads nor answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"mysql+pymysql://u:secret@127.0.0.1:{silent.getsockname()[1]}/db?connect_timeout=1"
        with pytest.raises(StoreError) as caught:
            open_store(url)
    assert "gave no MySQL answer within connect_timeout=1 s" in str(caught.value), caught.value
    assert "secret" not in str(caught.value)


def test_a_port_that_speaks_http_is_named_so_at_once(webhdfs_server):
    """Was: a MySQL URL at an HTTP port (a web UI, a REST server: the WebHDFS double is one) said only "it took the
    connection but gave no MySQL answer within connect_timeout=N s (timed out); is this port MariaDB's/MySQL's, or
    another service's?": an HTTP server waits for the client's request as a MySQL client waits for the greeting.
    Then the port was asked whether it speaks HTTP, but only after the whole connect_timeout (10 s by default). Now
    it is asked once the greeting is half a second late, and the error comes at once."""
    port = int(webhdfs_server.http_url.rsplit(":", 1)[1])
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        open_store(f"mysql+pymysql://u:secret@127.0.0.1:{port}/db")  # connect_timeout: 10 s, the default
    took = time.monotonic() - started
    message = str(caught.value)
    assert f"port {port}: it took the connection but sent no MySQL greeting within 0.5 s, " \
           "and that port speaks HTTP (it answered an HTTP request with " in message, message
    assert "): point the URL at MariaDB\\'s/MySQL\\'s port (3306 by default)" in message, message
    assert "secret" not in message and "\n" not in message
    assert took < 5, f"the error came after {took:.1f} s"


def test_the_http_probe_connects_from_the_urls_bind_address():
    """The URL's ``bind_address`` (PyMySQL's: the local address to connect from, where a firewall lets only that one
    through) is the HTTP probe's too. Was: the probe connected from the default address, so the port of an HTTP
    server reachable from the bound address only was not named as HTTP. Here the server records where each
    connection came from: the connection and the probe both from 127.0.0.2."""
    import http.server

    seen: list[str] = []

    class Recorded(http.server.BaseHTTPRequestHandler):
        def setup(self) -> None:
            seen.append(self.client_address[0])
            super().setup()

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorded)) as port, \
            pytest.raises(StoreError) as caught:
        open_store(f"mysql+pymysql://u:secret@127.0.0.1:{port}/db?bind_address=127.0.0.2")
    assert "and that port speaks HTTP (it answered an HTTP request with 'HTTP/1.0 404" in str(caught.value), \
        caught.value
    assert seen == ["127.0.0.2", "127.0.0.2"], seen


@contextmanager
def late_greeting_port(greeting: bytes, after: float) -> Iterator[int]:
    """A port on 127.0.0.1 whose service sends ``greeting`` to its first connection ``after`` seconds, and says
    nothing to any other (a server slow to greet, busy with the first connection)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        held: list[socket.socket] = []

        def serve() -> None:
            with contextlib.suppress(OSError):
                first, _ = listener.accept()
                held.append(first)
                time.sleep(after)
                first.sendall(greeting)
                while True:
                    held.append(listener.accept()[0])

        threading.Thread(target=serve, daemon=True).start()
        try:
            yield listener.getsockname()[1]
        finally:
            for connection in held:
                connection.close()


def test_a_server_slow_to_greet_is_not_kept_waiting_by_the_http_probe():
    """A server whose greeting comes after the half second gets its port asked whether it speaks HTTP meanwhile;
    the probe gives up the moment the greeting arrives, so the opening goes on with it at once (here: a greeting
    that is no MySQL one, named so) instead of waiting out the probe's 3 s on a connection that says nothing."""
    with late_greeting_port(b"\x05\x00\x00\x00hello", after=1.0) as port:
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            open_store(f"mysql+pymysql://u:secret@127.0.0.1:{port}/db")
        took = time.monotonic() - started
    assert f"port {port}: it answered something that is not a MySQL/MariaDB greeting" in str(caught.value)
    assert took < 2.5, f"the greeting, sent after 1 s, was read after {took:.1f} s"


def test_a_healthy_server_is_never_asked_whether_it_speaks_http(mariadb_url, monkeypatch):
    """MariaDB greets at once: the store opens without the HTTP probe's connection (which the server would log as
    an aborted connect)."""
    from fediscope.store import mysql

    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(mysql, "http_status_line", lambda host, port, *args, **kwargs: asked.append((host, port)))
    assert open_store(mariadb_url).stored_metrics() == {}
    assert asked == []


@pytest.mark.parametrize("greeting", [
    b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",  # an SSH port: PyMySQL said "Packet sequence number wrong - got 45"
    b"\x05\x00\x00\x00hello",  # a first packet too short for a greeting: was struct.error, a traceback
    b"\x0a\x00\x00\x00\x09abcdefgh\x00",  # protocol version 9, cut short: was IndexError or struct.error
], ids=["ssh-banner", "short-packet", "cut-greeting"])
def test_a_port_that_answers_something_other_than_a_mysql_greeting_is_named_as_another_service(greeting: bytes):
    """Was: a MySQL URL at a port whose service speaks first with something that is not a MySQL server's greeting
    (an SSH banner, another protocol's hello) ended `fediscope report` and `process` with a traceback (struct.error
    from PyMySQL's parsing of the greeting, an internal error) or with PyMySQL's "Packet sequence number wrong - got
    45 expected 0", which names neither the port nor the cause. It is now a connection error saying the service
    there did not answer as MariaDB/MySQL does, as a port that says nothing is named."""
    with greeting_port(greeting) as port, pytest.raises(StoreError) as caught:
        open_store(f"mysql+pymysql://u:secret@127.0.0.1:{port}/db?connect_timeout=2")
    message = str(caught.value)
    assert "could not connect to the store: (2003, " in message, message
    assert f"port {port}: it answered something that is not a MySQL/MariaDB greeting" in message, message
    assert "is this port MariaDB's/MySQL's, or another service's?" in message, message
    assert "secret" not in message and "\n" not in message


def test_unsupported_store_urls():
    with pytest.raises(ConfigError, match="unsupported") as info:
        open_store("postgresql://u:secret@h/db")
    assert "postgresql://u:***@h/db" in str(info.value) and "secret" not in str(info.value)  # the scheme is shown
    for broken, said in (("mysql+pymysql://u:secret@h:abc/db", "has the port 'abc', which is not a whole number"),
                         ("hbase://h:abc", "has the port 'abc', which is not a whole number"),
                         ("hbase://[h", "is not a valid URL"),
                         ("hbase://h:99999", "has the port '99999', which is not a whole number")):
        with pytest.raises(ConfigError, match=said) as info:
            open_store(broken)
        assert "secret" not in str(info.value)


def test_store_from_settings_applies_the_hbase_table_prefix(hbase_double):
    settings = load_settings(env={}, store=hbase_double.url, hbase_table_prefix="envprefix")
    store = store_from_settings(settings)
    assert store.prefix == "envprefix"
    sqlite_settings = load_settings(env={}, store="sqlite:///:memory:")
    assert store_from_settings(sqlite_settings).stored_metrics() == {}


def test_the_mariadb_fixture_names_the_missing_package(monkeypatch, tmp_path):
    from doubles import mariadb

    monkeypatch.setattr(mariadb, "_binary", lambda *names: None)
    server = mariadb.MariaDBServer(tmp_path)
    assert not server.available
    assert "mariadb-server" in mariadb.MISSING and "SKIPPED" in mariadb.MISSING
