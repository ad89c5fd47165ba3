"""``make install`` (and so a first ``make demo``) as a newcomer reads it: no setuptools notice posing as a failure.

pip shows its build backend's warnings even with ``-q``: every editable install printed setuptools' "Editable
installation. !! *** Please be careful with folders in your working directory with the same name as your package
..." block between "make: installing Python dependencies" and the demo's first line. The Makefile filters that one
notice (by its message, through ``PYTHONWARNINGS``) and nothing else.

The recipe runs for real, with ``VENV`` pointing at a stand-in venv whose ``python`` emits, for the editable
install, setuptools' own notice (``InformationOnly.emit``, as ``editable_wheel`` does) and another warning: no
network, no pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: the stand-in venv's python: the editable install (the recipe's `pip install ... -e .`) warns as setuptools does
STAND_IN = """#!/bin/sh
case "$*" in
  *"-e .") exec "{python}" "{warner}" ;;
esac
exit 0
"""
WARNER = """import os, warnings
from setuptools.warnings import InformationOnly

print("PYTHONWARNINGS=" + os.environ.get("PYTHONWARNINGS", ""))
InformationOnly.emit("Editable installation.", "Please be careful with folders in your working directory with the "
                     "same name as your package as they may take precedence during imports.")
warnings.warn("a backend warning that is not that notice")
"""


def run_install(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("setuptools.warnings")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    warner = venv / "warner.py"
    warner.write_text(WARNER)
    python = venv / "bin" / "python"
    python.write_text(STAND_IN.format(python=sys.executable, warner=warner))
    python.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "-B", "-s", "-f", str(REPO / "Makefile"), "install", f"VENV={venv}"], cwd=REPO,
                          env={**clean, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (venv / ".installed").exists()  # the recipe ran to its end
    assert "PYTHONWARNINGS=" in done.stdout, done.stdout  # the stand-in ran the editable install
    return done


def test_the_editable_install_shows_no_setuptools_notice_and_every_other_warning(tmp_path: Path) -> None:
    done = run_install(tmp_path)
    assert "Editable installation" not in done.stderr and "Please be careful" not in done.stderr, done.stderr
    assert "a backend warning that is not that notice" in done.stderr, done.stderr  # the filter is that narrow
    assert "Invalid -W option" not in done.stderr, done.stderr  # a filter Python cannot read warns on every start


def test_a_pythonwarnings_of_the_user_is_kept(tmp_path: Path) -> None:
    done = run_install(tmp_path, PYTHONWARNINGS="ignore::DeprecationWarning")
    said = next(line for line in done.stdout.splitlines() if line.startswith("PYTHONWARNINGS="))
    assert said.startswith("PYTHONWARNINGS=ignore::DeprecationWarning,"), said
    assert "Editable installation" not in done.stderr, done.stderr
