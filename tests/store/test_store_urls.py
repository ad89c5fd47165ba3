"""Opening a store from its URL: malformed URLs, unsupported drivers, unusable paths and in-memory databases are
one clear error (never a traceback), and no message shows a password — also one given as a query parameter."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import make_url

from fediscope.config import load_settings
from fediscope.errors import ConfigError, StoreError
from fediscope.store.port import open_for_reading, open_store, require_persistent
from fediscope.store.sqlite import sqlite_file, sqlite_in_memory

SECRET = "QSsecret99"
CLOSED = "127.0.0.1:1"  # nothing listens there: connecting fails at once


@pytest.mark.parametrize("param", ["password", "passwd"])
def test_a_password_in_the_query_string_is_masked_in_store_errors(param):
    with pytest.raises(StoreError, match="could not connect to the store") as info:
        open_store(f"mysql+pymysql://fed@{CLOSED}/db?{param}={SECRET}")
    assert SECRET not in str(info.value) and f"{param}=***" in str(info.value)


def test_a_wrong_query_string_password_on_a_real_server_is_masked(mariadb_url):
    url = make_url(mariadb_url)
    wrong = f"{url.password}-wrong"
    with pytest.raises(StoreError, match="could not connect to the store: .1045, .Access denied") as info:
        open_store(url.set(password=None).update_query_dict({"password": wrong}).render_as_string(False))
    assert wrong not in str(info.value)
    right = open_store(url.set(password=None).update_query_dict({"password": url.password})
                       .render_as_string(False))  # the query form works: the test above failed for the password
    assert right.stored_metrics() == {}
    right.close()


@pytest.mark.parametrize("url", [f"mysql+pymysql://fed@{CLOSED}/db?password=Kq7w@Zx9v/Rt4Lm",
                                 f"mysql+pymysql://{CLOSED}/db?password=Kq7w@Zx9v&charset=utf8mb4"])
def test_an_unencoded_at_sign_in_a_query_password_is_refused_without_a_piece_of_it(url):
    """SQLAlchemy takes such an ``@`` for the end of a password before the host: ``fed@127.0.0.1`` for the user,
    ``Zx9v`` for the host. Was: accepted, and PyMySQL's "Can't connect to MySQL server on 'Zx9v'" quoted a piece of
    the password (``doctor``, ``report``)."""
    for refuse in (lambda: load_settings(env={"FEDISCOPE_STORE": url}), lambda: open_store(url)):
        with pytest.raises(ConfigError) as info:
            refuse()
        message = str(info.value)
        assert "has an @ in its query" in message and "percent-encoded (as %40)" in message, message
        assert not [piece for piece in ("Kq7w", "Zx9v", "Rt4Lm") if piece in message], message


@pytest.mark.parametrize(("url", "words"), [
    ("sqlite://relative", "names a file, not a host"),
    ("sqlite://user@host/x.db", "names a file, not a host"),
    ("sqlite:/x.db", "is not a valid URL"),
    (f"mysql+pymysql://u:pw@{CLOSED}/db?ssl_key=/nonexistent/key.pem", "ssl_key=/nonexistent/key.pem is not a"),
    (f"mysql+pymysql://u:pw@{CLOSED}/db?ssl_ca=/nonexistent/ca.pem", "ssl_ca=/nonexistent/ca.pem is not a readable"),
    (f"mysql+pymysql://u:pw@{CLOSED}/db?connect_timeout=abc", "connect_timeout='abc', which is not a whole number"),
    (f"mysql+pymysql://u:pw@{CLOSED}/db?charset=nope", "charset=nope is not a character set PyMySQL knows"),
    (f"mysql+mysqldb://u:pw@{CLOSED}/db", "uses the mysqldb driver, which fediscope does not support"),
    (f"mariadb+mariadbconnector://u:pw@{CLOSED}/db", "use mariadb+pymysql://"),
])
def test_malformed_or_unsupported_urls_are_config_errors(url, words):
    with pytest.raises(ConfigError) as info:
        open_store(url)
    assert words in str(info.value)
    assert ":pw@" not in str(info.value)


@pytest.mark.parametrize("url", [f"mysql+pymysql://u:pw@{CLOSED}", f"mysql+pymysql://u:pw@{CLOSED}/db?charset=nope",
                                 "mysqlx://u@h/db", "hbase://", "hbase://h:9090?colour=red", "hbase://h?timeout=0",
                                 "sqlite:////tmp/x.db?timeout=abc", "sqlite:////tmp/x.db?check_same_thread=maybe",
                                 "sqlite:////tmp/x.db?cached_statements=many", "sqlite:////tmp/x.db?colour=red",
                                 "sqlite:////tmp/x.db?detect_types=%C2%B2", "sqlite:////tmp/x.db?uri=maybe",
                                 "sqlite:///file:/tmp/x.db?mode=ro&uri=maybe", "sqlite:////tmp/x.db?isolation_level=FOO",
                                 "sqlite:////tmp/x.db?isolation_level=IMMEDIATE",
                                 "sqlite:///file:/tmp/x.db?uri=true&timeout=abc",
                                 # were opened with the user, password or path dropped (HBase), or refused by
                                 # PyMySQL's connect ("the database driver refused an option …: TypeError")
                                 "hbase://u:pw@h:9090", "hbase://h:9090/somepath",
                                 f"mysql+pymysql://u:pw@{CLOSED}/db?bogus=1"])
def test_open_store_and_the_adapter_refuse_a_url_in_the_words_of_the_settings_check(url):
    """One set of rules (store_url_problem): the settings loader names where the URL came from, open_store and an
    adapter opened directly say the same about it (were: the adapters' own copies, one naming FEDISCOPE_STORE)."""
    from fediscope.redact import redact_url
    from fediscope.store.hbase import HBaseStore
    from fediscope.store.mysql import MySQLStore
    from fediscope.store.port import store_url_problem

    problem = store_url_problem(url)
    assert problem
    from fediscope.store.sqlite import SQLiteStore

    adapter = HBaseStore if url.startswith("hbase") else SQLiteStore if url.startswith("sqlite") else MySQLStore
    for opener in (open_store, adapter):
        with pytest.raises(ConfigError) as info:
            opener(url)
        assert str(info.value) == f"the store URL {redact_url(url)!r} {problem}"
        assert ":pw@" not in str(info.value)


@pytest.mark.parametrize(("url", "words"), [
    # was: accepted, and the resolver kept the low 16 bits: 99999 connected to port 34463, another service's
    (f"mysql+pymysql://u:{SECRET}@127.0.0.1:99999/db", "has the port '99999', which is not a whole number from 1 to"),
    (f"mysql+pymysql://u:{SECRET}@127.0.0.1:0/db", "has the port '0', which is not"),
    (f"mysql+pymysql://u:{SECRET}@127.0.0.1:-5/db", "has the port '-5', which is not"),
    (f"mysql+pymysql://u:{SECRET}@[::1]:70000/db", "has the port '70000', which is not"),
    (f"mysql+pymysql://u:a/{SECRET}@127.0.0.1:70000/db", "has the port '70000', which is not"),  # an unencoded /
    # were: "is not a valid URL (invalid literal for int() with base 10: …)"
    (f"mysql+pymysql://u:{SECRET}@127.0.0.1:1e3/db", "has the port '1e3', which is not"),
    (f"mysql+pymysql://u:{SECRET}@127.0.0.1:/db", "has a ':' after its host but no port"),
    # were: the default port, 9090, silently
    ("hbase://h:0", "has the port '0', which is not"),
    ("hbase://h:", "has a ':' after its host but no port"),
    ("hbase://h:99999", "has the port '99999', which is not"),  # was: urlsplit's "Port out of range 0-65535"
])
def test_a_port_outside_1_to_65535_is_refused_when_the_settings_load(url, words):
    with pytest.raises(ConfigError) as info:
        load_settings(env={"FEDISCOPE_STORE": url})
    message = str(info.value)
    assert message.startswith("FEDISCOPE_STORE is invalid: ") and words in message, message
    assert SECRET not in message and "int()" not in message, message
    with pytest.raises(ConfigError, match=re.escape(words)):
        open_store(url)


@pytest.mark.parametrize(("value", "expected"), [("false", 0), ("true", 1), ("off", 0)])
def test_a_boolean_option_of_a_mysql_url_reaches_pymysql_as_written(mariadb_url, value, expected):
    """Was: passed on to PyMySQL as text, which it tests for truth: ``autocommit=false`` turned autocommit on, so
    a write that failed halfway kept its first statements (``ssl_disabled=false`` likewise turned TLS off)."""
    store = open_store(make_url(mariadb_url).update_query_dict({"autocommit": value}).render_as_string(False))
    try:
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT @@autocommit").scalar() == expected
    finally:
        store.close()


def test_a_certificate_file_the_driver_cannot_load_is_a_config_error(tmp_path):
    """Raised by the driver itself at connect (ssl.SSLError, an OSError), not by SQLAlchemy."""
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="the database driver refused an option of the URL"):
        open_store(f"mysql+pymysql://u:pw@{CLOSED}/db?ssl_ca={tmp_path / 'ca.pem'}")


