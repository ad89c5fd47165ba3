"""Upstream answers are bounded: a whole-answer deadline (an instance dribbling one byte at a time), a body size cap,
no more items than asked for, paging cursors this API accepts back, capped Retry-After (also on 502), refused
redirects reported as such and not retried, the 401 hint when a token was sent; and the documented parameter
bounds (instance and acct at most 300 characters, case-insensitive scheme).

The misbehaving instance is a real HTTP server on 127.0.0.1 whose answer per path a test scripts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from api_testing import KEY, LiveApi, assert_error, make_settings

import api.upstream
from fediscope.config import _token_key, token_env_name

Answer = Callable[[BaseHTTPRequestHandler], None]


class FakeInstance:
    """A server on 127.0.0.1 answering each path with a scripted function; 404 for other paths."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[str] = []
        self.stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                fake.requests.append(self.path)
                answer = fake.answers.get(path)
                try:
                    if answer is None:
                        send(self, 404, b'{"error": "Record not found"}')
                    else:
                        answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.domain = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.domain}"

    def requests_to(self, path: str) -> list[str]:
        return [r for r in self.requests if r.split("?", 1)[0] == path]


def get_quickly(live: LiveApi, path: str, params: dict[str, Any], timeout: float = 10) -> requests.Response:
    """GET with a short client timeout, so a hanging API fails the test in seconds."""
    return live.http.get(live.url + path, params=params, headers={"X-API-Key": KEY}, timeout=timeout)


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def instance() -> Iterator[FakeInstance]:
    fake = FakeInstance()
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    fake.stop.set()
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def scraping(instance: FakeInstance, live_api: Callable[..., LiveApi]) -> Callable[..., LiveApi]:
    """``scraping(**settings)`` → the API with the fake instance allowlisted (private addresses allowed)."""
    def start(**overrides: Any) -> LiveApi:
        return live_api(make_settings(instances=(instance.url,), allow_private_addresses=True, **overrides))
    return start


def status(n: int) -> dict[str, Any]:
    return {"id": str(1000 + n), "created_at": "2026-08-01T13:55:50.338Z", "visibility": "public",
            "content": f"<p>status {n}</p>", "account": {"id": "7", "acct": "someone", "username": "someone"}}


def statuses(count: int) -> bytes:
    return json.dumps([status(n) for n in range(count, 0, -1)]).encode()


# -- 1. a whole-answer deadline ------------------------------------------------------------------------------


def dribbler(fake: FakeInstance, prefix: bytes, filler: bytes, every: float = 0.1) -> Answer:
    """Write ``prefix`` raw, then ``filler`` every ``every`` seconds (until the client goes away, or 30 s)."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(prefix)
        handler.wfile.flush()
        deadline = time.monotonic() + 30
        while not fake.stop.is_set() and time.monotonic() < deadline:
            time.sleep(every)
            handler.wfile.write(filler)
            handler.wfile.flush()
    return answer


def dribble(fake: FakeInstance) -> Answer:
    """200 with Content-Length 100000, then one byte of body every 0.1 s."""
    return dribbler(fake, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[", b" ")


def dribble_headers(fake: FakeInstance) -> Answer:
    """A status line, then a header one byte every 0.1 s (never finished)."""
    return dribbler(fake, b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")


@pytest.mark.parametrize(("route", "path"), [("/v1/timelines/public", "/api/v1/timelines/public"),
                                             ("/v1/instance", "/api/v2/instance")])
def test_an_instance_dribbling_its_answer_is_cut_off_at_the_deadline(
        instance: FakeInstance, scraping: Callable[..., LiveApi], route: str, path: str) -> None:
    """requests' timeout restarts at every byte: without a deadline on the whole answer this request hangs for
    hours (100000 bytes at 10 a second) and holds a server thread all along."""
    live = scraping(request_timeout=1.0)
    instance.answers[path] = dribble(instance)
    started = time.monotonic()
    response = get_quickly(live, route, {"instance": instance.domain})
    elapsed = time.monotonic() - started
    assert_error(response, 502, "upstream_unavailable")
    assert 0.9 <= elapsed < 4, elapsed
    assert len(instance.requests_to(path)) == 1  # cut off, not retried: a dribbler dribbles again


def test_an_instance_dribbling_its_headers_is_cut_off_at_the_deadline(
        instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    """The deadline runs from the connect, not from the end of the headers (before, only each gap was bounded)."""
    live = scraping(request_timeout=1.0)
    instance.answers["/api/v1/timelines/public"] = dribble_headers(instance)
    started = time.monotonic()
    response = get_quickly(live, "/v1/timelines/public", {"instance": instance.domain})
    elapsed = time.monotonic() - started
    assert_error(response, 502, "upstream_unavailable")
    assert 0.9 <= elapsed < 4, elapsed
    assert len(instance.requests_to("/api/v1/timelines/public")) == 1


def test_a_503_asking_for_longer_than_the_deadline_is_not_retried_and_its_retry_after_passed_on(
        instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    live = scraping(request_timeout=1.0)
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 503, b'{"error": "busy"}', {"Retry-After": "30"})
    started = time.monotonic()
    response = get_quickly(live, "/v1/timelines/public", {"instance": instance.domain})
    assert time.monotonic() - started < 2
    assert_error(response, 502, "upstream_unavailable")
    assert response.headers["Retry-After"] == "30"
    assert len(instance.requests_to("/api/v1/timelines/public")) == 1
    # and the served document says a 502 may carry it (was: only the 429's was declared)
    paths = live.get("/openapi.json", key=None).json()["paths"]
    for path, item in paths.items():
        if "502" in item["get"]["responses"]:
            header = item["get"]["responses"]["502"]["headers"]["Retry-After"]
            assert header["required"] is False and header["schema"]["type"] == "integer", path


def test_the_deadline_is_at_most_the_documented_bound(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A larger request_timeout setting does not lift the API's bound (MAX_TIMEOUT, lowered here for speed)."""
    monkeypatch.setattr(api.upstream, "MAX_TIMEOUT", 1.0)
    live = scraping(request_timeout=30.0)
    instance.answers["/api/v1/timelines/public"] = dribble(instance)
    started = time.monotonic()
    assert_error(get_quickly(live, "/v1/timelines/public", {"instance": instance.domain}), 502,
                 "upstream_unavailable")
    assert time.monotonic() - started < 4


