"""The upstream request path: raw JSON kept, rate limits (pacing, 429), retries, timeouts, error mapping."""

from __future__ import annotations

import json
import logging
import time

import pytest

from fediscope.sources.client import (
    MastodonClient,
    RateLimited,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from fediscope.sources.ratelimit import parse_reset, parse_retry_after


def client_for(server, **options) -> MastodonClient:
    options = {"backoff_base": 0.01, "timeout": 2.0, "max_retries": 3, **options}
    return MastodonClient(server.url, **options)


# -- header parsing --------------------------------------------------------------------------------------
def test_reset_header_accepts_mastodon_iso_and_epoch_seconds() -> None:
    now = 1_785_000_000.0
    assert parse_reset("2026-07-25T17:20:10.500000Z", now=now) == pytest.approx(1_785_000_010.5)
    assert parse_reset("1785000030", now=now) == 1_785_000_030  # GoToSocial style epoch
    assert parse_reset("12", now=now) == now + 12  # small numbers: seconds from now
    assert parse_reset("not a date", now=now) is None
    assert parse_reset(None) is None


def test_reset_is_shifted_by_server_clock_skew_only_beyond_noise() -> None:
    now = 1_785_000_000.0
    iso = "2026-07-25T17:20:10Z"  # now + 10 s on the server's clock
    behind_an_hour = "Sat, 25 Jul 2026 16:20:00 GMT"  # server clock 1 h behind ours
    assert parse_reset(iso, now=now, server_date=behind_an_hour) == pytest.approx(now + 3600 + 10)
    one_second_off = "Sat, 25 Jul 2026 17:20:01 GMT"
    assert parse_reset(iso, now=now, server_date=one_second_off) == pytest.approx(now + 10)


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Sat, 25 Jul 2026 17:20:10 GMT", now=1_785_000_000.0) == pytest.approx(10)
    assert parse_retry_after("soon") is None
    assert parse_retry_after("0") == 0


@pytest.mark.parametrize("value", ["-5", "nan", "-inf"])
def test_a_retry_after_that_is_no_delay_says_nothing(value: str) -> None:
    """Was: a negative (or NaN) value read as 0, so the collector retried at once instead of waiting for the
    rate-limit reset or backing off."""
    assert parse_retry_after(value) is None


def test_pacing_bursts_while_budget_is_ample_then_spreads_the_rest() -> None:
    client = MastodonClient("https://example.org")
    now = 1000.0
    client.rate.limit, client.rate.reset_at = 300, now + 100
    client.rate.remaining = 200
    assert client.pacing_delay(now) == (0.0, "")
    client.rate.remaining = 9
    delay, reason = client.pacing_delay(now)
    assert reason == "pace" and delay == pytest.approx(100 / 10)
    client.rate.remaining = 0
    delay, reason = client.pacing_delay(now)
    assert reason == "reset" and delay == pytest.approx(100, abs=0.1)
    client.rate.reset_at = now - 1  # window over: no pacing
    assert client.pacing_delay(now) == (0.0, "")


# -- against the double ----------------------------------------------------------------------------------
def test_body_is_the_upstream_json_unchanged(mastodon_server) -> None:
    response = client_for(mastodon_server).get("/api/v1/timelines/public", {"limit": 5})
    items = json.loads(response.content)
    assert items == mastodon_server.public_statuses()[:5]
    first = items[0]
    assert isinstance(first["id"], str) and first["created_at"].endswith("Z")  # no datetime round trip
    assert set(response.links()) == {"next", "prev"}


def test_429_waits_until_the_iso_reset_and_retries(mastodon_server) -> None:
    mastodon_server.throttle(reset_in=0.4, times=1)
    waits = []
    client = client_for(mastodon_server, on_wait=lambda what, seconds, kind: waits.append((kind, seconds)))
    started = time.monotonic()
    response = client.get("/api/v1/instance/peers")
    elapsed = time.monotonic() - started
    assert response.status == 200
    assert 0.35 <= elapsed < 2.0
    assert [s.status for s in mastodon_server.log] == [429, 200]
    assert waits and waits[0][0] == "rate_limit" and 0.3 <= waits[0][1] <= 0.6
    assert client.stats["rate_limited"] == 1


@pytest.mark.parametrize("style", ["epoch", "retry_after"])
def test_429_with_epoch_reset_or_retry_after(mastodon_server, style) -> None:
    mastodon_server.throttle(reset_in=0.3, times=1, style=style)
    started = time.monotonic()
    assert client_for(mastodon_server).get("/api/v1/instance/peers").status == 200
    assert 0.05 <= time.monotonic() - started < 3.0


def test_429_longer_than_max_wait_raises_with_retry_after(mastodon_server) -> None:
    mastodon_server.throttle(reset_in=120, times=1)
    with pytest.raises(RateLimited) as info:
        client_for(mastodon_server, max_wait=5).get("/api/v1/instance/peers")
    assert 100 < info.value.retry_after <= 121


def test_429_is_passed_on_instead_of_waiting_when_asked(mastodon_server) -> None:
    mastodon_server.throttle(reset_in=3, times=1)
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        client_for(mastodon_server, wait_on_rate_limit=False).get("/api/v1/instance/peers")
    assert time.monotonic() - started < 1.0
    assert 2 <= info.value.retry_after <= 3.5


def test_pacing_keeps_a_run_under_the_servers_limit(mastodon_server) -> None:
    mastodon_server.ratelimit_limit, mastodon_server.ratelimit_window = 6, 1.0
    client = client_for(mastodon_server, pace_fraction=0.5)
    started = time.monotonic()
    for _ in range(14):
        client.get("/api/v1/instance/peers")
    assert [s.status for s in mastodon_server.log].count(429) == 0
    assert time.monotonic() - started >= 1.0  # 14 requests at 6 per second need at least two windows
    assert client.stats["rate_limit_waits"] > 0


def test_5xx_burst_then_success_is_retried_with_backoff(mastodon_server) -> None:
    mastodon_server.fail(503, times=2)
    mastodon_server.fail(502, times=1)
    client = client_for(mastodon_server)
    assert client.get("/api/v1/instance/peers").status == 200
    assert [s.status for s in mastodon_server.log] == [503, 503, 502, 200]
    assert client.stats["retries"] == 3


def test_a_single_attempt_is_worded_in_the_singular(mastodon_server) -> None:
    """Was: ``(gave up after 1 attempts)`` and ``still rate limited after 1 attempts``."""
    mastodon_server.fail(500, times=1)
    with pytest.raises(UpstreamUnavailable, match=r": HTTP 500 \(gave up after 1 attempt\)$"):
        client_for(mastodon_server, max_retries=0).get("/api/v1/instance/peers")
    mastodon_server.throttle(reset_in=0.05, times=1)
    with pytest.raises(RateLimited, match=r": still rate limited after 1 attempt$"):
        client_for(mastodon_server, max_retries=0).get("/api/v1/instance/peers")


def test_retries_are_bounded(mastodon_server) -> None:
    mastodon_server.fail(500, times=100)
    with pytest.raises(UpstreamUnavailable, match="gave up after 3 attempts") as info:
        client_for(mastodon_server, max_retries=2).get("/api/v1/instance/peers")
    assert info.value.status == 500
    assert len(mastodon_server.log) == 3


def test_a_5xx_retry_waits_the_instances_retry_after(mastodon_server) -> None:
    mastodon_server.fail(503, times=1, retry_after="2")
    waits: list[float] = []
    client = client_for(mastodon_server, sleep=waits.append)
    assert client.get("/api/v1/instance/peers").status == 200
    assert [s.status for s in mastodon_server.log] == [503, 200]
    assert len(waits) == 1 and waits[0] >= 2.0  # not the 0.01 s backoff


def test_a_5xx_retry_after_longer_than_max_wait_is_not_retried(mastodon_server) -> None:
    mastodon_server.fail(503, times=1, retry_after="600")
    waits: list[float] = []
    with pytest.raises(UpstreamUnavailable, match="retry in 600 s, longer than the 5 s") as info:
        client_for(mastodon_server, max_wait=5, sleep=waits.append).get("/api/v1/instance/peers")
    assert info.value.retry_after == 600
    assert waits == [] and len(mastodon_server.log) == 1


@pytest.mark.parametrize("value", [str(10**30), "1e999", "99999999"])
def test_an_absurd_retry_after_is_said_as_more_than_a_year_for_a_5xx_and_a_429_alike(mastodon_server,
                                                                                      value: str) -> None:
    """Was: ``it asks to retry in 1000000000000000019884624838656 s`` (a 503), ``rate limited for inf s`` (a 429)."""
    mastodon_server.fail(503, times=1, retry_after=value)
    mastodon_server.fail(429, times=1, retry_after=value)
    with pytest.raises(UpstreamUnavailable) as unavailable:
        client_for(mastodon_server, max_wait=5).get("/api/v1/instance/peers")
    with pytest.raises(RateLimited) as limited:
        client_for(mastodon_server, max_wait=5).get("/api/v1/instance/peers")
    said = "it asks to retry in more than a year, longer than the 5 s we wait (FEDISCOPE_RATE_LIMIT_MAX_WAIT)"
    assert str(unavailable.value) == f"{mastodon_server.domain}/api/v1/instance/peers: HTTP 503 (gave up after 1 " \
                                     f"attempt; {said})"
    assert str(limited.value) == f"{mastodon_server.domain}/api/v1/instance/peers: rate limited (HTTP 429); {said}; " \
                                 "run again later"


def test_a_429_within_a_year_is_said_in_seconds(mastodon_server) -> None:
    mastodon_server.fail(429, times=1, retry_after="600")
    with pytest.raises(RateLimited, match=r": rate limited \(HTTP 429\); it asks to retry in 600 s, longer than the "
                                          r"5 s we wait \(FEDISCOPE_RATE_LIMIT_MAX_WAIT\); run again later$"):
        client_for(mastodon_server, max_wait=5).get("/api/v1/instance/peers")


def test_a_damaged_gzip_answer_is_one_readable_line(mastodon_server) -> None:
    """Was: ``network error: ('Received response with content-encoding: gzip, but failed to decode it.',
    error('Error -3 while decompressing data: incorrect header check'))`` (urllib3's tuple)."""
    mastodon_server.damage_gzip(times=10)
    with pytest.raises(UpstreamUnavailable) as info:
        client_for(mastodon_server, max_retries=1).get("/api/v1/instance/peers")
    assert str(info.value) == (f"{mastodon_server.domain}/api/v1/instance/peers: network error: the answer's gzip "
                               "encoding is damaged (Error -3 while decompressing data: incorrect header check) "
                               "(gave up after 2 attempts)")


def test_no_retry_is_started_that_would_end_after_the_deadline(mastodon_server) -> None:
    """A deadline bounds the whole get(), retries included (before, a timeout was retried once more: up to twice
    the deadline)."""
    mastodon_server.slow(1.5, times=10)
    client = client_for(mastodon_server, timeout=0.8, deadline=1.0, backoff_base=0.3, max_retries=3)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        client.get("/api/v1/instance/peers")
    assert time.monotonic() - started < 2.5  # without the bound: 4 attempts of 0.8 s and the backoffs between
    assert client.stats["requests"] <= 2


def test_backoff_grows_exponentially_with_jitter() -> None:
    client = MastodonClient("https://example.org", backoff_base=1.0, backoff_cap=8.0)
    for attempt, full in enumerate([1, 2, 4, 8, 8]):
        delays = [client.backoff_delay(attempt) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1  # jitter


def test_a_slow_answer_times_out_and_is_retried(mastodon_server) -> None:
    mastodon_server.slow(1.5, times=1)
    client = client_for(mastodon_server, timeout=0.5)
    assert client.get("/api/v1/instance/peers").status == 200
    assert client.stats["retries"] == 1


def test_an_instance_that_never_answers_in_time_fails_bounded(mastodon_server) -> None:
    mastodon_server.slow(1.0, times=10)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable, match=r"network error: timed out \(gave up after 2 attempts\)$"):
        client_for(mastodon_server, timeout=0.3, max_retries=1).get("/api/v1/instance/peers")
    assert time.monotonic() - started < 2.0


def test_connection_refused_is_a_bounded_transient_failure() -> None:
    """The reason is the operating system's (was: urllib3's text cut at 200 characters, mid-word, before it)."""
    with pytest.raises(UpstreamUnavailable,
                       match=r"^127\.0\.0\.1:9/api/v1/instance: network error: \[Errno [0-9]+\] Connection refused "
                             r"\(gave up after 2 attempts\)$"):
        MastodonClient("http://127.0.0.1:9", backoff_base=0.01, max_retries=1).get("/api/v1/instance")


def test_a_tls_failure_says_the_tls_reason(mastodon_server) -> None:
    """https to a server speaking plain HTTP: the reason is TLS's (was: urllib3's text cut before it); final at
    once (tests/sources/test_tls_failures.py)."""
    client = MastodonClient(mastodon_server.url.replace("http://", "https://"), backoff_base=0.01, max_retries=0)
    with pytest.raises(UpstreamUnavailable, match=r"TLS error: \[SSL: [A-Z_]+\] [a-z]"):  # OpenSSL words it
        client.get("/api/v1/instance")


def test_not_found_and_refused_are_not_retried(mastodon_server) -> None:
    client = client_for(mastodon_server)
    with pytest.raises(UpstreamNotFound, match="Record not found"):
        client.get("/api/v1/accounts/lookup", {"acct": "nobody-here"})
    mastodon_server.fail(401, times=1)
    with pytest.raises(UpstreamRejected, match="FEDISCOPE_TOKEN_127_0_0_1_") as info:
        client.get("/api/v1/instance/peers")
    assert info.value.status == 401
    assert client.stats["retries"] == 0


def test_token_is_sent_but_never_logged(mastodon_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    mastodon_server.fail(503, times=1)
    client = client_for(mastodon_server, access_token="sekrit-token-123")
    assert client.api.debug_requests is False
    client.get("/api/v1/instance/peers")
    assert "sekrit-token-123" not in caplog.text
    assert "sekrit-token-123" not in repr(client)


def test_redirect_failures_are_final_and_named_but_a_bad_proxy_setting_is_not_a_redirect() -> None:
    import requests

    from fediscope.sources.client import RedirectRefused

    client = MastodonClient("https://example.org")
    with pytest.raises(RedirectRefused, match="too many redirects"):
        client._raise_final(requests.exceptions.TooManyRedirects("Exceeded 30 redirects."), "/api/v1/instance")
    with pytest.raises(RedirectRefused, match="redirect refused"):
        client._raise_final(requests.exceptions.InvalidURL("redirect to 169.254.169.254"), "/api/v1/instance")
    client._raise_final(requests.exceptions.InvalidProxyURL("bad HTTPS_PROXY"), "/api/v1/instance")  # not final here
