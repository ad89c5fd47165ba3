"""``fediscope store export``: a stored metric's rows as CSV or JSON Lines; ``fediscope store drop``: remove a metric
whose SQL file was deleted from the store and the kept results.

``export`` reads the configured store (SQLite, MariaDB or HBase) through the port alone, a page at a time
(:mod:`fediscope.store.export`), to stdout or atomically to ``--out``; a reader that leaves early (``… | head``) ends
it quietly with exit 141, as a Unix tool ended by SIGPIPE (:mod:`fediscope.pipes`).

Deleting a metric's file (in ``spark_jobs/sql/`` or ``FEDISCOPE_METRICS_DIR``) leaves its table in the store
(``fediscope process`` names such metrics in its summary): BI tools still see it and the lake still keeps its last
results. ``drop`` removes the
metric's tables and catalog entry from the configured store (:meth:`~fediscope.store.port.MetricStore.drop`) and
its kept results under ``<lake>/_state/metrics/<store id>/`` (:mod:`fediscope.engine.metric_state`), holding the
lake lock as ``fediscope process`` does, so that no run writes the store meanwhile. A metric that still has its
SQL file is refused: the next ``fediscope process`` would only store it again. A name the catalog does not list
but whose tables the store holds (:meth:`~fediscope.store.port.MetricStore.unlisted_metrics`: left by a write or a
removal stopped half-way, or made beforehand on HBase) is dropped the same way: its tables are removed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fediscope.cli.common import (
    confirm_or_refuse,
    emit_json,
    is_terminal,
    json_option,
    out_error,
    say,
    settings_from_context,
)
from fediscope.config import Settings
from fediscope.errors import ConfigError
from fediscope.files import atomic_out
from fediscope.redact import redact_url
from fediscope.wording import count

if TYPE_CHECKING:
    from fediscope.store.port import MetricStore


@click.group()
def store() -> None:
    """Export or drop what the metric store holds (FEDISCOPE_STORE)."""


@store.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"], case_sensitive=False), default="csv",
              show_default=True, help="CSV with a header row, or JSON Lines (one object per row).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Write here, whole or not at all (default: stdout).")
@click.option("--prefix", default=None, metavar="VALUE", help="Only the rows whose prefix column holds VALUE, in key "
              "order: the column of the metric's -- prefix: line, else its first key column (GET /v1/metrics names "
              "it; hashtags_daily's is day). A value no row holds exports the header alone, with a warning.")
@click.option("--spreadsheet-safe", is_flag=True, help="CSV for a spreadsheet: text starting with = + - @, a tab "
              "or a CR gets a ' before it, so that it is not run as a formula (numbers are left alone; the text no "
              "longer reads back as stored).")
@click.option("--store", "store_url", default=None, metavar="URL", help="Store to read (overrides FEDISCOPE_STORE).")
def export(name: str, fmt: str, out: Path | None, prefix: str | None, spreadsheet_safe: bool,
           store_url: str | None) -> None:
    """Write every row of stored metric NAME as CSV or JSON Lines, for pandas, R or a spreadsheet.

    Reads the store (SQLite, MariaDB or HBase alike) a page at a time, in its top-N order: the rank column, ties
    by key (key order for a metric without a rank), by the key and rank the store recorded, so a metric whose SQL
    file is gone is exported too. --prefix gives one prefix value's rows in key order (a number as JSON writes it,
    a boolean as true or false). CSV: a header of the stored columns, an empty field for NULL and "" for empty
    text, true/false for booleans, floats with every digit; JSON Lines: the exact values. --spreadsheet-safe (CSV
    only) guards a spreadsheet that opens the file against text that would run as a formula (CSV injection), at
    the cost of a ' before such text: leave it out for pandas, R or DuckDB. --out writes a temporary file beside
    FILE and renames it at the end: a run that fails leaves FILE as it was. A name the store does not hold is
    refused (exit 2), listing the ones it does; a SQLite store not created yet is an error, as for `fediscope
    report`. A metric being written, or left part-way by a write that stopped (what `fediscope report` calls
    "Partly written"), is refused (exit 1) saying what to run, and so is one written again during the export:
    its rows could mix two writes. On a terminal, the rows written so far show on stderr (not when the rows
    themselves are printed there).

    \b
    Examples:
      fediscope store export languages > languages.csv
      fediscope store export account_engagement --format jsonl --out engagement.jsonl
      fediscope store export signups_by_month --prefix mastodon.social
      fediscope store export top_toots --spreadsheet-safe --out top_toots.csv
    """
    from fediscope.config import option_origin
    from fediscope.store.port import open_for_reading

    if spreadsheet_safe and fmt.lower() != "csv":
        raise ConfigError("--spreadsheet-safe applies to CSV only (a spreadsheet does not open JSON Lines); leave it "
                          "out with --format jsonl")
    settings = settings_from_context(store=store_url)
    # as `fediscope report`: a store not created yet is said so
    metric_store = open_for_reading(settings, chosen_by=option_origin(settings, "store"))
    try:
        held = _holding(metric_store, name, redact_url(settings.store))
        # the count on stderr's terminal, unless the rows go to that terminal too: it would run into them
        progress = is_terminal() and (out is not None or not sys.stdout.isatty())
        on_terminal = out is None and sys.stdout.isatty()  # the rows themselves printed there: shown, not obeyed
        written = _export_to(out, lambda write: _export(held, name, fmt.lower(), write, prefix, progress,
                                                         on_terminal, spreadsheet_safe))
        if prefix is not None and not written:
            _say_no_row_has(metric_store, name, prefix)
    finally:
        metric_store.close()
    if out is not None:
        say(f"exported {count(written, 'row')} of {name} to {out}")


def _say_no_row_has(metric_store: MetricStore, name: str, prefix: str) -> None:
    """A warning that ``--prefix`` matched no row, naming the column it was matched against: the prefix column is
    often not the one the value was meant for (a tag given to ``hashtags_daily``, whose prefix is ``day``), and an
    export of the header alone says nothing of it."""
    from fediscope.analysis import no_row_has, stored_definition

    definition = stored_definition(metric_store, name)
    say(no_row_has(definition, prefix, "--prefix", "export every row"), level=logging.WARNING,
        prefix="fediscope: warning: ", metric=name, prefix_column=definition.prefix)


def _holding(metric_store: MetricStore, name: str, shown: str) -> MetricStore:
    """The store, when it holds metric ``name``; else a :class:`ConfigError` listing the metrics it holds."""
    stored = metric_store.stored_metrics()
    if name not in stored:
        raise _not_held(shown, name, stored)
    return metric_store


def _not_held(shown: str, name: str, stored: dict[str, int]) -> ConfigError:
    """The refusal of a metric name the store does not hold, listing those it does."""
    held = ", ".join(sorted(stored)) or "none"
    return ConfigError(f"the store {shown} holds no metric {name!r}; the metrics it holds: {held}")


def _export(metric_store: MetricStore, name: str, fmt: str, write: Callable[[bytes], Any],
            prefix: str | None, progress: bool, on_terminal: bool = False, spreadsheet_safe: bool = False) -> int:
    """The rows written; a --prefix its column's type cannot hold is a :class:`ConfigError`."""
    from fediscope.analysis import stored_definition
    from fediscope.store.export import Progress, export_rows
    from fediscope.store.port import PrefixValueError

    try:
        return export_rows(metric_store, name, fmt, write, prefix=prefix, progress=Progress(name, progress),
                           for_terminal=on_terminal, spreadsheet_safe=spreadsheet_safe)
    except PrefixValueError as exc:
        column = stored_definition(metric_store, name).prefix
        raise ConfigError(exc.refusal("--prefix", name, column, str(prefix))) from None