def test_a_prompt_answer_is_unaffected_by_the_deadline(instance: FakeInstance,
                                                       scraping: Callable[..., LiveApi]) -> None:
    live = scraping(request_timeout=1.0)
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 200, statuses(3))
    body = live.get("/v1/timelines/public", params={"instance": instance.domain, "limit": 3}).json()
    assert body["count"] == 3 and body["quarantined"] == 0


# -- 2. body size and item count -----------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_an_oversized_answer_is_502_without_reading_it_all(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                                           monkeypatch: pytest.MonkeyPatch, declared: bool) -> None:
    monkeypatch.setattr(api.upstream, "MAX_BODY_BYTES", 64 * 1024)
    big = statuses(1000)  # ~150 KB of valid statuses
    assert len(big) > 64 * 1024

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if declared:
            send(handler, 200, big)
            return
        handler.send_response(200)  # no Content-Length: the body ends when the connection closes
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        handler.wfile.write(big)

    instance.answers["/api/v1/timelines/public"] = answer
    live = scraping()
    error = assert_error(live.get("/v1/timelines/public", params={"instance": instance.domain}), 502,
                         "upstream_too_large")
    assert "MiB" in error["message"] or "bytes" in error["message"]
    assert len(instance.requests_to("/api/v1/timelines/public")) == 1


def test_the_default_body_cap_is_a_few_mib() -> None:
    assert 1024 * 1024 <= api.upstream.MAX_BODY_BYTES <= 16 * 1024 * 1024


