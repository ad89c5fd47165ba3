"""The benchmark's own robustness: what its stream step measures, a failed step, its size bound and interruption,
and its verdicts at a target's boundary."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

from bench import report, run
from bench.measure import run_stage

psutil = pytest.importorskip("psutil")
ROOT = Path(__file__).resolve().parents[2]


def _raw_lake(lake: Path, statuses: int) -> None:
    """A generated raw lake, landed as the benchmark's generate stage lands it."""
    from bench.stages import PSEUDONYM_KEY
    from fediscope.lake.local import LocalLake
    from fediscope.privacy import PrivacyPolicy
    from fediscope.sample.landing import write_raw_lake

    write_raw_lake(LocalLake(lake), statuses, seed=7, policy=PrivacyPolicy(key=PSEUDONYM_KEY.encode()),
                   edit_history=True)


def test_the_stream_steps_server_runs_outside_the_measured_process(tmp_path: Path) -> None:
    """The server pushing the events is not part of the stream step's measured process tree: the peak memory is
    that of fediscope stream alone (the server used to be a thread of the measured stage, its events held twice)."""
    _raw_lake(tmp_path / "lake", 60)
    body = tmp_path / "events.sse"
    with run.pushing_server(tmp_path / "lake", 40, body) as pushed:
        server = psutil.Process(pushed["pid"])
        assert pushed["pid"] != os.getpid() and server.ppid() == os.getpid()  # beside the stage, not under it
        assert pushed["events"] == 40 and pushed["bytes"] == body.stat().st_size > 0
        measured = run_stage("stream", {"out": str(tmp_path / "out"), "url": pushed["url"],
                                        "events": pushed["events"]})
        assert server.is_running()  # it served the whole step
    assert measured.pids and pushed["pid"] not in measured.pids
    assert measured.result["landed"] + measured.result["skipped"] == 40 and measured.result["quarantined"] == 0
    assert not server.is_running() and not body.exists()  # ended, and its events' file removed