def _export_to(out: Path | None, run: Callable[[Callable[[bytes], Any]], int]) -> int:
    """``run(write)`` writing to ``out`` (atomically: :func:`~fediscope.files.atomic_out`), or to stdout, whose
    reader leaving early (``… | head``) stops it quietly with exit 141, as SIGPIPE stops a Unix tool."""
    from fediscope.pipes import BROKEN_PIPE_EXIT, silence_stdout

    if out is not None:
        with atomic_out(out, error=out_error) as write:
            return run(write)
    try:
        sys.stdout.flush()  # anything written as text before goes first
        written = run(sys.stdout.buffer.write)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        silence_stdout()
        sys.exit(BROKEN_PIPE_EXIT)
    return written


@store.command("drop")
@click.argument("name")
@click.option("--store", "store_url", default=None, metavar="URL", help="Store to drop from (overrides "
              "FEDISCOPE_STORE).")
@click.option("--lake", default=None, metavar="URL", help="Lake whose kept results to delete (overrides "
              "FEDISCOPE_LAKE).")
@click.option("--yes", is_flag=True, help="Drop without asking (required without a terminal).")
@json_option("Print what was dropped as JSON.")
def drop(name: str, store_url: str | None, lake: str | None, yes: bool, as_json: bool) -> None:
    """Remove metric NAME, whose SQL file was deleted, from the store and the lake's kept results.

    Drops the metric's table (on HBase its tables, the rank index included) and its catalog entry, and deletes
    its kept results (<lake>/_state/metrics/), holding the lake lock. A metric's leftover tables that no catalog
    entry lists (a first write stopped before it listed the metric; `fediscope doctor` names them) are dropped
    the same way. Refused (exit 2) while NAME.sql exists in spark_jobs/sql/ or FEDISCOPE_METRICS_DIR (delete the
    file first, or `fediscope process` stores it again) and for a name the store holds neither way (the error
    lists the ones it does), and (exit 1, nothing dropped) when the lake directory holds something, but none of
    raw/, curated/, quarantine/, _state/, _audit/: the directory above the lake, say. Asks for confirmation on a
    terminal; --yes skips the question and is required without one (exit 2).

    \b
    Examples:
      fediscope store drop my_old_metric
      fediscope store drop my_old_metric --yes --json
    """
    from fediscope.engine.metrics import metric_files
    from fediscope.store.port import open_existing, require_persistent

    settings = settings_from_context(store=store_url, lake=lake)
    require_persistent(settings.store, settings.origin("store"))
    sql_file = metric_files(own_dir=settings.metrics_dir).get(name)
    if sql_file is not None:
        raise ConfigError(f"metric {name} still has its SQL file {sql_file}: delete the file first "
                          "(while it exists, `fediscope process` stores the metric again)")
    _refuse_a_directory_that_is_no_lake(settings)
    shown = redact_url(settings.store)
    metric_store = open_existing(settings)
    try:
        stored = {} if metric_store is None else metric_store.stored_metrics()
        # a listed metric's too: a MariaDB load stopped half-way leaves _new_<name> (or _old_<name>) beside it
        leftover = [] if metric_store is None else metric_store.unlisted_metrics().get(name, [])
        if metric_store is None or (name not in stored and not leftover):
            raise _not_held(shown, name, stored)
        what = f"the leftover table(s) {', '.join(leftover)} of metric {name}, which no catalog entry lists"
        if name in stored:
            what = f"metric {name} ({count(stored[name], 'row')})" + (f" and {what}" if leftover else "")
        confirm_or_refuse(f"Drop {what} from {shown}? This cannot be undone", yes, refused="not dropped",
                          to_go_on="drop the metric")
        kept = _drop_everywhere(settings, metric_store, name)
    finally:
        if metric_store is not None:
            metric_store.close()
    if as_json:
        emit_json({"metric": name, "store": shown, "rows": stored.get(name), "dropped": True,
                   "leftover_tables": leftover, "kept_results_deleted": kept})
        return
    click.echo(f"dropped {what} from {shown}" + ("; deleted its kept results from the lake" if kept else ""))


