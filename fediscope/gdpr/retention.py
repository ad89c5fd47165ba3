"""Storage limitation: delete lake partitions older than the configured number of days.

Raw batches are partitioned by fetch date (``raw/mastodon/<entity>/instance=<domain>/dt=<YYYY-MM-DD>/``), so
retention deletes whole ``dt=`` directories: a partition is deleted when its date is more than
``FEDISCOPE_RETENTION_RAW_DAYS`` days before today (UTC). Quarantined items
(``quarantine/instance=<domain>/dt=…``) are raw upstream data and follow the same setting. Curated tables
follow ``FEDISCOPE_RETENTION_CURATED_DAYS`` on their ``dt`` partitions (the creation date of a status). The
same setting forgets the accounts not seen within it: the latest snapshot of each account (``curated/accounts``,
not partitioned) is removed when it was fetched (``fetched_at``) before the cutoff day, its files rewritten
atomically as an erasure rewrites them (:func:`fediscope.gdpr.curated.drop_rows`); a snapshot without a fetch
time is kept. The other unpartitioned tables (instance activity, tag trends and peers, per instance; the
deletions, ids of deleted statuses) are kept whole. ``0`` keeps a layer forever. Curation applies the same
cutoff (:func:`curated_cutoff`): it writes no status posted, and no snapshot fetched, before it (the snapshots
fetched before it are left out before an account's is chosen, so an account seen within it stays), so neither
a rebuild (``--recurate``) nor a raw file curated late (older than the curated retention, never curated) brings
expired rows back; a removed snapshot comes back only when the account is fetched again within the retention.
Metrics in the store are recomputed from the curated tables, so they shrink with them at the next processing
run: deleting a curated partition or account snapshot starts a new generation of the curated tables (the curation
manifest's ``generation``, :mod:`fediscope.engine.manifest`), so ``fediscope process`` no longer finds its kept
metric results (:mod:`fediscope.engine.metric_state`) current and recomputes every metric, even when nothing new
was collected; the rows of the deleted days and accounts leave the store and the kept results then (written as
the difference to the kept results, as after any curation). A lake whose manifest cannot be read loses its kept
results instead, as with an erasure (the next run compares every metric with the store in full). Raw and
quarantine partitions are not curated tables: deleting them changes no metric.

Retention also removes the temporary files that interrupted writes left in the lake, once they are a day old
(:mod:`fediscope.lake.debris`): whatever the retention settings, as the lake's regular clean-up. Those are the
hidden ``.<name>.<random>.tmp`` files of fediscope's own writers and the NiFi flows' in-flight dot-files (PutFile /
PutHDFS write ``.<batch name>`` and rename it), the latter only with the flows' exact batch names in the raw
statuses partitions and quarantine directories they land in; all are reported in ``temporary_files``.

The maintenance DAG calls :func:`apply_retention` daily; ``fediscope gdpr retention --dry-run`` shows what it
would delete. Deleting holds the lake lock (:mod:`fediscope.lake.lock`), so it fails at once while a ``fediscope
process`` runs on the lake (the maintenance DAG's retry runs it again later); a dry run takes no lock.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fediscope.config import Settings
from fediscope.engine.curate_sql import ACCOUNT_SEEN
from fediscope.engine.schema import ACCOUNTS
from fediscope.engine.workspace import tidy_stopped_runs
from fediscope.gdpr.curated import drop_rows
from fediscope.interrupts import raise_if_lost
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.debris import STALE_AFTER_SECONDS, TemporaryCleanup, remove_stale_temporary_files
from fediscope.lake.layout import CURATED_ROOT, QUARANTINE_ROOT, RAW_ROOT, is_staged
from fediscope.lake.lock import lake_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Partition:
    layer: str  # raw | quarantine | curated
    path: str
    dt: str
    files: int
    bytes: int


@dataclass
class AccountSnapshots:
    """The latest account snapshots retention removed (or would with dry_run): those last fetched before
    ``fetched_before`` (None: the curated retention is 0, every snapshot is kept)."""

    fetched_before: str | None = None
    removed: int = 0
    files_rewritten: int = 0
    files_deleted: int = 0


@dataclass
class RetentionSummary:
    today: str
    dry_run: bool
    raw_days: int
    curated_days: int
    deleted: list[Partition] = field(default_factory=list)  # deleted, or that would be with dry_run
    skipped: list[str] = field(default_factory=list)  # dt= directories whose date cannot be read
    accounts: AccountSnapshots = field(default_factory=AccountSnapshots)  # curated account snapshots removed
    #: stale temporary files of interrupted writes removed (or that would be with dry_run)
    temporary_files: TemporaryCleanup = field(
        default_factory=lambda: TemporaryCleanup(dry_run=False, older_than_hours=STALE_AFTER_SECONDS / 3600))

    def totals(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for p in self.deleted:
            layer = out.setdefault(p.layer, {"partitions": 0, "files": 0, "bytes": 0})
            layer["partitions"] += 1
            layer["files"] += p.files
            layer["bytes"] += p.bytes
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "totals": self.totals(), "temporary_files": self.temporary_files.as_dict()}


def _dt_dirs(lake: LakeBackend, root: str) -> list[str]:
    """Every ``dt=`` directory below ``root`` (at any depth: raw has entity/instance levels above it)."""
    found, stack = [], [root]
    while stack:
        current = stack.pop()
        for entry in lake.list(current):
            if not entry.is_dir:
                continue
            if entry.path.rsplit("/", 1)[-1].startswith("dt="):
                found.append(entry.path)
            else:
                stack.append(entry.path)
    return sorted(found)


def cutoff(today: date, days: int) -> date | None:
    """Partitions dated before this are expired (None: keep forever)."""
    return today - timedelta(days=days) if days > 0 else None


def curated_cutoff(settings: Settings, today: date | None = None) -> date | None:
    """The first day the curated tables keep (None: ``retention_curated_days`` is 0, every day is kept): statuses
    posted and account snapshots last fetched before it are expired. Retention deletes them; curation leaves them
    out (:mod:`fediscope.engine.curation`), so a rebuild or a raw file curated late does not bring them back.
    ``today`` defaults to today in UTC, the curated timestamps' zone."""
    return cutoff(today or datetime.now(UTC).date(), settings.retention_curated_days)


