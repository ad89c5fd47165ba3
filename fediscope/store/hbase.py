"""HBase through its Thrift gateway with happybase (``hbase://host:9090``), for metrics at cluster scale.

HBase has no columns types, no secondary indexes and no ORDER BY: a table is a sorted map from row key to
cells, and the only fast reads are a row by key and a scan over a key range. The layout
(:mod:`fediscope.store.hbase_schema`) and row keys (:mod:`fediscope.store.rowkeys`) are therefore designed for
the port's reads: ``get`` is one row, ``scan_prefix`` a prefix scan, ``top`` a short scan of the rank index. HBase
refuses a row key over 32,767 bytes in a read as in a write (``Internal error processing getRowWithColumns``), and holds
none: a lookup of a longer one is answered without asking (nothing matches, as in SQL), and a page's position
(``after``) whose row key is longer starts its scan at the first row key HBase could hold after it (:func:`_start_row`).

Writes go through batches (one ``mutateRows`` call per thousand cells, and with a framed transport within the
server's frame limit, each row's cells in one call, which HBase applies whole: :mod:`fediscope.store.hbase_frames`;
reads of many rows by key likewise,
:meth:`HBaseStore._rows`) and are idempotent: a row's cells are overwritten by key, and when its rank value changes
the old rank-index entry (whose row key the data row remembers in ``i:rank``) is deleted. A new rank entry is
written before the data row that points at it, an old one deleted after, so a data row never points at a missing
entry; reads of the rank index check that the data row still points back at the entry, so
an entry left by an interrupted write is skipped, never shown. Such entries are also removed: a write (or erasure)
that changes the rank index marks the metric's catalog row (``c:rank_pending``) first and unmarks it when done, and
the next write or erasure of a marked metric first sweeps the rank index of entries no data row points at (see
:meth:`HBaseStore._sweep`), keeping those the write itself is about to point its rows at (see
:meth:`HBaseStore._finish_interrupted`).

Two writers of one metric (two lakes sharing one store, whose lake locks do not see each other) take turns on the
metric's write lease, a catalog cell taken and released with HBase's atomic ``checkAndPut`` and renewed while the
write runs; a killed writer's lease expires (see :meth:`HBaseStore._writing`).

URL options: ``hbase://host:9090?transport=framed&protocol=compact&pool_size=4&timeout=30000`` — transport and
protocol must match how the Thrift server was started (``hbase thrift start`` defaults: buffered, binary;
``-hsha``/``-nonblocking`` need framed). One connection pool per process for each server and set of these options
(stores on one server with the same options share it). ``max_cell_bytes`` (10 MiB by default) is the most bytes a
cell may take, the cluster's ``hbase.client.keyvalue.maxsize``: a cluster that raised it (and the region servers'
``hbase.server.keyvalue.maxsize``) is given the same here, so that the store does not refuse what it takes.
``max_frame_bytes`` (with ``transport=framed`` only; 2 MiB by default) is the most bytes a call may take, the Thrift
server's ``hbase.regionserver.thrift.framed.max_frame_size_in_mb`` in bytes: a server closes the connection on a
larger frame, and a row whose cells cannot fit one call together is refused before a write changes anything
(:meth:`HBaseStore._check_row_frames`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import select
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import replace as with_fields
from typing import Any, TypeVar

from fediscope.engine.metrics import Metric
from fediscope.errors import PrefixClashError, StoreError
from fediscope.lake.lock import process_gone
from fediscope.port_probe import first_answer, http_status_line, status_line
from fediscope.store import hbase_schema as layout
from fediscope.store.base import PROVISIONAL, BaseStore
from fediscope.store.hbase_frames import (
    FramedBatch,
    FrameTooSmall,
    call_bytes,
    key_batches,
    lone_put_bytes,
    put_bytes,
    row_bytes,
    row_put_bytes,
)
from fediscope.store.port import HBASE_DEFAULTS, WriteCounts, hbase_url, problem_text, url_error
from fediscope.store.rowkeys import MAX_ROW_LENGTH, encode, encode_key, encode_rank
from fediscope.store.schema import Row, TableSchema, WritePlan, cast, metric_name_problem, plan_write

log = logging.getLogger(__name__)

_POOLS: dict[tuple[Any, ...], Any] = {}
_POOLS_LOCK = threading.Lock()
#: the keys of the pools (:func:`_pool`) on which a call has been answered: their server speaks the transport and
#: protocol the URL asks for, so a reply that is not Thrift is a reply stream out of step, not a mismatch
#: (:func:`_hint`)
_ANSWERED: set[tuple[Any, ...]] = set()
#: catalog cell: ``1`` while a write or erasure of the metric changes its rank index, ``0`` once it is done
_RANK_PENDING = b"c:rank_pending"
#: seconds to let pass after a sweep deleted rank entries before anything else is written, so that a later put of
#: one of them gets a later millisecond than its delete marker (see :meth:`HBaseStore._finish_interrupted`)
_AFTER_DELETE = 0.005
T = TypeVar("T")
#: seconds a change of a metric waits by default for another writer's lease of it (:meth:`HBaseStore._writing`), as
#: MariaDB waits for its named lock: a big metric's write takes minutes
LOCK_TIMEOUT = 3600
#: seconds a write lease lasts unless its holder renews it (every third of it): how long a killed writer holds up
#: the next one
LEASE_SECONDS = 120
#: the catalog cell of a metric's write lease, in the row :func:`_lease_row`
_LEASE = b"c:lease"
#: the most bytes HBase takes in one cell by default: ``hbase.client.keyvalue.maxsize`` (the Thrift gateway is the
#: client: its put refuses a larger cell, ``IllegalArgumentException: KeyValue size too large``) and
#: ``hbase.server.keyvalue.maxsize`` (the region server's), both 10 MiB; the URL's ``max_cell_bytes`` for a cluster
#: that set them otherwise
MAX_CELL_BYTES: int = HBASE_DEFAULTS["max_cell_bytes"]
#: the most bytes a framed Thrift server takes in one frame (one call) by default: HBase's
#: ``hbase.regionserver.thrift.framed.max_frame_size_in_mb``, 2 MiB (:mod:`fediscope.store.hbase_frames`); the URL's
#: ``max_frame_bytes`` for a server that set it otherwise
MAX_FRAME_BYTES: int = HBASE_DEFAULTS["max_frame_bytes"]
#: the catalog cells a write's check does not have yet, at their longest: the row count, the time it was written
_CATALOG_LATER = {b"c:rows": b"9" * 20, b"c:updated_at": b"9" * 32}
#: the bytes of a cell beside its row key, family, qualifier and value, as the region server counts them: the key and
#: value lengths (4 + 4), the row key's length (2), the family's (1), the timestamp (8), the type (1), and 4 more
#: (the client counts 20: a cell 4 bytes under its limit is refused here all the same)
CELL_OVERHEAD = 24
#: seconds the first call on a server not yet answered waits before asking whether the port speaks HTTP
#: (:meth:`HBaseStore._first_tables`): an HTTP server that waits for the end of a request line (Python's, Netty's)
#: never answers a Thrift call, and the whole ``timeout`` (30 s by default) was waited before saying so
FIRST_WAIT = 3.0
#: what a store URL at a port that answers HTTP is told (:meth:`HBaseStore._http_port`)
HTTP_PORT = ("that port speaks HTTP; HBase Thrift is usually 9090 (HBase's REST server, its web UIs and a Thrift "
             "server in HTTP mode answer HTTP, and fediscope speaks Thrift over a socket): point the store URL at the "
             "Thrift server's port (hbase thrift start -p 9090)")


#: the most bytes JSON (``ensure_ascii``) writes for one character of text: a surrogate pair's ``\\ud83d\\ude00``
JSON_CHAR_BYTES = 12
#: the most bytes JSON writes for a value that is not text: ``-2.2250738585072014e-308`` (24), a 64-bit integer (20),
#: ``false``, ``null``; and for a text's quotes, or a NULL text's ``null``
JSON_SCALAR_BYTES = 26


def short_text(max_cell_bytes: int) -> int:
    """The characters a text value may have whatever they are before its cell needs counting against
    ``max_cell_bytes``: JSON (``ensure_ascii``) writes a character in at most 12 bytes (a surrogate pair's
    ``\\ud83d\\ude00``), and the row key, the qualifier and the quotes take at most 33,000 more."""
    return (max_cell_bytes - CELL_OVERHEAD - 33_000) // 12


def cell_bytes(row: bytes, column: bytes, value: bytes) -> int:
    """The bytes HBase counts for a cell (``family:qualifier`` ``column``) against its cap (:data:`MAX_CELL_BYTES`
    by default)."""
    return CELL_OVERHEAD + len(row) + len(column) - 1 + len(value)


def _lease_row(metric: str) -> bytes:
    """The catalog row of a metric's write lease: no metric's (metric names hold no ``:``), and read by no scan of
    the catalog (those ask for ``c:definition`` or ``c:rows``, which it lacks)."""
    return f"lease:{metric}".encode()


def _wall_clock() -> float:
    """Seconds since the epoch: a lease's times, compared across the hosts sharing a store (tests replace it)."""
    return time.time()


@dataclass
class _Lease:
    """A write lease this store holds (:meth:`HBaseStore._writing`): its cell's value as last put."""

    owner: str
    since: float
    value: bytes
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    renewer: threading.Thread | None = None
    lost: bool = False


def _lease_value(owner: str, since: float, expires: float) -> bytes:
    return json.dumps({"owner": owner, "host": socket.gethostname(), "pid": os.getpid(), "since": round(since, 3),
                       "expires": round(expires, 3)}, sort_keys=True).encode()


def _read_lease(value: bytes) -> dict[str, Any] | None:
    """A lease cell's fields, or None for one that is not a lease (written by hand): taken over as expired."""
    try:
        lease = json.loads(value)
        float(lease["since"]), float(lease["expires"])
    except (ValueError, TypeError, KeyError):
        return None
    return lease if isinstance(lease, dict) else None


