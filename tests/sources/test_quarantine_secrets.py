"""A malformed answer kept in the quarantine with ``FEDISCOPE_PRIVACY=off`` never brings the request's token into
the lake.

Was: with privacy off the quarantine keeps the raw body of an answer that is not JSON (and the raw malformed items),
as sent. A proxy's or a server's debug page that echoes the request — its ``Authorization: Bearer <token>`` header
included — landed the access token in ``<lake>/quarantine/``, where README's "Secrets … are never … written to the
lake" promises none is. The instance here is a real HTTP server on 127.0.0.1 that answers 200 with such a page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from doubles import serving

from fediscope.config import Settings, token_key
from fediscope.redact import MASK
from fediscope.sources.collector import run_collection
from fediscope.sources.quarantine import MAX_BODY, body_entry, item_entry
from fediscope.sources.spec import parse_source

TOKEN = "tk-echoed-by-a-debug-page-0123456789abcdef"


class _EchoingHandler(BaseHTTPRequestHandler):
    """Every GET answered 200 with an HTML page listing the request's headers (a misconfigured proxy's debug page)."""

    def do_GET(self) -> None:
        listed = "".join(f"{name}: {value}\n" for name, value in self.headers.items())
        body = f"<html><body><h1>Request received</h1><pre>{listed}</pre></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def echoing_instance() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _EchoingHandler)) as port:
        yield f"http://127.0.0.1:{port}"


def _lake_files(lake: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*") if p.is_file()}


def test_an_echoed_token_is_masked_in_the_quarantined_body_with_privacy_off(echoing_instance: str,
                                                                           tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    domain = echoing_instance.removeprefix("http://")
    settings = Settings(lake=str(lake), privacy=False, tokens={token_key(domain): TOKEN}, max_retries=0,
                        retry_backoff=0.01)
    summary = run_collection(settings, [(echoing_instance, parse_source("public"))], max_pages=1, progress=False)
    assert summary.failed  # an answer that is not JSON fails the source, after its body is quarantined

    files = _lake_files(lake)
    quarantined = {path: data for path, data in files.items() if path.startswith("quarantine/")}
    assert quarantined  # the bodies are kept, privacy being off
    bodies = [entry["body"] for data in quarantined.values() for entry in json.loads(data)["entries"]]
    assert all(f"Authorization: Bearer {MASK}" in body for body in bodies), bodies  # the token was sent, and echoed
    assert all("Request received" in body for body in bodies)  # the rest of the page as sent
    assert [path for path, data in files.items() if TOKEN.encode() in data] == []


def test_known_secrets_and_credential_shapes_are_masked_in_kept_bodies_and_items() -> None:
    page = f"<pre>token={TOKEN}\nX-Api-Key: k-0123456789abcdef\necho: {TOKEN}</pre>".encode()
    kept = body_entry("not JSON", page, 200, "text/html", keep_raw=True, secrets=(TOKEN,))
    assert kept["body"] == f"<pre>token={MASK}\nX-Api-Key: {MASK}\necho: {MASK}</pre>"
    withheld = body_entry("not JSON", page, 200, "text/html", keep_raw=False, secrets=(TOKEN,))
    assert "body" not in withheld and withheld["sha256"] == kept["sha256"]  # the fingerprint is of what was sent

    item = {"id": "1", "content": f"<p>{TOKEN}</p>", "tags": [{"name": TOKEN}], "count": 3}
    entry = item_entry("status has no account", item, keep_raw=True, secrets=(TOKEN,))
    assert entry["item"] == {"id": "1", "content": f"<p>{MASK}</p>", "tags": [{"name": MASK}], "count": 3}
    assert item["content"] == f"<p>{TOKEN}</p>"  # the caller's item is not changed
    event = item_entry("update event: payload is not JSON", f"{{bad {TOKEN}", keep_raw=True, secrets=(TOKEN,))
    assert event["item"] == f"{{bad {MASK}"


@pytest.mark.parametrize("before", [
    pytest.param("é" * ((MAX_BODY + 1024) // 2), id="multi-byte text: fewer characters than MAX_BODY were read"),
    pytest.param(f"echo: {TOKEN}\n" * 60 + "x" * MAX_BODY, id="tokens masked before the cut: each *** is shorter"),
])
def test_no_start_of_a_token_stays_where_reading_the_body_stopped(before: str) -> None:
    """A body longer than what is read of it (``MAX_BODY`` bytes and a margin) whose token lies across the end of
    what was read: that part of it is no whole token to mask. Was: kept, 20 of its characters, wherever the cut
    ``MAX_BODY`` characters of the masked text reached past what was read."""
    raw = before.encode()
    end = MAX_BODY + 1024  # what body_entry reads: MAX_BODY and its margin
    page = raw[:end - 20] + b"x" * max(0, end - 20 - len(raw)) + f"{TOKEN} and more".encode() * 2
    kept = body_entry("not JSON", page, 502, "text/html", keep_raw=True, secrets=(TOKEN,))
    assert TOKEN[:20] not in kept["body"]
    assert TOKEN[:20].upper() not in kept["body"].upper()
    assert len(kept["body"]) > MAX_BODY // 3  # the rest of it is kept
