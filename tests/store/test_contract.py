"""The store port's contract, run on every adapter: SQLite, MariaDB, the HBase Thrift double (and a real HBase
when FEDISCOPE_TEST_HBASE is set). Every expected answer here is written out by hand."""

from __future__ import annotations

import pyarrow as pa
import pytest
from metric_header import metric

from fediscope.analysis import provisional
from fediscope.engine.metric_state import without_unstorable_keys
from fediscope.engine.metrics import Metric
from fediscope.errors import StoreError
from fediscope.store.port import PositionError, WriteCounts

ACCOUNTS = metric("accounts", "account", rank="followers DESC")
DAILY = metric("daily", "instance, day", rank="toots DESC")
BY_DAY = metric("by_day", "instance, day", prefix="day")
RATES = metric("rates", "bucket", rank="share ASC")

ROWS = [
    {"account": "carol", "followers": 30, "rate": 0.1 + 0.2, "bot": False, "lang": "en", "note": None},
    {"account": "alice", "followers": 120, "rate": 1 / 3, "bot": True, "lang": "fr", "note": "ünïcødé ✓ 🐘"},
    {"account": "bob", "followers": 30, "rate": -2.5e-300, "bot": False, "lang": "de", "note": ""},
    {"account": "dave", "followers": None, "rate": 0.0, "bot": False, "lang": "en", "note": "x"},
    {"account": "erin", "followers": 2**53 + 1, "rate": 1e300, "bot": False, "lang": "en", "note": "y"},
]


def by_account(rows):
    return {r["account"]: r for r in rows}


def test_rows_round_trip_with_their_types(metric_store):
    assert metric_store.write(ACCOUNTS, ROWS) == 5
    stored = metric_store.all(ACCOUNTS)
    assert [r["account"] for r in stored] == ["alice", "bob", "carol", "dave", "erin"]  # key order
    for row in stored:
        original = by_account(ROWS)[row["account"]]
        assert row == original
        assert [type(v) for v in row.values()] == [type(original[c]) for c in row]
    assert metric_store.get(ACCOUNTS, ["alice"]) == by_account(ROWS)["alice"]
    assert metric_store.get(ACCOUNTS, ("nobody",)) is None


def test_rewriting_a_batch_overwrites_and_never_duplicates(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    metric_store.write(ACCOUNTS, ROWS)
    metric_store.write(ACCOUNTS, ROWS, replace=False)
    assert len(metric_store.all(ACCOUNTS)) == 5
    assert metric_store.stored_metrics() == {"accounts": 5}
    changed = [dict(r, followers=1, note=None) if r["account"] == "alice" else r for r in ROWS]
    metric_store.write(ACCOUNTS, changed)
    assert metric_store.get(ACCOUNTS, ["alice"])["followers"] == 1
    assert metric_store.get(ACCOUNTS, ["alice"])["note"] is None
    assert len(metric_store.all(ACCOUNTS)) == 5


def test_replace_removes_rows_missing_from_the_new_result_and_append_keeps_them(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    metric_store.write(ACCOUNTS, [dict(ROWS[0], followers=7), ROWS[1]], replace=True)
    assert [r["account"] for r in metric_store.all(ACCOUNTS)] == ["alice", "carol"]
    assert metric_store.get(ACCOUNTS, ["bob"]) is None
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 10)] == ["alice", "carol"]
    metric_store.write(ACCOUNTS, [ROWS[2]], replace=False)
    assert [r["account"] for r in metric_store.all(ACCOUNTS)] == ["alice", "bob", "carol"]
    assert metric_store.stored_metrics() == {"accounts": 3}


def test_duplicate_keys_in_one_write_keep_the_last_row(metric_store):
    rows = [dict(ROWS[0], followers=1), dict(ROWS[0], followers=2)]
    assert metric_store.write(ACCOUNTS, rows) == 1
    assert metric_store.all(ACCOUNTS) == [dict(ROWS[0], followers=2)]


def test_top_orders_by_rank_with_ties_by_key_and_nulls_last(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 10)] == ["erin", "alice", "bob", "carol", "dave"]
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 2)] == ["erin", "alice"]
    assert metric_store.top(ACCOUNTS, 0) == []
    assert metric_store.top(ACCOUNTS, 1)[0] == by_account(ROWS)["erin"]


def test_top_follows_rank_changes_without_stale_entries(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    metric_store.write(ACCOUNTS, [dict(ROWS[2], followers=10**6), dict(ROWS[4], followers=None)], replace=False)
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 10)] == ["bob", "alice", "carol", "dave", "erin"]
    assert [r["followers"] for r in metric_store.top(ACCOUNTS, 2)] == [10**6, 120]


def test_top_ascending_rank_with_float_values(metric_store):
    rows = [{"bucket": b, "share": s} for b, s in [(0, 0.5), (1, -0.25), (2, 0.5), (3, None), (-4, -1e-9)]]
    metric_store.write(RATES, rows)
    assert [r["bucket"] for r in metric_store.top(RATES, 5)] == [1, -4, 0, 2, 3]
    assert [r["bucket"] for r in metric_store.all(RATES)] == [-4, 0, 1, 2, 3]


DAYS = [
    {"instance": "b.example", "day": "2024-05-02", "toots": 4},
    {"instance": "a.example", "day": "2024-05-02", "toots": 9},
    {"instance": "a.example", "day": "2024-05-01", "toots": 9},
    {"instance": "a.example.org", "day": "2024-05-01", "toots": 1},
    {"instance": "a.example", "day": "2024-05-03", "toots": 2},
]


def test_scan_prefix_reads_one_prefix_value_in_key_order(metric_store):
    metric_store.write(DAILY, DAYS)
    assert [r["day"] for r in metric_store.scan_prefix(DAILY, "a.example")] == \
        ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert [r["day"] for r in metric_store.scan_prefix(DAILY, "a.example", limit=2)] == ["2024-05-01", "2024-05-02"]
    assert metric_store.scan_prefix(DAILY, "a.exam") == []
    assert metric_store.scan_prefix(DAILY, "a.example", limit=0) == []
    assert [(r["instance"], r["day"]) for r in metric_store.top(DAILY, 3)] == \
        [("a.example", "2024-05-01"), ("a.example", "2024-05-02"), ("b.example", "2024-05-02")]


def test_scan_prefix_on_a_key_column_that_is_not_first(metric_store):
    metric_store.write(BY_DAY, DAYS)
    assert [r["instance"] for r in metric_store.scan_prefix(BY_DAY, "2024-05-01")] == ["a.example", "a.example.org"]
    assert [(r["instance"], r["day"]) for r in metric_store.all(BY_DAY)] == [
        ("a.example", "2024-05-01"), ("a.example", "2024-05-02"), ("a.example", "2024-05-03"),
        ("a.example.org", "2024-05-01"), ("b.example", "2024-05-02")]
    assert metric_store.top(BY_DAY, 2) == metric_store.all(BY_DAY)[:2]  # no rank: key order


def test_text_keys_are_case_and_space_sensitive_and_sort_by_code_point(metric_store):
    tags = metric("tags", "tag", rank="uses DESC")
    names = ["python", "Python", "python ", "ß", "é", "Zebra", "a", "ab", "a b", "日本"]
    metric_store.write(tags, [{"tag": n, "uses": 1} for n in names])
    assert [r["tag"] for r in metric_store.all(tags)] == sorted(names)
    assert metric_store.get(tags, ["Python"]) == {"tag": "Python", "uses": 1}
    assert [r["tag"] for r in metric_store.top(tags, 3)] == sorted(names)[:3]


