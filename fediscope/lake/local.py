"""Lake backend on a local directory (the embedded default)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from fediscope.errors import LakeError
from fediscope.lake.backend import Entry, hidden

#: errno values of ``link(2)`` on filesystems without hard links (FAT, some network and FUSE mounts).
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}


def _write_synced(fd: int, data: bytes, path: Path | str) -> None:
    """Write ``data`` to the open file ``fd`` and sync it to disk; on failure the file at ``path`` (created by the
    caller, so nobody else's) is removed."""
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise


def _create_excl(target: Path, data: bytes) -> bool:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    _write_synced(fd, data, target)
    return True


class LocalLake:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _abs(self, path: str) -> Path:
        # Lexically (``..`` removed), not ``resolve()``d: a lake directory may be a symbolic link the operator put
        # there (``raw`` moved to a bigger disk); resolving it made every path below it "escape the lake root".
        target = Path(os.path.normpath(self.root / path.lstrip("/")))
        if target != self.root and self.root not in target.parents:
            raise LakeError(f"path {path!r} escapes the lake root {self.root}")
        return target

    @staticmethod
    def _write_temporary(target: Path, data: bytes) -> str:
        """``data`` written and synced to a hidden temporary file beside ``target``; returns its path."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".tmp", dir=target.parent)
        _write_synced(fd, data, tmp)
        return tmp

    def write_atomic(self, path: str, data: bytes) -> None:
        target = self._abs(path)
        try:
            tmp = self._write_temporary(target, data)
            try:
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _sync_directory(target.parent)
        except OSError as exc:
            raise LakeError(f"cannot write {target}: {exc.strerror or exc}") from None

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """The file is written whole under a temporary name, then hard-linked to ``path``: ``link(2)`` fails
        when ``path`` exists, so of two concurrent callers exactly one wins, and nobody sees a partial file.
        On a filesystem without hard links, ``O_CREAT | O_EXCL`` gives the same exclusivity."""
        target = self._abs(path)
        try:
            tmp = self._write_temporary(target, data)
            try:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    return False
                except OSError as exc:
                    if exc.errno not in _NO_HARD_LINKS:
                        raise
                    return _create_excl(target, data)
                return True
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot create {target}: {exc.strerror or exc}") from None

    def read(self, path: str) -> bytes:
        try:
            return self._abs(path).read_bytes()
        except OSError as exc:
            raise LakeError(f"cannot read {self._abs(path)}: {exc.strerror or exc}") from None

    def exists(self, path: str) -> bool:
        return self._check(path, Path.exists)

    def is_dir(self, path: str) -> bool:
        return self._check(path, Path.is_dir)

    def _check(self, path: str, check: Callable[[Path], bool]) -> bool:
        """``check(path)``; a path that cannot be looked at (a parent directory this user may not search) is a
        LakeError naming it, not a PermissionError traceback (one that is missing, or below a file, is not there)."""
        target = self._abs(path)
        try:
            return check(target)
        except OSError as exc:
            raise LakeError(f"cannot look at {target}: {exc.strerror or exc}") from None

    def _entry(self, p: Path) -> Entry | None:
        """The entry of ``p`` (a symbolic link followed); None for one that is not there to read: vanished
        meanwhile, a symbolic link that leads nowhere (dangling, or a loop), or neither a directory nor a regular
        file (a socket, a FIFO). One that cannot be read (no permission) is a LakeError naming it, never a
        traceback, and never left out silently: a partition not read would be data not processed."""
        rel = p.relative_to(self.root).as_posix()
        try:
            info = p.stat()
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP):
                return None
            raise LakeError(f"cannot read {p}: {exc.strerror or exc}") from None
        is_dir = stat.S_ISDIR(info.st_mode)
        if not is_dir and not stat.S_ISREG(info.st_mode):
            return None
        return Entry(rel, is_dir, 0 if is_dir else info.st_size, info.st_mtime)

    def list(self, path: str) -> list[Entry]:
        """As :meth:`walk`, an entry that vanishes while it is listed (deleted or renamed away by a concurrent
        process between reading the directory and its ``stat``) is left out, and a directory that vanishes
        before it is read lists as empty, as one that does not exist."""
        base = self._abs(path)
        if not base.is_dir():
            return []
        try:
            children = sorted(base.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise LakeError(f"cannot list {base}: {exc.strerror or exc}") from None
        return [entry for child in children if not hidden(child.name)
                and (entry := self._entry(child)) is not None]

    def walk(self, path: str) -> list[Entry]:
        """Symbolic links to directories are followed (each directory once), as ``list``, ``read`` and the engines
        reading the files follow them; ``Path.rglob`` would skip a ``raw`` moved to another disk and linked back."""
        return self._files(path, hidden_ones=False)

    def walk_hidden(self, path: str) -> list[Entry]:
        return self._files(path, hidden_ones=True)

    def _files(self, path: str, hidden_ones: bool) -> list[Entry]:
        """The files below ``path`` whose names are hidden (``hidden_ones``) or not; a file that vanishes while
        it is listed (a temporary file renamed into place meanwhile) is left out."""
        base = self._abs(path)
        if not base.is_dir():
            return []
        def unreadable(exc: OSError) -> None:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):  # a directory that vanished meanwhile lists nothing
                raise LakeError(f"cannot list {exc.filename}: {exc.strerror or exc}") from None

        entries: list[Entry] = []
        seen: set[tuple[int, int]] = set()
        for directory, subdirectories, files in os.walk(base, followlinks=True, onerror=unreadable):
            try:
                info = os.stat(directory)
            except OSError as exc:
                unreadable(exc)
                continue
            if (info.st_dev, info.st_ino) in seen:  # a link loop
                subdirectories.clear()
                continue
            seen.add((info.st_dev, info.st_ino))
            for name in files:
                if hidden(name) == hidden_ones and (entry := self._entry(Path(directory, name))) is not None \
                        and not entry.is_dir:
                    entries.append(entry)
        return sorted(entries, key=lambda e: e.path.split("/"))

    def delete(self, path: str, recursive: bool = False) -> bool:
        target = self._abs(path)
        if not target.exists():
            return False
        try:
            if target.is_dir():
                if recursive:
                    shutil.rmtree(target)
                else:
                    target.rmdir()
            else:
                target.unlink()
        except OSError as exc:
            raise LakeError(f"cannot delete {target}: {exc.strerror or exc}"
                            + ("; pass recursive=True to delete a non-empty directory" if not recursive else "")
                            ) from None
        return True

    def rename(self, path: str, destination: str) -> None:
        source, target = self._abs(path), self._abs(destination)
        if target.exists():
            raise LakeError(f"cannot rename {source} to {target}: the destination exists")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            source.rename(target)
        except OSError as exc:
            raise LakeError(f"cannot rename {source} to {target}: {exc.strerror or exc}") from None

    def local_path(self, path: str) -> str | None:
        return str(self._abs(path))

    def storage_path(self, path: str) -> str:
        return path.strip("/")


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable: without it, after a power cut a checkpoint written later may
    survive while the batch file it counts was never renamed into place. Filesystems that cannot sync a
    directory (some network mounts) are left as they are."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
