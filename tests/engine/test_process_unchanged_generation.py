"""A ``fediscope process`` run that recomputes metrics but changes no stored row keeps each metric's generation in
every store (open page cursors of the results API stay valid), records that generation with its kept results, and
the next run that does change rows still writes only the difference, ending as a full computation does."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from engine_data import settings_for

from fediscope.config import Settings
from fediscope.engine.metrics import Metric, load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.batches import raw_batch_files
from fediscope.lake.layout import parse_partition
from fediscope.lake.local import LocalLake
from fediscope.store.base import BaseStore
from fediscope.store.port import store_from_settings

#: a metric whose rows change with each day (accounts that posted) and one of a few rows
NAMES = ("account_engagement", "languages")


def _metrics(note: str = "") -> dict[str, Metric]:
    """The metrics of NAMES; with ``note``, their SQL ends with that comment (a new SQL hash, the same rows), so
    a run recomputes them although nothing new was curated."""
    every = load_metrics()
    return {name: dataclasses.replace(every[name], sql=every[name].sql + (f"\n-- {note}\n" if note else ""))
            for name in NAMES}


def _days(lake_dir: Path) -> list[date]:
    return sorted({date.fromisoformat(parse_partition(p)["dt"]) for p in raw_batch_files(LocalLake(lake_dir))})


@pytest.fixture
def settings(corpus_settings_on_every_store: Settings) -> Settings:
    return corpus_settings_on_every_store


def _generations(settings: Settings) -> dict[str, str | None]:
    store = store_from_settings(settings, read_only=True)
    try:
        return store.generations()
    finally:
        store.close()


def _contents(settings: Settings, metrics: dict[str, Metric]) -> dict[str, list[dict[str, Any]]]:
    store = store_from_settings(settings, read_only=True)
    try:
        return {name: store.all(metric) for name, metric in metrics.items()}
    finally:
        store.close()


def test_a_run_that_changes_no_row_keeps_the_generations_and_the_next_change_is_a_delta(
        settings: Settings, corpus_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    days = _days(corpus_lake)
    first = run_process(settings, until=days[-2], progress=False, metrics=_metrics())
    assert all(m.stored == m.rows > 0 for m in first.metrics.values()), first.metrics
    before = _generations(settings)
    assert set(before) == set(NAMES) and None not in before.values()

    # recomputed (an edited SQL file), the same rows: nothing written, every generation kept
    again = run_process(settings, progress=False, metrics=_metrics("edited"), until=days[-2])
    assert not again.metrics_skipped and all(not m.reused and m.stored == 0 and m.stale == 0
                                             for m in again.metrics.values()), again.metrics
    assert "(0 written)" in again.line()
    assert _generations(settings) == before
    # the kept results name the generation the store has: the next run knows the store is what it wrote
    assert run_process(settings, progress=False, metrics=_metrics("edited"), until=days[-2]).metrics_skipped

    # the last day changes rows: written as the difference to the kept results (write_changes), not compared
    # with the store row by row (write_counted), and the store ends as a full computation leaves one
    calls: dict[str, list[Any]] = {"write_changes": [], "write_counted": []}
    write_changes, write_counted = BaseStore.write_changes, BaseStore.write_counted

    def spy_changes(self: BaseStore, metric: Metric, *args: Any, **kwargs: Any) -> str | None:
        generation = write_changes(self, metric, *args, **kwargs)
        calls["write_changes"].append((metric.name, generation))
        return generation

    def spy_counted(self: BaseStore, metric: Metric, *args: Any, **kwargs: Any) -> Any:
        calls["write_counted"].append(metric.name)
        return write_counted(self, metric, *args, **kwargs)

    monkeypatch.setattr(BaseStore, "write_changes", spy_changes)
    monkeypatch.setattr(BaseStore, "write_counted", spy_counted)
    last = run_process(settings, since=days[-1], until=days[-1], progress=False, metrics=_metrics("edited"))
    monkeypatch.undo()
    engagement = last.metrics["account_engagement"]
    assert 0 < engagement.stored < engagement.rows, engagement
    assert calls["write_counted"] == [] and sorted(name for name, _ in calls["write_changes"]) == sorted(NAMES)
    after = _generations(settings)
    assert dict(calls["write_changes"]) == after  # what each write returned is what the store holds
    assert after["account_engagement"] != before["account_engagement"]
    assert run_process(settings, progress=False, metrics=_metrics("edited")).metrics_skipped

    full = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'full.db'}")
    run_process(full, progress=False, metrics=_metrics("edited"))
    assert _contents(settings, _metrics()) == _contents(full, _metrics())
