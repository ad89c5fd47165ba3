"""Every day, week, month and hour is UTC whatever the machine's ``TZ`` (README, "Processing"): ``fediscope
process`` run where the local time is another day stores the UTC hours, weekdays and days of REAL recorded toots,
and ``fediscope report`` reads the same numbers under any time zone.

Curation reads a time with an offset as a TIMESTAMPTZ and casts it to a plain TIMESTAMP, which DuckDB does in its
session time zone: without the engine's ``SET TimeZone = 'UTC'`` a toot posted at 22:30 UTC was curated at 12:30
the next day on a machine 14 hours ahead, in another ``dt`` partition, weekday and hour. The parity test runs one
time zone only, and Spark's session time zone has a test of its own (test_spark_session_conf.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path

from engine_data import KEY, land, policy, statuses, variant

from fediscope.lake.local import LocalLake

REPO = Path(__file__).resolve().parents[2]
#: 14 hours ahead of UTC all year (no daylight saving): every evening toot of UTC is of the next day there
AHEAD = "Pacific/Kiritimati"


def fediscope(cwd: Path, lake: Path, zone: str, *args: str) -> str:
    """``fediscope ARGS`` in its own process with ``TZ=zone``, on ``lake``, with no FEDISCOPE_* of the caller: its
    stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(lake), FEDISCOPE_PSEUDONYM_KEY=KEY.decode(), PYTHONPATH=str(REPO), TZ=zone)
    done = subprocess.run([sys.executable, "-m", "fediscope", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(store: Path, metric: str, columns: str) -> list[tuple]:
    with closing(sqlite3.connect(store)) as db:
        return db.execute(f"SELECT {columns} FROM metric_{metric} ORDER BY {columns}").fetchall()


def test_process_and_report_count_utc_hours_and_days_on_a_machine_in_another_time_zone(tmp_path: Path) -> None:
    recorded = statuses("test_hashtag_tl.json")[0]  # posted 2026-08-01 13:55:55 UTC, tagged #hoot
    evening = variant(recorded, "evening", created_at="2026-08-01T22:30:00.000Z")  # Saturday evening in UTC
    lake_dir = tmp_path / "lake"
    land(LocalLake(lake_dir), "statuses", [recorded, evening], datetime.fromisoformat("2026-08-01T23:00:00+00:00"),
         policy())
    posted = [datetime.fromisoformat(s["created_at"].replace("Z", "+00:00")) for s in (recorded, evening)]
    assert [(p.isoweekday(), p.hour) for p in posted] == [(6, 13), (6, 22)]  # both Sunday in Kiritimati

    fediscope(tmp_path, lake_dir, AHEAD, "process", "--store", "sqlite:///store.db", "--no-progress")

    store = tmp_path / "store.db"
    assert rows(store, "activity_by_hour", "weekday, hour, toots") == [(6, 13, 1), (6, 22, 1)]
    assert rows(store, "hashtags_daily", "day, tag, toots") == [("2026-08-01", "hoot", 2)]
    assert rows(store, "top_toots", "created_at") == [("2026-08-01 13:55:55",), ("2026-08-01 22:30:00",)]
    assert rows(store, "posted_days", "instance, first_day, last_day, latest_fetch_day") == [
        ("*", "2026-08-01", "2026-08-01", "2026-08-01"), ("localhost:3000", "2026-08-01", "2026-08-01", "2026-08-01")]
    assert sorted(p.name for p in (lake_dir / "curated" / "statuses").iterdir()) == ["dt=2026-08-01"]

    reports = {zone: fediscope(tmp_path, lake_dir, zone, "report", "--store", "sqlite:///store.db", "--format",
                               "json", "--no-charts") for zone in ("UTC", AHEAD)}
    assert reports["UTC"] == reports[AHEAD]
    assert json.loads(reports[AHEAD])["period"]["first_day"] == "2026-08-01"
