"""``airflow backfill create`` on ``fediscope_batch``: one run per day, each processing exactly that day.

The real Airflow 3 backfill (the CLI) creates the runs from the DAG's timetable;
:func:`fediscope.orchestration.batch_window` turns each run's data interval into the days ``process`` reads.
Executing runs needs a scheduler; the ``dag.test()`` run of ``test_dag_runs.py`` (a manual run with a logical
date, which covers the day of that date) checks that re-running a day is idempotent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from airflow_harness import AirflowEnv

from fediscope import orchestration as orch

pytestmark = pytest.mark.airflow


def test_backfill_reprocesses_exactly_the_requested_days(airflow_env: AirflowEnv) -> None:
    proc = airflow_env.airflow("dags", "reserialize")  # the scheduler's DAG processor does this in production
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = airflow_env.airflow("backfill", "create", "--dag-id", "fediscope_batch",
                               "--from-date", "2026-03-01", "--to-date", "2026-03-04")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [r for r in airflow_env.run("runs", "fediscope_batch")["runs"] if r["run_type"] == "backfill"]
    assert len(runs) == 4, runs
    windows = [orch.batch_window(datetime.fromisoformat(r["data_interval"][0]),
                                 datetime.fromisoformat(r["data_interval"][1])) for r in runs]
    assert [w.days() for w in windows] == [[date(2026, 3, 1) + timedelta(days=i)] for i in range(4)]
