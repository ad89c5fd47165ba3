"""Every DAG file parses in a real Airflow DagBag, cheaply, with tags, docs, retries and failure callbacks.

After Astronomer's DAG integrity test: load the folder, fail on any import error, require tags and retries.
Parsing happens every few seconds in the scheduler, so a DAG file must not import the heavy parts of the
stack (DuckDB, Spark, pyarrow, Mastodon.py, Flask) at the top: that is checked in a fresh interpreter.
"""

from __future__ import annotations

import json

import pytest
from airflow_harness import DAGS, AirflowEnv

pytestmark = pytest.mark.airflow

EXPECTED = {"fediscope_ingest", "fediscope_batch", "fediscope_maintenance"}
HEAVY = ("duckdb", "pyspark", "pyarrow", "pandas", "mastodon", "flask", "sqlalchemy.dialects.mysql", "happybase",
         "matplotlib", "fediscope.sources.collector", "fediscope.engine.duckdb_engine")


@pytest.fixture(scope="module")
def bag(airflow_env: AirflowEnv) -> dict:
    return airflow_env.run("check")


def test_dag_folder_has_exactly_the_three_dags_and_no_import_errors(bag: dict) -> None:
    assert bag["import_errors"] == {}
    assert bag["warnings"] == {}, "deprecation or other warnings while parsing the DAG files"
    assert set(bag["dags"]) == EXPECTED
    assert not (DAGS.parent / "__init__.py").exists(), "airflow/__init__.py would shadow the real airflow package"


def test_dags_are_documented_tagged_and_not_catching_up(bag: dict) -> None:
    for dag_id, dag in bag["dags"].items():
        assert "fediscope" in dag["tags"] and len(dag["tags"]) >= 2, dag_id
        assert dag["doc_md"], f"{dag_id}: the module docstring is the DAG's doc_md"
        assert dag["catchup"] is False, dag_id
        assert dag["start_date"], dag_id


def test_tasks_retry_with_backoff_and_log_failures(bag: dict) -> None:
    for dag_id, dag in bag["dags"].items():
        for task_id, task in dag["tasks"].items():
            assert task["on_failure_callback"], f"{dag_id}.{task_id}: no failure callback"
            if task_id not in {"targets", "window"}:  # pure configuration reads: retrying cannot help
                assert task["retries"] >= 1, f"{dag_id}.{task_id}: no retries"
    collect = bag["dags"]["fediscope_ingest"]["tasks"]["collect"]
    assert collect["retries"] >= 2 and collect["backoff"] > 1, "collection retries with exponential backoff"


def retry_window_seconds(task: dict) -> float:
    """The least time a task's retries span (exponential delays, capped; Airflow's jitter only adds)."""
    delays = (task["retry_delay"] * task["backoff"] ** attempt for attempt in range(task["retries"]))
    cap = task["max_retry_delay"] or float("inf")
    return sum(min(delay, cap) for delay in delays)


def test_retention_outwaits_a_long_batch_holding_the_lake_lock(bag: dict) -> None:
    """Retention fails at once while a batch holds the lake lock; its retries must span a long Spark batch (as
    long as the batch's process task may run: its timeout), not the default few minutes, or the maintenance run
    fails whenever they overlap. The maintenance run's own timeout leaves room for those retries and one whole
    retention run after them."""
    maintenance = bag["dags"]["fediscope_maintenance"]
    retention = maintenance["tasks"]["retention"]
    process = bag["dags"]["fediscope_batch"]["tasks"]["process"]
    assert retry_window_seconds(retention) >= process["execution_timeout"] >= 3600
    assert maintenance["dagrun_timeout"] >= retry_window_seconds(retention) + retention["execution_timeout"]


def test_batch_process_tasks_run_one_at_a_time_across_runs(bag: dict) -> None:
    """Every batch run's ``process`` holds the lake lock; a backfill starts up to 10 runs at once (its own
    ``--max-active-runs``, not the DAG's ``max_active_runs``): without a limit of one task instance across runs,
    all but one fail on the lock at once and run out of retries (1 + 2 + 4 minutes) while the first still runs."""
    tasks = bag["dags"]["fediscope_batch"]["tasks"]
    assert tasks["process"]["max_active_tis_per_dag"] == 1


def test_batch_and_maintenance_tasks_and_runs_time_out(bag: dict) -> None:
    """A hung spark-submit, HDFS or store call must not hold the lake lock forever: with max_active_runs=1 it
    would block every later run. The long tasks have an execution_timeout, the runs a dagrun_timeout."""
    for dag_id in ("fediscope_batch", "fediscope_maintenance"):
        dag = bag["dags"][dag_id]
        assert dag["dagrun_timeout"], f"{dag_id}: no dagrun_timeout"
        for task_id, task in dag["tasks"].items():
            if task_id != "window":  # computes dates from the context, nothing that can hang
                assert task["execution_timeout"], f"{dag_id}.{task_id}: no execution_timeout"
                assert task["execution_timeout"] < dag["dagrun_timeout"], f"{dag_id}.{task_id}"
    process = bag["dags"]["fediscope_batch"]["tasks"]["process"]
    assert 3600 <= process["execution_timeout"] <= 6 * 3600


def test_batch_is_scheduled_on_the_raw_asset_or_daily(bag: dict) -> None:
    assert bag["dags"]["fediscope_batch"]["timetable"] == "AssetOrTimeSchedule"


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_file_imports_nothing_heavy_and_parses_fast(airflow_env: AirflowEnv, dag_file: str) -> None:
    code = f"""
import importlib.util, json, sys, time
import airflow.sdk  # the SDK itself is always loaded by the DAG processor
baseline = set(sys.modules)
started = time.monotonic()
spec = importlib.util.spec_from_file_location("dag_under_test", {str(DAGS / dag_file)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("RESULT", json.dumps({{"seconds": time.monotonic() - started,
                             "heavy": sorted(m for m in set(sys.modules) - baseline
                                             if m.split(".")[0] in {{h.split(".")[0] for h in {HEAVY!r}}}
                                             and any(m == h or m.startswith(h + ".") for h in {HEAVY!r}))}}))
"""
    proc = airflow_env.python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.rsplit("RESULT ", 1)[1])
    assert result["heavy"] == [], f"{dag_file} imports {result['heavy']} at parse time; import inside tasks"
    assert result["seconds"] < 2.0, f"{dag_file} takes {result['seconds']:.2f}s to parse"
