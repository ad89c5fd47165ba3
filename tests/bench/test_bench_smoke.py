"""The benchmark runs end to end on a tiny corpus (DuckDB only) and writes the documented JSON; report logic."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_smoke_duckdb_only(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    argv = ["--statuses", "2000", "--engines", "duckdb", "--repeat", "2", "--results-dir", str(results_dir),
            "--workdir", str(tmp_path / "work")]
    estimate = run.space_needed(run.parse_args(argv))  # before the run: a corpus found there is not counted
    out = subprocess.run([sys.executable, "-m", "bench.run", *argv],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert _disk_bytes(tmp_path / "work") <= estimate  # the free-space bound is conservative
    (result_file,) = results_dir.glob("*.json")
    results = json.loads(result_file.read_text())

    assert results["params"]["statuses"] == 2000 and results["params"]["engines"] == ["duckdb"]
    assert results["machine"]["cpus"] >= 1 and len(results["machine"]["load_average_at_start"]) == 3
    stages = results["stages"]
    assert set(stages) == {"generate", "baseline", "duckdb", "duckdb_incremental", "stream", "erase"}
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
    # the corpus's next day: new partitions, and re-fetched versions of the corpus's latest statuses in its own
    assert set(incremental["partitions"]) - set(full["partitions"]), incremental["partitions"]
    assert set(incremental["partitions"]) & set(full["partitions"]), incremental["partitions"]
    # by the same accounts, mostly: the day's account snapshots are few beside the corpus's (one per author seen)
    assert new["accounts"] < corpus["accounts"]
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
    _assert_erased_from_copy(stages, tmp_path / "work", out.stdout, results["ratios"])


def _disk_bytes(folder: Path) -> int:
    """The disk space the files under ``folder`` take (hard links counted once)."""
    seen: dict[tuple[int, int], int] = {}
    for path in folder.rglob("*"):
        info = path.lstat()
        seen[(info.st_dev, info.st_ino)] = info.st_blocks * 512
    return sum(seen.values())


#: Where the corpus ends and its next day, the incremental run's new data, begins.
NEXT_DAY = "2026-11-01"
#: The curated statuses posted before the next day: what the full run curated (a re-fetched status of the next day
#: replaces its row, it adds none), also after the incremental run.
_BEFORE_NEXT_DAY = f"FROM read_parquet(?) WHERE CAST(created_at AS DATE) < DATE '{NEXT_DAY}'"


def _account_rows(lake: Path, key: str) -> int:
    """The curated statuses rows of ``key`` in ``lake``, of the corpus (not of its next day)."""
    import duckdb

    return duckdb.connect().execute(f"SELECT count(*) {_BEFORE_NEXT_DAY} AND account_key = ?",
                                    [str(lake / "curated" / "statuses" / "*" / "*.parquet"), key]).fetchone()[0]


def _raw_files_naming(lake: Path, key: str) -> int:
    return sum(key in p.read_text() for p in (lake / "raw").rglob("*.jsonl") if p.is_file())


def _assert_erased_from_copy(stages: dict, work: Path, stdout: str, ratios: dict) -> None:
    """The erase step erased the most active account from a copy of the DuckDB full run's lake and store, and
    neither that lake nor the generated corpus lost anything."""
    erase, corpus = stages["erase"], stages["generate"]["corpus"]
    key = erase["report"]["account_key"]
    full_lake = work / "lake-duckdb"
    # the most active account: no account has more curated statuses in the full run's lake (that lake is the
    # incremental run's now: the corpus's statuses in it are the full run's)
    import duckdb

    top = duckdb.connect().execute(
        f"SELECT max(n) FROM (SELECT count(*) AS n {_BEFORE_NEXT_DAY} GROUP BY account_key)",
        [str(full_lake / "curated" / "statuses" / "*" / "*.parquet")]).fetchone()[0]
    assert erase["account_statuses"] == _account_rows(full_lake, key) == top > 1
    assert erase["account"].endswith(".example") and "@" in erase["account"]
    assert erase["corpus_statuses"] == 2000 and erase["lake_statuses"] == corpus["statuses"]
    assert erase["process_seconds"] == stages["duckdb"]["total_seconds"]
    assert 0 < erase["erase_seconds"] <= erase["seconds"] <= erase["wall_seconds"] and erase["peak_rss_mib"] > 0
    # every version of each of its statuses, and its account snapshot, removed from the raw batches
    assert erase["report"]["raw"]["records_removed"] > erase["account_statuses"]
    assert erase["raw_records"] == sum(v for k, v in erase["report"]["raw"].items() if not k.startswith("files_"))
    assert erase["curated_rows"] >= erase["report"]["curated"]["rows_removed"] >= erase["account_statuses"]
    assert erase["store_rows"] == sum(erase["report"]["store"].values()) > 0
    # the copy was erased; the full run's lake and the generated corpus (hard links) kept every record
    assert _account_rows(work / "lake-erase", key) == 0 and _raw_files_naming(work / "lake-erase", key) == 0
    base, new = next(work.glob("corpus-2000-*")) / "base", next(work.glob("corpus-2000-*")) / "new"
    assert _raw_files_naming(full_lake, key) == _raw_files_naming(base, key) + _raw_files_naming(new, key)
    assert _raw_files_naming(base, key) > 0
    assert ratios["erase_vs_duckdb_full"] == pytest.approx(erase["seconds"] / erase["process_seconds"], rel=1e-3)
    assert (f"gdpr erase: most active account ({erase['account_statuses']:,} of {corpus['statuses']:,} statuses)"
            in stdout)
    assert (f"\n  from a copy of the DuckDB full run's lake: {erase['raw_records']:,} raw records, "
            f"{erase['curated_rows']:,} curated rows, {erase['store_rows']:,} store rows removed") in stdout


@pytest.mark.slow
def test_bench_erases_from_a_smaller_corpus_of_its_own(tmp_path: Path) -> None:
    """Past --erase-statuses, the erase step runs on a corpus of that size of its own, and says so."""
    results_dir = tmp_path / "results"
    out = subprocess.run([sys.executable, "-m", "bench.run", "--statuses", "400", "--erase-statuses", "200",
                          "--engines", "duckdb", "--repeat", "1", "--results-dir", str(results_dir),
                          "--workdir", str(tmp_path / "work")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    (result_file,) = results_dir.glob("*.json")
    results = json.loads(result_file.read_text())
    erase, main = results["stages"]["erase"], results["stages"]["generate"]["corpus"]
    assert results["params"]["erase_statuses"] == 200 and erase["corpus_statuses"] == 200
    own = json.loads(next((tmp_path / "work").glob("corpus-200-*/corpus.json")).read_text())["corpus"]
    assert erase["lake_statuses"] == own["statuses"] < main["statuses"]
    assert erase["account_statuses"] > 0 and erase["report"]["raw"]["records_removed"] > erase["account_statuses"]
    assert erase["process_seconds"] > 0 and erase["process_seconds"] != results["stages"]["duckdb"]["total_seconds"]
    assert _account_rows(tmp_path / "work" / "lake-erase", erase["report"]["account_key"]) == 0
    assert "\n  from a 200-status corpus of its own (--erase-statuses): " in out.stdout
    assert f"({erase['account_statuses']:,} of {own['statuses']:,} statuses)" in out.stdout


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


def test_erase_step_in_the_table_and_ratios() -> None:
    stages = {
        "generate": {"corpus": {"statuses": 500_000}, "new_data": {}},
        "duckdb": {"total_seconds": 40.0},
        "erase": {"seconds": 50.0, "process_seconds": 10.0, "lake_statuses": 100_000, "corpus_statuses": 100_000,
                  "account_statuses": 890, "raw_records": 1097, "curated_rows": 1673, "store_rows": 4,
                  "peak_rss_mib": 261.0},
    }
    # the ratio is to the DuckDB full run of the lake erased from (its own corpus here), not the benchmark's
    assert report.ratios(stages)["erase_vs_duckdb_full"] == pytest.approx(5.0)
    text = report.table({"stages": stages, "params": {"statuses": 500_000}})
    row = next(line for line in text.splitlines() if line.startswith("gdpr erase: most active account"))
    # statuses/s over the lake's statuses (100,000 / 50 s), not the benchmark corpus'
    assert "(890 of 100,000 statuses)" in row and row.split()[-3:] == ["50.00", "2,000", "261"]
    assert (f"{row}\n  from a 100,000-status corpus of its own (--erase-statuses): 1,097 raw records, "
            "1,673 curated rows, 4 store rows removed or scrubbed\n") in text
    skipped = report.table({"stages": {**stages, "erase": {"skipped": "--erase-statuses 0"}}})
    assert re.search(r"^gdpr erase: most active account +skipped: --erase-statuses 0$", skipped, re.MULTILINE)
    assert "removed or scrubbed" not in skipped
    assert "erase_vs_duckdb_full" not in skipped


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


def test_erase_statuses_must_be_zero_or_a_corpus_size() -> None:
    out = subprocess.run([sys.executable, "-m", "bench.run", "--erase-statuses", "50"], cwd=ROOT,
                         capture_output=True, text=True, check=False, env={**os.environ})
    assert out.returncode == 2 and "--erase-statuses must be 0 (no erase step) or at least 100" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("option", ["--results-dir", "--workdir"])
def test_an_unusable_folder_is_refused_before_any_stage_runs(tmp_path: Path, option: str) -> None:
    """Found only when the results are written, a bad --results-dir cost the whole run's measurements."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    others = {"--results-dir": str(tmp_path / "results"), "--workdir": str(tmp_path / "work")}
    others[option] = str(blocker / "sub") if option == "--results-dir" else str(blocker)
    out = subprocess.run([sys.executable, "-m", "bench.run", "--statuses", "100", "--engines", "mapreduce",
                          "--repeat", "1", "--erase-statuses", "0", *(x for kv in others.items() for x in kv)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env={**os.environ})
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and "generate" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(f"python -m bench.run: error: {option} {blocker}")
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def _old_java(home: Path) -> Path:
    """A JAVA_HOME whose java says it is Java 11, as `java -version` does (on stderr)."""
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    java.chmod(0o755)
    return home


def test_spark_is_skipped_with_the_reason_when_java_is_too_old(tmp_path: Path) -> None:
    """Java 11 is as unusable to Spark as no Java: skipped with the reason, not a failed benchmark (exit 1 after the
    DuckDB steps, nothing written)."""
    results_dir = tmp_path / "results"
    env = {**os.environ, "JAVA_HOME": str(_old_java(tmp_path / "jdk11"))}
    out = subprocess.run([sys.executable, "-m", "bench.run", "--statuses", "100", "--engines", "spark",
                          "--repeat", "1", "--erase-statuses", "0", "--results-dir", str(results_dir),
                          "--workdir", str(tmp_path / "work")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    (result_file,) = results_dir.glob("*.json")
    skipped = json.loads(result_file.read_text())["stages"]["spark"]["skipped"]
    assert "Java 11" in skipped and "17" in skipped
    assert f"skipped: {skipped}" in out.stdout
