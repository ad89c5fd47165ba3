"""``spark_jobs/metrics.py`` (the batch DAG's Spark path, after ``spark_jobs/curate.py``) records what computed the
rows it stores, as ``fediscope process`` does (:mod:`fediscope.engine.provenance`). Before, it set no provenance: a
store it wrote alone said "unrecorded", and one a local ``fediscope process`` had written kept that run's record
while the job changed the rows.

One SparkSession for the whole test session (the ``spark`` fixture of tests/conftest.py), and one lake for both
tests (the module's ``runs`` fixture): a local DuckDB ``process`` on two timelines, the jobs (nothing new), a third
timeline and the jobs again (they curate it), then ``process --engine spark`` on the same lake with a store of its
own. Was a lake of its own for each test, the three timelines curated by Spark twice; the last state of the one lake
is the lake the first test had (the same three raw files, all curated), so its check is made on it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_data import at, land, policy, settings_for, statuses

from fediscope.engine.manifest import load_manifest
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.engine.provenance import inputs_fingerprint
from fediscope.lake.local import LocalLake
from fediscope.store.port import open_store

pytestmark = pytest.mark.spark
#: posted_days reads collection_starts: its ``sql`` fingerprint covers those records too
CHOSEN = ("languages", "posted_days", "top_toots")
METRICS = {name: metric for name, metric in load_metrics().items() if name in CHOSEN}


def _batch_jobs(spark: Any, lake_dir: Path, store: str) -> None:  # noqa: ANN401 - a SparkSession
    """spark_jobs/curate.py then spark_jobs/metrics.py, as the batch DAG submits them (its window's ``--until``
    goes to curate.py only)."""
    from spark_jobs import curate, metrics

    assert curate.main(["--lake", str(lake_dir)], spark=spark) == 0
    assert metrics.main(["--lake", str(lake_dir), "--store", store, *[f"--metric={m}" for m in CHOSEN]],
                        spark=spark) == 0


def _recorded(url: str) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The store's provenances and generations."""
    store = open_store(url)
    try:
        return store.provenances(), store.generations()
    finally:
        store.close()


@pytest.fixture(scope="module")
def runs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:  # noqa: ANN401
    """What each run recorded on the one lake, in order. The jobs read their settings as spark-submit runs them:
    the environment and ./fediscope.toml (none here)."""
    tmp_path = tmp_path_factory.mktemp("provenance")
    lake_dir = tmp_path / "lake"
    lake = LocalLake(lake_dir)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(tmp_path)
        for name in ("FEDISCOPE_METRICS_DIR", "FEDISCOPE_RETENTION_CURATED_DAYS", "FEDISCOPE_STORE",
                     "FEDISCOPE_LAKE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "unused-by-these-jobs")
        for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json")):
            land(lake, "statuses", statuses(name), at(i), policy())
        settings = settings_for(lake_dir)
        run_process(settings, engine="duckdb", metrics=METRICS, progress=False)
        local = _recorded(settings.store)
        local_inputs = inputs_fingerprint(load_manifest(lake))
        _batch_jobs(spark, lake_dir, settings.store)  # nothing new: the same rows, computed by Spark
        same = _recorded(settings.store)
        land(lake, "statuses", statuses("test_media_post_multiple.json"), at(5), policy())
        _batch_jobs(spark, lake_dir, settings.store)  # the job curates the third timeline
        later = _recorded(settings.store)
        # process on the same lake, with a store of its own: it finds nothing new to curate (the job curated every
        # raw file) and computes the metrics with Spark
        process_settings = settings_for(lake_dir, store=f"sqlite:///{tmp_path / 'process.db'}")
        noop = run_process(process_settings, engine="spark", metrics=METRICS, progress=False,
                           engine_options={"spark": spark}).curate["noop"]
        by_process, _ = _recorded(process_settings.store)
        yield {"local": local, "local_inputs": local_inputs, "same": same, "later": later, "noop": noop,
               "by_process": by_process, "inputs": inputs_fingerprint(load_manifest(lake))}


def test_the_spark_metrics_job_records_what_process_records_on_the_same_lake(runs: dict[str, Any]) -> None:
    case = "the job's record is process's"
    by_job, _ = runs["later"]
    by_process = runs["by_process"]
    assert runs["noop"], f"{case}: process curated again what the job had curated"
    assert sorted(by_job) == sorted(by_process) == sorted(CHOSEN), case
    for name in CHOSEN:
        job, process = by_job[name], by_process[name]
        assert job is not None, f"{case}: {name}: stored without provenance"
        assert job["engine"] == "spark" and job["inputs"] == runs["inputs"] and job["raw_files"] == 3, (case, name)
        # the only field that differs: process curated (no --since/--until), the job curated nothing
        assert process["window"] == {"since": None, "until": None} and job["window"] is None, (case, name)
        assert job == {**process, "window": None}, (case, name)


def test_the_spark_metrics_job_replaces_the_record_of_an_earlier_local_process(runs: dict[str, Any]) -> None:
    case = "the job replaces a local process's record"
    local, generations = runs["local"]
    assert all(local[name]["engine"] == "duckdb" for name in CHOSEN), case
    same, kept = runs["same"]
    # no row changed: every generation (and API cursor) kept, as process keeps them
    assert kept == generations, f"{case}: the jobs on nothing new changed generations"
    for name in CHOSEN:  # but the record names the run that wrote them last
        assert same[name] == {**local[name], "engine": "spark", "window": None}, (case, name)

    later, changed = runs["later"]
    assert changed["languages"] != generations["languages"], case  # the job changed these rows
    assert runs["inputs"] != local["languages"]["inputs"] == runs["local_inputs"], case
    for name in CHOSEN:  # before, the catalog kept the local run's record (its inputs) over the job's new rows
        assert later[name]["inputs"] == runs["inputs"] and later[name]["raw_files"] == 3, (case, name)
        assert later[name]["engine"] == "spark" and later[name]["sql"] == local[name]["sql"], (case, name)
