"""A streamed status that DuckDB curation cannot read is quarantined, as from a REST page (same landing checks).

Was: ``update`` events whose ``tags`` held non-objects (``[1, null, "x"]``) or whose ``mentions`` held strings
landed, and every later curation failed on that raw file. The payloads are the REAL recorded stream's, altered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fediscope.config import Settings
from fediscope.sources.spec import parse_source
from fediscope.sources.sse import SSEParser
from fediscope.sources.stream import StreamRun


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy-on", "privacy-off"])
def test_a_streamed_status_curation_cannot_read_is_quarantined(
        privacy: bool, mastodon_server: Any, make_settings: Callable[..., Settings], lake: Any) -> None:
    update = next(e.data for e in SSEParser().feed(mastodon_server.recorded_stream()) if e.name == "update")
    status = json.loads(update)
    assert status["visibility"] == "public"
    bad_tags = dict(status, id=status["id"] + "1", tags=[1, None, "x"])
    bad_mentions = dict(status, id=status["id"] + "2", mentions=["x"])
    body = b"".join(b"event: update\ndata: " + json.dumps(s).encode() + b"\n\n"
                    for s in (bad_tags, bad_mentions, status))
    mastodon_server.stream(body)
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    summary = StreamRun(settings, mastodon_server.url, parse_source("public"), max_events=3).run()
    assert summary.ok and summary.landed == 1 and summary.quarantined == 2, summary.line()
    reasons = sorted(e["reason"] for e in lake.quarantine_entries())
    assert "tags[0]" in reasons[1] and "mentions[0]" in reasons[0]
    assert list(lake.curated_favourites(settings)) == [status["id"]]  # was: "JSON transform error …"
