"""``bench/run.py`` writes its results file (``<results-dir>/<UTC timestamp>.json``, a foreseeable name) whole:
:func:`fediscope.files.atomic_out`.

Before: ``write_text`` opened it through a symbolic link planted at that name (the file it named received the
results) and left a partial file when the disk filled meanwhile.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bench.run import results_path, write_results

RESULTS = {"stages": {"generate": {"seconds": 1.5}}, "machine": {"cpus": 2}}


def test_a_symbolic_link_at_the_results_name_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("not the results\n")
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    out = results_path(results_dir, datetime(2024, 5, 1, 12, 30, 5, tzinfo=UTC))
    assert out == results_dir / "20240501T123005Z.json"
    out.symlink_to(victim)
    write_results(out, RESULTS)
    assert not out.is_symlink()
    assert json.loads(out.read_text()) == RESULTS
    assert victim.read_text() == "not the results\n"
    assert [p.name for p in results_dir.iterdir()] == [out.name]  # no temporary file left

