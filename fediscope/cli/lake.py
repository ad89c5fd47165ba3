"""``fediscope lake``: ``ls``, what is in the lake — directories with their file counts and sizes, files with theirs;
``unlock``, who holds the lake lock (:mod:`fediscope.lake.lock`) and removing it by hand.

The listing reads metadata only (one listing per directory, on WebHDFS a LISTSTATUS), so it stays cheap on a big
lake. Counting a batch's records means downloading and decompressing the whole file: that happens only with
``--records``, which counts the batch files listed and, for a directory, every batch file below it (with its
progress on a terminal's stderr).

A lock left by a process that died on this host is taken over by the next run; one left by a process of another
host never is, since whether it still runs cannot be checked from here. ``unlock`` shows the holder and what this
host can tell about it, and removes the lock once the user confirms (``--yes``), never while a holder is known to
run here (unless ``--force``).
"""

from __future__ import annotations

import logging
import posixpath
import socket
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import click

from fediscope.cli.common import confirm_or_refuse, emit_json, is_terminal, json_option, say, settings_from_context
from fediscope.config import option_origin
from fediscope.console import printable
from fediscope.errors import FediscopeError, LakeError
from fediscope.lake.backend import Entry, LakeBackend, open_lake, require_lake
from fediscope.lake.batches import decode_jsonl
from fediscope.lake.lock import (
    LockHolder,
    LockStatus,
    State,
    age_seconds,
    age_text,
    lock_path,
    lock_status,
    remove_lock,
    shown_path,
)
from fediscope.step_progress import StatusLine
from fediscope.wording import count

BATCH_SUFFIXES = (".jsonl", ".jsonl.gz")
RECORDS_HINT = "(records not counted: add --records to read the batch files and count them)"


@click.group()
def lake() -> None:
    """Inspect the lake and its lock (FEDISCOPE_LAKE: a directory or webhdfs://namenode:9870/path)."""


def _count_records(data: bytes, path: str, damaged: list[str] | None = None) -> int | None:
    """Lines of a raw batch file (``.jsonl``/``.jsonl.gz``); None for other files and damaged ones (whose path
    is appended to ``damaged``)."""
    if not path.endswith(BATCH_SUFFIXES):
        return None
    try:
        return sum(1 for _ in decode_jsonl(data, path))
    except (ValueError, OSError, EOFError, zlib.error):  # not JSON Lines, not gzip, a truncated or damaged gzip
        if damaged is not None:
            damaged.append(path)
        return None


#: Called after each batch file read to count its records: (files read, files to read).
Progress = Callable[[int, int], None]


class _Counter:
    """Counts the records of batch files for one listing, reporting each file read to ``progress``. A batch file
    that cannot be read (no permission, vanished meanwhile) is not counted, as a damaged one is, and the listing
    goes on: the reason is added to ``unreadable``."""

    def __init__(self, backend: LakeBackend, total: int, progress: Progress | None, unreadable: list[str],
                 damaged: list[str] | None = None) -> None:
        self.backend, self.total, self.progress, self.done = backend, total, progress, 0
        self.unreadable, self.damaged = unreadable, damaged

    def file(self, path: str) -> int | None:
        """Records of a batch file, read from the lake (other files are not read); None for a damaged or
        unreadable one."""
        if not path.endswith(BATCH_SUFFIXES):
            return None
        data = _read_or_note(self.backend, path, self.unreadable)
        records = _count_records(data, path, self.damaged) if data is not None else None
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)
        return records

    def directory(self, files: list[Entry]) -> tuple[int | None, int]:
        """(records of the batch files among ``files``, batch files that could not be counted); records is None
        when there is no batch file."""
        counts = [self.file(f.path) for f in files if f.path.endswith(BATCH_SUFFIXES)]
        if not counts:
            return None, 0
        return sum(c for c in counts if c is not None), sum(1 for c in counts if c is None)


def _file_row(backend: LakeBackend, path: str, records: bool, unreadable: list[str],
              damaged: list[str] | None = None) -> dict[str, object]:
    """The row of one file named by ``path``: its size from its directory's listing, read only to count records
    (or when the listing leaves it out: a hidden name). One that cannot be read is listed all the same (its size
    None when the listing did not give it), the reason added to ``unreadable``."""
    size = next((e.size for e in backend.list(posixpath.dirname(path)) if e.path == path and not e.is_dir), None)
    data = _read_or_note(backend, path, unreadable) if records or size is None else None
    return _file_entry_row(path, len(data) if data is not None else size,
                           _count_records(data, path, damaged) if records and data is not None else None, records)


