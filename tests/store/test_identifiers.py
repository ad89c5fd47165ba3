"""Metric column names that are SQL reserved words or hold odd characters, on every store.

Column names come from the users' metric SQL, so a store must take any name a result can have (``nothing`` is a
keyword SQLite's own parser knows but SQLAlchemy's list of SQLite reserved words does not; ``%`` is PyMySQL's
interpolation character) or refuse it up front, naming the metric and the column. Expected answers are written
out by hand.
"""

from __future__ import annotations

import re

import pytest
from metric_header import metric
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from fediscope.engine.metrics import load_metrics, parse_metric
from fediscope.errors import ConfigError
from fediscope.store.mysql import MySQLStore
from fediscope.store.schema import plan_write
from fediscope.store.sql import SQLStore

# key (group, order), prefix reads on `order` (not the first key column: an index of its own), top-N by `nothing`
ODD = metric("odd", "group, order", rank="nothing DESC", prefix="order")
VALUES = ["share_%", "select", "MixedCase", "with space", "x%(y)s", "100%s", "what?", ":colon", "a.b", "back`tick",
          'dq"x', "k'ey", "p(q)", "pAqZ", "é", "x" * 64]


def odd_row(group: str, order: int, nothing: int | None, **values: object) -> dict[str, object]:
    row: dict[str, object] = {"group": group, "order": order, "nothing": nothing}
    row.update({name: f"{name}={group}{order}" for name in VALUES})
    row["share_%"] = order / 4
    row.update(values)
    return row


ROWS = [odd_row("b", 1, 5), odd_row("a", 2, 9), odd_row("a", 1, None), odd_row("c", 2, 7)]


def test_reserved_words_and_odd_characters_round_trip(metric_store):
    assert metric_store.write(ODD, ROWS) == 4
    assert metric_store.all(ODD) == [ROWS[2], ROWS[1], ROWS[0], ROWS[3]]  # key order
    assert metric_store.get(ODD, ["a", 2]) == ROWS[1]
    assert metric_store.get(ODD, ["a", 2])["share_%"] == 0.5
    assert metric_store.get(ODD, ["z", 2]) is None
    assert metric_store.scan_prefix(ODD, 2) == [ROWS[1], ROWS[3]]
    assert metric_store.scan_prefix(ODD, 1, limit=1) == [ROWS[2]]
    assert metric_store.top(ODD, 2) == [ROWS[1], ROWS[3]]
    assert metric_store.top(ODD, 10) == [ROWS[1], ROWS[3], ROWS[0], ROWS[2]]  # NULL rank last
    assert metric_store.stored_metrics() == {"odd": 4}


def test_rewrites_of_odd_columns_are_idempotent_upserts(metric_store):
    metric_store.write(ODD, ROWS)
    metric_store.write(ODD, ROWS)
    assert metric_store.all(ODD) == [ROWS[2], ROWS[1], ROWS[0], ROWS[3]]
    changed = odd_row("b", 1, 50, **{"share_%": 0.0, "x%(y)s": None, "MixedCase": "new", "100%s": "%s%%"})
    metric_store.write(ODD, [changed], replace=False)  # upsert of one row: every value column is updated
    assert metric_store.get(ODD, ["b", 1]) == changed
    assert metric_store.top(ODD, 1) == [changed]
    assert len(metric_store.all(ODD)) == 4
    metric_store.write(ODD, [changed, ROWS[3]])  # a full recomputation: the other keys are deleted
    assert metric_store.all(ODD) == [changed, ROWS[3]]
    assert metric_store.stored_metrics() == {"odd": 2}


def test_write_changes_and_delete_where_on_odd_columns(metric_store):
    metric_store.write(ODD, ROWS)
    changed = odd_row("c", 2, 1, **{"with space": "changed"})
    assert metric_store.write_changes(ODD, [changed], [("a", 1)], row_count=3) is not None
    assert metric_store.all(ODD) == [ROWS[1], ROWS[0], changed]
    assert metric_store.delete_where(ODD, "with space", "changed") == 1
    assert metric_store.delete_where(ODD, "order", 2) == 1
    assert metric_store.all(ODD) == [ROWS[0]]


