"""``fediscope stream`` reconnecting, and what its summary says, against the recorded Mastodon double.

The double replays the REAL recorded event stream (``update``, ``notification``, ``status.update``, ``delete``);
its faults answer a streaming connection with an error status (and ``Retry-After``), a 429, or a body cut short.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_run import run as run_cli
from doubles.mastodon_server import CutShort

from fediscope.config import Settings
from fediscope.gdpr.suppression import add_suppressed
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings
from fediscope.sources.spec import parse_source
from fediscope.sources.sse import SSEParser
from fediscope.sources.stream import StreamRun

STREAM = "/api/v1/streaming/public"


def stream_request_times(double: Any) -> list[float]:
    return [served.at for served in double.requests_to(STREAM)]


@pytest.mark.parametrize("status", [429, 503])
def test_a_reconnection_waits_as_long_as_the_refusal_s_retry_after_asks(
        status: int, mastodon_server: Any, make_settings: Callable[..., Settings]) -> None:
    """Was: the next attempt came after the backoff alone (0.01 s here), however long Retry-After asked for."""
    mastodon_server.fail(status, times=1, path=STREAM, retry_after="2")
    summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=6).run()
    assert summary.ok and summary.connections == 1 and summary.failed_connections == 1, summary.line()
    first, second = stream_request_times(mastodon_server)
    assert second - first >= 1.9


def test_a_429_without_retry_after_waits_for_the_rate_limit_window(mastodon_server: Any,
                                                                  make_settings: Callable[..., Settings]) -> None:
    """Mastodon's 429 says when its window resets in ``X-RateLimit-Reset`` (ISO 8601), not in Retry-After."""
    mastodon_server.throttle(reset_in=2, times=1, path=STREAM)
    summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=6).run()
    assert summary.ok and "HTTP 429" in (summary.last_connection_error or ""), summary.line()
    first, second = stream_request_times(mastodon_server)
    assert second - first >= 1.5


def test_a_retry_after_beyond_the_longest_wait_stops_the_stream_with_why(
        mastodon_server: Any, make_settings: Callable[..., Settings]) -> None:
    """As ``collect`` does: a throttle longer than FEDISCOPE_RATE_LIMIT_MAX_WAIT fails at once, saying so (was:
    retried after the backoff, FEDISCOPE_MAX_RETRIES times, against the instance's request)."""
    mastodon_server.fail(429, times=10, path=STREAM, retry_after="3600")
    summary = StreamRun(make_settings(rate_limit_max_wait=10.0), mastodon_server.url, parse_source("public"),
                        duration=30).run()
    assert not summary.ok and summary.stopped == "error" and summary.seconds < 5, summary.line()
    assert len(mastodon_server.requests_to(STREAM)) == 1
    assert summary.error == ("the streaming server answered HTTP 429; it asks to retry in 3600 s, longer than "
                             "the 10 s we wait (FEDISCOPE_RATE_LIMIT_MAX_WAIT)")


def test_an_absurd_retry_after_of_the_streaming_server_is_said_as_collect_says_it(
        mastodon_server: Any, make_settings: Callable[..., Settings]) -> None:
    """Was: ``it asks to retry in 1000000000000000019884624838656 s``."""
    mastodon_server.fail(503, times=10, path=STREAM, retry_after=str(10**30))
    summary = StreamRun(make_settings(rate_limit_max_wait=10.0), mastodon_server.url, parse_source("public"),
                        duration=30).run()
    assert summary.error == ("the streaming server answered HTTP 503; it asks to retry in more than a year, longer "
                             "than the 10 s we wait (FEDISCOPE_RATE_LIMIT_MAX_WAIT)"), summary.line()


