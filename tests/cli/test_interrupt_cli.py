"""Ctrl-C during a command: one line and exit 130, also when a library turns the interrupt into its own error.

DuckDB ends a running query on SIGINT with ``RuntimeError: Query interrupted`` rather than letting the
KeyboardInterrupt through; Ctrl-C during ``fediscope process`` (curation or a metric) printed a traceback and
exited 1. And DuckDB noticed it only between a query's pipelines: one long pipeline ran on to its end first
(fediscope.interrupts relays it to the engine's connection at once).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from child_process import child

from fediscope.interrupts import SignalRelay, interrupt_all, on_interrupt

#: Seconds of work in many short pipelines: DuckDB looks for Ctrl-C between tasks, so one long pipeline
#: (a single huge range) may not notice it for minutes.
LONG_QUERY = ("SELECT sum(x) FROM (" + " UNION ALL ".join(
    f"SELECT sum(hash(i + {n})) AS x FROM range(5000000) t(i)" for n in range(400)) + ")")

# A command that runs a DuckDB query long enough to be interrupted, registered beside the real ones and run
# through the real entry point (fediscope.cli.main), as the `fediscope` script does.
SCRIPT = textwrap.dedent("""
    import sys
    import click
    import duckdb
    from fediscope import cli

    @click.command()
    def spin():
        con = duckdb.connect()
        print("ready", flush=True)
        con.execute(QUERY).fetchall()

    QUERY = "{query}"
    cli.COMMANDS["spin"] = ("__main__:spin", "a long DuckDB query")
    cli.main(sys.argv[1:])
""").format(query=LONG_QUERY)


#: One pipeline of about a minute on this machine. DuckDB's client stops a plain query at once on SIGINT, but a
#: COPY (how curation writes) and an Arrow fetch (how metrics are read) only at their end, without the relay.
ONE_LONG_PIPELINE = "SELECT count(*) FROM range(3000000000) t(i) WHERE hash(i) % 7 = 1"

# The same, on the engine `fediscope process` runs (registered for the relay as the real one is).
ENGINE_SCRIPT = textwrap.dedent("""
    import sys
    import click
    from fediscope import cli
    from fediscope.config import load_settings
    from fediscope.engine.duckdb_engine import DuckDBEngine

    @click.command()
    def spin():
        with DuckDBEngine(load_settings(env={{}}, toml_path=None, lake=sys.argv[2])) as engine:
            print("ready", flush=True)
            if sys.argv[3] == "copy":
                engine.execute(f"COPY ({{QUERY}}) TO '{{sys.argv[2]}}.parquet' (FORMAT parquet)")
            else:
                engine.query_arrow(QUERY)

    QUERY = "{query}"
    cli.COMMANDS["spin"] = ("__main__:spin", "a long DuckDB query")
    cli.main(sys.argv[1:2])
""").format(query=ONE_LONG_PIPELINE)


def signal_when_ready(argv: list[str], signum: int, ready: Callable[[], None] = lambda: None,
                      exit_code: int | None = None) -> tuple[str, str, float]:
    """Start ``argv``, wait for its "ready" line, check ``ready()``, send ``signum`` while its query runs; its
    output and the seconds it took to end after the signal. It must exit with ``exit_code`` (default: 130 after
    SIGINT, 143 after SIGTERM)."""
    with child(argv) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        ready()
        time.sleep(0.5)  # the query is running
        process.send_signal(signum)
        sent = time.monotonic()
        out, err = process.communicate(timeout=120)
        waited = time.monotonic() - sent
    assert process.returncode == (exit_code or (130 if signum == signal.SIGINT else 143)), err
    return out, err, waited


@pytest.mark.parametrize("how", ["copy", "arrow"])
def test_one_ctrl_c_stops_one_long_duckdb_pipeline_at_once(tmp_path: Path, how: str) -> None:
    _out, err, waited = signal_when_ready([sys.executable, "-c", ENGINE_SCRIPT, "spin", str(tmp_path / "lake"), how],
                                          signal.SIGINT)
    assert "Traceback" not in err, err
    assert err.strip() == "fediscope: interrupted"
    assert waited < 10, f"stopped {waited:.1f} s after Ctrl-C"


def test_the_relay_stays_out_of_the_way_of_another_wakeup_fd() -> None:
    """An asyncio loop (or anyone) set a wakeup fd first: the relay leaves it, and puts nothing back wrong."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd)
    try:
        with SignalRelay():
            assert signal.set_wakeup_fd(write_fd) == write_fd
        assert signal.set_wakeup_fd(write_fd) == write_fd
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)


