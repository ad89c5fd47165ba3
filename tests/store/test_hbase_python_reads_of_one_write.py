"""``fs.analysis`` and ``fs.metric_rows(limit=N)`` (with and without ``prefix``) on HBase while ``fediscope process``
writes the metric again. Each is one read (an analysis' ``top``, one page), and an HBase read is a scan, no
snapshot: a write landing during it gave rows of neither write, and neither call compared the metric's generation
(``fs.analyses`` reads through :func:`~fediscope.analysis.read_one_state`, a whole ``fs.metric_rows`` page by page).
They are read as the results API reads an analysis now (:func:`~fediscope.analysis.read_of_one_write`). Here the
write lands on the Thrift double right after the reader's scanner is opened on the metric's tables, by a store of
its own (another process's ``fediscope process``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from doubles.hbase_scans import DAILY, DAY, FOLLOWERS, accounts, keys_by_rank, tags, write_during_scans
from doubles.hbase_thrift_server import HBaseThriftDouble
from metric_header import metric as own_metric

from fediscope import analysis
from fediscope import python_api as fs
from fediscope.analysis import READ_ATTEMPTS, metric
from fediscope.errors import StoreError
from fediscope.store.hbase import HBaseStore


@pytest.fixture
def writer(hbase_double: HBaseThriftDouble, prefix: str) -> Iterator[HBaseStore]:
    """A store of its own on the reader's tables: another process's ``fediscope process``."""
    store = HBaseStore(hbase_double.url, table_prefix=prefix)
    yield store
    store.close()


@pytest.fixture
def settings(hbase_double: HBaseThriftDouble, prefix: str) -> Any:
    return fs.settings(store=hbase_double.url, hbase_table_prefix=prefix)


def test_an_analysis_written_during_its_read_is_read_again_whole(
        hbase_double, prefix, writer, settings, sample_metric_rows, monkeypatch):  # noqa: ANN001
    """Was: acct0, acct1, acct2, acct4, acct5, acct6 ranked 1 to 6 (acct3's old rank entry gone, its new one and
    acct7's not in the scan): neither the 7 accounts of before nor the 8 of after, and no sign of it."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    new = accounts(sample, moved=True)
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS,
                                 [lambda: writer.write(metric(FOLLOWERS), new)])
    result = fs.analysis(settings, "top_accounts")
    assert written == [0]  # the write did land during the (first) read
    assert [row["account_key"] for row in result.rows] == keys_by_rank(new)
    assert [row["ranking"] for row in result.rows] == list(range(1, 9))


def test_an_analysis_written_during_each_read_fails_saying_to_read_it_again(
        hbase_double, prefix, writer, settings, sample_metric_rows, monkeypatch):  # noqa: ANN001
    """Written again during each of its reads, it gives up after ``READ_ATTEMPTS``, as a whole read of a metric does
    (the same error and advice). Was: the first read's mixed rows, as the analysis."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    writes = [lambda more=more: writer.write(metric(FOLLOWERS), accounts(sample, moved=True, more=more))
              for more in range(1, READ_ATTEMPTS + 2)]  # one more than the tries: the last is not made
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS, writes)
    with pytest.raises(StoreError) as raised:
        fs.analysis(settings, "top_accounts")
    assert isinstance(raised.value, analysis.MetricChangedError)
    assert str(raised.value) == (f"metric {FOLLOWERS} was written again (fediscope process) while its rows were "
                                 "read, so they would mix two writes: read it again once the write is done")
    assert written == list(range(READ_ATTEMPTS))
    # the write done, the same call is answered
    assert [row["account_key"] for row in fs.analysis(settings, "top_accounts").rows] \
        == keys_by_rank(accounts(sample, moved=True, more=READ_ATTEMPTS))


def test_an_analysis_failing_on_rows_of_neither_write_is_read_again_not_called_stale(
        hbase_double, prefix, writer, settings, sample_metric_rows, monkeypatch):  # noqa: ANN001
    """The write changes a column's type (following_count to text): the reader, holding the column types of before,
    cannot read the rows of after as them. Was: that ValueError raised as is, for a metric each write of which
    reads fine; it is a read overtaken by the write, read again."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    new = [dict(row, following_count=f"about {row['following_count']}") for row in accounts(sample, moved=True)]
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS,
                                 [lambda: writer.write(metric(FOLLOWERS), new)])
    result = fs.analysis(settings, "top_accounts")
    assert written == [0]
    following = {row["account_key"]: row["following_count"] for row in new}
    assert [(row["account_key"], row["following_count"]) for row in result.rows] \
        == [(key, following[key]) for key in keys_by_rank(new)]


