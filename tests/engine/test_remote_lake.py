"""A WebHDFS lake: the DuckDB engine stages files locally and publishes curated partitions back over WebHDFS;
Spark with ``spark_lake_uri`` reads and writes the lake's own directory and publishes with WebHDFS renames."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from doubles.webhdfs_server import WebHDFSDouble
from engine_data import INSTANCE, assert_rows_equal, at, land, policy, read_table, settings_for, statuses

from fediscope.engine.base import open_engine
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.engine.spark_engine import SparkEngine
from fediscope.errors import ConfigError, FediscopeError
from fediscope.lake.backend import open_lake
from fediscope.lake.local import LocalLake
from fediscope.lake.state import save_walk_start

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


def test_spark_on_a_cluster_with_a_webhdfs_lake_needs_the_lake_uri(webhdfs_server: WebHDFSDouble,
                                                                  tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake=webhdfs_server.lake_url("/lake"), spark_master="spark://master:7077")
    with pytest.raises(ConfigError, match=r"needs FEDISCOPE_SPARK_LAKE_URI.*hdfs://<namenode>:8020/lake"):
        open_engine(settings, "spark")


@pytest.mark.spark
def test_spark_reads_and_writes_the_lake_directly(spark, webhdfs_server: WebHDFSDouble,  # noqa: ANN001
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spark addresses the HDFS directory itself (here through file://, the directory the WebHDFS double serves,
    as executors would through hdfs://); fediscope lists, renames and deletes through WebHDFS. The first run (a
    curation) makes the curated tables of a DuckDB run on a local lake; the incremental run is ``process``'s own
    (its store, every metric: the same rows as DuckDB's ``process`` of the local lake; posted_days reads the lake's
    collection start records too), and the run after it finds its kept results current (read and written through
    WebHDFS). (Was: every metric compared after the first run too, which the incremental run compares over a
    superset of its rows; and a test of its own for ``process`` on such a lake, another Spark curation.)"""
    from engine_data import stored_rows

    from fediscope.engine.workspace import Workspace

    url = webhdfs_server.lake_url("/lake")
    hdfs_root = webhdfs_server.local("/lake")
    remote, local_dir = open_lake(url), tmp_path / "local" / "lake"  # its store: tmp_path / local / metrics.db
    oldest = min(s["created_at"] for name, _ in BATCHES for s in statuses(name))
    for lake in (remote, LocalLake(local_dir)):
        _land_all(lake, BATCHES[:2])
        # where the collection begins: posted_days' first_day_partial is false with it, NULL without
        save_walk_start(lake, INSTANCE, "public", "end", oldest)
    settings = settings_for(tmp_path / "x", lake=url, spark_lake_uri=hdfs_root.as_uri())
    local = settings_for(local_dir)
    metrics = load_metrics()

    def same_statuses() -> None:
        assert (sorted(map(repr, read_table(hdfs_root, "statuses")))
                == sorted(map(repr, read_table(local_dir, "statuses"))))

    with SparkEngine(settings, spark=spark) as engine:
        assert engine.workspace.direct and str(engine.workspace.root) == hdfs_root.as_uri()
        summary = engine.curate()
        assert summary.raw_files == 2 and summary.files_published >= 2
        assert engine.workspace._tmp is None  # nothing was copied to the driver
    with open_engine(local, "duckdb") as engine:
        engine.curate()
    same_statuses()

    # the incremental run: one new batch, through process
    _land_all(remote, BATCHES[2:])
    _land_all(LocalLake(local_dir), BATCHES[2:])
    workspaces: list[tuple[bool, str, object]] = []
    close = Workspace.close

    def closing(workspace: Workspace) -> None:
        workspaces.append((workspace.direct, str(workspace.root), workspace._tmp))
        close(workspace)

    monkeypatch.setattr(Workspace, "close", closing)
    on_spark = run_process(settings, engine="spark", progress=False, engine_options={"spark": spark})
    monkeypatch.setattr(Workspace, "close", close)
    assert workspaces and all(w == (True, hdfs_root.as_uri(), None) for w in workspaces), workspaces
    assert on_spark.curate["raw_files"] == 1 and on_spark.curate["files_published"] >= 2, on_spark.curate
    assert sorted(on_spark.metrics) == sorted(metrics) and on_spark.metric_rows > 0, on_spark.metrics
    on_duckdb = run_process(local, engine="duckdb", progress=False)
    assert on_duckdb.curate["raw_files"] == 1
    same_statuses()
    got, expected = stored_rows(settings.store), stored_rows(local.store)
    for name in metrics:
        assert_rows_equal(got[name], expected[name], name)
    assert {r["instance"]: r["first_day_partial"] for r in got["posted_days"]} == {"*": False, INSTANCE: False}
    again = run_process(settings, engine="spark", progress=False, engine_options={"spark": spark})
    assert again.curate["noop"] and again.metrics_skipped
    # published by renames: no staging left behind, the old version of a rewritten partition is gone
    assert not remote.exists("curated/_staging")
    assert not [p for p in (hdfs_root / "curated").rglob("*") if ".old-" in p.name]
    partition_files = {p.parent.name: 0 for p in (hdfs_root / "curated" / "statuses").rglob("*.parquet")}
    for p in (hdfs_root / "curated" / "statuses").rglob("*.parquet"):
        partition_files[p.parent.name] += 1
    assert partition_files and all(n == 1 for n in partition_files.values()), partition_files


