"""HBase over a framed Thrift server: each call is one frame, and the server refuses a frame over its
``hbase.regionserver.thrift.framed.max_frame_size_in_mb`` (2 MiB by default) by closing the connection. The store's
batches were counted in cells only (a thousand), so a write of rows of some 10 KB, or of a row whose cells make more
than a frame, failed part-way; now each call stays within the limit (the URL's ``max_frame_bytes``), and a cell that
cannot fit a frame alone is refused before anything is written (:mod:`fediscope.store.hbase_frames`). The Thrift double
refuses an oversized frame as the server does (its own test here), so these writes would fail on it without that."""

from __future__ import annotations

import json
from dataclasses import replace

import happybase
import pytest
from doubles.hbase_thrift_server import MAX_FRAME_BYTES, HBaseThriftDouble
from metric_header import metric
from thriftpy2.transport import TTransportException

from fediscope.errors import ConfigError, StoreError
from fediscope.store.hbase import HBaseStore
from fediscope.store.hbase_frames import (
    FramedBatch,
    FrameTooSmall,
    call_bytes,
    columns_bytes,
    key_batches,
    key_bytes,
    lone_put_bytes,
    put_bytes,
    row_bytes,
)
from fediscope.store.hbase_schema import catalog_table
from fediscope.store.rowkeys import encode_key, encode_rank

TOP = metric("top", "account", rank="followers DESC")
MIB = 1024 * 1024
DEFAULT_FRAME = ("over the 2,097,152 a framed Thrift server takes in one frame by default "
                 "(hbase.regionserver.thrift.framed.max_frame_size_in_mb, 2; a server that raised it: "
                 "max_frame_bytes= in the store URL)")


def test_the_double_refuses_a_frame_over_its_limit_by_closing_the_connection():
    with HBaseThriftDouble(transport="framed") as server:
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed", autoconnect=True)
        connection.create_table("cells", {"f": {}})
        table = connection.table("cells")
        table.put(b"r", {b"f:q": b"v" * (MAX_FRAME_BYTES - 200)})
        with pytest.raises((TTransportException, OSError)), table.batch() as batch:
            batch.put(b"s", {b"f:q": b"small"})
            batch.put(b"t", {b"f:q": b"w" * MAX_FRAME_BYTES})
        assert server.refused_frames == [call_bytes(b"cells") + row_bytes(b"s") + put_bytes(b"f:q", b"small")
                                         + row_bytes(b"t") + put_bytes(b"f:q", b"w" * MAX_FRAME_BYTES)]
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed")
        assert [key for key, _ in connection.table("cells").scan()] == [b"r"]  # nothing of the call applied


@pytest.mark.parametrize("protocol", ["binary", "compact"])
def test_a_frame_of_exactly_the_limit_is_sent_and_one_byte_more_splits_the_batch(protocol):
    """The store counts a call's bytes as the binary protocol writes them (the compact one writes fewer)."""
    with HBaseThriftDouble(transport="framed", protocol=protocol, max_frame_bytes=MIB) as server:
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed", protocol=protocol)
        connection.create_table("cells", {"f": {}})
        table = connection.table("cells")
        fixed = call_bytes(b"cells") + row_bytes(b"r1") + row_bytes(b"r2") + put_bytes(b"f:a", b"") + put_bytes(
            b"f:b", b"")
        for extra in (0, 1):
            calls = server.calls["mutateRows"]
            with FramedBatch(table, 1000, MIB) as batch:
                batch.put(b"r1", {b"f:a": b"a" * 1000})
                batch.put(b"r2", {b"f:b": b"b" * (MIB - fixed - 1000 + extra)})
            assert server.calls["mutateRows"] - calls == 1 + extra
        assert server.refused_frames == []
        if protocol == "binary":
            assert server.frames[-3] == MIB  # exactly the limit: taken
        assert len(table.row(b"r2")[b"f:b"]) == MIB - fixed - 1000 + 1


