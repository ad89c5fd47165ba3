"""The lake backends the contract tests run against: a local directory, the WebHDFS double, a real namenode.

Each case can optionally pause a write half-way (``hold_next_write``) or make the next write fail after part of
its data (``break_next_write``; on WebHDFS every attempt of it, as the backend retries a broken upload), so
atomicity is tested by observing the lake *during* a write, not only after.
A real namenode offers neither (those tests skip); it runs when ``FEDISCOPE_TEST_WEBHDFS`` names a base URL such
as ``webhdfs://namenode:9870/tmp/fediscope-test`` (each test gets its own subdirectory, deleted afterwards).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from doubles.webhdfs_server import WebHDFSDouble, WriteHold

import fediscope.lake.local as local_module
import fediscope.lake.webhdfs as webhdfs_module
from fediscope.lake.backend import LakeBackend
from fediscope.lake.local import LocalLake
from fediscope.lake.webhdfs import WebHDFSLake

REAL_WEBHDFS = os.environ.get("FEDISCOPE_TEST_WEBHDFS", "")


@dataclass
class LakeCase:
    name: str
    lake: LakeBackend
    hold_next_write: Callable[[], WriteHold] | None = None
    break_next_write: Callable[[], None] | None = None
    disk: Path | None = None  # where the files really are, when the test can look (temporary names included)

    def names_on_disk(self) -> list[str]:
        assert self.disk is not None
        return sorted(p.relative_to(self.disk).as_posix() for p in self.disk.rglob("*") if p.is_file())


def local_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LakeCase:
    root = tmp_path / "lake"

    def hold() -> WriteHold:
        # LocalLake writes the temporary file, fsyncs, then renames: pausing the fsync pauses the write between
        # "temporary file complete on disk" and "renamed into place".
        pause, real_fsync, used = WriteHold(), os.fsync, []

        def fsync(fd: int) -> None:
            if not used:
                used.append(True)
                pause.reached.set()
                pause.released.wait(30)
            real_fsync(fd)

        monkeypatch.setattr(local_module.os, "fsync", fsync)
        return pause

    def fail() -> None:
        real_replace, used = os.replace, []

        def replace(src: str, dst: str) -> None:
            if not used:
                used.append(True)
                raise OSError(errno.EIO, "Input/output error (injected)")
            real_replace(src, dst)

        monkeypatch.setattr(local_module.os, "replace", replace)

    return LakeCase("local", LocalLake(root), hold, fail, root)


def double_case(double: WebHDFSDouble, monkeypatch: pytest.MonkeyPatch) -> LakeCase:
    monkeypatch.setattr(webhdfs_module, "WRITE_RETRY_DELAYS", (0.01, 0.01))

    def fail() -> None:  # the first upload and each retry of it
        double.fail_next_write(after_bytes=3, times=1 + len(webhdfs_module.WRITE_RETRY_DELAYS))

    return LakeCase("webhdfs-double", WebHDFSLake(double.lake_url("/lake", user="fediscope")),
                    double.hold_next_write, fail, double.local("/lake"))
