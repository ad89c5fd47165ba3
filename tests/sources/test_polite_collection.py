"""A polite collector, as an instance's admin sees it: what a run asks of an instance that is down or throttles it.

Each test counts the requests the Mastodon double received (its log), not what fediscope says it did.
"""

from __future__ import annotations

import re

import pytest
from doubles.mastodon_server import MastodonDouble

from fediscope import __version__
from fediscope.config import load_settings
from fediscope.errors import ConfigError
from fediscope.sources.client import MAX_WINDOW_SECONDS, MastodonClient, RateLimited, UpstreamUnavailable
from fediscope.sources.collector import run_collection
from fediscope.sources.ratelimit import RateLimitState
from fediscope.sources.spec import parse_source

TIMELINE = "/api/v1/timelines/public"
FOREVER = 10**6


def test_an_instance_down_is_asked_nothing_more_in_that_run(make_settings) -> None:
    """Was: every source of an instance answering 503 ran through all its retries, one source after the other
    (with the default 5 retries, 6 requests per configured source each run). Now the first source that outlasts its
    retries on 502/503/504 (or a network error) leaves the instance alone for the rest of the run; the other sources
    fail without a request. A 500 of one endpoint is that endpoint's bug: the instance's other sources go on, and
    another instance of the run is collected as ever."""
    settings = make_settings(backfill_pages=1, max_retries=2)
    with MastodonDouble(statuses=20) as down, MastodonDouble(statuses=20) as buggy:
        down.fail(503, times=FOREVER)
        buggy.fail(500, times=FOREVER, path=TIMELINE)
        targets = [(server.url, parse_source(name)) for server in (down, buggy)
                   for name in ("public", "tag:python", "instance")]

        summary = run_collection(settings, targets, progress=False)

        assert [s.path for s in down.log] == [TIMELINE] * 3  # one request and its two retries, nothing more
        by_source = {(s.instance, s.source): s for s in summary.sources}
        for name in ("tag:python", "instance"):
            skipped = by_source[(down.domain, name)]
            assert skipped.status == "failed" and skipped.error is not None
            assert skipped.error.startswith(f"not tried: {down.domain} was unavailable earlier in this run (")
            assert "HTTP 503" in skipped.error and skipped.error.endswith("; the next run tries again")
        assert by_source[(buggy.domain, "public")].status == "failed"
        assert by_source[(buggy.domain, "tag:python")].status == "ok"
        assert by_source[(buggy.domain, "instance")].status == "ok"
        assert {s.path for s in buggy.log} >= {"/api/v1/timelines/tag/python", "/api/v2/instance"}


def test_a_429_s_retry_after_holds_for_the_run_s_next_sources(make_settings) -> None:
    """Was: a 429 that says when to come back only in ``Retry-After`` (a proxy's throttle, or rack-attack's) failed
    its source when the wait was longer than FEDISCOPE_RATE_LIMIT_MAX_WAIT, and the next source of the instance
    asked again at once, and the next. Now the wait holds for the client: nothing more is asked of the instance."""
    with MastodonDouble(statuses=20) as server:
        server.fail(429, times=FOREVER, retry_after="3600", error="Too many requests")
        targets = [(server.url, parse_source(name)) for name in ("public", "local", "tag:python", "instance")]

        summary = run_collection(make_settings(backfill_pages=1), targets, progress=False)

        assert [(s.path, s.status) for s in server.log] == [(TIMELINE, 429)]
        assert [s.status for s in summary.sources] == ["failed"] * 4
        # the instance's hour, less the moments the run took since (not "3600": a run slowed by a loaded machine
        # said "resets in 3599.8 s")
        waits = [re.search(r"resets in (\d+\.\d) s", s.error or "") for s in summary.sources[1:]]
        assert all(waits) and all(3000 < float(wait[1]) <= 3600.1 for wait in waits if wait), \
            [s.error for s in summary.sources]


@pytest.mark.parametrize(("retry_after", "said"), [("172800", r"resets in 17(27|28)\d\d\.\d s"),
                                                   ("1e30", "resets in more than a year")])
def test_a_429_s_retry_after_beyond_any_rate_limit_window_holds_too(make_settings, retry_after: str,
                                                                    said: str) -> None:
    """Was: a ``Retry-After`` longer than the longest rate-limit window believed (24 hours) was ignored by the pacing
    of the next request, as a reset header that far off is: each later source of the instance asked again at once
    (and was told the same). The instance's own word is held however far off it is."""
    with MastodonDouble(statuses=20) as server:
        server.fail(429, times=FOREVER, retry_after=retry_after, error="Too many requests")
        targets = [(server.url, parse_source(name)) for name in ("public", "local", "tag:python", "instance")]

        summary = run_collection(make_settings(backfill_pages=1), targets, progress=False)

        assert [(s.path, s.status) for s in server.log] == [(TIMELINE, 429)]
        assert [s.status for s in summary.sources] == ["failed"] * 4
        # the two days less the moments the run took since (a loaded machine is slower), or beyond a year
        assert all(re.search(f"rate limit spent; the window {said}", s.error or "") for s in summary.sources[1:]), \
            [s.error for s in summary.sources]


def test_a_client_told_to_come_back_later_sends_nothing_before_then(mastodon_server) -> None:
    """The scraping API's clients pass a 429 on instead of waiting (``wait_on_rate_limit=False``); the wait the
    instance asked for holds for the client's next request too, which is refused without being sent."""
    mastodon_server.fail(429, times=FOREVER, retry_after="120", error="Too many requests")
    client = MastodonClient(mastodon_server.url, backoff_base=0.01, timeout=2.0, wait_on_rate_limit=False)

    for _ in range(3):
        with pytest.raises(RateLimited) as refused:
            client.get(TIMELINE, {"limit": 5})
        assert 60 < refused.value.retry_after <= 121  # the instance's 2 minutes, less the moments since

    assert len(mastodon_server.requests_to(TIMELINE)) == 1


