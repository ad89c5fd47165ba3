"""A whole upstream request is bounded: ``request_timeout`` bounds each wait for the network (requests' timeout
restarts at every byte), so an instance dribbling its answer kept a collector request open as long as it liked
(the reviewer's: 34 s for one page at 500 bytes every 0.5 s; a never-ending one hung ``fediscope collect`` and
the Airflow task). The collector now cuts each request attempt at 4 × ``request_timeout``.

The answers are the recorded double's (tests/doubles/mastodon_server.py), only sent slowly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from doubles.mastodon_server import MastodonDouble, _Handler

from fediscope.sources.client import MastodonClient, UpstreamUnavailable
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

TIMEOUT = 0.5  # request_timeout of these tests
DEADLINE = 4 * TIMEOUT  # what the README promises: each request is cut at 4 × FEDISCOPE_REQUEST_TIMEOUT
DRIBBLE_SECONDS = 8.0  # how long a dribbled answer takes (then the rest comes at once)


class DribblingDouble(MastodonDouble):
    """The recorded double; the timeline answers ``dribble_after`` … ``dribble_after + dribbles`` send their body 64
    bytes every 0.1 s (each read well within the timeout) for ``DRIBBLE_SECONDS``, then the rest."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.dribble_after = 0
        self.dribbles = 0
        self.timeline_answers = 0

    def dribble_next(self, path: str) -> bool:
        if not path.startswith("/api/v1/timelines/"):
            return False
        with self._lock:
            self.timeline_answers += 1
            return self.dribble_after < self.timeline_answers <= self.dribble_after + self.dribbles

    def handler(self) -> type[_Handler]:
        double = self

        class Handler(_Handler):
            server_double = double

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if not double.dribble_next(parts.path):
                    return super().do_GET()
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                status, headers, body, _fault = double.answer(parts.path, params)
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    ends = time.monotonic() + DRIBBLE_SECONDS
                    sent = 0
                    while sent < len(body) and time.monotonic() < ends:
                        self.wfile.write(body[sent:sent + 64])
                        self.wfile.flush()
                        sent += 64
                        time.sleep(0.1)
                    self.wfile.write(body[sent:])
                except OSError:
                    pass  # the client cut the connection

        return Handler


@pytest.fixture
def server() -> Iterator[DribblingDouble]:
    with DribblingDouble(statuses=50) as double:
        yield double


def public(server: MastodonDouble) -> list[tuple[str, object]]:
    return [(server.url, parse_source("public"))]


def test_a_dribbled_page_is_cut_at_the_deadline_and_the_next_run_resumes(server, make_settings, lake) -> None:
    """Was: the run waited the whole 8 s for the page (and would have waited forever for an endless one)."""
    settings = make_settings(request_timeout=TIMEOUT, max_retries=2)
    server.dribble_after, server.dribbles = 1, 1
    started = time.monotonic()
    summary = run_collection(settings, public(server), progress=False)
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 2.5, elapsed
    [failed] = summary.failed
    assert f"no complete answer within {DEADLINE:g} s" in str(failed.error)
    assert summary.retries == 0  # a server that dribbles will dribble again
    walk = lake.checkpoint(server.domain, "public")["extra"]["walk"]
    assert walk["cursor"] == server.public_statuses()[9]["id"]  # the first page is landed, the walk kept

    summary = run_collection(settings, public(server), progress=False)
    assert summary.ok, summary.failed
    assert lake.status_ids() == {s["id"] for s in server.public_statuses()}
    assert max(lake.ids().values()) == 1


def test_an_answer_within_the_deadline_is_not_cut(server, make_settings, lake) -> None:
    """The bound is on each attempt, not on the run: a slow but finished answer, a rate-limit wait and a retry
    all take longer together than the deadline, and the run still succeeds."""
    settings = make_settings(request_timeout=TIMEOUT, max_retries=2)
    server.slow(0.3, times=3, path="/api/v1/timelines/")
    server.throttle(reset_in=DEADLINE + 0.5, times=1, after=2, path="/api/v1/timelines/")
    summary = run_collection(settings, public(server), progress=False)
    assert summary.ok, summary.failed
    assert summary.rate_limit_wait_seconds >= DEADLINE
    assert len(lake.status_ids()) == 50


def test_the_client_bounds_each_attempt_not_the_waits_between(server) -> None:
    """``attempt_deadline`` cuts one dribbled answer; a rate-limit wait longer than it is not cut."""
    client = MastodonClient(server.url, timeout=TIMEOUT, attempt_deadline=1.0, max_retries=2, backoff_base=0.01)
    server.throttle(reset_in=1.5, times=1)
    started = time.monotonic()
    assert client.get("/api/v1/timelines/public", {"limit": 5}).status == 200
    assert time.monotonic() - started >= 1.5
    server.dribble_after, server.dribbles = server.timeline_answers, 1
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable, match=r"no complete answer within 1 s \(the connection was cut"):
        client.get("/api/v1/timelines/public", {"limit": 40})
    assert time.monotonic() - started < 2.5
    assert client.get("/api/v1/timelines/public", {"limit": 5}).status == 200  # the client goes on
    client.close()


def test_an_answer_cut_at_the_deadline_leaves_the_instance_s_other_sources_collected(server, make_settings) -> None:
    """Was: an answer cut at the deadline counted as the instance being down (its status is None, as a network
    error's), so one slow page failed every other source of the instance with ``not tried: … was unavailable earlier
    in this run``, though nothing was retried and the instance answered its other endpoints. Now only the source of
    the cut answer fails."""
    settings = make_settings(request_timeout=TIMEOUT, max_retries=2, backfill_pages=1)
    server.dribble_after, server.dribbles = 0, 1  # the first timeline answer: the first page of public
    targets = [(server.url, parse_source(name)) for name in ("public", "tag:python", "instance")]

    summary = run_collection(settings, targets, progress=False)

    by_source = {result.source: result for result in summary.sources}
    assert f"no complete answer within {DEADLINE:g} s" in str(by_source["public"].error)
    assert by_source["tag:python"].status == "ok", by_source["tag:python"].error
    assert by_source["instance"].status == "ok", by_source["instance"].error
    assert {served.path for served in server.log} >= {"/api/v1/timelines/tag/python", "/api/v2/instance"}
