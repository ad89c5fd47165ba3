"""Row keys for HBase: byte strings whose sort order is the order the queries want.

HBase keeps a table's rows sorted by row key, compared as unsigned bytes, and reads a contiguous range of them
cheaply (a scan from a start key, or over every key sharing a prefix). So each query fediscope makes becomes
a scan once the row key is designed for it:

* **read by key / by prefix** — the data row key is the metric's key columns, the prefix column first, each
  encoded so that byte order equals value order and no encoding is a prefix of another. "All rows whose
  ``instance`` is ``mastodon.social``" is then a prefix scan on the encoded instance.
* **top-N** — a second table (the rank index) whose row key is the rank value, encoded the same way and
  bit-inverted for a descending rank, followed by the key: a forward scan of N rows is the top N, ties broken
  by key, rows with no rank value last.

Encodings (each self-delimiting, so concatenations of them compare component by component):

* ``int``: 8 bytes big-endian with the sign bit flipped (−2⁶³ … 2⁶³−1 sort as unsigned bytes);
* ``float``: IEEE-754 big-endian; positive numbers get the sign bit flipped, negative ones every bit, so the
  bytes sort numerically (−0.0 is stored as 0.0: one key, as in SQL);
* ``bool``: one byte, 0 or 1;
* ``str``: UTF-8 with each 0x00 byte escaped as 0x00 0xFF, terminated by 0x00 0x01, so ``"a"`` < ``"a\\0"`` <
  ``"ab"`` as in SQL's binary collation (UTF-8 byte order is code-point order).

A rank value starts with a marker byte (0x01 present, 0x02 NULL) so NULLs sort after every value whatever
the direction; only the value bytes are inverted for a descending rank.

HBase refuses a row key longer than :data:`MAX_ROW_LENGTH` bytes, and the whole batch that holds it (and a read of
one: a get, a scan's start or stop row, which the store answers itself: no row has such a key). Text key
values are limited in characters (``MAX_KEY_TEXT``), so only a metric with many text key columns can reach it:
:func:`longest_row_key` tells whether one can, :func:`row_key_length` whether a row does.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from fediscope.errors import StoreError

_SIGN = 1 << 63
_PRESENT, _NULL = b"\x01", b"\x02"
#: the longest row key HBase takes, in bytes (``HConstants.MAX_ROW_LENGTH``, ``Short.MAX_VALUE``): a mutation of a
#: longer one is refused ("Row length 32768 is > 32767"), and with it every row of its batch
MAX_ROW_LENGTH = 32767
_FIXED_LENGTH = {"int": 8, "float": 8, "bool": 1}


def encode(value: Any, type_: str) -> bytes:
    """One component, order-preserving and self-delimiting."""
    if value is None:
        raise StoreError("a row-key component cannot be NULL")
    if type_ == "str":
        return str(value).encode().replace(b"\x00", b"\x00\xff") + b"\x00\x01"
    if type_ == "bool":
        return b"\x01" if value else b"\x00"
    if type_ == "int":
        number = int(value)
        if not -_SIGN <= number < _SIGN:
            raise StoreError(f"integer {number} does not fit a 64-bit row-key component")
        return struct.pack(">Q", number + _SIGN)
    if type_ == "float":
        number = float(value) + 0.0  # -0.0 → 0.0
        (bits,) = struct.unpack(">Q", struct.pack(">d", number))
        bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits & _SIGN else bits | _SIGN
        return struct.pack(">Q", bits)
    raise StoreError(f"cannot build a row key from a column of type {type_}")


def encode_key(values: Sequence[Any], types: Sequence[str]) -> bytes:
    """A composite key: the components concatenated (their order is the sort order)."""
    return b"".join(encode(v, t) for v, t in zip(values, types, strict=True))


def invert(data: bytes) -> bytes:
    """Every bit flipped: reverses the order of self-delimiting encodings."""
    return bytes(255 - b for b in data)


def encode_rank(value: Any, type_: str, descending: bool) -> bytes:
    """The leading part of a rank-index row key: NULL last, values in the requested direction."""
    if value is None:
        return _NULL
    encoded = encode(value, type_)
    return _PRESENT + (invert(encoded) if descending else encoded)


def longest_row_key(types: Sequence[str], rank_type: str | None, text_chars: int) -> int:
    """The most bytes a row key of a metric can take: a data row's (key columns of ``types``) or, when it has a rank
    column (of ``rank_type``), a rank entry's, which is the rank value then the key. A text value holds at most
    ``text_chars`` characters, each at most 4 bytes of UTF-8, then its 2-byte terminator."""
    def longest(type_: str) -> int:
        return text_chars * 4 + 2 if type_ == "str" else _FIXED_LENGTH.get(type_, 0)

    key = sum(map(longest, types))
    return key if rank_type is None else len(_PRESENT) + longest(rank_type) + key


def row_key_length(key: Sequence[Any], types: Sequence[str], rank: Any = None, rank_type: str | None = None) -> int:
    """The bytes of a row's longest row key: its data row's, or its rank entry's when the metric has a rank column
    (``rank_type``). A NULL key value (refused as such) and a value of a type no key holds count as nothing."""
    def length(value: Any, type_: str) -> int:
        return len(encode(value, type_)) if value is not None and (type_ == "str" or type_ in _FIXED_LENGTH) else 0

    total = sum(length(v, t) for v, t in zip(key, types, strict=True))
    return total if rank_type is None else len(_PRESENT) + length(rank, rank_type) + total
