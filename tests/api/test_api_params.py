"""Every bad parameter on every route: 400 with the JSON error naming it, and no request reaches the instance.

These run against the ``checked`` API of conftest.py: its allowlisted instance is never contacted, and the
fixture fails the test if a request got as far as resolving it.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_testing import KEY, OFFLINE_DOMAIN, LiveApi, assert_error

RECORDS_ROUTES = ["/v1/timelines/public", "/v1/timelines/tag/python", "/v1/accounts/Gargron/statuses",
                  "/v1/instance", "/v1/instance/activity", "/v1/trends/tags"]

BAD_QUERY = [
    ("limit", "0"), ("limit", "41"), ("limit", "-1"), ("limit", "abc"), ("limit", "1.5"), ("limit", " 5"),
    ("limit", "1e1"), ("limit", "99999999999999999999"), ("limit", ""),
    # ids are digits (Mastodon) or ASCII letters and digits (ULIDs, FlakeIds: "12a" and "0x10" are ids), at most 64
    ("max_id", "12a-"), ("max_id", "-5"), ("max_id", "1" * 21), ("max_id", ""), ("max_id", "1 "), ("max_id", "a" * 65),
    # over Mastodon's 64-bit ids (PostgreSQL bigint): was sent on, and the instance's refusal came back as a 502
    ("max_id", "9223372036854775808"), ("since_id", "99999999999999999999"), ("min_id", "1" * 20),
    ("since_id", "0x_10"), ("since_id", "１２３"), ("min_id", "1.0"), ("min_id", "%"),
    ("instance", ""), ("instance", "https://user@host.example"), ("instance", "host.example/path"),
    ("instance", "host.example:99999"), ("instance", "host.example:0"), ("instance", "ftp://host.example"),
    ("instance", "host.example?x=1"), ("instance", "host..example"), ("instance", "-host.example"),
    ("instance", "[::1]:80"), ("instance", "host\n.example"), ("instance", "a" * 400),
]


def _query(name: str, value: str) -> dict[str, str]:
    return {"instance": OFFLINE_DOMAIN, name: value}


@pytest.mark.parametrize("path", RECORDS_ROUTES)
@pytest.mark.parametrize(("name", "value"), BAD_QUERY, ids=[f"{n}={v[:12]!r}" for n, v in BAD_QUERY])
def test_bad_query_parameter_is_400_naming_it(checked: LiveApi, path: str, name: str, value: str) -> None:
    response = checked.get(path, params=_query(name, value))
    assert_error(response, 400, "invalid_parameter", parameter=name)


@pytest.mark.parametrize("path", RECORDS_ROUTES)
def test_missing_instance_unknown_and_repeated_parameters(checked: LiveApi, path: str) -> None:
    assert_error(checked.get(path), 400, parameter="instance")
    unknown = checked.get(path, params={"instance": OFFLINE_DOMAIN, "max-id": "5"})
    error = assert_error(unknown, 400, parameter="max-id")
    assert "max_id" in error["message"]  # lists what is accepted
    repeated = checked.get(path + f"?instance={OFFLINE_DOMAIN}&limit=5&limit=6")
    assert_error(repeated, 400, parameter="limit")


@pytest.mark.parametrize("value", ["yes", "1", "TRUE", ""])
def test_local_flag_is_true_or_false_only(checked: LiveApi, value: str) -> None:
    response = checked.get("/v1/timelines/public", params={"instance": OFFLINE_DOMAIN, "local": value})
    assert_error(response, 400, parameter="local")


def test_local_flag_belongs_to_the_public_timeline_only(checked: LiveApi) -> None:
    response = checked.get("/v1/instance", params={"instance": OFFLINE_DOMAIN, "local": "true"})
    assert_error(response, 400, parameter="local")


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", " 5", "1e3", "100001", "9" * 30, "１２"])
def test_offset_is_a_whole_number_within_bounds(checked: LiveApi, value: str) -> None:
    response = checked.get("/v1/trends/tags", params={"instance": OFFLINE_DOMAIN, "offset": value})
    error = assert_error(response, 400, parameter="offset")
    assert "from 0 to 100000" in error["message"]


@pytest.mark.parametrize(("name", "value", "digits"), [("limit", "0040", 3), ("offset", "0000001", 6)])
def test_a_number_in_range_written_too_long_is_told_why(checked: LiveApi, name: str, value: str, digits: int) -> None:
    """Was: ``limit=0040`` was refused as "must be a whole number from 1 to 40", which it is; the message now says
    how many digits the number may be written with."""
    response = checked.get("/v1/trends/tags", params={"instance": OFFLINE_DOMAIN, name: value})
    error = assert_error(response, 400, parameter=name)
    assert f"written with at most {digits} digits (got {value!r})" in error["message"], error


@pytest.mark.parametrize("path", [p for p in RECORDS_ROUTES if p != "/v1/trends/tags"])
def test_offset_belongs_to_the_routes_paged_by_offset_only(checked: LiveApi, path: str) -> None:
    assert_error(checked.get(path, params={"instance": OFFLINE_DOMAIN, "offset": "10"}), 400, parameter="offset")


@pytest.mark.parametrize("tag", ["a-b", "%23python", "a%20b", "a.b", "x" * 101, "caf%C3%A9%21", "tag%0A"])
def test_bad_hashtag_is_400(checked: LiveApi, tag: str) -> None:
    response = checked.get(f"/v1/timelines/tag/{tag}", params={"instance": OFFLINE_DOMAIN})
    assert_error(response, 400, parameter="tag")


@pytest.mark.parametrize("tag", ["python", "caf%C3%A9", "%E6%97%A5%E6%9C%AC", "tag_1", "a%C2%B7b"])
def test_hashtags_in_mastodons_charset_are_accepted(api: LiveApi, mastodon_server: Any, tag: str) -> None:
    response = api.get(f"/v1/timelines/tag/{tag}", params={"instance": mastodon_server.domain})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("acct", ["a%20b", "user@@x", "%40", "u" * 31, "user@dom%21ain", "us.er", "user%0A",
                                  ".john@x.example", "john.@x.example", "u" * 65 + "@x.example"])
def test_bad_account_is_400(checked: LiveApi, acct: str) -> None:
    response = checked.get(f"/v1/accounts/{acct}/statuses", params={"instance": OFFLINE_DOMAIN})
    assert_error(response, 400, parameter="acct")


@pytest.mark.parametrize("acct", ["john.doe@pleroma.example", "jo-hn_d@x.example", "u" * 31 + "@x.example"])
def test_remote_accounts_named_as_mastodon_allows_are_asked_for(api: LiveApi, mastodon_server: Any,
                                                                acct: str) -> None:
    """A remote user name may hold ``.`` and ``-`` and be longer than a local one's 30 (Mastodon's USERNAME_RE for
    accounts of other servers); was 400. The instance is asked, and it has no such account here."""
    response = api.get(f"/v1/accounts/{acct}/statuses", params={"instance": mastodon_server.domain})
    error = assert_error(response, 404, "upstream_not_found")
    assert f"account {acct} was not found" in error["message"], error


def test_empty_path_parameter_is_404(checked: LiveApi) -> None:
    assert_error(checked.get("/v1/timelines/tag/", params={"instance": OFFLINE_DOMAIN}), 404, "not_found")
    assert_error(checked.get("/v1/accounts//statuses", params={"instance": OFFLINE_DOMAIN}), 404, "not_found")


def test_body_over_the_cap_is_413(checked: LiveApi) -> None:
    response = checked.http.get(f"{checked.url}/v1/instance", params={"instance": OFFLINE_DOMAIN},
                                headers={"X-API-Key": KEY}, data=b"x" * 20_000, timeout=30)
    assert_error(response, 413, "body_too_large")


def test_health_refuses_parameters_too(checked: LiveApi) -> None:
    assert_error(checked.get("/health", key=None, params={"x": "1"}), 400, parameter="x")


def test_unknown_route_and_method(checked: LiveApi) -> None:
    assert_error(checked.get("/v2/nothing"), 404, "not_found")
    response = checked.http.post(f"{checked.url}/v1/instance", headers={"X-API-Key": KEY}, timeout=30)
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/v1/instance", "/health", "/v1/metrics/top_toots"])
def test_a_long_unknown_parameter_is_not_echoed_whole(checked: LiveApi, path: str) -> None:
    """Was: the 400 repeated an unknown parameter's name in full, in its message and as ``parameter`` (15 KB of it
    for a 15 KB name), where every other message cuts what it quotes."""
    name = "x" * 15_000
    error = assert_error(checked.get(path, params={name: "1"}), 400, "invalid_parameter")
    assert error["parameter"] == "x" * 100
    assert len(error["message"]) < 400 and "unknown parameter 'xxx" in error["message"]


def test_the_largest_mastodon_id_is_taken(api: LiveApi, mastodon_server: Any) -> None:
    for value in ("9223372036854775807", "0009223372036854775", "0"):
        response = api.get("/v1/timelines/public", params={"instance": mastodon_server.domain, "max_id": value})
        assert response.status_code == 200, (value, response.text)
