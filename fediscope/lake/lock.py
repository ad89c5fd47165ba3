"""One writer at a time per lake: a lock file in ``<lake>/_state/`` held for a whole run.

``fediscope process`` (curation, metrics and store), ``spark_jobs/curate.py``, ``fediscope gdpr erase`` and
``fediscope gdpr retention`` all rewrite the curation manifest or the raw and curated files; two of them at once
on one lake would race (a curation could publish rows an erasure had just removed, or record files in the
manifest that retention had deleted). Each takes the same lock, and so does ``fediscope gdpr export``, which only
reads, so that its answer is what the lake held at one moment (an erasure finishing meanwhile made it stale)::

    with lake_lock(lake, command="fediscope process"):
        ...

The lock is ``<lake>/_state/<name>.lock``, a small JSON document (pid, host, start time, command, and a random
token) created with :meth:`~fediscope.lake.backend.LakeBackend.create_exclusive`, so it works the same on a local
directory and on HDFS, for processes on different machines: of two runs starting together exactly one creates
it. The other fails at once with :class:`~fediscope.errors.LakeLockedError` naming the holder, or polls for
``wait`` seconds first. The file is removed when the block ends, by an exception too.

A run that died without removing it (killed, machine rebooted) leaves the file behind. When it names a process
on *this* host that no longer exists, the next run takes it over with a warning; a lock from another host
cannot be checked from here, so the message says which file to remove once that process is known to be gone.
Taking over happens under a second, short-lived file (``<name>.lock.takeover``), so two runs that find the
same stale lock never both delete it, and never delete a fresh lock instead.

A run can hand the lock it holds to the jobs it starts: the batch DAG on a Spark cluster holds it across its two
``spark-submit`` jobs (curation, then metrics), so nothing can rewrite the lake between them, and passes its
token in :data:`INHERIT_ENV`. A job's ``lake_lock(…, inherit=token)`` that finds the lock held with that token
runs under it without taking or removing it (``spark_jobs/job_lock.py``), but records itself beside it: a *job
file* ``<name>.lock.job-<random>`` naming its own pid, host and the token, removed when the job ends. The lock
file names only the run that took it, and that run can die (an Airflow task killed) while the job it started still
writes: a lock whose holder is gone is stale only once every job recorded under it is gone too. A job checks that
its holder still runs *after* its job file exists, so a takeover, which looks at the job files only after finding
the holder gone, either sees the job or the job sees the holder gone and takes the lock for itself. For the same
reason the holder leaves its lock in place when a job it started still runs as it ends (its ``spark-submit`` was
killed, the Python driver below it was not).

``fediscope lake unlock`` shows a lock (:func:`lock_status`) and removes one by hand (:func:`remove_lock`).
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

from fediscope.errors import LakeError, LakeLockedError
from fediscope.lake.backend import Entry, LakeBackend
from fediscope.lake.layout import STATE_ROOT

log = logging.getLogger(__name__)

#: The lock every run that curates or rewrites lake files takes.
PROCESS_LOCK = "process"
#: How often a waiting run looks at the lock again, in seconds.
POLL_SECONDS = 0.5
#: How long a run waits for another run's takeover of a stale lock to finish (that takes a few requests).
TAKEOVER_GRACE_SECONDS = 5.0
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: Tokens of the locks this process holds now: a lock naming this pid with another token is a dead
#: predecessor's whose pid was reused (containers restart their main process with the same pid).
_HELD: set[str] = set()
#: Job files this process wrote (a job file naming this pid but not listed here is a dead predecessor's).
_JOINED: set[str] = set()
#: The environment variable through which a run hands the token of the lock it holds to the jobs it starts.
INHERIT_ENV = "FEDISCOPE_LAKE_LOCK_TOKEN"
#: Whether a process named by a lock is known gone, known running (on this host), or cannot be told from here.
State = Literal["gone", "running", "unknown"]


@dataclass(frozen=True)
class LockHolder:
    """What a lock file says about the run holding it (fields are None when the file does not say)."""

    pid: int | None
    host: str | None
    started_at: str | None
    command: str | None
    token: str | None = None
    #: The lock file is not readable JSON, so nothing above is known (never written into a lock file).
    unreadable: bool = False

    def describe(self) -> str:
        """``fediscope process (pid 4242 on host worker-1, since 2026-11-23T19:05:01Z)``."""
        if self.unreadable:
            return "a run whose lock file is not readable JSON (no details recorded)"
        where = ", ".join(part for part in (
            f"pid {self.pid}" + (f" on host {self.host}" if self.host else "") if self.pid is not None else "",
            f"since {self.started_at}" if self.started_at else "") if part)
        return f"{self.command or 'an unknown command'} ({where or 'no details recorded'})"

    def to_json(self) -> bytes:
        document = asdict(self)
        del document["unreadable"]
        return json.dumps(document, sort_keys=True).encode()


def lock_path(name: str = PROCESS_LOCK) -> str:
    """``_state/process.lock`` (relative to the lake root)."""
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"invalid lake lock name {name!r}: use lower-case letters, digits, '_' and '-'")
    return f"{STATE_ROOT}/{name}.lock"


def shown_path(lake: LakeBackend, path: str) -> str:
    """Where a lake file is, for a message: a local path, or ``<lake URL> (<path>)`` on a remote lake."""
    return lake.local_path(path) or f"{lake.url} ({path})"


def read_holder(lake: LakeBackend, path: str) -> tuple[LockHolder, bytes] | None:
    """The holder named by a lock file and the file's bytes; None when there is no such file."""
    for attempt in range(3):
        if not lake.exists(path):
            return None
        try:
            raw = lake.read(path)
            break
        except LakeError:  # removed between the two calls (and perhaps created again): look once more
            if attempt == 2:
                raise
    try:
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        pid = document.get("pid")
        # a pid no process can have (os.kill raised OverflowError for one beyond 32 bits) is not recorded
        return LockHolder(pid=pid if isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2**31 else None,
                          host=_text(document.get("host")), started_at=_text(document.get("started_at")),
                          command=_text(document.get("command")), token=_text(document.get("token"))), raw
    except ValueError:
        return LockHolder(None, None, None, None, unreadable=True), raw