def test_the_first_rows_written_during_their_read_are_read_again(
        hbase_double, prefix, writer, settings, sample_metric_rows, monkeypatch):  # noqa: ANN001
    """``limit=N``: one ``top`` read. Was: acct3 and acct7 missing, as with the analysis."""
    sample = sample_metric_rows[FOLLOWERS]
    writer.write(metric(FOLLOWERS), accounts(sample))
    new = accounts(sample, moved=True)
    written = write_during_scans(hbase_double, monkeypatch, prefix, FOLLOWERS,
                                 [lambda: writer.write(metric(FOLLOWERS), new)])
    rows = fs.metric_rows(settings, FOLLOWERS, limit=10)
    assert written == [0]
    assert [row["account_key"] for row in rows] == keys_by_rank(new)


def test_the_first_rows_of_a_prefix_written_during_their_read_are_read_again(
        hbase_double, prefix, writer, settings, sample_metric_rows, monkeypatch):  # noqa: ANN001
    """``limit=N`` with ``prefix``: one ``scan_prefix`` read. Was: t0 … t4 with their new counts, without t9."""
    sample = sample_metric_rows[DAILY]
    writer.write(metric(DAILY), tags(sample))
    new = tags(sample, moved=True)
    written = write_during_scans(hbase_double, monkeypatch, prefix, DAILY, [lambda: writer.write(metric(DAILY), new)])
    rows = fs.metric_rows(settings, DAILY, limit=10, prefix=DAY)
    assert written == [0]
    assert [(row["tag"], row["toots"]) for row in rows] == [(row["tag"], row["toots"]) for row in new]


def test_the_first_rows_written_during_each_read_fail_saying_to_read_them_again(
        hbase_double, prefix, writer, settings, sample_metric_rows, monkeypatch):  # noqa: ANN001
    sample = sample_metric_rows[DAILY]
    writer.write(metric(DAILY), tags(sample))
    writes = [lambda more=more: writer.write(metric(DAILY), [dict(row, toots=row["toots"] + more)
                                                             for row in tags(sample, moved=True)])
              for more in range(1, READ_ATTEMPTS + 2)]
    written = write_during_scans(hbase_double, monkeypatch, prefix, DAILY, writes)
    with pytest.raises(analysis.MetricChangedError, match=f"^metric {DAILY} was written again .* read it again once "
                                                         "the write is done$"):
        fs.metric_rows(settings, DAILY, limit=3, prefix=DAY)
    assert written == list(range(READ_ATTEMPTS))


def test_every_row_failing_on_rows_of_neither_write_is_read_again(
        hbase_double, prefix, writer, settings, monkeypatch):  # noqa: ANN001
    """A whole read (its pages compared by generation) whose page cannot be read as the column types of before, the
    write having changed one: was that ValueError raised as is; it is a read the write overtook, read again."""
    own = own_metric("followers", "account", rank="followers DESC")
    writer.write(own, [{"account": f"a{i}", "followers": 100 - i, "note": i} for i in range(7)])
    new = [{"account": f"a{i}", "followers": 100 - i, "note": f"n{i}"} for i in range(8)]
    written = write_during_scans(hbase_double, monkeypatch, prefix, "followers", [lambda: writer.write(own, new)])
    assert fs.metric_rows(settings, "followers") == new
    assert written == [0]