def test_a_failed_step_keeps_what_ran_before_it(tmp_path: Path) -> None:
    """A step that fails no longer loses the run: the JSON holds what was measured and which step failed, with its
    one-line error, the table shows what ran, exit 1."""
    work, results_dir = tmp_path / "work", tmp_path / "results"
    (work / "mapreduce-metrics.tsv").mkdir(parents=True)  # the MapReduce step cannot write its output there
    out = subprocess.run([sys.executable, "-m", "bench.run", "--statuses", "100", "--engines", "mapreduce",
                          "--repeat", "1", "--erase-statuses", "0", "--workdir", str(work),
                          "--results-dir", str(results_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    (result_file,) = results_dir.glob("*.json")
    results = json.loads(result_file.read_text())
    assert results["failed"]["step"] == "mapreduce"
    assert results["failed"]["error"].startswith("IsADirectoryError: ") and "\n" not in results["failed"]["error"]
    stages = results["stages"]
    assert stages["mapreduce"] == {"failed": results["failed"]["error"]}
    assert stages["generate"]["corpus"]["statuses"] > 0 and stages["baseline"]["seconds"] > 0  # kept
    assert results["ratios"]["duckdb_end_to_end_vs_baseline"] is None
    assert f"FAILED at step mapreduce: {results['failed']['error']}" in out.stdout
    assert re.search(r"^bare DuckDB read_json \+ GROUP BY \(raw JSON\) +[\d.]+ ", out.stdout, re.MULTILINE)
    assert re.search(r"^MapReduce pipe, 4 core metrics \(raw JSON\) +FAILED: IsADirectoryError", out.stdout,
                     re.MULTILINE)
    assert f"results: {result_file} (partial: a step failed)" in out.stdout


def test_statuses_beyond_the_free_space_are_refused_before_generating(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    with pytest.raises(SystemExit) as exited:
        run.parse_args(["--statuses", "99999999999999999999999", "--workdir", str(work)])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("python -m bench.run: error: --statuses 99,999,999,999,999,999,999,999: the run would "
                            "write about ") and f"GiB into {work}, which has " in error
    assert list(work.iterdir()) == []  # nothing generated
    assert run.parse_args(["--statuses", "2000", "--workdir", str(work)]).statuses == 2000


def test_the_space_bound_follows_the_free_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(run.shutil, "disk_usage", lambda path: usage(2**40, 2**40 - 2**30, 2**30))  # 1 GiB free
    argv = ["--workdir", str(tmp_path), "--engines", "duckdb", "--erase-statuses", "0"]
    assert run.parse_args([*argv, "--statuses", "20000"]).statuses == 20_000
    with pytest.raises(SystemExit) as exited:  # its raw corpus alone is about 1 GiB
        run.parse_args([*argv, "--statuses", "500000"])
    assert exited.value.code == 2 and "which has 1.0 GiB free" in capsys.readouterr().err
    assert run.space_needed(run.parse_args([*argv, "--statuses", "20000", "--engines", "duckdb,mapreduce"])) > \
        run.space_needed(run.parse_args([*argv, "--statuses", "20000"]))


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_ends_its_step_and_removes_its_work_folder(tmp_path: Path, signum: int) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # where its temporary work folder goes
    proc = subprocess.Popen([sys.executable, "-m", "bench.run", "--statuses", "200000", "--engines", "duckdb",
                             "--repeat", "1", "--erase-statuses", "0", "--results-dir", str(tmp_path / "results")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children: list[psutil.Process] = []
    try:
        for line in proc.stderr:  # type: ignore[union-attr]
            if "generate: running" in line:
                break
        deadline = time.monotonic() + 120  # waits for the stage process, asserts nothing about time
        while not children and time.monotonic() < deadline and proc.poll() is None:
            children = psutil.Process(proc.pid).children(recursive=True)
            time.sleep(0.05)
        assert children and list(tmp_path.glob("fediscope-bench-*")), "the generate stage did not start"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 128 + signum, err[-2000:]
        assert "Traceback" not in err and f"interrupted ({signal.Signals(signum).name})" in err
        assert not [c for c in children if _alive(c)]  # the generate stage ended with the run
        assert not list(tmp_path.glob("fediscope-bench-*"))  # its work folder removed
        assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    finally:
        for process in [psutil.Process(proc.pid), *children] if proc.poll() is None else children:
            if _alive(process):
                process.kill()
        proc.wait()


@pytest.mark.parametrize(("value", "threshold", "higher"), [
    (2.00004, 2.0, False), (2.00005, 2.0, False), (1.99996, 2.0, False), (2.0004, 2.0, False),
    (2.99996, 3.0, True), (2.99994, 3.0, True), (3.00004, 3.0, True), (0.050004, 0.05, False)])
def test_a_verdict_never_contradicts_the_number_shown(value: float, threshold: float, higher: bool) -> None:
    """At a target's boundary, the stored value, the printed one and the verdict agree (2.00004 was stored as 2.0
    and printed 2.000 with MISS against "at most 2")."""
    target = report._target("t", "a ratio", value, threshold, higher, "")
    stored = target.as_dict()["value"]
    assert (target.status == "PASS") == (stored >= threshold if higher else stored <= threshold)
    stages = {"baseline": {"seconds": 1.0}, "spark": {"core_metrics_seconds": 1.0},  # each ratio x / 1
              "duckdb": {"total_seconds": value if threshold == 2.0 else 1.0},
              "mapreduce": {"seconds": value if higher else 1.0},
              "duckdb_incremental": {"total_seconds": value if threshold == 0.05 else 0.01}}
    assert value in report.ratios(stages).values()  # a target's ratio at the boundary
    text = report.table({"stages": {**stages, "generate": {"corpus": {"statuses": 1000}, "new_data": {}}}})
    for t in report.targets(stages):
        line = next(x for x in text.splitlines() if f"  {t.description}: " in x)
        shown = float(re.search(rf"{re.escape(t.description)}: ([\d.,]+) \(target", line).group(1).replace(",", ""))
        assert shown == t.as_dict()["value"]  # the number printed is the one stored
        assert line.split()[0] == ("PASS" if (shown >= t.threshold if t.higher_is_better else
                                               shown <= t.threshold) else "MISS"), line
