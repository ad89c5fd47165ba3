"""The progress lines of ``fediscope process`` (``--progress``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from engine_data import at, land, policy, settings_for, statuses

from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake


def test_process_says_how_long_its_engine_took_to_start(lake: LocalLake, lake_dir: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Was: "process: starting the spark engine", then nothing for the seconds a JVM takes to start (15 s on a busy
    machine); the time was only in ``--json``'s ``seconds.start``. Said for every engine, the same way."""
    land(lake, "statuses", statuses("test_public_tl.json"), at(0), policy())

    summary = run_process(settings_for(lake_dir), engine="duckdb", progress=True)

    lines = capsys.readouterr().err.splitlines()
    started = [line for line in lines if line.startswith("process: started the duckdb engine in ")]
    assert len(started) == 1, lines
    assert re.fullmatch(r"process: started the duckdb engine in \d+\.\d s", started[0])
    assert lines.index(started[0]) == lines.index("process: starting the duckdb engine") + 1
    assert f"{summary.seconds['start']:.1f} s" in started[0]
