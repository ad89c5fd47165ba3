"""Writing a file whole or not at all, for the library and the CLI alike (standard library only: the demo imports
what uses it before it knows click is installed)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

#: What a failure to write the file is raised as: ``error(path, exc)``, the OSError itself when None.
WriteError = Callable[[Path, OSError], Exception] | None


@contextmanager
def atomic_out(out: Path, mode: int | None = None, error: WriteError = None) -> Iterator[Callable[[bytes], Any]]:
    """The ``write`` of a file written whole or not at all: a hidden temporary file beside it
    (``.<name>.<random>.tmp``), synced and renamed over it at the end; removed, leaving a file already there as it
    was, when the body fails (or is interrupted). The file gets ``mode`` when given (a file of personal data or a
    key: ``0o600``; the temporary file is that already while it is written, so it is never readable by others,
    even for a moment), else the mode ``open(out, "w")`` would give it: an existing file's, else the umask's. A
    symbolic link at ``out`` is replaced, never written through. Failing to create, write or rename it raises
    ``error(out, exc)`` (:func:`fediscope.cli.common.out_error` for an ``--out`` option), else the OSError; what
    else fails in the body between two writes (a store read) is not taken for one."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise _error(error, out, exc) from None
    try:
        with os.fdopen(fd, "wb") as file:
            yield lambda data: _write_out(file, out, data, error)
            try:
                file.flush()
                os.fsync(file.fileno())
                os.chmod(tmp, _new_mode(out) if mode is None else mode)
                os.replace(tmp, out)
            except OSError as exc:
                raise _error(error, out, exc) from None
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already once renamed


def _error(error: WriteError, out: Path, exc: OSError) -> Exception:
    return exc if error is None else error(out, exc)


def _write_out(file: BinaryIO, out: Path, data: bytes, error: WriteError) -> None:
    try:
        file.write(data)
    except OSError as exc:  # a full disk
        raise _error(error, out, exc) from None


def _new_mode(out: Path) -> int:
    try:
        return stat.S_IMODE(out.stat().st_mode)
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
