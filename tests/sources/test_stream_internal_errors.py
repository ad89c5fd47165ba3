"""``fediscope stream`` meeting an exception it did not expect while landing (a bug): the stream fails as ``collect``
fails a source (``internal error: …``), keeps what was landed, counts what was lost, and still prints its summary.

Every real way a lake fails to be written is converted to a ``LakeError`` (a read-only lake directory, a file where a
directory should be: the tests of :mod:`test_stream` cover those), so the bug is planted: ``write_batch`` raises a
``RuntimeError`` for the deletions file only, so the statuses of the same flush land. The stream is real: the
Mastodon double replays a recorded event stream over HTTP.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_run import run as run_cli

from fediscope.config import Settings
from fediscope.sources import stream as stream_module
from fediscope.sources.spec import parse_source
from fediscope.sources.stream import StreamRun

KEY = "test-pseudonym-key-not-secret"
BEARER = "Bearer q9W3bRfLk2VtZ8"  # a credential's shape, not a known secret


def _plant_a_bug_in_landing_deletions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Deletions files fail to land with a ``RuntimeError`` quoting secrets; the entities asked for are returned."""
    real = stream_module.write_batch
    asked: list[str] = []

    def write_batch(lake: Any, entity: str, *args: Any, **kwargs: Any) -> str | None:
        asked.append(entity)
        if entity == stream_module.DELETIONS:
            raise RuntimeError(f"planted bug\nwith key {KEY} and Authorization: {BEARER}")
        return real(lake, entity, *args, **kwargs)

    monkeypatch.setattr(stream_module, "write_batch", write_batch)
    return asked


def test_a_bug_at_the_last_flush_fails_the_stream_and_keeps_what_landed(
        mastodon_server: Any, lake_dir: Path, lake: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the last flush caught only ``FediscopeError``: the ``RuntimeError`` escaped ``run()``, no summary was
    printed and the command ended in a bare traceback."""
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", KEY)
    asked = _plant_a_bug_in_landing_deletions(monkeypatch)
    code, out, err = run_cli(capsys, "stream", "--instance", mastodon_server.url, "--max-events", "6",
                             "--flush-seconds", "600", "--lake", str(lake_dir), "--json")
    assert code == 1, err
    assert asked == ["statuses", "status_deletions"]  # one flush: the last one
    document = json.loads(out)
    (summary,) = document["streams"]
    assert document["ok"] is False and summary["ok"] is False and summary["stopped"] == "error"
    # what landed stays landed and counted; the deletion that could not land is counted as lost
    landed = lake.records("statuses")
    assert summary["landed"] == len(landed) > 0 and summary["batches"] and summary["deletions"] == 0
    assert summary["unlanded"] == 1 and not lake.records("status_deletions")
    assert summary["error"] == ("1 received item could not be landed and is lost: internal error: RuntimeError: "
                                "planted bug with key *** and Authorization: Bearer ***")
    # logged once, at ERROR, with its traceback, masked; then the `failed:` line (text mode) says it again
    assert err.count("failed unexpectedly") == 1 and err.count("Traceback (most recent call last)") == 1
    assert "ERROR" in next(line for line in err.splitlines() if "failed unexpectedly" in line)
    assert "RuntimeError: planted bug" in err
    assert KEY not in out + err and "q9W3bRfLk2VtZ8" not in out + err

    code, out, err = run_cli(capsys, "stream", "--instance", mastodon_server.url, "--max-events", "6",
                             "--flush-seconds", "600", "--lake", str(lake_dir))
    assert code == 1
    assert out.startswith("stream ") and out.rstrip().endswith(
        "; stopped by an error: 1 received item could not be landed and is lost: internal error: RuntimeError: "
        "planted bug with key *** and Authorization: Bearer ***")
    assert (f"  failed: {mastodon_server.domain} public: 1 received item could not be landed and is lost: "
            "internal error: RuntimeError: planted bug") in err
    assert KEY not in out + err and "q9W3bRfLk2VtZ8" not in out + err


def test_a_bug_at_a_periodic_flush_stops_the_stream_and_the_last_flush_tries_again(
        mastodon_server: Any, make_settings: Callable[..., Settings], lake: Any, caplog: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the periodic flush's ``RuntimeError`` stopped the run, and the last flush, meeting it again, let it
    escape ``run()``."""
    asked = _plant_a_bug_in_landing_deletions(monkeypatch)
    run = StreamRun(make_settings(pseudonym_key=KEY), mastodon_server.url, parse_source("public"), duration=60,
                    flush_records=1, flush_seconds=600)  # a flush as soon as anything waits
    with caplog.at_level(logging.ERROR, logger="fediscope"):
        summary = run.run()
    assert not summary.ok and summary.stopped == "error", summary.line()
    assert asked.count("status_deletions") == 2  # the periodic flush, then the last one
    # every deletion received is lost: those the periodic flush held, and those received before the run stopped
    # (the double replays its recorded stream on each connection, so how many depends on the threads' timing)
    lost = summary.events["delete"]
    assert summary.landed == len(lake.records("statuses")) > 0 and summary.deletions == 0
    assert summary.unlanded == lost >= 1
    what = "1 received item could not be landed and is lost" if lost == 1 else \
        f"{lost} received items could not be landed and are lost"
    assert summary.error == f"internal error: RuntimeError: planted bug with key *** and Authorization: Bearer ***; " \
                            f"{what}"
    failures = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.ERROR and failures[0].exc_info  # once


def test_a_connection_failed_otherwise_than_by_the_network_is_described_masked(
        mastodon_server: Any, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: an exception other than an HTTP answer or a network error (Mastodon.py's own, a bug) was quoted as raised
    into the summary, which is printed as it is: a URL's password or a header's token in it showed."""

    def opened(run: StreamRun, listener: Any) -> None:
        raise ValueError(f"could not open https://u:{KEY}@x.example/stream\nwith Authorization: {BEARER}")

    monkeypatch.setattr(StreamRun, "_open", opened)
    summary = StreamRun(make_settings(max_retries=0, pseudonym_key=KEY), mastodon_server.url, parse_source("public"),
                        duration=5).run()
    assert not summary.ok and summary.connections == 0
    assert summary.last_connection_error == ("ValueError: could not open https://u:***@x.example/stream with "
                                             "Authorization: Bearer ***")
    assert KEY not in summary.line() and "q9W3bRfLk2VtZ8" not in summary.line()
