"""Rate-limit headers computed like Mastodon's rack-attack, checked against recorded responses."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from fediscope.sample.ratelimit import RateLimiter, reset_time


def _recorded_resets(recordings_dir: Path) -> list[tuple[float, str, str]]:
    """(request time from the Date header, X-RateLimit-Reset, limit) of responses of the local Mastodon server
    (mastodon.social's instance documents come through a CDN cache, with a stale reset)."""
    out = []
    for name in ("test_public_tl.json", "test_instance.json", "test_timeline_disabled.json"):
        for interaction in json.loads((recordings_dir / name).read_text())["interactions"]:
            headers = interaction["response"]["headers"]
            if not interaction["request"]["uri"].startswith("http://localhost:3000/"):
                continue
            if "date" in headers and "x-ratelimit-reset" in headers and headers["x-ratelimit-limit"] == ["300"]:
                out.append((parsedate_to_datetime(headers["date"][0]).timestamp(),
                            headers["x-ratelimit-reset"][0], headers["x-ratelimit-limit"][0]))
    return out


def test_reset_is_the_end_of_the_window_like_the_recordings(recordings_dir: Path) -> None:
    recorded = _recorded_resets(recordings_dir)
    assert recorded
    for date_seconds, reset, _limit in recorded:
        fraction = float("0." + reset.split(".")[1].rstrip("Z"))
        # the Date header has whole seconds; Mastodon keeps the request's fraction of a second in the reset
        assert reset_time(date_seconds + fraction, 300) == reset


def test_reset_format() -> None:
    moment = datetime.fromisoformat("2026-08-01T13:55:50.497737+00:00").timestamp()
    assert reset_time(moment, 300) == "2026-08-01T14:00:00.497737Z"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_remaining_counts_down_and_resets_with_the_window() -> None:
    clock = Clock(1_800_000_000.25)
    limiter = RateLimiter(limit=3, period=300, clock=clock)
    assert [limiter.hit("ip:a").remaining for _ in range(4)] == [2, 1, 0, 0]
    assert limiter.hit("ip:b").remaining == 2  # counted per client
    clock.now += 300
    assert limiter.hit("ip:a").remaining == 2


def test_enforcement_refuses_past_the_limit_only_when_enabled() -> None:
    clock = Clock(1_800_000_000.0)
    lenient, strict = RateLimiter(2, 60, clock=clock), RateLimiter(2, 60, enforce=True, clock=clock)
    assert all(lenient.hit("k").allowed for _ in range(5))
    assert [strict.hit("k").allowed for _ in range(3)] == [True, True, False]
    verdict = strict.hit("k")
    assert verdict.headers()["X-RateLimit-Remaining"] == "0" and verdict.headers()["X-RateLimit-Limit"] == "2"