def _holder_text(lease: dict[str, Any] | None) -> str:
    if lease is None:
        return "a lease cell that is not fediscope's"
    return f"host {lease.get('host', '?')}, process {lease.get('pid', '?')}"


def _age(lease: dict[str, Any] | None, now: float, since: str) -> str:
    """How long ago the lease's time ``since`` was, in whole seconds (never below 0: the hosts' clocks differ)."""
    if lease is None:
        return "an unknown time"
    return f"{max(now - float(lease[since]), 0):.0f} s"


def _pool_key(host: str, port: int, transport: str, protocol: str, size: int, timeout: int) -> tuple[Any, ...]:
    # every option in the key: a store that asks for another timeout or pool size gets a pool that has them
    return (host, port, transport, protocol, size, timeout)


def _pool(key: tuple[Any, ...]) -> Any:
    """The process-wide happybase pool for one Thrift server (opened eagerly: a wrong address fails here); ``key``
    is :func:`_pool_key`'s."""
    import happybase

    host, port, transport, protocol, size, timeout = key
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = happybase.ConnectionPool(size, host=host, port=port, transport=transport,
                                                   protocol=protocol, timeout=timeout)
        return _POOLS[key]


def close_pools() -> None:
    """Close every pooled connection (tests, and processes that are about to fork)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            while not pool._queue.empty():
                pool._queue.get_nowait().close()
        _POOLS.clear()
        _ANSWERED.clear()


class HBaseStore(BaseStore):
    #: the (store, metric) pairs each thread's changes hold (:meth:`_writing`)
    _held = threading.local()

    def __init__(self, url: str, table_prefix: str = "fediscope", read_only: bool = False,
                 lock_timeout: float = LOCK_TIMEOUT, lease_seconds: float = LEASE_SECONDS, **options: Any) -> None:
        """``read_only=True``: no table is created (not even the catalog, whose absence reads as an empty store).
        ``lock_timeout``: seconds a change of a metric waits for another writer's lease of it; ``lease_seconds``:
        how long a lease lasts unless renewed (:meth:`_writing`). Both are :func:`~fediscope.store.port.open_store`
        options, not URL options.

        Raises :class:`~fediscope.errors.PrefixClashError` when the server holds the catalog of another
        environment whose prefix starts with this one followed by ``_`` or is the start of it
        (:func:`~.hbase_schema.clashing_prefixes`), before this one's catalog is made."""
        try:  # the rules the settings loader applies too; what is left for here needs the server
            host, port, settings = hbase_url(url, options)
        except ValueError as exc:
            raise url_error(url, problem_text(exc)) from None
        self.url = url
        self.prefix = layout.check_prefix(table_prefix)
        self.lock_timeout = float(lock_timeout)
        self.lease_seconds = float(lease_seconds)
        self._address = f"{host}:{port}"
        self._host, self._port = host, port
        #: what the port answered an HTTP request with, once asked (:meth:`_http_port`); "" when not HTTP
        self._http_answer: str | None = None
        self._batch_size = settings["batch_size"]
        #: the most bytes a cell may take (the URL's ``max_cell_bytes``), and what a refusal says of it
        self._max_cell = settings["max_cell_bytes"]
        self._short_text = short_text(self._max_cell)
        #: the most bytes a call may take in its frame (the URL's ``max_frame_bytes``), None with a buffered transport
        self._max_frame: int | None = settings["max_frame_bytes"] if settings["transport"] == "framed" else None
        self._pool_key = _pool_key(host, port, settings["transport"], settings["protocol"], settings["pool_size"],
                                   settings["timeout"])
        with self._errors("connect to the store"):
            self._pool = _pool(self._pool_key)
        self.read_only = read_only
        #: the metrics this store is changing (:meth:`_begin_change`), with the generation their catalog entry
        #: has until the change commits (None: no entry, dropped for a rebuild)
        self._changing: dict[str, str | None] = {}
        #: the write leases this store holds, by metric (:meth:`_writing`)
        self._leases: dict[str, _Lease] = {}
        catalog = layout.catalog_table(self.prefix)
        # connects now, so an unreachable store fails at open; and refuses a server where another environment's
        # prefix clashes with this one, before this one's catalog is made (whichever environment came first)
        with self._connection("read the catalog" if read_only else "create tables") as conn:
            names = self._checked(self._first_tables(conn))
            self._has_catalog = catalog in names
            if not (read_only or self._has_catalog):
                _create_table(conn, catalog, layout.CATALOG_FAMILIES)
                self._has_catalog = True

    def _first_tables(self, conn: Any) -> list[bytes]:
        """The server's table names, the store's first call: on a server not yet answered, waited for
        :data:`FIRST_WAIT` seconds at first; when no answer came by then and the port answers HTTP, the
        ``TimeoutError`` is raised (:meth:`_errors` says the port speaks HTTP), else the call is asked again on a new
        connection with the URL's whole timeout (a read: asking twice changes nothing). Was: an HTTP server that
        waits for a request line's end (Python's, Netty's) held every command for the whole timeout, then said
        "timed out … an overloaded Thrift server, or another service"."""
        sock = _socket_of(conn)
        full = sock.gettimeout() if sock is not None else None
        if self._pool_key in _ANSWERED or sock is None or full is None or full <= FIRST_WAIT:
            return conn.tables()
        sock.settimeout(FIRST_WAIT)
        try:
            return conn.tables()
        except TimeoutError:
            if self._line_end_answer(sock) or self._http_port():
                raise
            log.info("HBase at %s: no answer within %g s: asking again with the whole timeout", self._address,
                     FIRST_WAIT)
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(full)
        self._reopen(conn, why="after a slow first answer")
        return conn.tables()

    def _line_end_answer(self, sock: socket.socket) -> str:
        """After the first call's :data:`FIRST_WAIT` of silence, whether the port is an HTTP server's, asked on the
        call's own connection, given up: it is sent a line end. An HTTP server waiting for the end of its request
        line (what the call's bytes were to it) answers then, with an error status: the port speaks HTTP (that
        status line is returned). A Thrift server reads the line end as the start of a next call, which never comes
        whole (the connection is closed, which Thrift servers take for a client gone, logging nothing), and a slow
        one's answer to the call comes meanwhile: no HTTP ("", and the port is not asked again). Only when nothing
        comes within :data:`FIRST_WAIT` more (a Thrift server slower still, or an HTTP server that skips a request
        line it cannot read, as Netty's does) is it left to :meth:`_http_port`. Was: a ``HEAD /`` on a connection of
        its own, at once, which a Thrift server merely slow to answer logged as a protocol error."""
        try:
            sock.sendall(b"\n")
        except OSError:
            return ""
        answer = first_answer(sock, FIRST_WAIT)
        if status := status_line(answer):
            self._http_answer = status
        elif answer and _thrift_reply(answer):
            self._http_answer = ""
        # else (nothing, a close, or other bytes: an HTTP/0.9 error page, Python's answer to a request line of two
        # words) it tells nothing
        return self._http_answer or ""

    def _http_port(self) -> str:
        """What the store's port answers a plain HTTP request with (asked once: a status line such as
        ``HTTP/1.1 400 Bad Request``), "" when it answers no HTTP."""
        if self._http_answer is None:
            timeout = min(FIRST_WAIT, self._pool_key[-1] / 1000) if self._pool_key[-1] else FIRST_WAIT
            self._http_answer = http_status_line(self._host, self._port, timeout) or ""
        return self._http_answer

    # -- tables -------------------------------------------------------------------------------------------

    def create_tables(self, tables: dict[str, dict[str, Any]]) -> list[str]:
        """Create the tables that do not exist yet; returns the names created."""
        created = []
        with self._connection("create tables") as conn:
            existing = set(self._checked(conn.tables()))
            for name, families in tables.items():
                if name not in existing and _create_table(conn, name, families):
                    created.append(name)
        return created

    def _create(self, schema: TableSchema) -> None:
        """Ready the metric's tables for a first write (or the write that rebuilds them): a missing table is
        created; one that exists, made beforehand (``python -m fediscope.store.hbase_schema --create``, the shell
        script, by hand) or by an earlier write, is kept with its settings (compression, region splits…) and only
        emptied of what it holds (rows an interrupted first write left: nothing the catalog lists)."""
        self._empty_or_create(layout.metric_tables(self.prefix, schema.metric, schema.rank_column is not None))

    @contextmanager
    def _writing(self, metric: str) -> Iterator[None]:
        """Hold the metric's write lease while it changes, so that the writers of one metric take turns (two lakes
        sharing one store: each lake's lock sees only its own writers), as MariaDB's named lock makes them. Each
        change reads the stored rows and writes what differs, and a write sweeps the rank-index entries no data row
        points at (:meth:`_finish_interrupted`): two at once mixed their rows, or one swept the entries the other had
        put but not yet pointed its rows at.

        HBase has no lock, but its ``checkAndPut`` compares a cell and puts, atomically: the lease is the cell
        ``c:lease`` of the catalog row ``lease:<metric>`` (no metric name holds ``:``), holding its owner (a random
        token, host and process) and when it expires; empty, or absent, it is free. A writer takes it with a
        ``checkAndPut`` expecting it free (or expecting the very lease it found expired: the holder died, SIGKILL
        or a lost host, and cannot release it), renews it every third of ``lease_seconds`` while the change runs (a
        thread), and empties it when done, failed or not. A writer finding it held polls until it is free or
        expired, for ``lock_timeout`` seconds at most (saying once that it waits), then fails naming the metric and
        the holder. A lease whose holder is a process of this host that no longer runs is taken over at once, as
        the lake lock is: a writer that failed because the Thrift server went down could not release it either.

        The expiry is the holder's clock, compared with the waiter's: the hosts' clocks must agree to well within
        ``lease_seconds`` (120 s by default). A holder that stalled past its lease (not renewed) and went on anyway
        is still caught where a change checks the catalog (:meth:`_check_no_other_writer`). A change already holding
        the metric (in this thread) does not take it again. What a change noted ends with it, failed or not."""
        held: set[tuple[int, str]] = self._held.__dict__.setdefault("metrics", set())  # this thread's
        mine = (id(self), metric)
        if mine in held:
            yield
            return
        lease = self._take_lease(metric)
        held.add(mine)
        self._leases[metric] = lease
        self._changing.pop(metric, None)
        try:
            yield
        finally:
            held.discard(mine)
            self._changing.pop(metric, None)
            self._leases.pop(metric, None)
            self._release_lease(metric, lease)

    # -- write leases (:meth:`_writing`) ------------------------------------------------------------------------

    def _lease_cell(self, conn: Any, metric: str) -> bytes:
        """The lease cell as stored now (empty: free)."""
        row = conn.table(layout.catalog_table(self.prefix)).row(_lease_row(metric), columns=[_LEASE])
        return row.get(_LEASE, b"")

    def _check_and_put(self, conn: Any, metric: str, expected: bytes, value: bytes) -> bool:
        """Put ``value`` in the lease cell if it holds ``expected`` (empty: free), atomically (``checkAndPut``)."""
        from happybase.connection import Hbase

        mutation = sys.modules[Hbase.__module__].Mutation(column=_LEASE, value=value)
        name = conn.table(layout.catalog_table(self.prefix)).name
        return bool(conn.client.checkAndPut(name, _lease_row(metric), _LEASE, expected or None, mutation, {}))

    def _take_lease(self, metric: str) -> _Lease:
        """The metric's lease, once free or expired (see :meth:`_writing`); a :class:`StoreError` after
        ``lock_timeout`` seconds of finding it held."""
        owner = uuid.uuid4().hex
        holder: dict[str, Any] | None = None
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        doing = f"lock metric {metric} for writing"
        raced = False  # the last turn found the lease free or expired, but lost it to another writer
        told = False  # whether the wait was said
        while True:
            now = _wall_clock()
            value = _lease_value(owner, now, now + self.lease_seconds)
            looked_again = raced
            with self._connection(doing) as conn:
                if self._check_and_put(conn, metric, b"", value):
                    return self._start_lease(metric, owner, now, value)
                found = self._lease_cell(conn, metric)
                raced = not found  # released since the check
                holder = None  # what this turn found: the message at the deadline says what the last turn saw
                if found:
                    holder = _read_lease(found)
                    # a holder of this host that no longer runs (killed, or it could not release the lease because
                    # the Thrift server was down as it failed) cannot renew it: taken over at once, as the lake lock is
                    gone = holder is not None and process_gone(holder.get("host"), holder.get("pid"))
                    raced = holder is None or gone or float(holder["expires"]) < now  # expired: taken over
                    if raced and self._check_and_put(conn, metric, found, value):  # nobody took it over in between
                        if gone:
                            log.warning("metric=%s took over the write lease of %s, which no longer runs on this "
                                        "host", metric, _holder_text(holder))
                        else:
                            log.warning("metric=%s took over the write lease of %s, which expired %s ago (a writer "
                                        "killed mid-write?)", metric, _holder_text(holder),
                                        _age(holder, now, "expires"))
                        return self._start_lease(metric, owner, now, value)
            # the deadline is checked on every turn: a check and a read that keep disagreeing (a Thrift server whose
            # checkAndPut does not take an empty cell for a free one) must not spin past lock_timeout
            remaining = deadline - time.monotonic()
            if raced and not looked_again and remaining > 0:
                continue  # another waiter took it over first, or it was just released: look again at once, once
            if remaining <= 0 and not found:
                # not another writer: the cell read free, yet the check would not take it (a Thrift server whose
                # checkAndPut does not take an empty cell for a free one, or writers releasing it on every turn)
                raise StoreError(
                    f"HBase at {self._address}: could not write metric {metric}: the lease cell reads free but "
                    f"HBase's checkAndPut refused to take it, still after {self.lock_timeout:g} s of trying; check "
                    f"that the Thrift server's checkAndPut takes an empty cell for a free one")
            if remaining <= 0:
                raise StoreError(
                    f"HBase at {self._address}: could not write metric {metric}: another writer ("
                    f"{_holder_text(holder)}; another lake sharing this store?) has held it for "
                    f"{_age(holder, now, 'since')} and still held it after {self.lock_timeout:g} s of waiting; "
                    f"run again once it is done (a writer that was killed frees it within "
                    f"{self.lease_seconds:g} s)")
            if not told and holder is not None:  # a wait of up to lock_timeout must not look like a hang
                told = True
                log.warning("metric=%s waiting for its write lease, held by %s for %s (it expires in %s unless "
                            "renewed; a writer on another host that was killed frees it then); waiting up to %g s",
                            metric, _holder_text(holder), _age(holder, now, "since"),
                            f"{max(float(holder['expires']) - now, 0):.0f} s", self.lock_timeout)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)

    def _start_lease(self, metric: str, owner: str, since: float, value: bytes) -> _Lease:
        lease = _Lease(owner=owner, since=since, value=value)
        lease.renewer = threading.Thread(target=self._renew, args=(metric, lease), daemon=True,
                                         name=f"hbase-lease-{metric}")
        lease.renewer.start()
        return lease

    def _renew(self, metric: str, lease: _Lease) -> None:
        """The lease's renewal thread: pushes its expiry forward every third of ``lease_seconds`` until released.
        One that finds another's lease instead (it was taken over: this writer stalled past it) stops, marking it
        lost; the change then fails where it next records something (:meth:`_check_lease`)."""
        while not lease.released.wait(self.lease_seconds / 3):
            with lease.lock:
                if lease.released.is_set():
                    return
                now = _wall_clock()
                value = _lease_value(lease.owner, lease.since, now + self.lease_seconds)
                try:
                    with self._connection(f"renew the write lease of metric {metric}") as conn:
                        renewed = self._check_and_put(conn, metric, lease.value, value)
                except StoreError as exc:  # the lease holds until it expires: try again at the next turn
                    log.warning("metric=%s %s", metric, exc)
                    continue
                if not renewed:
                    lease.lost = True
                    log.warning("metric=%s lost its write lease to another writer (renewal failed)", metric)
                    return
                lease.value = value

    def _check_lease(self, metric: str) -> None:
        """Refuse to record a change whose writer lost its lease (:meth:`_renew`)."""
        lease = self._leases.get(metric)
        if lease is not None and lease.lost:
            raise StoreError(f"HBase at {self._address}: could not write metric {metric}: its write lease expired "
                             f"while this writer held it (not renewed for {self.lease_seconds:g} s: a stalled "
                             "process, or the Thrift server unreachable) and another writer took it over; run "
                             "again once the other is done")

    def _release_lease(self, metric: str, lease: _Lease) -> None:
        """Free the lease (empty its cell), if it is still this writer's; a release that fails leaves it to expire."""
        with lease.lock:
            lease.released.set()
        if lease.renewer is not None:
            lease.renewer.join()
        if lease.lost:
            return
        try:
            with self._connection(f"release the write lease of metric {metric}") as conn:
                if not self._check_and_put(conn, metric, lease.value, b""):
                    log.warning("metric=%s its write lease was no longer this writer's at release", metric)
        except StoreError as exc:
            log.warning("metric=%s %s (the next writer on this host takes it over once this process has ended; "
                        "from another host it frees itself within %g s)", metric, exc, self.lease_seconds)

    def _begin_change(self, existing: TableSchema, question: str, row_count: int) -> str:
        """As :meth:`BaseStore._begin_change`, after checking that the catalog entry is still the one the write read
        (:meth:`_check_no_other_writer`); the provisional generation is noted for :meth:`_commit` to check."""
        self._check_lease(existing.metric)
        self._check_no_other_writer(existing.metric, existing.generation)
        generation = super()._begin_change(existing, question, row_count)
        self._changing[existing.metric] = generation
        return generation

    def _commit(self, schema: TableSchema, question: str, row_count: int,
                unchanged: TableSchema | None = None) -> str:
        """As :meth:`BaseStore._commit`, after checking that no other writer changed the metric since this write
        began changing it (:meth:`_begin_change`)."""
        self._check_lease(schema.metric)
        if schema.metric in self._changing:
            self._check_no_other_writer(schema.metric, self._changing.pop(schema.metric))
        return super()._commit(schema, question, row_count, unchanged=unchanged)

    def _check_no_other_writer(self, metric: str, expected: str | None) -> None:
        """Refuse to go on when the metric's catalog entry no longer has the generation ``expected`` (None: no
        entry): another writer of the same metric (another lake sharing this store: each lake's lock sees only its
        own writers) changed it meanwhile, without taking turns on the metric's write lease (:meth:`_writing`): a
        fediscope older than the lease, or a writer that stalled past its lease. Each write compares the result with
        the rows it read: go on, and the rows would mix both writes with no sign. This catches the overlap at the
        two moments a write changes the catalog (before its first row, before its last catalog put), not in the
        short span between a check and the put after it."""
        found = self._load_schema(metric)
        if (found.generation if found is not None else None) != expected:
            raise StoreError(f"HBase at {self._address}: could not write metric {metric}: "
                             f"{_OTHER_WRITER.format(what='changed it meanwhile')}")

    def _finish_create(self, schema: TableSchema) -> None:
        """Nothing to build: HBase has no secondary indexes (the rank table is written with the rows)."""

    def _drop(self, schema: TableSchema) -> None:
        """Empty the metric's tables (data first, then the rank index: ``top`` skips entries whose row is gone)
        and remove its catalog entry. The tables themselves stay, with any settings made by hand; the rebuild
        that follows writes into them (:meth:`_create`)."""
        tables = layout.metric_tables(self.prefix, schema.metric, True)
        with self._connection(f"empty the tables of {schema.metric}") as conn:
            existing = set(self._checked(conn.tables()))
            for name, families in tables.items():
                if name in existing:
                    self._empty(conn.table(name), families)
            conn.table(layout.catalog_table(self.prefix)).delete(schema.metric.encode())
        if schema.metric in self._changing:  # a rebuild (or an emptied metric) commits over no catalog entry
            self._changing[schema.metric] = None
        # a rebuild writes the metric's rows and catalog row again right after: put in the millisecond of a delete
        # marker, they would be hidden, and the metric would read as not stored (seen in CI: a changed key left it
        # empty)
        time.sleep(_AFTER_DELETE)

    def _remove(self, metric: str) -> None:
        """Delete the catalog row, then disable and delete the data table and the rank index (whichever exist)."""
        tables = layout.metric_tables(self.prefix, metric, ranked=True)
        with self._connection(f"delete the tables of {metric}") as conn:
            if self._catalog_exists(conn):
                conn.table(layout.catalog_table(self.prefix)).delete(metric.encode())
            existing = set(self._checked(conn.tables()))
            for name in tables:
                if name in existing:
                    conn.delete_table(name, disable=True)
        # a later first write of the same name puts its catalog row again: not in the delete marker's millisecond
        time.sleep(_AFTER_DELETE)

    def _empty_or_create(self, tables: dict[str, dict[str, Any]]) -> None:
        """Create the missing ``tables``; empty the existing ones, which must have the layout's column families."""
        deleted = 0
        with self._connection("create tables") as conn:
            existing = set(self._checked(conn.tables()))
            for name, families in tables.items():
                if name not in existing:
                    if not _create_table(conn, name, families):
                        raise StoreError(f"HBase at {self._address}: could not create table {name}: "
                                         f"{_OTHER_WRITER.format(what='created it meanwhile')}")
                    continue
                table = conn.table(name)
                missing = sorted(set(families) - {family.decode() for family in table.families()})
                if missing:
                    raise StoreError(
                        f"HBase table {name} exists without the column famil{'ies' if len(missing) > 1 else 'y'} "
                        f"{', '.join(missing)} fediscope writes ({', '.join(families)}; infra/hbase/README.md): "
                        f"delete it (hbase shell: disable '{name}'; drop '{name}') or give it the missing "
                        f"famil{'ies' if len(missing) > 1 else 'y'}, then run again")
                deleted += self._empty(table, families)
        if deleted:
            log.info("removed %d row(s) an interrupted first write left in %s", deleted, ", ".join(tables))
            time.sleep(_AFTER_DELETE)  # the rows written next get a later millisecond than the delete markers

    def _empty(self, table: Any, families: Iterable[str]) -> int:
        """Delete every row's cells of ``families`` (the table and its settings stay); returns how many rows."""
        columns = [family.encode() for family in families]
        keys = [key for key, _ in table.scan(columns=columns, batch_size=self._batch_size)]
        with self._batch(table) as batch:
            for key in keys:
                batch.delete(key, columns=columns)
        return len(keys)

    def _evolve(self, old: TableSchema, plan: WritePlan) -> None:
        """Nothing to do: HBase rows hold any columns; the catalog records the new ones."""

    # -- catalog ------------------------------------------------------------------------------------------

    def _catalog_exists(self, conn: Any) -> bool:
        """Whether the catalog table exists (known once seen); a store opened for reading does not create it."""
        if not self._has_catalog:
            self._has_catalog = layout.catalog_table(self.prefix).encode() in conn.tables()
        return self._has_catalog

    def _read_catalog(self, doing: str, read: Callable[[Any], T], empty: T) -> T:
        """``read(catalog table)``, or ``empty`` when there is no catalog; a store opened for reading whose catalog
        was deleted since it saw it (a store reset) reads as empty, as :meth:`SQLStore._read_catalog
        <fediscope.store.sql.SQLStore._read_catalog>` says."""
        try:
            with self._connection(doing) as conn:
                if not self._catalog_exists(conn):
                    return empty
                return read(conn.table(layout.catalog_table(self.prefix)))
        except StoreError:
            if self._catalog_dropped():
                return empty
            raise

    def _catalog_dropped(self) -> bool:
        """After a failed read of the catalog: whether a store opened for reading lost the catalog it had seen
        (then forgotten, so that the next read looks for it again); False when it cannot tell or writes."""
        if not (self.read_only and self._has_catalog):
            return False
        try:
            with self._connection("look for the catalog") as conn:
                self._has_catalog = layout.catalog_table(self.prefix).encode() in conn.tables()
        except StoreError:
            return False
        if not self._has_catalog:
            log.info("HBase at %s: the catalog table %s is gone (the store was reset): read as empty until it is "
                     "created again", self._address, layout.catalog_table(self.prefix))
        return not self._has_catalog

    def _load_schema(self, metric: str) -> TableSchema | None:
        row = self._read_catalog(f"read the catalog entry of {metric}",
                                 lambda catalog: catalog.row(metric.encode(), columns=[b"c:definition"]), {})
        return TableSchema.from_json(row[b"c:definition"]) if row else None

    def _load_schemas(self) -> dict[str, TableSchema]:
        return self._read_catalog("read the catalog", lambda catalog: {
            key.decode(): TableSchema.from_json(cells[b"c:definition"])
            for key, cells in catalog.scan(columns=[b"c:definition"])}, {})

    def _load_question(self, metric: str) -> str | None:
        row = self._read_catalog(f"read the catalog entry of {metric}",
                                 lambda catalog: catalog.row(metric.encode(), columns=[b"c:question"]), {})
        return row[b"c:question"].decode() if b"c:question" in row else None

    def _save_schema(self, schema: TableSchema, question: str, row_count: int) -> None:
        cells = {b"c:definition": schema.to_json().encode(), b"c:question": question.encode(),
                 b"c:rows": str(row_count).encode(),
                 b"c:updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").encode()}
        self._check_catalog_cells(schema, cells)  # also checked before a write changes anything (_check_storable)
        with self._connection("update the catalog") as conn:
            conn.table(layout.catalog_table(self.prefix)).put(schema.metric.encode(), cells)  # one call, one frame

    def _cell_cap(self) -> str:
        """What a refused cell is over: HBase's default cap, or the one the URL's ``max_cell_bytes`` gives."""
        if self._max_cell == MAX_CELL_BYTES:
            return (f"over the {MAX_CELL_BYTES:,} HBase takes in one cell by default (hbase.client.keyvalue.maxsize; "
                    "a cluster that raised it: max_cell_bytes= in the store URL)")
        return (f"over the {self._max_cell:,} the store URL's max_cell_bytes lets a cell take (the cluster's "
                "hbase.client.keyvalue.maxsize)")

    def _check_catalog_cells(self, schema: TableSchema, cells: Mapping[bytes, bytes]) -> None:
        """Refuse catalog cells over the cap (:meth:`_cell_cap`) with a :class:`StoreError` saying what makes them so
        large: the definition lists every column with its type (HBase has no column limit of its own, so a result of
        some 130,000 columns of long names reaches it), the question is the metric's as given."""
        row = schema.metric.encode()
        for column, what, fix in ((b"c:definition", f"its definition (its {len(schema.columns):,} columns and their "
                                   "types, as JSON)", "select fewer columns or give them shorter names, or split it "
                                   "into several metrics"),
                                  (b"c:question", "its question", "shorten the '-- question:' line")):
            size = cell_bytes(row, column, cells[column])
            if size > self._max_cell:
                raise StoreError(f"HBase at {self._address}: could not write metric {schema.metric}: {what} would take "
                                 f"{size:,} bytes in its catalog cell ({column.decode()}), {self._cell_cap()}; {fix}")
        if self._max_frame is None:
            return
        # the entry is one put, one call: split over two, a stop in between left a definition with another's question
        table = layout.catalog_table(self.prefix).encode()
        size = row_put_bytes(table, row, {**_CATALOG_LATER, **cells})
        if size > self._max_frame:
            raise StoreError(f"HBase at {self._address}: could not write metric {schema.metric}: its catalog entry "
                             f"(its definition {len(cells[b'c:definition']):,} bytes, its question "
                             f"{len(cells[b'c:question']):,}) would take {size:,} bytes in one Thrift call, "
                             f"{self._frame_cap()}; select fewer columns or give them shorter names, or shorten its "
                             "'-- question:' line")

    def _check_storable(self, metric: Metric, plan: WritePlan, creates: bool) -> None:
        """Refuse, before a write changes anything, a cell HBase would refuse (over :meth:`_cell_cap`): of the
        catalog entry the write leaves (:meth:`_check_catalog_cells`), or a text value of its rows. Was: the Thrift
        server's ``IllegalArgumentException: KeyValue size too large`` part-way, for the catalog after every row of
        the metric was written (a first write left rows no catalog entry lists). With a framed transport, also a row
        whose cells do not fit one Thrift call together (:meth:`_check_row_frames`)."""
        schema = plan.schema
        recorded = with_fields(schema, generation=PROVISIONAL + uuid.uuid4().hex, provenance=self._provenance(schema))
        self._check_catalog_cells(schema, {b"c:definition": recorded.to_json().encode(),
                                           b"c:question": metric.question.encode()})
        # key and rank values hold at most MAX_KEY_TEXT characters: only other text values can be that long
        texts = [name for name in schema.value_columns if schema.types[name] == "str"]
        for row in plan.rows:
            for name in texts:
                value = row[name]
                if value is None or len(value) <= self._short_text:
                    continue
                key, column, cell = self._row_key(schema, row), f"m:{name}".encode(), json.dumps(value).encode()
                size = cell_bytes(key, column, cell)
                if size > self._max_cell:
                    raise StoreError(f"HBase at {self._address}: could not write metric {schema.metric}: the value of "
                                     f"column {name!r} in the row of key {schema.key_of(row)!r} would take {size:,} "
                                     f"bytes in its cell (as JSON), {self._cell_cap()}; shorten such values in the "
                                     "metric's SQL (left(…, n))")
        if self._max_frame is not None:
            self._check_row_frames(plan)

    def _check_row_frames(self, plan: WritePlan) -> None:
        """Refuse a data row whose put (its every cell, as :meth:`_upsert` writes it) does not fit one Thrift call
        within ``max_frame_bytes``. HBase applies one row's mutations of one ``mutateRows`` call whole; a row split
        over several calls (as :class:`~fediscope.store.hbase_frames.FramedBatch` once did) was not atomic: a write
        that stopped between them, or a reader between them, left or saw the row half new, half old. A value too
        large for a call of its own is named as such; else the row, its bytes and its largest value.

        A row is counted exactly only when a bound of it could be over the frame: its keys at HBase's longest
        (:data:`~fediscope.store.rowkeys.MAX_ROW_LENGTH`), each text at :data:`JSON_CHAR_BYTES` a character, each
        other value at :data:`JSON_SCALAR_BYTES`; rows of short texts (most writes: all) are not encoded here."""
        schema = plan.schema
        assert self._max_frame is not None
        table = layout.data_table(self.prefix, schema.metric).encode()
        texts = [name for name in schema.names if schema.types[name] == "str"]
        fixed = (call_bytes(table) + row_bytes(b"") + MAX_ROW_LENGTH + put_bytes(b"i:rank", b"") + MAX_ROW_LENGTH
                 + sum(put_bytes(f"m:{name}".encode(), b"") + JSON_SCALAR_BYTES for name in schema.names))
        for row in plan.rows:
            bound = fixed + sum(JSON_CHAR_BYTES * len(value) for name in texts if (value := row[name]) is not None)
            if bound <= self._max_frame:
                continue
            key = self._row_key(schema, row)
            cells = self._data_cells(schema, row, self._rank_key(schema, row))
            size = row_put_bytes(table, key, cells)
            if size <= self._max_frame:
                continue
            column, cell = max(cells.items(), key=lambda item: len(item[1]))
            name = column.decode()[2:]
            lone = lone_put_bytes(table, key, column, cell)
            if lone > self._max_frame:
                raise StoreError(f"HBase at {self._address}: could not write metric {schema.metric}: the value of "
                                 f"column {name!r} in the row of key {schema.key_of(row)!r} would take {lone:,} "
                                 f"bytes in one Thrift call (as JSON, alone in it), {self._frame_cap()}; shorten "
                                 "such values in the metric's SQL (left(…, n))")
            raise StoreError(f"HBase at {self._address}: could not write metric {schema.metric}: the row of key "
                             f"{schema.key_of(row)!r} would take {size:,} bytes in one Thrift call (its {len(cells)} "
                             f"cells as JSON; its largest, column {name!r}, {len(cell):,} bytes), "
                             f"{self._frame_cap()}; a row is written in one call, which HBase applies whole (over "
                             "several, a write that stopped between them left it half-written); shorten such values "
                             "in the metric's SQL (left(…, n))")

    def _row_count(self, metric: str) -> int:
        row = self._read_catalog("read the catalog",
                                 lambda catalog: catalog.row(metric.encode(), columns=[b"c:rows"]), {})
        return int(row[b"c:rows"]) if row else 0

    def stored_metrics(self) -> dict[str, int]:
        return self._read_catalog("read the catalog", lambda catalog: {
            key.decode(): int(cells[b"c:rows"]) for key, cells in catalog.scan(columns=[b"c:rows"])}, {})

    def _metric_tables(self) -> dict[str, list[str]]:
        """Tables named ``<prefix>_<name>`` or ``<prefix>_<name>-rank`` (:mod:`~fediscope.store.hbase_schema`)."""
        found: dict[str, list[str]] = {}
        for name in self._table_names():
            metric = layout.metric_of_table(self.prefix, name)
            if metric is not None and not metric_name_problem(metric):
                found.setdefault(metric, []).append(name)
        return found

    def _table_names(self) -> list[str]:
        """Every table of the server, once checked for another environment's clashing prefix (:meth:`_checked`):
        one that came after this store was opened (a race of two first opens, a catalog made by hand) is refused
        here, before its tables are listed as this one's (:meth:`unlisted_metrics`, ``fediscope store drop``)."""
        with self._connection("list the tables") as conn:
            return self._checked(conn.tables())

    def _checked(self, tables: Iterable[bytes]) -> list[str]:
        """``tables``' names, or a :class:`~fediscope.errors.PrefixClashError` when one of them is the catalog of
        an environment whose prefix clashes with this one (:func:`~.hbase_schema.clashing_prefixes`)."""
        names = [name.decode() for name in tables]
        clashes = layout.clashing_prefixes(self.prefix, names)
        if clashes:
            raise PrefixClashError(_clash_message(self._address, self.prefix, clashes))
        return names

    def _tables_of(self, schema: TableSchema) -> list[str]:
        """Its data table, and its rank table when it is ranked (:func:`~.hbase_schema.metric_tables`)."""
        return list(layout.metric_tables(self.prefix, schema.metric, schema.rank_column is not None))

    # -- row keys -----------------------------------------------------------------------------------------

    @staticmethod
    def _row_key_columns(schema: TableSchema) -> list[str]:
        if schema.prefix in schema.key:
            return [schema.prefix, *(k for k in schema.key if k != schema.prefix)]
        return list(schema.key)

    def _row_key(self, schema: TableSchema, row: Row) -> bytes:
        columns = self._row_key_columns(schema)
        return encode_key([row[c] for c in columns], [schema.types[c] for c in columns])

    @staticmethod
    def _data_cells(schema: TableSchema, row: Row, rank_key: bytes) -> dict[bytes, bytes]:
        """A data row's cells: each column's value as JSON (``m:<column>``), and the row key of its rank entry
        (``i:rank``; empty without a rank column)."""
        cells = {f"m:{name}".encode(): json.dumps(value).encode() for name, value in row.items()}
        cells[b"i:rank"] = rank_key
        return cells

    @staticmethod
    def _rank_key(schema: TableSchema, row: Row) -> bytes:
        if not schema.rank_column:
            return b""
        rank = schema.rank_column
        return (encode_rank(row[rank], schema.types[rank], schema.rank_desc)
                + encode_key(schema.key_of(row), [schema.types[k] for k in schema.key]))

    # -- writes -------------------------------------------------------------------------------------------

    def _write_counted(self, metric: Metric, rows: Sequence[Row], replace: bool,
                       types: Mapping[str, str] | None, exact_types: bool = False) -> WriteCounts:
        """As :meth:`BaseStore.write_counted` (which :meth:`write` calls), after finishing what an interrupted write
        left (:meth:`_finish_interrupted`): here too when the write changes nothing, since re-running the
        interrupted batch is the usual retry."""
        self._finish_interrupted(metric.name,
                                 lambda stored: self._rank_keys(plan_write(metric, rows, stored, types=types)))
        return super()._write_counted(metric, rows, replace, types, exact_types)

    def _write_changes(self, metric: Metric, rows: Sequence[Row], stale: Sequence[tuple[Any, ...]],
                       row_count: int, columns: Sequence[str] | None,
                       types: Mapping[str, str] | None = None) -> str | None:
        """As :meth:`BaseStore.write_changes`, after finishing what an interrupted write left."""
        self._finish_interrupted(metric.name,
                                 lambda stored: self._rank_keys(plan_write(metric, rows, stored, types=types)))
        return super()._write_changes(metric, rows, stale, row_count, columns, types)

    def _rank_keys(self, plan: WritePlan) -> set[bytes]:
        """The rank-index entries the rows of ``plan`` point at once written (none if the plan rebuilds the tables)."""
        if plan.rebuild or not plan.schema.rank_column:
            return set()
        return {self._rank_key(plan.schema, row) for row in plan.rows}

    def _finish_interrupted(self, metric: str, coming: Callable[[TableSchema], set[bytes]] | None = None) -> None:
        """If the last write or erasure of ``metric`` stopped part-way, remove the rank-index entries it left.

        A write that changes the rank index sets the catalog cell ``c:rank_pending`` to ``1`` before its first
        batch and back to ``0`` after its last (:meth:`_mark_rank_pending`), so a ``1`` here means the last one
        stopped part-way; the entries it may have left are then swept (:meth:`_sweep`) and the mark cleared. The
        mark is cleared only once the sweep is done: a sweep that stops is simply done again by the next write.

        Why a mark and a sweep rather than a list of the entries to delete: the leftovers are of two kinds, the
        old entries of rows a write moved or deleted (a stop before its last batch) and the new entries it put
        before the data (a stop before the data batch, followed by a write that gives those rows other values),
        and both are entries no data row points at. A sweep finds both, and the entries of an erasure stopped
        between its two batches too, by reading each entry's data row, batched like every read here. Listing
        them instead would mean writing as many extra cells as the write changes rank values, on every write,
        to save a scan that is needed only after a write was stopped. On a write that completes, the cost is one
        catalog read and, when rank values change, two one-cell catalog puts; the scan happens only after a
        stop, and costs about what :meth:`write` already reads to compare a full result with the stored rows.

        ``coming`` (given by a write: the stored schema → the entries its rows will point at) keeps from the sweep
        the entries the write is about to put again — the usual retry of a batch that stopped after its rank puts
        puts the very same entries. HBase hides a put whose timestamp is not later than a delete marker of its
        cell, and both get the region server's clock in milliseconds: an entry swept and put again in the same
        millisecond would vanish, its data row would point at a missing entry, and the row would be gone from
        top. Keeping those entries makes the retry independent of the clock (their re-put merely overwrites
        them); the mark then stays set until the write has pointed its rows at them, and clears it itself.
        After a sweep that deleted entries, :data:`_AFTER_DELETE` seconds pass before anything else is written,
        so that a *later* write putting one of them again (a row getting that value back) cannot meet its delete
        marker's millisecond either.

        The sweep assumes no other write or erasure of the metric runs at the same time (it would delete the
        entries such a write has put but not yet pointed its data rows at): each runs holding the metric's write
        lease (:meth:`_writing`), which keeps apart the writers of one lake and of two lakes sharing the store alike.
        """
        with self._connection(f"check the rank index of {metric}") as conn:
            if not self._catalog_exists(conn):
                return
            catalog = conn.table(layout.catalog_table(self.prefix))
            cells = catalog.row(metric.encode(), columns=[_RANK_PENDING, b"c:definition"])
            if cells.get(_RANK_PENDING) != b"1":
                return
            schema = TableSchema.from_json(cells[b"c:definition"]) if b"c:definition" in cells else None
            existing = set(self._checked(conn.tables()))
            if (schema is not None and schema.rank_column
                    and {layout.data_table(self.prefix, metric), layout.rank_table(self.prefix, metric)} <= existing):
                removed, kept = self._sweep(conn, schema, coming(schema) if coming is not None else set())
                log.info("metric=%s removed %d rank-index entries an interrupted write left behind (%d kept: the "
                         "write puts them again)", metric, removed, kept)
                if removed:
                    time.sleep(_AFTER_DELETE)  # see above: a later put of a swept entry gets a later millisecond
                if kept:
                    return  # still marked: the coming write clears the mark once its rows point at the kept entries
            # no schema or tables: a first write that stopped; the next one recreates the tables anyway
            catalog.put(metric.encode(), {_RANK_PENDING: b"0"})

    def _sweep(self, conn: Any, schema: TableSchema, keep: set[bytes]) -> tuple[int, int]:
        """Delete every rank-index entry whose data row does not point back at it (``i:rank``), except those in
        ``keep``; returns how many were deleted and how many such entries were kept.

        One scan of the rank index and one ``getRows`` of the data rows per ``batch_size`` entries, then the
        deletions in batches. Only entries no data row points at are deleted, and ``top`` never shows those, so
        a sweep changes no answer and a sweep that stops hides nothing.
        """
        data = conn.table(layout.data_table(self.prefix, schema.metric))
        index = conn.table(layout.rank_table(self.prefix, schema.metric))
        orphans: list[bytes] = []
        pending: list[tuple[bytes, bytes]] = []

        def check() -> None:
            found = dict(self._rows(data, [key for _, key in pending if key], [b"i:rank"]))
            orphans.extend(rank_key for rank_key, key in pending
                           if found.get(key, {}).get(b"i:rank") != rank_key)
            pending.clear()

        for rank_key, cells in index.scan(columns=[b"r:row"], batch_size=self._batch_size):
            pending.append((rank_key, cells.get(b"r:row", b"")))
            if len(pending) >= self._batch_size:
                check()
        check()
        kept = [rank_key for rank_key in orphans if rank_key in keep]
        orphans = [rank_key for rank_key in orphans if rank_key not in keep]
        with self._batch(index) as batch:
            for rank_key in orphans:
                batch.delete(rank_key, columns=[b"r"])
        return len(orphans), len(kept)

    def _mark_rank_pending(self, conn: Any, metric: str, pending: bool) -> None:
        """Set (before a change of the rank index) or clear (after it) the catalog mark that makes the next write
        sweep the rank index. Cleared by a put, not a delete: a delete marker would hide a mark put again in
        the same millisecond."""
        conn.table(layout.catalog_table(self.prefix)).put(metric.encode(),
                                                          {_RANK_PENDING: b"1" if pending else b"0"})

    def _upsert(self, schema: TableSchema, rows: list[Row], stale: list[tuple[Any, ...]]) -> None:
        """Three steps, in an order that keeps every data row reachable from the rank index if a write stops
        between any two of them: (1) the new rank entries are put, (2) the data rows are put and the stale ones
        deleted, (3) the rank entries no data row points at any more are deleted.

        Putting the data first would let a write that stopped before its rank entries leave a data row pointing
        (``i:rank``) at an entry that does not exist: that row would be missing from ``top`` for good, since a
        re-run finds its values unchanged and rewrites nothing. In this order a stop after (1) leaves new
        entries no data row points at (``top`` skips them; the re-run writes the rows again), and a stop after
        (2) leaves old ones, skipped likewise. When the rank index changes, the catalog is marked before (1) and
        unmarked after (3), so that the next write removes such leftovers (:meth:`_finish_interrupted`).
        """
        data_name = layout.data_table(self.prefix, schema.metric)
        rank_name = layout.rank_table(self.prefix, schema.metric)
        new = {self._row_key(schema, row): row for row in rows}
        gone = [self._row_key(schema, dict(zip(schema.key, key, strict=True))) for key in stale]
        with self._connection(f"write {len(rows)} rows to {data_name}") as conn:
            data = conn.table(data_name)
            existing: dict[bytes, bytes] = {}  # row key -> its current rank-index entry, for the rows touched
            for key, cells in self._rows(data, [*new, *gone], [b"i:rank"]):
                existing[key] = cells.get(b"i:rank", b"")
            rank_keys = {key: self._rank_key(schema, row) for key, row in new.items()}
            rank_puts = [(rank_key, key) for key, rank_key in rank_keys.items()
                         if rank_key and existing.get(key) != rank_key]
            rank_deletes = [existing[key] for key, rank_key in rank_keys.items()
                            if existing.get(key) and existing[key] != rank_key]
            rank_deletes += [existing[key] for key in gone if existing.get(key)]
            index = conn.table(rank_name) if schema.rank_column else None
            marked = index is not None and bool(rank_puts or rank_deletes)
            if marked:
                self._mark_rank_pending(conn, schema.metric, True)
            if index is not None and rank_puts:
                with self._batch(index) as batch:
                    for rank_key, key in rank_puts:
                        batch.put(rank_key, {b"r:row": key})
            with self._batch(data) as batch:
                for key, row in new.items():
                    batch.put(key, self._data_cells(schema, row, rank_keys[key]))  # one call: HBase applies it whole
                for key in gone:
                    batch.delete(key)
            if index is not None and rank_deletes:
                with self._batch(index) as batch:
                    for rank_key in rank_deletes:
                        batch.delete(rank_key, columns=[b"r"])
            if marked:
                self._mark_rank_pending(conn, schema.metric, False)

    def _delete_where(self, schema: TableSchema, column: str, value: Any,
                      begin: Callable[[int], None]) -> tuple[int, int]:
        """The data rows first, then their rank entries (a stop in between leaves entries ``top`` skips), with the
        catalog marked meanwhile so that the next write or erasure removes those (:meth:`_finish_interrupted`);
        ``begin`` once the matching rows are found, before the first is deleted."""
        self._finish_interrupted(schema.metric)
        type_ = schema.types[column]
        qualifier = f"m:{column}".encode()
        matches: list[tuple[bytes, bytes]] = []
        scan = {"row_prefix": encode(value, type_)} if column == schema.prefix and column in schema.key else {}
        if len(scan.get("row_prefix", b"")) > MAX_ROW_LENGTH:  # no row key starts with it (as in _scan_prefix)
            return 0, self._row_count(schema.metric)
        with self._connection(f"delete from {schema.metric}") as conn:
            data = conn.table(layout.data_table(self.prefix, schema.metric))
            for key, cells in data.scan(columns=[qualifier, b"i:rank"], **scan):
                # under a prefix scan the row key says the value (its encoding is self-delimiting); else the cell
                # does, and one its column's type cannot hold matches nothing, as in SQL's WHERE
                if scan or _stored_equals(cells.get(qualifier), type_, value):
                    matches.append((key, cells.get(b"i:rank", b"")))
        rows = self._row_count(schema.metric)
        remaining = max(rows - len(matches), 0)
        if not matches:
            return 0, remaining
        begin(rows)
        rank_keys = [rank_key for _, rank_key in matches if rank_key] if schema.rank_column else []
        with self._connection(f"delete from {schema.metric}") as conn:
            if rank_keys:
                self._mark_rank_pending(conn, schema.metric, True)
            with self._batch(conn.table(layout.data_table(self.prefix, schema.metric))) as batch:
                for key, _ in matches:
                    batch.delete(key, columns=[b"m", b"i"])
            if rank_keys:
                with self._batch(conn.table(layout.rank_table(self.prefix, schema.metric))) as batch:
                    for rank_key in rank_keys:
                        batch.delete(rank_key, columns=[b"r"])
                self._mark_rank_pending(conn, schema.metric, False)
        return len(matches), remaining

    # -- reads --------------------------------------------------------------------------------------------

    @staticmethod
    def _cells_to_row(cells: dict[bytes, bytes]) -> Row:
        return {name[2:].decode(): json.loads(value) for name, value in cells.items() if name.startswith(b"m:")}

    def _get(self, schema: TableSchema, key: tuple[Any, ...]) -> Row | None:
        row_key = self._row_key(schema, dict(zip(schema.key, key, strict=True)))
        if len(row_key) > MAX_ROW_LENGTH:  # no row has it (HBase holds none so long), and HBase refuses to look
            return None
        with self._connection(f"read {schema.metric}") as conn:
            cells = conn.table(layout.data_table(self.prefix, schema.metric)).row(row_key, columns=[b"m"])
        return self._cells_to_row(cells) if cells else None

    def _scan_prefix(self, schema: TableSchema, value: Any, limit: int | None,
                     after: tuple[Any, ...] | None = None) -> list[Row]:
        if schema.prefix not in schema.key or (after is not None and not self._key_ordered(schema)
                                               and after[schema.key.index(schema.prefix)] != value):
            # not part of the row key (or a position of another prefix, whose rows sort otherwise): a full scan,
            # filtered here
            rows = [r for r in self._all(schema) if schema.decode(r)[schema.prefix] == value
                    and (after is None or schema.key_of(schema.decode(r)) > after)]
            return rows[:limit] if limit is not None else rows
        prefix = encode(value, schema.types[schema.prefix])
        if len(prefix) > MAX_ROW_LENGTH:  # no row key starts with it (HBase holds none so long)
            return []
        stop = _after_prefix(prefix)
        start = prefix if after is None else _start_row(self._key_bytes(schema, after) + b"\x00")
        if start is None:
            return []
        start = max(prefix, start)
        if stop is not None and start >= stop:
            return []
        with self._connection(f"scan {schema.metric}") as conn:
            table = conn.table(layout.data_table(self.prefix, schema.metric))
            return [self._cells_to_row(cells) for _, cells in table.scan(row_start=start, row_stop=stop,
                                                                         columns=[b"m"], limit=limit)]

    def _top(self, schema: TableSchema, n: int, after: tuple[Any, ...] | None = None) -> list[Row]:
        """The rank index read from its first entry, or from the one just after ``after`` (its row key is the
        position's encoding: rank value, then key); a metric without a rank column in key order, as a scan of the
        data table from ``after`` when its row keys are in key order."""
        if not schema.rank_column:
            return self._key_range(schema, n, after)
        start = None if after is None else _start_row(self._rank_key(
            schema, {schema.rank_column: after[0], **dict(zip(schema.key, after[1:], strict=True))}) + b"\x00")
        if after is not None and start is None:
            return []
        result: list[Row] = []
        with self._connection(f"read the top of {schema.metric}") as conn:
            data = conn.table(layout.data_table(self.prefix, schema.metric))
            index = conn.table(layout.rank_table(self.prefix, schema.metric))
            pending: list[tuple[bytes, bytes]] = []

            def resolve() -> None:
                found = dict(self._rows(data, [key for _, key in pending], [b"m", b"i"]))
                for rank_key, key in pending:
                    cells = found.get(key)
                    if cells is not None and cells.get(b"i:rank") == rank_key and len(result) < n:
                        result.append(self._cells_to_row(cells))
                pending.clear()

            for rank_key, cells in index.scan(row_start=start, columns=[b"r:row"],
                                              batch_size=min(max(n, 10), 1000)):
                pending.append((rank_key, cells[b"r:row"]))
                if len(pending) >= n - len(result):
                    resolve()
                    if len(result) >= n:
                        break
            if pending:
                resolve()
        return result

    def _key_range(self, schema: TableSchema, n: int, after: tuple[Any, ...] | None) -> list[Row]:
        """The first ``n`` rows in key order (after the key ``after``)."""
        if not self._key_ordered(schema):
            rows = self._all(schema)
            if after is not None:
                rows = [r for r in rows if schema.key_of(schema.decode(r)) > after]
            return rows[:n]
        start = None if after is None else _start_row(self._key_bytes(schema, after) + b"\x00")
        if after is not None and start is None:
            return []
        with self._connection(f"scan {schema.metric}") as conn:
            table = conn.table(layout.data_table(self.prefix, schema.metric))
            return [self._cells_to_row(cells) for _, cells in table.scan(row_start=start, columns=[b"m"], limit=n)]

    def _key_ordered(self, schema: TableSchema) -> bool:
        """Whether the data table's row keys sort as the metric's keys (its prefix column is its first key column,
        or not a key column): true of every metric of spark_jobs/sql/."""
        return self._row_key_columns(schema) == list(schema.key)

    def _key_bytes(self, schema: TableSchema, key: tuple[Any, ...]) -> bytes:
        return self._row_key(schema, dict(zip(schema.key, key, strict=True)))

    def _all(self, schema: TableSchema) -> list[Row]:
        with self._connection(f"scan {schema.metric}") as conn:
            table = conn.table(layout.data_table(self.prefix, schema.metric))
            rows = [self._cells_to_row(cells) for _, cells in table.scan(columns=[b"m"])]
        return sorted(rows, key=lambda r: schema.key_of(schema.decode(r)))

    def _raw_tuples(self, schema: TableSchema) -> list[tuple[Any, ...]]:
        """For a write's comparison (:meth:`BaseStore._diff`): each row's cells as stored, neither cast to their
        column's type nor sorted, as the SQL stores return them. A value its column's type cannot hold (stored
        behind fediscope's back, or by another version; what a read reports as a stale metric) or a cell that is
        not JSON then differs from what the write brings, and the write rewrites the row instead of failing.

        The key cells must describe the row they are in (they encode to its row key): the comparison finds stored
        rows by them, as their column's type (``5`` in a text key is the row of ``"5"``). A row whose key cells do
        not is refused with a clear error naming it."""
        names = schema.names
        key_columns = self._row_key_columns(schema)
        with self._connection(f"scan {schema.metric}") as conn:
            table = conn.table(layout.data_table(self.prefix, schema.metric))
            result = []
            for row_key, cells in table.scan(columns=[b"m"], batch_size=self._batch_size):
                raw = {name: _stored_value(cells.get(f"m:{name}".encode())) for name in names}
                try:
                    typed = [cast(raw[c], schema.types[c]) for c in key_columns]
                    matches = encode_key(typed, [schema.types[c] for c in key_columns]) == row_key
                except (ValueError, TypeError, StoreError):
                    matches = False
                if not matches:
                    raise StoreError(
                        f"metric {schema.metric}: the row {row_key!r} of HBase table {table.name.decode()} has key "
                        f"cells ({', '.join(f'm:{c}' for c in key_columns)}) that do not encode to its row key, so "
                        "fediscope cannot tell which row it is: delete that row (hbase shell: deleteall) and run again")
                raw.update(zip(key_columns, typed, strict=True))  # the key as the row key says
                result.append(tuple(raw[name] for name in names))
        return result

    # -- plumbing -----------------------------------------------------------------------------------------

    def _table_not_found(self, error: StoreError) -> bool:
        return "TableNotFoundException" in str(error)  # the Java exception's name, first in the reason

    def close(self) -> None:
        """Nothing to release: the connection pool is shared by every store of the process."""

    def _batch(self, table: Any) -> FramedBatch:
        """``table``'s batch: ``batch_size`` cells a call, and with a framed transport within ``max_frame_bytes``
        (:class:`~fediscope.store.hbase_frames.FramedBatch`): a framed server closes the connection on a larger
        frame, so a batch of a thousand cells of some 3 KB failed, nothing of that call written."""
        return FramedBatch(table, self._batch_size, self._max_frame)

    def _rows(self, table: Any, keys: Sequence[bytes],
              columns: list[bytes]) -> Iterator[tuple[bytes, dict[bytes, bytes]]]:
        """``table.rows(keys, columns=columns)`` over as many ``getRowsWithColumns`` calls as it takes: ``batch_size``
        keys a call, and with a framed transport within ``max_frame_bytes``
        (:func:`~fediscope.store.hbase_frames.key_batches`). A thousand keys of some 2 KB made a call the server
        refused (it closes the connection) before any of it was read."""
        for batch in key_batches(table.name, keys, columns, self._batch_size, self._max_frame):
            yield from table.rows(batch, columns=columns)

    def _frame_cap(self) -> str:
        """What a call too large for a frame is over: the server's default frame limit, or the URL's."""
        if self._max_frame == MAX_FRAME_BYTES:
            return (f"over the {MAX_FRAME_BYTES:,} a framed Thrift server takes in one frame by default "
                    "(hbase.regionserver.thrift.framed.max_frame_size_in_mb, 2; a server that raised it: "
                    "max_frame_bytes= in the store URL)")
        return (f"over the {self._max_frame:,} the store URL's max_frame_bytes lets a frame take (the Thrift "
                "server's hbase.regionserver.thrift.framed.max_frame_size_in_mb)")

    @contextmanager
    def _connection(self, doing: str) -> Iterator[Any]:
        with self._errors(doing), self._pool.connection() as conn, _replaced_on_error(conn):
            if _dropped(conn):
                self._reopen(conn)
            yield conn
        _ANSWERED.add(self._pool_key)  # not after an error: the block raised

    def _reopen(self, conn: Any, why: str = "") -> None:
        """Open a pooled connection the server dropped (:func:`_dropped`) again, before any call is sent on it
        (``why``: another reason, for the log).

        A failure to open it (the server is still down) is raised as the call's: the pool then gives the connection
        a new socket once more, and the message says the connection was refused."""
        if why:
            log.info("HBase at %s: a pooled connection opened again %s", self._address, why)
        else:
            log.info("HBase at %s: a pooled connection was closed by the server (restarted?): opened again",
                     self._address)
        from thriftpy2.thrift import TException

        with contextlib.suppress(TException, OSError):
            conn.close()
        conn._refresh_thrift_client()
        conn.open()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        from thriftpy2.thrift import TException

        try:
            yield
        except (TException, OSError, *_protocol_errors()) as exc:
            answered = self._pool_key in _ANSWERED
            if not answered and _not_thrift(exc) and (status := self._http_port()):
                raise StoreError(f"HBase at {self._address}: could not {doing}: {HTTP_PORT} (it answered an HTTP "
                                 f"request with {status!r})") from exc
            hint = _hint(exc, answered=answered)
            raise StoreError(f"HBase at {self._address}: could not {doing}: {_reason(exc)}{hint}") from exc
        except FrameTooSmall as exc:  # what the checks before a write do not see (a write's own rows are checked)
            raise StoreError(f"HBase at {self._address}: could not {doing}: a row (its largest cell of column "
                             f"{exc.column.decode(errors='replace')}) would take {exc.size:,} bytes in one Thrift "
                             f"call, {self._frame_cap()}") from None


