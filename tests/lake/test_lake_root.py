"""The lake's root itself: a file, a missing directory or an uncreatable one is reported as such
(``require_lake`` for commands that read or prune a lake, ``prepare_lake`` for those that land into one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fediscope.errors import LakeError
from fediscope.lake.backend import open_lake, prepare_lake, require_lake
from fediscope.lake.webhdfs import WebHDFSLake


def test_require_lake_accepts_a_directory_even_an_empty_one(tmp_path: Path) -> None:
    require_lake(open_lake(str(tmp_path)))


def test_require_lake_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LakeError, match="is not a directory"):
        require_lake(open_lake(str(tmp_path / "afile")))


def test_require_lake_refuses_a_missing_lake_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match=r"no lake at .*nope: it does not exist"):
        require_lake(open_lake(str(tmp_path / "nope")))
    assert not (tmp_path / "nope").exists()


def test_prepare_lake_creates_a_missing_local_lake(tmp_path: Path) -> None:
    prepare_lake(open_lake(str(tmp_path / "new" / "lake")))
    assert (tmp_path / "new" / "lake").is_dir()


@pytest.mark.parametrize("relative", ["afile", "afile/lake"])
def test_prepare_lake_refuses_a_file_or_a_path_below_one(tmp_path: Path, relative: str) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LakeError, match="not a directory|Not a directory"):
        prepare_lake(open_lake(str(tmp_path / relative)))
    assert (tmp_path / "afile").read_text() == "x"


def test_on_webhdfs_a_file_root_is_refused_and_a_missing_one_left_to_the_first_write(webhdfs_server) -> None:
    lake = WebHDFSLake(webhdfs_server.lake_url("/lake"))
    lake.write_atomic("afile", b"x")
    file_root = WebHDFSLake(webhdfs_server.lake_url("/lake/afile"))
    for check in (require_lake, prepare_lake):
        with pytest.raises(LakeError, match="is not a directory"):
            check(file_root)
    missing = WebHDFSLake(webhdfs_server.lake_url("/lake/nope"))
    prepare_lake(missing)
    with pytest.raises(LakeError, match="does not exist"):
        require_lake(missing)