def test_numeric_and_boolean_keys_sort_numerically(metric_store):
    hours = metric("hours", "weekday, hour, is_bot")
    rows = [{"weekday": w, "hour": h, "is_bot": b, "n": w * 100 + h}
            for w, h, b in [(2, 10, False), (-1, 3, True), (2, -5, True), (10, 0, False), (2, 10, True)]]
    metric_store.write(hours, rows)
    assert [(r["weekday"], r["hour"], r["is_bot"]) for r in metric_store.all(hours)] == \
        [(-1, 3, True), (2, -5, True), (2, 10, False), (2, 10, True), (10, 0, False)]
    assert [r["hour"] for r in metric_store.scan_prefix(hours, 2)] == [-5, 10, 10]
    assert metric_store.get(hours, [2, 10, True])["n"] == 210


def test_lookups_are_typed_like_the_column(metric_store):
    hours = metric("hours", "hour")
    metric_store.write(hours, [{"hour": 3, "n": 1}])
    assert metric_store.get(hours, [3.0]) == {"hour": 3, "n": 1}
    assert metric_store.get(hours, ["3"]) is None
    assert metric_store.get(hours, [3.5]) is None
    assert metric_store.scan_prefix(hours, "3") == []
    with pytest.raises(StoreError, match="1 value"):
        metric_store.get(hours, [3, 4])


def test_a_lookup_value_no_64_bit_column_holds_matches_nothing(metric_store):
    hours = metric("hours", "hour", rank="n DESC")
    rates = metric("float_keys", "x")
    metric_store.write(hours, [{"hour": 3, "n": 1}])
    metric_store.write(rates, [{"x": 1.5, "n": 1}])
    assert metric_store.get(hours, [2**64]) is None
    assert metric_store.get(hours, [-(2**63) - 1]) is None
    assert metric_store.scan_prefix(hours, 1e300) == []
    assert metric_store.scan_prefix(hours, 10**30) == []
    assert metric_store.delete_where(hours, "hour", 2**63) == 0
    assert metric_store.get(rates, [10**400]) is None  # beyond any float
    assert metric_store.all(hours) == [{"hour": 3, "n": 1}]


def test_a_lookup_text_no_store_can_hold_matches_nothing(metric_store):
    # a lone surrogate: what Python makes of an argument's bytes that are not UTF-8 (store export --prefix $'\xff')
    daily = metric("tags", "day, tag", rank="uses DESC", prefix="day")
    metric_store.write(daily, [{"day": "2024-05-01", "tag": "a", "uses": 1}])
    odd = "2024-05-01\udcff"
    assert metric_store.scan_prefix(daily, odd) == []
    assert metric_store.get(daily, [odd, "a"]) is None
    assert metric_store.get(daily, ["2024-05-01", "\ud800"]) is None
    assert metric_store.delete_where(daily, "tag", "a\udcff") == 0
    with pytest.raises(PositionError, match="tag"):
        metric_store.top(daily, 5, after={"uses": 1, "day": "2024-05-01", "tag": "\udcff"})
    assert metric_store.all(daily) == [{"day": "2024-05-01", "tag": "a", "uses": 1}]


def test_delete_where_erases_rows_everywhere(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    assert metric_store.delete_where(ACCOUNTS, "lang", "en") == 3
    assert [r["account"] for r in metric_store.all(ACCOUNTS)] == ["alice", "bob"]
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 5)] == ["alice", "bob"]
    assert metric_store.get(ACCOUNTS, ["erin"]) is None
    assert metric_store.stored_metrics() == {"accounts": 2}
    assert metric_store.delete_where(ACCOUNTS, "account", "alice") == 1
    assert metric_store.delete_where(ACCOUNTS, "account", "alice") == 0
    assert metric_store.delete_where(ACCOUNTS, "no_such_column", "x") == 0
    assert metric_store.delete_where(ACCOUNTS, "followers", "30") == 0  # text never matches a number column
    metric_store.write(DAILY, DAYS)
    assert metric_store.delete_where(DAILY, "instance", "a.example") == 3
    assert [r["instance"] for r in metric_store.all(DAILY)] == ["a.example.org", "b.example"]


def test_schema_evolves_when_a_metric_gains_columns_or_values(metric_store):
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 1, "later": None}])
    metric_store.write(ACCOUNTS, [{"account": "b", "followers": 2, "later": "now text", "extra": 2.5}],
                       replace=False)
    assert metric_store.all(ACCOUNTS) == [
        {"account": "a", "followers": 1, "later": None, "extra": None},
        {"account": "b", "followers": 2, "later": "now text", "extra": 2.5},
    ]
    metric_store.write(ACCOUNTS, [{"account": "c", "followers": 3, "later": "x", "extra": 4}], replace=False)
    assert metric_store.get(ACCOUNTS, ["c"])["extra"] == 4.0
    assert isinstance(metric_store.get(ACCOUNTS, ["c"])["extra"], float)


def test_a_full_typed_write_drops_the_columns_the_result_no_longer_has(metric_store):
    """A column removed from a metric's SQL leaves the store on the next full write (it used to stay, NULL)."""
    with_ranking = {"account": "str", "followers": "int", "ranking": "int"}
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 3, "ranking": 2},
                                  {"account": "b", "followers": 5, "ranking": 1}], types=with_ranking)
    without = {"account": "str", "followers": "int"}
    rows = [{"account": "a", "followers": 3}, {"account": "b", "followers": 6}]
    # an appending write keeps the stored columns, as before
    metric_store.write(ACCOUNTS, [{"account": "c", "followers": 1}], replace=False, types=without)
    assert metric_store.get(ACCOUNTS, ["a"]) == {"account": "a", "followers": 3, "ranking": 2}
    assert metric_store.get(ACCOUNTS, ["c"]) == {"account": "c", "followers": 1, "ranking": None}
    # a known difference cannot drop a column: it asks for the full path and writes nothing
    assert metric_store.write_changes(ACCOUNTS, rows[1:], [], 2, columns=list(without)) is None
    assert metric_store.get(ACCOUNTS, ["b"]) == {"account": "b", "followers": 5, "ranking": 1}
    assert metric_store.write(ACCOUNTS, rows, types=without) == 2
    assert metric_store.all(ACCOUNTS) == rows
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 5)] == ["b", "a"]
    assert metric_store.stored_metrics() == {"accounts": 2}
    assert metric_store.write_changes(ACCOUNTS, [{"account": "a", "followers": 4}], [], 2,
                                      columns=list(without)) is not None
    assert metric_store.get(ACCOUNTS, ["a"]) == {"account": "a", "followers": 4}


def test_widening_the_rank_column_keeps_the_order_right(metric_store):
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 10}, {"account": "b", "followers": 3}])
    metric_store.write(ACCOUNTS, [{"account": "c", "followers": 5.5}], replace=False)
    assert [(r["account"], r["followers"]) for r in metric_store.top(ACCOUNTS, 3)] == \
        [("a", 10.0), ("c", 5.5), ("b", 3.0)]


