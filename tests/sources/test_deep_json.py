"""Upstream JSON nested deeper than Python's decoder goes is malformed data like any other: quarantined, never a
crash. (``json.loads`` raises ``RecursionError`` for it, not ``ValueError``.)

The REST answers come from a real HTTP server on 127.0.0.1 that sends such a body (no recording has one); the
stream test uses the Mastodon double's REAL recorded ``update`` event next to the deep one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fediscope.config import Settings
from fediscope.sources.collector import MALFORMED_ATTEMPTS, run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.sse import SSEParser
from fediscope.sources.stream import StreamRun

#: Far deeper than the decoder's recursion limit; a few hundred kilobytes.
DEEP = b"[" * 100_000 + b"]" * 100_000


class _DeepHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(DEEP)))
        self.end_headers()
        self.wfile.write(DEEP)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def deep_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DeepHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("source", ["public", "instance", "account:someone"])
def test_a_body_nested_too_deeply_is_quarantined_not_an_internal_error(
        source: str, deep_server: str, make_settings: Callable[..., Settings], lake: Any) -> None:
    summary = run_collection(make_settings(), [(deep_server, parse_source(source))])
    (result,) = summary.sources
    assert result.status == "failed" and "internal error" not in str(result.error), result.error
    assert "nested too deeply" in str(result.error)
    assert result.quarantined == MALFORMED_ATTEMPTS
    entries = lake.quarantine_entries()
    assert len(entries) == MALFORMED_ATTEMPTS and all(e["kind"] == "body" and "body" not in e for e in entries)


def test_a_stream_event_nested_too_deeply_is_quarantined_and_the_others_land(
        mastodon_server: Any, make_settings: Callable[..., Settings], lake: Any) -> None:
    update = next(e.data for e in SSEParser().feed(mastodon_server.recorded_stream()) if e.name == "update")
    mastodon_server.stream(b"event: update\ndata: " + update.encode() + b"\n\nevent: update\ndata: " + DEEP
                           + b"\n\n")
    summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=2,
                        flush_seconds=60).run()
    assert summary.ok and summary.stopped == "max-events", summary.line()
    assert summary.landed == 1 and summary.quarantined == 1
    assert [r["data"]["id"] for _p, r in lake.records()] == [json.loads(update)["id"]]
    (entry,) = lake.quarantine_entries()
    assert "nested too deeply" in entry["reason"] and "item" not in entry
