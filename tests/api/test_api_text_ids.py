"""The scraping API in front of servers whose ids are text: GoToSocial (ULIDs), Pleroma and Akkoma (FlakeIds).

Was: ``since_id``/``max_id``/``min_id`` had to be digits, so the API dropped such a server's own paging cursors
(``next: null`` after the first page: a NiFi flow paging by the ``Link`` header stopped there, silently) and
refused them with a 400 when a client sent them back. The instance is the recorded Mastodon double serving its
REAL recorded statuses with text ids (tests/doubles/fediverse_ids.py), over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
import requests
from api_testing import KEY, OFFLINE_DOMAIN, LiveApi, assert_error, make_settings
from doubles.fediverse_ids import TextIdDouble

from api import params
from api.openapi import build_document

ULID = "01HQ7Z9W4Y6Q2J8X3M5N7P9R1T"
FLAKE_ID = "AbCdEf12345xyz"


@pytest.fixture(params=["ulid", "flake"])
def server(request: pytest.FixtureRequest) -> Iterator[TextIdDouble]:
    with TextIdDouble(request.param, statuses=45) as double:
        double.add_threads()
        yield double


@pytest.fixture
def api(server: TextIdDouble, live_api: Callable[..., LiveApi]) -> LiveApi:
    return live_api(make_settings(instances=(server.url,), allow_private_addresses=True))


def next_link(response: requests.Response) -> str | None:
    found = re.search(r'<([^>]*)>; rel="next"', response.headers.get("Link", ""))
    return found.group(1) if found else None


def served_ids(server: TextIdDouble) -> list[str]:
    return [server.text(s["id"]) for s in server.public_statuses()]


def test_paging_by_the_link_header_walks_the_whole_timeline(api: LiveApi, server: TextIdDouble) -> None:
    """A NiFi InvokeHTTP loop: each next page is the Link header's URL. Was: the first page only."""
    url: str | None = f"{api.url}/v1/timelines/public?instance={server.domain}&limit=10"
    seen: list[str] = []
    pages = 0
    while url is not None:
        response = api.http.get(url, headers={"X-API-Key": KEY}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [r["data"]["id"] for r in body["records"]]
        url = next_link(response)
        if url is not None:  # the JSON cursor is the Link header's
            assert f"max_id={body['next']['max_id']}" in url
        pages += 1
    assert seen == served_ids(server) and len(seen) == 49  # newest first, each once, down to the oldest
    assert pages >= 5


def test_the_json_cursors_are_taken_back(api: LiveApi, server: TextIdDouble) -> None:
    first = api.get("/v1/timelines/public", params={"instance": server.domain, "limit": 20}).json()
    assert first["next"] is not None and first["prev"] is not None  # was: both null
    older = api.get("/v1/timelines/public", params={"instance": server.domain, "limit": 20, **first["next"]})
    assert older.status_code == 200, older.text  # was: 400 "must be a Mastodon id: digits"
    assert [r["data"]["id"] for r in older.json()["records"]] == served_ids(server)[20:40]
    new = [server.text(s["id"]) for s in server.add_statuses(3)]
    newer = api.get("/v1/timelines/public", params={"instance": server.domain, **first["prev"]}).json()
    assert [r["data"]["id"] for r in newer["records"]] == new[::-1]
    since = api.get("/v1/timelines/public", params={"instance": server.domain, "since_id": first["prev"]["min_id"]})
    assert [r["data"]["id"] for r in since.json()["records"]] == new[::-1]


def test_an_account_s_statuses_page_by_text_ids(api: LiveApi, server: TextIdDouble) -> None:
    """The account's own id (a text id too) is looked up and sent on in the path; its cursors page it."""
    acct = server.public_statuses()[0]["account"]["acct"]
    route = f"/v1/accounts/{acct}/statuses"
    first = api.get(route, params={"instance": server.domain, "limit": 2})
    assert first.status_code == 200, first.text
    second = api.http.get(next_link(first) or "", headers={"X-API-Key": KEY}, timeout=30)
    ids = [r["data"]["id"] for page in (first, second) for r in page.json()["records"]]
    mine = [server.text(s["id"]) for s in server.public_statuses() if s["account"]["acct"] == acct]
    assert ids == mine[:4]


def test_replies_and_reblogs_keep_their_text_references(api: LiveApi, server: TextIdDouble) -> None:
    """The recorded reply and reblog (add_threads), landed by the API: references to their parents are the text
    ids the instance gave, and the reblogged status is the one on the timeline."""
    records = {r["data"]["id"]: r["data"] for r in
               api.get("/v1/timelines/public", params={"instance": server.domain, "limit": 4}).json()["records"]}
    reblog = next(s for s in records.values() if s.get("reblog"))
    assert reblog["reblog"]["id"] in records and records[reblog["reblog"]["id"]]["uri"] == reblog["reblog"]["uri"]
    reply = next(s for s in records.values() if s.get("in_reply_to_id"))
    assert reply["in_reply_to_id"] in records


def test_the_example_ids_of_each_server_are_taken(api: LiveApi, server: TextIdDouble) -> None:
    for value in (ULID, ULID.lower(), FLAKE_ID, "9ab1c2d3e4", "0" * 5 + "a", "z" * params.ID_MAX_LENGTH,
                  params.ID_MAX.__str__()):
        response = api.get("/v1/timelines/public", params={"instance": server.domain, "max_id": value})
        assert response.status_code == 200, (value, response.text)


JUNK = ["01HQ7Z9W4Y6Q2J8X3M5N7P9R1T-", "01HQ 7Z", "a_b", "a.b", "a/b", "a%2Fb", "ULİD", "ａbc", "a" * 65,
        ULID * 3, "a\n", "9223372036854775808"]


@pytest.mark.parametrize("value", JUNK)
def test_junk_ids_are_still_a_clear_400(checked: LiveApi, value: str) -> None:
    error = assert_error(checked.get("/v1/timelines/public", params={"instance": OFFLINE_DOMAIN, "since_id": value}),
                         400, "invalid_parameter", parameter="since_id")
    assert "ASCII letters and digits" in error["message"] and str(params.ID_MAX_LENGTH) in error["message"]
    assert len(error["message"]) < 400


@pytest.mark.parametrize("value", [ULID, FLAKE_ID, "0", "12a", "9223372036854775807", "", "1" * 20,
                                   *(j for j in JUNK if not j.endswith("\n"))])
def test_the_documented_pattern_is_the_enforced_one(value: str) -> None:
    """The OpenAPI schema of the id parameters (pattern, minLength, maxLength) takes exactly what the server takes.
    (jsonschema matches patterns with Python's ``re``, whose ``$`` also matches before a final line break, where
    ECMA's does not: a value ending in one is left out.)"""
    operation = build_document()["paths"]["/v1/timelines/public"]["get"]
    schema = next(p["schema"] for p in operation["parameters"] if p["name"] == "max_id")
    valid = jsonschema.Draft4Validator(schema).is_valid(value)
    assert valid == params.is_id(value), value


class OverfullPagesWithAStrayNumber(TextIdDouble):
    """GoToSocial answering twice the statuses asked for, the second of them with a malformed id: ``42``."""

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        return super()._page(path, {**params, "limit": str(2 * int(params.get("limit") or 20))}, pool)

    def _route(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        status, headers, body = super()._route(path, params)
        if path == "/api/v1/timelines/public" and isinstance(body, list) and len(body) > 1:
            body[1] = dict(body[1], id="42")
        return status, headers, body


def test_the_next_cursor_of_a_page_cut_to_the_limit_is_not_a_stray_number(live_api: Callable[..., LiveApi]) -> None:
    """The API keeps the statuses asked for and points ``next`` below the oldest kept. A number sorts below every
    text id (Pleroma's order), so the stray ``42`` among ULIDs was that oldest: ``next`` was ``max_id=42``, which
    GoToSocial reads as older than any status (the next page empty; everything below the page skipped)."""
    with OverfullPagesWithAStrayNumber("ulid", statuses=30) as server:
        api = live_api(make_settings(instances=(server.url,), allow_private_addresses=True))
        first = api.get("/v1/timelines/public", params={"instance": server.domain, "limit": 5}).json()
        ids = served_ids(server)
        assert [r["data"]["id"] for r in first["records"]] == [ids[0], "42", *ids[2:5]]
        assert first["next"] == {"max_id": ids[4]}  # was: {"max_id": "42"}
        second = api.get("/v1/timelines/public", params={"instance": server.domain, "limit": 5, **first["next"]})
        assert [r["data"]["id"] for r in second.json()["records"]] == [ids[5], "42", *ids[7:10]]
