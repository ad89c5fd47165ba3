"""Spark's catalog warehouse of a fediscope process (``fediscope-spark-warehouse-*`` under TMPDIR,
fediscope.engine.spark_engine.process_warehouse) is removed at the process's exit, and one left by a process
killed outright (SIGKILL: Airflow's 5 s after SIGTERM, a test run stopped) by the next process that makes one; a
live process's is kept. Was: removed at exit only, so every killed process left one in /tmp for good. No JVM is
started: the directory is made before the session, and only named to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from child_process import child

#: a process that makes its warehouse directory, says where, and waits (as a driver whose session runs)
HOLDING = """
import time
from urllib.parse import urlsplit
from fediscope.engine.spark_engine import process_warehouse
print(urlsplit(process_warehouse()).path, flush=True)
time.sleep(600)
"""



def test_a_killed_processs_warehouse_is_removed_by_the_next_and_a_live_ones_kept(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary)}
    with child([sys.executable, "-c", HOLDING], env=env) as killed, child([sys.executable, "-c", HOLDING],
                                                                          env=env) as live:
        killed_dir = Path(killed.stdout.readline().strip())  # type: ignore[union-attr]
        live_dir = Path(live.stdout.readline().strip())  # type: ignore[union-attr]
        assert killed_dir.parent == temporary and killed_dir.name.startswith("fediscope-spark-warehouse-"), killed_dir
        killed.send_signal(signal.SIGKILL)
        assert killed.wait() == -signal.SIGKILL
        assert killed_dir.is_dir()  # nothing of the killed process removed it
        done = subprocess.run([sys.executable, "-c", "from fediscope.engine.spark_engine import process_warehouse\n"
                               "print(process_warehouse())"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert sorted(temporary.iterdir()) == [live_dir]  # the killed one's removed, the next one's at its exit
        assert live.poll() is None
