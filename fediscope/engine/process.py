"""``fediscope process``: curate the raw lake, compute every metric, load the metric store. One function.

The three steps run in order with one engine (``settings.engine`` unless ``engine`` is given):

1. **curate** — raw files not yet curated (fetch dates ``since``..``until``) are merged into the curated
   Parquet tables (:mod:`fediscope.engine.curation`);
2. **metrics** — the SQL files of ``spark_jobs/sql/`` and of the user's own directory (``metrics_dir``) run over
   the curated tables, whole (metrics always describe every curated day, not only the window);
3. **store** — each metric's rows replace what the store held for it, so a re-run never duplicates them.

Runs after the first are incremental (:mod:`fediscope.engine.metric_state`): the rows last written are kept in
the lake, so a recomputed metric is compared with them in bulk and only new, changed and vanished rows reach
the store; a metric whose SQL, curated tables and store rows are all unchanged is not recomputed at all
(``reused``; ``metrics_skipped`` when that holds for every metric). A changed SQL file is recomputed at once.
Each metric's result is kept as its store write commits, so a run stopped while storing (Ctrl-C, SIGTERM, or
killed outright) leaves the next run only the metrics it did not store to compute again.

A failing metric stops the run before the store is touched, so the store never mixes two runs' results.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from fediscope.config import Settings
from fediscope.engine.metrics import Metric, check_spark_portable, load_metrics, without_metric_file
from fediscope.errors import LakeError
from fediscope.interrupts import Terminated, raise_if_lost
from fediscope.redact import redact_url
from fediscope.step_progress import LineProgress
from fediscope.wording import count, some_of

if TYPE_CHECKING:
    from fediscope.engine.metric_state import MetricSnapshots
    from fediscope.lake.backend import LakeBackend
    from fediscope.store.port import MetricStore

log = logging.getLogger(__name__)


@dataclass
class MetricResult:
    rows: int
    seconds: float
    stored: int | None = None  # rows sent to the store: the new and changed ones
    stale: int = 0  # rows deleted from the store because the result no longer has them
    reused: bool = False  # current already (same SQL, same curated tables, store unchanged): not recomputed
    #: its result is kept for the next run (:mod:`~fediscope.engine.metric_state`, reused ones too): the next run
    #: computes it again only when its SQL, the curated tables or the store changed. False for a metric computed
    #: but not stored, or stopped between its store write and the record of it (an interrupted run)
    kept: bool = False


def _retention_named(settings: Settings) -> str:
    from fediscope.engine.curation import retention_named

    return retention_named(settings)


@dataclass
class ProcessSummary:
    engine: str
    store: str
    since: date | None = None
    until: date | None = None
    curate: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per step: start, curate, metrics, store, total
    metrics_skipped: bool = False  # every metric current (see metric_state): none recomputed
    #: metrics the store holds whose SQL file is gone (``fediscope store drop`` removes them), in name order
    without_sql_file: list[str] = field(default_factory=list)
    #: the run was stopped (Ctrl-C, SIGTERM) before it ended: the summary is what it finished so far
    interrupted: bool = False
    recurate: bool = False  # the run was asked to rebuild the curated tables (--recurate)
    #: how the summary line names the curated retention's setting (:func:`~fediscope.engine.curation.retention_named`;
    #: by default, that of settings set nowhere); not in :meth:`as_dict`
    retention_named: str = field(default_factory=lambda: _retention_named(Settings()))
    #: how the summary line names what limited the curation to ``since``..``until`` (:attr:`RunArguments.window`);
    #: not in :meth:`as_dict`
    window_named: str = "--since/--until"

    @property
    def unfinished_step(self) -> str | None:
        """The step an interrupted run was stopped in (``start``, ``curate``, ``metrics``, ``store``); None when
        every step finished (or for a run that was not interrupted)."""
        if not self.interrupted:
            return None
        if "start" not in self.seconds:
            return "start"
        if not self.curate:
            return "curate"
        return next((step for step in ("metrics", "store") if step not in self.seconds), None)

    @property
    def metric_rows(self) -> int:
        return sum(m.rows for m in self.metrics.values())

    def as_dict(self) -> dict[str, Any]:
        interrupted = {"interrupted": True, "interrupted_step": self.unfinished_step} if self.interrupted else {}
        return {
            "ok": not self.interrupted, **interrupted,
            "engine": self.engine,
            "store": self.store,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "curate": self.curate,
            "metrics": {name: {"rows": m.rows, "seconds": round(m.seconds, 3), "stored": m.stored, "stale": m.stale,
                               "reused": m.reused, "kept": m.kept} for name, m in self.metrics.items()},
            "metric_rows": self.metric_rows,
            "metrics_skipped": self.metrics_skipped,
            "stored_metrics_without_sql_file": self.without_sql_file,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def line(self) -> str:
        """The one-line summary the CLI prints (:meth:`_interrupted_line` for an interrupted run)."""
        if self.interrupted:
            return self._interrupted_line()
        if self.metrics_skipped:
            stored = "unchanged (not recomputed)"
        else:
            written = sum(m.stored or 0 for m in self.metrics.values())
            deleted = sum(m.stale for m in self.metrics.values())
            stored = f"stored ({written} written" + (f", {deleted} deleted)" if deleted else ")")
        return (f"process ({self.engine}): {self._curated()}; {count(len(self.metrics), 'metric')}, "
                f"{count(self.metric_rows, 'row')} {stored} in {self.store}; {self.seconds.get('total', 0.0):.1f} s"
                f"{self._without_sql_file_note()}")

    def _interrupted_line(self) -> str:
        """``interrupted: process (duckdb): curated …; 3 of 19 metrics stored (…), …``: what the run finished before
        Ctrl-C or SIGTERM, and what the next run does about the rest. A curation stopped part-way left the manifest
        as it was (the next run reads the same raw files again; a rebuild is finished by the next run, or by
        ``--recurate``). Each stored metric's result is kept for the next run as its store write commits
        (:meth:`~fediscope.engine.metric_state.MetricSnapshots.save`), so the next run computes again only the
        metrics this run had to and did not store. One stopped after its store write but before its result was
        kept is named: the next run computes it again too (and writes no row the store holds already)."""
        step = self.unfinished_step
        took = f"; {self.seconds.get('total', 0.0):.1f} s"
        if step == "start":
            return (f"interrupted: process ({self.engine}): stopped while starting the engine, before curating; "
                    f"nothing stored in {self.store}{took}")
        if step == "curate":
            again = ("the rebuild of the curated tables was not finished: run `fediscope process --recurate` again"
                     if self.recurate else "the next run curates the new raw files again")
            return (f"interrupted: process ({self.engine}): stopped while curating, before the curated tables "
                    f"were complete: {again}; nothing stored in {self.store}{took}")
        computed = {name: m for name, m in self.metrics.items() if not m.reused}
        reused = len(self.metrics) - len(computed)
        current = f" ({count(reused, 'metric')} current, not recomputed)" if reused else ""
        if step == "metrics":
            done = (f"stopped while computing the metrics ({len(computed)} computed){current}, before storing "
                    f"any in {self.store}: the next run computes them again")
        elif step == "store":
            done = f"stopped while storing the metrics in {self.store}{current}: {self._stored_so_far(computed)}"
        else:  # stopped in the clean-up after the last step
            done = (f"{count(len(self.metrics), 'metric')} current in {self.store}, not recomputed"
                    if self.metrics_skipped else f"every metric stored in {self.store}") + ": nothing left to redo"
        return f"interrupted: process ({self.engine}): {self._curated()}; {done}{took}"

    @staticmethod
    def _stored_so_far(computed: dict[str, MetricResult]) -> str:
        """``2 of 19 metrics stored (a, b), the others not: the next run computes only the others again``."""
        stored = [name for name, m in computed.items() if m.stored is not None]
        unkept = [name for name in stored if not computed[name].kept]
        every = len(stored) == len(computed)  # stopped after the last store write
        said = (f"all {count(len(computed), 'metric')} stored" if every else
                f"{len(stored)} of {count(len(computed), 'metric')} stored"
                + (f" ({some_of(stored)})" if stored else "") + ", the others not")
        if unkept:  # stopped between a store write and keeping its result (metric_state): a short moment
            verb = "it was" if len(unkept) == 1 else "they were"
            return (f"{said}: the next run computes again {'' if every else 'the others and '}{some_of(unkept)} "
                    f"(stopped before {verb} recorded as stored)")
        if every:
            return f"{said}: nothing left to redo"
        return f"{said}: the next run computes {'only the others again' if stored else 'them all again'}"

    def _curated(self) -> str:
        """What the curation did, as the summary line says it."""
        from fediscope.engine.curation import left_out_note

        cur = self.curate
        verb = "rebuilt the curated tables from" if cur.get("rebuilt") else "curated"
        curated = ("nothing to curate: --recurate found no raw files to rebuild the curated tables from (left as "
                   "they are)" if cur.get("nothing_to_rebuild") else
                   "nothing new to curate" if cur.get("noop") and not cur.get("rebuilt") else
                   f"{verb} {count(cur.get('raw_files', 0), 'raw file')}{curated_counts(cur)}")
        if cur.get("rules_changed"):  # a fediscope upgrade changed how statuses are curated (curation.py)
            curated += " (rows curated before were made by other curation rules: --recurate rebuilds them)"
        future = cur.get("future_versions_skipped", 0)
        if future:  # impossible timestamps: a remote server's clock, or a forged date (curate_sql)
            curated += (f" ({count(future, 'status version')} dated after {'its' if future == 1 else 'their'} "
                        "fetch skipped)")
        non_public = cur.get("non_public_left_out", 0)
        if non_public:  # raw files landed by other means than the collectors (curate_sql.PUBLIC_STATUSES)
            curated += f" ({count(non_public, 'status')} not public (followers-only, direct…) left out)"
        # expired by the curated retention (fediscope.gdpr.retention)
        if note := left_out_note(cur, self.retention_named):
            curated += f" ({note})"
        erased = cur.get("opted_out_erased", 0)
        if erased:  # records landed before their accounts opted out (fediscope.gdpr.opt_outs)
            curated += f" ({count(erased, 'opted-out account')} erased)"
        finished = cur.get("erasures_finished", 0)
        if finished:  # records landed after `fediscope gdpr erase` (an unfinished write), erased now
            curated += (f" (finished the erasure of {count(finished, 'account')}: records landed after "
                        "`fediscope gdpr erase`)")
        outside = cur.get("raw_files_outside_window", 0)
        if outside:  # left for a run with another (or no) --since/--until (an Airflow run: another day)
            curated += f" ({count(outside, 'new raw file')} outside {self.window_named} left uncurated)"
        return curated

    def _without_sql_file_note(self) -> str:
        """``; the store holds 1 metric with no SQL file any more: …`` (empty when there is none)."""
        names = self.without_sql_file
        if not names:
            return ""
        how = f"`fediscope store drop {names[0]}` removes it" if len(names) == 1 else \
            "`fediscope store drop NAME` removes one"
        return f"; the store holds {count(len(names), 'metric')} with no SQL file any more: {', '.join(names)} ({how})"


def curated_counts(curate: dict[str, Any]) -> str:
    """`` (82 statuses in 1 rewritten partition, 40 accounts in all)``: the rows of the statuses and accounts tables
    a curation run (a :meth:`~fediscope.engine.curation.CurateSummary.as_dict`) rewrote. These are the sizes of
    what was written, not what is new: a day partition that held curated rows is merged with the new versions and
    written again whole, and so is the accounts table. So a partition that held rows before is said to be
    rewritten, one the run wrote first (a first run, a new day, every partition of a rebuild) is not:
    `` (3482 statuses written in 15 partitions, …)``, `` (90 statuses in 1 new and 1 rewritten partitions, …)``.
    Was: `` (80 statuses in 1 partition, 755 accounts)`` on every run, which read as 80 new statuses.

    A table the run did not rewrite is left out (its count is 0 in the summary, not its size): new raw files
    holding only streamed deletions rewrite the partitions of the statuses they name, not the accounts; empty when
    neither table was rewritten. Partitions the run rewrote without a row (the curated retention or deletions left
    nothing in them) are counted apart: `` (449 statuses in 8 rewritten partitions, 7 partitions emptied)``."""
    rewritten = curate.get("tables_rewritten", [])
    counts = []
    if "statuses" in rewritten:
        emptied = curate.get("partitions_emptied", [])
        holding = [day for day in curate.get("partitions", []) if day not in emptied]
        again = len(set(holding) & set(curate.get("partitions_rewritten", [])))
        statuses, first = count(curate.get("statuses_written", 0), "status"), len(holding) - again
        counts.append(f"{statuses} written in {count(first, 'partition')}" if not again else
                      f"{statuses} in {count(again, 'rewritten partition')}" if not first else
                      f"{statuses} in {first} new and {again} rewritten partitions")
        if emptied:
            counts.append(f"{count(len(emptied), 'partition')} emptied")
    if "accounts" in rewritten:
        counts.append(f"{count(curate.get('accounts', 0), 'account')} in all")
    return f" ({', '.join(counts)})" if counts else ""


@dataclass(frozen=True)
class RunArguments:
    """How :func:`run_process`'s refusals of its arguments name them, as its caller's user gives them: by default
    ``fediscope process``'s options (``--since 2026-11-20``); :data:`PYTHON_ARGUMENTS` for
    :func:`fediscope.python_api.process` (``since=2026-11-20``), whose user has no options.

    ``window`` names what limits the run to ``since``..``until`` where the summary line (raw files outside it left
    uncurated) and the curation's refusal to finish an interrupted rebuild say it: an Airflow batch run has no
    options, its day limits it (``this run's day 2026-11-23``: :attr:`fediscope.orchestration.BatchWindow.named`).
    Was: ``--since/--until`` for every caller. ``recurate_run``: the run that same refusal says finishes the rebuild
    (was ``fediscope process --recurate`` for a Python API caller too)."""

    since: str = "--since"
    until: str = "--until"
    recurate: str = "--recurate"
    allow_missing: str = "--force"
    given: str = " "  # between a name and its value
    window: str = "--since/--until"
    recurate_run: str = "`fediscope process --recurate`"

    def value(self, name: str, value: object) -> str:
        """``--since 2026-11-20`` / ``since=2026-11-20``."""
        return f"{getattr(self, name)}{self.given}{value}"


#: :func:`fediscope.python_api.process`'s own names for the arguments run_process refuses
PYTHON_ARGUMENTS = RunArguments(since="since", until="until", recurate="recurate=True",
                                allow_missing="allow_missing=True", given="=", window="since/until",
                                recurate_run="`process(settings, recurate=True)`")


def run_process(settings: Settings, *, engine: str | None = None, since: date | None = None,
                until: date | None = None, progress: bool | None = None,
                metrics: dict[str, Metric] | None = None, engine_options: dict[str, Any] | None = None,
                recurate: bool = False, allow_missing: bool = False,
                named: RunArguments = RunArguments()) -> ProcessSummary:
    """Curate, compute every metric, load the store; see the module docstring.

    ``metrics`` defaults to every metric of ``spark_jobs/sql/`` and of the ``metrics_dir`` setting's directory;
    ``engine_options`` go to the engine's constructor (tests pass an existing SparkSession as ``{"spark":
    session}``). ``recurate`` rebuilds every
    curated table from the raw lake first (``allow_missing``: even when curated raw files are gone), see
    :mod:`fediscope.engine.curation`; a refused combination of these is a ConfigError naming them as ``named``
    does (:class:`RunArguments`). The whole run holds the lake
    lock (:mod:`fediscope.lake.lock`): while another run holds it, this one raises LakeLockedError at once.

    Whatever ends the run once the lock is taken leaves with the summary of what was finished so far as its
    ``process_summary`` attribute, marked ``interrupted`` when it is KeyboardInterrupt or
    :class:`~fediscope.interrupts.Terminated`, so that the caller can still say it (``fediscope process``).
    """
    started = time.perf_counter()  # the run's seconds include importing what it uses (Arrow, SQLAlchemy)
    from fediscope.engine.metric_state import store_id
    from fediscope.errors import ConfigError
    from fediscope.lake.backend import open_lake
    from fediscope.lake.lock import lake_lock
    from fediscope.store.port import require_persistent, store_from_settings

    if since and until and since > until:
        raise ConfigError(f"{named.value('since', since)} is after {named.value('until', until)}")
    if recurate and (since or until):
        raise ConfigError(f"{named.recurate} curates every raw file: it cannot be combined with "
                          f"{named.since}/{named.until}")
    if allow_missing and not recurate:
        raise ConfigError(f"{named.allow_missing} only applies to {named.recurate}")
    # results and kept snapshots for a store that forgets them: refused
    require_persistent(settings.store, settings.origin("store"))
    show = LineProgress(sys.stderr.isatty() if progress is None else progress)
    metrics = metrics if metrics is not None else load_metrics(own_dir=settings.metrics_dir)
    name = engine or settings.engine
    if name == "spark":  # before the lake is locked, Spark started or anything curated or computed
        check_spark_portable(metrics.values())
    summary = ProcessSummary(engine=name, store=redact_url(settings.store), since=since, until=until,
                             recurate=recurate, retention_named=_retention_named(settings), window_named=named.window)

    # One run per lake, from curation to the last store write (fediscope.lake.lock); a held lock fails here,
    # before the store is opened or anything is read.
    lake = open_lake(settings.lake)
    kept = store_id(summary.store, settings.hbase_table_prefix)  # where this store's kept results live
    try:
        with lake_lock(lake, command="fediscope process"):
            store = store_from_settings(settings)  # a wrong store URL fails before any work is done
            try:
                _compute(settings, name, since, until, metrics, summary, show, engine_options or {}, store, started,
                         kept, recurate, allow_missing, named.window, named.recurate_run)
            finally:
                store.close()
            _prune_snapshots(lake, kept)
    except BaseException as exc:
        # what was finished so far, for a caller that says it (`fediscope process` on Ctrl-C or SIGTERM; when the
        # signal came out of a library as an error of its own, only the caller knows it was one)
        summary.seconds["total"] = time.perf_counter() - started
        summary.interrupted = isinstance(exc, (KeyboardInterrupt, Terminated))
        if summary.interrupted:
            log.info("process: %s", summary.line())
        with contextlib.suppress(AttributeError):  # an exception type without attributes of its own
            exc.process_summary = summary  # type: ignore[attr-defined]
        raise
    summary.seconds["total"] = time.perf_counter() - started
    log.info("process: %s", summary.line())
    return summary


def _compute(settings: Settings, name: str, since: date | None, until: date | None, metrics: dict[str, Metric],
             summary: ProcessSummary, show: LineProgress, engine_options: dict[str, Any], store: MetricStore,
             started: float, kept: str, recurate: bool = False, allow_missing: bool = False,
             window_named: str | None = None, recurate_named: str | None = None) -> None:
    from fediscope.engine.base import open_engine
    from fediscope.engine.manifest import load_manifest
    from fediscope.engine.metric_state import MetricSnapshots
    from fediscope.engine.provenance import input_fingerprint, lake_run_provenance, landed_privacy, metric_provenance

    show(f"process: starting the {name} engine")
    with open_engine(settings, name, **engine_options) as eng:
        summary.seconds["start"] = time.perf_counter() - started
        # a Spark session takes seconds to start (a JVM, or a cluster master's executors): said, as each step is
        show(f"process: started the {name} engine in {summary.seconds['start']:.1f} s")
        step = time.perf_counter()
        show("process: curating the raw lake")
        curated = eng.curate(since=since, until=until, progress=show, rebuild=recurate, allow_missing=allow_missing,
                             window_named=window_named, recurate_named=recurate_named)
        summary.curate = curated.as_dict()
        summary.seconds["curate"] = time.perf_counter() - step
        show(f"process: curated {count(curated.raw_files, 'raw file')} in {summary.seconds['curate']:.1f} s")

        step = time.perf_counter()
        generation = load_manifest(eng.lake).generation
        snapshots = MetricSnapshots(eng.lake, kept, summary.store, settings)
        in_store = _generations(store)
        summary.without_sql_file = without_metric_file((n for n in in_store if n not in metrics),
                                                       own_dir=settings.metrics_dir)
        fingerprints = {n: input_fingerprint(m, eng.collection_starts()) for n, m in metrics.items()}
        privacy = landed_privacy(eng.lake)  # once: the record compared is the record written
        unrecorded = _unrecorded(store, privacy)
        stale = [n for n in metrics
                 if n in unrecorded or not _current(snapshots, n, fingerprints[n], generation, in_store)]
        for metric_name in metrics:
            if metric_name not in stale:  # current: the store holds exactly the kept rows, so their count
                summary.metrics[metric_name] = MetricResult(rows=snapshots.entries[metric_name].rows, seconds=0.0,
                                                            stored=0, reused=True, kept=True)
        if not stale:
            summary.metrics_skipped = True
            snapshots.flush()  # the store is still in use: its kept results stay (see metric_state.prune_unused)
            summary.seconds["metrics"] = summary.seconds["store"] = time.perf_counter() - step
            show("process: every metric is current for these curated tables: not recomputed")
            log.info("process: the %d metrics in the store are current, not recomputed", len(metrics))
            return
        if len(stale) < len(metrics):
            show(f"process: {count(len(metrics) - len(stale), 'metric')} current, recomputing {len(stale)}")
        results: dict[str, Any] = {}
        with eng.curated_files_unchanged():  # curation is over, and the lake lock keeps other writers out
            for i, metric_name in enumerate(stale, 1):
                raise_if_lost()  # a Ctrl-C raised in a finalizer (DuckDB's, Arrow's) stops the run here
                t = time.perf_counter()
                results[metric_name] = eng.metric_table(metrics[metric_name])
                summary.metrics[metric_name] = MetricResult(results[metric_name].num_rows, time.perf_counter() - t)
                show(f"process: metric {i}/{len(stale)} {metric_name}: {count(results[metric_name].num_rows, 'row')}")
        summary.seconds["metrics"] = time.perf_counter() - step

    step = time.perf_counter()
    run = lake_run_provenance(settings, name, eng.lake, (since, until), privacy=privacy)
    try:
        for metric_name in stale:
            raise_if_lost()
            store.provenance = metric_provenance(run, metrics[metric_name], fingerprints[metric_name],
                                                 settings.metrics_dir)
            _store_metric(store, snapshots, metrics[metric_name], results[metric_name],
                          summary.metrics[metric_name], fingerprints[metric_name], generation,
                          in_store.get(metric_name))  # and kept: the index is written with each
    except BaseException:
        _note_kept(snapshots, summary)
        raise
    finally:
        snapshots.close()
    changed = sum(m.stored or 0 for m in summary.metrics.values())
    show(f"process: stored {count(summary.metric_rows, 'row')} in {summary.store} ({changed} written)")
    summary.seconds["store"] = time.perf_counter() - step


def _note_kept(snapshots: MetricSnapshots, summary: ProcessSummary) -> None:
    """On a run's way out of the store step (Ctrl-C, SIGTERM, a failing write): mark ``kept`` exactly the computed
    metrics whose entry, as this run saved it, is in the index in the lake. A signal can land after the index was
    written and before the run noted it, or after the store write and before the index: what the summary says the
    next run does must be what the index makes it do. Left as noted when the index cannot be read."""
    try:
        recorded = snapshots.recorded()
    except (LakeError, OSError) as exc:
        log.debug("process: cannot read back the metric snapshots' index: %s", exc)
        return
    for name, result in summary.metrics.items():
        if not result.reused:
            result.kept = name in snapshots.saved and recorded.get(name) == snapshots.saved[name]


def _prune_snapshots(lake: LakeBackend, keep: str) -> None:
    """Delete the kept metric results of stores no run has written for a long time (never fails the run)."""
    from fediscope.engine.metric_state import prune_unused

    try:
        prune_unused(lake, keep=keep)
    except LakeError as exc:  # only a cleanup: the run's results are stored
        log.warning("process: could not delete unused metric snapshots: %s", exc)


def _generations(store: MetricStore) -> dict[str, str | None]:
    """Each stored metric's generation (:meth:`~fediscope.store.port.MetricStore.generations`), None for one whose
    tables are missing (dropped by hand: :meth:`~fediscope.store.port.MetricStore.missing_tables`): its kept
    results no longer describe the store, so it is recomputed and written in full (the store's write makes its
    tables again, and logs it), where it was reported "unchanged (not recomputed)" with the store still without
    them."""
    generations = store.generations()
    generations.update(dict.fromkeys(store.missing_tables()))
    return generations


def _unrecorded(store: MetricStore, privacy: str) -> set[str]:
    """The stored metrics whose catalog entry records no provenance (written by a fediscope from before it was
    recorded: :mod:`fediscope.engine.provenance`), or records another ``privacy`` at landing than the lake's now
    (recorded before that field was, or before the lake's key check: ``serve-api`` records one on a lake landed by
    an older fediscope, with no new raw file). Their kept results may be current, but what computed them is not
    known, so they are recomputed once: the write changes no row when they are the same (the metric keeps its
    generation) and records the run; otherwise they would stay unrecorded for as long as nothing new is curated."""
    return {name for name, provenance in store.provenances().items()
            if provenance is None or provenance.get("privacy") != privacy}


def _current(snapshots: MetricSnapshots, name: str, fingerprint: str, generation: str | None,
             in_store: dict[str, str | None]) -> bool:
    entry = snapshots.entry(name)
    return entry is not None and entry.current(fingerprint, generation, in_store.get(name))


def _store_metric(store: MetricStore, snapshots: MetricSnapshots, metric: Metric, table: Any, result: MetricResult,
                  fingerprint: str, generation: str | None, store_generation: str | None) -> None:
    """Write one metric: only the difference to the kept snapshot when the store still holds exactly that
    snapshot (same generation), else every row through the store's own comparison; then keep the result."""
    from fediscope.engine.metric_state import SnapshotEntry, arrow_types

    entry = snapshots.entry(metric.name)
    new_generation = None
    if entry is not None and store_generation is not None and entry.store_generation == store_generation:
        delta = snapshots.changes(metric.name, table, metric.key)
        if delta is not None:
            new_generation = store.write_changes(metric, delta.changed, delta.stale, table.num_rows,
                                                 columns=table.schema.names, types=delta.types)
            if new_generation is not None:
                result.stored, result.stale = len(delta.changed), len(delta.stale)
    if new_generation is None:
        counts = store.write_counted(metric, table.to_pylist(), replace=True, types=arrow_types(table),
                                     exact_types=True)
        result.stored, result.stale = counts.changed, counts.stale
        new_generation = store.generation(metric.name)
    snapshots.save(metric.name, table, SnapshotEntry(sql_sha256=fingerprint, curated=generation,
                                                     store_generation=new_generation, rows=table.num_rows))
    result.kept = True  # the next run does not compute it again (unless its inputs change)
