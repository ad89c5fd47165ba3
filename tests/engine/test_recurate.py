"""Curation rules in the manifest, and ``--recurate``: rebuilding the curated tables after the rules changed.

Input: REAL recorded timelines landed at their fetch time. "Rows made by older rules" are simulated the way an
older fediscope would have left them: the manifest records other rules (or none, as before fediscope recorded
them), and the curated files hold what the current rules do not make — a changed value, a partition of a status
"from 2099" (older rules kept those), a table with no raw input left. A twin lake with the same raw files, curated
fresh, is the reference a rebuild must equal exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_run import clean_env, run
from engine_data import at, land, policy, read_table, settings_for, statuses, stored_rows

from fediscope.engine.curate_sql import rules_fingerprint
from fediscope.engine.manifest import MANIFEST_PATH, load_manifest, mark_rebuild_started, rebuild_interrupted
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.errors import ConfigError
from fediscope.lake.local import LocalLake

TABLES = ("statuses", "hashtags", "accounts", "instance_activity", "tag_trends", "instance_peers",
          "status_deletions")


def land_real(lake: LocalLake) -> None:
    for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json")):
        land(lake, "statuses", statuses(name), at(i), policy())


def curated(lake_dir: Path) -> dict[str, list[dict[str, Any]]]:
    def key(row: dict[str, Any]) -> str:
        return json.dumps(row, sort_keys=True, default=str)

    return {t: sorted(read_table(lake_dir, t), key=key) for t in TABLES}


def set_manifest_rules(lake_dir: Path, rules: str | None) -> None:
    path = lake_dir / MANIFEST_PATH
    body = json.loads(path.read_text())
    if rules is None:
        body.pop("rules", None)
    else:
        body["rules"] = rules
    path.write_text(json.dumps(body))


def age_curated_tables(lake_dir: Path) -> None:
    """Leave in the curated tables what older rules would have: one changed value in every statuses file, a whole
    extra partition, and a table the raw lake has no input for."""
    root = lake_dir / "curated"
    for file in sorted((root / "statuses").rglob("*.parquet")):
        table = pq.read_table(file, partitioning=None)
        column = table.schema.get_field_index("content_length")
        pq.write_table(table.set_column(column, "content_length",
                                        pa.array([-1] * table.num_rows, type=table.schema.field(column).type)), file)
    first = sorted((root / "statuses").glob("dt=*"))[0]
    shutil.copytree(first, root / "statuses" / "dt=2099-01-01")
    shutil.copytree(sorted((root / "hashtags").glob("dt=*"))[0], root / "hashtags" / "dt=2099-01-01")
    peers = root / "instance_peers"
    peers.mkdir(parents=True)
    pq.write_table(pa.table({"instance": ["old.example"], "peer": ["gone.example"]}), peers / "part-0.parquet")


@pytest.fixture
def twin(lake: LocalLake, lake_dir: Path, tmp_path: Path) -> Path:
    """The raw lake landed, and a copy of it curated and processed fresh (the reference)."""
    land_real(lake)
    copy = tmp_path / "twin" / "lake"
    shutil.copytree(lake_dir / "raw", copy / "raw")
    run_process(settings_for(copy), progress=False)
    return copy


def test_a_first_curation_records_its_rules_and_a_later_run_has_nothing_to_say(twin: Path) -> None:
    assert load_manifest(LocalLake(twin)).rules == rules_fingerprint()
    again = run_process(settings_for(twin), progress=False)
    assert again.curate["noop"] and not again.curate["rules_changed"]
    assert "--recurate" not in again.line()


@pytest.mark.parametrize("recorded", ["0123456789abcdef", None], ids=["other-rules", "rules-not-recorded"])
def test_rows_made_by_other_rules_are_reported_and_kept_until_a_rebuild(lake_dir: Path, twin: Path,
                                                                        recorded: str | None) -> None:
    run_process(settings_for(lake_dir), progress=False)
    age_curated_tables(lake_dir)
    set_manifest_rules(lake_dir, recorded)
    aged = curated(lake_dir)
    assert aged != curated(twin)

    summary = run_process(settings_for(lake_dir), progress=False)
    assert summary.curate["rules_changed"] and "--recurate rebuilds them" in summary.line()
    assert curated(lake_dir) == aged  # an incremental run does not rewrite what it did not read
    assert load_manifest(LocalLake(lake_dir)).rules == recorded  # the old rows are still there

    rebuilt = run_process(settings_for(lake_dir), progress=False, recurate=True)
    assert rebuilt.curate["rebuilt"] and not rebuilt.curate["rules_changed"]
    assert "rebuilt the curated tables from 2 raw files" in rebuilt.line()
    assert curated(lake_dir) == curated(twin)
    assert not (lake_dir / "curated" / "statuses" / "dt=2099-01-01").exists()
    assert not (lake_dir / "curated" / "instance_peers").exists()
    assert load_manifest(LocalLake(lake_dir)).rules == rules_fingerprint()
    assert stored_rows(settings_for(lake_dir).store) == stored_rows(settings_for(twin).store)
    assert not run_process(settings_for(lake_dir), progress=False).curate["rules_changed"]


def test_a_rebuild_is_refused_while_curated_raw_files_are_gone_unless_forced(lake_dir: Path, twin: Path) -> None:
    run_process(settings_for(lake_dir), progress=False)
    gone = sorted((lake_dir / "raw").rglob("*.jsonl*"))[0]
    gone.unlink()
    before = curated(lake_dir)
    with pytest.raises(ConfigError, match=r"1 raw file\(s\) curated before are no longer in the lake.*--force"):
        run_process(settings_for(lake_dir), progress=False, recurate=True)
    assert curated(lake_dir) == before

    forced = run_process(settings_for(lake_dir), progress=False, recurate=True, allow_missing=True)
    assert forced.curate["rebuilt"] and forced.curate["raw_files"] == 1
    only_left = twin.parent / "only-left" / "lake"
    shutil.copytree(lake_dir / "raw", only_left / "raw")
    run_process(settings_for(only_left), progress=False)
    assert curated(lake_dir) == curated(only_left)
    assert len(load_manifest(LocalLake(lake_dir)).files) == 1


def test_recurate_cannot_be_limited_to_some_days(lake_dir: Path, twin: Path) -> None:
    from datetime import date

    with pytest.raises(ConfigError, match="--since/--until"):
        run_process(settings_for(lake_dir), progress=False, recurate=True, since=date(2026, 1, 1))
    with pytest.raises(ConfigError, match="--force only applies to --recurate"):
        run_process(settings_for(lake_dir), progress=False, allow_missing=True)


def test_the_cli_rebuilds_and_refuses_bad_combinations(lake_dir: Path, twin: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=str(settings_for(lake_dir).pseudonym_key),
              FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_STORE=f"sqlite:///{lake_dir.parent / 'metrics.db'}")
    code, _out, err = run(capsys, "process", "--force")
    assert code == 2 and "--force only applies with --recurate" in err
    code, _out, err = run(capsys, "process", "--recurate", "--until", "2026-01-01")
    assert code == 2 and "leave out --since/--until" in err
    code, out, err = run(capsys, "process", "--recurate", "--json")
    assert code == 0, err
    assert json.loads(out)["curate"]["rebuilt"] is True
    assert curated(lake_dir) == curated(twin)


def test_the_cli_says_a_rebuild_it_finishes_or_forces_as_its_own_warnings(lake_dir: Path, twin: Path,
                                                                          tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Neither is in the summary line: each is said as the command's own warning, as it says others (was a log line,
    ``2026-… WARNING fediscope.engine.curation curation: …``)."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=str(settings_for(lake_dir).pseudonym_key),
              FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_STORE=f"sqlite:///{lake_dir.parent / 'metrics.db'}")
    code, _out, err = run(capsys, "process", "--no-progress")
    assert (code, err) == (0, "")
    mark_rebuild_started(LocalLake(lake_dir), False)  # a `fediscope process --recurate` stopped part-way
    started = (rebuild_interrupted(LocalLake(lake_dir)) or {})["started_at"]
    code, out, err = run(capsys, "process", "--no-progress")
    assert code == 0, err
    assert "rebuilt the curated tables" in out, out
    assert err == ("fediscope: warning: curation: a rebuild of the curated tables (`fediscope process --recurate`) "
                   f"was interrupted before it finished (started {started}): this run finishes it\n")
    assert curated(lake_dir) == curated(twin)

    sorted((lake_dir / "raw").rglob("*.jsonl*"))[0].unlink()
    code, out, err = run(capsys, "process", "--recurate", "--force", "--no-progress")
    assert code == 0, err
    assert err == ("fediscope: warning: curation: rebuilding without 1 raw file(s) curated before and gone from the "
                   "lake\n")


@pytest.mark.spark
def test_spark_rebuilds_the_same_tables(lake_dir: Path, twin: Path, spark: Any,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from spark_jobs import curate as curate_job

    options = {"spark": spark}
    # the first run, as in the DuckDB tests above (a Spark process here cost a Spark curation and the 19 metrics,
    # and --recurate below replaces every curated file it made): what is checked is that Spark's process sees the
    # other rules and that Spark's rebuild, and its metrics over it, equal the twin's. Spark's process over the
    # other rules' tables computes no metric (was: the 19, whose rows the run after the rebuild replaced unchecked;
    # other rules' rows reported and kept until a rebuild: test_rows_made_by_other_rules_are_reported_… above)
    run_process(settings_for(lake_dir), progress=False)
    age_curated_tables(lake_dir)
    set_manifest_rules(lake_dir, "0123456789abcdef")
    assert run_process(settings_for(lake_dir), engine="spark", progress=False, metrics={},
                       engine_options=options).curate["rules_changed"]
    # the spark-submit job, as a cluster runs it
    assert curate_job.main(["--lake", str(lake_dir), "--recurate"], spark=spark) == 0
    assert json.loads(capsys.readouterr().out)["rebuilt"] is True
    assert curated(lake_dir) == curated(twin)  # the twin was curated by DuckDB
    after = run_process(settings_for(lake_dir), engine="spark", progress=False, engine_options=options)
    assert after.curate["noop"] and not after.curate["rules_changed"]
    assert sorted(after.metrics) == sorted(load_metrics()) and not after.metrics_skipped  # all 19 by Spark
    assert stored_rows(settings_for(lake_dir).store) == stored_rows(settings_for(twin).store)


def test_the_cli_says_there_is_nothing_to_rebuild_without_raw_files_or_a_manifest(
        lake_dir: Path, twin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Was: "rebuilt the curated tables from 0 raw files", having changed nothing. Like a run without --recurate
    that finds nothing new (exit 0, its metrics computed over what is curated), it says so and goes on; a lake
    with no data at all is refused before either (test_process)."""
    shutil.rmtree(twin / "raw")
    (twin / MANIFEST_PATH).unlink()
    before = curated(twin)
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=str(settings_for(twin).pseudonym_key),
              FEDISCOPE_LAKE=str(twin), FEDISCOPE_STORE=f"sqlite:///{twin.parent / 'metrics.db'}")
    code, out, err = run(capsys, "process", "--recurate", "--no-progress")
    assert code == 0, err
    assert "nothing to curate: --recurate found no raw files to rebuild the curated tables from" in out
    assert err == ""  # said by the summary line alone (was: a WARNING log line of the same on stderr too)
    assert "rebuilt" not in out
    code, out, err = run(capsys, "process", "--recurate", "--json")
    assert code == 0, err
    summary = json.loads(out)["curate"]
    assert summary["nothing_to_rebuild"] is True and summary["rebuilt"] is False and summary["noop"] is True
    assert curated(twin) == before and not (twin / MANIFEST_PATH).exists()
    code, out, err = run(capsys, "process", "--no-progress")  # the same lake without --recurate: the same exit
    assert code == 0 and "nothing new to curate" in out, err


