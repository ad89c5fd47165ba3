"""The collector: incremental, resumable collection of several sources from several instances into the raw lake.

**How a paged source (a timeline) is walked.** Each (instance, source) has a checkpoint in ``<lake>/_state/``
holding ``newest_id``, the newest status id whose whole history down to the previous checkpoint is landed.
A run walks a *gap*: from the newest status down to the checkpoint, page by page, newest first, with
``since_id=<checkpoint>`` and ``max_id=<cursor>``, the oldest status id of the page above (the ``Link`` header's
``max_id`` only for a page without one). The first run has no checkpoint: it walks back ``backfill_pages``
pages, or down to ``backfill_since``; where it ended (the timeline's end, the since-date, cut by the depth, or
``backfill_pages = 0``: from now) and the oldest status it landed are recorded once, in
``<lake>/_state/<domain>/start/`` (:func:`~fediscope.lake.state.save_walk_start`): whether the first day
collected is whole. A cursor must lie below the one before it: when paging cannot go on
before the gap is closed (the instance ignores ``max_id`` and answers the same statuses again, or a page without
ids has no Link below it), the source fails with "paging stalled at max_id=…", its walk kept for the next run.

**Why it survives a kill at any moment.** ``newest_id`` cannot move until the whole gap is landed (moving it
earlier would skip the rest of the gap forever), so the walk in progress is persisted in the checkpoint's
``extra`` (``{"walk": {"lower", "upper", "cursor", "pages"}}``) after every page is durable, and a run resumes
an unfinished walk where it stopped. Batch ids are deterministic per page — source, ``lower`` and the page's
``max_id`` cursor (``head`` for the first page); with privacy on, a keyed digest of those ids, which may be
those of statuses skipped for their author (:func:`_page_name`) — and batch files are written atomically, so a
page landed just before a kill (its cursor not yet saved) is fetched again and *overwrites* the same file instead
of adding a second copy. Hence no status is lost and none lands twice in the same partition (``dt`` is the fetch day: a
page re-fetched on another day lands in that day's partition; curation deduplicates by URI).

**No state file names a status the lake does not keep.** With its instance a status id names its author, so the
ids a walk saves (``newest_id``, the walk's ``upper`` and ``cursor``, the settle mark) are never those of the
statuses the privacy policy skips for whose they are — an erased (suppressed) or opted-out account's, and boosts
of them: such an id is saved lower (``cursor``: higher), at the page's nearest other status or the first snowflake
of its minute (the next minute for a cursor), whichever is nearer, by the functions ``gdpr erase`` moves them with
(:func:`~fediscope.gdpr.cursors.moved_down`, :func:`~fediscope.gdpr.cursors.moved_up`), through
:mod:`fediscope.sources.withheld`, as the scraping API's cursors are. That only fetches some of the skipped statuses
again; the walk itself pages on with the real ids.

Two known limits of Mastodon paging: statuses of remote servers that arrive late with an id below the checkpoint
are not seen by ``since_id`` walks; and on a *first* run killed while landing the very first page, the resumed
run starts from the newest status again, so its backfill depth is counted from the new top.

**The refresh pass** (opt-in, ``refresh_hours > 0``). A status is landed once, with its engagement counts as of
that fetch, minutes after it was posted. After a gap walk has caught up, the run walks down again from the
checkpoint it started with (``max_id`` just above it, no ``since_id``; for a text id, which has no next id, just
below the lowest status the gap walk landed above it, or, when it landed none, from the newest page, leaving out
the statuses above the checkpoint) and lands again the statuses created in the last
``refresh_hours`` (at most ``refresh_max_pages`` pages, and no more than what ``max_pages`` leaves of the run's
page budget); curation keeps the latest fetch, so their counts become current. The pass never moves the
checkpoint and its batch ids carry the run's start time. It is best effort: when it fails, the source still
counts as collected (its new statuses are landed and its checkpoint saved); the error is reported as the
source's ``refresh_error`` and the next run refreshes the same window again.

**The settle pass** (opt-in, ``settle_hours > 0``). The refresh pass keeps a *window* current, which on a busy
timeline is only the last minutes. The settle pass instead lands every status once more when it is
``settle_hours`` old, so each one has counts taken at the same age, and busy timelines cost one extra request
per 40 statuses. After the gap walk (and the refresh pass) it walks up from its own mark, oldest first
(``min_id``), lands the statuses at least ``settle_hours`` old and moves the mark past them; it stops at the
first younger status (at most ``settle_max_pages`` pages, within what ``max_pages`` leaves). The mark is kept
in ``<lake>/_state/<domain>/settle/``; on a source collected before, it starts at the statuses posted
``settle_hours`` before the run that first has the pass on (found by their snowflake ids; at that run's
checkpoint for other ids), and on a source's very first run below the backfilled statuses still younger than
``settle_hours`` (for text ids, at the status landed just below them).
Best effort, like the refresh pass (its error is reported in ``refresh_error``).

Snapshot sources (instance, activity, peers, trends, directory, account lookup) are taken anew each run, without a
checkpoint: one answer each, except the directory and the trending tags, which Mastodon pages by ``offset``: they
are walked from their first page to their end or the run's page budget (``--max-pages``; without it
``backfill_pages``), each page its own batch (Mastodon 3.0–3.4's trending tags, ``/api/v1/trends``: one page).

**Local accounts** are keyed by the instance's handle domain when it is a proper parent domain of the host
connected to (``social.example.com`` serving ``@alice@example.com``; see :mod:`fediscope.privacy`): it is learned
once per instance and run, before that instance's first page is landed, from the instance document — the one
the ``instance`` source fetched when that comes first, else one extra request, made only for hosts that can have
such a parent. A settled answer is remembered in ``<lake>/_state/handle_domains.json``; when the document
cannot be had, the remembered handle domain is used (:mod:`fediscope.sources.handle_domains`), and without one
the instance's local accounts are keyed by the domain connected to, as before. With privacy off it is learned
all the same: records are keyed as collected then, but an account erased under either of its names (the handle's
or the served domain's) is skipped under both (:meth:`~fediscope.privacy.PrivacyPolicy.skip_reason`), and an
erasure by the handle finds the records keyed by the served domain once the lake remembers it. With privacy on too,
an account erased under one name is skipped under the other, looked up by its clear handle before it is
pseudonymised (:meth:`~fediscope.privacy.PrivacyPolicy.is_erased`). Every handle domain the lake remembers is
registered with the policy before anything lands (with privacy on only for that look-up and to note an opted-out
account under its other name too: :func:`~fediscope.sources.handle_domains.preload_handle_domains`; while anybody
was erased, a memory that cannot be read refuses the run there, before any request, naming the file and its
fix), and when anybody was erased the handle domain of every host of the run that can have one is learned before
its first source is collected, so that holds on another instance collected before the split-domain one too, even in
the first run after the erasure.
A source that keeps failing is reported in the summary and the others go on; malformed upstream data is counted,
logged with its endpoint and quarantined under ``<lake>/quarantine/``. Each request is cut when its answer is not
complete after ``REQUEST_DEADLINE_FACTOR`` × ``request_timeout`` (an instance dribbling its answer would
otherwise hold the run as long as it likes); that fails the source, not retried, and the next run resumes.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fediscope.config import Settings, instance_base_url, instance_domain
from fediscope.errors import ConfigError, FediscopeError, LakeError, UpstreamError
from fediscope.gdpr.opt_outs import PendingNotes
from fediscope.gdpr.suppression import load_suppressed, names_an_erased_account
from fediscope.interrupts import Terminated, raise_if_lost
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import new_batch_id, state_path
from fediscope.lake.lock import shown_path
from fediscope.lake.state import (
    SETTLE_PASS,
    Checkpoint,
    StateListing,
    UnreadableCheckpoint,
    adopt_spelling,
    list_state,
    load_checkpoint,
    load_pass_mark,
    save_checkpoint,
    save_pass_mark,
    save_walk_start,
    source_batch_tag,
    source_for_logs,
    spellings_kept,
    text_for_logs,
)
from fediscope.privacy import PrivacyPolicy, may_have_handle_domain, policy_from_settings
from fediscope.redact import secret_values
from fediscope.sources.client import MalformedResponse, MastodonClient, instance_down
from fediscope.sources.handle_domains import handle_domain_for_run, preload_handle_domains
from fediscope.sources.internal_error import internal_error_text
from fediscope.sources.pages import (
    Page,
    fetch_handle_domain,
    fetch_page,
    id_key,
    is_number_id,
    land_page,
    page_size,
    placed_against,
    same_id_kind,
    usual_ids,
    usual_is_number,
    well_formed_ids,
)
from fediscope.sources.progress import Progress
from fediscope.sources.quarantine import quarantine_body, quarantine_items
from fediscope.sources.spec import SourceRef, parse_source
from fediscope.sources.spellings import on_instance, other_spellings
from fediscope.sources.summary import MAX_PAGES_OPTION, CollectSummary, SourceResult, advised_settings
from fediscope.sources.walk_lock import remove_walk_lock, source_walk_lock, walk_lock_name, walk_lock_tag
from fediscope.sources.withheld import Withheld
from fediscope.timestamps import is_snowflake, parse_iso, snowflake, to_ms
from fediscope.wording import count

log = logging.getLogger(__name__)

#: A page whose body is not JSON is fetched this many times (each bad body quarantined) before giving up.
MALFORMED_ATTEMPTS = 3
#: Each upstream request is cut (not retried) when its answer is not complete after this many times
#: ``request_timeout``: that one bounds each wait for the network, so a server sending a byte now and then never
#: trips it. The waits for rate limits and between retries do not count.
REQUEST_DEADLINE_FACTOR = 4


@dataclass
class Walk:
    """A gap being walked: ids in (``lower``, ``upper``], next page below ``cursor`` (None: the first page)."""

    lower: str | None
    upper: str | None = None
    cursor: str | None = None
    pages: int = 0

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> Walk:
        saved = (checkpoint.extra or {}).get("walk")
        if (isinstance(saved, dict) and isinstance(saved.get("pages", 0), int)
                and all(saved.get(k) is None or isinstance(saved.get(k), str) for k in ("lower", "upper", "cursor"))):
            return cls(saved.get("lower"), saved.get("upper"), saved.get("cursor"), saved.get("pages") or 0)
        if saved is not None:
            log.warning("ignoring an unreadable walk in the checkpoint; starting a new walk")
        return cls(lower=checkpoint.newest_id)


@dataclass
class _Context:
    settings: Settings
    lake: LakeBackend
    policy: PrivacyPolicy
    progress: Progress
    max_pages: int | None
    #: how messages name ``max_pages``, as the caller's user sets it (``--max-pages``; the Airflow Variable's key)
    max_pages_named: str = MAX_PAGES_OPTION
    #: the caller prints each failed source's reason itself (``fediscope collect``'s ``failed:`` lines)
    failures_shown: bool = False
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: (domain, source) → the oldest status a source's first run landed while it was younger than
    #: ``settle_hours``: where the settle pass starts (the older ones were already settled when first landed)
    settle_from: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (domain, source) → the status that first run landed just below its ``settle_from`` (old enough then): where
    #: the settle pass starts for a text id, which has no "just below" a server is sure to take
    settle_below: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (domain, source) → the lowest status this run's gap walks met above the checkpoint the run started with:
    #: the ``max_id`` of the refresh pass's first page for a text id, which has no "just above" (see _refresh)
    refresh_below: dict[tuple[str, str], str] = field(default_factory=dict)
    #: domain → its handle domain (None: its local accounts are keyed by the domain itself), learned this run
    handle_domains: dict[str, str | None] = field(default_factory=dict)
    #: the opted-out accounts noted in the lake this run, while their notes are pending (see run_collection)
    opt_outs: PendingNotes = field(default_factory=lambda: PendingNotes("collect"))
    #: domain → its ``_state/<domain>/`` as listed once this run (:func:`_state_listing`), where account sources'
    #: other spellings are looked for (:func:`_adopt_spelling`), and what spares every source's checkpoint load and
    #: saves (:func:`~fediscope.lake.state.load_checkpoint`) and settle mark load their questions to the lake; listed
    #: again after a source adopted one (it changed the folder)
    state_listings: dict[str, StateListing] = field(default_factory=dict)
    #: domain → why the instance is left alone for the rest of the run
    #: (:func:`~fediscope.sources.client.instance_down`): a source of it outlasted its retries on answers that say the
    #: whole server is down
    unavailable: dict[str, str] = field(default_factory=dict)

    def named(self, source: SourceRef) -> str:
        """How the run's messages (log lines, progress lines, the summary line) name ``source``: one naming an
        account by its digest while privacy is on (:func:`~fediscope.lake.state.source_for_logs`, the name the
        Airflow task is labelled by: :func:`fediscope.orchestration.logged_source`), so that the handle reaches
        no log; any other source, and every source with privacy off, as it is written."""
        return source_for_logs(source.name, self.policy) if self.policy.enabled else written(source)

    def said(self, text: object, source: SourceRef, domain: str) -> str:
        """``text`` (an error about ``source``, collected from the instance ``domain``) with the source and its
        handle named as :meth:`named` names them (:func:`~fediscope.lake.state.text_for_logs`): an error, or an
        instance's answer, may quote the handle, also as written with the instance's domain (or its handle
        domain, once learned) when the source's has none (``alice@mastodon.social`` of ``account:alice``)."""
        if not self.policy.enabled:  # named as written, handle and all
            return str(text)
        handle_domain = self.handle_domains.get(domain)
        return text_for_logs(str(text), source.name, self.named(source),
                             (domain, handle_domain) if handle_domain else domain)


