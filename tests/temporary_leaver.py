"""Run only by tests/test_temporary_guard.py, as a pytest run of its own (named on its command line: the suite does
not collect it, its name not being ``test_*.py``): a test that leaves a directory of fediscope's name in TMPDIR
when FEDISCOPE_TEST_LEAVE_IN_TMPDIR is set, and nothing otherwise."""

from __future__ import annotations

import os
import tempfile

LEAVE = "FEDISCOPE_TEST_LEAVE_IN_TMPDIR"


def test_leaves_a_directory_in_the_temporary_directory_when_asked() -> None:
    if os.environ.get(LEAVE):
        tempfile.mkdtemp(prefix="fediscope-left-by-a-test-")