@pytest.mark.parametrize("protocol", ["binary", "compact"])
def test_a_write_larger_than_a_frame_is_sent_in_calls_the_server_takes(protocol, prefix):
    """250 rows of 10 KB make a batch of a thousand cells of 2.5 MB. A row of two 1.5 MB values is more than a frame
    itself: it is refused before anything is written (was: written over two calls, which HBase does not apply as one:
    :func:`test_a_row_larger_than_a_frame_is_refused_before_anything_is_written`)."""
    with HBaseThriftDouble(transport="framed", protocol=protocol) as server:
        store = HBaseStore(server.url, table_prefix=prefix)
        rows = [{"account": f"a{i:04d}", "followers": i, "bio": "b" * 10_000, "note": "n"} for i in range(600)]
        big = {"account": "big", "followers": -1, "bio": "x" * 1_500_000, "note": "y" * 1_500_000}
        with pytest.raises(StoreError, match=r"could not write metric top: the row of key \('big',\) would take "
                                             r"3,000,\d+ bytes in one Thrift call"):
            store.write(TOP, [*rows, big])
        assert store.stored_metrics() == {} and server.calls["mutateRows"] == 0
        store.write(TOP, rows)
        assert server.refused_frames == [] and max(server.frames) <= MAX_FRAME_BYTES
        assert store.all(TOP) == sorted(rows, key=lambda row: row["account"])
        assert [row["account"] for row in store.top(TOP, 2)] == ["a0599", "a0598"]
        changed = [{**row, "bio": "c" * 10_000} for row in rows[:300]]
        assert store.write_changes(TOP, changed, [(row["account"],) for row in rows[300:]], 300) is not None
        assert store.all(TOP) == changed


def test_a_value_that_fits_no_frame_is_refused_before_anything_is_written(prefix):
    with HBaseThriftDouble(transport="framed") as server:
        store = HBaseStore(server.url, table_prefix=prefix)
        rows = [{"account": "a", "followers": 1, "bio": "x"}]
        store.write(TOP, rows)
        over = "b" * MAX_FRAME_BYTES  # a 2 MiB cell, under the 10 MiB HBase takes in a cell
        with pytest.raises(StoreError) as error:
            store.write(TOP, [{"account": "b", "followers": 2, "bio": over}], replace=False)
        size = lone_put_bytes(f"{prefix}_top".encode(), b"\x00b\x00", b"m:bio", f'"{over}"'.encode())
        assert str(error.value) == (
            f"HBase at {store._address}: could not write metric top: the value of column 'bio' in the row of key "
            f"('b',) would take {size:,} bytes in one Thrift call (as JSON, alone in it), {DEFAULT_FRAME}; shorten "
            "such values in the metric's SQL (left(…, n))")
        assert store.all(TOP) == rows and server.refused_frames == []


def _row_frame(table: bytes, row: dict) -> int:
    """The bytes of the call putting a row of TOP alone: its row key, each column's value as JSON, its rank entry's
    row key (``i:rank``)."""
    key = encode_key([row["account"]], ["str"])
    cells = {f"m:{name}".encode(): json.dumps(value).encode() for name, value in row.items()}
    cells[b"i:rank"] = encode_rank(row["followers"], "int", True) + key
    return call_bytes(table) + row_bytes(key) + sum(put_bytes(column, value) for column, value in cells.items())


