"""Two writers opening one new store at once (two lakes loading one store, a ``gdpr erase`` beside a first
``fediscope process``): each looks for the catalog and creates it when it finds none, so the second one may find
none and then meet the catalog the first created in between. On every store that second open must go on, not fail
with "table … already exists" (it did on all three: SQLite, MariaDB and HBase).

The race is made here without threads: the second writer's look is made to miss the catalog the first one already
created (the moment between its look and its create, when the other writer's create lands)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import happybase
import pytest
from metric_header import metric

from fediscope.errors import StoreError
from fediscope.store.base import PROVISIONAL
from fediscope.store.hbase_schema import catalog_table
from fediscope.store.port import open_store
from fediscope.store.sql import CATALOG

ACCOUNTS = metric("accounts", "account", rank="followers DESC")
ROWS = [{"account": "alice", "followers": 3}, {"account": "bob", "followers": 5}]


def _catalog_looked_for_too_early(store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next look for the catalog say it is not there, though ``store`` created it."""
    if store.kind.startswith("hbase"):
        listed = happybase.Connection.tables
        catalog = catalog_table(store.prefix).encode()

        def tables(self):  # noqa: ANN001, ANN202
            return [name for name in listed(self) if name != catalog]

        monkeypatch.setattr(happybase.Connection, "tables", tables)
        return
    dialect = type(store._engine.dialect)
    has_table = dialect.has_table

    def catalog_missing(self, connection, table_name, *args, **kwargs):  # noqa: ANN001, ANN202
        return False if table_name == CATALOG else has_table(self, connection, table_name, *args, **kwargs)

    monkeypatch.setattr(dialect, "has_table", catalog_missing)


def test_a_writer_whose_catalog_another_created_meanwhile_opens_and_keeps_its_rows(metric_store, monkeypatch):
    metric_store.write(ACCOUNTS, ROWS)
    _catalog_looked_for_too_early(metric_store, monkeypatch)
    options = {"table_prefix": metric_store.prefix} if metric_store.kind.startswith("hbase") else {}
    second = open_store(metric_store.url, **options)
    monkeypatch.undo()
    try:
        assert second.stored_metrics() == {"accounts": 2}
        assert [r["account"] for r in second.top(ACCOUNTS, 5)] == ["bob", "alice"]
        second.write(ACCOUNTS, [*ROWS, {"account": "carol", "followers": 4}])
        assert [r["account"] for r in metric_store.top(ACCOUNTS, 5)] == ["bob", "carol", "alice"]
    finally:
        second.close()


# -- two writers of the same metric at once ---------------------------------------------------------------------------
#
# Two lakes sharing one store: their lake locks do not see each other, so two writes of one metric may overlap. The
# overlap is made here without threads: the other writer's whole write runs inside this one's (from a patched step
# of it), or the other writer is a session holding the metric's lock.

CC = metric("cc", "k", rank="v DESC")


def _rows(writer: str, run: int) -> list[dict]:
    """One writer's complete result: keys of its own and shared ones, every row marked with the writer."""
    return [{"k": f"{writer}{j}" if j % 2 else f"s{j}", "v": run * 10 + j, "w": writer} for j in range(6)]


def _session_holding(url: str, metric_name: str):  # noqa: ANN202 — a pymysql connection
    """Another writer, as MariaDB sees one mid-load: a session holding the metric's named lock."""
    import pymysql
    from sqlalchemy.engine import make_url

    from fediscope.store.mysql import lock_name

    parsed = make_url(url)
    conn = pymysql.connect(host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
                           database=parsed.database, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0)", (lock_name(parsed.database, metric_name),))
        assert cur.fetchone() == (1,)
    return conn


