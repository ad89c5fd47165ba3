"""The test setup's own MariaDB server (tests/doubles/mariadb.py): one that died is started again."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from child_process import child
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


_STARTS_A_SERVER_AND_WAITS = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from doubles.mariadb import MariaDBServer
server = MariaDBServer(Path(sys.argv[2])).start()
print(server.process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no longer does: whoever adopted it may not reap it at once)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.mariadb
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_test_process_killed_outright_does_not_leave_its_server_running() -> None:
    """A run killed with SIGKILL cannot run its teardown: its servers were left running (each holding a port and a
    data directory). The kernel now stops a server when the test process that started it dies."""
    from doubles.mariadb import MISSING, MariaDBServer, server_base

    base = server_base("fediscope-mariadb-orphan-")
    if not MariaDBServer(base).available:
        base.rmdir()
        pytest.skip(MISSING)
    server_pid = 0
    with child([sys.executable, "-c", _STARTS_A_SERVER_AND_WAITS, str(Path(__file__).parents[1]), str(base)]) as test:
        try:
            assert test.stdout is not None
            server_pid = int(test.stdout.readline() or 0)
            assert server_pid and _alive(server_pid), test.stderr.read() if test.stderr else ""
            test.kill()
            test.wait()
            deadline = time.monotonic() + 30
            while _alive(server_pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(server_pid), "mariadbd still runs after the test process that started it was killed"
        finally:
            if server_pid and _alive(server_pid):
                os.kill(server_pid, signal.SIGKILL)
            shutil.rmtree(base, ignore_errors=True)
