"""Spark that does not start although its settings are valid is an :class:`EngineStartError`, which a scheduled task
retries, not a :class:`ConfigError`, which fails it at once.

Was: every failure of ``getOrCreate`` (a JVM that exited for want of memory, a cluster master restarting) was a
ConfigError, so the batch DAG's process task failed without its retries on what a retry mends. Java missing stays a
ConfigError (tests/engine/test_process.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from spark_warehouse import MISSING_TABLE_THEN_WAREHOUSE, assert_no_warehouse_left

from fediscope.errors import ConfigError, EngineStartError
from fediscope.orchestration import failing_at_once

ROOT = Path(__file__).resolve().parents[2]

# build_session in a fresh process (a test process may hold a live session, which getOrCreate would return)
SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from fediscope.engine.spark_engine import build_session
try:
    build_session("local[1]")
except Exception as exc:
    print(type(exc).__name__, isinstance(exc, __import__("fediscope.errors").errors.ConfigError))
    print(exc)
"""


def _start_with_a_java_that_exits(tmp_path: Path) -> list[str]:
    """build_session's error (its type, then its message) with a ``java`` that is there (so the settings check
    passes) but exits at once, as a JVM refused its heap (``SPARK_DRIVER_MEMORY=banana``) does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = bin_dir / "java"
    java.write_text("#!/bin/sh\necho 'Invalid maximum heap size: -Xmxbanana' >&2\nexit 1\n")
    java.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in {"JAVA_HOME", "SPARK_HOME"}}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert "-Xmxbanana" in done.stderr, done.stderr  # the JVM's own reason stays on stderr, above the error
    return done.stdout.splitlines()


def test_a_jvm_that_exits_at_start_is_an_engine_start_error(tmp_path: Path) -> None:
    lines = _start_with_a_java_that_exits(tmp_path)
    assert lines and lines[0] == "EngineStartError False", lines
    assert lines[1].startswith("cannot start Spark with master 'local[1]': "), lines
    assert "FEDISCOPE_ENGINE=duckdb" in lines[1]


def test_a_jvm_that_exits_at_start_points_at_what_it_was_started_with(tmp_path: Path) -> None:
    """Was: "[JAVA_GATEWAY_EXITED] … (check FEDISCOPE_SPARK_MASTER and that Java 17+ is installed …)" for a bad
    ``SPARK_DRIVER_MEMORY``, after the checks had found Java 17 and a valid master: it now names where the JVM's
    options come from and the JVM's own message printed above it."""
    message = _start_with_a_java_that_exits(tmp_path)[1]

    assert "its Java process exited at start; the JVM's message above says why" in message, message
    assert "SPARK_DRIVER_MEMORY, PYSPARK_SUBMIT_ARGS or spark-defaults.conf" in message
    assert "check FEDISCOPE_SPARK_MASTER" not in message


def test_a_scheduled_task_retries_an_engine_start_error_and_not_a_config_error() -> None:
    with pytest.raises(EngineStartError), failing_at_once():
        raise EngineStartError("cannot start Spark")
    pytest.importorskip("airflow")
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException), failing_at_once():
        raise ConfigError("engine=spark: Java not found")


# a local session started as fediscope starts it, with the process's log level from the command line; then a query
# naming a table that is no view (a user's metric reading a missing table), after which Spark's catalog has made its
# warehouse directory (tests/engine/test_spark_session_conf.py)
QUIET_SCRIPT = f"""
import logging, sys
sys.path.insert(0, {str(ROOT)!r})
logging.basicConfig(level=sys.argv[1])
logging.getLogger("py4j").setLevel(logging.WARNING)
from pyspark.errors import AnalysisException
from fediscope.engine.spark_engine import build_session
session = build_session("local[1]")
print(session.range(3).count(), session.sparkContext._jvm.java.lang.System.getProperty("fediscope.test.marker"))
""" + MISSING_TABLE_THEN_WAREHOUSE
NOTICES = ("Using Spark's default log4j profile", "Setting default log level", "WARN NativeCodeLoader", "WARN Utils")


