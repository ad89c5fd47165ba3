"""A MariaDB store opened while its server's ``max_allowed_packet`` is lowered for a test (set back afterwards, also
when the store could not be opened: the server serves this worker's later tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fediscope.store.port import MetricStore, open_store


@contextmanager
def store_with_packet(mariadb_instance: Any, mariadb_url: str, packet: int) -> Iterator[MetricStore]:
    """The store of ``mariadb_url`` on a server whose global ``max_allowed_packet`` is ``packet`` bytes meanwhile."""
    with mariadb_instance._root() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT @@global.max_allowed_packet")
        (before,) = cursor.fetchone()
        cursor.execute(f"SET GLOBAL max_allowed_packet = {packet}")
    try:
        opened = open_store(mariadb_url)
        try:
            yield opened
        finally:
            opened.close()
    finally:
        with mariadb_instance._root() as conn, conn.cursor() as cursor:
            cursor.execute(f"SET GLOBAL max_allowed_packet = {before}")
