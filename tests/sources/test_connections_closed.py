"""A finished collection leaves no connection open.

Since the collector bounds each request (1000793), its clients mount connect-hook adapters, whose urllib3 pools
were never closed: urllib3 2 closes a pool's idle connections only when the pool is garbage, and the client's
last response kept it alive through urllib3's own finalizer. Every ``run_collection`` in a process left its
sockets open; a full test run passed a thousand descriptors, and waitress (``select``) could no longer serve
the in-process demo API (CI of stop 20: three end-to-end tests timed out).
"""

from __future__ import annotations

import gc
import socket

import pytest
from doubles.mastodon_server import MastodonDouble

from fediscope.sources.client import MastodonClient
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source


def open_sockets_to(port: int) -> list[socket.socket]:
    """This process's open sockets connected to 127.0.0.1:``port`` (client ends), after a garbage collection."""
    gc.collect()
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket) and obj.fileno() >= 0:
            try:
                peer = obj.getpeername()
            except OSError:
                continue
            if isinstance(peer, tuple) and peer[1] == port:
                found.append(obj)
    return found


def test_a_collection_closes_its_connections(make_settings) -> None:
    with MastodonDouble(statuses=30) as server:
        port = int(server.url.rsplit(":", 1)[1])
        summary = run_collection(make_settings(), [(server.url, parse_source("public")),
                                                   (server.url, parse_source("instance"))], progress=False)
        assert summary.ok and summary.requests >= 3
        assert open_sockets_to(port) == []


def test_a_closed_client_with_a_deadline_closes_its_connections_while_its_last_response_is_held() -> None:
    with MastodonDouble(statuses=30) as server:
        port = int(server.url.rsplit(":", 1)[1])
        client = MastodonClient(server.url, timeout=2.0, deadline=10.0, attempt_deadline=5.0)
        client.get("/api/v1/timelines/public", {"limit": 5})
        assert open_sockets_to(port)  # kept alive for the next request (and its watchdog duplicate)
        client.close()
        assert open_sockets_to(port) == []
        assert client._last_response is not None  # still held: closing does not depend on dropping it


class SeesOtherConnections(MastodonDouble):
    """Records, at each request, how many connections this process still holds to ``watched_port``."""

    watched_port = 0
    seen: list[int]

    def _page(self, path, params, pool):  # type: ignore[no-untyped-def]
        self.seen.append(len(open_sockets_to(self.watched_port)))
        return super()._page(path, params, pool)


def test_an_instance_s_connections_are_closed_after_its_last_source(make_settings) -> None:
    """Was: every instance's client (a kept-alive connection and its watchdog's duplicate) stayed open until the
    whole run ended, so a run over 600 instances failed sources with 'Too many open files'."""
    with MastodonDouble(statuses=20) as first, SeesOtherConnections(statuses=20) as second:
        second.watched_port, second.seen = int(first.url.rsplit(":", 1)[1]), []
        targets = [(first.url, parse_source("public")), (first.url, parse_source("instance")),
                   (second.url, parse_source("public"))]
        summary = run_collection(make_settings(), targets, progress=False)
        assert summary.ok and summary.requests >= 3 and second.seen
        assert second.seen == [0] * len(second.seen)


def test_the_attempt_deadline_cuts_an_answer_through_a_proxy(monkeypatch) -> None:
    """Was: behind HTTP_PROXY, requests used urllib3's own pools, the watchdog saw no socket and cut nothing, and
    an answer dribbled through the proxy held the attempt as long as it lasted."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from fediscope.sources.client import UpstreamUnavailable

    class DribblingProxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.server.asked.append(self.path)  # type: ignore[attr-defined]
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX-Slow: " + b"a" * 60
            try:
                for byte in head:  # one byte every 0.1 s: about 8 s in all
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
                self.wfile.write(b"\r\n\r\n[]")
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), DribblingProxy)
    proxy.daemon_threads = True
    proxy.asked = []  # type: ignore[attr-defined]
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = MastodonClient("http://upstream.example", timeout=0.5, attempt_deadline=1.0, max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamUnavailable, match=r"no complete answer within 1 s"):
            client.get("/api/v1/timelines/public")
        assert time.monotonic() - started < 4  # cut at 1 s, not after the 8 s the answer takes
        assert proxy.asked == ["http://upstream.example/api/v1/timelines/public"]  # it went through the proxy
    finally:
        client.close()
        proxy.shutdown()
        proxy.server_close()