def _text(value: object) -> str | None:
    return str(value)[:200] if value is not None else None


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (True when that cannot be told).

    A process that has ended but that its parent has not reaped yet (a zombie) still has its pid, and ``kill -0``
    succeeds on it; it does nothing any more, so it counts as gone: else a killed run whose parent never waits for
    it (a supervisor that does not reap) would hold the lake's lock forever. On Linux its state is read from
    ``/proc/<pid>/stat``; elsewhere a zombie cannot be told from a live process and counts as one."""
    if pid <= 0 or os.name == "nt":  # os.kill(pid, 0) is no probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        pass
    return _proc_state(pid) not in ("Z", "X")


def _proc_state(pid: int) -> str | None:
    """The one-letter state of a process in ``/proc/<pid>/stat`` (``R``, ``S``, ``Z`` …); None when there is no
    such file to read (not Linux, no /proc, or the process went meanwhile, which the caller sees next time)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return None
    # "<pid> (<command>) <state> …": the command may hold spaces and ')' itself, hence the last ')'
    fields = text[text.rfind(")") + 1:].split()
    return fields[0] if fields else None


def process_gone(host: object, pid: object) -> bool:
    """Whether ``host`` and ``pid`` name a process of this host that no longer runs; False when that cannot be told
    (another host, no pid recorded) and for this very process (another of its threads may hold what they name)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2**31 or host != socket.gethostname():
        return False
    return pid != os.getpid() and not _pid_alive(pid)


def is_stale(holder: LockHolder) -> bool:
    """A lock whose holder is known to be gone: a process of this host that no longer runs.

    Only the holder: jobs running under its lock are :func:`running_jobs`."""
    if holder.pid is None or holder.host != socket.gethostname():
        return False
    if holder.pid == os.getpid():
        return holder.token not in _HELD
    return not _pid_alive(holder.pid)


def holder_state(holder: LockHolder) -> State:
    """``gone`` (:func:`is_stale`), ``running`` (a live process of this host) or ``unknown`` (another host, or no
    pid recorded)."""
    if is_stale(holder):
        return "gone"
    return "running" if holder.pid is not None and holder.host == socket.gethostname() else "unknown"


def _job_state(path: str, job: LockHolder) -> State:
    if job.pid is None or job.host != socket.gethostname():
        return "unknown"
    if job.pid == os.getpid():
        return "running" if path in _JOINED else "gone"
    return "running" if _pid_alive(job.pid) else "gone"


def _job_prefix(path: str) -> str:
    return path + ".job-"


def lock_jobs(lake: LakeBackend, path: str, token: str | None) -> list[tuple[str, LockHolder, State]]:
    """The job files recorded under the lock at ``path`` with ``token``: (file, job, state), oldest first."""
    if not token:
        return []
    jobs = []
    for entry in _list_state(lake, posixpath.dirname(path)):
        if entry.is_dir or not entry.path.startswith(_job_prefix(path)):
            continue
        found = read_holder(lake, entry.path)
        if found is not None and found[0].token == token:
            jobs.append((entry.path, found[0], _job_state(entry.path, found[0])))
    return sorted(jobs, key=lambda job: (job[1].started_at or "", job[0]))


def _list_state(lake: LakeBackend, directory: str) -> list[Entry]:
    """``lake.list(directory)``, listed again when a name vanished during the listing: other runs create and
    remove their lock, takeover and job files there at any time, and a local listing looks at each name after
    reading the directory (FileNotFoundError, a traceback; from :func:`_release`, a lock left behind)."""
    for attempt in range(10):
        try:
            return lake.list(directory)
        except FileNotFoundError:
            if attempt == 9:
                raise LakeError(f"cannot list {shown_path(lake, directory)}: its files keep changing") from None
            time.sleep(0.01)
    return []  # not reached


def running_jobs(lake: LakeBackend, path: str, holder: LockHolder) -> list[LockHolder]:
    """Jobs recorded under ``holder``'s lock that are not known to be gone: while there is one, the lock is held."""
    return [job for _file, job, state in lock_jobs(lake, path, holder.token) if state != "gone"]


