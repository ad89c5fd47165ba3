"""API keys: 401 without or with a wrong key, several keys at once (rotation), read-only keys, constant time,
and keys never written to the log."""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from api_testing import KEY, OFFLINE_DOMAIN, OLD_KEY, RO_KEY, LiveApi, assert_error, make_settings, serve_app
from flask import jsonify

from api import auth, create_app
from api.routes import ROUTES
from fediscope.errors import ConfigError

PROTECTED = [r for r in ROUTES if not r.public]


def _concrete(path: str) -> str:
    return path.replace("<tag>", "python").replace("<acct>", "Gargron")


@pytest.mark.parametrize("route", PROTECTED, ids=[r.endpoint for r in PROTECTED])
@pytest.mark.parametrize("key", [None, "", "wrong-key-0123456789abcdef", KEY.upper(), KEY + " ", KEY[:-1],
                                 RO_KEY + ":ro", "wrong-key-0123456789abcdef, wrong-key-0123456789abcdef"])
def test_missing_or_wrong_key_is_401(checked: LiveApi, route: Any, key: str | None) -> None:
    response = checked.get(_concrete(route.path), key=key, params={"instance": OFFLINE_DOMAIN})
    error = assert_error(response, 401, "unauthorized")
    assert "X-API-Key" in error["message"]


def test_a_key_sent_with_its_ro_suffix_is_401_saying_to_send_it_without(checked: LiveApi) -> None:
    """``FEDISCOPE_API_KEY`` marks a read-only key ``secret:ro``; clients send ``secret``. A client (a NiFi ``api_key``)
    given the entry as written was told only "missing or unknown API key", and every page was quarantined. The hint
    depends on what was sent alone (any value ending in ``:ro`` gets it), so it tells nothing about the keys."""
    for sent in (RO_KEY + ":ro", "wrong-key-0123456789abcdef:ro"):
        error = assert_error(checked.get("/v1/instance", key=sent, params={"instance": OFFLINE_DOMAIN}), 401,
                             "unauthorized")
        assert "without the ':ro'" in error["message"] and RO_KEY not in error["message"]
    error = assert_error(checked.get("/v1/instance", key="wrong-key-0123456789abcdef",
                                     params={"instance": OFFLINE_DOMAIN}), 401, "unauthorized")
    assert ":ro" not in error["message"]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.public], ids=lambda r: r.endpoint)
def test_public_routes_need_no_key(checked: LiveApi, route: Any) -> None:
    assert checked.get(route.path, key=None).status_code == 200


def test_rotation_old_and_new_keys_work_together_then_the_old_one_is_removed(
        mastodon_server: Any, live_api: Callable[..., LiveApi]) -> None:
    both = live_api(make_settings(api_key=(OLD_KEY, KEY), instances=(mastodon_server.url,),
                                  allow_private_addresses=True))
    for key in (OLD_KEY, KEY):
        assert both.get("/v1/instance", key=key, params={"instance": mastodon_server.domain}).status_code == 200
    rotated = live_api(make_settings(api_key=(KEY,), instances=(mastodon_server.url,),
                                     allow_private_addresses=True))
    assert rotated.get("/v1/instance", key=KEY, params={"instance": mastodon_server.domain}).status_code == 200
    assert_error(rotated.get("/v1/instance", key=OLD_KEY, params={"instance": mastodon_server.domain}), 401)


def test_read_only_keys_are_refused_on_write_methods() -> None:
    """Every current route is a read route; the ':ro' check works on the method, so a future write route is
    covered without anything to remember. Proved here with a write route added to a test app."""
    app = create_app(make_settings())
    app.add_url_rule("/v1/probe", "probe", lambda: jsonify({"written": True}), methods=["POST", "DELETE"])
    with serve_app(app) as live:
        for method in ("POST", "DELETE"):
            refused = live.http.request(method, f"{live.url}/v1/probe", headers={"X-API-Key": RO_KEY}, timeout=10)
            error = assert_error(refused, 403, "read_only_key")
            assert RO_KEY not in error["message"]
            allowed = live.http.request(method, f"{live.url}/v1/probe", headers={"X-API-Key": KEY}, timeout=10)
            assert allowed.status_code == 200 and allowed.json() == {"written": True}
        assert_error(live.http.post(f"{live.url}/v1/probe", timeout=10), 401)


