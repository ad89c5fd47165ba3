"""``fediscope lake unlock``: who holds the lake lock, and removing it by hand, on a local and a WebHDFS lake.

Holders are real processes of this host (a ``sleep`` that runs, a ``python`` that has exited) or locks naming
another host; the confirmation is answered on a real pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import clean_env, run
from doubles.webhdfs_server import WebHDFSDouble
from lock_holders import lock_document

from fediscope.lake.backend import LakeBackend
from fediscope.lake.local import LocalLake
from fediscope.lake.lock import lake_lock, lock_status, remove_lock
from fediscope.lake.webhdfs import WebHDFSLake

LOCK = "_state/process.lock"
ROOT = Path(__file__).resolve().parents[2]
KEY = "lake-unlock-test-key-0123456789abcdef"


@pytest.fixture
def local_lake(tmp_path, monkeypatch) -> LakeBackend:
    lake = LocalLake(tmp_path / "lake")
    lake.write_atomic("raw/x.jsonl", b"{}\n")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=KEY, FEDISCOPE_LAKE=str(tmp_path / "lake"))
    return lake


@pytest.fixture
def webhdfs_lake(webhdfs_server: WebHDFSDouble, tmp_path, monkeypatch) -> LakeBackend:
    lake = WebHDFSLake(webhdfs_server.lake_url("/lake", user="etl"))
    lake.write_atomic("raw/x.jsonl", b"{}\n")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=KEY, FEDISCOPE_LAKE=lake.url)
    return lake


@pytest.fixture(params=["local", "webhdfs"])
def lake(request: pytest.FixtureRequest) -> LakeBackend:
    return request.getfixturevalue(f"{request.param}_lake")


def test_an_unlocked_lake_says_so(lake: LakeBackend, capsys) -> None:
    code, out, err = run(capsys, "lake", "unlock")
    assert (code, err) == (0, "")
    # was, over WebHDFS: "… is not locked (no webhdfs://…/lake?user=etl (_state/process.lock))"
    missing = lake.local_path(LOCK) or f"{LOCK} in it"
    assert out == f"the lake {lake.url} is not locked (no {missing})\n"
    code, out, _err = run(capsys, "lake", "unlock", "--json")
    document = json.loads(out)
    assert code == 0 and (document["locked"], document["removed"]) == (False, False)


def test_a_lock_of_another_host_is_shown_and_removed_only_with_yes(lake: LakeBackend, capsys) -> None:
    lake.write_atomic(LOCK, lock_document(4242, host="worker-7.example"))
    code, out, err = run(capsys, "lake", "unlock")  # no terminal here
    assert code == 2  # was 1, where `gdpr erase` refused with 2: a usage error, as the README says of it
    assert err == "fediscope: error: not removed: there is no terminal to confirm on; add --yes to remove the lock\n"
    assert "holder:   fediscope process (pid 4242 on host worker-7.example, since 2026-11-23T19:05:01Z)" in out
    assert "host:     worker-7.example" in out and "pid:      4242" in out and "command:  fediscope process" in out
    assert "started:  2026-11-23T19:05:01Z" in out and "\n  age:      " in out
    assert f"cannot be checked from this host ({socket.gethostname()}): make sure pid 4242 is gone on " \
           "worker-7.example" in out
    assert lake.read(LOCK) == lock_document(4242, host="worker-7.example")  # untouched
    code, out, err = run(capsys, "lake", "unlock", "--yes")
    assert (code, err) == (0, "")
    assert out.endswith(f"removed {lake.local_path(LOCK) or f'{lake.url} ({LOCK})'}\n")
    assert not lake.exists(LOCK) and not lake.exists(LOCK + ".takeover")
    with lake_lock(lake):  # free again
        pass


def test_a_dead_holder_of_this_host_is_said_to_be_gone(lake: LakeBackend, dead_pid: int, capsys) -> None:
    lake.write_atomic(LOCK, lock_document(dead_pid))
    code, out, err = run(capsys, "lake", "unlock", "--yes", "--json")
    document = json.loads(out)
    assert (code, err) == (0, "")
    assert (document["locked"], document["removed"], document["state"], document["pid"]) == (True, True, "gone",
                                                                                             dead_pid)
    assert document["state_text"] == f"pid {dead_pid} no longer runs on this host ({socket.gethostname()})"
    assert document["started_at"] == "2026-11-23T19:05:01Z" and document["age_seconds"] > 0
    assert not lake.exists(LOCK)


def test_a_live_holder_of_this_host_is_kept_unless_forced(lake: LakeBackend, live_pid: int, capsys) -> None:
    lake.write_atomic(LOCK, lock_document(live_pid))
    code, out, err = run(capsys, "lake", "unlock", "--yes")
    assert code == 1 and f"pid {live_pid} still runs on this host" in out
    assert err == (f"fediscope: error: not removed: fediscope process (pid {live_pid}) still runs on this host; let "
                   "it finish or stop it, or add --force if you are sure it no longer writes the lake\n")
    assert lake.exists(LOCK)
    code, out, _err = run(capsys, "lake", "unlock", "--yes", "--json")
    assert code == 1 and json.loads(out)["removed"] is False and json.loads(out)["state"] == "running"
    code, out, err = run(capsys, "lake", "unlock", "--yes", "--force")
    assert (code, err) == (0, "") and "removed " in out
    assert not lake.exists(LOCK)


def test_a_job_still_running_under_a_dead_holder_keeps_the_lock(lake: LakeBackend, dead_pid: int, live_pid: int,
                                                                capsys) -> None:
    """The batch DAG's task died, the spark-submit job it started still runs under its lock (a job file)."""
    lake.write_atomic(LOCK, lock_document(dead_pid, command="fediscope batch", token="handed-down"))
    job = LOCK + ".job-0123"
    lake.write_atomic(job, lock_document(live_pid, command="spark_jobs/curate.py", token="handed-down"))
    code, out, err = run(capsys, "lake", "unlock", "--yes")
    assert code == 1 and f"pid {dead_pid} no longer runs on this host" in out
    assert f"job:      spark_jobs/curate.py (pid {live_pid} on host " in out
    assert f"spark_jobs/curate.py (pid {live_pid}) still runs on this host" in err
    assert lake.exists(LOCK) and lake.exists(job)
    code, _out, err = run(capsys, "lake", "unlock", "--yes", "--force")
    assert (code, err) == (0, "")
    assert not lake.exists(LOCK) and not lake.exists(job)  # the job file goes with its lock


