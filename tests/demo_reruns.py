"""Make a demo lake look as if its last run had been hours ago, so a re-run's instance has statuses due.

A demo re-run gains what the sample corpus posts at its rhythm since the last run: seconds after a run that is
nothing, so the tests of a re-run's incremental collection move the last run back instead of waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fediscope.demo import default_port
from fediscope.lake.local import LocalLake
from fediscope.lake.state import read_state, write_state
from fediscope.timestamps import snowflake, to_ms


def last_run_hours_ago(lake_dir: Path, hours: float) -> datetime:
    """Set the checkpoints of the demo lake ``lake_dir`` back ``hours`` (saved then, the timelines' to a status
    posted then), as if its last run had been then; that moment."""
    moment = (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)
    lake = LocalLake(lake_dir)
    for entry in lake.list(f"_state/127.0.0.1:{default_port(lake_dir)}"):
        if entry.path.endswith(".json"):
            checkpoint = read_state(lake, entry.path)
            if checkpoint.newest_id and checkpoint.newest_id.isdigit():
                checkpoint.newest_id = str(snowflake(to_ms(moment), 0))
            checkpoint.updated_at = moment.isoformat(timespec="seconds")
            write_state(lake, entry.path, checkpoint)
    return moment
