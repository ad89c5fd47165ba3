"""``fediscope stream``: keep a Mastodon streaming timeline open and land what it brings into the raw lake."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from fediscope.cli.common import FiniteFloatRange, emit_json, json_option, say, settings_from_context
from fediscope.config import instance_base_url
from fediscope.errors import ConfigError
from fediscope.redact import redact_url
from fediscope.sources.spec import KINDS, SourceRef, did_you_mean, parse_source
from fediscope.wording import count

#: What ``--timeline`` of ``fediscope stream`` takes (the streaming API's public timelines).
STREAM_TIMELINES = "public, local or tag:NAME"
STREAM_KINDS = ("public", "local", "tag")


def _stream_source(text: str) -> SourceRef:
    """A ``--timeline`` of ``stream``: an unknown name is answered with what ``stream`` takes, not with the
    collector's whole list (``instance``, ``account:ACCT``, … have no stream)."""
    from fediscope.sources.stream import stream_endpoint

    if text.strip().partition(":")[0].lower() not in KINDS:
        raise ConfigError(f"unknown timeline {text!r}{did_you_mean(text, STREAM_KINDS)}; stream {STREAM_TIMELINES}")
    source = parse_source(text)
    stream_endpoint(source)  # a source without a stream is refused before anything is opened
    return source


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM end the run cleanly: what was received is landed first."""
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.command()
@click.option("--instance", required=True, metavar="URL",
              help="Instance to stream from (https://mastodon.social, or http://127.0.0.1:PORT).")
@click.option("--timeline", "timelines", multiple=True, metavar="SOURCE",
              help="public (the federated timeline), local, or tag:NAME. Repeatable: one connection each, "
                   "run side by side. Default: public.")
@click.option("--duration", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM).")
@click.option("--max-events", type=click.IntRange(min=1), default=None,
              help="Stop a stream after this many events.")
@click.option("--flush-seconds", type=FiniteFloatRange(min=0.1), default=30.0, show_default=True,
              help="Land what was received at least this often.")
@click.option("--flush-records", type=click.IntRange(min=1), default=500, show_default=True,
              help="… or as soon as this many items wait.")
@click.option("--lake", default=None, metavar="URL", help="Lake to land into (overrides FEDISCOPE_LAKE).")
@json_option("Print the summary as JSON on stdout.")
def stream(instance: str, timelines: tuple[str, ...], duration: float | None, max_events: int | None,
           flush_seconds: float, flush_records: int, lake: str | None, as_json: bool) -> None:
    """Land streaming timelines (new statuses, edits, deletions) into the raw lake as they happen.

    Statuses and edits land in raw/mastodon/statuses through the same privacy policy as `fediscope collect`;
    deletions land in raw/mastodon/status_deletions. Most instances need an access token for streams
    (FEDISCOPE_TOKEN_<INSTANCE>). A dropped connection is reopened; the run stops at --duration, --max-events,
    Ctrl-C or SIGTERM, after landing what it received. Exits 1 when a stream failed for good.

    \b
    Examples:
      fediscope stream --instance https://mastodon.social --duration 3600
      fediscope stream --instance https://fosstodon.org --timeline tag:python --timeline tag:rust --json
    """
    settings = settings_from_context(lake=lake)
    instance_base_url(instance)
    sources = [_stream_source(t) for t in timelines or ("public",)]
    names = [s.name for s in sources]
    if len(set(names)) < len(names):
        raise click.UsageError(f"--timeline: each timeline once (got {', '.join(names)})")
    from fediscope.config import option_origin
    from fediscope.lake.backend import open_lake, prepare_lake
    from fediscope.lake.key_check import check_landing_key, require_pseudonym_key
    from fediscope.privacy import policy_from_settings
    from fediscope.sources.stream import StreamRun

    target_lake = open_lake(settings.lake)
    # a missing pseudonym key fails before a lake is created for nothing; for a lake landed with one, the error asks
    # for that key, not a new one
    require_pseudonym_key(settings, target_lake)
    policy_from_settings(settings)
    # a lake path that is a file fails here, before the stream is opened
    prepare_lake(target_lake, chosen_by=option_origin(settings, "lake"))
    # a key other than the lake's is refused before the stream is opened (a weak one is only warned about)
    check_landing_key(settings, target_lake, chosen_by=option_origin(settings, "lake"))

    stop = threading.Event()
    runs = [StreamRun(settings, instance, source, duration=duration, max_events=max_events,
                      flush_records=flush_records, flush_seconds=flush_seconds, stop=stop) for source in sources]
    stops = [f"{duration:g} s"] if duration else []
    stops += [f"{count(max_events, 'event')} per timeline"] if max_events else []
    limit = f"for up to {' or '.join(stops)}" if stops else "until Ctrl-C"
    say(f"streaming {', '.join(names)} from {runs[0].summary.instance} {limit} into {redact_url(settings.lake)}")
    with _stop_on_signals(stop):
        summaries = _run_all(runs)
    ok = all(s.ok for s in summaries)
    if as_json:
        emit_json({"ok": ok, "streams": [s.to_dict() for s in summaries]})
    else:
        for summary in summaries:
            click.echo(summary.line())
        for failed in (s for s in summaries if not s.ok):  # as collect's: the reason reaches stderr's log too
            say(f"failed: {failed.instance} {failed.source}: {failed.error}", level=logging.ERROR, prefix="  ",
                instance=failed.instance, source=failed.source)
    if not ok:
        sys.exit(1)


def _run_all(runs: list[Any]) -> list[Any]:
    """Every stream in its own thread; the main thread waits in short steps, so Ctrl-C and SIGTERM reach it."""
    if len(runs) == 1:
        return [runs[0].run()]
    threads = [threading.Thread(target=run.run, name=f"stream-{run.source.name}") for run in runs]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(0.2)
    return [run.summary for run in runs]
