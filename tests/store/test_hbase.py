"""HBase specifics: table layout, batched writes, the rank index, transports, the schema script, and the double."""

from __future__ import annotations

import contextlib
import re
import uuid
from pathlib import Path

import happybase
import pytest
from doubles.greeting import greeting_port
from doubles.hbase_thrift_server import HBaseThriftDouble
from doubles.ports import listening_socket

from fediscope.engine.metrics import load_metrics, parse_metric
from fediscope.errors import ConfigError, StoreError
from fediscope.store import hbase as hbase_module
from fediscope.store import hbase_schema
from fediscope.store.hbase import HBaseStore
from fediscope.store.rowkeys import encode_key, encode_rank

ROOT = Path(__file__).resolve().parents[2]
TOP = parse_metric("top", "-- question: Who leads?\n-- key: account\n-- rank: followers DESC\nSELECT 1")


def test_tables_follow_the_schema_definition(hbase_double, store, prefix):
    store.write(TOP, [{"account": "a", "followers": 1}])
    expected = {hbase_schema.catalog_table(prefix): hbase_schema.CATALOG_FAMILIES,
                **hbase_schema.metric_tables(prefix, "top", ranked=True)}
    assert set(expected) == {f"{prefix}-catalog", f"{prefix}_top", f"{prefix}_top-rank"}
    for name, families in expected.items():
        assert set(hbase_double.table(name).families) == {f.encode() for f in families}
        assert all(d.maxVersions == 1 for d in hbase_double.table(name).families.values())
    catalog = hbase_double.table(hbase_schema.catalog_table(prefix)).rows[b"top"]
    assert catalog[b"c:question"][0] == b"Who leads?" and catalog[b"c:rows"][0] == b"1"


def test_data_rows_and_rank_entries_have_the_documented_keys(hbase_double, store, prefix):
    store.write(TOP, [{"account": "a9f8", "followers": 1234}])
    data = hbase_double.table(f"{prefix}_top").rows
    row_key = encode_key(["a9f8"], ["str"])
    assert data[row_key][b"m:followers"][0] == b"1234" and data[row_key][b"m:account"][0] == b'"a9f8"'
    rank_key = encode_rank(1234, "int", True) + row_key
    assert data[row_key][b"i:rank"][0] == rank_key
    assert hbase_double.table(f"{prefix}_top-rank").rows[rank_key][b"r:row"][0] == row_key


def test_writes_are_batched(hbase_double, store):
    rows = [{"account": f"a{i:05d}", "followers": i, "x": 1.5, "y": "t"} for i in range(3000)]
    before = hbase_double.calls["mutateRows"]
    store.write(TOP, rows)
    calls = hbase_double.calls["mutateRows"] - before
    # 3000 rows x 5 cells in batches of 1000 cells, 3000 rank entries, one catalog put, and the two one-cell
    # catalog puts that mark the rank index as changing and then as settled
    assert 15 + 3 + 1 + 2 <= calls <= 15 + 3 + 1 + 2 + 2


def test_rewriting_moves_rank_entries_and_leaves_no_stale_ones(hbase_double, store, prefix):
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    store.write(TOP, [{"account": "a", "followers": 3}, {"account": "b", "followers": 2}])
    store.write(TOP, [{"account": "a", "followers": 3}], replace=True)
    assert len(hbase_double.table(f"{prefix}_top-rank").rows) == 1
    assert len(hbase_double.table(f"{prefix}_top").rows) == 1


def test_top_skips_index_entries_an_interrupted_write_left_behind(hbase_double, store, prefix):
    store.write(TOP, [{"account": "a", "followers": 10}, {"account": "b", "followers": 5}])
    connection = happybase.Connection("127.0.0.1", hbase_double.port)
    index = connection.table(f"{prefix}_top-rank")
    index.put(encode_rank(99, "int", True) + encode_key(["a"], ["str"]), {b"r:row": encode_key(["a"], ["str"])})
    index.put(encode_rank(50, "int", True) + encode_key(["gone"], ["str"]), {b"r:row": encode_key(["gone"], ["str"])})
    connection.close()
    assert [(r["account"], r["followers"]) for r in store.top(TOP, 2)] == [("a", 10), ("b", 5)]
    assert [r["account"] for r in store.top(TOP, 1)] == ["a"]


def test_a_write_stopped_between_its_batches_never_hides_a_row_from_top(hbase_double, monkeypatch):
    """A write stops after each of its batches in turn (the Thrift call of the next one fails); the top-N read
    right after shows rows as one of the two writes left them, and re-running the write repairs everything.
    When the data went before the rank entries, a stop in between left a row pointing at an entry never
    written: missing from top for good, since the re-run found its values unchanged and wrote nothing."""
    first = [{"account": "a", "followers": 10}, {"account": "b", "followers": 5}, {"account": "c", "followers": 1}]
    second = [{"account": "a", "followers": 20}, {"account": "b", "followers": 5}, {"account": "d", "followers": 7}]
    expected = [("a", 20), ("d", 7), ("b", 5)]
    real_send = happybase.Batch.send
    for allowed in range(7):  # 6 batches: mark, rank puts, data, rank deletes, unmark, catalog
        store = HBaseStore(hbase_double.url, table_prefix=f"t{uuid.uuid4().hex[:10]}")
        store.write(TOP, first)
        sent = []

        def send(batch, real_send=real_send, sent=sent, allowed=allowed):
            if len(sent) >= allowed:
                raise OSError("connection reset")
            sent.append(batch)
            return real_send(batch)

        monkeypatch.setattr(happybase.Batch, "send", send)
        with contextlib.suppress(StoreError):  # stopped by the failing batch (the last round is not stopped)
            store.write(TOP, second)
        monkeypatch.setattr(happybase.Batch, "send", real_send)
        shown = [(r["account"], r["followers"]) for r in store.top(TOP, 5)]
        assert all(store.get(TOP, [account])["followers"] == followers for account, followers in shown), allowed
        assert shown == sorted(shown, key=lambda r: (-r[1], r[0]))
        assert {account for account, _ in shown} == {r["account"] for r in store.all(TOP)}, allowed
        store.write(TOP, second)
        assert [(r["account"], r["followers"]) for r in store.top(TOP, 5)] == expected, allowed
        assert rank_entries(hbase_double, store.prefix) == pointed_at(hbase_double, store.prefix), allowed


