"""Whole reads of a metric of one page on HBase (``fs.metric_rows``, the report's other-metrics tables, ``fediscope
store export``) while ``fediscope process`` writes it again. On SQLite and MariaDB a page is one query, one
snapshot; on HBase it is a scan (of the rank index, then a ``getRows`` of the data rows it names; of the data table
in key order) and no snapshot, so a write landing during it gave rows of neither write: the metric's generation
was compared after each page but the first (:func:`fediscope.analysis._pages`), so a read of one page was never
checked. Here the write lands on the Thrift double right after the reader's scanner is opened on the metric's
tables, by a second store (its own connections, as another process's ``fediscope process``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_run import clean_env, run
from doubles.hbase_scans import write_during_scans
from doubles.hbase_thrift_server import HBaseThriftDouble
from metric_header import metric

from fediscope import analysis
from fediscope import python_api as fs
from fediscope.errors import StoreError
from fediscope.store.hbase import HBaseStore

FOLLOWERS = metric("followers", "account", rank="followers DESC")
OLD = [{"account": f"a{i}", "followers": 100 - i} for i in range(7)]  # a0 … a6
# a3 moves to the top, a7 comes in: a read that mixes the two drops both
NEW = [dict(row, followers=1000) if row["account"] == "a3" else row for row in OLD] + [
    {"account": "a7", "followers": 50}]
DAILY = metric("daily", "day, tag", prefix="day")
DAY = "2026-11-01"
DAILY_OLD = [{"day": DAY, "tag": f"t{i}", "uses": i} for i in range(5)]
DAILY_NEW = [dict(row, uses=row["uses"] + 10) for row in DAILY_OLD] + [{"day": DAY, "tag": "t9", "uses": 9}]


def by_rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: (-row["followers"], row["account"]))


@pytest.fixture
def writer(hbase_double: HBaseThriftDouble, prefix: str) -> Iterator[HBaseStore]:
    """A store of its own on the reader's tables: another process's ``fediscope process``."""
    store = HBaseStore(hbase_double.url, table_prefix=prefix)
    yield store
    store.close()


@pytest.fixture
def settings(hbase_double: HBaseThriftDouble, prefix: str) -> Any:
    return fs.settings(store=hbase_double.url, hbase_table_prefix=prefix)


def test_a_write_landing_during_a_one_page_read_in_rank_order_is_read_again_whole(
        hbase_double, prefix, writer, settings, monkeypatch):  # noqa: ANN001
    """Was: a0, a1, a2, a4, a5, a6 (a3's old rank entry gone, its new one and a7's not in the scan): neither the 7
    rows of before nor the 8 of after, and no error."""
    writer.write(FOLLOWERS, OLD)
    written = write_during_scans(hbase_double, monkeypatch, prefix, "followers",
                                 [lambda: writer.write(FOLLOWERS, NEW)])
    assert fs.metric_rows(settings, "followers") == by_rank(NEW)
    assert written == [0]  # the write did land during the (first) read


def test_a_write_landing_during_a_one_page_read_of_a_prefix_is_read_again_whole(
        hbase_double, prefix, writer, settings, monkeypatch):  # noqa: ANN001
    """Was: t0 … t4 with their new uses, without t9 (not in the scan): neither write's rows."""
    writer.write(DAILY, DAILY_OLD)
    written = write_during_scans(hbase_double, monkeypatch, prefix, "daily", [lambda: writer.write(DAILY, DAILY_NEW)])
    assert fs.metric_rows(settings, "daily", prefix=DAY) == DAILY_NEW
    assert written == [0]


def test_a_one_page_read_written_during_each_try_fails_saying_to_read_it_again(
        hbase_double, prefix, writer, settings, monkeypatch):  # noqa: ANN001
    """Written again during each of its reads, a whole read gives up after :data:`~fediscope.analysis.READ_ATTEMPTS`
    as a read of many pages does. Was: the rows of the first read, mixed, and no error."""
    writer.write(FOLLOWERS, OLD)

    writes = [lambda more=more: writer.write(FOLLOWERS, [dict(row, followers=row["followers"] + more) for row in NEW])
              for more in range(1, analysis.READ_ATTEMPTS + 2)]  # one more than the tries: the last is not made
    written = write_during_scans(hbase_double, monkeypatch, prefix, "followers", writes)
    with pytest.raises(StoreError) as raised:
        fs.metric_rows(settings, "followers")
    assert isinstance(raised.value, analysis.MetricChangedError)
    assert str(raised.value) == ("metric followers was written again (fediscope process) while its rows were read, so "
                                 "they would mix two writes: read it again once the write is done")
    assert written == list(range(analysis.READ_ATTEMPTS))


def test_an_export_written_between_its_column_types_and_its_rows_fails(
        hbase_double, prefix, writer, tmp_path: Path, monkeypatch, capsys):  # noqa: ANN001
    """The export notes the generation before it reads the metric's definition and column types (its CSV header),
    and the page walk compares that one after every page: a write in between fails it, leaving ``--out`` as it
    was. (A guard for the walk taking the export's generation: the export compared it itself before.)"""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=hbase_double.url, FEDISCOPE_HBASE_TABLE_PREFIX=prefix)
    writer.write(FOLLOWERS, OLD)
    column_types, written = HBaseStore.column_types, []

    def then_a_write(self: HBaseStore, name: str) -> dict[str, str]:
        types = column_types(self, name)
        if self is not writer and not written:
            written.append(True)
            writer.write(FOLLOWERS, [dict(row, note="new column") for row in NEW])
        return types

    monkeypatch.setattr(HBaseStore, "column_types", then_a_write)
    out = tmp_path / "followers.csv"
    out.write_text("an earlier export\n")
    code, printed, err = run(capsys, "store", "export", "followers", "--out", str(out))
    assert written and (code, printed) == (1, "")
    assert err.startswith("fediscope: error: metric followers was written again (fediscope process) while its rows "
                          "were read, so they would mix two writes")
    assert out.read_text() == "an earlier export\n"
