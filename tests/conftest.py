"""Shared fixtures. Each area keeps its own fixtures in tests/<area>/conftest.py; only cross-area ones live here."""

from __future__ import annotations

import signal
import socketserver
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
CHECKOUT = Path(__file__).resolve().parent.parent

# A shell without job control starts a background command (`make test &`, `nohup make test &`) with SIGINT ignored,
# and an ignored signal stays ignored across exec: every child the tests start could then not be stopped with
# Ctrl-C, and the tests of Ctrl-C (exit 130, one line, no traceback) failed for that reason alone. A handler set
# here is reset to the default in each child at exec, so children get SIGINT's normal meaning back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


_print_handler_error = socketserver.BaseServer.handle_error


def _quiet_on_disconnects(self: socketserver.BaseServer, request: object, client_address: object) -> None:
    """The tests' HTTP servers (doubles, redirectors) print a handler's error with its traceback on stderr
    (socketserver's default), also when the client merely went away first, which the tests cause on purpose
    (timeouts, refused redirects, TLS failures): that printed a traceback into a passing run's log. Such a
    disconnect is left unsaid; any other error is printed as before."""
    if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return
    _print_handler_error(self, request, client_address)


socketserver.BaseServer.handle_error = _quiet_on_disconnects  # type: ignore[method-assign]

# Every server started on port 0 gets a port that no server of this process was given lately: a port freed at once
# may be handed out again, and a double known by 127.0.0.1:<port> then taken for the one stopped (doubles/ports.py)
from doubles import ports  # noqa: E402

ports.install()


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    return DATA / "mastodon" / "recordings"


# Mastodon double replaying the real recordings (paging, rate limits, faults): the `mastodon_server` fixture.
# Owner: collector helper.
from doubles.mastodon_server import MastodonDouble, mastodon_server  # noqa: E402, F401, I001

# WebHDFS double (namenode + datanode on 127.0.0.1): the `webhdfs_server` fixture. Owner: lake/infra helper.
from doubles.webhdfs_server import webhdfs_server  # noqa: E402, F401

# Stores: HBase Thrift double, a real MariaDB server, and `metric_store` (one fresh store per kind). Owner: stores.
from doubles.hbase_thrift_server import hbase_double  # noqa: E402, F401
from doubles.mariadb import mariadb_instance, mariadb_url  # noqa: E402, F401
from doubles.stores import metric_store  # noqa: E402, F401
from doubles.sample_metrics import sample_metric_rows  # noqa: E402, F401