@pytest.mark.spark
def test_a_local_spark_starts_without_the_jvms_notices_and_keeps_the_users_java_options(tmp_path: Path) -> None:
    """Spark's default log profile printed about eight lines (its profile, the loopback address, the native Hadoop
    library, how to set the log level) on every `fediscope process --engine spark`. The driver's Java options of
    the user's spark-defaults.conf are kept (a first fix replaced them). When the quiet configuration is not used
    (DEBUG, the user's own): test_the_quiet_configuration_is_used_only_where_nothing_else_is_asked_for.

    The same session (its JVM's start is most of the test's time) is :func:`build_session`'s case of
    tests/engine/test_spark_session_conf.py's test_a_session_leaves_no_spark_warehouse_in_the_directory_it_was_run_from
    (the user's spark-defaults.conf sets no warehouse): see there."""
    from jvm_options import QUICK_JVM

    # the user's Java options, a marker among the JIT's quick compiler's (tests/jvm_options.py: less of the JVM's CPU)
    (tmp_path / "spark-defaults.conf").write_text(
        f"spark.driver.extraJavaOptions -Dfediscope.test.marker=kept {QUICK_JVM}\n")
    users, temporary = tmp_path / "home", tmp_path / "tmp"
    users.mkdir()
    temporary.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "LOG4J"))}
    env |= {"SPARK_CONF_DIR": str(tmp_path), "TMPDIR": str(temporary)}

    done = subprocess.run([sys.executable, "-c", QUIET_SCRIPT, "WARNING"], capture_output=True, text=True, env=env,
                          cwd=users, timeout=300)

    assert done.returncode == 0 and done.stdout.split()[:2] == ["3", "kept"], done.stdout + done.stderr
    assert [notice for notice in NOTICES if notice in done.stderr] == [], done.stderr
    assert_no_warehouse_left("build_session", done, users, temporary)


@pytest.mark.parametrize("case", ["quiet", "debug", "variable set", "log4j2 file in SPARK_CONF_DIR"])
def test_the_quiet_configuration_is_used_only_where_nothing_else_is_asked_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """It is put in place (log4j2's variable, which the JVM inherits) only while the JVM starts, and not at DEBUG, over
    the user's own variable, or over a log4j2 file in Spark's configuration directory."""
    from fediscope.engine.spark_engine import LOCAL_LOG4J2, _quiet_local_jvm

    monkeypatch.delenv("LOG4J_CONFIGURATION_FILE", raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    if case == "variable set":
        monkeypatch.setenv("LOG4J_CONFIGURATION_FILE", "/etc/mine.xml")
    if case == "log4j2 file in SPARK_CONF_DIR":
        (tmp_path / "log4j2.properties").write_text("rootLogger.level = info\n")

    with _quiet_local_jvm(case != "debug"):
        during = os.environ.get("LOG4J_CONFIGURATION_FILE")

    assert during == {"quiet": LOCAL_LOG4J2.as_uri(), "variable set": "/etc/mine.xml"}.get(case)
    assert os.environ.get("LOG4J_CONFIGURATION_FILE") == ("/etc/mine.xml" if case == "variable set" else None)
    assert LOCAL_LOG4J2.is_file()


def _fake_java(directory: Path, version_line: str) -> Path:
    """``directory/bin/java``, a script answering ``-version`` as a JDK does (on stderr), and nothing else."""
    java = directory / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\nexit 1\n")
    java.chmod(0o755)
    return java


@pytest.mark.parametrize(("version_line", "major"), [('openjdk version "11.0.22" 2024-01-16', 11),
                                                     ('java version "1.8.0_402"', 8)])
def test_a_java_too_old_for_spark_is_a_setting_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       version_line: str, major: int) -> None:
    """Refused before the JVM starts (a ConfigError, not retried); it was JAVA_GATEWAY_EXITED, retried 3 times."""
    from fediscope.engine.spark_engine import build_session

    java = _fake_java(tmp_path / "jdk", version_line)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))

    with pytest.raises(ConfigError) as raised:
        build_session("local[1]")

    assert str(raised.value).startswith(f"engine=spark: Java {major} found at {java}; Spark needs Java 17+")
    assert "FEDISCOPE_ENGINE=duckdb" in str(raised.value)


