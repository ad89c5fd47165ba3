"""``fediscope.python_api.metric_rows(settings, name, prefix=VALUE)``: one prefix value's rows (one account, one
day), read as ``fediscope store export --prefix`` and the results API's ``?prefix=`` read them: through the store
port's ``scan_prefix``, the value as the prefix column's type (``fediscope.store.port.prefix_value``), a page at a
time from one write of the metric (read again when a write overtakes it), a warning naming the prefix column when
no row holds the value, and a one-line ConfigError for a value the column cannot hold.

Was: ``metric_rows`` had no ``prefix``: a researcher read every row and filtered them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from fediscope import analysis
from fediscope import python_api as fs
from fediscope.engine.metrics import Metric, parse_metric
from fediscope.errors import ConfigError
from fediscope.store.port import MetricStore, open_store
from fediscope.store.sqlite import SQLiteStore

ROWS = [{"tag": tag, "day": day, "uses": uses}
        for tag, day, uses in [("a", "2024-01-01", 5), ("b", "2024-01-01", 9), ("c", "2024-01-02", 5),
                               ("d", "2024-01-02", None), ("e", "2024-01-03", 1), ("f", "2024-01-02", 9),
                               ("g", "2024-01-04", 2)]]
#: a metric of one's own, no SQL file: read by the key, rank and prefix (its first key column) the store recorded
DAY_USES = parse_metric("day_uses", "-- question: q?\n-- key: day, tag\n-- rank: uses DESC\nSELECT 1")
BY_HOUR = parse_metric("by_hour", "-- question: h?\n-- key: hour, tag\nSELECT 1")
HOURS = [{"hour": hour, "tag": tag, "toots": toots} for hour, tag, toots in [(3, "x", 1), (2, "y", 2), (3, "a", 3),
                                                                             (12, "z", 4)]]
ON_2024_01_02 = [ROWS[2], ROWS[3], ROWS[5]]  # c, d, f: in key order, not by rank


def _settings(store: MetricStore) -> Any:
    extra = {"hbase_table_prefix": store.prefix} if store.url.startswith("hbase://") else {}  # type: ignore[attr-defined]
    return fs.settings(store=store.url, **extra)


@pytest.fixture
def holding(metric_store: MetricStore, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings pointed at ``metric_store`` (every kind) holding ``day_uses`` and ``by_hour``, read 2 rows a page."""
    monkeypatch.setattr(analysis, "PAGE_ROWS", 2)
    metric_store.write(DAY_USES, ROWS)
    metric_store.write(BY_HOUR, HOURS)
    return _settings(metric_store)


def test_every_store_gives_one_prefix_values_rows_in_key_order(holding: Any) -> None:
    assert fs.metric_rows(holding, "day_uses", prefix="2024-01-02") == ON_2024_01_02  # 3 rows: two pages of 2
    assert fs.metric_rows(holding, "day_uses", prefix=date(2024, 1, 2)) == ON_2024_01_02  # a day column's text
    assert fs.metric_rows(holding, "day_uses", limit=2, prefix="2024-01-02") == ON_2024_01_02[:2]
    assert fs.metric_rows(holding, "day_uses", 5, prefix="2024-01-02") == ON_2024_01_02
    # an integer prefix column: a number, or its text as --prefix takes it
    assert fs.metric_rows(holding, "by_hour", prefix=3) == [HOURS[2], HOURS[0]]
    assert fs.metric_rows(holding, "by_hour", prefix="3") == [HOURS[2], HOURS[0]]
    assert fs.metric_rows(holding, "by_hour", prefix=12) == [HOURS[3]]


def test_a_whole_float_selects_an_integer_prefix_column(holding: Any) -> None:
    """pandas gives a column of integers holding a NaN (or divided) as floats: ``3.0`` is hour 3, as ``3`` is.
    Was: a ConfigError saying to write the number as JSON writes it (``'3.0'``)."""
    np = pytest.importorskip("numpy")
    assert fs.metric_rows(holding, "by_hour", prefix=3.0) == [HOURS[2], HOURS[0]]
    assert fs.metric_rows(holding, "by_hour", prefix=np.float64(12.0), limit=1) == [HOURS[3]]
    assert fs.metric_rows(holding, "by_hour", prefix=-0.0) == []  # hour 0: no row, not a refusal


