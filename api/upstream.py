"""The API's one way to an instance: the collector's own ``fetch_page`` + ``land_page``, bounded for a request.

The collector may wait minutes for a rate-limit window; an HTTP request to this API must not. So the API
builds the same :class:`~fediscope.sources.client.MastodonClient` the collector uses, with:

* ``wait_on_rate_limit=False`` and no pacing — an upstream 429 (or a spent budget) comes back at once as our
  429 with the instance's ``Retry-After`` (or its ``X-RateLimit-Reset``, turned into seconds);
* one rate-limit state per instance, shared by the clients of every request (:meth:`Upstream.rate_of`; the
  server's threads update it under a lock): after a 429 that said how long to wait (``Retry-After`` or
  ``X-RateLimit-Reset``), or an answer saying the window's budget is spent (``X-RateLimit-Remaining: 0``), every
  request for that instance is answered 429 ``upstream_rate_limited`` with the seconds left as ``Retry-After``,
  without a request to the instance, until the wait is over. A client being its own, a caller could otherwise keep
  sending (this API's own limit, ``FEDISCOPE_API_RATE_LIMIT``, is per key and above Mastodon's 300 per 5 minutes)
  while the instance throttles us. A 429 that says nothing is passed on with :data:`DEFAULT_RETRY_AFTER` but holds
  nothing (that wait is ours, not the instance's);
* a memory of the instances found down: after a request's retry ran out on an answer saying the whole server is
  down (502, 503, 504, or no answer), every request for that instance is answered 503 ``upstream_down`` with the
  seconds left as ``Retry-After`` for :data:`DOWN_MEMORY` seconds (as long as its last answer's ``Retry-After``
  asked when longer, up to :data:`MAX_RETRY_AFTER`), or until a request already on its way has a page of it,
  without a request to it, not even for its instance document (:class:`DownInstances`);
* at most :data:`MAX_RETRIES` retry and a timeout of at most :data:`MAX_TIMEOUT` seconds per request, as a
  deadline for the whole request from its first connect, retry included (requests' own timeout restarts at
  every byte, so an instance sending one byte a second would otherwise hold a server thread for hours). A
  request still incomplete at the deadline, wherever it waits (TLS handshake, headers, body), has its connection
  cut and is not retried, and no retry is started that could not end in time
  (see :class:`~fediscope.sources.client.MastodonClient`);
* at most :data:`MAX_BODY_BYTES` of body (502 ``upstream_too_large`` beyond), and no more items than the page
  asked for (the first ``limit``, and the ``next`` cursor then continues after the last item kept; with ``min_id``
  the ``limit`` items next to it, and ``prev`` continues after the newest item kept: :func:`_keep_asked_items`);
* paging cursors from the instance's ``Link`` header only when they pass this API's own id rule (else
  dropped, logged at INFO), so ``next``/``prev`` are always cursors this API accepts back; and never the id of a
  status skipped for its author (erased or opted out, or a boost of one): such a cursor is moved as the
  collector moves the ids it saves (:func:`_move_off_withheld`, :mod:`fediscope.sources.withheld`). When the page
  holds nothing but such statuses, within one minute, the moved cursor would ask for the same page again: the API
  then fetches up to :data:`MAX_EXTRA_PAGES` further pages itself, with the instance's own cursor (never handed
  out), and answers their records and the cursor of the last (:meth:`Upstream._continue_past_withheld`), stopping
  at the first that holds nothing beyond the pages before it (an instance that ignores ``max_id``/``min_id``: the
  walk's cursor is then null);
* ``Retry-After`` passed on (429, and 502 after an upstream 5xx that sent one) capped at
  :data:`MAX_RETRY_AFTER` seconds; a 429 that says nothing usable (no or a garbage ``Retry-After``, no rate-limit
  reset) gets :data:`DEFAULT_RETRY_AFTER`; the 502 of a request whose failure starts (or extends) the memory of
  the instance as down says instead how long that memory lasts (at least :data:`DOWN_MEMORY`, with or without the
  instance's own ``Retry-After``), as the 503 ``upstream_down`` answers meanwhile count down to it;
* a session hardened by :func:`api.guard.harden_session` (peer-address check, same-host redirects only);
* the same privacy policy, including the erasure suppression list of the lake (``_state/suppressed.json``),
  re-read every :data:`SUPPRESSION_TTL` seconds; when it cannot be read the API answers 503 rather than risk
  returning an erased account. A route naming an erased account (``/v1/accounts/<acct>/statuses``) is 410
  ``erased_account`` before the instance is asked for the account, as ``fediscope collect`` skips such a source
  (:func:`~fediscope.gdpr.suppression.names_an_erased_account`), also when it is written without a domain and
  was erased by its handle on a split-domain instance (``alice`` of social.example.com erased as
  ``alice@example.com``): the instance's handle domain is found first, as below (at most the instance document is
  asked for). The opted-out accounts a page meets are noted
  in the lake (each once per server while its note is pending, again once a curation applied it:
  :class:`~fediscope.gdpr.opt_outs.PendingNotes`), so the next curation erases what was landed of them before
  they opted out; a lake that cannot take the note is logged, as the answer itself is right;
* the same quarantine: the malformed items of a page (left out of ``records``, counted in ``quarantined``), and a
  body that is not JSON or not the documented shape (502 ``upstream_malformed``), are written to
  ``<lake>/quarantine/`` by the collector's own :func:`~fediscope.sources.quarantine.quarantine_items` /
  :func:`~fediscope.sources.quarantine.quarantine_body` (values withheld while privacy is on), as
  ``<endpoint>-api-<content tag>.json``: named after what they hold, so the same malformed data asked for again
  overwrites that day's file rather than adding one per request. When the lake cannot be written the answer is
  503 ``lake_unavailable``, as for an unreadable suppression list, and for the same reason: the API fails
  closed on the lake rather than give an answer the collector would not (the collector never moves past
  malformed data it could not quarantine — its source fails and the page is fetched again). The client (the
  NiFi flow retries a 5xx) asks again once the lake is back, and only then do the malformed items get
  quarantined; answering 200 instead would have them lost for diagnosis for good. Pages with nothing to
  quarantine never touch the lake this way, so they are still served;
* local accounts keyed by the instance's handle domain when it is a proper parent domain of the host
  (``social.example.com`` serving ``@alice@example.com``, see :mod:`fediscope.privacy`), as the collector keys
  them: learned from the instance document (the page itself on the instance route, else one extra request, only
  for hosts that can have such a parent) and remembered :data:`HANDLE_DOMAIN_TTL` seconds per instance
  (:data:`HANDLE_DOMAIN_RETRY` after the document could not be had). A settled answer is also recorded in the
  lake's ``_state/handle_domains.json``, shared with the collector and the stream; when the document cannot be had,
  the handle domain remembered there is used (none remembered: the domain connected to), and when that file
  cannot be read the answer is 503 ``lake_unavailable`` (see :class:`HandleDomains`). So is every records request,
  with privacy on or off, while the file cannot be read and anybody was erased: it is what finds an erased account
  under its other name (:meth:`HandleDomains.preload`).

Failures become the JSON error envelope: 404 when the instance says the tag/account does not exist, 502 for
everything else that went wrong upstream (5xx after the retry, timeouts, refusals, refused redirects, malformed
or oversized bodies), 503 ``upstream_down`` while an instance is remembered down (nothing sent), 503
``lake_unavailable`` when the lake cannot be read (suppression list, the remembered handle domain of an instance
whose document failed, the handle-domain memory while anybody was erased) or written (quarantine).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import requests

from api.errors import ApiError
from api.guard import InstanceGuard, harden_session
from api.params import ID_MAX_LENGTH, OFFSET_MAX, PageQuery, is_id
from fediscope.config import Settings, instance_domain
from fediscope.errors import FediscopeError, LakeError, UpstreamError
from fediscope.gdpr.opt_outs import PendingNotes
from fediscope.gdpr.suppression import load_suppressed, names_an_erased_account
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.key_check import KeyMismatchError, check_landing_key, key_mismatch
from fediscope.privacy import PrivacyPolicy, may_have_handle_domain, policy_from_settings
from fediscope.redact import secret_values
from fediscope.sources.client import (
    MalformedResponse,
    MastodonClient,
    RateLimited,
    RedirectRefused,
    ResponseTooLarge,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamTLSError,
    UpstreamUnavailable,
    instance_down,
    refused_hint,
    wait_text,
)
from fediscope.sources.handle_domains import (
    load_handle_domains,
    remember_handle_domain,
    remembered_handle_domain,
    unreadable_memory_refusal,
    unreadable_memory_warning,
)
from fediscope.sources.pages import (
    HandleDomain,
    Landed,
    Page,
    QuarantinedItem,
    fetch_handle_domain,
    fetch_page,
    id_key,
    land_page,
    max_id_of,
    min_id_of,
    page_size,
    same_id_kind,
)
from fediscope.sources.quarantine import quarantine_body, quarantine_items
from fediscope.sources.ratelimit import RateLimitState, parse_retry_after
from fediscope.sources.spec import SourceRef
from fediscope.sources.withheld import Withheld

log = logging.getLogger(__name__)

MAX_RETRIES = 1
#: Seconds one upstream request may take, retry included, from its first connect to the last byte of the body.
MAX_TIMEOUT = 10.0
#: Bytes of (decoded) body read from an instance; a page of 40 statuses is a few hundred KiB.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Items kept from a snapshot answer (instance activity: Mastodon sends 12 weeks); paged routes keep ``limit``.
SNAPSHOT_MAX_ITEMS = 100
#: Retry-After sent when the instance throttled us without saying for how long.
DEFAULT_RETRY_AFTER = 60
#: The longest Retry-After passed on: an instance's "come back in three years" becomes an hour.
MAX_RETRY_AFTER = 3600
#: Seconds an instance is not asked after a request for it outlasted the API's retry on an answer that says the
#: whole server is down (:func:`~fediscope.sources.client.instance_down`): meanwhile every request for it is
#: answered 503 ``upstream_down`` (:class:`DownInstances`). Longer when that answer's ``Retry-After`` asked for
#: longer (at most :data:`MAX_RETRY_AFTER`); shorter when a page of it is had meanwhile.
DOWN_MEMORY = 30.0
#: Seconds an erasure may take to reach a running API (the suppression list is cached this long).
SUPPRESSION_TTL = 30.0
#: Opted-out account keys a server remembers having noted (beyond that it starts again: a note more, not one less).
OPT_OUTS_REMEMBERED = 100_000
#: Seconds between two questions to the lake whether a note of this server was applied by a curation yet.
OPT_OUTS_RECHECK = 30.0
#: Seconds an instance's handle domain (or that it has none) is remembered.
HANDLE_DOMAIN_TTL = 3600.0
#: Seconds before the instance document is asked for again after it could not be had.
HANDLE_DOMAIN_RETRY = 60.0
#: Batch id of the API's quarantine files, before their content tag (``<endpoint>-api-<content tag>.json``).
QUARANTINE_BATCH = "api"
#: Pages fetched from the instance beyond the one asked for, for one request, when that page's cursor cannot move
#: off the statuses skipped for their author without asking for the same page again
#: (:meth:`Upstream._continue_past_withheld`): each costs one request of the instance's rate-limit budget and up to
#: :data:`MAX_TIMEOUT` seconds. Five pages of 40 statuses of opted-out or erased accounts in one minute is more
#: than a timeline holds but on a flood; beyond, some statuses of that minute may be missed (logged at WARNING).
MAX_EXTRA_PAGES = 5


def _load_suppressed(settings: Settings) -> set[str]:
    """The lake's suppression list, read the way the collector reads it, once the pseudonym key (and privacy mode)
    is checked against the lake's (:mod:`fediscope.lake.key_check`): what the API serves is landed into this lake
    (NiFi), and ``serve-api`` checked only at start, so a lake created or claimed with another key afterwards
    was served to anyway. A lake without a check gets this key's."""
    lake = open_lake(settings.lake)
    if lake.is_dir(""):
        outcome = "the API answers 503 key_mismatch (what it serves is landed into this lake)"
        mismatch = key_mismatch(settings, lake, outcome)  # a check that cannot be read: 503 lake_unavailable
        if mismatch:
            raise KeyMismatchError(mismatch)
        try:  # recording one in a lake without it is best effort: an API may only read its lake
            check_landing_key(settings, lake, warn=False, outcome=outcome)
        except KeyMismatchError:
            raise  # another process recorded another key meanwhile
        except LakeError as exc:
            _warn_once(f"the pseudonym key's check could not be recorded in the lake (compared again every "
                       f"{SUPPRESSION_TTL:g} s): {exc}")
    return load_suppressed(lake)