def test_a_client_passing_429s_on_holds_an_endless_wait_for_a_day_at_most(mastodon_server) -> None:
    """The scraping API keeps one rate-limit state per instance for the server's life: a 429 asking for three
    thousand years (``Retry-After: 1e11``) holds that instance a day, not until the server restarts. A collect, which
    waits on rate limits and ends, holds it as asked (the test above: ``more than a year``)."""
    mastodon_server.fail(429, times=FOREVER, retry_after="1e11", error="Too many requests")
    client = MastodonClient(mastodon_server.url, backoff_base=0.01, timeout=2.0, wait_on_rate_limit=False)

    with pytest.raises(RateLimited):
        client.get(TIMELINE, {"limit": 5})

    held, why = client.pacing_delay()
    assert why == "held" and 23 * 3600 < held <= MAX_WINDOW_SECONDS, (held, why)
    assert len(mastodon_server.requests_to(TIMELINE)) == 1

def test_an_answer_received_after_a_429_does_not_lift_its_wait(mastodon_server) -> None:
    """Clients sharing one rate-limit state (the scraping API's, one per request, in several threads): the answer to a
    request sent before the 429 may arrive after it, saying 298 of 300 left. Was: the 429's wait was kept as that
    window (none left, reset then), which such an answer overwrote, and the next request went out. Now the window's
    counts are updated, and the wait holds."""
    mastodon_server.fail(429, times=1, retry_after="120", error="Too many requests")
    shared = RateLimitState()
    with pytest.raises(RateLimited):
        MastodonClient(mastodon_server.url, timeout=2.0, wait_on_rate_limit=False, rate=shared).get(TIMELINE)
    late = MastodonClient(mastodon_server.url, timeout=2.0, wait_on_rate_limit=False, rate=shared)
    late._note_rate_limit({"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "298", "X-RateLimit-Reset": "300"})

    with pytest.raises(RateLimited) as refused:
        MastodonClient(mastodon_server.url, timeout=2.0, wait_on_rate_limit=False, rate=shared).get(TIMELINE)

    assert 115 < refused.value.retry_after <= 121 and shared.remaining == 298
    assert len(mastodon_server.requests_to(TIMELINE)) == 1


@pytest.mark.parametrize("first", [429, 503])
def test_429_and_503_by_turns_get_max_retries_plus_one_requests_in_all(mastodon_server, first: int) -> None:
    """Was: the 429 handler sat inside the 5xx retry, each with its own count, so an instance answering 429 and 503
    by turns got a round of 429 retries per 5xx retry: up to (max_retries + 1) ** 2 requests for one page. Now both
    spend the one budget of the request: max_retries + 1 requests in all, whichever comes first. The waits are not
    slept (``sleep``), and the 429s ask for none (``Retry-After: 0``)."""
    for turn in range(20):
        if (turn % 2 == 0) == (first == 429):
            mastodon_server.throttle(reset_in=0, style="retry_after", path=TIMELINE)
        else:
            mastodon_server.fail(503, path=TIMELINE)
    waits: list[float] = []
    client = MastodonClient(mastodon_server.url, backoff_base=0.01, timeout=2.0, max_retries=3, sleep=waits.append)

    with pytest.raises((RateLimited, UpstreamUnavailable)) as refused:
        client.get(TIMELINE, {"limit": 5})

    other = 503 if first == 429 else 429
    assert [s.status for s in mastodon_server.requests_to(TIMELINE)] == [first, other, first, other]
    assert "after 4 attempts" in str(refused.value)


@pytest.mark.parametrize(("contact", "comment"), [
    ("mailto:ops@example.org", "; contact: mailto:ops@example.org"),
    (None, ""),
])
def test_every_request_names_the_tool_its_version_and_whom_to_contact(make_settings, mastodon_server,
                                                                      contact: str | None, comment: str) -> None:
    """Was: ``fediscope (+https://github.com/fediscope/fediscope; research collector)`` whoever ran it, so an admin
    reading their logs could reach the project but not the people collecting from their instance. The ``contact``
    setting (FEDISCOPE_CONTACT) goes into the comment; the version is said too."""
    targets = [(mastodon_server.url, parse_source(name)) for name in ("public", "instance")]

    assert run_collection(make_settings(backfill_pages=2, contact=contact), targets, progress=False).ok

    expected = f"fediscope/{__version__} (+https://github.com/fediscope/fediscope; research collector{comment})"
    assert {served.user_agent for served in mastodon_server.log} == {expected}
    assert len(mastodon_server.log) >= 3


@pytest.mark.parametrize("contact", ["ops@example.org\r\nX-Injected: 1", "Jane (ops)", "jané@example.org",
                                     "x" * 201])
def test_a_contact_that_cannot_go_into_the_user_agent_is_refused_when_the_settings_load(contact: str) -> None:
    with pytest.raises(ConfigError, match="FEDISCOPE_CONTACT"):
        load_settings(env={"FEDISCOPE_CONTACT": contact})
    assert load_settings(env={"FEDISCOPE_CONTACT": " https://example.org/about "}).contact == "https://example.org/about"
    assert load_settings(env={"FEDISCOPE_CONTACT": ""}).contact is None
