"""The bytes a metric's row takes in a MariaDB table, as InnoDB counts them against its row-size limit.

InnoDB (16 KiB pages, the ``DYNAMIC`` row format MariaDB 10.11 defaults to) refuses a row of :data:`ROW_LIMIT`
bytes or more with errno 1118 ``Row size too large (> 8126)``, twice over:

* at ``CREATE TABLE`` / ``ALTER TABLE`` (``innodb_strict_mode``, on by default), by the most a row of the declared
  columns could take, where a column that can be stored off-page (``LONGTEXT``, a ``VARCHAR`` of over 40 bytes)
  counts 21 bytes (its 20-byte reference and a length byte): :func:`declared_row_bytes`;
* at ``INSERT``, by the row's own values, after moving text values of over 40 bytes off-page: those take 22 bytes
  in the row (reference and two length bytes), shorter ones their length and a length byte, a NULL none:
  :func:`least_row_bytes`.

Both also count 5 header bytes, a bit a nullable column (every column outside the key), and InnoDB's hidden
``DB_TRX_ID`` and ``DB_ROLL_PTR`` (6 and 7 bytes). The counts were checked against MariaDB 10.11 byte for byte (its
error log names the size of the refused row). :func:`table_row_bytes` counts the table the MariaDB store declares,
a column with no value yet (``null``) as its ``BIGINT`` (8 bytes): what a first write or a rebuild creates, and
what ``fediscope doctor`` and ``process`` check a result by
(:func:`fediscope.engine.metrics.check_row_size`). :func:`declared_row_bytes` alone counts it as ``BOOL`` (1 byte),
the narrowest type a kept table may hold it in, and a bool value counts 1 byte though a widened column holds it in
8. So a result these refuse is one the server refuses to create, or to store: on a server of MariaDB's defaults
(16 KiB pages, ``innodb_strict_mode`` on; with it off, CREATE TABLE only warns, and a larger ``innodb_page_size``
holds larger rows). MySQL has not been run here (:mod:`fediscope.store.mysql`).

A kept table can hold more than a result has: a column all NULL in this run is ``null`` in the result, but stays as
the store declared it (``LONGTEXT``, 21 bytes). ``ALTER TABLE … ADD`` is no guard against that: MariaDB 10.11 adds
columns in place (``ALGORITHM=INSTANT``) and then refuses only when the table *before* the statement reaches the
limit as CREATE TABLE counts it, whatever the statement adds (one ALTER adding 300 ``BIGINT`` columns to a table of
6,365 bytes was taken: 8,803 bytes; the next ALTER of that table, 1118), while an ALTER that copies the table
(``MODIFY`` to another type) counts its new definition as CREATE TABLE does. So the MariaDB store counts the table a
write would leave (:func:`table_row_bytes`: the stored types merged with the result's) and rebuilds it from the result
instead of altering it when that reaches the limit (:meth:`fediscope.store.mysql.MySQLStore._fits_in_place`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fediscope.store.schema import key_text_limit

#: a row of this many bytes or more is refused (InnoDB's page_get_free_space_of_empty() / 2 for 16 KiB pages)
ROW_LIMIT = 8126
#: the record header (REC_N_NEW_EXTRA_BYTES) and the hidden DB_TRX_ID and DB_ROLL_PTR columns
_HEADER = 5 + 6 + 7
#: text of up to this many bytes stays in the row (BTR_EXTERN_LOCAL_STORED_MAX_SIZE)
INLINE_TEXT = 40
#: a column that can be stored off-page, as CREATE TABLE counts it: its reference and a length byte
DECLARED_OFF_PAGE = 21
#: a text value stored off-page, as INSERT counts it: its reference and two length bytes
OFF_PAGE_VALUE = 22
#: bytes of a number or boolean (BIGINT, DOUBLE, TINYINT(1)); a column with no value yet counts as the narrowest
FIXED = {"bool": 1, "int": 8, "float": 8, "null": 1}
#: the bytes of a column with no value yet in a table the MariaDB store makes: ``BIGINT``
#: (:meth:`fediscope.store.mysql.MySQLStore.column_type`)
DECLARED_NULL = 8


def _base(key: Sequence[str], types: Mapping[str, str]) -> int:
    nullable = sum(1 for name in types if name not in key)
    return _HEADER + (nullable + 7) // 8


def _key_text_bytes(key: Sequence[str], rank: str | None, types: Mapping[str, str]) -> int:
    """The bytes of a text key column (``VARCHAR(n)``, utf8mb4: 4 a character)."""
    rank_type = types.get(rank) if rank and rank not in key else None
    return 4 * key_text_limit([types[k] for k in key], rank_type)


def declared_row_bytes(key: Sequence[str], rank: str | None, types: Mapping[str, str], *,
                       null_bytes: int = FIXED["null"]) -> int:
    """The bytes InnoDB's ``CREATE TABLE`` counts for a row of a metric table with these columns (store types
    by name, :data:`~fediscope.store.schema.TYPES`; another type name counts nothing: such a column is refused
    elsewhere); a column with no value yet (``null``) counts ``null_bytes``."""
    size = _base(key, types)
    key_text = _key_text_bytes(key, rank, types) if any(types.get(k) == "str" for k in key) else 0
    for name, type_ in types.items():
        if type_ == "str":
            if name in key and key_text <= INLINE_TEXT:
                size += key_text + 1
            else:
                size += DECLARED_OFF_PAGE
        elif type_ == "null":
            size += null_bytes
        else:
            size += FIXED.get(type_, 0)
    return size


def table_row_bytes(key: Sequence[str], rank: str | None, types: Mapping[str, str]) -> int:
    """The bytes InnoDB's ``CREATE TABLE`` counts for a row of the table the MariaDB store declares for these
    columns (the types a table keeps: a column with no value yet is ``BIGINT``, :data:`DECLARED_NULL`)."""
    return declared_row_bytes(key, rank, types, null_bytes=DECLARED_NULL)


def _ceiling(key: Sequence[str], types: Mapping[str, str]) -> int:
    """The most bytes :func:`least_row_bytes` can count for a row of these columns: no row needs counting when it is
    below :data:`ROW_LIMIT`."""
    ceiling = _base(key, types)
    for name, type_ in types.items():
        if type_ == "str":
            ceiling += 4 * 255 + 2 if name in key else INLINE_TEXT + 1
        else:
            ceiling += FIXED.get(type_, 0)
    return ceiling


def least_row_bytes(key: Sequence[str], rank: str | None, types: Mapping[str, str],
                    table: Any) -> tuple[int, int]:
    """The largest of the bytes each row of ``table`` (an Arrow table of these columns and store types) takes at
    least in a MariaDB table, and that row's index; ``(0, -1)`` without rows."""
    import pyarrow.compute as pc

    if not table.num_rows or _ceiling(key, types) < ROW_LIMIT:
        return 0, -1
    total = None
    for name, type_ in types.items():
        column = table.column(name)
        if type_ == "str":
            length = pc.binary_length(column)
            if name not in key:
                length = pc.if_else(pc.less_equal(length, INLINE_TEXT), length, OFF_PAGE_VALUE - 1)
            part = pc.add(length, 1)
        elif type_ in FIXED:
            part = pc.multiply(pc.cast(pc.is_valid(column), "int64"), FIXED[type_])
        else:
            continue
        part = pc.fill_null(pc.cast(part, "int64"), 0)
        total = part if total is None else pc.add(total, part)
    if total is None:
        return 0, -1
    index = pc.index(total, pc.max(total)).as_py()
    return _base(key, types) + total[index].as_py(), index