def _delete_jobs(lake: LakeBackend, path: str, token: str | None) -> None:
    """Remove the job files of a lock that is being removed (their processes are gone)."""
    for file, _job, _state in lock_jobs(lake, path, token):
        lake.delete(file)


@contextmanager
def lake_lock(lake: LakeBackend, name: str = PROCESS_LOCK, *, wait: float = 0.0,
              command: str | None = None, inherit: str | None = None) -> Iterator[LockHolder]:
    """Hold the lake's ``name`` lock for the ``with`` block; see the module docstring.

    ``command`` is what the lock file says is running (``fediscope process``; the lock's name by default):
    other runs show it in their error. ``wait`` is how many seconds to poll for the lock before failing
    with :class:`~fediscope.errors.LakeLockedError`. The lock is not re-entrant. ``inherit``: the token of the
    lock held by the run that started this one (:data:`INHERIT_ENV`); while the lock file carries it, it is used
    as it is: yielded, neither taken nor removed.
    """
    path = lock_path(name)
    if inherit:
        found = read_holder(lake, path)
        job_file = _join(lake, path, found, inherit, command or name) if found is not None else None
        if found is not None and job_file is not None:
            log.debug("lake lock %s: running under %s", shown_path(lake, path), found[0].describe())
            try:
                yield found[0]
            finally:
                _leave(lake, job_file)
            return
        log.warning("the lake lock %s is not held by the run that started this one any more: taking it",
                    shown_path(lake, path))
    me = LockHolder(pid=os.getpid(), host=socket.gethostname(), started_at=_now(), command=command or name,
                    token=uuid.uuid4().hex)
    _acquire(lake, path, me, max(wait, 0.0))
    log.debug("lake lock %s taken by %s", shown_path(lake, path), me.describe())
    try:
        yield me
    finally:
        _release(lake, path, me)


def _join(lake: LakeBackend, path: str, found: tuple[LockHolder, bytes], token: str, command: str) -> str | None:
    """Record this process as a job under the lock ``found`` (held with ``token``); its job file, or None when the
    lock is not that one any more or its holder is gone (see the module docstring for why the order matters)."""
    holder, raw = found
    if holder.token != token:
        return None
    job_file = _job_prefix(path) + uuid.uuid4().hex
    job = LockHolder(pid=os.getpid(), host=socket.gethostname(), started_at=_now(), command=command, token=token)
    _JOINED.add(job_file)
    lake.create_exclusive(job_file, job.to_json())
    current = read_holder(lake, path)
    if current is not None and current[1] == raw and not is_stale(holder):
        return job_file
    _leave(lake, job_file)
    return None


