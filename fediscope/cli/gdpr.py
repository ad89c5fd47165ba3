"""``fediscope gdpr erase|export|retention|register``: data-subject requests and storage limitation."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

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
from fediscope.console import readable_json
from fediscope.errors import FediscopeError
from fediscope.files import atomic_out
from fediscope.wording import count

if TYPE_CHECKING:
    from fediscope.config import Settings
    from fediscope.gdpr.erase import ErasureReport

ACCOUNT_HELP = "The account, as ACCT@INSTANCE (e.g. alice@mastodon.social) or its profile link (https://mastodon.social/@alice)."


#: The mode of a ``gdpr export --out`` file: it holds one person's data (their records and rows in full), for the
#: person who asked for it alone. Was the umask's (``-rw-r--r--``: readable by every user of the machine).
PERSONAL_DATA_MODE = 0o600


def _write(out: Path, text: str, mode: int | None = None) -> None:
    """Write an --out file, in UTF-8 whatever the locale, whole or not at all (:func:`atomic_out`: a symbolic link
    at ``out`` is replaced, not written through, and the file has ``mode`` from the start when given); a path that
    cannot be written is one clear line, not a traceback."""
    with atomic_out(out, mode, error=out_error) as write:
        write(text.encode("utf-8"))


def _request_settings(warnings: list[str]) -> Settings:
    """The settings of an erasure or access export. They never read the metric files (they search the store's
    catalog), so a ``FEDISCOPE_METRICS_DIR`` that cannot be used (gone, not a directory, unreadable) does not hold
    up a request the law gives a deadline, as every other command's refusal would: it is kept for the hint about
    unlisted tables, and one warning in ``warnings`` says it was ignored."""
    def ignored(origin: str, problem: str) -> None:
        warnings.append(f"{origin} is ignored: {problem} (erasure and access export do not read metric files; "
                        "every other command refuses it)")

    return settings_from_context(unusable=ignored)


@click.group()
def gdpr() -> None:
    """Erasure, access export, retention and the processing register (GDPR)."""


@gdpr.command()
@click.option("--account", required=True, help=ACCOUNT_HELP)
@click.option("--yes", is_flag=True, help="Erase without asking (required without a terminal).")
@json_option("Print the report as JSON.")
@click.option("--progress/--no-progress", default=None,
              help="Show each pass and how far it got on stderr (default: only when stderr is a terminal).")
def erase(account: str, yes: bool, as_json: bool, progress: bool | None) -> None:
    """Remove an account from the raw lake, curated tables and store, and suppress it in later collections.

    Prints what was removed and appends an audit line (pseudonym and counts, never the clear name) to
    <lake>/_audit/erasures.jsonl. Run it when no collection is running; running it twice is harmless.
    Every metric the store lists is erased from, by the key the store recorded, also one whose SQL file is gone
    (or whose FEDISCOPE_METRICS_DIR is not set here); tables no catalog entry lists cannot be read, and a warning
    names them. The metric files (spark_jobs/sql/, FEDISCOPE_METRICS_DIR) are not read: a broken or clashing one
    does not hold the erasure up.
    Refused, touching nothing, when FEDISCOPE_PSEUDONYM_KEY is not the key the lake was landed with, and (exit 1)
    when the lake directory holds something, but none of raw/, curated/, quarantine/, _state/, _audit/: the
    directory above the lake, say (the erasure removes day-old temporary files anywhere below the lake).
    Asks for confirmation on a terminal; --yes skips the question and is required without one (exit 2).
    """
    from fediscope.gdpr.erase import check_erasable, erase_account
    from fediscope.gdpr.subject import parse_account, unknown_instance_hint
    from fediscope.step_progress import LineProgress

    user, domain = parse_account(account)  # a typo fails before anything is asked or touched
    ignored: list[str] = []
    settings = _request_settings(ignored)
    lake = check_erasable(settings, account)  # so is a missing lake or another pseudonym key than the lake's
    # asked on stderr, naming the account as it will be erased (was "this account": a profile link or a typo was
    # confirmed unseen); without a terminal only --yes goes on (was: erased unasked, so a script or a scheduled
    # task that meant another account, or a dry look, could not be stopped)
    confirm_or_refuse(f"Erase {user}@{domain} from the lake and the store? This cannot be undone", yes,
                      refused="not erased", to_go_on="erase the account")
    show = LineProgress(is_terminal() if progress is None else progress)
    warnings: list[str] = []  # the report's, gathered here: an erasure stopped by an error says them too
    try:
        report = erase_account(settings, account, lake=lake, progress=show, warnings=warnings)
    except FediscopeError:
        # before the error line (it says the erasure is unfinished and how to finish it); was: lost with the report
        _say_warnings([*ignored, *warnings])
        raise
    report.warnings[:0] = ignored  # in --json too, and on stderr once, with the others
    hint = unknown_instance_hint(lake, account) if _removed_nothing(report) else None
    if hint:  # was silent: "raw: nothing; curated: nothing" about an account held under its instance's address
        report.warnings.append(hint)
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(report.summary())
        if report.newly_suppressed:
            click.echo("added to the suppression list: later collections skip this account")
    _say_warnings(report.warnings)


def _say_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        say(warning, level=logging.WARNING, prefix="fediscope: warning: ")


#: What every erasure changes, found of the account or not (:func:`_removed_nothing`).
_ANY_ERASURE = frozenset({"metric_snapshots", "old_reply_records_scrubbed", "old_reply_rows_scrubbed",
                          "content_rows_recounted"})


def _removed_nothing(report: ErasureReport) -> bool:
    """Did the erasure find nothing of the account? (``metric_snapshots`` are dropped, and the reply ids an older
    release kept scrubbed, by every erasure, whoever it is for: :mod:`fediscope.gdpr.old_replies`; so are the
    content columns of rows whose text an earlier erasure rewrote: :mod:`fediscope.gdpr.texts`.)"""
    other = {k: v for k, v in report.other.items() if k not in _ANY_ERASURE}
    return not report.unfinished_writes and not any((*report.raw.values(), *report.curated.values(),
                                                     *report.store.values(), *other.values()))


@gdpr.command()
@click.option("--account", required=True, help=ACCOUNT_HELP)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON here (default: stdout).")
def export(account: str, out: Path | None) -> None:
    """Everything held about one account, as JSON (right of access).

    Searches every metric the store lists, by the key the store recorded, not the metric files: a broken or
    clashing one (spark_jobs/sql/, FEDISCOPE_METRICS_DIR) does not hold the answer up. Tables no catalog entry
    lists cannot be read, and a warning names them.
    After an erasure of the account was stopped, it also starts from what that erasure kept
    (<lake>/_state/erasing_traces.json, only the account's entries; read, never written) and says "erasing": true.
    Refused when FEDISCOPE_PSEUDONYM_KEY is not the key the lake was landed with (nothing would be found), and
    (exit 1, nothing created) when the lake directory holds something, but none of raw/, curated/, quarantine/,
    _state/, _audit/: the directory above the lake, say.
    Holds the lake lock while it reads, so an erasure cannot finish in between: while another run (process,
    gdpr erase, retention, another export) holds it, it stops at once with one line naming it (exit 1).
    """
    from fediscope.gdpr.export import export_account, holds_nothing
    from fediscope.gdpr.subject import unknown_instance_hint
    from fediscope.lake.backend import open_lake

    ignored: list[str] = []
    settings = _request_settings(ignored)
    for warning in ignored:
        say(warning, level=logging.WARNING, prefix="fediscope: warning: ")
    exported = export_account(settings, account)
    if out is None:
        click.echo(readable_json(exported, indent=2, sort_keys=True, default=str))
    else:
        _write(out, json.dumps(exported, indent=2, sort_keys=True, default=str, ensure_ascii=False) + "\n",
               mode=PERSONAL_DATA_MODE)
        say(f"wrote {out}")
    hint = unknown_instance_hint(open_lake(settings.lake), account) if holds_nothing(exported) else None
    if hint:  # was silent: an answer "nothing held" about an account the lake holds under its instance's address
        say(hint, level=logging.WARNING, prefix="fediscope: warning: ")


@gdpr.command()
@click.option("--dry-run", is_flag=True, help="Only list the partitions and files that would be deleted.")
@json_option("Print the summary as JSON.")
def retention(dry_run: bool, as_json: bool) -> None:
    """Delete lake partitions older than FEDISCOPE_RETENTION_RAW_DAYS / FEDISCOPE_RETENTION_CURATED_DAYS.

    Raw and quarantine partitions are dated by collection (FEDISCOPE_RETENTION_RAW_DAYS); the curated statuses and
    hashtags by the day each status was posted (FEDISCOPE_RETENTION_CURATED_DAYS), which also removes the latest
    snapshot of each account not fetched within it; instance activity, tag trends, peers (per instance) and the
    deletions are not dated and are kept. Deleted curated days and accounts leave the store at the next
    `fediscope process`, whose curation leaves them out too (also when it rebuilds or curates old raw files).

    Also removes the hidden temporary files that interrupted writes left in the lake (fediscope's own and the NiFi
    flows' in-flight dot-files), once a day old.

    Refused (exit 1, nothing touched) when the lake directory holds something, but none of raw/, curated/,
    quarantine/, _state/, _audit/: the directory above the lake, say.
    """
    from fediscope.gdpr.retention import apply_retention
    from fediscope.lake.backend import open_lake, require_lake_layout

    settings = settings_from_context()
    lake = open_lake(settings.lake)
    # pruning a lake that is not there must not create one (its lock lives in the lake), nor walk and prune a
    # directory that is no lake (the one above it: its temporary files are removed at any depth)
    require_lake_layout(lake, chosen_by=settings.origin("lake", advice=True))
    summary = apply_retention(settings, dry_run=dry_run, lake=lake)
    if as_json:
        emit_json(summary.as_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    for partition in summary.deleted:
        click.echo(f"{verb} {partition.path} ({count(partition.files, 'file')}, {count(partition.bytes, 'byte')})")
    for path in summary.skipped:
        say(f"skipped {path}: the dt= value is not a date; left alone", level=logging.WARNING,
            prefix="fediscope: warning: ")
    totals = summary.totals()
    shown = [f"{layer} {count(t['partitions'], 'partition')}" for layer, t in sorted(totals.items())]
    accounts = summary.accounts
    if accounts.removed:
        shown.append(f"{count(accounts.removed, 'account snapshot')} last fetched before {accounts.fetched_before}")
    click.echo(f"retention (raw {_kept(summary.raw_days)}, curated {_kept(summary.curated_days)}): "
               f"{verb} {', '.join(shown) or 'nothing'}")
    gone = " and ".join(what for what, found in (("the deleted days", "curated" in totals),
                                                 ("the removed accounts", accounts.removed)) if found)
    if gone:  # was unsaid: the store still showed the deleted days, as if retention had not run
        click.echo(f"the store and the kept metric results {'would keep' if dry_run else 'keep'} {gone} "
                   "until the next `fediscope process`, which recomputes every metric")
    if summary.curated_days:
        click.echo("instance activity, tag trends, peers (per instance) and the deletions are not dated: kept")
    temporary = summary.temporary_files
    for path in temporary.paths if dry_run else ():
        click.echo(f"would remove {path} (a stale temporary file)")
    click.echo(temporary.describe())
    for failure in temporary.failed:
        say(f"could not remove the temporary file {failure}", level=logging.WARNING, prefix="fediscope: warning: ")


def _kept(days: int) -> str:
    """``90`` → ``90 days``; ``0`` (the setting's 'keep forever') → ``kept forever``."""
    return count(days, "day") if days else "kept forever"


@gdpr.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the Markdown here "
              "(default: stdout).")
def register(out: Path | None) -> None:
    """Write the processing register (Markdown) from the active privacy policy and configuration."""
    from fediscope.gdpr.register import build_register
    from fediscope.lake.backend import open_lake

    settings = settings_from_context()
    text = build_register(settings, lake=open_lake(settings.lake))
    if out is None:
        click.echo(text, nl=False)
        return
    _write(out, text)
    say(f"wrote {out}")
