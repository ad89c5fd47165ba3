"""Retention: expired dt= partitions of the raw lake, quarantine and curated tables; --dry-run deletes nothing."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from gdpr_lake import OTHERS, SUBJECT, land_instance_lists, land_recordings

from fediscope.engine.curation import CurateSummary
from fediscope.gdpr.retention import AccountSnapshots, apply_retention
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
    assert list((landed.lake_dir / "curated" / "accounts").glob("*.parquet"))  # fetched within the 100 days: kept
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


# -- the latest account snapshots: an account not fetched within the curated retention is forgotten ----------------
CUTOFF_33_DAYS = "2026-10-21"  # TODAY less 33 days: snapshots fetched before this day expire
ADMIN = OTHERS[0]  # an author of recorded statuses, never looked up: its snapshot is from the statuses' fetch alone


def curate(settings) -> CurateSummary:  # noqa: ANN001
    from fediscope.engine.base import open_engine
    from fediscope.engine.curation import run_curation

    with open_engine(settings) as engine:
        return run_curation(engine)


def accounts_fetched(lake_dir: Path) -> dict[str, datetime]:
    """account_key → fetched_at of every curated account snapshot."""
    files = sorted((lake_dir / "curated" / "accounts").glob("*.parquet"))
    return {row["account_key"]: row["fetched_at"] for path in files
            for row in pq.read_table(path).select(["account_key", "fetched_at"]).to_pylist()}


def instance_tables(lake_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(lake_dir).as_posix(): p.read_bytes()
            for table in ("instance_activity", "instance_peers") for p in (lake_dir / "curated" / table).rglob("*")
            if p.is_file()}


@pytest.fixture()
def seen(env):  # noqa: ANN001, ANN201
    """The recorded statuses (with their authors), accounts, instance activity and peers fetched 40 days before
    TODAY, and the recorded accounts looked up again 3 days before it, curated."""
    land_recordings(env.lake, env.policy, fetched_at=fetched(40))
    land_instance_lists(env.lake, fetched(40))
    land_recordings(env.lake, env.policy, fetched_at=fetched(3), kinds=("accounts",))
    curate(env.settings)
    assert accounts_fetched(env.lake_dir) == {env.key(ADMIN): fetched(40).replace(tzinfo=None),
                                              env.key(SUBJECT): fetched(3).replace(tzinfo=None),
                                              env.key(OTHERS[1]): fetched(3).replace(tzinfo=None)}
    assert len(instance_tables(env.lake_dir)) == 2
    return env


def test_account_snapshots_not_fetched_within_the_curated_retention_are_removed(seen) -> None:  # noqa: ANN001
    """Was: the accounts table was "not dated" and kept for ever, whatever FEDISCOPE_RETENTION_CURATED_DAYS."""
    before, instance_level = accounts_fetched(seen.lake_dir), instance_tables(seen.lake_dir)
    settings = seen.settings.replace(retention_raw_days=0, retention_curated_days=33)

    dry = apply_retention(settings, dry_run=True, today=TODAY)

    assert accounts_fetched(seen.lake_dir) == before
    real = apply_retention(settings, today=TODAY)

    expected = AccountSnapshots(fetched_before=CUTOFF_33_DAYS, removed=1, files_rewritten=1, files_deleted=0)
    assert dry.accounts == real.accounts == expected
    assert real.as_dict()["accounts"] == asdict(expected)  # what --json prints
    assert accounts_fetched(seen.lake_dir) == {k: v for k, v in before.items() if k != seen.key(ADMIN)}
    assert instance_tables(seen.lake_dir) == instance_level  # instance-level tables: kept, byte for byte
    assert apply_retention(settings, today=TODAY).accounts.removed == 0  # nothing left to do


def test_a_snapshot_fetched_on_the_cutoff_day_is_kept(seen) -> None:  # noqa: ANN001
    """As a dt= partition dated the cutoff day is kept: snapshots expire when fetched before that day began."""
    for days, removed in ((40, 0), (39, 1)):  # fetched(40) is the cutoff day of 40 days, before that of 39
        settings = seen.settings.replace(retention_raw_days=0, retention_curated_days=days)
        assert apply_retention(settings, dry_run=True, today=TODAY).accounts.removed == removed


def test_snapshots_all_expired_leave_no_accounts_file(seen) -> None:  # noqa: ANN001
    settings = seen.settings.replace(retention_raw_days=0, retention_curated_days=2)

    summary = apply_retention(settings, today=TODAY)

    assert (summary.accounts.removed, summary.accounts.files_deleted) == (3, 1)
    assert accounts_fetched(seen.lake_dir) == {}


def test_a_later_curation_does_not_bring_forgotten_accounts_back(seen) -> None:  # noqa: ANN001
    """The raw statuses of 40 days ago (which hold admin's snapshot) stay in the lake, but an incremental curation
    reads only raw files not curated yet, as it does not restore expired statuses partitions: admin comes back
    only if fetched again."""
    apply_retention(seen.settings.replace(retention_raw_days=0, retention_curated_days=33), today=TODAY)
    assert dt_dirs(seen.lake_dir, "raw") >= {f"dt={fetched(40).date()}"}  # raw kept for ever (0)

    assert curate(seen.settings).noop
    land_recordings(seen.lake, seen.policy, fetched_at=fetched(1), kinds=("accounts",))
    summary = curate(seen.settings)

    assert summary.raw_files and summary.accounts == 2
    assert set(accounts_fetched(seen.lake_dir)) == {seen.key(SUBJECT), seen.key(OTHERS[1])}
    assert not dt_dirs(seen.lake_dir, "curated")  # nor the expired statuses and hashtags days


def test_a_curated_retention_of_0_keeps_every_account_snapshot(seen) -> None:  # noqa: ANN001
    before = accounts_fetched(seen.lake_dir)

    summary = apply_retention(seen.settings.replace(retention_raw_days=0, retention_curated_days=0), today=TODAY)

    assert summary.accounts == AccountSnapshots() and not summary.deleted
    assert accounts_fetched(seen.lake_dir) == before


def test_account_snapshots_are_not_removed_while_the_lake_is_locked(seen, live_pid: int) -> None:  # noqa: ANN001
    """As partitions: a curation holding the lock could publish an accounts table made before the removal."""
    from lock_holders import lock_document

    from fediscope.errors import LakeLockedError
    from fediscope.lake.lock import lock_path

    before = accounts_fetched(seen.lake_dir)
    seen.lake.write_atomic(lock_path(), lock_document(live_pid))
    settings = seen.settings.replace(retention_raw_days=0, retention_curated_days=33)

    assert apply_retention(settings, dry_run=True, today=TODAY).accounts.removed == 1  # reads only: no lock needed
    with pytest.raises(LakeLockedError, match=f"pid {live_pid}"):
        apply_retention(settings, today=TODAY)
    assert accounts_fetched(seen.lake_dir) == before