def _leave(lake: LakeBackend, job_file: str) -> None:
    """Remove this job's file; never raises (a file left behind names a pid that will be gone)."""
    try:
        lake.delete(job_file)
    except LakeError as exc:
        log.warning("could not remove %s (%s); the lock is taken over once this process is gone",
                    shown_path(lake, job_file), exc)
    finally:
        _JOINED.discard(job_file)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _acquire(lake: LakeBackend, path: str, me: LockHolder, wait: float) -> None:
    started = time.monotonic()
    body = me.to_json()
    vanished = 0
    _HELD.add(me.token or "")  # before creating it: a lock naming this pid with this token is never stale
    try:
        while True:
            if lake.create_exclusive(path, body):
                return
            found = read_holder(lake, path)
            if found is None:  # released meanwhile: try again at once
                vanished += 1
                if vanished > 100:  # e.g. a dangling symbolic link: exists for link(2), not for exists()
                    raise LakeError(f"cannot create the lake lock {shown_path(lake, path)}: something that is not "
                                    "a lock file is in the way; remove it")
                continue
            holder, raw = found
            waited = time.monotonic() - started
            stale = is_stale(holder)
            jobs = running_jobs(lake, path, holder) if stale else []  # looked at after the holder: see _join
            if stale and not jobs:
                if _take_over(lake, path, holder, raw, me) or waited < wait + TAKEOVER_GRACE_SECONDS:
                    continue
            elif waited < wait:
                time.sleep(min(POLL_SECONDS, wait - waited))
                continue
            raise LakeLockedError(_locked_message(lake, path, holder, wait, jobs))
    except BaseException:
        _HELD.discard(me.token or "")
        raise


def _take_over(lake: LakeBackend, path: str, holder: LockHolder, raw: bytes, me: LockHolder) -> bool:
    """Remove a stale lock, under the takeover file so that only one run does it. True when it was removed
    (by this run or one before it), False when another run's takeover is under way."""
    guard = path + ".takeover"
    if not lake.create_exclusive(guard, me.to_json()):
        found = read_holder(lake, guard)
        if found is not None and is_stale(found[0]):  # a run died during its takeover (a few requests long)
            log.warning("removing %s left by %s", shown_path(lake, guard), found[0].describe())
            lake.delete(guard)
            return True
        time.sleep(0.05)
        return False
    try:
        current = read_holder(lake, path)
        if current is not None and current[1] == raw:  # still the stale lock, not a fresh one
            lake.delete(path)
            _delete_jobs(lake, path, holder.token)
            log.warning("lake lock %s was left by %s, which no longer runs on this host: taken over",
                        shown_path(lake, path), holder.describe())
    finally:
        lake.delete(guard)
    return True


def _release(lake: LakeBackend, path: str, me: LockHolder) -> None:
    """Remove the lock if it is still this run's; never raises (the run's own result or error matters more)."""
    try:
        found = read_holder(lake, path)
        jobs = running_jobs(lake, path, me) if found is not None and found[0].token == me.token else []
        if jobs:
            log.warning("lake lock %s left in place: %s still runs under it; the next run on this host takes it "
                        "over once that has ended", shown_path(lake, path), "; ".join(j.describe() for j in jobs))
        elif found is not None and found[0].token == me.token:
            lake.delete(path)
            _delete_jobs(lake, path, me.token)
            log.debug("lake lock %s released", shown_path(lake, path))
        else:
            log.warning("lake lock %s is no longer this run's (removed by hand, or taken over): left as it is",
                        shown_path(lake, path))
    except LakeError as exc:
        log.warning("could not remove the lake lock %s (%s); the next run on this host takes it over once this "
                    "process has ended; from another host, `fediscope lake unlock` removes it",
                    shown_path(lake, path), exc)
    finally:
        _HELD.discard(me.token or "")