# -- Spark: ONE local SparkSession for the whole test session (the JVM start costs seconds). Owner: engines helper.
@pytest.fixture(scope="session")
def spark():  # noqa: ANN201 - pyspark is imported lazily so test runs without Java stay cheap
    """local[2], 2 shuffle partitions, no UI, UTC; skipped (with the reason in the summary) without Java."""
    import os
    import shutil

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("SPARK TESTS SKIPPED: no Java found; install a JDK 17+ (apt-get install openjdk-17-jre-headless) "
                    "or set JAVA_HOME")
    from jvm_options import quick_pyspark_submit_args

    from fediscope.engine.spark_engine import build_session

    # the driver's JVM with the JIT's quick compiler only (jvm_options.py), through the variable its launcher reads,
    # set only while it starts (a command a test runs does not inherit it); not over a user's own
    submit_args = os.environ.get("PYSPARK_SUBMIT_ARGS")
    if submit_args is None:
        os.environ["PYSPARK_SUBMIT_ARGS"] = quick_pyspark_submit_args()
    try:
        session = build_session("local[2]", app_name="fediscope-tests")
    finally:
        if submit_args is None:
            os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
    session.conf.set("spark.sql.shuffle.partitions", "2")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a live process of this host (a ``sleep``), killed after the test."""
    child = subprocess.Popen(["sleep", "120"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


# -- The checkout as the tests found it. A test that names no lake or store of its own gets fediscope's defaults,
# ./lake and sqlite:///fediscope.db, relative to the directory the tests run in: the checkout, where its files then
# stayed unnoticed (and were read by later tests, and by the user's own `fediscope report`). The session compares
# the checkout's untracked and ignored entries before and after the tests and fails, naming them, if the tests made
# or changed any. Checked once per run: in the xdist controller (its session spans every worker's), or in the only
# process without xdist; not for --collect-only, which runs no test (tests/test_test_collection.py runs one inside
# the suite). An empty directory left behind (Spark's spark-warehouse/, which git lists as nothing) counts too.

_LEFT_IN_CHECKOUT = pytest.StashKey[list[tuple[str, str]]]()
_CHECKOUT_BEFORE = pytest.StashKey[dict[str, int | None]]()


def _checkout_entries() -> dict[str, int | None]:
    """The checkout's untracked and ignored entries and its empty directories (:func:`checkout_guard.checkout_entries`),
    each with its modification time."""
    from checkout_guard import checkout_entries

    return checkout_entries(CHECKOUT)


def _guards_the_checkout(session: pytest.Session) -> bool:
    return not hasattr(session.config, "workerinput") and not session.config.option.collectonly


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if _guards_the_checkout(session):
        session.config.stash[_CHECKOUT_BEFORE] = _checkout_entries()


# -- The temporary directory as the tests found it. The run gets a temporary directory of its own
# (``fediscope-test-run-*`` under the one it was started with), as TMPDIR for every process it starts (xdist's
# workers, the commands the tests run) and as tempfile's: what a test or the code it runs made there and did not
# remove (``fediscope-api-tests-*`` of the API tests' helper, Spark's warehouse, DuckDB's spill directories, a
# GDPR erasure's work directory) is named at the end, and fails the run when it is fediscope's (``fediscope-*``);
# the directory is removed with whatever it holds, so nothing piles up in /tmp either way. pytest's own tmp_path
# directories stay where they were (made before the switch), kept as pytest keeps them. Set up once per run, as
# the checkout's guard: in the xdist controller (its workers inherit TMPDIR), or in the only process.

_RUN_TMPDIR = pytest.StashKey[tuple[Path, str | None]]()
_LEFT_IN_TMPDIR = pytest.StashKey[list[str]]()


@pytest.hookimpl(trylast=True)  # after pytest's tmpdir plugin has set up its factory
def pytest_configure(config: pytest.Config) -> None:
    import os
    import tempfile

    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's: the files in our order (file_order.py)
        config.option.loadscopereorder = False
    if hasattr(config, "workerinput") or config.option.collectonly:
        return
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:
        factory.getbasetemp()  # pytest's base of the tests' tmp_path: in the temporary directory the run was given
    run = Path(tempfile.mkdtemp(prefix="fediscope-test-run-"))
    config.stash[_RUN_TMPDIR] = (run, os.environ.get("TMPDIR"))
    os.environ["TMPDIR"] = tempfile.tempdir = str(run)


@pytest.hookimpl(trylast=True)  # on the tests left once -m, -k and --deselect have been applied
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heaviest files first, so that a parallel run does not end on one process running long files alone."""
    from file_order import heaviest_files_first

    items[:] = heaviest_files_first(items)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own, which would return its plain loadfile's
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadfile`` (``make test``'s) with the files that use the session's Spark in one process, which then
    starts one Spark JVM, not one in each (tests/spark_scope.py)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from spark_scope import spark_files_together

    return spark_files_together(config, log)


def _restore_the_temporary_directory(config: pytest.Config) -> None:
    """The run's temporary directory removed with what it holds, and TMPDIR as it was; once."""
    import os
    import shutil
    import tempfile

    run, was = config.stash.get(_RUN_TMPDIR, (None, None))
    if run is None:
        return
    del config.stash[_RUN_TMPDIR]
    shutil.rmtree(run, ignore_errors=True)
    if was is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = was
    tempfile.tempdir = None  # found again from TMPDIR


def pytest_unconfigure(config: pytest.Config) -> None:
    # a run that starts no session (``pytest --help``, ``--markers``) configures and unconfigures only: its temporary
    # directory, made in pytest_configure, is removed here (was: one empty ``fediscope-test-run-*`` left in /tmp each)
    _restore_the_temporary_directory(config)


def _check_the_temporary_directory(session: pytest.Session) -> None:
    from checkout_guard import left_in_temporary

    run, _ = session.config.stash.get(_RUN_TMPDIR, (None, None))
    if run is None:
        return
    left = left_in_temporary(run)
    _restore_the_temporary_directory(session.config)
    if left:
        session.config.stash[_LEFT_IN_TMPDIR] = left
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)  # after xdist's workers have ended (their atexit handlers run)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # what a test process removes at its exit, removed before the temporary directory is checked (in a run without
    # xdist, that check comes first): the API tests' scratch directory, Spark's warehouse (the `spark` fixture's
    # session stopped by now), where their modules were loaded
    api_testing, spark_engine = sys.modules.get("api_testing"), sys.modules.get("fediscope.engine.spark_engine")
    if api_testing is not None:
        api_testing.remove_scratch()
    if spark_engine is not None:
        spark_engine.remove_process_warehouse()
    _check_the_temporary_directory(session)
    before = session.config.stash.get(_CHECKOUT_BEFORE, None)
    if before is None:
        return
    after = _checkout_entries()
    left = sorted([*(("created", p) for p in after.keys() - before.keys()),
                   *(("changed", p) for p in after.keys() & before.keys() if after[p] != before[p]),
                   *(("removed", p) for p in before.keys() - after.keys())], key=lambda change: change[1])
    if left:
        session.config.stash[_LEFT_IN_CHECKOUT] = left
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    temporary = terminalreporter.config.stash.get(_LEFT_IN_TMPDIR, None)
    if temporary:
        terminalreporter.write_sep("=", "the tests left files in the temporary directory", red=True, bold=True)
        for name in temporary:
            terminalreporter.write_line(f"left: $TMPDIR/{name}")
        terminalreporter.write_line("a test, or the code it ran, made these under the temporary directory (TMPDIR, "
                                    "tempfile) and did not remove them: remove them when done (a fixture's "
                                    "teardown, atexit), or make them under tmp_path; the session fails until none "
                                    "is left")
    left = terminalreporter.config.stash.get(_LEFT_IN_CHECKOUT, None)
    if left:
        terminalreporter.write_sep("=", "the tests wrote into the checkout", red=True, bold=True)
        for change, path in left:
            terminalreporter.write_line(f"{change}: {CHECKOUT / path}")
        terminalreporter.write_line("a test used a default location relative to the current directory (./lake, "
                                    "sqlite:///fediscope.db, ./fediscope-out, ...): give it a place under tmp_path "
                                    "(FEDISCOPE_LAKE, FEDISCOPE_STORE, --store, Settings(store=...)); the session "
                                    "fails until no test does")