def test_schema_evolution_adds_and_widens_odd_columns(metric_store):
    plain = metric("evolving", "order", rank="nothing ASC")
    metric_store.write(plain, [{"order": 1, "nothing": 3}, {"order": 2, "nothing": 1}])
    # added: a reserved word, a `%`, a space, mixed case; `select` NULL only (no type yet), `group` a bool
    added = [{"order": 1, "nothing": 3, "share_%": 0.25, "with space": "x", "MixedCase": 1, "select": None,
              "group": True},
             {"order": 2, "nothing": 1, "share_%": 0.5, "with space": "y", "MixedCase": 2, "select": None,
              "group": False}]
    metric_store.write(plain, added)
    assert metric_store.all(plain) == added
    # widened in place: `group` bool -> float, `select` null -> text, `nothing` (the rank) int -> float
    widened = [dict(added[0], group=2.5, select="s", nothing=0.5), dict(added[1], group=1, select=None)]
    metric_store.write(plain, widened, replace=False)
    assert metric_store.all(plain) == [dict(widened[0]), dict(widened[1], group=1.0)]
    assert [r["order"] for r in metric_store.top(plain, 2)] == [1, 2]
    assert metric_store.get(plain, [1])["select"] == "s"


def test_a_column_added_by_a_write_interrupted_before_the_catalog_update_is_not_added_twice(metric_store):
    if not isinstance(metric_store, SQLStore):
        pytest.skip("HBase has no ALTER TABLE")
    plain = metric("interrupted", "order")
    metric_store.write(plain, [{"order": 1}])
    stored = metric_store._load_schema("interrupted")
    grown = [{"order": 1, "nothing": 2, "share_%": 0.5, "back`tick": "b", 'dq"x': "d", "x%(y)s": 1, "Mixed Case": 2}]
    metric_store._evolve(stored, plan_write(plain, grown, stored))  # the catalog still has the old schema
    metric_store.write(plain, grown)
    assert metric_store.all(plain) == grown