def _read_or_note(backend: LakeBackend, path: str, unreadable: list[str]) -> bytes | None:
    """A file's bytes; None when it cannot be read, why appended to ``unreadable``."""
    try:
        return backend.read(path)
    except LakeError as exc:
        unreadable.append(str(exc))
        return None


def _file_entry_row(path: str, size: int | None, records: int | None, counted: bool) -> dict[str, object]:
    """A file's row; when records were ``counted``, a batch file's says in ``uncounted_files`` (1 or 0) whether
    its records could not be."""
    row: dict[str, object] = {"path": path, "type": "file", "bytes": size, "records": records}
    if counted and path.endswith(BATCH_SUFFIXES):
        row["uncounted_files"] = int(records is None)
    return row


def listing(backend: LakeBackend, path: str, records: bool = False, progress: Progress | None = None,
            unreadable: list[str] | None = None, damaged: list[str] | None = None) -> list[dict[str, object]]:
    """Rows for ``lake ls``: one per child of ``path`` (or the file itself). ``records`` is counted only when
    ``records`` is true (it downloads each batch file: of a directory, every one below it, and says how many could
    not be counted, damaged or unreadable, in ``uncounted_files``; a batch file's row says 1 or 0 there);
    otherwise it is None. A file that cannot be read does not stop the listing: why is appended to
    ``unreadable``; the path of a batch file that was read but is damaged is appended to ``damaged``."""
    unreadable = [] if unreadable is None else unreadable
    given, path = path, path.strip("/")
    entries = backend.list(path)
    if not entries and path and backend.is_dir(path):  # an empty directory
        return []
    if not entries and path and backend.exists(path):  # a file
        return [_file_row(backend, path, records, unreadable, damaged)]
    if not entries and path:
        raise LakeError(f"{given!r} does not exist in the lake {backend.url} (paths are relative to the lake root); "
                        "try `fediscope lake ls` for the top")
    below = {entry.path: backend.walk(entry.path) for entry in entries if entry.is_dir}
    batches = sum(1 for e in [*entries, *(f for files in below.values() for f in files)]
                  if not e.is_dir and e.path.endswith(BATCH_SUFFIXES))
    counter = _Counter(backend, batches, progress, unreadable, damaged) if records else None
    rows: list[dict[str, object]] = []
    for entry in entries:
        if entry.is_dir:
            files = below[entry.path]
            row: dict[str, object] = {"path": entry.path + "/", "type": "dir", "files": len(files),
                                      "bytes": sum(f.size for f in files), "records": None}
            if counter is not None:
                row["records"], row["uncounted_files"] = counter.directory(files)
            rows.append(row)
        else:
            rows.append(_file_entry_row(entry.path, entry.size,
                                        counter.file(entry.path) if counter is not None else None,
                                        counter is not None))
    return rows


def _terminal_progress() -> Progress:
    """``counting records: 12/340 batch files`` on stderr's :class:`~fediscope.step_progress.StatusLine`
    (rewritten in place, cut to the terminal's width); the line is cleared after the last file."""
    line = StatusLine()

    def show(done: int, total: int) -> None:
        line.show(f"counting records: {done}/{total} batch files")
        if done == total:
            line.clear()
    return show


def _detail(row: dict[str, object]) -> str:
    """The middle column of a text row: a directory's files (and records), a file's records when counted."""
    if row["type"] != "dir":
        if row.get("uncounted_files"):
            return "not counted (unreadable)"
        return count(int(row["records"]), "record") if row.get("records") is not None else ""
    text = count(int(row["files"]), "file")
    if row.get("records") is not None:
        text += f", {count(int(row['records']), 'record')}"
    if row.get("uncounted_files"):
        text += f", {row['uncounted_files']} not counted (unreadable)"
    return text


def _refuse_outside_of_lake(path: str, url: str) -> None:
    """Refuse a PATH of ``lake ls`` that leads out of the lake (``..``, ``raw/../..``) as the bad argument it is
    (exit 2; the lake refused it as an error reading it, exit 1). Lexically, as the lakes themselves resolve it."""
    relative = posixpath.normpath(path.strip("/") or ".")
    if relative == ".." or relative.startswith("../"):
        raise click.BadParameter(f"{path!r} is outside the lake: paths are relative to the lake root {url}",
                                 param_hint="PATH")


