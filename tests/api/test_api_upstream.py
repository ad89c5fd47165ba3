"""Upstream trouble, bounded: 429 passed through with Retry-After at once, 502 after one retry, timeouts,
malformed answers, and the erasure suppression list honoured like the collector does."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from api_testing import LiveApi, assert_error, make_settings
from doubles.mastodon_server import MastodonDouble
from privacy_skips import opt_out_one_author_and_erase_another

from fediscope.config import token_env_name
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings

ACCOUNT = "mastodonpy_test_2"


def _params(double: Any, **extra: Any) -> dict[str, Any]:
    return {"instance": double.domain, **extra}


@pytest.mark.parametrize(("style", "reset_in"), [("retry_after", 7), ("iso", 30), ("epoch", 45)])
def test_upstream_429_is_passed_through_with_retry_after(api: LiveApi, mastodon_server: Any, style: str,
                                                         reset_in: int) -> None:
    mastodon_server.throttle(reset_in=reset_in, style=style)
    started = time.monotonic()
    response = api.get("/v1/timelines/public", params=_params(mastodon_server))
    assert time.monotonic() - started < 5  # no waiting for the window inside the request
    error = assert_error(response, 429, "upstream_rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert reset_in - 1 <= retry_after <= reset_in + 2
    assert error["retry_after"] == retry_after
    assert len(mastodon_server.requests_to("/api/v1/timelines")) == 1


HELD_ROUTES = ("/v1/timelines/public", "/v1/timelines/tag/python", "/v1/instance", "/v1/trends/tags")


def test_an_upstream_429_holds_every_request_for_that_instance_until_its_wait_is_over(api: LiveApi,
                                                                                      mastodon_server: Any) -> None:
    """Was: each request built a client of its own, with no memory of the instance's 429, so the next request (this
    API allows a key 120 a minute, Mastodon 300 per 5 minutes) was sent at once, whatever the instance had said.
    Now the wait the instance asked for holds every request for it, on every route and in every server thread:
    answered 429 ``upstream_rate_limited`` with the seconds left, and nothing is sent. (The double throttles once:
    a request sent would be answered.)"""
    mastodon_server.throttle(reset_in=120, style="retry_after")
    first = api.get("/v1/timelines/public", params=_params(mastodon_server))
    assert_error(first, 429, "upstream_rate_limited")
    assert first.headers["Retry-After"] == "120"

    with ThreadPoolExecutor(max_workers=8) as pool:
        held = list(pool.map(lambda path: api.get(path, params=_params(mastodon_server)), HELD_ROUTES * 3))

    for response in held:
        error = assert_error(response, 429, "upstream_rate_limited")
        assert 115 <= int(response.headers["Retry-After"]) <= 121 and error["retry_after"] == int(
            response.headers["Retry-After"])
    assert len(mastodon_server.log) == 1


def test_an_answer_saying_the_budget_is_spent_holds_the_next_request(live_api: Callable[..., LiveApi]) -> None:
    """``X-RateLimit-Remaining: 0`` on a page the API served: the next request, another client's, is answered 429
    with the window's reset without being sent (was: sent, and the instance answered 429 itself)."""
    with MastodonDouble(ratelimit_limit=20, ratelimit_window=120) as double:
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        _spend(double, 19)
        assert live.get("/v1/timelines/public", params=_params(double)).status_code == 200  # the last of 20
        sent = len(double.log)
        response = live.get("/v1/timelines/tag/python", params=_params(double))
        assert len(double.log) == sent
    assert_error(response, 429, "upstream_rate_limited")
    assert 100 <= int(response.headers["Retry-After"]) <= 121


def test_upstream_429_without_a_hint_says_the_default_wait(api: LiveApi, mastodon_server: Any) -> None:
    """Not the client's own backoff of about a second (it was: Retry-After 1), which clients would take as a hint."""
    mastodon_server.throttle(reset_in=0, style="none")
    response = api.get("/v1/timelines/public", params=_params(mastodon_server))
    error = assert_error(response, 429, "upstream_rate_limited")
    assert response.headers["Retry-After"] == "60" and error["retry_after"] == 60


