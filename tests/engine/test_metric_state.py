"""Incremental metric writes (fediscope.engine.metric_state): day-by-day runs that write only what changed must
leave every store exactly as a full computation into a fresh store leaves it."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from engine_data import raw_days, settings_for, stored_rows

from fediscope.config import load_settings
from fediscope.engine.metric_state import (
    SNAPSHOT_ROOT,
    UNUSED_DAYS,
    MetricSnapshots,
    diff,
    normalize_table,
    store_id,
)
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake
from fediscope.store.port import open_store

METRICS = load_metrics()


def test_day_by_day_changes_only_equal_a_full_computation(corpus_lake: Path, tmp_path: Path) -> None:
    incremental = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'incremental.db'}")
    days = raw_days(corpus_lake)
    first = run_process(incremental, until=days[-3], progress=False)
    assert all(m.stored == m.rows for m in first.metrics.values())  # nothing kept yet: every row written
    for day in days[-2:]:
        summary = run_process(incremental, since=day, until=day, progress=False)
        assert not summary.curate["noop"] and not summary.metrics_skipped
        engagement = summary.metrics["account_engagement"]
        # only the accounts that posted on that day (or whose snapshot moved) are written, not all of them
        assert 0 < engagement.stored < engagement.rows, engagement

    full = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'full.db'}")
    assert run_process(full, progress=False).metrics_skipped is False  # another store: its own snapshots
    assert stored_rows(incremental.store) == stored_rows(full.store)


def test_a_store_changed_by_someone_else_gets_a_full_comparison(corpus_lake: Path, tmp_path: Path) -> None:
    settings = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'm.db'}")
    days = raw_days(corpus_lake)
    run_process(settings, until=days[-2], progress=False)
    metric = METRICS["signups_by_month"]
    store = open_store(settings.store)
    try:
        oldest = min(row["month"] for row in store.all(metric))  # a month the last day cannot change
        assert store.delete_where(metric, "month", oldest) >= 1  # someone else writes: a new generation
    finally:
        store.close()
    run_process(settings, progress=False)  # the last day; a write of the differences only would not restore
    full = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'full.db'}")
    run_process(full, progress=False)
    assert stored_rows(settings.store) == stored_rows(full.store)


def test_a_full_comparison_counts_only_what_it_changed(corpus_lake: Path, tmp_path: Path) -> None:
    """The summary of a write through the store's own comparison (someone else changed the store) says what it
    wrote and deleted, as a write of the known difference does: not every row of the result."""
    settings = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'm.db'}")
    run_process(settings, progress=False)
    metric = METRICS["signups_by_month"]
    store = open_store(settings.store)
    try:
        rows = store.all(metric)
        assert store.delete_where(metric, "month", rows[0]["month"]) >= 1  # someone else: a row gone ...
        store.write(metric, [{**rows[0], "instance": "elsewhere.example", "month": "1999-01"}], replace=False)
        gone = len(rows) - len(store.all(metric)) + 1  # ... and one the result does not have
    finally:
        store.close()
    again = run_process(settings, progress=False)
    result = again.metrics["signups_by_month"]
    assert not result.reused and (result.stored, result.stale) == (gone, 1), result
    assert [n for n, m in again.metrics.items() if not m.reused] == ["signups_by_month"]
    assert f"({gone} written, 1 deleted)" in again.line()
    assert stored_rows(settings.store)["signups_by_month"] == rows


def test_a_changed_metric_sql_is_recomputed_without_new_data(corpus_lake: Path, tmp_path: Path) -> None:
    settings = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'm.db'}")
    run_process(settings, progress=False)
    languages = METRICS["languages"]
    select = "SELECT\n  language,\n"
    edited = dataclasses.replace(languages, sql=languages.sql.replace(select, select + "  1 AS version,\n"))
    assert edited.sql != languages.sql
    again = run_process(settings, progress=False, metrics={**METRICS, "languages": edited})
    assert again.curate["noop"] and not again.metrics_skipped
    assert [n for n, m in again.metrics.items() if not m.reused] == ["languages"]
    store = open_store(settings.store)
    try:
        assert all(row["version"] == 1 for row in store.all(edited))
    finally:
        store.close()
    assert run_process(settings, progress=False, metrics={**METRICS, "languages": edited}).metrics_skipped


def test_a_column_removed_from_a_metric_sql_leaves_the_store(corpus_lake: Path, tmp_path: Path) -> None:
    settings = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'm.db'}")
    languages = METRICS["languages"]
    select = "SELECT\n  language,\n"
    with_version = dataclasses.replace(languages, sql=languages.sql.replace(select, select + "  1 AS version,\n"))
    run_process(settings, progress=False, metrics={"languages": with_version})
    run_process(settings, progress=False, metrics={"languages": languages})  # the kept rows had the column
    store = open_store(settings.store)
    try:
        rows = store.all(languages)
        assert rows and all("version" not in row for row in rows)
        # a store holding a column the kept rows never had (written before they recorded their columns): the
        # known difference cannot drop it, so the write goes the full way
        store.write(languages, [dict(row, legacy=1) for row in rows])
        index = json.loads(LocalLake(corpus_lake).read(f"{SNAPSHOT_ROOT}/{_store_id(settings.store)}/index.json"))
        index["metrics"]["languages"]["store_generation"] = store.generation("languages")
        LocalLake(corpus_lake).write_atomic(f"{SNAPSHOT_ROOT}/{_store_id(settings.store)}/index.json",
                                            json.dumps(index).encode())
    finally:
        store.close()
    commented = dataclasses.replace(languages, sql=languages.sql + "\n-- edited\n")
    again = run_process(settings, progress=False, metrics={"languages": commented})
    assert again.metrics["languages"].stored == len(rows)  # every row written again, not an empty difference
    store = open_store(settings.store)
    try:
        assert store.all(languages) == rows
    finally:
        store.close()


def test_erasure_forgets_the_kept_results(corpus_lake: Path, tmp_path: Path) -> None:
    from fediscope.gdpr.erase import erase_account

    settings = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'm.db'}")
    run_process(settings, progress=False)
    lake = LocalLake(corpus_lake)
    assert any(not e.is_dir for e in lake.walk(SNAPSHOT_ROOT))
    account = "somebody@mastodon.example"  # the kept results go whichever account is erased
    report = erase_account(settings, account)
    assert report.other.get("metric_snapshots", 0) > 0
    assert not any(not e.is_dir for e in lake.walk(SNAPSHOT_ROOT))
    again = run_process(settings, progress=False)  # nothing new to curate, but every metric is recomputed
    assert not again.metrics_skipped and not any(m.reused for m in again.metrics.values())


def test_normalized_results_are_the_rows_run_metric_gives(corpus_lake: Path, duckdb_engine) -> None:
    engine = duckdb_engine()
    engine.curate()
    for name, metric in METRICS.items():
        assert engine.metric_table(metric).to_pylist() == engine.run_metric(metric), name


def test_normalize_table_gives_the_store_types() -> None:
    table = pa.table({
        "d0": pa.array([1, None], pa.decimal128(38, 0)),
        "d2": pa.array([1, 2], pa.decimal128(10, 2)),
        "i": pa.array([1, 2], pa.int32()),
        "f": pa.array([math.nan, -0.0], pa.float64()),
        "s": pa.array(["a", None], pa.large_string()),
        "dt": pa.array([date(2026, 1, 2), None], pa.date32()),
    })
    out = normalize_table(table)
    assert [f.type for f in out.schema] == [pa.int64(), pa.float64(), pa.int64(), pa.float64(), pa.string(),
                                            pa.string()]
    rows = out.to_pylist()
    assert rows[0] == {"d0": 1, "d2": 1.0, "i": 1, "f": None, "s": "a", "dt": "2026-01-02"}
    assert rows[1]["f"] == 0.0 and math.copysign(1, rows[1]["f"]) == 1 and rows[1]["d0"] is None


def test_diff_finds_new_changed_and_vanished_rows() -> None:
    old = pa.table({"k": ["a", "b", "c"], "v": [1, 2, None]})
    new = pa.table({"k": ["a", "b", "d", "c"], "v": [1, 3, 4, None]})
    delta = diff(new, old, ["k"])
    assert sorted(delta.changed, key=lambda r: r["k"]) == [{"k": "b", "v": 3}, {"k": "d", "v": 4}]
    assert delta.stale == []
    assert diff(old, new, ["k"]).stale == [("d",)]
    assert diff(pa.table({"k": ["a"], "w": [1]}), old, ["k"]) is None  # other columns: write everything


class _NoConnection:
    """A DuckDB connection that must not be used: any use fails the test."""

    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"DuckDB used for a small comparison ({name})")


def _canonical(delta) -> tuple:
    """A delta as a value independent of the order DuckDB gives rows in (EXCEPT has none)."""
    return (sorted(tuple(row.items()) for row in delta.changed), sorted(delta.stale), delta.types)


DIFF_CASES = {
    "changed, new and vanished": (
        pa.table({"k": ["a", "b", "d", "c", "é"], "v": [1, 3, 4, None, 7], "f": [0.5, None, 2.0, 1.0, 0.0],
                  "b": [True, False, None, True, False], "n": pa.nulls(5)}),
        pa.table({"k": ["a", "b", "c", "x", "e"], "v": [1, 2, None, 9, 7], "f": [0.5, None, 1.0, 3.0, 0.0],
                  "b": [True, False, True, None, False], "n": pa.nulls(5)})),
    "a NULL value equals a NULL value": (pa.table({"k": [1, 2], "v": pa.array([None, 1.5], pa.float64())}),
                                         pa.table({"k": [1, 2], "v": pa.array([None, 2.5], pa.float64())})),
    "two-column key": (pa.table({"a": ["x", "x", "y"], "b": [1, 2, 1], "v": ["p", "q", "r"]}),
                       pa.table({"a": ["x", "y", "y"], "b": [1, 1, 2], "v": ["p", "s", "t"]})),
    "nothing kept": (pa.table({"k": ["a", "b"], "v": [1, 2]}), pa.table({"k": pa.array([], pa.string()),
                                                                          "v": pa.array([], pa.int64())})),
    "nothing new": (pa.table({"k": pa.array([], pa.string()), "v": pa.array([], pa.int64())}),
                    pa.table({"k": ["a", "b"], "v": [1, 2]})),
    "the same rows": (pa.table({"k": ["a", "b"], "v": [1, 2]}), pa.table({"k": ["b", "a"], "v": [2, 1]})),
}


@pytest.mark.parametrize("case", list(DIFF_CASES))
def test_a_small_diff_is_made_in_python_and_is_the_one_duckdb_makes(case: str) -> None:
    """Small results (most metrics) are compared without DuckDB, whose registrations and two EXCEPT queries cost
    5-10 ms a metric whatever the size: the delta, and the store types of its rows, are those DuckDB gives."""
    new, old = DIFF_CASES[case]
    key = ["a", "b"] if case == "two-column key" else ["k"]
    in_python = diff(new, old, key, _NoConnection())
    assert _canonical(in_python) == _canonical(diff(new, old, key, python_rows=0))
    assert [row for row in new.to_pylist() if row in in_python.changed] == in_python.changed  # in new's order


def test_a_large_diff_is_made_in_duckdb() -> None:
    new = pa.table({"k": [str(i) for i in range(3)], "v": [1, 2, 3]})
    with pytest.raises(AssertionError, match="DuckDB used"):
        diff(new, new, ["k"], _NoConnection(), python_rows=5)


def test_day_by_day_changes_compared_in_python_or_duckdb_store_the_same_rows(
        corpus_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The incremental runs leave the store row for row as they leave it when every result is compared in
    DuckDB."""
    from fediscope.engine import metric_state

    days = raw_days(corpus_lake)
    stores = {}
    for name, limit in (("python", 10**9), ("duckdb", 0)):
        monkeypatch.setattr(metric_state, "PYTHON_DIFF_ROWS", limit)
        lake = tmp_path / f"lake-{name}"
        shutil.copytree(corpus_lake, lake)
        settings = settings_for(lake, store=f"sqlite:///{tmp_path / name}.db")
        run_process(settings, until=days[-3], progress=False)
        for day in days[-2:]:
            summary = run_process(settings, since=day, until=day, progress=False)
            assert not summary.metrics_skipped and any(m.stored for m in summary.metrics.values())
        stores[name] = stored_rows(settings.store)
    assert stores["python"] == stores["duckdb"]


