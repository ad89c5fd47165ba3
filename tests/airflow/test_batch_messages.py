"""What the batch DAG's tasks say, and whether they retry, when a run's day limits its curation, when nothing is
curated for it, and when a raw file is damaged.

An Airflow task has no ``--since``/``--until``: its day limits it, so its messages name the day (the process summary
and the refusal to finish an interrupted ``--recurate``). A first dated run of a day without raw files on a lake never
curated stores no row: ``verify`` says why and which run curates the raw files, and fails at once. A raw file
damaged since it was landed stops curation (it is not quarantined: quarantine holds what landing could not land) and
no retry mends it (landing is atomic), so ``process`` fails at once instead of retrying for 2 hours.

Real runs of the tasks' code (DuckDB, a SQLite store) on a generated corpus; real ``dag.test()`` runs, one of them
through a ``spark-submit`` whose curation job checks the raw files as the real one does, and exits as it does.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import AirflowEnv

from fediscope import orchestration as orch
from fediscope.config import Settings
from fediscope.engine.manifest import load_manifest, mark_rebuild_started
from fediscope.engine.process import run_process
from fediscope.errors import ConfigError, DamagedBatchError, NothingCuratedError
from fediscope.lake.batches import raw_batch_files
from fediscope.lake.layout import parse_partition
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.landing import write_raw_lake

KEY = "batch-messages-pseudonym-key-0123456789abcdef"
D21, D22, D23 = date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture
def lake_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lake of three fetch days, 2026-11-21..23, nothing curated."""
    monkeypatch.chdir(tmp_path)  # load_settings reads ./fediscope.toml
    lake_dir = tmp_path / "lake"
    write_raw_lake(LocalLake(lake_dir), 120, seed=5, policy=PrivacyPolicy(key=KEY.encode()),
                   instances=("a.example", "b.example"), end=_midnight(D23) + timedelta(hours=23),
                   window=timedelta(days=3))
    return lake_dir


def _settings(lake_dir: Path) -> Settings:
    return orch.settings_from_overrides({"lake": str(lake_dir), "store": f"sqlite:///{lake_dir.parent / 'm.db'}",
                                         "engine": "duckdb", "pseudonym_key": KEY}, env={})


def _raw_files(lake_dir: Path, day: date) -> list[str]:
    return [p for p in raw_batch_files(LocalLake(lake_dir)) if parse_partition(p).get("dt") == str(day)]


def _summary_line(caplog: pytest.LogCaptureFixture) -> str:
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("process: process (")]
    assert lines, [r.getMessage() for r in caplog.records]
    return lines[-1]


# -- 1. what limited the run, in the caller's terms -------------------------------------------------------------
@pytest.mark.parametrize(("window", "named"), [
    (orch.BatchWindow(D22, D22), "this run's day 2026-11-22"),  # a backfill run, a dated manual run
    (orch.BatchWindow(D22, D22, earlier=True), "this run's days up to 2026-11-22"),  # the daily run of 2026-11-22
])
def test_the_process_summary_names_the_runs_day_not_options_a_task_has_none_of(
        lake_dir: Path, caplog: pytest.LogCaptureFixture, window: orch.BatchWindow, named: str) -> None:
    """Was: "(N new raw files outside --since/--until left uncurated)" in the task log."""
    later = len(_raw_files(lake_dir, D23))
    with caplog.at_level(logging.INFO, logger="fediscope.engine.process"):
        summary = orch.process_window(_settings(lake_dir), window, env={})
    assert summary["curate"]["raw_files_outside_window"] >= later > 0, summary["curate"]
    outside = summary["curate"]["raw_files_outside_window"]
    line = _summary_line(caplog)
    assert f"({outside} new raw files outside {named} left uncurated)" in line, line
    assert "--since" not in line and "--until" not in line, line
    cli = run_process(_settings(lake_dir), since=D21, until=D21, progress=False)  # `fediscope process`: its options
    left = cli.curate["raw_files_outside_window"]
    assert left and f"({left} new raw files outside --since/--until left uncurated)" in cli.line(), cli.line()


def test_an_interrupted_recurate_is_refused_naming_the_runs_day(lake_dir: Path) -> None:
    """Every Airflow batch run sets an end date, so each one refuses to finish the rebuild; it names the day that
    limits it (was: "a run limited by --since/--until", options no task has), and its fix stays the command's."""
    settings = _settings(lake_dir)
    orch.process_window(settings, orch.BatchWindow(D21, D23), env={})
    mark_rebuild_started(LocalLake(lake_dir), False)  # a `fediscope process --recurate` stopped part-way
    with pytest.raises(ConfigError) as info:
        orch.process_window(settings, orch.BatchWindow(D23, D23), env={})
    message = str(info.value)
    assert ("a run limited by this run's day 2026-11-23 cannot finish it; run `fediscope process --recurate`"
            in message), message
    assert "--since" not in message and "--until" not in message, message
    with pytest.raises(ConfigError, match="a run limited by --since/--until cannot finish it"):
        run_process(settings, until=D23, progress=False)  # the command's own wording


