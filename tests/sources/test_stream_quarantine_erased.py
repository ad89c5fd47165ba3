"""With privacy off, a malformed streamed status naming an erased account is quarantined without it, as from a REST
page (:meth:`fediscope.privacy.PrivacyPolicy.erased_in_quarantine`).

Was: the collector and the scraping API passed the policy's scrub to the quarantine, the stream did not: a streamed
status landing could not read, or a payload that was not JSON, was kept as sent, the erased account's handle in it.
The payload is the REAL recorded stream's, altered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fediscope.config import Settings
from fediscope.erased_mentions import ERASED
from fediscope.gdpr.suppression import add_suppressed
from fediscope.lake.backend import open_lake
from fediscope.privacy import clear_key_digest
from fediscope.sources.spec import parse_source
from fediscope.sources.sse import SSEParser
from fediscope.sources.stream import StreamRun

ERASED_HANDLE = "erased_person@elsewhere.example"


def test_a_malformed_streamed_status_keeps_nothing_of_an_erased_account(
        mastodon_server: Any, make_settings: Callable[..., Settings], lake: Any) -> None:
    update = next(e.data for e in SSEParser().feed(mastodon_server.recorded_stream()) if e.name == "update")
    status = json.loads(update)
    bad_tags = dict(status, id=status["id"] + "1", tags=[1, None, "x"],
                    content=f"<p>as {ERASED_HANDLE} said</p>")
    body = (b"event: update\ndata: " + json.dumps(bad_tags).encode() + b"\n\n"
            + f"event: update\ndata: {{cut short, by {ERASED_HANDLE}\n\n".encode())
    mastodon_server.stream(body)
    settings = make_settings(privacy=False, pseudonym_key=None)
    add_suppressed(open_lake(settings.lake), clear_key_digest(ERASED_HANDLE))
    summary = StreamRun(settings, mastodon_server.url, parse_source("public"), max_events=2).run()
    assert summary.quarantined == 2, summary.line()
    kept = json.dumps(lake.quarantine_entries())
    assert "erased_person" not in kept and ERASED in kept, kept
