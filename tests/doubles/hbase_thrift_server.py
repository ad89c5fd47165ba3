"""An HBase Thrift (v1) server for tests: the ``Hbase.thrift`` IDL that ships inside happybase, served with
thriftpy2 on 127.0.0.1 and backed by in-memory sorted tables.

happybase — and so :class:`fediscope.store.hbase.HBaseStore` — talks to it exactly as to ``hbase thrift
start``: same IDL, same binary/compact protocols, buffered or framed transports. It implements the calls a
client makes for tables, rows, batches and scanners, with HBase's semantics where they matter:

* a table is a map from row key to cells, kept sorted by unsigned byte order; each family keeps one version
  (``VERSIONS => 1``: of a cell's puts, the one with the newest timestamp is the cell; on a tie, the later put);
* every put has a timestamp: the server's clock in milliseconds (``clock``, ``int(time.time() * 1000)``), or
  the client's with ``mutateRowTs``/``mutateRowsTs``; reads answer it in ``TCell.timestamp``;
* a delete removes nothing: it writes a delete marker with the same kind of timestamp, which hides every
  version of what it covers whose timestamp is not later than its own, including versions put afterwards.
  A column delete (``family:qualifier``) marks that column, a family delete (bare ``family``) the family, and
  ``deleteAllRow`` every family of the row (a family marker each, as ``new Delete(row)`` does). So a put in the
  same millisecond as a delete of its cell — or with an older client timestamp — is not seen, exactly as on a
  region server, until ``majorCompact`` drops the markers and the cells they hide (the double compacts only
  when asked). The mutations of one row in one call share a timestamp here, so a put and a delete of the same
  cell in one call leave it deleted (a region server applies them as a Put and a Delete stamped one after the
  other: the same, unless the millisecond turns in between);
* a column is ``family:qualifier``; a bare ``family`` names the whole family in reads and deletes (as
  ``CellUtil.parseColumn`` does), while ``family:`` is the empty qualifier;
* ``getRows*`` answer only the rows that exist; a scan's start row is inclusive and its stop row exclusive
  (the other way round for a reversed scan); a scanner pages with ``scannerGetList`` until an empty list;
* unknown tables and families, enabled tables being deleted and disabled tables being used raise ``IOError``,
  whose message is a Java stack trace as HBase's (the exception on its first line, then ``\tat …`` frames);
  creating an existing table raises ``AlreadyExists``; unknown scanner ids raise ``IllegalArgument``;
* ``checkAndPut`` compares a cell with an expected value and puts, atomically; an expected value left out or
  empty matches a cell that is absent or empty (``HRegion.checkAndMutate``'s ``valueIsNull``);
* filters (``filterString``) are not implemented and raise ``IOError`` rather than being ignored;
* a row key longer than ``MAX_ROW_LENGTH`` (32767 bytes, ``HConstants.MAX_ROW_LENGTH``) is refused, as
  ``Mutation.checkRow`` refuses it ("Row length 32768 is > 32767") when the handler builds its Put or Delete:
  ``mutateRow``/``mutateRowTs`` build it inside their ``try`` and answer ``IllegalArgument`` (the stack trace
  again); ``mutateRows``/``mutateRowsTs`` build every row's Put and Delete before applying any, outside it, and
  ``deleteAll``/``deleteAllRow`` catch only ``IOException``, so the ``IllegalArgumentException`` escapes the
  handler and libthrift answers ``TApplicationException(INTERNAL_ERROR, "Internal error processing <method>")``
  (the reason is only in the server's log). Either way the whole call is refused and nothing of it is applied;
* reads refuse such a row key as well: ``new Get(row)`` checks it (``Mutation.checkRow``), and ``Scan``'s start and
  stop rows are checked the same way ("startRow's length must be less than or equal to 32767 …"), both inside
  handlers that catch only ``IOException`` (``get``, ``getRowWithColumns``, ``getRowsWithColumns``: every row of
  the call; ``scannerOpenWithScan``, ``scannerOpen``, ``scannerOpenWithStop``, ``scannerOpenWithPrefix``), so each
  answers the ``INTERNAL_ERROR`` naming only the method, where the SQL stores answer "not found";
* a put of a cell over the handler's ``max_key_value_size`` (:data:`MAX_KEY_VALUE_SIZE`, 10 MiB,
  ``hbase.client.keyvalue.maxsize``'s default, unless a test sets it otherwise, as a cluster may: 20 bytes and the
  row key, family, qualifier and value) is refused, as ``HTable.put`` refuses it ("KeyValue size too large") before
  sending any put of the call: ``IllegalArgument`` with the stack trace, nothing of the call applied.

Anything else in the IDL answers ``IOError("not implemented by the test double")``. ``calls`` counts the
calls by name, so tests can check that writes are batched. ``fail(method, table, skip=n)`` makes the
(n+1)-th next call of a write method on a table raise ``IOError`` once, changing nothing, as a write cut
off by a lost connection or a failed region server would, so tests can stop a write between two batches.
``garble(method)`` puts a stray byte before the next reply to ``method``, so tests can see what a client does with
a reply stream out of step (thriftpy2: ``ProtocolError: No protocol version header``).
With the framed transport a frame over ``max_frame_bytes`` (:data:`MAX_FRAME_BYTES`, 2 MiB, HBase's
``hbase.regionserver.thrift.framed.max_frame_size_in_mb`` default, unless a test sets it otherwise) is refused as
libthrift's ``TFramedTransport`` refuses it ("Frame size … larger than max length"): the server reads its length,
closes the connection and applies nothing of the call; ``frames`` lists the sizes of the frames read, ``refused_frames``
those refused.
``clock`` (a callable returning milliseconds) can be replaced, e.g. ``monkeypatch.setattr(hbase_double,
"clock", lambda: 1000)``, to make every call land in the same millisecond. ``table(name).rows`` is what a
read sees (rows with visible cells, each cell a ``(value, timestamp)``); ``stored`` and the ``*_markers``
what is kept.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import happybase
import pytest
import thriftpy2
from thriftpy2.protocol import TBinaryProtocolFactory, TCompactProtocolFactory
from thriftpy2.server import TThreadedServer
from thriftpy2.thrift import TApplicationException, TProcessor
from thriftpy2.transport import TBufferedTransport, TBufferedTransportFactory, TServerSocket, TTransportException
from thriftpy2.transport.base import readall
from thriftpy2.transport.framed import TFramedTransport

from doubles.ports import bind_unused

IDL = Path(happybase.__file__).parent / "Hbase.thrift"
hbase_thrift = thriftpy2.load(str(IDL), module_name="hbase_double_thrift")


def _java_error(first_line: str) -> Exception:
    """An ``IOError`` as HBase's Thrift1 handler sends it (``getIOError``): the message is the Java exception's whole
    stack trace (``Throwables.getStackTraceAsString``), its first line the exception and its message."""
    frames = "".join(f"\tat org.apache.hadoop.hbase.thrift.ThriftHBaseServiceHandler.call{i}(ThriftHBaseServiceHandler"
                     f".java:{100 + i})\n" for i in range(20))
    return hbase_thrift.IOError(message=f"{first_line}\n{frames}")


#: the longest row key HBase takes, in bytes (``HConstants.MAX_ROW_LENGTH``, ``Short.MAX_VALUE``)
MAX_ROW_LENGTH = 32767


def _row_length_error(row: bytes) -> str | None:
    """What ``Mutation.checkRow`` says of a row key too long for HBase, or None when it takes it."""
    if len(row) > MAX_ROW_LENGTH:
        return f"java.lang.IllegalArgumentException: Row length {len(row)} is > {MAX_ROW_LENGTH}"
    return None


def _check_row_inside(row: bytes) -> None:
    """A handler that builds its mutation inside its ``try``: ``IllegalArgument`` with the stack trace."""
    if (error := _row_length_error(row)) is not None:
        raise hbase_thrift.IllegalArgument(message=_java_error(error).message)


def _check_rows_escaping(method: str, rows: list[bytes]) -> None:
    """A handler that builds its mutations, ``Get`` or ``Scan`` where its ``catch`` does not reach (or catches only
    ``IOException``): the ``IllegalArgumentException`` escapes it (``HbaseHandlerMetricsProxy`` rethrows it as is),
    and libthrift's ``ProcessFunction`` answers an INTERNAL_ERROR that names only the method."""
    if any(_row_length_error(row) is not None for row in rows):
        raise TApplicationException(TApplicationException.INTERNAL_ERROR, f"Internal error processing {method}")


