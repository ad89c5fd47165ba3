"""Every DAG file parses in a real Airflow DagBag, cheaply, with tags, docs, retries and failure callbacks.

After Astronomer's DAG integrity test: load the folder, fail on any import error, require tags and retries.
Parsing happens every few seconds in the scheduler, so a DAG file must not import the heavy parts of the
stack (DuckDB, Spark, pyarrow, Mastodon.py, Flask) at the top: that is checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import re

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


def test_batch_process_outwaits_a_retention_holding_the_lake_lock(bag: dict) -> None:
    """The other way round: a batch's process fails at once while the daily retention holds the lake lock (as
    long as a retention try may run: its timeout, 2 h); 3 retries (1 + 2 + 4 minutes) failed every batch run that
    met a retention of more than 7 minutes."""
    process = bag["dags"]["fediscope_batch"]["tasks"]["process"]
    retention = bag["dags"]["fediscope_maintenance"]["tasks"]["retention"]
    assert retry_window_seconds(process) >= retention["execution_timeout"] >= 3600
    assert process["retries"] == 8  # 1 + 2 + 4 + 8 + 16 + 30 + 30 + 30 minutes


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


HOUR = 3600.0


def test_default_timeouts_are_unchanged(bag: dict) -> None:
    """With no timeout set: process 4 h, verify and the health checks 15 min, a batch run 12 h, retention 2 h
    retried 12 times (~4 h), a maintenance run 8 h."""
    batch, maintenance = bag["dags"]["fediscope_batch"], bag["dags"]["fediscope_maintenance"]
    assert batch["dagrun_timeout"] == 12 * HOUR and maintenance["dagrun_timeout"] == 8 * HOUR
    assert batch["tasks"]["process"]["execution_timeout"] == 4 * HOUR
    assert batch["tasks"]["verify"]["execution_timeout"] == 900
    assert maintenance["tasks"]["retention"]["execution_timeout"] == 2 * HOUR
    assert maintenance["tasks"]["retention"]["retries"] == 12
    assert maintenance["tasks"]["lake_health"]["execution_timeout"] == 900
    assert maintenance["tasks"]["store_health"]["execution_timeout"] == 900


def test_timeouts_come_from_the_dag_processors_environment_and_config_file(airflow_env: AirflowEnv,
                                                                             tmp_path) -> None:
    """A first Spark curation of months of data needs more than 4 hours: set where Airflow parses the DAG files,
    not by editing code. The run timeouts left unset are derived so they still hold the tasks' tries and retries;
    a broken unrelated setting does not stop the DAGs from parsing (the tasks report it)."""
    config = tmp_path / "fediscope.toml"
    config.write_text("[fediscope]\nprocess_timeout_minutes = 600\nretention_timeout_minutes = 180\n"
                      'engine = "flink"\n')
    bag = airflow_env.run("check", extra_env={"FEDISCOPE_CONFIG": str(config), "FEDISCOPE_CHECK_TIMEOUT_MINUTES": "30",
                                              "FEDISCOPE_LAKE": "ftp://not-a-lake"})
    assert bag["import_errors"] == {}
    batch, maintenance = bag["dags"]["fediscope_batch"], bag["dags"]["fediscope_maintenance"]
    assert batch["tasks"]["process"]["execution_timeout"] == 10 * HOUR
    assert batch["tasks"]["verify"]["execution_timeout"] == 30 * 60
    assert batch["dagrun_timeout"] == 30 * HOUR  # 3 process timeouts, over the 12 h least
    retention = maintenance["tasks"]["retention"]
    assert retention["execution_timeout"] == 3 * HOUR
    assert maintenance["tasks"]["lake_health"]["execution_timeout"] == 30 * 60
    assert retry_window_seconds(retention) >= 10 * HOUR  # retention outwaits the longer batch
    assert retry_window_seconds(batch["tasks"]["process"]) >= 3 * HOUR  # and the batch the longer retention
    assert maintenance["dagrun_timeout"] >= retry_window_seconds(retention) + 3 * HOUR

    explicit = airflow_env.run("check", extra_env={"FEDISCOPE_PROCESS_TIMEOUT_MINUTES": "300",
                                                   "FEDISCOPE_BATCH_RUN_TIMEOUT_MINUTES": "900",
                                                   "FEDISCOPE_MAINTENANCE_RUN_TIMEOUT_MINUTES": "1440"})
    assert explicit["import_errors"] == {}
    assert explicit["dags"]["fediscope_batch"]["dagrun_timeout"] == 15 * HOUR
    assert explicit["dags"]["fediscope_maintenance"]["dagrun_timeout"] == 24 * HOUR


@pytest.mark.parametrize(("env", "message"), [
    ({"FEDISCOPE_PROCESS_TIMEOUT_MINUTES": "6h"},
     "FEDISCOPE_PROCESS_TIMEOUT_MINUTES is invalid: '6h' is not an integer"),
    ({"FEDISCOPE_PROCESS_TIMEOUT_MINUTES": "600", "FEDISCOPE_MAINTENANCE_RUN_TIMEOUT_MINUTES": "480"},
     "FEDISCOPE_MAINTENANCE_RUN_TIMEOUT_MINUTES (or [fediscope] maintenance_run_timeout_minutes of the config file) "
     "is too short: 480 minutes, less than retention's retries"),
])
def test_a_bad_timeout_is_an_import_error_of_one_line_naming_the_variable(airflow_env: AirflowEnv,
                                                                           env: dict[str, str],
                                                                           message: str) -> None:
    """The DAGs that use the timeouts are not scheduled with ones other than configured: their files are import
    errors whose message is one line naming the variable (Airflow adds the last frames of a traceback unless
    ``[core] dagbag_import_error_tracebacks`` is off, then it is that line alone). Ingest, which has no such
    timeout, still parses."""
    bag = airflow_env.run("check", extra_env=env)
    errors = {path.rsplit("/", 1)[-1]: text for path, text in bag["import_errors"].items()}
    assert set(errors) == {"fediscope_batch.py", "fediscope_maintenance.py"}
    assert set(bag["dags"]) == {"fediscope_ingest"}
    for text in errors.values():
        last = text.strip().splitlines()[-1]
        assert last.startswith("fediscope.errors.ConfigError: fediscope DAG timeouts: ") and message in last, text
        assert "fediscope/config.py" not in text, "the traceback ends in the DAG file, not the settings' parsing"

    quiet = airflow_env.run("check", extra_env=env | {"AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "False"})
    for text in quiet["import_errors"].values():
        assert "\n" not in text.strip() and "Traceback" not in text and message in text, text


def test_run_timeouts_set_too_short_are_refused_naming_the_variable() -> None:
    """Checked where the DAG files read them, and by `fediscope config check`."""
    from fediscope.config import Settings
    from fediscope.config_check import check_settings
    from fediscope.errors import ConfigError
    from fediscope.orchestration import dag_timeouts

    cases = [
        (Settings(process_timeout_minutes=600, batch_run_timeout_minutes=599),
         "FEDISCOPE_BATCH_RUN_TIMEOUT_MINUTES (or [fediscope] batch_run_timeout_minutes of the config file) is too "
         "short: 599 minutes, less than the process timeout "
         "(FEDISCOPE_PROCESS_TIMEOUT_MINUTES): 600 minutes"),
        (Settings(check_timeout_minutes=90, batch_run_timeout_minutes=60, process_timeout_minutes=30),
         "FEDISCOPE_BATCH_RUN_TIMEOUT_MINUTES (or [fediscope] batch_run_timeout_minutes of the config file) is too "
         "short: 60 minutes, less than the check timeout"),
        (Settings(maintenance_run_timeout_minutes=360),  # retries span 241 min + one 120-min retention run
         "FEDISCOPE_MAINTENANCE_RUN_TIMEOUT_MINUTES (or [fediscope] maintenance_run_timeout_minutes of the config "
         "file) is too short: 360 minutes, less than retention's retries, "
         "which outlast the process timeout (FEDISCOPE_PROCESS_TIMEOUT_MINUTES), plus one retention run "
         "(FEDISCOPE_RETENTION_TIMEOUT_MINUTES): 361 minutes"),
    ]
    for settings, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            dag_timeouts(settings)
        variable = message.split()[0]
        findings = [f for f in check_settings(settings, env={}) if f.setting == variable]
        assert [f.level for f in findings] == ["problem"] and message in findings[0].message
    assert dag_timeouts(Settings(maintenance_run_timeout_minutes=361)).maintenance_run.total_seconds() == 361 * 60
    assert dag_timeouts(Settings(batch_run_timeout_minutes=240)).batch_run.total_seconds() == 4 * HOUR