def test_a_rank_column_with_no_value_yet_is_stored_then_ranks_once_values_come(metric_store):
    """Was (MariaDB): a rank column holding only NULLs was declared TEXT, which MariaDB cannot index: the write
    failed ("Specified key was too long"), and so did every later run until values came (server_trending_tags
    of a server whose trends have no `uses`)."""
    assert metric_store.write(ACCOUNTS, [{"account": "a", "followers": None}, {"account": "b", "followers": None}])
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 5)] == ["a", "b"]
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 3}, {"account": "b", "followers": 7}])
    assert [(r["account"], r["followers"]) for r in metric_store.top(ACCOUNTS, 5)] == [("b", 7), ("a", 3)]


def test_a_text_value_longer_than_64_kib_is_stored_whole(metric_store):
    """Was (MariaDB): text values were TEXT columns (64 KiB at most), and one longer value failed the whole write;
    such values come from remote servers (a status's language, a tag)."""
    long_text = "ü" * 70_000  # 140,000 bytes in UTF-8
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 1, "note": long_text}])
    assert metric_store.get(ACCOUNTS, ["a"])["note"] == long_text


def test_a_changed_key_rebuilds_the_table(metric_store):
    metric_store.write(DAILY, DAYS)
    per_instance = metric("daily", "instance", rank="toots DESC")
    metric_store.write(per_instance, [{"instance": "a.example", "toots": 20}, {"instance": "b.example", "toots": 4}])
    assert metric_store.all(per_instance) == [{"instance": "a.example", "toots": 20},
                                              {"instance": "b.example", "toots": 4}]
    assert metric_store.stored_metrics() == {"daily": 2}


def test_a_rebuild_to_no_rows_keeps_the_metric_listed(metric_store):
    """Was: a write that rebuilt the table (a changed key, or a typed result that drops a column) with no rows
    dropped the metric's catalog entry too, so it read as never computed, not as computed and empty."""
    metric_store.write(DAILY, DAYS)
    per_instance = metric("daily", "instance", rank="toots DESC")
    assert metric_store.write_counted(per_instance, []) == WriteCounts(0, 0, len(DAYS))
    assert metric_store.stored_metrics() == {"daily": 0} and metric_store.all(per_instance) == []
    assert metric_store.generation("daily")
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 3, "ranking": 2}],
                       types={"account": "str", "followers": "int", "ranking": "int"})
    assert metric_store.write(ACCOUNTS, [], types={"account": "str", "followers": "int"}) == 0
    assert metric_store.stored_metrics() == {"daily": 0, "accounts": 0}
    assert metric_store.write(per_instance, [{"instance": "a.example", "toots": 2}]) == 1
    assert metric_store.top(per_instance, 3) == [{"instance": "a.example", "toots": 2}]


def test_an_unknown_metric_reads_as_empty(metric_store):
    assert metric_store.stored_metrics() == {}
    assert metric_store.all(ACCOUNTS) == []
    assert metric_store.top(ACCOUNTS, 3) == []
    assert metric_store.get(ACCOUNTS, ["a"]) is None
    assert metric_store.scan_prefix(ACCOUNTS, "a") == []
    assert metric_store.delete_where(ACCOUNTS, "account", "a") == 0
    assert metric_store.write(ACCOUNTS, []) == 0
    assert metric_store.stored_metrics() == {"accounts": 0}  # computed, no rows
    assert metric_store.all(ACCOUNTS) == []
    assert metric_store.top(ACCOUNTS, 3) == []
    assert metric_store.write(ACCOUNTS, ROWS[:2]) == 2
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 3)] == ["alice", "carol"]


def test_the_recorded_metric_is_the_last_writes_key_rank_prefix_and_question(metric_store):
    """What a metric whose SQL file is gone is read and erased by: the layout the catalog recorded, not a file's."""
    assert metric_store.recorded_metric("accounts") is None
    metric_store.write(ACCOUNTS, ROWS)
    metric_store.write(BY_DAY, DAYS)
    metric_store.write(RATES, [{"bucket": "a", "share": 0.5}])
    recorded = {name: metric_store.recorded_metric(name) for name in ("accounts", "by_day", "rates")}
    assert {name: (m.name, m.question, m.key, m.rank_column, m.rank_desc, m.prefix_column, m.sql)
            for name, m in recorded.items()} == {
        "accounts": ("accounts", "test metric accounts", ("account",), "followers", True, None, ""),
        "by_day": ("by_day", "test metric by_day", ("instance", "day"), None, True, "day", ""),
        "rates": ("rates", "test metric rates", ("bucket",), "share", False, None, ""),
    }
    accounts = recorded["accounts"]
    # it addresses the stored rows by their key: a read, and a deletion of exactly one key that keeps the question
    assert [r["account"] for r in metric_store.top(accounts, 2)] == ["erin", "alice"]
    assert metric_store.write_changes(accounts, [], [("alice",)], row_count=4) is not None
    assert sorted(r["account"] for r in metric_store.all(ACCOUNTS)) == ["bob", "carol", "dave", "erin"]
    assert metric_store.recorded_metric("accounts") == accounts
    # the last write's layout, not the first's
    per_lang = metric("accounts", "lang", rank="n ASC")
    metric_store.write(per_lang, [{"lang": "en", "n": 3}])
    assert metric_store.recorded_metric("accounts").key == ("lang",)
    metric_store.drop("accounts")
    assert metric_store.recorded_metric("accounts") is None
    metric_store.write(ACCOUNTS, [])  # listed with no rows (no table): its key is recorded
    assert metric_store.recorded_metric("accounts").key == ("account",)


def _metric_tables(store) -> set[str]:
    """The store's metric tables, by the name it gives them without its own part (``metric_``, the HBase prefix)."""
    if store.kind.startswith("hbase"):
        with store._pool.connection() as conn:
            names = [name.decode() for name in conn.tables()]
        return {name.removeprefix(f"{store.prefix}_") for name in names if name.startswith(f"{store.prefix}_")}
    from sqlalchemy import inspect

    return {name.removeprefix("metric_") for name in inspect(store._engine).get_table_names()
            if name.startswith("metric_")}


