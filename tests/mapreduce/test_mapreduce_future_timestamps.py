"""Statuses dated after their fetch: the streaming chain skips them as the curation SQL does. Input: a REAL recorded
hashtag status and variants derived from it, with ``created_at``, ``edited_at`` or the author's ``created_at``
moved after the fetch (beyond the clock-skew tolerance, and within it)."""

from __future__ import annotations

import copy
import json
import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fediscope.config import load_settings
from fediscope.engine.base import open_engine
from fediscope.engine.metrics import load_metrics
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from spark_jobs.mapreduce import mapper
from spark_jobs.mapreduce.reducer import COLUMNS
from spark_jobs.mapreduce.run_local import run_lake

RECORDING = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings" / "test_hashtag_tl.json"
FETCHED = datetime(2026, 8, 1, 14, 1, tzinfo=UTC)  # after the recorded statuses were created
STAMP = "%Y-%m-%dT%H:%M:%S.000Z"


def _tagged_status() -> dict[str, Any]:
    for interaction in json.loads(RECORDING.read_text())["interactions"]:
        body = interaction["response"]["body"]
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict) and item.get("tags") and "account" in item and "uri" in item:
                return copy.deepcopy(item)
    raise AssertionError("the recording has no status with tags")


def _variant(base: dict[str, Any], suffix: str, **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(base), "id": f"{base['id']}{suffix}", "uri": f"{base['uri']}-{suffix}", **changes}


def _land(lake_dir: Path, statuses: list[dict[str, Any]], fetched: datetime) -> None:
    """Privacy off (what upstream sent)."""
    records = [envelope("localhost:3000", "/api/v1/timelines/tag/x", s, fetched_at=fetched) for s in statuses]
    write_batch(LocalLake(lake_dir), "statuses", "localhost:3000", records, fetched_at=fetched)


def _sql_metrics(lake_dir: Path, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    sql_lake = tmp_path / "sql" / "lake"
    shutil.copytree(lake_dir / "raw", sql_lake / "raw")
    metrics = load_metrics()
    settings = load_settings(env={}, toml_path=None, lake=str(sql_lake), pseudonym_key="unused-privacy-is-off",
                             store=f"sqlite:///{tmp_path / 'metrics.db'}")
    with open_engine(settings, "duckdb") as engine:
        assert engine.curate().future_versions_skipped == 2
        return {name: engine.run_metric(metrics[name]) for name in COLUMNS}


def test_versions_dated_after_their_fetch_are_skipped_as_in_the_sql(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    base = _tagged_status()
    future = "2099-01-01T00:00:00.000Z"
    _land(lake_dir, [base], FETCHED)
    _land(lake_dir, [
        _variant(base, "1", created_at=future, favourites_count=50),  # skipped: its day would be 2099-01-01
        _variant(base, "2", created_at=(FETCHED + timedelta(minutes=59)).strftime(STAMP)),  # clock skew: kept
        dict(copy.deepcopy(base), edited_at=future, favourites_count=999),  # skipped: would win for ever
        _variant(base, "3", account=dict(base["account"], acct="skewed", created_at=future)),  # kept, no signup
    ], FETCHED + timedelta(minutes=1))
    expected = _sql_metrics(lake_dir, tmp_path)
    got = run_lake(lake_dir, tmp_path / "metrics.tsv")
    assert {r["day"] for r in expected["hashtags_daily"]} == {base["created_at"][:10]}
    assert max(r["interactions_total"] for r in expected["account_engagement"]) < 50
    for name in COLUMNS:
        assert expected[name], name
        assert len(got[name]) == len(expected[name]), name
        for g, e in zip(got[name], expected[name], strict=True):
            for column, value in e.items():
                if isinstance(value, float):
                    assert math.isclose(g[column], value, rel_tol=1e-9, abs_tol=1e-12), (name, column, g, e)
                else:
                    assert g[column] == value, (name, column, g, e)


def test_the_mapper_tolerance_is_the_sql_one() -> None:
    from fediscope.engine.curate_sql import CLOCK_SKEW

    assert CLOCK_SKEW == "INTERVAL 1 HOUR" and mapper.CLOCK_SKEW_US == 3600 * 1_000_000
    fetched = mapper.micros("2026-08-01T14:00:00Z")
    assert not mapper.after_fetch(mapper.micros("2026-08-01T15:00:00Z"), fetched)
    assert mapper.after_fetch(mapper.micros("2026-08-01T15:00:00.000001Z"), fetched)
    assert not mapper.after_fetch(mapper.micros("2099-01-01T00:00:00Z"), None)
