"""``fediscope serve-api``: the real command, served by waitress in a subprocess on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api_testing import KEY, PSEUDONYM_KEY, assert_error
from doubles.mastodon_server import MastodonDouble

from api.app import MAX_BODY_BYTES, MAX_HEADER_BYTES, SECURITY_HEADERS
from api.openapi import build_document

COMMAND = [sys.executable, "-c", "from fediscope.cli import main; main()"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(tmp_path / "lake"), **extra)  # cwd is tmp_path: no fediscope.toml
    return env


@contextlib.contextmanager
def serve(tmp_path: Path, mastodon_server: Any, host: str = "127.0.0.1", log: list[str] | None = None,
          **extra: str) -> Iterator[str]:
    """``fediscope serve-api --host host`` in front of the Mastodon double, with ``extra`` settings; its base URL
    (on 127.0.0.1). ``log`` receives the lines the server wrote to stderr after its first, once it stopped."""
    env = _env(tmp_path, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_INSTANCES=mastodon_server.url, FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true", **extra)
    process = subprocess.Popen([*COMMAND, "serve-api", "--host", host, "--port", "0"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    # the lines after the first read as they come: a server serving many tests (the module's `served`) would
    # otherwise block once its unread log filled the pipe
    after_first: list[str] = []
    drain = threading.Thread(target=lambda: after_first.extend(line.rstrip("\n") for line in process.stderr),
                             daemon=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(rf"http://{re.escape(host)}:(\d+)/", line)
        assert match, line
        drain.start()
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if drain.ident is not None:  # started
            drain.join(timeout=10)
        if log is not None:
            log.extend(after_first)


@pytest.fixture(scope="module")
def _served_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MastodonDouble]]:
    """One server (and its Mastodon double) for the tests of this module that need the default settings only: a
    server's start is most of such a test's time (a Python process importing Flask and Mastodon.py). Its per-key rate
    limit is off, so that no test's answers depend on how many requests the tests before it sent with the same key
    (the limit has tests of its own); none of them changes the server's or the double's state (a test that does
    starts its own, with :func:`serve`)."""
    with MastodonDouble() as double, serve(tmp_path_factory.mktemp("served"), double,
                                           FEDISCOPE_API_RATE_LIMIT="0") as url:
        yield url, double


@pytest.fixture
def served(_served_module: tuple[str, MastodonDouble]) -> str:
    """The module's server's base URL (:func:`_served_module`)."""
    return _served_module[0]


@pytest.fixture
def served_double(_served_module: tuple[str, MastodonDouble]) -> MastodonDouble:
    """The Mastodon double the module's server (``served``) is in front of."""
    return _served_module[1]


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.org", "X-Forwarded-For": "203.0.113.9"}


def _next_link(base: str, mastodon_server: Any) -> str:
    page = requests.get(f"{base}/v1/timelines/public", params={"instance": mastodon_server.domain, "limit": 2},
                        headers={"X-API-Key": KEY, **FORWARDED}, timeout=30)
    assert page.status_code == 200, page.text
    return requests.utils.parse_header_links(page.headers["Link"])[0]["url"]


def test_behind_the_trusted_reverse_proxy_the_links_are_its_https_ones(tmp_path: Path, mastodon_server: Any) -> None:
    """Was: Link URLs were always http:// to the API's own address behind the TLS proxy the README recommends, so a
    client following rel=next left TLS (its X-API-Key in clear) or reached the proxy's internal address."""
    with serve(tmp_path, mastodon_server, FEDISCOPE_API_TRUSTED_PROXY="127.0.0.1") as base:
        assert _next_link(base, mastodon_server).startswith("https://api.example.org/v1/timelines/public?")


@pytest.mark.parametrize("header", [{"X-Forwarded-Proto": "https, http"}, {"X-Forwarded-Proto": "gopher"},
                                    {"X-Forwarded-Host": "a.example", "X-Forwarded-Proto": "https, https"}])
