"""How the app treats the request itself, before any resource runs: bodies, OPTIONS, the query string's encoding.

This API takes its parameters in the query string only, so a body (even one that fits the size cap) is refused
loudly instead of being ignored; OPTIONS is answered like the 405s (an ``Allow`` header); a percent-escape that
is not UTF-8 is refused instead of being read as literal text.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest
from api_testing import KEY, OFFLINE_DOMAIN, LiveApi, assert_error, make_settings

from api.app import MAX_BODY_BYTES, SECURITY_HEADERS


@pytest.mark.parametrize("body", [json.dumps({"limit": 5}).encode(), b"{not json", b"x"])
def test_a_get_with_a_body_is_400_not_ignored(checked: LiveApi, body: bytes) -> None:
    response = checked.get("/v1/timelines/public", params={"instance": OFFLINE_DOMAIN}, data=body,
                           headers={"Content-Type": "application/json"})
    error = assert_error(response, 400, "body_not_allowed")
    assert "query string" in error["message"]


def test_a_body_on_the_public_routes_is_refused_too(checked: LiveApi) -> None:
    assert_error(checked.get("/health", key=None, data=b"{}"), 400, "body_not_allowed")
    assert_error(checked.get("/v1/metrics", data=b"x" * MAX_BODY_BYTES), 400, "body_not_allowed")


def test_a_chunked_body_is_refused_too(checked: LiveApi) -> None:
    response = checked.get("/health", key=None, data=iter([b'{"a":', b"1}"]))  # no length: chunked
    assert_error(response, 400, "body_not_allowed")


def test_an_empty_body_is_no_body(checked: LiveApi) -> None:
    response = checked.get("/health", key=None, data=b"", headers={"Content-Length": "0"})
    assert response.status_code == 200, response.text


def test_the_body_cap_is_exactly_8_kib(checked: LiveApi) -> None:
    # the size passes (then the body itself is refused); one byte more does not
    assert_error(checked.get("/health", key=None, data=b"x" * MAX_BODY_BYTES), 400, "body_not_allowed")
    assert_error(checked.get("/health", key=None, data=b"x" * (MAX_BODY_BYTES + 1)), 413, "body_too_large")
    # routing comes first: a method the route does not take is 405 whatever the body
    at_cap = checked.http.post(f"{checked.url}/health", data=b"x" * MAX_BODY_BYTES, timeout=30)
    assert_error(at_cap, 405, "method_not_allowed")


@pytest.mark.parametrize(("path", "allowed"), [("/health", {"GET", "HEAD", "OPTIONS"}),
                                               ("/v1/metrics", {"GET", "HEAD", "OPTIONS"}),
                                               ("/v1/metrics/languages", {"GET", "HEAD", "OPTIONS"}),
                                               ("/v1/instance", {"GET", "OPTIONS"})])  # HEAD: test_api_head.py
def test_options_is_204_with_the_allow_header_of_the_405s(checked: LiveApi, path: str, allowed: set[str]) -> None:
    response = checked.http.options(f"{checked.url}{path}", timeout=30)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "Content-Type" not in response.headers  # was text/html; charset=utf-8: a 204 has no content to type
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    refused = checked.http.post(f"{checked.url}{path}", headers={"X-API-Key": KEY}, timeout=30)
    assert_error(refused, 405, "method_not_allowed")
    assert response.headers["Allow"] == refused.headers["Allow"]
    assert set(response.headers["Allow"].split(", ")) == allowed


def test_options_on_an_unknown_route_is_404(checked: LiveApi) -> None:
    assert_error(checked.http.options(f"{checked.url}/v2/nothing", timeout=30), 404, "not_found")


@pytest.mark.parametrize(("query", "parameter"), [
    ("instance=allowed.example&max_id=%ff", "max_id"),
    ("instance=%c3%28", "instance"),
    ("instance=allowed.example&limit=%80", "limit"),
])
def test_percent_escapes_that_are_not_utf8_are_400(checked: LiveApi, query: str, parameter: str) -> None:
    response = checked.http.get(f"{checked.url}/v1/instance?{query}", headers={"X-API-Key": KEY}, timeout=30)
    error = assert_error(response, 400, "invalid_parameter", parameter)
    assert "UTF-8" in error["message"]


def test_utf8_percent_escapes_are_read(checked: LiveApi) -> None:
    # a valid escape reaches the parameter check (here: a tag of Mastodon's charset, é), which reads it as text
    response = checked.get("/v1/timelines/tag/caf%C3%A9", params={"instance": "elsewhere.example"})
    assert_error(response, 403, "instance_not_allowed")


def test_unauthenticated_requests_are_still_401_first(checked: LiveApi) -> None:
    response: Any = checked.http.get(f"{checked.url}/v1/instance?instance=%ff", timeout=30)
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("path", ["/v1//metrics", "/v1//analyses", "/v1/metrics//languages", "/v1/timelines//public",
                                  "/v1/instance//"])
@pytest.mark.parametrize("key", [None, KEY])
def test_a_path_with_doubled_slashes_is_a_json_404_not_a_redirect(checked: LiveApi, path: str,
                                                                  key: str | None) -> None:
    """Flask merged the slashes with a 308 to the route, answered in HTML without asking for a key."""
    response = checked.get(path, key=key, params={"instance": OFFLINE_DOMAIN}, allow_redirects=False)
    assert_error(response, 404, "not_found")
    assert "Location" not in response.headers and "<" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_any_routing_redirect_is_a_json_404(live_api: Callable[..., LiveApi]) -> None:
    """A rule ending in a slash makes werkzeug redirect its path without the slash (no route of the API does)."""
    live = live_api(make_settings())
    live.app.add_url_rule("/with-slash/", "with_slash", lambda: "unreachable")
    response = live.get("/with-slash", allow_redirects=False)
    assert_error(response, 404, "not_found")
    assert "Location" not in response.headers and "<" not in response.text


@pytest.mark.parametrize(("path", "parameter", "shown"), [
    ("/v1/metrics/%ff", "name", "%ff"),
    ("/v1/metrics/a%ffb%C3%A9", "name", "a%ffb%C3%A9"),
    ("/v1/analyses/%c3%28", "name", "%c3%28"),
    ("/v1/timelines/tag/caf%e9?instance=" + OFFLINE_DOMAIN, "tag", "caf%e9"),
    ("/v1/accounts/%ff/statuses?instance=" + OFFLINE_DOMAIN, "acct", "%ff"),
    ("/v1/metrics/" + "%ff" * 30, "name", "%ff" * 21 + "%"),
])
def test_a_path_parameter_that_is_not_utf8_is_quoted_as_sent(checked: LiveApi, path: str, parameter: str,
                                                             shown: str) -> None:
    """The message quotes the escapes the client sent (``'%ff'``), as far as that parameter is quoted (a ``name`` its
    first 64 characters, then ``…``), with the reason: was ``got '\\ufffd'``, the replacement character werkzeug
    decodes such a byte to, which the client never sent. Sent raw: requests writes ``%FF`` for ``%ff``."""
    connection = http.client.HTTPConnection(checked.url.removeprefix("http://"), timeout=30)
    try:
        connection.request("GET", path, headers={"X-API-Key": KEY})
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 400, body
    error = body["error"]
    assert (error["code"], error["parameter"]) == ("invalid_parameter", parameter)
    assert error["message"].startswith(f"{parameter} is not UTF-8 once its percent-escapes are decoded (got "
                                       f"{shown!r}"), error["message"]
    assert "\ufffd" not in error["message"]


def test_a_path_parameter_holding_the_replacement_character_itself_is_quoted_as_that(checked: LiveApi) -> None:
    """U+FFFD sent as its UTF-8 escapes is a character like any other: the route's own check quotes it."""
    error = assert_error(checked.get("/v1/metrics/%EF%BF%BD"), 400, "invalid_parameter", "name")
    assert error["message"].endswith("got '\ufffd')"), error["message"]