@pytest.mark.mariadb
def test_mariadb_a_write_during_another_writers_load_of_the_metric_leaves_that_load_whole(mariadb_url, monkeypatch):
    """Writer B writes the metric while A loads it (A's rows written to ``_new_cc``, not yet renamed): B's load used
    to drop A's ``_new_cc`` and A failed (``Table '…._new_cc' doesn't exist``; or B failed, ``already exists``). Now
    B waits for A (here it is told to wait 0 s, so it gives up at once, saying why), A's load completes whole, and
    B's write after it replaces A's rows whole."""
    from fediscope.store import sql

    first = open_store(mariadb_url)
    second = open_store(mariadb_url, lock_timeout=0)
    met: list[str] = []
    load_indexes = sql.create_indexes

    def other_writer_meanwhile(conn, table):  # noqa: ANN001, ANN202
        if table.name == "_new_cc" and not met:
            try:
                second.write(CC, _rows("B", 1))
            except StoreError as exc:
                met.append(str(exc))
        return load_indexes(conn, table)

    monkeypatch.setattr(sql, "create_indexes", other_writer_meanwhile)
    try:
        first.write(CC, _rows("A", 1))
        monkeypatch.undo()
        assert len(met) == 1 and "another writer" in met[0] and "fediscope:" in met[0], met
        assert "\n" not in met[0]
        assert first.all(CC) == sorted(_rows("A", 1), key=lambda r: r["k"])
        second.write(CC, _rows("B", 2))  # A is done: its lock was released, the connection back in the pool
        assert first.all(CC) == sorted(_rows("B", 2), key=lambda r: r["k"])
        assert first.unlisted_metrics() == {}
    finally:
        first.close()
        second.close()


@pytest.mark.mariadb
def test_mariadb_cleanup_leaves_the_new_table_another_writer_is_loading(mariadb_url):
    """A store lists the ``_new_``/``_old_`` tables of stopped loads at its first write and drops a metric's at its
    next write of it: a ``_new_cc`` another writer was loading then (its lock held) was dropped under it. Only a
    writer holding the metric's lock drops it now, so while the other holds it the table stays; once the other is
    gone (a load stopped half-way: the lock went with its session), the next write drops the leftover."""
    store = open_store(mariadb_url, lock_timeout=0)
    other = _session_holding(mariadb_url, "cc")
    try:
        with other.cursor() as cur:
            cur.execute("CREATE TABLE `_new_cc` (k VARCHAR(10) PRIMARY KEY)")
            cur.execute("INSERT INTO `_new_cc` VALUES ('loading')")
        store.write(ACCOUNTS, ROWS)  # its first write lists _new_cc as a stopped load
        with pytest.raises(StoreError, match=r"another writer .* metric cc|metric cc: another writer") as caught:
            store.write(CC, _rows("B", 1))
        assert "could not write metric cc" in str(caught.value)
        with other.cursor() as cur:
            cur.execute("SELECT k FROM `_new_cc`")
            assert cur.fetchall() == (("loading",),)
    finally:
        other.close()  # the other writer stops half-way: its session, and so the lock, is gone
    # the server frees a closed session's lock as it notices the close, not at once: this write may wait for that
    # (at lock_timeout 0 it failed now and then under load); it never waits for a lock still held, as above
    store.close()
    store = open_store(mariadb_url, lock_timeout=30)
    store.write(CC, _rows("B", 1))
    assert store.all(CC) == sorted(_rows("B", 1), key=lambda r: r["k"])
    assert store.unlisted_metrics() == {}
    store.close()


@pytest.mark.mariadb
def test_mariadb_a_reader_reads_while_a_writer_holds_the_metric(mariadb_url):
    """The lock keeps writers apart only: a store opened for reading takes none, so it reads meanwhile."""
    writer = open_store(mariadb_url)
    writer.write(CC, _rows("A", 1))
    other = _session_holding(mariadb_url, "cc")
    try:
        reader = open_store(mariadb_url, read_only=True)
        assert [r["k"] for r in reader.top(CC, 2)] == ["A5", "s4"]
        reader.close()
    finally:
        other.close()
        writer.close()


def test_lock_names_fit_mariadb():
    from fediscope.store.mysql import LOCK_NAME_LENGTH, lock_name

    assert lock_name("fediscope", "accounts") == "fediscope:fediscope:accounts"
    long_names = [lock_name("d" * 64, "m" * 57), lock_name("d" * 64, "n" * 57)]
    assert all(len(name) <= LOCK_NAME_LENGTH for name in long_names) and long_names[0] != long_names[1]


