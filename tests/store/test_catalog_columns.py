"""The catalog's text columns as each SQL store declares them: on MariaDB ``LONGTEXT``, since a metric's definition
(JSON, a non-ASCII character of a column name written as ``\\u00e9``) outgrows ``TEXT``'s 65,535 bytes well within
the 64 KiB of the metric table's own definition. The server's verdict is tested in
tests/store/test_mariadb_catalog_size.py."""

from __future__ import annotations

from sqlalchemy.dialects import mysql
from sqlalchemy.schema import CreateTable

from fediscope.store.mysql import MySQLStore
from fediscope.store.schema import TableSchema
from fediscope.store.table_definition import DEFINITION_LIMIT, definition_bytes


def test_a_mariadb_catalog_holds_the_definition_of_any_table_mariadb_holds() -> None:
    columns = ["k", *(f"{'é' * 30}{i:03d}" for i in range(800))]
    schema = TableSchema(metric="p", key=("k",), columns=tuple((name, "int") for name in columns))
    assert definition_bytes(columns) <= DEFINITION_LIMIT < len(schema.to_json().encode())  # over TEXT's bytes
    ddl = str(CreateTable(MySQLStore.catalog_table()).compile(dialect=mysql.dialect()))
    assert "\tquestion LONGTEXT, \n" in ddl
    assert "\tdefinition LONGTEXT NOT NULL, \n" in ddl

