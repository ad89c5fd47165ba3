"""TLS failures are final at once, with one line that says what to check (REST client, collector and stream).

Was: a certificate that is not trusted, a certificate for another host name and https:// to a plain-HTTP server
were retried with backoff as a transient network error (``FEDISCOPE_MAX_RETRIES`` times, minutes with the
default backoff), then failed with ``network error: … (gave up after 6 attempts)`` and no hint; a stream
reconnected as often, its error a requests text cut at 200 characters before the reason.

A real HTTPS server on 127.0.0.1 with a self-signed certificate made by the test (tests/doubles/tls.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from cli_run import clean_env
from cli_run import run as run_cli
from doubles import free_port
from doubles.tls import TLSServer

from fediscope.config import Settings
from fediscope.sources.client import MastodonClient, UpstreamTLSError, UpstreamUnavailable
from fediscope.sources.spec import parse_source
from fediscope.sources.stream import StreamRun


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    with TLSServer(tmp_path / "tls") as server:
        yield server


def slow_retrying_client(url: str, waits: list[float]) -> MastodonClient:
    """A client that would retry 5 times with a real backoff (the waits are recorded, not slept)."""
    return MastodonClient(url, max_retries=5, backoff_base=1.0, timeout=5.0, sleep=waits.append)


def assert_one_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message and len(message) < 600, message


# -- the REST client --------------------------------------------------------------------------------------------

def test_an_untrusted_certificate_is_final_at_once_with_a_hint(tls_server: TLSServer) -> None:
    waits: list[float] = []
    client = slow_retrying_client(tls_server.url(), waits)
    started = time.monotonic()
    with pytest.raises(UpstreamTLSError) as info:
        client.get("/api/v1/instance")
    assert time.monotonic() - started < 2.0
    assert waits == [] and client.stats["retries"] == 0 and client.stats["requests"] == 1
    assert tls_server.connections == 1  # one TLS handshake, no retry
    message = str(info.value)
    assert_one_line(message)
    assert message.startswith(f"localhost:{tls_server.port}/api/v1/instance: TLS error: [SSL: "
                              "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
                              "(not retried); "), message
    assert "check the instance URL" in message and "REQUESTS_CA_BUNDLE" in message, message
    assert "_ssl.c" not in message and "HTTPSConnectionPool" not in message
    assert isinstance(info.value, UpstreamUnavailable)  # the API and other callers map it as before


def test_a_ca_bundle_that_does_not_exist_is_final_at_once_naming_the_variable(
        tls_server: TLSServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: requests' "Could not find a suitable TLS CA certificate bundle" retried as a network error, six
    attempts and ~20 s with the default backoff, without saying which setting named the missing file."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    waits: list[float] = []
    client = slow_retrying_client(tls_server.url(), waits)
    with pytest.raises(UpstreamTLSError) as info:
        client.get("/api/v1/instance")
    assert waits == [] and client.stats["retries"] == 0
    assert tls_server.connections == 0  # refused before connecting
    message = str(info.value)
    assert_one_line(message)
    assert "missing.pem" in message and "(not retried)" in message
    assert "REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) names a CA bundle that does not exist" in message


def test_the_hint_is_right_requests_ca_bundle_is_read_and_ssl_cert_file_is_not(
        tls_server: TLSServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hint names REQUESTS_CA_BUNDLE and says SSL_CERT_FILE is not read: both checked here."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.cert))
    with pytest.raises(UpstreamTLSError, match="SSL_CERT_FILE is not read"):
        MastodonClient(tls_server.url(), max_retries=0).get("/api/v1/instance")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.cert))
    assert MastodonClient(tls_server.url(), max_retries=0).get("/api/v1/instance").status == 200


def test_a_certificate_for_another_host_name_is_final_and_says_so(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with TLSServer(tmp_path / "tls", hostname="fediscope-tls.invalid", ip_address=False) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert))  # trusted: only the name is wrong
        waits: list[float] = []
        client = slow_retrying_client(server.url("127.0.0.1"), waits)
        with pytest.raises(UpstreamTLSError) as info:
            client.get("/api/v1/instance")
        assert waits == [] and server.connections == 1
    message = str(info.value)
    assert_one_line(message)
    assert "TLS error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch" in message
    assert "the certificate is for another host name: check the host in the instance URL" in message


def test_https_to_a_plain_http_server_is_final_and_names_the_scheme(mastodon_server: Any) -> None:
    waits: list[float] = []
    client = slow_retrying_client(mastodon_server.url.replace("http://", "https://"), waits)
    with pytest.raises(UpstreamTLSError) as info:
        client.get("/api/v1/instance")
    assert waits == [] and client.stats["retries"] == 0
    message = str(info.value)
    assert_one_line(message)
    assert "TLS error: [SSL: " in message and "(not retried); the server does not speak TLS on that port: check " \
        "the scheme and port of the instance URL (give a server without TLS as http://host:port)" in message


def test_a_connection_refused_is_still_retried() -> None:
    waits: list[float] = []
    client = MastodonClient(f"http://127.0.0.1:{free_port()}", max_retries=2, backoff_base=0.01, sleep=waits.append)
    with pytest.raises(UpstreamUnavailable, match=r"network error: \[Errno [0-9]+\] Connection refused \(gave up "
                                                  r"after 3 attempts\)$") as info:
        client.get("/api/v1/instance")
    assert not isinstance(info.value, UpstreamTLSError) and len(waits) == 2


# -- the collector, through the command ---------------------------------------------------------------------------

def test_collect_fails_a_tls_source_at_once_with_one_line(tls_server: TLSServer, tmp_path: Path, capsys: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY="test-pseudonym-key-not-secret",
              FEDISCOPE_MAX_RETRIES="5", FEDISCOPE_RETRY_BACKOFF="2")  # retried, this would take a minute
    started = time.monotonic()
    code, out, err = run_cli(capsys, "collect", "--instance", tls_server.url(), "--lake", str(tmp_path / "lake"))
    assert time.monotonic() - started < 10
    assert code == 1 and "Traceback" not in err
    (failed,) = [line for line in err.splitlines() if line.startswith("  failed: ")]
    assert "TLS error: [SSL: CERTIFICATE_VERIFY_FAILED]" in failed and "(not retried); " in failed
    assert "REQUESTS_CA_BUNDLE" in failed and "gave up" not in failed
    assert tls_server.connections <= 2  # the instance document and the timeline: once each, never retried


# -- the stream ---------------------------------------------------------------------------------------------------

def stream_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"lake": str(tmp_path / "lake"), "pseudonym_key": "test-pseudonym-key-not-secret",
                              "retry_backoff": 0.5, "max_retries": 5, "request_timeout": 5.0}
    values.update(overrides)
    return Settings(**values)


def test_a_stream_stops_at_once_on_an_untrusted_certificate(tls_server: TLSServer, tmp_path: Path) -> None:
    started = time.monotonic()
    summary = StreamRun(stream_settings(tmp_path), tls_server.url(), parse_source("public"), duration=60).run()
    assert time.monotonic() - started < 5
    assert not summary.ok and summary.stopped == "error" and summary.failed_connections == 1, summary.line()
    error = summary.error or ""
    assert_one_line(error)
    assert error.startswith("TLS error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
                            "certificate (not retried); "), error
    assert "REQUESTS_CA_BUNDLE" in error and "HTTPSConnectionPool" not in error
    assert tls_server.requests == []  # nothing was sent over an unverified connection


def test_a_stream_over_https_to_a_plain_http_server_stops_at_once(mastodon_server: Any, tmp_path: Path) -> None:
    url = mastodon_server.url.replace("http://", "https://")
    summary = StreamRun(stream_settings(tmp_path), url, parse_source("public"), duration=60).run()
    assert not summary.ok and summary.stopped == "error" and summary.failed_connections == 1, summary.line()
    assert "TLS error: [SSL: " in (summary.error or "") and "the server does not speak TLS" in (summary.error or "")


def test_a_streams_network_error_is_worded_as_the_rest_clients(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    summary = StreamRun(stream_settings(tmp_path, retry_backoff=0.01, max_retries=1), dead, parse_source("public"),
                        duration=30).run()
    assert not summary.ok and summary.failed_connections == 2, summary.line()
    assert summary.error is not None and summary.error.startswith("network error: [Errno ")
    assert summary.error.endswith("Connection refused"), summary.error
    with pytest.raises(UpstreamUnavailable) as info:
        MastodonClient(dead, max_retries=0).get("/api/v1/instance")
    assert f": {summary.error} (gave up after 1 attempt)" in str(info.value)  # the same words
