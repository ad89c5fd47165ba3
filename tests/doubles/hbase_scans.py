"""A write landing in the middle of a read of a metric on the HBase Thrift double (``hbase_double``): what another
process's ``fediscope process`` does to a reader whose page is a scan, not a snapshot. Used by the store's whole
reads (tests/store/test_hbase_one_page_reads.py) and by the results API (tests/api)."""

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
