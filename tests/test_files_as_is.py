""":func:`fediscope.files.atomic_out` given a name that is no file to replace: ``/dev/stdout`` (a link to
``/proc/self/fd/1``), ``/dev/fd/N``, ``/proc/self/fd/N``. Written to as it is, through the very descriptor.

Before: the temporary file was made beside the name and renamed over it: in ``/proc/self/fd`` that fails ("cannot
write"), and ``--out /dev/stdout > file`` failed with a permission error on ``/dev`` (as root: replaced the
machine's ``/dev/stdout``). Only ``spark_jobs/metrics.py`` had a rule of its own, which reopened the name
(truncating a file ``>>`` appends to).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from fediscope.files import atomic_out, written_as_is

DATA = b'{"rows": 3}\n'


def test_a_descriptor_of_a_file_opened_here_is_written_through_not_replaced(tmp_path: Path) -> None:
    """The file keeps its inode and its mode (the caller's: ``mode`` is not applied), and what the descriptor is
    written after follows the data (one offset: the summary ``spark_jobs/metrics.py`` prints after its rows)."""
    target = tmp_path / "redirected.json"
    with target.open("wb") as file:
        file.write(b"before\n")
        file.flush()
        before = os.fstat(file.fileno())
        with atomic_out(Path(f"/proc/self/fd/{file.fileno()}"), 0o600) as write:
            write(DATA)
        file.write(b"after\n")
    assert target.read_bytes() == b"before\n" + DATA + b"after\n"
    after = target.stat()
    assert (after.st_ino, stat.S_IMODE(after.st_mode)) == (before.st_ino, stat.S_IMODE(before.st_mode))
    assert os.listdir(tmp_path) == ["redirected.json"]  # no temporary file anywhere


def test_a_descriptor_appending_to_a_file_keeps_what_it_held(tmp_path: Path) -> None:
    """``--out /dev/fd/N`` with ``N>> log``: appended, as the shell appends (reopening the name truncated it)."""
    log = tmp_path / "log"
    log.write_bytes(b"an earlier run\n")
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        with atomic_out(Path(f"/dev/fd/{descriptor}")) as write:
            write(DATA)
    finally:
        os.close(descriptor)
    assert log.read_bytes() == b"an earlier run\n" + DATA


def test_a_closed_descriptor_is_one_error_not_a_file_made(tmp_path: Path) -> None:
    descriptor = os.open(tmp_path / "gone", os.O_WRONLY | os.O_CREAT)
    os.close(descriptor)
    out = Path(f"/proc/self/fd/{descriptor}")
    def error(path: Path, exc: OSError) -> ValueError:
        return ValueError(f"cannot write {path}: {exc.strerror}")

    with pytest.raises(ValueError, match=re.escape(f"cannot write {out}: Bad file descriptor")), \
            atomic_out(out, error=error) as write:
        write(DATA)
    assert (tmp_path / "gone").read_bytes() == b""


def test_stdout_and_the_names_of_descriptors_are_written_as_is_but_files_beside_them_are_not(tmp_path: Path) -> None:
    """Only asked, never written: ``/dev/stdout`` itself is written by the CLI tests, in a child that cannot make a
    file in ``/dev`` (tests/dev_stdout.py)."""
    for name in ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/1", "/dev/null"):
        assert written_as_is(Path(name)), name
    for name in (tmp_path / "results.json", Path("/dev/shm/results.json")):
        assert not written_as_is(name), name
