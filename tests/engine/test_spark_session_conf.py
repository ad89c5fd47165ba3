"""The local session `fediscope process --engine spark` starts: the user's Spark configuration is kept where it sets
what fediscope would otherwise choose, and a stray connection to pyspark's accumulator server is one log line.

Was: fediscope's local defaults (``spark.sql.shuffle.partitions`` 4, the web UI off, input files listed in the
driver) were given to the session builder, which puts them over ``spark-defaults.conf`` and ``PYSPARK_SUBMIT_ARGS``:
a user's ``spark.sql.shuffle.partitions 64`` was silently ignored. And any local process connecting to the
accumulator server's port (a port scan, a program probing ports) printed socketserver's 17-line traceback in the
middle of the run. One JVM serves both tests (a module fixture): the session's values and its stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from spark_warehouse import MISSING_TABLE_THEN_WAREHOUSE, assert_no_warehouse_left

ROOT = Path(__file__).resolve().parents[2]

# a session started as `fediscope process` starts it; then a connection to its accumulator server with a wrong token,
# read until the server closes it (after its error handler ran: socketserver handles the error, then closes)
SCRIPT = f"""
import logging, socket, sys
sys.path.insert(0, {str(ROOT)!r})
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("py4j").setLevel(logging.WARNING)
from fediscope.engine.spark_engine import build_session
session = build_session("local[1]")
print("shuffle", session.conf.get("spark.sql.shuffle.partitions"))
print("discovery", session.conf.get("spark.sql.sources.parallelPartitionDiscovery.threshold"))
print("timezone", session.conf.get("spark.sql.session.timeZone"))
print("progress", session.sparkContext.getConf().get("spark.ui.showConsoleProgress"))
print("warehouse", session.conf.get("spark.sql.warehouse.dir"))
sys.stdout.flush()
with socket.create_connection(session.sparkContext._accumulatorServer.server_address[:2]) as stray:
    stray.sendall(b"not the token " * 8)
    stray.recv(1)
session.stop()
"""


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("pyspark")
    from fediscope.engine.spark_engine import find_java

    if find_java() is None:
        pytest.skip("SPARK TESTS SKIPPED: no Java found; install a JDK 17+ or set JAVA_HOME")
    conf = tmp_path_factory.mktemp("spark-conf")
    # the user's choices: more shuffle partitions, and a session time zone fediscope must not take (it reads UTC)
    from jvm_options import QUICK_JVM

    # and the JIT's quick compiler only (tests/jvm_options.py), a Java option no check here reads: measured with the
    # test below and test_spark_start.py's quiet session, 44 s instead of 72-83 s beside the other helpers' load
    (conf / "spark-defaults.conf").write_text(f"spark.driver.extraJavaOptions {QUICK_JVM}\n"
                                              "spark.sql.shuffle.partitions 7\n"
                                              "spark.sql.session.timeZone America/New_York\n"
                                              f"spark.sql.warehouse.dir {(conf / 'warehouse').as_uri()}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "LOG4J"))}
    env["SPARK_CONF_DIR"] = str(conf)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.spark
def test_the_users_spark_defaults_are_kept_where_they_set_fediscopes_local_defaults(
        started: subprocess.CompletedProcess[str]) -> None:
    assert started.returncode == 0, started.stdout + started.stderr
    values = dict(line.split(" ", 1) for line in started.stdout.splitlines())
    assert values["shuffle"] == "7", values  # the user's, over fediscope's 4
    assert values["discovery"] == "100000", values  # fediscope's, where the user set nothing
    assert values["timezone"] == "UTC", values  # what fediscope's SQL relies on, whatever the user's says
    # no progress bar on the console (spark-submit turns it on for the pyspark shell it starts the JVM as: a first
    # fix, which kept every setting spark-submit's configuration held, drew the bar over `process`'s own lines)
    assert values["progress"] == "false", values
    assert values["warehouse"].endswith("/spark-conf0/warehouse"), values  # the user's, not fediscope's own


@pytest.mark.spark
def test_a_stray_connection_to_the_accumulator_server_is_one_warning_line(
        started: subprocess.CompletedProcess[str]) -> None:
    assert started.returncode == 0, started.stdout + started.stderr
    assert "Traceback" not in started.stderr and "Exception occurred" not in started.stderr, started.stderr
    warnings = [line for line in started.stderr.splitlines() if "accumulator server" in line]
    assert len(warnings) == 1, started.stderr
    assert warnings[0].startswith("WARNING fediscope.engine.spark_engine spark: pyspark's accumulator server refused "
                                  "a connection from ('127.0.0.1', "), warnings
    assert warnings[0].endswith("The value of the provided token to the AccumulatorServer is not correct."), warnings


# a session that names a table that is no view (a user's metric reading a missing table): Spark's catalog then makes
# its warehouse directory, spark-warehouse/ in the current directory unless told otherwise
IN_A_USERS_DIRECTORY = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from pyspark.errors import AnalysisException
from fediscope.engine import spark_engine
session = spark_engine.submitted_session("fediscope-test-job")
""" + MISSING_TABLE_THEN_WAREHOUSE


@pytest.mark.spark
@pytest.mark.slow
def test_a_session_leaves_no_spark_warehouse_in_the_directory_it_was_run_from(tmp_path: Path) -> None:
    """Was: ``fediscope process --engine spark`` (:func:`build_session`) and a job of spark_jobs/ under spark-submit
    (:func:`submitted_session`, here run by hand, as the jobs may be) made an empty ``spark-warehouse/`` in the
    current directory, the user's (the Spark tests: the checkout) once a query named a table that was no view. Now
    the warehouse is a directory of the process's own under TMPDIR, removed when the process exits.

    :func:`build_session`'s case is checked (tests/spark_warehouse.py, as here) in the session of
    tests/engine/test_spark_start.py's
    test_a_local_spark_starts_without_the_jvms_notices_and_keeps_the_users_java_options, whose user's
    spark-defaults.conf sets no warehouse (it started a JVM of its own here, ~9 s)."""
    pytest.importorskip("pyspark")
    from fediscope.engine.spark_engine import find_java

    if find_java() is None:
        pytest.skip("SPARK TESTS SKIPPED: no Java found; install a JDK 17+ or set JAVA_HOME")
    users, temporary = tmp_path / "home", tmp_path / "tmp"
    users.mkdir()
    temporary.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "LOG4J"))}
    env |= {"TMPDIR": str(temporary), "SPARK_CONF_DIR": str(tmp_path / "no-spark-conf")}  # no user configuration
    from jvm_options import quick_pyspark_submit_args  # the JIT's quick compiler only, as the session's above

    env["PYSPARK_SUBMIT_ARGS"] = quick_pyspark_submit_args("--master", "local[1]")
    done = subprocess.run([sys.executable, "-c", IN_A_USERS_DIRECTORY], cwd=users, capture_output=True,
                          text=True, env=env, timeout=300)
    assert_no_warehouse_left("submitted_session", done, users, temporary)