@pytest.mark.spark
def test_the_spark_job_run_by_hand_names_its_own_recurate(lake_dir: Path, twin: Path, spark: Any,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``spark_jobs/curate.py`` run by hand (spark-submit) names its own ``--recurate`` as the fix, where
    ``fediscope process --recurate`` was named: a command its user may not have where spark-submit runs. (The batch
    DAG passes ``--recurate-name`` to name the worker's command: tests/airflow.)"""
    from spark_jobs import curate as curate_job

    run_process(settings_for(lake_dir), progress=False)
    set_manifest_rules(lake_dir, "0123456789abcdef")
    assert curate_job.main(["--lake", str(lake_dir)], spark=spark) == 0
    _out, err = capsys.readouterr()
    assert "made by other curation rules (0123456789abcdef" in err, err
    assert "`spark_jobs/curate.py --recurate` rebuilds every table from the raw lake" in err, err
    assert "fediscope process" not in err, err

    mark_rebuild_started(LocalLake(lake_dir), False)  # a rebuild stopped part-way
    assert curate_job.main(["--lake", str(lake_dir), "--until", "2026-12-31"], spark=spark) == 2
    _out, err = capsys.readouterr()
    assert err == ("fediscope curate: error: a rebuild of the curated tables (`spark_jobs/curate.py --recurate`) was "
                   "interrupted before it finished: a run limited by --since/--until cannot finish it; run "
                   "`spark_jobs/curate.py --recurate`\n")