def test_drop_removes_a_metrics_tables_and_catalog_entry_and_nothing_else(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    metric_store.write(BY_DAY, DAYS)
    ranked = {"accounts", "accounts-rank"} if metric_store.kind.startswith("hbase") else {"accounts"}
    assert _metric_tables(metric_store) == {*ranked, "by_day"}
    assert metric_store.drop("accounts") is True
    assert _metric_tables(metric_store) == {"by_day"}
    assert metric_store.stored_metrics() == {"by_day": 5}
    assert metric_store.generation("accounts") is None and metric_store.column_types("accounts") == {}
    assert metric_store.all(ACCOUNTS) == [] and metric_store.top(ACCOUNTS, 3) == []
    assert metric_store.get(ACCOUNTS, ["alice"]) is None
    assert len(metric_store.all(BY_DAY)) == 5
    assert metric_store.drop("accounts") is False  # nothing left to drop: nothing changes
    assert metric_store.stored_metrics() == {"by_day": 5}


def test_a_dropped_metric_written_again_starts_afresh(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    metric_store.drop("accounts")
    per_lang = metric("accounts", "lang", rank="n ASC")  # another key and rank under the same name
    assert metric_store.write(per_lang, [{"lang": "en", "n": 3}, {"lang": "fr", "n": 1}]) == 2
    assert metric_store.top(per_lang, 5) == [{"lang": "fr", "n": 1}, {"lang": "en", "n": 3}]
    assert metric_store.stored_metrics() == {"accounts": 2}
    assert metric_store.column_types("accounts") == {"lang": "str", "n": "int"}


def test_drop_removes_a_metric_listed_with_no_rows(metric_store):
    assert metric_store.write(ACCOUNTS, []) == 0
    assert metric_store.stored_metrics() == {"accounts": 0}
    assert metric_store.drop("accounts") is True
    assert metric_store.stored_metrics() == {} and _metric_tables(metric_store) == set()


def test_tables_a_first_write_left_without_a_catalog_entry_are_listed_and_dropped(metric_store, monkeypatch):
    """A first write stopped after its tables were made, before the catalog listed the metric (a run killed
    there): the store lists those tables as unlisted (``fediscope doctor`` names them), and ``drop`` removes them.
    Listed metrics are not among them."""
    metric_store.write(BY_DAY, DAYS)

    def killed(*_: object) -> None:
        raise StoreError("killed (injected)")

    monkeypatch.setattr(metric_store, "_save_schema", killed)
    with pytest.raises(StoreError, match="injected"):
        metric_store.write(ACCOUNTS, ROWS)
    monkeypatch.undo()
    ranked = {"accounts", "accounts-rank"} if metric_store.kind.startswith("hbase") else {"accounts"}
    assert metric_store.stored_metrics() == {"by_day": 5} and _metric_tables(metric_store) == {*ranked, "by_day"}
    prefix = f"{metric_store.prefix}_" if metric_store.kind.startswith("hbase") else "metric_"
    assert metric_store.unlisted_metrics() == {"accounts": sorted(prefix + name for name in ranked)}
    assert metric_store.drop("accounts") is False  # the catalog did not list it, but its tables go
    assert _metric_tables(metric_store) == {"by_day"} and metric_store.unlisted_metrics() == {}
    assert metric_store.stored_metrics() == {"by_day": 5} and len(metric_store.all(BY_DAY)) == 5


def test_an_empty_full_recomputation_empties_the_metric(metric_store):
    metric_store.write(ACCOUNTS, ROWS)
    assert metric_store.write(ACCOUNTS, []) == 0
    assert metric_store.all(ACCOUNTS) == []
    assert metric_store.top(ACCOUNTS, 3) == []
    assert metric_store.stored_metrics() == {"accounts": 0}


@pytest.mark.parametrize(("rows", "message"), [
    ([{"account": None, "followers": 1}], "must not be NULL"),
    ([{"followers": 1}], "key column"),
    ([{"account": "a", "followers": 1}, {"account": "b", "followers": "many"}], "mixes text and numbers"),
    ([{"account": "a", "followers": object()}], "cannot store"),
    ([{"account": "x" * 300, "followers": 1}], "limited to 255"),
    ([{"account": "a", "followers": 2**63}], "outside the 64-bit range"),  # SQLite: an OverflowError traceback
    ([{"account": "a", "followers": 1, "big": -(2**63) - 1}], "column 'big' has the integer"),  # HBase kept it
])
def test_bad_rows_are_refused_with_a_clear_message(metric_store, rows, message):
    with pytest.raises(StoreError, match=message):
        metric_store.write(ACCOUNTS, rows)
    assert metric_store.all(ACCOUNTS) == []


def test_the_64_bit_integer_limits_are_stored_and_a_wider_column_takes_more(metric_store):
    limits = [{"account": "a", "followers": 2**63 - 1}, {"account": "b", "followers": -(2**63)}]
    metric_store.write(ACCOUNTS, limits)
    assert metric_store.all(ACCOUNTS) == limits
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 2.5}, {"account": "c", "followers": 2**64}])
    assert metric_store.get(ACCOUNTS, ["c"])["followers"] == float(2**64)  # a float column holds it as a float


def test_a_badly_named_metric_is_refused(metric_store):
    with pytest.raises(StoreError, match="cannot be stored"):
        metric_store.write(metric("Top-Accounts", "a"), [{"a": 1}])


def test_many_rows_in_batches(metric_store):
    rows = [{"account": f"acct{i:05d}", "followers": (i * 7919) % 1000, "share": i / 2500} for i in range(2500)]
    assert metric_store.write(ACCOUNTS, rows) == 2500
    top = metric_store.top(ACCOUNTS, 5)
    expected = sorted(rows, key=lambda r: (-r["followers"], r["account"]))[:5]
    assert top == expected
    assert len(metric_store.all(ACCOUNTS)) == 2500
    assert metric_store.write(ACCOUNTS, rows[:1000]) == 1000
    assert metric_store.stored_metrics() == {"accounts": 1000}


def test_a_write_interrupted_before_the_catalog_update_is_repaired_by_the_next(metric_store):
    metric_store.write(ACCOUNTS, [{"account": "a", "followers": 1}])
    stale_schema = metric_store._load_schema("accounts")
    metric_store.write(ACCOUNTS, [{"account": "b", "followers": 2, "added": "x"}], replace=False)
    metric_store._save_schema(stale_schema, ACCOUNTS.question, 1)  # as if the run stopped before its last step
    metric_store.write(ACCOUNTS, [{"account": "c", "followers": 3, "added": "y"}], replace=False)
    assert [(r["account"], r["added"]) for r in metric_store.all(ACCOUNTS)] == [("a", None), ("b", "x"), ("c", "y")]


def test_scan_prefix_on_a_column_outside_the_key(metric_store):
    """A metric file's '-- prefix:' must name a key column (refused when the file is read), but a schema with
    another one (a catalog entry written before that check, a Metric made in code) is still read alike."""
    by_lang = Metric(name="by_lang", question="q", key=("account",), sql="SELECT 1", rank_column="followers",
                     prefix_column="lang")
    metric_store.write(by_lang, ROWS)
    assert [r["account"] for r in metric_store.scan_prefix(by_lang, "en")] == ["carol", "dave", "erin"]
    assert [r["account"] for r in metric_store.scan_prefix(by_lang, "en", limit=1)] == ["carol"]
    assert metric_store.delete_where(by_lang, "lang", "en") == 3
    assert [r["account"] for r in metric_store.top(by_lang, 5)] == ["alice", "bob"]


def test_a_write_sends_only_new_or_changed_rows_and_stale_keys(metric_store, monkeypatch):
    metric_store.write(ACCOUNTS, ROWS)
    sent = []
    original = metric_store._upsert
    monkeypatch.setattr(metric_store, "_upsert",
                        lambda schema, rows, stale: (sent.append((rows, stale)), original(schema, rows, stale)))
    assert metric_store.write(ACCOUNTS, [dict(r) for r in ROWS]) == 5
    assert sent == []  # the same result again: nothing written
    changed = [dict(r, followers=7) if r["account"] == "bob" else r for r in ROWS if r["account"] != "dave"]
    changed.append({"account": "zoe", "followers": 1, "rate": 0.5, "bot": True, "lang": "en", "note": None})
    assert metric_store.write(ACCOUNTS, changed) == 5
    [(rows, stale)] = sent
    assert sorted(r["account"] for r in rows) == ["bob", "zoe"] and stale == [("dave",)]
    assert [r["account"] for r in metric_store.all(ACCOUNTS)] == ["alice", "bob", "carol", "erin", "zoe"]
    assert metric_store.get(ACCOUNTS, ["bob"])["followers"] == 7
    assert metric_store.stored_metrics() == {"accounts": 5}
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 2)] == ["erin", "alice"]
    sent.clear()
    assert metric_store.write(ACCOUNTS, [ROWS[3]], replace=False) == 1  # dave back, upsert only
    assert [r["account"] for r in sent[0][0]] == ["dave"] and sent[0][1] == []
    assert metric_store.stored_metrics() == {"accounts": 6}


