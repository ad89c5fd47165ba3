"""Spill directories left behind by processes killed outright (SIGKILL, the OOM killer): the next DuckDB connection
removes them, and never the directory of a process that still runs, another user's, or one it cannot tell is
abandoned (fediscope.engine.duckdb_connection)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from child_process import child
from engine_data import settings_for

from fediscope.engine.duckdb_connection import LOCK_NAME, PREFIX
from fediscope.engine.duckdb_engine import DuckDBEngine
from fediscope.lake.debris import format_bytes

#: a process that opens a DuckDB engine, spills (about 20 MB within 24 MB on one thread), says where, and waits
SPILLING = """
import time
from fediscope.config import Settings
from fediscope.engine.duckdb_engine import DuckDBEngine
engine = DuckDBEngine(Settings(), memory_limit="24MB", threads=1)
engine.materialize("big", "SELECT i, md5(i::VARCHAR) AS s FROM range(1000000) r(i)")
print(engine.spill_dir, flush=True)
time.sleep(600)
"""


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary directory, for this process (tempfile) and its children (TMPDIR): an empty one."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.setenv("TMPDIR", str(root))
    return root


@pytest.fixture
def killed_spill_dir(temp_root: Path) -> Path:
    """The spill directory of an engine process that spilled and was then SIGKILLed (and reaped)."""
    with child([sys.executable, "-c", SPILLING]) as process:
        spill_dir = Path(process.stdout.readline().strip())
        assert spill_dir.parent == temp_root, process.stderr.read()
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    assert len(list(spill_dir.iterdir())) > 2  # the lock file, DuckDB's owner file, and what was spilled
    return spill_dir


@pytest.fixture
def live_spill_dir(temp_root: Path) -> Iterator[Path]:
    """The spill directory of an engine process that spilled and still runs."""
    with child([sys.executable, "-c", SPILLING]) as process:
        spill_dir = Path(process.stdout.readline().strip())
        assert spill_dir.parent == temp_root, process.stderr.read()
        yield spill_dir
        assert process.poll() is None


def _size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def test_the_next_engine_removes_a_killed_process_spill_directory_and_keeps_a_live_ones(
        tmp_path: Path, temp_root: Path, live_spill_dir: Path, killed_spill_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """The live process started first: the killed one's engine, started while it ran, kept its directory."""
    size = _size(killed_spill_dir)
    assert size > 10_000_000
    with caplog.at_level(logging.INFO, logger="fediscope.engine.duckdb_connection"), \
            DuckDBEngine(settings_for(tmp_path / "lake")) as engine:
        assert sorted(temp_root.iterdir()) == sorted([live_spill_dir, engine.spill_dir])
    assert [r.getMessage() for r in caplog.records] == [
        f"DuckDB: removed {killed_spill_dir}, the spill directory of a process that ended without removing it "
        f"(killed?): {format_bytes(size)} freed"]
    assert caplog.records[0].levelno == logging.INFO
    assert (live_spill_dir / LOCK_NAME).exists() and len(list(live_spill_dir.iterdir())) > 2


def test_a_directory_it_cannot_tell_is_abandoned_is_kept(tmp_path: Path, temp_root: Path) -> None:
    """No lock file (made by an older fediscope, or being made); an empty lock file (being made: the pid is written
    once the lock is held); a symlink; a file."""
    no_lock = temp_root / f"{PREFIX}older"
    no_lock.mkdir()
    (no_lock / "duckdb_temp_block").write_bytes(b"x" * 100)
    being_made = temp_root / f"{PREFIX}new"
    being_made.mkdir()
    (being_made / LOCK_NAME).touch()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / LOCK_NAME).write_text("123\n")  # unlocked, with a pid: what a killed process leaves
    (temp_root / f"{PREFIX}link").symlink_to(target)
    (temp_root / f"{PREFIX}file").write_text("not a directory")
    kept = sorted(temp_root.iterdir())
    with DuckDBEngine(settings_for(tmp_path / "lake")):
        pass
    assert sorted(temp_root.iterdir()) == kept and (target / LOCK_NAME).exists()


@pytest.mark.skipif(os.name == "nt" or os.getuid() != 0, reason="needs root to give a directory to another user")
def test_another_users_abandoned_directory_is_kept(tmp_path: Path, killed_spill_dir: Path) -> None:
    os.chown(killed_spill_dir, 65534, 65534)  # nobody's
    with DuckDBEngine(settings_for(tmp_path / "lake")):
        pass
    assert (killed_spill_dir / LOCK_NAME).exists()
