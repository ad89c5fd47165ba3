"""The batch DAG's ``spark-submit`` path with the real ``spark-submit`` of the pyspark package (local master).

What a failing job tells the operator: spark-submit merges the Python driver's stderr into its own stdout and
logs the JVM's shutdown on stderr afterwards, so the job's one-line error is not the last line of stderr.
Which Python runs the driver: the worker's (it has fediscope), not ``python3`` from the ``PATH``.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from fediscope import orchestration as orch
from fediscope.engine.manifest import mark_rebuild_started
from fediscope.errors import ConfigError, DamagedBatchError, NoLakeError
from fediscope.lake.batches import raw_batch_files
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.landing import write_raw_lake

pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def spark_submit() -> str:
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("SPARK TESTS SKIPPED: no Java found; install a JDK 17+ or set JAVA_HOME")
    import pyspark

    binary = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    if not binary.is_file():
        pytest.skip(f"no spark-submit in the pyspark package ({binary})")
    return str(binary)


def test_a_failed_job_reports_its_own_error_line_from_the_drivers_python(spark_submit: str, tmp_path: Path) -> None:
    lake = tmp_path / "lake"  # missing: the job refuses it before Spark starts, with one line
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": "local[1]", "lake": str(lake),
                                             "store": "mysql+pymysql://fediscope:pw-0123456789@db/fediscope"},
                                            env={})
    window = orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23))
    curate, _ = orch.spark_submit_jobs(settings, window, spark_submit)
    # a worker whose `python3` on the PATH is not its own interpreter (a virtualenv not activated)
    env = orch.spark_submit_env(settings, {k: v for k, v in os.environ.items()
                                           if not k.startswith(("FEDISCOPE_", "PYSPARK_"))} | {"PATH": "/usr/bin:/bin"})
    with pytest.raises(NoLakeError) as info:  # exit 4: not retried by the DAG (was exit 1, a FediscopeError)
        orch._run_spark_job(curate, env, settings)
    message = str(info.value)
    assert message.startswith("spark-submit fediscope-curate-2026-11-23 failed (exit 4): fediscope curate: error: "
                              f"no lake at {lake}: it does not exist"), message
    assert "pw-0123456789" not in message
    assert not lake.exists()


def test_the_failure_line_is_the_jobs_own_not_sparks_last_log_line() -> None:
    stdout = ("some spark log line\nTraceback (most recent call last):\n  File \"metrics.py\", line 1\n"
              "FileNotFoundError: [Errno 2] No such file or directory: '/x/out.json'\n")
    stderr = ("26/12/01 23:59:39 INFO BlockManager: BlockManager stopped\n"
              "26/12/01 23:59:39 INFO SparkContext: Successfully stopped SparkContext (Uptime: 64741 ms)\n")
    assert orch.job_failure_line(stdout, stderr) == ("FileNotFoundError: [Errno 2] No such file or directory: "
                                                     "'/x/out.json'")
    assert orch.job_failure_line("fediscope metrics: error: the lake /l is locked\n", stderr) == \
        "fediscope metrics: error: the lake /l is locked"
    assert orch.job_failure_line("", "Error: Missing application resource.\n" + stderr) == \
        "Error: Missing application resource."
    assert orch.job_failure_line("", "") == "no output"


KEY = "spark-submit-exits-pseudonym-key-0123456789abcdef"


def _job_env(settings: object) -> dict[str, str]:
    return orch.spark_submit_env(settings, {k: v for k, v in os.environ.items()
                                            if not k.startswith(("FEDISCOPE_", "PYSPARK_"))}
                                 | {"FEDISCOPE_PSEUDONYM_KEY": KEY})


@pytest.fixture
def sample_lake(tmp_path: Path) -> Path:
    """A lake of two fetch days, 2026-11-22..23, nothing curated."""
    from datetime import UTC, datetime, timedelta

    lake = tmp_path / "lake"
    write_raw_lake(LocalLake(lake), 40, seed=3, policy=PrivacyPolicy(key=KEY.encode()), instances=("a.example",),
                   end=datetime(2026, 11, 23, 23, tzinfo=UTC), window=timedelta(days=2))
    return lake


def _run_curate_job(spark_submit: str, sample_lake: Path, window: orch.BatchWindow) -> None:
    """The batch DAG's curation job of ``window`` over ``sample_lake``, run through the real spark-submit."""
    settings = orch.settings_from_overrides({"engine": "spark", "spark_master": "local[1]", "lake": str(sample_lake),
                                             "store": f"sqlite:///{sample_lake.parent / 'm.db'}"}, env={})
    curate, _ = orch.spark_submit_jobs(settings, window, spark_submit)
    orch._run_spark_job(curate, _job_env(settings), settings)


def test_a_damaged_raw_file_exits_6_and_is_raised_as_such(spark_submit: str, sample_lake: Path) -> None:
    """The real curation job, through the real spark-submit: a raw file cut short since it was landed exits 6, which
    the task raises as a DamagedBatchError (not retried), with the job's own line. Was exit 1, retried 8 times."""
    path = sorted(p for p in raw_batch_files(LocalLake(sample_lake)) if p.endswith(".jsonl"))[0]
    data = (sample_lake / path).read_bytes()
    (sample_lake / path).write_bytes(data[: len(data) - 10])
    with pytest.raises(DamagedBatchError) as info:
        _run_curate_job(spark_submit, sample_lake, orch.BatchWindow(date(2026, 11, 22), date(2026, 11, 23)))
    message = str(info.value)
    assert message.startswith("spark-submit fediscope-curate-2026-11-22 failed (exit 6): fediscope curate: error: "
                              "the raw file "), message
    assert Path(path).name in message and "cut short or damaged" in message, message


def test_an_interrupted_rebuild_exits_2_naming_the_runs_days(spark_submit: str, sample_lake: Path) -> None:
    """Under the DAG the job is given --window-name: its refusal names the run's days, not --since/--until, which
    the task has none of; exit 2, raised as a ConfigError (not retried)."""
    mark_rebuild_started(LocalLake(sample_lake), False)  # a `fediscope process --recurate` stopped part-way
    with pytest.raises(ConfigError) as info:
        _run_curate_job(spark_submit, sample_lake, orch.BatchWindow(date(2026, 11, 23), date(2026, 11, 23)))
    assert str(info.value) == (
        "spark-submit fediscope-curate-2026-11-23 failed (exit 2): fediscope curate: error: a rebuild of the curated "
        "tables (`fediscope process --recurate`) was interrupted before it finished: a run limited by this run's day "
        "2026-11-23 cannot finish it; run `fediscope process --recurate`")