def test_a_lock_that_changed_after_it_was_read_is_not_removed(lake: LakeBackend, dead_pid: int) -> None:
    """Between showing the lock and the answer, the stale lock was taken over by a new run: that one's stays."""
    lake.write_atomic(LOCK, lock_document(dead_pid))
    status = lock_status(lake)
    assert status is not None
    with lake_lock(lake, command="the new run"):
        assert remove_lock(lake, status) is False
        assert json.loads(lake.read(LOCK))["command"] == "the new run"
    assert not lake.exists(LOCK + ".takeover")


@pytest.mark.parametrize(("answer", "code"), [("y", 0), ("n", 1)])
def test_the_question_is_asked_on_a_terminal(local_lake: LakeBackend, answer: str, code: int) -> None:
    local_lake.write_atomic(LOCK, lock_document(4242, host="worker-7.example"))
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", "from fediscope.cli import main; main()", "lake", "unlock"],
                            stdin=secondary, stdout=subprocess.PIPE, stderr=secondary, env={**os.environ,
                                                                                           "PYTHONPATH": str(ROOT)})
    os.close(secondary)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"[y/N]" not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(primary, 1024)
            except OSError:  # EIO: the command ended without asking
                break
        assert b"cannot be checked from here: make sure it is gone)? [y/N]" in seen
        os.write(primary, answer.encode() + b"\n")
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code
    assert (b"removed " in out) is (answer == "y")
    assert local_lake.exists(LOCK) is (answer == "n")


def test_a_malformed_lock_file_is_described_once(local_lake: LakeBackend, capsys) -> None:
    """Was: the holder text printed a second time as ``command:`` (and given as the command in --json)."""
    local_lake.write_atomic(LOCK, b"{not json")
    code, out, _err = run(capsys, "lake", "unlock")
    assert code == 2  # no terminal here: --yes is required
    assert out.count("not readable JSON") == 1, out
    assert "holder:   a run whose lock file is not readable JSON" in out and "command:  not recorded" in out
    code, out, _err = run(capsys, "lake", "unlock", "--json")
    document = json.loads(out)
    assert document["command"] is None and "not readable JSON" in document["holder"]
    assert local_lake.read(LOCK) == b"{not json"
    code, out, err = run(capsys, "lake", "unlock", "--yes")
    assert (code, err) == (0, "") and out.count("not readable JSON") == 1 and not local_lake.exists(LOCK)


@pytest.mark.parametrize("pid", [2**32, -(2**63), 0])
def test_a_lock_naming_a_pid_no_process_has_is_shown_and_removed(local_lake: LakeBackend, capsys, pid: int) -> None:
    """Was: os.kill(pid, 0) raised OverflowError for a pid beyond 32 bits, so every locking command failed with a
    traceback, `lake unlock --yes` (the documented way out) included."""
    local_lake.write_atomic(LOCK, lock_document(pid))
    code, out, err = run(capsys, "gdpr", "retention")
    assert code == 1 and "Traceback" not in err and "locked" in err, err
    code, out, err = run(capsys, "lake", "unlock", "--yes")
    assert (code, err) == (0, ""), err
    assert not local_lake.exists(LOCK)
