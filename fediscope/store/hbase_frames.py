"""The bytes of the ``mutateRows`` and ``getRows`` calls an HBase store sends, as a framed Thrift server counts them
against its frame limit, and a batch that keeps each call within it (and the keys of a read, :func:`key_batches`).

With ``transport=framed`` (the Thrift server started with ``-hsha``, ``-nonblocking`` or ``-f``) a call travels as one
frame, and the server refuses a frame over its ``hbase.regionserver.thrift.framed.max_frame_size_in_mb`` (2 MiB by
default; libthrift's ``TFramedTransport``: ``Frame size (…) larger than max length``) by closing the connection: the
client sees it reset or closed, nothing of the call applied. happybase's batches are counted in cells (a thousand here,
``batch_size``), whatever their bytes, so a thousand cells of some 3 KB, or one row of two 1.5 MB values, were more
than a server takes. :class:`FramedBatch` sends a batch's rows before the next row would take it over the limit, each
row's cells in one call, and refuses a row that cannot fit a frame on its own: the Thrift server makes a row's puts of
one call one ``Put`` (its deletes one ``Delete``), which HBase applies whole, and a row split over several calls (as the
batch once did, at the cell that went over) was not atomic, a write that stopped between them leaving it half-written.
The store refuses such a row, and a cell that cannot fit a frame alone (:func:`lone_put_bytes`), before a write changes
anything (``HBaseStore._check_row_frames``).

Reads are calls too, and a frame each: a ``getRowsWithColumns`` of a thousand row keys of some 2 KB (a key of a few
long text columns) is over the limit just the same, so :func:`key_batches` splits a read's keys by their bytes as well
as by their count. The other calls the store sends carry at most a row key or two besides a few short names (a
``getRow``, a scan's start and stop rows and columns, a lease's ``checkAndPut``, a catalog put, checked before a
write): a row key is at most 32,767 bytes (HBase's ``MAX_ROW_LENGTH``; the store writes no longer one), a frame at
least 1 MiB (the URL's ``max_frame_bytes``), so they fit. (A lookup's own value, ``get`` or ``scan_prefix`` of a
text of over a MiB, is sent as given.)

Answers are not limited this way. libthrift's ``TFramedTransport`` checks the frames a server reads, not the ones it
writes (its ``flush`` frames whatever the answer holds), and thriftpy2's client reads a frame of whatever length it
is given, up to 2 GiB less a byte (a signed 32-bit length; a Java byte array's limit on the server too): a
``getRows`` or ``scannerGetList`` answer over the frame limit is read whole. Only an answer of 2 GiB or more fails,
which takes a call's rows averaging over 2 MiB each at the thousand rows a call (``batch_size``) reads; the reads
that ask for many keys ask for their ``i:rank`` cell only (a rank entry's key), and whole rows are read a page
(``top``) or a scanner's batch at a time.

The sizes are those of the binary protocol (exact); the compact protocol writes the same call in fewer bytes (its
field headers take one byte, not three, its lengths a varint, at most four bytes below 256 MiB), so they bound it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import happybase
from happybase.batch import Mutation  # the IDL's struct, as happybase's batch builds it

from fediscope.store.runs import sized_runs

#: the bytes of a call's message header (the version and type, the method's name, the sequence id) and its argument
#: struct's fixed parts: ``tableName`` (field header, length), ``rowBatches`` (field header, list header),
#: ``attributes`` (field header, map header; always sent, empty), the stop byte
_CALL = 4 + 4 + 4 + (3 + 4) + (3 + 5) + (3 + 6) + 1
#: a row's ``BatchMutation``: ``row`` (field header, length), ``mutations`` (field header, list header), stop
_ROW = (3 + 4) + (3 + 5) + 1
#: a put's ``Mutation``: ``isDelete`` (field header, bool), ``column`` and ``value`` (field header, length each),
#: ``writeToWAL`` (field header, bool), stop
_PUT = (3 + 1) + (3 + 4) + (3 + 4) + (3 + 1) + 1
#: a delete's ``Mutation``: as a put's, without a value
_DELETE = _PUT - (3 + 4)


def call_bytes(table: bytes, method: str = "mutateRows") -> int:
    """The bytes of a call of ``method`` on ``table`` without its rows: a ``mutateRows`` (its ``rowBatches``), or a
    ``getRowsWithColumns`` (its ``rows``: the same fixed parts; its ``columns``: :func:`columns_bytes`)."""
    return _CALL + len(method) + len(table)


def columns_bytes(columns: Sequence[bytes] | None) -> int:
    """The bytes of a read's ``columns`` (field header, list header, each column's length and bytes); none when
    left out (None)."""
    return 0 if columns is None else (3 + 5) + sum(4 + len(column) for column in columns)


def key_bytes(key: bytes) -> int:
    """The bytes a row key takes in a read's list of keys: its length, then its bytes."""
    return 4 + len(key)