@pytest.mark.parametrize(("column", "values"), [("v", pa.array([1.0, 3.0, None])), ("v", pa.array([True, False, None])),
                                                ("k", pa.array([1, 2, 3]))])
def test_diff_of_a_column_whose_type_changed_writes_everything(column: str, values: pa.Array) -> None:
    """Was: EXCEPT unified the types (1 = 1.0, true = 1, '1' = 1), so a metric whose SQL changed a column's type
    had no row to write and the store kept the old type."""
    old = pa.table({"k": ["1", "2", "3"], "v": [1, 3, None]})
    assert diff(old.set_column(old.schema.get_field_index(column), column, values), old, ["k"]) is None


def test_rows_without_an_arrow_path_refuse_an_integer_wider_than_64_bits() -> None:
    """Was: an OverflowError traceback (Spark's rows of a result Arrow cannot take directly)."""
    from fediscope.engine.base import rows_table
    from fediscope.errors import MetricFileError

    with pytest.raises(MetricFileError, match="^column 'n' has the integer 18446744073709551616, wider than the 64 "):
        rows_table([{"k": "a", "n": 1}, {"k": "b", "n": 2**64}])
    assert rows_table([{"k": "a", "n": 2**63 - 1}]).column("n").to_pylist() == [2**63 - 1]