def test_the_relay_calls_the_registered_interrupters_on_interrupt_and_is_removed_after() -> None:
    called = threading.Event()
    remove = on_interrupt(called.set)
    handler = signal.signal(signal.SIGINT, lambda *_: None)  # a Python handler, as the CLI's: no KeyboardInterrupt
    try:
        with SignalRelay():
            os.kill(os.getpid(), signal.SIGINT)
            assert called.wait(5)
        assert signal.set_wakeup_fd(-1) == -1  # given back
        remove()
        assert interrupt_all() == 0
    finally:
        signal.signal(signal.SIGINT, handler)
        remove()


def test_ctrl_c_during_a_duckdb_query_is_one_line_and_exit_130() -> None:
    _out, err, _waited = signal_when_ready([sys.executable, "-c", SCRIPT, "spin"], signal.SIGINT)
    assert "Traceback" not in err, err
    assert err.strip() == "fediscope: interrupted"


# A CLI command holding the lake lock around a long DuckDB query, as `fediscope process` does, run through the real
# entry point; SIGTERM (systemd, `timeout`, a container stopping) killed it on the spot: the lock stayed behind.
LOCKED_SCRIPT = textwrap.dedent("""
    import sys
    import click
    from fediscope import cli
    from fediscope.config import load_settings
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.lake.backend import open_lake
    from fediscope.lake.lock import lake_lock

    @click.command()
    def spin():
        settings = load_settings(env={{}}, toml_path=None, lake=sys.argv[2])
        with lake_lock(open_lake(settings.lake), command="test"), DuckDBEngine(settings) as engine:
            print("ready", flush=True)
            engine.execute(f"COPY ({{QUERY}}) TO '{{sys.argv[2]}}/out.parquet' (FORMAT parquet)")

    QUERY = "{query}"
    cli.COMMANDS["spin"] = ("__main__:spin", "a long DuckDB query under the lake lock")
    cli.main(sys.argv[1:2])
""").format(query=ONE_LONG_PIPELINE)


def test_sigterm_stops_a_command_at_once_releasing_the_lake_lock_with_one_line_and_exit_143(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "_state").mkdir(parents=True)

    def holds_the_lock() -> None:
        assert (lake / "_state" / "process.lock").exists()

    _out, err, waited = signal_when_ready([sys.executable, "-c", LOCKED_SCRIPT, "spin", str(lake)], signal.SIGTERM,
                                          holds_the_lock)
    assert err.strip() == "fediscope: stopped (SIGTERM)", err
    assert waited < 10, f"stopped {waited:.1f} s after SIGTERM"
    assert not (lake / "_state" / "process.lock").exists()


def test_a_second_sigterm_during_a_commands_clean_up_does_not_cut_it_short() -> None:
    script = SLOW_CLEAN_UP.replace("wait(60)\n\n", "wait(1)\n        print(\"cleaned up\", flush=True)\n\n")
    assert script != SLOW_CLEAN_UP
    out, err, code = signal_twice(script, signal.SIGTERM)
    assert out.strip() == "cleaned up" and code == 143
    assert err.strip() == "fediscope: stopped (SIGTERM)", err


# A command whose clean-up is slow (a lock released on a slow namenode, say): the user presses Ctrl-C again.
# Both waits are short sleeps in a loop, as the real waits are (the lake lock's, the stream's): the test signals the
# moment a line is printed, and a signal landing between Python's last look for signals and the start of a blocking
# call is only seen when that call returns (CPython's race, not the CLI's). One time.sleep(60) there made the test
# hang now and then under load (CI failed on it once; 700 runs here under load never did).
SLOW_CLEAN_UP = textwrap.dedent("""
    import sys, time
    import click
    from fediscope import cli

    def wait(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)

    @click.command()
    def spin():
        try:
            print("ready", flush=True)
            wait(60)
        finally:
            print("cleaning up", flush=True)
            wait(60)

    cli.COMMANDS["spin"] = ("__main__:spin", "a slow clean-up")
    cli.main(sys.argv[1:])
""")


