"""
### fediscope_ingest — collect every configured source into the raw lake, every 30 minutes

One **mapped task per (instance, source)** of the configuration (`[[sources]]` in `fediscope.toml`, or `sources`
in the Airflow Variable `fediscope_settings`), so a failing source fails its own task — retried with exponential
backoff — while the others land their data. Each task walks at most `max_pages` pages (Variable, default 20)
from the source's checkpoint and lands them as raw JSON Lines batches
(`raw/mastodon/<entity>/instance=<domain>/dt=<day>/`).

A task that landed records (new ones, or statuses re-landed by the refresh or settle pass:
`FEDISCOPE_REFRESH_HOURS`, `FEDISCOPE_SETTLE_HOURS`) updates the Asset `fediscope://lake/raw`, which schedules
`fediscope_batch`; a task with nothing new is marked *skipped* and emits no event. So is, on a first run, the
task of an account configured in two spellings of one split-domain instance (`account:alice` and
`account:alice@example.com` of social.example.com) that finds the other walking it; once the lake remembers the
instance's handle domain, the two are one task. A try that fails after landing
records emits no event (a failed task never does): the next try of that source that succeeds (its retry, or the
next run's task) emits it even with nothing new of its own (`unannounced` in the event's extra), so landed records
never wait for the daily run.

Configuration: `FEDISCOPE_*` on the workers, overridden by the JSON Variable `fediscope_settings`
(see `fediscope/orchestration.py`). Secrets (`FEDISCOPE_PSEUDONYM_KEY`, tokens) belong in the environment or a
secrets backend.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from fediscope import orchestration as orch

RAW_LAKE = Asset(name=orch.RAW_ASSET_NAME, uri=orch.RAW_ASSET_URI)


@dag(
    dag_id="fediscope_ingest",
    schedule="*/30 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=pendulum.duration(minutes=29),
    default_args=orch.default_args(),
    tags=["fediscope", "ingest"],
    doc_md=__doc__,
)
def fediscope_ingest() -> None:
    @task(retries=0)
    def targets() -> list[dict[str, str]]:
        """The (instance, source) pairs to collect, from the configuration (a bad max_pages fails here, once)."""
        with orch.failing_at_once():  # also masks the secrets of an exception's text (every task does)
            return orch.ingest_targets(orch.variable_overrides())

    @task(outlets=[RAW_LAKE], map_index_template="{{ fediscope_target }}", max_active_tis_per_dagrun=4)
    def collect(target: dict[str, str]) -> dict[str, Any]:
        """Collect one source into the raw lake (fails, and is retried, when the source fails)."""
        context = get_current_context()
        with orch.failing_at_once():
            overrides = orch.variable_overrides()
            settings = orch.task_settings(overrides)
            # the task's name in the UI and its failure line: an account's source by its digest while privacy is on,
            # as the collector's lines name it (without settings, as when they fail, the UI shows the map index)
            label = orch.target_label(target, settings)
            context["fediscope_target"] = label  # type: ignore[typeddict-unknown-key]
            try:
                result = orch.collect_target(settings, target, orch.max_pages(overrides))
            finally:  # a first run's source written with the handle domain, as its collector named it once learned
                label = orch.collected_label(target, settings)
                context["fediscope_target"] = label  # type: ignore[typeddict-unknown-key]
        if not orch.new_records(result):  # nothing new, or the same account as another task's (orch.skip_reason)
            raise AirflowSkipException(f"{label}: {orch.skip_reason(result)}")
        # an account's source by its digest while privacy is on, as in the task's label (its returned summary too)
        context["outlet_events"][RAW_LAKE].extra = {
            "instance": target["instance"], "source": orch.announced_source(target["source"], settings),
            "landed": result["landed"],
            "refreshed": result.get("refreshed", 0), "settled": result.get("settled", 0),
            "unannounced": result.get("unannounced", 0)}
        return result

    collect.expand(target=targets())


fediscope_ingest()
