"""The rate-limit state the scraping API shares among its server threads, per instance: answers of requests sent
together arrive in any order. The order is set here by noting an answer late by hand (the client's own
``_note_rate_limit``, with the headers a real answer of the double carried), not by thread timing."""

from __future__ import annotations

from collections.abc import Callable

import requests
from api_testing import LiveApi, assert_error, make_settings
from doubles.mastodon_server import MastodonDouble


def test_an_answer_arriving_late_does_not_give_back_a_spent_budget(live_api: Callable[..., LiveApi]) -> None:
    """Request 1 is answered with 5 of 20 left; the API spends the rest, and its last answer says none are left; then
    request 1's answer arrives. Was: it set the state to 5 left, and the next request was sent (the instance answered
    429 itself). Now within one window the budget only goes down: the next request is held, unsent."""
    with MastodonDouble(ratelimit_limit=20) as double:
        live = live_api(make_settings(instances=(double.url,), allow_private_addresses=True))
        for _ in range(14):
            requests.get(double.url + "/api/v1/instance", timeout=5)
        early = requests.get(double.url + "/api/v1/instance", timeout=5)
        assert early.headers["X-RateLimit-Remaining"] == "5"
        for _ in range(4):
            requests.get(double.url + "/api/v1/instance", timeout=5)
        spent = live.get("/v1/timelines/public", params={"instance": double.domain})
        assert spent.status_code == 200, spent.text  # the last of 20

        upstream = live.app.extensions["fediscope_api"].upstream
        late = upstream.client(double.url)
        late._note_rate_limit(early.headers)
        late.close()
        sent = len(double.log)
        response = live.get("/v1/timelines/tag/python", params={"instance": double.domain})

        assert len(double.log) == sent
    assert_error(response, 429, "upstream_rate_limited")