def test_a_prefix_matching_no_row_is_no_row_and_a_warning_naming_the_prefix_column(
        holding: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A tag given to a metric whose prefix column is its day (as ``hashtags_daily``'s is): as ``store export``
    warns, the warning says which column ``prefix`` selects by, and how to select by the other key column."""
    caplog.set_level(logging.WARNING, logger="fediscope")
    assert fs.metric_rows(holding, "day_uses", prefix="a") == []
    assert fs.metric_rows(holding, "by_hour", prefix=7, limit=3) == []
    assert [(r.name, r.levelno, r.getMessage(), r.prefix_column) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("fediscope.python_api", logging.WARNING,
         "no row of day_uses has day = 'a' (the 'prefix' argument selects by the metric's prefix column, day; to "
         "select by tag, read every row (without prefix) and filter them)", "day"),
        ("fediscope.python_api", logging.WARNING,
         "no row of by_hour has hour = '7' (the 'prefix' argument selects by the metric's prefix column, hour; to "
         "select by tag, read every row (without prefix) and filter them)", "hour")]
    caplog.clear()
    assert fs.metric_rows(holding, "day_uses", prefix="2024-01-03") == [ROWS[4]]  # a row: no warning
    assert caplog.records == []


@pytest.mark.parametrize(("prefix", "wrong"), [
    ("03", "prefix must be a number for metric by_hour (its prefix column hour holds numbers, written as JSON writes "
           "them, without spaces or leading zeros; got '03')"),
    (3.5, "prefix must be a number for metric by_hour (its prefix column hour holds numbers, written as JSON writes "
          "them, without spaces or leading zeros; got '3.5')"),
    (2**63, "prefix must be a number for metric by_hour (its prefix column hour holds numbers, written as JSON writes "
            "them, without spaces or leading zeros; got '9223372036854775808')"),
    (float("nan"), "prefix must be a finite number (got nan)"),
    (datetime(2024, 1, 2, 3), "prefix must be text, a number, true or false, or a date (got datetime "
                              "datetime.datetime(2024, 1, 2, 3, 0))"),
    ([3], "prefix must be text, a number, true or false, or a date (got list [3])"),
])
def test_a_prefix_its_column_cannot_hold_is_a_one_line_config_error(tmp_path: Path, prefix: Any, wrong: str) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    try:
        store.write(BY_HOUR, HOURS)
    finally:
        store.close()
    with pytest.raises(ConfigError) as raised:
        fs.metric_rows(fs.settings(store=f"sqlite:///{tmp_path / 'metrics.db'}"), "by_hour", prefix=prefix)
    assert str(raised.value) == wrong


# -- read while the metric is written ---------------------------------------------------------------------------------

OLD = [{"day": day, "tag": f"t{i}", "uses": i} for i, day in enumerate(["2024-01-01"] * 5 + ["2024-01-02"])]
NEW = [{"day": "2024-01-01", "tag": f"u{i}", "uses": 10 + i} for i in range(5)]  # other tags that day


@pytest.fixture
def written_after_first_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[int]]]:
    """A SQLite store holding OLD, read 2 rows a page, written again (NEW) by a store of its own (as another
    process's ``fediscope process``) right after the first page of a prefix read; yields its URL and the pages."""
    monkeypatch.setattr(analysis, "PAGE_ROWS", 2)
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    _write(url, OLD)
    pages: list[int] = []
    scan_prefix = SQLiteStore.scan_prefix

    def scan_then_write(self: SQLiteStore, metric: Metric, prefix: Any, limit: int | None = None,
                        after: Any = None) -> list[dict[str, Any]]:
        rows = scan_prefix(self, metric, prefix, limit, after=after)
        pages.append(len(rows))
        if len(pages) == 1:
            _write(url, NEW)
        return rows

    monkeypatch.setattr(SQLiteStore, "scan_prefix", scan_then_write)
    yield url, pages


def _write(url: str, rows: list[dict[str, Any]]) -> None:
    writer = open_store(url)
    try:
        writer.write(DAY_USES, rows)
    finally:
        writer.close()


def test_a_prefix_read_overtaken_by_a_write_is_read_again_and_gives_the_new_rows_whole(
        written_after_first_page: tuple[str, list[int]]) -> None:
    url, pages = written_after_first_page
    rows = fs.metric_rows(fs.settings(store=url), "day_uses", prefix="2024-01-01")
    assert rows == NEW  # not t0 and t1 of OLD, then the rows of NEW after t1 in key order: a mix of two writes
    # the first page (the generation compared after it is the write's) is refused, then the whole read again: 2,
    # then 2 + 2 + 1 rows
    assert pages == [2, 2, 2, 1]


def test_a_numpy_or_pandas_scalar_is_taken_as_the_python_value_it_holds(tmp_path: Path) -> None:
    """A value taken from a DataFrame's column (``for hour in frame.hour: …``) is numpy's, not Python's. Was: ``prefix
    must be text, a number, true or false, or a date (got int64 np.int64(3))``, though it is a number."""
    numpy = pytest.importorskip("numpy")
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    store = open_store(url)
    try:
        store.write(BY_HOUR, HOURS)
        store.write(DAY_USES, ROWS)
    finally:
        store.close()
    settings = fs.settings(store=url)
    for hour in (numpy.int64(3), numpy.int32(3), numpy.uint8(3)):
        assert fs.metric_rows(settings, "by_hour", prefix=hour) == [HOURS[2], HOURS[0]]
    assert fs.metric_rows(settings, "day_uses", prefix=numpy.str_("2024-01-02")) == ON_2024_01_02
    assert fs.metric_rows(settings, "day_uses", prefix=numpy.datetime64("2024-01-02")) == ON_2024_01_02
    with pytest.raises(ConfigError) as raised:  # as the float 3.5 is
        fs.metric_rows(settings, "by_hour", prefix=numpy.float64(3.5))
    assert "got '3.5'" in str(raised.value)
    with pytest.raises(ConfigError, match=r"^prefix must be text, a number, true or false, or a date \(got ndarray "):
        fs.metric_rows(settings, "by_hour", prefix=numpy.array([3]))
