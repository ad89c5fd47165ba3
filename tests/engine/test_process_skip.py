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


def _forget_provenance(url: str) -> None:
    """Each catalog entry as a fediscope from before provenance wrote it: its ``definition`` JSON without the field."""
    import json
    import sqlite3

    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    with con:
        for metric, definition in con.execute("SELECT metric, definition FROM fediscope_catalog").fetchall():
            data = json.loads(definition)
            del data["provenance"]
            con.execute("UPDATE fediscope_catalog SET definition = ? WHERE metric = ?", (json.dumps(data), metric))
    con.close()


def test_metrics_an_older_fediscope_stored_are_recomputed_once_to_record_their_provenance(landed: Path) -> None:
    settings = settings_for(landed)
    first = run_process(settings, progress=False)
    store = open_store(settings.store)
    generations = store.generations()
    store.close()
    _forget_provenance(settings.store)  # an upgrade: kept results current, provenance never recorded

    upgraded = run_process(settings, progress=False)
    assert upgraded.curate["noop"] and not upgraded.metrics_skipped
    assert not any(m.reused for m in upgraded.metrics.values())
    assert all(m.stored == 0 and m.stale == 0 for m in upgraded.metrics.values())  # the same rows: none written
    assert {n: m.rows for n, m in upgraded.metrics.items()} == {n: m.rows for n, m in first.metrics.items()}
    store = open_store(settings.store)
    try:
        assert all(p is not None and p["engine"] == "duckdb" for p in store.provenances().values())
        assert store.generations() == generations  # nothing changed: an API client's page cursors stay valid
    finally:
        store.close()
    assert run_process(settings, progress=False).metrics_skipped  # recorded: not again
