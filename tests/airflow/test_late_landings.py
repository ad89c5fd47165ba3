"""Raw files that land after their day's batch run: a later scheduled or Asset-triggered run curates them.

NiFi lands files with no Asset event, so files of day D landing after D's daily run started (merge delay, landing
retries, quarantined batches moved back), or a whole day whose daily run never happened (``catchup=False``), must
be taken by the next scheduled or Asset-triggered run; a backfill run or a dated manual run processes exactly its
day. Real runs of the ``process`` task's code (DuckDB, a SQLite store) on a generated corpus.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pytest

from fediscope import orchestration as orch
from fediscope.engine.manifest import load_manifest
from fediscope.lake.batches import raw_batch_files
from fediscope.lake.layout import parse_partition
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.landing import write_raw_lake

KEY = "late-landings-pseudonym-key-0123456789abcdef"
D21, D22, D23 = date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)


class _RunType(str, Enum):  # noqa: UP042 -- as the Task SDK declares it
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"
    MANUAL = "manual"
    ASSET_TRIGGERED = "asset_triggered"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _daily_context(run_type: str, day: date) -> dict[str, object]:
    """The context of the daily (or backfill) run of ``day``: data interval [day, day + 1), run just after."""
    start, end = _midnight(day), _midnight(day + timedelta(days=1))
    run = SimpleNamespace(run_type=_RunType(run_type), logical_date=start, run_after=end + timedelta(minutes=5))
    return {"dag_run": run, "logical_date": start, "data_interval_start": start, "data_interval_end": end}


def _asset_context(event_time: datetime) -> dict[str, object]:
    run = SimpleNamespace(run_type=_RunType.ASSET_TRIGGERED, logical_date=None, run_after=event_time)
    return {"dag_run": run, "logical_date": None, "data_interval_start": None, "data_interval_end": None,
            "triggering_asset_events": {"raw": [SimpleNamespace(timestamp=event_time)]}}


@pytest.fixture
def lake_and_late(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict[str, Path]]:
    """A lake of three days (2026-11-21..23) whose 2026-11-21 and 2026-11-22 files are held back (not landed
    yet); returns the lake, the holding directory and each held file's lake path → held copy."""
    monkeypatch.chdir(tmp_path)  # load_settings reads ./fediscope.toml
    lake_dir = tmp_path / "lake"
    lake = LocalLake(lake_dir)
    write_raw_lake(lake, 120, seed=5, policy=PrivacyPolicy(key=KEY.encode()), instances=("a.example", "b.example"),
                   end=_midnight(D23) + timedelta(hours=23), window=timedelta(days=3))
    held: dict[str, Path] = {}
    hold = tmp_path / "held"
    for path in raw_batch_files(lake):
        if parse_partition(path).get("dt") in (str(D21), str(D22)):
            copy = hold / path
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(lake_dir / path, copy)
            held[path] = copy
    days = {parse_partition(p).get("dt") for p in held}
    assert days == {str(D21), str(D22)}, days
    assert raw_batch_files(lake), "the lake keeps data of 2026-11-23"
    return lake_dir, hold, held


def _settings(lake_dir: Path) -> object:
    return orch.settings_from_overrides({"lake": str(lake_dir), "store": f"sqlite:///{lake_dir.parent / 'm.db'}",
                                         "engine": "duckdb", "pseudonym_key": KEY}, env={})


def _land(lake_dir: Path, held: dict[str, Path], day: date) -> list[str]:
    landed = [path for path in held if parse_partition(path).get("dt") == str(day)]
    for path in landed:
        (lake_dir / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(held[path], lake_dir / path)
    return landed


def _uncurated(lake_dir: Path) -> set[str]:
    lake = LocalLake(lake_dir)
    curated = load_manifest(lake).files
    return {p for p in raw_batch_files(lake) if p not in curated}


def _run(lake_dir: Path, context: dict[str, object]) -> dict[str, object]:
    window = orch.window_from_context(context)
    return orch.process_window(_settings(lake_dir), orch.BatchWindow.from_dict(window.as_dict()), env={})


def test_a_scheduled_run_curates_files_that_landed_after_their_days_run(lake_and_late) -> None:
    lake_dir, _, held = lake_and_late
    before = _uncurated(lake_dir)  # the 2026-11-23 files, for the run of that day
    _run(lake_dir, _daily_context("scheduled", D22))  # the 2026-11-22 run: its day's files are not there yet
    assert _uncurated(lake_dir) == before
    late = _land(lake_dir, held, D22)  # ... and land after it (merge delay, landing retries)
    summary = _run(lake_dir, _daily_context("scheduled", D23))
    assert not _uncurated(lake_dir), "the next daily run curates the earlier day's late files"
    assert summary["curate"]["raw_files"] == len(late) + len(before)


def test_a_scheduled_run_curates_a_day_whose_run_never_happened(lake_and_late) -> None:
    lake_dir, _, held = lake_and_late
    late = _land(lake_dir, held, D21) + _land(lake_dir, held, D22)  # no run for 21 or 22 (scheduler down)
    _run(lake_dir, _daily_context("scheduled", D23))
    assert late and not _uncurated(lake_dir)


def test_an_asset_triggered_run_curates_earlier_late_files(lake_and_late) -> None:
    lake_dir, _, held = lake_and_late
    _run(lake_dir, _daily_context("scheduled", D23))
    late = _land(lake_dir, held, D21)
    assert _uncurated(lake_dir) == set(late)
    _run(lake_dir, _asset_context(_midnight(D23) + timedelta(hours=23, minutes=30)))
    assert not _uncurated(lake_dir)


def test_a_backfill_run_and_a_dated_manual_run_process_exactly_their_day(lake_and_late) -> None:
    lake_dir, _, held = lake_and_late
    late = set(_land(lake_dir, held, D21))
    _run(lake_dir, _daily_context("backfill", D23))
    manual = _daily_context("manual", D22)
    manual["data_interval_start"] = _midnight(D21)  # Airflow's interval of a dated manual run: the day before
    _run(lake_dir, manual)
    assert _uncurated(lake_dir) == late, "a run of an explicit day leaves other days to their own runs"
    _run(lake_dir, _daily_context("backfill", D21))
    assert not _uncurated(lake_dir)
