"""
### fediscope_maintenance — retention and health checks, daily

* `retention`: deletes raw and quarantine partitions older than `retention_raw_days`
  (`FEDISCOPE_RETENTION_RAW_DAYS`, default 90; 0 keeps them forever), and curated partitions and account
  snapshots (last fetched) older than `retention_curated_days` (`FEDISCOPE_RETENTION_CURATED_DAYS`, default 0:
  kept forever; its result's `accounts`: the snapshots removed). It needs the lake lock,
  so while a batch run holds it the task fails and is retried: 12 retries, about 4 hours in all, as long as a
  batch's `process` task may hold the lock (its timeout: more retries when it is raised). It also removes the
  hidden temporary files that interrupted writes left in the lake once they are a day old, fediscope's own and
  the NiFi flows' in-flight dot-files (its result's `temporary_files`: count, bytes, paths).
* `lake_health`, `store_health`: the `fediscope doctor` checks of the configured lake and store; a failing
  check fails its task with the fix in the message (and the one-line failure log). While the lake lock is held,
  `lake_health` also logs the doctor's `lake_lock` line (its result's `lock`): a warning naming the holder, its
  age and `fediscope lake unlock` when this worker cannot tell whether the holder still runs (another host's
  lock: `retention` fails on it until it is removed), without failing the task.

Timeouts: `retention` is stopped after 2 hours (the lake lock is released) and retried, the health checks after
15 minutes, a whole run after 8 hours, or retention's retries plus one retention run if that is longer
(`FEDISCOPE_RETENTION_TIMEOUT_MINUTES`, `FEDISCOPE_CHECK_TIMEOUT_MINUTES`, `FEDISCOPE_MAINTENANCE_RUN_TIMEOUT_MINUTES`,
which when set must hold those retries and one retention run; retention's retries follow
`FEDISCOPE_PROCESS_TIMEOUT_MINUTES`). Airflow reads these when it parses this file, from the DAG processor's
`FEDISCOPE_*` environment and `fediscope.toml`, not from the Variable `fediscope_settings` (read by running tasks
only); a bad or too short value makes this file an import error naming the variable
(`fediscope.orchestration.parse_time_timeouts`).

Configuration: `FEDISCOPE_*` on the workers, overridden by the JSON Variable `fediscope_settings`.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from fediscope import orchestration as orch

TIMEOUTS = orch.parse_time_timeouts()  # FEDISCOPE_*_TIMEOUT_MINUTES of the DAG processor, not the Variable


@dag(
    dag_id="fediscope_maintenance",
    schedule="30 3 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=TIMEOUTS.maintenance_run,
    default_args=orch.default_args(),
    tags=["fediscope", "maintenance"],
    doc_md=__doc__,
)
def fediscope_maintenance() -> None:
    @task(execution_timeout=TIMEOUTS.check)
    def lake_health() -> dict[str, Any]:
        """The lake is reachable and writable."""
        with orch.failing_at_once():
            return orch.check_lake(orch.task_settings())

    @task(execution_timeout=TIMEOUTS.check)
    def store_health() -> dict[str, Any]:
        """The store is reachable and has its schema."""
        with orch.failing_at_once():
            return orch.check_store(orch.task_settings())

    # retention fails at once while a batch holds the lake lock: its retries (1, 2, 4, … 30 min) outlast the batch
    @task(retries=TIMEOUTS.retention_retries, execution_timeout=TIMEOUTS.retention)
    def retention() -> dict[str, Any]:
        """Partitions past retention are deleted, and stale temporary files of interrupted writes."""
        with orch.failing_at_once():
            return orch.apply_retention(orch.task_settings())

    lake_health() >> retention()
    store_health()


fediscope_maintenance()
