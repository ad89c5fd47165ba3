"""Real ``dag.test()`` runs of ``fediscope_ingest`` whose source fails after landing records.

A failed task emits no Asset event, and its retry, finding nothing new, was skipped: the records the failed try
landed waited for another source's event or the daily batch run. The Mastodon double (tests/doubles) serves one
page of the public timeline and answers the next request with a 503, once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import AirflowEnv
from doubles.mastodon_server import MastodonDouble

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PSEUDONYM_KEY = "airflow-retry-pseudonym-key-0123456789"
TIMELINE = "/api/v1/timelines/public"
PAGE = 40  # the statuses the double serves: one page, the next one is empty


@dataclass
class Ingest:
    double: MastodonDouble
    lake: Path
    env: dict[str, str]

    def records(self) -> int:
        return sum(len(p.read_text().splitlines()) for p in self.lake.glob("raw/mastodon/**/*.jsonl"))

    def unannounced_files(self) -> list[Path]:
        return sorted(self.lake.glob("_state/*/unannounced/*.json"))


@pytest.fixture
def ingest(airflow_env: AirflowEnv, tmp_path: Path) -> Iterator[Ingest]:
    double = MastodonDouble(statuses=PAGE).start()
    try:
        variable = {"lake": str(tmp_path / "lake"), "store": f"sqlite:///{tmp_path / 'fediscope.db'}",
                    "engine": "duckdb", "max_pages": 8, "max_retries": 0, "request_timeout": 3,
                    "sources": [{"instance": double.url, "timelines": ["public"]}]}
        env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY}
        yield Ingest(double, tmp_path / "lake", env)
    finally:
        double.stop()


def _collect(result: dict[str, Any]) -> dict[str, Any]:
    (task,) = [t for t in result["tasks"] if t["task_id"] == "collect"]
    return task


def test_a_retry_announces_what_the_failed_try_landed(airflow_env: AirflowEnv, ingest: Ingest) -> None:
    ingest.double.fail(503, times=1, path=TIMELINE, after=1)  # page 1 lands, page 2 fails; the retry finds it empty
    result = airflow_env.run("test", "fediscope_ingest", "--retries", "1", extra_env=ingest.env)
    collect = _collect(result)
    assert collect["try_number"] == 2, collect
    assert ingest.records() == PAGE, "the failed try landed the first page"
    assert collect["state"] == "success", f"the retry landed nothing new, and was skipped: {collect}"
    events = [e for e in result["asset_events"] if e["task_id"] == "collect"]
    assert len(events) == 1 and events[0]["extra"]["landed"] == 0, events
    assert events[0]["extra"]["unannounced"] == PAGE, events
    assert not ingest.unannounced_files(), "announced: nothing is left to announce"
    assert result["state"] == "success"


def test_the_next_run_announces_what_failed_tries_landed(airflow_env: AirflowEnv, ingest: Ingest) -> None:
    """Every try failed (a second page that fails twice): the next run's task announces the first page, with
    nothing new of its own."""
    ingest.double.fail(503, times=2, path=TIMELINE, after=1)
    failed = airflow_env.run("test", "fediscope_ingest", "--retries", "1", extra_env=ingest.env)
    assert _collect(failed)["state"] == "failed" and not failed["asset_events"], failed
    assert ingest.records() == PAGE and len(ingest.unannounced_files()) == 1
    ok = airflow_env.run("test", "fediscope_ingest", "--no-retries", extra_env=ingest.env)
    assert _collect(ok)["state"] == "success", _collect(ok)
    assert [e["extra"]["unannounced"] for e in ok["asset_events"]] == [PAGE], ok["asset_events"]
    assert ingest.records() == PAGE and not ingest.unannounced_files()
    again = airflow_env.run("test", "fediscope_ingest", "--no-retries", extra_env=ingest.env)
    assert _collect(again)["state"] == "skipped" and not again["asset_events"], "announced once, not again"


def test_a_bad_max_pages_fails_the_targets_task_once(airflow_env: AirflowEnv, tmp_path: Path) -> None:
    """Was checked by each ``collect`` task only: a bad ``max_pages`` failed every mapped task, one failure line per
    source. Now ``targets`` fails, once and not retried (as every setting error), before any collection."""
    variable = {"lake": str(tmp_path / "lake"), "engine": "duckdb", "max_pages": 0,
                "sources": [{"instance": "https://a.example", "timelines": ["public", "local", "tag:python"]}]}
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY}
    result = airflow_env.run("test", "fediscope_ingest", extra_env=env)  # the DAG's own retries
    states = {(t["task_id"], t["map_index"]): t["state"] for t in result["tasks"]}
    assert result["state"] == "failed" and states[("targets", -1)] == "failed", states
    assert not [s for (task, _), s in states.items() if task == "collect" and s != "upstream_failed"], states
    lines = [line for line in result["_output"].splitlines() if "fediscope task fediscope_ingest." in line
             and " failed (run " in line]
    assert len(lines) == 1 and "fediscope_ingest.targets failed" in lines[0] and "try 1)" in lines[0], lines
    assert ("ConfigError: Airflow Variable fediscope_settings: max_pages must be a whole number from 1 to "
            "1,000,000,000 (got 0) (not retried: no retry mends this)") in lines[0], lines
    assert not (tmp_path / "lake").exists(), "nothing collected"