#: why an ``account:`` source naming an erased account is skipped, in the summary (never naming the account)
ERASED_SOURCE_REASON = "names an erased account (on the suppression list): remove it from the sources"


def resolve_targets(settings: Settings, targets: list[tuple[str, SourceRef]] | None) -> list[tuple[str, SourceRef]]:
    """The explicit targets, or every (instance, timeline) of the configured ``[[sources]]``, each account source as
    collected from its instance (:func:`~fediscope.sources.spellings.on_instance`), a source given twice (also in two
    spellings) once, as first written; ConfigError for a bad address or an access token that cannot be sent
    (:meth:`~fediscope.config.Settings.token_for`)."""
    if targets is None:
        targets = [(spec.instance, parse_source(t)) for spec in settings.sources for t in spec.timelines]
        if not targets:
            raise ConfigError("nothing to collect: pass --instance URL (and --timeline …), or configure "
                              "[[sources]] in fediscope.toml")
    unique: dict[tuple[str, str], tuple[str, SourceRef]] = {}
    for instance, source in targets:
        instance_base_url(instance)  # ConfigError for a bad address
        settings.token_for(instance)  # and for a token that cannot be sent: before any request
        source = on_instance(source, instance_domain(instance))
        unique.setdefault((instance_domain(instance), source.name), (instance, source))
    return list(unique.values())


def written(source: SourceRef) -> str:
    """``source`` as it was written (what ``--json`` names it by), also where it was collected under another
    spelling (:func:`~fediscope.sources.spellings.on_instance`)."""
    return source.written or source.name