def test_a_row_of_exactly_a_frame_is_written_in_one_call_and_one_byte_more_is_refused(prefix):
    """A row's cells go in one ``mutateRows`` call, which HBase applies whole; the largest row the store takes is one
    whose call is exactly the frame limit, and a byte more is refused before anything is written, naming the row,
    its bytes and the limit. Was: written over two calls (the cell that went over in the second), not atomically."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        store = HBaseStore(f"{server.url}&max_frame_bytes={MIB}", table_prefix=prefix)
        first = {"account": "a", "followers": 1, "bio": "x"}
        store.write(TOP, [first])
        table = f"{prefix}_top".encode()
        empty = {"account": "b", "followers": 2, "bio": ""}
        fits = {**empty, "bio": "é" * ((MIB - _row_frame(table, empty)) // 6)}  # JSON writes é in 6 bytes: \u00e9
        fits["bio"] += "y" * (MIB - _row_frame(table, fits))
        assert _row_frame(table, fits) == MIB
        over = {**fits, "bio": fits["bio"] + "y"}
        with pytest.raises(StoreError) as refused:
            store.write(TOP, [over], replace=False)
        bio = len(json.dumps(over["bio"]))
        assert str(refused.value) == (
            f"HBase at {store._address}: could not write metric top: the row of key ('b',) would take {MIB + 1:,} "
            f"bytes in one Thrift call (its 4 cells as JSON; its largest, column 'bio', {bio:,} bytes), over the "
            f"{MIB:,} the store URL's max_frame_bytes lets a frame take (the Thrift server's "
            "hbase.regionserver.thrift.framed.max_frame_size_in_mb); a row is written in one call, which HBase applies "
            "whole (over several, a write that stopped between them left it half-written); shorten such values in the "
            "metric's SQL (left(…, n))")
        assert store.all(TOP) == [first]
        store.write(TOP, [fits], replace=False)
        assert server.refused_frames == [] and server.frames.count(MIB) == 1  # the row, whole, in one call
        assert store.all(TOP) == [first, fits] and store.top(TOP, 1) == [fits]


def test_a_value_of_exactly_a_frame_alone_is_refused_as_its_row_and_one_byte_more_as_the_value(prefix):
    """The least frame a value needs is its cell's call alone (:func:`lone_put_bytes`); at exactly the limit, the
    row's other cells take it over: the row is refused; a byte more, the value itself."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        store = HBaseStore(f"{server.url}&max_frame_bytes={MIB}", table_prefix=prefix)
        table, key = f"{prefix}_top".encode(), encode_key(["b"], ["str"])
        bio = "z" * (MIB - lone_put_bytes(table, key, b"m:bio", b'""'))
        assert lone_put_bytes(table, key, b"m:bio", json.dumps(bio).encode()) == MIB
        with pytest.raises(StoreError, match=r"could not write metric top: the row of key \('b',\) would take [\d,]+ "
                                             r"bytes in one Thrift call \(its 4 cells as JSON"):
            store.write(TOP, [{"account": "b", "followers": 2, "bio": bio}])
        with pytest.raises(StoreError, match=rf"could not write metric top: the value of column 'bio' in the row of "
                                             rf"key \('b',\) would take {MIB + 1:,} bytes in one Thrift call \(as "
                                             rf"JSON, alone in it\)"):
            store.write(TOP, [{"account": "b", "followers": 2, "bio": bio + "z"}])
        assert store.stored_metrics() == {} and server.calls["mutateRows"] == 0