def test_timestamps_with_a_time_zone_are_stored_as_their_utc_time_and_years_past_9999_refused() -> None:
    """DuckDB's own results: a TIMESTAMPTZ column was stored as ``2024-01-01 08:00:00+00:00`` (Spark's, and every
    other timestamp, without the offset), and a timestamp or date after the year 9999 (or before the year 1) failed
    with a Python ``OverflowError`` while its rows were stored."""
    import duckdb

    from fediscope.engine.base import plain
    from fediscope.engine.metric_state import normalize_table
    from fediscope.errors import MetricFileError

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    zoned = con.sql("SELECT TIMESTAMPTZ '2024-01-01 10:00:00+02' AS t, TIMESTAMP '9999-12-31 23:59:59.999999' AS "
                    "last, DATE '0001-01-01' AS first, TIMESTAMP_MS '2024-01-01 00:00:00.5' AS ms").to_arrow_table()
    assert normalize_table(zoned).to_pylist() == [
        {"t": "2024-01-01 08:00:00", "last": "9999-12-31 23:59:59.999999", "first": "0001-01-01",
         "ms": "2024-01-01 00:00:00.500000"}]
    (row,) = con.sql("SELECT TIMESTAMPTZ '2024-01-01 10:00:00+02' AS t").fetchall()  # the rows' path (run_metric)
    assert plain(row[0]) == "2024-01-01 08:00:00"
    for sql, column in (("SELECT to_timestamp(253402300800) AS t", "'t' holds timestamps"),
                        ("SELECT DATE '10000-01-01' AS d", "'d' holds dates"),
                        ("SELECT CAST(to_timestamp(-62135596801) AS TIMESTAMP) AS b", "'b' holds timestamps")):
        with pytest.raises(MetricFileError, match=f"^column {column} outside the years 1 to 9999, which no store "):
            normalize_table(con.sql(sql).to_arrow_table())


