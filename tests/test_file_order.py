"""The suite's files run heaviest first (tests/file_order.py), also under pytest-xdist, whose own reordering (by
number of tests) put the files of a few long Spark tests at the end of ``make test``; the files that use the
session's Spark run in one process (tests/spark_scope.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from spark_scope import uses_the_session_spark

ROOT = Path(__file__).resolve().parents[1]
#: two Spark tests (52 s for one in CI) against 14 quick ones: by number of tests, the last of the two files to run
FEW_LONG = "tests/engine/test_spark_job_provenance.py"
MANY_QUICK = "tests/test_redact_fragment.py"
#: two files that use the session's Spark, each with tests that do not (run with ``-m "not spark"``: no JVM starts)
SPARK_FILES = ("tests/engine/test_arrow_types.py", "tests/engine/test_curate_sql.py")
#: a test of a file that does not; one test, so its file is collected (and handed out) after theirs
NO_SPARK = "tests/test_config.py"
ONE_TEST = f"{NO_SPARK}::test_defaults_come_from_the_settings_table"


def _pytest(*args: str) -> str:
    """What ``python -m pytest -p no:cacheprovider *args`` run in the checkout prints; it must succeed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _collected(*args: str) -> list[str]:
    return [line for line in _pytest("--collect-only", "-q", *args).splitlines() if "::" in line]


def test_a_file_of_long_tests_is_collected_before_a_file_of_more_quick_ones() -> None:
    collected = _collected(MANY_QUICK, FEW_LONG)
    files = list(dict.fromkeys(nodeid.split("::")[0] for nodeid in collected))
    assert files == [FEW_LONG, MANY_QUICK]
    in_file = [nodeid for nodeid in collected if nodeid.startswith(FEW_LONG)]
    assert len(in_file) < len(collected) - len(in_file)  # the case xdist's own order put last
    assert in_file == [nodeid for nodeid in _collected(FEW_LONG)]  # a file's own tests keep their order


def test_xdist_runs_the_files_in_the_collected_order(request: pytest.FixtureRequest) -> None:
    """Its ``--loadscope-reorder`` (by number of tests) is off, in this run as in any other."""
    if not hasattr(request.config.option, "loadscopereorder"):
        pytest.skip("pytest-xdist is not loaded (-p no:xdist)")
    assert request.config.option.loadscopereorder is False


def test_the_files_that_use_the_session_spark_run_in_one_process() -> None:
    """Two Spark files and a test of a third on two processes. Was: xdist's loadfile handed the first file (one of
    the Spark files: their tests outweigh the one test) to one process and the next to the other, so each would
    start a JVM of its own; now both go to one process, the third file to the other."""
    pytest.importorskip("xdist", reason="the run on two processes needs pytest-xdist")
    out = _pytest("-v", "-n", "2", "--dist", "loadfile", "-m", "not spark", ONE_TEST, *SPARK_FILES)
    processes: dict[str, set[str]] = {}
    for worker, path in re.findall(r"^\[(gw\d+)\] \[ *\d+%\] PASSED (\S+?)::", out, re.M):
        processes.setdefault(path, set()).add(worker)
    assert sorted(processes) == sorted([NO_SPARK, *SPARK_FILES]), out[-3000:]
    assert processes[SPARK_FILES[0]] == processes[SPARK_FILES[1]], processes
    assert len(processes[SPARK_FILES[0]]) == 1 and processes[NO_SPARK] != processes[SPARK_FILES[0]], processes


def test_every_file_whose_tests_request_the_session_spark_is_found(request: pytest.FixtureRequest) -> None:
    """From the file's text, for every file of this run whose tests request the ``spark`` fixture; and a file whose
    tests get it through ``request.getfixturevalue`` is found too, one whose tests run spark-submit's own JVMs not."""
    requesting = {item.path for item in request.session.items if "spark" in getattr(item, "fixturenames", ())}
    assert not sorted(str(path) for path in requesting if not uses_the_session_spark(path))
    assert uses_the_session_spark(ROOT / "tests/engine/test_spark_parity.py")
    assert uses_the_session_spark(ROOT / "tests/engine/test_emoji_count.py")
    assert not uses_the_session_spark(ROOT / "tests/engine/test_spark_job_log.py")
    assert not uses_the_session_spark(ROOT / NO_SPARK)


def test_a_file_that_gets_the_session_spark_through_a_helper_is_found() -> None:
    """Was: the files whose tests run a statement on both engines with tests/sql_rows.py's ``rows_on`` (which gets
    the fixture with ``getfixturevalue``) were not found, and the other process started a second JVM for them.
    A file importing only other functions of such a helper module is not taken for one."""
    assert uses_the_session_spark(ROOT / "tests/engine/test_signed_interval.py")  # from sql_rows import rows_on
    text = (ROOT / "tests/engine/test_mariadb_row_size.py").read_text()
    assert "from metric_fixtures import" in text and "rows_on_both_engines" not in text
    assert not uses_the_session_spark(ROOT / "tests/engine/test_mariadb_row_size.py")