@pytest.mark.parametrize("url", [f"mysql+pymysql://u:pw@{CLOSED}/db", f"mysql://u:pw@{CLOSED}/db",
                                 f"mariadb+pymysql://u:pw@{CLOSED}/db"])
def test_pymysql_urls_are_accepted(url):
    with pytest.raises(StoreError, match="Can't connect"):  # got as far as connecting
        open_store(url)


def test_a_sqlite_path_below_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "afile").write_text("in the way")
    with pytest.raises(StoreError) as info:
        open_store(f"sqlite:///{tmp_path / 'afile' / 'sub' / 'x.db'}")
    message = str(info.value)
    assert str(tmp_path / "afile" / "sub" / "x.db") in message
    assert f"{tmp_path / 'afile'} is a file, not a directory" in message


@pytest.mark.parametrize(("url", "memory"), [
    ("sqlite://", True), ("sqlite:///", True), ("sqlite:///:memory:", True),
    ("sqlite:///file::memory:?uri=true", True), ("sqlite:///file:x?mode=memory&uri=true", True),
    ("sqlite:///x.db", False), ("sqlite:////tmp/x.db", False), ("sqlite:///file:x.db?uri=true", False),
    ("mysql+pymysql://u:pw@h/db", False), ("hbase://h:9090", False),
])
def test_in_memory_sqlite_urls(url, memory):
    assert sqlite_in_memory(url) is memory
    if memory:
        with pytest.raises(ConfigError, match="in-memory SQLite database"):
            require_persistent(url)
    else:
        require_persistent(url)


