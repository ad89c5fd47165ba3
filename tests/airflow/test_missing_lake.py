"""A missing lake: the batch and maintenance DAGs (real ``dag.test()`` runs) and the ``spark-submit`` jobs refuse it
with one clear line and create nothing, as ``fediscope process`` and ``fediscope gdpr retention`` do.

Before, ``retention`` took its lock in ``<lake>/_state/`` (creating the lake), the health check's probe file created
the lake, and ``process`` (and ``spark_jobs/metrics.py``) ran over the new empty lake and replaced every metric in
the store with nothing: a mistyped lake path wiped the results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import ROOT, AirflowEnv

pytestmark = pytest.mark.airflow

PSEUDONYM_KEY = "airflow-test-pseudonym-key-0123456789"


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _run(airflow_env: AirflowEnv, dag_id: str, work: Path, retries: bool | int = False,
         **extra: Any) -> dict[str, Any]:
    """``retries``: True, the DAG's own; a number, that many 1 s apart; False, none."""
    variable = {"lake": str(work / "lake"), "store": f"sqlite:///{work / 'fediscope.db'}", "engine": "duckdb", **extra}
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY}
    how = (["--no-retries"] if retries is False else [] if retries is True else ["--retries", str(retries)])
    return airflow_env.run("test", dag_id, "--logical-date", "2026-11-23T00:00:00+00:00", *how, extra_env=env)


def _states(result: dict[str, Any]) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in result["tasks"]}


def _failure_lines(result: dict[str, Any], dag_task: str) -> list[str]:
    return [line for line in result["_output"].splitlines() if f"fediscope task {dag_task} failed" in line]


@pytest.mark.slow
def test_maintenance_on_a_missing_lake_fails_clearly_and_creates_nothing(airflow_env: AirflowEnv,
                                                                         tmp_path: Path) -> None:
    """With retries (1 s apart here): no retry mends a missing lake, so lake_health fails on its first try, as
    process does (it was retried: 3 tries over 7 minutes with the DAG's own delays); the fix names the Variable's key
    that set the lake (was: FEDISCOPE_LAKE, which the Variable overrides)."""
    work = tmp_path / "work"
    work.mkdir()
    result = _run(airflow_env, "fediscope_maintenance", work, retries=2, retention_raw_days=30)
    states = _states(result)
    assert result["state"] == "failed"
    assert states["lake_health"] == "failed" and states["retention"] in {"upstream_failed", "failed"}, states
    lines = _failure_lines(result, "fediscope_maintenance.lake_health")
    assert lines and f"no lake at {work / 'lake'}: it does not exist" in lines[0], result["_output"][-3000:]
    assert len(lines) == 1 and "try 1)" in lines[0] and "(not retried: no retry mends this)" in lines[0], lines
    assert "point Airflow Variable fediscope_settings: lake at" in lines[0], lines
    assert [t["try_number"] for t in result["tasks"] if t["task_id"] == "lake_health"] == [1], result["tasks"]
    assert _tree(work) == [], "no lake, no _state/ lock directory, no probe, no store"


@pytest.mark.slow
def test_batch_on_a_missing_lake_fails_clearly_and_leaves_the_store_alone(airflow_env: AirflowEnv,
                                                                          tmp_path: Path) -> None:
    """With the DAG's own retries (3, from 1 minute, doubling): no retry mends a missing lake, so the task fails at
    once (it was retried for 11 minutes)."""
    work = tmp_path / "work"
    work.mkdir()
    result = _run(airflow_env, "fediscope_batch", work, retries=True)
    states = _states(result)
    assert result["state"] == "failed"
    assert states["window"] == "success" and states["process"] == "failed", states
    assert states["verify"] == "upstream_failed", states
    lines = _failure_lines(result, "fediscope_batch.process")
    assert lines and "NoLakeError: no lake at" in lines[0] and "the store was not touched" in lines[0], lines
    assert "try 1)" in lines[0] and "(not retried: no retry mends this)" in lines[0], lines
    # where the lake was set: the Variable's key (a DAG task has no --lake; FEDISCOPE_LAKE, which the Variable
    # overrides, was named)
    assert "point Airflow Variable fediscope_settings: lake at" in lines[0], lines
    assert "--lake" not in lines[0] and "FEDISCOPE_LAKE" not in lines[0], lines
    assert _tree(work) == [], "no lake, no lock, no store created"


@pytest.mark.parametrize(("job_name", "extra"), [("curate", []), ("metrics", ["--store", "sqlite:///jobs.db"])])
@pytest.mark.parametrize("lake_state", ["missing", "empty", "file"])
def test_spark_jobs_refuse_a_missing_or_empty_lake_in_one_line(tmp_path: Path, job_name: str, extra: list[str],
                                                               lake_state: str) -> None:
    """Exit 4 (was 1, which the batch DAG retried) with one line before Spark starts (pyspark is not imported) or
    the store is opened; the hint names the job's own --lake option beside FEDISCOPE_LAKE (the DAG's tasks, which
    have no option, name the setting). Each says what it left alone: the metrics job its store; curation, which has
    none, that nothing was curated (was: "the store was not touched" from curation too)."""
    lake = tmp_path / "lake"
    if lake_state == "empty":
        lake.mkdir()
    elif lake_state == "file":
        lake.write_text("not a lake")
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from spark_jobs.{job_name} import main\n"
            f"code = main(['--lake', {str(lake)!r}, *{extra!r}]); print(code, 'pyspark' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    job = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=120)
    assert job.stdout.strip() == "4 False", job.stderr
    err = job.stderr.strip().splitlines()
    expected = {"missing": f"no lake at {lake}: it does not exist", "empty": f"the lake {lake} holds no data",
                "file": f"the lake path {lake} is not a directory"}[lake_state]
    assert len(err) == 1 and err[0].startswith(f"fediscope {job_name}: error: {expected}"), err
    assert "point --lake at" in err[0] and "FEDISCOPE_LAKE" not in err[0], err  # the option that set the lake
    assert err[0].endswith({"curate": "; nothing was curated", "metrics": "; the store was not touched"}[job_name])
    assert job_name == "metrics" or "store" not in err[0], err
    assert _tree(tmp_path) == ([] if lake_state == "missing" else ["lake"]), "nothing created"