# -- 2. nothing curated, and no raw file in the run's day --------------------------------------------------------
def test_verify_says_nothing_is_curated_and_the_runs_day_has_no_raw_files(lake_dir: Path) -> None:
    """A first backfill of a day before the collection began: process stores no row, and verify says why (was: "holds
    no rows for any of 19 metrics after processing; see the log of the process task")."""
    settings = _settings(lake_dir)
    window = orch.BatchWindow(date(2026, 11, 20), date(2026, 11, 20))
    summary = orch.process_window(settings, window, env={})
    assert summary["curate"]["raw_files"] == 0 and summary["metric_rows"] == 0, summary
    every = len(raw_batch_files(LocalLake(lake_dir)))
    with pytest.raises(NothingCuratedError) as info:
        orch.verify_store(settings, window)
    message = str(info.value)
    assert "holds no rows for any of" in message, message
    assert (f"nothing is curated in the lake yet, and this run's day 2026-11-20 has no raw files ({every} raw files "
            "lie outside it): let an undated run (`airflow dags trigger fediscope_batch`) or the daily run curate "
            "them first" in message), message
    assert "see the log of the process task" not in message and "\n" not in message, message
    assert isinstance(info.value, orch.NOT_RETRIED)


# -- 3. a raw file damaged since it was landed --------------------------------------------------------------------
def _cut_short(lake_dir: Path, day: date) -> str:
    path = sorted(p for p in _raw_files(lake_dir, day) if p.endswith(".jsonl"))[0]
    data = (lake_dir / path).read_bytes()
    (lake_dir / path).write_bytes(data[: len(data) - 10])  # the last record cut, no newline at its end
    return path


