"""A throwaway MariaDB server on 127.0.0.1 for the infra tests (marker ``mariadb``; skipped without mariadbd).

It is started by the same :class:`doubles.mariadb.MariaDBServer` as the store tests' server, but as a server of
its own with root only: ``bootstrap.py`` creates a ``fediscope`` user on host ``%``, which the store tests'
``fediscope@127.0.0.1`` would shadow on a shared server.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from doubles.mariadb import MISSING, MariaDBServer


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    base = Path(tempfile.mkdtemp(prefix="fediscope-infra-mariadb-"))  # short: a socket path has a length limit
    server = MariaDBServer(base, test_user=False)
    if not server.available:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(MISSING)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
