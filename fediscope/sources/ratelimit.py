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
import time
from dataclasses import dataclass

from fediscope.timestamps import parse_iso

log = logging.getLogger(__name__)


@dataclass
class RateLimitState:
    """The last rate-limit window the instance told us about (times are local epoch seconds)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    #: ``reset_at`` is the wait a 429 asked for (its ``Retry-After``, else its reset), not an ordinary answer's
    #: header: held however far off it is (a reset header beyond any window is ignored, a 429's word is not)
    told: bool = False


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
