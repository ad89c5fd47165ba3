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


def _delete_statement(keys: list[tuple[object, ...]], composite: bool) -> bytes:
    """The ``DELETE`` a MariaDB store sends for ``keys``, as PyMySQL interpolates it."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, delete
    from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql

    from fediscope.store.sql import _key_in

    table = Table("metric_w", MetaData(), Column("k", String(255)), Column("n", Integer))
    columns = [table.c.k, table.c.n] if composite else [table.c.k]
    compiled = delete(table).where(_key_in(columns, keys)).compile(
        dialect=MySQLDialect_pymysql(), compile_kwargs={"render_postcompile": True})
    values = [value for key in keys for value in key]
    return (compiled.string % tuple(escape_item(v, "utf8mb4") for v in values)).encode()


@pytest.mark.parametrize("composite", [False, True])
def test_stale_keys_are_chunked_into_deletes_within_the_longest_statement(composite: bool) -> None:
    keys = [(("é'" * (i % 40)) + str(i), i) if composite else ("x" * (i % 70) + str(i),) for i in range(400)]
    # the statement of one key without its values, as the store compiles it
    fixed = len(_delete_statement(keys[:1], composite)) - sum(packets.literal_bytes(v) for v in keys[0])
    for longest, most in ((2000, 1000), (5000, 1000), (10**6, 30)):
        chunks = list(packets.key_chunks(fixed, keys, longest, most))
        assert [key for chunk in chunks for key in chunk] == keys
        assert all(len(chunk) <= most for chunk in chunks)
        assert all(len(_delete_statement(chunk, composite)) <= longest for chunk in chunks)
    # a key over the longest statement alone is sent alone
    assert list(packets.key_chunks(fixed, keys[:3], 10, 1000)) == [[key] for key in keys[:3]]