def _locked_message(lake: LakeBackend, path: str, holder: LockHolder, wait: float,
                    jobs: list[LockHolder] | None = None) -> str:
    where = shown_path(lake, path)
    waited = f" (waited {wait:g} s)" if wait > 0 else ""
    if jobs:
        return (f"the lake {lake.url} is locked by another run{waited}: {holder.describe()} has ended, but "
                f"{'; '.join(job.describe() for job in jobs)} still runs under its lock; lock file {where}. "
                "Wait for it to finish, or run `fediscope lake unlock` if that process is gone")
    return (f"the lake {lake.url} is locked by another run{waited}: {holder.describe()}; lock file {where}. "
            "Wait for it to finish, or run `fediscope lake unlock` if that process is gone")


# -- fediscope lake unlock ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LockStatus:
    """A lock as ``fediscope lake unlock`` shows it: its holder and the jobs running under it, each with its
    :data:`State`; ``raw`` is the lock file's bytes, which :func:`remove_lock` checks are unchanged."""

    path: str
    holder: LockHolder
    state: State
    raw: bytes
    jobs: list[tuple[LockHolder, State]] = field(default_factory=list)

    @property
    def running(self) -> list[LockHolder]:
        """The processes known to run on this host: the holder and its jobs."""
        return [who for who, state in [(self.holder, self.state), *self.jobs] if state == "running"]

    @property
    def unchecked(self) -> list[LockHolder]:
        """The processes this host cannot tell about (another host, or no pid recorded)."""
        return [who for who, state in [(self.holder, self.state), *self.jobs] if state == "unknown"]

    @property
    def taken_over(self) -> bool:
        """Whether the next run takes this lock over (:func:`lake_lock`): its holder and every job recorded under it
        are known gone."""
        return self.state == "gone" and all(state == "gone" for _job, state in self.jobs)


def age_seconds(started_at: str | None, now: datetime) -> int | None:
    """Seconds since a lock's ``started_at`` (None when it is missing or not a timestamp)."""
    try:
        started = datetime.fromisoformat(started_at or "")
    except ValueError:
        return None
    return int((now - (started if started.tzinfo else started.replace(tzinfo=UTC))).total_seconds())


def age_text(seconds: int | None) -> str:
    """``5 d 2 h``, ``3 min 12 s`` (the two largest units); ``unknown``, or for a start time ahead of this host's
    clock ``in the future (clocks differ)``."""
    if seconds is None:
        return "unknown"
    if seconds < 0:
        return "in the future (clocks differ)"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d", f"{hours} h", f"{minutes} min", f"{secs} s"]
    first = next((i for i, value in enumerate((days, hours, minutes)) if value), 3)
    return " ".join(part for part in parts[first:first + 2] if not part.startswith("0 ")) or "0 s"


def lock_status(lake: LakeBackend, name: str = PROCESS_LOCK) -> LockStatus | None:
    """The lock ``name`` of ``lake`` and who holds it; None when it is not held."""
    path = lock_path(name)
    found = read_holder(lake, path)
    if found is None:
        return None
    holder, raw = found
    return LockStatus(path=path, holder=holder, state=holder_state(holder), raw=raw,
                      jobs=[(job, state) for _file, job, state in lock_jobs(lake, path, holder.token)])


def remove_lock(lake: LakeBackend, status: LockStatus) -> bool:
    """Remove the lock ``status`` describes and its job files, by hand (whoever holds it); False, removing nothing,
    when the lock file changed since it was read (released, taken over, taken again) or a takeover is under way."""
    guard = status.path + ".takeover"
    me = LockHolder(pid=os.getpid(), host=socket.gethostname(), started_at=_now(), command="fediscope lake unlock",
                    token=uuid.uuid4().hex)
    if not lake.create_exclusive(guard, me.to_json()):  # a takeover finding it once this process is gone removes it
        return False
    try:
        current = read_holder(lake, status.path)
        if current is None or current[1] != status.raw:
            return False
        lake.delete(status.path)
        _delete_jobs(lake, status.path, status.holder.token)
        log.info("lake lock %s held by %s removed by hand", shown_path(lake, status.path), status.holder.describe())
        return True
    finally:
        lake.delete(guard)
