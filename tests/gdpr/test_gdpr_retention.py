"""Retention: expired dt= partitions of the raw lake, quarantine and curated tables; --dry-run deletes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gdpr_lake import land_recordings

from fediscope.gdpr.retention import apply_retention
from fediscope.lake.layout import quarantine_path

TODAY = date(2026, 11, 23)


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def dt_dirs(root: Path, layer: str) -> set[str]:
    return {p.name for p in (root / layer).rglob("dt=*") if p.is_dir()}


def fetched(days_ago: int) -> datetime:
    return datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC) - timedelta(days=days_ago)


def test_dry_run_lists_and_real_run_deletes_expired_partitions(env) -> None:
    for days_ago in (120, 91, 90, 3):
        land_recordings(env.lake, env.policy, fetched_at=fetched(days_ago))
        env.lake.write_atomic(quarantine_path("localhost:3000", "/api/v1/timelines/public",
                                              fetched(days_ago).date(), "b1"), b'{"reason": "not json"}')
    settings = env.settings.replace(retention_raw_days=90, retention_curated_days=0)
    before = files(env.lake_dir)

    dry = apply_retention(settings, dry_run=True, today=TODAY)

    assert files(env.lake_dir) == before
    expired = {(p.layer, p.dt) for p in dry.deleted}
    assert expired == {(layer, day) for layer in ("raw", "quarantine") for day in ("2026-07-26", "2026-08-24")}
    assert all(p.files >= 1 and p.bytes > 0 for p in dry.deleted)
    assert dry.totals()["raw"]["partitions"] == 2 * 3  # statuses, accounts, instance per expired day

    real = apply_retention(settings, today=TODAY)

    assert [(p.path, p.files) for p in real.deleted] == [(p.path, p.files) for p in dry.deleted]
    assert dt_dirs(env.lake_dir, "raw") == {"dt=2026-08-25", "dt=2026-11-20"}  # 90 days old is kept
    assert dt_dirs(env.lake_dir, "quarantine") == {"dt=2026-08-25", "dt=2026-11-20"}
    assert not apply_retention(settings, today=TODAY).deleted  # nothing left to do


def test_curated_partitions_follow_their_own_setting(landed) -> None:
    from fediscope.engine.base import open_engine
    from fediscope.engine.curation import run_curation

    with open_engine(landed.settings) as engine:
        run_curation(engine)
    curated_days = dt_dirs(landed.lake_dir, "curated")
    assert curated_days == {"dt=2026-08-01"}  # statuses and hashtags, by creation date of the recorded statuses
    keep = landed.settings.replace(retention_raw_days=0, retention_curated_days=0)
    assert not apply_retention(keep, today=TODAY).deleted  # 0 keeps every layer forever

    summary = apply_retention(landed.settings.replace(retention_raw_days=0, retention_curated_days=100),
                              today=TODAY)

    assert {p.layer for p in summary.deleted} == {"curated"}
    assert not dt_dirs(landed.lake_dir, "curated")
    assert (landed.lake_dir / "curated" / "accounts").is_dir()  # not partitioned by date: kept
    assert dt_dirs(landed.lake_dir, "raw")  # raw follows retention_raw_days (0 = forever)


def test_unreadable_partition_dates_are_left_alone(env) -> None:
    odd = "raw/mastodon/statuses/instance=localhost:3000/dt=not-a-date/b.jsonl"
    env.lake.write_atomic(odd, b"{}\n")
    summary = apply_retention(env.settings.replace(retention_raw_days=1), today=TODAY)
    assert summary.skipped == ["raw/mastodon/statuses/instance=localhost:3000/dt=not-a-date"]
    assert env.lake.exists(odd) and not summary.deleted


def test_the_longest_retention_accepted_keeps_everything(env) -> None:
    """Was: a retention of a million days was accepted, and `gdpr retention` failed with a traceback (date value out
    of range); the settings now stop at 100 years, and that works."""
    from fediscope.config import MAX_DAYS, load_settings

    land_recordings(env.lake, env.policy, fetched_at=fetched(3))
    assert load_settings(env={"FEDISCOPE_RETENTION_RAW_DAYS": str(MAX_DAYS)}).retention_raw_days == MAX_DAYS
    settings = env.settings.replace(retention_raw_days=MAX_DAYS, retention_curated_days=MAX_DAYS)
    assert not apply_retention(settings, today=TODAY).deleted
