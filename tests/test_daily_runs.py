"""Daily runs of the CLI against one sample instance, as a scheduler runs them: each day the instance gains
statuses, some older statuses get more favourites or are edited, accounts' follower counts move, and streamed
deletions arrive; each day `fediscope collect` (with the refresh pass, which lands the changed counts), an
incremental `fediscope process`, and then:

* the store and `fediscope report --format json` equal those of a `fediscope process` from scratch over a copy of
  the same raw lake (with its records of where each collection began, which the metrics read, and its key
  check, which the provenance reports) into a fresh store
  (floats to 1e-9), and so do the curated tables;
* a second `fediscope process` with nothing new changes nothing: not a store row, not a curated Parquet byte.

The engine tests check day-by-day curation and metric writes over a generated lake split by day; this one goes
through the collector's own landings (re-fetched versions of the same statuses, account snapshots embedded in
statuses and the directory) and the report.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest
from cli_run import clean_env, run
from engine.engine_data import read_table, stored_rows, tree_digest
from streamed_deletions import land_deletion

from fediscope.config import load_settings
from fediscope.lake.key_check import KEY_CHECK_PATH
from fediscope.lake.local import LocalLake
from fediscope.lake.state import WALK_START
from fediscope.privacy import policy_from_settings
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer

pytestmark = pytest.mark.slow  # about 15 s: three days of collect, process and a from-scratch process

DAYS = 3
END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS + 1)
KEY = "daily-runs-test-pseudonym-key-4f1d8a6c2b9e7d3a"
TABLES = ("statuses", "accounts", "hashtags", "instance_activity", "tag_trends", "instance_peers",
          "status_deletions")


@pytest.fixture
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(400, seed=5, end=END), rate_limit=100_000) as running:
        yield running


def _close(a: Any, b: Any, path: str = "") -> list[str]:
    """Where ``a`` and ``b`` differ (floats compared to 1e-9, relative above 1)."""
    if isinstance(a, float) and isinstance(b, float):
        same = (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _close(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _curated(lake_dir: Path) -> dict[str, list[str]]:
    return {t: sorted(json.dumps(r, sort_keys=True, default=str) for r in read_table(lake_dir, t)) for t in TABLES}


def _report(capsys: pytest.CaptureFixture[str], store: str) -> dict[str, Any]:
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts", "--store", store)
    assert code == 0, err
    report = json.loads(out)
    report.pop("store")  # the store's URL
    return report


def _process(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "process", "--json", "--no-progress", *args)
    assert code == 0, err
    return json.loads(out)


def _a_day_passes(server: SampleServer, day: int, lake: LocalLake, rng: Random) -> datetime:
    """New statuses posted that day, and changes to older ones: more favourites, edits, deletions (as `fediscope
    stream` lands them), follower counts; returns the day's noon."""
    instance, noon = server.instance, END + timedelta(days=day, hours=12)
    instance.grow(25, at=noon)
    originals = [sid for sid in instance.public_timeline_ids() if not instance.statuses[sid].get("reblog")]
    for sid in rng.sample(originals, 6):
        instance.engage(sid, favourites=instance.statuses[sid]["favourites_count"] + rng.randint(1, 40))
    for sid in rng.sample(originals, 3):
        instance.edit(sid, instance.statuses[sid]["content"] + f"<p>edit of day {day}</p>", at=noon)
    for account in rng.sample(sorted(instance.accounts), 3):
        instance.set_followers(account, instance.accounts[account].entity["followers_count"] + 100 * day)
    policy = policy_from_settings(load_settings())
    for sid in rng.sample(originals, 2):
        land_deletion(lake, str(sid), f"127.0.0.1:{server.port}", noon + timedelta(hours=1), policy)
    return noon


def test_a_week_of_daily_runs_equals_processing_from_scratch(server: SampleServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    lake_dir = tmp_path / "lake"
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'daily.db'}",
              FEDISCOPE_PSEUDONYM_KEY=KEY, FEDISCOPE_BACKFILL_PAGES="1000",
              FEDISCOPE_REFRESH_HOURS=str(24 * (DAYS + 20)), FEDISCOPE_REFRESH_MAX_PAGES="1000")
    store = f"sqlite:///{tmp_path / 'daily.db'}"
    rng = Random(3)
    for day in range(DAYS):
        if day:
            _a_day_passes(server, day, LocalLake(lake_dir), rng)
        code, _, err = run(capsys, "collect", "--instance", server.url, "--timeline", "public",
                           "--timeline", "directory")
        assert code == 0, err
        summary = _process(capsys)
        assert not summary["curate"]["noop"] and not summary["metrics_skipped"]
        if day:  # the day's changes were written, not every row again
            engagement = summary["metrics"]["account_engagement"]
            assert 0 < engagement["stored"] < engagement["rows"], engagement
            assert summary["curate"]["deletions"] == 2 * day
            assert summary["metrics"]["top_accounts_by_followers"]["stored"] > 0  # the follower counts moved
            assert summary["metrics"]["top_toots"]["stale"] > 0  # deleted toots left it

        scratch = tmp_path / f"scratch-{day}"
        shutil.copytree(lake_dir / "raw", scratch / "lake" / "raw")
        for starts in (lake_dir / "_state").glob(f"*/{WALK_START}"):  # not curated: kept beside the checkpoints
            shutil.copytree(starts, scratch / "lake" / "_state" / starts.parent.name / WALK_START)
        # and how it was landed (the key check), which the provenance reports
        shutil.copy(lake_dir / KEY_CHECK_PATH, scratch / "lake" / KEY_CHECK_PATH)
        scratch_store = f"sqlite:///{scratch / 'fresh.db'}"
        _process(capsys, "--lake", str(scratch / "lake"), "--store", scratch_store)
        assert _close(stored_rows(store), stored_rows(scratch_store), f"day {day}: store") == []
        assert _close(_curated(lake_dir), _curated(scratch / "lake"), f"day {day}: curated") == []
        assert _close(_report(capsys, store), _report(capsys, scratch_store), f"day {day}: report") == []

        curated, rows = tree_digest(lake_dir / "curated"), stored_rows(store)
        again = _process(capsys)
        assert again["curate"]["noop"] and again["metrics_skipped"]
        assert tree_digest(lake_dir / "curated") == curated and stored_rows(store) == rows
