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
from fediscope.errors import FediscopeError

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
    with pytest.raises(FediscopeError) as info:
        orch._run_spark_job(curate, env, settings)
    message = str(info.value)
    assert message.startswith("spark-submit fediscope-curate-2026-11-23 failed (exit 1): fediscope curate: error: "
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
