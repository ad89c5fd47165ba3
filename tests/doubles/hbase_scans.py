"""A write landing in the middle of a read of a metric on the HBase Thrift double (``hbase_double``): what another
process's ``fediscope process`` does to a reader whose page is a scan, not a snapshot. Used by the store's whole
reads (tests/store/test_hbase_one_page_reads.py), the Python API (tests/store/test_hbase_python_reads_of_one_write.py)
and the results API (tests/api), with the metric rows below: built-in metrics' rows (from ``sample_metric_rows``) whose
second write moves a row across the rank index, so a scan that mixes the two writes misses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from doubles.hbase_thrift_server import HBaseThriftDouble
from fediscope.store import hbase_schema as layout


def write_during_scans(hbase_double: HBaseThriftDouble, monkeypatch: pytest.MonkeyPatch, prefix: str,
                       metric_name: str, writes: list[Callable[[], Any]]) -> list[int]:
    """Each time a scanner is opened on ``metric_name``'s tables (its rows, its rank index) by anyone but the writer
    itself, the next of ``writes`` runs before the scanner's first rows are read, until none is left; returns the
    list the numbers of the writes made are appended to."""
    handler = hbase_double.handler
    tables = {layout.data_table(prefix, metric_name).encode(), layout.rank_table(prefix, metric_name).encode()}
    opened, written, writing = handler._open, [], []

    def hooked(name: bytes, *args: Any) -> int:
        scanner = opened(name, *args)
        # the writer's own scans (its sweep of the rank index) pass
        if name in tables and not writing and len(written) < len(writes):
            writing.append(True)
            try:
                writes[len(written)]()
                written.append(len(written))
            finally:
                writing.clear()
        return scanner

    monkeypatch.setattr(handler, "_open", hooked)
    return written


FOLLOWERS = "top_accounts_by_followers"
DAILY = "hashtags_daily"
DAY = "2026-11-01"


def accounts(sample: list[dict[str, Any]], moved: bool = False, more: int = 0) -> list[dict[str, Any]]:
    """acct0 … acct6, followers 100 down to 94 (+ ``more``); ``moved``: acct3 goes to the top and acct7 comes in,
    so a scan of the rank index that mixes the two writes misses both."""
    rows = [dict(sample[i % len(sample)], account_key=f"acct{i}", followers_count=100 - i + more) for i in range(7)]
    if moved:
        rows[3]["followers_count"] = 1000 + more
        rows.append(dict(sample[0], account_key="acct7", followers_count=50 + more))
    return rows


def keys_by_rank(rows: list[dict[str, Any]]) -> list[str]:
    return [row["account_key"] for row in sorted(rows, key=lambda r: (-r["followers_count"], r["account_key"]))]


def tags(sample: list[dict[str, Any]], moved: bool = False) -> list[dict[str, Any]]:
    """t0 … t4 on DAY; ``moved``: each used 10 times more, and t9 comes in."""
    rows = [dict(sample[i % len(sample)], day=DAY, tag=f"t{i}", toots=i + 1) for i in range(5)]
    if moved:
        rows = [dict(row, toots=row["toots"] + 10) for row in rows] + [dict(sample[0], day=DAY, tag="t9", toots=9)]
    return rows