_warned: set[str] = set()


def _reason(exc: BaseException) -> str:
    """An exception's message on one line, cut to 300 characters (a TLS error can run to a page)."""
    text = " ".join(str(exc).split()) or "no message"
    return text if len(text) <= 300 else text[:299] + "…"


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


class Suppression:
    """The erasure suppression list, cached for ``ttl`` seconds; 503 when the lake cannot be read."""

    def __init__(self, settings: Settings, ttl: float = SUPPRESSION_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.ttl = ttl
        self.clock = clock
        self._keys: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> frozenset[str]:
        with self._lock:
            now = self.clock()
            if self._loaded_at is None or now - self._loaded_at >= self.ttl:
                try:
                    self._keys = frozenset(_load_suppressed(self.settings))
                except KeyMismatchError as exc:
                    log.error("%s", exc)
                    raise ApiError(503, "key_mismatch",
                                   "this API's pseudonym key (or privacy mode) is not the one the lake "
                                   "(FEDISCOPE_LAKE) was landed with, so what it serves would join nothing there; "
                                   "the operator must restart it with the lake's key") from None
                except FediscopeError as exc:
                    log.error("cannot read the suppression list from the lake: %s", exc)
                    raise ApiError(503, "lake_unavailable",
                                   "the erasure suppression list in the lake (FEDISCOPE_LAKE) cannot be read, so "
                                   "records cannot be filtered safely; check the lake and retry") from None
                self._loaded_at = now
            return self._keys


#: The answer (503 ``lake_unavailable``) when the handle domains remembered in the lake cannot be read and anybody
#: was erased (:meth:`HandleDomains.preload`); the reason itself, which may name where the lake lives, is logged.
UNREADABLE_MEMORY_ANSWER = unreadable_memory_refusal("served")


class HandleDomains:
    """Each instance's handle domain (see the module docstring), remembered per domain for ``ttl`` seconds.

    With a lake (``open_lake``), it shares the collector's memory of handle domains
    (:mod:`fediscope.sources.handle_domains`): a settled answer is recorded there when it differs (so an instance
    scraped only through this API, by the NiFi flows, is remembered too; a failed write is logged and the answer
    still served — it is correct, and the next lookup tries again), and when the document cannot be read the
    remembered handle domain is used, so the keys stay those of the runs before. When that memory cannot be read
    (lake down, damaged file) the answer is 503 ``lake_unavailable``, as for the suppression list: keying by the
    served domain would give the records a pseudonym the collector does not. It is 503 too, on any instance, while
    it cannot be read and anybody was erased (:meth:`preload`).

    With ``down`` (the API's :class:`DownInstances`), an instance remembered down is not asked for its document: it
    is then not had, as when it fails (the lake's remembered handle domain is used), but not remembered as failed,
    so the first lookup after the instance is back asks. A failed document does not feed that memory: the collector
    does not count it either, and its own memory (:data:`HANDLE_DOMAIN_RETRY`) already asks a failing instance at
    most once a minute; the page fetched next says whether the instance is down."""

    def __init__(self, ttl: float = HANDLE_DOMAIN_TTL, retry: float = HANDLE_DOMAIN_RETRY,
                 clock: Callable[[], float] = time.monotonic,
                 open_lake: Callable[[], LakeBackend] | None = None, down: DownInstances | None = None) -> None:
        self.ttl, self.retry, self.clock = ttl, retry, clock
        self.open_lake = open_lake
        self.down = down
        self._known: dict[str, tuple[str | None, float]] = {}  # domain → (handle domain or None, valid until)
        #: the lake's memory (None: it could not be read), valid until
        self._remembered: tuple[dict[str, str | None] | None, float] | None = None
        self._lock = threading.Lock()

    def preload(self, policy: PrivacyPolicy) -> None:
        """Register with ``policy`` every handle domain the lake remembers, and those this process learned
        (:meth:`~fediscope.privacy.PrivacyPolicy.use_remembered_handle_domains`; with privacy on, to look an account
        up under its other name alone, never to key one), before a page is landed: an account erased under one of
        its names is then left out under the other on every instance, not only once a request to its home instance
        has taught this process its handle domain, and an opted-out account met on another instance is noted under
        its served-domain name too (with privacy on or off, whether or not anybody was erased). The lake's memory is
        read at most every :data:`SUPPRESSION_TTL` seconds (a failure too). A memory that cannot be read is logged
        (WARNING, once per reason); when anybody was erased (``policy.suppressed``) the answer is then 503
        ``lake_unavailable``, with privacy on or off, as for the suppression list itself: an account erased under one
        name before the lake knew its handle domain is on the list under that name alone, and the memory is what
        finds it under the other, on an instance this process never asked about. Nobody erased, the handle domains
        this process learned are used alone (the collector and the stream do the same): an opted-out account is
        left out all the same, only noted under the name met."""
        now = self.clock()
        with self._lock:
            remembered = self._remembered
        if self.open_lake is not None and (remembered is None or now >= remembered[1]):
            read: dict[str, str | None] | None
            try:
                read = load_handle_domains(self.open_lake())
            except FediscopeError as exc:
                _warn_once(unreadable_memory_warning(exc, "this API learned"))
                read = None
            remembered = (read, now + SUPPRESSION_TTL)
            with self._lock:
                self._remembered = remembered
        if remembered is not None and remembered[0] is None and policy.suppressed:
            raise ApiError(503, "lake_unavailable", UNREADABLE_MEMORY_ANSWER)
        with self._lock:
            learned = {domain: handle for domain, (handle, _until) in self._known.items()}
        policy.use_remembered_handle_domains({**((remembered[0] or {}) if remembered else {}), **learned})

    def lookup(self, client: MastodonClient, page: Page | None) -> str | None:
        """The handle domain of ``client``'s instance, from ``page`` when it is the instance document, else from
        memory or one request for it (none while the instance is remembered down), else the one remembered in the
        lake (never raises for what the instance does; ApiError 503 when the lake's memory is needed and cannot be
        read)."""
        domain = client.domain
        with self._lock:
            known = self._known.get(domain)
        if known is not None and self.clock() < known[1]:
            return known[0]
        ask = self.down is None or not self.down.remembered(domain)
        learned = fetch_handle_domain(client, page, ask=ask)
        handle_domain = learned.domain
        if self.open_lake is not None:
            handle_domain = self._with_lake(domain, learned)
        if ask or learned.settled:  # not asked: nothing learned of the document, to be asked once the instance is up
            with self._lock:
                self._known[domain] = (handle_domain, self.clock() + (self.ttl if learned.settled else self.retry))
        return handle_domain

    def _with_lake(self, domain: str, learned: HandleDomain) -> str | None:
        assert self.open_lake is not None
        if learned.settled:
            try:
                remember_handle_domain(self.open_lake(), domain, learned.domain)
            except FediscopeError as exc:
                log.warning("%s: its handle domain could not be remembered in the lake: %s", domain, exc)
            return learned.domain
        try:
            return remembered_handle_domain(self.open_lake(), domain)
        except FediscopeError as exc:
            log.error("%s: the instance document could not be read and the handle domains remembered in the lake "
                      "cannot be either: %s", domain, exc)
            raise ApiError(503, "lake_unavailable",
                           f"instance {domain} did not answer its instance document and the handle domain "
                           "remembered for it in the lake (FEDISCOPE_LAKE) cannot be read (the server log says why), "
                           "so its accounts cannot be keyed as the collector keys them; check the lake and retry"
                           ) from None


class DownInstances:
    """The instances found down, each remembered :data:`DOWN_MEMORY` seconds (per process, as the rate-limit state).

    After a request's retry ran out on answers that say the whole server is down (502, 503, 504, network errors,
    timeouts: :func:`~fediscope.sources.client.instance_down`), every request for that instance, on every route and
    in every server thread, is answered 503 ``upstream_down`` with the seconds left as ``Retry-After``, without a
    request to it: was, each was sent (and retried once), so a flow polling many sources hit a struggling server
    with two requests per source, each holding a server thread up to :data:`MAX_TIMEOUT` seconds. As the collector
    does for the rest of its run, but for seconds: an API has no next run. A TLS failure is not remembered (no
    struggling server: its own answer, 502 ``upstream_tls_error``, says what to fix, and is not retried), nor an
    answer cut at the deadline (one slow page says nothing of the others).

    How long: :data:`DOWN_MEMORY`, or the ``Retry-After`` of the instance's last answer when it asked for longer
    (a 503 for maintenance says ``Retry-After: 120``): was, the next requests were told to come back in 30 s, and
    were sent then, while the instance had said two minutes. At most :data:`MAX_RETRY_AFTER` seconds. The 502 of
    the request that found it down says as ``Retry-After`` how long the memory lasts (:meth:`note`), also when the
    instance sent none (a 503 without it, a timeout, no answer), so the memory ends when that answer told its client
    to come back and every 503 meanwhile counts down to the same moment. Not the day a 429's wait is held
    (:data:`~fediscope.sources.client.MAX_WINDOW_SECONDS`): a 429 is the instance's word on our budget, which a
    client ignores at the risk of being blocked, so it is kept (each 429 we answer passing on at most an hour of it);
    a 5xx's ``Retry-After`` is advice on the server's health, and after an hour one request (no retry: the deadline
    does not let one wait that long) finds out whether it still holds. A later failure never shortens a memory
    already longer (a request sent before a 503 asking for 120 s and failing after it, without a ``Retry-After``).

    A page the instance answered (:meth:`up`, any route, any thread) ends the memory at once: the instance is up.
    Also when the request was sent before the failure that recorded it, and answered after: the instance answered
    after (or while) it failed that one, so it is up, or up again. The last word wins, in the order the two are
    noted: a page answered before the failure is noted does not lift it. Only a page had: not a malformed body (a
    proxy's error page sent as 200) nor an error answer (a 404, a 429), which a proxy in front of a dead
    application may send too."""

    def __init__(self, memory: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._memory, self.clock = memory, clock
        # domain → (when last found down, until when it is not asked, what it answered): allowlisted
        self._down: dict[str, tuple[float, float, str]] = {}
        self._lock = threading.Lock()

    @property
    def memory(self) -> float:
        """Seconds an instance is remembered down: ``memory``, else :data:`DOWN_MEMORY` as it is when asked."""
        return DOWN_MEMORY if self._memory is None else self._memory

    def note(self, domain: str, exc: UpstreamError) -> float | None:
        """Remember ``domain`` as down when ``exc`` (a request's final failure) says it is: :attr:`memory` seconds,
        or as long as its ``Retry-After`` asked, up to :data:`MAX_RETRY_AFTER`, or longer when an earlier failure
        asked for longer. Returns the seconds from now the memory lasts, which the 502 of that request passes on as
        its ``Retry-After`` (:func:`upstream_error`), so it counts down to the moment every 503 ``upstream_down``
        meanwhile names; None when nothing is remembered (not a failure saying the instance is down, or a memory
        of 0 s)."""
        if not instance_down(exc) or isinstance(exc, UpstreamTLSError):
            return None
        status = getattr(exc, "status", None)
        told = getattr(exc, "retry_after", None)
        asked = _retry_after(told)
        said = (f"HTTP {status}" if status else "no answer") + (f" asking to retry in {wait_text(told)}" if asked
                                                                 else "")
        with self._lock:
            now = self.clock()
            until = now + max(self.memory, asked or 0)
            found = self._down.get(domain)
            if found is not None and found[1] > until:
                until = found[1]
            self._down[domain] = (now, until, said)
        return until - now if until > now else None

    def up(self, domain: str) -> None:
        """``domain`` answered a page: it is not down (class docstring)."""
        with self._lock:
            self._down.pop(domain, None)

    def remembered(self, domain: str) -> bool:
        """Whether ``domain`` is remembered down: not to be asked."""
        return self._found(domain, self.clock()) is not None

    def check(self, domain: str) -> None:
        """ApiError 503 ``upstream_down`` while ``domain`` is remembered down."""
        now = self.clock()
        found = self._found(domain, now)
        if found is None:
            return
        at, until, said = found
        seconds = _retry_after(until - now) or 1
        raise ApiError(503, "upstream_down",
                       f"instance {domain} failed or timed out ({said}) {math.floor(now - at)} s ago; to spare a "
                       f"server that seems down it is not asked again for {math.ceil(until - at)} s after that, so "
                       f"this request was not sent to it; retry in {seconds} s",
                       headers={"Retry-After": str(seconds)}, retry_after=seconds)

    def _found(self, domain: str, now: float) -> tuple[float, float, str] | None:
        with self._lock:
            found = self._down.get(domain)
            if found is not None and now >= found[1]:
                del self._down[domain]
                found = None
        return found


@dataclass
class Fetched:
    """One landed page, as the resources shape it into the response."""

    records: list[dict[str, Any]]
    next_max_id: str | None
    prev_min_id: str | None
    next_offset: int | None  # the routes paged by offset: where their next page starts (None: this is the last)
    skipped: int  # left out by the privacy policy
    opted_out: int  # of ``skipped``: because their own account opted out (a count only, never which accounts)
    quarantined: int


class Upstream:
    """Fetch and land one page of a source from an allowlisted instance."""

    def __init__(self, settings: Settings, guard: InstanceGuard,
                 policy_factory: Callable[[], PrivacyPolicy] | None = None,
                 client_factory: Callable[..., MastodonClient] | None = None) -> None:
        self.settings = settings
        self.guard = guard
        policy_from_settings(settings)  # fail at start, not on the first request, when the pseudonym key is missing
        for domain in sorted(settings.allowed_instances()):  # and when a token cannot be sent (was a 500 per request)
            settings.token_for(domain)
        self.suppression = Suppression(settings)
        self.policy_factory = policy_factory or (
            lambda: policy_from_settings(settings, suppressed=self.suppression.current()))
        self.client_factory = client_factory or MastodonClient.from_settings
        self.down = DownInstances()
        self.handle_domains = HandleDomains(open_lake=self._open_lake, down=self.down)
        # opted-out accounts noted in the lake by this server, while their notes are pending (see _note_opt_outs)
        self._opt_outs = PendingNotes("api", recheck_seconds=OPT_OUTS_RECHECK, remembered=OPT_OUTS_REMEMBERED)
        self._rates: dict[str, RateLimitState] = {}  # per instance domain; the allowlist bounds it
        self._rates_lock = threading.Lock()

    def rate_of(self, domain: str) -> RateLimitState:
        """The rate-limit state every request's client for ``domain`` shares (module docstring)."""
        with self._rates_lock:
            return self._rates.setdefault(domain, RateLimitState())

    def client(self, base_url: str) -> MastodonClient:
        # no pacing sleeps either (pace_fraction=0): a spent budget is a 429 for the client to wait out
        client = self.client_factory(
            self.settings, base_url, wait_on_rate_limit=False, pace_fraction=0.0,
            rate=self.rate_of(instance_domain(base_url)),
            max_retries=min(self.settings.max_retries, MAX_RETRIES),
            timeout=min(self.settings.request_timeout, MAX_TIMEOUT),
            deadline=min(self.settings.request_timeout, MAX_TIMEOUT), max_body_bytes=MAX_BODY_BYTES)
        harden_session(client.api.session, allow_private=self.guard.allow_private)
        return client

    def fetch(self, source: SourceRef, query: PageQuery) -> Fetched:
        base_url = self.guard.base_url(query.domain)
        self.guard.check_addresses(query.domain)
        self.down.check(query.domain)  # before the lake is read: nothing of this request is sent
        policy = self.policy_factory()
        self.handle_domains.preload(policy)  # an erased account's other name, on every instance
        client = self.client(base_url)
        throttled = _ThrottleWatch(client)
        try:
            if names_an_erased_account(policy, source, query.domain, self._handle_domain_to_check(client, source,
                                                                                                  policy)):
                # as `fediscope collect` does not collect it: its page would be empty, but its cursors would be the
                # erased account's status ids, and the instance would be asked for the account all the same
                raise ApiError(410, "erased_account",
                               f"this account of {query.domain} was erased on request (fediscope gdpr erase): nothing "
                               "of it is served or landed; remove it from the sources (NiFi flow) that ask for it")
            page = self._fetch_page(client, throttled, source, query, policy)
            # with privacy off too: no record is keyed by it then, but an erased account is skipped under both its
            # names (PrivacyPolicy.skip_reason), and the lake remembers it for `gdpr erase` (as the collector does)
            policy.use_handle_domain(client.domain, self.handle_domains.lookup(client, page))
            pages = [(page, self._land(page, source, query, policy))]
            stuck = source.paged and self._continue_past_withheld(pages, client, throttled, source, query, policy)
        finally:
            client.close()
        return _fetched(pages, source, query, policy, stuck=stuck)

    def _handle_domain_to_check(self, client: MastodonClient, source: SourceRef,
                                policy: PrivacyPolicy) -> str | None:
        """The handle domain an account source written without a domain is also checked with against the
        suppression list (:func:`~fediscope.gdpr.suppression.names_an_erased_account`): ``alice`` of
        social.example.com is erased as ``alice@example.com``, which neither privacy off (keyed by the domain
        connected to) nor a policy not told the handle domain yet (it is told after the page) would match. Found as
        the collector finds it before its account sources, by :meth:`HandleDomains.lookup` (remembered, else the
        instance document, else the lake's memory; the answer is kept for the page's own lookup); asked only when
        someone was erased and the host can have such a parent domain. Was: not passed, so such an erased account
        was asked for and its cursors served (its records left out by the policy)."""
        if not (policy.suppressed and source.names_an_account and source.arg and "@" not in source.arg
                and may_have_handle_domain(client.domain)):
            return None
        return self.handle_domains.lookup(client, None)

    def _fetch_page(self, client: MastodonClient, throttled: _ThrottleWatch, source: SourceRef, query: PageQuery,
                    policy: PrivacyPolicy) -> Page:
        """One upstream page, its failures turned into the API's answers (:func:`upstream_error`). Not asked while
        the instance is remembered down (503 ``upstream_down``): another request may have found it down since this
        one began (:meth:`fetch` checks first, before the lake is read); a page had ends that memory
        (:class:`DownInstances`)."""
        self.down.check(query.domain)
        try:
            page = fetch_page(client, source, since_id=query.since_id, max_id=query.max_id, min_id=query.min_id,
                              offset=query.offset, limit=query.limit)
        except UpstreamError as exc:
            if isinstance(exc, MalformedResponse):
                self._quarantine_body(exc, query.domain, keep_raw=not policy.enabled,
                                      scrub=policy.quarantine_scrub(query.domain))
            held = self.down.note(query.domain, exc)
            wait = throttled.told(exc) if isinstance(exc, RateLimited) else None
            raise upstream_error(exc, query.domain, source, token_sent=bool(client.access_token),
                                 retry_after=wait, down_for=held) from None
        self.down.up(query.domain)
        return page

    def _land(self, page: Page, source: SourceRef, query: PageQuery, policy: PrivacyPolicy) -> Landed:
        """Land one page as the collector does: the asked-for items, opted-out accounts noted, malformed items
        quarantined."""
        _keep_asked_items(page, source, query)
        landed = land_page(page, policy, query.domain)
        if policy.opted_out:
            self._note_opt_outs(policy.opted_out)
        if landed.quarantined:
            self._quarantine_items(page, landed.quarantined, query.domain, keep_raw=not policy.enabled,
                                   scrub=policy.quarantine_scrub(query.domain))
        return landed

    def _continue_past_withheld(self, pages: list[tuple[Page, Landed]], client: MastodonClient,
                                throttled: _ThrottleWatch, source: SourceRef, query: PageQuery,
                                policy: PrivacyPolicy) -> bool:
        """Fetch further pages the way the walk goes (down by ``max_id``; up by ``min_id`` when the query has one)
        while the cursor of the pages had so far, moved off the statuses skipped for their author
        (:func:`_move_off_withheld`), would ask for the page asked for again: at most :data:`MAX_EXTRA_PAGES`, with
        the instance's own cursor (never handed out) and, so that ``records`` hold no more than ``limit``, the
        ``limit`` less the records had so far. The instance's failures on them are answered as on the first page
        (a 429 when the rate-limit budget is spent: asked again later, all of it is fetched again).

        A further page holding no status beyond the pages had so far (older going down, newer going up) comes
        from an instance that does not page by that cursor (it ignores ``max_id``/``min_id`` and answers the same
        page again): it is left out (neither landed nor counted) and no more are asked for, and True is returned
        (the walk's cursor is then dropped: :func:`_move_off_withheld`), logged at WARNING; else False."""
        down = query.min_id is None
        bounds = _Bounds.of(query, pages[0][0])
        for _ in range(MAX_EXTRA_PAGES):
            span = _span(pages, down)
            withheld = Withheld.of(policy, span.items, query.domain)
            real = span.next_max_id if down else span.prev_min_id
            if not bounds.stalls(real, withheld, down=down):
                return False
            left = item_cap(source, query) - sum(len(landed.records) for _page, landed in pages)
            if left <= 0:
                return False
            paging = {"max_id": real} if down else {"min_id": real}
            further = replace(query, limit=left, **paging)
            page = self._fetch_page(client, throttled, source, further, policy)
            _keep_asked_items(page, source, further)
            if not _goes_beyond(page, span, down=down):
                log.warning("%s %s: the instance answered the page asked for by its own rel=%s cursor with no status "
                            "%s the %d page(s) before it: it does not page by %s, so no further page is asked for "
                            "and the answer's %s cursor is null (the walk ends here)", query.domain, page.endpoint,
                            "next" if down else "prev", "older than" if down else "newer than", len(pages),
                            "max_id" if down else "min_id", "next" if down else "prev")
                return True
            pages.append((page, self._land(page, source, further, policy)))
            log.info("%s %s: the page held no status beyond which its cursor could move without naming a status "
                     "skipped for its author or asking for the same page again; fetched page %d of at most %d "
                     "further ones from the instance", query.domain, page.endpoint, len(pages) - 1,
                     MAX_EXTRA_PAGES)
        return False

    def _open_lake(self) -> LakeBackend:
        return open_lake(self.settings.lake)

    def _note_opt_outs(self, keys: set[str]) -> None:
        """Note opted-out accounts not pending in a note of this server, so the next curation erases what was landed
        of them before they opted out (:mod:`fediscope.gdpr.opt_outs`). A lake that cannot take the note is logged,
        not an error: the answer is right as it is (they are left out), and the next page that meets them notes
        them."""
        try:
            self._opt_outs.note(self._open_lake, keys)
        except FediscopeError as exc:
            log.warning("%d opted-out account(s) could not be noted in the lake (%s); noted when met again",
                        len(keys), exc)

    def _quarantine_items(self, page: Page, quarantined: list[QuarantinedItem], domain: str, *,
                          keep_raw: bool, scrub: Callable[[Any], Any] | None = None) -> None:
        """Write a page's malformed items to the lake's quarantine; 503 when it cannot (module docstring)."""
        reasons = "; ".join(sorted({q.reason for q in quarantined}))[:300]
        try:
            path = quarantine_items(self._open_lake(), domain, page.endpoint, quarantined, QUARANTINE_BATCH,
                                    keep_raw=keep_raw, fetched_at=page.fetched_at, by_content=True,
                                    secrets=secret_values(self.settings), scrub=scrub)
        except FediscopeError as exc:
            log.warning("%s %s: %d malformed item(s) could not be quarantined (%s): %s", domain, page.endpoint,
                        len(quarantined), reasons, exc)
            raise ApiError(503, "lake_unavailable",
                           f"instance {domain} answered {len(quarantined)} malformed item(s) on this page and the "
                           "lake's quarantine (FEDISCOPE_LAKE) cannot be written, so the page is not answered "
                           "without them; check the lake and retry") from None
        log.warning("%s %s: %d malformed item(s) left out, quarantined in %s: %s", domain, page.endpoint,
                    len(quarantined), path, reasons)

    def _quarantine_body(self, exc: MalformedResponse, domain: str, *, keep_raw: bool,
                         scrub: Callable[[Any], Any] | None = None) -> None:
        """Write a malformed body to the lake's quarantine; 503 when it cannot (module docstring)."""
        try:
            path = quarantine_body(self._open_lake(), domain, exc, QUARANTINE_BATCH, keep_raw=keep_raw,
                                   by_content=True, secrets=secret_values(self.settings), scrub=scrub)
        except FediscopeError as lake_exc:
            log.warning("%s %s: malformed answer could not be quarantined: %s", domain, exc.endpoint, lake_exc)
            raise ApiError(503, "lake_unavailable",
                           f"instance {domain} answered with a body that is not what the Mastodon API documents "
                           "and the lake's quarantine (FEDISCOPE_LAKE) cannot be written to keep it; check the "
                           "lake and retry") from None
        log.warning("%s %s: malformed answer quarantined in %s", domain, exc.endpoint, path)


def item_cap(source: SourceRef, query: PageQuery) -> int:
    """How many items of an answer are kept: what the request asked the instance for."""
    if source.paged:
        return page_size(query.limit, "statuses")
    if source.kind == "trends_tags":
        return page_size(query.limit, "trends_tags")
    return SNAPSHOT_MAX_ITEMS


def _keep_asked_items(page: Page, source: SourceRef, query: PageQuery) -> None:
    """Drop the items beyond what was asked for (an instance answering 3,000,000 items for ``limit=2``).

    A timeline answers newest first. Walking down (no ``min_id``) the first items are kept, and the ``next`` cursor
    then points just below the oldest item kept, so paging on misses nothing (dropped when no kept item has an id).
    Walking up by ``min_id`` (Mastodon's items just above it, still newest first) the last items are kept, those
    next to ``min_id``, and the ``prev`` cursor then points at the newest item kept: keeping the newest would have
    the walk jump over the items between (dropped too when no kept item has an id; ``next``, the oldest item, is
    among those kept).
    """
    cap = item_cap(source, query)
    if len(page.items) <= cap:
        return
    log.info("%s %s answered %d items for a page of %d; the rest are ignored", query.domain, page.endpoint,
             len(page.items), cap)
    if source.paged and query.min_id is not None:
        page.items = page.items[-cap:]
        page.prev_min_id = max_id_of(page.items)
        return
    page.items = page.items[:cap]
    if source.paged:
        page.next_max_id = min_id_of(page.items)
    if page.next_offset is not None:  # continue after the last item kept
        page.next_offset = query.offset + cap


def _fetched(pages: list[tuple[Page, Landed]], source: SourceRef, query: PageQuery,
             policy: PrivacyPolicy, *, stuck: bool = False) -> Fetched:
    """The answer of the pages fetched for one request (the page asked for, and those fetched beyond it by
    :meth:`Upstream._continue_past_withheld`): their records newest first, every item skipped or quarantined on
    any of them counted, and the cursors of the span they cover, moved off the statuses skipped for their author
    (:func:`_move_off_withheld`; ``stuck``: the instance did not page past them, see
    :meth:`Upstream._continue_past_withheld`)."""
    first = pages[0][0]
    down = query.min_id is None
    span = _span(pages, down)
    if source.paged:
        _move_off_withheld(span, Withheld.of(policy, span.items, query.domain), query, _Bounds.of(query, first),
                           fetched=len(pages), stuck=stuck)
    records = [record for _page, landed in (pages if down else pages[::-1]) for record in landed.records]
    return Fetched(records=records,
                   next_max_id=_checked_cursor(span.next_max_id, "next", query.domain, span.endpoint),
                   prev_min_id=_checked_cursor(span.prev_min_id, "prev", query.domain, span.endpoint),
                   next_offset=first.next_offset if first.next_offset is None or first.next_offset <= OFFSET_MAX
                   else None,
                   skipped=sum(landed.skipped for _page, landed in pages),
                   opted_out=sum(landed.opted_out for _page, landed in pages),
                   quarantined=sum(len(landed.quarantined) for _page, landed in pages))


def _span(pages: list[tuple[Page, Landed]], down: bool) -> Page:
    """The pages fetched for one request as one page, newest first: going down each is older than the one before
    (the span ends at the last one's ``next``), going up newer (it ends at the last one's ``prev``)."""
    first, last = pages[0][0], pages[-1][0]
    if len(pages) == 1:
        return first
    items = [item for page, _landed in (pages if down else pages[::-1]) for item in page.items]
    if down:
        return replace(first, items=items, next_max_id=last.next_max_id)
    return replace(first, items=items, prev_min_id=last.prev_min_id)


@dataclass(frozen=True)
class _Bounds:
    """Where the page asked for lies: the query's ``max_id`` and ``min_id``, the page's newest and oldest status.
    A walk's cursor that does not get past them asks for that same page again: going down, a ``max_id`` not below
    the query's, or above the page's newest status (the items below it are the page again); going up alike."""

    max_id: str | None
    newest: str | None
    min_id: str | None
    oldest: str | None

    @classmethod
    def of(cls, query: PageQuery, page: Page) -> _Bounds:
        return cls(query.max_id, page.newest_id, query.min_id, page.oldest_id)

    def passed(self, cursor: str, *, down: bool) -> bool:
        if down:
            return _beyond(cursor, self.max_id, down=True) and _beyond(cursor, self.newest, down=True, inclusive=True)
        return _beyond(cursor, self.min_id, down=False) and _beyond(cursor, self.oldest, down=False, inclusive=True)

    def stalls(self, cursor: str | None, withheld: Withheld, *, down: bool) -> bool:
        """Whether the walk's ``cursor`` (the instance's: ``next`` going ``down``, else ``prev``), moved off the
        statuses skipped for their author, would not get past where the page was asked from, or is dropped (a
        text id with no other status beyond it). A cursor that needs no moving is the instance's own business."""
        if cursor is None:
            return False
        moved = withheld.saved_up(cursor) if down else withheld.saved_down(cursor)
        return moved != cursor and (moved is None or not self.passed(moved, down=down))


def _beyond(cursor: str, bound: str | None, *, down: bool, inclusive: bool = False) -> bool:
    """Whether ``cursor`` lies below ``bound`` (``down``; else above it), or at it when ``inclusive``; ids of
    different kinds, or a missing bound, are not compared."""
    if bound is None or not same_id_kind(cursor, bound):
        return True
    if inclusive and id_key(cursor) == id_key(bound):
        return True
    return id_key(cursor) < id_key(bound) if down else id_key(cursor) > id_key(bound)


def _goes_beyond(page: Page, span: Page, *, down: bool) -> bool:
    """Whether ``page``, fetched by the instance's cursor of ``span`` (the pages had so far), holds a status beyond
    them: older than the oldest going ``down``, else newer than the newest. An empty page (the timeline ended) or
    one without ids, or a span without them, is not held against the instance."""
    beyond, edge = (page.oldest_id, span.oldest_id) if down else (page.newest_id, span.newest_id)
    return beyond is None or _beyond(beyond, edge, down=down)


def _move_off_withheld(page: Page, withheld: Withheld, query: PageQuery, bounds: _Bounds, *, fetched: int = 1,
                       stuck: bool = False) -> None:
    """Move the cursors of ``page`` (the span of the pages fetched for one request: :func:`_span`) off the statuses
    skipped for their author (erased or opted out, boosts of them), as the collector moves the ids it saves
    (:mod:`fediscope.sources.withheld`): with the instance an id names its author, and NiFi keeps these cursors as
    its state. ``next`` (a ``max_id``: below it nothing was had yet) moves up, ``prev`` (a ``min_id``: everything
    at and below it was had) down, to the span's nearest other status or the first id of the minute (of the next
    minute for ``next``), whichever is nearer: following them fetches some of the skipped statuses again, skipped
    again, and misses nothing.

    Moved so, the walk's cursor (``next`` going down, ``prev`` going up by ``min_id``) can ask for the page asked
    for again (:meth:`_Bounds.stalls`): a page of nothing but such statuses, within one minute. Can it when the
    page has other statuses too? Not on an instance that pages as Mastodon does: the cursor then moves at most to
    the nearest of them on its side, which is on the page, so below its newest (going up: above its oldest).
    :meth:`Upstream._continue_past_withheld` fetches further pages then, so that a status beyond the stall is one
    of the span; when it did not get past it (:data:`MAX_EXTRA_PAGES` further pages, or ``limit`` records, spent),
    the cursor moves the other way, to the far edge of the minute: statuses of that minute beyond the span are
    not fetched by this walk (logged at WARNING); when the instance did not page past the span at all
    (``stuck``: it answered a further page with nothing beyond it, :meth:`Upstream._continue_past_withheld`), the
    walk's cursor is dropped instead, ending the walk: any cursor would fetch that same page again. The other
    cursor (``next`` going up) moves so too when it would not leave where the query asked from (logged at INFO):
    what it skips lies at or below the query's ``min_id``, had already.

    A text id with nowhere to move (no other status on its side of the span) is dropped, logged at INFO; but the
    other cursor of the walk (``prev`` going down, ``next`` going up) then stands at the query's own bound on that
    side (going down its ``max_id``, else its ``since_id``; going up its ``min_id``), which is no status of the
    span: the span lies right against the first (an instance pages the items next to it) and above the second, so
    following it fetches again, never skips (:func:`_query_bound`). Only a page asked for with no such bound (the
    newest page) is then left without it."""
    if not withheld.ids:
        return
    down = query.min_id is None
    next_max, prev_min = withheld.saved_up(page.next_max_id), withheld.saved_down(page.prev_min_id)
    if down and stuck and bounds.stalls(page.next_max_id, withheld, down=True):
        next_max = None
    elif down and bounds.stalls(page.next_max_id, withheld, down=True):
        next_max = withheld.saved_down(page.next_max_id)
        _note_missed(page, "next", "below", fetched)
    elif not down and next_max != page.next_max_id and not _progresses(next_max, query.max_id, down=True):
        next_max = withheld.saved_down(page.next_max_id)
        log.info("%s %s: the rel=next cursor of a page asked for by min_id and max_id moves to the edge of its "
                 "minute below the page, not onto a status skipped for its author nor back onto the same page",
                 page.instance, page.endpoint)
    if not down and stuck and bounds.stalls(page.prev_min_id, withheld, down=False):
        prev_min = None
    elif not down and bounds.stalls(page.prev_min_id, withheld, down=False):
        prev_min = withheld.saved_up(page.prev_min_id)
        _note_missed(page, "prev", "above", fetched)
    if down and prev_min is None and page.prev_min_id is not None:
        prev_min = _query_bound(withheld, query.max_id, query.since_id)
    if not down and next_max is None and page.next_max_id is not None:
        next_max = _query_bound(withheld, query.min_id)
    for rel, before, after in (("next", page.next_max_id, next_max), ("prev", page.prev_min_id, prev_min)):
        if before is not None and after is None:
            log.info("%s %s: dropped the rel=%s cursor: it is the id of a status skipped for its author and no other "
                     "status of the page lies beyond it", page.instance, page.endpoint, rel)
    page.next_max_id, page.prev_min_id = next_max, prev_min


def _query_bound(withheld: Withheld, *bounds: str | None) -> str | None:
    """The first of the query's ``bounds`` given that is no status skipped for its author on the span (an instance
    bounding inclusively serves it), or None: where the walk's other cursor stands when it has nowhere to move
    (:func:`_move_off_withheld`)."""
    return next((b for b in bounds if b is not None and b not in withheld.ids), None)


def _progresses(cursor: str | None, asked: str | None, *, down: bool) -> bool:
    """Whether paging on from ``cursor`` leaves where the page was asked from (``asked``: its ``max_id`` going
    ``down``, else its ``min_id``); ids of different kinds, or a missing one, are not compared."""
    return cursor is None or _beyond(cursor, asked, down=down)


def _note_missed(page: Page, rel: str, side: str, fetched: int) -> None:
    log.warning("%s %s: the %d page(s) fetched from the instance for one request (at most %d beyond the one asked "
                "for) hold no status beyond which the rel=%s cursor moves without naming a status skipped for its "
                "author or asking for the same page again; it moves to the far edge of the minute of the last of "
                "them (or is dropped, an id that is no snowflake), so statuses of that minute %s them, not fetched "
                "yet, may be missed by this walk", page.instance, page.endpoint, fetched, MAX_EXTRA_PAGES, rel, side)


def _checked_cursor(cursor: str | None, rel: str, domain: str, endpoint: str) -> str | None:
    """An upstream paging cursor, or None when it is not an id this API accepts back (:func:`api.params.is_id`: a
    Mastodon id, or another server's text id such as a ULID)."""
    if cursor is None or is_id(cursor):
        return cursor
    log.info("%s %s: dropped the rel=%s cursor %r: not an id the API takes back (ASCII letters and digits, at most "
             "%d; digits alone at most 2^63-1)", domain, endpoint, rel, cursor[:40], ID_MAX_LENGTH)
    return None


class _ThrottleWatch:
    """How long a throttling instance asked us to wait, if it said. When a 429 has no (usable) ``Retry-After``
    and no rate-limit reset is known, the client waits its own backoff (about a second) and its
    :class:`RateLimited` carries that like a hint: passed on, clients would come back at once. So the API watches
    the 429s itself (a response hook on the client's session), and answers :data:`DEFAULT_RETRY_AFTER` when
    the instance did not say."""

    def __init__(self, client: MastodonClient) -> None:
        self.client = client
        self.last_429: requests.Response | None = None
        client.api.session.hooks["response"].append(self._seen)

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code == 429:
            self.last_429 = response

    def told(self, exc: RateLimited) -> float | None:
        """Seconds the instance asked for: the 429's ``Retry-After`` (as the client reads it, but a negative value
        or garbage is no answer), else the rate-limit window's reset (from that 429's ``X-RateLimit-Reset`` or an
        earlier answer's); None when it said neither. Without a 429, the client refused to spend a spent budget:
        the window's reset is its wait."""
        if self.last_429 is None:
            return exc.retry_after
        seconds = parse_retry_after(self.last_429.headers.get("Retry-After"))
        if seconds is None:
            seconds = self.client.reset_wait(time.time())
        return seconds


def _retry_after(seconds: float | None) -> int | None:
    """Whole seconds for a Retry-After header, 1 to :data:`MAX_RETRY_AFTER`; None when there is no usable hint."""
    if seconds is None or math.isnan(seconds):
        return None
    return max(1, math.ceil(min(seconds, MAX_RETRY_AFTER)))


#: The Mastodon endpoint behind each source an API route fetches, for the errors that name it.
MASTODON_ENDPOINTS = {
    "public": "/api/v1/timelines/public",
    "local": "/api/v1/timelines/public?local=true",
    "tag": "/api/v1/timelines/tag/:hashtag",
    "instance": "/api/v2/instance (and /api/v1/instance)",
    "instance_activity": "/api/v1/instance/activity",
    "trends_tags": "/api/v1/trends/tags",
}


def upstream_error(exc: UpstreamError, domain: str, source: SourceRef, token_sent: bool = False,
                   retry_after: float | None = None, down_for: float | None = None) -> ApiError:
    """Map the client's exceptions to the API's answers. Messages are ours: upstream text is not relayed.

    ``token_sent`` says whether the request carried the instance's access token (it changes the 401/403 hint);
    ``retry_after``, on :class:`RateLimited`, the seconds the instance asked us to wait (:class:`_ThrottleWatch`;
    None: it did not say, and :data:`DEFAULT_RETRY_AFTER` is answered); ``down_for``, when this failure started
    (or extended) the API's memory of the instance as down, the seconds that memory lasts
    (:meth:`DownInstances.note`): the 502's ``Retry-After``, in place of the instance's own. Was: only the
    instance's, so a 503 or a timeout without one gave a 502 without ``Retry-After`` while the instance was
    refused (503 ``upstream_down``) for the next :data:`DOWN_MEMORY` seconds, and a shorter one (20 s) sent the
    client back into that refusal.
    """
    if isinstance(exc, RateLimited):
        seconds = _retry_after(retry_after) or DEFAULT_RETRY_AFTER
        log.info("instance %s throttles us; passing Retry-After %d on", domain, seconds)
        return ApiError(429, "upstream_rate_limited",
                        f"instance {domain} is rate limiting us; retry in {seconds} s",
                        headers={"Retry-After": str(seconds)}, retry_after=seconds)
    if isinstance(exc, UpstreamNotFound):
        if source.names_an_account:
            return ApiError(404, "upstream_not_found", f"{source.not_found_on(domain)} (it answered 404 Not Found)")
        endpoint = MASTODON_ENDPOINTS.get(source.kind, source.name)
        return ApiError(404, "upstream_not_found",
                        f"instance {domain} answered 404 Not Found for {endpoint}: it does not serve it (its "
                        "administrators may have turned it off, as they can the weekly activity and trends, or it is "
                        "not a Mastodon server)")
    # the reason too (a TLS handshake with a server that speaks plain HTTP, a refused connection): the client
    # sees only "failed or timed out", so this line is where an operator finds out why
    log.warning("upstream failure for a %s source on %s: %s%s: %s", source.kind, domain, type(exc).__name__,
                f" (HTTP {exc.status})" if getattr(exc, "status", None) else "", _reason(exc))
    if isinstance(exc, MalformedResponse):
        return ApiError(502, "upstream_malformed", f"instance {domain} answered with a body that is not what the "
                                                   "Mastodon API documents; try again later")
    if isinstance(exc, ResponseTooLarge):
        return ApiError(502, "upstream_too_large", f"instance {domain} answered with more than "
                                                   f"{MAX_BODY_BYTES // (1024 * 1024)} MiB, which the API does "
                                                   "not read; try again later")
    if isinstance(exc, RedirectRefused):
        return ApiError(502, "upstream_redirect_refused",
                        f"instance {domain} redirected the request to another host or to plain HTTP (or too many "
                        "times), which the API does not follow; check the instance's address in FEDISCOPE_INSTANCES",
                        setting="FEDISCOPE_INSTANCES")
    if isinstance(exc, UpstreamTLSError):  # the same handshake fails the same way: no Retry-After, no retry
        return ApiError(502, "upstream_tls_error",
                        f"instance {domain} could not be reached over TLS (its certificate is not trusted, is for "
                        "another host name, or the server does not speak TLS there); not retried: the operator's "
                        "log says what to check")
    if isinstance(exc, UpstreamRejected):
        hint = f"; {refused_hint(domain, token_sent)}" if exc.status in (401, 403) else ""
        return ApiError(502, "upstream_rejected", f"instance {domain} refused the request "
                                                  f"(HTTP {exc.status}){hint}", upstream_status=exc.status)
    if isinstance(exc, UpstreamUnavailable):
        status = f" (HTTP {exc.status})" if exc.status else ""
        held = _retry_after(down_for)
        seconds = held or _retry_after(exc.retry_after)
        when = f"retry in {seconds} s" if seconds else "try again later"
        if held:
            when = f"to spare a server that seems down it is not asked again for {held} s: {when}"
        return ApiError(502, "upstream_unavailable", f"instance {domain} failed or timed out{status}; {when}",
                        headers={"Retry-After": str(seconds)} if seconds else None, upstream_status=exc.status,
                        retry_after=seconds)
    return ApiError(502, "upstream_error", f"instance {domain} could not be read; try again later")