#: the most bytes a cell may take (``hbase.client.keyvalue.maxsize``, 10 MiB by default; the Thrift server is the
#: client), as ``KeyValueUtil.length`` counts them: 20 and the row key, family, qualifier and value
MAX_KEY_VALUE_SIZE = 10 * 1024 * 1024


def _check_cell_sizes(rows: list[tuple[bytes, list[Any]]], max_size: int) -> None:
    """``HTable.put``'s ``validatePut``, for every put of a call before any is sent: a cell over ``max_size`` (the
    handler's ``max_key_value_size``) is an ``IllegalArgumentException``, which each handler that puts answers as
    ``IllegalArgument`` with the stack trace; nothing of the call is applied."""
    for row, mutations in rows:
        for mutation in mutations:
            if mutation.isDelete:
                continue
            family, qualifier = _parse_column(mutation.column)
            size = 20 + len(row) + len(family) + len(qualifier or b"") + len(mutation.value or b"")
            if size > max_size:
                error = "java.lang.IllegalArgumentException: KeyValue size too large"
                raise hbase_thrift.IllegalArgument(message=_java_error(error).message)


Cell = tuple[bytes, int]  # (value, timestamp in milliseconds)


@dataclass
class Table:
    """Cells as stored (the newest put of each column, hidden or not), delete markers, and the visible view."""

    families: dict[bytes, Any]
    enabled: bool = True
    stored: dict[bytes, dict[bytes, Cell]] = field(default_factory=dict)  # row -> b"f:q" -> newest put
    keys: list[bytes] = field(default_factory=list)  # sorted row keys with stored cells (visible or not)
    family_markers: dict[tuple[bytes, bytes], int] = field(default_factory=dict)  # (row, family) -> timestamp
    column_markers: dict[tuple[bytes, bytes], int] = field(default_factory=dict)  # (row, b"f:q") -> timestamp

    def put(self, row: bytes, column: bytes, value: bytes, timestamp: int) -> None:
        if row not in self.stored:
            bisect.insort(self.keys, row)
            self.stored[row] = {}
        current = self.stored[row].get(column)
        if current is None or timestamp >= current[1]:
            self.stored[row][column] = (value, timestamp)

    def mark(self, markers: dict[tuple[bytes, bytes], int], row: bytes, what: bytes, timestamp: int) -> None:
        markers[(row, what)] = max(timestamp, markers.get((row, what), timestamp))

    def hidden(self, row: bytes, column: bytes, timestamp: int) -> bool:
        family = column.partition(b":")[0]
        return timestamp <= max(self.family_markers.get((row, family), -1), self.column_markers.get((row, column), -1))

    def visible(self, row: bytes) -> dict[bytes, Cell]:
        return {column: cell for column, cell in self.stored.get(row, {}).items()
                if not self.hidden(row, column, cell[1])}

    @property
    def rows(self) -> dict[bytes, dict[bytes, Cell]]:
        """What reads see: the rows with a visible cell, each with its visible cells (a copy)."""
        return {row: cells for row in self.keys if (cells := self.visible(row))}

    def compact(self) -> None:
        """A major compaction: the hidden cells and the delete markers go."""
        self.stored = {row: cells for row in self.keys if (cells := self.visible(row))}
        self.keys = sorted(self.stored)
        self.family_markers.clear()
        self.column_markers.clear()