def test_hbase_a_write_during_another_writers_write_of_the_metric_waits_for_it(hbase_double, monkeypatch):
    """Writer B writes the metric while A writes it: B used to run its whole write inside A's (HBase has no lock), and
    A then failed ("another writer of the same metric changed it meanwhile"). Now B waits for A's write lease (here
    it is told to wait 0 s, so it gives up at once, naming the metric and how long A has held it), A's write
    completes whole, and B's write after it (the lease released) replaces A's rows whole."""
    from fediscope.store.hbase import HBaseStore

    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = open_store(hbase_double.url, table_prefix=prefix)
    second = open_store(hbase_double.url, table_prefix=prefix, lock_timeout=0)
    first.write(CC, _rows("A", 1))
    upsert = HBaseStore._upsert
    met: list[str] = []

    def other_writer_meanwhile(self, schema, rows, stale):  # noqa: ANN001, ANN202
        if self is first and not met:
            try:
                second.write(CC, _rows("B", 2))
                met.append("B wrote inside A's write")
            except StoreError as exc:
                met.append(str(exc))
        return upsert(self, schema, rows, stale)

    monkeypatch.setattr(HBaseStore, "_upsert", other_writer_meanwhile)
    first.write(CC, _rows("A", 3))
    monkeypatch.undo()
    assert len(met) == 1 and "could not write metric cc: another writer" in met[0], met
    assert "has held it for" in met[0] and f"process {os.getpid()}" in met[0] and "\n" not in met[0], met
    assert first.all(CC) == sorted(_rows("A", 3), key=lambda r: r["k"])
    second.write(CC, _rows("B", 4))
    assert first.all(CC) == sorted(_rows("B", 4), key=lambda r: r["k"])
    _assert_rank_index_consistent(hbase_double, prefix, _rows("B", 4))


def test_hbase_a_write_that_a_writer_without_the_lease_overlapped_fails_saying_so(hbase_double, monkeypatch):
    """A writer that does not take turns (a fediscope older than write leases, or one that stalled past its lease):
    writer A compares the result with the rows it read and writes what differs, so B's whole write in between left
    a mix (B's keys A did not know of, A's skipped "unchanged" rows holding B's values) and A reported success. A
    fails, naming the other writer, and its run again (the usual retry) leaves A's complete rows."""
    from fediscope.store.base import BaseStore
    from fediscope.store.hbase import HBaseStore

    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = open_store(hbase_double.url, table_prefix=prefix)
    second = open_store(hbase_double.url, table_prefix=prefix)
    monkeypatch.setattr(second, "_writing", BaseStore._writing.__get__(second))  # takes no lease
    first.write(CC, _rows("A", 1))
    upsert = HBaseStore._upsert
    done: list[bool] = []

    def other_writer_meanwhile(self, schema, rows, stale):  # noqa: ANN001, ANN202
        if self is first and not done:
            done.append(True)
            second.write(CC, _rows("B", 2))
        return upsert(self, schema, rows, stale)

    monkeypatch.setattr(HBaseStore, "_upsert", other_writer_meanwhile)
    with pytest.raises(StoreError, match="another writer of the same metric") as caught:
        first.write(CC, _rows("A", 3))
    monkeypatch.undo()
    assert "\n" not in str(caught.value)
    first.write(CC, _rows("A", 3))
    assert first.all(CC) == sorted(_rows("A", 3), key=lambda r: r["k"])
    assert [r["k"] for r in first.top(CC, 10)] == [r["k"] for r in sorted(_rows("A", 3), key=lambda r: -r["v"])]


