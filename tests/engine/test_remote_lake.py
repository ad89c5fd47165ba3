"""A WebHDFS lake: the DuckDB engine stages files locally and publishes curated partitions back over WebHDFS."""

from __future__ import annotations

from pathlib import Path

import pytest
from doubles.webhdfs_server import WebHDFSDouble
from engine_data import assert_rows_equal, at, land, policy, read_table, settings_for, statuses

from fediscope.engine.base import open_engine
from fediscope.engine.metrics import load_metrics
from fediscope.errors import NotSupportedError
from fediscope.lake.backend import open_lake
from fediscope.lake.local import LocalLake

BATCHES = (("test_public_tl.json", 0), ("test_hashtag_tl.json", 1), ("test_status_reblog_unreblog.json", 2))


def _land_all(lake, names=BATCHES) -> None:  # noqa: ANN001
    for name, minute in names:
        land(lake, "statuses", statuses(name), at(minute), policy())


def test_duckdb_on_webhdfs_gives_the_local_results(webhdfs_server: WebHDFSDouble, tmp_path: Path) -> None:
    url = webhdfs_server.lake_url("/lake")
    remote = open_lake(url)
    local_dir = tmp_path / "local"
    _land_all(remote, BATCHES[:2])
    _land_all(LocalLake(local_dir), BATCHES[:2])
    metrics = load_metrics()
    hdfs_root = webhdfs_server.local("/lake")

    with open_engine(settings_for(tmp_path / "unused", lake=url), "duckdb") as engine:
        summary = engine.curate()
        assert summary.raw_files == 2 and summary.files_published >= 3
        remote_results = {n: engine.run_metric(m) for n, m in metrics.items()}
    with open_engine(settings_for(local_dir), "duckdb") as engine:
        engine.curate()
        local_results = {n: engine.run_metric(m) for n, m in metrics.items()}
    for name in metrics:
        assert_rows_equal(remote_results[name], local_results[name], name)
    assert sorted(map(repr, read_table(hdfs_root, "statuses"))) == sorted(map(repr, read_table(local_dir, "statuses")))
    assert remote.exists("_state/curated_manifest.json")

    # incremental: a new batch rewrites the partition on HDFS; the replaced files are gone, nothing duplicated
    _land_all(remote, BATCHES[2:])
    _land_all(LocalLake(local_dir), BATCHES[2:])
    with open_engine(settings_for(tmp_path / "unused", lake=url), "duckdb") as engine:
        assert engine.run_metric(metrics["top_toots"]) == remote_results["top_toots"]
        assert engine.curate().raw_files == 1  # after a read: the engine's local mirror must follow
        assert engine.curate().noop
        remote_results = {n: engine.run_metric(m) for n, m in metrics.items()}
    with open_engine(settings_for(local_dir), "duckdb") as engine:
        engine.curate()
        local_results = {n: engine.run_metric(m) for n, m in metrics.items()}
    for name in metrics:
        assert_rows_equal(remote_results[name], local_results[name], name)
    assert sorted(map(repr, read_table(hdfs_root, "statuses"))) == sorted(map(repr, read_table(local_dir, "statuses")))
    assert len(list((hdfs_root / "curated" / "statuses").rglob("*.parquet"))) == 1


def test_spark_on_a_cluster_with_a_webhdfs_lake_is_refused(webhdfs_server: WebHDFSDouble, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake=webhdfs_server.lake_url("/lake"), spark_master="spark://master:7077")
    with pytest.raises(NotSupportedError, match="WebHDFS lake"):
        open_engine(settings, "spark")
