"""The bytes of the statements a MariaDB store sends, as the server counts them against its ``max_allowed_packet``.

A statement travels in one packet (the protocol's 16 MiB pieces are joined again) with its command byte, and the
server refuses a packet of ``max_allowed_packet`` bytes or more (``net_realloc()``, sql-common/net_serv.cc): errno
1153 ``Got a packet bigger than 'max_allowed_packet' bytes``, and it closes the connection, so the client mostly
sees 2006 ``MySQL server has gone away`` or 2013 ``Lost connection``. So a statement may have
``max_allowed_packet - 2`` bytes (:func:`longest_statement`: MariaDB 10.11 at 1 MiB took 1,048,574 and refused
1,048,575). The values are in the statement as PyMySQL writes them (it interpolates them: ``pymysql.converters``),
text quoted, with a backslash before each of :data:`ESCAPED` (UTF-8, the connection's utf8mb4), a number as its
``repr``. Of a write's rows each is at least one ``INSERT … ON DUPLICATE KEY UPDATE`` (PyMySQL folds several into one
of up to 1,024,000 bytes, never splitting a row); its catalog entry, one ``INSERT`` of its question and definition.

A server whose ``max_allowed_packet`` is lower than those folded statements (it may be as low as 1 KiB) refused a
write whose every row fits: the store has PyMySQL fold its rows into statements of at most :func:`batch_statement`
bytes, and sends the stale keys of a write in ``DELETE`` statements of at most that many bytes too
(:func:`key_chunks`), not of a thousand keys whatever their length.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pymysql.converters import escape_float
from pymysql.cursors import Cursor

from fediscope.store.runs import sized_runs

#: the bytes of a packet besides its statement's (the command byte), and one more: the server refuses a packet of
#: ``max_allowed_packet`` bytes or more
PACKET_OVERHEAD = 2
#: the most bytes PyMySQL folds the rows of one ``executemany`` into, a statement (its cursor's ``max_stmt_length``)
PYMYSQL_STATEMENT: int = Cursor.max_stmt_length
#: the characters PyMySQL writes with a backslash before them in a text literal (``escape_string``); with the
#: server's ``NO_BACKSLASH_ESCAPES`` only a quote is doubled: fewer bytes, so counting these errs on the safe side
ESCAPED = "\0\\\n\r\x1a\"'"
#: the most bytes a number takes in a statement: ``-9223372036854775808``, 20; a float's ``repr`` and ``e0``, 26
NUMBER_BYTES = 26
#: the most bytes one character of text takes in a statement: 4 (UTF-8 beyond the basic plane) or 2 (escaped)
CHAR_BYTES = 4


def longest_statement(max_allowed_packet: int) -> int:
    """The most bytes a statement may have on a server of this ``max_allowed_packet``."""
    return max_allowed_packet - PACKET_OVERHEAD


def batch_statement(max_allowed_packet: int) -> int:
    """The most bytes PyMySQL may fold the rows of one ``executemany`` into (its cursor's ``max_stmt_length``) on a
    server of this ``max_allowed_packet``: its own :data:`PYMYSQL_STATEMENT`, or less where the server takes less."""
    return min(PYMYSQL_STATEMENT, longest_statement(max_allowed_packet))


def key_chunks(fixed: int, keys: Sequence[Sequence[Any]], longest: int, most: int) -> Iterator[list[Any]]:
    """``keys`` (tuples of a table's key values) in runs of at most ``most``, each of whose ``DELETE … WHERE key IN
    (…)`` (``fixed`` bytes with one key's placeholders, then each key's values and punctuation) is at most ``longest``
    bytes; a key too long for that alone is a run of its own (the server refuses it as it would anyway)."""
    yield from sized_runs(keys, _in_list_bytes, fixed, longest, most)


def _in_list_bytes(key: Sequence[Any]) -> int:
    """The bytes a key takes in a ``WHERE key IN (…)`` list: ", " before it, its values, and for a key of several
    columns "(" ")" and ", " between its values."""
    return sum(literal_bytes(value) for value in key) + 2 + (2 * len(key) if len(key) > 1 else 0)


def literal_bytes(value: Any) -> int:
    """The bytes ``value`` (a row's or the catalog's: None, bool, int, float or str) takes in a statement."""
    if value is None:
        return 4  # NULL
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass")) + sum(value.count(c) for c in ESCAPED) + 2
    if isinstance(value, bool):
        return 1
    if isinstance(value, float):
        return len(escape_float(value))
    return len(str(value))


def template_bytes(compiled: Any) -> int:
    """The bytes of a compiled statement (SQLAlchemy's, for PyMySQL: ``%(name)s`` or ``%s`` placeholders, a ``%`` of a
    name doubled) without its values."""
    values: Any = (("",) * len(compiled.positiontup or ())) if compiled.positional else _Blank()
    return len((compiled.string % values).encode("utf-8", "surrogatepass"))


class _Blank(dict[str, str]):
    """Every named placeholder's value: nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def oversized_row(fixed: int, columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]],
                  longest: int) -> tuple[int, int] | None:
    """The first of ``rows`` (dicts of ``columns``, store types by name) whose statement (``fixed`` bytes and the
    row's values) is over ``longest`` bytes, as (its index, the statement's bytes); None when none is. Only rows whose
    text could make it so are counted (a text value of more than ``longest / 4`` characters): for most writes none."""
    texts = [name for name, type_ in columns.items() if type_ == "str"]
    numbers = (len(columns) - len(texts)) * NUMBER_BYTES
    bound = fixed + numbers + sum(CHAR_BYTES * _longest(rows, name) + 2 for name in texts)
    if bound <= longest:
        return None
    names = list(columns)
    for index, row in enumerate(rows):
        if fixed + numbers + sum(CHAR_BYTES * len(row[n]) + 2 for n in texts if row[n] is not None) <= longest:
            continue
        size = fixed + sum(literal_bytes(row[name]) for name in names)
        if size > longest:
            return index, size
    return None


def _longest(rows: Sequence[Mapping[str, Any]], column: str) -> int:
    """The characters of the longest text value of ``column``."""
    return max((len(value) for row in rows if (value := row[column]) is not None), default=0)
