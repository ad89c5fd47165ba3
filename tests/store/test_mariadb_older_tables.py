"""MariaDB tables created by older fediscope versions: their text value columns are ``TEXT`` (64 KiB), which the
first write of the current version changes to ``LONGTEXT``; a store opened for reading alters nothing."""

from __future__ import annotations

from typing import Any

import pytest
from metric_header import metric
from sqlalchemy import create_engine, text
from sqlalchemy.dialects.mysql import MEDIUMTEXT, TEXT, TINYTEXT
from sqlalchemy.types import TypeEngine

from fediscope.store.mysql import MySQLStore
from fediscope.store.port import open_store

POSTS = metric("posts", "id", rank="boosts DESC")
OLD_ROWS = [{"id": "a", "boosts": 3, "body": "short", "spoiler": None},
            {"id": "b", "boosts": 1, "body": "also short", "spoiler": "cw"}]
# 75,000 characters, 120,000 bytes in utf8mb4: over TEXT's 65,535 bytes whichever it counts
LONG = "é" * 45_000 + "x" * 30_000


class OlderMySQLStore(MySQLStore):
    """The column types of fediscope before LONGTEXT (de0eef3): text values, and columns with no value yet, in
    ``old_text`` (``TEXT`` then; ``TINYTEXT``/``MEDIUMTEXT`` stand for a table someone made narrower or wider)."""

    def __init__(self, url: str, old_text: TypeEngine) -> None:
        super().__init__(url)
        self.old_text = old_text

    def column_type(self, type_: str, key_text_length: int | None) -> TypeEngine:
        if type_ == "null" or (type_ == "str" and not key_text_length):
            return self.old_text
        return super().column_type(type_, key_text_length)


def _column_types(url: str, table: str = "metric_posts", what: str = "column_type") -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text(f"SELECT column_name, {what} FROM information_schema.columns "
                                          "WHERE table_schema = DATABASE() AND table_name = :t"), {"t": table}).all())
    finally:
        engine.dispose()


def _old_table(url: str, old_text: TypeEngine) -> None:
    old = OlderMySQLStore(url, old_text)
    try:
        old.write(POSTS, OLD_ROWS)
    finally:
        old.close()


@pytest.mark.mariadb
@pytest.mark.parametrize(("old_text", "old_type"), [(TEXT(), "text"), (TINYTEXT(), "tinytext"),
                                                     (MEDIUMTEXT(), "mediumtext")])
def test_a_text_column_of_an_older_table_takes_a_long_value(mariadb_url, old_text, old_type):
    _old_table(mariadb_url, old_text)
    assert _column_types(mariadb_url) == {"id": "varchar(255)", "boosts": "bigint(20)", "body": old_type,
                                          "spoiler": old_type}
    store = open_store(mariadb_url)
    try:
        rows = [dict(OLD_ROWS[0], body=LONG), OLD_ROWS[1]]
        assert store.write(POSTS, rows) == 2
        assert store.get(POSTS, ["a"]) == rows[0]
        assert store.all(POSTS) == rows
        assert store.top(POSTS, 1)[0]["body"] == LONG
    finally:
        store.close()
    # the text value columns changed, the key column (VARCHAR, indexed) did not
    assert _column_types(mariadb_url) == {"id": "varchar(255)", "boosts": "bigint(20)", "body": "longtext",
                                          "spoiler": "longtext"}
    # and keep the table's binary no-pad collation (MODIFY names none: the table's own applies)
    assert _column_types(mariadb_url, what="collation_name") == {"id": "utf8mb4_nopad_bin", "boosts": None,
                                                                 "body": "utf8mb4_nopad_bin",
                                                                 "spoiler": "utf8mb4_nopad_bin"}


@pytest.mark.mariadb
def test_an_older_table_is_checked_once_per_store(mariadb_url, monkeypatch):
    _old_table(mariadb_url, TEXT())
    store = open_store(mariadb_url)
    calls: list[Any] = []
    looked = store.outdated_columns
    monkeypatch.setattr(store, "outdated_columns", lambda *args: calls.append(args) or looked(*args))
    try:
        store.write(POSTS, [dict(OLD_ROWS[0], body=LONG), OLD_ROWS[1]])
        store.write(POSTS, [dict(OLD_ROWS[0], body=LONG + "!"), OLD_ROWS[1]])
        assert store.get(POSTS, ["a"])["body"] == LONG + "!"
    finally:
        store.close()
    assert len(calls) == 1


@pytest.mark.mariadb
def test_a_store_opened_for_reading_leaves_an_older_table_as_it_is(mariadb_url):
    _old_table(mariadb_url, TEXT())
    reader = open_store(mariadb_url, read_only=True)
    try:
        assert reader.all(POSTS) == OLD_ROWS
        assert reader.get(POSTS, ["b"]) == OLD_ROWS[1]
        assert reader.top(POSTS, 5) == OLD_ROWS
        assert reader.scan_prefix(POSTS, "a") == OLD_ROWS[:1]
    finally:
        reader.close()
    assert _column_types(mariadb_url)["body"] == "text"


ODD = metric("odd", "group, order", rank="nothing DESC")
ODD_NAMES = ["back`tick", "share_%", "x%(y)s", "MixedCase", "with space", "é"]


@pytest.mark.mariadb
def test_older_text_columns_with_odd_names_are_changed_too(mariadb_url):
    """Names are matched exactly (information_schema, not reflection) and quoted in the ALTER as in CREATE TABLE."""
    row = {"group": "g", "order": 1, "nothing": 2, **{name: name for name in ODD_NAMES}}
    old = OlderMySQLStore(mariadb_url, TEXT())
    try:
        old.write(ODD, [row])
    finally:
        old.close()
    assert {_column_types(mariadb_url, "metric_odd")[name] for name in ODD_NAMES} == {"text"}
    store = open_store(mariadb_url)
    try:
        long_row = {**row, **{name: name + LONG for name in ODD_NAMES}}
        store.write(ODD, [long_row])
        assert store.all(ODD) == [long_row]
    finally:
        store.close()
    types = _column_types(mariadb_url, "metric_odd")
    assert {types[name] for name in ODD_NAMES} == {"longtext"}
    assert types["group"] == "varchar(255)"
