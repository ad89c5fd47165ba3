"""Methods a route does not take: HEAD on the records routes, and what every 405 says.

HEAD on the records routes is 405 with ``Allow: GET, OPTIONS``, before the key, the rate limit or the instance.

Was: werkzeug adds HEAD to every route that takes GET and flask-restful answers it by running ``get``, so a HEAD
(curl -I, a monitor's probe, NiFi's InvokeHTTP set to HEAD) fetched the page from the instance, spending a request
of the instance's rate-limit budget and one of the key's, to send headers only. Answered without that fetch it could
not be what a GET answers (the status and ``Link`` are the instance's answer), so it is refused as a method the route
does not take. The routes that contact no instance keep HEAD. Served over real HTTP against the recorded Mastodon
double, whose log lists every request it got.

Every 405 names the methods the route takes in its message too (the NiFi flow quarantines a failed request with
its body, not its headers), and the OpenAPI document gives every 405 its ``Allow`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_testing import KEY, LiveApi, assert_error, make_settings

from api.routes import ROUTES

TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"  # the recorded hashtag most statuses carry
ACCOUNT = "mastodonpy_test_2"
#: one request path of each records route, by endpoint
RECORDS_PATHS = {
    "timeline_public": "/v1/timelines/public",
    "timeline_tag": f"/v1/timelines/tag/{TAG}",
    "account_statuses": f"/v1/accounts/{ACCOUNT}/statuses",
    "instance": "/v1/instance",
    "instance_activity": "/v1/instance/activity",
    "trends_tags": "/v1/trends/tags",
}


class FrozenClock:
    """The rate limiter's clock, standing still: no token comes back while the test runs."""

    def __call__(self) -> float:
        return 1000.0


def _head(live: LiveApi, path: str, **params: str) -> Any:
    return live.http.head(f"{live.url}{path}", params=params, headers={"X-API-Key": KEY}, timeout=30)


@pytest.mark.parametrize("endpoint", [route.endpoint for route in ROUTES if route.records])
def test_head_on_a_records_route_is_405_and_asks_the_instance_nothing(api: LiveApi, mastodon_server: Any,
                                                                       endpoint: str) -> None:
    path = RECORDS_PATHS[endpoint]
    response = _head(api, path, instance=mastodon_server.domain)
    assert response.status_code == 405, response.headers
    assert response.content == b""  # a HEAD's answer has no content, its 405 neither
    assert response.headers["Allow"] == "GET, OPTIONS"
    assert mastodon_server.log == []
    options = api.http.options(f"{api.url}{path}", timeout=30)
    assert options.status_code == 204 and options.headers["Allow"] == "GET, OPTIONS"
    assert api.get(path, params={"instance": mastodon_server.domain, "limit": 2}).status_code == 200  # GET fetches
    assert mastodon_server.log != []
    for other in ("/health", "/openapi.json", "/v1/analyses"):  # they ask no instance: HEAD is theirs
        response = _head(api, other)
        assert response.status_code == 200 and response.content == b"", other
        assert api.http.options(f"{api.url}{other}", timeout=30).headers["Allow"] == "GET, HEAD, OPTIONS"


def test_head_on_a_records_route_spends_none_of_the_keys_rate_limit(mastodon_server: Any,
                                                                    live_api: Callable[..., LiveApi]) -> None:
    live = live_api(make_settings(instances=(mastodon_server.url,), allow_private_addresses=True, api_rate_limit=1),
                    {"FEDISCOPE_CLOCK": FrozenClock()})
    params = {"instance": mastodon_server.domain, "limit": "2"}
    for _ in range(3):
        assert _head(live, "/v1/timelines/public", **params).status_code == 405
    assert live.get("/v1/timelines/public", params=params).status_code == 200  # the one token was still there
    assert_error(live.get("/v1/timelines/public", params=params), 429, "rate_limited")



@pytest.mark.parametrize(("path", "allowed"), [("/v1/instance", "GET, OPTIONS"),
                                               (f"/v1/accounts/{ACCOUNT}/statuses", "GET, OPTIONS"),
                                               ("/health", "GET, HEAD, OPTIONS"),
                                               ("/v1/metrics/languages", "GET, HEAD, OPTIONS")])
def test_a_405_names_the_methods_the_route_takes(checked: LiveApi, path: str, allowed: str) -> None:
    for method in ("POST", "DELETE", "PATCH"):
        response = checked.http.request(method, f"{checked.url}{path}", headers={"X-API-Key": KEY}, timeout=30)
        error = assert_error(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == allowed
        assert f"which takes {allowed} (the Allow header)" in error["message"]


def test_the_openapi_document_gives_every_405_its_allow_header(checked: LiveApi) -> None:
    document = checked.get("/openapi.json", key=None).json()
    records = {route.openapi_path for route in ROUTES if route.records}
    assert len(document["paths"]) == len(ROUTES)
    for path, operations in document["paths"].items():
        refused = operations["get"]["responses"]["405"]
        assert refused["headers"]["Allow"]["required"] is True, path
        assert ("HEAD is refused" in refused["description"]) == (path in records), path


@pytest.mark.parametrize("method", ["PROPFIND", "BREW", "FOO-BAR"])
@pytest.mark.parametrize("path", ["/v1/metrics", "/health", "/v1/instance", "/no/such/route"])
@pytest.mark.parametrize("key", [KEY, None], ids=["key", "no-key"])
def test_a_method_the_server_does_not_know_is_501_on_any_path(checked: LiveApi, method: str, path: str,
                                                               key: str | None) -> None:
    """RFC 9110 section 15.6.2: a method the server does not recognise is 501, whatever the path (was: 405 with an
    ``Allow`` on a route, 404 elsewhere); 405 is for a method it knows that the route does not take. Before the key."""
    headers = {"X-API-Key": key} if key else {}
    response = checked.http.request(method, f"{checked.url}{path}", headers=headers, timeout=30)
    error = assert_error(response, 501, "not_implemented")
    assert "Allow" not in response.headers
    assert error["message"] == (f"method '{method}' is not one this server implements; its routes take GET, HEAD, "
                                "OPTIONS: see /openapi.json")

