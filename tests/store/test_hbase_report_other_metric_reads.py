"""The report's other metrics (a stored metric no analysis reads: :func:`~fediscope.analysis.other_metrics`, its
first ``--top`` rows) on HBase while ``fediscope process`` writes the metric again. An HBase read is a scan, no
snapshot: a write landing during it gives rows of neither write. The first rows were checked by the metric's
generation only when there were ``--top`` of them or more: fewer (the metric's every row, the usual case of a small
metric) were returned unchecked. The write lands on the Thrift double right after the reader's scanner is opened on
the metric's tables, by a store of its own (another process's ``fediscope process``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from doubles.hbase_scans import write_during_scans
from doubles.hbase_thrift_server import HBaseThriftDouble
from metric_header import metric as own_metric

from fediscope.analysis import READ_ATTEMPTS, other_metrics
from fediscope.store.hbase import HBaseStore

FOLLOWERS = own_metric("followers", "account", rank="followers DESC")


@pytest.fixture
def writer(hbase_double: HBaseThriftDouble, prefix: str) -> Iterator[HBaseStore]:
    """A store of its own on the reader's tables: another process's ``fediscope process``."""
    store = HBaseStore(hbase_double.url, table_prefix=prefix)
    yield store
    store.close()


def accounts(moved: bool = False, more: int = 0, note: Any = None) -> list[dict[str, Any]]:
    """a0 … a6, followers 100 down to 94 (+ ``more``); ``moved``: a3 goes to the top and a7 comes in, so a scan of
    the rank index that mixes the two writes misses both."""
    rows = [{"account": f"a{i}", "followers": 100 - i + more, "note": i if note is None else note}
            for i in range(7)]
    if moved:
        rows[3]["followers"] = 1000 + more
        rows.append({"account": "a7", "followers": 50 + more, "note": 7 if note is None else note})
    return rows


def by_rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-r["followers"], r["account"]))


def shown(store: HBaseStore, top: int = 10) -> Any:
    (followers,) = other_metrics(store, store.stored_metrics(), top)
    return followers


def test_fewer_rows_than_the_top_written_during_their_read_are_read_again(
        hbase_double, prefix, store, writer, monkeypatch):  # noqa: ANN001
    """Was: a0, a1, a2, a4, a5, a6 (a3's old rank entry gone, its new one and a7's not in the scan), 6 rows of 8
    shown as the metric's every row, and no sign of it."""
    writer.write(FOLLOWERS, accounts())
    new = accounts(moved=True)
    written = write_during_scans(hbase_double, monkeypatch, prefix, "followers",
                                 [lambda: writer.write(FOLLOWERS, new)])
    followers = shown(store)
    assert written == [0]  # the write did land during the (first) read
    assert followers.error is None
    assert followers.rows == by_rank(new) and followers.total_rows == len(new)


def test_the_top_rows_failing_on_rows_of_neither_write_are_read_again_not_called_stale(
        hbase_double, prefix, store, writer, monkeypatch):  # noqa: ANN001
    """The write changes a column's type (note to text): the reader, holding the column types of before, cannot read
    the rows of after as them. Was: not shown, "re-run `fediscope process` to store it again", for a metric each
    write of which reads fine."""
    writer.write(FOLLOWERS, accounts())
    new = accounts(moved=True, note="text now")
    written = write_during_scans(hbase_double, monkeypatch, prefix, "followers",
                                 [lambda: writer.write(FOLLOWERS, new)])
    followers = shown(store, top=3)
    assert written == [0]
    assert followers.error is None
    assert followers.rows == by_rank(new)[:3] and followers.total_rows == len(new)


def test_rows_written_during_each_read_are_not_shown_saying_to_read_them_again(
        hbase_double, prefix, store, writer, monkeypatch):  # noqa: ANN001
    """Written again during each of its reads, it gives up after ``READ_ATTEMPTS``, as a whole read does, and the
    report goes on with the others. Was: the first read's mixed rows, as the metric's every row."""
    writer.write(FOLLOWERS, accounts())
    writes = [lambda more=more: writer.write(FOLLOWERS, accounts(moved=True, more=more))
              for more in range(1, READ_ATTEMPTS + 2)]  # one more than the tries: the last is not made
    written = write_during_scans(hbase_double, monkeypatch, prefix, "followers", writes)
    followers = shown(store)
    assert written == list(range(READ_ATTEMPTS))
    assert followers.rows == [] and followers.error == (
        "metric followers was written again (fediscope process) while its rows were read, so they would mix two "
        "writes: read it again once the write is done")
