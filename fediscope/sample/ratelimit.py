"""Rate limiting as Mastodon does it (rack-attack), headers included.

Mastodon counts requests per client (IP address, or access token when authenticated) in fixed windows aligned
on multiples of the period: 300 requests per 5 minutes for the API by default. Every response carries
``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``, the end of the current window as
ISO 8601 with microseconds (``2026-08-01T14:00:00.497737Z``: the request time rounded up to the window end,
keeping its fraction of a second, exactly as Mastodon computes it). Past the limit, Mastodon answers
``429`` with ``{"error": "Too many requests"}`` and ``X-RateLimit-Remaining: 0``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: str  # ISO 8601

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": self.reset}


def reset_time(now: float, period: int) -> str:
    """``now + (period - int(now) % period)``, formatted like Ruby's ``Time#iso8601(6)`` in UTC."""
    moment = datetime.fromtimestamp(now + (period - int(now) % period), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RateLimiter:
    """Fixed-window counter per client key; ``enforce=False`` only reports (headers), never refuses."""

    def __init__(self, limit: int = 300, period: int = 300, enforce: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or period < 1:
            raise ValueError("rate limit and period must be >= 1")
        self.limit, self.period, self.enforce, self.clock = limit, period, enforce, clock
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Verdict:
        now = self.clock()
        window = int(now) // self.period
        with self._lock:
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
            if len(self._counts) > 10_000:  # forget old windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] == window}
        allowed = not self.enforce or count <= self.limit
        return Verdict(allowed, self.limit, max(0, self.limit - count), reset_time(now, self.period))
