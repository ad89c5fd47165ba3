"""The single upstream request path: Mastodon.py underneath, rate limits, retries and pacing around it.

Every request fediscope makes to a Mastodon instance goes through :meth:`MastodonClient.get`. Cross-cutting
behaviour lives in three small decorators around the one method that talks to Mastodon.py (twarc's habit), so
every endpoint gets it and none repeats it:

* :func:`retry_transient` — 5xx answers, timeouts and connection errors are retried with exponential backoff
  and jitter, at most ``max_retries`` times; then :class:`UpstreamUnavailable` is raised. ``max_retries`` bounds
  the retries of one :meth:`MastodonClient.get` of either kind together (a 5xx and a 429 each spend one): an
  instance answering 429 and 503 by turns gets ``max_retries + 1`` requests in all, not one 429 round per 5xx
  retry (up to ``(max_retries + 1) ** 2``). A TLS failure
  (a certificate that is not trusted or names another host, https to a server without TLS) is no transient
  error: :class:`UpstreamTLSError` is raised at once, its message saying what to check. Nor is a redirect to another
  host or port (:mod:`fediscope.sources.redirects`: the session follows redirects on the same server only):
  :class:`RedirectRefused` is raised at once, saying where it points.
* :func:`handle_rate_limit` — an HTTP 429 waits until the window resets (``X-RateLimit-Reset`` or
  ``Retry-After``) and retries, unless the wait is longer than ``max_wait`` or the client was built with
  ``wait_on_rate_limit=False`` (the scraping API passes the wait on as ``Retry-After``): then
  :class:`RateLimited` is raised carrying ``retry_after`` seconds. A wait the instance said (not our own backoff
  guess) holds every later request of the client's :class:`~fediscope.sources.ratelimit.RateLimitState` until it
  is over (:func:`paced` refuses them unsent), and the scraping API shares one state per instance among its
  clients.
* :func:`paced` — Mastodon answers every request with ``X-RateLimit-Limit`` (300 per 5 minutes by default),
  ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (ISO 8601 in Mastodon; GoToSocial and others send epoch
  seconds). While plenty of the budget is left requests go out at once; once less than ``pace_fraction`` of it
  remains, requests are spread evenly over the rest of the window, so a long run stays under the limit instead
  of running into 429s.

**Why raw JSON.** Mastodon.py normally turns responses into entity objects (``created_at`` becomes a
``datetime``, ids become ``MaybeSnowflakeIdType``, some fields are renamed). Serialising those back is not
faithful (``"2026-08-01T13:55:50.338Z"`` comes back as ``"2026-08-01T13:55:50.338000+00:00"``, renamed
fields and unknown keys shift), and a malformed body would be "cast" instead of noticed. The lake keeps the
upstream JSON unchanged, so the client asks Mastodon.py for the response object (``return_response_object``)
and keeps the body bytes, status and headers (Link and rate-limit headers included). Mastodon.py still builds
the request: session, bearer token, user agent, timeout, and the wrapping of network failures. Its own rate
limit handling is switched off (``ratelimit_method="throw"``, no bookkeeping) because this module does it, and
its ``debug_requests`` stays off: it prints request headers, bearer token included.

A client holds mutable state (its attempts, its connections) and is not thread-safe: use one per thread or request.
Its rate-limit state alone may be shared by clients of the same instance in several threads (``rate``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import re
import socket
import ssl
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from mastodon import Mastodon
from mastodon.errors import MastodonNetworkError, MastodonRatelimitError
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from fediscope import __version__
from fediscope.config import Settings, instance_base_url, instance_domain, token_env_name
from fediscope.errors import UpstreamError
from fediscope.redact import redact_text
from fediscope.sources.endpoints import shown_endpoint
from fediscope.sources.ratelimit import RateLimitState, parse_reset, parse_retry_after
from fediscope.sources.redirects import RedirectElsewhere, same_host_redirects_only
from fediscope.wording import count

log = logging.getLogger(__name__)

#: What every request to an instance says it comes from: the tool, its version and where to read about it
#: (:func:`user_agent` adds the operator's contact, the ``contact`` setting).
USER_AGENT = f"fediscope/{__version__} (+https://github.com/fediscope/fediscope; research collector)"


def user_agent(contact: str | None = None) -> str:
    """The User-Agent of requests to instances: :data:`USER_AGENT`, with ``contact`` (the ``contact`` setting, checked
    when the settings load) inside its comment, so an admin reading their logs can reach whoever runs the collector
    rather than the project: ``fediscope/0.2.0 (+https://…; research collector; contact: mailto:ops@example.org)``."""
    return USER_AGENT if not contact else f"{USER_AGENT[:-1]}; contact: {contact})"

#: Statuses that mean "try again later": 5xx except 501 (Not Implemented never heals), plus 408.
TRANSIENT_STATUSES = frozenset({408, *range(500, 512)} - {501})
#: The largest X-RateLimit-Limit / -Remaining read (Mastodon's default limit is 300): larger values are ignored.
MAX_RATE_LIMIT_COUNT = 10**9
#: The longest rate-limit window believed (Mastodon's is 5 minutes): a reset further away is ignored, as its pacing
#: wait (the window spread over the requests left) would be years, or too long for ``time.sleep``.
MAX_WINDOW_SECONDS = 24 * 3600.0


#: The longest wait a message says in seconds: an instance may ask for any (``Retry-After: 1e30``), and 31 digits tell
#: a reader nothing the words "more than a year" do not.
LONGEST_SAID_WAIT = 365 * 24 * 3600.0


def wait_text(seconds: float, digits: int = 0) -> str:
    """A wait an instance asked for, as a message says it: ``600 s``; beyond a year (or infinite) ``more than a
    year``."""
    return f"{seconds:.{digits}f} s" if seconds <= LONGEST_SAID_WAIT else "more than a year"


def too_long_wait_text(asked: float, max_wait: float, max_wait_named: str = "FEDISCOPE_RATE_LIMIT_MAX_WAIT") -> str:
    """Why a wait the instance asked for is not waited: ``it asks to retry in 3600 s, longer than the 300 s we wait
    (FEDISCOPE_RATE_LIMIT_MAX_WAIT)``, the setting named where it was set (:attr:`MastodonClient.max_wait_named`).
    Said alike for a 429, a 5xx and a refused stream."""
    return f"it asks to retry in {wait_text(asked)}, longer than the {max_wait:g} s we wait ({max_wait_named})"


class RateLimited(UpstreamError):
    """The instance throttles us for ``retry_after`` seconds (longer than we are willing to wait)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, retry_after)


class UpstreamUnavailable(UpstreamError):
    """5xx answers, timeouts or connection errors that outlasted the retries (or an answer that missed the
    client's ``deadline``). ``retry_after`` is the instance's own ``Retry-After`` on its last answer, if any."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class AnswerCut(UpstreamUnavailable):
    """The answer was not complete when the client's ``deadline`` or ``attempt_deadline`` passed (an instance
    dribbling it, or too slow for the bound): the connection was cut, not retried. Unlike the retries of an
    :class:`UpstreamUnavailable` running out, it says nothing of the instance's other endpoints: one slow answer (a
    large page, a heavy hashtag) does not mean the instance is down (:func:`instance_down` leaves it
    out). A subclass, so that the scraping API and every other caller treat it as before (502)."""


class UpstreamTLSError(UpstreamUnavailable):
    """The TLS connection to the instance could not be set up: its certificate is not trusted or is for another
    host name, or the server does not speak TLS there (https:// to a plain-HTTP port). Never retried: the same
    connection fails the same way. The message gives the TLS reason and what to check (:func:`tls_error_text`)."""


#: The statuses of an answer that speak for the whole server, not one endpoint: its proxy finds no application
#: behind it (502, 504) or it says it is down or overloaded (503). A 500 is left out: Mastodon answers it for a bug
#: of one endpoint (one hashtag), and the instance's other sources may well answer.
SERVER_DOWN_STATUSES = frozenset({502, 503, 504})


def instance_down(exc: BaseException) -> bool:
    """Whether a request's failure says its instance is down, so that it is asked nothing more for a while (the
    collector: for the rest of its run; the scraping API: ``DOWN_MEMORY`` seconds): the retries of a request ran out
    on network errors, timeouts or :data:`SERVER_DOWN_STATUSES` (or the server asked for a longer wait than the
    client takes: its ``Retry-After``), or its TLS cannot be set up. A polite client does not hit a server that is
    struggling once per configured source, with every retry each.

    An answer cut at the request deadline (:class:`AnswerCut`: still arriving, too slowly, after the client's
    ``deadline`` or ``attempt_deadline``) is left out: nothing was retried, and one slow answer (a large page, a
    heavy hashtag) says nothing of the instance's other endpoints. Was: it counted as down (its status is None, as a
    network error's), and one slow page left the instance's every other source untried."""
    if isinstance(exc, AnswerCut):
        return False
    return isinstance(exc, UpstreamUnavailable) and (exc.status is None or exc.status in SERVER_DOWN_STATUSES)


class ResponseTooLarge(UpstreamError):
    """The instance's answer is larger than the client's ``max_body_bytes`` (decoded): not read to the end."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class RedirectRefused(UpstreamError):
    """The instance redirected the request somewhere the session does not follow (another host, too many
    hops, an invalid location). Never retried: the same request gets the same redirect."""


class UpstreamNotFound(UpstreamError):
    """HTTP 404/410: the endpoint, account or tag does not exist on that instance."""

    status = 404


class UpstreamRejected(UpstreamError):
    """HTTP 4xx other than 404/429: the request is refused (auth needed, bad parameter, …)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class MalformedResponse(UpstreamError):
    """The instance answered 2xx with a body that is not JSON. Carries what is needed to quarantine it."""

    def __init__(self, message: str, *, endpoint: str, status: int, content: bytes, content_type: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.content = content
        self.content_type = content_type


@dataclass
class RawResponse:
    """One upstream answer as it came: status, headers and the body bytes (decoded by
    :func:`fediscope.sources.pages.decode_body`)."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    endpoint: str
    domain: str = ""

    def links(self) -> dict[str, str]:
        """The ``Link`` header as ``{rel: url}`` (Mastodon sends ``next`` and ``prev``)."""
        header = self.headers.get("Link", "")
        if not header:
            return {}
        out: dict[str, str] = {}
        for link in requests.utils.parse_header_links(header):
            if "rel" in link and "url" in link:
                out[link["rel"]] = link["url"]
        return out


_F = TypeVar("_F", bound=Callable[..., RawResponse])


class _Transient(Exception):
    """Internal: a failure worth retrying (5xx, timeout, connection error)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class _DeadlinePassed(requests.exceptions.Timeout):
    """Internal: the answer was not complete when the client's ``deadline`` passed (raised by the body hook)."""


class _BodyTooLarge(requests.exceptions.RequestException):
    """Internal: the answer grew beyond ``max_body_bytes`` (raised by the body hook)."""


#: The largest answer (decoded) a client reads unless told otherwise: the biggest real ones (a page of 40 statuses
#: of 100,000 characters each, as Pleroma/Akkoma may allow; a large instance's peer list) are a few MiB, while a
#: hostile or broken server may send hundreds of MiB (or a gzip bomb) that would all be decoded in memory.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Bytes asked for per read of a bounded body (read1: whatever has arrived, at most this much).
_READ_SIZE = 64 * 1024


class _TooManyRequests(Exception):
    """Internal: HTTP 429 with the response headers."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__("HTTP 429")
        self.headers = headers


def paced(method: _F) -> _F:
    """Before each request: wait for the window to reset when the budget is spent, or spread the rest of it."""

    @functools.wraps(method)
    def wrapper(self: MastodonClient, endpoint: str, params: Mapping[str, Any]) -> RawResponse:
        delay, reason, remaining = self._pacing(time.time())
        if reason in ("reset", "held"):
            why = "budget spent" if reason == "reset" else "an earlier HTTP 429 asked to wait"
            if not self.wait_on_rate_limit or delay > self.max_wait:  # said alike (the README quotes it)
                raise RateLimited(f"{self.domain}: rate limit spent; the window resets in {wait_text(delay, 1)}",
                                  delay)
            self._wait(delay, f"the rate-limit window of {self.domain} to reset ({why})")
        elif reason == "pace":
            self._wait(delay, f"pacing requests to {self.domain} ({remaining} left in this "
                              "rate-limit window)", shown_as="pace")
        return method(self, endpoint, params)

    return wrapper  # type: ignore[return-value]


def handle_rate_limit(method: _F) -> _F:
    """On HTTP 429: wait until the reset time (bounded by ``max_wait``) and try again, or raise RateLimited."""

    @functools.wraps(method)
    def wrapper(self: MastodonClient, endpoint: str, params: Mapping[str, Any]) -> RawResponse:
        while True:
            try:
                return method(self, endpoint, params)
            except _TooManyRequests as exc:
                now = time.time()
                wait = parse_retry_after(exc.headers.get("Retry-After"), now)
                if wait is None:
                    wait = self.reset_wait(now)
                told = wait is not None
                if wait is None:
                    wait = self.backoff_delay(self._tries - 1)
                wait += 0.05  # land just after the reset, not just before it
                if told:
                    # the instance's "not before" holds for every request of this client (and of the clients sharing
                    # its state), not only this one: without it a 429 saying only Retry-After (a proxy's, say) was
                    # followed by the next source's request at once. Our own backoff guess is no such word: it is not
                    # kept (nor passed on as the instance's). A wait no window reaches (two days, three years) is held
                    # as asked: unlike an ordinary answer's reset header beyond any window (ignored by pacing_delay),
                    # it is the instance's word, and FEDISCOPE_RATE_LIMIT_MAX_WAIT decides whether it is waited out.
                    # A client that passes 429s on (the scraping API, whose state outlives any run: one per instance
                    # for the server's life) holds at most a day, so one such answer cannot shut an instance out of
                    # the API until it restarts
                    self.rate.hold(now + (wait if self.wait_on_rate_limit else min(wait, MAX_WINDOW_SECONDS)))
                if not self.wait_on_rate_limit:
                    raise RateLimited(f"{self._at(endpoint)}: rate limited (HTTP 429); retry in "
                                      f"{wait_text(wait, 1)}", wait) from None
                if wait > self.max_wait:
                    raise RateLimited(f"{self._at(endpoint)}: rate limited (HTTP 429); "
                                      f"{self.too_long_wait(wait)}; run again later", wait) from None
                if self._tries > self.max_retries:  # the retries of this get, after a 5xx or a 429
                    raise RateLimited(f"{self._at(endpoint)}: still rate limited after "
                                      f"{count(self._tries, 'attempt')}", wait) from None
                self.stats["rate_limited"] += 1
                self._wait(wait, f"the rate-limit window of {self.domain} to reset "
                                 f"(HTTP 429 on {shown_endpoint(endpoint)})")

    return wrapper  # type: ignore[return-value]


def retry_transient(method: _F) -> _F:
    """Retry 5xx, timeouts and connection errors with exponential backoff and jitter, ``max_retries`` times.

    A 5xx that says ``Retry-After`` is retried no sooner than that (and not at all when it asks for longer than
    ``max_wait``); no retry is started that could not finish before the client's ``deadline``.
    """

    @functools.wraps(method)
    def wrapper(self: MastodonClient, endpoint: str, params: Mapping[str, Any]) -> RawResponse:
        while True:
            try:
                return method(self, endpoint, params)
            except _Transient as exc:
                retries = self._tries - 1  # of this get, after a 5xx or a 429 (handle_rate_limit's count too)
                delay = self.backoff_delay(retries)
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                why = self._no_retry_reason(retries, delay, exc.retry_after)
                if why is not None:
                    raise UpstreamUnavailable(f"{self._at(endpoint)}: {exc} (gave up after "
                                              f"{count(self._tries, 'attempt')}{why})", exc.status,
                                              exc.retry_after) from None
                self.stats["retries"] += 1
                self._wait(delay, f"retry {self._tries}/{self.max_retries} of {self._at(endpoint)} after {exc}",
                           kind="retry")

    return wrapper  # type: ignore[return-value]


#: A connect hook: called with a new connection's socket (before TLS, before a byte is sent) and its connection.
ConnectHook = Callable[[socket.socket, HTTPConnection], None]


class ConnectHookAdapter(HTTPAdapter):
    """A transport adapter that hands the socket of every new connection to its ``on_connect`` hooks before a
    byte is sent on it.

    The scraping API uses two: the client's deadline watch (so a request can be cut at its deadline wherever it
    hangs: TLS handshake, status line, headers or body) and the peer-address check of :mod:`api.guard`.
    Hooks may be added after the adapter is mounted; a hook that raises refuses the connection.

    :meth:`close` closes the connections its pools keep alive. urllib3 2 leaves that to the garbage collector
    (a pool's ``weakref.finalize`` closes them once the pool is gone), and a pool here lives on after its session
    is closed as long as something holds a response of it (a client's last response): every closed client kept
    its sockets open, and a long test run ran out of the file descriptors ``select`` can watch.
    """

    def __init__(self, *hooks: ConnectHook) -> None:
        self.on_connect: list[ConnectHook] = list(hooks)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _hooked_pool_classes(weakref.ref(self))

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The manager of requests through ``proxy`` (``HTTP_PROXY``/``HTTPS_PROXY``), with the hooked pools too:
        requests builds it with urllib3's own, and the hooks never ran behind a proxy (the collector's attempt
        deadline then cut nothing). A SOCKS proxy keeps its own pool classes: its hooks do not run."""
        fresh = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if fresh and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _hooked_pool_classes(weakref.ref(self))
        return manager

    def close(self) -> None:
        pools = []
        for manager in [self.poolmanager, *self.proxy_manager.values()]:
            held = manager.pools  # a RecentlyUsedContainer: no iteration, keys() is its snapshot
            pools += [pool for key in held.keys() if (pool := held.get(key)) is not None]  # noqa: SIM118
        super().close()
        for pool in pools:
            pool.close()


def _hooked_pool_classes(adapter: weakref.ref[ConnectHookAdapter]) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose connections run the adapter's hooks (read at connect time) on each new socket.

    The classes reach the adapter through a weak reference: a pool's finalizer (urllib3's, registered for good)
    holds its idle connections, they hold these classes, and a strong path from there to the hooks' owner (the
    client, which holds its last response, which holds the pool) would keep the pool from ever being finalized.
    """

    def run_hooks(sock: socket.socket, connection: HTTPConnection) -> socket.socket:
        owner = adapter()
        if owner is None:  # a pool used after its adapter was gone: its hooks may be checks, so refuse
            sock.close()
            raise ConnectionError("this connection pool's adapter was closed and dropped")
        for hook in list(owner.on_connect):
            hook(sock, connection)
        return sock

    class Connection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return run_hooks(super()._new_conn(), self)

    class TLSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return run_hooks(super()._new_conn(), self)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    return {"http": Pool, "https": TLSPool}


@dataclass
class MastodonClient:
    """Read-only access to one Mastodon instance's public API through Mastodon.py.

    ``instance`` is a domain or base URL (``mastodon.social``, ``http://127.0.0.1:8080``). ``on_wait`` is
    called with ``(what, seconds, kind)`` before every deliberate sleep (progress output uses it); ``kind`` is
    ``rate_limit``, ``pace`` (spreading the requests left in a window) or ``retry``.

    ``timeout`` bounds each wait for the network (connecting, and every gap between bytes): a server that sends
    one byte a second never trips it. ``deadline`` (seconds, None = none) bounds a whole :meth:`get`, from the
    first connect to the last byte of the body, retries included: a watchdog shuts down the connections the
    request opened when it passes (wherever the request hangs: TLS handshake, status line, headers, body), which
    raises :class:`UpstreamUnavailable` without a retry (a server that dribbles will dribble again), and no retry
    is started that could not finish in time. ``attempt_deadline`` (seconds, None = none) bounds each attempt
    alone the same way (one HTTP request, connect to last byte; the waits for a rate-limit reset, for pacing and
    between retries do not count), and is not retried either. ``max_body_bytes`` (:data:`MAX_BODY_BYTES` unless
    given; None = no cap) stops reading an answer that grows beyond it (decoded size; a larger ``Content-Length``
    is refused before reading) with :class:`ResponseTooLarge`, not retried. The scraping API sets ``deadline`` and
    a smaller ``max_body_bytes``; the collector sets ``attempt_deadline``.
    """

    instance: str
    access_token: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 300.0
    #: how messages name ``max_wait``: where ``rate_limit_max_wait`` was set (:meth:`from_settings`)
    max_wait_named: str = "FEDISCOPE_RATE_LIMIT_MAX_WAIT"
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    pace_fraction: float = 0.2
    wait_on_rate_limit: bool = True
    deadline: float | None = None
    attempt_deadline: float | None = None
    max_body_bytes: int | None = MAX_BODY_BYTES
    user_agent: str = USER_AGENT
    on_wait: Callable[[str, float, str], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    rate: RateLimitState = field(default_factory=RateLimitState)
    stats: Counter[str] = field(default_factory=Counter)
    cache: dict[str, Any] = field(default_factory=dict)  # per-client memo (e.g. acct → account id)

    def __post_init__(self) -> None:
        self.base_url = instance_base_url(self.instance)
        self.domain = instance_domain(self.instance)
        self._last_response: requests.Response | None = None
        self._tries = 0  # requests sent by the current get: max_retries + 1 at most, of any kind
        self._deadline_at: float | None = None
        self._deadline_span: float | None = None  # the seconds of the bound _deadline_at stands for (messages)
        # duplicates of the sockets of this client's open connections, for the deadline watchdog
        self._watched: list[tuple[weakref.ref[HTTPConnection], socket.socket]] = []
        self._watched_lock = threading.Lock()
        session = requests.Session()
        if self.deadline is not None or self.attempt_deadline is not None:
            session.mount("http://", ConnectHookAdapter(self._watch))
            session.mount("https://", ConnectHookAdapter(self._watch))
        session.hooks["response"].append(self._remember)
        # a redirect to another server is refused before its body is read (fediscope.sources.redirects)
        session.hooks["response"].append(same_host_redirects_only)
        session.hooks["response"].append(self._read_bounded)
        self.api = Mastodon(api_base_url=self.base_url, access_token=self.access_token, debug_requests=False,
                            ratelimit_method="throw", request_timeout=self.timeout, version_check_mode="none",
                            session=session, user_agent=self.user_agent)

    @classmethod
    def from_settings(cls, settings: Settings, instance: str, **overrides: Any) -> MastodonClient:
        """A client for ``instance`` with its configured token, timeout, retries and backoff."""
        options: dict[str, Any] = {"access_token": settings.token_for(instance), "timeout": settings.request_timeout,
                                   "max_retries": settings.max_retries, "backoff_base": settings.retry_backoff,
                                   "max_wait": settings.rate_limit_max_wait,
                                   "max_wait_named": settings.origin("rate_limit_max_wait"),
                                   "user_agent": user_agent(settings.contact)}
        options.update(overrides)
        return cls(instance, **options)

    def too_long_wait(self, asked: float) -> str:
        """Why the wait ``asked`` is not waited (:func:`too_long_wait_text`, naming where the bound was set)."""
        return too_long_wait_text(asked, self.max_wait, self.max_wait_named)

    def close(self) -> None:
        """Close the HTTP connections kept alive for this instance."""
        self.api.session.close()
        self._prune_watched(everything=True)

    def __enter__(self) -> MastodonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _at(self, endpoint: str) -> str:
        """``domain/endpoint`` as messages name a request (:func:`shown_endpoint`)."""
        return f"{self.domain}{shown_endpoint(endpoint)}"

    # -- the one request path -------------------------------------------------------------------------------
    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> RawResponse:
        """GET ``endpoint`` (``/api/v1/...``) and return the raw answer (2xx only).

        Raises :class:`UpstreamNotFound` (404/410), :class:`UpstreamRejected` (other 4xx),
        :class:`RateLimited` and :class:`UpstreamUnavailable` (after waiting/retrying as described above).
        """
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        self._tries = 0
        if self.deadline is None:
            return self._request(endpoint, clean)
        self._deadline_at, self._deadline_span = time.monotonic() + self.deadline, self.deadline
        watchdog = threading.Timer(self.deadline, self._cut_watched)
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._request(endpoint, clean)
        finally:
            watchdog.cancel()
            self._deadline_at = self._deadline_span = None
            self._prune_watched()

    @contextlib.contextmanager
    def _attempt_bound(self) -> Iterator[None]:
        """One attempt within ``attempt_deadline``, when that ends before what is left of ``get``'s ``deadline``:
        the same watchdog and body checks, on the attempt's own time."""
        outer = self._deadline_at, self._deadline_span
        ends = time.monotonic() + self.attempt_deadline if self.attempt_deadline is not None else None
        if ends is None or (outer[0] is not None and outer[0] <= ends):
            yield
            return
        self._deadline_at, self._deadline_span = ends, self.attempt_deadline
        watchdog = threading.Timer(self.attempt_deadline or 0.0, self._cut_watched)
        watchdog.daemon = True
        watchdog.start()
        try:
            yield
        finally:
            watchdog.cancel()
            self._deadline_at, self._deadline_span = outer
            self._prune_watched()

    @retry_transient
    @handle_rate_limit
    @paced
    def _request(self, endpoint: str, params: Mapping[str, Any]) -> RawResponse:
        self.stats["requests"] += 1
        self._tries += 1
        self._last_response = None
        with self._attempt_bound():
            return self._attempt(endpoint, params)

    def _attempt(self, endpoint: str, params: Mapping[str, Any]) -> RawResponse:
        """One HTTP request: its answer (2xx), or the error that maps it (see :meth:`get`)."""
        try:
            response = self.api._Mastodon__api_request(  # type: ignore[attr-defined]
                "GET", endpoint, dict(params), do_ratelimiting=False, return_response_object=True,
                skip_error_check=True)
        except MastodonRatelimitError:
            headers = self._last_response.headers if self._last_response is not None else {}
            self._note_rate_limit(headers)
            raise _TooManyRequests(headers) from None
        except MastodonNetworkError as exc:
            self._raise_final(exc.__context__, endpoint)
            raise _Transient(f"network error: {_network_cause(exc)}") from None
        except RecursionError:
            # Mastodon.py reads an error answer's body for its message and catches only ValueError: a body nested
            # deeper than the decoder goes is an error answer without a message, mapped below as any other
            if self._last_response is None or self._last_response.ok:
                raise
            response = self._last_response
            if response.status_code == 429:
                self._note_rate_limit(response.headers)
                raise _TooManyRequests(response.headers) from None
        self._note_rate_limit(response.headers)
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            raise _Transient(f"HTTP {status}", status, parse_retry_after(response.headers.get("Retry-After")))
        said = _error_text(response, (self.access_token,) if self.access_token else ())
        if status in (404, 410):
            raise UpstreamNotFound(f"{self._at(endpoint)}: not found (HTTP {status}){said}")
        if status in (401, 403):
            hint = refused_hint(self.domain, token_sent=bool(self.access_token))
            raise UpstreamRejected(f"{self._at(endpoint)}: refused (HTTP {status}){said}; {hint}", status)
        if status >= 400:
            raise UpstreamRejected(f"{self._at(endpoint)}: HTTP {status}{said}", status)
        return RawResponse(status=status, headers=response.headers, content=response.content,
                           url=response.url, endpoint=endpoint, domain=self.domain)

    @property
    def last_status(self) -> int | None:
        """The HTTP status of the last answer this client's session received (a stream's connection included)."""
        return self._last_response.status_code if self._last_response is not None else None

    def last_answer_wait(self) -> float | None:
        """Seconds the last answer asked to wait before asking again (a streaming connection's refusal, which
        :meth:`get`'s decorators never see): its ``Retry-After``, or for a 429 without one, the reset of its
        rate-limit window; None when it is no error answer or names no wait."""
        response = self._last_response
        if response is None or response.status_code < 400:
            return None
        now = time.time()
        wait = parse_retry_after(response.headers.get("Retry-After"), now)
        if wait is None and response.status_code == 429:
            reset = parse_reset(response.headers.get("X-RateLimit-Reset"), now, response.headers.get("Date"))
            wait = None if reset is None else max(0.0, reset - now)
        return wait

    # -- helpers --------------------------------------------------------------------------------------------
    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last_response = response

    def _raise_final(self, cause: BaseException | None, endpoint: str) -> None:
        """Failures of a request that a retry would only repeat: raised as final errors, not as _Transient."""
        if isinstance(cause, _DeadlinePassed) or self._past_deadline():
            raise AnswerCut(f"{self._at(endpoint)}: no complete answer within "
                                      f"{self._deadline_span or 0:g} s "
                                      "(the connection was cut; not retried)") from None
        if (tls := tls_failure(cause)) is not None:
            raise UpstreamTLSError(f"{self._at(endpoint)}: {tls_error_text(tls)}") from None
        if isinstance(cause, _BodyTooLarge):
            raise ResponseTooLarge(f"{self._at(endpoint)}: the answer is larger than "
                                   f"{self.max_body_bytes} bytes; not read", int(self.max_body_bytes or 0)) from None
        if (elsewhere := refused_redirect(cause)) is not None:
            raise RedirectRefused(f"{self._at(endpoint)}: {elsewhere.explained()}") from None
        if isinstance(cause, requests.exceptions.TooManyRedirects):
            raise RedirectRefused(f"{self._at(endpoint)}: too many redirects ({str(cause)[:200]})") from None
        # a redirect the hardened session refused (another host, a private address); not a malformed proxy setting
        if isinstance(cause, requests.exceptions.InvalidURL) and not isinstance(
                cause, requests.exceptions.InvalidProxyURL):
            raise RedirectRefused(f"{self._at(endpoint)}: redirect refused ({str(cause)[:200]})") from None

    def _past_deadline(self) -> bool:
        return self._deadline_at is not None and time.monotonic() >= self._deadline_at

    def _watch(self, sock: socket.socket, connection: HTTPConnection) -> None:
        """Connect hook: keep a duplicate of each new socket, so the deadline watchdog can shut it down.

        A duplicate, because TLS takes the socket object over (``wrap_socket`` detaches it); shutting down the
        duplicate ends the connection underneath both. It is closed once urllib3 has closed the connection.
        """
        with contextlib.suppress(OSError), self._watched_lock:
            duplicate = socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
            self._watched.append((weakref.ref(connection), duplicate))

    def _cut_watched(self) -> None:
        """The deadline watchdog: shut down every connection this client has open; blocked reads return at once."""
        with self._watched_lock:
            watched = [duplicate for _, duplicate in self._watched]
        for duplicate in watched:
            with contextlib.suppress(OSError):
                duplicate.shutdown(socket.SHUT_RDWR)

    def _prune_watched(self, everything: bool = False) -> None:
        """Close the duplicates of connections urllib3 has closed (or of all, when the client closes)."""
        with self._watched_lock:
            closed = [(ref, dup) for ref, dup in self._watched
                      if everything or (conn := ref()) is None or conn.sock is None]
            self._watched = [entry for entry in self._watched if entry not in closed]
        for _, duplicate in closed:
            duplicate.close()

    def _no_retry_reason(self, attempt: int, delay: float, retry_after: float | None) -> str | None:
        """None when a failed attempt may be retried after ``delay`` seconds, else why not (a message suffix)."""
        if attempt >= self.max_retries:
            return ""
        if retry_after is not None and retry_after > self.max_wait:
            return f"; {self.too_long_wait(retry_after)}"
        if self._deadline_at is not None and time.monotonic() + delay >= self._deadline_at:
            return f"; a retry in {delay:.1f} s would end after the {self.deadline:g} s deadline"
        return None

    def _read_bounded(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Response hook: read the body now, as it arrives, within ``deadline`` and ``max_body_bytes``.

        requests would read it later with blocking reads whose timeout restarts at every byte; here each read
        returns whatever has arrived (``read1``) and the deadline is checked between reads; a read blocked in the
        middle (a chunk-size line dribbled byte by byte) ends when :meth:`get`'s watchdog shuts the connection
        down. The body is stored where requests keeps a read body (``_content``).
        """
        limit = self.max_body_bytes
        raw = response.raw
        if (limit is None and self._deadline_at is None) or kwargs.get("stream") or \
                response._content is not False or not hasattr(raw, "read1"):
            return  # nothing to bound, a stream the caller reads itself, or already read
        declared = response.headers.get("Content-Length", "")
        if limit is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
            response.close()
            raise _BodyTooLarge(f"Content-Length {declared} is over {limit} bytes")
        if self._past_deadline():
            response.close()
            raise _DeadlinePassed("deadline passed before the body")
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                try:
                    chunk = raw.read1(_READ_SIZE, decode_content=True)
                except (ProtocolError, ReadTimeoutError, DecodeError, OSError) as exc:
                    if self._past_deadline():
                        raise _DeadlinePassed("deadline passed while reading the body") from None
                    raise _as_requests_error(exc) from None
                if self._past_deadline():
                    raise _DeadlinePassed("deadline passed while reading the body")
                if not chunk:
                    break
                total += len(chunk)
                if limit is not None and total > limit:
                    raise _BodyTooLarge(f"body over {limit} bytes")
                chunks.append(chunk)
        except BaseException:
            response.close()
            raise
        response._content = b"".join(chunks)
        response._content_consumed = True

    def _note_rate_limit(self, headers: Mapping[str, str]) -> None:
        def _int(name: str) -> int | None:
            try:
                value = int(headers[name])
            except (KeyError, TypeError, ValueError):
                return None
            # a count too large for the float pacing arithmetic (OverflowError) is no count an instance keeps
            return value if abs(value) <= MAX_RATE_LIMIT_COUNT else None

        self.rate.note(remaining=_int("X-RateLimit-Remaining"), limit=_int("X-RateLimit-Limit"),
                       reset_at=parse_reset(headers.get("X-RateLimit-Reset"), server_date=headers.get("Date")))

    def reset_wait(self, now: float) -> float | None:
        """Seconds until the known window's reset (what a 429 without ``Retry-After`` waits), or None: no reset
        known, or one no window reaches (:data:`MAX_WINDOW_SECONDS`), which says nothing here as in
        :meth:`pacing_delay`. Was: such a reset (``1e300``, the year 9999) held as the instance's word, and the
        scraping API's requests share one state per instance: one such 429 refused every later request for it
        for the life of the server."""
        reset_at = self.rate.snapshot()[2]
        if reset_at is None or reset_at - now > MAX_WINDOW_SECONDS:
            return None
        return max(0.0, reset_at - now)

    def pacing_delay(self, now: float | None = None) -> tuple[float, str]:
        """Seconds to wait before the next request and why: ``"held"`` (a 429 said how long), ``"reset"`` (the
        window's budget is spent), ``"pace"`` or ``""``."""
        delay, reason, _remaining = self._pacing(time.time() if now is None else now)
        return delay, reason

    def _pacing(self, now: float) -> tuple[float, str, int | None]:
        """:meth:`pacing_delay`, and the requests left in the window it was reckoned from: what the pacing message
        says is read from the same snapshot (was: read again, unlocked, while other threads sharing the state may
        have noted answers since)."""
        limit, remaining, reset_at, held_until = self.rate.snapshot()
        if held_until is not None and held_until > now:  # a 429 said when (handle_rate_limit)
            return held_until - now, "held", remaining
        if remaining is None or reset_at is None or reset_at <= now:
            return 0.0, "", remaining
        left = reset_at - now
        if left > MAX_WINDOW_SECONDS:  # a reset no window reaches (1e300, the year 9999): the header says nothing
            return 0.0, "", remaining
        if remaining <= 0:
            return left + 0.05, "reset", remaining
        threshold = max(1, int((limit or 300) * self.pace_fraction))
        if remaining >= threshold:
            return 0.0, "", remaining
        return left / (remaining + 1), "pace", remaining

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, capped at ``backoff_cap``."""
        delay = min(self.backoff_cap, self.backoff_base * (2 ** min(attempt, 64)))  # 2**1024 is no float
        return delay / 2 + random.uniform(0, delay / 2)

    def _wait(self, seconds: float, what: str, kind: str = "rate_limit", shown_as: str | None = None) -> None:
        """Sleep ``seconds``, counted in the ``kind`` stats; ``on_wait`` is told ``shown_as`` (default ``kind``):
        ``"pace"`` for a wait that spreads the requests left in a window, which progress on a pipe folds into its
        page line, unlike a wait for a spent window to reset."""
        if seconds <= 0:
            return
        log.info("waiting %.2f s for %s", seconds, what)
        self.stats[f"{kind}_waits"] += 1
        self.stats[f"{kind}_wait_ms"] += int(seconds * 1000)
        if self.on_wait is not None:
            self.on_wait(what, seconds, shown_as or kind)
        self.sleep(seconds)


#: The operating system's reason inside a network error's text (``[Errno 111] Connection refused``).
_ERRNO_RE = re.compile(r"\[Errno -?[0-9]+\] [^'\")\]]+")
#: A TLS failure's reason (``[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch…``).
_SSL_RE = re.compile(r"\[SSL(?:: [A-Z_]+)?\][^'\"()]*")


def _network_cause(exc: BaseException) -> str:
    """What went wrong with the network, short: the operating system's reason (``[Errno 111] Connection refused``,
    ``[Errno -2] Name or service not known``), the TLS one (``[SSL: WRONG_VERSION_NUMBER] …``) or a timeout when
    the error's text names one, else the text cut on
    a word at 200 characters (urllib3's texts run to several hundred, the reason last)."""
    text = " ".join(str(exc).split(":", 1)[-1].split())
    if found := _ERRNO_RE.search(text) or _SSL_RE.search(text):
        return found.group(0).strip()
    if (broken := _broken_connection(exc)) is not None:
        return broken
    if (damaged := _damaged_encoding(exc)) is not None:
        return damaged
    if "timed out" in text.lower():
        return "timed out"
    return text if len(text) <= 200 else text[:200].rsplit(" ", 1)[0] + " …"


def _broken_connection(exc: BaseException) -> str | None:
    """urllib3's ``ProtocolError(message, cause)`` (a connection that broke off or was aborted, a stream's too)
    wrapped in ``exc``, as one plain reason: the operating system's (``[Errno 104] Connection reset by peer``), else
    its message and its cause's text (``Connection broken: IncompleteRead(0 bytes read)``, ``Connection aborted:
    Remote end closed connection without response``); None when there is none. Its own text is a tuple's repr."""
    for current in _wrapped(exc):
        if isinstance(current, ProtocolError) and len(current.args) == 2:
            message, cause = str(current.args[0]).rstrip(". "), current.args[1]
            if isinstance(cause, OSError) and cause.errno is not None and cause.strerror:
                return f"[Errno {cause.errno}] {cause.strerror}"
            reason = " ".join(str(cause).split())
            return message if not reason or reason in message else f"{message}: {reason}"
    return None


#: The encoding urllib3 names when an answer's body cannot be decoded as its ``Content-Encoding`` says.
_ENCODING_RE = re.compile(r"content-encoding: ([A-Za-z0-9_.-]+)")


def _damaged_encoding(exc: BaseException) -> str | None:
    """urllib3's ``DecodeError(message, cause)`` (a body that is not what its ``Content-Encoding`` says: a corrupt
    gzip stream) wrapped in ``exc``, as one plain reason: ``the answer's gzip encoding is damaged (Error -3 while
    decompressing data: incorrect header check)``; None when there is none. Its own text is a tuple's repr."""
    for current in _wrapped(exc):
        if isinstance(current, DecodeError):
            message = str(current.args[0]) if current.args else ""
            named = _ENCODING_RE.search(message)
            cause = " ".join(str(current.args[1]).split()) if len(current.args) > 1 else ""
            text = f"the answer's {named.group(1) if named else 'content'} encoding is damaged"
            return f"{text} ({cause})" if cause else text
    return None


def network_error_text(exc: BaseException) -> str:
    """One line for a request that failed on the network, as the REST client words it: ``TLS error: … (not
    retried); <what to check>`` for a TLS failure (:func:`tls_failure`), else ``network error: <reason>``. The
    streaming client describes its failed connections with it too."""
    if (tls := tls_failure(exc)) is not None:
        return tls_error_text(tls)
    return f"network error: {_network_cause(exc)}"


#: TLS errors that are the connection ending, not TLS refusing it (a server closing or restarting mid-handshake):
#: these stay transient, retried as any dropped connection.
_TLS_DROPS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError, ssl.SSLWantReadError,
              ssl.SSLWantWriteError)


#: How requests says the CA bundle it was told to use (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) does not exist.
_NO_CA_BUNDLE = "Could not find a suitable TLS CA certificate bundle"


def tls_failure(exc: BaseException | None) -> str | None:
    """The reason of the TLS failure behind a failed request (``[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify
    failed: self-signed certificate``), or None when it is no TLS failure, or one that a retry may heal (the
    connection closed mid-handshake).

    requests raises its ``SSLError`` when the TLS connection could not be set up; the ``ssl`` module's error is
    found among the exceptions it wraps (urllib3's ``MaxRetryError`` → ``SSLError`` → ``ssl.SSLError``), reached
    through ``__cause__``, ``__context__``, ``reason`` and ``args``. An ``ssl`` error while reading an answer's body
    is no such failure (that connection was set up)."""
    if isinstance(exc, OSError) and str(exc).startswith(_NO_CA_BUNDLE):  # requests' own check, before connecting
        return " ".join(str(exc).split())
    setup = False  # a requests SSLError: the connection's TLS could not be set up
    found: ssl.SSLError | None = None
    for current in _wrapped(exc):
        setup = setup or isinstance(current, requests.exceptions.SSLError)
        if found is None and isinstance(current, ssl.SSLError):
            found = current
    if not setup or found is None or isinstance(found, _TLS_DROPS):
        return None
    text = re.sub(r"\s*\(_ssl\.c:[0-9]+\)\s*$", "", " ".join(str(found).split()))
    return text if len(text) <= 300 else text[:300].rsplit(" ", 1)[0] + " …"


def refused_redirect(exc: BaseException | None) -> RedirectElsewhere | None:
    """The redirect to another server that ``exc`` is (or wraps), refused by
    :func:`~fediscope.sources.redirects.same_host_redirects_only`; None when it is none."""
    return next((current for current in _wrapped(exc) if isinstance(current, RedirectElsewhere)), None)


def _wrapped(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the exceptions it wraps, each once: through ``__cause__``, ``__context__``, ``reason`` (urllib3)
    and ``args`` (requests and urllib3 pass the cause as an argument)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack and len(seen) < 50:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]


def tls_error_text(reason: str) -> str:
    """The one line of a TLS failure: its reason, that it is not retried, and what to check."""
    return f"TLS error: {reason} (not retried); {tls_hint(reason)}"


def refused_hint(instance: str, token_sent: bool) -> str:
    """What to do about a 401 or 403 from ``instance``: with a token sent, it was refused (check it and its scopes);
    without one, the instance may need a login for it (set one). Said alike by the collector, the scraping API and
    ``fediscope doctor``."""
    variable = token_env_name(instance)
    if token_sent:
        return f"the access token of {variable} was sent and refused: check it and its scopes (read)"
    return f"if the instance needs a login for this, set {variable}"


def tls_hint(reason: str) -> str:
    """What to check for a TLS failure. requests verifies certificates against certifi's CA bundle, not the
    system's, unless ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``) names another; ``SSL_CERT_FILE`` is not read."""
    bundle = ("REQUESTS_CA_BUNDLE=<a CA bundle holding it> (fediscope trusts certifi's CA bundle, not the system's; "
              "SSL_CERT_FILE is not read)")
    if reason.startswith(_NO_CA_BUNDLE):
        return ("REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) names a CA bundle that does not exist: give the path of a "
                "PEM file or directory holding the CA, or unset it to trust certifi's bundle")
    if "mismatch" in reason or "not valid for" in reason:
        return ("the certificate is for another host name: check the host in the instance URL (give the name the "
                "certificate is for)")
    if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
        return (f"the instance's certificate is not trusted: check the instance URL; for a private CA set {bundle}; "
                "for an expired one, check this host's clock")
    if any(marker in reason for marker in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "record layer failure",
                                           "PACKET_LENGTH_TOO_LONG", "wrong version number")):
        return ("the server does not speak TLS on that port: check the scheme and port of the instance URL (give a "
                "server without TLS as http://host:port)")
    return f"check the instance URL (https:// or http://, host, port); for a private CA set {bundle}"


def _as_requests_error(exc: BaseException) -> requests.exceptions.RequestException:
    """A urllib3 error met while reading a body, as the requests error ``response.content`` would raise."""
    if isinstance(exc, ProtocolError):
        return requests.exceptions.ChunkedEncodingError(exc)
    if isinstance(exc, DecodeError):
        return requests.exceptions.ContentDecodingError(exc)
    return requests.exceptions.ConnectionError(exc)


def _error_text(response: requests.Response, secrets: tuple[str, ...] = ()) -> str:
    """Mastodon's ``{"error": "..."}`` message, if any, shortened for one log line, with ``secrets`` (the token the
    request sent) and anything shaped like a credential masked (:func:`~fediscope.redact.redact_text`): a server or
    proxy may quote what it was sent, and the message reaches outputs the logging filter never sees (`collect`'s
    summary, its ``--json``). Masked before it is shortened, so that no cut-off part of a secret stays."""
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes: no message
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f": {redact_text(body['error'], secrets)[:200]}"
    return ""