def test_write_counted_says_what_the_write_changed_and_deleted(metric_store):
    assert metric_store.write_counted(ACCOUNTS, ROWS) == WriteCounts(rows=5, changed=5, stale=0)  # new table
    assert metric_store.write_counted(ACCOUNTS, [dict(r) for r in ROWS]) == WriteCounts(5, 0, 0)
    changed = [dict(r, followers=7) if r["account"] == "bob" else r for r in ROWS if r["account"] != "dave"]
    assert metric_store.write_counted(ACCOUNTS, changed) == WriteCounts(rows=4, changed=1, stale=1)
    assert metric_store.write_counted(ACCOUNTS, [ROWS[3]], replace=False) == WriteCounts(1, 1, 0)  # dave back
    assert metric_store.stored_metrics() == {"accounts": 5}
    # a column gone from the result rebuilds the table: every row written, the keys no longer there deleted
    fewer = [{k: v for k, v in r.items() if k != "note"} for r in ROWS[:2]]
    types = {"account": "str", "followers": "int", "rate": "float", "bot": "bool", "lang": "str"}
    assert metric_store.write_counted(ACCOUNTS, fewer, types=types) == WriteCounts(rows=2, changed=2, stale=3)
    assert metric_store.stored_metrics() == {"accounts": 2}


@pytest.mark.parametrize("how", ["write", "write_changes"])
def test_a_write_whose_catalog_update_fails_has_still_changed_the_generation(metric_store, monkeypatch, how):
    """The rows and the catalog are not one transaction: a write that changed rows and then failed to record
    them leaves a generation other than the one before it, so a reader paging with the old one (the results
    API's cursor) is told the metric changed instead of skipping or repeating rows."""
    metric_store.write(ACCOUNTS, ROWS)
    before = metric_store.generation("accounts")

    def catalog_lost(*_args, **_kwargs):
        raise StoreError("connection lost")

    monkeypatch.setattr(metric_store, "_commit", catalog_lost)
    changed = [dict(r, followers=r["followers"] + 100) if r["account"] == "bob" else r for r in ROWS]
    with pytest.raises(StoreError, match="connection lost"):
        if how == "write":
            metric_store.write(ACCOUNTS, changed)
        else:
            metric_store.write_changes(ACCOUNTS, [changed[2]], [], len(ROWS))
    assert metric_store.get(ACCOUNTS, ["bob"])["followers"] == ROWS[2]["followers"] + 100  # the rows changed ...
    during = metric_store.generation("accounts")
    assert during not in (None, before)  # ... and so did the generation
    # the retry finds no row left to change; it still ends the failed write with a generation of its own, so a
    # reader that noted the one left mid-write is told the rows changed since (a write that changes nothing
    # keeps only a generation a completed write gave)
    monkeypatch.undo()
    if how == "write":
        assert metric_store.write_counted(ACCOUNTS, changed) == WriteCounts(len(ROWS), 0, 0)
    else:
        assert metric_store.write_changes(ACCOUNTS, [], [], len(ROWS)) is not None
    after = metric_store.generation("accounts")
    assert after not in (None, before, during)
    metric_store.write(ACCOUNTS, changed)  # now a write that changes nothing keeps it
    assert metric_store.generation("accounts") == after


def test_write_changes_applies_a_difference_and_every_change_gets_a_new_generation(metric_store):
    assert metric_store.write_changes(ACCOUNTS, ROWS, [], 5) is None  # no table yet: the caller writes in full
    metric_store.write(ACCOUNTS, ROWS)
    first = metric_store.generations()["accounts"]
    assert first
    moved = dict(by_account(ROWS)["bob"], followers=500)
    new = metric_store.write_changes(ACCOUNTS, [moved, dict(ROWS[0], account="frank")], [("dave",)], 5)
    assert new and new != first and metric_store.generations() == {"accounts": new}
    assert [r["account"] for r in metric_store.all(ACCOUNTS)] == ["alice", "bob", "carol", "erin", "frank"]
    assert [r["account"] for r in metric_store.top(ACCOUNTS, 2)] == ["erin", "bob"]  # the rank index moved too
    assert metric_store.stored_metrics() == {"accounts": 5}
    metric_store.delete_where(ACCOUNTS, "account", "frank")  # an erasure is a change as well
    assert metric_store.generations()["accounts"] not in (first, new)
    text_followers = dict(ROWS[0], followers="many")  # text in a numeric column rebuilds: not a difference
    assert metric_store.write_changes(ACCOUNTS, [text_followers], [], 4) is None
    assert metric_store.get(ACCOUNTS, ["carol"]) == ROWS[0]


def test_a_write_that_changes_nothing_keeps_the_generation(metric_store):
    """Was: every write made a new generation, so re-running `fediscope process` with nothing new (it printed
    "0 written") made every open page cursor of the results API stale. A write that changes no row and no column
    keeps the generation and updates only the row count; any change still gets a new one."""
    metric_store.write(ACCOUNTS, ROWS)
    first = metric_store.generation("accounts")
    assert metric_store.write_counted(ACCOUNTS, list(reversed(ROWS))) == WriteCounts(5, 0, 0)
    assert metric_store.write_counted(ACCOUNTS, ROWS[:2], replace=False) == WriteCounts(2, 0, 0)
    assert metric_store.write_changes(ACCOUNTS, [], [], 5) == first  # a known difference that is empty
    assert metric_store.write_changes(ACCOUNTS, [], [], 5, columns=[c for c in ROWS[0]]) == first
    typed = {"account": "str", "followers": "int", "rate": "float", "bot": "bool", "lang": "str", "note": "str"}
    assert metric_store.write_counted(ACCOUNTS, [dict(r) for r in ROWS], types=typed) == WriteCounts(5, 0, 0)
    assert metric_store.generations() == {"accounts": first}
    assert metric_store.all(ACCOUNTS) == sorted(ROWS, key=lambda r: r["account"])

    assert metric_store.write_changes(ACCOUNTS, [], [], 7) == first  # only the row count is updated
    assert metric_store.stored_metrics() == {"accounts": 7}
    metric_store.write(ACCOUNTS, ROWS)
    assert (metric_store.generation("accounts"), metric_store.stored_metrics()) == (first, {"accounts": 5})

    # every kind of change gets a new generation: a row changed, a row gone, a column added (all NULL: no row's
    # values differ, but reads return the column), a column's type widened (1 reads as 1.0), an erasure
    seen = {first}
    changes = [
        lambda: metric_store.write(ACCOUNTS, [dict(ROWS[0], followers=31), *ROWS[1:]]),
        lambda: metric_store.write(ACCOUNTS, ROWS[1:]),
        lambda: metric_store.write(ACCOUNTS, [dict(r, extra=None) for r in ROWS[1:]]),
        lambda: metric_store.write(ACCOUNTS, [dict(r, extra=1) for r in ROWS[1:]]),
        lambda: metric_store.write(ACCOUNTS, [dict(r, extra=1.0) for r in ROWS[1:]]),
        lambda: metric_store.write_changes(ACCOUNTS, [dict(ROWS[1], rate=2.0, extra=2.5)], [], 4),
        lambda: metric_store.write_changes(ACCOUNTS, [], [("bob",)], 3),
        lambda: metric_store.delete_where(ACCOUNTS, "account", "dave"),
    ]
    for change in changes:
        change()
        generation = metric_store.generation("accounts")
        assert generation not in seen
        seen.add(generation)
        metric_store.write(ACCOUNTS, metric_store.all(ACCOUNTS), replace=False)  # the same rows again
        assert metric_store.generation("accounts") == generation

    # a metric computed with no rows (listed, no table) keeps its generation too when written empty again
    assert metric_store.write(DAILY, []) == 0
    empty = metric_store.generation("daily")
    assert empty and metric_store.write(DAILY, []) == 0 and metric_store.generation("daily") == empty