def _expired(lake: LakeBackend, layer: str, root: str, limit: date | None,
             summary: RetentionSummary) -> list[Partition]:
    if limit is None:
        return []
    expired = []
    for path in _dt_dirs(lake, root):
        if is_staged(path):  # a stopped curation's output, not a curated day (the real run removes it first)
            continue
        text = path.rsplit("/", 1)[-1][3:]
        try:
            day = date.fromisoformat(text)
        except ValueError:
            summary.skipped.append(path)  # said by the callers: the command's own line, the DAG task's warning
            continue
        if day < limit:
            files = lake.walk(path)
            expired.append(Partition(layer, path, day.isoformat(), len(files), sum(f.size for f in files)))
    return expired


def apply_retention(settings: Settings, dry_run: bool = False, today: date | None = None,
                    lake: LakeBackend | None = None) -> RetentionSummary:
    """Delete (or with ``dry_run`` only list) the expired raw, quarantine and curated partitions, and the stale
    temporary files of interrupted writes (``summary.temporary_files``)."""
    lake = lake or open_lake(settings.lake)
    today = today or datetime.now(UTC).date()
    summary = RetentionSummary(today=today.isoformat(), dry_run=dry_run, raw_days=settings.retention_raw_days,
                               curated_days=settings.retention_curated_days)
    raw_limit = cutoff(today, settings.retention_raw_days)
    curated_limit = curated_cutoff(settings, today)
    if dry_run:
        summary.deleted = _all_expired(lake, raw_limit, curated_limit, summary)
        _expire_accounts(lake, curated_limit, summary, dry_run=True)
        summary.temporary_files = remove_stale_temporary_files(lake, dry_run=True)
        return summary
    # The lake lock (fediscope.lake.lock): a curation running meanwhile could record deleted raw files in its
    # manifest, publish a partition that was just deleted, or an accounts table without the removals.
    with lake_lock(lake, command="fediscope gdpr retention"):
        tidy_stopped_runs(lake)  # before the curated files are read or rewritten, as a curation does
        summary.deleted = _all_expired(lake, raw_limit, curated_limit, summary)
        curated_changed = False
        try:
            for partition in summary.deleted:
                raise_if_lost()  # a Ctrl-C raised in a finalizer stops it before the next partition (run again)
                curated_changed |= partition.layer == "curated"  # before: a half-deleted partition changed too
                lake.delete(partition.path, recursive=True)
                log.info("retention: deleted %s (%d files)", partition.path, partition.files)
            _expire_accounts(lake, curated_limit, summary)
        finally:
            if curated_changed or summary.accounts.removed:  # counted before each file is rewritten
                _curated_tables_changed(lake)
        summary.temporary_files = remove_stale_temporary_files(lake)  # after the partitions: fewer to walk
    return summary