def test_java_home_is_the_java_spark_runs_even_with_another_on_path(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """spark-class runs $JAVA_HOME/bin/java when JAVA_HOME is set: a JAVA_HOME without one is refused as a setting
    even though a java is on PATH (it was accepted, and Spark then failed to start)."""
    from fediscope.engine.spark_engine import build_session, find_java

    on_path = _fake_java(tmp_path / "path", 'openjdk version "17.0.12" 2024-07-16')
    monkeypatch.setenv("PATH", f"{on_path.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "empty-jdk"))

    assert find_java() is None
    with pytest.raises(ConfigError, match=r"JAVA_HOME=.*empty-jdk has no bin/java \(Spark runs that one"):
        build_session("local[1]")
    monkeypatch.delenv("JAVA_HOME")
    assert find_java() == str(on_path)



# -- a cluster master that does not answer -------------------------------------------------------------------


def _closed_port() -> int:
    """A port on 127.0.0.1 that was bound, then closed: nothing listens there (a connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _listening() -> Iterator[int]:
    """A plain TCP listener on 127.0.0.1 (what the probe asks of a master: to take a connection), its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _recording_java(directory: Path) -> tuple[Path, Path]:
    """``directory/bin/java`` answering ``-version`` as Java 17 (build_session's check runs that) and recording any
    other run, such as Spark's launcher starting the driver's JVM, in ``directory/jvm-started`` before it exits 1."""
    started = directory / "jvm-started"
    java = directory / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n"
                    "if [ \"$1\" = -version ]; then echo 'openjdk version \"17.0.12\" 2024-07-16' >&2; exit 0; fi\n"
                    f"echo \"$@\" >> '{started}'\nexit 1\n")
    java.chmod(0o755)
    return java.parent, started


@pytest.mark.parametrize("master, reason", [
    ("spark://127.0.0.1:{closed}", "127.0.0.1:{closed}: connection refused (nothing listens on that port)"),
    ("spark://nohost.invalid:7077", "nohost.invalid:7077: the host name does not resolve"),
    ("spark://nohost.invalid:7077,127.0.0.1:{closed}", "nohost.invalid:7077: the host name does not resolve"),
])
def test_process_with_a_master_that_does_not_answer_fails_before_starting_the_jvm(
        tmp_path: Path, master: str, reason: str) -> None:
    """Was: the driver's JVM started and retried the master for about 86 s, then `process` ended with Spark's
    "Could not initialize SparkContext"-kind message naming neither the address nor what to check. Now the master's
    address is probed first: one line naming it and the failure, exit 1 (an EngineStartError, retried by a
    scheduled task: a master restarting answers again), and Spark's launcher never ran ``java``."""
    from engine_data import KEY, at, land, policy, statuses

    from fediscope.lake.local import LocalLake

    closed = _closed_port()
    master, reason = master.format(closed=closed), reason.format(closed=closed)
    land(LocalLake(tmp_path / "lake"), "statuses", statuses("test_public_tl.json"), at(0), policy())
    bin_dir, jvm_started = _recording_java(tmp_path / "jdk")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "JAVA_HOME", "LOG4J"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT), FEDISCOPE_ENGINE="spark",
               FEDISCOPE_SPARK_MASTER=master, FEDISCOPE_LAKE=str(tmp_path / "lake"),
               FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}", FEDISCOPE_PSEUDONYM_KEY=KEY.decode())

    done = subprocess.run([sys.executable, "-m", "fediscope", "process"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)

    assert not jvm_started.exists(), jvm_started.read_text()
    errors = [line for line in done.stderr.splitlines() if not line.startswith("process: ")]  # its progress lines
    assert done.returncode == 1 and len(errors) == 1, done.stderr
    assert errors[0].startswith("fediscope: error: cannot start Spark: "), errors
    assert master in errors[0] and reason in errors[0], errors
    assert "is the Spark master running, and is FEDISCOPE_SPARK_MASTER its right address?" in errors[0]


@pytest.mark.parametrize("conf_variable", [None, "HADOOP_CONF_DIR", "YARN_CONF_DIR"])
def test_a_yarn_master_without_hadoop_conf_dir_is_a_setting_to_fix_before_the_jvm(tmp_path: Path,
                                                                                  conf_variable: str | None) -> None:
    """Was: the driver's JVM started, spark-submit printed its stack trace ("Exception in thread "main" …
    When running with master 'yarn' either HADOOP_CONF_DIR or YARN_CONF_DIR must be set", ten ``at …`` lines), and
    `process` ended with "its Java process exited at start" pointing at the driver memory (exit 1, which a scheduled
    task retries). Now one line naming the variables, exit 2, and Spark's launcher never ran ``java``; with either
    variable set the JVM is started as before (the recording java then exits 1)."""
    from engine_data import KEY, at, land, policy, statuses

    from fediscope.lake.local import LocalLake

    land(LocalLake(tmp_path / "lake"), "statuses", statuses("test_public_tl.json"), at(0), policy())
    bin_dir, jvm_started = _recording_java(tmp_path / "jdk")
    env = {k: v for k, v in os.environ.items() if not k.startswith(
        ("FEDISCOPE_", "PYSPARK_", "SPARK_", "JAVA_HOME", "LOG4J", "HADOOP_CONF_DIR", "YARN_CONF_DIR"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT), FEDISCOPE_ENGINE="spark",
               FEDISCOPE_SPARK_MASTER="yarn", FEDISCOPE_LAKE=str(tmp_path / "lake"),
               FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}", FEDISCOPE_PSEUDONYM_KEY=KEY.decode())
    if conf_variable:
        env[conf_variable] = str(tmp_path)

    done = subprocess.run([sys.executable, "-m", "fediscope", "process"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)

    errors = [line for line in done.stderr.splitlines() if not line.startswith("process: ")]  # its progress lines
    if conf_variable:
        assert jvm_started.exists() and done.returncode == 1, done.stderr
        return
    assert not jvm_started.exists(), jvm_started.read_text()
    assert done.returncode == 2 and errors == [
        "fediscope: error: FEDISCOPE_SPARK_MASTER=yarn: a yarn master needs HADOOP_CONF_DIR or YARN_CONF_DIR set to "
        "the directory of the cluster's yarn-site.xml and core-site.xml (Hadoop's client finds the ResourceManager "
        "there); or use FEDISCOPE_ENGINE=duckdb"], done.stderr


def test_a_listening_master_passes_the_probe() -> None:
    """Any one address of a master with standby masters answering is enough; so is a k8s API server's."""
    from fediscope.engine.spark_engine import require_reachable_master, unreachable_master

    closed = _closed_port()
    with _listening() as port:
        assert unreachable_master(f"spark://127.0.0.1:{port}") is None
        assert unreachable_master(f"spark://127.0.0.1:{closed},127.0.0.1:{port}") is None
        assert unreachable_master(f"k8s://http://127.0.0.1:{port}") is None
        require_reachable_master(f"spark://127.0.0.1:{port}")
    assert unreachable_master(f"spark://127.0.0.1:{port}") == (
        f"127.0.0.1:{port}: connection refused (nothing listens on that port)")
    with pytest.raises(EngineStartError, match=r"the Kubernetes API server of k8s://http://127\.0\.0\.1:\d+ does "
                                               r"not answer \(127\.0\.0\.1:\d+: connection refused"):
        require_reachable_master(f"k8s://http://127.0.0.1:{port}")


@pytest.mark.parametrize("master, addresses", [
    ("spark://m1:7077", [("m1", 7077)]),
    ("spark://m1:7077, m2:7078", [("m1", 7077), ("m2", 7078)]),
    ("spark://[::1]:7077", [("::1", 7077)]),
    ("k8s://https://api.example:6443", [("api.example", 6443)]),
    ("k8s://api.example:6443", [("api.example", 6443)]),  # https when no scheme is given, as Spark reads it
    ("k8s://https://api.example", [("api.example", 443)]),
    ("k8s://http://api.example", [("api.example", 80)]),
    ("yarn", []),  # its ResourceManager is in HADOOP_CONF_DIR's yarn-site.xml: nothing to probe
    ("local[2]", []),
])
def test_the_addresses_a_master_is_probed_at(master: str, addresses: list[tuple[str, int]]) -> None:
    from fediscope.engine.spark_engine import master_addresses

    assert master_addresses(master) == addresses


@pytest.mark.parametrize("master", ["spark://m1", "spark://m1:7077,m2", "spark://m1:x", "spark://m1:7077,",
                                    "spark://m1:7077/"])
def test_a_spark_master_without_its_port_is_a_setting_to_fix(master: str) -> None:
    """Spark refuses it ("Invalid master URL", after starting the JVM); probing port 7077 instead would pass a
    master that Spark then refuses. A ConfigError: no retry mends it."""
    from fediscope.engine.spark_engine import require_reachable_master

    with pytest.raises(ConfigError, match=r"is not host:port; Spark needs each master's port, e\.g\. "
                                          r"spark://host:7077"):
        require_reachable_master(master)


@pytest.mark.parametrize(("master", "refusal"), [
    ("spark://admin:s3cret@m1:7077", "spark://***@m1:7077: a master's address holds no user name or password "
                                     "(Spark refuses them): give spark://host:7077"),
    # was: accepted, and probed at api.example:6443
    ("k8s://https://admin:s3cret@api.example:6443", "k8s://https://***@api.example:6443: a master's address holds "
                                                    "no user name or password (Spark authenticates to Kubernetes "
                                                    "with your kubeconfig or its spark.kubernetes.authenticate.* "
                                                    "settings): give k8s://https://host:6443"),
])
def test_a_submitted_master_with_a_password_is_refused_without_showing_it(master: str, refusal: str) -> None:
    """spark-submit's ``--master`` is not checked when the settings load: the probe refuses a user name or password
    before the address, of a standalone master (as Spark would) and of a Kubernetes API server alike, and the line
    shows neither (it may be a secret)."""
    from fediscope.engine.spark_engine import SUBMITTED_MASTER, require_reachable_master

    with pytest.raises(ConfigError) as caught:
        require_reachable_master(master, origin=SUBMITTED_MASTER)
    assert str(caught.value) == f"{SUBMITTED_MASTER}={refusal}"


def test_a_master_whose_connection_times_out_is_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A firewall that drops the packets: the probe's wait ends (no real wait here: the connection fails as a timed
    out one does), and the line says how long it waited."""
    from fediscope.engine import spark_engine

    def timed_out(address: tuple[str, int], timeout: float) -> socket.socket:
        raise TimeoutError("timed out")

    monkeypatch.setattr(spark_engine.socket, "create_connection", timed_out)
    assert spark_engine.unreachable_master("spark://m1:7077,m2:7077", timeout=5) == (
        "m1:7077: no answer within 5 s; m2:7077: no answer within 5 s")


@pytest.mark.parametrize("master", ["spark://a..b:7077", f"spark://{'x' * 70}.example:7077", "k8s://https://.api"])
def test_a_master_whose_host_name_is_not_valid_is_said_so(master: str) -> None:
    """Python's resolver refuses an empty or over-long label with a UnicodeError (the idna codec), not an OSError:
    it is one more address that does not answer, not a traceback."""
    from fediscope.engine.spark_engine import require_reachable_master, unreachable_master

    assert "the host name is not valid (label empty or too long)" in (unreachable_master(master, timeout=1) or "")
    with pytest.raises(EngineStartError, match="the host name is not valid"):
        require_reachable_master(master, timeout=1)


# -- the master of a job of spark_jobs/, as spark-submit gives it ---------------------------------------------


def _lake_files(lake_dir: Path) -> list[str]:
    return sorted(p.relative_to(lake_dir).as_posix() for p in lake_dir.rglob("*") if p.is_file())


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("job, master, exit_code, line", [
    ("curate", "spark://127.0.0.1:{closed}",
     1, "fediscope curate: error: cannot start Spark: the Spark master of spark://127.0.0.1:{closed} does not answer "
        "(127.0.0.1:{closed}: connection refused (nothing listens on that port)): is the Spark master running, and "
        "is spark.master (spark-submit's --master) its right address?"),
    ("metrics", "spark://127.0.0.1",
     2, "fediscope metrics: error: spark.master=spark://127.0.0.1: '127.0.0.1' is not host:port; Spark needs each "
        "master's port, e.g. spark://host:7077 (spark://h1:7077,h2:7077 with standby masters)"),
    # spark-submit passes on a master that starts with "local": was the SparkContext's "Could not parse Master URL"
    # as a Python traceback
    ("curate", "local[x]",
     2, "fediscope curate: error: spark.master=local[x]: not a Spark master URL; give spark-submit's --master one of "
        "local[N], local[*], spark://host:7077, yarn or k8s://…"),
    # was taken as a local master: with no worker the job waited forever, with less memory than an executor's
    # the SparkContext failed in the JVM
    ("curate", "local-cluster[0,1,1024]",
     2, "fediscope curate: error: spark.master=local-cluster[0,1,1024]: local-cluster[…] is Spark's mode for its own "
        "unit tests, which fediscope does not run: give local[N] (N threads on this machine) or a cluster's master "
        "(spark://host:7077, yarn, k8s://…)"),
])
def test_a_spark_job_probes_the_master_spark_submit_gave_it(tmp_path: Path, job: str, master: str, exit_code: int,
                                                            line: str) -> None:
    """spark_jobs/curate.py and metrics.py under spark-submit: the master of ``--master`` (not FEDISCOPE_SPARK_MASTER,
    unset here) is probed before the SparkContext connects to it, as `fediscope process --engine spark` probes its
    own. Was: the SparkContext retried a master that took no connection for over a minute, then the job ended in
    a Python traceback; a master without its port, in Spark's "Invalid master URL" traceback."""
    import pyspark
    from engine_data import KEY, at, land, policy, settings_for, statuses
    from jvm_options import QUICK_JVM

    from fediscope.engine.process import run_process
    from fediscope.lake.local import LocalLake

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("SPARK TESTS SKIPPED: no Java found; install a JDK 17+ or set JAVA_HOME")
    lake_dir = tmp_path / "lake"
    land(LocalLake(lake_dir), "statuses", statuses("test_public_tl.json"), at(0), policy())
    if job == "metrics":  # it runs on a curated lake only
        run_process(settings_for(lake_dir), progress=False)
    before = _lake_files(lake_dir)
    closed = _closed_port()
    master, line = master.format(closed=closed), line.format(closed=closed)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_"))}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, PYTHONPATH=str(ROOT),
               FEDISCOPE_PSEUDONYM_KEY=KEY.decode())
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"

    # the JIT's quick compiler only (tests/jvm_options.py), an option of the driver's JVM, not of its master: measured
    # beside the other helpers' load, the 4 cases took 15.4-15.6 s of CPU instead of 20.0-21.0 s
    done = subprocess.run([str(spark_submit), "--master", master, "--deploy-mode", "client",
                           "--driver-java-options", QUICK_JVM,
                           str(ROOT / "spark_jobs" / f"{job}.py"), "--lake", str(lake_dir),
                           *(["--no-store"] if job == "metrics" else [])],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    # spark-submit passes the driver's stderr on as its stdout; the JVM's own log is on its stderr
    assert (done.returncode, done.stdout.splitlines()) == (exit_code, [line]), done.stderr[-3000:]
    assert _lake_files(lake_dir) == before  # nothing curated, the lake lock released


@pytest.mark.parametrize("job", ["curate", "metrics"])
def test_a_spark_job_run_by_hand_without_java_says_so_in_one_line(tmp_path: Path, job: str) -> None:
    """spark_jobs/*.py run with python (no spark-submit, so the driver's JVM is started by the job): Java that is
    not there is a setting to fix, said in one line with exit 2, as `fediscope process --engine spark` says it.
    Was: pyspark's JAVA_GATEWAY_EXITED traceback. Needs no Java: the check is made before any JVM."""
    from engine_data import KEY, at, land, policy, settings_for, statuses

    from fediscope.engine.process import run_process
    from fediscope.lake.local import LocalLake

    lake_dir = tmp_path / "lake"
    land(LocalLake(lake_dir), "statuses", statuses("test_public_tl.json"), at(0), policy())
    if job == "metrics":  # it runs on a curated lake only
        run_process(settings_for(lake_dir), progress=False)
    before = _lake_files(lake_dir)
    no_java = tmp_path / "jdk"
    no_java.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_"))}
    env.update(JAVA_HOME=str(no_java), PYTHONPATH=str(ROOT), FEDISCOPE_PSEUDONYM_KEY=KEY.decode())

    done = subprocess.run([sys.executable, str(ROOT / "spark_jobs" / f"{job}.py"), "--lake", str(lake_dir),
                           *(["--no-store"] if job == "metrics" else [])],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.splitlines() == [
        f"fediscope {job}: error: cannot start Spark: Java not found (JAVA_HOME={no_java} has no bin/java (Spark "
        "runs that one when JAVA_HOME is set)); install Java 17 (apt-get install openjdk-17-jre-headless); or run "
        "the job with spark-submit on a machine that has it"]
    assert "Traceback" not in done.stdout + done.stderr
    assert _lake_files(lake_dir) == before