def test_an_unreadable_index_means_a_full_comparison(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_atomic(f"{SNAPSHOT_ROOT}/s/index.json", b"{not json")
    snapshots = MetricSnapshots(lake, "s")
    assert snapshots.entry("languages") is None and snapshots.table("languages") is None


@pytest.mark.parametrize("name", ["account_engagement"])
def test_snapshots_are_per_store(corpus_lake: Path, tmp_path: Path, name: str) -> None:
    one = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'one.db'}")
    two = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'two.db'}")
    run_process(one, progress=False)
    second = run_process(two, progress=False)
    assert second.metrics[name].stored == second.metrics[name].rows and not second.metrics[name].reused
    assert len({e.path.split("/")[2] for e in LocalLake(corpus_lake).walk(SNAPSHOT_ROOT) if not e.is_dir}) == 2


def _age_index(lake: LocalLake, store: str, days: float | None) -> None:
    """Make a store's index say it was last written ``days`` ago (None: say nothing, as older indexes)."""
    path = f"{SNAPSHOT_ROOT}/{store}/index.json"
    index = json.loads(lake.read(path))
    if days is None:
        index.pop("written_at")
    else:
        index["written_at"] = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    lake.write_atomic(path, json.dumps(index).encode())


def _store_id(url: str) -> str:
    """The snapshot directory of a store, as a run names it (the HBase table prefix is part of the id)."""
    return store_id(url, load_settings(env={}, toml_path=None).hbase_table_prefix)


