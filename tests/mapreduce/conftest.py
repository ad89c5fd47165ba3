"""Fixtures of the MapReduce tests: raw lakes landed from REAL recordings (:mod:`mapreduce_lakes`) and from a
generated corpus."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mapreduce_lakes import CORPUS_STATUSES, KEY, land_recordings, land_refetch, settings_for
from streamed_deletions import land_deletions

from fediscope.engine.base import open_engine
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy


@pytest.fixture(scope="session")
def retention_lake(recorded_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recorded lake (fetched on 2026-08-01) with a second fetch on 2026-08-03 (:func:`land_refetch`): a curated
    retention whose first day is 2026-08-02 expires the statuses posted on 2026-08-01 and the accounts not fetched
    again (:data:`NOT_REFETCHED`) (read-only; copy before curating)."""
    root = tmp_path_factory.mktemp("mr-retention") / "lake"
    shutil.copytree(recorded_lake, root)
    land_refetch(LocalLake(root), PrivacyPolicy(key=KEY))
    return root



@pytest.fixture(scope="session")
def recorded_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw lake of every recorded status and account (read-only; copy before curating)."""
    root = tmp_path_factory.mktemp("mr-recorded") / "lake"
    counts = land_recordings(LocalLake(root), PrivacyPolicy(key=KEY))
    assert counts["statuses"] > 300 and counts["accounts"] > 50, counts
    return root


@pytest.fixture(scope="session")
def corpus_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw lake of a generated corpus: privacy applied, edit history landed, some batches gzip-compressed,
    streamed deletions of five statuses."""
    from fediscope.sample.landing import write_raw_lake

    root = tmp_path_factory.mktemp("mr-corpus") / "lake"
    policy = PrivacyPolicy(key=KEY)
    write_raw_lake(LocalLake(root), CORPUS_STATUSES, seed=23, policy=policy, edit_history=True, batch_size=300)
    write_raw_lake(LocalLake(root), 400, seed=24, policy=policy, batch_size=100, compressed=True)
    land_deletions(LocalLake(root), datetime(2026, 11, 1, tzinfo=UTC))
    return root


@pytest.fixture(scope="session")
def sql_results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], dict[str, list[dict]]]]:
    """``sql_results(raw_lake)``: the SQL metrics the MapReduce chain reproduces, run by the DuckDB engine over
    a private copy of ``raw_lake`` curated by it (computed once per lake and test session)."""
    from fediscope.engine.metrics import load_metrics
    from spark_jobs.mapreduce.reducer import COLUMNS

    cache: dict[Path, dict[str, list[dict]]] = {}

    def results(raw_lake: Path) -> dict[str, list[dict]]:
        if raw_lake not in cache:
            target = tmp_path_factory.mktemp("mr-sql") / "lake"
            shutil.copytree(raw_lake / "raw", target / "raw")
            metrics = load_metrics()
            with open_engine(settings_for(target), "duckdb") as engine:
                engine.curate()
                cache[raw_lake] = {name: engine.run_metric(metrics[name]) for name in COLUMNS}
        return cache[raw_lake]

    yield results
