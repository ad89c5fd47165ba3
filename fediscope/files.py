"""Writing a file whole or not at all, for the library and the CLI alike (standard library only: the demo imports
what uses it before it knows click is installed)."""

from __future__ import annotations

import os
import re
import stat
import sys
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
    else fails in the body between two writes (a store read) is not taken for one.

    A name that is no file to replace (:func:`written_as_is`: ``/dev/stdout``, a named pipe, ``/dev/null``) is
    written to as it is (:func:`_opened_as_is`: ``/dev/stdout`` is this process's stdout itself, wherever it goes):
    neither whole nor not at all, and ``mode`` is not applied: the mode is the caller's (the shell made the file
    ``> file`` names; a pipe or a device has its own)."""
    if written_as_is(out):
        with _opened_as_is(out, error) as file:
            yield lambda data: _write_out(file, out, data, error)
            try:
                file.flush()
            except OSError as exc:
                raise _error(error, out, exc) from None
        return
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


def written_as_is(out: Path) -> bool:
    """Whether ``out`` names no file to replace but one to write to as it is: something there that is no regular
    file nor a symbolic link (a named pipe, a device such as ``/dev/null``), or any name in ``/dev`` itself (not
    ``/dev/shm``, a folder of regular files) or in ``/proc`` (``/dev/fd/1``, ``/proc/self/fd/1``).
    ``/dev/stdout`` is a link to ``/proc/self/fd/1``, itself a link to the file ``> file`` opened when stdout is
    redirected to one: renamed over, the temporary file would replace the machine's ``/dev/stdout`` (as root, in a
    container) or fail with a permission error (as anyone else) instead of landing in ``file``. A symbolic link
    elsewhere is no such name even when it points at a pipe or a device: it is replaced, never written through
    (one planted at ``out`` in a shared folder would otherwise receive what is written)."""
    try:
        kind = out.lstat().st_mode
    except OSError:  # nothing there yet (or a folder that cannot be searched: the temporary file says why)
        kind = None
    if kind is not None and not (stat.S_ISREG(kind) or stat.S_ISLNK(kind) or stat.S_ISDIR(kind)):
        return True
    try:
        folder = out.parent.resolve()
    except OSError:  # a loop of links: not /dev's or /proc's
        return False
    return folder in (Path("/dev"), Path("/proc")) or Path("/proc") in folder.parents


#: ``/dev/stdout``, ``/dev/fd/3``, ``/proc/self/fd/3``: a name of one of this process's file descriptors.
_DESCRIPTOR = re.compile(r"/dev/(?P<std>stdout|stderr)|/(?:dev|proc/(?:self|thread-self|(?P<pid>\d+)))/fd/(?P<fd>\d+)")


@contextmanager
def _opened_as_is(out: Path, error: WriteError) -> Iterator[BinaryIO]:
    """``out`` opened to be written as it is. A name of one of this process's file descriptors (``/dev/stdout``,
    ``/dev/fd/N``, ``/proc/self/fd/N``) is that descriptor itself (a duplicate, as the shell takes ``> /dev/stdout``):
    not opened anew, which would truncate a file ``>> log`` appends to and write from its start what the process
    prints to it after (``spark_jobs/metrics.py``'s summary would overwrite the rows). Anything else (a named pipe,
    ``/dev/null``) is opened as ``open(out, "w")`` would."""
    try:
        descriptor = _descriptor(out)
        if descriptor is None:
            file = open(out, "wb")  # noqa: SIM115 - closed below
        else:
            for stream in (sys.stdout, sys.stderr):  # what was printed before goes first
                if stream is not None:
                    stream.flush()
            file = os.fdopen(os.dup(descriptor), "wb")
    except OSError as exc:
        raise _error(error, out, exc) from None
    with file:
        yield file


def _descriptor(out: Path) -> int | None:
    """The file descriptor of this process that ``out`` names (see :data:`_DESCRIPTOR`), else None."""
    match = _DESCRIPTOR.fullmatch(os.path.normpath(os.path.abspath(out)))
    if match is None or (match["pid"] is not None and int(match["pid"]) != os.getpid()):
        return None
    return {"stdout": 1, "stderr": 2}[match["std"]] if match["std"] else int(match["fd"])


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
