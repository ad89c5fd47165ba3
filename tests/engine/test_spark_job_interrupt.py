"""Ctrl-C on a job of spark_jobs/ under spark-submit: one line, exit 130, the lake lock released.

Was: the SparkContext's own SIGINT handler cancelled the jobs and raised KeyboardInterrupt, which the job did not
catch: a Python traceback on spark-submit's stdout, and no word that the job was interrupted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


#: What spark-submit's JVM logs at INFO as the SparkContext runs a job: the job keeps INFO only when the user chose a
#: log configuration of their own (else it logs errors only once its SparkContext started), so the test gives one.
#: Seeing it is also the check that a submitted job honours the user's log4j2.properties at INFO (was a submitted
#: curation of its own in tests/engine/test_spark_job_log.py, which checks Spark's defaults: no such line).
JOB_STARTED = " INFO DAGScheduler: Got job "


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("when", ["lock taken", "job running"])
def test_ctrl_c_stops_a_submitted_curation_with_one_line(tmp_path: Path, when: str) -> None:
    """Pressed once the job holds the lake lock (Spark starting, or already at work), or while a Spark job runs."""
    import pyspark
    from engine_data import KEY, at, info_spark_conf_dir, land, policy, statuses
    from jvm_options import QUICK_JVM

    from fediscope.lake.local import LocalLake

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("SPARK TESTS SKIPPED: no Java found; install a JDK 17+ or set JAVA_HOME")
    lake_dir = tmp_path / "lake"
    land(LocalLake(lake_dir), "statuses", statuses("test_public_tl.json"), at(0), policy())
    lock = lake_dir / "_state" / "process.lock"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "LOG4J"))}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, PYTHONPATH=str(ROOT),
               FEDISCOPE_PSEUDONYM_KEY=KEY.decode(), SPARK_CONF_DIR=str(info_spark_conf_dir(tmp_path / "conf")))
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"

    # its own process group, as a terminal's foreground job: Ctrl-C reaches spark-submit's JVM and the driver alike.
    # The JIT's quick compiler only (tests/jvm_options.py), a Java option that names no log configuration (as in
    # test_spark_job_log.py): measured beside the other helpers' load, the "job running" case took 16-17 s of CPU
    # instead of 27-29 s (23-27 s instead of 53-60 s).
    job = subprocess.Popen([str(spark_submit), "--master", "local[1]", "--driver-java-options", QUICK_JVM,
                            str(ROOT / "spark_jobs" / "curate.py"), "--lake", str(lake_dir)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, cwd=tmp_path, start_new_session=True)
    log: list[str] = []
    running = threading.Event()

    def read_log() -> None:
        assert job.stderr is not None
        for line in job.stderr:
            log.append(line)
            if JOB_STARTED in line:
                running.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not lock.exists() and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the job holds the lake lock: it is at work, Spark starting or curating
        assert lock.exists(), "the job never took the lake lock"
        if when == "job running":
            deadline = time.monotonic() + 240
            while not running.wait(0.1) and job.poll() is None and time.monotonic() < deadline:
                pass  # the job's first Spark job, or its end (then its log read to the end)
            if not running.is_set():
                reader.join(timeout=30)
            assert running.is_set(), ("the user's log4j2.properties (INFO) was not honoured, or no Spark job "
                                      f"started: no {JOB_STARTED.strip()!r} line\n" + "".join(log)[-3000:])
        os.killpg(job.pid, signal.SIGINT)
        assert job.stdout is not None
        stdout = job.stdout.read()
        job.wait(timeout=240)
        reader.join(timeout=30)
        stderr = "".join(log)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()

    # spark-submit passes the driver's stderr on as its stdout; the JVM's own log is on its stderr
    assert stdout.splitlines() == ["fediscope curate: interrupted"], stdout[-3000:] + stderr[-3000:]
    assert job.returncode == 130
    assert not lock.exists()  # released