def run_collection(settings: Settings, targets: list[tuple[str, SourceRef]] | None = None, *,
                   max_pages: int | None = None, progress: bool | None = None,
                   failures_shown: bool = False, max_pages_named: str = MAX_PAGES_OPTION) -> CollectSummary:
    """Collect every target (default: ``settings.sources``) once; see the module docstring.

    ``max_pages`` bounds the pages walked per source in this run (the walk resumes next run); ``max_pages_named``
    is how the summary, the log lines and a refusal name it where they say to raise it: ``fediscope collect``'s
    option by default, the Airflow Variable's key for an Airflow task (whose user has no option). Raises
    :class:`ConfigError` before any request when there is nothing to collect, no pseudonym key, or a target's
    access token cannot be sent as it is written. ``failures_shown``: the caller prints each failed source's reason
    itself (``fediscope collect``), so the collector logs it at INFO instead of WARNING, not twice at the default
    level; an Airflow task's log, which has no such line, keeps the warning.

    Interrupted (Ctrl-C, SIGTERM), it re-raises with the summary of what was collected so far, marked
    ``interrupted``, as the exception's ``collect_summary`` attribute, so the caller can still print it.
    """
    started = time.monotonic()
    targets = resolve_targets(settings, targets)
    if max_pages is not None and max_pages < 1:
        raise ConfigError(f"{max_pages_named} must be at least 1 (got {max_pages})")
    lake = open_lake(settings.lake)
    policy = policy_from_settings(settings, suppressed=load_suppressed(lake))
    # an erased account's other name, whatever the order; while anybody is erased, a memory that cannot be read
    # refuses the run here, before any request (LakeError), as the scraping API answers 503 then
    preload_handle_domains(lake, policy, settings.origin("lake"))
    reporter = Progress(sys.stderr.isatty() if progress is None else progress)
    ctx = _Context(settings, lake, policy, reporter, max_pages, max_pages_named, failures_shown=failures_shown)
    clients: dict[str, MastodonClient] = {}
    stats: Counter[str] = Counter()
    results: list[SourceResult] = []
    shown_as: dict[str, str] = {}  # how the summary line names a source naming an account (_Context.named)
    # each instance's client is closed after its last source: keeping a connection (and its watchdog's duplicate)
    # open per instance until the end would exhaust the file descriptors of a run over hundreds of instances
    targets = list(targets)
    interrupted: BaseException | None = None
    current: SourceResult | None = None  # the source being collected: a stop cuts it short (status "interrupted")

    def client_for(instance: str) -> MastodonClient:
        domain = instance_domain(instance)
        if domain not in clients:
            clients[domain] = MastodonClient.from_settings(
                settings, instance, on_wait=reporter.wait,
                attempt_deadline=REQUEST_DEADLINE_FACTOR * settings.request_timeout)
        return clients[domain]

    try:
        targets = _on_handle_domains(ctx, targets, client_for)
        last_of = {instance_domain(instance): i for i, (instance, _source) in enumerate(targets)}
        for index, (instance, source) in enumerate(targets):
            domain = instance_domain(instance)
            client_for(instance)
            result = current = SourceResult(domain, written(source))
            results.append(result)
            if (named := ctx.named(source)) != result.source:
                shown_as[result.source] = named
            if domain in ctx.unavailable:
                _not_tried(ctx, source, result)
            elif names_an_erased_account(ctx.policy, source, domain, ctx.handle_domains.get(domain)):
                # nothing of it would land, but its checkpoint would come back: the erasure removed it as a trace.
                # Named as the run's other lines name it (``named`` above): by its keyed digest while privacy is on,
                # as logs end up in Airflow's; with privacy off as written, as the task's label and the sources list
                log.warning("source %s %s names an erased account (on the suppression list): not collected; "
                            "remove it from the sources", domain, named)
                result.status, result.reason = "skipped", ERASED_SOURCE_REASON
                reporter.done(f"{domain} {named}", "not collected: an erased account")
            else:
                _collect_source(ctx, clients[domain], source, result)
            current = None
            if last_of[domain] == index:
                clients[domain].close()
    except (KeyboardInterrupt, Terminated) as exc:  # what was landed is kept: the summary says how much
        interrupted = exc
        if current is not None and current.status == "ok":  # one that failed before the stop is said as failed
            current.status = "interrupted"
    finally:  # also when a run is interrupted: no connection of it is left open
        for client in clients.values():
            client.close()
            stats.update(client.stats)
    summary = CollectSummary(results, seconds=time.monotonic() - started,
                             rate_limit_waits=stats["rate_limit_waits"],
                             rate_limit_wait_seconds=stats["rate_limit_wait_ms"] / 1000,
                             retries=stats["retries"], requests=stats["requests"],
                             interrupted=interrupted is not None, planned=len(targets),
                             max_pages_named=max_pages_named, settings_named=advised_settings(settings),
                             shown_as=shown_as,
                             handle_domains={d: h for d, h in ctx.handle_domains.items() if h})
    log.info("%s", summary.line())
    if interrupted is not None:
        interrupted.collect_summary = summary  # type: ignore[attr-defined]
        raise interrupted
    return summary


# -- paged sources ------------------------------------------------------------------------------------------
def _collect_source(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult) -> None:
    """Collect one source into ``result``; its failure is recorded there, never raised (other sources go on)."""
    domain, named = client.domain, ctx.named(source)
    try:
        with source_walk_lock(ctx.lake, domain, source.name, walk_lock_tag(ctx.policy, source)):
            _adopt_spelling(ctx, domain, source)
            if source.paged:
                _collect_walk(ctx, client, source, result)
            else:
                _collect_snapshot(ctx, client, source, result)
    except FediscopeError as exc:
        result.status, result.error = "failed", str(exc)
        said = ctx.said(exc, source, domain)
        if instance_down(exc):  # as this source's lines say it: another source's lines must not name its account
            ctx.unavailable[domain] = said
        _log_failure(ctx, domain, named, said)
    except Exception as exc:  # a bug or surprise in one source must not stop the others
        # the summary is printed, not logged: masked and on one line here (the log handler masks the traceback)
        result.status, result.error = "failed", internal_error_text(exc, ctx.settings)
        with _traceback_said(lambda text: ctx.said(text, source, domain)):
            log.exception("source %s %s failed unexpectedly", domain, named)
    # the opted-out accounts met, so the next curation erases what was landed of them before (gdpr.opt_outs)
    ctx.opt_outs.note(ctx.lake, ctx.policy.opted_out)
    ctx.progress.done(f"{domain} {named}", "failed: " + ctx.said(result.error, source, domain) if result.error else
                      f"{count(result.pages, 'page')}, {result.landed} landed"
                      + (f", {result.refreshed} refreshed" if result.refreshed else "")
                      + (f", {result.settled} settled" if result.settled else "")
                      + (f", refresh failed: {ctx.said(result.refresh_error, source, domain)}" if result.refresh_error
                         else "")
                      + _more_note(ctx, source, result))


def _not_tried(ctx: _Context, source: SourceRef, result: SourceResult) -> None:
    """Record ``source`` as failed without a request: its instance was found down earlier in the run."""
    domain, named = result.instance, ctx.named(source)
    reason = ctx.said(ctx.unavailable[domain], source, domain)
    result.status = "failed"
    result.error = f"not tried: {domain} was unavailable earlier in this run ({reason}); the next run tries again"
    _log_failure(ctx, domain, named, result.error)
    ctx.progress.done(f"{domain} {named}", "failed: " + result.error)


def _log_failure(ctx: _Context, domain: str, named: str, said: str) -> None:
    """A failed source's log line: INFO where a line says it already (on a terminal the progress line, and the
    summary lists it again; the caller's own line when it prints one, fediscope collect's `failed:` lines), else
    WARNING."""
    log.log(logging.INFO if ctx.progress.enabled or ctx.failures_shown else logging.WARNING,
            "source %s %s failed: %s", domain, named, said)


def _on_handle_domains(ctx: _Context, targets: list[tuple[str, SourceRef]],
                       client_for: Callable[[str], MastodonClient]) -> list[tuple[str, SourceRef]]:
    """``targets`` with each account source of a host that may have a handle domain taken as collected there once
    that domain is known (:func:`~fediscope.sources.spellings.on_instance`: ``account:alice@example.com`` of
    social.example.com is ``account:alice``), a source met twice so (also as written before) once. The handle
    domain of such a host is learned first (:func:`_handle_domain`): its account sources' state kept under the
    spelling with it is adopted too (:func:`_adopt_spelling`). When anybody was erased, the handle domain of every
    such host of the run is learned first, whatever its sources: an account erased under one of its names (say
    ``alice@social.example.com``, before the lake knew that server's handles are ``@alice@example.com``) is then
    left out under the other on an instance the run reaches before its home one (:meth:`~fediscope.privacy.
    PrivacyPolicy.is_erased`). That is one request per such host and run, as before; only an ``instance`` source of it
    no longer saves it."""
    unique: dict[tuple[str, str], tuple[str, SourceRef]] = {}
    for instance, source in targets:
        domain = instance_domain(instance)
        if (source.names_an_account or ctx.policy.suppressed) and may_have_handle_domain(domain):
            handle_domain = _handle_domain(ctx, client_for(instance))
            if source.names_an_account:
                source = on_instance(source, domain, handle_domain)
        unique.setdefault((domain, source.name), (instance, source))
    return list(unique.values())


