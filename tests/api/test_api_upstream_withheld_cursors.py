"""The scraping API's page cursors never name a status skipped for its author (an opted-out or erased account's, or
a boost of one), as the collector never saves such an id (:mod:`fediscope.sources.withheld`): with the instance an
id names its author, and NiFi keeps these cursors as its state. Walking a timeline by them still returns every
status that is served, down by ``next`` and up by ``prev``, and never asks for the same page for ever.

The instance is the Mastodon double (recorded statuses, cloned with new snowflake ids); one author opts out
(``#nobot`` in the bio, as ``privacy_skips`` sets it up)."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from api_testing import LiveApi, make_settings
from doubles.fediverse_ids import TextIdDouble
from doubles.mastodon_server import MastodonDouble
from non_public_statuses import boost
from privacy_skips import NOBOT_NOTE

from api.upstream import MAX_EXTRA_PAGES
from fediscope.gdpr.suppression import add_suppressed
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings

#: Pages a walk may take before the test calls it endless.
MAX_PAGES = 30
KEPT, OPTED = "admin", "mastodonpy_test"


@pytest.fixture
def double() -> Iterator[MastodonDouble]:
    with MastodonDouble(statuses=6) as started:
        yield started


def cursors_of(response: requests.Response) -> set[str]:
    """Every cursor an answer hands out: in the body and in the Link header."""
    body = response.json()
    found = {value for rel in ("next", "prev") if body[rel] for value in body[rel].values()}
    return {str(c) for c in found} | set(re.findall(r"[?&](?:max_id|min_id)=([A-Za-z0-9]+)",
                                                    response.headers.get("Link", "")))


def walk(live: LiveApi, path: str, params: dict[str, Any], rel: str) -> tuple[list[str], set[str]]:
    """Follow ``rel`` (``next``: ``max_id``, ``prev``: ``min_id``) from ``params`` until a page is empty: the ids of
    the records served, in order, and every cursor handed out. Fails when the walk does not end."""
    ids: list[str] = []
    cursors: set[str] = set()
    for _ in range(MAX_PAGES):
        response = live.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        cursors |= cursors_of(response)
        ids.extend(r["data"]["id"] for r in body["records"])
        if not body["records"] and body["skipped"] == 0 or body[rel] is None:
            return ids, cursors
        params = {**params, **body[rel]}
    raise AssertionError(f"the walk by {rel} did not end after {MAX_PAGES} pages: it asks for the same page again")


def opt_out(double: MastodonDouble, acct: str) -> tuple[list[str], set[str]]:
    """``acct`` opts out; (the ids of the other statuses newest first, the ids of ``acct``'s statuses)."""
    assert double.set_account_note(acct, NOBOT_NOTE) > 0
    statuses = double.public_statuses()
    withheld = {s["id"] for s in statuses if s["account"]["acct"] == acct}
    assert len(withheld) < len(statuses)
    return [s["id"] for s in statuses if s["id"] not in withheld], withheld


def test_a_page_cursor_is_never_an_opted_out_accounts_status_id(double: MastodonDouble,
                                                                live_api: Callable[..., LiveApi]) -> None:
    """Was: the instance's Link cursors were handed on as they came, so a page whose newest or oldest status was an
    opted-out account's gave that status's id out as ``prev`` or ``next`` (e.g. ``next: {"max_id": <its id>}``
    with only the status above it in ``records``)."""
    kept, withheld = opt_out(double, double.public_statuses()[1]["account"]["acct"])
    assert withheld
    live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
    down, cursors_down = walk(live, "/v1/timelines/public", {"instance": double.domain, "limit": 2}, "next")
    assert down == kept  # nothing missed, nothing twice
    assert cursors_down and not cursors_down & withheld
    up, cursors_up = walk(live, "/v1/timelines/public", {"instance": double.domain, "limit": 2, "min_id": "1"},
                          "prev")
    assert sorted(up, key=int) == sorted(kept, key=int)
    assert cursors_up and not cursors_up & withheld


def test_an_erased_accounts_statuses_move_the_cursors_too(double: MastodonDouble, live_api: Callable[..., LiveApi],
                                                         tmp_path: Any) -> None:
    """An erased account's statuses go through the same rule: the suppression list, not a note in the bio."""
    settings = make_settings(instances=(double.url,), allow_private_addresses=True, lake=str(tmp_path / "lake"))
    erased = double.public_statuses()[1]["account"]["acct"]
    add_suppressed(open_lake(settings.lake), policy_from_settings(settings).account_key(erased, double.domain))
    withheld = {s["id"] for s in double.public_statuses() if s["account"]["acct"] == erased}
    kept = [s["id"] for s in double.public_statuses() if s["id"] not in withheld]
    live = live_api(settings)
    down, cursors = walk(live, "/v1/timelines/public", {"instance": double.domain, "limit": 2}, "next")
    assert down == kept and cursors and not cursors & withheld


def test_a_boost_of_an_opted_out_accounts_status_moves_the_cursors_too(double: MastodonDouble,
                                                                        live_api: Callable[..., LiveApi]) -> None:
    """A boost is skipped for the author of the status it boosts: the recorded boost, boosted by another account,
    made public and served second newest; its author (of no other status served) opts out."""
    boosted = boost()
    booster = next(a for a in double.accounts() if a["acct"] == KEPT)
    boosted.update(account=copy.deepcopy(booster), visibility="public", id=str(int(double.statuses[0]["id"]) - 1))
    boosted["reblog"]["visibility"] = "public"
    assert boosted["reblog"]["account"]["acct"] == OPTED != KEPT
    double.statuses.insert(1, boosted)
    _kept, withheld = opt_out(double, OPTED)
    assert withheld == set()  # no status of its own is served: only the boost is skipped, for it
    kept = [s["id"] for s in double.public_statuses() if s is not boosted]
    live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
    first = live.get("/v1/timelines/public", params={"instance": double.domain, "limit": 2})
    assert first.json()["skipped"] == 1 and boosted["id"] not in cursors_of(first)
    down, cursors = walk(live, "/v1/timelines/public", {"instance": double.domain, "limit": 2}, "next")
    assert down == kept and boosted["id"] not in cursors


def test_an_opted_out_accounts_own_route_answers_no_record_and_none_of_its_ids(
        double: MastodonDouble, live_api: Callable[..., LiveApi]) -> None:
    """Unlike an erased account (410 before any request: its key is on the suppression list), an opt-out is known
    only from the account the instance answers: the route answers an empty page, as `fediscope collect` lands
    none of it, and its cursors were the account's status ids."""
    acct = double.public_statuses()[1]["account"]["acct"]
    _kept, withheld = opt_out(double, acct)
    assert len(withheld) >= 2
    live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
    response = live.get(f"/v1/accounts/{acct}/statuses", params={"instance": double.domain, "limit": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["records"] == [] and body["opted_out"] == min(2, len(withheld))
    assert cursors_of(response) and not cursors_of(response) & withheld
    served, cursors = walk(live, f"/v1/accounts/{acct}/statuses", {"instance": double.domain, "limit": 2}, "next")
    assert served == [] and not cursors & withheld


def test_a_page_of_nothing_but_skipped_statuses_in_one_minute_does_not_stall_the_walk(
        live_api: Callable[..., LiveApi]) -> None:
    """Four statuses of an opted-out account within one minute, between statuses of others: a ``limit=2`` page
    holds only theirs, and their cursor moved to the minute's edge would ask for the same page again for ever.
    It moves to the far edge instead: both walks end and return every other status (none of the others lies in
    that minute)."""
    with MastodonDouble(statuses=0) as double:
        for seconds, author in ((50, KEPT), (50, KEPT), (30, OPTED), (1, OPTED), (1, OPTED), (1, OPTED),
                                (60, KEPT), (60, KEPT)):
            double.spacing = timedelta(seconds=seconds)
            double.add_statuses(1, author=author)
        kept, withheld = opt_out(double, OPTED)
        assert len(withheld) == 4
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        params = {"instance": double.domain, "limit": 2}
        down, cursors_down = walk(live, "/v1/timelines/public", params, "next")
        up, cursors_up = walk(live, "/v1/timelines/public", {**params, "min_id": "1"}, "prev")
    assert down == kept and sorted(up, key=int) == sorted(kept, key=int)
    assert not (cursors_down | cursors_up) & withheld


def same_minute_double(withheld: int, double: MastodonDouble | None = None) -> MastodonDouble:
    """A double (not started; ``double``, empty, else the Mastodon one) serving, oldest first: a kept status, a kept
    one (``before``) and ``withheld`` of the opted-out account's one second apart, a kept one (``after``) a second
    later, all four kinds in one minute (asserted), then a kept one a minute later."""
    double = double if double is not None else MastodonDouble(statuses=0)
    for seconds, author in ((60, KEPT), (65, KEPT), *[(1, OPTED)] * withheld, (1, KEPT), (60, KEPT)):
        double.spacing = timedelta(seconds=seconds)
        double.add_statuses(1, author=author)
    minute = {s["created_at"][:16] for s in double.statuses[1:-1]}
    assert len(minute) == 1, minute
    return double


def test_a_walk_gets_the_kept_statuses_of_the_minute_beyond_a_page_of_skipped_ones(
        live_api: Callable[..., LiveApi]) -> None:
    """Was: a ``limit=2`` page holding only the opted-out account's two statuses of one minute had its cursor moved
    to that minute's far edge (``next``: its first id; ``prev``: the next minute's), so the kept status of that
    minute beyond the page was never served: down by ``next`` the one just before them, up by ``prev`` the one just
    after. The API now fetches the next page itself, with the instance's cursor: that page's answer holds the kept
    statuses beyond, counts the skipped ones of both pages, and hands out none of their ids."""
    with same_minute_double(withheld=2) as double:
        kept, withheld = opt_out(double, OPTED)
        before, after = kept[-2], kept[1]
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        params = {"instance": double.domain, "limit": 2}
        down, cursors_down = walk(live, "/v1/timelines/public", params, "next")
        up, cursors_up = walk(live, "/v1/timelines/public", {**params, "min_id": "1"}, "prev")
        below_after = live.get("/v1/timelines/public", params={**params, "max_id": after})
    assert down == kept and sorted(up, key=int) == sorted(kept, key=int)
    assert not (cursors_down | cursors_up) & withheld
    body = below_after.json()  # the page asked for is the two withheld statuses; the next one is had too
    assert [r["data"]["id"] for r in body["records"]] == [before, kept[-1]] and body["skipped"] == 2
    assert body["next"] == {"max_id": kept[-1]} and not cursors_of(below_after) & withheld


def test_an_instance_failing_a_page_fetched_beyond_is_answered_as_for_the_page(
        live_api: Callable[..., LiveApi]) -> None:
    """A 429 on the page the API fetches beyond the one asked for is the answer's (with the instance's
    ``Retry-After``), not an answer with a cursor that skips. Asked again within those 5 s, the API answers the
    same 429 without asking the instance (the wait holds for every request of the API, test_api_upstream.py); the
    same page once the instance answers is ``below_after`` of
    test_a_walk_gets_the_kept_statuses_of_the_minute_beyond_a_page_of_skipped_ones (the same query): the kept
    statuses beyond come. Was: asked again at once, the instance was asked again."""
    with same_minute_double(withheld=2) as double:
        kept, _withheld = opt_out(double, OPTED)
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        params = {"instance": double.domain, "limit": 2, "max_id": kept[1]}
        double.throttle(reset_in=5, style="retry_after", path="/api/v1/timelines/public", after=1)
        throttled = live.get("/v1/timelines/public", params=params)
        sent = len(double.log)
        again = live.get("/v1/timelines/public", params=params)
        assert len(double.log) == sent
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["error"]["code"] == "upstream_rate_limited" and throttled.headers["Retry-After"] == "5"
    assert again.status_code == 429, again.text
    assert again.json()["error"]["code"] == "upstream_rate_limited" and 1 <= int(again.headers["Retry-After"]) <= 6


@pytest.mark.parametrize("rel", ["next", "prev"])
def test_beyond_the_bounded_pages_the_cursor_moves_to_the_minutes_far_edge_with_a_warning(
        rel: str, live_api: Callable[..., LiveApi], caplog: pytest.LogCaptureFixture) -> None:
    """More pages of nothing but skipped statuses in one minute than the API fetches for one request
    (``limit=1``: the page asked for and MAX_EXTRA_PAGES more): the cursor moves to that minute's far edge, as
    before, logged at WARNING saying statuses of that minute may be missed; the walk ends, having missed only the
    kept status of that minute beyond the pages (the one before them going down, after them going up)."""
    with same_minute_double(withheld=MAX_EXTRA_PAGES + 2) as double:
        kept, withheld = opt_out(double, OPTED)
        missed = kept[-2] if rel == "next" else kept[1]
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        params: dict[str, Any] = {"instance": double.domain, "limit": 1, **({} if rel == "next" else {"min_id": "1"})}
        with caplog.at_level(logging.WARNING, logger="api.upstream"):
            served, cursors = walk(live, "/v1/timelines/public", params, rel)
    assert sorted(served, key=int) == sorted(set(kept) - {missed}, key=int) and not cursors & withheld
    warnings = [r.getMessage() for r in caplog.records if r.name == "api.upstream" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"rel={rel} cursor" in warnings[0] and "may be missed" in warnings[0]
    assert f"{MAX_EXTRA_PAGES + 1} page(s) fetched" in warnings[0]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "api.upstream" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("kind", ["flake", "ulid"])
@pytest.mark.parametrize("rel", ["next", "prev"])
def test_text_ids_beyond_the_bounded_pages_drop_the_walks_cursor_and_keep_the_other(
        kind: str, rel: str, live_api: Callable[..., LiveApi], caplog: pytest.LogCaptureFixture) -> None:
    """Pleroma/Akkoma (FlakeIds) and GoToSocial (ULIDs): text ids have no minute to move to, so beyond the bounded
    pages the walk's cursor is dropped (``null``, no ``Link``), with the WARNING. Was: the other cursor was dropped
    too, as no kept status lay on its side of the pages, so a client could not go on the other way from there
    (going down, newer-ward by ``prev``). It now stands at the query's own bound on that side (the ``max_id`` asked
    below, going up the ``min_id``), which names no status of the pages, and following it serves the kept statuses
    there."""
    with same_minute_double(MAX_EXTRA_PAGES + 2, TextIdDouble(kind, statuses=0)) as double:
        kept_snowflakes, withheld_snowflakes = opt_out(double, OPTED)
        kept, withheld = [double.text(i) for i in kept_snowflakes], {double.text(i) for i in withheld_snowflakes}
        newest, after, before, oldest = kept
        other = "prev" if rel == "next" else "next"
        asked = {"max_id": after} if rel == "next" else {"min_id": before}
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        params = {"instance": double.domain, "limit": 1}
        with caplog.at_level(logging.WARNING, logger="api.upstream"):
            page = live.get("/v1/timelines/public", params={**params, **asked})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["records"] == [] and body["skipped"] == MAX_EXTRA_PAGES + 1
        assert body[rel] is None and f'rel="{rel}"' not in page.headers.get("Link", "")
        assert body[other] == ({"min_id": after} if rel == "next" else {"max_id": before})  # was: None
        assert f'rel="{other}"' in page.headers["Link"] and not cursors_of(page) & withheld
        beyond = live.get("/v1/timelines/public", params={**params, **body[other]}).json()
    assert [r["data"]["id"] for r in beyond["records"]] == ([newest] if rel == "next" else [oldest])
    assert len(warnings_of(caplog)) == 1 and f"rel={rel} cursor" in warnings_of(caplog)[0]


def flood_on_top(double: MastodonDouble) -> MastodonDouble:
    """``double`` (empty, not started) serving two kept statuses, then MAX_EXTRA_PAGES + 2 of the opted-out
    account's one second apart, the newest: more than the API fetches at ``limit=1``, or ``limit=2`` pages."""
    for seconds, author in ((60, KEPT), (65, KEPT), *[(1, OPTED)] * (MAX_EXTRA_PAGES + 2)):
        double.spacing = timedelta(seconds=seconds)
        double.add_statuses(1, author=author)
    return double


def test_text_ids_a_newest_page_asked_since_an_id_keeps_its_prev_cursor(live_api: Callable[..., LiveApi]) -> None:
    """The newest page asked for with ``since_id`` (a NiFi flow polling for what is new), on a Pleroma instance
    whose newest statuses are all an opted-out account's, beyond the bounded pages. Was: ``prev`` was dropped with
    ``next`` (no kept status below the withheld newest one), so the flow could not go on newer-ward from where it
    was. It is now the ``since_id`` asked (below the pages: following it fetches them again, skipped again)."""
    with flood_on_top(TextIdDouble("flake", statuses=0)) as double:
        kept_snowflakes, withheld_snowflakes = opt_out(double, OPTED)
        since = double.text(kept_snowflakes[0])
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        params = {"instance": double.domain, "limit": 1}
        page = live.get("/v1/timelines/public", params={**params, "since_id": since})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["records"] == [] and body["next"] is None
        assert body["prev"] == {"min_id": since}  # was: None
        assert not cursors_of(page) & {double.text(i) for i in withheld_snowflakes}
        new = double.add_statuses(1, author=KEPT)
        newer, _cursors = walk(live, "/v1/timelines/public", {**params, "limit": 40, **body["prev"]}, "prev")
    assert newer == [double.text(new[0]["id"])]


class IgnoresPagingIds(MastodonDouble):
    """An instance that ignores ``max_id`` and ``min_id``: whatever they say, it answers the newest page."""

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        return super()._page(path, {k: v for k, v in params.items() if k not in ("max_id", "min_id")}, pool)


@pytest.mark.parametrize("rel", ["next", "prev"])
def test_an_instance_answering_the_same_page_again_is_not_asked_five_times(
        rel: str, live_api: Callable[..., LiveApi], caplog: pytest.LogCaptureFixture) -> None:
    """The newest page holds nothing but an opted-out account's statuses within one minute, and the instance
    answers it whatever ``max_id``/``min_id`` say. Was: the API fetched that same page MAX_EXTRA_PAGES more times
    (each a request of the instance's rate-limit budget), counted its statuses in ``skipped`` six times, and handed
    out a cursor at the minute's edge that only fetched it again. Now the first further page that holds nothing
    beyond it ends the fetching: one further request, counted once, and the walk's cursor is ``null``, with a
    WARNING saying the instance does not page."""
    with flood_on_top(IgnoresPagingIds(statuses=0)) as double:
        kept, withheld = opt_out(double, OPTED)
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        params = {"instance": double.domain, "limit": 2, **({} if rel == "next" else {"min_id": kept[-1]})}
        with caplog.at_level(logging.WARNING, logger="api.upstream"):
            page = live.get("/v1/timelines/public", params=params)
        fetched = double.requests_to("/api/v1/timelines/public")
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(fetched) == 2  # was: 1 + MAX_EXTRA_PAGES
    assert body["records"] == [] and body["skipped"] == body["opted_out"] == 2  # was: 12
    assert body[rel] is None and f'rel="{rel}"' not in page.headers.get("Link", "")
    assert not cursors_of(page) & withheld
    assert len(warnings_of(caplog)) == 1 and f"does not page by {'max_id' if rel == 'next' else 'min_id'}" in \
        warnings_of(caplog)[0]
