"""Fixtures of the engine tests (helpers live in engine_data.py and metric_reference.py)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engine_data import policy, settings_for
from streamed_deletions import land_deletions

from fediscope.config import Settings
from fediscope.engine.base import Engine, open_engine
from fediscope.lake.local import LocalLake

#: Size of the generated corpus the reference and parity tests use (a few thousand statuses, with edits).
CORPUS_STATUSES = 3000


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def lake(lake_dir: Path) -> LocalLake:
    return LocalLake(lake_dir)


@pytest.fixture
def duckdb_engine(lake_dir: Path) -> Iterator[Callable[[], Engine]]:
    """A factory of DuckDB engines on the test's lake (several runs = several engines, like separate processes)."""
    opened: list[Engine] = []

    def make() -> Engine:
        engine = open_engine(settings_for(lake_dir), "duckdb")
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        engine.close()


@pytest.fixture(scope="session")
def corpus_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw lake of a generated corpus (privacy applied, edit history landed), built once; copy before writing."""
    from fediscope.sample.landing import write_raw_lake

    root = tmp_path_factory.mktemp("corpus") / "lake"
    write_raw_lake(LocalLake(root), CORPUS_STATUSES, seed=11, policy=policy(), edit_history=True, batch_size=400)
    land_trends(LocalLake(root))
    return root


def land_trends(lake: LocalLake) -> None:
    """Two fetches of ``/api/v1/trends/tags`` from the sample instance serving the same corpus: one as the
    corpus ends, one after more statuses were posted, so the latest fetch of a day must win in curation; and
    two of its ``/api/v1/instance/peers``."""
    from datetime import timedelta

    from engine_data import land

    from fediscope.sample.instance import SampleInstance
    from fediscope.timestamps import from_ms

    instance = SampleInstance.generate(CORPUS_STATUSES, seed=11)
    first = from_ms(instance.now_ms()) + timedelta(minutes=5)
    land(lake, "trends_tags", instance.trending_tags(), first, policy(), instance=instance.home,
         endpoint="/api/v1/trends/tags")
    instance.grow(40, at=first + timedelta(minutes=30))
    land(lake, "trends_tags", instance.trending_tags(), first + timedelta(hours=1), policy(), instance=instance.home,
         endpoint="/api/v1/trends/tags")
    # the peers it lists: one fetch two days before the corpus ends, one as it ends with one domain gone and two
    # new (fetch days the statuses fall on too, so every raw dt partition still holds statuses)
    peers = instance.peers
    land(lake, "instance_peers", peers[:-1], first - timedelta(days=2), policy(), instance=instance.home,
         endpoint="/api/v1/instance/peers")
    land(lake, "instance_peers", [*peers[1:], "new-peer.example"], first, policy(), instance=instance.home,
         endpoint="/api/v1/instance/peers")
    land_deletions(lake, first)  # streamed deletions (tests/streamed_deletions.py)


@pytest.fixture
def corpus_lake(corpus_raw: Path, tmp_path: Path) -> Path:
    """A private copy of the corpus' raw lake (nothing curated yet)."""
    target = tmp_path / "lake"
    shutil.copytree(corpus_raw / "raw", target / "raw")
    return target


#: the stores a test ``on_every_store`` runs on: a SQLite file, the test MariaDB server, the HBase double
EVERY_STORE = [pytest.param("sqlite", id="sqlite"), pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
               pytest.param("hbase", id="hbase")]


def settings_on_store(request: pytest.FixtureRequest, lake: Path, tmp_path: Path) -> Settings:
    """Settings of the lake ``lake`` with the store of ``request.param`` (:data:`EVERY_STORE`; the HBase double with a
    table prefix of its own)."""
    kind = request.param
    if kind == "sqlite":
        return settings_for(lake, store=f"sqlite:///{tmp_path / 'metrics.db'}")
    if kind == "mariadb":
        return settings_for(lake, store=request.getfixturevalue("mariadb_url"))
    return settings_for(lake, store=request.getfixturevalue("hbase_double").url,
                        hbase_table_prefix=f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture(params=EVERY_STORE)
def corpus_settings_on_every_store(request: pytest.FixtureRequest, corpus_lake: Path, tmp_path: Path) -> Settings:
    """Settings of :func:`corpus_lake` with each store in turn (:func:`settings_on_store`)."""
    return settings_on_store(request, corpus_lake, tmp_path)


@pytest.fixture(params=EVERY_STORE)
def settings_on_every_store(request: pytest.FixtureRequest, lake_dir: Path, tmp_path: Path) -> Settings:
    """Settings of :func:`lake_dir` with each store in turn (:func:`settings_on_store`)."""
    return settings_on_store(request, lake_dir, tmp_path)


@pytest.fixture(scope="session")
def curated_corpus(corpus_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus lake curated once by DuckDB (read-only for the tests that use it)."""
    target = tmp_path_factory.mktemp("curated-corpus") / "lake"
    shutil.copytree(corpus_raw / "raw", target / "raw")
    with open_engine(settings_for(target), "duckdb") as engine:
        engine.curate()
    return target
