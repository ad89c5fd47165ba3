"""Spark that does not start although its settings are valid is an :class:`EngineStartError`, which a scheduled task
retries, not a :class:`ConfigError`, which fails it at once.

Was: every failure of ``getOrCreate`` (a JVM that exited for want of memory, a cluster master restarting) was a
ConfigError, so the batch DAG's process task failed without its retries on what a retry mends. Java missing stays a
ConfigError (tests/engine/test_process.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


# a local session started as fediscope starts it, with the process's log level from the command line
QUIET_SCRIPT = f"""
import logging, sys
sys.path.insert(0, {str(ROOT)!r})
logging.basicConfig(level=sys.argv[1])
logging.getLogger("py4j").setLevel(logging.WARNING)
from fediscope.engine.spark_engine import build_session
session = build_session("local[1]")
print(session.range(3).count(), session.sparkContext._jvm.java.lang.System.getProperty("fediscope.test.marker"))
"""
NOTICES = ("Using Spark's default log4j profile", "Setting default log level", "WARN NativeCodeLoader", "WARN Utils")


@pytest.mark.spark
def test_a_local_spark_starts_without_the_jvms_notices_and_keeps_the_users_java_options(tmp_path: Path) -> None:
    """Spark's default log profile printed about eight lines (its profile, the loopback address, the native Hadoop
    library, how to set the log level) on every `fediscope process --engine spark`. The driver's Java options of
    the user's spark-defaults.conf are kept (a first fix replaced them). When the quiet configuration is not used
    (DEBUG, the user's own): test_the_quiet_configuration_is_used_only_where_nothing_else_is_asked_for."""
    (tmp_path / "spark-defaults.conf").write_text("spark.driver.extraJavaOptions -Dfediscope.test.marker=kept\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEDISCOPE_", "PYSPARK_", "SPARK_", "LOG4J"))}
    env["SPARK_CONF_DIR"] = str(tmp_path)

    done = subprocess.run([sys.executable, "-c", QUIET_SCRIPT, "WARNING"], capture_output=True, text=True, env=env,
                          timeout=300)

    assert done.returncode == 0 and done.stdout.split() == ["3", "kept"], done.stdout + done.stderr
    assert [notice for notice in NOTICES if notice in done.stderr] == [], done.stderr


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

