"""The MariaDB side of tests/store/test_merged_row_size.py: a table whose stored columns with a run's new ones are more
than InnoDB holds is rebuilt from the result, not altered. Was: ``could not alter table metric_u: (1118, 'Row size too
large…')``, the first new column left in the table (each ``ADD`` its own statement, committed on its own), and the next
run refused alike. MariaDB 10.11's ``ALTER TABLE … ADD`` refuses only when the table before it reaches the limit
(:mod:`fediscope.store.innodb_rows`), so the first of the three ADDs was taken and the second refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from test_merged_row_size import FIRST, FIRST_TYPES, SECOND, SECOND_TYPES, WIDE

from fediscope.store.port import open_store

pytestmark = pytest.mark.mariadb


def _columns(url: str, table: str = "metric_u") -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT column_name, data_type FROM information_schema.columns "
                                          "WHERE table_schema = DATABASE() AND table_name = :t"), {"t": table}).all())
    finally:
        engine.dispose()


def _execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.mark.parametrize("left_behind", [False, True])
def test_new_columns_the_table_cannot_take_rebuild_it_from_the_result(mariadb_url: str, left_behind: bool) -> None:
    """``left_behind``: the table as the failed write left it, its first new column added, the catalog not knowing
    it; the next write (the same run again) was refused alike."""
    store = open_store(mariadb_url)
    try:
        store.write_counted(WIDE, [FIRST], replace=True, types=FIRST_TYPES, exact_types=True)
        if left_behind:
            _execute(mariadb_url, "ALTER TABLE metric_u ADD COLUMN n0 BIGINT")
        counts = store.write_counted(WIDE, [SECOND], replace=True, types=SECOND_TYPES, exact_types=True)
        assert (counts.rows, counts.changed, counts.stale) == (1, 1, 0)
        assert store.all(WIDE) == [SECOND]
        assert store.column_types("u") == SECOND_TYPES
    finally:
        store.close()
    columns = _columns(mariadb_url)
    assert list(columns) == list(SECOND_TYPES)
    assert {columns[name] for name in SECOND_TYPES if name.startswith("t")} == {"bigint"}  # no value yet


def test_a_known_difference_the_table_cannot_take_changes_nothing(mariadb_url: str) -> None:
    """``fediscope process``'s incremental write: left to the full write (None), the table as it was."""
    store = open_store(mariadb_url)
    try:
        store.write_counted(WIDE, [FIRST], replace=True, types=FIRST_TYPES, exact_types=True)
        assert store.write_changes(WIDE, [SECOND], [], 1, columns=list(SECOND_TYPES), types=SECOND_TYPES) is None
        assert store.all(WIDE) == [FIRST]
    finally:
        store.close()
    assert list(_columns(mariadb_url)) == list(FIRST_TYPES)


def test_the_columns_of_one_write_are_added_and_widened_in_one_statement(mariadb_url: str) -> None:
    """MariaDB commits each DDL statement on its own: one statement is taken or refused whole."""
    store = open_store(mariadb_url)
    altered: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("ALTER TABLE"):
            altered.append(statement)

    try:
        store.write(WIDE, [{"k": 1, "b": True}])
        event.listen(store._engine, "before_cursor_execute", note)
        store.write(WIDE, [{"k": 1, "b": 5, "x": "a", "y": 1.5, "z": None}])
        assert store.all(WIDE) == [{"k": 1, "b": 5, "x": "a", "y": 1.5, "z": None}]
    finally:
        store.close()
    assert len(altered) == 1, altered
    assert altered[0].startswith("ALTER TABLE metric_u ADD COLUMN `x` LONGTEXT, ADD COLUMN `y` DOUBLE, "
                                 "ADD COLUMN `z` BIGINT, MODIFY COLUMN `b` BIGINT"), altered
    assert _columns(mariadb_url) == {"k": "bigint", "b": "bigint", "x": "longtext", "y": "double", "z": "bigint"}