def test_a_batch_sends_a_row_that_does_not_fit_beside_the_others_whole_in_the_next_call():
    """Was: the call was sent at the first cell that did not fit, the row's cells before it in that call, the others
    in the next (HBase applied them as two mutations of the row)."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed")
        connection.create_table("cells", {"f": {}})
        table = connection.table("cells")
        half = b"h" * (MIB // 2)
        first = call_bytes(b"cells") + row_bytes(b"r1") + put_bytes(b"f:a", half)
        second = call_bytes(b"cells") + row_bytes(b"r2") + put_bytes(b"f:b", b"b") + put_bytes(b"f:c", half)
        with FramedBatch(table, 1000, MIB) as batch:
            batch.put(b"r1", {b"f:a": half})
            batch.put(b"r2", {b"f:b": b"b", b"f:c": half})  # f:b fits beside r1, f:c does not
        assert server.frames[-2:] == [first, second] and server.refused_frames == []
        assert table.row(b"r2") == {b"f:b": b"b", b"f:c": half}
        with pytest.raises(FrameTooSmall) as refused, FramedBatch(table, 1000, MIB) as batch:
            batch.put(b"r3", {b"f:a": half, b"f:b": half})
        assert (refused.value.row, refused.value.column, refused.value.size) == (
            b"r3", b"f:a", call_bytes(b"cells") + row_bytes(b"r3") + 2 * put_bytes(b"f:a", half))
        assert table.row(b"r3") == {}


def test_a_catalog_entry_that_fits_no_frame_is_refused_before_any_row_is_written(prefix):
    """Was: every row of the first write stored, then the catalog's put refused (the connection closed): rows no
    catalog entry lists."""
    with HBaseThriftDouble(transport="framed") as server:
        store = HBaseStore(server.url, table_prefix=prefix)
        with pytest.raises(StoreError, match=r"could not write metric top: its catalog entry \(its definition [\d,]+ "
                                             r"bytes, its question 2,097,152\) would take [\d,]+ bytes in one Thrift "
                                             r"call, over the 2,097,152 a framed Thrift server takes"):
            store.write(replace(TOP, question="q" * MAX_FRAME_BYTES), [{"account": "a", "followers": 1}])
        assert store.stored_metrics() == {} and f"{prefix}_top" not in {
            name.decode() for name in server.handler.tables}


def test_a_server_that_raised_its_frame_limit_is_given_it_in_the_store_url(prefix):
    with HBaseThriftDouble(transport="framed", max_frame_bytes=4 * MIB) as server:
        store = HBaseStore(f"{server.url}&max_frame_bytes={4 * MIB}", table_prefix=prefix)
        rows = [{"account": "a", "followers": 1, "bio": "b" * (3 * MIB)}]
        store.write(TOP, rows)
        assert store.all(TOP) == rows and max(server.frames) > MAX_FRAME_BYTES
        with pytest.raises(StoreError, match=r"in one Thrift call \(as JSON, alone in it\), over the 4,194,304 the "
                                             r"store URL's max_frame_bytes lets a frame take \(the Thrift server's "
                                             r"hbase.regionserver.thrift.framed.max_frame_size_in_mb\)"):
            store.write(TOP, [{**rows[0], "bio": "c" * (4 * MIB)}])


@pytest.mark.parametrize(("query", "problem"), [
    ("transport=framed&max_frame_bytes=2", "has option max_frame_bytes=2, which is not a whole number of bytes from "
     "1048576 (1 MiB) to 2147483647 (the Thrift server's hbase.regionserver.thrift.framed.max_frame_size_in_mb, in "
     "bytes; 2097152 by default)"),
    ("max_frame_bytes=4194304", "has option max_frame_bytes=4194304 with transport=buffered: it is the frame limit of "
     "a framed Thrift server; give transport=framed too, or leave it out")])
def test_a_frame_limit_that_cannot_be_used_is_a_one_line_error(query, problem):
    with pytest.raises(ConfigError) as error:
        HBaseStore(f"hbase://h:9090?{query}")
    assert str(error.value) == f"the store URL 'hbase://h:9090?{query}' {problem}"


# -- reads: a getRows call is a frame too ---------------------------------------------------------------------------

WIDE = metric("wide", "account, server", rank="followers DESC")
#: 255 characters of four bytes each: a key column's longest text, so that a row key takes some 2 KB
SERVER = "🐘" * 255


def _wide_rows(count: int) -> list[dict]:
    return [{"account": "🦣" * 250 + f"{i:05d}", "server": SERVER, "followers": i} for i in range(count)]


def _by_key(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: (row["account"], row["server"]))


def test_the_double_refuses_a_read_over_its_frame_limit_too():
    """A ``getRowsWithColumns`` of many long keys, counted as :func:`key_batches` counts it."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed")
        connection.create_table("cells", {"f": {}})
        keys = [b"k" * 2000 + str(i).encode() for i in range(600)]
        with pytest.raises((TTransportException, OSError)):
            connection.table("cells").rows(keys, columns=[b"f:q"])
        assert server.refused_frames == [call_bytes(b"cells", "getRowsWithColumns") + columns_bytes([b"f:q"])
                                         + sum(map(key_bytes, keys))]


