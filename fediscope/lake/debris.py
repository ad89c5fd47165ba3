"""Temporary files left in the lake by interrupted writes, and their removal.

Both backends write a file atomically under a hidden temporary name beside its target and rename it into place
(:mod:`fediscope.lake.local`: ``tempfile.mkstemp(prefix="." + name + ".", suffix=".tmp")``, so
``.<name>.<8 characters of a-z 0-9 _>.tmp``; :mod:`fediscope.lake.webhdfs`: ``.<name>.<12 hex digits>.tmp``). A
failed write removes its temporary file, but a process killed between writing and renaming (SIGKILL, a reboot, a
lost container) leaves it behind for good. Readers never see it (``list``/``walk`` hide such names; Hadoop and
Spark skip dot-files), but such files pile up.

The NiFi flows (``nifi_templates/``) land the same way: PutFile and PutHDFS (``Writing Strategy``
``writeAndRename``) write ``.<filename>`` in the target directory and rename it to ``<filename>``. A NiFi killed
in between, or a PutHDFS whose clean-up after a failed write did not reach the namenode, leaves that dot-file
behind; a retry of the same FlowFile rewrites and renames it, but one that never comes (the FlowFile quarantined
after its retries, a lost NiFi repository) leaves it for good. Such a file is a candidate only where and as the
flows name it (:data:`NIFI_IN_FLIGHT_PATH`): ``.<yyyyMMddTHHmmssZ>-<8 hex>.jsonl`` directly in a
``raw/mastodon/statuses/instance=<domain>/dt=<YYYY-MM-DD>/`` partition (``Name batch file``), and
``.nifi_<fetch|landing|unprocessable>-<yyyyMMddTHHmmssZ>-<8 hex>.json`` directly in a
``quarantine/instance=<domain>/dt=<YYYY-MM-DD>/`` directory (``Name quarantine file``). The flows set no
``Last Modified Time``, so its modification time is its write's. Should NiFi retry such a FlowFile more than a day
after the kill, just as the file is removed, the retry's rename fails and ``Retry landing`` writes it again:
nothing is lost.

:func:`remove_stale_temporary_files` removes the ones older than :data:`STALE_AFTER_SECONDS` (a day: no write
takes that long, so a write under way is never touched, even one by a collector that holds no lake lock). Only
those names are candidates: other dot-files (``.<name>`` of any other name or in any other directory, Spark's
``.crc``), lock files (``_state/<name>.lock`` and ``.lock.takeover``), checkpoints and data are never removed.
**Whose clock.** A file's age is the storage's "now" minus the modification time the storage reports, both by
the storage's clock: on a local lake that is this host's; on WebHDFS it is the namenode's, which sets the
modification times. A host clock running a day ahead of the namenode would make a write under way look a day old,
so on WebHDFS "now" is the namenode's (:meth:`~fediscope.lake.webhdfs.WebHDFSLake.server_time`: the ``Date``
header of its answer, read just before the walk, so a file written during the walk is never older than it). Only
when the server's answer gives no time is this host's clock used, with a warning.

``fediscope gdpr retention`` (and so the maintenance DAG) runs it; ``fediscope doctor`` warns about such files on a
local lake (walking a large lake over WebHDFS, one request per directory, is too slow for a health check).

:func:`unfinished_raw_batches` reads (never changes) those of raw batches, of any age, for the access export and
the erasure's search of the account's traces: a collection killed between writing a batch and renaming it leaves the
batch's records there, perhaps the data subject's, until the file is removed. The erasure lists the lake's temporary
files once (:func:`list_temporary_files`) and hands that listing to both, rather than walking the hidden files twice
(over WebHDFS one request per directory).
"""

from __future__ import annotations

import json
import logging
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fediscope.errors import LakeError
from fediscope.lake.backend import Entry, LakeBackend
from fediscope.lake.layout import RAW_ROOT
from fediscope.wording import count

log = logging.getLogger(__name__)

#: A temporary file this old or older is an interrupted write's: one day.
STALE_AFTER_SECONDS = 24 * 3600
#: A storage clock this far from this host's is worth a note in the log, in seconds.
CLOCK_NOTE_SECONDS = 300
#: ``.<target name>.<random>.tmp``, where random is ``tempfile.mkstemp``'s 8 characters (LocalLake) or 12 hex
#: digits (WebHDFSLake); the target name is whatever was being written (``b1.jsonl``, ``process.lock``).
TEMPORARY_NAME = re.compile(r"\.[^/]+\.(?:[a-z0-9_]{8}|[0-9a-f]{12})\.tmp")
#: A NiFi batch id, ``BATCH_ID`` of nifi_templates/build_flows.py: ``now()`` as ``yyyyMMdd'T'HHmmss'Z'`` (GMT), ``-``
#: and the first 8 characters of the FlowFile's ``uuid`` (lower-case hex).
_NIFI_BATCH_ID = r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}"
_NIFI_PARTITION = r"instance=[^/]+/dt=[0-9]{4}-[0-9]{2}-[0-9]{2}"
#: The lake path (relative to its root, as the backends report it: ``:`` unescaped) of a file the NiFi flows are
#: writing: PutFile/PutHDFS's ``.<filename>`` beside the ``<filename>`` it becomes, in the directories the flows
#: write to (``LAKE_PARTITION`` and ``QUARANTINE_DIR`` of build_flows.py) and nowhere else.
NIFI_IN_FLIGHT_PATH = re.compile(
    rf"raw/mastodon/statuses/{_NIFI_PARTITION}/\.{_NIFI_BATCH_ID}\.jsonl"
    rf"|quarantine/{_NIFI_PARTITION}/\.nifi_(?:fetch|landing|unprocessable)-{_NIFI_BATCH_ID}\.json")


