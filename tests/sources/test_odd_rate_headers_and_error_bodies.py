"""Answers no Mastodon sends but a broken or hostile server can: rate-limit headers holding NaN or numbers too large
for the pacing arithmetic, and an error body nested deeper than the JSON decoder goes. Each is read as saying
nothing, never as a crash of the client (which stayed broken for the rest of a run: the NaN was kept in its state).

A real HTTP server on 127.0.0.1 sends them (no recording has such an answer).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fediscope.sources.client import (
    MastodonClient,
    RateLimited,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from fediscope.sources.ratelimit import parse_reset

DEEP = b"[" * 200_000


class _OddServer(ThreadingHTTPServer):
    daemon_threads = True
    status = 200
    headers: dict[str, str] = {}
    body = b"[]"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _OddServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(self.server.body)))
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def odd_server() -> Iterator[_OddServer]:
    server = _OddServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _client(server: _OddServer) -> MastodonClient:
    return MastodonClient(f"http://127.0.0.1:{server.server_address[1]}", backoff_base=0.01, timeout=2.0,
                          max_retries=1, sleep=lambda seconds: pytest.fail(f"the client waited {seconds} s"))


@pytest.mark.parametrize("reset", ["nan", "NaN", "inf", "-inf"])
def test_a_reset_that_is_no_time_is_ignored(reset: str, odd_server: _OddServer) -> None:
    """Was: ``X-RateLimit-Reset: nan`` with nothing remaining crashed the next request (``sleep(nan)``, or
    ``int(nan)`` when counting the wait): every later source of the instance failed as an internal error."""
    assert parse_reset(reset, now=1_785_000_000.0) is None
    odd_server.headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    client = _client(odd_server)
    for _ in range(3):
        assert client.get("/api/v1/timelines/public").status == 200
    assert client.rate.reset_at is None and client.pacing_delay() == (0.0, "")


@pytest.mark.parametrize("reset", ["1e300", "9999-12-31T00:00:00Z"])
def test_a_reset_no_window_reaches_is_ignored(reset: str, odd_server: _OddServer) -> None:
    """Was: with few requests left, the pacing wait (the window spread over them) was 5e299 s (sleep raised
    OverflowError on every later request) or 4,000 years for the year 9999, whatever rate_limit_max_wait said."""
    odd_server.headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": reset}
    client = _client(odd_server)  # waiting at all fails the test
    for _ in range(3):
        assert client.get("/api/v1/timelines/public").status == 200
    assert client.pacing_delay() == (0.0, "")


def test_the_backoff_of_a_very_late_retry_is_the_cap() -> None:
    """Was: 2**attempt as a float overflowed from attempt 1024 (a stream reconnecting for hours with a large
    FEDISCOPE_MAX_RETRIES ended in a traceback)."""
    client = MastodonClient("https://example.org", backoff_base=1.0, backoff_cap=60.0)
    assert 30.0 <= client.backoff_delay(5000) <= 60.0


@pytest.mark.parametrize("header", ["X-RateLimit-Limit", "X-RateLimit-Remaining"])
def test_a_count_too_large_for_the_pacing_arithmetic_is_ignored(header: str, odd_server: _OddServer) -> None:
    """Was: a 401-digit ``X-RateLimit-Limit`` raised OverflowError (int too large to convert to float) on the next
    request; the API answered 500 where one request makes two upstream calls."""
    odd_server.headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "3",
                          "X-RateLimit-Reset": "30", header: "1" + "0" * 400}
    client = _client(odd_server)
    client.sleep = lambda seconds: None  # pacing may wait (3 of 300 left): only the arithmetic is checked
    for _ in range(3):
        assert client.get("/api/v1/timelines/public").status == 200
    assert client.rate.limit in (300, None) and client.rate.remaining in (3, None)
    delay, _reason = client.pacing_delay()
    assert delay >= 0


@pytest.mark.parametrize(("status", "error"), [(404, UpstreamNotFound), (403, UpstreamRejected),
                                                (422, UpstreamRejected), (503, UpstreamUnavailable),
                                                (429, RateLimited)])
def test_an_error_body_nested_too_deeply_is_an_error_without_a_message(
        status: int, error: type[Exception], odd_server: _OddServer) -> None:
    """Was: RecursionError out of the client (reading the body for Mastodon's ``{"error": …}`` message): the API
    answered 500 with a traceback in its log, and `collect` reported the source as an internal error."""
    odd_server.status, odd_server.body = status, DEEP
    client = _client(odd_server)
    client.sleep = lambda seconds: None  # 503 and 429 are retried after a wait
    with pytest.raises(error) as raised:
        client.get("/api/v1/timelines/tag/x")
    assert status == 429 or f"HTTP {status}" in str(raised.value), raised.value


@pytest.mark.parametrize("reset", ["1e300", "9999-12-31T00:00:00Z"])
def test_a_429_without_retry_after_is_not_held_until_a_reset_no_window_reaches(reset: str,
                                                                               odd_server: _OddServer) -> None:
    """A 429 saying no Retry-After falls back on the window's reset, but one no window reaches says nothing there
    too (as in pacing). Was: held as the instance's word, and a rate-limit state is shared by every request of the
    scraping API for that instance: one such 429 refused every later request for the life of the server."""
    odd_server.headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299", "X-RateLimit-Reset": reset}
    client = MastodonClient(f"http://127.0.0.1:{odd_server.server_address[1]}", backoff_base=0.01, timeout=2.0,
                            max_retries=1, wait_on_rate_limit=False)
    assert client.get("/api/v1/timelines/public").status == 200
    odd_server.status, odd_server.headers = 429, {}
    with pytest.raises(RateLimited) as raised:
        client.get("/api/v1/timelines/public")
    assert raised.value.retry_after < 60, raised.value  # our backoff's guess, not thousands of years
    odd_server.status = 200
    assert client.get("/api/v1/timelines/public").status == 200  # not refused unsent
    assert client.pacing_delay() == (0.0, "")
