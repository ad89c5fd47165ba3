"""Two writers opening one new store at once (two lakes loading one store, a ``gdpr erase`` beside a first
``fediscope process``): each looks for the catalog and creates it when it finds none, so the second one may find
none and then meet the catalog the first created in between. On every store that second open must go on, not fail
with "table … already exists" (it did on all three: SQLite, MariaDB and HBase).

The race is made here without threads: the second writer's look is made to miss the catalog the first one already
created (the moment between its look and its create, when the other writer's create lands)."""

from __future__ import annotations

import uuid

import happybase
import pytest
from metric_header import metric

from fediscope.errors import StoreError
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


def test_hbase_a_write_that_another_writer_of_the_metric_overlapped_fails_saying_so(hbase_double, monkeypatch):
    """HBase has no lock to make two writers take turns: writer A compares the result with the rows it read and
    writes what differs, so B's whole write in between left a mix (B's keys A did not know of, A's skipped
    "unchanged" rows holding B's values) and A reported success. A now fails, naming the other writer, and its
    run again (the usual retry) leaves A's complete rows."""
    from fediscope.store.hbase import HBaseStore

    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = open_store(hbase_double.url, table_prefix=prefix)
    second = open_store(hbase_double.url, table_prefix=prefix)
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
