"""Mastodon's rate-limit headers, read.

Mastodon answers every API request with ``X-RateLimit-Limit`` (300 requests per 5 minutes per token or IP by
default), ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` — an ISO 8601 time in Mastodon, epoch seconds in
GoToSocial and some others. A throttled request gets HTTP 429, sometimes with ``Retry-After`` (seconds or an
HTTP date). These helpers turn both into local epoch seconds / seconds to wait.
"""

from __future__ import annotations

import email.utils
import logging
import math
import threading
import time
from dataclasses import dataclass, field

from fediscope.timestamps import parse_iso

log = logging.getLogger(__name__)


#: Seconds by which two answers' resets may differ and still name one window (:meth:`RateLimitState.note`). One
#: reset read from two answers differs by the noise of reading it: the ``Date`` header's whole seconds and each
#: answer's own transfer time when the server's clock skew is corrected (:func:`parse_reset`), or a reset said in
#: seconds from now counted from when the answer arrived. The next window's reset is a window later (Mastodon's: 5
#: minutes), and a window whose reset has passed is over whatever the slack.
WINDOW_SLACK = 10.0


@dataclass
class RateLimitState:
    """The last rate-limit window the instance told us about, and until when it asked us to ask nothing (times are
    local epoch seconds).

    One client's, or shared by every client of one instance: the scraping API builds a client per request, and
    its server threads share one state per instance (:class:`api.upstream.Upstream`), so that a 429 seen by one
    request holds the next. Updates therefore take a lock (:meth:`note`, :meth:`hold`; :meth:`snapshot` reads the
    fields together), and ``held_until`` only ever moves later: an answer to a request sent before a 429 and
    received after it updates the window's counts, but does not lift the wait the 429 asked for.

    The window's counts only ever tell less budget within one window (:meth:`note`): answers of requests sent
    together may arrive in any order, and one that left the server before another, arriving after it, would
    otherwise raise ``remaining`` again (5 left, after an answer saying none were): the API then sent requests the
    instance had no budget for. An answer naming another reset is of another window, its counts taken as said."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    #: The instance's own "not before" (a 429's ``Retry-After``, or its window's reset): nothing is sent until then.
    held_until: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def note(self, *, limit: int | None = None, remaining: int | None = None, reset_at: float | None = None,
             now: float | None = None) -> None:
        """What an answer's rate-limit headers said (None: that header was absent or unusable), at ``now`` (local
        epoch seconds; the time it is noted, unless given).

        Within the window known (its reset not yet passed, and the answer's reset within :data:`WINDOW_SLACK` of
        it, or not said), ``remaining`` only goes down and the reset stays the later of the two. An answer naming
        another reset is of another window: its counts are taken as said (a count it did not say is no longer
        known). A later reset is the next window; an earlier one is a window over (an answer of the one before,
        arrived late: its reset has passed, so it holds nothing, and is not noted: was, it took the place of the
        window known, whose budget was then forgotten until the next answer) or another limit's shorter one (a 429
        whose reset comes sooner than the window's, which is then waited for)."""
        now = time.time() if now is None else now
        with self._lock:
            known = self.reset_at if self.reset_at is not None and self.reset_at > now else None
            if known is not None and (reset_at is None or abs(reset_at - known) <= WINDOW_SLACK):
                if remaining is not None and self.remaining is not None:
                    remaining = min(remaining, self.remaining)
                if reset_at is not None:
                    reset_at = max(reset_at, known)
            elif known is not None and reset_at is not None and reset_at <= now:
                return  # of a window over, arrived late: it says nothing of the known one, whose counts stay
            elif reset_at is not None:  # another window: the known one's counts say nothing of it
                self.remaining = None
            if limit is not None:
                self.limit = limit
            if remaining is not None:
                self.remaining = remaining
            if reset_at is not None:
                self.reset_at = reset_at

    def hold(self, until: float) -> None:
        """Ask nothing before ``until``, unless an earlier 429 already asked for longer."""
        with self._lock:
            if self.held_until is None or until > self.held_until:
                self.held_until = until

    def snapshot(self) -> tuple[int | None, int | None, float | None, float | None]:
        """``(limit, remaining, reset_at, held_until)``, read together."""
        with self._lock:
            return self.limit, self.remaining, self.reset_at, self.held_until


def parse_reset(value: str | None, now: float | None = None, server_date: str | None = None) -> float | None:
    """``X-RateLimit-Reset`` → local epoch seconds. Accepts ISO 8601 (Mastodon) and epoch seconds (others).

    When the server's ``Date`` header shows its clock is more than 2 seconds off ours, the reset time is
    shifted by that skew (the header has one-second precision, so smaller differences are noise).
    """
    if not value:
        return None
    now = time.time() if now is None else now
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and not math.isfinite(number):  # "nan", "inf": no time at all (NaN waits compare false)
        log.warning("ignoring unparseable X-RateLimit-Reset header %r", text[:60])
        return None
    if number is not None:
        reset = number if number > 1e9 else now + number  # small numbers: seconds from now
    else:
        parsed = parse_iso(text)
        if parsed is None:
            log.warning("ignoring unparseable X-RateLimit-Reset header %r", text[:60])
            return None
        reset = parsed.timestamp()
    if server_date:
        try:
            server_now = email.utils.parsedate_to_datetime(server_date).timestamp()
        except (TypeError, ValueError):
            server_now = None
        if server_now is not None and abs(now - server_now) > 2:
            reset += now - server_now
    return reset


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After``: delay seconds or an HTTP date → seconds to wait; None when it says nothing usable (absent,
    negative, NaN, neither a number nor a date), so the caller falls back to the rate-limit reset or its backoff
    (a negative value read as 0 retried at once, hammering an instance that was throttling us)."""
    if not value:
        return None
    now = time.time() if now is None else now
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None  # NaN compares false; an infinite wait is capped by the caller
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None