def _handle_domain(ctx: _Context, client: MastodonClient) -> str | None:
    """The handle domain of the instance ``client`` connects to (None: its own, or not known), learned once a run
    (:func:`_learn_handle_domain`; with privacy off too, though no record is keyed by it then). A damaged memory
    file leaves it unknown here: the instance's sources fail on it when they land, as before."""
    domain = client.domain
    if domain not in ctx.handle_domains:
        try:
            _learn_handle_domain(ctx, client, None)
        except LakeError as exc:
            log.warning("%s: the handle domain is not known (%s): account sources written with it are collected "
                        "as written", domain, exc)
            return None
    return ctx.handle_domains.get(domain)


#: how the log lines of :func:`_adopt_spelling` name the spellings whose state it adopts
_SPELLING_WITH_DOMAIN = "with the instance's domain"
_SPELLING_WITH_HANDLE_DOMAIN = "with the instance's handle domain"
_SPELLING_IN_CASE = "in another case"


def _in_another_case(domain: str, kept: str, source: str, with_domain: dict[str, str]) -> str:
    """How the log lines of :func:`_adopt_spelling` name ``kept``, a spelling whose state file is named like the
    source's, or like one of its spellings with a domain (``with_domain``, and how they are named), in another case
    (:func:`~fediscope.lake.state.spellings_kept`): ``account:Alice@mastodon.social`` of ``account:alice`` differs
    in case and by the instance's domain, and is named for both."""
    path = state_path(domain, kept).lower()
    for spelling, what in with_domain.items():
        if spelling != source and state_path(domain, spelling).lower() == path:
            return f"{_SPELLING_IN_CASE} and {what}"
    return _SPELLING_IN_CASE


def _adopt_spelling(ctx: _Context, domain: str, source: SourceRef) -> None:
    """Carry the state an earlier run kept under another spelling of the source over to it
    (:func:`~fediscope.lake.state.adopt_spelling`): with the instance's domain or its handle domain, or in another
    case (:func:`~fediscope.lake.state.spellings_kept`), so that a lake collected under that spelling goes on where
    it was rather than walking the timeline from the start again.

    The instance's state folder is listed once a run (:func:`~fediscope.lake.state.list_state`), not asked about
    each spelling's files: a caught-up run asks the lake nothing more per account source (on a WebHDFS lake, some
    ten requests each before)."""
    if not source.names_an_account:
        return
    handle_domain = ctx.handle_domains.get(domain)
    spellings = other_spellings(source, domain, handle_domain)
    described = {s: _SPELLING_WITH_HANDLE_DOMAIN if handle_domain and s.endswith("@" + handle_domain)
                 else _SPELLING_WITH_DOMAIN for s in spellings}
    listing = _state_listing(ctx, domain)
    for kept in spellings_kept(ctx.lake, domain, [source.name, *spellings], listing):
        described[kept] = _in_another_case(domain, kept, source.name, described)
    for spelling, what in described.items():
        done = adopt_spelling(ctx.lake, domain, source.name, spelling, ctx.policy, listing)
        if done is not None:
            ctx.state_listings.pop(domain, None)
        if done == "moved":
            log.info("%s %s: the checkpoint kept under its spelling %s is its own from now on",
                     domain, ctx.named(source), what)
        elif done == "merged":
            log.info("%s %s: the checkpoint kept under its spelling %s is deleted: the source's own checkpoint "
                     "covers the same timeline", domain, ctx.named(source), what)
    _remove_spelling_locks(ctx, domain, source, described, listing)


def _state_listing(ctx: _Context, domain: str) -> StateListing:
    """``domain``'s state folder as listed this run (:func:`~fediscope.lake.state.list_state`), listed now if it was
    not yet. Listed for every kind of source, not only where an account source looks for its spellings: a listing
    is one request (LISTSTATUS on WebHDFS; a pass folder is listed only once a source asks about a file in it), and
    it spares each source of the instance a question whether its checkpoint is there (and its settle mark, with the
    settle pass on), so it costs no more than it saves from the first source on. Only on an instance's first run,
    its folder not there yet, it is one request more: every file is asked about then (a collect may write it)."""
    listing = ctx.state_listings.get(domain)
    if listing is None:
        listing = ctx.state_listings[domain] = list_state(ctx.lake, domain)
    return listing


def _remove_spelling_locks(ctx: _Context, domain: str, source: SourceRef, spellings: dict[str, str],
                           listing: StateListing) -> None:
    """Delete the walk locks of ``source``'s other ``spellings`` (→ how the log lines name them) that ``listing``
    shows and no collect holds (:func:`~fediscope.sources.walk_lock.remove_walk_lock`): a run that walked such a
    spelling as a source of its own (an older fediscope, or one that did not know the instance's handle domain) left
    its lock, named after the account, which no collect takes once the spelling's state is the source's.
    A spelling in another case only has the source's own lock (locks are named after the handle in lower case)."""
    own = walk_lock_tag(ctx.policy, source)
    for spelling, what in spellings.items():
        kind, _sep, arg = spelling.partition(":")
        tag = walk_lock_tag(ctx.policy, SourceRef(kind, arg))
        if tag != own and listing.may_hold(f"{listing.directory}/{walk_lock_name(tag)}") \
                and remove_walk_lock(ctx.lake, domain, tag):
            log.info("%s %s: the walk lock of its spelling %s is deleted", domain, ctx.named(source), what)


class _TracebackSaid(logging.Filter):
    """Gives a record's traceback the text ``said`` makes of it (set as its ``exc_text``, which the formatters, the
    JSON lines' ``exception`` field and the redacting filter take as they find it): the exception's message, and
    those of its chain, may quote an account source's handle (:meth:`_Context.said`). The frames stay as they are,
    but for the handle written alone in a line of code shown (more hidden rather than less)."""

    def __init__(self, said: Callable[[str], str]) -> None:
        super().__init__()
        self.said = said

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.said(logging.Formatter().formatException(record.exc_info))
            kind, exc, tb = record.exc_info
            if exc is not None:  # formatters that read the exception itself (pyspark's JSON lines) see it said too
                with contextlib.suppress(Exception):
                    shown = copy.copy(exc)
                    shown.args = (self.said(str(exc)),)
                    record.exc_info = (kind, shown, tb)
        return True


@contextlib.contextmanager
def _traceback_said(said: Callable[[str], str]) -> Iterator[None]:
    """While in it, the tracebacks logged by this module's logger are said by ``said`` (:class:`_TracebackSaid`)."""
    rewrite = _TracebackSaid(said)
    log.addFilter(rewrite)
    try:
        yield
    finally:
        log.removeFilter(rewrite)


def _more_note(ctx: _Context, source: SourceRef, result: SourceResult) -> str:
    """What a source's progress line adds when the page budget stopped it: a walk goes on next run, a walk by
    offset (the directory, the trending tags) does not (each run takes it anew from its first page)."""
    if result.caught_up:
        return ""
    if source.paged:
        return " (more to fetch)"
    return f" ({source.offset_walk.more}: raise {ctx.max_pages_named})" if source.offset_walk else ""



def _source_tag(ctx: _Context, source: SourceRef) -> str:
    return source_batch_tag(ctx.policy, source)


