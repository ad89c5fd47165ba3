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

from fediscope.errors import MetricFileError
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


def _long_names(start: int, count: int) -> list[str]:
    """``count`` column names of 64 characters (MariaDB's longest), the ``start``-th first."""
    return [f"c{i:05d}".ljust(64, "c") for i in range(start, start + count)]


def test_an_appended_row_whose_columns_the_rebuilt_table_cannot_hold_is_refused_before_any_change(
        mariadb_url: str) -> None:
    """``write(replace=False)`` keeps the stored rows: a table that cannot take its new columns in place is rebuilt
    from the stored rows and the new ones, every column of both. Was: that table's ``CREATE TABLE`` refused (errno
    1118, ``Row size too large``), after the catalog entry had been given a provisional generation (readers were
    told the metric was being written); now refused up front with the message ``fediscope process`` gives a result
    of such columns."""
    store = open_store(mariadb_url)
    try:
        store.write(WIDE, [FIRST])  # 383 text columns and a bool: 8,118 bytes a row as InnoDB counts the table
        generation = store.generation("u")
        appended = {"k": 2, "n0": 1, "n1": 2, "n2": 3}  # 3 numbers more: 8,143
        with pytest.raises(MetricFileError) as refused:
            store.write(WIDE, [appended], replace=False)
        assert str(refused.value) == (
            "metric u (spark_jobs/sql/u.sql): a MariaDB table of its 388 columns (383 of them text) has rows of up "
            "to 8,143 bytes as InnoDB counts them (21 a text column, 8 a number or a column all NULL), and InnoDB "
            "refuses a table whose rows reach 8,126; select fewer columns, or split it into several metrics")
        assert store.generation("u") == generation
        assert store.all(WIDE) == [FIRST]
        assert store.write(WIDE, [{"k": 2, "b": False}], replace=False) == 1  # the table goes on taking rows
    finally:
        store.close()
    assert list(_columns(mariadb_url)) == list(FIRST_TYPES)


def test_an_appended_row_whose_columns_make_the_definition_too_large_is_refused_before_any_change(
        mariadb_url: str) -> None:
    """790 columns of 64-character names and ``k``: a definition of 65,089 bytes; 10 more make it 65,909, over the
    65,535 MariaDB takes. Was: their ``ALTER TABLE … ADD`` refused (errno 1117, ``Table definition is too large``)
    after the catalog entry had been given a provisional generation; now the table is not altered in place
    (``_fits_in_place``), and its rebuild from the stored rows and the new one is refused up front with the message
    ``fediscope process`` gives a result of such columns."""
    store = open_store(mariadb_url)
    stored = {"k": 1, **dict.fromkeys(_long_names(0, 790), 1)}
    try:
        store.write(WIDE, [stored])
        generation = store.generation("u")
        with pytest.raises(MetricFileError) as refused:
            store.write(WIDE, [{"k": 2, **dict.fromkeys(_long_names(790, 10), 2)}], replace=False)
        assert str(refused.value) == (
            "metric u (spark_jobs/sql/u.sql): a MariaDB table of its 801 columns has a definition of 65,909 bytes as "
            "MariaDB counts it (18 a column and its name's bytes; the names take 51,201), and MariaDB refuses one "
            "over 65,535 bytes; shorten the column names (… AS new_name), select fewer columns, or split it into "
            "several metrics")
        assert store.generation("u") == generation
        assert store.all(WIDE) == [stored]
        assert store.write_changes(WIDE, [{"k": 2, **dict.fromkeys(_long_names(790, 10), 2)}], [], 2) is None
        assert store.generation("u") == generation
    finally:
        store.close()
    assert len(_columns(mariadb_url)) == 791
