"""The test session's guard of the checkout (tests/conftest.py, :mod:`checkout_guard`): what a test leaves in it is
seen, an empty directory too. Was: a Spark session's empty ``spark-warehouse/`` (ignored, and git lists no directory
without a file in any case) was left in the checkout by the Spark tests, and the guard, which reads git's list,
did not see it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from checkout_guard import checkout_entries


def _git_checkout(root: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("spark-warehouse/\n/lake/\n")
    (root / "src").mkdir()
    (root / "src" / "module.py").write_text("")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def test_an_empty_directory_left_in_the_checkout_is_seen_ignored_or_not(tmp_path: Path) -> None:
    checkout = _git_checkout(tmp_path / "checkout")
    (checkout / "lake").mkdir()
    (checkout / "lake" / "empty").mkdir()  # inside an entry git lists (once it holds a file): that entry's
    (checkout / "lake" / "raw.jsonl").write_text("{}\n")
    before = checkout_entries(checkout)
    assert set(before) == {"lake/"}, before
    (checkout / "spark-warehouse").mkdir()  # ignored, and empty
    (checkout / "src" / "tmp" / "nested").mkdir(parents=True)  # untracked, empty but for an empty directory
    (checkout / "src" / "__pycache__").mkdir()  # a tool's, not a test's
    (checkout / ".git" / "empty-of-git").mkdir()
    after = checkout_entries(checkout)
    assert set(after) - set(before) == {"spark-warehouse/", "src/tmp/nested/"}, after
    assert all(isinstance(after[name], int) for name in after), after  # each with its time, so a change is seen
    (checkout / "spark-warehouse" / "default").mkdir()  # its empty directory is the one seen then
    assert set(checkout_entries(checkout)) - set(before) == {"spark-warehouse/default/", "src/tmp/nested/"}
    (checkout / "spark-warehouse" / "default" / "part.parquet").write_text("")
    assert "spark-warehouse/" in checkout_entries(checkout)  # once it holds a file, git lists it