def test_items_beyond_the_limit_are_ignored_and_next_continues_after_the_last_kept(
        instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(
        h, 200, statuses(500), {"Link": f'<{instance.url}/api/v1/timelines/public?max_id=1001>; rel="next"'})
    live = scraping()
    response = live.get("/v1/timelines/public", params={"instance": instance.domain, "limit": 2})
    body = response.json()
    assert body["count"] == 2 and body["quarantined"] == 0 and body["skipped"] == 0
    assert [r["data"]["id"] for r in body["records"]] == ["1500", "1499"]
    assert body["next"] == {"max_id": "1499"}  # not the instance's 1001: 1498…1001 would be skipped
    assert "max_id=1499" in response.headers["Link"]


def test_a_walk_up_by_min_id_misses_nothing_when_the_instance_ignores_limit(
        instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    """Was: the first (newest) ``limit`` items of a ``min_id`` answer were kept, with the instance's ``prev`` (its
    newest item): a walk up by ``prev`` jumped over the items between. Mastodon's ``min_id`` answers the items just
    above it, newest first; an instance ignoring ``limit`` sends all of them: the ``limit`` next to ``min_id`` are
    kept, and ``prev`` is the newest of those."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        min_id = int(query["min_id"][0])
        items = [status(n) for n in range(10, 0, -1) if 1000 + n > min_id]
        link = (f'<{instance.url}/api/v1/timelines/public?max_id={items[-1]["id"]}>; rel="next", '
                f'<{instance.url}/api/v1/timelines/public?min_id={items[0]["id"]}>; rel="prev"') if items else ""
        send(handler, 200, json.dumps(items).encode(), {"Link": link} if link else {})

    instance.answers["/api/v1/timelines/public"] = answer
    live = scraping()
    params: dict[str, Any] = {"instance": instance.domain, "limit": 3, "min_id": "1000"}
    pages = []
    for _ in range(10):
        body = live.get("/v1/timelines/public", params=params).json()
        if not body["records"]:
            break
        pages.append([r["data"]["id"] for r in body["records"]])
        assert body["next"] == {"max_id": pages[-1][-1]}
        params["min_id"] = body["prev"]["min_id"]
    assert pages == [["1003", "1002", "1001"], ["1006", "1005", "1004"], ["1009", "1008", "1007"], ["1010"]]


def test_a_snapshot_route_keeps_a_bounded_number_of_items(instance: FakeInstance,
                                                          scraping: Callable[..., LiveApi]) -> None:
    weeks = [{"week": str(1700000000 + i), "statuses": "1", "logins": "1", "registrations": "0"}
             for i in range(5000)]
    instance.answers["/api/v1/instance/activity"] = lambda h: send(h, 200, json.dumps(weeks).encode())
    body = scraping().get("/v1/instance/activity", params={"instance": instance.domain}).json()
    assert body["count"] == api.upstream.SNAPSHOT_MAX_ITEMS


# -- 3. cursors ----------------------------------------------------------------------------------------------


def test_invalid_upstream_cursors_are_dropped(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                              caplog: pytest.LogCaptureFixture) -> None:
    link = (f'<{instance.url}/api/v1/timelines/public?max_id=a-b>; rel="next", '
            f'<{instance.url}/api/v1/timelines/public?min_id=1003>; rel="prev"')
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 200, statuses(3), {"Link": link})
    live = scraping()
    with caplog.at_level("INFO", logger="api.upstream"):
        response = live.get("/v1/timelines/public", params={"instance": instance.domain})
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is None
    assert body["prev"] == {"min_id": "1003"}
    assert "a-b" not in response.headers["Link"] and 'rel="next"' not in response.headers["Link"]
    assert any("rel=next" in r.getMessage() and r.levelname == "INFO" for r in caplog.records)


@pytest.mark.parametrize("cursor", ["123456789012345678901", "-5", "1%200", "%EF%BC%91%EF%BC%92", "A" * 65, "a_b"])
def test_cursors_the_api_would_refuse_are_never_handed_out(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                                           cursor: str) -> None:
    link = f'<{instance.url}/api/v1/timelines/public?max_id={cursor}>; rel="next"'
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 200, statuses(2), {"Link": link})
    response = scraping().get("/v1/timelines/public", params={"instance": instance.domain})
    assert response.status_code == 200 and response.json()["next"] is None
    assert "Link" not in response.headers


# -- 4. Retry-After and redirects ----------------------------------------------------------------------------


def test_a_huge_upstream_retry_after_is_capped(instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 429, b'{"error": "Too many requests"}',
                                                                  {"Retry-After": "99999999"})
    error = assert_error(response := scraping().get("/v1/timelines/public", params={"instance": instance.domain}),
                         429, "upstream_rate_limited")
    assert response.headers["Retry-After"] == str(api.upstream.MAX_RETRY_AFTER) == "3600"
    assert error["retry_after"] == 3600


@pytest.mark.parametrize("value", ["1e999", "inf"])
def test_an_infinite_upstream_retry_after_is_capped_too(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                                        value: str) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 429, b"{}", {"Retry-After": value})
    response = scraping().get("/v1/timelines/public", params={"instance": instance.domain})
    assert_error(response, 429, "upstream_rate_limited")
    assert response.headers["Retry-After"] == "3600"


@pytest.mark.parametrize("value", ["-5", "soon", "nan", ""])
def test_an_unusable_upstream_retry_after_gets_the_default(instance: FakeInstance,
                                                           scraping: Callable[..., LiveApi], value: str) -> None:
    """A negative, NaN or garbage Retry-After says nothing: DEFAULT_RETRY_AFTER, not the client's backoff (1 s)."""
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 429, b"{}", {"Retry-After": value})
    response = scraping().get("/v1/timelines/public", params={"instance": instance.domain})
    error = assert_error(response, 429, "upstream_rate_limited")
    assert response.headers["Retry-After"] == str(api.upstream.DEFAULT_RETRY_AFTER) == "60"
    assert error["retry_after"] == 60


def test_an_unusable_upstream_retry_after_falls_back_to_the_window_reset(instance: FakeInstance,
                                                                         scraping: Callable[..., LiveApi]) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(
        h, 429, b"{}", {"Retry-After": "-5", "X-RateLimit-Reset": str(int(time.time()) + 30)})
    response = scraping().get("/v1/timelines/public", params={"instance": instance.domain})
    assert_error(response, 429, "upstream_rate_limited")
    assert 28 <= int(response.headers["Retry-After"]) <= 31


@pytest.mark.parametrize(("value", "expected"), [("0", "1"), ("7", "7")])
def test_a_usable_upstream_retry_after_is_passed_on(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                                    value: str, expected: str) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 429, b"{}", {"Retry-After": value})
    response = scraping().get("/v1/timelines/public", params={"instance": instance.domain})
    assert_error(response, 429, "upstream_rate_limited")
    assert response.headers["Retry-After"] == expected


