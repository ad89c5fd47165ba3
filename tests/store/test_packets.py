"""The bytes of a value in a statement as PyMySQL writes it (:mod:`fediscope.store.packets`), against PyMySQL's own
escaping; the MariaDB side: tests/store/test_mariadb_packet_size.py."""

from __future__ import annotations

import pytest
from pymysql.converters import escape_item

from fediscope.store import packets


@pytest.mark.parametrize("value", [
    None, True, False, 0, -9223372036854775808, 9223372036854775807, 1.5, -1.25e-300, 1e300, 0.1 + 0.2, "",
    "plain", "é😀", "it's \"quoted\"\n\r\\\x00\x1a", "%s %(x)s %%",
])
def test_a_value_takes_the_bytes_pymysql_writes(value: object) -> None:
    assert packets.literal_bytes(value) == len(escape_item(value, "utf8mb4").encode())
    assert packets.literal_bytes(value) <= (packets.CHAR_BYTES * len(value) + 2 if isinstance(value, str)
                                            else packets.NUMBER_BYTES)


def test_only_a_row_whose_statement_is_over_is_found() -> None:
    columns = {"k": "int", "v": "str", "f": "float"}
    rows = [{"k": 1, "v": "x" * 90, "f": None}, {"k": 2, "v": "'" * 50, "f": 2.5}, {"k": 3, "v": None, "f": 1.0}]
    # 100 + 1 + 92 + 4; 100 + 1 + 102 + 5
    assert packets.oversized_row(100, columns, rows, 197) == (1, 208)
    assert packets.oversized_row(100, columns, rows, 208) is None
    assert packets.oversized_row(100, columns, rows[:1], 196) == (0, 197)
    assert packets.oversized_row(100, columns, [], 0) is None
