"""``LocalLake`` over entries it cannot read: a symbolic link that leads nowhere (dangling, or a loop) or a FIFO is
left out, as a file that vanished is; a directory or file it has no permission to read is a LakeError naming it.

Was: a link loop in the lake (``stat``: ELOOP) or an unreadable entry ended ``fediscope lake ls`` in a traceback,
and ``walk`` skipped an unreadable directory silently (``os.walk`` drops the errors it meets), so a curation would
have left out the partition without a word.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import clean_env, run
from permissions import without_dac_rights

from fediscope.lake.local import LocalLake

PARTITION = "raw/mastodon/statuses/instance=a.example/dt=2026-11-01"


def _lake_with_junk(root: Path) -> LocalLake:
    partition = root / PARTITION
    partition.mkdir(parents=True)
    (partition / "batch.jsonl").write_text("{}\n")
    (partition / "loop.jsonl").symlink_to(partition / "loop.jsonl")
    (partition / "dangling.jsonl").symlink_to(root / "gone.jsonl")
    os.mkfifo(partition / "pipe.jsonl")
    return LocalLake(root)


def test_links_that_lead_nowhere_and_fifos_are_left_out(tmp_path: Path) -> None:
    lake = _lake_with_junk(tmp_path / "lake")
    assert [e.path for e in lake.list(PARTITION)] == [f"{PARTITION}/batch.jsonl"]
    assert [e.path for e in lake.walk("raw")] == [f"{PARTITION}/batch.jsonl"]


def test_lake_ls_lists_past_them(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _lake_with_junk(tmp_path / "lake")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"))
    code, out, err = run(capsys, "lake", "ls", PARTITION)
    assert code == 0 and "Traceback" not in err, err
    assert "batch.jsonl" in out and "loop" not in out and "pipe" not in out


_READ = """
import sys
from fediscope.errors import LakeError
from fediscope.lake.local import LocalLake
lake = LocalLake(sys.argv[1])
for read in (lambda: lake.list(sys.argv[2]), lambda: lake.walk("raw")):
    try:
        read()
        print("read")
    except LakeError as exc:
        print(exc)
"""


def test_an_unreadable_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    """Read by a child that the directory's permissions stop (as root too: without the capabilities that bypass
    them); it was skipped as root, as CI runs."""
    _lake_with_junk(tmp_path / "lake")
    locked = tmp_path / "lake" / PARTITION
    locked.chmod(0)
    try:
        done = subprocess.run([*without_dac_rights(), sys.executable, "-c", _READ, str(tmp_path / "lake"), PARTITION],
                              capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"cannot list {locked}: Permission denied"] * 2, done.stdout


_LAKE_LS = """
import sys
from fediscope.cli import main
sys.exit(main(["lake", "ls", "--lake", sys.argv[1]]))
"""


def test_a_lake_below_a_directory_it_may_not_search_is_an_error_naming_it(tmp_path: Path) -> None:
    """Was: ``exists``/``is_dir`` let the PermissionError of ``stat`` escape, so ``fediscope lake ls`` (and every
    command checking the lake first) ended in a traceback."""
    parent = tmp_path / "parent"
    (parent / "lake").mkdir(parents=True)
    parent.chmod(0)
    try:
        done = subprocess.run([*without_dac_rights(), sys.executable, "-c", _LAKE_LS, str(parent / "lake")],
                              capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    finally:
        parent.chmod(0o755)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == f"fediscope: error: cannot look at {parent / 'lake'}: Permission denied"
