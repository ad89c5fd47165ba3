"""``airflow backfill create`` on ``fediscope_batch``: one run per day, each processing exactly that day.

The real Airflow 3 backfill (the CLI) creates the runs from the DAG's timetable;
:func:`fediscope.orchestration.batch_window` turns each run's data interval into the days ``process`` reads.
Executing runs needs a scheduler; the ``dag.test()`` run of ``test_dag_runs.py`` (a manual run with a logical
date, which covers the day of that date) checks that re-running a day is idempotent.

A day whose run failed is redone only with ``--reprocess-behavior failed`` (or ``completed``): Airflow's default,
``none``, skips every day that has a run. The command the DAG's doc gives for it is run as written (dates aside).
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from airflow_harness import DAGS, AirflowEnv, create_airflow_env

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


def _documented_backfill(reprocess: str) -> list[str]:
    """The ``airflow backfill create`` command the DAG's doc gives with ``--reprocess-behavior <reprocess>``."""
    doc = ast.get_docstring(ast.parse((DAGS / "fediscope_batch.py").read_text())) or ""
    commands = [" ".join(c.split()) for c in re.findall(r"`(airflow backfill create [^`]+)`", doc)]
    matching = [c for c in commands if f"--reprocess-behavior {reprocess}" in c]
    assert matching, f"fediscope_batch's doc gives no backfill with --reprocess-behavior {reprocess}: {commands}"
    return shlex.split(matching[0])[1:]


def _with_dates(argv: list[str], start: str, end: str) -> list[str]:
    out = list(argv)
    out[out.index("--from-date") + 1], out[out.index("--to-date") + 1] = start, end
    return out


@dataclass
class Redone:
    env: AirflowEnv
    failed: dict[str, Any]  # the dag.test() result of the failed run of 2026-03-02
    dry_run_default: str  # the output of the same backfill with Airflow's default, --dry-run
    runs: list[dict[str, Any]]  # the DAG's runs after the documented backfill for failed days


@pytest.fixture(scope="module")
def redone(tmp_path_factory: pytest.TempPathFactory, airflow_template: AirflowEnv) -> Redone:
    """A failed run for 2026-03-02, then the backfill the DAG's doc gives for failed days over 2026-03-01..03."""
    # its own Airflow: only one backfill per DAG may be active, and the other test's never completes (no scheduler)
    work = tmp_path_factory.mktemp("backfill_failed")
    env = create_airflow_env(work, template=airflow_template)
    proc = env.airflow("dags", "reserialize")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # a real failed run (a manual run of that day): its lake does not exist, so `process` fails
    settings = {"lake": str(work / "no-lake"), "store": f"sqlite:///{work / 'm.db'}", "engine": "duckdb"}
    failed = env.run("test", "fediscope_batch", "--logical-date", "2026-03-02T00:00:00+00:00", "--no-retries",
                     extra_env={"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(settings)})
    assert failed["state"] == "failed", failed["tasks"]
    proc = env.airflow("backfill", "create", "--dag-id", "fediscope_batch", "--from-date", "2026-03-01",
                       "--to-date", "2026-03-03", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    dry_run = proc.stdout
    proc = env.airflow(*_with_dates(_documented_backfill("failed"), "2026-03-01", "2026-03-03"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Redone(env, failed, dry_run, env.run("runs", "fediscope_batch")["runs"])


def _logical_day(run: dict[str, Any]) -> date:
    return datetime.fromisoformat(run["logical_date"]).date()


def test_default_backfill_skips_a_day_whose_run_failed(redone: Redone) -> None:
    """Why the doc asks for --reprocess-behavior: Airflow's default (none) attempts only the days without a run."""
    attempted = re.findall(r"^\|\s*(\d{4}-\d{2}-\d{2})", redone.dry_run_default, re.MULTILINE)
    assert attempted == ["2026-03-01", "2026-03-03"], redone.dry_run_default[-3000:]


def test_documented_backfill_reruns_a_day_whose_run_failed(redone: Redone) -> None:
    runs = {_logical_day(r): r for r in redone.runs}
    assert sorted(runs) == [date(2026, 3, d) for d in (1, 2, 3)], redone.runs
    assert all(r["run_type"] == "backfill" and r["state"] == "queued" for r in runs.values()), redone.runs
    # the failed run itself is cleared and queued again, now a backfill run
    assert runs[date(2026, 3, 2)]["run_id"] == redone.failed["run_id"], redone.runs


def test_a_failed_manual_run_redone_by_a_backfill_processes_its_own_day(redone: Redone) -> None:
    """The cleared run keeps the data interval Airflow gave it as a manual run (the day before its logical date);
    its `window` task, run for real on it, still covers 2026-03-02."""
    (run,) = [r for r in redone.runs if r["run_id"] == redone.failed["run_id"]]
    assert run["run_type"] == "backfill" and run["data_interval"][0].startswith("2026-03-01"), run
    proc = redone.env.airflow("tasks", "test", "fediscope_batch", "window", run["run_id"])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    returned = [line for line in (proc.stdout + proc.stderr).splitlines() if "Returned value was:" in line]
    assert returned and "{'since': '2026-03-02', 'until': '2026-03-02', 'earlier': False}" in returned[-1], returned
