"""The curated retention and the account merge: snapshots fetched before the cutoff are left out BEFORE an account's
snapshot is chosen, so an account seen within the retention is kept even when its home server's snapshot is
older than the cutoff (the merge prefers the home server's snapshot, also when it is older)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from engine_data import INSTANCE, federated_copy, land, policy, read_table, settings_for, statuses

from fediscope.engine.duckdb_engine import DuckDBEngine
from fediscope.engine.metrics import load_metrics
from fediscope.gdpr.retention import apply_retention
from fediscope.lake.local import LocalLake

TODAY = date(2026, 9, 29)
RETAINED = {"retention_raw_days": 0, "retention_curated_days": 30}  # cutoff: 2026-08-30
REMOTE = "remote.example"


def days_ago(days: int) -> datetime:
    return datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC) - timedelta(days=days)


def land_home_then_remote(lake: LocalLake) -> dict:
    """A REAL recorded author looked up on its home server 50 days before TODAY, and one of its REAL recorded toots,
    posted 2 days before TODAY, fetched then from another server (which shows the author with its home domain)."""
    toot = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    land(lake, "accounts", [toot["account"]], days_ago(50), policy(), endpoint="/api/v1/accounts/lookup")
    posted = days_ago(2).strftime("%Y-%m-%dT10:00:00.000Z")
    land(lake, "statuses", [dict(federated_copy(toot, "7770001"), created_at=posted)], days_ago(2), policy(),
         instance=REMOTE)
    return toot


def test_an_account_seen_within_the_retention_keeps_its_snapshot_from_within_it(lake: LocalLake,
                                                                                lake_dir: Path) -> None:
    """Was: the retention was applied to the merge's winner, the home server's snapshot of 50 days ago, so the
    account was forgotten though another server showed it 2 days ago: no accounts row, and its toot left bot_share
    (no row at all, not even '*')."""
    land_home_then_remote(lake)
    settings = settings_for(lake_dir, **RETAINED)

    with DuckDBEngine(settings) as engine:
        summary = engine.curate(today=TODAY)
        metrics = load_metrics()
        bots = engine.run_metric(metrics["bot_share"])
        followed = engine.run_metric(metrics["top_accounts_by_followers"])

    (account,) = read_table(lake_dir, "accounts")
    assert (account["instance"], account["fetched_from"]) == (INSTANCE, REMOTE)
    assert account["fetched_at"] == days_ago(2).replace(tzinfo=None)
    assert summary.accounts_left_out == 0 and summary.statuses_left_out == 0
    assert [(r["instance"], r["accounts"], r["toots"]) for r in bots] == [("*", 1, 1), (INSTANCE, 1, 1)]
    assert [r["instance"] for r in followed] == [INSTANCE]
    # curation wrote nothing retention would delete
    assert apply_retention(settings, dry_run=True, today=TODAY).accounts.removed == 0


def test_the_home_snapshot_still_wins_among_the_snapshots_within_the_retention(lake: LocalLake,
                                                                               lake_dir: Path) -> None:
    """Within the retention the merge is unchanged: the home server's snapshot of 20 days ago wins over another
    server's of 2 days ago; with a retention of 10 days it is left out and the other server's wins."""
    toot = land_home_then_remote(lake)
    land(lake, "accounts", [toot["account"]], days_ago(20), policy(), endpoint="/api/v1/accounts/lookup")

    with DuckDBEngine(settings_for(lake_dir, **RETAINED)) as engine:
        engine.curate(today=TODAY)
    (account,) = read_table(lake_dir, "accounts")
    assert (account["fetched_from"], account["fetched_at"]) == (INSTANCE, days_ago(20).replace(tzinfo=None))

    with DuckDBEngine(settings_for(lake_dir, retention_raw_days=0, retention_curated_days=10)) as engine:
        summary = engine.curate(rebuild=True, today=TODAY)
    (account,) = read_table(lake_dir, "accounts")
    assert (account["fetched_from"], account["fetched_at"]) == (REMOTE, days_ago(2).replace(tzinfo=None))
    assert summary.accounts_left_out == 0


def test_an_account_not_seen_within_the_retention_is_left_out(lake: LocalLake, lake_dir: Path) -> None:
    """Every snapshot before the cutoff: the account is forgotten, and counted as left out."""
    toot = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    land(lake, "accounts", [toot["account"]], days_ago(50), policy(), endpoint="/api/v1/accounts/lookup")
    land(lake, "accounts", [federated_copy(toot, "7770001")["account"]], days_ago(40), policy(), instance=REMOTE,
         endpoint="/api/v1/accounts/lookup")

    with DuckDBEngine(settings_for(lake_dir, **RETAINED)) as engine:
        summary = engine.curate(today=TODAY)

    assert summary.accounts_left_out == 1 and summary.accounts == 0
    assert read_table(lake_dir, "accounts") == []