def _assert_rank_index_consistent(hbase_double, prefix: str, rows: list[dict]) -> None:  # noqa: ANN001
    """The metric's tables hold exactly ``rows``: each data row points (``i:rank``) at a rank entry that points back
    (``r:row``), the rank index holds no other entry, ``top`` gives them in rank order, and no write is left
    marked as changing the rank index nor holding the write lease."""
    data = hbase_double.table(f"{prefix}_cc").rows
    index = hbase_double.table(f"{prefix}_cc-rank").rows
    assert {json.loads(cells[b"m:k"][0]): json.loads(cells[b"m:v"][0]) for cells in data.values()} == \
        {r["k"]: r["v"] for r in rows}
    assert {cells[b"i:rank"][0]: key for key, cells in data.items()} == \
        {key: cells[b"r:row"][0] for key, cells in index.items()}
    catalog = hbase_double.table(f"{prefix}-catalog").rows
    assert catalog[b"cc"].get(b"c:rank_pending", (b"0",))[0] == b"0"
    assert catalog.get(b"lease:cc", {}).get(b"c:lease", (b"",))[0] == b""
    store = open_store(hbase_double.url, table_prefix=prefix, read_only=True)
    assert [r["k"] for r in store.top(CC, 10)] == [r["k"] for r in sorted(rows, key=lambda r: -r["v"])]


def test_hbase_two_writers_of_one_metric_at_once_leave_one_whole_write(hbase_double):
    """Two writers of one metric in two threads, the second starting while the first is half-way (its new rank
    entries put, its data rows not yet), after a write that stopped there too (the catalog marked: the next write
    sweeps the rank index of entries no data row points at). Without turns the second's sweep deleted the first's new
    entries (rows gone from top) and the two mixed their rows; the first then failed. Now the second waits for the
    first's write lease: both succeed, one after the other, and the store holds the second's rows whole, its rank
    index exactly theirs. The first is held half-way on the Thrift server until the second is seen waiting (a
    ``checkAndPut`` of the lease refused) or, without turns, done."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = open_store(hbase_double.url, table_prefix=prefix)
    second = open_store(hbase_double.url, table_prefix=prefix)
    first.write(CC, _rows("A", 1))
    hbase_double.fail("mutateRows", f"{prefix}_cc")  # stops after its rank puts: orphan entries, the catalog marked
    with pytest.raises(StoreError, match="injected failure"):
        first.write(CC, _rows("A", 2))
    assert hbase_double.table(f"{prefix}-catalog").rows[b"cc"][b"c:rank_pending"][0] == b"1"

    handler = hbase_double.handler
    data_name = f"{prefix}_cc".encode()
    first_halfway, second_progress = threading.Event(), threading.Event()
    mutate_rows, check_and_put = handler.mutateRows, handler.checkAndPut

    def held_halfway(tableName, rowBatches, attributes):  # noqa: ANN001, ANN202, N803 — the IDL's names
        if tableName == data_name and not first_halfway.is_set():
            first_halfway.set()
            assert second_progress.wait(60)
        return mutate_rows(tableName, rowBatches, attributes)

    def seen_waiting(*args):  # noqa: ANN002, ANN202
        taken = check_and_put(*args)
        if not taken and first_halfway.is_set():
            second_progress.set()
        return taken

    handler.mutateRows, handler.checkAndPut = held_halfway, seen_waiting
    errors: list[str] = []

    def write(store, writer: str, run: int, after: threading.Event | None) -> None:  # noqa: ANN001
        try:
            if after is not None:
                assert after.wait(60)
            store.write(CC, _rows(writer, run))
        except (StoreError, AssertionError) as exc:
            errors.append(f"{writer}: {exc}")
        finally:
            if after is not None:
                second_progress.set()

    threads = [threading.Thread(target=write, args=(first, "A", 3, None), daemon=True),
               threading.Thread(target=write, args=(second, "B", 4, first_halfway), daemon=True)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        del handler.mutateRows, handler.checkAndPut
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    _assert_rank_index_consistent(hbase_double, prefix, _rows("B", 4))


KILLED_MID_WRITE = textwrap.dedent("""
    import os, signal, socket, sys
    from fediscope.store.hbase import HBaseStore
    from metric_header import metric

    def killed(self, *args):
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind runs

    if len(sys.argv) > 3:  # the writer runs on another host: whether it still runs cannot be told from here
        socket.gethostname = lambda: sys.argv[3]
    HBaseStore._upsert = killed
    store = HBaseStore(sys.argv[1], table_prefix=sys.argv[2])
    store.write(metric("cc", "k", rank="v DESC"), [{"k": "x", "v": 1, "w": "K"}])