@pytest.mark.parametrize(("status", "asked", "expected"), [(500, "20", 20), (503, "120", 120),
                                                       (503, "20", int(api.upstream.DOWN_MEMORY))],
                         ids=["500-kept", "503-kept", "503-shorter-than-the-memory"])
def test_an_upstream_5xx_retry_after_is_kept_on_the_502(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                                        status: int, asked: str, expected: int) -> None:
    """The instance's ``Retry-After`` is passed on; but a 503 (the instance is down: the API then leaves it alone)
    asking for less than the API's memory of a down instance gets the memory's length, as the 503 ``upstream_down``
    answers meanwhile say (was: 20, and a client coming back then met them). Each asks for longer than the deadline
    (10 s): not retried, nothing waited."""
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, status, b'{"error": "maintenance"}',
                                                                  {"Retry-After": asked})
    response = scraping(retry_backoff=0.05).get("/v1/timelines/public", params={"instance": instance.domain})
    error = assert_error(response, 502, "upstream_unavailable")
    assert response.headers["Retry-After"] == str(expected)
    assert error["retry_after"] == expected and error["upstream_status"] == status
    assert len(instance.requests_to("/api/v1/timelines/public")) == 1


def test_an_upstream_503_with_a_huge_retry_after_is_capped(instance: FakeInstance,
                                                           scraping: Callable[..., LiveApi]) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 503, b"{}", {"Retry-After": "99999999"})
    response = scraping(retry_backoff=0.05).get("/v1/timelines/public", params={"instance": instance.domain})
    assert_error(response, 502, "upstream_unavailable")
    assert response.headers["Retry-After"] == "3600"


