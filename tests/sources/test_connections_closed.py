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