def least_dict_row_bytes(key: Sequence[str], rank: str | None, types: Mapping[str, str],
                         rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """:func:`least_row_bytes` of rows given as dicts (each with these columns, holding values of their store types or
    None), as a write from Python gives them (``MetricStore.write`` without an Arrow table): the same count, row by
    row. Nothing is counted when no row of these columns can reach the limit (most metrics)."""
    if not rows or _ceiling(key, types) < ROW_LIMIT:
        return 0, -1
    key_texts = [name for name in types if types[name] == "str" and name in key]
    texts = [name for name in types if types[name] == "str" and name not in key]
    fixed = [(name, FIXED[type_]) for name, type_ in types.items() if type_ != "str" and type_ in FIXED]
    base = _base(key, types)
    largest, at = 0, -1
    for index, row in enumerate(rows):
        size = base
        for name in key_texts:
            value = row[name]
            if value is not None:
                size += len(value.encode("utf-8", "surrogatepass")) + 1
        for name in texts:
            value = row[name]
            if value is None:
                continue
            # over 40 characters is over 40 bytes: off-page, not encoded (a value may be megabytes)
            length = INLINE_TEXT + 1 if len(value) > INLINE_TEXT else len(value.encode("utf-8", "surrogatepass"))
            size += (length if length <= INLINE_TEXT else OFF_PAGE_VALUE - 1) + 1
        for name, width in fixed:
            if row[name] is not None:
                size += width
        if size > largest:
            largest, at = size, index
    return largest, at