def test_a_redirect_to_the_metadata_service_is_reported_as_refused_and_not_retried(
        instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(
        h, 302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    error = assert_error(scraping().get("/v1/timelines/public", params={"instance": instance.domain}), 502,
                         "upstream_redirect_refused")
    assert "redirect" in error["message"] and "timed out" not in error["message"]
    assert len(instance.requests_to("/api/v1/timelines/public")) == 1


@pytest.mark.parametrize("location", ["http://127.0.0.1:99999/api/v1/timelines/public", "http://127.0.0.1:x/"])
def test_a_redirect_to_a_port_that_is_no_port_is_reported_as_refused(
        instance: FakeInstance, scraping: Callable[..., LiveApi], location: str) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 302, b"", {"Location": location})
    error = assert_error(scraping().get("/v1/timelines/public", params={"instance": instance.domain}), 502,
                         "upstream_redirect_refused")  # was upstream_unavailable, "failed or timed out"
    assert "timed out" not in error["message"]
    assert len(instance.requests_to("/api/v1/timelines/public")) == 1


def test_a_redirect_loop_is_refused_too(instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(
        h, 302, b"", {"Location": "/api/v1/timelines/public?again=1"})
    assert_error(scraping().get("/v1/timelines/public", params={"instance": instance.domain}), 502,
                 "upstream_redirect_refused")
    assert len(instance.requests_to("/api/v1/timelines/public")) <= 4  # the first hop and at most 3 redirects


# -- 6. the 401 hint -----------------------------------------------------------------------------------------


def test_a_refused_token_is_named_as_refused(instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    seen: list[str | None] = []

    def refuse(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        send(handler, 401, b'{"error": "The access token is invalid"}')

    instance.answers["/api/v1/timelines/public"] = refuse
    live = scraping(tokens={_token_key(instance.domain): "token-0123456789"})
    error = assert_error(live.get("/v1/timelines/public", params={"instance": instance.domain}), 502,
                         "upstream_rejected")
    assert seen == ["Bearer token-0123456789"]
    assert "refused" in error["message"] and "scopes" in error["message"]
    assert f"set {token_env_name(instance.domain)}" not in error["message"]
    assert "token-0123456789" not in error["message"]


def test_without_a_token_the_hint_says_to_set_one(instance: FakeInstance, scraping: Callable[..., LiveApi]) -> None:
    instance.answers["/api/v1/timelines/public"] = lambda h: send(h, 401, b'{"error": "login required"}')
    error = assert_error(scraping().get("/v1/timelines/public", params={"instance": instance.domain}), 502,
                         "upstream_rejected")
    assert f"set {token_env_name(instance.domain)}" in error["message"]


# -- 5. documented parameter bounds ---------------------------------------------------------------------------


def test_an_instance_longer_than_300_characters_is_400(checked: LiveApi) -> None:
    host = ".".join(["a" * 63] * 5)[:319]
    assert len(host) == 319
    assert_error(checked.get("/v1/instance", params={"instance": host}), 400, "invalid_parameter", "instance")


def test_an_acct_longer_than_300_characters_is_400(checked: LiveApi) -> None:
    acct = "user@" + ".".join(["b" * 60] * 7)[:397]
    assert len(acct) == 402
    response = checked.get(f"/v1/accounts/{acct}/statuses", params={"instance": "allowed.example"})
    assert_error(response, 400, "invalid_parameter", "acct")


@pytest.mark.parametrize("scheme", ["HTTP://", "Http://", "HTTPS://"])
def test_the_scheme_of_instance_is_case_insensitive(instance: FakeInstance, scraping: Callable[..., LiveApi],
                                                    scheme: str) -> None:
    instance.answers["/api/v2/instance"] = lambda h: send(h, 200, b'{"domain": "fake.example"}')
    response = scraping().get("/v1/instance", params={"instance": scheme + instance.domain})
    assert response.status_code == 200, response.text
    assert response.json()["instance"] == instance.domain


def test_dribbling_instances_do_not_starve_the_waitress_threads(instance: FakeInstance) -> None:
    """As many dribbling upstream requests as waitress has threads: /health still answers within the deadline
    (without it every thread was held for as long as the instance cared to dribble). The server is serve-api's
    own (:func:`api.app.make_server`: its poll loop, where waitress's select loop thread died on the socket the
    test closed, a warning in every run)."""
    from api import create_app
    from api.app import make_server
    from fediscope.background_server import BackgroundServer

    instance.answers["/api/v1/timelines/public"] = dribble(instance)
    app = create_app(make_settings(instances=(instance.url,), allow_private_addresses=True, request_timeout=1.0))
    server = BackgroundServer(make_server(app, "127.0.0.1", 0, 2)).start()
    url = f"http://127.0.0.1:{server.server.effective_port}"
    answers: list[int] = []

    def scrape() -> None:
        session = requests.Session()
        session.trust_env = False
        response = session.get(url + "/v1/timelines/public", params={"instance": instance.domain},
                               headers={"X-API-Key": KEY}, timeout=10)
        answers.append(response.status_code)

    try:
        scrapers = [threading.Thread(target=scrape, daemon=True) for _ in range(2)]
        for scraper in scrapers:
            scraper.start()
        deadline = time.monotonic() + 5
        while len(instance.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(instance.requests) == 2  # both waitress threads now wait on the instance
        started = time.monotonic()
        health = requests.Session()
        health.trust_env = False
        assert health.get(url + "/health", timeout=8).status_code == 200
        assert time.monotonic() - started < 3
        for scraper in scrapers:
            scraper.join(10)
        assert answers == [502, 502]
    finally:
        server.stop()
