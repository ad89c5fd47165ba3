"""infra/mariadb/bootstrap.sql + bootstrap.py against a real MariaDB: the users can do their job and no more."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pymysql
import pytest
from doubles.greeting import greeting_port
from doubles.mariadb import WRITER_PRIVILEGES

from fediscope.engine.metrics import Metric
from fediscope.store.port import open_store

INFRA = Path(__file__).resolve().parents[2] / "infra" / "mariadb"
spec = importlib.util.spec_from_file_location("mariadb_bootstrap", INFRA / "bootstrap.py")
assert spec and spec.loader
bootstrap_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap_module)

WRITER_PW = "writer-pw-'quoted\\-0123456789"
READER_PW = "reader-pw-0123456789abcdef"
METRIC = Metric(name="infra_probe", question="Does the writer have the privileges the store needs?",
                key=("tag",), sql="", rank_column="uses")


def _run(mariadb, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(INFRA / "bootstrap.py"), "--admin-url", mariadb.admin_url, *args],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def _connect(mariadb, user: str, password: str, database: str) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=mariadb.port, user=user, password=password, database=database,
                           autocommit=True)


def test_statements_are_split_and_renamed() -> None:
    todo = bootstrap_module.statements((INFRA / "bootstrap.sql").read_text(), "analytics_2")
    assert todo[0].startswith("CREATE DATABASE IF NOT EXISTS `analytics_2`")
    assert not any("`fediscope`" in s for s in todo)
    assert not any(s.lstrip().startswith("--") for s in todo)
    with pytest.raises(bootstrap_module.BootstrapError):
        bootstrap_module.statements("", "x`; DROP DATABASE mysql; --")


def _granted(text: str) -> set[str]:
    """The privileges of every ``GRANT … ON`` in ``text`` (SQL or a docstring quoting it)."""
    return {p.strip().upper() for found in re.findall(r"GRANT\s+(.+?)\s+ON\b", text) for p in found.split(",")}


def test_the_store_docstring_grants_what_bootstrap_grants_the_writer() -> None:
    """fediscope/store/mysql.py shows how to set up a database by hand: the writer it creates gets the privileges
    bootstrap.sql gives ``fediscope``, not ``ALL`` (which adds rights the store never uses: TRIGGER, EVENT, CREATE
    VIEW, CREATE ROUTINE, LOCK TABLES…)."""
    import fediscope.store.mysql as mysql_store

    sql = (INFRA / "bootstrap.sql").read_text()
    writer = next(s for s in bootstrap_module.statements(sql) if "TO ''fediscope''@" in s and "GRANT" in s)
    assert _granted(mysql_store.__doc__ or "") == _granted(writer) == set(WRITER_PRIVILEGES.split(", "))


def test_short_passwords_are_refused_before_connecting() -> None:
    with pytest.raises(bootstrap_module.BootstrapError, match="shorter than 16"):
        bootstrap_module.bootstrap("mysql://root@127.0.0.1:9", "short")


def test_missing_password_is_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FEDISCOPE_DB_PASSWORD"}
    result = subprocess.run([sys.executable, str(INFRA / "bootstrap.py")], capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 2 and "FEDISCOPE_DB_PASSWORD" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.mariadb
def test_bootstrap_creates_least_privilege_users(mariadb_server) -> None:
    result = _run(mariadb_server, "--database", "fediscope_t1",
                  env={"FEDISCOPE_DB_PASSWORD": WRITER_PW, "FEDISCOPE_DB_RO_PASSWORD": READER_PW})
    assert result.returncode == 0, result.stderr
    assert WRITER_PW not in result.stdout + result.stderr and READER_PW not in result.stdout + result.stderr
    assert "FEDISCOPE_STORE=mysql+pymysql://fediscope:***@" in result.stdout

    # The writer can do everything the MySQL store adapter does: create, upsert, read, alter, delete.
    store = open_store(f"mysql+pymysql://fediscope:{quote(WRITER_PW, safe='')}@127.0.0.1:{mariadb_server.port}"
                       "/fediscope_t1")
    try:
        store.write(METRIC, [{"tag": "python", "uses": 3}, {"tag": "Python", "uses": 5}])
        store.write(METRIC, [{"tag": "python", "uses": 4, "share": 0.5}], replace=False)  # adds a column
        assert store.get(METRIC, ["python"]) == {"tag": "python", "uses": 4, "share": 0.5}
        assert [r["tag"] for r in store.top(METRIC, 2)] == ["Python", "python"]
        assert store.delete_where(METRIC, "tag", "Python") == 1
    finally:
        store.close()

    with _connect(mariadb_server, "fediscope", WRITER_PW, "fediscope_t1") as conn, conn.cursor() as cur:
        cur.execute("SHOW GRANTS")
        grants = " ".join(row[0] for row in cur.fetchall())
        assert "ALL PRIVILEGES" not in grants and "GRANT OPTION" not in grants
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("CREATE DATABASE other_db")
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("SELECT * FROM mysql.user")

    with _connect(mariadb_server, "fediscope_ro", READER_PW, "fediscope_t1") as conn, conn.cursor() as cur:
        cur.execute("SELECT tag FROM metric_infra_probe")
        assert [row[0] for row in cur.fetchall()] == ["python"]
        cur.execute("SELECT metric, row_count FROM fediscope_catalog")  # which table answers which question
        assert cur.fetchall() == (("infra_probe", 1),)
        for statement in ("INSERT INTO metric_infra_probe (tag) VALUES ('x')", "CREATE TABLE t (a INT)",
                          "DELETE FROM metric_infra_probe"):
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute(statement)


@pytest.mark.mariadb
def test_bootstrap_is_idempotent_and_rotates_the_password(mariadb_server) -> None:
    first = _run(mariadb_server, "--database", "fediscope_t2", env={"FEDISCOPE_DB_PASSWORD": WRITER_PW})
    assert first.returncode == 0, first.stderr
    new_pw = "rotated-password-0123456789"
    again = _run(mariadb_server, "--database", "fediscope_t2", env={"FEDISCOPE_DB_PASSWORD": new_pw})
    assert again.returncode == 0, again.stderr
    with pytest.raises(pymysql.err.OperationalError):
        _connect(mariadb_server, "fediscope", WRITER_PW, "fediscope_t2")
    _connect(mariadb_server, "fediscope", new_pw, "fediscope_t2").close()


def test_unreachable_server_is_one_clear_line() -> None:
    result = subprocess.run([sys.executable, str(INFRA / "bootstrap.py"), "--admin-url",
                             "mysql://root:topsecret@127.0.0.1:9"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "FEDISCOPE_DB_PASSWORD": WRITER_PW})
    assert result.returncode == 1
    assert result.stderr.startswith("bootstrap: error: cannot connect") and "topsecret" not in result.stderr


@pytest.mark.parametrize("password", ["Kq7wZx/9vRt4", "Kq7w#Zx9v?Rt4", "Kq7w:Zx9v/Rt4", "Kq7w@Zx9v/Rt4",
                                      "12/Zx9v@Rt4"])
def test_an_admin_password_holding_unencoded_url_characters_is_never_shown(password: str) -> None:
    """Was: ``--admin-url 'mysql://root:Kq7wZx/9vRt4@127.0.0.1:9'`` in the error, whole: urlsplit ends the host at
    the ``/``, so the URL had "no password" to mask (and the port, or the host connected to, was a piece of it).
    Now refused before connecting (exit 2), the password masked."""
    result = subprocess.run([sys.executable, str(INFRA / "bootstrap.py"), "--admin-url",
                             f"mysql://root:{password}@127.0.0.1:9"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "FEDISCOPE_DB_PASSWORD": WRITER_PW})
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("bootstrap: error: --admin-url 'mysql://root:***@127.0.0.1:9': the password "
                                    "holds an unencoded"), result.stderr
    shown = result.stdout.lower() + result.stderr.lower()  # a host name is shown lower-cased
    assert not [piece for piece in ("kq7w", "zx9v", "rt4") if piece in shown], result.stderr


@pytest.mark.parametrize("admin_url", ["mysql://root:topsecret@127.0.0.1:notaport", "mysql://root@db:99999"])
def test_an_admin_url_whose_port_is_not_a_port_is_one_clear_line(admin_url: str) -> None:
    """Was: urllib's ValueError ("Port could not be cast to integer value") as a traceback."""
    result = subprocess.run([sys.executable, str(INFRA / "bootstrap.py"), "--admin-url", admin_url],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "FEDISCOPE_DB_PASSWORD": WRITER_PW})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("bootstrap: error: --admin-url ") and len(result.stderr.splitlines()) == 1
    assert "the port is not a number" in result.stderr and "topsecret" not in result.stderr