def is_temporary_name(name: str) -> bool:
    """Whether a file name (no directory) is one of the backends' temporary names."""
    return TEMPORARY_NAME.fullmatch(name) is not None


def is_nifi_in_flight(path: str) -> bool:
    """Whether a lake path (relative to the root) is a dot-file the NiFi flows write before renaming it."""
    return NIFI_IN_FLIGHT_PATH.fullmatch(path) is not None


def is_temporary_path(path: str) -> bool:
    """Whether a lake path is a temporary file of a write: the backends' (:func:`is_temporary_name`) or the NiFi
    flows' (:func:`is_nifi_in_flight`)."""
    return is_temporary_name(path.rsplit("/", 1)[-1]) or is_nifi_in_flight(path)


def temporary_target(path: str) -> str | None:
    """The name of the file a temporary file of a write (a lake path or a name) becomes once renamed:
    ``.b1.jsonl.ab12cd34.tmp`` (the backends') and ``.<batch id>.jsonl`` (the NiFi flows') are ``b1.jsonl`` and
    ``<batch id>.jsonl``; None when it is no such file (:func:`is_temporary_path`)."""
    name = path.rsplit("/", 1)[-1]
    if is_temporary_name(name):
        return name[1:].rsplit(".", 2)[0]
    return name[1:] if is_nifi_in_flight(path) else None


def temporary_destination(path: str) -> str | None:
    """The lake path a temporary file of a write (a lake path) is renamed to: :func:`temporary_target` in the same
    directory; None when it is no such file."""
    target = temporary_target(path)
    if target is None:
        return None
    directory, _, _ = path.rpartition("/")
    return f"{directory}/{target}" if directory else target


def unfinished_raw_batches(lake: LakeBackend, listed: Sequence[Entry] | None = None) -> Iterator[tuple[str, bytes]]:
    """Each temporary file of a raw batch's write (:func:`temporary_target` a ``.jsonl`` or ``.jsonl.gz``), of any
    age, with its records' lines as far as they were written (decompressed): read only, never changed. Among
    ``listed`` (the lake's temporary files as :func:`list_temporary_files` found them: a caller that walks the whole
    lake for them anyway), else found by a walk of the raw lake's hidden files.

    Collectors take no lake lock, so such a file may be a write under way: its last line may be cut (left out
    unless it is whole JSON), a file renamed into place meanwhile is left out (its batch is listed after it), and a
    compressed one is decompressed as far as it goes (a write under way has no gzip trailer yet)."""
    entries = lake.walk_hidden(RAW_ROOT) if listed is None else [e for e in listed if e.path.startswith(f"{RAW_ROOT}/")]
    for entry in entries:
        target = temporary_target(entry.path)
        if entry.is_dir or target is None or not target.endswith((".jsonl", ".jsonl.gz")):
            continue
        try:
            data = lake.read(entry.path)
        except LakeError:
            if lake.exists(entry.path):
                raise
            continue  # renamed into place (or removed) meanwhile
        text = _decompressed_part(entry.path, data) if target.endswith(".gz") else data
        if text is not None:
            yield entry.path, _whole_lines(entry.path, text)


def _decompressed_part(path: str, data: bytes) -> bytes | None:
    """The bytes a gzip stream cut anywhere holds as far as it goes; None (and a warning) when it is damaged."""
    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data)
    except zlib.error as exc:
        log.warning("the temporary file %s of an unfinished write is not gzip as far as it goes (%s): not read", path,
                    exc)
        return None


def _whole_lines(path: str, text: bytes) -> bytes:
    """``text`` without a last line a write under way (or killed) cut: one not ended by a newline that is not JSON."""
    head, newline, tail = text.rpartition(b"\n")
    if not tail.strip():
        return text
    try:
        json.loads(tail)
    except ValueError:
        log.info("the last line of the temporary file %s of an unfinished write is cut (%d bytes): left out", path,
                 len(tail))
        return head + newline
    return text


def format_bytes(size: int) -> str:
    """``512 bytes``, ``1.2 KiB``, ``3.4 MiB``, ``5.0 GiB``."""
    if size < 1024:
        return count(size, "byte")
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