""")


def _killed_mid_write(hbase_double, prefix: str, *host: str) -> subprocess.Popen[str]:  # noqa: ANN001
    """A writer of metric cc killed (SIGKILL) while it holds the lease; ``host``: the host name it runs under."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sys.path])}
    killed = subprocess.Popen([sys.executable, "-c", KILLED_MID_WRITE, hbase_double.url, prefix, *host], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, stderr
    return killed


def test_hbase_a_writer_of_this_host_that_no_longer_runs_frees_the_metric_at_once(hbase_double, caplog):
    """A writer of this host killed mid-write (or one that failed as the Thrift server went down, so that it could
    not release its lease either) holds nothing: the next writer takes its lease over at once, saying so, instead
    of waiting, silent, up to two minutes for it to expire."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    store = open_store(hbase_double.url, table_prefix=prefix, lock_timeout=0)
    store.write(CC, _rows("A", 1))
    killed = _killed_mid_write(hbase_double, prefix)
    with caplog.at_level("WARNING", logger="fediscope.store.hbase"):
        store.write(CC, _rows("B", 2))
    assert store.all(CC) == sorted(_rows("B", 2), key=lambda r: r["k"])
    _assert_rank_index_consistent(hbase_double, prefix, _rows("B", 2))
    assert f"process {killed.pid}, which no longer runs on this host" in caplog.text, caplog.text


def test_hbase_a_writer_waiting_for_a_held_lease_says_so(hbase_double, caplog):
    """A wait for another writer's lease (up to an hour by default) is said once, naming the holder, so that it
    does not look like a hang."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    store = open_store(hbase_double.url, table_prefix=prefix, lock_timeout=0.2)
    store.write(CC, _rows("A", 1))
    other = json.dumps({"owner": "other", "host": "elsewhere", "pid": 1, "since": time.time(),
                        "expires": time.time() + 3600}).encode()
    connection = happybase.Connection("127.0.0.1", hbase_double.port)
    connection.table(f"{prefix}-catalog").put(b"lease:cc", {b"c:lease": other})
    connection.close()
    with caplog.at_level("WARNING", logger="fediscope.store.hbase"), pytest.raises(StoreError, match="still held"):
        store.write(CC, _rows("B", 2))
    waits = [r.getMessage() for r in caplog.records if "waiting for its write lease" in r.getMessage()]
    assert len(waits) == 1 and "held by host elsewhere, process 1" in waits[0], caplog.text


def test_hbase_a_writer_killed_mid_write_holds_the_metric_until_its_lease_expires(hbase_double, monkeypatch):
    """A writer of another host killed outright (SIGKILL, OOM, a lost host) cannot release its lease, and whether it
    still runs cannot be told: the next writer waits for it (here 0 s: it fails at once, naming the metric, the
    killed process and how long it has held it), and once the lease has expired takes it over and writes its rows
    whole."""
    from fediscope.store import hbase

    prefix = f"t{uuid.uuid4().hex[:10]}"
    store = open_store(hbase_double.url, table_prefix=prefix, lock_timeout=0)
    store.write(CC, _rows("A", 1))
    killed = _killed_mid_write(hbase_double, prefix, "another-host")
    with pytest.raises(StoreError) as caught:
        store.write(CC, _rows("B", 2))
    message = str(caught.value)
    assert "could not write metric cc: another writer" in message and "has held it for" in message, message
    assert f"process {killed.pid}" in message and "\n" not in message, message
    later = time.time() + hbase.LEASE_SECONDS + 1
    monkeypatch.setattr(hbase, "_wall_clock", lambda: later)  # the lease's expiry has passed
    store.write(CC, _rows("B", 2))
    assert store.all(CC) == sorted(_rows("B", 2), key=lambda r: r["k"])
    _assert_rank_index_consistent(hbase_double, prefix, _rows("B", 2))


def test_hbase_a_writer_whose_lease_was_taken_over_does_not_commit(hbase_double, monkeypatch):
    """A writer renews its lease while it writes (here every 10 ms); one that stalled past it (a paused process, the
    Thrift server out of reach) may find it taken over by a waiter that saw it expire. Its renewal then fails, and
    the write fails before it commits (its rows may be half-written, as after any failed write: the catalog keeps
    the provisional generation that says so), leaving the other's lease in place."""
    from fediscope.store.hbase import HBaseStore

    prefix = f"t{uuid.uuid4().hex[:10]}"
    store = open_store(hbase_double.url, table_prefix=prefix, lease_seconds=0.03)
    store.write(CC, _rows("A", 1))
    handler, upsert = hbase_double.handler, HBaseStore._upsert
    check_and_put, refused = handler.checkAndPut, threading.Event()
    other = json.dumps({"owner": "other", "host": "elsewhere", "pid": 1, "since": 0, "expires": 2e9}).encode()

    def seen_refused(*args):  # noqa: ANN002, ANN202
        taken = check_and_put(*args)
        if not taken:
            refused.set()
        return taken

    def taken_over_meanwhile(self, schema, rows, stale):  # noqa: ANN001, ANN202
        connection = happybase.Connection("127.0.0.1", hbase_double.port)
        connection.table(f"{prefix}-catalog").put(b"lease:cc", {b"c:lease": other})
        connection.close()
        assert refused.wait(60)  # the renewal found another's lease
        # the refusal reaches the test before the renewal thread marks the lease lost: wait for that thread to end
        renewer = self._leases["cc"].renewer
        renewer.join(60)
        assert not renewer.is_alive()
        return upsert(self, schema, rows, stale)

    handler.checkAndPut = seen_refused
    monkeypatch.setattr(HBaseStore, "_upsert", taken_over_meanwhile)
    try:
        with pytest.raises(StoreError, match="could not write metric cc: its write lease expired") as caught:
            store.write(CC, _rows("A", 2))
    finally:
        del handler.checkAndPut
    assert "\n" not in str(caught.value)
    catalog = hbase_double.table(f"{prefix}-catalog").rows
    assert catalog[b"lease:cc"][b"c:lease"][0] == other
    # not committed: the provisional generation given before its rows changed stays, as after any failed write
    assert json.loads(catalog[b"cc"][b"c:definition"][0])["generation"].startswith(PROVISIONAL)


def test_hbase_a_writer_renews_its_lease_while_it_writes(hbase_double, monkeypatch):
    """A write that outlasts ``lease_seconds`` keeps its lease: the renewal thread pushes the cell's expiry forward
    (a ``checkAndPut`` expecting its own last value), so no waiter sees it expire, and the write commits and frees
    the cell as usual. Here the write is held until two renewals were seen, whatever the machine's speed."""
    from fediscope.store.hbase import HBaseStore

    prefix = f"t{uuid.uuid4().hex[:10]}"
    store = open_store(hbase_double.url, table_prefix=prefix, lease_seconds=0.03)
    store.write(CC, _rows("A", 1))
    handler, upsert = hbase_double.handler, HBaseStore._upsert
    check_and_put = handler.checkAndPut
    renewals: list[tuple[dict, dict]] = []
    renewed_twice = threading.Event()

    def seen_renewal(table, row, column, value, mput, attributes):  # noqa: ANN001, ANN202
        done = check_and_put(table, row, column, value, mput, attributes)
        if done and row == b"lease:cc" and value and mput.value:  # from a held lease to a new value of it
            renewals.append((json.loads(value), json.loads(mput.value)))
            if len(renewals) >= 2:
                renewed_twice.set()
        return done

    def slow_upsert(self, schema, rows, stale):  # noqa: ANN001, ANN202
        assert renewed_twice.wait(60)
        return upsert(self, schema, rows, stale)

    handler.checkAndPut = seen_renewal
    monkeypatch.setattr(HBaseStore, "_upsert", slow_upsert)
    try:
        store.write(CC, _rows("A", 2))
    finally:
        del handler.checkAndPut
    for before, after in renewals:
        assert after["owner"] == before["owner"] and after["since"] == before["since"]
        assert after["expires"] >= before["expires"]
    assert renewals[-1][1]["expires"] > renewals[0][0]["expires"]
    catalog = hbase_double.table(f"{prefix}-catalog").rows
    assert catalog[b"lease:cc"][b"c:lease"][0] == b""  # released
    assert not json.loads(catalog[b"cc"][b"c:definition"][0])["generation"].startswith(PROVISIONAL)
    assert [r["v"] for r in store.top(CC, 10)] == sorted((r["v"] for r in _rows("A", 2)), reverse=True)


def test_hbase_a_lease_the_check_refuses_while_it_reads_free_fails_at_lock_timeout(hbase_double):
    """A check and a read that keep disagreeing (a Thrift server whose ``checkAndPut`` does not take an empty cell
    for a free one): the writer went straight back to its check each time, never reaching its deadline, and spun
    for ever. Now it gives up after ``lock_timeout``, as when the lease is held. Here a writer that spins (the check
    called far more often than waiting 0.5 s ever needs) is let through, so the spin shows as a write that did not
    fail rather than a test that never ends."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    store = open_store(hbase_double.url, table_prefix=prefix, lock_timeout=0.5)
    store.write(CC, _rows("A", 1))
    handler = hbase_double.handler
    check_and_put, refused = handler.checkAndPut, []

    def empty_is_not_free(table, row, column, value, mput, attributes):  # noqa: ANN001, ANN202
        if row == b"lease:cc" and not value and len(refused) < 500:
            refused.append(value)
            return False
        return check_and_put(table, row, column, value, mput, attributes)

    handler.checkAndPut = empty_is_not_free
    try:
        with pytest.raises(StoreError) as caught:
            store.write(CC, _rows("B", 2))
    finally:
        del handler.checkAndPut
    message = str(caught.value)
    # what the last turn saw (was: "another writer (a lease cell that is not fediscope's; …) has held it for an
    # unknown time", though no writer held it, the holder possibly left over from an earlier turn)
    assert message.endswith("could not write metric cc: the lease cell reads free but HBase's checkAndPut refused "
                            "to take it, still after 0.5 s of trying; check that the Thrift server's checkAndPut "
                            "takes an empty cell for a free one"), message
    assert "another writer" not in message and "\n" not in message
    assert hbase_double.table(f"{prefix}-catalog").rows[b"lease:cc"][b"c:lease"][0] == b""  # never taken
    assert store.all(CC) == sorted(_rows("A", 1), key=lambda r: r["k"])


def test_hbase_a_failed_write_releases_the_metric(hbase_double):
    """A write that fails (the Thrift server refused a batch) releases its lease on the way out: the next write of
    the metric does not wait for it."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    store = open_store(hbase_double.url, table_prefix=prefix, lock_timeout=0)
    store.write(CC, _rows("A", 1))
    hbase_double.fail("mutateRows", f"{prefix}_cc")
    with pytest.raises(StoreError, match="injected failure"):
        store.write(CC, _rows("A", 2))
    other = open_store(hbase_double.url, table_prefix=prefix, lock_timeout=0)
    other.write(CC, _rows("B", 3))
    _assert_rank_index_consistent(hbase_double, prefix, _rows("B", 3))


def test_hbase_a_first_write_whose_table_another_writer_created_fails_saying_so(hbase_double, monkeypatch):
    """Two first writes of one metric: both found no table, and the second create failed with HBase's raw "table …
    already exists". It now names the other writer; its run again writes its complete rows."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = open_store(hbase_double.url, table_prefix=prefix)
    first.write(CC, _rows("B", 1))
    second = open_store(hbase_double.url, table_prefix=prefix)
    second._drop(second._stored("cc"))  # the catalog entry first writer B has not committed yet
    listed = happybase.Connection.tables
    data = f"{prefix}_cc".encode()
    monkeypatch.setattr(happybase.Connection, "tables", lambda self: [n for n in listed(self) if n != data])
    with pytest.raises(StoreError, match="another writer of the same metric .* created it meanwhile"):
        second.write(CC, _rows("A", 1))
    monkeypatch.undo()
    second.write(CC, _rows("A", 1))
    assert first.all(CC) == sorted(_rows("A", 1), key=lambda r: r["k"])