def test_upstream_5xx_is_502_after_one_bounded_retry(api: LiveApi, mastodon_server: Any) -> None:
    mastodon_server.fail(status=503, times=10)
    started = time.monotonic()
    error = assert_error(api.get("/v1/timelines/public", params=_params(mastodon_server)), 502,
                         "upstream_unavailable")
    assert time.monotonic() - started < 5
    assert error["upstream_status"] == 503
    assert len(mastodon_server.requests_to("/api/v1/timelines/public")) == 2


def test_a_single_upstream_blip_is_retried_transparently(api: LiveApi, mastodon_server: Any) -> None:
    mastodon_server.fail(status=502, times=1)
    response = api.get("/v1/timelines/public", params=_params(mastodon_server, limit=3))
    assert response.status_code == 200 and response.json()["count"] == 3


def test_slow_upstream_times_out_as_502_within_bounds(mastodon_server: Any, live_api: Callable[..., LiveApi]) -> None:
    live = live_api(make_settings(instances=(mastodon_server.url,), allow_private_addresses=True,
                                  request_timeout=0.3))
    mastodon_server.slow(delay=1.5, times=2, path="/api/v1/instance/activity")
    started = time.monotonic()
    assert_error(live.get("/v1/instance/activity", params=_params(mastodon_server)), 502, "upstream_unavailable")
    assert time.monotonic() - started < 4


def _with_lake(live_api: Callable[..., LiveApi], double: Any, tmp_path: Any) -> LiveApi:
    """The API over a lake in tmp_path: malformed data is quarantined there (test_api_quarantine.py), not in
    the default ./lake of the working directory."""
    return live_api(make_settings(instances=(double.url,), allow_private_addresses=True,
                                  lake=str(tmp_path / "lake")))


@pytest.mark.parametrize("how", ["not_json", "truncated", "wrong_shape"])
def test_malformed_upstream_body_is_502(live_api: Callable[..., LiveApi], mastodon_server: Any, tmp_path: Any,
                                        how: str) -> None:
    api = _with_lake(live_api, mastodon_server, tmp_path)
    mastodon_server.malformed(how=how, path="/api/v1/timelines/public")
    error = assert_error(api.get("/v1/timelines/public", params=_params(mastodon_server)), 502,
                         "upstream_malformed")
    assert "<html>" not in error["message"]


def test_malformed_items_are_left_out_and_counted(live_api: Callable[..., LiveApi], mastodon_server: Any,
                                                  tmp_path: Any) -> None:
    api = _with_lake(live_api, mastodon_server, tmp_path)
    mastodon_server.malformed(how="missing_fields", path="/api/v1/timelines/public")
    body = api.get("/v1/timelines/public", params=_params(mastodon_server, limit=10)).json()
    assert body["quarantined"] >= 1
    assert body["count"] + body["quarantined"] + body["skipped"] == 10
    assert body["next"] is not None  # the page's cursors survive


def test_upstream_refusal_is_502_with_the_token_hint(api: LiveApi, mastodon_server: Any) -> None:
    mastodon_server.fail(status=401, times=1)
    error = assert_error(api.get("/v1/instance/activity", params=_params(mastodon_server)), 502,
                         "upstream_rejected")
    assert token_env_name(mastodon_server.domain) in error["message"]
    assert error["upstream_status"] == 401