#: what a write that met another writer of the same metric says (``what``: what that writer did): one that did not
#: take turns on the metric's write lease (:meth:`HBaseStore._writing`; a fediscope older than the lease, or a writer
#: that stalled past its lease and went on)
_OTHER_WRITER = ("another writer of the same metric (another lake sharing this store?) {what} without waiting for "
                 "this one's write lease (a fediscope older than write leases, or a writer that stalled past its "
                 "lease): run this one again once the other is done")


def _create_table(conn: Any, name: str, families: dict[str, dict[str, Any]]) -> bool:
    """Create a table that was not there when the tables were listed; False when it is there by now: another writer
    (two lakes, a `gdpr erase` beside a first `process`) created it in between, and HBase's ``AlreadyExists`` stopped
    this one ("could not create tables: table …-catalog already exists")."""
    from happybase.connection import Hbase

    already_exists = sys.modules[Hbase.__module__].AlreadyExists  # happybase's own Thrift module's
    try:
        conn.create_table(name, families)
    except already_exists:
        log.info("HBase table %s was created meanwhile by another writer", name)
        return False
    return True


def _clash_message(address: str, prefix: str, clashes: Sequence[str]) -> str:
    """What :meth:`HBaseStore._checked` says: the clash, explained by the first clashing prefix, and a fix."""
    other = clashes[0]
    short, long = sorted((prefix, other), key=len)
    rest = long[len(short) + 1:]
    others = ", ".join(f"{name!r} (catalog table {layout.catalog_table(name)})" for name in clashes)
    return (f"HBase at {address}: the table prefix {prefix!r} (FEDISCOPE_HBASE_TABLE_PREFIX) clashes with the "
            f"prefix of another environment on this server, {others}: a table {long}_<name> would be both metric "
            f"<name> of {long!r} and metric {rest}_<name> of {short!r}, so each would take the other's tables for "
            f"its own (leftovers to drop, tables to write); give one of them a prefix that does not start with the "
            f"other followed by '_', such as {f'{short}-{rest}'!r} for {long!r} (infra/hbase/README.md)")


