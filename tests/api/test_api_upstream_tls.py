"""An allowlisted instance whose TLS fails gives 502 ``upstream_tls_error`` at once: one connection, no retry, no
Retry-After, and the operator's log line says what to check. Was: the generic "failed or timed out; try again
later" (``upstream_unavailable``), which invites the retry that can never succeed.

The instance is a real HTTPS server on 127.0.0.1 with a self-signed certificate made by the test
(tests/doubles/tls.py), which the API does not trust."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_testing import LiveApi, assert_error, make_settings
from doubles.tls import TLSServer


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSServer]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    with TLSServer(tmp_path / "tls", hostname="localhost") as server:
        yield server


def test_an_untrusted_certificate_is_a_tls_error_not_retried(
        tls_server: TLSServer, live_api: Callable[..., LiveApi], caplog: pytest.LogCaptureFixture) -> None:
    url = tls_server.url("127.0.0.1")
    live = live_api(make_settings(instances=(url,), allow_private_addresses=True, max_retries=3))
    with caplog.at_level(logging.WARNING, logger="api.upstream"):
        response = live.get("/v1/timelines/public", params={"instance": f"127.0.0.1:{tls_server.port}"})
    error = assert_error(response, 502, "upstream_tls_error")
    assert "TLS" in error["message"] and "not retried" in error["message"]
    assert "Retry-After" not in response.headers
    assert tls_server.connections == 1  # one handshake: a retry would only fail the same way
    assert tls_server.requests == []
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "CERTIFICATE_VERIFY_FAILED" in logged or "certificate verify failed" in logged, logged
    assert "REQUESTS_CA_BUNDLE" in logged, logged
    # no server that seems down (upstream_down, test_api_upstream_down.py): the next request says what to fix again
    again = live.get("/v1/instance", params={"instance": f"127.0.0.1:{tls_server.port}"})
    assert_error(again, 502, "upstream_tls_error")
    assert tls_server.connections == 2


def test_a_trusted_certificate_is_read(tls_server: TLSServer, live_api: Callable[..., LiveApi],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The same server, its certificate trusted through REQUESTS_CA_BUNDLE as the log's hint says: answered."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.cert))
    url = tls_server.url("127.0.0.1")
    live = live_api(make_settings(instances=(url,), allow_private_addresses=True))
    response = live.get("/v1/timelines/public", params={"instance": f"127.0.0.1:{tls_server.port}"})
    assert response.status_code == 200, response.text
    assert tls_server.requests and tls_server.requests[0].startswith("/api/v1/timelines/public")
