"""``fediscope process``: curate the raw lake, compute every metric, load the store."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import click

from fediscope.cli import stopped_by_signal
from fediscope.cli.common import emit_json, is_terminal, json_option, said_by_the_summary, say, settings_from_context
from fediscope.config import ENGINES
from fediscope.timestamps import parse_day

if TYPE_CHECKING:
    from fediscope.engine.process import ProcessSummary


class _Date(click.ParamType):
    name = "DATE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-23", param, ctx)


@click.command()
@click.option("--engine", type=click.Choice(ENGINES, case_sensitive=False), default=None,
              help="Batch engine (overrides FEDISCOPE_ENGINE): duckdb (embedded, default) or spark "
                   "(master from FEDISCOPE_SPARK_MASTER).")
@click.option("--since", type=_Date(), default=None,
              help="Curate only raw partitions fetched on or after this day (YYYY-MM-DD, UTC).")
@click.option("--until", type=_Date(), default=None,
              help="Curate only raw partitions fetched on or before this day (YYYY-MM-DD, UTC).")
@click.option("--lake", default=None, metavar="URL", help="Lake to read (overrides FEDISCOPE_LAKE).")
@click.option("--store", default=None, metavar="URL",
              help="Store to load (overrides FEDISCOPE_STORE). A SQLite file that does not exist is created, with "
                   "any missing directories above it: check the path (`fediscope doctor` tells whether it exists).")
@json_option("Print the summary as JSON on stdout.")
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr (default: only when stderr is a terminal).")
@click.option("--recurate", is_flag=True,
              help="Curate every raw file again and replace every curated table: after an upgrade changed the "
                   "curation rules (the run says so). Refused while raw files curated before are gone.")
@click.option("--force", "allow_missing", is_flag=True,
              help="With --recurate: rebuild even though raw files curated before are gone (retention), dropping "
                   "the curated rows made from them.")
def process(engine: str | None, since: date | None, until: date | None, lake: str | None, store: str | None,
            as_json: bool, progress: bool | None, recurate: bool, allow_missing: bool) -> None:
    """Curate the raw lake, compute every metric, and load the metric store.

    Curation is incremental: only raw files not curated before are read (the list is kept in
    <lake>/_state/curated_manifest.json), so running it again with nothing new changes nothing.
    --since/--until limit which raw partitions (fetch days) this run curates; the metrics are always
    recomputed over everything curated so far, and replace what the store held for them. A lake
    without any data is refused (exit 1) before the store is touched.

    After a fediscope upgrade that changed the curation rules, rows curated before keep the old
    ones and the run says so; --recurate rebuilds every curated table from the raw lake.

    Statuses posted, and account snapshots last fetched, before FEDISCOPE_RETENTION_CURATED_DAYS
    are left out of the curated tables (and so of the store), as `fediscope gdpr retention` deletes
    them; the run says how many.

    Stopped by Ctrl-C or SIGTERM (exit 130 / 143), it still prints its summary, starting
    "interrupted:": whether the curation finished, which metrics were stored, and what the next
    run does again (with --json: "ok": false, "interrupted": true, "interrupted_step").

    \b
    Examples:
      fediscope process
      fediscope process --engine spark --since 2026-11-20 --json
      fediscope process --recurate
    """
    if since and until and since > until:
        raise click.BadParameter(f"{since} is after --until {until}", param_hint="--since")
    if recurate and (since or until):
        raise click.BadParameter("--recurate curates every raw file; leave out --since/--until",
                                 param_hint="--recurate")
    if allow_missing and not recurate:
        raise click.BadParameter("--force only applies with --recurate", param_hint="--force")
    settings = settings_from_context(lake=lake, store=store)
    _warn_of_a_window_after_today(since)
    from fediscope.config import option_origin
    from fediscope.engine.process import run_process
    from fediscope.lake.backend import open_lake, require_batch_lake
    from fediscope.store.port import require_persistent

    # before any work: an in-memory store would lose every row at exit
    require_persistent(settings.store, settings.origin("store"))
    require_batch_lake(open_lake(settings.lake), chosen_by=option_origin(settings, "lake"))

    # the curation's warnings that the summary says too (status versions dated after their fetch, statuses not
    # public, other curation rules) are said by the summary alone, in its words; written as log lines after all
    # when no summary says them (the run failed)
    with said_by_the_summary() as held:
        try:
            summary = run_process(settings, engine=engine, since=since, until=until,
                                  progress=is_terminal() if progress is None else progress, recurate=recurate,
                                  allow_missing=allow_missing)
        except BaseException as exc:
            partial: ProcessSummary | None = getattr(exc, "process_summary", None)
            if partial is not None and (partial.interrupted or stopped_by_signal()):
                # what was finished is said (stdout, the --json document), then "interrupted", exit 130 / 143
                partial.interrupted = True
                _print_summary(partial, as_json)
                held.said = bool(partial.curate)  # its line says what the curation found once it finished
            raise
        _print_summary(summary, as_json)
        held.said = True


def _warn_of_a_window_after_today(since: date | None) -> None:
    """A ``--since`` after today (UTC) selects no raw partition (they are named by their fetch day), so the run
    curates nothing new: most likely a typo (2062 for 2026). Warned of, not refused (exit 0): it is a valid window,
    and the rest of the run (metrics, store) goes on over what was curated before. Today itself is no typo."""
    today = datetime.now(UTC).date()
    if since is not None and since > today:
        say(f"--since {since} is after today ({today}, UTC): no raw file was fetched that late, so this run "
            "curates nothing new (a typo?)", level=logging.WARNING, prefix="fediscope: warning: ")


def _print_summary(summary: ProcessSummary, as_json: bool) -> None:
    """The run's summary line on stdout (its JSON document with ``--json``)."""
    if as_json:
        emit_json(summary.as_dict())
    else:
        click.echo(summary.line())
