"""
### fediscope_batch — curate, compute the metrics and load the store

Runs when `fediscope_ingest` lands new raw data (Asset `fediscope://lake/raw`) **or** daily at 00:00 UTC as a
safety net. `window` turns the run into the fetch days (`dt` partitions) to process:

* a daily or backfilled run covers exactly the day of its data interval. A backfill makes one run per day, but
  by default (`--reprocess-behavior none`) only for the days that have no run yet: a day whose run failed is
  skipped. To redo the days a failed or missed run left, run
  `airflow backfill create --dag-id fediscope_batch --from-date 2026-11-01 --to-date 2026-11-07
  --reprocess-behavior failed` (the failed runs are cleared and queued again as backfill runs, each over the day
  of its logical date, a failed manual run included);
  `--reprocess-behavior completed` re-runs every day of the range, successful ones included. A day whose run is
  still queued or running is skipped either way. Each run curates the raw files of its day that no run curated
  yet and recomputes the metrics; re-running a day overwrites the same rows, never duplicates them; a day curated
  before is not curated again: `fediscope process --recurate` rebuilds every curated table;
* a manual run with a logical date covers the UTC day of that date
  (`airflow dags trigger fediscope_batch --logical-date 2026-11-23T00:00:00+00:00` processes `dt=2026-11-23`,
  not the day before that Airflow puts in its data interval); without a logical date, the day it runs;
* an Asset-triggered run covers the days from its oldest triggering event to now.

Scheduled (daily), Asset-triggered and manual runs without a logical date also curate the raw files of **earlier**
days that no run curated yet (`earlier: true` in `window`'s result; curation then has no lower bound, and reads
only uncurated files): NiFi lands files without an Asset event, so files of a day that land after that day's run
started (merge delay, landing retries, quarantined batches moved back), or a whole day whose daily run never
happened (`catchup=False`, a scheduler down over midnight), are taken by the next such run. Backfill runs and
manual runs given a logical date curate exactly their day (`earlier: false`); the metrics are always recomputed
over all curated data.

`process` calls `fediscope.engine.process.run_process` (curation → metrics → store) with the engine and store
of the configuration: DuckDB and SQLite by default; `engine=spark` with a cluster `spark_master`
(`spark://…`, `yarn`) runs the jobs through `spark-submit`, so the worker needs only the Spark client.
`verify` reads the metrics back from the store; on a lake nothing is curated in yet, a backfill or dated run of a
day with no raw files stores no row, and `verify` fails at once saying so (an undated run,
`airflow dags trigger fediscope_batch`, or the daily run curates the raw files of other days). A raw file damaged
since it was landed (cut short, not JSON) fails `process` at once, naming it: landing is atomic, so no retry mends
it (restore or move the file, then clear the task). One `process` runs at a time across all runs of the DAG,
backfill runs included (each holds the lake lock from curation to the last store write): the others wait in the
queue rather than fail on the lock. While `fediscope_maintenance`'s retention holds the lock, `process` fails and
is retried: 8 retries, about 2 hours in all, as long as a retention try may run (more when
`FEDISCOPE_RETENTION_TIMEOUT_MINUTES` is raised).

Timeouts: a `process` try that runs longer than 4 hours is stopped (the lake lock is released and a running
spark-submit job stopped) and retried, `verify` after 15 minutes, and a whole run after 12 hours (or 3 process
timeouts if that is longer), so a hung Spark, HDFS or store call cannot block every later run. A first curation
of months of raw data may need longer: raise `FEDISCOPE_PROCESS_TIMEOUT_MINUTES` (and `FEDISCOPE_CHECK_TIMEOUT_MINUTES`,
`FEDISCOPE_BATCH_RUN_TIMEOUT_MINUTES`, at least the process timeout), or run it with `fediscope process`. Airflow
reads these when it parses this file, from the DAG processor's `FEDISCOPE_*` environment and `fediscope.toml`,
not from the Variable `fediscope_settings` (read by running tasks only); a bad or too short value makes this file
an import error naming the variable (`fediscope.orchestration.parse_time_timeouts`).

Configuration: `FEDISCOPE_*` on the workers, overridden by the JSON Variable `fediscope_settings`.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, dag, get_current_context, task

from fediscope import orchestration as orch

RAW_LAKE = Asset(name=orch.RAW_ASSET_NAME, uri=orch.RAW_ASSET_URI)
TIMEOUTS = orch.parse_time_timeouts()  # FEDISCOPE_*_TIMEOUT_MINUTES of the DAG processor, not the Variable


@dag(
    dag_id="fediscope_batch",
    schedule=AssetOrTimeSchedule(timetable=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"), assets=[RAW_LAKE]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=TIMEOUTS.batch_run,
    default_args=orch.default_args(),
    tags=["fediscope", "batch"],
    doc_md=__doc__,
)
def fediscope_batch() -> None:
    @task(retries=0)
    def window() -> dict[str, str]:
        """The days this run processes, from its data interval (or its triggering Asset events), and whether it
        also curates the uncurated raw files of earlier days."""
        with orch.failing_at_once():  # also masks the secrets of an exception's text (every task does)
            return orch.window_from_context(get_current_context()).as_dict()

    # one process task at a time across every run of this DAG, backfill runs included: `airflow backfill create`
    # starts up to 10 runs at once by default (its own --max-active-runs, not this DAG's max_active_runs), and all
    # but one would fail at once on the lake lock and soon run out of retries; queued here, they wait their turn
    # it also fails at once while a retention (fediscope_maintenance) holds the lake lock: its retries (1, 2, 4, …
    # 30 min) outlast a retention try
    @task(max_active_tis_per_dag=1, execution_timeout=TIMEOUTS.process, retries=TIMEOUTS.process_retries)
    def process(days: dict[str, str]) -> dict[str, Any]:
        """Curation, metrics and store loading for those days (idempotent)."""
        with orch.failing_at_once():  # a missing lake or a wrong setting fails now, not after 3 retries
            return orch.process_window(orch.task_settings(), orch.BatchWindow.from_dict(days))

    @task(retries=1, execution_timeout=TIMEOUTS.check)
    def verify(summary: dict[str, Any], days: dict[str, str]) -> dict[str, Any]:
        """The store answers with metric rows (none because this run's days have no raw files and nothing is curated
        yet: said so, and not retried)."""
        with orch.failing_at_once():
            return orch.verify_store(orch.task_settings(), orch.BatchWindow.from_dict(days))

    days = window()
    verify(process(days), days)


fediscope_batch()
