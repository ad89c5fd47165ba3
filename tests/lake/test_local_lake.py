"""The local-directory backend's own cases: a lake whose directories are symbolic links the operator put there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fediscope.errors import LakeError
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake


@pytest.fixture
def linked_lake(tmp_path: Path) -> tuple[LocalLake, Path]:
    """``lake/raw`` is a link to a directory on "another disk", as when the raw data outgrew the lake's disk."""
    (tmp_path / "bigdisk" / "raw").mkdir(parents=True)
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "raw").symlink_to(tmp_path / "bigdisk" / "raw", target_is_directory=True)
    return LocalLake(tmp_path / "lake"), tmp_path / "bigdisk" / "raw"


def test_a_linked_raw_directory_is_written_and_listed(linked_lake: tuple[LocalLake, Path]) -> None:
    """Was: every write below the link failed with "escapes the lake root" (paths were resolve()d), and walk
    skipped the linked directory (Path.rglob does not follow links)."""
    lake, disk = linked_lake
    record = envelope("a.example", "/api/v1/timelines/public", {"id": "1"}, datetime(2026, 1, 2, tzinfo=UTC))
    path = write_batch(lake, "statuses", "a.example", [record], fetched_at=datetime(2026, 1, 2, tzinfo=UTC),
                       batch_id="b1")
    assert path is not None and (disk / path.removeprefix("raw/")).is_file()
    assert list(read_batch(lake, path)) == [record]
    assert raw_batch_files(lake) == [path]
    assert [e.path for e in lake.walk("")] == [path]
    assert [e.path for e in lake.list("raw")] == ["raw/mastodon"]


def test_a_link_loop_is_walked_once(linked_lake: tuple[LocalLake, Path]) -> None:
    lake, disk = linked_lake
    lake.write_atomic("raw/x/f.jsonl", b"{}\n")
    (disk / "x" / "loop").symlink_to(disk, target_is_directory=True)
    assert [e.path for e in lake.walk("")] == ["raw/x/f.jsonl"]


def test_dot_dot_still_cannot_leave_the_lake(linked_lake: tuple[LocalLake, Path]) -> None:
    lake, _disk = linked_lake
    for path in ("../outside", "raw/../../outside", "/../outside"):
        with pytest.raises(LakeError, match="escapes the lake root"):
            lake.write_atomic(path, b"no")


def test_an_atomic_write_syncs_its_directory_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename is made durable (the directory is fsynced after it), so after a power cut a checkpoint cannot
    outlive the batch file it counts. Observed through the real os.fsync calls and the descriptors they get."""
    import os
    import stat

    lake = LocalLake(tmp_path / "lake")
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file",
                       (tmp_path / "lake" / "_state" / "x.json").exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    lake.write_atomic("_state/x.json", b"{}")
    assert ("file", False) in synced  # the data, before the rename
    assert synced[-1] == ("dir", True)  # the directory, after it
