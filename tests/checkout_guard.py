"""What the test session's guard of the checkout compares before and after the tests (tests/conftest.py): the
checkout's untracked and ignored entries, and its empty directories, which git lists as neither; and what the
guard of the run's own temporary directory looks for at the end (:func:`left_in_temporary`)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

#: what tools write in the checkout by themselves, not the tests: bytecode, pytest's, ruff's and Hypothesis's
#: caches, the venv and the *.egg-info of `make install`
TOOL_ENTRIES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".mypy_cache", ".venv"}


def tool_entry(path: str) -> bool:
    return any(part in TOOL_ENTRIES or part.endswith(".egg-info") for part in Path(path).parts)


def checkout_entries(root: Path) -> dict[str, int | None]:
    """``root``'s untracked and ignored entries (as git lists them: a directory wholly untracked or ignored as one
    entry, ``lake/``) and its empty directories (``spark-warehouse/``: git lists no directory without a file, so
    an empty one a test left, ignored or not, went unseen), each with its modification time; without git (a source
    tree that is no git checkout), the names at its top, with no time (a tracked file edited during the run is no
    test's doing)."""
    try:
        listed = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain=v1", "-z", "--ignored",
                                 "--untracked-files=normal"], cwd=root, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        listed = None
    if listed is None or listed.returncode != 0:
        return {name: None for name in os.listdir(root) if not tool_entry(name) and name != ".git"}
    entries: dict[str, int | None] = {}
    for record in os.fsdecode(listed.stdout).split("\0"):
        state, path = record[:2], record[3:]
        if state in ("??", "!!") and not tool_entry(path):
            with contextlib.suppress(OSError):  # gone meanwhile
                entries[path] = (root / path).stat().st_mtime_ns
    entries.update(_empty_directories(root, set(entries)))
    return entries


def _empty_directories(root: Path, listed: set[str]) -> dict[str, int]:
    """The empty directories under ``root`` (``a/b/``, as git names a directory), but in ``.git``, the tools'
    (:data:`TOOL_ENTRIES`) and the entries git ``listed`` (their contents are theirs: compared by their time)."""
    found: dict[str, int] = {}
    for directory, subdirectories, files in os.walk(root):
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        subdirectories[:] = [name for name in subdirectories
                             if name != ".git" and not tool_entry(name) and f"{prefix}{name}/" not in listed]
        if prefix and not subdirectories and not files and not os.listdir(directory):
            with contextlib.suppress(OSError):  # gone meanwhile
                found[prefix] = Path(directory).stat().st_mtime_ns
    return found


#: what a run's temporary directory may hold at its end: fediscope's own entries are left by the tests or the code
#: they ran (``fediscope-api-tests-*``, ``fediscope-spark-warehouse-*``, ``fediscope-duckdb-*``, …)
LEFT_PREFIX = "fediscope-"


def left_in_temporary(root: Path) -> list[str]:
    """The entries of ``root`` (a run's temporary directory) named :data:`LEFT_PREFIX`, sorted."""
    try:
        return sorted(name for name in os.listdir(root) if name.startswith(LEFT_PREFIX))
    except OSError:  # gone: nothing left
        return []
