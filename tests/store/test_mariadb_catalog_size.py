"""A metric's catalog entry on MariaDB holds its definition whenever its table does: the catalog keeps the schema as
JSON, which writes a non-ASCII character of a column name as ``\\u00e9`` (6 bytes, 2 in the table's own definition),
so a metric of long non-ASCII column names outgrew ``definition``'s ``TEXT`` (65,535 bytes) well within MariaDB's
limit of a table definition (:mod:`fediscope.store.table_definition`). Was: ``could not update the catalog entry of
p: (1406, "Data too long for column 'definition' at row 1")``, after the metric's table was loaded, which stayed with
no catalog entry. The catalog's text columns are ``LONGTEXT``; one an older fediscope made ``TEXT`` is widened when a
value needs it, and left alone otherwise."""

from __future__ import annotations

import pytest
from metric_header import metric
from sqlalchemy import Text, create_engine, text

from fediscope.errors import StoreError
from fediscope.store.mysql import MySQLStore
from fediscope.store.port import open_store
from fediscope.store.sql import CATALOG
from fediscope.store.table_definition import DEFINITION_LIMIT, definition_bytes

pytestmark = pytest.mark.mariadb

WIDE = metric("p", "k")
#: k and 800 names of 30 ``é`` and 3 digits: a table definition of 65,109 bytes, which MariaDB takes
COLUMNS = ["k", *(f"{'é' * 30}{i:03d}" for i in range(800))]
TYPES = {"k": "str", **dict.fromkeys(COLUMNS[1:], "int")}
ROW = {"k": "a", **{name: i for i, name in enumerate(COLUMNS[1:])}}
SMALL = metric("small", "k")


class OlderMySQLStore(MySQLStore):
    """The catalog of fediscope before LONGTEXT: ``question`` and ``definition`` ``TEXT``, never widened."""

    catalog_text = Text
    catalog_text_limit = None


def _catalog_types(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT column_name, data_type FROM information_schema.columns WHERE "
                                          "table_schema = DATABASE() AND table_name = :t "
                                          "AND column_name IN ('question', 'definition')"), {"t": CATALOG}).all())
    finally:
        engine.dispose()


def test_the_catalog_entry_of_a_metric_of_long_non_ascii_column_names_is_stored(mariadb_url: str) -> None:
    assert definition_bytes(COLUMNS) == 65109 <= DEFINITION_LIMIT  # the table fits
    store = open_store(mariadb_url)
    try:
        store.write(WIDE, [ROW], types=TYPES)
        assert store.stored_metrics() == {"p": 1}
        assert store.column_types("p") == TYPES
        assert store.unlisted_metrics() == {}
    finally:
        store.close()
    assert _catalog_types(mariadb_url) == {"question": "longtext", "definition": "longtext"}
    reader = open_store(mariadb_url, read_only=True)
    try:
        assert reader.all(WIDE) == [ROW]
    finally:
        reader.close()


def test_an_older_catalog_is_widened_when_an_entry_needs_it_and_the_table_left_without_one_replaced(
        mariadb_url: str) -> None:
    """The state the failure left (an older catalog, ``metric_p`` with no entry), then this fediscope's write: the
    catalog is widened once an entry needs it (not for one that fits), and the table loaded again."""
    older = OlderMySQLStore(mariadb_url)
    try:
        older.write(SMALL, [{"k": "a", "n": 1}])
        with pytest.raises(StoreError, match=r"could not update the catalog entry of p: \(1406, \"Data too long for "
                                             r"column 'definition'"):
            older.write(WIDE, [ROW], types=TYPES)
        assert older.unlisted_metrics() == {"p": ["metric_p"]}
    finally:
        older.close()
    assert _catalog_types(mariadb_url) == {"question": "text", "definition": "text"}
    store = open_store(mariadb_url)
    try:
        store.write(SMALL, [{"k": "a", "n": 2}])
        # an entry that fits alters nothing
        assert _catalog_types(mariadb_url) == {"question": "text", "definition": "text"}
        store.write(WIDE, [ROW], types=TYPES)
        assert _catalog_types(mariadb_url) == {"question": "longtext", "definition": "longtext"}
        assert store.stored_metrics() == {"p": 1, "small": 1}
        assert store.unlisted_metrics() == {}
        assert store.all(WIDE) == [ROW]
        assert store.all(SMALL) == [{"k": "a", "n": 2}]
    finally:
        store.close()
