"""``fediscope serve-api``: the real command, served by waitress in a subprocess on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api_testing import KEY, PSEUDONYM_KEY, assert_error

from api.app import MAX_BODY_BYTES, MAX_HEADER_BYTES, SECURITY_HEADERS
from api.openapi import build_document

COMMAND = [sys.executable, "-c", "from fediscope.cli import main; main()"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(tmp_path / "lake"), **extra)  # cwd is tmp_path: no fediscope.toml
    return env


@contextlib.contextmanager
def serve(tmp_path: Path, mastodon_server: Any, host: str = "127.0.0.1", **extra: str) -> Iterator[str]:
    """``fediscope serve-api --host host`` in front of the Mastodon double, with ``extra`` settings; its base URL
    (on 127.0.0.1)."""
    env = _env(tmp_path, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_INSTANCES=mastodon_server.url, FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true", **extra)
    process = subprocess.Popen([*COMMAND, "serve-api", "--host", host, "--port", "0"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(rf"http://{re.escape(host)}:(\d+)/", line)
        assert match, line
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path, mastodon_server: Any) -> Iterator[str]:
    with serve(tmp_path, mastodon_server) as url:
        yield url


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


def test_forwarded_headers_from_anyone_else_are_dropped(served: str, mastodon_server: Any) -> None:
    assert _next_link(served, mastodon_server).startswith(f"{served}/v1/timelines/public?")


def test_serve_api_answers_over_waitress(served: str, mastodon_server: Any) -> None:
    health = requests.get(f"{served}/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["Server"] == "fediscope"  # waitress, with its version hidden
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert_error(requests.get(f"{served}/v1/instance", params={"instance": mastodon_server.domain}, timeout=10),
                 401)
    page = requests.get(f"{served}/v1/timelines/public", params={"instance": mastodon_server.domain, "limit": 3},
                        headers={"X-API-Key": KEY}, timeout=30)
    assert page.status_code == 200 and page.json()["count"] == 3
    assert 'rel="next"' in page.headers["Link"]



def test_serve_api_links_the_next_page_of_a_non_ascii_hashtag(served: str, mastodon_server: Any) -> None:
    """waitress sends header values as latin-1: an unencoded 日本 in the Link header was a 500."""
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
def test_serve_api_refuses_an_http_1_1_request_without_one_host(served: str, mastodon_server: Any,
                                                                 host: bytes) -> None:
    """Was: 200 with Link URLs to http:///v1/... (or to waitress's made-up waitress.invalid)."""
    address, port = served.removeprefix("http://").split(":")
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        sock.sendall(f"GET /v1/timelines/public?instance={mastodon_server.domain}&limit=2 HTTP/1.1\r\n"
                     f"X-API-Key: {KEY}\r\nConnection: close\r\n".encode() + host + b"\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), raw[:300]
    assert b"\r\nLink:" not in head and b"application/json" in head
    assert json.loads(body)["error"]["code"] == "invalid_host"


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
        tmp_path: Path, served: str, mastodon_server: Any) -> None:
    """Was: under waitress the Link of such a request named waitress's made-up waitress.invalid. A server bound to
    an address names it; one bound to every address cannot, and asks for a Host."""
    request = (f"GET /v1/timelines/public?instance={mastodon_server.domain}&limit=2 HTTP/1.0\r\n"
               f"X-API-Key: {KEY}\r\n\r\n").encode()
    head, _ = _raw_get(served, request)
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head[:300]
    link = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"link:"))
    assert f"<{served}/v1/timelines/public?".encode() in link, link
    with serve(tmp_path, mastodon_server, host="0.0.0.0") as everywhere:
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


def test_the_server_answers_when_its_sockets_are_numbered_above_1024() -> None:
    """waitress waits with ``select`` unless told otherwise, which cannot watch descriptor 1024 or above: the
    loop thread died and every request hung (the in-process demo API of a long test run, CI of stop 20)."""
    import resource
    import threading

    from flask import Flask

    from api.app import make_server

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
        server = make_server(app, "127.0.0.1", 0, 1)
        assert server.socket.fileno() >= 1024
        threading.Thread(target=server.run, daemon=True).start()
        answer = requests.get(f"http://127.0.0.1:{server.effective_port}/ping", timeout=10)
        assert answer.status_code == 200 and answer.text == "pong"
    finally:
        if server is not None:
            server.close()
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