def signal_twice(script: str, signum: int) -> tuple[str, str, int]:
    """Run ``script``'s ``spin`` command: ``signum`` once it is ready, again once it is cleaning up; its stdout
    (after those two lines), stderr and exit code."""
    with child([sys.executable, "-c", script, "spin"]) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signum)
        assert process.stdout.readline().strip() == "cleaning up"
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    return out, err, process.returncode


def test_a_second_ctrl_c_during_the_clean_up_cuts_it_short_without_a_traceback() -> None:
    _out, err, code = signal_twice(SLOW_CLEAN_UP, signal.SIGINT)
    assert code == 130
    assert err.strip() == "fediscope: interrupted", err


# A task's work on DuckDB under the lake lock, as the batch DAG's process task runs it in an Airflow 3 worker: the
# task process runs with SIGINT at SIG_DFL (the supervisor resets it), and the supervisor forwards a SIGINT it gets
# (a worker stopped with Ctrl-C). Without a handler that SIGINT ended the task on the spot: no finally block ran
# and the lake lock stayed behind.
SIGTERM_SCRIPT = textwrap.dedent("""
    import signal, sys
    from fediscope.config import load_settings
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.interrupts import Terminated, stop_on_sigterm
    from fediscope.lake.backend import open_lake
    from fediscope.lake.lock import lake_lock

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # what Airflow's task supervisor does before running the task
    QUERY = "{query}"
    settings = load_settings(env={{}}, toml_path=None, lake=sys.argv[1])
    try:
        with stop_on_sigterm("the test task"), lake_lock(open_lake(settings.lake), command="test"):
            with DuckDBEngine(settings) as engine:
                print("ready", flush=True)
                engine.execute(f"COPY ({{QUERY}}) TO '{{sys.argv[1]}}/out.parquet' (FORMAT parquet)")
    except Terminated as exc:
        print(exc, flush=True)
        sys.exit(143)
""").format(query=ONE_LONG_PIPELINE)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint-forwarded"])
def test_a_kill_stops_duckdb_work_at_once_and_releases_the_lake_lock(tmp_path: Path, signum: int) -> None:
    lake = tmp_path / "lake"
    (lake / "_state").mkdir(parents=True)

    def holds_the_lock() -> None:
        assert (lake / "_state" / "process.lock").exists()

    out, err, waited = signal_when_ready([sys.executable, "-c", SIGTERM_SCRIPT, str(lake)], signum,
                                         holds_the_lock, exit_code=143)
    name = signal.Signals(signum).name
    assert out.strip() == f"the test task was stopped ({name})", err
    assert waited < 10, f"stopped {waited:.1f} s after {name}"
    assert not (lake / "_state" / "process.lock").exists()


# Two SIGTERMs close together (a supervisor forwards the one it got while the process group gets one too): the
# second one arrives while the first one's Terminated unwinds, and must not cut the clean-up short.
TWICE_SCRIPT = textwrap.dedent("""
    import os, signal, time
    from fediscope.interrupts import Terminated, stop_on_sigterm

    cleaned = False
    try:
        with stop_on_sigterm("the test task"):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(10)
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # the second one, during the clean-up
                time.sleep(0.2)
                cleaned = True
    except Terminated as exc:
        print(exc)
    print("cleaned up" if cleaned else "clean-up cut short")
""")