def _safe(value: str | None, default: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", value) if value else default


def _page_name(ctx: _Context, source: SourceRef, head: str, ids: str) -> str:
    """The batch id of a timeline page: ``<source tag>-<head><ids>``, where ``ids`` are the ids the page is asked
    with (``s<since_id>-m<max_id>``, ``n<mark>``). With privacy on a keyed digest of that whole name stands in for
    ``ids``: ``max_id`` is the oldest status of the page above, maybe one skipped for its author, and with its
    instance a status id names its author. Either way the same page of the same walk always gets the same name
    (lands in the same file), and two pages two names: ``public-3f9c…`` (16 hex digits), ``public-settle-…``,
    ``public-refresh-<run start>-…``."""
    prefix = f"{_source_tag(ctx, source)}-{head}"
    if not ctx.policy.enabled:
        return prefix + ids
    return prefix + ctx.policy.pseudonym("batch", prefix + ids)[1:17]


def page_batch_id(ctx: _Context, source: SourceRef, walk: Walk) -> str:
    """Deterministic per page: the same page of the same walk always lands in the same file."""
    return _page_name(ctx, source, "", f"s{_safe(walk.lower, '0')}-m{_safe(walk.cursor, 'head')}")


def _fetch(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult, batch_id: str,
           **paging: Any) -> Page:
    """fetch_page, quarantining bodies that are not JSON and trying again a few times."""
    raise_if_lost()  # a Ctrl-C raised in a finalizer stops the collection before its next page
    for attempt in range(MALFORMED_ATTEMPTS):
        try:
            return fetch_page(client, source, limit=ctx.settings.page_limit, **paging)
        except MalformedResponse as exc:
            result.quarantined += 1
            quarantine_body(ctx.lake, client.domain, exc, f"{batch_id}-body{attempt}", keep_raw=not ctx.policy.enabled,
                            secrets=secret_values(ctx.settings), scrub=ctx.policy.quarantine_scrub(client.domain))
            log.warning("%s %s: malformed answer from %s quarantined: %s", client.domain, ctx.named(source),
                        exc.endpoint, ctx.said(exc, source, client.domain))
            if attempt + 1 == MALFORMED_ATTEMPTS:
                raise
            client._wait(client.backoff_delay(attempt), f"{client.domain}{exc.endpoint} after a malformed answer",
                         kind="retry")
    raise AssertionError("unreachable")


def _land(ctx: _Context, client: MastodonClient, page: Page, result: SourceResult, batch_id: str,
          count_as: str = "landed") -> None:
    """Land one page (records + quarantined items); both files are complete before this returns. The records
    count as ``landed``, or as ``refreshed`` / ``settled`` for a page of the refresh / settle pass."""
    _learn_handle_domain(ctx, client, page)
    landed = land_page(page, ctx.policy)
    path = write_batch(ctx.lake, page.source.entity, client.domain, landed.records, fetched_at=page.fetched_at,
                       batch_id=batch_id)
    if path:
        result.batches.append(path)
    if landed.quarantined:
        quarantine_items(ctx.lake, client.domain, page.endpoint, landed.quarantined, batch_id,
                         keep_raw=not ctx.policy.enabled, fetched_at=page.fetched_at,
                         secrets=secret_values(ctx.settings), scrub=ctx.policy.quarantine_scrub(client.domain))
        for q in landed.quarantined:
            log.warning("%s %s: malformed item from %s quarantined: %s", client.domain, ctx.named(page.source),
                        page.endpoint, ctx.said(q.reason, page.source, client.domain))
    setattr(result, count_as, getattr(result, count_as) + len(landed.records))
    result.skipped += landed.skipped
    result.opted_out += landed.opted_out
    result.quarantined += len(landed.quarantined)


def _learn_handle_domain(ctx: _Context, client: MastodonClient, page: Page | None) -> None:
    """Once per instance and run, before its first page is landed: register its handle domain with the policy
    (module docstring), from ``page`` when it is the instance document, else from one request for it; when the
    document cannot be read, the one remembered in the lake (:mod:`fediscope.sources.handle_domains`). A damaged
    memory file fails the instance's sources (LakeError naming it) rather than key its accounts differently.
    With privacy off too: no record is keyed by it then, but an erased account is looked for under both its names
    (:meth:`~fediscope.privacy.PrivacyPolicy.skip_reason`), and ``gdpr erase`` of its handle finds the records
    keyed by the served domain once the lake remembers it."""
    domain = client.domain
    if domain in ctx.handle_domains:
        return
    learned = handle_domain_for_run(ctx.lake, domain, fetch_handle_domain(client, page))
    ctx.handle_domains[domain] = ctx.policy.use_handle_domain(domain, learned)
    if learned and ctx.policy.enabled:
        log.info("%s: local accounts are keyed by their handle domain %s", domain, learned)


def _in_range(items: list[Any], lower: str | None, since: date | None,
              below: str | None = None) -> tuple[list[Any], bool]:
    """Items inside the walk, and whether the walk's lower end (checkpoint or since-date) was reached. Items at or
    above ``below`` (the page's ``max_id``) are left out too: they were landed from the pages above it."""
    kept, reached = [], False
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            # an id of the other kind (text among snowflakes) cannot be placed against the bounds: it is landed
            # (or quarantined) with the page, and neither closes the walk nor is left out
            if below is not None and same_id_kind(item["id"], below) and id_key(item["id"]) >= id_key(below):
                continue  # the instance ignored max_id
            if lower is not None and same_id_kind(item["id"], lower) and id_key(item["id"]) <= id_key(lower):
                reached = True  # the instance ignored since_id
                continue
            if since is not None and _posted_before(item.get("created_at"), since):
                reached = True
                continue
        kept.append(item)
    return kept, reached


def _posted_before(created: object, since: date) -> bool:
    """Whether ``created`` (a status's ``created_at``) falls before the UTC day ``since``. A server may write it
    with an offset (``…T21:00:00-05:00`` is the next day in UTC); the day of its text would put such a status on
    the other side of the since-date than curation, which dates statuses by their UTC day. A time that cannot be
    read places nothing: the status is landed with its page (curation skips it)."""
    moment = parse_iso(created)
    return moment is not None and moment.astimezone(UTC).date() < since


def _page_floor(page: Page, asked: int) -> str | None:
    """Where a page ends: its oldest status id among the ids of its usual kind (:func:`usual_ids`), so that a
    malformed item's odd id does not become the next ``max_id``.

    Except for an item listed first out of order (a pinned post above newer ones): when the first id is the
    page's lowest while the others run down to the last, the page ends at its last item, as Mastodon's own
    ``Link`` says (the id of a page's last status); asking below the first would skip what lies between. A page
    of two whose first id is the lower is such a page when it was asked for one status (``asked``: the other is
    the extra, pinned one) or its ``Link`` ends it at its last: a server listing its pages oldest first would
    otherwise be asked one status lower a page, each status landed twice.
    """
    ids = usual_ids(page.items)
    if not ids:
        return None
    lowest = min(ids, key=id_key)
    if (len(ids) > 2 or (len(ids) == 2 and (asked == 1 or page.next_max_id == ids[-1]))) and ids[0] == lowest and \
            ids[-1] == min(ids[1:], key=id_key) != lowest:
        return ids[-1]
    return lowest


def _nothing_below(page: Page, cursor: str | None, full: int) -> bool:
    """Whether ``page`` (asked with ``max_id=cursor`` for ``full`` statuses) holds only the status at ``cursor``
    itself and fewer than asked: a server that answers ``max_id`` inclusively has nothing below it, which ends the
    walk (it is not paging that stalls). A full page of it (a limit of 1) says nothing of what lies below:
    :func:`_next_cursor` asks below it."""
    ids = usual_ids(page.items)
    return cursor is not None and bool(ids) and all(i == cursor for i in ids) and len(page.items) < full


def _next_cursor(page: Page, cursor: str | None, asked: int) -> str | None:
    """The ``max_id`` of the page below ``page`` (asked with ``max_id=cursor``; None: the newest page), or None
    when paging cannot go on. ``asked``: the number of statuses the page was asked for.

    The page's own oldest id comes first: the ``Link`` header's ``max_id`` is used only when the page has no
    well-formed id. Either must lie below ``cursor``: a Link that loops (the same ``max_id`` again) or points
    above the page would fetch pages already landed, and one below the page's oldest status would skip some.
    """
    floor = _page_floor(page, asked)
    candidate = floor if floor is not None else page.next_max_id
    if candidate is not None and candidate == cursor and is_number_id(cursor) and int(cursor) > 0:
        return str(int(cursor) - 1)  # a server answering max_id inclusively, one status a page: below it
    if candidate is None or (cursor is not None and id_key(candidate) >= id_key(cursor)):
        return None
    return candidate


def _stalled(domain: str, name: str, cursor: str | None, page: Page, asked: int, what: str) -> UpstreamError:
    """The error of a walk that cannot page on (see :func:`_next_cursor`)."""
    floor = _page_floor(page, asked)
    if floor is not None:
        why = f"the answer holds no status below it (its oldest is {floor})"
    elif page.next_max_id is not None:
        why = f"the answer has no status id and its Link points to max_id={page.next_max_id}, not below"
    else:
        why = "the answer has no status id and no Link to an older page"
    shown = cursor if cursor is not None else "(none: the newest page)"
    return UpstreamError(f"{domain} {name}: paging stalled at max_id={shown}: {why}; {what}")


def _newer(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if id_key(a) >= id_key(b) else b


def _withheld(ctx: _Context, client: MastodonClient, page: Page) -> Withheld:
    """The statuses of ``page`` the privacy policy skips for their author or the author of the status they boost
    (:class:`~fediscope.sources.withheld.Withheld`): an erased (suppressed) account, or one that opted out. No state
    file may hold their ids: with the instance an id names its author, the erasure has just moved such ids out of
    the checkpoints (:mod:`fediscope.gdpr.cursors`), and the lake keeps nothing else of an opted-out account's
    statuses. The instance's handle domain is learned first, so that its local accounts are keyed as when they are
    landed."""
    _learn_handle_domain(ctx, client, page)
    return Withheld.of(ctx.policy, page.items, client.domain)


def _lower_cursor(saved: str | None, candidate: str | None) -> str | None:
    """The cursor a walk saves after a page: ``candidate`` when it lies below the one saved before (None: the
    newest page), else that one again: a resumed run then fetches again the pages walked since (harmless: the
    withheld statuses are skipped again, the others deduplicated by curation) and skips nothing."""
    if candidate is None or (saved is not None and (not same_id_kind(candidate, saved)
                                                    or id_key(candidate) >= id_key(saved))):
        return saved
    return candidate


def _collect_walk(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult) -> None:
    """Walk the gap above the checkpoint. A walk resumed from an earlier run is followed by a fresh one, so
    statuses published while the collector was down are fetched in the same run. Once caught up, the refresh
    pass (``refresh_hours > 0``) re-lands the recent statuses below the checkpoint the run started with."""
    domain, name = client.domain, source.name
    try:
        checkpoint = load_checkpoint(ctx.lake, domain, name, ctx.policy, _state_listing(ctx, domain))
    except UnreadableCheckpoint as exc:
        raise LakeError(f"the checkpoint of {domain} {name} is unreadable ({exc}); delete "
                        f"{shown_path(ctx.lake, exc.path)} to start this source over") from None
    walk = Walk.from_checkpoint(checkpoint)
    started_from = checkpoint.newest_id
    budget = ctx.max_pages
    while True:
        resumed = walk.upper is not None or walk.cursor is not None
        if not resumed and walk.lower is None and ctx.settings.backfill_pages == 0:
            _start_from_now(ctx, client, source, result, walk)
            return
        finished, budget = _walk_gap(ctx, client, source, result, checkpoint, walk, budget)
        if not finished:
            return
        if not resumed:
            break
        checkpoint = Checkpoint(result.checkpoint)
        walk = Walk(lower=result.checkpoint)
    if ctx.settings.refresh_hours > 0 and started_from is not None:
        budget = _extra_pass(ctx, client, source, result, "refresh", ctx.settings.refresh_max_pages, budget,
                             lambda pages: _refresh(ctx, client, source, result, started_from, pages))
    if ctx.settings.settle_hours > 0:
        _extra_pass(ctx, client, source, result, "settle", ctx.settings.settle_max_pages, budget,
                    lambda pages: _settle(ctx, client, source, result, started_from, pages))


def _extra_pass(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult, name: str,
                max_pages: int, budget: int | None, run: Callable[[int], None]) -> int | None:
    """Run the refresh or settle pass within what the page budget (``--max-pages``) left (``budget``); returns what
    is left after. Best effort: the gap is landed and its checkpoint saved, so a failure leaves the source collected."""
    pages = max_pages if budget is None else min(max_pages, budget)
    if pages <= 0:
        log.info("%s %s: no %s pass, %s is spent", client.domain, ctx.named(source), name, ctx.max_pages_named)
        return budget
    before = result.pages
    try:
        run(pages)
    except FediscopeError as exc:
        error = str(exc) if name == "refresh" else f"{name} pass: {exc}"  # the refresh pass's, as it always was
        result.refresh_error = f"{result.refresh_error}; {error}" if result.refresh_error else error
        log.warning("%s %s: the %s pass failed (new statuses are landed; the next run tries again): %s",
                    client.domain, ctx.named(source), name, ctx.said(exc, source, client.domain))
    return None if budget is None else budget - (result.pages - before)


def _start_from_now(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult,
                    walk: Walk) -> None:
    """``backfill_pages = 0``: land nothing on a first run, just remember the newest status."""
    page = _fetch(ctx, client, source, result, page_batch_id(ctx, source, walk), since_id=None, max_id=None)
    result.pages, result.fetched, result.out_of_range = 1, len(page.items), len(page.items)
    newest_id = _withheld(ctx, client, page).saved_down(page.newest_id)
    _save_checkpoint(ctx, client.domain, source.name, Checkpoint(newest_id))
    # the collection begins above the newest status: its own time is where (nothing of its day before it is landed)
    newest = _oldest([i for i in page.items if isinstance(i, dict) and i.get("id") == page.newest_id])
    save_walk_start(ctx.lake, client.domain, source.name, "now", newest[1], ctx.policy)
    result.caught_up, result.checkpoint = True, newest_id


def _walk_gap(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult,
              checkpoint: Checkpoint, walk: Walk, budget: int | None) -> tuple[bool, int | None]:
    """Walk pages of one gap until it is closed (True) or the page budget is spent (False). Spent, the source is
    said not caught up (``--max-pages`` cut it: "more statuses to fetch") only when the last page it fetched was
    full and named one below: a walk whose last page was short, or that had no page left to fetch at all (the
    fresh walk after a resumed one that ended on the budget's last page), is resumed by the next run all the same,
    but nothing says more statuses wait there."""
    settings, domain, name = ctx.settings, client.domain, source.name
    first_run = walk.lower is None
    full_page = page_size(settings.page_limit, "statuses")
    since = date.fromisoformat(settings.backfill_since) if first_run and settings.backfill_since else None
    oldest: tuple[str | None, str | None] = (None, None)  # the oldest status this run landed of a first walk
    saved_cursor = walk.cursor  # the cursor saved with the walk: never a withheld status's id (Withheld.saved_up)
    more_below = False  # the last page fetched was full and named the page below it
    while True:
        if budget is not None and budget <= 0:
            result.caught_up, result.checkpoint = not more_below, checkpoint.newest_id
            return False, budget
        batch_id = page_batch_id(ctx, source, walk)
        page = _fetch(ctx, client, source, result, batch_id, since_id=walk.lower, max_id=walk.cursor)
        budget = None if budget is None else budget - 1
        result.pages += 1
        result.fetched += len(page.items)
        items, reached = _in_range(page.items, walk.lower, since, below=walk.cursor)
        if reached and walk.lower is not None:  # the checkpoint is reached where the page ends, not where a status
            # listed first out of order (an old pinned post) happens to lie
            floor = _page_floor(page, full_page)
            reached = floor is None or not same_id_kind(floor, walk.lower) or id_key(floor) <= id_key(walk.lower)
        result.out_of_range += len(page.items) - len(items)
        withheld = _withheld(ctx, client, page)
        if walk.upper is None:
            walk.upper = withheld.saved_down(page.newest_id)
        if items:
            _land(ctx, client, replace(page, items=items), result, batch_id)
            if walk.lower is not None:
                _note_lowest_new(ctx, (domain, name), items, walk.lower)
            kept = [i for i in items if not isinstance(i, dict) or i.get("id") not in withheld.ids]  # by author
            if first_run and settings.settle_hours > 0:
                _note_young(ctx, client.domain, name, page, kept)
            landed = _oldest(kept)  # the walk's start record keeps no day of a status it skipped
            if first_run and landed[0] is not None and (oldest[0] is None or id_key(landed[0]) < id_key(oldest[0])):
                oldest = landed
        walk.pages += 1
        ctx.progress.page(f"{domain} {ctx.named(source)}", result.pages, result.fetched, result.landed)
        next_cursor = _next_cursor(page, walk.cursor, full_page)
        deep_enough = first_run and walk.pages >= settings.backfill_pages
        walk_ended = not page.items or reached or _nothing_below(page, walk.cursor, full_page)
        if walk_ended or deep_enough:
            newest = _newer(checkpoint.newest_id, walk.upper)
            _save_checkpoint(ctx, domain, name, Checkpoint(newest))
            result.caught_up, result.checkpoint = True, newest
            if first_run:  # only a first walk sets it: the fresh walk that follows a resumed one must not reset it
                # the depth, not the timeline's end (an empty or short page), stopped the walk: no later run goes
                # below this first one
                result.backfill_cut = not walk_ended and len(page.items) >= full_page and next_cursor is not None
                ended = "since" if reached else "cut" if result.backfill_cut else "end"
                save_walk_start(ctx.lake, domain, name, ended, oldest[1], ctx.policy)
            return True, budget
        if next_cursor is None:  # the gap is not closed: newest_id must not move past what is not landed
            raise _stalled(domain, name, walk.cursor, page, full_page, "the statuses below it are not landed yet; "
                           "the walk is kept and the next run resumes there")
        walk.cursor = next_cursor
        more_below = len(page.items) >= full_page
        saved_cursor = _lower_cursor(saved_cursor, withheld.saved_up(next_cursor))
        _save_checkpoint(ctx, domain, name, Checkpoint(
            checkpoint.newest_id, extra={"walk": {**asdict(walk), "cursor": saved_cursor}}))


def _save_checkpoint(ctx: _Context, domain: str, name: str, checkpoint: Checkpoint) -> None:
    """:func:`~fediscope.lake.state.save_checkpoint`, given the instance's state folder as listed this run: the file
    an older fediscope named after the handle is not looked for at every page where the listing does not show it."""
    save_checkpoint(ctx.lake, domain, name, checkpoint, ctx.policy, ctx.state_listings.get(domain))


def _oldest(items: list[Any]) -> tuple[str | None, str | None]:
    """The id and ``created_at`` (as sent) of the oldest of ``items`` among the ids of their usual kind
    (:func:`usual_ids`); (None, None) without one."""
    ids = usual_ids(items)
    if not ids:
        return None, None
    lowest = min(ids, key=id_key)
    created = next((i.get("created_at") for i in items if isinstance(i, dict) and i.get("id") == lowest), None)
    return lowest, created if isinstance(created, str) else None


def _snowflake_before(status_id: str, moment: datetime) -> str:
    """The lower of ``status_id`` and the first snowflake of ``moment``, when ``status_id`` is a snowflake
    (:func:`~fediscope.timestamps.is_snowflake`); ``status_id`` itself for any other kind of id."""
    if not is_snowflake(status_id):
        return status_id
    return str(min(int(status_id), snowflake(to_ms(moment), 0)))


def _note_young(ctx: _Context, domain: str, name: str, page: Page, items: list[Any]) -> None:
    """Remember the oldest status of a first run's pages still younger than ``settle_hours`` (the settle pass
    starts below it), and the status landed just below that one (``settle_below``). ``items`` are the page's
    statuses kept for the lake, each page below the one before (the walk's order), so the first status met below
    the youngest so far is the nearest below it."""
    cutoff = page.fetched_at - timedelta(hours=ctx.settings.settle_hours)
    key = (domain, name)
    dated = [(i["id"], created) for i in items if isinstance(i, dict) and isinstance(i.get("id"), str) and i["id"]
             and (created := _created_at(i)) is not None]
    for status_id, created in sorted(dated, key=lambda pair: id_key(pair[0]), reverse=True):
        youngest = ctx.settle_from.get(key)
        below = youngest is not None and same_id_kind(status_id, youngest) and id_key(status_id) < id_key(youngest)
        if created > cutoff and (youngest is None or below):
            ctx.settle_from[key] = status_id
            ctx.settle_below.pop(key, None)  # the one noted was above this one
        elif below and key not in ctx.settle_below:
            ctx.settle_below[key] = status_id


def _note_lowest_new(ctx: _Context, key: tuple[str, str], items: list[Any], lower: str) -> None:
    """Remember the lowest of ``items`` (landed by a gap walk down to ``lower``) above ``lower`` and below the one
    remembered (``ctx.refresh_below``): the lowest status a run landed above its checkpoint."""
    for item in items:
        noted = ctx.refresh_below.get(key)
        if _above(item, lower) and (noted is None or not _above(item, noted)):
            ctx.refresh_below[key] = item["id"]


def _just_above(status_id: str) -> str | None:
    """A ``max_id`` (exclusive) that still includes ``status_id``: the next number for snowflakes. A text id has no
    "next" a server is sure to read as meant (Pleroma decodes a FlakeId as a number, the next character may lie
    outside a server's alphabet): None (the caller asks below a status it met above ``status_id``, or for the
    newest page, whose statuses above ``status_id`` it leaves out: :func:`_above`)."""
    return str(int(status_id) + 1) if is_number_id(status_id) else None


def _above(item: Any, bound: str) -> bool:
    """Whether ``item`` is a status whose id lies above ``bound`` (an id of the other kind cannot be placed: no)."""
    status_id = item.get("id") if isinstance(item, dict) else None
    return (isinstance(status_id, str) and bool(status_id) and same_id_kind(status_id, bound)
            and id_key(status_id) > id_key(bound))


def _created_at(item: Any) -> datetime | None:
    return parse_iso(item.get("created_at")) if isinstance(item, dict) else None


def _refresh(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult,
             started_from: str, max_pages: int) -> None:
    """The refresh pass (module docstring): land again the statuses at or below ``started_from`` (the checkpoint
    this run started with) created in the last ``refresh_hours``. Statuses above it were landed by this run.

    The first page is asked with ``max_id`` just above ``started_from`` (:func:`_just_above`). A text id
    (GoToSocial's ULIDs, Pleroma's FlakeIds) has no such neighbour: there it is asked with ``max_id`` the lowest
    status this run's gap walk landed above ``started_from`` (``ctx.refresh_below``; the server's own id), so
    that the pass does not spend its pages walking down again through what the gap walk just landed; without one
    (nothing new), without ``max_id``: the newest page, whose statuses above ``started_from`` are left out.
    Stops at the first page reaching past the window, an empty page or ``max_pages``; paging that cannot go on
    (see :func:`_next_cursor`) raises :class:`UpstreamError`. Items of the page that reaches past the window, any
    at or above the page's ``max_id`` and any above ``started_from`` are counted ``out_of_range``. The checkpoint
    is not touched.
    """
    settings, domain, name = ctx.settings, client.domain, source.name
    window = timedelta(hours=settings.refresh_hours)
    full_page = page_size(settings.page_limit, "statuses")
    stamp = ctx.started_at.strftime("%Y%m%dT%H%M%S")
    cursor = _just_above(started_from)
    lowest_new = ctx.refresh_below.get((domain, name))
    if cursor is None and lowest_new is not None and _above({"id": lowest_new}, started_from):
        cursor = lowest_new
    for _ in range(max_pages):
        batch_id = _page_name(ctx, source, f"refresh-{stamp}-", f"m{_safe(cursor, 'head')}")
        page = _fetch(ctx, client, source, result, batch_id, since_id=None, max_id=cursor)
        result.pages += 1
        result.fetched += len(page.items)
        cutoff = page.fetched_at - window
        items, older = [], False
        for item in _in_range(page.items, None, None, below=cursor)[0]:
            if _above(item, started_from):  # landed by this run's gap walk (a text checkpoint: the newest page)
                continue
            created = _created_at(item)
            if created is not None and created >= cutoff:
                items.append(item)
            else:  # older than the window, or malformed (already quarantined when the gap walk landed it)
                older = older or created is not None
        result.out_of_range += len(page.items) - len(items)
        if items:
            _land(ctx, client, replace(page, items=items), result, batch_id, count_as="refreshed")
        ctx.progress.page(f"{domain} {ctx.named(source)}", result.pages, result.fetched, result.landed,
                          result.refreshed)
        next_cursor = _next_cursor(page, cursor, full_page)
        if not page.items or older or _nothing_below(page, cursor, full_page):
            return
        if next_cursor is None:
            raise _stalled(domain, name, cursor, page, full_page, "the refresh pass stops there")
        cursor = next_cursor


def _settle(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult,
            started_from: str | None, max_pages: int) -> None:
    """The settle pass (module docstring): land once more, oldest first, the statuses above the pass's mark that
    are now at least ``settle_hours`` old, and move the mark past them.

    Pages are asked with ``min_id=<mark>`` (the statuses just above it). A page stops the pass at its first
    status that is still younger than ``settle_hours`` (those wait for a later run), when it is empty, when the
    mark would not move, or after ``max_pages``. The mark is saved after each landed page, so a killed run
    starts again where it stopped. Before its first run a source has no mark. On a source collected before, it
    is set to the first snowflake id of ``settle_hours`` ago, so what earlier runs landed in that time settles
    too (to the checkpoint this run started from, for ids that are not snowflakes). On a source's very first run
    it is set just below the oldest status that run landed while younger than ``settle_hours`` (the older ones
    had their settled counts when first landed; for a text id, which has no "just below", at the status it landed
    below that one), or to the new checkpoint when there was none.
    """
    settings, domain, name = ctx.settings, client.domain, source.name
    try:
        mark = load_pass_mark(ctx.lake, domain, name, SETTLE_PASS, ctx.policy, _state_listing(ctx, domain))
    except ValueError as exc:
        raise LakeError(str(exc)) from None
    if mark is None:
        start = _first_settle_mark(ctx, domain, name, started_from, result.checkpoint)
        if start is not None:
            save_pass_mark(ctx.lake, domain, name, SETTLE_PASS, start, ctx.policy)
            log.info("%s %s: the settle pass starts with the statuses above %s", domain, ctx.named(source), start)
        return
    age = timedelta(hours=settings.settle_hours)
    full_page = page_size(settings.page_limit, "statuses")
    page: Page | None = None
    ready: list[dict[str, Any]] = []
    saved_mark = mark  # the mark saved: never a withheld status's id (saved_down), so it may lag behind ``mark``
    for _ in range(max_pages):
        batch_id = _page_name(ctx, source, "settle-", f"n{_safe(mark, '0')}")
        page = _fetch(ctx, client, source, result, batch_id, min_id=mark)
        result.pages += 1
        result.fetched += len(page.items)
        cutoff = page.fetched_at - age
        ready, next_mark, young = [], mark, False
        placed = _placed_ids(page, mark)
        for item in sorted((i for i in page.items if isinstance(i, dict) and i.get("id") in placed
                            and id_key(i["id"]) > id_key(mark)), key=lambda i: id_key(i["id"])):
            created = _created_at(item)
            if created is not None and created > cutoff:
                young = True  # this one and every newer one wait for a later run
                break
            if created is not None:  # a malformed one was quarantined when the gap walk landed it
                ready.append(item)
            next_mark = item["id"]
        result.out_of_range += len(page.items) - len(ready)
        if ready:
            _land(ctx, client, replace(page, items=ready), result, batch_id, count_as="settled")
        moved = _withheld(ctx, client, page).saved_down(next_mark) if next_mark != mark else None
        if moved is not None and id_key(moved) > id_key(saved_mark):  # from a number to a text id too (Pleroma)
            save_pass_mark(ctx.lake, domain, name, SETTLE_PASS, moved, ctx.policy)
            saved_mark = moved
        ctx.progress.page(f"{domain} {ctx.named(source)}", result.pages, result.fetched, result.landed,
                          result.refreshed + result.settled)
        if young or next_mark == mark:
            return
        mark = next_mark
    # the page budget ran out; a full last page means more statuses wait above the mark (a short one: the top)
    if page is not None and len(page.items) >= full_page and ready:
        last_settled = _created_at(ready[-1])  # the statuses still waiting were posted just after it
        if last_settled is not None:
            behind = (page.fetched_at - last_settled - age).total_seconds() / 3600
            result.settle_behind_hours = round(max(behind, 0.1), 1)
            log.info("%s %s: the settle pass stopped at its page budget, about %.1f h behind", domain,
                     ctx.named(source), result.settle_behind_hours)


def _placed_ids(page: Page, mark: str) -> set[str]:
    """The ids of ``page`` the settle pass places against its ``mark`` (:func:`placed_against`): those of the
    page's usual kind and those of the mark's. A mark among Pleroma's old numeric ids moves on to the FlakeIds
    above them; a text id among Mastodon's snowflakes is a malformed item's, which must not become the next
    ``min_id``."""
    ids = well_formed_ids(page.items)
    numbers_usual = usual_is_number(ids)
    return {i for i in ids if placed_against(i, mark, numbers_usual)}


def _first_settle_mark(ctx: _Context, domain: str, name: str, started_from: str | None,
                       checkpoint: str | None) -> str | None:
    """Where a source's settle pass starts (see :func:`_settle`); ``checkpoint`` is the one this run saved."""
    if started_from is not None:  # collected before: include what earlier runs landed in the last N hours
        return _snowflake_before(started_from, ctx.started_at - timedelta(hours=ctx.settings.settle_hours))
    youngest = ctx.settle_from.get((domain, name))
    if youngest is None:
        return checkpoint
    if is_number_id(youngest):
        return str(int(youngest) - 1)  # min_id is exclusive: just below it
    # a text id has no "just below" (see _just_above): the status landed below it, settled when landed; with
    # none (the run landed nothing older) the youngest itself, which alone then does not settle
    return ctx.settle_below.get((domain, name), youngest)


# -- snapshot sources ---------------------------------------------------------------------------------------
def _collect_snapshot(ctx: _Context, client: MastodonClient, source: SourceRef, result: SourceResult) -> None:
    """Take a snapshot source anew: its checkpoint only records when (no cursor moves the next run on).

    A source paged by offset (the directory, the trending tags) is walked page after page from where each page says
    the next starts (:attr:`~fediscope.sources.pages.Page.next_offset`: the trending tags' ``Link`` header, the
    directory's full pages) until its last page, a page with nothing not already landed this run (an instance
    ignoring ``offset``), or the page budget (:func:`_snapshot_pages`): then ``caught_up`` stays False. Each page
    lands as its own batch; an item listed again on a later page (the list shifted meanwhile) is counted
    ``out_of_range``, not landed twice.
    """
    run_id = new_batch_id()
    seen: set[str] = set()
    offset, first_fetch = 0, None
    for _ in range(_snapshot_pages(ctx, source)):
        batch_id = f"{run_id}-o{offset}" if offset else run_id
        page = _fetch(ctx, client, source, result, batch_id, **({"offset": offset} if source.offset_paged else {}))
        first_fetch = first_fetch or page.fetched_at
        result.pages += 1
        result.fetched += len(page.items)
        items = _not_seen(page.items, seen, source.entity)
        result.out_of_range += len(page.items) - len(items)
        _land(ctx, client, replace(page, items=items), result, batch_id)
        ctx.progress.page(f"{client.domain} {ctx.named(source)}", result.pages, result.fetched, result.landed)
        if page.next_offset is None or not items:
            if page.items and not items:
                log.warning("%s %s: the page at offset=%d holds only %s already landed (the instance ignores "
                            "offset?); the walk stops there", client.domain, ctx.named(source), offset,
                            source.offset_walk.items if source.offset_walk else "items")
            result.caught_up = True
            break
        offset = page.next_offset
    if first_fetch is not None:
        _save_checkpoint(ctx, client.domain, source.name,
                         Checkpoint(extra={"last_fetched_at": first_fetch.isoformat(timespec="seconds")}))


def _snapshot_pages(ctx: _Context, source: SourceRef) -> int:
    """Pages a snapshot may take in this run: one answer, or for a source paged by offset ``--max-pages``; without
    it the depth of a timeline's first walk, ``backfill_pages`` (at least one): each run of it is a first walk, and
    a big instance's directory runs to thousands of pages."""
    if not source.offset_paged:
        return 1
    return ctx.max_pages if ctx.max_pages is not None else max(1, ctx.settings.backfill_pages)


def _not_seen(items: list[Any], seen: set[str], entity: str) -> list[Any]:
    """``items`` without those whose key is in ``seen`` (adding the others' keys to it); items without a usable
    key are kept (landing quarantines them). The key is an account's id; a trending tag's name, lowered as curation
    keys it (Mastodon sent tags without an ``id`` before 4.x)."""
    tags = entity == "trends_tags"
    kept = []
    for item in items:
        key = item.get("name" if tags else "id") if isinstance(item, dict) else None
        if isinstance(key, str) and key:
            key = key.lower() if tags else key
            if key in seen:
                continue
            seen.add(key)
        kept.append(item)
    return kept
