"""The JVM's log of a job of spark_jobs/ under spark-submit: errors only once its SparkContext started, unless the
user chose a log configuration of their own.

Was: the jobs kept the log settings they were submitted with, Spark's defaults without a log4j2 file of the user's:
every INFO line, each query's plans among them (27,000 lines on stderr for a curation of 2,000 statuses), where
``fediscope process --engine spark`` prints none.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Lines Spark logs at INFO while it runs a job (a query's code generated, a job started), never before its
#: SparkContext has started: the JVM's own start-up lines, logged before the job can lower its level, are not these.
JOB_INFO = re.compile(r" INFO (?:DAGScheduler|CodeGenerator): ")


@pytest.mark.spark
@pytest.mark.slow
def test_a_submitted_curation_logs_no_info_lines_unless_the_user_configured_them(tmp_path: Path) -> None:
    """Spark's defaults: its ``conf`` directory as a Spark distribution ships it (a ``log4j2.properties.template``,
    which log4j2 does not read). The user's own ``log4j2.properties`` at INFO is honoured: checked by the submitted
    curation of tests/engine/test_spark_job_interrupt.py's "job running" case, which fails unless the job logs
    Spark's " INFO DAGScheduler: Got job " with it (was a second submitted curation here, ~19 s)."""
    import pyspark
    from engine_data import KEY, at, interactions, land
    from jvm_options import QUICK_JVM

    from fediscope.lake.local import LocalLake

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("SPARK TESTS SKIPPED: no Java found; install a JDK 17+ or set JAVA_HOME")
    lake_dir = tmp_path / "lake"
    # A curation of one recorded fetch of /api/v1/instance/peers: a few Spark jobs (one merge), where a timeline's
    # statuses took the statuses' passes and every other table's merges too (most of the test's time, in a JVM that
    # runs this one job). It is still curate.py's own session and log set-up that is checked, and still a job that
    # runs Spark jobs, whose INFO lines would be there if it kept Spark's defaults' INFO level.
    peers = interactions("test_instance_peers.json")[0]["response"]["body"]
    land(LocalLake(lake_dir), "instance_peers", peers, at(0), endpoint="/api/v1/instance/peers")
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "log4j2.properties.template").write_text("rootLogger.level = info\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "LOG4J"))}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, PYTHONPATH=str(ROOT),
               FEDISCOPE_PSEUDONYM_KEY=KEY.decode(), SPARK_CONF_DIR=str(conf_dir))
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"

    # 2 shuffle partitions, as the tests' own session (tests/conftest.py): Spark's default of 200 made each of the
    # curation's shuffles 200 tasks, most of the test's time (a submitted job keeps the configuration it is given, so
    # this one is given that). Not a log setting: what the test is about stays Spark's defaults.
    # The JIT's quick compiler only (tests/jvm_options.py: less CPU for the JVM's compiler), a Java option that names no
    # log configuration, as "another option" below: what the job decides from the driver's options stays the same.
    done = subprocess.run([str(spark_submit), "--master", "local[1]", "--conf", "spark.sql.shuffle.partitions=2",
                           "--driver-java-options", QUICK_JVM, str(ROOT / "spark_jobs" / "curate.py"),
                           "--lake", str(lake_dir)], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.splitlines()[-1].startswith("{"), done.stdout[-3000:]  # the summary
    assert json.loads(done.stdout.splitlines()[-1])["peers"] == len(peers), done.stdout[-3000:]  # curated them
    job_info = [line for line in done.stderr.splitlines() if JOB_INFO.search(line)]
    assert job_info == [], f"{len(job_info)} lines, first: {job_info[:3]}"


@pytest.mark.parametrize(("case", "chosen"), [
    ("nothing", False), ("Spark's template", False), ("log4j2.properties", True), ("log4j2-test.xml", True),
    ("variable", True), ("-Dlog4j option", True), ("another option", False)])
def test_the_users_log_configuration_is_found_where_log4j2_reads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, chosen: bool) -> None:
    """A Spark distribution's ``conf/log4j2.properties.template`` is no configuration (log4j2 does not read it), and
    the driver's Java options can name one (``-Dlog4j.configurationFile=…``, ``-Dlog4j2.level=…``)."""
    from fediscope.engine.spark_engine import _users_log_configuration

    monkeypatch.delenv("LOG4J_CONFIGURATION_FILE", raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    if case in ("Spark's template", "log4j2.properties", "log4j2-test.xml"):
        name = "log4j2.properties.template" if case == "Spark's template" else case
        (tmp_path / name).write_text("rootLogger.level = info\n")
    if case == "variable":
        monkeypatch.setenv("LOG4J_CONFIGURATION_FILE", "/etc/mine.xml")
    options = {"-Dlog4j option": "-Dx=1 -Dlog4j.configurationFile=file:/etc/mine.xml",
               "another option": "-XX:+UseG1GC -Dfediscope.test.marker=kept"}.get(case, "")

    assert _users_log_configuration(options) is chosen