def _expire_accounts(lake: LakeBackend, limit: date | None, summary: RetentionSummary,
                     dry_run: bool = False) -> None:
    """Remove (or with ``dry_run`` count) the account snapshots fetched before ``limit``: the rule curation applies
    to every snapshot before it chooses an account's (:func:`fediscope.engine.curate_sql.merge_accounts`), here to
    the one snapshot per account the curated table keeps. ``summary.accounts`` is filled in as files are
    rewritten."""
    if limit is None:
        return
    accounts = summary.accounts
    accounts.fetched_before = limit.isoformat()
    start = datetime.combine(limit, time.min)  # UTC, as the curated timestamps are

    def expired(table: pa.Table) -> pa.ChunkedArray:
        fetched = table.column(ACCOUNT_SEEN)
        return pc.less(fetched, pa.scalar(start, pa.timestamp("us")).cast(fetched.type))

    counts: Counter[str] = Counter()
    try:
        drop_rows(lake, ACCOUNTS.name, expired, counts, dry_run=dry_run)
    finally:
        accounts.removed = counts["rows_removed"]
        accounts.files_rewritten, accounts.files_deleted = counts["files_rewritten"], counts["files_deleted"]
    if accounts.removed and not dry_run:
        log.info("retention: removed %d account snapshot(s) last fetched before %s", accounts.removed,
                 accounts.fetched_before)


def _curated_tables_changed(lake: LakeBackend) -> None:
    """Make the next ``fediscope process`` recompute every metric (see the module docstring): a new generation of
    the curated tables, or, when the manifest cannot be read, no kept metric results at all."""
    from fediscope.engine.manifest import MANIFEST_PATH, load_manifest, save_manifest
    from fediscope.engine.metric_state import forget
    from fediscope.errors import LakeError

    try:
        if lake.exists(MANIFEST_PATH):  # without one (deleted to curate everything again), forget them
            save_manifest(lake, load_manifest(lake))  # the same files, a new generation
            log.info("retention: curated tables changed; the next processing run recomputes every metric")
            return
    except LakeError as exc:
        log.warning("retention: could not start a new generation of the curated tables (%s); deleting the kept "
                    "metric results instead", exc)
    forget(lake)


def _all_expired(lake: LakeBackend, raw_limit: date | None, curated_limit: date | None,
                 summary: RetentionSummary) -> list[Partition]:
    return (_expired(lake, "raw", RAW_ROOT, raw_limit, summary)
            + _expired(lake, "quarantine", QUARANTINE_ROOT, raw_limit, summary)
            + _expired(lake, "curated", CURATED_ROOT, curated_limit, summary))
