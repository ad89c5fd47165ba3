"""One ``fediscope collect`` at a time walks one source of one instance in one local lake.

Two collects of the same source at once share its rate-limit budget and its checkpoint, so the second stalls
for minutes and the two race on the checkpoint. A collect holds an advisory ``flock`` on
``<lake>/_state/<instance>/collect-<source tag>.lock`` while it walks that source; the kernel releases it when the
process ends, killed too, so no stale lock is ever left. A second collect finds it held and fails that source at
once (its other sources go on). Collects of different sources (Airflow's tasks per instance) take different
locks. A WebHDFS lake has no ``flock``: no lock is taken there.

The lock file stays when the walk ends (it is where the next collect locks). A source naming an account names it by
a digest of the account in lower case (:func:`walk_lock_tag`), so ``gdpr erase`` finds and deletes it with the
account's checkpoints (:func:`walk_lock_name`). The lock of another spelling of an account source, whose state the
collector adopted (:mod:`fediscope.sources.spellings`), is deleted when no collect holds it
(:func:`remove_walk_lock`): a collect that opened it just before then finds the file it locked gone, and locks the
one at its name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fediscope.errors import FediscopeError, LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import STATE_ROOT
from fediscope.lake.state import PERSONAL_SOURCES, source_batch_tag
from fediscope.sources.spec import SourceRef

if TYPE_CHECKING:
    from fediscope.privacy import PrivacyPolicy

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]


#: How the error of a source whose walk lock another collect holds begins (:func:`source_walk_lock`)
HELD_BY_ANOTHER = "another fediscope collect is walking"


def held_by_another(error: str | None) -> bool:
    """Whether ``error`` (a failed source's, as the collector's summary keeps it) is that of a walk lock another
    collect holds."""
    return bool(error) and str(error).startswith(HELD_BY_ANOTHER)


def walk_lock_tag(policy: PrivacyPolicy | None, source: SourceRef) -> str:
    """What names the walk lock of ``source``: its batch tag (:func:`~fediscope.lake.state.source_batch_tag`, a digest
    where the source names an account), of the account in lower case, as handles are (``account:Alice`` and
    ``account:alice`` walk one checkpoint, and ``gdpr erase`` finds the lock of the account it erases)."""
    if source.kind in PERSONAL_SOURCES and source.arg is not None:
        source = SourceRef(source.kind, source.arg.lower())
    return source_batch_tag(policy, source)


def walk_lock_name(tag: str) -> str:
    """The name of the walk lock file of the source tagged ``tag`` (:func:`walk_lock_tag`), in its instance's
    ``_state/<domain>/``: ``collect-<tag>.lock``."""
    return f"collect-{re.sub(r'[^A-Za-z0-9_.-]', '_', tag)}.lock"


@contextmanager
def source_walk_lock(lake: LakeBackend, domain: str, source: str, tag: str) -> Iterator[None]:
    """Hold the walk lock of ``domain``'s ``source`` for the block; FediscopeError naming the holder when held.
    ``tag`` names the lock file (:func:`walk_lock_tag`)."""
    path = lake.local_path(f"{STATE_ROOT}/{domain}/{walk_lock_name(tag)}")
    if path is None or fcntl is None:
        yield
        return
    try:
        fd, locked = _lock(path, domain, source)
    except OSError as exc:  # a full disk, a read-only lake, a directory not writable: that source fails, said so
        raise LakeError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        if locked:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:  # the disk filled up: the walk could land nothing either
                raise LakeError(f"cannot write {path}: {exc.strerror or exc}") from None
        yield
    finally:
        os.close(fd)


def _lock(path: str, domain: str, source: str) -> tuple[int, bool]:
    """Open and lock the walk lock file ``path``: (its descriptor, whether it is locked: not on a file system
    without locks). FediscopeError naming the holder when held. A file deleted between its opening and its locking
    (:func:`remove_walk_lock`) is not the lock any more: the one at its name is opened and locked then."""
    while True:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise FediscopeError(f"{HELD_BY_ANOTHER} {domain} {source} in this lake "
                                 f"(pid {holder})") from None
        except OSError:  # a file system without locks (NFS without its lock daemon): go on unlocked
            return fd, False
        if _same_file(fd, path):
            return fd, True
        os.close(fd)


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


def remove_walk_lock(lake: LakeBackend, domain: str, tag: str) -> bool:
    """Delete the walk lock file of ``domain``'s source tagged ``tag`` (:func:`walk_lock_tag`) unless a collect
    holds it (or the file system cannot say: it has no locks): whether it was deleted. For the lock of a spelling
    whose state another source adopted, left behind named after the account; nothing on a lake without walk
    locks (WebHDFS)."""
    path = lake.local_path(f"{STATE_ROOT}/{domain}/{walk_lock_name(tag)}")
    if path is None or fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # not there (or not to be opened: left as it is)
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held (BlockingIOError), or no locks here: whether it is held is not known
            return False
        if not _same_file(fd, path):  # deleted, and maybe created again, meanwhile: that one is another's
            return False
        os.unlink(path)  # while it is locked: a collect that opened it meanwhile finds it gone once it locks it
        return True
    finally:
        os.close(fd)