@pytest.mark.parametrize("protocol", ["binary", "compact"])
def test_keys_of_exactly_a_frame_are_read_in_one_call_and_one_byte_more_in_two(protocol):
    with HBaseThriftDouble(transport="framed", protocol=protocol, max_frame_bytes=MIB) as server:
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed", protocol=protocol)
        connection.create_table("cells", {"f": {}})
        table = connection.table("cells")
        table.put(b"a", {b"f:q": b"1"})
        fixed = call_bytes(b"cells", "getRowsWithColumns") + columns_bytes([b"f:q"])
        # the other keys fill the frame, each within the 32,767 bytes HBase takes in a row key (a longer one is
        # refused: Internal error processing getRowsWithColumns)
        fill = MIB - fixed - key_bytes(b"a")
        count = fill // 32_000 + 1
        length, longer = divmod(fill - key_bytes(b"") * count, count)
        lengths = [length + (i < longer) for i in range(count)]
        for extra in (0, 1):
            keys = [b"a", *(b"b%03d" % i + b"b" * (n - 4) for i, n in enumerate(lengths))]
            keys[-1] += b"b" * extra
            assert max(map(len, keys)) <= 32767 and sum(map(key_bytes, keys)) + fixed == MIB + extra
            batches = list(key_batches(b"cells", keys, [b"f:q"], 1000, MIB))
            assert batches == ([keys] if not extra else [keys[:-1], keys[-1:]])
            assert [key for batch in batches for key, _ in table.rows(batch, columns=[b"f:q"])] == [b"a"]
        assert server.refused_frames == []
        if protocol == "binary":
            assert MIB in server.frames  # exactly the limit: taken
    assert list(key_batches(b"t", [b"a", b"b", b"c"], None, 2, None)) == [[b"a", b"b"], [b"c"]]


def test_keys_read_without_columns_are_counted_as_the_call_happybase_sends():
    """happybase's ``rows`` without columns sends a ``getRowsWithColumns`` all the same (its ``columns`` left out):
    was counted as a ``getRows``, 11 bytes short, so keys 1 to 11 bytes over a frame went in one call."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed")
        connection.create_table("cells", {"f": {}})
        table = connection.table("cells")
        table.put(b"a", {b"f:q": b"1"})
        # keys of at most the 32,767 bytes HBase takes, one byte over a frame in all: the last one goes alone
        fixed, each = call_bytes(b"cells", "getRowsWithColumns"), key_bytes(b"")
        over = MIB - fixed - key_bytes(b"a") + 1  # the keys' bytes after "a"
        count = -(-over // 32_000)  # keys of about 32,000 bytes each in the call (their length's 4 included)
        sizes = [over // count] * (count - 1) + [over - over // count * (count - 1)]
        keys = [b"a", *(b"%06d" % n + b"b" * (size - each - 6) for n, size in enumerate(sizes))]
        assert sum(map(key_bytes, keys)) + fixed == MIB + 1 and max(map(len, keys)) <= 32_767
        batches = list(key_batches(b"cells", keys, None, 1000, MIB))
        assert batches == [keys[:-1], keys[-1:]]
        assert [key for batch in batches for key, _ in table.rows(batch)] == [b"a"]
        assert server.refused_frames == []


def test_a_write_reads_the_stored_ranks_of_long_keys_in_calls_the_server_takes(prefix):
    """Was: one ``getRowsWithColumns`` of the write's (up to a thousand) keys, 1.2 MB here: the connection closed, the
    write failed before it changed anything."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        store = HBaseStore(f"{server.url}&max_frame_bytes={MIB}", table_prefix=prefix)
        rows = _wide_rows(600)
        store.write(WIDE, rows)
        changed = [{**row, "followers": row["followers"] + 1000} for row in rows]
        store.write(WIDE, changed)
        assert server.refused_frames == [] and max(server.frames) <= MIB
        assert server.calls["getRowsWithColumns"] >= 4  # two calls a write at least
        assert _by_key(store.all(WIDE)) == _by_key(changed)


