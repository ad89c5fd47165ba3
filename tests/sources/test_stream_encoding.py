"""``fediscope stream`` behind a compressing proxy, and lines of the event stream that cannot be read.

Was: requests asks for ``Accept-Encoding: gzip``, and the listener read the raw socket bytes without decoding them,
so a gzip-compressed event stream (a proxy that compresses ``text/event-stream``) yielded no event at all, and the
run said nothing about the bytes it could not read. The double serves the REAL recorded event stream over HTTP,
compressed as such a proxy sends it.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from fediscope.config import Settings
from fediscope.sources.spec import parse_source
from fediscope.sources.sse import SSEParser
from fediscope.sources.stream import StreamRun

RECORDED_EVENTS = ["update", "notification", "update", "notification", "status.update", "delete"]


def _compressing(double: Any, compress: Callable[[bytes], bytes]) -> None:
    """Make ``double``'s streaming answers arrive as a compressing proxy forwards them (``Content-Encoding: gzip``)."""
    answer = double.stream_answer

    def compressed(path: str, query: str = "") -> tuple[int, dict[str, str], bytes]:
        status, headers, body = answer(path, query)
        if status != 200:
            return status, headers, body
        return status, {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}, compress(body)

    double.stream_answer = compressed


def _per_event(body: bytes) -> bytes:
    """One gzip member per event, flushed as it comes (how a proxy compressing a live stream sends it)."""
    return b"".join(gzip.compress(part + b"\n\n") for part in body.split(b"\n\n") if part)


@pytest.mark.parametrize("compress", [gzip.compress, _per_event], ids=["one-member", "member-per-event"])
def test_a_gzip_compressed_stream_lands_what_an_uncompressed_one_does(
        compress: Callable[[bytes], bytes], mastodon_server: Any, make_settings: Callable[..., Settings],
        lake: Any) -> None:
    body = mastodon_server.recorded_stream()
    _compressing(mastodon_server, compress)
    summary = StreamRun(make_settings(max_retries=1), mastodon_server.url, parse_source("public"), max_events=6,
                        flush_seconds=60).run()
    assert summary.ok and summary.stopped == "max-events", summary.line()  # was: 0 events, the stream "closed"
    assert summary.events == Counter(RECORDED_EVENTS) and summary.malformed == 0
    statuses = [json.loads(e.data) for e in SSEParser().feed(body) if e.name in ("update", "status.update")]
    public = [s for s in statuses if s["visibility"] in ("public", "unlisted")]
    assert summary.landed == len(lake.records("statuses")) == len(public) > 0
    assert summary.deletions == 1
    served = mastodon_server.requests_to("/api/v1/streaming/public")
    assert len(served) == 1


def test_a_stream_whose_gzip_is_damaged_is_reopened_and_its_error_read_plainly(
        mastodon_server: Any, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    """Was: ``network error: gzip, but failed to decode it.', error('Error -3 while decompressing data: incorrect
    header check'))`` (urllib3's tuple text cut at its first colon)."""
    mastodon_server.damage_gzip(times=1, path="/api/v1/streaming/public")
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.stream"):
        summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=6).run()
    assert summary.ok and summary.connections == 2 and summary.events == Counter(RECORDED_EVENTS), summary.line()
    (warning,) = [r.getMessage() for r in caplog.records if "reconnecting" in r.getMessage()]
    assert ": network error: the answer's gzip encoding is damaged (Error -3 while decompressing data: incorrect " \
           "header check); reconnecting in " in warning, warning


def test_lines_that_cannot_be_read_are_counted_and_warned_of_once(
        mastodon_server: Any, make_settings: Callable[..., Settings], lake: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    body = mastodon_server.recorded_stream()
    damaged = body.replace(b"event: notification", b"\xff\xfe garbled\n\nevent: notification", 1)
    mastodon_server.stream(damaged, damaged)  # two connections: two unreadable lines, one warning
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.stream"):
        summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=12).run()
    assert summary.ok and summary.connections == 2, summary.line()
    assert summary.events == Counter(RECORDED_EVENTS * 2)
    assert summary.malformed == 2 and summary.to_dict()["malformed"] == 2
    assert "2 unreadable lines" in summary.line()
    warnings = [r.getMessage() for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert len(warnings) == 1 and mastodon_server.domain in warnings[0]


def test_a_clean_stream_reports_no_unreadable_lines(mastodon_server: Any, make_settings: Callable[..., Settings],
                                                    lake: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.stream"):
        summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=6).run()
    assert summary.ok and summary.malformed == 0 and summary.to_dict()["malformed"] == 0
    assert "unreadable" not in summary.line()
    assert not [r for r in caplog.records if "not UTF-8" in r.getMessage()]
