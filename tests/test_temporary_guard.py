"""The test run leaves nothing in the temporary directory (tests/conftest.py: the run's own TMPDIR, checked and
removed at its end). Was: a ``fediscope-api-tests-*`` directory per test process and run (the API tests' helper
made it on import and never removed it), and others, piled up in /tmp unnoticed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporary_leaver import LEAVE

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _left(root: Path) -> list[str]:
    return sorted(name for name in os.listdir(root) if name.startswith("fediscope-"))


def test_the_api_tests_helper_removes_its_scratch_directory_when_its_process_ends(tmp_path: Path) -> None:
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
            "import api_testing\n"
            "settings = api_testing.make_settings()\n"
            "assert settings.lake.startswith(sys.argv[3]), settings.lake\n")
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(TESTS / "api"), str(TESTS), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _left(tmp_path) == []


@pytest.mark.slow  # four pytest runs of their own
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_run_whose_tests_leave_a_temporary_directory_fails_naming_it(tmp_path: Path, workers: list[str]) -> None:
    """A run of tests that pass but leave ``fediscope-*`` in the temporary directory fails, naming it, and leaves
    nothing there (its own temporary directory removed with it); without the leftover, it passes. With xdist too:
    its workers inherit the run's TMPDIR, and are checked after they ended."""
    test = str((TESTS / "temporary_leaver.py").relative_to(ROOT))  # not collected by the suite itself
    for leave in ("1", ""):
        env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT), LEAVE: leave}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, test],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        out = done.stdout + done.stderr
        if leave:
            assert done.returncode == 1, out[-3000:]
            assert "the tests left files in the temporary directory" in out and "1 passed" in out, out[-3000:]
            assert "left: $TMPDIR/fediscope-left-by-a-test-" in out, out[-3000:]
        else:
            assert done.returncode == 0 and "1 passed" in out, out[-3000:]
        assert _left(tmp_path) == [], out[-3000:]  # the run's own directory went, with what it held


@pytest.mark.parametrize("option", ["--markers", "--help"])
def test_a_run_that_starts_no_session_leaves_no_temporary_directory(tmp_path: Path, option: str) -> None:
    """``pytest --markers`` or ``--help`` configures the run (its own temporary directory made) and runs no session,
    whose end removed it: an empty ``fediscope-test-run-*`` was left in the temporary directory by each."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", option,
                           str(Path(__file__).relative_to(ROOT))], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert _left(tmp_path) == []
