"""The access log of ``fediscope serve-api``: one INFO line per request (``api.access``), quiet at the default level,
as JSON lines with ``FEDISCOPE_LOG_FORMAT=json``; the key's label, never the key; the client the trusted proxy
forwarded."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from api_testing import KEY, PSEUDONYM_KEY

from api.app import MAX_HEADER_BYTES
from fediscope.config import token_env_name

TOKEN = "tk-Rv5Nb2Qx8Lm3Wz9Kc4Hj7Tp1Gd6Sf0Ay"
COMMAND = [sys.executable, "-c", "from fediscope.cli import main; main()"]


def serve_requests(tmp_path: Path, mastodon_server: Any, send: Any, **extra: str) -> list[str]:
    """Run ``fediscope serve-api`` (behind the trusted proxy 127.0.0.1), call ``send(base_url)``, stop the server:
    every line it wrote to stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_INSTANCES=mastodon_server.url, FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true",
               FEDISCOPE_API_TRUSTED_PROXY="127.0.0.1", **{token_env_name(mastodon_server.url): TOKEN}, **extra)
    process = subprocess.Popen([*COMMAND, "serve-api", "--port", "0"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert process.stderr is not None
    lines = []
    try:
        for line in process.stderr:  # the key check's INFO line comes first, then the one naming the port
            lines.append(line)
            if match := re.search(r"http://127\.0\.0\.1:(\d+)/", line):
                send(f"http://127.0.0.1:{match.group(1)}")
                break
        else:
            raise AssertionError("".join(lines))
    finally:
        process.terminate()
        _, rest = process.communicate(timeout=30)
    return "".join(lines + [rest or ""]).splitlines()


def _oversized_headers(base: str) -> int:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", "/health")
        connection.putheader("X-Padding", "x" * (MAX_HEADER_BYTES + 10))
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def _malformed_request_line(base: str) -> int:
    """A request line waitress cannot read (a lower-case method): its 400, answered before a method is known."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"get /health HTTP/1.1\r\nHost: x\r\n\r\n")
        return int(sock.recv(65536).split(b" ", 2)[1])


def test_serve_api_logs_one_json_access_line_per_request(tmp_path: Path, mastodon_server: Any) -> None:
    statuses: list[int] = []

    def send(base: str) -> None:
        instance = {"instance": mastodon_server.domain}
        for path, headers, params in [
            ("/health", {}, None),
            ("/v1/instance", {"X-API-Key": KEY, "X-Forwarded-For": "203.0.113.9"}, instance),
            ("/v1/instance", {"X-API-Key": "wrong-key-0123456789abcdef"}, instance),
            ("/v1/nowhere", {}, None),
            # a proxy that forwards what it should not: the value is logged, the secrets in it masked
            ("/health", {"X-Forwarded-Proto": f"https, {KEY}"}, None),
            ("/health", {"X-Forwarded-Proto": f"http, {TOKEN}"}, None),
        ]:
            statuses.append(requests.get(base + path, headers=headers, params=params, timeout=30).status_code)
        statuses.append(_oversized_headers(base))  # refused by waitress, before the app
        statuses.append(_malformed_request_line(base))

    lines = serve_requests(tmp_path, mastodon_server, send, FEDISCOPE_LOG_FORMAT="json", FEDISCOPE_LOG_LEVEL="INFO")
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert statuses == [200, 200, 401, 404, 400, 400, 431, 400]
    access = [r for r in records if r["logger"] == "api.access"]
    assert [(r["method"], r["route"], r["status"]) for r in access] == [
        ("GET", "/health", 200), ("GET", "/v1/instance", 200), ("GET", "/v1/instance", 401),
        ("GET", "(no route)", 404), ("GET", "(refused: malformed forwarded header)", 400),
        ("GET", "(refused: malformed forwarded header)", 400), ("GET", "(refused by the server)", 431),
        (None, "(refused by the server)", 400)]
    assert [r["key_label"] for r in access] == [None, "key#1", *[None] * 6]
    assert [r["client"] for r in access] == ["127.0.0.1", "203.0.113.9", *["127.0.0.1"] * 6]
    assert all(r["level"] == "INFO" and isinstance(r["duration_ms"], float) for r in access[:4])
    assert access[1]["message"].startswith("GET /v1/instance 200 ") and "key=key#1 client=203.0.113.9" in \
        access[1]["message"]
    malformed = [r["message"] for r in records if r["message"].startswith("malformed X-Forwarded-Proto")]
    assert len(malformed) == 2 and "'https, ***'" in malformed[0] and "'http, ***'" in malformed[1], malformed
    text = "\n".join(lines)
    assert KEY not in text and TOKEN not in text and "wrong-key" not in text and PSEUDONYM_KEY not in text


def test_the_access_log_is_quiet_at_the_default_level_and_text_by_default(tmp_path: Path,
                                                                        mastodon_server: Any) -> None:
    def send(base: str) -> None:
        assert requests.get(base + "/health", timeout=30).status_code == 200

    quiet = serve_requests(tmp_path, mastodon_server, send)
    assert not [line for line in quiet if "/health" in line], quiet
    lines = serve_requests(tmp_path, mastodon_server, send, FEDISCOPE_LOG_LEVEL="INFO")
    (line,) = [line for line in lines if " api.access " in line]
    assert re.fullmatch(r"\S+ \S+ INFO api\.access GET /health 200 \d+ms key=- client=127\.0\.0\.1", line), line


def test_a_method_a_route_does_not_take_is_logged_with_that_route(checked: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A 405 names the route whose path was asked (its ``Allow`` is that route's methods), as every answered route
    does: it was logged ``(no route)``, as if the path were none, so the log could not tell a client sending POST
    to ``/v1/metrics`` from one asking for a path that does not exist. A path that is no route stays ``(no route)``."""
    base = checked.url
    with caplog.at_level(logging.INFO, logger="api.access"):
        assert requests.post(base + "/v1/metrics", timeout=30).status_code == 405
        assert requests.head(base + "/v1/timelines/public", timeout=30).status_code == 405
        assert requests.delete(base + "/v1/accounts/alice/statuses", timeout=30).status_code == 405
        assert requests.post(base + "/v1/nowhere", timeout=30).status_code == 404
    logged = [(r.method, r.route, r.status) for r in caplog.records if r.name == "api.access"]  # type: ignore[attr-defined]
    assert logged == [("POST", "/v1/metrics", 405), ("HEAD", "/v1/timelines/public", 405),
                      ("DELETE", "/v1/accounts/<acct>/statuses", 405), ("POST", "(no route)", 404)]


def test_a_method_no_route_takes_is_logged_with_the_route_its_path_is(checked: Any,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A 501 (a method the server does not know, refused before routing) names the route whose path was asked, as a
    405 does: it was logged ``(no route)`` on ``/v1/metrics`` too. A path that is no route stays ``(no route)``
    (``//v1/metrics`` too: tests/api/test_api_serve.py, under waitress)."""
    base = checked.url
    with caplog.at_level(logging.INFO, logger="api.access"):
        assert requests.request("PROPFIND", base + "/v1/metrics", timeout=30).status_code == 501
        assert requests.request("BREW", base + "/v1/accounts/alice/statuses", timeout=30).status_code == 501
        assert requests.request("PROPFIND", base + "/v1/nowhere", timeout=30).status_code == 501
    logged = [(r.method, r.route, r.status) for r in caplog.records if r.name == "api.access"]  # type: ignore[attr-defined]
    assert logged == [("PROPFIND", "/v1/metrics", 501), ("BREW", "/v1/accounts/<acct>/statuses", 501),
                      ("PROPFIND", "(no route)", 501)]
