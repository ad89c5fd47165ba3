"""One curation run, the same for every engine: plan → read new raw files → merge → publish → manifest.

1. **Plan**: the raw files not in the manifest (:mod:`fediscope.engine.manifest`), within ``since``/``until``.
   Nothing new → nothing is read or written (a re-run over the same input changes nothing).
2. **Statuses**: every version in the new files (:data:`~fediscope.engine.curate_sql.STATUS_VERSIONS`; those dated
   after their fetch are skipped and counted, ``future_versions_skipped``; those without a URI, or with an empty one,
   are skipped: :func:`~fediscope.engine.curate_sql._uri`), merged with the existing rows of the ``dt`` partitions
   they fall into; those partitions (and the same partitions of ``hashtags``, derived from them) are rewritten whole.
   A status whose latest version is not public is left out, and counted (``non_public_left_out``;
   :data:`~fediscope.engine.curate_sql.PUBLIC_STATUSES`), but for a marker row no metric reads
   (:data:`~fediscope.engine.curate_sql.NON_PUBLIC_MARKERS`), so that an older public version curated by a later run
   loses to it as in a rebuild. Other partitions are not touched.
   Streamed deletions (``status_deletions``) are merged into their own table first; the partitions holding a
   status a new deletion names are rewritten too, with that status as a tombstone.
3. **Accounts**, **instance activity**, **tag trends** (the instances' own daily counts of their trending
   hashtags) and **instance peers** (the first and last day each domain was listed): small tables, merged
   and rewritten whole.
4. **Publish** the staged files (:meth:`~fediscope.engine.workspace.Workspace.publish`), then record the raw
   files in the manifest. Nothing is published before every table is staged: every new raw file has been read
   by then, so a run stopped by one it cannot read (a record with a field of another type, in an accounts file
   read after the statuses) leaves the curated tables as they were.

**Retention.** With ``FEDISCOPE_RETENTION_CURATED_DAYS`` set, steps 2 and 3 write no status posted, and no
latest account snapshot last fetched, before the cutoff day of :func:`fediscope.gdpr.retention.curated_cutoff`
(the one ``fediscope gdpr retention`` deletes by; today in UTC): a rebuild, or a raw file older than the retention
curated for the first time, would otherwise bring expired rows back until the next retention run. A rewritten
``dt`` partition before the cutoff is thus removed (so is its hashtags partition). The statuses left out are
counted (``statuses_left_out``, ``accounts_left_out``, ``retention_cutoff``) and said; their raw files are recorded
in the manifest all the same, so they are not read again at every run. The deletions table is kept whole.

**Curation rules.** The manifest records the rules the curated rows were made by
(:func:`~fediscope.engine.curate_sql.rules_fingerprint`). When a fediscope upgrade changes them, the rows
curated before keep the old rules while new rows get the new ones: the run says so (``rules_changed``, a
warning) and goes on incrementally. (That warning, and those of versions dated after their fetch and of statuses not
public, are marked :data:`~fediscope.console.IN_SUMMARY`: ``fediscope process`` says them in its summary alone; those
of a rebuild finished or forced, which it does not, are marked :data:`~fediscope.console.SAID`: it says them as its own
warnings.)
A **rebuild** (``rebuild=True``, ``fediscope process --recurate``) curates
every raw file again as if the curated tables were empty, then replaces every curated table and partition with
what it made, removing what the rules no longer make. Raw files curated before but gone from the lake (deleted
by retention; an erasure takes the files it empties off the manifest) would take their rows with them, so a
rebuild is refused while any is missing, unless ``allow_missing=True`` (``--force``).

A rebuild of a lake with no raw file and no manifest (only curated tables left, e.g. raw files removed by hand)
has nothing to rebuild from: it says so (``nothing_to_rebuild``) and leaves the curated tables as they are, as a
run with nothing new does.

A rebuild publishes table by table: one stopped part-way (Ctrl-C) leaves some tables rebuilt and others not. It
records that it started (:data:`~fediscope.engine.manifest.REBUILD_MARKER_PATH`, removed once its manifest is
saved), and the next run, a plain ``fediscope process`` too, finishes the rebuild (saying so) rather than curating
incrementally on top of a half-rebuilt lake; one limited by ``--since``/``--until`` is refused instead.

A run that fails part-way leaves the manifest as it was, so the next run reads the same files again; merging
is idempotent, so partitions already published (by a run that failed while publishing) are rewritten with the
same rows. Two runs on one lake would
race on the manifest, so the entry points hold the lake lock (:func:`fediscope.lake.lock.lake_lock`) around
a run: ``run_process`` (``fediscope process``, the Airflow batch DAG) and ``spark_jobs/curate.py``, as do the
erasure and retention that rewrite lake files. :func:`run_curation` and ``Engine.curate`` do not lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fediscope.console import IN_SUMMARY, SAID
from fediscope.engine import curate_sql as sql
from fediscope.engine.manifest import (
    Manifest,
    clear_rebuild_marker,
    list_raw_files,
    load_manifest,
    mark_rebuild_started,
    plan_curation,
    rebuild_interrupted,
    save_manifest,
)
from fediscope.engine.schema import (
    ACCOUNTS,
    HASHTAGS,
    INSTANCE_ACTIVITY_TABLE,
    INSTANCE_PEERS,
    STATUS_DELETIONS,
    STATUSES,
    TAG_TRENDS,
    Table,
)
from fediscope.errors import ConfigError
from fediscope.gdpr.opt_outs import apply_opt_outs
from fediscope.gdpr.retention import curated_cutoff
from fediscope.lake.batches import check_whole_batches
from fediscope.wording import count

if TYPE_CHECKING:
    from fediscope.config import Settings
    from fediscope.engine.base import Engine

log = logging.getLogger(__name__)

#: What a run publishes once every table is staged: ``(table, staged, column, values)`` of
#: :meth:`~fediscope.engine.workspace.Workspace.publish`, in the order they are published.
_Publication = tuple[str, Path, str | None, list[str] | None]


@dataclass
class CurateSummary:
    engine: str
    raw_files: int = 0  # raw files read by this run
    raw_files_outside_window: int = 0  # not yet curated, but outside the run's window (--since/--until)
    status_versions: int = 0  # status versions found in the new files (reblog originals included)
    future_versions_skipped: int = 0  # versions in the new files dated after their fetch (curate_sql): skipped
    #: statuses with a version in the new files whose latest version is not public (followers-only, direct, limited
    #: or an unknown visibility: curate_sql.PUBLIC_STATUSES): not curated, nor their hashtags (written only as a
    #: marker no metric reads, which keeps an older public version landed late out: curate_sql.NON_PUBLIC_MARKERS)
    non_public_left_out: int = 0
    statuses_written: int = 0  # rows of the rewritten statuses partitions
    partitions: list[str] = field(default_factory=list)  # dt partitions of statuses/hashtags rewritten
    #: of ``partitions``, those that hold no status after the run (every row left out by the curated retention or
    #: deleted; markers of statuses not public, curate_sql.NON_PUBLIC_MARKERS, apart): removed (but for such markers),
    #: so not counted as holding the statuses (:func:`fediscope.engine.process.curated_counts`)
    partitions_emptied: list[str] = field(default_factory=list)
    #: of ``partitions``, those that held curated rows before the run, merged with the new versions and written
    #: again; the others are days the run wrote first (all of them in a rebuild, which merges into nothing). The
    #: summary line tells them apart (:func:`fediscope.engine.process.curated_counts`): ``statuses_written`` counts
    #: every row of the partitions written, not only what is new
    partitions_rewritten: list[str] = field(default_factory=list)
    hashtags_written: int = 0
    accounts: int = 0  # rows of the accounts table after the run (0 when not rewritten)
    instance_weeks: int = 0
    trend_days: int = 0  # rows of the tag_trends table after the run (0 when not rewritten)
    peers: int = 0  # rows of the instance_peers table after the run (0 when not rewritten)
    deletions: int = 0  # rows of the status_deletions table after the run (0 when not rewritten)
    files_published: int = 0
    #: the curated tables this run rewrote (merged into, or removed by a rebuild), in name order; a count above
    #: of a table not listed (``accounts``, ``peers``…) is 0 because the run did not touch it, not because it is empty
    tables_rewritten: list[str] = field(default_factory=list)
    rules_changed: bool = False  # curated rows were made by other curation rules (see the module docstring)
    rebuilt: bool = False  # every raw file curated again and every curated table replaced
    nothing_to_rebuild: bool = False  # a rebuild asked for, but no raw file and no manifest: nothing was done
    opted_out_erased: int = 0  # accounts that opted out after records of theirs were landed (gdpr.opt_outs)
    #: accounts `fediscope gdpr erase` erased whose records landed after it (an unfinished write): erased again,
    #: which finishes that erasure (gdpr.opt_outs, "Unfinished writes"); not opt-outs, so not in opted_out_erased
    erasures_finished: int = 0
    #: the first day the curated retention keeps (FEDISCOPE_RETENTION_CURATED_DAYS; None: 0, every day is kept)
    retention_cutoff: str | None = None
    statuses_left_out: int = 0  # statuses of the rewritten partitions posted before retention_cutoff: not written
    accounts_left_out: int = 0  # latest account snapshots last fetched before retention_cutoff: not written
    seconds: float = 0.0

    @property
    def noop(self) -> bool:
        return self.raw_files == 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "noop": self.noop, "seconds": round(self.seconds, 3)}


#: How messages name what limits a run to some fetch days by default: ``fediscope process``'s options (a caller
#: whose user gives no such options names it its own way: :class:`fediscope.engine.process.RunArguments`).
WINDOW_NAMED = "--since/--until"

#: How the refusal to finish an interrupted rebuild names the run that finishes it, and the warning of tables made by
#: other curation rules the run that rebuilds them, by default: the command's (a Python API caller names its call:
#: :class:`fediscope.engine.process.RunArguments`; ``spark_jobs/curate.py`` its own option).
RECURATE_NAMED = "`fediscope process --recurate`"

#: The setting whose value :func:`left_out_note` names (:func:`retention_named`).
RETENTION_SETTING = "retention_curated_days"


def retention_named(settings: Settings) -> str:
    """How :func:`left_out_note` names the curated retention's setting: where its value was set (the variable, the
    config file's key, the Airflow Variable's key), or both the variable and the file's key for one set nowhere
    (:meth:`~fediscope.config.Settings.origin` with ``advice``), as the collection summary's notes name theirs. Was:
    the variable alone, which a user who sets it in ``fediscope.toml`` or the Airflow Variable does not set."""
    return settings.origin(RETENTION_SETTING, advice=True)


def left_out_note(summary: dict[str, Any], setting: str) -> str:
    """What the curated retention left out of a run (a :meth:`CurateSummary.as_dict`), as the progress and the
    process summary say it, naming where it is set (``setting``: :func:`retention_named`); empty when nothing
    was."""
    statuses, accounts = summary.get("statuses_left_out", 0), summary.get("accounts_left_out", 0)
    if not (statuses or accounts):
        return ""
    posted = f"{count(statuses, 'status')} posted" if statuses else ""
    fetched = f"{count(accounts, 'account snapshot')} last fetched" if accounts else ""
    return (f"{' and '.join(filter(None, (posted, fetched)))} before {summary.get('retention_cutoff')} left out "
            f"by the curated retention, set in {setting}")


def run_curation(engine: Engine, since: date | None = None, until: date | None = None,
                 progress: Callable[[str], None] | None = None, rebuild: bool = False,
                 allow_missing: bool = False, today: date | None = None,
                 window_named: str = WINDOW_NAMED, recurate_named: str = RECURATE_NAMED) -> CurateSummary:
    """Curate the raw files not curated yet (see the module docstring); ``progress`` is told each step as it
    starts, so a long curation is not minutes of silence. ``rebuild`` curates every raw file again and replaces
    every curated table (refused with ``since``/``until``, and while curated raw files are missing unless
    ``allow_missing``). ``today`` (UTC; default: today) dates the curated retention's cutoff. ``window_named``:
    how the refusal to finish an interrupted rebuild names what limits this run, as its caller's user gives it
    (``--since/--until``; an Airflow batch run: ``this run's day 2026-11-23``), and ``recurate_named`` the run that
    finishes it, or rebuilds tables made by other curation rules (``fediscope process --recurate``; the Python API:
    its call; ``spark_jobs/curate.py`` run by hand: its own ``--recurate``)."""
    started = time.perf_counter()
    say = progress or (lambda _text: None)
    lake, ws = engine.lake, engine.workspace
    manifest = load_manifest(lake)
    rules = sql.rules_fingerprint()
    interrupted = None if rebuild else rebuild_interrupted(lake)
    if interrupted is not None:
        # the tables it published are rebuilt, the others not yet: curating incrementally on top would keep them so
        if since or until:
            raise ConfigError(f"a rebuild of the curated tables ({recurate_named}) was interrupted before it "
                              f"finished: a run limited by {window_named} cannot finish it; run {recurate_named}")
        rebuild, allow_missing = True, allow_missing or interrupted.get("force") is True
        # said to whoever ran it, in the caller's words (fediscope: warning: …; was a log line, naming the command
        # to a Python API caller too)
        log.warning("curation: a rebuild of the curated tables (%s) was interrupted before it finished (started "
                    "%s): this run finishes it", recurate_named, interrupted.get("started_at", "?"),
                    extra={SAID: True})
    if rebuild and (since or until):
        raise ConfigError("a rebuild (--recurate) curates every raw file: it cannot be limited by --since/--until")
    ws.tidy_stopped_runs()
    listed = list_raw_files(lake)
    # before anything is read: the records of accounts that opted out since they were landed go first (looked
    # for in the raw files not curated yet, whatever the window)
    opted_out = apply_opt_outs(lake, lambda: plan_curation(lake, manifest, listed=listed).files)
    if opted_out.opted_out:
        say(f"curation: erased {count(len(opted_out.opted_out), 'account')} that opted out after records of theirs "
            "were landed")
    if opted_out.finished:
        say(f"curation: finished the erasure of {count(len(opted_out.finished), 'account')} (`fediscope gdpr "
            "erase`): records of theirs landed after it were erased")
    if opted_out.erased:
        listed = list_raw_files(lake)  # the erasure rewrote or deleted raw files
        manifest = load_manifest(lake)  # and took those it deleted off the manifest (forget_erased_files)
    plan = plan_curation(lake, Manifest() if rebuild else manifest, since, until, listed=listed)
    engine.raw_listing = listed  # the files this run saw: where the curated statuses begin is read from them too
    first_day = curated_cutoff(engine.settings, today)
    summary = CurateSummary(engine=engine.name, raw_files=plan.total,
                            raw_files_outside_window=plan.skipped_outside_window, rebuilt=rebuild,
                            opted_out_erased=len(opted_out.opted_out),
                            erasures_finished=len(opted_out.finished),
                            retention_cutoff=first_day.isoformat() if first_day else None)
    if rebuild:
        _check_rebuild(manifest, plan.present, allow_missing)
        say(f"curation: {'finishing the interrupted rebuild: ' if interrupted is not None else ''}rebuilding every "
            f"curated table from the {count(plan.total, 'raw file')}")
    elif manifest.files and manifest.rules != rules:
        summary.rules_changed = True
        # said by the run's summary (rules_changed): `fediscope process` says it there alone (was: a progress line
        # and this log line too, three times in all on a terminal)
        log.warning("curation: the curated tables were made by other curation rules (%s; these are %s): rows "
                    "curated before keep them; %s rebuilds every table from the raw lake",
                    manifest.rules or "not recorded, an older fediscope", rules, recurate_named,
                    extra={IN_SUMMARY: True})
    if plan.total == 0 and not (rebuild and manifest.files):
        if rebuild:  # no raw file to make tables from, none curated before: the curated tables are left as they are
            summary.rebuilt, summary.nothing_to_rebuild = False, True
            clear_rebuild_marker(lake)  # an interrupted one included: there is nothing left to finish it from
            log.warning("curation: --recurate found no raw files to rebuild the curated tables from (and no record "
                        "of any curated before): nothing to curate, the curated tables are left as they are",
                        extra={IN_SUMMARY: True})  # the summary says it (nothing_to_rebuild)
        else:
            log.info("curation: nothing new to curate")
        summary.seconds = time.perf_counter() - started
        return summary

    status_files = ws.local_files(plan.files["statuses"])
    account_files = ws.local_files(plan.files["accounts"] + plan.files["directory"])
    activity_files = ws.local_files(plan.files["instance_activity"])
    trend_files = ws.local_files(plan.files["trends_tags"])
    peer_files = ws.local_files(plan.files["instance_peers"])
    deletion_files = ws.local_files(plan.files["status_deletions"])
    check_whole_batches([*status_files, *account_files, *activity_files, *trend_files, *peer_files,
                         *deletion_files])
    # "new" only for an incremental run: a rebuild reads every raw file again, most of them curated before
    files = (f"{count(plan.total, 'raw file')} to curate" if rebuild else count(plan.total, 'new raw file'))
    log.info("curation: %s (%d statuses, %d accounts, %d activity, %d trends, %d peers, %d deletions)", files,
             len(status_files), len(account_files), len(activity_files), len(trend_files), len(peer_files),
             len(deletion_files))
    say(f"curation: {files} ({len(status_files)} of statuses, {len(account_files)} of accounts)")
    engine.register_raw("raw_statuses", "statuses", status_files)
    engine.register_raw("raw_accounts", "accounts", account_files)
    engine.register_raw("raw_instance_activity", "instance_activity", activity_files)
    engine.register_raw("raw_trends_tags", "trends_tags", trend_files)
    engine.register_raw("raw_instance_peers", "instance_peers", peer_files)
    engine.register_raw("raw_status_deletions", "status_deletions", deletion_files)

    if rebuild:  # until its manifest is saved, the curated tables are part rebuilt: the next run must finish it
        mark_rebuild_started(lake, allow_missing)
    staged = ws.new_staging_dir()
    pending: list[_Publication] = []
    try:
        if status_files or account_files or deletion_files:  # read by the statuses and accounts merges
            say("curation: parsing the raw statuses and computing their columns")
            engine.materialize("status_records", sql.STATUS_RECORDS)  # the one pass over the raw statuses
        if status_files or deletion_files:
            _curate_statuses(engine, staged, summary, pending, new_deletions=bool(deletion_files), say=say,
                             rebuild=rebuild, first_day=first_day)
        if status_files or account_files:
            say("curation: merging the account snapshots")
            _curate_accounts(engine, staged, summary, pending, rebuild, first_day)
        if activity_files or trend_files or peer_files:
            say("curation: merging instance activity, trends and peers")
        if activity_files:
            summary.instance_weeks = _merge_whole(
                engine, staged, INSTANCE_ACTIVITY_TABLE, ("activity_versions", sql.ACTIVITY_VERSIONS),
                sql.MERGE_ACTIVITY, ["instance", "week"], rebuild)
            pending.append((INSTANCE_ACTIVITY_TABLE.name, staged / INSTANCE_ACTIVITY_TABLE.name, None, None))
        if trend_files:
            summary.trend_days = _merge_whole(engine, staged, TAG_TRENDS, ("trend_versions", sql.TREND_VERSIONS),
                                              sql.MERGE_TRENDS, ["instance", "tag", "day"], rebuild)
            pending.append((TAG_TRENDS.name, staged / TAG_TRENDS.name, None, None))
        if peer_files:
            summary.peers = _merge_whole(engine, staged, INSTANCE_PEERS, ("peer_sightings", sql.PEER_SIGHTINGS),
                                         sql.MERGE_PEERS, ["instance", "peer"], rebuild)
            pending.append((INSTANCE_PEERS.name, staged / INSTANCE_PEERS.name, None, None))
        if rebuild:
            _drop_unmade(engine, staged, summary, pending, {
                ACCOUNTS.name: bool(status_files or account_files), INSTANCE_ACTIVITY_TABLE.name: bool(activity_files),
                TAG_TRENDS.name: bool(trend_files), INSTANCE_PEERS.name: bool(peer_files),
                STATUS_DELETIONS.name: bool(deletion_files)})
        # only now, every raw file read and every table staged: a run stopped by a record it cannot read (or a
        # failing query, memory, Ctrl-C) before this point leaves the curated tables exactly as they were
        for table, source, column, values in pending:
            _publish(engine, summary, table, source, column, values)
    finally:
        ws.discard(staged)
    if rebuild:
        manifest.files = dict(plan.sizes)
        manifest.rules = rules
    else:
        if not manifest.files:  # a first curation: every row is made by these rules
            manifest.rules = rules
        manifest.files.update(plan.sizes)
    save_manifest(lake, manifest)
    if rebuild:
        clear_rebuild_marker(lake)
    if note := left_out_note(summary.as_dict(), retention_named(engine.settings)):
        say(f"curation: {note}")
        log.info("curation: %s", note)
    summary.seconds = time.perf_counter() - started
    log.info("curation: %s", summary.as_dict())
    return summary


def _publish(engine: Engine, summary: CurateSummary, table: str, staged: Path, column: str | None = None,
             values: list[str] | None = None) -> None:
    """Publish what the run staged for ``table`` (:meth:`~fediscope.engine.workspace.Workspace.publish`), counting
    its files and noting the table as rewritten."""
    summary.files_published += engine.workspace.publish(table, staged, column, values)
    summary.tables_rewritten = sorted({*summary.tables_rewritten, table})


def _check_rebuild(manifest: Manifest, present: set[str], allow_missing: bool) -> None:
    missing = manifest.missing_files(present)
    if missing and not allow_missing:
        raise ConfigError(
            f"{len(missing)} raw file(s) curated before are no longer in the lake (deleted by retention, or emptied "
            f"by an erasure that left other people's rows curated; e.g. {missing[0]}): a rebuild would drop the "
            "curated rows made from them. Add --force to rebuild from the raw files that are left")
    if missing:
        log.warning("curation: rebuilding without %d raw file(s) curated before and gone from the lake",
                    len(missing), extra={SAID: True})  # not in the summary: said as the command's own warning


def _drop_unmade(engine: Engine, staged: Path, summary: CurateSummary, pending: list[_Publication],
                 made: dict[str, bool]) -> None:
    """A rebuild: remove what the rules no longer make — the ``dt`` partitions of statuses and hashtags the run
    staged nothing for, and the unpartitioned tables (``made``: whether this run had raw input for each) it had no
    raw input for (publishing nothing removes them)."""
    ws = engine.workspace
    for table in (STATUSES, HASHTAGS):
        stale = sorted(set(ws.partition_values(table.name, "dt")) - set(summary.partitions))
        if stale:
            pending.append((table.name, staged / f"_nothing_{table.name}", "dt", stale))
            log.info("curation: the rebuild removed %d %s partition(s) no raw status makes any more", len(stale),
                     table.name)
    for name, was_made in made.items():
        if not was_made and ws.lake_has_table(name):
            pending.append((name, staged / f"_nothing_{name}", None, None))
            log.info("curation: the rebuild removed the %s table (no raw input for it any more)", name)


def _curate_accounts(engine: Engine, staged: Path, summary: CurateSummary, pending: list[_Publication],
                     rebuild: bool, first_day: date | None) -> None:
    """Merge the new account snapshots into the accounts table and stage it (published with the others, ``pending``),
    without the snapshots fetched before ``first_day`` (the curated retention's cutoff; None: all kept): left out
    before the merge chooses each account's snapshot (:func:`~curate_sql.merge_accounts`)."""
    merge = sql.merge_accounts(first_day)
    summary.accounts = _merge_whole(engine, staged, ACCOUNTS, ("account_versions", sql.ACCOUNT_VERSIONS), merge,
                                    ["account_key"], rebuild)
    if first_day is not None:
        summary.accounts_left_out = _left_out(engine, "account_key", ["existing_accounts", "account_versions"],
                                              summary.accounts)
    pending.append((ACCOUNTS.name, staged / ACCOUNTS.name, None, None))


def _left_out(engine: Engine, key: str, views: list[str], kept: int) -> int:
    """How many rows a merge of ``views`` (one per ``key``) made and :func:`~curate_sql.within_retention` left out,
    of which ``kept`` were written."""
    return int(engine.query(sql.distinct_count(key, views))[0]["n"]) - kept


def _curate_statuses(engine: Engine, staged: Path, summary: CurateSummary, pending: list[_Publication],
                     new_deletions: bool, say: Callable[[str], None], rebuild: bool = False,
                     first_day: date | None = None) -> None:
    """Merge the new status versions into their partitions; with new deletions, also rewrite the partitions of
    the statuses they name, and stage the deletions table. A rebuild merges into nothing: every partition is made
    from the raw versions alone. Statuses posted before ``first_day`` (the curated retention's cutoff) are left
    out: a partition of such a day that is rewritten is removed."""
    ws = engine.workspace
    say("curation: choosing the latest version of each status")
    summary.status_versions = engine.materialize("status_versions", sql.STATUS_VERSIONS)
    summary.future_versions_skipped = int(engine.query(sql.FUTURE_VERSIONS)[0]["n"])
    if summary.future_versions_skipped:
        log.warning("curation: skipped %d status versions dated after their fetch (a remote clock or a forged date)",
                    summary.future_versions_skipped, extra={IN_SUMMARY: True})  # as the summary says it
    found = {str(r["dt"]) for r in engine.query("SELECT DISTINCT CAST(dt AS VARCHAR) AS dt FROM status_versions")}
    if not rebuild:
        found |= _days_of_copies_across_midnight(engine, found)
    if new_deletions:
        summary.deletions = _merge_whole(engine, staged, STATUS_DELETIONS, ("deletion_versions", sql.DELETION_VERSIONS),
                                         sql.MERGE_DELETIONS, ["instance", "status_id"], rebuild)
        if rebuild:  # every status is among the new versions: their days are all rewritten already
            engine.register_empty("all_statuses", STATUSES)
        else:
            engine.register_parquet("all_statuses", STATUSES, [ws.table_dir(STATUSES.name)],
                                    root=ws.table_path(STATUSES.name))
        found |= {str(r["dt"]) for r in engine.query(sql.DELETED_DAYS)}
    elif rebuild:  # no deletion in the raw lake: none applies
        engine.register_empty("status_deletions_merged", STATUS_DELETIONS)
    else:
        _register_table(engine, "status_deletions_merged", STATUS_DELETIONS)
    days = sorted(found)
    summary.partitions = days
    if days:
        say(f"curation: merging and writing {count(len(days), 'day partition')} of statuses and hashtags")
        _merge_partitions(engine, staged, summary, pending, days, rebuild, first_day)
    if new_deletions:
        pending.append((STATUS_DELETIONS.name, staged / STATUS_DELETIONS.name, None, None))


def _days_of_copies_across_midnight(engine: Engine, days: set[str]) -> set[str]:
    """The days next to ``days`` whose curated statuses share a URI with a new version: two servers may date one
    status on either side of midnight (a rounded or skewed ``created_at``), and the partition of the old row must
    be merged too, or both rows stay (a full curation keeps one, the winner's). Only the neighbouring days are
    read: copies of a status are dated a moment apart, not days."""
    ws = engine.workspace
    neighbours = sorted({str(day + timedelta(days=step)) for day in map(_day, days)
                         if day is not None and date.min < day < date.max for step in (-1, 1)} - days)
    existing = ws.partition_dirs(STATUSES.name, "dt", neighbours) if neighbours else []
    if not existing:
        return set()
    engine.register_parquet("neighbour_statuses", STATUSES, existing, root=ws.table_path(STATUSES.name))
    return {str(r["dt"]) for r in engine.query(sql.NEIGHBOUR_DAYS)}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:  # a day Python's calendar has no date for: no neighbours looked up
        return None


def _register_table(engine: Engine, view: str, table: Table) -> None:
    """A whole unpartitioned curated table as ``view`` (empty when it has no files yet)."""
    directory = engine.workspace.table_dir(table.name)
    if engine.workspace.has_parquet(directory):
        engine.register_parquet(view, table, [directory], root=directory)
    else:
        engine.register_empty(view, table)


def _merge_partitions(engine: Engine, staged: Path, summary: CurateSummary, pending: list[_Publication],
                      days: list[str], rebuild: bool = False, first_day: date | None = None) -> None:
    ws = engine.workspace
    found = [] if rebuild else [(day, ws.partition_dirs(STATUSES.name, "dt", [day])) for day in days]
    existing = [directory for _, directories in found for directory in directories]
    summary.partitions_rewritten = [day for day, directories in found if directories]
    if existing:
        engine.register_parquet("existing_statuses", STATUSES, existing, root=ws.table_path(STATUSES.name))
    else:
        engine.register_empty("existing_statuses", STATUSES)
    latest = engine.materialize("statuses_latest", sql.MERGE_STATUSES)
    summary.non_public_left_out = int(engine.query(sql.NON_PUBLIC_STATUSES)[0]["n"])
    if summary.non_public_left_out:
        log.warning("curation: left out %d statuses whose latest version is not public (landed by other means than "
                    "fediscope's collectors, or by an older release)", summary.non_public_left_out,
                    extra={IN_SUMMARY: True})  # as the summary says it
    summary.statuses_written = engine.materialize("statuses_merged", _within(sql.PUBLIC_STATUSES, first_day))
    markers = engine.materialize("status_markers", sql.NON_PUBLIC_MARKERS)
    # a view, not a copy: the write below reads it once, and a copy is a Spark job of its own (two, counted)
    engine.execute(f"CREATE OR REPLACE TEMP VIEW status_markers_kept AS "
                   f"{_within('SELECT * FROM status_markers', first_day)}")
    holding = {str(r["dt"]) for r in engine.query("SELECT DISTINCT CAST(dt AS VARCHAR) AS dt FROM statuses_merged")}
    summary.partitions_emptied = [day for day in days if day not in holding]
    if first_day is not None:  # the public statuses the retention left out
        summary.statuses_left_out = latest - markers - summary.statuses_written
    summary.hashtags_written = engine.materialize("hashtag_rows", sql.HASHTAG_ROWS)
    # a view, not a copy: the rows are read once, by the write below
    engine.execute(f"CREATE OR REPLACE TEMP VIEW statuses_curated AS {sql.CURATED_STATUS_ROWS}")
    engine.write_table("statuses_curated", STATUSES, staged / STATUSES.name, ["uri"])
    engine.write_table("hashtag_rows", HASHTAGS, staged / HASHTAGS.name, ["status_uri", "tag"])
    pending.extend([(STATUSES.name, staged / STATUSES.name, "dt", days),
                    (HASHTAGS.name, staged / HASHTAGS.name, "dt", days)])


def _within(statement: str, first_day: date | None) -> str:
    """``statement``'s statuses within the curated retention (all of them without one)."""
    return statement if first_day is None else sql.within_retention(statement, "dt", first_day)


def _merge_whole(engine: Engine, staged: Path, table: Table, versions: tuple[str, str], merge: str,
                 order_by: list[str], rebuild: bool = False) -> int:
    """Merge new versions into an unpartitioned table and stage the whole table; returns its row count.

    ``versions`` is (name, SQL) of the new versions; ``merge`` reads them and ``existing_<table>`` (empty for a
    rebuild).
    """
    engine.materialize(*versions)
    if rebuild:
        engine.register_empty(f"existing_{table.name}", table)
    else:
        _register_table(engine, f"existing_{table.name}", table)
    rows = engine.materialize(f"{table.name}_merged", merge)
    engine.write_table(f"{table.name}_merged", table, staged / table.name, order_by)
    return rows