@lake.command("ls")
@click.argument("path", default="", required=False)
@click.option("--lake", "lake_url", default=None, metavar="URL", help="Lake to inspect (overrides FEDISCOPE_LAKE).")
@click.option("--records", "count_records", is_flag=True,
              help="Also count records: of each batch file listed (.jsonl, .jsonl.gz), and of every batch file "
                   "below each directory listed. Reads all those files, which is slow on a big lake or over WebHDFS.")
@json_option("Print the rows as JSON.")
def ls(path: str, lake_url: str | None, count_records: bool, as_json: bool) -> None:
    """List PATH, relative to the lake root (default: the root; a directory or one file).

    PATH is always read in the lake: a leading / is ignored (/raw is <lake>/raw), and a PATH outside the lake
    (..) is refused (exit 2).

    Directories (partitions) show how many files they hold and their size; files show their size. The listing
    reads metadata only. With --records, batch files also show their number of records, and directories the
    records of every batch file below them (and how many could not be read): each batch file is downloaded and
    decompressed to count them. A batch file that is damaged or cannot be read (no permission) is listed as not
    counted ("uncounted_files" in --json, per row and for the whole listing) and the listing goes on; a warning on
    stderr says why a file could not be read, and another names the damaged ones. Without --records, the text
    output ends with a hint when batch files were listed, and --json gives "records": null for every row (with
    "records_counted": false).

    \b
    Examples:
      fediscope lake ls
      fediscope lake ls raw/mastodon/statuses --json
      fediscope lake ls raw/mastodon/statuses/instance=mastodon.social/dt=2026-01-01 --records
    """
    settings = settings_from_context(lake=lake_url)
    backend = open_lake(settings.lake)
    _refuse_outside_of_lake(path, backend.url)
    # a missing lake or a file is an error, not "(empty)"
    require_lake(backend, chosen_by=option_origin(settings, "lake"))
    unreadable: list[str] = []
    damaged: list[str] = []
    try:
        rows = listing(backend, path, records=count_records, progress=_terminal_progress() if is_terminal() else None,
                       unreadable=unreadable, damaged=damaged)
    except FediscopeError:
        raise
    except ValueError as exc:
        raise LakeError(f"cannot list {path!r}: {exc}") from None
    if unreadable:  # listed all the same, and counted apart (uncounted_files): why, on stderr
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        say(f"{len(unreadable)} file(s) could not be read: {unreadable[0]}{more}", level=logging.WARNING,
            prefix="fediscope: warning: ")
    if damaged:  # read, but not whole JSON Lines: `fediscope process` stops on such a file, so say which
        more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
        say(f"{len(damaged)} batch file(s) damaged, not counted: {damaged[0]}{more}; `fediscope process` stops on "
            "a damaged raw file: restore it from a copy, or move it out of the lake", level=logging.WARNING,
            prefix="fediscope: warning: ")
    if as_json:
        document: dict[str, object] = {"lake": backend.url, "path": path, "records_counted": count_records}
        if count_records:  # the batch files of the whole listing that were not counted (damaged or unreadable)
            document["uncounted_files"] = sum(int(row.get("uncounted_files") or 0) for row in rows)
        emit_json({**document, "entries": rows})
        return
    if not rows:
        base, query = backend.url.partition("?")[::2]  # webhdfs://nn:9870/lake?user=etl: the path goes before '?'
        click.echo(f"(empty) {base.rstrip('/')}/{path.strip('/')}".rstrip("/") + (f"?{query}" if query else ""))
    for row in rows:
        size = f"{row['bytes']:>12,}" if row["bytes"] is not None else f"{'?':>12}"
        click.echo(f"{size} B  {_detail(row):>14}  {printable(str(row['path']))}")  # any writer names its files
    if not count_records and any(row["type"] == "file" and str(row["path"]).endswith(BATCH_SUFFIXES)
                                 for row in rows):
        click.echo(RECORDS_HINT)