# -- typed writes (write(..., types=...), what `fediscope process` sends from Arrow results) ---------------------

TYPED = metric("typed", "account", rank="followers DESC")
UNTYPED = metric("untyped", "account", rank="followers DESC")
ROW_TYPES = {"account": "str", "followers": "int", "rate": "float", "bot": "bool", "lang": "str", "note": "str",
             "later": "null"}


def holdings(store, m):
    """Everything a store holds and answers for a metric (types of the values included: 1 == 1.0 == True)."""
    schema = store._load_schema(m.name)
    rows = store.all(m)
    return {"columns": schema.columns, "rows": [(row, [type(v).__name__ for v in row.values()]) for row in rows],
            "top": [r["account"] for r in store.top(m, 3)], "count": store.stored_metrics()[m.name]}


def write_both(store, rows, types, replace=True):
    """The same rows, typed and untyped, each into its own metric; both must end up holding the same."""
    written = store.write(TYPED, [dict(r) for r in rows], replace=replace, types=types)
    assert written == store.write(UNTYPED, [dict(r) for r in rows], replace=replace)
    assert holdings(store, TYPED) == holdings(store, UNTYPED)
    return holdings(store, TYPED)


def test_a_typed_write_stores_exactly_what_an_untyped_write_stores(metric_store):
    first = [dict(r, later=None) for r in ROWS]  # bools, 2**53 + 1, 1e300, -2.5e-300, unicode, an all-NULL column
    held = write_both(metric_store, first, ROW_TYPES)
    assert dict(held["columns"])["later"] == "null"
    assert [row for row, _ in held["rows"]] == sorted(first, key=lambda r: r["account"])
    assert held["top"] == ["erin", "alice", "bob"]

    # the store changed by someone else: the same rows again, a full comparison, nothing changes
    assert write_both(metric_store, first, ROW_TYPES) == held

    # the all-NULL column gets text (null -> str), followers become floats (int -> float, the rank column)
    second = [dict(first[1], followers=120.5, later="now"), dict(first[4], later=None)]
    held = write_both(metric_store, second, {**ROW_TYPES, "followers": "float"}, replace=False)
    assert dict(held["columns"])["later"] == "str" and dict(held["columns"])["followers"] == "float"
    assert metric_store.get(TYPED, ["alice"])["later"] == "now"
    assert metric_store.get(TYPED, ["erin"])["followers"] == float(2**53 + 1)
    assert held["top"] == ["erin", "alice", "bob"]  # bob and carol tie at 30: key order

    # ints and bools into the now wider columns: cast to the stored float / int; an int column all NULL this time
    third = [dict(first[2], followers=7, rate=3, bot=True, later=None), dict(first[3], rate=0.25)]
    held = write_both(metric_store, third, {**ROW_TYPES, "rate": "int", "followers": "null"}, replace=True)
    assert [row for row, _ in held["rows"]] == [
        {"account": "bob", "followers": 7.0, "rate": 3.0, "bot": True, "lang": "de", "note": "", "later": None},
        {"account": "dave", "followers": None, "rate": 0.25, "bot": False, "lang": "en", "note": "x", "later": None}]
    assert held["rows"][0][1] == ["str", "float", "float", "bool", "str", "str", "NoneType"]
    bools_as_ints = [dict(first[0], bot=1, later=None)]
    widened = write_both(metric_store, [{"account": "zed", "followers": 1, "bot": True}],
                         {"account": "str", "followers": "int", "bot": "bool"}, replace=False)
    assert dict(widened["columns"])["bot"] == "bool"
    held = write_both(metric_store, bools_as_ints, {**ROW_TYPES, "bot": "int"}, replace=False)  # bool -> int
    assert dict(held["columns"])["bot"] == "int"
    assert metric_store.get(TYPED, ["bob"])["bot"] == 1 and type(metric_store.get(TYPED, ["bob"])["bot"]) is int
    # ints into the float rank column: ordered among the floats stored before
    held = write_both(metric_store, [{"account": "amy", "followers": 8}, {"account": "bea", "followers": 6}],
                      {"account": "str", "followers": "int"}, replace=False)
    assert held["top"] == ["carol", "amy", "bob"]  # 30.0, 8, 7.0
    amy = metric_store.get(TYPED, ["amy"])
    assert amy["followers"] == 8.0 and type(amy["followers"]) is float


def test_a_typed_write_that_rebuilds_the_table_stores_what_an_untyped_one_stores(metric_store):
    write_both(metric_store, [dict(r, later=None) for r in ROWS], ROW_TYPES)
    float_rank = [{"account": "x", "followers": 5.5, "lang": "it"}]  # the rank type is in HBase's row keys
    kept = write_both(metric_store, float_rank, {"account": "str", "followers": "float", "lang": "str"},
                      replace=False)  # the rows kept from before are re-inferred together with these
    assert dict(kept["columns"])["followers"] == "float" and kept["count"] == 6
    assert kept["top"] == ["erin", "alice", "bob"] and metric_store.get(TYPED, ["x"])["lang"] == "it"

    as_numbers = [{"account": "x", "followers": 5, "lang": 1}, {"account": "y", "followers": 2, "lang": 2}]
    numbers = {"account": "str", "followers": "int", "lang": "int"}
    with pytest.raises(StoreError, match="mixes text and numbers"):  # kept text and new numbers in one column
        metric_store.write(TYPED, as_numbers, replace=False, types=numbers)
    assert holdings(metric_store, TYPED) == kept
    replaced = write_both(metric_store, as_numbers, numbers)
    assert replaced["columns"] == (("account", "str"), ("followers", "int"), ("lang", "int"))
    assert [row for row, _ in replaced["rows"]] == as_numbers


def test_a_typed_write_of_an_arrow_result_stores_what_the_rows_do(metric_store):
    import pyarrow as pa

    from fediscope.engine.metric_state import arrow_types, normalize_table

    table = normalize_table(pa.table({
        "account": ["b", "a", "c"],
        "followers": pa.array([2**53 + 1, None, -3], pa.int64()),
        "rate": pa.array([1e300, -0.0, float("nan")], pa.float64()),
        "bot": [True, None, False],
        "unknown": pa.array([None, None, None], pa.int64()),  # all NULL: a store infers no type for it
        "note": ["ünïcødé ✓ 🐘", "", None],
    }))
    types = arrow_types(table)
    assert types["unknown"] == "null"
    held = write_both(metric_store, table.to_pylist(), types)
    assert [row for row, _ in held["rows"]] == [
        {"account": "a", "followers": None, "rate": 0.0, "bot": None, "unknown": None, "note": ""},
        {"account": "b", "followers": 2**53 + 1, "rate": 1e300, "bot": True, "unknown": None, "note": "ünïcødé ✓ 🐘"},
        {"account": "c", "followers": -3, "rate": None, "bot": False, "unknown": None, "note": None}]
    assert held["top"] == ["b", "c", "a"]


