"""The lake lock (fediscope.lake.lock) and the create-if-absent write it is built on, on every lake backend.

Most tests take the ``lake`` fixture, so they run on a local directory, on the WebHDFS double and (when
configured) on a real namenode. Other holders are real: threads of this process, and ``python`` / ``sleep``
subprocesses, whose pids are alive or gone exactly as the lock checks.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from doubles.webhdfs_server import WebHDFSDouble
from lake_cases import LakeCase
from lock_holders import lock_document

from fediscope.config import load_settings
from fediscope.errors import LakeError, LakeLockedError
from fediscope.gdpr.retention import apply_retention
from fediscope.lake.backend import LakeBackend
from fediscope.lake.local import LocalLake
from fediscope.lake.lock import lake_lock, lock_path, read_holder
from fediscope.lake.webhdfs import WebHDFSLake

LOCK = "_state/process.lock"
ROOT = Path(__file__).resolve().parents[2]


# -- create_exclusive: the backend primitive ---------------------------------------------------------------


def test_create_exclusive_creates_once_and_never_replaces(lake: LakeBackend) -> None:
    assert lake.create_exclusive("_state/x.lock", b"first") is True
    assert lake.create_exclusive("_state/x.lock", b"second") is False
    assert lake.read("_state/x.lock") == b"first"
    assert [e.path for e in lake.list("_state")] == ["_state/x.lock"]  # no temporary file left behind


def test_create_exclusive_has_exactly_one_winner_among_concurrent_callers(lake: LakeBackend) -> None:
    start, results = threading.Barrier(6), []

    def create(i: int) -> None:
        start.wait()
        results.append((lake.create_exclusive("race.lock", f"caller {i}".encode()), i))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [i for won, i in results if won]
    assert len(results) == 6 and len(winners) == 1
    assert lake.read("race.lock") == f"caller {winners[0]}".encode()


def test_create_exclusive_on_a_server_that_ignores_rename_options(webhdfs_server: WebHDFSDouble) -> None:
    """Old HttpFS gateways do a plain rename, which answers false (and replaces nothing) when the target exists."""
    webhdfs_server.rename_options_supported = False
    lake = WebHDFSLake(webhdfs_server.lake_url())
    assert lake.create_exclusive("_state/x.lock", b"first") is True
    assert lake.create_exclusive("_state/x.lock", b"second") is False
    assert lake.read("_state/x.lock") == b"first"
    assert [e.name for e in webhdfs_server.local("/lake/_state").iterdir()] == ["x.lock"]


def test_create_exclusive_below_a_file_is_a_lake_error(lake: LakeBackend) -> None:
    lake.write_atomic("_state", b"a file where a directory should be")
    with pytest.raises(LakeError, match="cannot create"):
        lake.create_exclusive("_state/x.lock", b"x")


# -- the lock ------------------------------------------------------------------------------------------------


def test_second_holder_fails_with_a_message_naming_the_first(lake: LakeBackend) -> None:
    with lake_lock(lake, command="fediscope process") as first:
        document = json.loads(lake.read(LOCK))
        assert document["pid"] == os.getpid() and document["host"] == socket.gethostname()
        assert document["command"] == "fediscope process" and document["started_at"] == first.started_at
        with pytest.raises(LakeLockedError) as error, lake_lock(lake, command="fediscope gdpr erase"):
            pytest.fail("a second holder entered the lock")
        assert lake.exists(LOCK)  # the failed attempt left the holder's lock alone
    message = str(error.value)
    assert "\n" not in message
    assert f"locked by another run: fediscope process (pid {os.getpid()} on host {socket.gethostname()}, " \
           f"since {first.started_at})" in message
    where = lake.local_path(LOCK) or f"{lake.url} ({LOCK})"
    assert f"lock file {where}" in message
    assert "Wait for it to finish, or run `fediscope lake unlock` if that process is gone" in message
    assert not lake.exists(LOCK)
    with lake_lock(lake):  # free again
        pass


def test_a_job_runs_under_the_lock_its_parent_hands_down(lake: LakeBackend, caplog) -> None:
    with lake_lock(lake, command="fediscope batch") as parent:
        before = lake.read(LOCK)
        with lake_lock(lake, command="spark_jobs/curate.py", inherit=parent.token) as job:
            assert job == parent and lake.read(LOCK) == before  # neither taken again nor rewritten
        assert lake.read(LOCK) == before  # the job did not remove its parent's lock
        with pytest.raises(LakeLockedError), lake_lock(lake, inherit="another run's token"):
            pytest.fail("a wrong token entered the lock")
    assert not lake.exists(LOCK)
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.lock"), \
            lake_lock(lake, command="a job started by hand", inherit=parent.token) as own:
        assert own.token != parent.token and read_holder(lake, LOCK)[0].command == "a job started by hand"
    assert "not held by the run that started this one any more: taking it" in caplog.text
    assert not lake.exists(LOCK)


def test_the_lock_is_released_when_the_block_raises(lake: LakeBackend) -> None:
    with pytest.raises(RuntimeError, match="boom"), lake_lock(lake):
        assert lake.exists(LOCK)
        raise RuntimeError("boom")
    assert not lake.exists(LOCK)
    assert [e.path for e in lake.list("_state")] == []
    with lake_lock(lake):
        pass


def test_locks_of_other_names_are_independent(lake: LakeBackend) -> None:
    with lake_lock(lake), lake_lock(lake, "maintenance"):
        assert lake.exists(LOCK) and lake.exists("_state/maintenance.lock")
    with pytest.raises(ValueError, match="invalid lake lock name"):
        lock_path("../escape")


def test_a_lock_held_by_another_live_process_fails(tmp_path: Path) -> None:
    """A real second process holds the lock (as a CLI run would while the Airflow task starts)."""
    lake_dir = tmp_path / "lake"
    code = ("import sys, time; from fediscope.lake.local import LocalLake; from fediscope.lake.lock import lake_lock\n"
            f"with lake_lock(LocalLake({str(lake_dir)!r}), command='holder process'):\n"
            "    print('held', flush=True); sys.stdin.readline()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LakeLockedError, match=rf"holder process \(pid {holder.pid} on host "), \
                lake_lock(LocalLake(lake_dir)):
            pytest.fail("entered a lock another process holds")
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
    assert not (lake_dir / LOCK).exists()  # released by its holder
    with lake_lock(LocalLake(lake_dir)):
        pass


def test_a_killed_holder_leaves_a_stale_lock_that_is_taken_over(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    lake_dir = tmp_path / "lake"
    code = ("import os, signal; from fediscope.lake.local import LocalLake; from fediscope.lake.lock import lake_lock\n"
            f"with lake_lock(LocalLake({str(lake_dir)!r}), command='killed run'):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60)
    assert killed.returncode == -9 and (lake_dir / LOCK).exists()
    lake = LocalLake(lake_dir)
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.lock"), lake_lock(lake, command="next run"):
        assert json.loads(lake.read(LOCK))["command"] == "next run"
    assert "killed run (pid" in caplog.text and "no longer runs on this host: taken over" in caplog.text
    assert not (lake_dir / LOCK).exists()


def test_a_stale_lock_of_a_dead_pid_is_taken_over_on_every_backend(lake: LakeBackend, dead_pid: int,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    lake.write_atomic(LOCK, lock_document(dead_pid))
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.lock"), lake_lock(lake) as me:
        assert json.loads(lake.read(LOCK))["token"] == me.token
    assert f"pid {dead_pid} on host {socket.gethostname()}" in caplog.text and "taken over" in caplog.text
    assert not lake.exists(LOCK) and not lake.exists(LOCK + ".takeover")


def test_a_lock_of_a_live_pid_on_this_host_is_kept(lake: LakeBackend, live_pid: int) -> None:
    lake.write_atomic(LOCK, lock_document(live_pid))
    with pytest.raises(LakeLockedError, match=rf"fediscope process \(pid {live_pid} on host "), lake_lock(lake):
        pass
    assert lake.read(LOCK) == lock_document(live_pid)


@pytest.fixture
def zombie_pid() -> Iterator[int]:
    """The pid of a child of this process that has exited and is not reaped yet (state ``Z``: ``kill -0`` still
    finds it), reaped after the test. Linux only: elsewhere a zombie cannot be told from a live process."""
    if not sys.platform.startswith("linux") or not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux's /proc/<pid>/stat")
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # not waited for: stays a zombie until reaped below
    try:
        deadline = time.monotonic() + 30
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not exit within 30 s"
            time.sleep(0.01)
        os.kill(child.pid, 0)  # still there for the probe the lock used alone
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_a_lock_of_an_unreaped_dead_process_is_taken_over(lake: LakeBackend, zombie_pid: int,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Was: a killed run that its parent had not reaped kept its pid, ``kill -0`` found it, and its lock was never
    stale."""
    lake.write_atomic(LOCK, lock_document(zombie_pid))
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.lock"), lake_lock(lake) as me:
        assert json.loads(lake.read(LOCK))["token"] == me.token
    assert f"pid {zombie_pid} on host" in caplog.text and "taken over" in caplog.text


