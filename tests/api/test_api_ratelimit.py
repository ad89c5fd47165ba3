"""Per-key request rate limiting: a token bucket per key, 429 with Retry-After, other keys unaffected."""

from __future__ import annotations

from collections.abc import Callable

from api_testing import KEY, OFFLINE_DOMAIN, OLD_KEY, LiveApi, assert_error, make_settings

from api.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock)  # 3 per minute: one token every 20 s
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 20
    clock.now += 10
    assert limiter.take("a") == 10
    clock.now += 10
    assert limiter.take("a") == 0
    assert limiter.take("a") == 20
    assert limiter.take("b") == 0  # buckets are per name
    clock.now += 3600
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 20]  # refill is capped at the burst


def test_zero_turns_the_limit_off_and_the_table_is_bounded() -> None:
    assert RateLimiter(0).take("a") == 0
    limiter = RateLimiter(1, max_buckets=2, clock=FakeClock())
    for name in ("a", "b", "c"):
        limiter.take(name)
    assert len(limiter._buckets) == 2
    assert limiter.take("a") == 0  # "a" was forgotten first (least recently used)


def test_each_key_gets_its_own_budget_over_http(live_api: Callable[..., LiveApi]) -> None:
    clock = FakeClock()
    live = live_api(make_settings(api_rate_limit=3, instances=(OFFLINE_DOMAIN,)), {"FEDISCOPE_CLOCK": clock})
    params = {"instance": "not-allowed.example"}  # answered 403 locally: no upstream needed
    for _ in range(3):
        assert live.get("/v1/instance", key=KEY, params=params).status_code == 403
    limited = live.get("/v1/instance", key=KEY, params=params)
    error = assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "20" and error["retry_after"] == 20
    assert "FEDISCOPE_API_RATE_LIMIT" in error["message"] and KEY not in error["message"]
    assert live.get("/v1/instance", key=OLD_KEY, params=params).status_code == 403  # another key: own bucket
    assert live.get("/health", key=None).status_code == 200  # public routes are not counted
    assert_error(live.get("/v1/instance", key=None, params=params), 401)  # no key: refused before the bucket
    clock.now += 20
    assert live.get("/v1/instance", key=KEY, params=params).status_code == 403