@pytest.mark.spark
def test_a_spark_lake_uri_that_is_not_the_lake_is_one_line_before_anything_is_read(
        spark, webhdfs_server: WebHDFSDouble, tmp_path: Path) -> None:  # noqa: ANN001
    """Was: a Python traceback of pyspark's (``[PATH_NOT_FOUND] Path does not exist: …/curated/statuses``, or 200 lines
    of Java for a namenode that does not answer) once the metrics read the curated tables there. The lake's own
    directories are looked for at the URI first: one line naming the setting, nothing curated."""
    url = webhdfs_server.lake_url("/direct-wrong")
    _land_all(open_lake(url))
    elsewhere = tmp_path / "not-the-lake"
    elsewhere.mkdir()
    settings = settings_for(tmp_path / "x", lake=url, spark_lake_uri=elsewhere.as_uri())
    with pytest.raises(ConfigError) as caught:
        run_process(settings, engine="spark", progress=False, engine_options={"spark": spark})
    message = str(caught.value)
    assert message.startswith(f"FEDISCOPE_SPARK_LAKE_URI={elsewhere.as_uri()} is not the lake's directory as "
                              "Spark addresses it: Spark finds no _state/, raw/ there, "), message
    assert f"there, which the lake {url} holds" in message
    assert "\n" not in message
    assert not webhdfs_server.local("/direct-wrong/curated").exists()

    settings = settings_for(tmp_path / "x", lake=url, spark_lake_uri="nosuchfs://namenode/lake")
    with pytest.raises(FediscopeError) as caught:
        run_process(settings, engine="spark", progress=False, engine_options={"spark": spark})
    assert str(caught.value).startswith("Spark cannot reach the lake at FEDISCOPE_SPARK_LAKE_URI="
                                        "nosuchfs://namenode/lake: "), caught.value
    assert "No FileSystem for scheme" in str(caught.value) and "\n" not in str(caught.value)


def _peers_parquet(tmp_path: Path) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "peers.parquet"
    pq.write_table(pa.table({"instance": ["old.example"], "peer": ["gone.example"]}), path)
    return path.read_bytes()


def test_a_rebuild_on_webhdfs_removes_what_the_rules_no_longer_make(webhdfs_server: WebHDFSDouble,
                                                                    tmp_path: Path) -> None:
    import json

    url = webhdfs_server.lake_url("/lake")
    remote = open_lake(url)
    local_dir = tmp_path / "local"
    _land_all(remote, BATCHES[:2])
    _land_all(LocalLake(local_dir), BATCHES[:2])
    hdfs_root = webhdfs_server.local("/lake")
    with open_engine(settings_for(tmp_path / "unused", lake=url), "duckdb") as engine:
        engine.curate()
    with open_engine(settings_for(local_dir), "duckdb") as engine:
        engine.curate()
    # what older rules left: a partition the current ones do not make, and the manifest naming other rules
    first = sorted(p for p in (hdfs_root / "curated" / "statuses").iterdir() if p.name.startswith("dt="))[0]
    stale = next(first.glob("*.parquet"))
    remote.write_atomic(f"curated/statuses/dt=2099-01-01/{stale.name}", stale.read_bytes())
    # ... and a whole table the raw lake has no input for (the local mirror of a run never downloads it)
    remote.write_atomic("curated/instance_peers/part-0.parquet", _peers_parquet(tmp_path))
    manifest = json.loads(remote.read("_state/curated_manifest.json"))
    remote.write_atomic("_state/curated_manifest.json", json.dumps({**manifest, "rules": "older"}).encode())

    with open_engine(settings_for(tmp_path / "unused", lake=url), "duckdb") as engine:
        assert engine.curate().rules_changed
        summary = engine.curate(rebuild=True)
    assert summary.rebuilt and summary.raw_files == 2
    assert not remote.exists("curated/statuses/dt=2099-01-01")
    assert not remote.exists("curated/instance_peers")
    assert sorted(map(repr, read_table(hdfs_root, "statuses"))) == sorted(map(repr, read_table(local_dir, "statuses")))
    assert json.loads(remote.read("_state/curated_manifest.json"))["rules"] != "older"