def test_a_job_file_of_an_unreaped_dead_job_does_not_keep_the_lock(lake: LakeBackend, dead_pid: int,
                                                                   zombie_pid: int) -> None:
    lake.write_atomic(LOCK, lock_document(dead_pid, token="handed-down"))
    lake.write_atomic(LOCK + ".job-0123", lock_document(zombie_pid, command="the job", token="handed-down"))
    with lake_lock(lake, command="the next run"):
        assert [e.path for e in lake.list("_state")] == [LOCK]  # the dead job's file went with the stale lock
    assert lake.list("_state") == []


def test_a_lock_of_another_host_is_never_taken_over(lake: LakeBackend, dead_pid: int) -> None:
    """Its pid cannot be checked from here, even if no such pid runs on this host."""
    lake.write_atomic(LOCK, lock_document(dead_pid, host="worker-7.example"))
    with pytest.raises(LakeLockedError, match=rf"pid {dead_pid} on host worker-7.example, since 2026-11-23"), \
            lake_lock(lake):
        pass
    assert lake.exists(LOCK)


def test_a_dead_predecessor_with_this_process_pid_is_stale(lake: LakeBackend) -> None:
    """A restarted container's main process gets the same pid as the run that died: the token tells them apart."""
    lake.write_atomic(LOCK, lock_document(os.getpid(), token="predecessor"))
    with lake_lock(lake) as me:
        assert me.token != "predecessor" and json.loads(lake.read(LOCK))["token"] == me.token


