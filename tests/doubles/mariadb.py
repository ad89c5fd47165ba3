"""A real MariaDB server for tests, started from Debian's ``mariadb-server`` binaries on 127.0.0.1.

The server gets its own data directory under a temporary folder (``mariadb-install-db``), listens on a free
port and a private socket, and is stopped and deleted when the test session ends. Nothing of a system-wide
installation (``/etc/mysql``, ``/var/lib/mysql``, the service) is used: every program runs with
``--no-defaults``. Tests connect as a ``fediscope`` user, not as root, each test in a database of its own.

When the binaries are missing the tests that need them are skipped, with a reason naming the package:
``make test`` installs it when run as root (``infra/scripts/install_system_deps.sh``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from doubles import free_port

USER, PASSWORD = "fediscope", "fediscope-test-password"
WRITER_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP"
MISSING = ("MariaDB tests SKIPPED: mariadbd / mariadb-install-db not found. Install Debian's package "
           "'mariadb-server' (apt-get install mariadb-server), or run `make test` as root, which installs it.")


def _binary(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f for f in fallbacks if os.access(f, os.X_OK)), None)


SOCKET_NAME = "mariadb.sock"

#: ``prctl``'s option that asks the kernel for a signal when the parent dies (linux/prctl.h)
_PR_SET_PDEATHSIG = 1


def _ends_with_this_process() -> Callable[[], None] | None:
    """What the server's process runs between fork and exec so that the kernel sends it SIGTERM (mariadbd's clean
    shutdown) when this test process dies: a run killed with SIGKILL cannot run its teardown, and its servers were
    left running, each holding a port and a data directory. None off Linux (there the teardown alone stops it).

    libc and ``prctl`` are looked up here, in the parent: the forked child must not import or take a lock another
    thread may have held at the fork. The signal is tied to the thread that starts the server (pytest's main
    thread)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_the_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # this process died before prctl: no signal will come
            os._exit(1)

    return in_the_child


class MariaDBServer:
    """``server = MariaDBServer(base).start(); url = server.create_database("t1"); server.stop()``.

    ``test_user=False`` leaves the server with root only (the infra tests create their own users with
    ``infra/mariadb/bootstrap.py``, connecting as root over :attr:`admin_url`).
    """

    def __init__(self, base: Path, test_user: bool = True) -> None:
        self.mariadbd = _binary("mariadbd", "/usr/sbin/mariadbd")
        self.install_db = _binary("mariadb-install-db", "/usr/bin/mariadb-install-db")
        self.base = base
        self.test_user = test_user
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def available(self) -> bool:
        return bool(self.mariadbd and self.install_db)

    @property
    def socket(self) -> str:
        return str(self.base / SOCKET_NAME)

    @property
    def admin_url(self) -> str:
        """root over the server's private socket, as ``bootstrap.py --admin-url`` takes it."""
        return f"mysql://root@localhost?unix_socket={self.socket}"

    def start(self, timeout: float = 60) -> MariaDBServer:
        assert self.mariadbd and self.install_db
        datadir, log = self.base / "data", self.base / "mariadb.log"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run([self.install_db, "--no-defaults", f"--datadir={datadir}", "--skip-test-db",
                        "--auth-root-authentication-method=normal", *as_root],
                       check=True, capture_output=True, timeout=120)
        self.port = free_port()
        self.process = subprocess.Popen(
            [self.mariadbd, "--no-defaults", f"--datadir={datadir}", f"--socket={self.socket}",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.base / 'mariadb.pid'}",
             f"--log-error={log}", "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
             "--innodb-flush-log-at-trx-commit=2", "--skip-log-bin", *as_root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_ends_with_this_process())
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._bootstrap()
                return self
            except Exception as exc:  # noqa: BLE001 — not accepting connections yet
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    self.stop()
                    raise RuntimeError(f"mariadbd did not start ({exc}); its log ends with:\n{tail}") from exc
                time.sleep(0.2)

    def ensure_running(self) -> None:
        """Start the server again when it died since the last test (mariadbd 10.11 segfaulted once in a CI
        rehearsal, on a DESCRIBE after a table rebuild; every later MariaDB test then failed to connect): the test
        that was running fails, with the server's log printed here; the tests after it get a fresh server."""
        if self.process is None or self.process.poll() is None:
            return
        code = self.process.returncode
        log = self.base / "mariadb.log"
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
        sys.stderr.write(f"\n*** mariadbd (port {self.port}) exited with code {code} during an earlier test; "
                         f"starting a fresh server. Its log ends with:\n{tail}\n")
        self.process = None
        shutil.rmtree(self.base / "data", ignore_errors=True)
        log.unlink(missing_ok=True)
        self.start()

    def _root(self):  # noqa: ANN202 — a pymysql connection
        import pymysql

        # no TLS: PyMySQL would make a TLS context for each (~40 ms of CPU), twice per test (its database's
        # creation and drop) and at every try while the server starts
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="", autocommit=True,
                               connect_timeout=2, ssl_disabled=True)

    def _bootstrap(self) -> None:
        with self._root() as conn, conn.cursor() as cur:
            if self.test_user:
                cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (USER, PASSWORD))
            else:
                cur.execute("SELECT 1")  # accepting connections

    def create_database(self, name: str) -> str:
        """A new, empty database the ``fediscope`` user owns; returns its SQLAlchemy URL."""
        with self._root() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin")
            # exactly what infra/mariadb/bootstrap.sql grants the pipeline's writer
            cur.execute(f"GRANT {WRITER_PRIVILEGES} ON `{name}`.* TO %s@'127.0.0.1'", (USER,))
        return f"mysql+pymysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{name}"

    def drop_database(self, name: str) -> None:
        with self._root() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


#: The longest path a Unix socket may have (``sun_path`` holds 108 bytes, its NUL included).
SOCKET_PATH_MAX = 107


def server_base(prefix: str) -> Path:
    """A fresh temporary directory for a server, in the temporary directory (the test run's own, which the run's
    guard checks), or in ``/tmp`` when the socket's path would be too long there: the run's directory lies under
    ``TMPDIR``, so a ``TMPDIR`` of more than about 30 characters left no room for the socket and mariadbd would not
    start."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    if len(os.fsencode(base / SOCKET_NAME)) <= SOCKET_PATH_MAX:
        return base
    base.rmdir()
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def serve_mariadb(prefix: str, **options: bool) -> Iterator[MariaDBServer]:
    """Start a server in a fresh short temp dir (a socket path has a length limit), yield it, tear it down.

    Skips the test, naming the missing Debian package, when mariadbd is not installed.
    """
    base = server_base(prefix)
    server = MariaDBServer(base, **options)
    if not server.available:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(MISSING)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_instance() -> Iterator[MariaDBServer]:
    """A MariaDB server for the whole session (started on first use); skipped when not installed."""
    yield from serve_mariadb("fediscope-mariadb-")


@pytest.fixture
def mariadb_url(mariadb_instance: MariaDBServer) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    mariadb_instance.ensure_running()
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield mariadb_instance.create_database(name)
    mariadb_instance.drop_database(name)
