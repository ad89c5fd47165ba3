"""In-process token buckets, per API key: ``FEDISCOPE_API_RATE_LIMIT`` requests per minute.

Failed authentications are not throttled here. A per-address limiter would have to refuse every request of an
address over its budget, valid keys included (refusing only the wrong ones tells a guesser which key was
right), and behind the reverse proxy the README asks for, every client has the proxy's address: a stranger
sending wrong keys would lock every client out. Keys are long random secrets instead (shorter than
:data:`api.auth.MIN_RECOMMENDED_LENGTH` is reported at start-up), and the proxy, which sees the client
addresses, is the place to throttle failed requests per address.

A bucket holds up to ``capacity`` tokens and refills continuously at ``rate`` tokens per second; a request
takes one token or is refused with the seconds until one is back (the ``Retry-After`` of the 429). The
buckets live in this process: with several server processes each enforces the limit on its own, and the
state resets on restart, which is fine for a guard against runaway clients. The table of buckets is bounded,
the least recently used bucket is forgotten first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``take(name)`` → 0 when allowed, else the whole seconds to wait. ``per_minute=0`` allows everything."""

    def __init__(self, per_minute: int, *, max_buckets: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_buckets = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def take(self, name: str) -> int:
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = _Bucket(tokens=self.capacity, updated=now)
                self._buckets[name] = bucket
                while len(self._buckets) > self.max_buckets:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(name)
                bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
