"""A MariaDB store refuses, before it changes anything, a row of a write from Python (rows as dicts, no Arrow table)
whose values InnoDB refuses to store (errno 1118, ``Row size too large``), with the message ``fediscope process``
gives such a row of its result (:func:`fediscope.engine.metrics.check_row_values_size`). Was: refused by the
server at the INSERT, after a write keeping the stored rows (``replace=False``) had added its new columns to the
table and given the catalog entry a provisional generation, or after a first write had created ``_new_<metric>``
(left behind). Each text value of up to 40 bytes stays in the row (41 bytes with its length): 200 of them pass
the table's own check (21 bytes a column) but not the INSERT."""

from __future__ import annotations

import pytest
from metric_header import metric
from test_mariadb_merged_row_size import _columns

from fediscope.errors import MetricFileError
from fediscope.store.port import open_store

pytestmark = pytest.mark.mariadb

WIDE = metric("u", "k")
TEXTS = [f"t{i}" for i in range(198)]


def _refused(key: int, size: int) -> str:
    return (f"metric u (spark_jobs/sql/u.sql): the row k={key} takes at least {size:,} bytes in a MariaDB table (a "
            "text value its length up to 40 bytes, 22 when longer; a number 8), and InnoDB refuses a row of 8,126 "
            "bytes or more; select fewer columns, or split it into several metrics, or shorten its text values")


def _row(key: int, last: int) -> dict[str, object]:
    """A row of 196 text values of 40 bytes, one of ``last`` bytes and a NULL: 51 + 196 x 41 + ``last`` + 1 bytes."""
    return {"k": key, **dict.fromkeys(TEXTS[:196], "y" * 40), TEXTS[196]: "z" * last, TEXTS[197]: None}


def test_an_appended_row_too_large_is_refused_before_the_table_is_altered(mariadb_url: str) -> None:
    store = open_store(mariadb_url)
    stored = {"k": 1, **dict.fromkeys(TEXTS[:100], "x")}
    appended = {"k": 2, **dict.fromkeys(TEXTS, "y" * 40)}  # 51 + 198 x 41 bytes
    try:
        store.write(WIDE, [stored])
        generation = store.generation("u")
        with pytest.raises(MetricFileError) as refused:
            store.write(WIDE, [appended], replace=False)
        assert str(refused.value) == _refused(2, 8_169)
        with pytest.raises(MetricFileError) as refused:  # a known difference alike
            store.write_changes(WIDE, [appended], [], 2)
        assert str(refused.value) == _refused(2, 8_169)
        assert store.generation("u") == generation
        assert store.all(WIDE) == [stored]
    finally:
        store.close()
    assert list(_columns(mariadb_url)) == ["k", *TEXTS[:100]]  # not altered


def test_a_row_is_refused_exactly_when_the_server_would_refuse_it(mariadb_url: str) -> None:
    """8,125 bytes are stored, 8,126 refused: on a first write before ``_new_u`` is created, and by a table that holds
    every column already (nothing to alter: was refused by the INSERT all the same)."""
    store = open_store(mariadb_url)
    try:
        with pytest.raises(MetricFileError) as refused:
            store.write(WIDE, [_row(1, 37), _row(2, 38)])
        assert str(refused.value) == _refused(2, 8_126)
        assert store.stored_metrics() == {} and store.unlisted_metrics() == {}
        store.write(WIDE, [_row(1, 37)])
        generation = store.generation("u")
        with pytest.raises(MetricFileError) as refused:
            store.write(WIDE, [_row(2, 38)], replace=False)
        assert str(refused.value) == _refused(2, 8_126)
        assert store.generation("u") == generation and store.unlisted_metrics() == {}
        assert store.all(WIDE) == [_row(1, 37)]
        store.write(WIDE, [_row(2, 37)], replace=False)
        assert store.all(WIDE) == [_row(1, 37), _row(2, 37)]
    finally:
        store.close()