def _snapshot_stores(lake: LocalLake) -> set[str]:
    return {e.path.split("/")[2] for e in lake.walk(SNAPSHOT_ROOT)}


def test_snapshots_of_a_store_unused_for_a_month_are_deleted(corpus_lake: Path, tmp_path: Path) -> None:
    lake = LocalLake(corpus_lake)
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("old", "recent", "legacy", "current")}
    ids = {name: _store_id(url) for name, url in urls.items()}
    for name in ("old", "recent", "legacy"):
        run_process(settings_for(corpus_lake, store=urls[name]), progress=False)
    assert _snapshot_stores(lake) == {ids["old"], ids["recent"], ids["legacy"]}
    index = json.loads(lake.read(f"{SNAPSHOT_ROOT}/{ids['old']}/index.json"))
    assert index["store"] == urls["old"] and index["written_at"].endswith("Z")
    _age_index(lake, ids["old"], UNUSED_DAYS + 1)
    _age_index(lake, ids["recent"], UNUSED_DAYS - 1)
    _age_index(lake, ids["legacy"], None)

    run_process(settings_for(corpus_lake, store=urls["current"]), progress=False)
    assert _snapshot_stores(lake) == {ids["recent"], ids["legacy"], ids["current"]}
    # the store whose snapshots were deleted is compared in full on its next run, and stays right
    again = run_process(settings_for(corpus_lake, store=urls["old"]), progress=False)
    assert not any(m.reused for m in again.metrics.values())
    assert stored_rows(urls["old"]) == stored_rows(urls["current"])


def test_a_run_with_nothing_to_recompute_still_deletes_unused_snapshots(corpus_lake: Path, tmp_path: Path) -> None:
    lake = LocalLake(corpus_lake)
    one, two = f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
    run_process(settings_for(corpus_lake, store=one), progress=False)
    run_process(settings_for(corpus_lake, store=two), progress=False)
    _age_index(lake, _store_id(one), UNUSED_DAYS + 1)
    _age_index(lake, _store_id(two), UNUSED_DAYS + 1)
    assert run_process(settings_for(corpus_lake, store=two), progress=False).metrics_skipped
    assert _snapshot_stores(lake) == {_store_id(two)}
    # the run for store two, though it recomputed nothing, marked two's snapshots as used now
    assert run_process(settings_for(corpus_lake, store=one), progress=False).metrics_skipped is False
    assert _snapshot_stores(lake) == {_store_id(one), _store_id(two)}
