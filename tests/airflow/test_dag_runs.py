"""Real ``dag.test()`` runs: ``fediscope_ingest`` then ``fediscope_batch``, on the embedded defaults.

A Mastodon-compatible server on 127.0.0.1 (the sample instance of fediscope.sample) serves the statuses; the lake
is a temp directory, the store a SQLite file, the engine DuckDB. The configuration reaches the tasks the way it
does in production: the Airflow Variable ``fediscope_settings`` (here through ``AIRFLOW_VAR_…``) for the lake,
store, engine and sources, ``FEDISCOPE_PSEUDONYM_KEY`` from the worker's environment.

One configured source points at a closed port: its mapped task must fail, alone, and log one clear line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import AirflowEnv

from fediscope.lake import layout

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PSEUDONYM_KEY = "airflow-test-pseudonym-key-0123456789"
#: A source naming an account, on the closed port: its task fails, and neither its label nor its failure line may
#: name the handle (the collector's own log lines name it by a keyed digest)
DEAD_ACCOUNT = "account:alice@example.org"


def _account_named() -> str:
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import PrivacyPolicy

    return source_for_logs(DEAD_ACCOUNT, PrivacyPolicy(key=PSEUDONYM_KEY.encode()))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    """A running Mastodon-compatible server: its URL, the statuses of its public timeline, how to stop it."""

    url: str
    statuses: list[dict[str, Any]]
    stop: Callable[[], None]

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]


def _serve() -> Served:
    """The sample instance (fediscope.sample.server); the recorded double of tests/doubles if it is missing."""
    try:
        from fediscope.sample.server import start_sample_server
    except ImportError:
        from doubles.mastodon_server import MastodonDouble

        double = MastodonDouble(statuses=120).start()
        return Served(double.url, double.public_statuses(), double.stop)
    server = start_sample_server(n_statuses=160, seed=11)
    statuses = [json.loads(server.instance.status_json(i)) for i in server.instance.public_timeline_ids()]
    return Served(server.url, statuses, server.stop)


@dataclass
class Pipeline:
    server: Served
    lake: Path
    store: Path
    env: dict[str, str]
    tag: str
    dead_instance: str
    ingest: dict[str, Any]
    day: date  # the fetch day the ingest run landed its statuses on (UTC), read from the lake


    def records(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.lake.glob("raw/mastodon/**/*.jsonl")):
            out.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
        return out


@pytest.fixture(scope="module")
def pipeline(airflow_env: AirflowEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    work = tmp_path_factory.mktemp("fediscope_airflow")
    server = _serve()
    try:
        tags = Counter(t["name"].lower() for s in server.statuses for t in s.get("tags") or [])
        tag = tags.most_common(1)[0][0]
        dead = f"http://127.0.0.1:{_closed_port()}"
        variable = {
            "lake": str(work / "lake"), "store": f"sqlite:///{work / 'fediscope.db'}", "engine": "duckdb",
            "max_pages": 8, "max_retries": 0, "request_timeout": 3,
            "sources": [{"instance": server.url, "timelines": ["public", f"tag:{tag}"]},
                        {"instance": dead, "timelines": ["public", DEAD_ACCOUNT]}],
        }
        env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY}
        before = datetime.now(UTC).date()
        ingest = airflow_env.run("test", "fediscope_ingest", "--no-retries", extra_env=env)
        after = datetime.now(UTC).date()
        # the day the statuses landed on, so that a run across midnight UTC does not fail the day checks
        days = sorted(date.fromisoformat(d.name[3:]) for d in
                      (work / "lake" / "raw/mastodon/statuses").glob("instance=*/dt=*"))
        assert days and before <= days[-1] <= after, days
        yield Pipeline(server, work / "lake", work / "fediscope.db", env, tag, dead, ingest, days[-1])
    finally:
        server.stop()


def _tasks(result: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return sorted((t for t in result["tasks"] if t["task_id"] == task_id), key=lambda t: t["map_index"])


def test_ingest_maps_one_task_per_source_and_only_the_broken_one_fails(pipeline: Pipeline) -> None:
    result = pipeline.ingest
    collect = _tasks(result, "collect")
    assert [t["state"] for t in _tasks(result, "targets")] == ["success"]
    by_label = {t["label"]: t for t in collect}
    domain = pipeline.server.domain
    dead = pipeline.dead_instance.split("://")[1]
    assert set(by_label) == {f"{domain} public", f"{domain} tag:{pipeline.tag}", f"{dead} public",
                             f"{dead} {_account_named()}"}
    assert by_label[f"{domain} public"]["state"] == "success"
    assert by_label[f"{domain} tag:{pipeline.tag}"]["state"] == "success"
    assert by_label[f"{dead} public"]["state"] == by_label[f"{dead} {_account_named()}"]["state"] == "failed"
    assert result["state"] == "failed", "a failed source shows as a failed run"


def test_failure_callback_logs_one_clear_line(pipeline: Pipeline) -> None:
    dead = pipeline.dead_instance.split("://")[1]
    lines = [line for line in pipeline.ingest["_output"].splitlines()
             if "fediscope task fediscope_ingest.collect" in line and "failed" in line]
    assert lines, "the on_failure_callback line is in the task output"
    assert any(f"[{dead} public]" in line and "UpstreamError" in line for line in lines), lines
    account = [line for line in lines if f"[{dead} {_account_named()}]" in line]
    assert account and all(f"collecting {dead} {_account_named()}: " in line for line in account), lines
    assert not [line for line in lines if "alice" in line], lines
    assert PSEUDONYM_KEY not in pipeline.ingest["_output"]


def test_ingest_lands_every_served_status_in_the_collector_layout(pipeline: Pipeline) -> None:
    partition = pipeline.lake / layout.partition_dir("statuses", pipeline.server.domain, pipeline.day)
    files = sorted(partition.glob("*.jsonl"))
    assert files, f"no batch under {partition}"
    records = pipeline.records()
    assert all(r["meta"]["instance"] == pipeline.server.domain for r in records)
    served = {s["id"] for s in pipeline.server.statuses}
    landed = [r["data"]["id"] for r in records]
    assert set(landed) <= served
    summaries = {t["label"]: t["value"] for t in _tasks(pipeline.ingest, "collect") if t["state"] == "success"}
    public = summaries[f"{pipeline.server.domain} public"]
    assert public["landed"] + public["skipped_by_privacy"] == len(served), "the public walk reached every status"
    assert len(landed) == sum(s["landed"] for s in summaries.values())
    tagged = {s["id"] for s in pipeline.server.statuses
              if pipeline.tag in {t["name"].lower() for t in s.get("tags") or []}}
    tag_summary = summaries[f"{pipeline.server.domain} tag:{pipeline.tag}"]
    assert tag_summary["landed"] + tag_summary["skipped_by_privacy"] == len(tagged)


def _store_rows(store: Path) -> dict[str, list[dict[str, Any]]]:
    from fediscope.engine.metrics import load_metrics
    from fediscope.store.port import open_store

    opened = open_store(f"sqlite:///{store}")
    try:
        return {name: opened.all(metric) for name, metric in sorted(load_metrics().items())}
    finally:
        opened.close()


@pytest.fixture(scope="module")
def batch(airflow_env: AirflowEnv, pipeline: Pipeline) -> dict[str, Any]:
    if importlib.util.find_spec("fediscope.engine.process") is None:
        pytest.skip("fediscope.engine.process.run_process is not in this checkout yet")
    # a manual run given a date processes that day (Airflow's data interval for it is the day before)
    logical = datetime(pipeline.day.year, pipeline.day.month, pipeline.day.day, tzinfo=UTC).isoformat()
    first = airflow_env.run("test", "fediscope_batch", "--logical-date", logical, "--no-retries",
                            extra_env=pipeline.env)
    rows = _store_rows(pipeline.store)
    again = airflow_env.run("test", "fediscope_batch", "--logical-date", logical, "--no-retries",
                            extra_env=pipeline.env)
    return {"first": first, "rows": rows, "again": again, "rows_again": _store_rows(pipeline.store)}


def test_batch_processes_exactly_the_days_of_its_data_interval(batch: dict[str, Any], pipeline: Pipeline) -> None:
    result = batch["first"]
    assert result["state"] == "success", [(t["task_id"], t["state"]) for t in result["tasks"]]
    today = pipeline.day.isoformat()
    (window,) = _tasks(result, "window")
    assert window["value"] == {"since": today, "until": today, "earlier": False}


def test_batch_loads_metrics_matching_the_lake(batch: dict[str, Any], pipeline: Pipeline) -> None:
    rows = batch["rows"]
    assert sum(bool(r) for r in rows.values()) >= len(rows) // 2, {k: len(v) for k, v in rows.items()}
    toots = {r["data"]["id"] for r in pipeline.records() if not r["data"].get("reblog")}
    by_hour = rows["activity_by_hour"]
    assert sum(r["toots"] for r in by_hour) == len(toots), "every landed toot counted once after deduplication"
    (verify,) = _tasks(batch["first"], "verify")
    assert verify["state"] == "success" and verify["value"]["with_rows"] >= 1


def test_rerunning_a_day_is_idempotent(batch: dict[str, Any]) -> None:
    assert batch["again"]["state"] == "success"
    assert batch["rows_again"] == batch["rows"]


def test_maintenance_applies_retention_and_checks_lake_and_store(airflow_env: AirflowEnv, pipeline: Pipeline,
                                                                 batch: dict[str, Any]) -> None:
    today = pipeline.day
    old = pipeline.lake / layout.partition_dir("statuses", pipeline.server.domain, today - timedelta(days=45))
    old.mkdir(parents=True)
    (old / "20200101T000000Z-00000000.jsonl").write_text("{}\n")
    current = pipeline.lake / layout.partition_dir("statuses", pipeline.server.domain, today)
    debris = current / ".20200101T000000Z-00000001.jsonl.0123456789ab.tmp"  # a write killed before its rename
    debris.write_text("{}\n")
    os.utime(debris, (time.time() - 2 * 86400,) * 2)
    young = current / ".20200101T000000Z-00000002.jsonl.abcdefgh.tmp"  # a write under way
    young.write_text("{}\n")
    variable = json.loads(pipeline.env["AIRFLOW_VAR_FEDISCOPE_SETTINGS"]) | {"retention_raw_days": 30}
    env = pipeline.env | {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable)}
    result = airflow_env.run("test", "fediscope_maintenance", "--no-retries", extra_env=env)
    assert result["state"] == "success", [(t["task_id"], t["state"]) for t in result["tasks"]]
    assert not old.exists(), "a raw partition past retention is deleted"
    assert list((pipeline.lake / layout.partition_dir("statuses", pipeline.server.domain, today)).glob("*.jsonl"))
    assert list((pipeline.lake / "curated").rglob("*.parquet")), "curated data is kept"
    assert _store_rows(pipeline.store) == batch["rows_again"], "metrics are kept"
    (retention,) = _tasks(result, "retention")
    assert [p["dt"] for p in retention["value"]["deleted"]] == [(today - timedelta(days=45)).isoformat()]
    assert not debris.exists() and young.exists(), "a day-old temporary file is removed, a young one kept"
    assert retention["value"]["temporary_files"]["count"] == 1