def test_every_route_is_a_read_route() -> None:
    app = create_app(make_settings())
    for rule in app.url_map.iter_rules():
        assert set(rule.methods or ()) <= auth.READ_METHODS, rule


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every configured key is compared (no early exit) with hmac.compare_digest on equal-length digests."""
    ring = auth.KeyRing((KEY, OLD_KEY, RO_KEY + ":ro"))
    calls: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    assert ring.match(KEY).label == "key#1"
    assert ring.match(RO_KEY).read_only
    assert ring.match("x") is None
    assert len(calls) == 9
    assert {len(a) for a, b in calls} == {len(b) for a, b in calls} == {32}


def test_key_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="FEDISCOPE_API_KEY"):
        create_app(make_settings(api_key=()))
    with pytest.raises(ConfigError, match="FEDISCOPE_API_KEY entry 2 is empty"):
        auth.KeyRing((KEY, ":ro"))
    # settings made in code are not parsed: a key no X-API-Key header can carry is refused here too
    with pytest.raises(ConfigError, match="FEDISCOPE_API_KEY is invalid: key #2 ") as info:
        create_app(make_settings(api_key=(KEY, "clé-très-secrète-0123456789")))
    assert "clé" not in str(info.value)


def test_short_keys_are_reported_without_showing_them(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.auth"):
        auth.KeyRing(("short1",))
    assert "key#1" in caplog.text and "short1" not in caplog.text


def test_keys_and_tokens_never_reach_the_log(mastodon_server: Any, live_api: Callable[..., LiveApi],
                                             caplog: pytest.LogCaptureFixture) -> None:
    token = "upstream-access-token-zyxwvutsrq"
    settings = make_settings(instances=(mastodon_server.url,), allow_private_addresses=True,
                             tokens={mastodon_server.domain.replace(".", "_").replace(":", "_"): token})
    assert settings.token_for(mastodon_server.domain) == token
    with caplog.at_level(logging.DEBUG):
        live = live_api(settings)
        params = {"instance": mastodon_server.domain}
        live.get("/v1/instance", key=KEY, params=params)
        live.get("/v1/instance", key=RO_KEY, params=params)
        live.get("/v1/instance", key="guess-0123456789abcdef", params=params)
        mastodon_server.fail(status=401, times=1)
        live.get("/v1/instance/activity", key=KEY, params=params)
        mastodon_server.fail(status=500, times=5)
        live.get("/v1/instance/activity", key=KEY, params=params)
    text = caplog.text
    assert "key#1" in text  # the request log names the key by its label …
    for secret in (KEY, RO_KEY, OLD_KEY, "guess-0123456789abcdef", token):  # … and never by its value
        assert secret not in text


# -- X-API-Key sent more than once ---------------------------------------------------------------------------------
def _send(url: str, method: str, keys: list[str]) -> tuple[int, dict[str, Any]]:
    """A request carrying one ``X-API-Key`` line per entry of ``keys`` (http.client: requests cannot repeat a
    header); its status and JSON body."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(method, "/v1/probe")
        for key in keys:
            connection.putheader("X-API-Key", key)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    for secret in (KEY, OLD_KEY, RO_KEY, "wrong-key-0123456789abcdef"):
        assert secret not in body  # never echoed
    return response.status, json.loads(body)


@pytest.fixture
def probe() -> Any:
    """The app with a read and a write route that need a key (as every /v1 route does), served over HTTP."""
    app = create_app(make_settings())
    app.add_url_rule("/v1/probe", "probe", lambda: jsonify({"called": True}), methods=["GET", "POST"])
    with serve_app(app) as live:
        yield live


@pytest.mark.parametrize("keys", [[KEY, KEY], [KEY, KEY, KEY], [f"{KEY}, {KEY}"], [f"{KEY},{KEY}", KEY]])
def test_the_same_key_sent_more_than_once_is_accepted(probe: LiveApi, keys: list[str]) -> None:
    """Was 401: the server joins the header's lines with a comma (``key,key``), which matched no key. Some proxies
    duplicate headers; RFC 9110 section 5.3 makes two lines and one comma-joined line the same field."""
    assert _send(probe.url, "GET", keys) == (200, {"called": True})


@pytest.mark.parametrize("keys", [[KEY, OLD_KEY], [KEY, "wrong-key-0123456789abcdef"], [KEY, ""],
                                  [f"{KEY},{OLD_KEY}"], [KEY, KEY, OLD_KEY]])
def test_different_values_of_the_key_header_are_a_400_naming_the_header(probe: LiveApi, keys: list[str]) -> None:
    """Which key was meant cannot be told (and trying each would test several keys with one request): 400, whether
    the values are valid keys or not, and neither value in the answer."""
    status, body = _send(probe.url, "GET", keys)
    assert status == 400 and body["error"]["code"] == "repeated_api_key", body
    assert "X-API-Key" in body["error"]["message"] and "more than once" in body["error"]["message"]


def test_an_unknown_key_sent_twice_is_still_401(probe: LiveApi) -> None:
    status, body = _send(probe.url, "GET", ["wrong-key-0123456789abcdef"] * 2)
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_a_read_only_key_sent_twice_is_that_key(probe: LiveApi) -> None:
    assert _send(probe.url, "GET", [RO_KEY, RO_KEY]) == (200, {"called": True})
    status, body = _send(probe.url, "POST", [RO_KEY, RO_KEY])
    assert (status, body["error"]["code"]) == (403, "read_only_key")