def key_batches(table: bytes, keys: Iterable[bytes], columns: Sequence[bytes] | None, batch_size: int,
                max_frame: int | None) -> Iterator[list[bytes]]:
    """``keys`` in the lists of the ``getRowsWithColumns`` calls that read them: at most ``batch_size`` keys each
    (none: one list) and, with ``max_frame`` (a framed transport), a call within ``max_frame`` bytes. A key that
    would take a call over the limit starts the next list; a key always fits a call of its own (see the module).
    happybase's ``Table.rows`` sends a ``getRowsWithColumns`` with or without columns (was counted as a ``getRows``
    without: 11 bytes fewer than sent)."""
    fixed = call_bytes(table, "getRowsWithColumns") + columns_bytes(columns)
    yield from sized_runs(keys, key_bytes, fixed, max_frame, batch_size)


def row_bytes(row: bytes) -> int:
    """The bytes a row's ``BatchMutation`` takes besides its mutations."""
    return _ROW + len(row)


def put_bytes(column: bytes, value: bytes) -> int:
    """The bytes of a put's ``Mutation`` of ``column`` (``family:qualifier``) to ``value``."""
    return _PUT + len(column) + len(value)


def delete_bytes(column: bytes) -> int:
    """The bytes of a delete's ``Mutation`` of ``column`` (``family:qualifier`` or a family)."""
    return _DELETE + len(column)


def row_put_bytes(table: bytes, row: bytes, cells: Mapping[bytes, bytes]) -> int:
    """The bytes of a call putting one row's ``cells`` alone: the least frame the row needs (:class:`FramedBatch`
    sends a row's cells in one call)."""
    return call_bytes(table) + row_bytes(row) + sum(put_bytes(column, value) for column, value in cells.items())


def lone_put_bytes(table: bytes, row: bytes, column: bytes, value: bytes) -> int:
    """The bytes of a call putting one cell alone: the least frame a cell needs."""
    return row_put_bytes(table, row, {column: value})


class FrameTooSmall(ValueError):
    """A row's mutations (of one put or delete) that do not fit in a frame on their own: ``size`` is the least frame
    their call takes; ``column`` their largest column."""

    def __init__(self, table: bytes, row: bytes, column: bytes, size: int, frame: int) -> None:
        super().__init__(f"a row of table {table.decode(errors='replace')} (its largest cell of "
                         f"{column.decode(errors='replace')}) takes {size:,} bytes in one frame, over the {frame:,} "
                         "the Thrift server takes in one frame")
        self.table, self.row, self.column, self.size, self.frame = table, row, column, size, frame


class FramedBatch(happybase.Batch):
    """``table.batch(batch_size=…)``, whose ``mutateRows`` calls also stay within ``max_frame`` bytes (None: no limit,
    a buffered transport): a call is sent before the row (the cells of one ``put`` or ``delete``) that would take it
    over, so that each row's cells go in one call, which HBase applies whole. A row too large for a call of its own
    raises :class:`FrameTooSmall` before anything of it is sent (the rows before it may have been). A second put of a
    row already in the call that no longer fits goes in the next call (the store puts each row once a batch)."""

    def __init__(self, table: Any, batch_size: int, max_frame: int | None) -> None:
        super().__init__(table, batch_size=batch_size)
        self._max_frame = max_frame
        self._call = call_bytes(table.name)

    def _reset_mutations(self) -> None:
        super()._reset_mutations()
        self._bytes = 0

    def put(self, row: bytes, data: Mapping[bytes, bytes], wal: bool | None = None) -> None:
        wal = self._wal if wal is None else wal
        self._add(row, [(put_bytes(column, value), Mutation(isDelete=False, column=column, value=value,
                                                            writeToWAL=wal)) for column, value in data.items()])

    def delete(self, row: bytes, columns: Iterable[bytes] | None = None, wal: bool | None = None) -> None:
        if columns is None:  # the row's every family, as happybase's batch deletes a whole row
            if self._families is None:
                self._families = self._table._column_family_names()
            columns = self._families
        wal = self._wal if wal is None else wal
        self._add(row, [(delete_bytes(column), Mutation(isDelete=True, column=column, writeToWAL=wal))
                        for column in columns])

    def _add(self, row: bytes, mutations: list[tuple[int, Any]]) -> None:
        if self._max_frame is not None and mutations:
            cells = sum(size for size, _ in mutations)
            added = cells + (0 if row in self._mutations else row_bytes(row))
            if self._mutations and self._call + self._bytes + added > self._max_frame:
                self.send()
                added = cells + row_bytes(row)
            if self._call + added > self._max_frame:
                largest = max(mutations, key=lambda mutation: mutation[0])[1]
                raise FrameTooSmall(self._table.name, row, largest.column, self._call + added, self._max_frame)
            self._bytes += added
        for _, mutation in mutations:
            self._mutations[row].append(mutation)
            self._mutation_count += 1
        if self._batch_size and self._mutation_count >= self._batch_size:  # after the row, as happybase counts
            self.send()
