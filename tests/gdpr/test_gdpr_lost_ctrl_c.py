"""A Ctrl-C lost in a finalizer stops ``fediscope gdpr erase`` and ``gdpr retention`` at their next stop point.

Python cannot raise KeyboardInterrupt out of a finalizer; the command line notes it (:class:`~fediscope.interrupts.
LostInterrupts`) and the work stops at its next :func:`~fediscope.interrupts.raise_if_lost`, as ``process`` does
between metrics and ``collect`` between pages. Was: these commands had none, so such a Ctrl-C ended them only after
all their work (exit 130 then). An erasure stopped so is finished by running it again, as one stopped by any Ctrl-C.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from gdpr_lake import SUBJECT
from lost_ctrl_c import losing_at_the_first_call

import fediscope.gdpr.erase as erase_module
import fediscope.gdpr.retention as retention_module
from fediscope.lake.batches import raw_batch_files


def test_a_lost_ctrl_c_stops_the_erasure_after_the_raw_batch_it_came_in(landed, run_cli, monkeypatch) -> None:
    batches = len(raw_batch_files(landed.lake))
    assert batches > 3
    calls: list = []
    real = erase_module._erase_batch
    monkeypatch.setattr(erase_module, "_erase_batch", losing_at_the_first_call(real, calls))
    stopped = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert (stopped.code, stopped.err.splitlines()[-1]) == (130, "fediscope: interrupted"), stopped
    assert len(calls) == 1  # the other raw batches, the curated tables and the store were not gone through
    monkeypatch.setattr(erase_module, "_erase_batch", real)
    again = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")  # run again, it finishes
    assert again.code == 0, again


def test_a_lost_ctrl_c_stops_retention_after_the_partition_it_came_in(landed, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("FEDISCOPE_RETENTION_RAW_DAYS", "1")
    later = datetime.now(UTC) + timedelta(days=30)  # every raw partition expired
    monkeypatch.setattr(retention_module, "datetime", type("FrozenNow", (datetime,), {
        "now": staticmethod(lambda tz=None: later)}))
    partitions = {path.rsplit("/", 1)[0] for path in raw_batch_files(landed.lake)}
    assert len(partitions) > 1
    calls: list = []
    monkeypatch.setattr(landed.lake.__class__, "delete", losing_at_the_first_call(landed.lake.__class__.delete, calls))
    stopped = run_cli("gdpr", "retention")
    assert (stopped.code, stopped.err.splitlines()[-1]) == (130, "fediscope: interrupted"), stopped
    assert [path for _lake, path, *_ in calls if "dt=" in path] == [calls[0][1]]  # then the lake lock was released
    assert len({path.rsplit("/", 1)[0] for path in raw_batch_files(landed.lake)}) == len(partitions) - 1


pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