def test_unexpected_errors_are_a_500_envelope_that_reveals_nothing(api: LiveApi, mastodon_server: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("internal detail /etc/secret")

    monkeypatch.setattr(api.app.extensions["fediscope_api"].upstream, "fetch", broken)
    response = api.get("/v1/instance", params=_params(mastodon_server))
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text


@pytest.mark.parametrize("acct", [ACCOUNT, f"@{ACCOUNT.upper()}", "{ACCOUNT}@{domain}"])
def test_erased_accounts_are_skipped_like_the_collector_skips_them(
        mastodon_server: Any, live_api: Callable[..., LiveApi], tmp_path: Any, acct: str) -> None:
    """An erased account's own route is 410 erased_account without asking the instance (was: it looked the account
    up and fetched its statuses, to answer no record and cursors that were its status ids), as `fediscope collect`
    skips such a source; other routes leave its statuses out."""
    from fediscope.gdpr.suppression import add_suppressed

    settings = make_settings(instances=(mastodon_server.url,), allow_private_addresses=True,
                             lake=str(tmp_path / "lake"))
    erased = policy_from_settings(settings).account_key(ACCOUNT, mastodon_server.domain)
    add_suppressed(open_lake(settings.lake), erased)
    live = live_api(settings)
    asked = acct.format(ACCOUNT=ACCOUNT, domain=mastodon_server.domain)
    response = live.get(f"/v1/accounts/{asked}/statuses", params=_params(mastodon_server))
    assert_error(response, 410, "erased_account")
    assert mastodon_server.requests_to("/api/v1/accounts") == []  # the instance was not asked
    assert erased not in response.text
    public = live.get("/v1/timelines/public", params=_params(mastodon_server)).json()
    authors = {r["data"]["account"]["acct"] for r in public["records"]}
    assert authors and erased not in authors
    other = next(a["acct"] for a in mastodon_server.accounts() if a["acct"] != ACCOUNT)
    assert live.get(f"/v1/accounts/{other}/statuses", params=_params(mastodon_server)).status_code == 200


def test_opted_out_authors_are_noted_once_for_the_next_curation(
        mastodon_server: Any, live_api: Callable[..., LiveApi], tmp_path: Any) -> None:
    """So the next `fediscope process` erases what was landed of them before they opted out, as for the collector
    (fediscope.gdpr.opt_outs); a page asked again adds no second note."""
    from fediscope.gdpr.opt_outs import pending_opt_outs

    settings = make_settings(instances=(mastodon_server.url,), allow_private_addresses=True,
                             lake=str(tmp_path / "lake"))
    live = live_api(settings)
    first = live.get("/v1/timelines/public", params=_params(mastodon_server)).json()
    author = first["records"][0]["data"]["account"]
    acct = next(a["acct"] for a in mastodon_server.accounts()
                if policy_from_settings(settings).account_key(a["acct"], mastodon_server.domain) == author["acct"])
    assert pending_opt_outs(open_lake(settings.lake)) == (set(), [])  # nobody opted out yet
    assert mastodon_server.set_account_note(acct, "<p>Please leave me out #nobot</p>") > 0
    for _ in range(2):
        again = live.get("/v1/timelines/public", params=_params(mastodon_server)).json()
        assert again["skipped"] > first["skipped"]
        assert author["acct"] not in {r["data"]["account"]["acct"] for r in again["records"]}
    noted, notes = pending_opt_outs(open_lake(settings.lake))
    assert noted == {author["acct"]} and len(notes) == 1


def test_the_answer_tells_opt_outs_apart_from_the_rest_of_the_privacy_policy(
        mastodon_server: Any, live_api: Callable[..., LiveApi], tmp_path: Any) -> None:
    """Was: ``skipped`` mixed the statuses of accounts that opted out with those of erased accounts: opt-outs could
    not be seen. ``opted_out`` counts them apart (of ``skipped``), as `fediscope collect` does, naming no account."""
    settings = make_settings(instances=(mastodon_server.url,), allow_private_addresses=True,
                             lake=str(tmp_path / "lake"))
    policy = policy_from_settings(settings)
    page = mastodon_server.public_statuses()[:40]  # the page asked for: the 40 newest
    skips = opt_out_one_author_and_erase_another(mastodon_server, open_lake(settings.lake), policy, among=page)
    response = live_api(settings).get("/v1/timelines/public", params=_params(mastodon_server, limit=40))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["opted_out"] == skips.opted_statuses > 0
    assert body["skipped"] > body["opted_out"]  # the erased account's too
    assert body["count"] + body["skipped"] + body["quarantined"] == len(page)
    assert skips.opted not in response.text
    assert policy.account_key(skips.opted, mastodon_server.domain) not in response.text


def test_an_account_is_noted_again_once_its_note_was_applied(
        mastodon_server: Any, live_api: Callable[..., LiveApi], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a server noted each account once for its whole life, so an account that opted out (noted, applied by
    a curation), opted back in (landed) and out again was never noted again, and what was landed in between
    stayed. Whether the note was applied is asked every OPT_OUTS_RECHECK seconds (0 here)."""
    import api.upstream
    from fediscope.gdpr.opt_outs import apply_opt_outs, pending_opt_outs

    monkeypatch.setattr(api.upstream, "OPT_OUTS_RECHECK", 0.0)
    settings = make_settings(instances=(mastodon_server.url,), allow_private_addresses=True,
                             lake=str(tmp_path / "lake"))
    lake = open_lake(settings.lake)
    live = live_api(settings)
    author = live.get("/v1/timelines/public", params=_params(mastodon_server)).json()["records"][0]["data"]["account"]
    acct = next(a["acct"] for a in mastodon_server.accounts()
                if policy_from_settings(settings).account_key(a["acct"], mastodon_server.domain) == author["acct"])
    assert mastodon_server.set_account_note(acct, "<p>Please leave me out #nobot</p>") > 0
    live.get("/v1/timelines/public", params=_params(mastodon_server))
    live.get("/v1/timelines/public", params=_params(mastodon_server))
    assert len(pending_opt_outs(lake)[1]) == 1  # pending: not noted twice
    apply_opt_outs(lake)  # a curation applied it
    assert pending_opt_outs(lake) == (set(), [])
    live.get("/v1/timelines/public", params=_params(mastodon_server))
    assert pending_opt_outs(lake)[0] == {author["acct"]}


def test_an_unreadable_suppression_list_is_503_not_a_leak(mastodon_server: Any, live_api: Callable[..., LiveApi],
                                                          tmp_path: Any) -> None:
    lake = tmp_path / "lake"
    (lake / "_state").mkdir(parents=True)
    (lake / "_state" / "suppressed.json").write_text("{not json")
    live = live_api(make_settings(instances=(mastodon_server.url,), allow_private_addresses=True, lake=str(lake)))
    assert_error(live.get("/v1/timelines/public", params=_params(mastodon_server)), 503, "lake_unavailable")
    assert mastodon_server.requests_to("/api/v1/timelines") == []


def _spend(double: Any, requests_count: int) -> None:
    for _ in range(requests_count):
        requests.get(double.url + "/api/v1/instance", timeout=5)


def test_a_nearly_spent_upstream_budget_does_not_hold_the_request(live_api: Callable[..., LiveApi]) -> None:
    """The collector spreads its last requests over the window; inside an API request that would be a sleep of
    minutes, so the API does not pace: the account route (lookup + statuses) answers at once."""
    with MastodonDouble(ratelimit_limit=20) as double:
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        _spend(double, 17)  # the lookup leaves 2 of 20: below the collector's pacing threshold
        started = time.monotonic()
        response = live.get(f"/v1/accounts/{ACCOUNT}/statuses", params=_params(double, limit=3))
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 5


def test_a_spent_upstream_budget_is_429_with_the_window_reset(live_api: Callable[..., LiveApi]) -> None:
    with MastodonDouble(ratelimit_limit=20, ratelimit_window=120) as double:
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        _spend(double, 19)  # the lookup spends the last one
        started = time.monotonic()
        response = live.get(f"/v1/accounts/{ACCOUNT}/statuses", params=_params(double))
        assert time.monotonic() - started < 5
        assert_error(response, 429, "upstream_rate_limited")
        assert 100 <= int(response.headers["Retry-After"]) <= 121