def test_a_second_sigterm_does_not_cut_the_clean_up_short() -> None:
    done = subprocess.run([sys.executable, "-c", TWICE_SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["the test task was stopped (SIGTERM)", "cleaned up"], done.stderr


@pytest.fixture
def quick_jvm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Spark script's driver JVM with the JIT's quick compiler only (tests/jvm_options.py), through the variable
    pyspark's launcher reads, as tests/conftest.py's session gives it its own (no check here reads Java options).
    Measured back to back, alternating, beside the other helpers' load: the two Spark cases 20.9-25.2 s with it,
    27.8-45.6 s without."""
    from jvm_options import quick_pyspark_submit_args

    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", quick_pyspark_submit_args())


# Local Spark under the lock, as the batch task runs `engine=spark` with a local master: SIGTERM lands in py4j's
# wait for a job's answer, and the engine's clean-up makes more calls on the way out.
SPARK_SCRIPT = textwrap.dedent("""
    import sys
    from fediscope.engine.spark_engine import build_session
    from fediscope.interrupts import Terminated, stop_on_sigterm

    spark = build_session("local[1]", app_name="fediscope-sigterm-test")
    spark.sparkContext.setLogLevel("OFF")
    try:
        with stop_on_sigterm("the test task"):
            try:
                print("ready", flush=True)
                spark.range(0, 10**12, 1, 1).where("hash(id) % 7 = 1").count()
            finally:
                # what the engine's close does: calls that start no job (the job holds the one core), then stop
                print("clean-up", spark.conf.get("spark.app.name"), flush=True)
                spark.stop()
    except Terminated as exc:
        print(exc, flush=True)
        sys.exit(143)
""")


@pytest.mark.spark
def test_sigterm_during_a_spark_job_leaves_py4j_usable_for_the_clean_up(quick_jvm: None) -> None:
    """The Terminated raised out of py4j's read left the job's answer to come on the connection: the clean-up's
    next call waited for the job to end (24 s on the demo lake, long after Airflow's SIGKILL) and took that answer
    for its own (Py4JError instead of Terminated)."""
    import shutil

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("no Java")
    out, err, waited = signal_when_ready([sys.executable, "-c", SPARK_SCRIPT], signal.SIGTERM)
    assert out.splitlines() == ["clean-up fediscope-sigterm-test", "the test task was stopped (SIGTERM)"], err
    assert waited < 30, f"stopped {waited:.1f} s after SIGTERM"


# Ctrl-C during a Spark job run by the CLI, as `fediscope process --engine spark` runs one: the SparkContext put its
# own SIGINT handler over the CLI's, which cancelled the jobs through the py4j connection the main thread was
# reading the job's answer from ("reentrant call inside BufferedReader"): logged tracebacks, then "aborted".
SPARK_CLI_SCRIPT = textwrap.dedent("""
    import sys
    import click
    from fediscope import cli
    from fediscope.cli.common import configure_logging
    from fediscope.config import load_settings
    from fediscope.engine.spark_engine import SparkEngine

    @click.command()
    def spin():
        settings = load_settings(env={}, toml_path=None, lake=sys.argv[2], engine="spark", spark_master="local[1]")
        configure_logging(settings.log_level)  # as every command does (settings_from_context)
        engine = SparkEngine(settings)
        try:
            engine.spark.sparkContext.setLogLevel("OFF")
            print("ready", flush=True)
            engine.spark.range(0, 10**12, 1, 1).where("hash(id) % 7 = 1").count()
        finally:
            engine.close()

    cli.COMMANDS["spin"] = ("__main__:spin", "a long Spark job")
    cli.main(sys.argv[1:2])
""")


@pytest.mark.spark
def test_ctrl_c_during_a_spark_job_cancels_it_and_is_one_line_and_exit_130(tmp_path: Path, quick_jvm: None) -> None:
    import shutil

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("no Java")
    _out, err, waited = signal_when_ready([sys.executable, "-c", SPARK_CLI_SCRIPT, "spin", str(tmp_path / "lake")],
                                          signal.SIGINT)
    assert "Traceback" not in err and "aborted" not in err, err
    assert "fediscope: interrupted" in err.splitlines(), err
    assert waited < 30, f"stopped {waited:.1f} s after Ctrl-C"


def test_an_engine_that_fails_to_start_is_not_kept_for_the_relay(tmp_path: Path) -> None:
    """The connection registered for the relay before a setting failed stayed registered (and open) for good."""
    import duckdb

    from fediscope import interrupts
    from fediscope.config import load_settings
    from fediscope.engine.duckdb_engine import DuckDBEngine

    before = len(interrupts._interrupters)
    with pytest.raises(duckdb.Error, match="Memory"):
        DuckDBEngine(load_settings(env={}, toml_path=None, lake=str(tmp_path / "lake")), memory_limit="lots")
    assert len(interrupts._interrupters) == before


# SIGTERM seen by DuckDB's own check for pending signals (between a query's tasks) before the relay interrupts the
# query: the handler's Terminated raised inside DuckDB came out as DuckDB's "RuntimeError: Query interrupted".
# Under load that was a race the relay could lose; a connection not registered for the relay always loses it.
DUCKDB_FIRST_SCRIPT = textwrap.dedent("""
    import sys
    import duckdb
    from fediscope.interrupts import Terminated, stop_on_sigterm

    QUERY = "{query}"
    try:
        with stop_on_sigterm("the test task"):
            con = duckdb.connect()
            print("ready", flush=True)
            con.execute(QUERY).fetchall()
    except Terminated as exc:
        print(exc, "-", type(exc.__cause__).__name__, exc.__cause__, flush=True)
        sys.exit(143)
""").format(query=LONG_QUERY)


def test_sigterm_that_duckdb_turns_into_its_own_error_still_stops_the_task_as_terminated() -> None:
    out, err, waited = signal_when_ready([sys.executable, "-c", DUCKDB_FIRST_SCRIPT], signal.SIGTERM)
    assert "Traceback" not in err, err
    assert out.strip() == "the test task was stopped (SIGTERM) - RuntimeError Query interrupted", err
    assert waited < 10, f"stopped {waited:.1f} s after SIGTERM"


def test_sigint_keeps_its_python_meaning_where_python_handles_it() -> None:
    """Outside Airflow's task process (SIGINT handled by Python: KeyboardInterrupt), stop_on_sigterm leaves it."""
    script = textwrap.dedent('''
        import os, signal, time
        from fediscope.interrupts import stop_on_sigterm
        try:
            with stop_on_sigterm("the test task"):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(10)
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
        print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["KeyboardInterrupt", "True"], done.stderr


# A command that waits (in short sleeps, so the signal is seen at once) after saying it is ready on stderr.
WAITING_SCRIPT = textwrap.dedent("""
    import sys, time
    import click
    from fediscope import cli

    @click.command()
    def spin():
        print("ready", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)

    cli.COMMANDS["spin"] = ("__main__:spin", "waits")
    cli.main(sys.argv[1:])
""")


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGTERM, 143, "stopped (SIGTERM)"),
                                                      (signal.SIGINT, 130, "interrupted")],
                         ids=["sigterm", "sigint"])
def test_a_stopped_command_says_so_on_one_line_without_an_empty_one_before(signum: int, code: int, said: str) -> None:
    """Was: an empty line before ``fediscope: stopped (SIGTERM)`` (and ``interrupted``), click's, written for a
    terminal's ``^C`` echo: there is none after SIGTERM, nor in a pipe or a log."""
    with child([sys.executable, "-c", WAITING_SCRIPT, "spin"]) as process:
        assert process.stderr is not None
        assert process.stderr.readline().strip() == "ready"
        process.send_signal(signum)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err == f"fediscope: {said}\n"


# A command during which the signal arrives while Python runs a finalizer (a ``weakref.finalize`` callback, as DuckDB,
# matplotlib and tempfile use; raise_signal runs the handler at once, in that callback), then one that arrives in
# the command's own code (argv[2] == "twice"), which it handles as serve-api and sample-instance do.
FINALIZER_SCRIPT = textwrap.dedent("""
    import gc
    import signal
    import sys
    import weakref
    import click
    from fediscope import cli

    class Resource:
        pass

    @click.command()
    def spin():
        resource = Resource()
        weakref.finalize(resource, signal.raise_signal, int(sys.argv[3]))
        del resource
        gc.collect()
        print("finished", flush=True)
        if sys.argv[2] == "twice":
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                print("stopped by the second", flush=True)

    cli.COMMANDS["spin"] = ("__main__:spin", "a finalizer runs")
    cli.main(sys.argv[1:2])
""")


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "stopped (SIGTERM)")],
                         ids=["sigint", "sigterm"])
def test_a_signal_raised_inside_a_finalizer_still_stops_the_command(signum: int, code: int, said: str) -> None:
    """Python cannot raise KeyboardInterrupt out of a finalizer: it printed "Exception ignored in … Traceback …
    KeyboardInterrupt" and went on. Was: the command finished as if nothing happened, exit 0 (``process`` recorded
    and said a complete run, a script's ``fediscope collect && …`` went on). Now it says so once it returns."""
    with child([sys.executable, "-c", FINALIZER_SCRIPT, "spin", "once", str(int(signum))]) as process:
        out, err = process.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert process.returncode == code, err
    assert err == f"fediscope: {said}\n"
    assert out == "finished\n"


def test_a_later_ctrl_c_the_command_handles_itself_ends_it_as_before() -> None:
    """``serve-api`` stops on Ctrl-C with exit 0: when one Ctrl-C was lost in a finalizer and the next one stopped
    the server, that one counts, not the lost one."""
    with child([sys.executable, "-c", FINALIZER_SCRIPT, "spin", "twice", str(int(signal.SIGINT))]) as process:
        out, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (0, "")
    assert out == "finished\nstopped by the second\n"
