"""A MariaDB store sends the rows and stale keys of a write in statements its server's ``max_allowed_packet`` takes,
however low it is set (:mod:`fediscope.store.packets`).

PyMySQL folds an ``executemany``'s rows into ``INSERT``\\ s of up to 1,024,000 bytes, and the store deleted stale keys
a thousand at a time: a server whose ``max_allowed_packet`` is below that refused such a statement (1153, seen as 2006
``MySQL server has gone away`` or 2013 ``Lost connection``) though every row fits, the store's own check of each row
(tests/store/test_mariadb_packet_size.py) passing it. Here the server's value is lowered to 64 KiB for the test (set
back afterwards), and rows of some 200 bytes make a thousand of them some 200 KB.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mariadb_packet import store_with_packet
from metric_header import metric

from fediscope.store.port import MetricStore

pytestmark = pytest.mark.mariadb

PACKET = 64 * 1024
W = metric("w", "k")


@pytest.fixture
def store(mariadb_instance, mariadb_url: str) -> Iterator[MetricStore]:  # noqa: ANN001
    """A store of a server whose max_allowed_packet is 64 KiB (set back afterwards)."""
    with store_with_packet(mariadb_instance, mariadb_url, PACKET) as opened:
        yield opened


def test_the_rows_of_a_write_are_folded_into_inserts_the_server_takes(store: MetricStore) -> None:
    rows = [{"k": i, "v": f"{i:04d}" + "v" * 200} for i in range(2000)]  # some 420 KB as one folded INSERT
    store.write(W, rows)  # a first write: the table loaded
    assert store.all(W) == rows
    more = [{"k": i, "v": f"{i:04d}" + "w" * 200} for i in range(1000, 3000)]
    store.write(W, more, replace=False)  # rows upserted into the table kept
    assert store.all(W) == rows[:1000] + more


def test_the_stale_keys_of_a_write_are_deleted_in_statements_the_server_takes(store: MetricStore) -> None:
    rows = [{"k": f"{i:04d}" + "k" * 200, "v": i} for i in range(1500)]  # 1,000 keys: some 210 KB in one DELETE
    for start in range(0, len(rows), 200):  # INSERTs of some 45 KB, whatever PyMySQL folds
        store.write(W, rows[start:start + 200], replace=False)
    assert store.stored_metrics() == {"w": 1500}
    store.write(W, rows[:1])  # the other 1,499 rows are stale
    assert store.all(W) == rows[:1]
    store.write(W, rows[:700], replace=False)
    assert store.write_changes(W, [], [(row["k"],) for row in rows[1:700]], 1) is not None
    assert store.all(W) == rows[:1]
