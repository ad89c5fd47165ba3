"""HBase: a cell over the 10 MiB HBase takes by default (``hbase.client.keyvalue.maxsize``, and the region server's
``hbase.server.keyvalue.maxsize``) is refused before a write changes anything, saying what makes it so large.

The catalog entry lists every column of a metric (HBase tables have no column limit of their own) and holds its
question as given; a text value may be any length. Each was the Thrift server's ``IllegalArgumentException: KeyValue
size too large`` part-way: for the catalog, after every row of a first write was stored. The Thrift double refuses
such a put as ``HTable.put`` does (its own test here), so these writes would fail on it without the checks.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from doubles.hbase_thrift_server import MAX_KEY_VALUE_SIZE, HBaseThriftDouble
from happybase.connection import Hbase
from metric_header import metric

from fediscope.errors import ConfigError, StoreError
from fediscope.store.hbase import MAX_CELL_BYTES, HBaseStore, cell_bytes

TOP = metric("top", "account", rank="followers DESC")
ROWS = [{"account": "a", "followers": 3, "bio": "x"}, {"account": "b", "followers": 5, "bio": "y"}]
MIB = 1024 * 1024
#: what a refusal at the default cap says of it: the setting, and the URL option for a cluster that raised it
DEFAULT_CAP = "(hbase.client.keyvalue.maxsize; a cluster that raised it: max_cell_bytes= in the store URL)"
ILLEGAL_ARGUMENT = sys.modules[Hbase.__module__].IllegalArgument  # happybase's own Thrift module's


def test_the_double_refuses_a_cell_over_the_default_cap_as_htable_put_does(hbase_double, connection):
    connection.create_table("cells", {"f": {}})
    table = connection.table("cells")
    # 20 bytes and the row key, family and qualifier beside the value
    largest = MAX_KEY_VALUE_SIZE - 20 - len(b"r") - len(b"f") - len(b"q")
    table.put(b"r", {b"f:q": b"v" * largest})
    assert len(table.row(b"r")[b"f:q"]) == largest
    with pytest.raises(ILLEGAL_ARGUMENT) as error:
        table.put(b"r", {b"f:q": b"w" * (largest + 1), b"f:other": b"small"})
    assert error.value.message.splitlines()[0] == b"java.lang.IllegalArgumentException: KeyValue size too large"
    with pytest.raises(ILLEGAL_ARGUMENT), table.batch() as batch:  # mutateRows
        batch.put(b"s", {b"f:q": b"small"})
        batch.put(b"t", {b"f:q": b"w" * (largest + 1)})
    assert dict(table.scan()) == {b"r": {b"f:q": b"v" * largest}}  # nothing of the refused calls applied


def test_the_store_counts_a_cell_as_the_region_server_does():
    assert MAX_CELL_BYTES == MAX_KEY_VALUE_SIZE == 10 * MIB
    assert cell_bytes(b"top", b"c:question", b"q" * 10) == 24 + 3 + 1 + 8 + 10


def test_a_question_over_the_cell_cap_is_refused_before_anything_is_written(store, connection):
    asked = replace(TOP, question="q" * (10 * MIB))
    with pytest.raises(StoreError) as error:
        store.write(asked, ROWS)
    assert str(error.value) == (
        f"HBase at {store._address}: could not write metric top: its question would take {10 * MIB + 36:,} bytes in "
        "its catalog cell (c:question), over the 10,485,760 HBase takes in one cell by default "
        f"{DEFAULT_CAP}; shorten the '-- question:' line")
    assert store.stored_metrics() == {}
    assert connection.tables() == [b"-catalog"]  # no table made, no row written

    store.write(TOP, ROWS)
    generations = store.generations()
    for write in (lambda: store.write(asked, [{**ROWS[0], "followers": 9}]),
                  lambda: store.write(asked, [{**ROWS[0], "followers": 9}], replace=False),
                  lambda: store.write_changes(asked, [{**ROWS[0], "followers": 9}], [], 2)):
        with pytest.raises(StoreError, match=r"its question would take .* shorten the '-- question:' line"):
            write()
    assert store.generations() == generations  # not even a provisional generation
    assert store.all(TOP) == ROWS
    assert store.top(TOP, 1) == [ROWS[1]]


def test_a_definition_over_the_cell_cap_is_refused_before_anything_is_written(store, connection):
    # some 145,000 columns of 64-character names: HBase has no column limit, its catalog cell has one
    names = [f"{i:06d}".ljust(64, "c") for i in range(145_000)]
    wide = {"account": "a", "followers": 1, **dict.fromkeys(names, 1)}
    with pytest.raises(StoreError) as error:
        store.write(TOP, [wide])
    message = str(error.value)
    assert message.startswith(f"HBase at {store._address}: could not write metric top: its definition (its 145,002 "
                              "columns and their types, as JSON) would take ")
    assert message.endswith(" bytes in its catalog cell (c:definition), over the 10,485,760 HBase takes in one cell "
                            f"by default {DEFAULT_CAP}; select fewer columns or give them shorter names, or split it "
                            "into several metrics")
    assert store.stored_metrics() == {}
    assert connection.tables() == [b"-catalog"]


def test_a_text_value_over_the_cell_cap_is_refused_before_anything_is_written(store, connection):
    bio = "é" * (2 * MIB)  # 2 Mi characters, 12 MiB as JSON ("\u00e9" each)
    with pytest.raises(StoreError) as error:
        store.write(TOP, [ROWS[0], {**ROWS[1], "bio": bio}])
    size = 24 + len(b"\x00b\x00") + len(b"m:bio") - 1 + 6 * 2 * MIB + 2
    assert str(error.value) == (
        f"HBase at {store._address}: could not write metric top: the value of column 'bio' in the row of key ('b',) "
        f"would take {size:,} bytes in its cell (as JSON), over the 10,485,760 HBase takes in one cell by default "
        f"{DEFAULT_CAP}; shorten such values in the metric's SQL (left(…, n))")
    assert store.stored_metrics() == {}
    assert connection.tables() == [b"-catalog"]
    store.write(TOP, ROWS)
    with pytest.raises(StoreError, match="the value of column 'bio' in the row of key \\('b',\\)"):
        store.write(TOP, [{**ROWS[1], "bio": bio}], replace=False)
    assert store.all(TOP) == ROWS


def test_a_cluster_that_raised_its_cap_is_given_it_in_the_store_url(prefix):
    """Was: refused at 10 MiB whatever the cluster took (``MAX_CELL_BYTES`` fixed). ``max_cell_bytes`` moves the
    store's refusal to the cluster's cap, upwards (a cell the cluster takes is written) and downwards (a cell it
    would refuse part-way is refused before anything is written)."""
    with HBaseThriftDouble() as hbase:
        hbase.handler.max_key_value_size = 12 * MIB  # hbase.client.keyvalue.maxsize raised on the cluster
        store = HBaseStore(f"{hbase.url}?max_cell_bytes={12 * MIB}", table_prefix=prefix)
        bio = "b" * (11 * MIB)
        store.write(TOP, [ROWS[0], {**ROWS[1], "bio": bio}])
        assert store.all(TOP) == [ROWS[0], {**ROWS[1], "bio": bio}]
        over = "c" * (12 * MIB)
        with pytest.raises(StoreError) as error:
            store.write(TOP, [{**ROWS[1], "bio": over}], replace=False)
        size = 24 + len(b"\x00b\x00") + len(b"m:bio") - 1 + 12 * MIB + 2
        assert str(error.value) == (
            f"HBase at {store._address}: could not write metric top: the value of column 'bio' in the row of key "
            f"('b',) would take {size:,} bytes in its cell (as JSON), over the 12,582,912 the store URL's "
            "max_cell_bytes lets a cell take (the cluster's hbase.client.keyvalue.maxsize); shorten such values in "
            "the metric's SQL (left(…, n))")
        assert store.all(TOP)[1]["bio"] == bio

        hbase.handler.max_key_value_size = 2 * MIB  # a cluster that lowered it
        lowered = HBaseStore(f"{hbase.url}?max_cell_bytes={2 * MIB}", table_prefix=prefix)
        with pytest.raises(StoreError, match=r"its question would take 3,145,764 bytes in its catalog cell "
                                             r"\(c:question\), over the 2,097,152 the store URL's max_cell_bytes"):
            lowered.write(replace(TOP, question="q" * (3 * MIB)), ROWS)
        assert lowered.all(TOP) == [ROWS[0], {**ROWS[1], "bio": bio}]  # nothing written


@pytest.mark.parametrize("value", ["10MiB", "1e7", "10_000_000", "-1", "", "20", "10240", str(MIB - 1),
                                   str(2**31), "١٠٠٠٠٠٠٠"])
def test_a_cap_that_is_no_whole_number_of_bytes_in_range_is_a_one_line_error(value):
    with pytest.raises(ConfigError) as error:
        HBaseStore(f"hbase://h:9090?max_cell_bytes={value}")
    assert str(error.value) == (
        f"the store URL 'hbase://h:9090?max_cell_bytes={value}' has option max_cell_bytes={value}, which is not a "
        "whole number of bytes from 1048576 (1 MiB) to 2147483647 (the cluster's hbase.client.keyvalue.maxsize; "
        "10485760 by default)")