def _state_text(who: LockHolder, state: State) -> str:
    here = socket.gethostname()
    if state == "gone":
        return f"pid {who.pid} no longer runs on this host ({here})"
    if state == "running":
        return f"pid {who.pid} still runs on this host ({here})"
    if who.pid is None or who.host is None:
        return "cannot be checked: the lock file does not say which process it is"
    return f"cannot be checked from this host ({here}): make sure pid {who.pid} is gone on {who.host}"


def _process_row(who: LockHolder, state: State, now: datetime) -> dict[str, object]:
    age = age_seconds(who.started_at, now)
    return {"holder": who.describe(), "command": who.command, "host": who.host, "pid": who.pid,
            "started_at": who.started_at, "age_seconds": age, "age": age_text(age), "state": state,
            "state_text": _state_text(who, state)}


def _show_status(status: LockStatus, where: str, now: datetime) -> None:
    holder = _process_row(status.holder, status.state, now)
    click.echo(f"lake lock {where}")
    for label, key in (("holder", "holder"), ("command", "command"), ("host", "host"), ("pid", "pid"),
                       ("started", "started_at"), ("age", "age"), ("status", "state_text")):
        click.echo(f"  {label + ':':<9} {holder[key] if holder[key] is not None else 'not recorded'}")
    for job, state in status.jobs:
        click.echo(f"  {'job:':<9} {job.describe()}: {_state_text(job, state)}")


@lake.command("unlock")
@click.option("--lake", "lake_url", default=None, metavar="URL", help="Lake to unlock (overrides FEDISCOPE_LAKE).")
@click.option("--yes", is_flag=True, help="Remove the lock without asking (required without a terminal).")
@click.option("--force", is_flag=True, help="Remove it even though its process still runs on this host.")
@json_option("Print the lock and what was done as JSON.")
def unlock(lake_url: str | None, yes: bool, force: bool, as_json: bool) -> None:
    """Show who holds the lake lock (<lake>/_state/process.lock) and remove it by hand.

    A lock left by a process that died on this host is taken over by the next run anyway; a lock from another host
    never is: remove it here once that process is known to be gone. The lock is removed only after confirmation
    (--yes skips the question; without a terminal --yes is required: exit 2), and never while its process (or a job
    running under it) still runs on this host, unless --force. Exits 0 when the lake is not locked.

    \b
    Examples:
      fediscope lake unlock
      fediscope lake unlock --yes --json
    """
    settings = settings_from_context(lake=lake_url)
    backend = open_lake(settings.lake)
    require_lake(backend, chosen_by=option_origin(settings, "lake"))
    status = lock_status(backend)
    now = datetime.now(UTC)
    document: dict[str, object] = {"lake": backend.url, "locked": status is not None, "removed": False}
    if status is None:
        document["lock"] = shown_path(backend, lock_path())
        if as_json:
            emit_json(document)
        else:
            # a remote lake's lock is named in the lake, not as "<lake URL> (<path>)" inside this line's brackets
            missing = document["lock"] if backend.local_path(lock_path()) else f"{lock_path()} in it"
            click.echo(f"the lake {backend.url} is not locked (no {missing})")
        return
    where = shown_path(backend, status.path)
    document.update({"lock": where, **_process_row(status.holder, status.state, now),
                     "jobs": [_process_row(job, state, now) for job, state in status.jobs]})

    def finish(removed: bool) -> None:
        document["removed"] = removed
        if as_json:
            emit_json(document)

    if not as_json:
        _show_status(status, where, now)
    if status.running and not force:
        finish(False)
        running = "; ".join(f"{who.command or 'a run'} (pid {who.pid})" for who in status.running)
        raise LakeError(f"not removed: {running} still runs on this host; let it finish or stop it, or add --force "
                        "if you are sure it no longer writes the lake")
    unchecked = " (its process cannot be checked from here: make sure it is gone)" if status.unchecked else ""
    try:
        confirm_or_refuse(f"Remove the lake lock {where}{unchecked}?", yes, refused="not removed",
                          to_go_on="remove the lock")
    except FediscopeError:
        finish(False)
        raise
    if not remove_lock(backend, status):
        finish(False)
        now_held = lock_status(backend)
        raise LakeError(f"not removed: the lock {where} changed meanwhile"
                        + (f" (now held by {now_held.holder.describe()})" if now_held else " (released)")
                        + "; run `fediscope lake unlock` again")
    finish(True)
    if not as_json:
        click.echo(f"removed {where}")