@contextmanager
def _replaced_on_error(conn: Any) -> Iterator[None]:
    """A pooled connection left by an error goes back to the pool on a new socket, never on the one it had, and the
    one it had is closed.

    Thrift answers on a connection in the order it was asked: a call cut off between its request and its reply
    (an error while reading the reply, Ctrl-C, SIGTERM's Terminated) leaves the rest of that reply in the socket,
    and the next call on the connection reads it as its own answer; thriftpy2 checks neither the method name nor
    the sequence number, so that call fails (``No protocol version header``) or, worse, returns another call's
    answer. happybase's pool replaces a connection only after a TException or an OSError (a timeout included):
    not after thriftpy2's ProtocolError (an Exception of its Cython protocol), nor after anything else raised
    while a call was out. Those are replaced here (happybase's own way, ``_refresh_thrift_client``), and opened
    again at once, so that an outer block of the same thread that goes on with ``conn`` has a working
    connection; if that fails, the pool opens it when it hands it out next.

    The socket a connection had is closed here after any error: the pool's own replacement drops it without closing
    it, and an error kept by its caller (its traceback holds the transport) kept it open, one more connection to the
    Thrift server for each error, until garbage collection."""
    from thriftpy2.thrift import TException

    try:
        yield
    except BaseException as exc:
        with contextlib.suppress(TException, OSError):
            conn.close()
        if not isinstance(exc, (TException, OSError)):  # those the pool replaces itself
            conn._refresh_thrift_client()
            with contextlib.suppress(TException, OSError):
                conn.open()
        raise