def test_top_reads_a_page_of_long_keys_in_calls_the_server_takes(prefix):
    """Was: one ``getRowsWithColumns`` of a page's keys, however many (600 of some 2 KB here)."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        # written a hundred keys a call (each call under the limit), read by a store of the default thousand
        HBaseStore(f"{server.url}&max_frame_bytes={MIB}&batch_size=100", table_prefix=prefix).write(
            WIDE, rows := _wide_rows(600))
        store = HBaseStore(f"{server.url}&max_frame_bytes={MIB}", table_prefix=prefix)
        assert store.top(WIDE, 600) == sorted(rows, key=lambda row: -row["followers"])
        assert server.refused_frames == [] and max(server.frames) <= MIB


def test_a_sweep_reads_the_data_rows_of_long_keys_in_calls_the_server_takes(prefix):
    """The sweep after an interrupted write (:meth:`HBaseStore._sweep`) reads each rank entry's data row, a thousand
    entries a call: was one call of 600 keys of some 2 KB here."""
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        HBaseStore(f"{server.url}&max_frame_bytes={MIB}&batch_size=100", table_prefix=prefix).write(
            WIDE, rows := _wide_rows(600))
        # what a write stopped after its rank puts leaves: the mark, and an entry no data row points at
        connection = happybase.Connection("127.0.0.1", server.port, transport="framed")
        connection.table(catalog_table(prefix)).put(b"wide", {b"c:rank_pending": b"1"})
        index = connection.table(f"{prefix}_wide-rank")
        entries = {key for key, _ in index.scan()}
        orphan = b"\x01" + b"\x00" * 8 + b"left behind"
        index.put(orphan, {b"r:row": b"\x00no such row"})
        store = HBaseStore(f"{server.url}&max_frame_bytes={MIB}", table_prefix=prefix)
        store.write(WIDE, rows)
        assert {key for key, _ in index.scan()} == entries  # the orphan swept, nothing else
        assert connection.table(catalog_table(prefix)).row(b"wide")[b"c:rank_pending"] == b"0"
        assert server.refused_frames == [] and max(server.frames) <= MIB
        assert store.top(WIDE, 3) == sorted(rows, key=lambda row: -row["followers"])[:3]


def test_a_lookup_or_position_over_a_frame_is_answered_without_a_call(prefix):
    """A looked-up value, a prefix or a page's position is whatever the caller gives; one of more bytes than a frame
    takes made a call the server refused by closing the connection ("could not read tags: TSocket read 0 bytes"),
    where the SQL stores answer that nothing matches. No stored row key is over 32,767 bytes, so a lookup of a
    longer one is answered without asking, and a position so long reads on from the first row key after it."""
    huge = "x" * (2 * MIB)
    tags = metric("tags", "day, tag", rank="uses DESC")
    with HBaseThriftDouble(transport="framed", max_frame_bytes=MIB) as server:
        store = HBaseStore(f"{server.url}&max_frame_bytes={MIB}", table_prefix=prefix)
        store.write(tags, [{"day": day, "tag": tag, "uses": uses}
                           for day in ("x", "y") for uses, tag in enumerate(("a", "y", "z"))])
        assert store.get(tags, ["x", huge]) is None
        assert store.scan_prefix(tags, huge) == []
        assert [r["tag"] for r in store.scan_prefix(tags, "x", after={"day": "x", "tag": huge})] == ["y", "z"]
        assert [(r["day"], r["tag"]) for r in store.top(tags, 3, after={"day": "x", "tag": huge, "uses": 1})] == [
            ("x", "y"), ("y", "y"), ("x", "a")]
        assert [(r["day"], r["tag"]) for r in store.top(tags, 2, after={"day": huge, "tag": "a", "uses": 2})] == [
            ("y", "z"), ("x", "y")]
        assert store.delete_where(tags, "day", huge) == 0
        assert server.refused_frames == []
