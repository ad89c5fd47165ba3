"""An instance's own account id names the person through its public API (``/api/v1/accounts/:id``): the lake holds
only its pseudonym, and the messages of a failed ``account:`` source (summary, ``--json``, logs) name the path's
template instead."""

from __future__ import annotations

import logging

import pytest

from fediscope.sources.client import (
    MastodonClient,
    RateLimited,
    RedirectRefused,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from fediscope.sources.collector import run_collection
from fediscope.sources.redirects import RedirectElsewhere
from fediscope.sources.spec import parse_source

HANDLE = "mastodonpy_test_2"


def _account_id(server) -> str:
    return next(str(a["id"]) for a in server.accounts() if a.get("acct") == HANDLE)


def test_a_failed_account_source_names_no_account_id(mastodon_server, make_settings, caplog) -> None:
    """Was: ``127.0.0.1:…/api/v1/accounts/109…/statuses: HTTP 500 (gave up after 2 attempts)`` in the summary
    line, ``--json`` and the WARNING (and the INFO line of each retry's wait), the scraping API's log alike."""
    account_id = _account_id(mastodon_server)
    mastodon_server.fail(500, times=10, path=f"/api/v1/accounts/{account_id}/statuses")
    with caplog.at_level(logging.DEBUG):
        summary = run_collection(make_settings(max_retries=1),
                                 [(mastodon_server.url, parse_source(f"account:{HANDLE}"))], progress=False)
    (failed,) = summary.failed
    assert "/api/v1/accounts/:id/statuses: HTTP 500" in failed.error, failed.error
    # fediscope's own lines (urllib3's DEBUG lines, which fediscope's logging setup does not show, name every URL)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("fediscope"))
    assert "waiting" in logged  # the retry's wait was logged, without the id
    for text in (failed.error, summary.line(), str(summary.to_dict()), logged):
        assert account_id not in text


@pytest.mark.parametrize("fault", ["not_found", "throttled", "unavailable"])
def test_the_client_names_an_account_path_by_its_template(mastodon_server, fault: str) -> None:
    account_id = _account_id(mastodon_server)
    path = f"/api/v1/accounts/{account_id}/statuses"
    expected: type[Exception] = UpstreamUnavailable
    if fault == "not_found":
        mastodon_server.fail(404, path=path)
        expected = UpstreamNotFound
    elif fault == "throttled":
        mastodon_server.throttle(reset_in=60, path=path)
        expected = RateLimited
    else:
        mastodon_server.fail(503, times=5, path=path)
    client = MastodonClient(mastodon_server.url, backoff_base=0.01, timeout=2.0, max_retries=1, max_wait=1.0)
    with pytest.raises(expected) as raised:
        client.get(path, {"limit": 5})
    assert f"{mastodon_server.domain}/api/v1/accounts/:id/statuses:" in str(raised.value)
    assert account_id not in str(raised.value)
    # the lookup by handle and the other endpoints are named as they are
    assert MastodonClient(mastodon_server.url).get("/api/v1/accounts/lookup", {"acct": HANDLE}).status == 200


def test_a_redirect_of_an_account_request_to_an_invalid_address_names_neither_the_id_nor_the_handle(
        mastodon_server) -> None:
    """Was: ``the instance redirects to an invalid address (http://127.0.0.1:99999/api/v1/accounts/109…/statuses?
    limit=5): not followed``, the id (and for a lookup ``?acct=`` the handle) in the quoted target. The target is
    shown as a request's path is, and the lookup's handle as ``:acct``; the rest of the URL as it is."""
    account_id = _account_id(mastodon_server)
    path = f"/api/v1/accounts/{account_id}/statuses"
    mastodon_server.redirect("http://127.0.0.1:99999", times=10, path="/api/v1/accounts/")  # path and query kept
    client = MastodonClient(mastodon_server.url, backoff_base=0.01, timeout=2.0, max_retries=1)
    with pytest.raises(RedirectRefused) as raised:
        client.get(path, {"limit": 5})
    assert str(raised.value) == (f"{mastodon_server.domain}/api/v1/accounts/:id/statuses: the instance redirects to "
                                 "an invalid address (http://127.0.0.1:99999/api/v1/accounts/:id/statuses?limit=5): "
                                 "not followed")
    with pytest.raises(RedirectRefused) as raised:
        client.get("/api/v1/accounts/lookup", {"acct": f"{HANDLE}@{mastodon_server.domain}"})
    assert str(raised.value) == (f"{mastodon_server.domain}/api/v1/accounts/lookup: the instance redirects to an "
                                 "invalid address (http://127.0.0.1:99999/api/v1/accounts/lookup?acct=:acct): not "
                                 "followed")
    # the refusal's own text (an exception's chain in a traceback) neither
    elsewhere = RedirectElsewhere(mastodon_server.url + path, f"http://social.example{path}?acct={HANDLE}")
    assert str(elsewhere) == ("refused redirect from 127.0.0.1 to another host: "
                              "http://social.example/api/v1/accounts/:id/statuses?acct=:acct")