def rank_entries(hbase_double, prefix: str) -> set[bytes]:
    """The row keys of the rank index of TOP."""
    return set(hbase_double.table(f"{prefix}_top-rank").rows)


def pointed_at(hbase_double, prefix: str) -> set[bytes]:
    """The rank-index entries the data rows of TOP point at (``i:rank``)."""
    return {cells[b"i:rank"][0] for cells in hbase_double.table(f"{prefix}_top").rows.values()}


def entry(account: str, followers: int) -> bytes:
    return encode_rank(followers, "int", True) + encode_key([account], ["str"])


def shown(store) -> list[tuple[str, int]]:
    return [(r["account"], r["followers"]) for r in store.top(TOP, 10)]


FIRST = [{"account": "a", "followers": 10}, {"account": "b", "followers": 5}, {"account": "c", "followers": 1}]
SECOND = [{"account": "a", "followers": 20}, {"account": "b", "followers": 5}, {"account": "d", "followers": 7}]


@pytest.mark.parametrize("then", ["the same batch again", "another batch", "write_changes", "write_counted"])
def test_a_later_write_removes_the_rank_entries_a_write_stopped_before_deleting_them_left(hbase_double, store,
                                                                                         prefix, then):
    """The write stops at its last batch (the deletion of the old rank entries): the old entries of the moved
    row (a) and of the deleted one (c) stay, skipped by top; the next write of the metric removes them,
    whether it changes nothing (the usual retry), changes other rows, or comes through write_changes or
    write_counted."""
    store.write(TOP, FIRST)
    hbase_double.fail("mutateRows", f"{prefix}_top-rank", skip=1)  # the rank puts pass, the deletions fail
    with pytest.raises(StoreError, match="injected failure"):
        store.write(TOP, SECOND)
    assert rank_entries(hbase_double, prefix) - pointed_at(hbase_double, prefix) == {entry("a", 10), entry("c", 1)}
    assert shown(store) == [("a", 20), ("d", 7), ("b", 5)]

    if then == "the same batch again":
        store.write(TOP, SECOND)
        expected = [("a", 20), ("d", 7), ("b", 5)]
    elif then == "another batch":
        store.write(TOP, [{"account": "a", "followers": 20}, {"account": "b", "followers": 6},
                          {"account": "d", "followers": 7}])
        expected = [("a", 20), ("d", 7), ("b", 6)]
    elif then == "write_counted":  # what `fediscope process` calls
        assert store.write_counted(TOP, SECOND).changed == 0
        expected = [("a", 20), ("d", 7), ("b", 5)]
    else:
        assert store.write_changes(TOP, [{"account": "b", "followers": 5}], [], 3) is not None
        expected = [("a", 20), ("d", 7), ("b", 5)]
    assert rank_entries(hbase_double, prefix) == pointed_at(hbase_double, prefix)
    assert len(rank_entries(hbase_double, prefix)) == 3
    assert shown(store) == expected
    assert [store.get(TOP, [account])["followers"] for account, _ in expected] == [f for _, f in expected]

    # settled: re-running the same write changes nothing and does not scan the rank index again
    rows_before = {k: dict(v) for k, v in hbase_double.table(f"{prefix}_top-rank").rows.items()}
    scans = hbase_double.calls["scannerOpenWithScan"]
    store.write_changes(TOP, [{"account": "b", "followers": expected[2][1]}], [], 3)
    assert hbase_double.calls["scannerOpenWithScan"] == scans
    assert hbase_double.table(f"{prefix}_top-rank").rows == rows_before
    assert shown(store) == expected


def stop_a_write_before_its_data(hbase_double, store, prefix) -> None:  # noqa: ANN001
    """Write FIRST, then stop the write of SECOND after its new rank entries, before its data batch: those entries
    are no one's, and top still shows FIRST."""
    store.write(TOP, FIRST)
    hbase_double.fail("mutateRows", f"{prefix}_top")  # the data batch
    with pytest.raises(StoreError, match="injected failure"):
        store.write(TOP, SECOND)
    assert rank_entries(hbase_double, prefix) - pointed_at(hbase_double, prefix) == {entry("a", 20), entry("d", 7)}
    assert shown(store) == [("a", 10), ("b", 5), ("c", 1)]


def rewrite_and_check_no_orphans(hbase_double, store, prefix) -> None:  # noqa: ANN001
    """A next write giving the rows other values: afterwards every rank entry is a data row's, and top shows it."""
    store.write(TOP, [{"account": "a", "followers": 30}, {"account": "b", "followers": 5},
                      {"account": "c", "followers": 1}])
    assert rank_entries(hbase_double, prefix) == pointed_at(hbase_double, prefix) == {
        entry("a", 30), entry("b", 5), entry("c", 1)}
    assert shown(store) == [("a", 30), ("b", 5), ("c", 1)]


def test_a_later_write_removes_the_rank_entries_a_write_stopped_before_its_data_put(hbase_double, store, prefix):
    """The write stops after putting its new rank entries, before the data: top still shows the old rows; when
    the next write gives those rows other values, the entries the stopped write put are no one's and go."""
    stop_a_write_before_its_data(hbase_double, store, prefix)
    rewrite_and_check_no_orphans(hbase_double, store, prefix)


@pytest.mark.parametrize("clock", ["frozen", "server"])
def test_the_same_write_again_after_a_write_stopped_before_its_data_put_shows_every_row(hbase_double, store, prefix,
                                                                                          monkeypatch, clock):
    """The write stops after putting its new rank entries, before the data; then the same write runs again (the
    usual retry). Its rank entries must survive the sweep that precedes it: HBase hides a put whose timestamp
    is not later than a delete marker of its cell, so an entry swept and put again in the same millisecond
    would vanish and its row would be missing from top. With the double's clock frozen every call lands in the
    same millisecond, so nothing may depend on time passing (the sleep after a sweep is set to 0 here)."""
    if clock == "frozen":
        monkeypatch.setattr(hbase_double, "clock", lambda: 1_000)
    monkeypatch.setattr(hbase_module, "_AFTER_DELETE", 0)
    stop_a_write_before_its_data(hbase_double, store, prefix)

    store.write(TOP, SECOND)
    assert shown(store) == [("a", 20), ("d", 7), ("b", 5)]
    assert rank_entries(hbase_double, prefix) == pointed_at(hbase_double, prefix) == {
        entry("a", 20), entry("d", 7), entry("b", 5)}
    # settled: the next write does not sweep again
    scans = hbase_double.calls["scannerOpenWithScan"]
    assert store.write_changes(TOP, [{"account": "b", "followers": 5}], [], 3) is not None
    assert hbase_double.calls["scannerOpenWithScan"] == scans
    assert shown(store) == [("a", 20), ("d", 7), ("b", 5)]


