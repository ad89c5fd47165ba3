"""Time for the sample corpus: timestamps and a day-shaped posting rhythm (ids are Mastodon's snowflakes, see
:mod:`fediscope.timestamps`).

Timestamps are ISO 8601 in UTC with milliseconds (``2026-08-01T13:55:50.338Z``), as the API sends them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from random import Random


class IsoFormatter:
    """``ms`` → ``2026-08-01T13:55:50.338Z``; caches the second, because consecutive statuses share it."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, ms: int) -> str:
        second, millis = divmod(ms, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{millis:03d}Z"


def iso_date(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def diurnal_weight(hour_of_day: int, weekday: int) -> float:
    """Relative posting activity by UTC hour: quiet nights, a broad afternoon peak, calmer weekends."""
    peak = math.exp(-(((hour_of_day - 15) / 5.0) ** 2))
    return (0.25 + peak) * (0.85 if weekday >= 5 else 1.0)


def sorted_times(rng: Random, n: int, start_ms: int, end_ms: int) -> Iterator[int]:
    """``n`` creation times in ``[start_ms, end_ms)``, ascending, drawn with the diurnal rhythm, one at a time.

    Uses the sequential method for sorted uniform variables (each next one is ``1 - (1 - u) * V**(1/k)`` with
    ``k`` values still to draw), so millions of times stream out in order without being stored or sorted;
    each uniform is then mapped through the inverse of the hour-by-hour activity distribution.
    """
    hour_ms = 3_600_000
    knots = [start_ms]
    while knots[-1] < end_ms:
        knots.append(min(knots[-1] + hour_ms, end_ms))
    weights = []
    for left, right in zip(knots, knots[1:], strict=False):
        moment = time.gmtime(left // 1000)
        weights.append(diurnal_weight(moment.tm_hour, moment.tm_wday) * (right - left) / hour_ms)
    total = sum(weights) or 1.0
    cdf = [0.0]
    for w in weights:
        cdf.append(cdf[-1] + w / total)
    cdf[-1] = 1.0
    u = 0.0
    j = 0
    last = len(cdf) - 2
    for i in range(n):
        u = 1.0 - (1.0 - u) * rng.random() ** (1.0 / (n - i))
        while j < last and cdf[j + 1] <= u:
            j += 1
        span = cdf[j + 1] - cdf[j]
        frac = (u - cdf[j]) / span if span > 0 else 0.0
        ms = knots[j] + int(frac * (knots[j + 1] - knots[j]))
        yield min(ms, end_ms - 1)
