"""The test setup's own MariaDB server (tests/doubles/mariadb.py): one that died is started again."""

from __future__ import annotations

import signal

import pytest
from doubles.mariadb import serve_mariadb
from sqlalchemy import create_engine, text


@pytest.mark.mariadb
def test_a_server_that_died_is_started_again_for_the_next_test(capsys) -> None:
    servers = serve_mariadb("fediscope-mariadb-restart-")
    server = next(servers)
    try:
        server.create_database("before")
        old_port = server.port
        server.process.send_signal(signal.SIGSEGV)  # as mariadbd crashing on its own
        server.process.wait(timeout=30)
        server.ensure_running()
        assert "exited with code" in capsys.readouterr().err
        url = server.create_database("after")  # a fresh, empty server
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
                databases = {row[0] for row in conn.execute(text("SHOW DATABASES"))}
        finally:
            engine.dispose()
        assert "after" in databases and "before" not in databases
        assert server.process.poll() is None and server.port
        server.ensure_running()  # alive: nothing done
        assert capsys.readouterr().err == "" and old_port
    finally:
        servers.close()


def test_a_long_temporary_directory_leaves_room_for_the_servers_socket(tmp_path, monkeypatch) -> None:
    """The test run works under a directory of its own inside TMPDIR (tests/conftest.py), which made a TMPDIR of
    more than about 30 characters too long for mariadbd's socket (107 bytes at most): the server would not start.
    No server is started here: the directory it would get is what is checked."""
    from doubles.mariadb import SOCKET_NAME, SOCKET_PATH_MAX, server_base

    long = tmp_path / ("t" * 60) / "fediscope-test-run-abcdefgh"
    long.mkdir(parents=True)
    monkeypatch.setattr("tempfile.tempdir", str(long))
    base = server_base("fediscope-infra-mariadb-")
    try:
        assert len(str(base / SOCKET_NAME).encode()) <= SOCKET_PATH_MAX
        assert base.is_dir() and base.name.startswith("fediscope-infra-mariadb-")
        assert list(long.iterdir()) == []  # the first try, too long, is not left behind
    finally:
        base.rmdir()