def test_two_runs_finding_one_stale_lock_do_not_both_take_it(lake: LakeBackend) -> None:
    lake.write_atomic(LOCK, lock_document(os.getpid(), token="predecessor"))
    start, entered, failed = threading.Barrier(4), [], []

    def run(i: int) -> None:
        start.wait()
        try:
            with lake_lock(lake, command=f"run {i}"):
                entered.append(i)
                time.sleep(1.0)  # hold while the others try
        except LakeLockedError as exc:
            failed.append(str(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(entered) == 1 and len(failed) == 3
    assert all(f"run {entered[0]} (pid {os.getpid()}" in message for message in failed)
    assert not lake.exists(LOCK) and not lake.exists(LOCK + ".takeover")


def test_a_takeover_file_left_by_a_dead_run_is_removed(lake: LakeBackend, dead_pid: int) -> None:
    lake.write_atomic(LOCK, lock_document(dead_pid))
    lake.write_atomic(LOCK + ".takeover", lock_document(dead_pid))
    with lake_lock(lake):
        pass
    assert not lake.exists(LOCK) and not lake.exists(LOCK + ".takeover")


def test_an_unreadable_lock_file_is_reported_not_removed(lake: LakeBackend) -> None:
    lake.write_atomic(LOCK, b"{ not json")
    with pytest.raises(LakeLockedError, match="a run whose lock file is not readable JSON"), lake_lock(lake):
        pass
    assert lake.read(LOCK) == b"{ not json"


def test_wait_polls_until_the_holder_releases(lake: LakeBackend) -> None:
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lake_lock(lake, command="short run"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(30)
    threading.Timer(0.6, release.set).start()
    started = time.monotonic()
    with lake_lock(lake, wait=20) as me:
        assert time.monotonic() - started >= 0.5
        assert json.loads(lake.read(LOCK))["token"] == me.token
    thread.join(30)


def test_wait_gives_up_after_the_given_time(lake: LakeBackend, live_pid: int) -> None:
    lake.write_atomic(LOCK, lock_document(live_pid))
    started = time.monotonic()
    with pytest.raises(LakeLockedError, match=r"locked by another run \(waited 1 s\)"), lake_lock(lake, wait=1):
        pass
    assert 0.9 <= time.monotonic() - started < 10


def test_release_leaves_a_lock_that_is_no_longer_its_own(lake: LakeBackend, live_pid: int,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.lock"), lake_lock(lake):
        lake.delete(LOCK)  # removed by hand, and another run took it
        lake.write_atomic(LOCK, lock_document(live_pid))
    assert lake.read(LOCK) == lock_document(live_pid)
    assert "no longer this run's" in caplog.text


def test_a_lock_the_namenode_could_not_remove_says_how_it_goes(webhdfs_server: WebHDFSDouble,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """The namenode failing as a run ends leaves the lock: the warning names what happens next (this host's next
    run takes it over, `fediscope lake unlock` elsewhere), not a vague "by hand"; once."""
    lake = WebHDFSLake(webhdfs_server.lake_url())
    with caplog.at_level(logging.WARNING, logger="fediscope"), lake_lock(lake):
        webhdfs_server.fail_next("GETFILESTATUS", "RuntimeException", "namenode going down")
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    assert read_holder(lake, LOCK) is not None
    assert "could not remove the lake lock" in caplog.text and "namenode going down" in caplog.text
    assert "the next run on this host takes it over" in caplog.text and "fediscope lake unlock" in caplog.text


def test_read_holder_of_a_missing_lock_is_none(lake_case: LakeCase) -> None:
    assert read_holder(lake_case.lake, LOCK) is None


# -- retention holds the lock ----------------------------------------------------------------------------------


def test_retention_does_not_delete_while_the_lake_is_locked(tmp_path: Path, live_pid: int) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_atomic("raw/mastodon/statuses/instance=a.example/dt=2026-01-01/b.jsonl", b"{}\n")
    lake.write_atomic(LOCK, lock_document(live_pid))
    settings = load_settings(env={}, toml_path=None, lake=str(tmp_path / "lake"), retention_raw_days=30)

    dry = apply_retention(settings, dry_run=True, today=date(2026, 11, 23))  # reads only: no lock needed
    assert [p.dt for p in dry.deleted] == ["2026-01-01"]
    with pytest.raises(LakeLockedError, match=f"pid {live_pid}"):
        apply_retention(settings, today=date(2026, 11, 23))
    assert lake.exists("raw/mastodon/statuses/instance=a.example/dt=2026-01-01/b.jsonl")

    lake.delete(LOCK)
    assert [p.dt for p in apply_retention(settings, today=date(2026, 11, 23)).deleted] == ["2026-01-01"]
    assert not lake.exists("raw/mastodon/statuses/instance=a.example/dt=2026-01-01") and not lake.exists(LOCK)


# -- jobs running under a lock handed down (the batch DAG's spark-submit jobs) -------------------------------

BATCH = """\
import os, signal, subprocess, sys
from fediscope.lake.backend import open_lake
from fediscope.lake.lock import INHERIT_ENV, lake_lock
JOB = '''\
import os, sys, time
from fediscope.lake.backend import open_lake
from fediscope.lake.lock import INHERIT_ENV, lake_lock
with lake_lock(open_lake(sys.argv[1]), command='the job', inherit=os.environ[INHERIT_ENV]):
    print('in', flush=True)
    time.sleep(120)
'''
with lake_lock(open_lake(sys.argv[1]), command='the batch task') as held:
    job = subprocess.Popen([sys.executable, '-c', JOB, sys.argv[1]], env={**os.environ, INHERIT_ENV: held.token},
                           stdout=subprocess.PIPE, text=True)
    assert job.stdout.readline() == 'in\\n'
    print(job.pid, flush=True)
    if sys.argv[2] == 'kill':
        os.kill(os.getpid(), signal.SIGKILL)  # the Airflow task killed: its spark-submit job goes on
"""


@pytest.fixture
def adopt_orphans() -> Iterator[None]:
    """Make this test process the subreaper of its descendants (Linux), so that the job orphaned by its killed batch
    task becomes its child and can be reaped: an unreaped zombie still has its pid, as for ``kill -0``."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    if sys.platform != "linux" or libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        pytest.skip("needs Linux's PR_SET_CHILD_SUBREAPER")
    try:
        yield
    finally:
        libc.prctl(pr_set_child_subreaper, 0, 0, 0, 0)


def _start_batch(lake: LakeBackend, how: str) -> tuple[subprocess.Popen[str], int]:
    """A batch task (as process_window) holding the lock and a job running under it, reached by its pid; the batch
    task then kills itself (``kill``) or ends normally (``end``) while the job still runs."""
    batch = subprocess.Popen([sys.executable, "-c", BATCH, lake.url, how], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT)
    assert batch.stdout is not None
    job_pid = int(batch.stdout.readline())
    batch.wait(60)
    batch.stdout.close()
    return batch, job_pid


def _end(pid: int) -> None:
    """Kill the orphaned job and reap it (this process adopted it)."""
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def test_a_job_still_running_under_a_killed_holder_keeps_the_lock(lake: LakeBackend, adopt_orphans: None,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Was: the lock named only the batch task; killed, it left a lock that the next run on this host took over
    at once while the orphaned spark-submit job still curated the lake."""
    batch, job_pid = _start_batch(lake, "kill")
    try:
        assert batch.returncode == -9
        with pytest.raises(LakeLockedError) as error, lake_lock(lake, command="the next run"):
            pytest.fail("took over the lock of a job that still runs")
        assert f"the batch task (pid {batch.pid} on host" in str(error.value)
        assert f"has ended, but the job (pid {job_pid} on host " in str(error.value)
        assert "still runs under its lock" in str(error.value)
        assert read_holder(lake, LOCK)[0].pid == batch.pid  # left alone
    finally:
        _end(job_pid)
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.lock"), lake_lock(lake, command="the next run"):
        assert json.loads(lake.read(LOCK))["command"] == "the next run"
        assert [e.path for e in lake.list("_state")] == [LOCK]  # the dead job's file went with the stale lock
    assert "no longer runs on this host: taken over" in caplog.text


def test_a_holder_ending_while_its_job_still_runs_leaves_the_lock(lake: LakeBackend, adopt_orphans: None) -> None:
    """Its spark-submit was killed, but the Python driver below it was not: the lock stays until that ends."""
    batch, job_pid = _start_batch(lake, "end")
    try:
        assert batch.returncode == 0
        with pytest.raises(LakeLockedError, match=rf"the job \(pid {job_pid} on host .* still runs under its lock"), \
                lake_lock(lake):
            pass
    finally:
        _end(job_pid)
    with lake_lock(lake):
        pass
    assert not lake.exists(LOCK) and lake.list("_state") == []


def test_a_job_records_itself_beside_the_lock_while_it_runs(lake: LakeBackend) -> None:
    with lake_lock(lake, command="the batch") as parent:
        with lake_lock(lake, command="the job", inherit=parent.token):
            jobs = [e.path for e in lake.list("_state") if e.path != LOCK]
            assert len(jobs) == 1 and jobs[0].startswith(LOCK + ".job-")
            job = json.loads(lake.read(jobs[0]))
            assert (job["pid"], job["command"], job["token"]) == (os.getpid(), "the job", parent.token)
        assert [e.path for e in lake.list("_state")] == [LOCK]
    assert lake.list("_state") == []


def test_a_job_whose_holder_is_gone_takes_the_lock_itself(lake: LakeBackend, dead_pid: int,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    lake.write_atomic(LOCK, lock_document(dead_pid, token="handed-down"))
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.lock"), \
            lake_lock(lake, command="the job", inherit="handed-down") as me:
        assert me.token != "handed-down" and json.loads(lake.read(LOCK))["command"] == "the job"
        assert [e.path for e in lake.list("_state")] == [LOCK]  # its job file withdrawn
    assert "not held by the run that started this one any more" in caplog.text


def test_a_lock_file_removed_during_the_listing_of_state_is_no_crash(tmp_path: Path) -> None:
    """Listing ``_state/`` for job files while another run removes its lock or takeover file there: a local
    listing stats each name after reading the directory, and a name gone meanwhile raised FileNotFoundError (a
    traceback, and from a release the lock stayed behind)."""
    from fediscope.lake.lock import lock_jobs

    lake = LocalLake(str(tmp_path / "lake"))
    state = tmp_path / "lake" / "_state"
    state.mkdir(parents=True)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():  # another run's takeover file, created and removed over and over
            (state / "other.lock.takeover").write_text("{}")
            time.sleep(0.0005)
            (state / "other.lock.takeover").unlink()

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(3000):
            assert lock_jobs(lake, LOCK, "token") == []
    finally:
        stop.set()
        thread.join()
