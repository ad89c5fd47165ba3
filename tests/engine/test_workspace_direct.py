"""The direct workspace (Spark with ``spark_lake_uri``): locations are the lake's own URIs, and publishing
swaps staged directories into place with the lake backend's renames — on the WebHDFS double and a local lake."""

from __future__ import annotations

from pathlib import Path

import pytest
from doubles.webhdfs_server import WebHDFSDouble

from fediscope.engine.workspace import LakeURI, Workspace
from fediscope.errors import LakeError
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.local import LocalLake


@pytest.fixture(params=["local", "webhdfs"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> LakeBackend:
    if request.param == "local":
        return LocalLake(tmp_path / "lake")
    double: WebHDFSDouble = request.getfixturevalue("webhdfs_server")
    return open_lake(double.lake_url(f"/ws-{tmp_path.name}"))


def _files(lake: LakeBackend, path: str) -> list[str]:
    return [e.path for e in lake.walk(path)]


def test_locations_are_uris_under_the_spark_root_with_storage_names(lake: LakeBackend) -> None:
    ws = Workspace(lake, direct_uri="hdfs://namenode:8020/data/fediscope/")
    assert ws.direct and not ws.remote and ws._tmp is None
    assert ws.table_path("statuses") == "hdfs://namenode:8020/data/fediscope/curated/statuses"
    assert isinstance(ws.table_path("statuses") / "dt=2026-11-01", LakeURI)
    raw = "raw/mastodon/statuses/instance=127.0.0.1:8080/dt=2026-11-01/b.jsonl"
    expected = raw if isinstance(lake, LocalLake) else raw.replace(":8080", "%3A8080")
    assert ws.local_files([raw]) == [f"hdfs://namenode:8020/data/fediscope/{expected}"]
    with pytest.raises(LakeError, match="not inside the workspace"):
        ws.has_parquet(LakeURI("hdfs://elsewhere:8020/x"))


def test_publish_replaces_partitions_by_renames_and_discard_cleans_up(lake: LakeBackend) -> None:
    ws = Workspace(lake, direct_uri="hdfs://namenode:8020/lake")
    lake.write_atomic("curated/statuses/dt=2026-11-01/old.parquet", b"old")
    lake.write_atomic("curated/statuses/dt=2026-11-02/gone.parquet", b"gone")
    lake.write_atomic("curated/statuses/dt=2026-11-03/kept.parquet", b"kept")
    staged = ws.new_staging_dir()
    assert not lake.exists(ws._rel(staged))  # created by the engine's writer, not in advance
    lake.write_atomic(f"{ws._rel(staged)}/statuses/dt=2026-11-01/new.parquet", b"new")
    lake.write_atomic(f"{ws._rel(staged)}/statuses/_SUCCESS", b"")
    assert ws.partition_dirs("statuses", "dt", ["2026-11-01", "2026-11-09"]) == [
        ws.table_path("statuses") / "dt=2026-11-01"]

    published = ws.publish("statuses", staged / "statuses", "dt", ["2026-11-01", "2026-11-02"])
    assert published == 1
    assert _files(lake, "curated/statuses") == ["curated/statuses/dt=2026-11-01/new.parquet",
                                                "curated/statuses/dt=2026-11-03/kept.parquet"]
    assert lake.read("curated/statuses/dt=2026-11-01/new.parquet") == b"new"
    ws.discard(staged)
    assert not lake.exists("curated/_staging")
    assert ws.has_parquet(ws.table_dir("statuses")) and not ws.has_parquet(ws.table_dir("accounts"))


class _SecondRenameFails:
    """A real lake whose second rename fails, as a namenode going away between two requests would."""

    def __init__(self, lake: LakeBackend) -> None:
        self._lake, self.renames = lake, 0

    def rename(self, path: str, destination: str) -> None:
        self.renames += 1
        if self.renames == 2:
            raise LakeError("injected: the namenode went away")
        self._lake.rename(path, destination)

    def __getattr__(self, name: str) -> object:
        return getattr(self._lake, name)


def test_a_failed_publish_puts_the_old_partition_back(lake: LakeBackend) -> None:
    lake.write_atomic("curated/accounts/part-0.parquet", b"v1")
    failing = _SecondRenameFails(lake)
    ws = Workspace(failing, direct_uri="hdfs://namenode:8020/lake")  # type: ignore[arg-type]
    staged = ws.new_staging_dir()
    lake.write_atomic(f"{ws._rel(staged)}/accounts/part-0.parquet", b"v2")
    with pytest.raises(LakeError, match="namenode went away"):
        ws.publish("accounts", staged / "accounts")
    assert failing.renames == 3  # aside, in (failed), back
    assert _files(lake, "curated/accounts") == ["curated/accounts/part-0.parquet"]
    assert lake.read("curated/accounts/part-0.parquet") == b"v1"