@pytest.mark.parametrize(("args", "env", "said"), [
    (["--admin-url", "postgres://root@127.0.0.1:5432"], {}, "--admin-url must start with mysql://"),
    (["--database", "fedi-scope"], {}, "--database 'fedi-scope': use letters, digits and _ only"),
    ([], {"FEDISCOPE_DB_PASSWORD": "short"}, "FEDISCOPE_DB_PASSWORD is shorter than"),
])
def test_a_bad_option_or_setting_exits_2_before_connecting(args: list[str], env: dict[str, str], said: str) -> None:
    """A bad option or setting is exit 2, as the missing password is and as for every fediscope command (was 1,
    the exit of a failed bootstrap); nothing is connected to (the default admin URL has no server here)."""
    result = subprocess.run([sys.executable, str(INFRA / "bootstrap.py"), *args], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "FEDISCOPE_DB_PASSWORD": WRITER_PW, **env})
    assert (result.returncode, len(result.stderr.splitlines())) == (2, 1), result.stderr
    assert result.stderr.startswith(f"bootstrap: error: {said}"), result.stderr


ENCODED = {"%": "%25", "/": "%2F", "@": "%40", "#": "%23", "?": "%3F"}


@pytest.mark.mariadb
@pytest.mark.parametrize(("password", "note"), [
    ("a/b@c#d?e%41f-0123456789", ", percent-encoded: write % as %25, / as %2F, @ as %40, # as %23, ? as %3F"),
    ("Ab:c'd \\e&f=g+h-0123456789", ""),  # a URL carries these as written
])
def test_the_printed_store_says_how_to_write_a_password_a_url_cannot_carry(mariadb_server, password: str,
                                                                          note: str) -> None:
    """Was: ``FEDISCOPE_STORE=mysql+pymysql://fediscope:***@…   (*** = FEDISCOPE_DB_PASSWORD)`` whatever the password
    held: pasted in as written, a password with ``/ @ # ?`` makes a URL the settings refuse, and one with ``%41`` a
    URL that logs in with another password (1045). The line says which characters to write percent-encoded (never
    the password), and the URL written as it says logs in."""
    result = _run(mariadb_server, "--database", "fediscope_t3", env={"FEDISCOPE_DB_PASSWORD": password})
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("FEDISCOPE_STORE="))
    assert line.endswith(f"   (*** = FEDISCOPE_DB_PASSWORD{note})"), line
    written = "".join(ENCODED.get(c, c) for c in password) if note else password
    store = open_store(line.split()[0].removeprefix("FEDISCOPE_STORE=").replace("***", written))
    try:
        store.write(METRIC, [{"tag": "python", "uses": 3}])
        assert store.get(METRIC, ["python"]) == {"tag": "python", "uses": 3}
    finally:
        store.close()