def test_rank_entries_kept_for_a_retry_that_stops_before_using_them_are_removed_by_the_next_write(
        hbase_double, store, prefix, monkeypatch):
    """The sweep keeps the entries the retry is about to put again; if the retry stops right after the sweep
    (here a read of the data rows fails), the rank index stays marked, so the next write still removes them."""
    monkeypatch.setattr(hbase_double, "clock", lambda: 1_000)
    stop_a_write_before_its_data(hbase_double, store, prefix)
    real_rows, reads = happybase.Table.rows, []

    def rows(table, *args, **kwargs):  # the sweep's read passes, the write's own read of its rows fails
        reads.append(table.name)
        if len(reads) == 2:
            raise OSError("connection reset")
        return real_rows(table, *args, **kwargs)

    monkeypatch.setattr(happybase.Table, "rows", rows)
    with pytest.raises(StoreError, match="connection reset"):
        store.write(TOP, SECOND)
    monkeypatch.setattr(happybase.Table, "rows", real_rows)
    assert rank_entries(hbase_double, prefix) - pointed_at(hbase_double, prefix) == {entry("a", 20), entry("d", 7)}
    rewrite_and_check_no_orphans(hbase_double, store, prefix)


@pytest.mark.parametrize("then", ["write", "erase"])
def test_the_next_write_or_erasure_removes_the_rank_entries_a_stopped_erasure_left(hbase_double, store, prefix,
                                                                                   then):
    """An erasure deletes the data rows, then their rank entries; stopped in between, the entry of the erased
    row stays (skipped by top) until the next write or erasure of the metric."""
    store.write(TOP, FIRST)
    hbase_double.fail("mutateRows", f"{prefix}_top-rank")
    with pytest.raises(StoreError, match="injected failure"):
        store.delete_where(TOP, "account", "c")
    assert rank_entries(hbase_double, prefix) - pointed_at(hbase_double, prefix) == {entry("c", 1)}
    assert shown(store) == [("a", 10), ("b", 5)]
    if then == "write":
        store.write(TOP, FIRST[:2])  # the result without the erased account: nothing to change
        expected = [("a", 10), ("b", 5)]
    else:
        assert store.delete_where(TOP, "account", "b") == 1
        expected = [("a", 10)]
    assert rank_entries(hbase_double, prefix) == pointed_at(hbase_double, prefix)
    assert len(rank_entries(hbase_double, prefix)) == len(expected)
    assert shown(store) == expected


@pytest.mark.parametrize(("transport", "protocol"), [("framed", "binary"), ("buffered", "compact"),
                                                     ("framed", "compact")])
def test_other_thrift_transports_and_protocols(transport, protocol, prefix):
    with HBaseThriftDouble(transport=transport, protocol=protocol) as server:
        assert f"transport={transport}" in server.url
        store = HBaseStore(server.url, table_prefix=prefix)
        store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
        assert [r["account"] for r in store.top(TOP, 2)] == ["b", "a"]


def test_one_connection_pool_per_server_and_process(hbase_double, prefix):
    first = HBaseStore(hbase_double.url, table_prefix=prefix)
    second = HBaseStore(hbase_double.url, table_prefix=prefix + "x")
    assert first._pool is second._pool


def test_a_store_with_other_pool_options_gets_a_pool_with_them(hbase_double, prefix):
    first = HBaseStore(hbase_double.url + "?timeout=30000&pool_size=4", table_prefix=prefix)
    second = HBaseStore(hbase_double.url + "?timeout=200&pool_size=1", table_prefix=prefix + "x")
    assert first._pool is not second._pool
    assert (first._pool._queue.maxsize, second._pool._queue.maxsize) == (4, 1)
    assert [c.timeout for c in second._pool._queue.queue] == [200]
    assert HBaseStore(hbase_double.url + "?pool_size=1&timeout=200", table_prefix=prefix)._pool is second._pool


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(StoreError, match=r"^HBase at 127\.0\.0\.1:1: could not connect to the store: Connection "
                                         r"refused; is the HBase Thrift server running \(hbase thrift start"):
        HBaseStore("hbase://127.0.0.1:1")


def test_a_host_that_does_not_resolve_is_named_with_the_resolvers_reason():
    """Was "could not connect: Could not connect to ('no-such-host.invalid', 9090); is the HBase Thrift server
    running?": thriftpy2 keeps the resolver's reason only as the context of its own error."""
    import socket

    with pytest.raises(socket.gaierror) as resolving:  # what this machine's resolver says (DNS or not)
        socket.getaddrinfo("no-such-host.invalid", 9090)
    with pytest.raises(StoreError) as caught:
        HBaseStore("hbase://no-such-host.invalid:9090")
    assert str(caught.value) == (f"HBase at no-such-host.invalid:9090: could not connect to the store: "
                                 f"{resolving.value.strerror}; check the host name in the store URL (this machine "
                                 "cannot resolve it)")


@pytest.mark.parametrize(("url", "options", "message"), [
    ("hbase://h:9090?colour=red", {}, "unknown option 'colour'"),
    ("hbase://h:9090?transport=http", {}, "transport must be"),
    ("hbase://h:9090?pool_size=many", {}, "pool_size=many, which is not a whole number above 0"),
    ("hbase://h:9090?pool_size=0", {}, "pool_size=0, which is not a whole number above 0"),  # was a ValueError
    ("hbase://h:9090", {"batch_size": -5}, "batch_size=-5, which is not a whole number above 0"),
    ("hbase:///nohost", {}, "names no host; use hbase://host:9090"),
    ("http://h:9090", {}, "is not an HBase URL"),
    ("hbase://h:9090", {"table_prefix": "bad prefix"}, "FEDISCOPE_HBASE_TABLE_PREFIX"),
])
def test_bad_urls_and_options(url, options, message):
    with pytest.raises(ConfigError, match=message):
        HBaseStore(url, **options)


