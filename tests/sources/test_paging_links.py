"""Timeline walks whose ``Link rel="next"`` misbehaves: it loops (the same ``max_id`` again), points above the page
it came with, or the instance ignores ``max_id`` and answers the newest page again.

The answers are the recorded double's (tests/doubles/mastodon_server.py); only their Link header or their paging
is altered. Before the fix, a looping or backward Link mid-walk counted as "gap closed": the checkpoint moved to
the top of the gap and the rest of it was never landed (exit 0, nothing logged); a Link above the *first* page
fetched the newest page again and landed it a second time in the same partition.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cli_run import clean_env, run
from collector_testing import TEST_KEY
from doubles.mastodon_server import MastodonDouble

from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

#: (params of a timeline request, its index among the timeline requests) → what to alter, or None
Rule = Callable[[dict[str, str], int], str | None]


class MisbehavingDouble(MastodonDouble):
    """The recorded double whose public timeline answers are altered as ``rule`` says:

    * ``loop`` — the next Link repeats the request's ``max_id`` (the newest id on the newest page);
    * ``back`` — the next Link points far above the page;
    * ``ignore_max_id`` — the answer is the one without ``max_id`` (the newest page again), Link included.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.rule: Rule | None = None
        self.timeline_requests = 0
        self.altered: list[tuple[str, dict[str, str]]] = []

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]
              ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            index = self.timeline_requests
            self.timeline_requests += 1
        how = self.rule(params, index) if self.rule is not None else None
        if how == "ignore_max_id":
            status, headers, body = super()._page(path, {k: v for k, v in params.items() if k != "max_id"}, pool)
        else:
            status, headers, body = super()._page(path, params, pool)
        if how is not None:
            self.altered.append((how, dict(params)))
        if how in {"loop", "back"} and body:
            target = (params.get("max_id") or body[0]["id"]) if how == "loop" else str(int(body[0]["id"]) + 10**12)
            headers["Link"] = re.sub(r"max_id=[^&>]+", f"max_id={target}", headers["Link"], count=1)
        return status, headers, body


@pytest.fixture
def server() -> MisbehavingDouble:
    with MisbehavingDouble(statuses=100) as double:
        yield double


def public(server: MastodonDouble) -> list[tuple[str, object]]:
    return [(server.url, parse_source("public"))]


def served_ids(server: MastodonDouble) -> set[str]:
    return {s["id"] for s in server.public_statuses()}


def gap_pages_only(kind: str, after: int = 0, times: int = 1) -> Rule:
    """Alter ``times`` answers of the gap walk (requests with ``since_id``), after ``after`` of them."""
    seen = {"n": 0}

    def rule(params: dict[str, str], _index: int) -> str | None:
        if "since_id" not in params:
            return None
        seen["n"] += 1
        return kind if after < seen["n"] <= after + times else None

    return rule


@pytest.mark.parametrize("kind", ["loop", "back"])
def test_a_link_that_loops_or_goes_back_mid_walk_loses_nothing(server, make_settings, lake, kind: str) -> None:
    """Was: the walk stopped there and the checkpoint moved to the top of the gap: the 30 statuses below the
    third page of the gap were never landed, and the run said ok."""
    settings = make_settings()
    assert run_collection(settings, public(server), progress=False).ok
    new = server.add_statuses(60)
    server.rule = gap_pages_only(kind, after=2)
    summary = run_collection(settings, public(server), progress=False)
    assert [how for how, _ in server.altered] == [kind]
    assert summary.ok, summary.failed
    assert lake.status_ids() == served_ids(server)
    assert max(lake.ids().values()) == 1
    assert lake.checkpoint(server.domain, "public")["newest_id"] == new[-1]["id"]


@pytest.mark.parametrize("kind", ["loop", "back"])
def test_a_link_above_the_first_page_does_not_land_it_twice(server, make_settings, lake, kind: str) -> None:
    """Was: the newest page was fetched again under the bogus max_id and landed in a second batch file of the
    same partition (every status of it twice)."""
    settings = make_settings()
    assert run_collection(settings, public(server), progress=False).ok
    server.add_statuses(25)
    server.rule = gap_pages_only(kind, after=0)
    summary = run_collection(settings, public(server), progress=False)
    assert summary.ok, summary.failed
    assert lake.status_ids() == served_ids(server)
    assert max(lake.ids().values()) == 1
    assert summary.landed == 25


def test_paging_that_cannot_go_on_fails_the_source_and_the_next_run_resumes(server, make_settings, lake) -> None:
    """An instance that ignores max_id answers the newest page again: nothing below it can be had. Was: the
    checkpoint moved to the top of the gap (its lower 40 statuses lost), the newest page landed twice, exit 0.
    Now the source fails with "paging stalled", its saved walk is kept, and the next run lands the rest."""
    settings = make_settings()
    assert run_collection(settings, public(server), progress=False).ok
    before = lake.checkpoint(server.domain, "public")["newest_id"]
    new = server.add_statuses(60)
    server.rule = gap_pages_only("ignore_max_id", after=2, times=1000)
    summary = run_collection(settings, public(server), progress=False)
    assert not summary.ok
    [failed] = summary.failed
    assert f"paging stalled at max_id={new[-20]['id']}" in str(failed.error)
    state = lake.checkpoint(server.domain, "public")
    assert state["newest_id"] == before  # not moved past the statuses not landed
    assert state["extra"]["walk"]["cursor"] == new[-20]["id"]
    assert max(lake.ids().values()) == 1  # the newest page, answered again, is not landed again

    server.rule = None
    assert run_collection(settings, public(server), progress=False).ok
    assert lake.status_ids() == served_ids(server)
    assert max(lake.ids().values()) == 1
    assert lake.checkpoint(server.domain, "public")["newest_id"] == new[-1]["id"]


def test_the_cli_exits_non_zero_on_stalled_paging(server, tmp_path, monkeypatch, capsys) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "cli-lake"), FEDISCOPE_PSEUDONYM_KEY=TEST_KEY,
              FEDISCOPE_PAGE_LIMIT="10", FEDISCOPE_RETRY_BACKOFF="0.01", FEDISCOPE_MAX_RETRIES="1")
    code, _out, err = run(capsys, "collect", "--instance", server.url)
    assert code == 0, err
    server.add_statuses(30)
    server.rule = gap_pages_only("ignore_max_id", after=1, times=1000)
    code, _out, err = run(capsys, "collect", "--instance", server.url)
    assert code == 1
    assert "paging stalled at max_id=" in err and "Traceback" not in err


def test_the_refresh_pass_reports_stalled_paging_and_lands_nothing_twice(make_settings, lake) -> None:
    """Was: the refresh pass stopped silently (no refresh_error), after landing the newest page again."""
    with MisbehavingDouble(statuses=60, newest_at=datetime.now(UTC)) as server:
        settings = make_settings(refresh_hours=24)
        assert run_collection(settings, public(server), progress=False).ok
        server.add_statuses(5)
        refresh_requests = {"n": 0}

        def rule(params: dict[str, str], _index: int) -> str | None:
            if "since_id" in params or "max_id" not in params:
                return None
            refresh_requests["n"] += 1
            return "ignore_max_id" if refresh_requests["n"] == 2 else None

        server.rule = rule
        summary = run_collection(settings, public(server), progress=False)
    [result] = summary.sources
    assert summary.ok and result.status != "failed"
    assert result.refresh_error is not None and "paging stalled at max_id=" in result.refresh_error
    assert result.refreshed == 10  # the first page of the pass; the newest page answered again is not landed
    assert lake.status_ids() == served_ids(server)
