"""The ``directory`` source walks Mastodon's offset pages (``GET /api/v1/directory?offset=&limit=``), against the
sample instance served over real HTTP on 127.0.0.1.

Was: one page only (``limit`` accounts, 40 by default), whatever the directory held and whatever ``--max-pages``
said. Mastodon pages its directory by ``offset`` and sends no ``Link`` header (the recorded answer has none).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from terminal_screen import stderr_as_a_wide_terminal

from fediscope.privacy import PrivacyPolicy
from fediscope.sample.instance import SampleInstance
from fediscope.sample.ratelimit import Verdict
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.ratelimit import WINDOW_SLACK
from fediscope.sources.spec import parse_source

PAGE = 10  # make_settings' page_limit: the directory's limit too (within Mastodon's 80)


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(400, seed=5), rate_limit=100_000) as running:
        yield running


def served(server: SampleServer) -> list[str]:
    """The ids of the directory as the instance orders it (``order=active``, what the collector asks)."""
    return [a["id"] for a in server.instance.directory("active")]


def kept(server: SampleServer, first: int | None = None) -> list[str]:
    """Of the ``first`` accounts of the directory, those the privacy policy lands (not opted out)."""
    policy = PrivacyPolicy(key=None, enabled=False)
    domain = server.url.split("//", 1)[1]
    return [a["id"] for a in server.instance.directory("active")[:first] if policy.skip_reason(a, domain) is None]


def landed_ids(lake) -> list[str]:
    return [record["data"]["id"] for _partition, record in lake.records("directory")]


def directory(server: SampleServer) -> list[tuple[str, object]]:
    return [(server.url, parse_source("directory"))]


@pytest.fixture
def make_settings(make_settings):
    """Privacy off: the landed accounts keep the ids the instance served, to compare with its directory."""
    return lambda **overrides: make_settings(**{"privacy": False, "pseudonym_key": None, **overrides})


def test_a_budget_of_pages_lands_that_many_full_pages(server, make_settings, lake, capsys, monkeypatch) -> None:
    stderr_as_a_wide_terminal(monkeypatch)  # each page on the status line: a log gets only the final lines
    assert len(served(server)) > 3 * PAGE  # more accounts than the budget takes
    summary = run_collection(make_settings(), directory(server), max_pages=3, progress=True)
    result = summary.sources[0]
    assert summary.ok and result.pages == 3 and result.fetched == 3 * PAGE
    ids = landed_ids(lake)
    assert Counter(ids).most_common(1)[0][1] == 1  # no account twice across pages
    assert sorted(ids) == sorted(kept(server, 3 * PAGE))  # the first three pages, in the directory's order
    assert result.landed + result.skipped == result.fetched and result.skipped > 0  # an opted-out one is left out
    assert len(result.batches) == 3  # one batch per page, as a single page landed before
    assert not result.caught_up  # more accounts were left for a larger budget
    err = capsys.readouterr().err
    assert f"page 3, {3 * PAGE} fetched, {result.landed} landed" in err
    assert f"3 pages, {result.landed} landed (more accounts in the directory: raise --max-pages)" in err
    assert summary.line().endswith("; the directory walk stopped at its page budget on 1 instance, more accounts "
                                   "listed: raise --max-pages or, without it, FEDISCOPE_BACKFILL_PAGES (or [fediscope] "
                                   "backfill_pages in fediscope.toml) to take them")


def test_a_directory_smaller_than_the_budget_lands_whole(server, make_settings, lake) -> None:
    every = served(server)
    pages = len(every) // PAGE + 1  # the last one short (or empty): it ends the walk
    summary = run_collection(make_settings(), directory(server), max_pages=pages + 5, progress=False)
    result = summary.sources[0]
    ids = landed_ids(lake)
    assert summary.ok and result.caught_up and result.pages == pages and summary.requests == pages
    assert "directory walk stopped" not in summary.line()
    assert result.fetched == len(every) and sorted(ids) == sorted(kept(server))


def test_without_max_pages_the_backfill_depth_bounds_the_walk(server, make_settings, lake) -> None:
    """A directory has no checkpoint, so every run walks it like a timeline's first run: FEDISCOPE_BACKFILL_PAGES
    deep when --max-pages is not given (a big instance's directory runs to many thousands of pages)."""
    summary = run_collection(make_settings(backfill_pages=2), directory(server), progress=False)
    assert summary.ok and summary.pages == 2 and summary.fetched == 2 * PAGE
    assert sorted(landed_ids(lake)) == sorted(kept(server, 2 * PAGE))


def test_each_run_takes_the_directory_anew(server, make_settings, lake) -> None:
    """A snapshot: no checkpoint moves the next run on; it lands the same first pages again, in new batches."""
    first = run_collection(make_settings(), directory(server), max_pages=2, progress=False)
    again = run_collection(make_settings(), directory(server), max_pages=2, progress=False)
    assert first.fetched == again.fetched == 2 * PAGE
    assert Counter(landed_ids(lake)) == Counter({i: 2 for i in kept(server, 2 * PAGE)})
    assert not set(first.sources[0].batches) & set(again.sources[0].batches)


def _refuse_once(server: SampleServer, at: int, reset_in: float) -> list[int]:
    """Answer the ``at``-th request from now with Mastodon's 429, its window resetting ``reset_in`` s later."""
    limiter, hits, real = server.limiter, [0], server.limiter.hit

    def hit(key: str) -> Verdict:
        hits[0] += 1
        verdict = real(key)
        if hits[0] != at:
            return verdict
        reset = datetime.fromtimestamp(time.time() + reset_in, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return Verdict(False, verdict.limit, 0, reset)

    limiter.hit = hit  # type: ignore[method-assign]
    return hits


@pytest.fixture
def fresh_server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(400, seed=5), rate_limit=100_000) as running:
        yield running


def _clear_of_the_window_end(server: SampleServer, margin: float = 5.0) -> None:
    """Wait for the sample server's rate-limit window to end when it ends within :data:`WINDOW_SLACK` + ``margin``
    seconds. The client takes a 429's reset that close to its window's known reset for that window's (the noise of
    reading it: :meth:`RateState.note <fediscope.sources.ratelimit.RateState.note>`), so a refusal resetting in
    0.4 s, met within 10.4 s of a window's end (every 300 s), waited for that end instead, and met 9.95 s or more
    before it, longer than the 10 s the client waits at most: the source failed ("it asks to retry in 10 s, longer
    than the 10 s we wait", seen once in a full run)."""
    left = server.limiter.period - time.time() % server.limiter.period
    if left < WINDOW_SLACK + margin:
        time.sleep(left + 0.1)


@pytest.mark.parametrize("source", ["public", "directory"])
def test_a_rate_limited_page_waits_for_the_reset_as_a_timeline_does(fresh_server, make_settings, lake,
                                                                    source: str) -> None:
    _clear_of_the_window_end(fresh_server)
    _refuse_once(fresh_server, at=2, reset_in=0.4)
    summary = run_collection(make_settings(), [(fresh_server.url, parse_source(source))], max_pages=3,
                             progress=False)
    assert summary.ok and summary.rate_limit_waits == 1 and summary.rate_limit_wait_seconds >= 0.3
    assert summary.pages == 3 and summary.fetched == 3 * PAGE  # the refused page was asked again, nothing lost
    entity = "directory" if source == "directory" else "statuses"
    ids = [r["data"]["id"] for _p, r in lake.records(entity)]
    assert len(ids) == len(set(ids)) == summary.landed > 2 * PAGE


@pytest.mark.parametrize("source", ["public", "directory"])
def test_a_rate_limit_longer_than_the_longest_wait_fails_the_source_as_a_timeline(fresh_server, make_settings,
                                                                                  lake, source: str) -> None:
    """The page before the refusal stays landed; the source fails with the client's own error."""
    _refuse_once(fresh_server, at=2, reset_in=60)
    summary = run_collection(make_settings(rate_limit_max_wait=1.0), [(fresh_server.url, parse_source(source))],
                             max_pages=3, progress=False)
    failed = summary.sources[0]
    assert not summary.ok and failed.status == "failed" and "rate limit" in str(failed.error).lower()
    assert failed.pages == 1 and failed.fetched == PAGE and summary.rate_limit_waits == 0


def test_an_instance_ignoring_offset_ends_the_walk_instead_of_landing_its_first_page_again(
        fresh_server, make_settings, lake, caplog) -> None:
    """Without that stop, such an instance would be asked for its first page up to the whole budget, each copy
    landed again; an account listed again on a later page is counted as already collected, never landed twice."""
    routes = fresh_server.httpd.routes
    real = routes.directory
    routes.directory = lambda query, *args: real({k: v for k, v in query.items() if k != "offset"}, *args)
    with caplog.at_level("WARNING", logger="fediscope.sources.collector"):
        summary = run_collection(make_settings(), directory(fresh_server), max_pages=5, progress=False)
    result = summary.sources[0]
    assert summary.ok and result.caught_up and result.pages == 2 and result.fetched == 2 * PAGE
    assert result.out_of_range == PAGE and sorted(landed_ids(lake)) == sorted(kept(fresh_server, PAGE))
    assert "offset=10 holds only accounts already landed" in caplog.text
