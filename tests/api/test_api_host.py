"""The ``Host`` header: the ``Link`` URLs a client follows are built from it (``request.base_url``), so an HTTP/1.1
request without exactly one usable Host is refused (RFC 9112 §3.2: 400) instead of answered with links to
``http:///v1/...``. Raw requests over a socket (HTTP clients always send one Host): to the app in werkzeug's server
here, to waitress in test_api_serve.py.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_testing import KEY, LiveApi, make_settings, sqlite_store_holding

PATH = "/v1/metrics/top_accounts_by_followers?limit=1"


def exchange(url: str, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (a request line and headers, without the blank line) and read the answer: status, headers
    (lower-case names), body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + b"Connection: close\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    top, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.fixture
def paged_api(tmp_path: Path, live_api: Callable[..., LiveApi], sample_metric_rows: dict[str, list[Any]]) -> LiveApi:
    url = sqlite_store_holding(tmp_path / "metrics.db",
                               {"top_accounts_by_followers": sample_metric_rows["top_accounts_by_followers"]})
    return live_api(make_settings(store=url))


@pytest.mark.parametrize("host", [b"", b"Host:\r\n", b"Host: \r\n", b"Host: a.example\r\nHost: b.example\r\n",
                                  b"Host: a.example, b.example\r\n", b"Host: a example\r\n"])
def test_an_http_1_1_request_without_one_usable_host_is_400(paged_api: LiveApi, host: bytes) -> None:
    """Was: 200 with ``Link: <http:///v1/metrics/...>`` (or the server's own made-up name)."""
    status, headers, body = exchange(paged_api.url, f"GET {PATH} HTTP/1.1\r\nX-API-Key: {KEY}\r\n".encode() + host)
    assert status == 400, body
    assert headers["content-type"].startswith("application/json") and "link" not in headers
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_host" and "Host" in error["message"]
    assert headers["x-content-type-options"] == "nosniff"


def test_a_request_with_one_host_links_to_it(paged_api: LiveApi) -> None:
    status, headers, body = exchange(paged_api.url, f"GET {PATH} HTTP/1.1\r\nX-API-Key: {KEY}\r\n"
                                                    "Host: api.example:8443\r\n".encode())
    assert status == 200, body
    assert headers["link"].startswith("<http://api.example:8443/v1/metrics/top_accounts_by_followers?")


def test_an_http_1_0_request_may_leave_the_host_out(paged_api: LiveApi) -> None:
    """HTTP/1.0 has no Host requirement: the server's own address makes the links."""
    status, headers, body = exchange(paged_api.url, f"GET {PATH} HTTP/1.0\r\nX-API-Key: {KEY}\r\n".encode())
    assert status == 200, body
    assert headers["link"].startswith(f"<{paged_api.url}/v1/metrics/top_accounts_by_followers?")


#: Names werkzeug takes (letters, digits, dots and hyphens) but cannot route: not IDNA (an empty label, a label over
#: 63 characters), so binding its router raised ``BadHost``.
UNROUTABLE_HOSTS = ["a..b", ".a", "a" * 64, f"x.{'a' * 64}.com:80"]


@pytest.mark.parametrize("host", UNROUTABLE_HOSTS)
@pytest.mark.parametrize("path", ["/health", PATH, "/nowhere"])
def test_a_host_that_is_no_idna_name_is_400_invalid_host(paged_api: LiveApi, host: str, path: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Was: 500 ``internal_error`` (or the server's own HTML 500 page) and an ERROR with a traceback in the log, on
    every route and without a key: flask-restful routed the request again while handling any error, outside a
    ``try``, and that raised werkzeug's BadHost."""
    for sent in (f"GET {path} HTTP/1.1\r\nX-API-Key: {KEY}\r\nHost: {host}\r\n",
                 f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"):
        status, headers, body = exchange(paged_api.url, sent.encode())
        assert status == 400, body
        assert headers["content-type"].startswith("application/json") and "link" not in headers
        assert json.loads(body)["error"]["code"] == "invalid_host"
        assert headers["x-content-type-options"] == "nosniff"
    assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}], caplog.text


@pytest.mark.parametrize("host", ["a.example.", "a-b.example:8080", f"{'a' * 63}.example", "127.0.0.1:80"])
def test_names_of_up_to_63_characters_a_label_are_hosts(paged_api: LiveApi, host: str) -> None:
    status, _, body = exchange(paged_api.url, f"GET /health HTTP/1.1\r\nHost: {host}\r\n".encode())
    assert status == 200, body