def _refuse_a_directory_that_is_no_lake(settings: Settings) -> None:
    """Before the store is touched: a lake setting naming a directory that is no lake (the one above it) is refused
    (:func:`~fediscope.lake.backend.require_lake_layout`), as by ``gdpr retention``. Was: the metric dropped from the
    store, the lake lock taken there (creating ``_state/``) and the real lake's kept results left behind. A missing
    lake still keeps nothing (the store alone is changed)."""
    from fediscope.config import option_origin
    from fediscope.lake.backend import open_lake, require_lake_layout

    backend = open_lake(settings.lake)
    if backend.is_dir(""):
        require_lake_layout(backend, chosen_by=option_origin(settings, "lake"), outcome="nothing was dropped")


def _drop_everywhere(settings: Settings, metric_store: MetricStore, name: str) -> bool:
    """Drop ``name`` from the store and its kept results from the lake, under the lake lock; returns whether kept
    results were deleted. A lake that does not exist keeps nothing: the store alone is changed, without a lock."""
    from fediscope.engine.metric_state import MetricSnapshots, store_id
    from fediscope.lake.backend import open_lake
    from fediscope.lake.lock import lake_lock

    backend = open_lake(settings.lake)
    if not backend.is_dir(""):
        metric_store.drop(name)
        return False
    shown = redact_url(settings.store)
    with lake_lock(backend, command="fediscope store drop"):
        metric_store.drop(name)
        return MetricSnapshots(backend, store_id(shown, settings.hbase_table_prefix), shown).drop(name)