def test_a_malformed_header_of_the_trusted_proxy_is_the_json_error(tmp_path: Path, mastodon_server: Any,
                                                                   header: dict[str, str]) -> None:
    """Was: waitress's own text/plain "Bad Request ... (generated by server)" page, without the security headers,
    when the proxy passed on a forwarded header waitress cannot read (a second X-Forwarded-Proto appended by a
    proxy that keeps the client's)."""
    with serve(tmp_path, mastodon_server, FEDISCOPE_API_TRUSTED_PROXY="127.0.0.1") as base:
        response = requests.get(f"{base}/health", headers=header, timeout=10)
        _json_error(response, 400, "invalid_forwarded_header")
        assert "X-Forwarded-Proto" in response.json()["error"]["message"]
        assert response.json()["error"]["setting"] == "FEDISCOPE_API_TRUSTED_PROXY"
        assert requests.get(f"{base}/health", headers=FORWARDED, timeout=10).status_code == 200


@pytest.mark.parametrize("forwarded_for", ["203.0.113.9 key=key#1 client=198.51.100.7", "unknown", "_hidden",
                                           "203.0.113.9, evil key=key#1"])
def test_a_forwarded_for_of_the_trusted_proxy_that_is_no_address_is_refused(tmp_path: Path, mastodon_server: Any,
                                                                           forwarded_for: str) -> None:
    """Was: taken as the client's address as sent, so the access line read ``client=203.0.113.9 key=key#1
    client=198.51.100.7``: a client whose X-Forwarded-For a proxy passes on (nginx does unless told to set it) wrote
    fields of its choosing into the access log. Its last value (the one the proxy adds) must be an IP address."""
    log: list[str] = []
    with serve(tmp_path, mastodon_server, log=log, FEDISCOPE_API_TRUSTED_PROXY="127.0.0.1",
               FEDISCOPE_LOG_LEVEL="INFO") as base:
        response = requests.get(f"{base}/health", headers={"X-Forwarded-For": forwarded_for}, timeout=10)
        _json_error(response, 400, "invalid_forwarded_header")
        assert "X-Forwarded-For" in response.json()["error"]["message"]
        for address in ("203.0.113.9", "2001:db8::1", "[2001:db8::1]:4711", "evil, 203.0.113.9"):
            assert requests.get(f"{base}/health", headers={"X-Forwarded-For": address},
                                timeout=10).status_code == 200, address
    access = [line for line in log if "api.access" in line]
    forged = [line for line in access if "key=key#1" in line or any(word in line for word in forwarded_for.split())
              and not line.endswith(("client=127.0.0.1", "client=203.0.113.9"))]
    assert len(access) == 5 and not forged, access
    assert access[0].endswith("key=- client=127.0.0.1"), access  # the refusal names the peer: the proxy


def test_forwarded_headers_from_anyone_else_are_dropped(served: str, served_double: MastodonDouble) -> None:
    assert _next_link(served, served_double).startswith(f"{served}/v1/timelines/public?")


