"""The page budget (``--max-pages``) is said to have stopped a timeline walk ("more statuses to fetch",
``caught_up`` false, the progress line's "more to fetch") only when it left a full page's next page unfetched;
against the sample instance served over real HTTP on 127.0.0.1.

Was: with ``--max-pages 1``, a run whose only page was empty (a walk resumed from the run before, which ended
there) said so all the same: the fresh walk that follows a resumed one had no page left to fetch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

ACCT = "ada_raven"  # a local account of the sample instance below, with 19 public statuses
STATUSES = 19
BUDGET_NOTE = "stopped at its page budget"


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(400, seed=5), rate_limit=100_000) as running:
        yield running


def account(server: SampleServer) -> list[tuple[str, object]]:
    return [(server.url, parse_source(f"account:{ACCT}"))]


def test_a_walk_whose_only_page_was_empty_is_not_said_to_be_cut(server, make_settings, lake, capsys) -> None:
    settings = make_settings(page_limit=STATUSES)  # the first page is full: its Link names the page below it
    first = run_collection(settings, account(server), max_pages=1, progress=True)
    assert first.landed == STATUSES and not first.sources[0].caught_up
    assert BUDGET_NOTE in first.line() and "(more to fetch)" in capsys.readouterr().err
    # the page below is empty: the walk ends there, on the budget's only page
    second = run_collection(settings, account(server), max_pages=1, progress=True)
    assert second.ok and second.sources[0].pages == 1 and second.fetched == 0, second.line()
    assert second.sources[0].caught_up and second.to_dict()["sources"][0]["caught_up"] is True
    assert BUDGET_NOTE not in second.line(), second.line()
    assert "more to fetch" not in capsys.readouterr().err
    assert len(lake.status_ids()) == STATUSES and max(lake.ids().values()) == 1


def test_a_short_last_page_is_not_said_to_be_cut(server, make_settings, lake) -> None:
    """A page of fewer statuses than asked: nothing says more wait below (the next run still asks, and finds the
    end)."""
    settings = make_settings(page_limit=40)
    summary = run_collection(settings, account(server), max_pages=1, progress=False)
    assert summary.landed == STATUSES and summary.sources[0].caught_up, summary.line()
    assert BUDGET_NOTE not in summary.line()
    again = run_collection(settings, account(server), max_pages=1, progress=False)
    assert again.ok and again.fetched == 0 and again.sources[0].caught_up, again.line()
    assert len(lake.status_ids()) == STATUSES