def _parse_column(column: bytes) -> tuple[bytes, bytes | None]:
    """``b"cf"`` → (cf, None) meaning the whole family; ``b"cf:q"`` → (cf, q); ``b"cf:"`` → (cf, b"")."""
    family, sep, qualifier = column.partition(b":")
    return (family, qualifier) if sep else (family, None)


class HBaseHandler:
    """The service implementation; method and argument names follow ``Hbase.thrift``."""

    def __init__(self) -> None:
        self.tables: dict[bytes, Table] = {}
        self.scanners: dict[int, tuple[Table, list[bytes], list[bytes] | None, bool]] = {}
        self.calls: Counter[str] = Counter()
        self.failures: list[list[Any]] = []  # [method, table, calls to let through first]
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.clock: Callable[[], int] = lambda: int(time.time() * 1000)
        #: ``hbase.client.keyvalue.maxsize``: the most bytes a cell may take (:func:`_check_cell_sizes`)
        self.max_key_value_size = MAX_KEY_VALUE_SIZE

    def __getattr__(self, name: str) -> Any:
        if name in hbase_thrift.Hbase.thrift_services:
            def not_implemented(*args: Any) -> None:
                raise hbase_thrift.IOError(message=f"{name} is not implemented by the test double")
            return not_implemented
        raise AttributeError(name)

    def fail(self, method: str, table: bytes, skip: int = 0) -> None:
        """Make the call of ``method`` on ``table`` after the next ``skip`` ones raise ``IOError``, once."""
        with self._lock:
            self.failures.append([method, table, skip])

    def _injected_failure(self, method: str, table: bytes) -> None:
        for failure in self.failures:
            if failure[:2] == [method, table]:
                if failure[2] == 0:
                    self.failures.remove(failure)
                    raise _java_error(f"java.io.IOException: injected failure of {method} on {table.decode()}")
                failure[2] -= 1
                return

    # -- helpers --------------------------------------------------------------------------------------------

    def _table(self, name: bytes, enabled: bool = True) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise _java_error(f"org.apache.hadoop.hbase.TableNotFoundException: {name.decode()}")
        if enabled and not table.enabled:
            raise _java_error(f"org.apache.hadoop.hbase.TableNotEnabledException: {name.decode()}")
        return table

    def _check_family(self, table: Table, family: bytes) -> None:
        if family not in table.families:
            raise _java_error(
                f"org.apache.hadoop.hbase.regionserver.NoSuchColumnFamilyException: {family.decode()}")

    def _select(self, table: Table, row: bytes, columns: list[bytes] | None, sort: bool = False) -> Any:
        cells = table.visible(row)
        if not cells:
            return None
        chosen: dict[bytes, Cell] = {}
        for name, cell in cells.items():
            if columns:
                family, qualifier = _parse_column(name)
                if not any(_parse_column(c) in ((family, None), (family, qualifier)) for c in columns):
                    continue
            chosen[name] = cell
        if not chosen:
            return None
        if sort:
            return hbase_thrift.TRowResult(row=row, sortedColumns=[
                hbase_thrift.TColumn(columnName=n, cell=hbase_thrift.TCell(value=v, timestamp=t))
                for n, (v, t) in sorted(chosen.items())])
        return hbase_thrift.TRowResult(row=row, columns={
            n: hbase_thrift.TCell(value=v, timestamp=t) for n, (v, t) in chosen.items()})

    def _mutate(self, table: Table, row: bytes, mutations: list[Any], timestamp: int | None = None) -> None:
        """One row's mutations, all with one timestamp: the client's, or the server's clock now."""
        stamp = timestamp if timestamp is not None else self.clock()
        for mutation in mutations:  # checked first: a mutation with an unknown family changes nothing
            self._check_family(table, _parse_column(mutation.column)[0])
        for mutation in mutations:
            family, qualifier = _parse_column(mutation.column)
            if mutation.isDelete and qualifier is None:
                table.mark(table.family_markers, row, family, stamp)
            elif mutation.isDelete:
                table.mark(table.column_markers, row, family + b":" + qualifier, stamp)
            else:
                table.put(row, family + b":" + (qualifier or b""), mutation.value or b"", stamp)

    # -- administration -------------------------------------------------------------------------------------

    def getTableNames(self) -> list[bytes]:
        self.calls["getTableNames"] += 1
        with self._lock:
            return sorted(self.tables)

    def createTable(self, tableName: bytes, columnFamilies: list[Any]) -> None:
        self.calls["createTable"] += 1
        with self._lock:
            if tableName in self.tables:
                raise hbase_thrift.AlreadyExists(message=f"table {tableName.decode()} already exists")
            if not columnFamilies:
                raise hbase_thrift.IllegalArgument(message="a table needs at least one column family")
            self.tables[tableName] = Table(families={d.name.rstrip(b":"): d for d in columnFamilies})

    def getColumnDescriptors(self, tableName: bytes) -> dict[bytes, Any]:
        self.calls["getColumnDescriptors"] += 1
        with self._lock:
            table = self._table(tableName, enabled=False)
            return {name + b":": descriptor for name, descriptor in table.families.items()}

    def isTableEnabled(self, tableName: bytes) -> bool:
        with self._lock:
            return self._table(tableName, enabled=False).enabled

    def enableTable(self, tableName: bytes) -> None:
        with self._lock:
            self._table(tableName, enabled=False).enabled = True

    def disableTable(self, tableName: bytes) -> None:
        with self._lock:
            self._table(tableName, enabled=False).enabled = False

    def deleteTable(self, tableName: bytes) -> None:
        self.calls["deleteTable"] += 1
        with self._lock:
            if self._table(tableName, enabled=False).enabled:
                raise _java_error(
                    f"org.apache.hadoop.hbase.TableNotDisabledException: {tableName.decode()}")
            del self.tables[tableName]

    # -- reads ----------------------------------------------------------------------------------------------

    def get(self, tableName: bytes, row: bytes, column: bytes, attributes: Any) -> list[Any]:
        _check_rows_escaping("get", [row])
        with self._lock:
            result = self._select(self._table(tableName), row, [column])
            return list(result.columns.values()) if result else []

    def getRow(self, tableName: bytes, row: bytes, attributes: Any) -> list[Any]:
        return self.getRowWithColumns(tableName, row, None, attributes)

    def getRowWithColumns(self, tableName: bytes, row: bytes, columns: list[bytes] | None,
                          attributes: Any) -> list[Any]:
        self.calls["getRowWithColumns"] += 1
        _check_rows_escaping("getRowWithColumns", [row])
        with self._lock:
            result = self._select(self._table(tableName), row, columns)
            return [result] if result else []

    def getRows(self, tableName: bytes, rows: list[bytes], attributes: Any) -> list[Any]:
        return self.getRowsWithColumns(tableName, rows, None, attributes)

    def getRowsWithColumns(self, tableName: bytes, rows: list[bytes], columns: list[bytes] | None,
                           attributes: Any) -> list[Any]:
        self.calls["getRowsWithColumns"] += 1
        _check_rows_escaping("getRowsWithColumns", rows)
        with self._lock:
            table = self._table(tableName)
            return [r for r in (self._select(table, row, columns) for row in rows) if r is not None]

    # -- writes ---------------------------------------------------------------------------------------------

    def mutateRow(self, tableName: bytes, row: bytes, mutations: list[Any], attributes: Any) -> None:
        self.calls["mutateRow"] += 1
        with self._lock:
            self._injected_failure("mutateRow", tableName)
            _check_row_inside(row)
            _check_cell_sizes([(row, mutations)], self.max_key_value_size)
            self._mutate(self._table(tableName), row, mutations)

    def mutateRowTs(self, tableName: bytes, row: bytes, mutations: list[Any], timestamp: int,
                    attributes: Any) -> None:
        with self._lock:
            self._injected_failure("mutateRowTs", tableName)
            _check_row_inside(row)
            _check_cell_sizes([(row, mutations)], self.max_key_value_size)
            self._mutate(self._table(tableName), row, mutations, timestamp)

    def mutateRows(self, tableName: bytes, rowBatches: list[Any], attributes: Any) -> None:
        self.calls["mutateRows"] += 1
        with self._lock:
            self._injected_failure("mutateRows", tableName)
            _check_rows_escaping("mutateRows", [batch.row for batch in rowBatches])  # before any is applied
            _check_cell_sizes([(batch.row, batch.mutations) for batch in rowBatches], self.max_key_value_size)
            table = self._table(tableName)
            for batch in rowBatches:
                self._mutate(table, batch.row, batch.mutations)

    def mutateRowsTs(self, tableName: bytes, rowBatches: list[Any], timestamp: int, attributes: Any) -> None:
        with self._lock:
            self._injected_failure("mutateRowsTs", tableName)
            _check_rows_escaping("mutateRowsTs", [batch.row for batch in rowBatches])  # before any is applied
            _check_cell_sizes([(batch.row, batch.mutations) for batch in rowBatches], self.max_key_value_size)
            table = self._table(tableName)
            for batch in rowBatches:
                self._mutate(table, batch.row, batch.mutations, timestamp)

    def checkAndPut(self, tableName: bytes, row: bytes, column: bytes, value: bytes | None, mput: Any,
                    attributes: Any) -> bool:
        """Put ``mput`` (always a put: the handler builds a ``Put`` whatever ``isDelete`` says) when, atomically,
        the cell ``column`` of ``row`` holds ``value``; True when it did. An expected ``value`` left out (None:
        ``ifNotExists``) or empty matches a cell that is absent *or empty*, as ``HRegion.checkAndMutate`` compares
        (``valueIsNull``). The put's timestamp is the clock, or the checked cell's when that is later (HBASE-14054:
        a put that passed the check is not eclipsed by the cell it replaced)."""
        self.calls["checkAndPut"] += 1
        with self._lock:
            self._injected_failure("checkAndPut", tableName)
            _check_row_inside(row)
            table = self._table(tableName)
            family, qualifier = _parse_column(column)
            self._check_family(table, family)
            put_family, put_qualifier = _parse_column(mput.column)
            self._check_family(table, put_family)
            _check_cell_sizes([(row, [mput])], self.max_key_value_size)
            cell = table.visible(row).get(family + b":" + (qualifier or b""))
            stored = cell[0] if cell is not None else b""  # absent and empty compare alike for an empty value
            if (stored != value) if value else stored:
                return False
            stamp = max(self.clock(), cell[1] if cell is not None else 0)
            table.put(row, put_family + b":" + (put_qualifier or b""), mput.value or b"", stamp)
            return True

    def deleteAll(self, tableName: bytes, row: bytes, column: bytes, attributes: Any) -> None:
        with self._lock:
            self._injected_failure("deleteAll", tableName)
            _check_rows_escaping("deleteAll", [row])
            self._mutate(self._table(tableName), row, [hbase_thrift.Mutation(isDelete=True, column=column)])

    def deleteAllRow(self, tableName: bytes, row: bytes, attributes: Any) -> None:
        self.calls["deleteAllRow"] += 1
        with self._lock:
            self._injected_failure("deleteAllRow", tableName)
            _check_rows_escaping("deleteAllRow", [row])
            table = self._table(tableName)
            stamp = self.clock()
            for family in table.families:
                table.mark(table.family_markers, row, family, stamp)

    def majorCompact(self, tableNameOrRegionName: bytes) -> None:
        self.calls["majorCompact"] += 1
        with self._lock:
            self._table(tableNameOrRegionName, enabled=False).compact()

    # -- scanners -------------------------------------------------------------------------------------------

    def scannerOpenWithScan(self, tableName: bytes, scan: Any, attributes: Any) -> int:
        self.calls["scannerOpenWithScan"] += 1
        if scan.filterString:
            raise hbase_thrift.IOError(message="filters are not implemented by the test double")
        _check_rows_escaping("scannerOpenWithScan", [scan.startRow or b"", scan.stopRow or b""])
        return self._open(tableName, scan.startRow or b"", scan.stopRow or b"", scan.columns,
                          bool(scan.reversed), bool(scan.sortColumns))

    def scannerOpen(self, tableName: bytes, startRow: bytes, columns: list[bytes], attributes: Any) -> int:
        _check_rows_escaping("scannerOpen", [startRow or b""])
        return self._open(tableName, startRow or b"", b"", columns, False, False)

    def scannerOpenWithStop(self, tableName: bytes, startRow: bytes, stopRow: bytes, columns: list[bytes],
                            attributes: Any) -> int:
        _check_rows_escaping("scannerOpenWithStop", [startRow or b"", stopRow or b""])
        return self._open(tableName, startRow or b"", stopRow or b"", columns, False, False)

    def scannerOpenWithPrefix(self, tableName: bytes, startAndPrefix: bytes, columns: list[bytes],
                              attributes: Any) -> int:
        _check_rows_escaping("scannerOpenWithPrefix", [startAndPrefix])
        stop = _increment(startAndPrefix)
        return self._open(tableName, startAndPrefix, stop or b"", columns, False, False)

    def _open(self, name: bytes, start: bytes, stop: bytes, columns: list[bytes] | None, reverse: bool,
              sort: bool) -> int:
        with self._lock:
            table = self._table(name)
            if reverse:  # start is the (inclusive) upper end, stop the (exclusive) lower end
                high = bisect.bisect_right(table.keys, start) if start else len(table.keys)
                low = bisect.bisect_right(table.keys, stop) if stop else 0
                keys = list(reversed(table.keys[low:high]))
            else:
                low = bisect.bisect_left(table.keys, start)
                high = bisect.bisect_left(table.keys, stop) if stop else len(table.keys)
                keys = table.keys[low:high]
            scanner_id = next(self._ids)
            self.scanners[scanner_id] = (table, keys, columns, sort)
            return scanner_id

    def scannerGetList(self, id: int, nbRows: int) -> list[Any]:
        self.calls["scannerGetList"] += 1
        with self._lock:
            if id not in self.scanners:
                raise hbase_thrift.IllegalArgument(message=f"no scanner with id {id}")
            table, keys, columns, sort = self.scanners[id]
            results: list[Any] = []
            while keys and len(results) < max(nbRows, 1):
                result = self._select(table, keys.pop(0), columns, sort)
                if result is not None:
                    results.append(result)
            return results

    def scannerGet(self, id: int) -> list[Any]:
        return self.scannerGetList(id, 1)

    def scannerClose(self, id: int) -> None:
        with self._lock:
            if self.scanners.pop(id, None) is None:
                raise hbase_thrift.IllegalArgument(message=f"no scanner with id {id}")