def test_serve_api_answers_over_waitress(served: str, served_double: MastodonDouble) -> None:
    health = requests.get(f"{served}/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["Server"] == "fediscope"  # waitress, with its version hidden
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert_error(requests.get(f"{served}/v1/instance", params={"instance": served_double.domain}, timeout=10),
                 401)
    page = requests.get(f"{served}/v1/timelines/public", params={"instance": served_double.domain, "limit": 3},
                        headers={"X-API-Key": KEY}, timeout=30)
    assert page.status_code == 200 and page.json()["count"] == 3
    assert 'rel="next"' in page.headers["Link"]


def test_serve_api_takes_the_same_key_sent_twice_and_refuses_two_different_ones(served: str,
                                                                                served_double: MastodonDouble) -> None:
    """waitress joins a repeated header with ", " (werkzeug's server with ","): the same key twice, as a proxy that
    duplicates headers sends it, was 401; two different values are 400 ``repeated_api_key``, neither echoed."""
    host, port = served.removeprefix("http://").rsplit(":", 1)
    answers = []
    for keys in ([KEY, KEY], [KEY, "other-key-0123456789abcdef"]):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.putrequest("GET", f"/v1/instance?instance={served_double.domain}")
            for key in keys:
                connection.putheader("X-API-Key", key)
            connection.endheaders()
            response = connection.getresponse()
            answers.append((response.status, response.read().decode()))
        finally:
            connection.close()
    (ok, instance), (refused, error) = answers
    assert ok == 200 and json.loads(instance)["count"] == 1, instance
    assert refused == 400 and json.loads(error)["error"]["code"] == "repeated_api_key", error
    assert KEY not in error and "other-key" not in error



def test_serve_api_links_the_next_page_of_a_non_ascii_hashtag(tmp_path: Path, mastodon_server: Any) -> None:
    """waitress sends header values as latin-1: an unencoded 日本 in the Link header was a 500. (Its own server: it
    renames a tag of the double's statuses.)"""
    with serve(tmp_path, mastodon_server) as served:
        _next_page_of_a_non_ascii_hashtag(served, mastodon_server)


def _next_page_of_a_non_ascii_hashtag(served: str, mastodon_server: Any) -> None:
    for status in mastodon_server.public_statuses():  # the recordings hold ASCII tags only: rename the common one
        for tag in status.get("tags") or []:
            if tag["name"] == "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp":
                tag["name"] = "日本"
    page = requests.get(f"{served}/v1/timelines/tag/%E6%97%A5%E6%9C%AC",
                        params={"instance": mastodon_server.domain, "limit": 2}, headers={"X-API-Key": KEY},
                        timeout=30)
    assert page.status_code == 200 and page.json()["count"] == 2, page.text
    following = requests.utils.parse_header_links(page.headers["Link"])[0]
    assert following["rel"] == "next"
    assert following["url"].startswith(f"{served}/v1/timelines/tag/%E6%97%A5%E6%9C%AC?")
    second = requests.get(following["url"], headers={"X-API-Key": KEY}, timeout=30)
    assert second.status_code == 200 and second.json()["count"] == 2
    assert int(second.json()["records"][0]["data"]["id"]) < int(page.json()["next"]["max_id"])

def _json_error(response: requests.Response, status: int, code: str) -> None:
    """The app's JSON error envelope and security headers, also on what waitress itself refuses."""
    assert_error(response, status, code)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "waitress" not in response.text and "generated by" not in response.text


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 20_000, 100_000])
def test_serve_api_refuses_large_bodies_with_the_json_error(served: str, size: int) -> None:
    response = requests.post(f"{served}/health", data=b"x" * size, timeout=30)
    _json_error(response, 413, "body_too_large")
    assert str(MAX_BODY_BYTES) in response.json()["error"]["message"]


def test_serve_api_refuses_a_large_chunked_body_with_the_json_error(served: str) -> None:
    response = requests.post(f"{served}/health", data=iter([b"x" * 4096] * 5), timeout=30)  # no length: chunked
    _json_error(response, 413, "body_too_large")


def test_serve_api_takes_a_body_of_exactly_8_kib_to_the_app(served: str) -> None:
    # the size passes (README: bodies *over* 8 KiB are refused); the method, then the body itself, do not
    _json_error(requests.post(f"{served}/health", data=b"x" * MAX_BODY_BYTES, timeout=30), 405,
                "method_not_allowed")
    _json_error(requests.get(f"{served}/health", data=b"x" * MAX_BODY_BYTES, timeout=30), 400, "body_not_allowed")


def test_serve_api_refuses_large_headers_with_the_json_error(served: str) -> None:
    response = requests.get(f"{served}/health", headers={"X-Padding": "x" * 20_000}, timeout=30)
    _json_error(response, 431, "headers_too_large")
    assert "431" in build_document()["paths"]["/health"]["get"]["responses"]
    assert "431" in build_document()["paths"]["/v1/metrics"]["get"]["responses"]


def test_serve_api_answers_a_long_request_line_414_not_431(served: str) -> None:
    """Was: waitress counts the request line in its header cap, so a URL over 16 KiB with hardly any headers was
    431 "send fewer or shorter headers"."""
    response = requests.get(f"{served}/health", params={"x": "a" * MAX_HEADER_BYTES}, timeout=30)
    _json_error(response, 414, "uri_too_long")
    assert str(MAX_HEADER_BYTES) in response.json()["error"]["message"]
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # exactly the cap, all of it request line (no line end yet): the server reads it all, then answers
        sock.sendall(b"GET /health?x=" + b"a" * (MAX_HEADER_BYTES - 14))
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert raw.split(b" ", 2)[1] == b"414", raw[:200]
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["error"]["code"] == "uri_too_long"
    # a long URL and headers that take it over the cap together: 431, saying the request line counts
    response = requests.get(f"{served}/health", params={"x": "a" * 9000}, headers={"X-Padding": "x" * 9000},
                            timeout=30)
    _json_error(response, 431, "headers_too_large")
    assert "request line and headers" in response.json()["error"]["message"]
    for path in ("/health", "/openapi.json", "/v1/metrics", "/v1/instance"):
        assert "414" in build_document()["paths"][path]["get"]["responses"]


