"""``fediscope sample-instance``: serve a generated corpus as a Mastodon-compatible instance on 127.0.0.1."""

from __future__ import annotations

import errno
import ipaddress
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import click

from fediscope.cli.common import FiniteFloatRange, configure_logging, say
from fediscope.config import load_settings_only
from fediscope.sample import MAX_GROW_PER_MINUTE
from fediscope.timestamps import DAY_RE

#: ``--end`` as its help spells it: ``YYYY-MM-DD``, optionally ``THH:MM`` and a UTC offset (``Z``, ``+05:30``).
#: ``datetime.fromisoformat`` alone also takes ``20261101``, week dates (``2026-W44-1``), ``2026-11-01 12`` and
#: seconds, none of which the help or the error describes.
END_RE = re.compile(DAY_RE.pattern + r"(?:T[0-9]{2}:[0-9]{2}(?:Z|[+-][0-9]{2}:[0-9]{2})?)?")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_end(text: str | None) -> datetime | None:
    """``now`` → the current hour (UTC); ``YYYY-MM-DD[THH:MM]`` (see :data:`END_RE`) → that moment in UTC; None →
    the default.

    An end later than tomorrow (UTC) is refused: the corpus' statuses would be dated in the future, their snowflake
    ids ahead of any real instance's (past 64 bits from the year 6429), and the statuses ``--grow`` adds now would get
    ids above them, out of step with their ``created_at``."""
    if text is None:
        return None
    spelled = text.strip()
    if spelled.lower() == "now":
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        if not END_RE.fullmatch(spelled):
            raise ValueError(spelled)
        moment = datetime.fromisoformat(spelled)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not 'now' or a date such as 2026-11-01 or 2026-11-01T12:00",
                                 param_hint="--end") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    from fediscope.sample.corpus import DEFAULT_WINDOW

    try:
        moment - 2 * DEFAULT_WINDOW  # the corpus window and its accounts' sign-ups lie before the end
    except OverflowError:
        raise click.BadParameter(f"{text!r} is too early: the corpus covers the {DEFAULT_WINDOW.days} days before "
                                 "it", param_hint="--end") from None
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    if moment >= datetime.combine(tomorrow + timedelta(days=1), datetime.min.time(), tzinfo=UTC):
        raise click.BadParameter(f"{text!r} is later than tomorrow ({tomorrow.isoformat()} UTC): the corpus would "
                                 "hold statuses from the future; give an earlier date, or 'now'",
                                 param_hint="--end") from None
    return moment


@click.command("sample-instance")
@click.option("--statuses", "n_statuses", type=click.IntRange(min=0), default=5000, show_default=True,
              help="How many statuses to generate.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the generator: the same seed serves the same corpus, byte for byte.")
@click.option("--accounts", "n_accounts", type=click.IntRange(min=1), default=None,
              help="How many accounts to generate (default: about one per six statuses).")
@click.option("--end", default=None, metavar="now|YYYY-MM-DD[THH:MM]",
              help="End of the corpus' 14-day window (UTC; a time may carry an offset, Z or +01:00), at the latest "
                   "tomorrow. Default: a fixed date, so a seed always serves the same corpus; 'now' makes it end at "
                   "the current hour.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Keep a loopback address: the sample instance is for local use.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0 picks a free one).")
@click.option("--grow", "grow_per_minute", type=FiniteFloatRange(min=0, max=MAX_GROW_PER_MINUTE), default=0.0,
              show_default=True,
              help=f"Add this many new statuses per minute while running, to demonstrate incremental collection "
                   f"(at most {MAX_GROW_PER_MINUTE}).")
@click.option("--rate-limit", type=click.IntRange(min=1), default=300, show_default=True,
              help="Requests per window advertised in X-RateLimit-Limit (Mastodon: 300 per 5 minutes).")
@click.option("--rate-period", type=click.IntRange(min=1), default=300, show_default=True,
              help="Length of a rate-limit window in seconds.")
@click.option("--enforce-rate-limit", is_flag=True,
              help="Answer 429 Too Many Requests past the limit, as Mastodon does (off: headers only).")
@click.option("--log-level", default="warning", show_default=True,  # any case; shown as click lists the choices
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="debug logs every request.")
def sample_instance(n_statuses: int, seed: int, n_accounts: int | None, end: str | None, host: str, port: int,
                    grow_per_minute: float, rate_limit: int, rate_period: int, enforce_rate_limit: bool,
                    log_level: str) -> None:
    """Serve a generated corpus as a Mastodon-compatible instance, until Ctrl-C.

    The instance answers the public read API (public/local/hashtag/account timelines with Link-header
    paging, account lookup, instance v1/v2, activity, peers, trending tags, directory) with rate-limit
    headers like a real Mastodon server, so the whole pipeline can run offline. Collect from it with:

    \b
      fediscope sample-instance --statuses 5000 &
      export FEDISCOPE_PSEUDONYM_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
      export FEDISCOPE_BACKFILL_PAGES=1000   # the whole corpus: a first run walks back 10 pages by default
      fediscope collect --instance http://127.0.0.1:8765 --timeline local

    Keep the key for as long as you use the lake: a lake refuses landings and GDPR requests with another key.
    A first run that stops at FEDISCOPE_BACKFILL_PAGES leaves the older statuses uncollected for good.
    """
    from fediscope.errors import ConfigError
    from fediscope.sample.instance import SampleInstance
    from fediscope.sample.server import SampleServer

    # FEDISCOPE_LOG_FORMAT alone: this stand-in for an instance reads no other setting (the level is --log-level)
    configure_logging(log_level, fmt=load_settings_only(["log_format"]).log_format)
    if not _loopback(host):
        say(f"binding {host}, not a loopback address: anyone who can reach it can read the sample corpus",
            level=logging.WARNING, prefix="fediscope: warning: ")
    started = time.monotonic()
    instance = SampleInstance.generate(n_statuses, seed, n_accounts=n_accounts, end=_parse_end(end))
    try:
        server = SampleServer(instance, host, port, rate_limit=rate_limit, rate_period=rate_period,
                              enforce_rate_limit=enforce_rate_limit, grow_per_minute=grow_per_minute)
    except OSError as exc:
        fix = ("pick another --port (or --port 0 for a free one)" if exc.errno in (errno.EADDRINUSE, errno.EACCES)
               else "use an IPv4 address of this machine for --host, such as 127.0.0.1")
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {fix}") from None
    public = len(instance.public_timeline_ids())
    accounts = len(instance.accounts)
    click.echo(f"sample instance {instance.home} serving {n_statuses} statuses ({public} on the public timeline) "
               f"by {accounts} account{'' if accounts == 1 else 's'}, generated in {time.monotonic() - started:.1f} s")
    click.echo(server.url)
    if grow_per_minute:
        click.echo(f"growing by {grow_per_minute:g} statuses per minute")
    say("Ctrl-C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.httpd.server_close()