@dataclass
class TemporaryCleanup:
    """What :func:`remove_stale_temporary_files` removed (or, with ``dry_run``, would remove)."""

    dry_run: bool
    older_than_hours: float
    paths: list[str] = field(default_factory=list)
    bytes: int = 0
    failed: list[str] = field(default_factory=list)  # "<path>: <why>" of files that could not be removed
    #: the temporary files left in place because they are younger (a write may be under way), each with when it is
    #: old enough, by the storage's clock (seconds since the epoch; None: the storage reports no modification time)
    young: list[tuple[str, float | None]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.paths)

    def describe(self) -> str:
        """``removed 3 stale temporary files (1.2 MiB)``; ``no stale temporary files`` when there were none."""
        if not self.paths:
            return f"no stale temporary files (older than {self.older_than_hours:g} h)"
        verb = "would remove" if self.dry_run else "removed"
        return (f"{verb} {count(self.count, 'stale temporary file')} ({format_bytes(self.bytes)}) left by interrupted "
                f"writes, older than {self.older_than_hours:g} h")

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "bytes": self.bytes, "older_than_hours": self.older_than_hours,
                "paths": list(self.paths), "failed": list(self.failed)}


def storage_now(lake: LakeBackend) -> float:
    """The time now by the clock that stamps the lake's modification times (see the module docstring): the
    server's, for a backend that can tell it (``server_time()``: WebHDFS), else this host's."""
    clock: Callable[[], float | None] | None = getattr(lake, "server_time", None)
    host = time.time()
    if clock is None:  # a local lake: its files are stamped by this host's clock
        return host
    server = clock()
    if server is None:
        log.warning("the lake %s did not say what time it is (no Date header in its answer): the age of temporary "
                    "files is judged by this host's clock, which must not run ahead of the storage's", lake.url)
        return host
    if abs(server - host) > CLOCK_NOTE_SECONDS:
        log.info("the clock of the lake %s runs %.1f h %s this host's: the age of temporary files is judged by the "
                 "lake's", lake.url, abs(server - host) / 3600, "ahead of" if server > host else "behind")
    return server


@dataclass(frozen=True)
class TemporaryFiles:
    """The temporary files of writes below a directory, found in one walk of its hidden files
    (:func:`list_temporary_files`), and the storage's time just before that walk."""

    now: float
    entries: list[Entry]


def list_temporary_files(lake: LakeBackend, path: str = "", now: float | None = None) -> TemporaryFiles:
    """The temporary files of writes (:func:`is_temporary_path`: the backends' and the NiFi flows') below ``path``
    (the whole lake by default), with ``now`` (by default :func:`storage_now`, the storage's clock, read before the
    walk: a file written during it is never older than that)."""
    now = storage_now(lake) if now is None else now
    return TemporaryFiles(now, [entry for entry in lake.walk_hidden(path)
                                if not entry.is_dir and is_temporary_path(entry.path)])


def stale_temporary_files(lake: LakeBackend, older_than: float = STALE_AFTER_SECONDS, now: float | None = None,
                          path: str = "") -> list[Entry]:
    """The temporary files of writes below ``path`` (the whole lake by default) last modified more than
    ``older_than`` seconds before ``now`` (:func:`list_temporary_files`). A file whose modification time the storage
    does not report is never stale."""
    stale, _ = _split_by_age(list_temporary_files(lake, path, now), older_than)
    return stale


def _split_by_age(listed: TemporaryFiles, older_than: float) -> tuple[list[Entry], list[Entry]]:
    """The temporary files ``listed``: (the stale ones, the others)."""
    if older_than < 0:
        raise ValueError(f"older_than must be 0 or more seconds, not {older_than!r}")
    limit = listed.now - older_than
    stale: list[Entry] = []
    young: list[Entry] = []
    for entry in listed.entries:
        (stale if entry.mtime is not None and entry.mtime < limit else young).append(entry)
    return stale, young


def remove_stale_temporary_files(lake: LakeBackend, older_than: float = STALE_AFTER_SECONDS, *,
                                 dry_run: bool = False, now: float | None = None,
                                 listed: TemporaryFiles | None = None) -> TemporaryCleanup:
    """Remove (with ``dry_run`` only list) the lake's stale temporary files; see the module docstring. A file that
    cannot be removed is reported in ``failed`` and the others are still removed; the younger ones are listed in
    ``young``. ``listed``: the lake's temporary files as :func:`list_temporary_files` found them earlier (its time,
    not ``now``, judges their age; one gone meanwhile is passed over), else they are listed now."""
    cleanup = TemporaryCleanup(dry_run=dry_run, older_than_hours=older_than / 3600)
    stale, young = _split_by_age(listed or list_temporary_files(lake, now=now), older_than)
    cleanup.young = [(entry.path, None if entry.mtime is None else entry.mtime + older_than) for entry in young]
    for entry in stale:
        if not dry_run:
            try:
                if not lake.delete(entry.path):
                    continue  # gone meanwhile
            except LakeError as exc:
                cleanup.failed.append(f"{entry.path}: {exc}")
                log.warning("could not remove the stale temporary file %s: %s", entry.path, exc)
                continue
            log.info("removed the stale temporary file %s (%d bytes)", entry.path, entry.size)
        cleanup.paths.append(entry.path)
        cleanup.bytes += entry.size
    return cleanup