def test_the_store_url_keeps_an_ipv6_host_in_brackets() -> None:
    """Was: ``mysql+pymysql://fediscope:***@::1:3306/fediscope``, a URL whose host and port cannot be told apart."""
    assert bootstrap_module.store_url("mysql://root@[::1]:3306", "fediscope") == \
        "mysql+pymysql://fediscope:***@[::1]:3306/fediscope"
    assert bootstrap_module.store_url("mysql://root@db:3306", "fediscope") == \
        "mysql+pymysql://fediscope:***@db:3306/fediscope"


def test_store_tests_grant_what_the_bootstrap_grants() -> None:
    """The store tests run as a user with the writer's privileges; keep the two lists the same."""
    from doubles.mariadb import WRITER_PRIVILEGES

    sql = (INFRA / "bootstrap.sql").read_text()
    granted = next(s for s in bootstrap_module.statements(sql) if "TO ''fediscope''@" in s and "GRANT" in s)
    privileges = granted.split("GRANT ", 1)[1].split(" ON ", 1)[0]
    assert {p.strip() for p in privileges.split(",")} == {p.strip() for p in WRITER_PRIVILEGES.split(",")}


@pytest.mark.parametrize("greeting", [None, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", b"\x05\x00\x00\x00hello"],
                         ids=["silent", "ssh-banner", "short-packet"])
def test_an_admin_url_at_a_port_that_does_not_speak_mysql_is_one_clear_line(greeting: bytes | None) -> None:
    """Was: an --admin-url at a port that takes connections but never speaks MySQL (the namenode's 9870, the HBase
    Thrift 9090 by a slip) hung the bootstrap for good: PyMySQL's connect_timeout bounds the TCP connect only. And
    one whose service speaks first with something else ended in a traceback (struct.error) or PyMySQL's bare "Packet
    sequence number wrong". The opening is now the store's (fediscope.store.mysql.bounded_connection): one line, exit
    1, after the bootstrap's connect_timeout (10 s) at most."""
    with greeting_port(greeting, hold=15) as port:  # None: the kernel's backlog takes it, nothing answers
        result = subprocess.run([sys.executable, str(INFRA / "bootstrap.py"), "--admin-url",
                                 f"mysql://root:topsecret@127.0.0.1:{port}"], capture_output=True, text=True,
                                timeout=60, env={**os.environ, "FEDISCOPE_DB_PASSWORD": WRITER_PW})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("bootstrap: error: cannot connect as administrator") and len(
        result.stderr.splitlines()) == 1, result.stderr
    said = "gave no MySQL answer" if greeting is None else "answered something that is not a MySQL/MariaDB greeting"
    assert said in result.stderr and f"port {port}" in result.stderr and "topsecret" not in result.stderr
    assert "?." not in result.stderr, result.stderr  # the reason's question ends its sentence: "…service's? Check"
