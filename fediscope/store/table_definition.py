"""The bytes of a metric table's definition, as MariaDB counts them against its limit of 64 KiB.

MariaDB keeps a table's definition in a ``.frm`` image, whose column part (the form) holds at most
:data:`DEFINITION_LIMIT` bytes: a ``CREATE TABLE`` (or ``ALTER TABLE``) of more is refused with errno 1117, ``Table
definition is too large`` (``pack_header()`` in MariaDB's sql/unireg.cc). It counts a fixed 290 bytes (the 288 of
the form's header and 2), and for each column 17 bytes of its packed description, its name's bytes (UTF-8; a
metric's column names hold only characters of Unicode's basic plane, which MariaDB's utf8mb3 identifiers store
alike) and a separator byte, and the column's comment and any ``ENUM``/``SET`` values and default or generated
expressions, which a metric's table has none of (:mod:`fediscope.store.mysql`). So the column names, not the
types, decide it: 826 columns of 61-character names fit, 827 do not; 795 of 64 characters; all of InnoDB's 1,017
with names of up to 46. The count was checked against MariaDB 10.11 byte for byte (65,535 bytes are stored, 65,536
refused). MySQL has not been run here (:mod:`fediscope.store.mysql`).
"""

from __future__ import annotations

from collections.abc import Iterable

#: a definition of more bytes is refused (errno 1117, ``Table definition is too large``)
DEFINITION_LIMIT = 65535
#: the form's header (FRM_FORMINFO_SIZE, 288) and the 2 bytes ending the column names
BASE = 288 + 2
#: a column's packed description (FCOMP, 17) and its name's separator
PER_COLUMN = 17 + 1


def name_bytes(columns: Iterable[str]) -> int:
    """The bytes of the column names, as MariaDB stores them."""
    return sum(len(name.encode("utf-8", "surrogatepass")) for name in columns)


def definition_bytes(columns: Iterable[str]) -> int:
    """The bytes MariaDB counts for the definition of a metric table of these columns (their names, in any order)."""
    names = list(columns)
    return BASE + PER_COLUMN * len(names) + name_bytes(names)