@pytest.mark.parametrize("host", [b"", b"Host:\r\n", b"Host: a.example\r\nHost: b.example\r\n"])
def test_serve_api_refuses_an_http_1_1_request_without_one_host(served: str, served_double: MastodonDouble,
                                                                 host: bytes) -> None:
    """Was: 200 with Link URLs to http:///v1/... (or to waitress's made-up waitress.invalid)."""
    address, port = served.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        sock.sendall(f"GET /v1/timelines/public?instance={served_double.domain}&limit=2 HTTP/1.1\r\n"
                     f"X-API-Key: {KEY}\r\nConnection: close\r\n".encode() + host + b"\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), raw[:300]
    assert b"\r\nLink:" not in head and b"application/json" in head
    assert json.loads(body)["error"]["code"] == "invalid_host"


@pytest.mark.parametrize("proxied", [False, True])
def test_serve_api_refuses_a_host_that_is_no_idna_name(tmp_path: Path, mastodon_server: Any, proxied: bool) -> None:
    """Was: 500 ``internal_error``, without a key, and ``ERROR waitress Exception while serving`` with werkzeug's
    BadHost traceback in the server log (flask-restful routed the request again while handling the error). Behind
    the trusted proxy, its X-Forwarded-Host is the host."""
    log: list[str] = []
    extra = {"FEDISCOPE_API_TRUSTED_PROXY": "127.0.0.1"} if proxied else {}
    with serve(tmp_path, mastodon_server, log=log, **extra) as base:
        for host in ("a..b", ".a", "a" * 64, f"x.{'a' * 64}.com:80"):
            header = f"X-Forwarded-Host: {host}\r\nHost: api.example" if proxied else f"Host: {host}"
            head, body = _raw_get(base, f"GET /health HTTP/1.1\r\n{header}\r\nConnection: close\r\n\r\n".encode())
            assert head.startswith(b"HTTP/1.1 400"), head[:300] + body[:300]
            assert b"application/json" in head and b"X-Content-Type-Options: nosniff" in head
            assert json.loads(body)["error"]["code"] == "invalid_host"
        assert requests.get(f"{base}/health", timeout=10).status_code == 200
    assert not [line for line in log if "Traceback" in line or "ERROR" in line or "Exception" in line], log


def _raw_get(base: str, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` as is on a new connection; the answer's head and body."""
    address, port = base.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def test_an_http_1_0_request_without_host_gets_links_to_the_address_listened_on(
        tmp_path: Path, served: str, served_double: MastodonDouble) -> None:
    """Was: under waitress the Link of such a request named waitress's made-up waitress.invalid. A server bound to
    an address names it; one bound to every address cannot, and asks for a Host."""
    request = (f"GET /v1/timelines/public?instance={served_double.domain}&limit=2 HTTP/1.0\r\n"
               f"X-API-Key: {KEY}\r\n\r\n").encode()
    head, _ = _raw_get(served, request)
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head[:300]
    link = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"link:"))
    assert f"<{served}/v1/timelines/public?".encode() in link, link
    with serve(tmp_path, served_double, host="0.0.0.0") as everywhere:
        head, body = _raw_get(everywhere, request)
        assert b" 400 " in head.split(b"\r\n")[0], head[:300]
        assert json.loads(body)["error"]["code"] == "invalid_host"
        head, _ = _raw_get(everywhere, request.replace(b"\r\n\r\n", b"\r\nHost: api.example:8080\r\n\r\n"))
        assert b" 200 " in head.split(b"\r\n")[0] and b"<http://api.example:8080/v1/timelines/public?" in head


def test_a_request_line_of_the_cap_is_414_one_byte_shorter_is_431() -> None:
    """The request line without its line end: MAX_HEADER_BYTES or more is 414 (as api/README says); one byte
    shorter, its CRLF takes the head over the cap: 431 (request line and headers). The parser itself, fed as
    waitress feeds it (over a socket the client may see a reset: waitress closes with bytes left unread)."""
    from waitress.adjustments import Adjustments

    from api.app import _RequestParser

    adjustments = Adjustments(max_request_header_size=MAX_HEADER_BYTES)
    for length, status in ((MAX_HEADER_BYTES - 1, 431), (MAX_HEADER_BYTES, 414), (MAX_HEADER_BYTES + 5, 414)):
        line = b"GET /health?x=" + b"a" * (length - len(b"GET /health?x= HTTP/1.1")) + b" HTTP/1.1"
        assert len(line) == length
        parser = _RequestParser(adjustments)
        data = line + b"\r\nHost: x\r\n\r\n"
        while data and parser.error is None:
            data = data[parser.received(data[:4096]):]
        assert parser.error is not None and parser.error.code == status, (length, parser.error)


def test_serve_api_answers_a_malformed_request_with_the_json_error(served: str) -> None:
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), raw[:200]
    assert b"application/json" in head and b"X-Content-Type-Options: nosniff" in head
    assert json.loads(body)["error"]["code"] == "bad_request"


@pytest.mark.parametrize(("env", "message"), [
    ({"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY}, "FEDISCOPE_API_KEY"),
    ({"FEDISCOPE_API_KEY": KEY}, "FEDISCOPE_PSEUDONYM_KEY"),
])
def test_serve_api_without_keys_is_one_clear_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    started = time.monotonic()
    result = subprocess.run([*COMMAND, "serve-api", "--port", "0"], env=_env(tmp_path, **env), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30


def test_serve_api_with_a_token_that_cannot_be_sent_refuses_to_start(tmp_path: Path) -> None:
    """Was: the server started and answered every request for that instance 500 (the token check ran per request)."""
    token = "abc def\n"
    env = _env(tmp_path, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_INSTANCES="mastodon.example", FEDISCOPE_TOKEN_MASTODON_EXAMPLE=token)
    result = subprocess.run([*COMMAND, "serve-api", "--port", "0"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "FEDISCOPE_TOKEN_MASTODON_EXAMPLE" in result.stderr and "mastodon.example" in result.stderr
    assert "abc def" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_serve_api_with_a_key_no_header_can_carry_refuses_to_start(tmp_path: Path) -> None:
    """Was: the server started, and every request with that key was 401 (waitress reads header bytes as Latin-1,
    the key was compared as UTF-8): a key that could never authenticate, with nothing said."""
    key = "clé-très-secrète-0123456789"
    env = _env(tmp_path, FEDISCOPE_API_KEY=f"{KEY},{key}", FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY)
    process = subprocess.Popen([*COMMAND, "serve-api", "--port", "0"], env=env, cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # the error, or (was) the line saying where the server listens
        assert "FEDISCOPE_API_KEY" in first and "key #2 " in first and "ASCII" in first, first
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 2 and not stderr.strip(), stderr
    assert "clé" not in first + stdout and KEY not in first + stdout
    assert "Traceback" not in first


@pytest.mark.parametrize("where", ["taken", "999.1.1.1"])
def test_serve_api_that_cannot_listen_is_one_clear_line(tmp_path: Path, where: str) -> None:
    env = _env(tmp_path, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = (["--port", str(taken.getsockname()[1])] if where == "taken"
                   else ["--host", where, "--port", "0"])
        result = subprocess.run([*COMMAND, "serve-api", *address], env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # one sentence: was "Invalid host/port specified.; pick another --port", waitress's full stop kept
    assert ".;" not in result.stderr and "; pick another --port" in result.stderr


def test_the_server_answers_when_its_sockets_are_numbered_above_1024() -> None:
    """waitress waits with ``select`` unless told otherwise, which cannot watch descriptor 1024 or above: the
    loop thread died and every request hung (the in-process demo API of a long test run, CI of stop 20)."""
    import resource

    from flask import Flask

    from api.app import make_server
    from fediscope.background_server import BackgroundServer

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"this process may open only {hard} files: cannot number a socket above 1024")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    app = Flask("fd-test")
    app.add_url_rule("/ping", "ping", lambda: "pong")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    server = None
    try:
        server = BackgroundServer(make_server(app, "127.0.0.1", 0, 1)).start()
        assert server.server.socket.fileno() >= 1024
        answer = requests.get(f"http://127.0.0.1:{server.server.effective_port}/ping", timeout=10)
        assert answer.status_code == 200 and answer.text == "pong"
    finally:
        if server is not None:
            server.stop()
        for fd in held:
            os.close(fd)
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_bare_allowlisted_host_is_fetched_over_https_and_the_log_says_why_it_failed(
        tmp_path: Path, mastodon_server: Any) -> None:
    """``FEDISCOPE_INSTANCES=127.0.0.1:PORT`` means https: the start line shows the URL each instance is fetched at,
    and a server speaking plain HTTP fails with its reason in the log (the client sees 502 upstream_tls_error)."""
    env = _env(tmp_path, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_INSTANCES=f"{mastodon_server.domain},{mastodon_server.url.replace('127.0.0.1', 'localhost')}",
               FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true")
    process = subprocess.Popen([*COMMAND, "serve-api", "--port", "0"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        port = mastodon_server.domain.rsplit(":", 1)[1]
        assert f"instances allowed: http://localhost:{port}, https://127.0.0.1:{port};" in line, line
        base = "http://127.0.0.1:" + re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1)  # type: ignore[union-attr]
        response = requests.get(f"{base}/v1/timelines/public", params={"instance": mastodon_server.domain},
                                headers={"X-API-Key": KEY}, timeout=60)
        assert_error(response, 502, "upstream_tls_error")  # https to a plain-HTTP port: a TLS failure
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    warning = next(line for line in err.splitlines() if "upstream failure" in line)
    assert "WARNING" in warning and re.search(r"SSL|ssl", warning), warning


@pytest.mark.parametrize("path", [b"//v1/metrics", b"///v1/analyses", b"//health", b"//openapi.json",
                                  b"//v1/timelines/public?instance=a.example", b"http://127.0.0.1//v1/metrics",
                                  b"/%2Fv1/metrics", b"/%2f%2F/v1/metrics"])
@pytest.mark.parametrize("key", [b"", f"X-API-Key: {KEY}\r\n".encode()], ids=["no-key", "key"])
def test_serve_api_matches_leading_slashes_as_sent_too(served: str, path: bytes, key: bytes) -> None:
    """Was: under waitress ``//v1/metrics`` was served as ``/v1/metrics`` (waitress and werkzeug's router drop
    leading slashes) while ``/v1//metrics`` is 404, so a reverse proxy's rule refusing ``/v1/timelines/`` by path
    prefix was passed by ``//v1/timelines/...``. Paths are matched as sent: an empty segment is no route. (Sent
    raw: requests sends ``//v1/metrics`` as ``/v1/metrics``.)"""
    head, body = _raw_get(served, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + key
                          + b"Connection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404"), head
    assert b"application/json" in head and b"\r\nLocation:" not in head
    error = json.loads(body)["error"]
    assert error["code"] == "not_found"
    if path.startswith(b"//") or b"//v1" in path:  # percent-encoded slashes are sent as written: another path
        assert "without its trailing slash" in error["message"], error


def test_serve_api_serves_a_request_target_in_absolute_form(served: str) -> None:
    head, body = _raw_get(served, b"GET http://127.0.0.1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Connection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(body) == {"status": "ok"}


def test_a_request_target_in_absolute_form_names_the_host_of_the_links(served: str,
                                                                       served_double: MastodonDouble) -> None:
    """RFC 9112 section 3.2.2: with a target in absolute form the server ignores Host and uses the target's
    authority. Was: under waitress (werkzeug's server, the other API tests', does it itself) the ``Link`` URLs were
    built from the Host header, naming a host the request was not for. Sent raw: requests sends origin form."""
    port = served.rsplit(":", 1)[1]
    query = f"/v1/timelines/public?instance={served_double.domain}&limit=2"
    for target, host in ((f"http://api.example.net:{port}{query}", f"api.example.net:{port}"),
                         (f"http://api.example.net{query}", "api.example.net"), (query, "127.0.0.1")):
        head, _ = _raw_get(served, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
                                   "Connection: close\r\n\r\n".encode())
        assert head.startswith(b"HTTP/1.1 200"), head[:300]
        link = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"link:"))
        assert f"<http://{host}/v1/timelines/public?".encode() in link, (target, link)
    head, body = _raw_get(served, b"GET http://a_b.example/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Connection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body)["error"]["code"] == "invalid_host", (head, body)


@pytest.mark.parametrize("authority", [b"user@api.example.net", b"api.example.net:80@other.example", b"a_b.example"])
def test_an_absolute_form_target_naming_no_host_is_said_to_be_the_targets_fault(served: str, authority: bytes) -> None:
    """A target's authority that is no host (user information before an @, which RFC 9110 section 4.2.4 has a
    recipient treat as an error; a name no host has) is 400 ``invalid_host`` naming the target, not the Host header,
    which was fine (was: "the request's Host header is missing, empty, repeated or not a host name")."""
    head, body = _raw_get(served, b"GET http://" + authority + b"/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Connection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_host"
    assert error["message"].startswith("the authority of the request target in absolute form"), error
    head, body = _raw_get(served, b"GET /health HTTP/1.1\r\nHost: " + authority + b"\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(body)["error"]["message"].startswith("the request's Host header is missing"), body


def test_behind_the_trusted_proxy_its_forwarded_host_wins_over_an_absolute_form_target(
        tmp_path: Path, mastodon_server: Any) -> None:
    """The trusted proxy's X-Forwarded-Host names the host clients reach: it names the links, also of a request
    whose target is in absolute form (read before the proxy's headers, which then override it)."""
    with serve(tmp_path, mastodon_server, FEDISCOPE_API_TRUSTED_PROXY="127.0.0.1") as base:
        query = f"/v1/timelines/public?instance={mastodon_server.domain}&limit=2"
        head, _ = _raw_get(base, f"GET http://internal.example{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 f"X-API-Key: {KEY}\r\nX-Forwarded-Host: api.example.org\r\n"
                                 "X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n".encode())
    assert head.startswith(b"HTTP/1.1 200"), head[:300]
    link = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"link:"))
    assert b"<https://api.example.org/v1/timelines/public?" in link, link


def test_serve_api_answers_options_asterisk_and_unknown_methods(served: str) -> None:
    """``OPTIONS *`` asks about the server (RFC 9110 section 9.3.7): 204 with every method a route takes, no key
    needed (was: 404, as waitress passes ``*`` on as the path). ``*`` with another method is 400 (RFC 9112 section
    3.2.4). A method the server does not know is 501 in the JSON envelope, one it knows but the route does not take
    405 with ``Allow``: sent raw, as no client library sends ``*`` or ``CONNECT`` with a path."""
    def exchange(line: bytes) -> tuple[bytes, bytes]:
        return _raw_get(served, line + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

    head, body = exchange(b"OPTIONS *")
    assert head.startswith(b"HTTP/1.1 204"), head
    assert b"\r\nAllow: GET, HEAD, OPTIONS\r\n" in head and b"X-Content-Type-Options: nosniff" in head
    assert body == b"" and b"\r\nContent-Type:" not in head
    for line, status, code in ((b"GET *", 400, "bad_request"), (b"HEAD *", 400, "bad_request"),
                               (b"OPTIONS %2A", 404, "not_found"), (b"BREW *", 501, "not_implemented"),
                               (b"PROPFIND /v1/metrics", 501, "not_implemented"),
                               (b"CONNECT /health", 405, "method_not_allowed"),
                               (b"TRACE /v1/metrics", 405, "method_not_allowed"),
                               (b"QUERY /v1/metrics", 405, "method_not_allowed")):
        head, body = exchange(line)
        assert head.startswith(f"HTTP/1.1 {status}".encode()), (line, head)
        assert b"application/json" in head and b"X-Content-Type-Options: nosniff" in head, line
        if line.startswith(b"HEAD"):
            assert body == b""
            continue
        assert json.loads(body)["error"]["code"] == code, (line, body)
        assert (b"\r\nAllow: GET, HEAD, OPTIONS\r\n" in head) == (status == 405), (line, head)


def test_serve_api_logs_a_501_on_a_path_with_a_leading_double_slash_as_no_route(tmp_path: Path,
                                                                                 mastodon_server: Any) -> None:
    """A 501 is logged with the route its path is (as a 405), but ``//v1/metrics`` is no route (paths are matched
    as sent) though werkzeug's router, dropping the slash, matches ``/v1/metrics``: it stays ``(no route)``. Sent
    raw under waitress: requests, and the werkzeug server of the other API tests, drop the extra slash."""
    log: list[str] = []
    with serve(tmp_path, mastodon_server, log=log, FEDISCOPE_LOG_LEVEL="INFO") as base:
        for path in (b"//v1/metrics", b"/v1/metrics"):
            head, _ = _raw_get(base, b"PROPFIND " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 501"), head
    access = [line.split(" api.access ", 1)[1].split(" 501 ")[0] for line in log if " api.access " in line]
    assert access == ["PROPFIND (no route)", "PROPFIND /v1/metrics"], log
