"""``fediscope collect``: collect public data from Mastodon instances into the raw lake."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from fediscope.cli.common import emit_json, is_terminal, json_option, say, settings_from_context
from fediscope.config import instance_base_url
from fediscope.errors import ConfigError
from fediscope.interrupts import Terminated
from fediscope.sources.spec import SOURCES_HELP, parse_source

if TYPE_CHECKING:
    from fediscope.sources.summary import CollectSummary


@click.command()
@click.option("--instance", "instances", multiple=True, metavar="URL",
              help="Instance to collect from (https://mastodon.social, or http://127.0.0.1:PORT). Repeatable. "
                   "Without it, the [[sources]] of fediscope.toml are collected.")
@click.option("--timeline", "timelines", multiple=True, metavar="SOURCE",
              help=f"What to collect from every --instance: {SOURCES_HELP}. Repeatable; default: public.")
@click.option("--max-pages", type=click.IntRange(min=1), default=None,
              help="Pages walked per source in this run (a timeline's walk resumes next run; the directory is "
                   "taken from its first page each run). Default: until caught up with the checkpoint, or down to "
                   "the backfill depth on a first run and for the directory.")
@click.option("--lake", default=None, metavar="URL", help="Lake to land into (overrides FEDISCOPE_LAKE).")
@json_option("Print the summary as JSON on stdout.")
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr (default: only when stderr is a terminal).")
def collect(instances: tuple[str, ...], timelines: tuple[str, ...], max_pages: int | None, lake: str | None,
            as_json: bool, progress: bool | None) -> None:
    """Collect from Mastodon instances into the raw lake, incrementally and resumably.

    Each timeline keeps a checkpoint in <lake>/_state/: a run fetches everything newer than it,
    walking Link-header pages; a first run walks back FEDISCOPE_BACKFILL_PAGES pages (or down to
    FEDISCOPE_BACKFILL_SINCE). Killing a run and starting it again loses nothing and lands nothing twice.
    The other sources are taken anew each run; the directory and the trending tags page by page
    (offset), up to --max-pages (default: FEDISCOPE_BACKFILL_PAGES) pages of FEDISCOPE_PAGE_LIMIT
    accounts (at most 20 tags).
    Exits 1 when a source failed (the others are still collected).

    \b
    Examples:
      fediscope collect --instance https://mastodon.social --timeline public --timeline tag:python
      fediscope collect --instance http://127.0.0.1:8765 --max-pages 5 --json   # the sample instance
    """
    if timelines and not instances:
        raise click.UsageError("--timeline needs at least one --instance (configured sources use their own "
                               "timelines)")
    settings = settings_from_context(lake=lake)
    targets = None
    if instances:
        for instance in instances:
            instance_base_url(instance)
        sources = [parse_source(t) for t in timelines or ("public",)]
        targets = [(instance, source) for instance in instances for source in sources]
    elif not settings.sources:
        raise ConfigError("nothing to collect: pass --instance URL (e.g. --instance https://mastodon.social), or "
                          "configure [[sources]] in fediscope.toml")
    from fediscope.config import option_origin
    from fediscope.lake.backend import open_lake, prepare_lake
    from fediscope.lake.key_check import check_landing_key, require_pseudonym_key
    from fediscope.privacy import policy_from_settings
    from fediscope.sources.collector import run_collection

    target_lake = open_lake(settings.lake)
    # a missing pseudonym key fails before a lake is created for nothing; for a lake landed with one, the error asks
    # for that key, not a new one
    require_pseudonym_key(settings, target_lake)
    policy_from_settings(settings)
    # a lake path that is a file fails here, before anything is fetched
    prepare_lake(target_lake, chosen_by=option_origin(settings, "lake"))
    # a key other than the lake's is refused before anything is fetched (a weak one is only warned about)
    check_landing_key(settings, target_lake, chosen_by=option_origin(settings, "lake"))
    try:
        # the failed sources' reasons are printed below (in --json, the document holds them: the log warns)
        summary = run_collection(settings, targets, max_pages=max_pages,
                                 progress=is_terminal() if progress is None else progress, failures_shown=not as_json)
    except (KeyboardInterrupt, Terminated) as exc:
        partial = getattr(exc, "collect_summary", None)
        if partial is not None:  # what was landed so far is kept: say how much, then "interrupted", exit 130/143
            _print_summary(partial, as_json)
        raise
    _print_summary(summary, as_json)
    if not summary.ok:
        sys.exit(1)


def _print_summary(summary: CollectSummary, as_json: bool) -> None:
    """The run's summary on stdout (its JSON document with ``--json``), each failed source's reason on stderr."""
    if as_json:
        emit_json(summary.to_dict())
        return
    click.echo(summary.line())
    for failed in summary.failed:  # an account's source by its digest while privacy is on, as the line names it
        named = summary.shown(failed.source)
        said = summary.said(failed.error, failed.source, failed.instance)
        say(f"failed: {failed.instance} {named}: {said}", level=logging.ERROR,
            prefix="  ", instance=failed.instance, source=named)
