"""Curated retention reaches the metric store and the kept metric results at the next processing run.

Was: ``fediscope gdpr retention`` deleted expired curated partitions, but the next ``fediscope process`` (nothing
new collected) found its kept metric results current ("the 16 metrics in the store are current, not
recomputed"): the expired days stayed in the store and in ``<lake>/_state/metrics`` until some later run curated
something new, forever if collection had stopped. A real lake (REAL recorded statuses, dated 2026-08-01, plus
copies of them re-dated 2026-11-20), a real SQLite store, the DuckDB engine.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
from gdpr_lake import OTHERS, RECENT, SUBJECT, land_recent_copies, land_recordings

from fediscope.config import load_settings
from fediscope.engine.manifest import MANIFEST_PATH
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.gdpr.retention import apply_retention
from fediscope.store.port import store_from_settings

TODAY = date(2026, 11, 23)


def stored_values(env, metric: str, column: str) -> set[str]:  # noqa: ANN001
    store = store_from_settings(env.settings)
    try:
        return {row[column] for row in store.all(load_metrics()[metric])}
    finally:
        store.close()


def stored_days(env) -> set[str]:  # noqa: ANN001
    return stored_values(env, "hashtags_daily", "day")


def kept_days(lake_dir: Path) -> set[str]:
    (kept,) = (lake_dir / "_state" / "metrics").rglob("hashtags_daily.parquet")
    return set(pq.read_table(kept).column("day").to_pylist())


def test_the_next_process_after_curated_retention_drops_the_expired_days(env) -> None:  # noqa: ANN001
    land_recordings(env.lake, env.policy)
    assert land_recent_copies(env.lake, env.policy) > 3
    run_process(env.settings, progress=False)
    assert stored_days(env) == kept_days(env.lake_dir) == {"2026-08-01", RECENT}
    assert run_process(env.settings, progress=False).metrics_skipped  # nothing new: not recomputed
    generation = json.loads(env.lake.read(MANIFEST_PATH))["generation"]

    retention = apply_retention(env.settings.replace(retention_raw_days=0, retention_curated_days=33), today=TODAY)

    assert {(p.layer, p.dt) for p in retention.deleted} == {("curated", "2026-08-01")}
    summary = run_process(env.settings, progress=False)  # nothing new collected (the raw lake is as it was)
    assert summary.curate["raw_files"] == 0
    assert stored_days(env) == kept_days(env.lake_dir) == {RECENT}  # was: both still held 2026-08-01
    assert not summary.metrics_skipped
    assert json.loads(env.lake.read(MANIFEST_PATH))["generation"] != generation  # a new generation of the tables
    assert summary.metrics["hashtags_daily"].stale > 0  # written as the difference to the kept results
    assert run_process(env.settings, progress=False).metrics_skipped  # and current again afterwards


def test_raw_retention_alone_changes_no_metric(env) -> None:  # noqa: ANN001
    land_recordings(env.lake, env.policy, fetched_at=datetime(2026, 8, 2, 12, tzinfo=UTC))
    run_process(env.settings, progress=False)
    generation = json.loads(env.lake.read(MANIFEST_PATH))["generation"]

    retention = apply_retention(env.settings.replace(retention_raw_days=10, retention_curated_days=0), today=TODAY)

    assert retention.deleted and {p.layer for p in retention.deleted} == {"raw"}
    assert json.loads(env.lake.read(MANIFEST_PATH))["generation"] == generation
    assert run_process(env.settings, progress=False).metrics_skipped


def test_a_dry_run_changes_nothing(env) -> None:  # noqa: ANN001
    land_recordings(env.lake, env.policy)
    run_process(env.settings, progress=False)
    generation = json.loads(env.lake.read(MANIFEST_PATH))["generation"]
    settings = env.settings.replace(retention_raw_days=0, retention_curated_days=33)
    assert apply_retention(settings, dry_run=True, today=TODAY).deleted
    assert json.loads(env.lake.read(MANIFEST_PATH))["generation"] == generation
    assert run_process(env.settings, progress=False).metrics_skipped


def test_without_a_readable_manifest_the_kept_results_go(env) -> None:  # noqa: ANN001
    land_recordings(env.lake, env.policy)
    run_process(env.settings, progress=False)
    assert kept_days(env.lake_dir) == {"2026-08-01"}
    env.lake.write_atomic(MANIFEST_PATH, b"{not json")

    apply_retention(env.settings.replace(retention_raw_days=0, retention_curated_days=33), today=TODAY)

    assert not list((env.lake_dir / "_state" / "metrics").rglob("*.parquet"))


def test_the_cli_says_the_store_keeps_the_deleted_days_until_the_next_process(landed, run_cli, monkeypatch) -> None:
    """Was unsaid: after `fediscope gdpr retention` deleted curated days, the store still served them (until the next
    `fediscope process`), and nothing told the operator, who took them for gone."""
    run_process(landed.settings, progress=False)
    monkeypatch.setenv("FEDISCOPE_RETENTION_CURATED_DAYS", "1")  # the recorded days are older
    for args, verb in ((("--dry-run",), "would keep"), ((), "keep")):
        result = run_cli("gdpr", "retention", *args)
        assert result.code == 0 and "curated " in result.out, result
        assert (f"the store and the kept metric results {verb} the deleted days until the next `fediscope process`"
                in result.out)
    assert "until the next" not in run_cli("gdpr", "retention").out  # nothing deleted this time: nothing to say


def stored_accounts(env) -> set[str]:  # noqa: ANN001
    return stored_values(env, "top_accounts_by_followers", "account_key")


def test_the_next_process_after_retention_drops_the_forgotten_accounts(env) -> None:  # noqa: ANN001
    """Only account snapshots expire (the statuses were posted on RECENT): was kept for ever; now the removal starts
    a new generation, as deleted days do, so the next run with nothing new recomputes the metrics without them."""
    admin = OTHERS[0]
    # admin's snapshot is fetched on RECENT too
    assert land_recent_copies(env.lake, env.policy, authors={admin.split("@")[0]}) > 3
    land_recordings(env.lake, env.policy, fetched_at=datetime(2026, 10, 1, 12, tzinfo=UTC), kinds=("accounts",))
    run_process(env.settings, progress=False)
    assert stored_accounts(env) == {env.key(a) for a in (*OTHERS, SUBJECT)}
    assert run_process(env.settings, progress=False).metrics_skipped  # nothing new: not recomputed
    generation = json.loads(env.lake.read(MANIFEST_PATH))["generation"]

    retention = apply_retention(env.settings.replace(retention_raw_days=0, retention_curated_days=33), today=TODAY)

    assert not retention.deleted and retention.accounts.removed == 2  # the two only looked up, on 2026-10-01
    assert json.loads(env.lake.read(MANIFEST_PATH))["generation"] != generation
    summary = run_process(env.settings, progress=False)
    assert summary.curate["raw_files"] == 0 and not summary.metrics_skipped
    assert stored_accounts(env) == {env.key(admin)}  # was: the forgotten accounts' rows stayed
    assert run_process(env.settings, progress=False).metrics_skipped  # and current again afterwards


def test_the_cli_reports_the_account_snapshots_removed(env, run_cli, monkeypatch) -> None:  # noqa: ANN001
    """--dry-run and --json count them; the text says the store keeps them until the next `fediscope process` and
    that the instance-level tables are kept."""
    now = datetime.now(UTC)
    land_recordings(env.lake, env.policy, fetched_at=now - timedelta(days=40), kinds=("accounts",))
    run_process(env.settings, progress=False)
    monkeypatch.setenv("FEDISCOPE_RETENTION_RAW_DAYS", "0")
    monkeypatch.setenv("FEDISCOPE_RETENTION_CURATED_DAYS", "33")
    cutoff = (now.date() - timedelta(days=33)).isoformat()

    result = run_cli("gdpr", "retention", "--dry-run", "--json")
    assert result.code == 0, result
    assert json.loads(result.out)["accounts"] == {"fetched_before": cutoff, "removed": 2, "files_rewritten": 0,
                                                  "files_deleted": 1}
    for args, verb, kept in ((("--dry-run",), "would delete", "would keep"), ((), "deleted", "keep")):
        result = run_cli("gdpr", "retention", *args)
        assert result.code == 0, result
        assert f": {verb} 2 account snapshots last fetched before {cutoff}\n" in result.out
        assert (f"the store and the kept metric results {kept} the removed accounts until the next `fediscope "
                "process`") in result.out
        assert "instance activity, tag trends, peers (per instance) and the deletions are not dated: kept" in result.out
    assert json.loads(run_cli("gdpr", "retention", "--json").out)["accounts"]["removed"] == 0


def test_process_stores_no_status_older_than_the_curated_retention_and_says_so(env, capsys, tmp_path) -> None:  # noqa: ANN001
    """Was: a `fediscope process` that curated statuses posted before the curated retention (a first run over old raw
    files, or `--recurate`) stored their metrics too, until the next retention run and process took them out. The
    recorded statuses (2026-08-01) are older than 33 days before today; their authors were fetched now. The note
    names the retention where it was set, here the config file's key (was: always FEDISCOPE_RETENTION_CURATED_DAYS,
    which a user who sets it in fediscope.toml or the Airflow Variable does not set)."""
    land_recordings(env.lake, env.policy)
    cutoff = (datetime.now(UTC).date() - timedelta(days=33)).isoformat()
    toml = tmp_path / "fediscope.toml"
    toml.write_text("[fediscope]\nretention_raw_days = 0\nretention_curated_days = 33\n")
    settings = load_settings(env={}, toml_path=toml).replace(lake=env.settings.lake, store=env.settings.store,
                                                             pseudonym_key=env.settings.pseudonym_key)

    summary = run_process(settings, progress=True)

    left_out = summary.curate["statuses_left_out"]
    assert left_out > 3 and summary.curate["statuses_written"] == 0 and summary.curate["accounts"] > 0
    note = (f"{left_out} statuses posted before {cutoff} left out by the curated retention, set in {toml}: "
            "[fediscope] retention_curated_days")
    assert f"({note})" in summary.line()
    assert f"curation: {note}\n" in capsys.readouterr().err
    assert stored_days(env) == set()  # was: {"2026-08-01"}


def test_a_partition_the_curated_retention_empties_is_not_counted_as_holding_statuses(env) -> None:  # noqa: ANN001
    """Was: ``curated 2 raw files (N statuses in 2 partitions)`` while one of the two day partitions the run
    rewrote held nothing (every status of 2026-08-01 left out by the curated retention): it is counted apart."""
    land_recordings(env.lake, env.policy)
    land_recent_copies(env.lake, env.policy)
    days = (datetime.now(UTC).date() - date.fromisoformat(RECENT)).days + 5  # keeps RECENT, not 2026-08-01
    summary = run_process(env.settings.replace(retention_curated_days=days), progress=False)

    # set nowhere a user sets it (from Python): named by both places that set it, as the collection notes name theirs
    assert ("left out by the curated retention, set in FEDISCOPE_RETENTION_CURATED_DAYS (or [fediscope] "
            "retention_curated_days in fediscope.toml))") in summary.line()
    assert summary.curate["partitions_emptied"] == ["2026-08-01"]
    assert sorted(summary.curate["partitions"]) == ["2026-08-01", RECENT]
    assert "statuses written in 1 partition, 1 partition emptied, " in summary.line()