def test_a_stream_that_breaks_off_is_reopened_and_its_break_read_plainly(
        mastodon_server: Any, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    """Was: ``network error: IncompleteRead(0 bytes read)', IncompleteRead(0 bytes read))`` (urllib3's tuple text
    cut at its first colon)."""
    recorded = mastodon_server.recorded_stream()
    mastodon_server.stream(CutShort(recorded))
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.stream"):
        summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=12).run()
    assert summary.ok and summary.connections == 2 and sum(summary.events.values()) == 12, summary.line()
    (warning,) = [r.getMessage() for r in caplog.records if "reconnecting" in r.getMessage()]
    assert "network error: Connection broken: IncompleteRead(" in warning, warning
    assert "'" not in warning and warning.count("(") == warning.count(")"), warning


def test_an_edit_the_privacy_policy_left_out_is_not_counted_as_landed(
        mastodon_server: Any, make_settings: Callable[..., Settings], lake_dir: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The edited status's author is erased: neither version lands. Was: ``landed 0 statuses (1 edit)`` and
    ``"edits": 1`` (the edits received, not those landed)."""
    settings = make_settings()
    events = SSEParser().feed(mastodon_server.recorded_stream())
    edited = json.loads(next(e.data for e in events if e.name == "status.update"))
    policy = policy_from_settings(settings)
    add_suppressed(open_lake(settings.lake), policy.account_key(edited["account"]["acct"], mastodon_server.domain))
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", settings.pseudonym_key)
    options = ("stream", "--instance", mastodon_server.url, "--max-events", "6", "--lake", str(lake_dir))
    code, out, err = run_cli(capsys, *options, "--json")
    (summary,) = json.loads(out)["streams"]
    assert code == 0 and summary["events"]["status.update"] == 1, err
    assert summary["landed"] == 0 and summary["edits"] == 0 and summary["skipped"] == 3
    code, out, err = run_cli(capsys, *options)
    assert code == 0 and "landed 0 statuses (0 edits) and 1 deletion" in out, out


def test_an_edit_that_lands_is_counted(mastodon_server: Any, make_settings: Callable[..., Settings]) -> None:
    summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=6).run()
    assert summary.landed == 2 and summary.to_dict()["edits"] == 1 and "landed 2 statuses (1 edit)" in summary.line()


def test_the_start_line_counts_one_event_in_the_singular(mastodon_server: Any, lake_dir: Path, capsys: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "test-pseudonym-key-not-secret")
    code, _out, err = run_cli(capsys, "stream", "--instance", mastodon_server.url, "--max-events", "1",
                              "--lake", str(lake_dir))
    assert code == 0 and "for up to 1 event per timeline into" in err, err  # was "1 events"


def _connected_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if ": connected" in r.getMessage()]


def test_a_stream_reopened_after_a_break_says_so_in_the_log(
        mastodon_server: Any, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    """Was: the log's last line read ``… reconnecting in 0.5 s`` for as long as the new connection lasted (days), as
    it would if every attempt since had failed: nothing said the stream was back."""
    mastodon_server.stream(CutShort(mastodon_server.recorded_stream()))
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.stream"):
        summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=12).run()
    assert summary.ok and summary.connections == 2, summary.line()
    (line,) = _connected_lines(caplog)
    assert re.fullmatch(rf"stream {re.escape(summary.instance)} public: connected again \(\d+\.\d s without a "
                        r"connection\)", line), line


def test_a_stream_opened_after_failed_attempts_says_how_many(
        mastodon_server: Any, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    mastodon_server.fail(503, times=2, path=STREAM)
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.stream"):
        summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=6).run()
    assert summary.ok and summary.failed_connections == 2, summary.line()
    (line,) = _connected_lines(caplog)
    assert ": connected (after 2 failed attempts, " in line, line


def test_a_first_connection_that_opens_at_once_logs_nothing(
        mastodon_server: Any, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fediscope.sources.stream"):
        summary = StreamRun(make_settings(), mastodon_server.url, parse_source("public"), max_events=6).run()
    assert summary.ok and summary.connections == 1 and not _connected_lines(caplog), summary.line()