def test_an_error_about_a_damaged_raw_file_names_the_lakes_file_not_its_download(webhdfs_server: WebHDFSDouble,
                                                                               tmp_path: Path) -> None:
    """The engine reads a downloaded copy (deleted when the run ends): the message said to restore or move
    ``/tmp/fediscope-workspace-…/raw/…``, a file that is gone by then; it names the file in the lake."""
    from fediscope.errors import FediscopeError

    url = webhdfs_server.lake_url("/lake")
    _land_all(open_lake(url), BATCHES[:1])
    damaged = next(webhdfs_server.local("/lake").rglob("*.jsonl"))
    lines = damaged.read_bytes().splitlines(keepends=True)
    damaged.write_bytes(b"".join([lines[0], b"this is {not json\n", *lines[1:]]))

    with open_engine(settings_for(tmp_path / "unused", lake=url), "duckdb") as engine, \
            pytest.raises(FediscopeError) as raised:
        engine.curate()

    message = str(raised.value)
    in_lake = unquote(damaged.relative_to(webhdfs_server.local("/lake")).as_posix())  # the double's disk names
    assert f'"{url.rstrip("/")}/{in_lake}"' in message, message
    assert "fediscope-workspace-" not in message and "restore it from a copy" in message, message


def test_downloaded_copies_are_named_as_the_lakes_files_in_every_form_an_engine_gives() -> None:
    """DuckDB names a file by its path, Spark by its URI (``file:///…``, percent-encoded); the lake's URL is given
    without its query (``?user=``), which would otherwise sit in the middle of the path (review)."""
    from fediscope.engine.workspace import Workspace

    workspace = Workspace(open_lake("webhdfs://nn:9870/lake?user=etl"))
    try:
        tmp = str(workspace.root)
        text = (f"DuckDB: {tmp}/raw/a.jsonl; Spark: file://{tmp}/raw/b.jsonl.gz and file:{tmp}/raw/c.jsonl; "
                f"encoded: file://{tmp}/raw/instance=h:8080/d%20e.jsonl")
        assert workspace.in_lake_terms(text) == (
            "DuckDB: webhdfs://nn:9870/lake/raw/a.jsonl; Spark: webhdfs://nn:9870/lake/raw/b.jsonl.gz and "
            "webhdfs://nn:9870/lake/raw/c.jsonl; encoded: webhdfs://nn:9870/lake/raw/instance=h:8080/d%20e.jsonl")
    finally:
        workspace.close()
    assert Workspace(LocalLake(Path("/srv/lake"))).in_lake_terms("/srv/lake/raw/a.jsonl") == "/srv/lake/raw/a.jsonl"


def test_an_error_renamed_keeps_its_type_and_attributes(webhdfs_server: WebHDFSDouble, tmp_path: Path) -> None:
    """An error whose constructor takes more than a message (copying it to rename it failed with a TypeError)."""
    from fediscope.sources.client import RateLimited

    url = webhdfs_server.lake_url("/lake")
    with open_engine(settings_for(tmp_path / "unused", lake=url), "duckdb") as engine:
        downloaded = engine.workspace.root
        with pytest.raises(RateLimited) as raised, engine._errors_in_lake_terms():
            raise RateLimited(f"throttled reading {downloaded}/raw/x.jsonl", 3.0)

    assert str(raised.value) == f"throttled reading {url.split('?')[0].rstrip('/')}/raw/x.jsonl"
    assert raised.value.retry_after == 3.0
