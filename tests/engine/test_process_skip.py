"""run_process over no new data: metrics and store are skipped when the store already holds every metric."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_data import at, land, policy, settings_for, statuses

from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake
from fediscope.store.port import open_store

METRICS = load_metrics()


@pytest.fixture
def landed(lake: LocalLake, lake_dir: Path) -> Path:
    for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json")):
        land(lake, "statuses", statuses(name), at(i), policy())
    return lake_dir


def test_nothing_new_skips_metrics_and_store_and_reports_the_stored_rows(landed: Path) -> None:
    settings = settings_for(landed)
    first = run_process(settings, progress=False)
    assert not first.metrics_skipped
    second = run_process(settings, progress=False)
    assert second.curate["noop"] and second.metrics_skipped
    assert second.as_dict()["metrics_skipped"] is True and "not recomputed" in second.line()
    assert {n: m.rows for n, m in second.metrics.items()} == {n: m.rows for n, m in first.metrics.items()}
    assert all(m.stored == 0 for m in second.metrics.values())

    other = settings_for(landed, store=f"sqlite:///{landed.parent / 'other.db'}")
    third = run_process(other, progress=False)  # nothing new, but this store holds no metric yet: computed
    assert third.curate["noop"] and not third.metrics_skipped
    store = open_store(other.store)
    try:
        assert store.stored_metrics() == {n: m.rows for n, m in first.metrics.items()}
    finally:
        store.close()


def test_new_data_still_recomputes_every_metric(landed: Path, lake: LocalLake) -> None:
    settings = settings_for(landed)
    run_process(settings, progress=False)
    land(lake, "statuses", statuses("test_status_reblog_unreblog.json"), at(5), policy())
    again = run_process(settings, progress=False)
    assert not again.curate["noop"] and not again.metrics_skipped
    assert set(again.metrics) == set(METRICS) and all(m.seconds > 0 for m in again.metrics.values())
