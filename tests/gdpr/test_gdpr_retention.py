"""Retention: expired dt= partitions of the raw lake, quarantine and curated tables; --dry-run deletes nothing."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from gdpr_lake import OTHERS, RECENT, SUBJECT, land_instance_lists, land_recent_copies, land_recordings
from non_public_statuses import visible

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


def curate(settings, rebuild: bool = False) -> CurateSummary:  # noqa: ANN001
    from fediscope.engine.base import open_engine
    from fediscope.engine.curation import run_curation

    with open_engine(settings) as engine:
        return run_curation(engine, rebuild=rebuild, today=TODAY)


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


# -- curation applies the curated retention: a rebuild or a raw file curated late brings no expired row back ---------
def curated_rows(lake_dir: Path) -> dict[str, list[str]]:
    """Every row of the curated statuses, hashtags and accounts (with its ``dt`` partition), sorted, as text."""
    out: dict[str, list[str]] = {}
    for table in ("statuses", "hashtags", "accounts"):
        rows = []
        for path in sorted((lake_dir / "curated" / table).rglob("*.parquet")):
            part = {"dt": path.parent.name[3:]} if path.parent.name.startswith("dt=") else {}
            rows += [json.dumps({**row, **part}, sort_keys=True, default=str)
                     for row in pq.read_table(path, partitioning=None).to_pylist()]
        out[table] = sorted(rows)
    return out


def statuses_by_day(rows: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    days: dict[str, list[dict[str, Any]]] = {}
    for text in rows["statuses"]:
        row = json.loads(text)
        days.setdefault(row["dt"], []).append(row)
    return days


def land_two_days(env) -> None:  # noqa: ANN001
    """The recorded statuses (posted 2026-08-01) and their authors fetched 40 days before TODAY, the recorded
    accounts looked up again 3 days before it, and on RECENT (fetched then too) the subject's public statuses again
    and mastodonpy_test's reblog of its own recorded status (the original embedded as recorded: 2026-08-01)."""
    land_recordings(env.lake, env.policy, fetched_at=fetched(40))
    land_recordings(env.lake, env.policy, fetched_at=fetched(3), kinds=("accounts",))
    assert land_recent_copies(env.lake, env.policy, authors={SUBJECT.split("@")[0]}) > 3
    assert land_recent_copies(env.lake, env.policy, authors={OTHERS[1].split("@")[0]}, reblogs=True) == 1


RETAINED = {"retention_raw_days": 0, "retention_curated_days": 33}


@pytest.mark.parametrize("rebuild", [False, True], ids=["first-curation", "rebuild"])
def test_curation_writes_only_what_retention_keeps(env, tmp_path: Path, rebuild: bool) -> None:  # noqa: ANN001
    """Was: curation ignored FEDISCOPE_RETENTION_CURATED_DAYS, so a rebuild (`--recurate`) or a first curation of
    old raw files wrote the expired statuses, hashtags and account snapshots back (and the same `process` stored
    their metrics) until the next retention run. Now curation writes what curating everything, then retention,
    leaves: by the same cutoff (TODAY less 33 days), statuses by their own day (a RECENT reblog is kept, its
    original of 2026-08-01 is not), account snapshots by their last fetch (admin's, 40 days old, goes)."""
    land_two_days(env)
    twin = tmp_path / "twin"
    shutil.copytree(env.lake_dir / "raw", twin / "raw")
    everything = curate(env.settings.replace(lake=str(twin)))  # retention 0: every row
    assert (everything.retention_cutoff, everything.statuses_left_out, everything.accounts_left_out) == (None, 0, 0)
    curated_everything = curated_rows(twin)
    apply_retention(env.settings.replace(lake=str(twin), **RETAINED), today=TODAY)
    expired = visible(statuses_by_day(curated_everything)["2026-08-01"])  # the markers of the others apart
    if rebuild:
        curate(env.settings)  # every day, with retention 0

    summary = curate(env.settings.replace(**RETAINED), rebuild=rebuild)

    assert curated_rows(env.lake_dir) == curated_rows(twin)
    assert dt_dirs(env.lake_dir, "curated") == {f"dt={RECENT}"}
    assert (summary.retention_cutoff, summary.statuses_left_out, summary.accounts_left_out) == (
        CUTOFF_33_DAYS, len(expired), 1)
    assert set(accounts_fetched(env.lake_dir)) == {env.key(SUBJECT), env.key(OTHERS[1])}
    (reblog,) = [row for row in statuses_by_day(curated_rows(env.lake_dir))[RECENT] if row["is_reblog"]]
    assert reblog["reblog_of_uri"] in {row["uri"] for row in expired}  # its original: left out, as retention does


def test_a_raw_file_of_expired_statuses_curated_late_brings_none_back(env) -> None:  # noqa: ANN001
    """A backfill or a batch landed late: its statuses and their authors' snapshots are expired. The raw file is
    recorded as curated all the same, so it is not read again at every run."""
    retained = env.settings.replace(**RETAINED)
    land_recordings(env.lake, env.policy, fetched_at=fetched(3), kinds=("accounts",))
    land_recent_copies(env.lake, env.policy, authors={SUBJECT.split("@")[0]})
    curate(retained)
    before = curated_rows(env.lake_dir)
    land_recordings(env.lake, env.policy, fetched_at=fetched(40))

    summary = curate(retained)

    assert summary.raw_files > 0 and summary.statuses_left_out > 3 and summary.accounts_left_out == 1
    assert curated_rows(env.lake_dir) == before
    assert dt_dirs(env.lake_dir, "curated") == {f"dt={RECENT}"}
    assert curate(retained).noop


def test_an_expired_day_a_curation_rewrites_is_removed(env) -> None:  # noqa: ANN001
    """Curated before the retention was set (or before its daily run): a new version of an expired status makes
    curation rewrite its day, which it then writes without any of that day's statuses and hashtags."""
    land_two_days(env)
    curate(env.settings)
    assert dt_dirs(env.lake_dir, "curated") == {"dt=2026-08-01", f"dt={RECENT}"}
    land_recordings(env.lake, env.policy, fetched_at=fetched(1), kinds=("statuses",))  # fetched again

    summary = curate(env.settings.replace(**RETAINED))

    assert "2026-08-01" in summary.partitions and summary.statuses_left_out > 3
    assert dt_dirs(env.lake_dir, "curated") == {f"dt={RECENT}"}