class FormatParamMySQLStore(MySQLStore):
    """The MariaDB store with PyMySQL's positional ``format`` paramstyle, so its upserts go the driver's way
    (``exec_driver_sql`` with tuples, where PyMySQL interpolates the whole statement with ``%``)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url).update_query_dict({"charset": "utf8mb4"})
        SQLStore.__init__(self, url, create_engine(parsed, paramstyle="format"))


@pytest.mark.mariadb
def test_mariadb_upsert_sent_through_the_driver_keeps_percent_signs(mariadb_url):
    store = FormatParamMySQLStore(mariadb_url)
    try:
        store.write(ODD, ROWS)
        schema = store._load_schema("odd")
        compiled = store.upsert(store.table(schema), schema.value_columns).compile(dialect=store._engine.dialect)
        assert compiled.positional and sorted(compiled.positiontup) == sorted(schema.names)  # the driver path
        changed = odd_row("b", 1, 50, **{"share_%": 0.0, "x%(y)s": "%(y)s", "100%s": "%%"})
        store.write(ODD, [changed, *ROWS[1:]])
        assert store.all(ODD) == [ROWS[2], ROWS[1], changed, ROWS[3]]
        assert store.top(ODD, 1) == [changed]
    finally:
        store.close()


def test_columns_differing_only_in_bind_name_characters_stay_apart(metric_store):
    # SQLAlchemy's bind names replace `%`, `(`, `)`, `.` and spaces: "a b" and "a_b" must still be two values
    pairs = metric("pairs", "id")
    row = {"id": 1, "a b": 1, "a_b": 2, "share_%": 3, "share_P": 4, "x.y": 5, "x_y": 6, "p(q)": 7, "pAqZ": 8}
    metric_store.write(pairs, [row])
    metric_store.write(pairs, [dict(row, **{"a b": 10, "share_%": 30})])
    assert metric_store.all(pairs) == [dict(row, **{"a b": 10, "share_%": 30})]


@pytest.mark.parametrize(("column", "problem"), [
    ("", "the name is empty"),
    ("x" * 65, "the name has 65 characters, at most 64 are allowed"),
    ("trailing ", "ends with a space"),
    ("line\nbreak", "control character"),
    ("nul\x00", "control character"),
    ("elephant🐘", "outside Unicode's basic plane"),
    ("lone\ud800", "the name contains a lone surrogate"),  # a str may hold one, UTF-8 cannot
    ("byte\udcff", "the name contains a lone surrogate"),  # a byte that is not UTF-8, read with surrogateescape
])
def test_names_no_store_can_hold_are_refused_before_writing(metric_store, column, problem):
    plain = metric("refused", "id")
    with pytest.raises(ConfigError) as error:
        metric_store.write(plain, [{"id": 1, column: 1}])
    assert f"metric refused (spark_jobs/sql/refused.sql): column {column!r} cannot be stored" in str(error.value)
    assert problem in str(error.value)
    assert metric_store.all(plain) == []
    assert metric_store.stored_metrics() == {}


def test_names_differing_only_in_case_are_refused(metric_store):
    plain = metric("cased", "id")
    with pytest.raises(ConfigError, match=r"metric cased \(spark_jobs/sql/cased.sql\): columns 'Share' and "
                                          r"'share' differ only in case"):
        metric_store.write(plain, [{"id": 1, "Share": 1, "share": 2}])
    metric_store.write(plain, [{"id": 1, "Share": 1}])
    with pytest.raises(ConfigError, match="'id' and 'ID' differ only in case"):
        metric_store.write(plain, [{"id": 1, "ID": 2}])
    with pytest.raises(ConfigError, match="'Share' and 'SHARE' differ only in case"):
        metric_store.write_changes(plain, [{"id": 1, "SHARE": 2}], [], 1)  # against the stored column
    with pytest.raises(ConfigError, match="'Share' and 'share' differ only in case"):
        metric_store.write(plain, [{"id": 1, "share": 2}])
    assert metric_store.all(plain) == [{"id": 1, "Share": 1}]


def test_header_columns_are_checked_when_the_metric_files_are_read(tmp_path):
    (tmp_path / "fine.sql").write_text("-- question: q\n-- key: order, the key\n-- rank: nothing DESC\nSELECT 1\n")
    assert load_metrics(tmp_path)["fine"].key == ("order", "the key")
    (tmp_path / "long.sql").write_text(f"-- question: q\n-- key: {'k' * 65}\nSELECT 1\n")
    with pytest.raises(ConfigError, match=rf"metric long \({re.escape(str(tmp_path))}/long.sql\): column "
                                          r"'k{65}' cannot be stored: the name has 65 characters"):
        load_metrics(tmp_path)
    (tmp_path / "long.sql").unlink()
    (tmp_path / "spaced.sql").write_text("-- question: q\n-- key: id\n-- rank: the count DESC\nSELECT 1\n")
    with pytest.raises(ConfigError, match=r"metric spaced \(.*spaced.sql\): '-- rank: the count DESC' is not "
                                          r"'-- rank: <column> \[ASC\|DESC\]'"):
        load_metrics(tmp_path)
    with pytest.raises(ConfigError, match="columns 'Day' and 'day' differ only in case"):
        parse_metric("cased", "-- question: q\n-- key: Day\n-- prefix: day\nSELECT 1")


def test_the_shipped_metrics_all_have_storable_names():
    from fediscope.engine.metrics import SQL_DIR

    assert load_metrics(SQL_DIR)  # parse_metric checks the header's columns
