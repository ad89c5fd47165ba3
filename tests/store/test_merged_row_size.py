"""A MariaDB table can hold more than a result has: a column the table keeps typed (``LONGTEXT``) and all NULL in this
run is ``null`` in the result, which the result's row-size check (:func:`fediscope.engine.metrics.check_row_size`)
counts 1 byte and the table 21. Was: that check passed, then the store's ``ALTER TABLE … ADD`` of the run's new columns
was refused (errno 1118), after earlier metrics were written, the first added columns left behind. The store now counts
the table a write would leave (:func:`fediscope.store.innodb_rows.table_row_bytes`) and rebuilds it from the result
when that is over InnoDB's limit. Here on SQLite with MariaDB's rule (the write path is the stores' shared one);
tests/store/test_mariadb_merged_row_size.py runs it on the server."""

from __future__ import annotations

from pathlib import Path

from metric_header import metric

from fediscope.store import innodb_rows
from fediscope.store.schema import WritePlan
from fediscope.store.sqlite import SQLiteStore

WIDE = metric("u", "k")
TEXTS = [f"t{i}" for i in range(383)]
#: the first run: 383 text columns and a bool, 8,118 bytes a row as InnoDB counts the table (an integer key)
FIRST_TYPES = {"k": "int", **dict.fromkeys(TEXTS, "str"), "b": "bool"}
FIRST = {"k": 1, **dict.fromkeys(TEXTS, "x"), "b": True}
#: the second: the text columns all NULL (typed null) and 3 new numbers
SECOND_TYPES = {"k": "int", **dict.fromkeys(TEXTS, "null"), "b": "bool", "n0": "int", "n1": "int", "n2": "int"}
SECOND = {"k": 1, **dict.fromkeys(TEXTS), "b": True, "n0": 1, "n1": 2, "n2": 3}


class RowLimitedStore(SQLiteStore):
    """A SQLite store whose tables take columns in place only as MariaDB's do
    (:meth:`fediscope.store.mysql.MySQLStore._fits_in_place`)."""

    def _fits_in_place(self, plan: WritePlan) -> bool:
        schema = plan.schema
        return innodb_rows.table_row_bytes(schema.key, schema.rank_column, schema.types) < innodb_rows.ROW_LIMIT


def test_the_table_a_write_leaves_is_counted_with_its_stored_types() -> None:
    assert innodb_rows.declared_row_bytes(["k"], None, FIRST_TYPES) == 8118
    # the result's own columns pass the check before any write
    assert innodb_rows.declared_row_bytes(["k"], None, SECOND_TYPES) < innodb_rows.ROW_LIMIT
    merged = {**FIRST_TYPES, "n0": "int", "n1": "int", "n2": "int"}
    assert innodb_rows.table_row_bytes(["k"], None, merged) == 8143 >= innodb_rows.ROW_LIMIT
    # the store declares a column with no value yet BIGINT: 8 bytes in its table, 1 in the result's check
    assert innodb_rows.table_row_bytes(["k"], None, SECOND_TYPES) - \
        innodb_rows.declared_row_bytes(["k"], None, SECOND_TYPES) == 383 * 7


def test_a_full_write_rebuilds_a_table_that_cannot_take_the_new_columns(tmp_path: Path) -> None:
    store = RowLimitedStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.write_counted(WIDE, [FIRST], replace=True, types=FIRST_TYPES, exact_types=True)
        counts = store.write_counted(WIDE, [SECOND], replace=True, types=SECOND_TYPES, exact_types=True)
        assert (counts.rows, counts.changed, counts.stale) == (1, 1, 0)
        assert store.column_types("u") == SECOND_TYPES  # rebuilt from the result, not the stored types and the new
        assert store.all(WIDE) == [SECOND]
        # and back: the numbers gone, the text values there again
        store.write_counted(WIDE, [FIRST], replace=True, types=FIRST_TYPES, exact_types=True)
        assert store.all(WIDE) == [FIRST] and store.column_types("u") == FIRST_TYPES
    finally:
        store.close()


def test_a_known_difference_is_left_to_the_full_write_when_the_table_cannot_take_it(tmp_path: Path) -> None:
    store = RowLimitedStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.write_counted(WIDE, [FIRST], replace=True, types=FIRST_TYPES, exact_types=True)
        generation = store.generation("u")
        assert store.write_changes(WIDE, [SECOND], [], 1, columns=list(SECOND_TYPES), types=SECOND_TYPES) is None
        assert store.generation("u") == generation and store.column_types("u") == FIRST_TYPES
        assert store.all(WIDE) == [FIRST]
    finally:
        store.close()
