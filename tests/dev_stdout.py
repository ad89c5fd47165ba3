"""Running the real ``fediscope`` command with ``--out /dev/stdout`` and its stdout redirected to a file, safely as
root: in the child, a temporary file cannot be made in ``/dev`` (as for any user but root), so a regression that
renames one over ``/dev/stdout`` fails with a permission error instead of replacing this machine's ``/dev/stdout``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_AS_A_USER = f"""
import os, sys, tempfile
sys.path.insert(0, {str(ROOT)!r})
made = tempfile.mkstemp

def mkstemp(*args, dir=None, **kwargs):
    if dir is not None and os.path.realpath(dir) == "/dev":
        raise PermissionError(13, "Permission denied")
    return made(*args, dir=dir, **kwargs)

tempfile.mkstemp = mkstemp
from fediscope.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_redirected(redirected: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``fediscope ARGS > redirected`` (in this process's environment and folder): its stderr in the result."""
    with redirected.open("wb") as stdout:
        return subprocess.run([sys.executable, "-c", _AS_A_USER, *args], stdout=stdout, stderr=subprocess.PIPE,
                              text=True, timeout=120)