def _increment(prefix: bytes) -> bytes | None:
    """The first key after every key starting with ``prefix`` (None: no upper bound)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else None


#: the most bytes a framed Thrift server of HBase reads in one frame by default
#: (``hbase.regionserver.thrift.framed.max_frame_size_in_mb`` = 2)
MAX_FRAME_BYTES = 2 * 1024 * 1024


class _LimitedFrames(TFramedTransport):
    """thriftpy2's framed transport, refusing a frame over ``limit`` bytes as libthrift's does: it closes the
    connection (the server's loop ends on the exception and closes it) before reading any of the frame."""

    def __init__(self, trans: Any, limit: int, frames: list[int], refused: list[int]) -> None:
        super().__init__(trans)
        self._limit, self._frames, self._refused = limit, frames, refused

    def read_frame(self) -> None:
        (size,) = struct.unpack("!i", readall(self._trans.read, 4))
        if size > self._limit:
            self._refused.append(size)
            self._trans.close()
            raise TTransportException(TTransportException.UNKNOWN,
                                      f"Frame size ({size}) larger than max length ({self._limit})!")
        self._frames.append(size)
        self._rbuf = BytesIO(readall(self._trans.read, size))


class _LimitedFramesFactory:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.frames: list[int] = []
        self.refused: list[int] = []

    def get_transport(self, trans: Any) -> Any:
        return TBufferedTransport(_LimitedFrames(trans, self.limit, self.frames, self.refused))


class _Processor(TProcessor):
    """The service's processor, able to garble a reply (see :meth:`HBaseThriftDouble.garble`)."""

    def __init__(self, handler: HBaseHandler) -> None:
        super().__init__(hbase_thrift.Hbase, handler)
        self.garbled: set[str] = set()
        self._lock = threading.Lock()

    def send_result(self, oprot: Any, api: str, result: Any, seqid: int) -> None:
        with self._lock:
            stray = api in self.garbled
            self.garbled.discard(api)
        if stray:
            oprot.trans.write(b"x")
        super().send_result(oprot, api, result, seqid)


class _Server(TThreadedServer):
    """TThreadedServer whose socket is bound before serving, so port 0 can be resolved first, and which remembers
    the connections it accepted (:meth:`HBaseThriftDouble.stop`'s ``close_connections``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clients: set[Any] = set()
        self.clients_lock = threading.Lock()

    def serve(self) -> None:
        while not self.closed:
            try:
                client = self.trans.accept()
            except OSError:
                return
            with self.clients_lock:
                self.clients.add(client)
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def handle(self, client: Any) -> None:
        try:
            super().handle(client)
        finally:
            with self.clients_lock:
                self.clients.discard(client)

    def close_clients(self) -> None:
        """Close every connection accepted and still open, as the end of a server's process does: each client
        finds its connection closed by the server (its next read is 0 bytes, its next send may be refused)."""
        with self.clients_lock:
            clients, self.clients = list(self.clients), set()
        for client in clients:
            sock = client.sock  # None once its handler closed it
            with contextlib.suppress(AttributeError, OSError):
                sock.shutdown(socket.SHUT_RDWR)  # the handler's blocked read returns: it closes the socket and ends


class _ServerSocket(TServerSocket):
    """TServerSocket listening on a port that no server of this process was given lately (doubles/ports.py): the
    store's connection pools are process-wide, keyed by host and port, and a stopped double's threads still answer
    the connections they accepted."""

    def listen(self) -> None:
        if self.port:  # a port asked for (a server started again on the port of one stopped): that one
            self._init_sock()
            assert self.sock is not None
            self.sock.bind((self.host, self.port))
            self.sock.listen(self.backlog)
            return

        def bind() -> socket.socket:
            self._init_sock()
            assert self.sock is not None
            self.sock.bind((self.host, 0))
            return self.sock

        self.sock = bind_unused(bind)
        self.sock.listen(self.backlog)


class HBaseThriftDouble:
    """``with HBaseThriftDouble() as hbase: HBaseStore(hbase.url)`` — a Thrift server on a free port, or on ``port``
    (a server started again where one was stopped, ``stop(close_connections=True)``: a restarted Thrift server,
    serving the tables of ``handler``, the stopped one's: HBase keeps them, the Thrift gateway holds none)."""

    def __init__(self, transport: str = "buffered", protocol: str = "binary", port: int = 0,
                 handler: HBaseHandler | None = None, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.handler = handler or HBaseHandler()
        self.transport, self.protocol = transport, protocol
        self.max_frame_bytes = max_frame_bytes
        self._frames = _LimitedFramesFactory(max_frame_bytes)
        trans_factory = {"buffered": TBufferedTransportFactory(), "framed": self._frames}[transport]
        proto_factory = {"binary": lambda: TBinaryProtocolFactory(decode_response=False),
                         # thriftpy2's compact reader keeps the method name as bytes without decode_response;
                         # binary-typed fields (row keys, values) stay bytes either way
                         "compact": lambda: TCompactProtocolFactory()}[protocol]()
        self._socket = _ServerSocket(host="127.0.0.1", port=port, client_timeout=None)
        self._processor = _Processor(self.handler)
        self._server = _Server(self._processor, self._socket,
                               iprot_factory=proto_factory, itrans_factory=trans_factory)
        self._server.daemon = True
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        query = "" if (self.transport, self.protocol) == ("buffered", "binary") else \
            f"?transport={self.transport}&protocol={self.protocol}"
        return f"hbase://127.0.0.1:{self.port}{query}"

    @property
    def calls(self) -> Counter[str]:
        return self.handler.calls

    @property
    def clock(self) -> Callable[[], int]:
        """The server's clock in milliseconds, which stamps puts and deletes that carry no timestamp."""
        return self.handler.clock

    @clock.setter
    def clock(self, clock: Callable[[], int]) -> None:
        self.handler.clock = clock

    def table(self, name: str) -> Table:
        return self.handler.tables[name.encode()]

    @property
    def frames(self) -> list[int]:
        """The sizes of the frames read (framed transport), in order."""
        return self._frames.frames

    @property
    def refused_frames(self) -> list[int]:
        """The sizes of the frames refused, over ``max_frame_bytes`` (framed transport), in order."""
        return self._frames.refused

    def fail(self, method: str, table: str, skip: int = 0) -> None:
        """See :meth:`HBaseHandler.fail`."""
        self.handler.fail(method, table.encode(), skip)

    def client_connections(self) -> int:
        """The connections to this server whose client end is open, in this host's network namespace: each has its
        client's socket ``ESTABLISHED`` in ``/proc/net/tcp``. A client's close shows at once (its socket leaves that
        state within the ``close``), however late the server's thread reads the end of the connection."""
        established = "01"
        count = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            _slot, _local, remote, state, *_rest = line.split()
            if state == established and int(remote.rsplit(":", 1)[1], 16) == self.port:
                count += 1
        return count

    def garble(self, method: str) -> None:
        """Make the next reply to ``method`` start with a stray byte, once: what a client reads when something else
        in its process wrote into the connection, or when it reads a reply it did not ask for (a call cut off
        between its request and its reply, whose answer is still in the socket). The call's own work is done."""
        with self._processor._lock:
            self._processor.garbled.add(method)

    def start(self) -> HBaseThriftDouble:
        self._socket.listen()
        self.port = self._socket.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve, name="hbase-thrift-double", daemon=True)
        self._thread.start()
        return self

    def stop(self, close_connections: bool = False) -> None:
        """Stop taking connections. The connections accepted are still answered unless ``close_connections``: then
        they are closed, as a Thrift server whose process ended (stopped, restarted, killed) leaves its clients."""
        self._server.close()
        self._socket.close()  # shutdown + close: the blocked accept() raises and serve() returns
        if self._thread is not None:
            self._thread.join(timeout=5)
        if close_connections:
            self._server.close_clients()

    def restarted(self) -> HBaseThriftDouble:
        """A Thrift server restarted: this one stopped, its connections closed, and a new one started on its port,
        serving the same tables (see the class)."""
        self.stop(close_connections=True)
        return HBaseThriftDouble(self.transport, self.protocol, port=self.port, handler=self.handler,
                                 max_frame_bytes=self.max_frame_bytes).start()

    def __enter__(self) -> HBaseThriftDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def hbase_double() -> Iterator[HBaseThriftDouble]:
    """One Thrift server per test session; tests isolate themselves with their own table prefix."""
    with HBaseThriftDouble() as server:
        yield server