def test_in_memory_stores_still_open_through_the_python_api():
    store = open_store("sqlite://")
    assert store.stored_metrics() == {}
    store.close()


def test_sqlite_file_of_a_broken_url_is_none():
    assert sqlite_file("sqlite:/x.db") is None and sqlite_file("sqlite://relative") is None


def test_reading_a_sqlite_store_that_does_not_exist_creates_nothing(tmp_path):
    settings = load_settings(env={}, store=f"sqlite:///{tmp_path / 'newdir' / 'x.db'}")
    with pytest.raises(StoreError, match="does not exist yet: run `fediscope process` first"):
        open_for_reading(settings)
    assert list(tmp_path.iterdir()) == []
    open_store(settings.store).close()  # a writer creates it; a reader then opens it
    open_for_reading(settings).close()


@pytest.mark.parametrize(("value", "expected"), [("abc", "a number of seconds"), ("nan", "a number of seconds"),
                                                 ("-1", "a number of seconds")])
def test_a_sqlite_option_of_the_wrong_type_is_refused_by_the_settings_check_naming_its_source(value, expected):
    """Was: only the option's name was checked; the store then failed to open with the driver's bare ValueError,
    naming FEDISCOPE_STORE even when the URL came from --store."""
    url = f"sqlite:////tmp/metrics.db?timeout={value}"
    with pytest.raises(ConfigError, match=f"FEDISCOPE_STORE is invalid: .*timeout={value!r}, which is not {expected}"):
        load_settings(env={"FEDISCOPE_STORE": url})
    assert load_settings(env={"FEDISCOPE_STORE": "sqlite:////tmp/metrics.db?timeout=2.5"}).store.endswith("=2.5")


@pytest.mark.parametrize(("query", "expected"), [
    ("uri=maybe", "uri='maybe', which is not true or false"),
    ("mode=ro&uri=maybe", "uri='maybe', which is not true or false"),  # was: passed, then `process` failed
    ("uri=true&cached_statements=many", "cached_statements='many', which is not an integer"),  # was: not checked
    ("isolation_level=FOO", r"isolation_level, which has no effect \(SQLAlchemy does not pass it on"),  # was dropped
    ("isolation_level=DEFERRED", "isolation_level, which has no effect"),
    ("uri=false&mode=ro", "the option 'mode' after its '\\?', which SQLite does not take"),
])
def test_a_sqlite_uri_or_isolation_level_option_is_checked_by_the_settings(query, expected):
    with pytest.raises(ConfigError, match=f"FEDISCOPE_STORE is invalid: .*{expected}"):
        load_settings(env={"FEDISCOPE_STORE": f"sqlite:///file:/tmp/metrics.db?{query}"})
    for fine in ("uri=true&mode=ro", "mode=ro&uri=Yes", "uri=0", "uri=true&timeout=5&mode=rwc"):
        assert load_settings(env={"FEDISCOPE_STORE": f"sqlite:///file:/tmp/metrics.db?{fine}"}).store.endswith(fine)