def _socket_of(conn: Any) -> socket.socket | None:
    """The socket of a happybase connection's transport, None when it has none (not open)."""
    transport = conn.transport
    # thriftpy2's Cython transports give their TSocket's socket as ``sock``; its pure-Python ones hold the TSocket
    sock = getattr(transport, "sock", None) or getattr(getattr(transport, "_trans", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _thrift_reply(answer: bytes) -> bool:
    """Whether bytes a port answered begin as a Thrift reply does: the binary protocol's version ``0x8001`` (strict,
    as happybase and HBase write it) or the compact protocol's id ``0x82``, at the start or after a frame's length."""
    return any(answer[at:at + 2] == b"\x80\x01" or answer[at:at + 1] == b"\x82" for at in (0, 4))


def _not_thrift(exc: BaseException) -> bool:
    """Whether ``exc`` is what a first call meets at a port of another protocol: a reply that is no Thrift, the
    connection closed unanswered, or no answer at all."""
    from thriftpy2.protocol.exc import TProtocolException

    return (isinstance(exc, (TProtocolException, TimeoutError, *_protocol_errors()))
            or ("TTransport" in type(exc).__name__ and "read 0 bytes" in str(exc)))


def _dropped(conn: Any) -> bool:
    """Whether the server has closed (or reset) a pooled connection while it waited in the pool, so that a call
    on it would fail: a Thrift server restarted (or stopped) since leaves each connection it had at end of file.

    Between calls nothing is owed on a connection (each call reads its whole reply), so a socket that reads as
    ready then holds the server's end of file, a reset, or bytes no call asked for: none of which a call can use.
    Checked without reading anything (``poll``, no wait) and before the call's request is sent, so that the call
    goes on a new connection and is certain to be made once (a write too: the dropped one never carried it). A
    server that goes down after the check fails the call as before: after a request is sent, a closed connection
    cannot tell a call never made from one made and not answered, so none is sent again (a ``checkAndPut`` of a
    write lease made twice would find its own lease taken)."""
    sock = _socket_of(conn)
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLPRI)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # a socket closed meanwhile (fileno -1)
        return True


_MISMATCH = ("the server may speak another transport or protocol than this URL asks for (its transport= and "
             "protocol= options, default buffered and binary, must match how the Thrift server was started: -hsha or "
             "-nonblocking need transport=framed, -c protocol=compact), or answer HTTP (Thrift in HTTP mode, the REST "
             "port): point the URL at the Thrift server's socket port")


def _protocol_errors() -> tuple[type[BaseException], ...]:
    """thriftpy2's Cython binary protocol raises its own ProtocolError (an Exception, no TException) for a reply that
    is not Thrift: an HTTP endpoint's answer, say."""
    try:
        from thriftpy2.protocol.cybin import ProtocolError
    except ImportError:  # thriftpy2 without its Cython extension: TProtocolException (a TException) instead
        return ()
    return (ProtocolError,)


def _socket_error(exc: BaseException) -> OSError | None:
    """The socket's own error behind thriftpy2's "Could not connect to ('host', 9090)", which it raises while
    handling it and so keeps only as the context: the resolver's "Name or service not known", "Connection
    refused"."""
    from thriftpy2.transport import TTransportException

    if not isinstance(exc, TTransportException) or exc.type != TTransportException.NOT_OPEN:
        return None
    context = exc.__cause__ or exc.__context__
    return context if isinstance(context, OSError) else None


def _reason(exc: BaseException) -> str:
    """What went wrong, one line: an HBase IOError's message is bytes (happybase decodes nothing), and on a real
    cluster a whole Java stack trace (Thrift1's getIOError sends getStackTraceAsString): its first line says it.
    A connection that could not be made: the socket's reason (the address is already in the message)."""
    if (socket_error := _socket_error(exc)) is not None:
        return socket_error.strerror or str(socket_error) or type(socket_error).__name__
    reason: Any = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if isinstance(reason, (bytes, bytearray)):
        reason = bytes(reason).decode("utf-8", "replace")
    lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


#: What a reply that is not Thrift means once the server has answered calls of this pool: not a server of another
#: transport or protocol, but a reply stream out of step (a call cut off between its request and its reply left the
#: rest of that reply in the socket); :func:`_replaced_on_error` (or happybase's pool) has opened the connection again.
_OUT_OF_STEP = ("the reply was out of step with the call (this server has answered before, so it speaks this URL's "
                "transport and protocol): the connection was opened again; run the command again")


def _hint(exc: BaseException, answered: bool = False) -> str:
    """What to check about ``exc``; ``answered``: whether the server has answered a call of this store's pool
    before (then a reply that is not Thrift is no transport or protocol mismatch)."""
    from thriftpy2.protocol.exc import TProtocolException

    if isinstance(exc, (TProtocolException, *_protocol_errors())):
        return f"; {_OUT_OF_STEP if answered else _MISMATCH}"
    if isinstance(_socket_error(exc), socket.gaierror):  # no Thrift server to ask about: the name does not resolve
        return "; check the host name in the store URL (this machine cannot resolve it)"
    if isinstance(exc, TimeoutError):  # socket.timeout: a read after the connection was made (opening one that
        # times out is "Could not connect"): something listens there, so whether the server runs is not the question
        return (f"; the server took the connection but gave no answer within the timeout (timeout= in the URL, "
                f"{HBASE_DEFAULTS['timeout']} ms by default): an overloaded Thrift server, or another service on that "
                "port; point the URL at the Thrift server's port (9090 by default)")
    if isinstance(exc, (OSError, socket.timeout)) or "TTransport" in type(exc).__name__:
        if "read 0 bytes" in str(exc) and answered:  # it spoke this URL's transport and protocol before
            return ("; the server closed the connection (it had answered this run's calls before, so it speaks this "
                    "URL's transport and protocol: it stopped or restarted, or something between cut the connection); "
                    "is the HBase Thrift server running (hbase thrift start -p 9090)? Run the command again once it is")
        if "read 0 bytes" in str(exc):  # the server closed the connection: also what a mismatch looks like
            return f"; is the HBase Thrift server running (hbase thrift start -p 9090)? Or {_MISMATCH}"
        return "; is the HBase Thrift server running (hbase thrift start -p 9090)?"
    return ""


def _after_prefix(prefix: bytes) -> bytes | None:
    """The first row key after every key that starts with ``prefix`` (None: none, the prefix is all 0xFF bytes)."""
    kept = prefix.rstrip(b"\xff")
    return kept[:-1] + bytes([kept[-1] + 1]) if kept else None


def _start_row(start: bytes) -> bytes | None:
    """A scan's start row HBase takes (at most :data:`~fediscope.store.rowkeys.MAX_ROW_LENGTH` bytes: a longer one is
    refused, ``Internal error processing scannerOpenWithScan``) that starts the scan at the same rows as ``start``;
    None when no row key can come at or after ``start``.

    A paging position (``after``) is anything the caller gives, so its encoding may be longer; every row key HBase
    holds is at most that long. Such a key ``k`` comes at or after a longer ``start`` exactly when it differs from
    ``start`` within its first ``MAX_ROW_LENGTH`` bytes, by a greater byte: when ``k`` comes after every key that
    starts with those bytes, that is at or after :func:`_after_prefix` of them (every key in between is longer)."""
    if len(start) <= MAX_ROW_LENGTH:
        return start
    return _after_prefix(start[:MAX_ROW_LENGTH])


class _Unreadable:
    """A stored cell that is not JSON: equal to no value, so a write's comparison rewrites its row."""

    def __repr__(self) -> str:
        return "<a cell that is not JSON>"


def _stored_value(cell: bytes | None) -> Any:
    """A cell's value as stored (JSON-decoded, not cast); None for a missing cell, :class:`_Unreadable` for one
    that is not JSON."""
    if cell is None:
        return None
    try:
        return json.loads(cell)
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return _Unreadable()


def _stored_equals(cell: bytes | None, type_: str, value: Any) -> bool:
    """Whether a stored cell holds ``value`` (already of the column's type ``type_``)."""
    stored = _stored_value(cell)
    if stored is None or isinstance(stored, _Unreadable):
        return False
    try:
        return cast(stored, type_) == value
    except (ValueError, TypeError):
        return False
