"""An instance found down is left alone for a while: its answers 502/503/504 (or none) outlasted the API's retry, so
every request for it is answered 503 ``upstream_down`` for ``DOWN_MEMORY`` seconds, unsent. The memory's clock is
set by hand (no waiting, nothing timed)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_testing import LiveApi, assert_error, make_settings
from doubles.mastodon_server import MastodonDouble

from api.upstream import DOWN_MEMORY

TIMELINE = "/api/v1/timelines/public"
FOREVER = 10**6
ROUTES = ("/v1/timelines/public", "/v1/timelines/tag/python", "/v1/instance", "/v1/trends/tags")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("status", [502, 503, 504])
def test_an_instance_found_down_is_not_asked_again_for_a_while(live_api: Callable[..., LiveApi],
                                                               status: int) -> None:
    """Was: every request for an instance answering 503 was sent, and retried once: a flow polling its sources hit
    the struggling server twice per source. Now, after one request's retry ran out, the others are answered 503
    ``upstream_down`` on every route, saying it was not asked, until the memory is over; then it is asked again. An
    instance answering 500 (one endpoint's bug, as the collector reads it) is not held, nor is another instance."""
    with MastodonDouble(statuses=5) as down, MastodonDouble(statuses=5) as buggy:
        live = live_api(make_settings(instances=(down.url, buggy.url), allow_private_addresses=True))
        clock = FakeClock()
        live.app.extensions["fediscope_api"].upstream.down.clock = clock
        down.fail(status, times=FOREVER)
        buggy.fail(500, times=FOREVER, path=TIMELINE)

        first = live.get("/v1/timelines/public", params={"instance": down.domain})
        assert_error(first, 502, "upstream_unavailable")
        assert len(down.log) == 2  # the request and its retry
        assert_error(live.get("/v1/timelines/public", params={"instance": buggy.domain}), 502, "upstream_unavailable")

        held = [live.get(path, params={"instance": down.domain}) for path in ROUTES]
        assert len(down.log) == 2
        for response in held:
            error = assert_error(response, 503, "upstream_down")
            assert response.headers["Retry-After"] == str(int(DOWN_MEMORY)) and error["retry_after"] == DOWN_MEMORY
            assert f"(HTTP {status})" in error["message"] and "not sent" in error["message"], error["message"]
        assert live.get("/v1/instance", params={"instance": buggy.domain}).status_code == 200

        clock.now += DOWN_MEMORY - 1
        assert live.get("/v1/instance", params={"instance": down.domain}).headers["Retry-After"] == "1"
        clock.now += 1
        assert_error(live.get("/v1/instance", params={"instance": down.domain}), 502, "upstream_unavailable")
        assert len(down.log) == 4

