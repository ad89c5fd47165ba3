"""Every entry point that curates or rewrites the lake holds the lake lock (fediscope.lake.lock): while another
live process holds it, ``run_process``, ``fediscope process``, ``spark_jobs/curate.py`` and ``fediscope gdpr
erase`` stop with one clear line and leave the manifest, the curated tables, the raw files and the store as
they were."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_data import at, land, policy, settings_for, statuses, stored_rows

from fediscope.cli import main
from fediscope.engine.manifest import MANIFEST_PATH
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.errors import LakeLockedError
from fediscope.gdpr.erase import erase_account
from fediscope.lake.local import LocalLake

LOCK = "_state/process.lock"
ROOT = Path(__file__).resolve().parents[2]
METRICS = load_metrics()


@pytest.fixture
def holder(lake_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lake lock (as a CLI run would while the Airflow task starts), until the test
    ends."""
    code = ("import sys; from fediscope.lake.local import LocalLake; from fediscope.lake.lock import lake_lock\n"
            f"with lake_lock(LocalLake({str(lake_dir)!r}), command='fediscope process'):\n"
            "    print('held', flush=True); sys.stdin.readline()\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()
    assert process.wait(30) == 0


def snapshot(lake_dir: Path) -> dict[str, str]:
    """Every file of the lake but the lock, with a digest of its bytes."""
    return {p.relative_to(lake_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake_dir.rglob("*")) if p.is_file() and p.name != "process.lock"}


@pytest.fixture
def processed_with_new_data(lake: LocalLake, lake_dir: Path) -> Path:
    """A lake processed once into its store, then a new raw batch landed (so a run would have work to do)."""
    land(lake, "statuses", statuses("test_public_tl.json"), at(0), policy())
    run_process(settings_for(lake_dir), progress=False)
    land(lake, "statuses", statuses("test_hashtag_tl.json"), at(1), policy())
    return lake_dir


def test_run_process_fails_while_another_process_holds_the_lock(processed_with_new_data: Path,
                                                                holder: subprocess.Popen[str]) -> None:
    lake_dir = processed_with_new_data
    settings = settings_for(lake_dir)
    manifest = (lake_dir / MANIFEST_PATH).read_bytes()
    files, rows = snapshot(lake_dir), stored_rows(settings.store)

    with pytest.raises(LakeLockedError) as error:
        run_process(settings, progress=False)

    message = str(error.value)
    assert f"the lake {lake_dir} is locked by another run: fediscope process (pid {holder.pid} on host " \
           f"{socket.gethostname()}, since " in message
    assert f"lock file {lake_dir / LOCK}. Wait for it to finish, or run `fediscope lake unlock` if that process " \
           "is gone" in message
    assert (lake_dir / MANIFEST_PATH).read_bytes() == manifest
    assert snapshot(lake_dir) == files  # nothing curated, no metric snapshot written
    assert stored_rows(settings.store) == rows
    assert json.loads((lake_dir / LOCK).read_text())["pid"] == holder.pid  # the holder's lock is kept


def test_run_process_goes_ahead_once_the_holder_is_done(processed_with_new_data: Path) -> None:
    lake_dir = processed_with_new_data
    code = ("import sys; from fediscope.lake.local import LocalLake; from fediscope.lake.lock import lake_lock\n"
            f"with lake_lock(LocalLake({str(lake_dir)!r})):\n    pass\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    summary = run_process(settings_for(lake_dir), progress=False)
    assert summary.curate["raw_files"] == 1 and not (lake_dir / LOCK).exists()


def test_run_process_takes_over_the_lock_of_a_dead_process(processed_with_new_data: Path) -> None:
    lake_dir = processed_with_new_data
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (lake_dir / LOCK).write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(), "token": "t",
                                             "started_at": "2026-11-23T19:05:01Z", "command": "fediscope process"}))
    assert run_process(settings_for(lake_dir), progress=False).curate["raw_files"] == 1
    assert not (lake_dir / LOCK).exists()


def test_the_lock_is_released_when_the_run_fails(processed_with_new_data: Path) -> None:
    from fediscope.engine.metrics import Metric

    broken = {"broken": Metric(name="broken", question="?", key=("x",), sql="SELECT no_such_column FROM statuses")}
    with pytest.raises(Exception, match="no_such_column"):
        run_process(settings_for(processed_with_new_data), progress=False, metrics=broken)
    assert not (processed_with_new_data / LOCK).exists()
    assert run_process(settings_for(processed_with_new_data), progress=False).curate["noop"]


def test_cli_process_while_locked_is_one_line_and_non_zero(processed_with_new_data: Path,
                                                          holder: subprocess.Popen[str],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    lake_dir = processed_with_new_data
    monkeypatch.chdir(lake_dir.parent)
    monkeypatch.setenv("FEDISCOPE_LAKE", str(lake_dir))
    monkeypatch.setenv("FEDISCOPE_STORE", settings_for(lake_dir).store)
    manifest = (lake_dir / MANIFEST_PATH).read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main(["process", "--no-progress"])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith(f"fediscope: error: the lake {lake_dir} is locked by another run: fediscope "
                               f"process (pid {holder.pid} on host ")
    assert lines[0].endswith("or run `fediscope lake unlock` if that process is gone")
    assert f"lock file {lake_dir / LOCK}" in lines[0]
    assert (lake_dir / MANIFEST_PATH).read_bytes() == manifest


@pytest.mark.parametrize(("job_name", "extra"), [("curate", []), ("metrics", ["--store", "sqlite:///locked.db"])])
def test_spark_jobs_while_locked_are_one_line_before_spark_starts(processed_with_new_data: Path,
                                                                  holder: subprocess.Popen[str], job_name: str,
                                                                  extra: list[str]) -> None:
    """spark_jobs/curate.py and metrics.py (submitted one after the other by the batch DAG) exit 1 with one line,
    before they build a SparkSession (pyspark is not even imported) or open the store."""
    lake_dir = processed_with_new_data
    manifest = (lake_dir / MANIFEST_PATH).read_bytes()
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from spark_jobs.{job_name} import main\n"
            f"code = main(['--lake', {str(lake_dir)!r}, *{extra!r}]); print(code, 'pyspark' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    job = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=lake_dir.parent, env=env,
                         timeout=120)
    assert job.stdout.strip() == "1 False", job.stderr
    err = job.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fediscope {job_name}: error: the lake {lake_dir} is locked by "
                                               f"another run: fediscope process (pid {holder.pid} on host ")
    assert (lake_dir / MANIFEST_PATH).read_bytes() == manifest
    assert not (lake_dir.parent / "locked.db").exists()


def test_erasure_touches_nothing_while_locked(processed_with_new_data: Path,
                                                                   holder: subprocess.Popen[str]) -> None:
    lake_dir = processed_with_new_data
    settings = settings_for(lake_dir)
    files, rows = snapshot(lake_dir), stored_rows(settings.store)
    with pytest.raises(LakeLockedError, match=rf"fediscope process \(pid {holder.pid} on host "):
        erase_account(settings, "admin@localhost:3000")
    assert snapshot(lake_dir) == files  # no raw batch rewritten, no suppression list written
    assert stored_rows(settings.store) == rows
