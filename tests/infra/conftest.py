"""A throwaway MariaDB server on 127.0.0.1 for the infra tests (marker ``mariadb``; skipped without mariadbd).

It is started by the same :class:`doubles.mariadb.MariaDBServer` as the store tests' server, but as a server of
its own with root only: ``bootstrap.py`` creates a ``fediscope`` user on host ``%``, which the store tests'
``fediscope@127.0.0.1`` would shadow on a shared server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from doubles.mariadb import MariaDBServer, serve_mariadb


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    yield from serve_mariadb("fediscope-infra-mariadb-", test_user=False)
