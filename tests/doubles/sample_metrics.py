"""``sample_metric_rows``: every metric's rows over a small generated corpus, computed once per session.

The corpus comes from :mod:`fediscope.sample` (shapes of the recorded Mastodon responses), lands through the
privacy policy, and is curated and measured by the DuckDB engine with the real ``spark_jobs/sql`` files —
so store and report tests see the columns and values the pipeline really produces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

STATUSES = 1500
SEED = 11


def compute_sample_metrics(base: Path, statuses: int = STATUSES, seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    from fediscope.config import load_settings
    from fediscope.engine.base import open_engine
    from fediscope.engine.metrics import load_metrics
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    settings = load_settings(env={}, toml_path=None, lake=str(base / "lake"), store=f"sqlite:///{base / 'x.db'}",
                             pseudonym_key="sample-metrics-test-key", engine="duckdb")
    write_raw_lake(open_lake(settings.lake), statuses, seed=seed, policy=policy_from_settings(settings))
    with open_engine(settings, "duckdb") as engine:
        engine.curate()
        return {name: engine.run_metric(metric) for name, metric in load_metrics().items()}


@pytest.fixture(scope="session")
def sample_metric_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    return compute_sample_metrics(tmp_path_factory.mktemp("sample-metrics"))