@pytest.mark.parametrize(("rows", "types", "message"), [
    ([{"account": None, "followers": 1}], {"account": "null", "followers": "int"}, "must not be NULL"),
    ([{"account": "a", "followers": 1}, {"account": None, "followers": 2}], {"account": "str", "followers": "int"},
     r"key column\(s\) account are NULL"),
    ([{"followers": 1}], {"followers": "int"}, "key column"),
    ([{"account": "a", "rate": 1}], {"account": "str", "rate": "int"}, "rank column 'followers'"),
    ([{"account": "a", "followers": 1}, {"account": "x" * 300, "followers": 2}],
     {"account": "str", "followers": "int"}, "has a value of 300 characters; keys are limited to 255"),
])
def test_bad_typed_rows_are_refused_with_the_untyped_message(metric_store, rows, types, message):
    with pytest.raises(StoreError, match=message) as typed:
        metric_store.write(ACCOUNTS, rows, types=types)
    with pytest.raises(StoreError) as untyped:
        metric_store.write(ACCOUNTS, rows)
    assert str(typed.value) == str(untyped.value)
    assert metric_store.all(ACCOUNTS) == []


def test_many_typed_rows_with_awkward_column_names(metric_store):
    odd = metric("odd_names", "the key", rank="count(*) DESC")
    types = {"the key": "str", "count(*)": "int", "Ünï": "float", "is bot?": "bool", "from": "null"}
    rows = [{"the key": f"k{i:05d}", "count(*)": (i * 7919) % 1000, "Ünï": i / 7, "is bot?": i % 3 == 0, "from": None}
            for i in range(12_345)]
    assert metric_store.write(odd, rows, types=types) == 12_345
    assert metric_store.all(odd) == rows
    assert metric_store.top(odd, 3) == sorted(rows, key=lambda r: (-r["count(*)"], r["the key"]))[:3]
    assert metric_store.get(odd, ["k00003"]) == {"the key": "k00003", "count(*)": 3 * 7919 % 1000, "Ünï": 3 / 7,
                                                 "is bot?": True, "from": None}
    only_keys = metric("only_keys", "a, b")
    keys = [{"a": i % 7, "b": f"b{i}"} for i in range(20)]
    assert metric_store.write(only_keys, keys, types={"a": "int", "b": "str"}) == 20
    assert metric_store.write(only_keys, keys, types={"a": "int", "b": "str"}) == 20  # upserts, no duplicates
    assert metric_store.all(only_keys) == sorted(keys, key=lambda r: (r["a"], r["b"]))


# metrics whose MariaDB key (and rank index) could not hold 255 characters in each text key column, their limit and
# the bytes of their longest key: 4 × 192 × 4 = 3072, the most a MariaDB key holds; 3 × 254 × 4 + 2 BIGINTs = 3064
# (255 characters: 3076); a DOUBLE rank column, first in the rank index, and 4 × 191 × 4: 3064
NARROW_KEYS = [
    (metric("four_keys", "a, b, c, d"), {}, 192),
    (metric("two_numbers", "a, b, c, m, n"), {"m": 1, "n": -1}, 254),
    (metric("ranked_four", "a, b, c, d", rank="n DESC"), {"n": 2.5}, 191),
]


@pytest.mark.parametrize(("narrow", "numbers", "limit"), NARROW_KEYS, ids=[m.name for m, *_ in NARROW_KEYS])
def test_text_keys_are_limited_alike_where_a_mariadb_key_cannot_hold_255_characters_in_each(
        metric_store, caplog, narrow, numbers, limit):
    """A MariaDB key holds 3072 bytes, 4 a character of text: its text key columns were VARCHAR(768 // their count,
    at most 255), whatever the key's other columns took. Was, on MariaDB only, a metric with 3 text and 2 integer key
    columns (or 4 text ones and a number to rank by) could not be stored at all (error 1071, "Specified key was too
    long"), and one with 4 text key columns refused a value of 193 to 255 characters ("Data too long"), which the
    other stores kept. Every store now holds the same rows: the key's bytes are shared by its text columns, and a
    longer value is refused alike, or left out of a computed result with a warning."""
    texts = [k for k in narrow.key if k not in numbers]
    longest = {**{k: "🐘" * limit for k in texts}, **numbers}
    other = {**{k: "x" for k in texts}, **numbers}
    types = {k: "str" for k in texts} | {k: "int" if isinstance(v, int) else "float" for k, v in numbers.items()}
    assert metric_store.write(narrow, [longest, other], types=types) == 2
    assert metric_store.get(narrow, [longest[k] for k in narrow.key]) == longest

    too_long = dict(other, **{texts[-1]: "é" * (limit + 1)})
    for given in (types, None):
        with pytest.raises(StoreError, match=rf"^metric {narrow.name}: key column '{texts[-1]}' has a value of "
                                             rf"{limit + 1} characters; keys are limited to {limit} in a metric with "
                                             r"this key \(its text key columns share the 3072 bytes of a MariaDB "
                                             r"key\)$"):
            metric_store.write(narrow, [other, too_long], types=given)
    assert sorted(metric_store.all(narrow), key=str) == sorted([longest, other], key=str)

    kept = without_unstorable_keys(narrow.name, pa.Table.from_pylist([too_long, longest]), narrow.key,
                                   narrow.rank_column)
    assert kept.to_pylist() == [longest]
    assert f"metric {narrow.name}: 1 row(s) left out: a key ({', '.join(narrow.key)}" in caplog.text
    assert f"longer than the {limit} characters a store key may hold" in caplog.text


# 33 text key columns: 32 of 255 four-byte characters (1022 bytes encoded each) and one of 61 "a" (63 bytes) make a
# row key of exactly 32767 bytes, the most HBase takes; one more "a" makes 32768
WIDE = metric("wide", ", ".join(f"k{i:02d}" for i in range(33)))
LONGEST_ROW = {**{f"k{i:02d}": "🐘" * 255 for i in range(32)}, "k32": "a" * 61}


def test_a_row_whose_key_is_too_long_for_an_hbase_row_key_is_refused_and_left_out_of_a_result(metric_store, caplog):
    """HBase refuses a row key over 32767 bytes, and with it the whole batch, saying only "Internal error processing
    mutateRows": was, the write failed with that after writing nothing of the batch. Every store refuses such a row
    alike before writing anything, and a computed result leaves it out with a warning (as a text key over 255
    characters): the other rows are written, the 32767-byte one included. A key of 33 text columns: only many text
    key columns can make one that long."""
    if metric_store.kind == "mariadb":
        pytest.skip("a MariaDB primary key holds at most 32 columns: such a metric cannot be stored there at all")
    too_long = dict(LONGEST_ROW, k32="a" * 62)
    short = {f"k{i:02d}": "b" for i in range(33)}
    rows = [LONGEST_ROW, too_long, short]
    with pytest.raises(StoreError, match=r"^metric wide: a row's key \(k00, .*, k32\) makes a row key of 32768 bytes, "
                                         r"longer than the 32767 HBase takes; use fewer text key columns$"):
        metric_store.write(WIDE, rows)
    assert metric_store.stored_metrics() == {}

    kept = without_unstorable_keys("wide", pa.Table.from_pylist(rows), WIDE.key)
    assert "metric wide: 1 row(s) left out: a key (k00, " in caplog.text
    assert "makes an HBase row key longer than the 32767 bytes HBase takes" in caplog.text
    assert metric_store.write(WIDE, kept.to_pylist()) == 2
    assert metric_store.all(WIDE) == [short, LONGEST_ROW]  # key order: "b" < "🐘"
    assert metric_store.get(WIDE, list(LONGEST_ROW.values())) == LONGEST_ROW


