"""A throwaway MariaDB server on 127.0.0.1 for the infra tests (marker ``mariadb``; skipped without mariadbd)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class MariaDB:
    port: int
    socket: str

    @property
    def admin_url(self) -> str:
        return f"mysql://root@localhost?unix_socket={self.socket}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)),
                                      None)


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server, install = _binary("mariadbd"), _binary("mariadb-install-db")
    if not server or not install:
        pytest.skip("mariadbd not installed (make system-deps, or apt-get install mariadb-server)")
    base = tmp_path_factory.mktemp("mariadb")
    data, sock, port = base / "data", str(base / "mysqld.sock"), _free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([install, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
                    "--skip-test-db", *user], check=True, capture_output=True, timeout=120)
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                                "--bind-address=127.0.0.1", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                                f"--pid-file={base / 'mysqld.pid'}", *user], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not Path(sock).exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mariadbd did not start: {(base / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield MariaDB(port, sock)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
