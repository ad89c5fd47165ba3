"""The benchmark runs end to end on a tiny corpus (DuckDB only) and writes the documented JSON; report logic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_smoke_duckdb_only(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    out = subprocess.run([sys.executable, "-m", "bench.run", "--statuses", "2000", "--engines", "duckdb",
                          "--repeat", "2", "--results-dir", str(results_dir), "--workdir", str(tmp_path / "work")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    (result_file,) = results_dir.glob("*.json")
    results = json.loads(result_file.read_text())

    assert results["params"]["statuses"] == 2000 and results["params"]["engines"] == ["duckdb"]
    assert results["machine"]["cpus"] >= 1 and len(results["machine"]["load_average_at_start"]) == 3
    stages = results["stages"]
    assert set(stages) == {"generate", "baseline", "duckdb", "duckdb_incremental", "stream"}
    corpus, new = stages["generate"]["corpus"], stages["generate"]["new_data"]
    # the streaming path landed as many statuses as the local server pushed (at most the corpus)
    assert stages["stream"]["events"] == stages["stream"]["landed"] + stages["stream"]["skipped"] == min(
        results["params"]["statuses"], corpus["statuses"], run.STREAM_EVENTS)
    assert stages["stream"]["quarantined"] == 0 and stages["stream"]["seconds"] > 0
    assert "fediscope stream: " in out.stdout and " events over HTTP -> raw lake" in out.stdout
    assert corpus["statuses"] > 1500 and 0 < new["statuses"] < corpus["statuses"] / 20
    assert stages["baseline"]["records"] == corpus["statuses"]  # the baseline read every landed status record
    for key in ("parse_only_seconds", "features_seconds", "full_parse_seconds"):
        assert stages["baseline"][key] > 0, key
    for name in ("duckdb", "duckdb_incremental"):
        stage = stages[name]
        for key in ("curate_seconds", "metrics_seconds", "core_metrics_seconds", "total_seconds", "peak_rss_mib"):
            assert stage[key] > 0, (name, key)
        assert stage["total_seconds"] <= stage["wall_seconds"]
        # two runs (the incremental one each time after a full run over a fresh lake); the lower median kept
        assert stage["repeats"] == 2 and stage["total_seconds"] == min(stage["runs_seconds"])
    assert stages["baseline"]["repeats"] == 2 and stages["baseline"]["seconds"] == min(
        stages["baseline"]["runs_seconds"])
    full, incremental = stages["duckdb"]["summary"]["curate"], stages["duckdb_incremental"]["summary"]["curate"]
    assert full["raw_files"] == corpus["files"] and incremental["raw_files"] == new["files"]
    assert set(incremental["partitions"]).isdisjoint(full["partitions"])  # the new day's partitions only
    assert results["ratios"]["duckdb_end_to_end_vs_baseline"] == pytest.approx(
        stages["duckdb"]["total_seconds"] / stages["baseline"]["seconds"], rel=1e-3)
    statuses = {t["name"]: t["status"] for t in results["targets"]}
    assert statuses["duckdb_within_2x_of_read_json"] in ("PASS", "MISS")
    assert statuses["incremental_at_most_5_percent"] in ("PASS", "MISS")
    assert statuses["spark_metrics_3x_faster_than_mapreduce"] == "SKIP"
    # the printed table shows every measured step and the targets
    assert "DuckDB end-to-end (fediscope process)" in out.stdout and "statuses/s" in out.stdout
    assert "targets" in out.stdout and str(result_file) in out.stdout
    assert "the median of 2 runs" in out.stdout
    assert not (tmp_path / "work" / "lake-spark").exists()


def test_targets_pass_miss_and_skip_as_measured() -> None:
    stages = {
        "baseline": {"seconds": 10.0},
        "duckdb": {"total_seconds": 25.0, "curate_seconds": 20.0},
        "duckdb_incremental": {"total_seconds": 1.0, "curate_seconds": 0.5},
        "spark": {"skipped": "no Java found"},
        "mapreduce": {"seconds": 30.0},
    }
    by_name = {t.name: t for t in report.targets(stages)}
    assert by_name["duckdb_within_2x_of_read_json"].status == "MISS"
    assert by_name["duckdb_within_2x_of_read_json"].value == pytest.approx(2.5)
    assert by_name["incremental_at_most_5_percent"].status == "PASS"
    skipped = by_name["spark_metrics_3x_faster_than_mapreduce"]
    assert skipped.status == "SKIP" and "no Java found" in skipped.note
    stages["duckdb"]["total_seconds"] = 20.0
    stages["spark"] = {"core_metrics_seconds": 10.0, "metrics_seconds": 12.0}
    by_name = {t.name: t for t in report.targets(stages)}
    assert by_name["duckdb_within_2x_of_read_json"].status == "PASS"  # exactly 2x is within 2x
    assert by_name["spark_metrics_3x_faster_than_mapreduce"].status == "PASS"
    assert by_name["incremental_at_most_5_percent"].status == "PASS"
    text = report.table({"stages": {**stages, "generate": {"corpus": {"statuses": 1000}, "new_data": {}}}})
    assert "PASS" in text and "Spark metrics, 4 core" in text


def test_floors_give_the_headroom_a_target_leaves() -> None:
    stages = {
        "baseline": {"seconds": 2.0, "parse_only_seconds": 1.5, "features_seconds": 3.2, "full_parse_seconds": 9.0},
        "duckdb": {"total_seconds": 14.0, "engine_start_seconds": 0.8},
        "duckdb_incremental": {"total_seconds": 3.5, "engine_start_seconds": 0.6},
    }
    by_name = {t.name: t for t in report.targets(stages)}
    end_to_end, incremental = by_name["duckdb_within_2x_of_read_json"], by_name["incremental_at_most_5_percent"]
    assert end_to_end.floor == pytest.approx((0.8 + 3.2) / 2.0)  # start + curation's pass over the raw statuses
    assert end_to_end.headroom_seconds == pytest.approx(2.0 * 2.0 - 4.0) and end_to_end.below_floor
    assert incremental.floor == pytest.approx(0.6 / 14.0)
    assert incremental.headroom_seconds == pytest.approx(0.05 * 14.0 - 0.6) and not incremental.below_floor
    assert by_name["spark_metrics_3x_faster_than_mapreduce"].floor is None
    text = report.table({"stages": {**stages, "generate": {"corpus": {"statuses": 1000}, "new_data": {}}}})
    assert "below the floor, cannot be met here" in text and "leaves 0.10 s for everything else" in text
    stages["baseline"]["features_seconds"] = 1.0  # a floor under the threshold is not flagged
    assert not {t.name: t for t in report.targets(stages)}["duckdb_within_2x_of_read_json"].below_floor


def test_spark_is_skipped_with_the_reason_when_java_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(run.shutil, "which", lambda name: None)
    reason = run.spark_unavailable()
    assert reason and "Java" in reason and "JAVA_HOME" in reason


def test_bad_arguments_are_one_line_errors() -> None:
    out = subprocess.run([sys.executable, "-m", "bench.run", "--engines", "duckdb,hive"], cwd=ROOT,
                         capture_output=True, text=True, check=False, env={**os.environ})
    assert out.returncode == 2 and "unknown hive" in out.stderr and "Traceback" not in out.stderr


def test_repeat_must_be_positive() -> None:
    out = subprocess.run([sys.executable, "-m", "bench.run", "--repeat", "0"], cwd=ROOT,
                         capture_output=True, text=True, check=False, env={**os.environ})
    assert out.returncode == 2 and "--repeat must be at least 1" in out.stderr and "Traceback" not in out.stderr