def _malformed(lake_dir: Path, day: date) -> str:
    path = sorted(p for p in _raw_files(lake_dir, day) if p.endswith(".jsonl") and "statuses" in p)[0]
    lines = (lake_dir / path).read_bytes().splitlines(keepends=True)
    assert len(lines) > 1, path
    lines[0] = lines[0][: len(lines[0]) // 2] + b"\n"  # a record cut in the middle of the file
    (lake_dir / path).write_bytes(b"".join(lines))
    return path


def _compressed_cut_short(lake_dir: Path, day: date) -> str:
    path = sorted(p for p in _raw_files(lake_dir, day) if p.endswith(".jsonl") and "statuses" in p)[0]
    packed = gzip.compress((lake_dir / path).read_bytes())
    (lake_dir / f"{path}.gz").write_bytes(packed[: len(packed) // 2])
    (lake_dir / path).unlink()
    return f"{path}.gz"


@pytest.mark.parametrize(("damage", "said"), [(_cut_short, "is cut short or damaged"),
                                              (_malformed, "Malformed JSON"),
                                              (_compressed_cut_short, "Unexpected end of GZIP stream")])
def test_a_damaged_raw_file_stops_process_with_an_error_no_retry_mends(lake_dir: Path, damage: Any,
                                                                       said: str) -> None:
    """As `fediscope process` (exit 1, nothing curated: see the README's Curation): the run stops, naming the file;
    nothing is quarantined (quarantine/ holds what landing could not land). A DamagedBatchError, which the task does
    not retry (was a LakeError, a FediscopeError: retried 8 times over 2 hours)."""
    path = damage(lake_dir, D22)
    with pytest.raises(DamagedBatchError) as info:
        orch.process_window(_settings(lake_dir), orch.BatchWindow(D22, D22), env={})
    assert said in str(info.value) and Path(path).name in str(info.value), str(info.value)
    assert isinstance(info.value, orch.NOT_RETRIED)
    assert not load_manifest(LocalLake(lake_dir)).files, "nothing curated"
    assert not (lake_dir / "quarantine").exists()


# -- real dag.test() runs -----------------------------------------------------------------------------------------
def _dag_test(airflow_env: AirflowEnv, lake_dir: Path, logical: date, retries: int) -> dict[str, Any]:
    variable = {"lake": str(lake_dir), "store": f"sqlite:///{lake_dir.parent / 'dag.db'}", "engine": "duckdb"}
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": KEY}
    return airflow_env.run("test", "fediscope_batch", "--logical-date", f"{logical.isoformat()}T00:00:00+00:00",
                           "--retries", str(retries), extra_env=env)


def _tries(result: dict[str, Any], task_id: str) -> tuple[str, int]:
    (task,) = [t for t in result["tasks"] if t["task_id"] == task_id]
    return task["state"], task["try_number"]


def _failure_lines(result: dict[str, Any], task_id: str) -> list[str]:
    return [line for line in result["_output"].splitlines()
            if f"fediscope task fediscope_batch.{task_id} failed" in line]


@pytest.mark.airflow
@pytest.mark.slow
def test_a_first_dated_run_of_a_day_without_raw_files_fails_verify_once_saying_why(
        airflow_env: AirflowEnv, lake_dir: Path) -> None:
    """`airflow dags trigger fediscope_batch --logical-date` of a day before the collection began, on a lake never
    curated: process succeeds with no row, verify fails on its first try naming the cause (retries 1 s apart here)."""
    result = _dag_test(airflow_env, lake_dir, date(2026, 11, 20), retries=2)
    assert result["state"] == "failed"
    assert _tries(result, "process")[0] == "success"
    assert _tries(result, "verify") == ("failed", 1), result["tasks"]
    lines = _failure_lines(result, "verify")
    assert len(lines) == 1 and "NothingCuratedError" in lines[0], lines or result["_output"][-3000:]
    assert "this run's day 2026-11-20 has no raw files" in lines[0], lines
    assert "(not retried: no retry mends this)" in lines[0], lines


@pytest.mark.airflow
@pytest.mark.slow
def test_a_damaged_raw_file_fails_process_once(airflow_env: AirflowEnv, lake_dir: Path) -> None:
    path = _cut_short(lake_dir, D22)
    result = _dag_test(airflow_env, lake_dir, D22, retries=2)
    assert result["state"] == "failed"
    assert _tries(result, "process") == ("failed", 1), result["tasks"]
    lines = _failure_lines(result, "process")
    assert len(lines) == 1 and "DamagedBatchError" in lines[0] and Path(path).name in lines[0], \
        lines or result["_output"][-3000:]
    assert "(not retried: no retry mends this)" in lines[0], lines



#: A ``spark-submit`` whose curation job checks the raw files whole, as the real job's curation does before Spark
#: reads them, and fails as the real job does: its own error line on the driver's output, exit 6 for a damaged raw
#: file (tests/airflow/test_spark_submit.py runs the real job so).
DAMAGE_CHECKING_SPARK_SUBMIT = """#!{python}
import json, os, sys
from pathlib import Path
from fediscope.errors import DamagedBatchError
from fediscope.lake.batches import check_whole_batches

lake = Path(os.environ["FEDISCOPE_LAKE"])
if any(arg.endswith("curate.py") for arg in sys.argv):
    try:
        check_whole_batches(sorted(str(p) for p in (lake / "raw").rglob("*.jsonl")))
    except DamagedBatchError as exc:
        print(f"fediscope curate: error: {{exc}}", flush=True)
        print("26/12/06 06:05:49 INFO ShutdownHookManager: Shutdown hook called", file=sys.stderr)
        sys.exit(6)
print(json.dumps({{"argv": sys.argv[1:]}}))
"""


@pytest.mark.airflow
@pytest.mark.slow
def test_a_damaged_raw_file_fails_process_through_spark_submit_once(airflow_env: AirflowEnv, lake_dir: Path,
                                                                     tmp_path: Path) -> None:
    """engine=spark on a cluster master: the curation job exits 6 for a damaged raw file, which the task raises as a
    DamagedBatchError, not retried, with the job's own line (was: "spark-submit … failed (exit 1)", a FediscopeError
    retried 8 times over 2 hours)."""
    path = _cut_short(lake_dir, D22)
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    script = home / "bin" / "spark-submit"
    script.write_text(DAMAGE_CHECKING_SPARK_SUBMIT.format(python=sys.executable))
    script.chmod(0o755)
    variable = {"lake": str(lake_dir), "store": f"sqlite:///{lake_dir.parent / 'dag.db'}", "engine": "spark",
                "spark_master": "yarn"}  # a cluster master (yarn is not probed): the jobs go through spark-submit
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": KEY,
           "SPARK_HOME": str(home)}
    result = airflow_env.run("test", "fediscope_batch", "--logical-date", f"{D22.isoformat()}T00:00:00+00:00",
                             "--retries", "2", extra_env=env)
    assert result["state"] == "failed"
    assert _tries(result, "process") == ("failed", 1), result["tasks"]
    lines = _failure_lines(result, "process")
    assert len(lines) == 1, lines or result["_output"][-3000:]
    assert "DamagedBatchError: spark-submit fediscope-curate-2026-11-22 failed (exit 6): fediscope curate: error: " \
           f"the raw file {lake_dir / path} is cut short or damaged" in lines[0], lines
    assert "(not retried: no retry mends this)" in lines[0], lines
    assert not load_manifest(LocalLake(lake_dir)).files, "nothing curated"