def test_schema_command_creates_the_registry_tables_once(hbase_double, prefix, capsys):
    assert hbase_schema.main(["--create", "--url", hbase_double.url, "--prefix", prefix]) == 0
    expected = hbase_schema.all_tables(prefix, load_metrics().values())
    assert {n.decode() for n in hbase_double.handler.tables if n.decode().startswith(prefix)} == set(expected)
    # every table it made, the catalog included (was: "created 26 table(s)" for 27, the catalog left out)
    out = capsys.readouterr().out
    assert f"created {len(expected)} table(s): " in out and f"{prefix}-catalog" in out
    assert hbase_schema.main(["--create", "--url", hbase_double.url, "--prefix", prefix]) == 0
    assert "all existed" in capsys.readouterr().out


def test_schema_command_errors(capsys):
    assert hbase_schema.main(["--create", "--url", "sqlite:///x.db"]) == 2
    assert "needs an HBase store" in capsys.readouterr().err


@pytest.mark.parametrize("prefix", ["bad prefix", "", "-first", "a/b", "p\u00e9"])
@pytest.mark.parametrize("action", [["--shell"], ["--create", "--url", "hbase://127.0.0.1:1"]])
def test_a_bad_prefix_option_is_refused_naming_the_option(tmp_path, prefix, action):
    """Was: the error blamed FEDISCOPE_HBASE_TABLE_PREFIX (set right, or not at all), and an empty --prefix
    silently took that variable's prefix."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    result = subprocess.run([sys.executable, "-m", "fediscope.store.hbase_schema", *action, f"--prefix={prefix}"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr == (f"hbase_schema: error: --prefix: use letters, digits, '_', '-' and '.' ('-' and '.' "
                             f"not first), got {prefix!r}\n")


def test_a_good_prefix_option_names_the_tables(tmp_path):
    import os
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")},
           "FEDISCOPE_HBASE_TABLE_PREFIX": "from_env"}
    result = subprocess.run([sys.executable, "-m", "fediscope.store.hbase_schema", "--shell", "--prefix", "stage.v2"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "create 'stage.v2-catalog'" in result.stdout and "from_env" not in result.stdout


def test_checked_in_shell_script_is_up_to_date():
    generated = hbase_schema.shell_script("fediscope", load_metrics().values())
    checked_in = (ROOT / "infra" / "hbase" / "create_tables.hbase").read_text()
    assert checked_in == generated, ("infra/hbase/create_tables.hbase is out of date: run `python -m "
                                     "fediscope.store.hbase_schema --shell > infra/hbase/create_tables.hbase`")
    for metric in load_metrics().values():
        assert f"create 'fediscope_{metric.name}', {{NAME => 'm', VERSIONS => 1}}" in checked_in


# -- the double behaves like HBase's Thrift server where happybase can tell --------------------------------------

def test_double_semantics(hbase_double, prefix):
    connection = happybase.Connection("127.0.0.1", hbase_double.port, table_prefix=prefix)
    connection.create_table("t", {"f": {}})
    with pytest.raises(Exception, match="already exists"):
        connection.create_table("t", {"f": {}})
    table = connection.table("t")
    table.put(b"r1", {b"f:a": b"1", b"f:b": b"2"})
    table.put(b"r2", {b"f:a": b"3"})
    table.put(b"r3", {b"f:a": b"4"})
    assert table.row(b"r1", columns=[b"f:a"]) == {b"f:a": b"1"}
    assert table.row(b"r1", columns=[b"f"]) == {b"f:a": b"1", b"f:b": b"2"}
    assert [k for k, _ in table.rows([b"r3", b"nope", b"r1"])] == [b"r3", b"r1"]
    assert [k for k, _ in table.scan(row_start=b"r2")] == [b"r2", b"r3"]
    assert [k for k, _ in table.scan(row_start=b"r3", row_stop=b"r1", reverse=True)] == [b"r3", b"r2"]
    assert [k for k, _ in table.scan(row_prefix=b"r", limit=2, batch_size=1)] == [b"r1", b"r2"]
    with pytest.raises(Exception, match="filters are not implemented"):
        list(table.scan(filter=b"KeyOnlyFilter()"))
    with pytest.raises(Exception, match="NoSuchColumnFamilyException"):
        table.put(b"r1", {b"g:a": b"1"})
    table.delete(b"r1", columns=[b"f:a"])
    assert table.row(b"r1") == {b"f:b": b"2"}
    table.delete(b"r1")
    assert table.row(b"r1") == {}
    with pytest.raises(Exception, match="TableNotDisabledException"):
        connection.delete_table("t")
    connection.delete_table("t", disable=True)
    assert b"t" not in connection.tables()
    connection.close()


def test_double_deletes_write_markers_that_hide_puts_not_later_than_them(hbase_double, prefix, monkeypatch):
    """As on a region server: a delete writes a marker at the server's millisecond (or the client's timestamp);
    it hides every version of its column, family or row not later than itself, even one put afterwards, until a
    major compaction; of the visible versions, the newest is the cell (VERSIONS => 1)."""
    now = [1_000]
    monkeypatch.setattr(hbase_double, "clock", lambda: now[0])
    connection = happybase.Connection("127.0.0.1", hbase_double.port, table_prefix=prefix)
    connection.create_table("t", {"f": {"max_versions": 1}, "g": {"max_versions": 1}})
    table = connection.table("t")
    table.put(b"r", {b"f:a": b"1", b"f:b": b"2", b"g:c": b"3"})
    assert table.row(b"r", columns=[b"f:a"], include_timestamp=True) == {b"f:a": (b"1", 1_000)}
    table.delete(b"r", columns=[b"f:a"])
    table.put(b"r", {b"f:a": b"same millisecond"})
    assert table.row(b"r") == {b"f:b": b"2", b"g:c": b"3"}
    now[0] = 1_001
    table.put(b"r", {b"f:a": b"later"})
    assert table.row(b"r")[b"f:a"] == b"later"

    table.delete(b"r", columns=[b"f"])  # the family: hides f:a (1001) and f:b (1000), not g
    table.put(b"r", {b"f:b": b"client's older timestamp"}, timestamp=999)
    assert table.row(b"r") == {b"g:c": b"3"}
    table.put(b"r", {b"f:b": b"newest"}, timestamp=1_005)
    table.put(b"r", {b"f:b": b"older"}, timestamp=1_003)
    assert table.row(b"r", include_timestamp=True) == {b"f:b": (b"newest", 1_005), b"g:c": (b"3", 1_000)}

    now[0] = 1_005
    connection.client.deleteAllRow(table.name, b"r", {})  # every family, at 1005
    assert table.row(b"r") == {} and list(table.scan()) == [] and b"r" not in hbase_double.table(f"{prefix}_t").rows
    table.put(b"r", {b"g:c": b"hidden"})
    assert table.row(b"r") == {}
    connection.compact_table("t", major=True)  # markers and hidden cells go: an old timestamp counts again
    table.put(b"r", {b"g:c": b"after compaction"}, timestamp=1)
    assert table.row(b"r") == {b"g:c": b"after compaction"}
    connection.close()



def test_double_refuses_a_row_key_longer_than_hbase_takes(hbase_double, prefix):
    """HBase refuses a row key over 32767 bytes (Mutation.checkRow, HConstants.MAX_ROW_LENGTH): mutateRow answers
    IllegalArgument; mutateRows (what a happybase put, delete or batch sends) and deleteAllRow an INTERNAL_ERROR
    naming only the method, since the exception escapes their handler. The whole call is refused: the good row of
    the batch is not written either. 32767 bytes are taken."""
    import Hbase_thrift  # the IDL module happybase loads
    from thriftpy2.thrift import TApplicationException

    longest, too_long = b"k" * 32767, b"k" * 32768
    connection = happybase.Connection("127.0.0.1", hbase_double.port, table_prefix=prefix)
    connection.create_table("t", {"f": {}})
    table = connection.table("t")
    with pytest.raises(Hbase_thrift.IllegalArgument) as refused:
        connection.client.mutateRow(table.name, too_long, [Hbase_thrift.Mutation(column=b"f:a", value=b"1")], {})
    assert refused.value.message.splitlines()[0] == b"java.lang.IllegalArgumentException: Row length 32768 is > 32767"
    with pytest.raises(TApplicationException) as internal, table.batch() as batch:
        batch.put(b"good", {b"f:a": b"1"})
        batch.put(too_long, {b"f:a": b"2"})
    assert (internal.value.type, internal.value.message) == (TApplicationException.INTERNAL_ERROR,
                                                             b"Internal error processing mutateRows")
    with pytest.raises(TApplicationException) as internal:
        connection.client.deleteAllRow(table.name, too_long, {})
    assert internal.value.message == b"Internal error processing deleteAllRow"
    assert list(table.scan()) == []
    with table.batch() as batch:
        batch.put(b"good", {b"f:a": b"1"})
        batch.put(longest, {b"f:a": b"2"})
    table.put(longest, {b"f:b": b"3"})
    assert dict(table.scan()) == {b"good": {b"f:a": b"1"}, longest: {b"f:a": b"2", b"f:b": b"3"}}
    connection.close()


def test_double_refuses_reads_of_a_row_key_longer_than_hbase_takes(hbase_double, prefix):
    """Reads check the row key too (``new Get(row)``: Mutation.checkRow; a Scan's start and stop rows, "startRow's
    length must be less than or equal to 32767"), in handlers that catch only IOException: each answers an
    INTERNAL_ERROR naming only the method, where a key no row has would read nothing. 32767 bytes are taken."""
    from thriftpy2.thrift import TApplicationException

    longest, too_long = b"k" * 32767, b"k" * 32768
    connection = happybase.Connection("127.0.0.1", hbase_double.port, table_prefix=prefix)
    connection.create_table("t", {"f": {}})
    table = connection.table("t")
    table.put(longest, {b"f:a": b"1"})
    refused = {
        "getRowWithColumns": lambda: table.row(too_long, columns=[b"f"]),
        "get": lambda: connection.client.get(table.name, too_long, b"f:a", {}),
        "getRowsWithColumns": lambda: table.rows([longest, too_long], columns=[b"f"]),
        "scannerOpenWithScan": lambda: list(table.scan(row_start=too_long)),
        "scannerOpenWithStop": lambda: connection.client.scannerOpenWithStop(table.name, b"", too_long, [], {}),
        "scannerOpenWithPrefix": lambda: connection.client.scannerOpenWithPrefix(table.name, too_long, [], {}),
        "scannerOpen": lambda: connection.client.scannerOpen(table.name, too_long, [], {}),
    }
    for method, read in refused.items():
        with pytest.raises(TApplicationException) as internal:
            read()
        assert (internal.value.type, internal.value.message) == (TApplicationException.INTERNAL_ERROR,
                                                                 f"Internal error processing {method}".encode())
    with pytest.raises(TApplicationException):
        list(table.scan(row_start=b"a", row_stop=too_long))
    with pytest.raises(TApplicationException):
        list(table.scan(row_prefix=too_long))
    assert table.row(longest) == {b"f:a": b"1"}
    assert dict(table.rows([longest, b"k"])) == {longest: {b"f:a": b"1"}}
    assert [key for key, _ in table.scan(row_start=longest, row_stop=b"l")] == [longest]
    assert [key for key, _ in table.scan(row_prefix=longest)] == [longest]
    connection.close()


def test_a_start_row_too_long_for_hbase_starts_a_scan_at_the_same_rows(hbase_double, prefix):
    """A paging position whose encoding is over the 32,767 bytes HBase takes in a start row is replaced by one it
    takes that reads the same rows: every row key HBase can hold at or after the long one, and no other (a key of
    exactly 32,767 bytes that the long one starts with comes before it)."""
    k = b"k" * 32766
    keys = [b"k", k, k + b"k", k + b"l", k + b"\xff", b"k" * 32765 + b"l", b"l", b"\xff" * 32767]
    connection = happybase.Connection("127.0.0.1", hbase_double.port, table_prefix=prefix)
    connection.create_table("t", {"f": {}})
    table = connection.table("t")
    for key in keys:
        table.put(key, {b"f:a": b"1"})
    for long in (k + b"k\x00", k + b"kk", k + b"\xff" * 5, k + b"k" + b"\xff" * 5, b"\xff" * 40_000, b"k" * 40_000):
        start = hbase_module._start_row(long)
        assert start is None or len(start) <= 32767
        found = [] if start is None else [key for key, _ in table.scan(row_start=start)]
        assert found == sorted(key for key in keys if key >= long), long[-8:]
    assert hbase_module._start_row(k + b"k") == k + b"k"  # short enough: as it is
    connection.close()


@contextlib.contextmanager
def http_endpoint():
    """A port that answers as HTTP does (HBase's Thrift server in HTTP mode, its REST port, a proxy). Not one an
    earlier test's server had: the store's connection pools are process-wide, keyed by host and port."""
    import socket
    import threading

    server = listening_socket()

    def answer(client: socket.socket) -> None:
        with client:
            if client.recv(1000):  # happybase's pool may open a connection it never uses
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(client,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


HTTP_PORT = (r"could not create tables: that port speaks HTTP; HBase Thrift is usually 9090 \(.*REST server.*\): point "
             r"the store URL at the Thrift server's port \(hbase thrift start -p 9090\) \(it answered an HTTP request "
             r"with 'HTTP/1\.1 400 Bad Request'\)$")


@pytest.mark.parametrize("query", ["", "?protocol=compact", "?transport=framed"])
def test_an_endpoint_that_answers_http_is_a_clear_error(query, capsys):
    """Was: "No protocol version header; the server may speak another transport or protocol than this URL asks for
    (…) or answer HTTP": the port is asked whether it speaks HTTP, and the message says it does."""
    with http_endpoint() as port:
        with pytest.raises(StoreError, match=rf"^HBase at 127\.0\.0\.1:{port}: {HTTP_PORT}"):
            HBaseStore(f"hbase://127.0.0.1:{port}{query}")
        url = f"hbase://127.0.0.1:{port}{query}{'&' if query else '?'}timeout=5000"
        assert hbase_schema.main(["--create", "--url", url, "--prefix", "p"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # --create reads which tables exist first (its first call to the server)
    assert re.search(HTTP_PORT.replace("could not create tables", "could not read the catalog").rstrip("$"), err), err


def test_an_http_server_that_waits_for_a_whole_request_line_is_named_as_http(webhdfs_server):
    """An HTTP server that reads a request up to its line's end (Python's, Netty's) never answers a Thrift call: the
    store waited the whole timeout (30 s by default), then said "timed out … an overloaded Thrift server, or another
    service on that port". Now the first call waits a few seconds, then the port is asked whether it speaks HTTP
    (the WebHDFS double is such a server)."""
    port = int(webhdfs_server.http_url.rsplit(":", 1)[1])
    with pytest.raises(StoreError) as caught:
        HBaseStore(f"hbase://127.0.0.1:{port}?pool_size=1", read_only=True)  # the default timeout, 30 s
    message = str(caught.value)
    assert message.startswith(f"HBase at 127.0.0.1:{port}: could not read the catalog: that port speaks HTTP; HBase "
                              "Thrift is usually 9090"), message
    assert re.search(r"\(it answered an HTTP request with .HTTP/1\.[01] 501 ", message), message


def test_an_http_server_answering_a_line_end_is_named_as_http_without_a_request_of_its_own(monkeypatch):
    """An HTTP server that waits for the request line's end and then answers it with an error (Go's) is named when
    the first call's connection, silent for the first wait, is sent a line end: no ``HEAD /`` on a connection of
    its own, which a Thrift server merely slow to answer would log as a protocol error."""
    monkeypatch.setattr(hbase_module, "FIRST_WAIT", 0.3)
    asked: list[int] = []
    monkeypatch.setattr(hbase_module, "http_status_line", lambda host, port, *args: asked.append(port))
    with greeting_port(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                       per_line=True) as port, pytest.raises(StoreError) as caught:
        HBaseStore(f"hbase://127.0.0.1:{port}?pool_size=1", read_only=True)
    message = str(caught.value)
    assert message.startswith(f"HBase at 127.0.0.1:{port}: could not read the catalog: that port speaks HTTP; HBase "
                              "Thrift is usually 9090"), message
    assert message.endswith("(it answered an HTTP request with 'HTTP/1.1 400 Bad Request')"), message
    assert asked == []


def test_a_first_answer_slower_than_the_first_wait_is_asked_again_with_the_whole_timeout(hbase_double, prefix,
                                                                                         monkeypatch, caplog):
    """A Thrift server slow to answer the store's first call (no HTTP there) is not refused: the call, a read of the
    table names, is asked again on a new connection with the URL's whole timeout. Its port is not sent a ``HEAD /``
    (which HBase's Thrift server logs as a protocol error): the slow answer, come on the first call's connection
    meanwhile, says it speaks Thrift."""
    import logging
    import time

    monkeypatch.setattr(hbase_module, "FIRST_WAIT", 1.0)
    hbase_module.close_pools()  # a pool that answered before skips the first wait
    handler = hbase_double.handler
    slow = [1]
    asked: list[int] = []
    monkeypatch.setattr(hbase_module, "http_status_line", lambda host, port, *args: asked.append(port))

    def late(*args):  # noqa: ANN002, ANN202
        if slow:
            slow.pop()
            time.sleep(1.5)  # after the first wait, well within the second
        return type(handler).getTableNames(handler, *args)

    monkeypatch.setattr(handler, "getTableNames", late)
    with caplog.at_level(logging.INFO, logger="fediscope.store.hbase"):
        store = HBaseStore(hbase_double.url + "?pool_size=1&timeout=5000", table_prefix=prefix)
    assert not slow  # the slow answer was asked for
    assert "no answer within 1 s: asking again with the whole timeout" in caplog.text
    assert asked == []
    store.write(TOP, [{"account": "a", "followers": 1}])
    assert store.get(TOP, ["a"]) == {"account": "a", "followers": 1}


def test_a_server_of_another_transport_or_protocol_is_named_as_a_possible_cause(prefix):
    expected = r"read 0 bytes; is the HBase Thrift server running .*\? Or the server may speak another transport"
    with HBaseThriftDouble(transport="framed") as server, pytest.raises(StoreError, match=expected):
        HBaseStore(f"hbase://127.0.0.1:{server.port}?timeout=5000", table_prefix=prefix)


def test_a_port_that_accepts_but_never_answers_is_not_called_a_server_that_is_not_running(prefix):
    """A read that times out came after the connection was made (something listens there): the message says so and
    names timeout= and the port, instead of asking whether the Thrift server runs."""
    with listening_socket() as silent:  # listens, never reads nor answers: an overloaded server, or another service
        port = silent.getsockname()[1]
        with pytest.raises(StoreError) as caught:
            HBaseStore(f"hbase://127.0.0.1:{port}?timeout=300", table_prefix=prefix)
    message = str(caught.value)
    assert message.startswith(f"HBase at 127.0.0.1:{port}: could not create tables: timed out; "), message
    assert "is the HBase Thrift server running" not in message
    assert "no answer within the timeout (timeout= in the URL, 30000 ms by default)" in message
    assert "another service on that port" in message and "Thrift server's port" in message


def test_a_reply_out_of_step_fails_its_call_and_the_next_call_gets_its_own_answer(hbase_double, prefix):
    """A reply stream out of step (the first bytes read are not a Thrift message header: thriftpy2's ``ProtocolError:
    No protocol version header``, seen once in a loaded test run) fails that call; the pooled connection is then
    replaced. It was given back to the pool as it was (the ProtocolError is no TException, the only errors after
    which happybase's pool replaces a connection), and every later call on it read the rest of that reply: failing,
    or taking another call's answer for its own."""
    store = HBaseStore(hbase_double.url + "?pool_size=1&timeout=5000", table_prefix=prefix)  # one connection
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    hbase_double.garble("getRowWithColumns")
    with pytest.raises(StoreError, match=r"could not read the catalog entry of top: No protocol version header"):
        store.get(TOP, ["a"])
    for _ in range(3):
        assert store.get(TOP, ["a"]) == {"account": "a", "followers": 1}
        assert store.get(TOP, ["b"]) == {"account": "b", "followers": 2}
    assert store.stored_metrics() == {"top": 2}


def test_a_reply_out_of_step_after_working_calls_is_not_called_another_transport_or_protocol(hbase_double, prefix):
    """Was: the hint of a server of another transport or protocol, though this one had answered every call before
    on the same connection: the reply stream was out of step, and the connection has been opened again."""
    store = HBaseStore(hbase_double.url + "?pool_size=1&timeout=5000", table_prefix=prefix)  # one connection
    store.write(TOP, [{"account": "a", "followers": 1}])
    hbase_double.garble("getRowWithColumns")
    with pytest.raises(StoreError) as caught:
        store.get(TOP, ["a"])
    message = str(caught.value)
    assert message.startswith(f"HBase at 127.0.0.1:{hbase_double.port}: could not read the catalog entry of top: No "
                              "protocol version header; the reply was out of step with the call"), message
    assert "the connection was opened again" in message and "another transport" not in message, message
    assert store.get(TOP, ["a"]) == {"account": "a", "followers": 1}  # as said: opened again


def test_a_server_that_closes_the_connection_after_working_calls_is_not_called_another_transport(hbase_double,
                                                                                                  prefix):
    """Was: a Thrift server that went down mid-run (it had answered every call of the run before) was said to
    perhaps speak another transport or protocol, and to need the URL pointed at its socket port."""
    store = HBaseStore(hbase_double.url + "?pool_size=1&timeout=5000", table_prefix=prefix)
    store.write(TOP, [{"account": "a", "followers": 1}])

    def gone(*args):  # noqa: ANN002, ANN202  # not a Thrift error: the server drops the connection
        raise ConnectionAbortedError("the server went down")

    hbase_double.handler.getRowWithColumns = gone
    try:
        with pytest.raises(StoreError) as caught:
            store.get(TOP, ["a"])
    finally:
        del hbase_double.handler.getRowWithColumns
    message = str(caught.value)
    assert message.startswith(f"HBase at 127.0.0.1:{hbase_double.port}: could not read the catalog entry of top: "
                              "TSocket read 0 bytes; the server closed the connection"), message
    assert "another transport" not in message and "\n" not in message, message
    assert "is the HBase Thrift server running" in message, message
    assert store.get(TOP, ["a"]) == {"account": "a", "followers": 1}  # a new connection, once it answers again


def test_the_socket_of_a_connection_replaced_after_an_error_is_closed(prefix, monkeypatch):
    """Was: happybase's pool replaced a connection after a TException (an HBase IOError here) or an OSError with a new
    socket, dropping the one it had unclosed; an error its caller keeps (its traceback holds the transport) kept that
    one open, one more connection to the Thrift server for each error."""
    from doubles.hbase_thrift_server import hbase_thrift

    def failing(*args):  # noqa: ANN002, ANN202
        raise hbase_thrift.IOError(message=b"java.io.IOException: injected")

    with HBaseThriftDouble() as hbase:  # its own: only this store's connections
        store = HBaseStore(hbase.url + "?pool_size=1&timeout=5000", table_prefix=prefix)
        assert hbase.client_connections() == 1
        kept = []
        for _ in range(3):
            monkeypatch.setattr(hbase.handler, "getTableNames", failing)
            with pytest.raises(StoreError, match="could not create tables: java.io.IOException: injected$") as caught:
                store.create_tables({})
            kept.append(caught.value)  # as a caller may keep it (logged with its traceback, re-raised later)
            monkeypatch.undo()
            assert hbase.client_connections() == 1
        assert store.create_tables({}) == []  # the new connection works
        assert hbase.client_connections() == 1
        hbase.stop(close_connections=True)


def test_a_first_reply_that_is_not_thrift_still_names_another_transport_or_protocol(hbase_double, prefix):
    """The first call of a new pool: nothing says yet that the server speaks this URL's transport and protocol."""
    hbase_double.garble("getTableNames")  # the first call a store makes (it creates its catalog table)
    with pytest.raises(StoreError) as caught:  # timeout=4999: a pool of its own, no call answered on it yet
        HBaseStore(hbase_double.url + "?pool_size=1&timeout=4999", table_prefix=prefix)
    message = str(caught.value)
    assert "could not create tables: No protocol version header; the server may speak another transport" in message
    assert "out of step" not in message, message


def test_a_reply_later_than_the_timeout_is_never_taken_for_the_next_calls(hbase_double, prefix, monkeypatch):
    """A call whose reply comes after ``timeout=`` fails with a clear error; its late reply is not read by the next
    call on the pooled connection (which would take it for its own answer)."""
    import threading
    import time

    store = HBaseStore(hbase_double.url + "?pool_size=1&timeout=300", table_prefix=prefix)  # one connection
    store.write(TOP, [{"account": "a", "followers": 1}, {"account": "b", "followers": 2}])
    handler = hbase_double.handler
    answered = threading.Event()

    def late(*args):  # noqa: ANN002, ANN202
        monkeypatch.setattr(handler, "getRowWithColumns", type(handler).getRowWithColumns.__get__(handler))
        time.sleep(1)
        try:
            return type(handler).getRowWithColumns(handler, *args)
        finally:
            answered.set()

    monkeypatch.setattr(handler, "getRowWithColumns", late)
    with pytest.raises(StoreError, match=r"could not read the catalog entry of top: timed out; the server took"):
        store.get(TOP, ["a"])
    assert answered.wait(5)  # the late reply has been sent
    for _ in range(3):
        assert store.get(TOP, ["b"]) == {"account": "b", "followers": 2}
        assert store.get(TOP, ["a"]) == {"account": "a", "followers": 1}


def test_an_hbase_error_is_its_java_exception_line_decoded(store, connection, hbase_double, prefix):
    store.write(TOP, [{"account": "a", "followers": 1}])
    connection.disable_table("_top")
    for read in (lambda: store.top(TOP, 3), lambda: store.write(TOP, [{"account": "a", "followers": 2}])):
        with pytest.raises(StoreError) as caught:
            read()
        message = str(caught.value)
        assert message.endswith(f": org.apache.hadoop.hbase.TableNotEnabledException: {prefix}_top"), message
        assert "b'" not in message and "\n" not in message and "\tat " not in message


def test_an_hbase_error_message_that_is_not_utf8_is_still_shown(store, hbase_double, monkeypatch):
    from doubles.hbase_thrift_server import hbase_thrift

    def failing(*args):
        raise hbase_thrift.IOError(message=b"java.io.IOException: caf\xe9 closed\n\tat org.X.y(X.java:1)\n")

    monkeypatch.setattr(hbase_double.handler, "getTableNames", failing)
    with pytest.raises(StoreError, match=r"could not create tables: java\.io\.IOException: caf\ufffd closed$"):
        store.create_tables({})


@pytest.mark.parametrize(("url", "problem"), [
    ("", "empty; use sqlite:///path"),
    (" hbase://127.0.0.1:1", "has leading whitespace"),
    ("hbase://127.0.0.1:1?transport=http", "has transport=http and protocol=binary"),
])
def test_a_bad_url_option_is_refused_naming_the_option(tmp_path, hbase_double, prefix, url, problem):
    """Was: an empty --url (``--url "$HBASE_URL"`` with the variable unset) took FEDISCOPE_STORE's store and created
    the tables there, and a broken one was reported without naming --url (` hbase://h:9090` as a port problem).
    It is checked as --store and FEDISCOPE_STORE are, and refused naming the option, before anything is created."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env["FEDISCOPE_STORE"] = hbase_double.url  # a working HBase the empty option must not fall back to
    result = subprocess.run([sys.executable, "-m", "fediscope.store.hbase_schema", "--create", f"--url={url}",
                             "--prefix", prefix], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr.startswith(f"hbase_schema: error: --url is invalid: {url!r}"), result.stderr
    assert problem in result.stderr
    assert not any(name.decode().startswith(prefix) for name in hbase_double.handler.tables)


@pytest.mark.parametrize("action", ["--shell", "--create"])
def test_schema_command_output_closed_early_stops_quietly(hbase_double, prefix, action):
    """Was: ``python -m fediscope.store.hbase_schema --shell | head`` ended in a BrokenPipeError traceback. It stops
    as a Unix tool ended by SIGPIPE does: nothing on stderr, status 141. The reader is gone before the first line."""
    import os
    import subprocess
    import sys

    args = [action, "--prefix", prefix] + (["--url", hbase_double.url] if action == "--create" else [])
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "fediscope.store.hbase_schema", *args], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")
    if action == "--create":  # the tables were made before the output was lost
        assert f"{prefix}-catalog".encode() in hbase_double.handler.tables


def test_the_double_checks_and_puts_as_a_region_server(hbase_double, connection):
    """``checkAndPut`` (what a write lease is taken, renewed and released with): the put happens only when the cell
    holds the expected value, atomically; an expected value left out, or empty, matches a cell that is absent or
    empty (HRegion's ``valueIsNull``); the put is always a put."""
    import sys

    from happybase.connection import Hbase

    thrift = sys.modules[Hbase.__module__]
    connection.create_table("cas", {"c": {}})
    name = connection.table("cas").name

    def check_and_put(expected: bytes | None, value: bytes, is_delete: bool = False) -> bool:
        mutation = thrift.Mutation(column=b"c:x", value=value, isDelete=is_delete)
        return connection.client.checkAndPut(name, b"r", b"c:x", expected, mutation, {})

    def cell() -> bytes | None:
        return connection.table("cas").row(b"r").get(b"c:x")

    assert check_and_put(None, b"one") and cell() == b"one"  # absent
    assert not check_and_put(None, b"two") and not check_and_put(b"", b"two") and cell() == b"one"
    assert not check_and_put(b"other", b"two") and cell() == b"one"
    assert check_and_put(b"one", b"", is_delete=True) and cell() == b""  # emptied by a put, not deleted
    assert check_and_put(b"", b"three") and cell() == b"three"  # empty counts as absent
    with pytest.raises(thrift.IOError, match="NoSuchColumnFamilyException"):
        connection.client.checkAndPut(name, b"r", b"z:x", None, thrift.Mutation(column=b"c:x", value=b"v"), {})
