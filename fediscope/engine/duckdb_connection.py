"""In-memory DuckDB connections within the settings' memory limit and threads, each spilling to a directory of its own.

Every DuckDB connection that may hold much data is opened by :func:`open_connection`: the DuckDB engine's
(:mod:`fediscope.engine.duckdb_engine`) and the metric comparison's (:mod:`fediscope.engine.metric_state`). It runs
within ``FEDISCOPE_DUCKDB_MEMORY_LIMIT`` on ``FEDISCOPE_DUCKDB_THREADS`` threads (DuckDB's defaults, 80% of the
memory and one thread per core, when unset), and what does not fit spills to a new ``fediscope-duckdb-*``
directory (mode 0700: spilled rows are the lake's) under the system's temporary directory (``TMPDIR``), removed
when the connection closes, is collected, or the interpreter exits. DuckDB's own choice for an in-memory
connection is ``.tmp`` in the current directory: a file left in the user's directory (or a failure where it is
read-only).

**Left behind by a killed process.** A process killed outright (SIGKILL; the kernel's OOM killer, likeliest just
while it spills) removes nothing, and its directory can hold gigabytes. So each directory holds a lock file,
:data:`LOCK_NAME`, on which its process holds an exclusive ``flock`` for as long as the directory is in use (the
directory is removed before the lock is let go); the kernel lets go of it when the process ends, however it ends.
Opening a connection removes every ``fediscope-duckdb-*`` directory under the temporary directory that is a
directory of this user's (not a symlink) and whose lock file it can lock itself: its process is gone
(:func:`remove_abandoned`, logged at INFO with the size freed). A lock, unlike a pid, cannot be mistaken for
another process's: not after the pid is reused, nor for a process of another user or in another container
sharing the directory. A process writes its pid into the lock file only once it holds the lock, so an empty
lock file is one being made (or one whose process was killed in that instant: an empty directory) and is left
alone, as is a directory without one (made by a fediscope older than this). On a file system that refuses
``flock`` (NFS without its lock daemon) the lock file stays empty: the directory is removed at close, never by
another process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
import weakref
from pathlib import Path

import duckdb

from fediscope.config import Settings
from fediscope.errors import FediscopeError
from fediscope.lake.debris import format_bytes

try:
    import fcntl
except ImportError:  # Windows: no flock, so no directory is known to be abandoned
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

PREFIX = "fediscope-duckdb-"
#: the lock file in each spill directory, held (flock) by the process using the directory
LOCK_NAME = "owner.lock"


class SpillDirectory:
    """A new spill directory, locked (see the module docstring) until :meth:`remove`; a FediscopeError when none
    can be made. Another ``prefix`` (and ``purpose``, its error's words) makes another process-owned temporary
    directory that :func:`remove_abandoned` with that prefix removes once its process is gone: Spark's catalog
    warehouse (:func:`fediscope.engine.spark_engine.process_warehouse`)."""

    def __init__(self, prefix: str = PREFIX, purpose: str = "for DuckDB to spill to") -> None:
        try:
            self.path = Path(tempfile.mkdtemp(prefix=prefix))
        except OSError as exc:  # also tempfile's "No usable temporary directory found"
            raise _unusable(exc, purpose) from None
        try:
            lock = _lock(self.path)
        except OSError as exc:  # its lock file: no room left for it (ENOSPC), say
            shutil.rmtree(self.path, ignore_errors=True)
            raise _unusable(exc, purpose) from None
        # removed on remove(), or when collected or the interpreter exits without it
        self.remove = weakref.finalize(self, _remove, str(self.path), lock)


def _unusable(exc: OSError, purpose: str = "for DuckDB to spill to") -> FediscopeError:
    return FediscopeError(f"cannot make a directory {purpose} under the temporary directory "
                          f"({exc.strerror or exc}): point TMPDIR at a writable directory")


def _lock(directory: Path) -> int | None:
    """The lock file made, locked, and then given this process's pid (an empty one is being made); its descriptor
    (not inherited by child processes), None without flock.

    The lock is waited for: a process removing abandoned directories that found the file before the pid was in it
    lets go of it at once."""
    if fcntl is None:
        return None
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:  # a file system without locks (NFS without its lock daemon: ENOLCK)
        os.close(fd)
        # the lock file stays empty, so no process takes the directory for abandoned; it is removed at close
        log.debug("DuckDB: no lock on %s (%s): not removable by another process if this one is killed", directory,
                  exc.strerror or exc)
        return None
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        os.close(fd)
        raise
    return fd


def _remove(path: str, lock: int | None) -> None:
    """The directory removed, then its lock let go: no other process sees it unlocked while it is in use."""
    shutil.rmtree(path, ignore_errors=True)
    if lock is not None:
        os.close(lock)


def remove_abandoned(root: Path | None = None, prefix: str = PREFIX,
                     whose: tuple[str, str] = ("DuckDB", "the spill directory")) -> list[Path]:
    """Remove the spill directories under ``root`` (the temporary directory) whose process is gone; the directories
    removed. Never fails: a directory that cannot be looked at or removed is left (a removal that fails is logged
    at WARNING). ``prefix`` and ``whose`` (the log lines' words: whose it is, what it is) for another kind of
    :class:`SpillDirectory`."""
    if fcntl is None:
        return []
    try:
        with os.scandir(root or tempfile.gettempdir()) as entries:
            candidates = [Path(e.path) for e in entries if e.name.startswith(prefix)]
    except OSError:
        return []
    return [path for path in candidates if _remove_if_abandoned(path, whose)]


def _remove_if_abandoned(path: Path, whose: tuple[str, str] = ("DuckDB", "the spill directory")) -> bool:
    """Remove ``path`` when it is a directory of this user's whose lock file, with a pid in it, nobody holds."""
    try:
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:  # no lock file (being made, or made by an older fediscope), or gone meanwhile
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: in use
            return False
        if os.fstat(fd).st_size == 0 or not _still_there(path, fd):
            return False  # being made; or removed by its process (or another) just before we locked it
        size = _size(path)
        try:
            shutil.rmtree(path)
        except OSError as exc:
            log.warning("%s: could not remove %s, %s of a process that is gone: %s", whose[0], path, whose[1], exc)
            return False
        log.info("%s: removed %s, %s of a process that ended without removing it (killed?): %s freed", whose[0],
                 path, whose[1], format_bytes(size))
        return True
    finally:
        os.close(fd)


def _still_there(path: Path, fd: int) -> bool:
    """Whether ``fd`` is still the directory's lock file (it was not removed while we waited to open or lock it)."""
    try:
        return os.stat(path / LOCK_NAME, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except OSError:
        return False


def _size(path: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


class OwnConnection:
    """An in-memory DuckDB connection (:attr:`con`) within a memory limit and threads, spilling to a
    :class:`SpillDirectory` of its own; :meth:`close` closes it and removes the directory."""

    def __init__(self, memory_limit: str | None, threads: int | None) -> None:
        self.memory_limit, self.threads = memory_limit, threads
        remove_abandoned()
        self.spill = SpillDirectory()
        config: dict[str, str | int] = {"temp_directory": str(self.spill.path)}
        if threads:
            config["threads"] = int(threads)
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            self.con = duckdb.connect(config=config)
            # DuckDB draws a progress bar on stdout for a query running over 2 s, a pipe or file included: it would
            # corrupt `--json` output and every report written to stdout (fediscope's progress goes to stderr)
            self.con.execute("SET enable_progress_bar = false")
        except BaseException:
            self.spill.remove()
            raise

    @property
    def spill_dir(self) -> Path:
        return self.spill.path

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self.spill.remove()


def open_connection(settings: Settings | None, threads: int | None = None,
                    memory_limit: str | None = None) -> OwnConnection:
    """A connection within ``settings.duckdb_memory_limit`` on ``settings.duckdb_threads`` threads (``memory_limit``
    and ``threads`` instead, when given; DuckDB's defaults without either)."""
    if settings is not None:
        memory_limit = memory_limit or settings.duckdb_memory_limit
        threads = threads or settings.duckdb_threads
    return OwnConnection(memory_limit, threads)