def _killed(*_args, **_kwargs):
    """A catalog update that never happens: the process died after changing the rows."""
    raise StoreError("killed")


def test_a_deletion_marks_the_generation_provisional_before_its_rows_go(metric_store, monkeypatch):
    """Was: ``delete_where`` (the erasure's deletion by account) changed the generation only once it recorded the
    deletion, after the rows had gone, so a reader paging through the metric in between, or after an erasure killed
    in between, went on under the generation of before over rows that had changed (no ``stale_cursor``, no
    "Partly written"). It marks the generation provisional first, as a write does; a deletion that finds nothing
    keeps the generation, and one stopped after its rows went leaves it provisional until ``settle`` (the erasure
    run again: fediscope.gdpr.erase.erase_store) ends it."""
    metric_store.write(ACCOUNTS, ROWS)
    before = metric_store.generation("accounts")
    assert metric_store.delete_where(ACCOUNTS, "account", "nobody") == 0
    assert metric_store.delete_where(ACCOUNTS, "followers", 123456) == 0
    assert metric_store.generation("accounts") == before  # nothing deleted: open cursors go on

    with monkeypatch.context() as stopped:
        stopped.setattr(metric_store, "_commit", _killed)
        with pytest.raises(StoreError, match="killed"):
            metric_store.delete_where(ACCOUNTS, "account", "bob")
    assert metric_store.get(ACCOUNTS, ["bob"]) is None  # the rows went ...
    during = metric_store.generation("accounts")
    assert during is not None and during != before and provisional(during)  # ... under a provisional generation
    assert metric_store.stored_metrics() == {"accounts": 5}  # the count of before, until the deletion is recorded
    assert metric_store.delete_where(ACCOUNTS, "account", "bob") == 0  # the run again: nothing left to delete
    assert metric_store.generation("accounts") == during
    assert metric_store.settle(ACCOUNTS, len(metric_store.all(ACCOUNTS))) is True
    settled = metric_store.generation("accounts")
    assert settled not in (None, before, during) and not provisional(settled)

    # a deletion stopped after its generation was marked, before its rows went: the run again deletes and ends it
    delete = metric_store._delete_where
    with monkeypatch.context() as stopped:
        stopped.setattr(metric_store, "_delete_where",
                        lambda schema, column, value, begin: delete(schema, column, value,
                                                                    lambda rows: (begin(rows), _killed())))
        with pytest.raises(StoreError, match="killed"):
            metric_store.delete_where(ACCOUNTS, "account", "carol")
    assert provisional(metric_store.generation("accounts")) and metric_store.get(ACCOUNTS, ["carol"]) is not None
    assert metric_store.delete_where(ACCOUNTS, "account", "carol") == 1
    assert not provisional(metric_store.generation("accounts")) and metric_store.stored_metrics() == {"accounts": 3}


def test_settle_records_a_deletion_the_catalog_missed_and_leaves_an_agreeing_entry_alone(metric_store, monkeypatch):
    """An erasure by an older fediscope (which did not mark the generation provisional first) killed between deleting
    rows and recording them in the catalog left the count and the generation of before; the run again deletes
    nothing (no row is left to delete), so nothing recorded the change until ``settle``, given the rows it counted
    (fediscope.gdpr.erase.erase_store)."""
    metric_store.write(ACCOUNTS, ROWS)
    before = metric_store.generation("accounts")
    with monkeypatch.context() as stopped:
        stopped.setattr(metric_store, "_begin_change", lambda *_args: None)  # as an older fediscope deleted
        stopped.setattr(metric_store, "_commit", _killed)
        with pytest.raises(StoreError, match="killed"):
            metric_store.delete_where(ACCOUNTS, "account", "bob")
    assert metric_store.delete_where(ACCOUNTS, "account", "bob") == 0  # the run again: nothing left to delete
    assert (metric_store.stored_metrics(), metric_store.generation("accounts")) == ({"accounts": 5}, before)

    assert metric_store.settle(ACCOUNTS, len(metric_store.all(ACCOUNTS))) is True
    settled = metric_store.generation("accounts")
    assert metric_store.stored_metrics() == {"accounts": 4} and settled not in (None, before)
    assert metric_store.settle(ACCOUNTS, 4) is False  # agrees: the generation stays, for readers paging with it
    assert metric_store.generation("accounts") == settled
    assert metric_store.settle(metric("never_written", "account"), 0) is False


def test_settle_ends_a_provisional_generation_a_stopped_change_left(metric_store, monkeypatch):
    """A deletion by key (``write_changes``) stopped after its rows changed leaves a provisional generation with the
    right count: settled, it gets a generation of its own, so a reader that noted the provisional one is told."""
    metric_store.write(ACCOUNTS, ROWS)
    with monkeypatch.context() as stopped:
        stopped.setattr(metric_store, "_commit", _killed)
        with pytest.raises(StoreError, match="killed"):
            metric_store.write_changes(ACCOUNTS, [], [("bob",)], 4)
    during = metric_store.generation("accounts")
    assert metric_store.stored_metrics() == {"accounts": 4}
    assert metric_store.settle(ACCOUNTS, 4) is True
    assert metric_store.generation("accounts") not in (None, during)
    assert metric_store.settle(ACCOUNTS, 4) is False


def test_a_whole_result_with_exact_types_narrows_a_column_as_a_fresh_store_holds_it(metric_store):
    """``fediscope process`` writes a metric's whole result with ``exact_types``: a column its edited SQL now gives
    as integers (or booleans) takes that type, the rank column too, where a plain write keeps the wider stored type
    (``127.0``); the table rebuilt holds the result's types, as a fresh store does (a column all NULL: null)."""
    floats = [{"account": "a", "followers": 2.5, "rate": 1.5, "later": 0.5},
              {"account": "b", "followers": 1.5, "rate": 0.5, "later": 0.25}]
    metric_store.write(TYPED, floats, types={"account": "str", "followers": "float", "rate": "float", "later": "float"})
    ints = [{"account": "a", "followers": 2, "rate": True, "later": None},
            {"account": "b", "followers": 3, "rate": False, "later": None}]
    types = {"account": "str", "followers": "int", "rate": "bool", "later": "null"}
    metric_store.write(TYPED, [dict(r) for r in ints], types=types, exact_types=True)
    assert dict(metric_store._load_schema(TYPED.name).columns) == {"account": "str", "followers": "int",
                                                                    "rate": "bool", "later": "null"}
    assert [(r["account"], r["followers"], type(r["followers"]), r["rate"]) for r in metric_store.top(TYPED, 2)] == [
        ("b", 3, int, False), ("a", 2, int, True)]
