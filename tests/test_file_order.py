"""The suite's files run heaviest first (tests/file_order.py), also under pytest-xdist, whose own reordering (by
number of tests) put the files of a few long Spark tests at the end of ``make test``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: two Spark tests (52 s for one in CI) against 14 quick ones: by number of tests, the last of the two files to run
FEW_LONG = "tests/engine/test_spark_job_provenance.py"
MANY_QUICK = "tests/test_redact_fragment.py"


def _collected(*args: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


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
