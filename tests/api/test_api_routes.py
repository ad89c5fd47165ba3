"""Every records route over real HTTP against the recorded Mastodon double.

The API must land exactly what the collector lands: each test fetches the same page a second time with the
collector's own client (Mastodon.py underneath) and ``land_page``, and compares the records.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
import requests
from api_testing import KEY, RO_KEY, LiveApi, assert_error, make_settings
from doubles.mastodon_server import MastodonDouble

from fediscope.privacy import policy_from_settings
from fediscope.sources.client import MastodonClient
from fediscope.sources.pages import fetch_page, land_page
from fediscope.sources.spec import SourceRef, parse_source

TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"  # the recorded hashtag most statuses carry
ACCOUNT = "mastodonpy_test_2"

CASES = [
    ("/v1/timelines/public", {}, SourceRef("public")),
    ("/v1/timelines/public", {"local": "true"}, SourceRef("local")),
    ("/v1/timelines/public", {"local": "false"}, SourceRef("public")),
    (f"/v1/timelines/tag/{TAG}", {}, parse_source(f"tag:{TAG}")),
    (f"/v1/accounts/{ACCOUNT}/statuses", {}, parse_source(f"account:{ACCOUNT}")),
    ("/v1/instance", {}, SourceRef("instance")),
    ("/v1/instance/activity", {}, SourceRef("instance_activity")),
    ("/v1/trends/tags", {}, SourceRef("trends_tags")),
]


def _without_fetch_time(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for record in records:
        meta = {k: v for k, v in record["meta"].items() if k != "fetched_at"}
        out.append({"meta": meta, "data": record["data"]})
    return out


def _collector_records(double: Any, source: SourceRef, **paging: Any) -> list[dict[str, Any]]:
    client = MastodonClient(double.url, max_retries=0)
    page = fetch_page(client, source, **paging)
    return land_page(page, policy_from_settings(make_settings()), double.domain).records


@pytest.mark.parametrize(("path", "extra", "source"), CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_route_lands_what_the_collector_lands(api: LiveApi, mastodon_server: Any, path: str,
                                              extra: dict[str, str], source: SourceRef) -> None:
    response = api.get(path, params={"instance": mastodon_server.domain, "limit": 5, **extra})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["count"] == len(body["records"]) > 0
    assert body["instance"] == mastodon_server.domain
    assert body["source"] == source.name
    assert body["quarantined"] == 0
    for record in body["records"]:
        assert record["meta"]["instance"] == mastodon_server.domain
        assert record["meta"]["fetched_at"].endswith("Z")
    expected = _collector_records(mastodon_server, source, limit=5)
    assert _without_fetch_time(body["records"]) == _without_fetch_time(expected)


def test_timeline_page_size_cursors_and_link_header(api: LiveApi, mastodon_server: Any) -> None:
    newest = [s["id"] for s in mastodon_server.public_statuses()]
    response = api.get("/v1/timelines/public", params={"instance": mastodon_server.domain, "limit": 7})
    body = response.json()
    ids = [r["data"]["id"] for r in body["records"]]
    assert ids == newest[:7]
    assert body["next"] == {"max_id": newest[6]}
    assert body["prev"] == {"min_id": newest[0]}
    links = requests.utils.parse_header_links(response.headers["Link"])
    by_rel = {link["rel"]: link["url"] for link in links}
    assert by_rel["next"].startswith(api.url + "/v1/timelines/public?")
    assert f"max_id={newest[6]}" in by_rel["next"] and "limit=7" in by_rel["next"]
    assert f"min_id={newest[0]}" in by_rel["prev"]


def test_walking_link_headers_returns_every_status_once(api: LiveApi, mastodon_server: Any) -> None:
    """What a NiFi InvokeHTTP loop does: follow rel="next" until there is none."""
    url: str | None = f"{api.url}/v1/timelines/public?instance={mastodon_server.domain}&limit=40"
    seen: list[str] = []
    pages = 0
    while url:
        response = api.http.get(url, headers={"X-API-Key": KEY}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [r["data"]["id"] for r in body["records"]]
        next_links = [link["url"] for link in requests.utils.parse_header_links(response.headers.get("Link", ""))
                      if link.get("rel") == "next"]
        assert (body["next"] is None) == (not next_links)
        url = next_links[0] if next_links else None
        pages += 1
        assert pages < 10
    assert seen == [s["id"] for s in mastodon_server.public_statuses()]


def test_walking_link_headers_from_since_id_stops_at_it(api: LiveApi, mastodon_server: Any) -> None:
    """A walk down to a checkpoint (``since_id``, as the NiFi flow and ``fediscope collect`` keep one) by the
    ``Link`` header ends at the checkpoint, as the body's cursors do with the client's own ``since_id``: the
    ``rel="next"`` URL keeps it. Without it the walk went on past the checkpoint to the oldest status, asking the
    instance for every page of the timeline again."""
    newest = [s["id"] for s in mastodon_server.public_statuses()]
    assert len(newest) > 20
    url: str | None = (f"{api.url}/v1/timelines/public?instance={mastodon_server.domain}&limit=5"
                       f"&since_id={newest[12]}")
    seen: list[str] = []
    for _ in range(len(newest)):
        if url is None:
            break
        response = api.http.get(url, headers={"X-API-Key": KEY}, timeout=30)
        assert response.status_code == 200, response.text
        seen += [r["data"]["id"] for r in response.json()["records"]]
        next_links = [link["url"] for link in requests.utils.parse_header_links(response.headers.get("Link", ""))
                      if link.get("rel") == "next"]
        url = next_links[0] if next_links else None
    assert seen == newest[:12]


def _retag(double: Any, name: str) -> list[str]:
    """Rename the recorded hashtag most statuses carry to ``name`` on the double's statuses (the recordings hold
    ASCII tags only); the ids of the statuses carrying it, newest first."""
    ids = []
    for status in double.public_statuses():
        for tag in status.get("tags") or []:
            if tag["name"] == TAG:
                tag["name"] = name
                ids.append(status["id"])
    return ids


@pytest.mark.parametrize("tag", ["日本", "café", "a·b", "हिन्दी", "தமிழ்"])
def test_a_non_ascii_hashtag_pages_by_a_percent_encoded_link(api: LiveApi, mastodon_server: Any, tag: str) -> None:
    """The Link header is a URI (header values are ASCII; 日本 made the server fail, é went out as a raw byte), and
    following it gives the next page, as the body's ``next`` says."""
    ids = _retag(mastodon_server, tag)
    assert len(ids) >= 6
    url: str | None = f"{api.url}/v1/timelines/tag/{quote(tag)}?instance={mastodon_server.domain}&limit=2"
    seen: list[str] = []
    for _ in range(3):
        assert url is not None
        response = api.http.get(url, headers={"X-API-Key": KEY}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["source"] == f"tag:{tag}"
        seen += [r["data"]["id"] for r in body["records"]]
        assert response.headers["Link"].isascii(), response.headers["Link"]
        by_rel = {link["rel"]: link["url"] for link in requests.utils.parse_header_links(response.headers["Link"])}
        url = by_rel["next"]
        assert url.startswith(f"{api.url}/v1/timelines/tag/{quote(tag)}?")
        assert f"max_id={body['next']['max_id']}" in url and body["next"]["max_id"] == seen[-1]
    assert seen == ids[:6]


def test_since_id_and_min_id_page_forward(api: LiveApi, mastodon_server: Any) -> None:
    newest = [s["id"] for s in mastodon_server.public_statuses()]
    since = api.get("/v1/timelines/public", params={"instance": mastodon_server.domain, "since_id": newest[10]})
    assert [r["data"]["id"] for r in since.json()["records"]] == newest[:10]
    above = api.get("/v1/timelines/public", params={"instance": mastodon_server.domain, "min_id": newest[10],
                                                    "limit": 3})
    assert [r["data"]["id"] for r in above.json()["records"]] == newest[7:10]
    caught_up = api.get("/v1/timelines/public", params={"instance": mastodon_server.domain, "min_id": newest[0]})
    body = caught_up.json()
    assert body["records"] == [] and body["count"] == 0 and body["next"] is None
    assert "Link" not in caught_up.headers


def test_no_original_account_identifier_in_any_answer(api: LiveApi, mastodon_server: Any) -> None:
    """The privacy policy applies: scan the records of every route for the accounts' real identifiers.

    (The answer's ``source`` and ``Link`` echo the account the client itself named; the records never do.)
    """
    identifiers = {i for i in mastodon_server.account_identifiers() if len(i) >= 5}
    assert identifiers
    for path, extra, _source in CASES:
        body = api.get(path, params={"instance": mastodon_server.domain, **extra}).json()
        text = json.dumps(body["records"], ensure_ascii=False)
        leaked = {i for i in identifiers if i in text}
        assert not leaked, (path, leaked)


def test_read_only_key_reads_every_route(api: LiveApi, mastodon_server: Any) -> None:
    for path, extra, _source in CASES:
        response = api.get(path, key=RO_KEY, params={"instance": mastodon_server.domain, "limit": 2, **extra})
        assert response.status_code == 200, (path, response.text)


def test_trending_tags_page_by_offset_as_the_collector_walks_them(api: LiveApi, mastodon_server: Any) -> None:
    """Was: one page of at most 20 tags, and ``offset`` refused: the tags after the first page could not be had."""
    mastodon_server.add_trending_tags(25 - len(mastodon_server.tags))
    names, params, pages = [], {"instance": mastodon_server.domain, "limit": 10}, 0
    while True:
        response = api.get("/v1/trends/tags", params=params)
        body = response.json()
        assert response.status_code == 200 and body["prev"] is None, response.text
        names += [r["data"]["name"] for r in body["records"]]
        pages += 1
        if body["next"] is None:
            assert "Link" not in response.headers
            break
        link = requests.utils.parse_header_links(response.headers["Link"])[0]
        assert link["rel"] == "next" and f"offset={body['next']['offset']}" in link["url"]
        assert _without_fetch_time(body["records"]) == _without_fetch_time(
            _collector_records(mastodon_server, SourceRef("trends_tags"), offset=params.get("offset"), limit=10))
        params = {**params, "offset": body["next"]["offset"]}
    assert pages == 3 and names == [t["name"] for t in mastodon_server.tags]


def test_trending_tags_of_mastodon_3_4_are_one_page(live_api: Any) -> None:
    """``/api/v1/trends`` takes no offset: no ``next`` (it would answer the first page again)."""
    with MastodonDouble(statuses=5, trends_offset=False) as old:
        old.add_trending_tags(25 - len(old.tags))
        api = live_api(make_settings(instances=(old.url,), allow_private_addresses=True))
        response = api.get("/v1/trends/tags", params={"instance": old.domain, "limit": 10})
    body = response.json()
    assert response.status_code == 200 and body["next"] is None and "Link" not in response.headers
    assert [r["data"]["name"] for r in body["records"]] == [t["name"] for t in old.tags[:10]]


def test_unknown_account_is_404(api: LiveApi, mastodon_server: Any) -> None:
    response = api.get("/v1/accounts/nobody_here/statuses", params={"instance": mastodon_server.domain})
    error = assert_error(response, 404, "upstream_not_found")
    assert "account nobody_here was not found" in error["message"]


@pytest.mark.parametrize(("path", "endpoint"), [("/v1/instance/activity", "/api/v1/instance/activity"),
                                              ("/v1/trends/tags", "/api/v1/trends/tags"),
                                              ("/v1/timelines/public", "/api/v1/timelines/public")])
def test_an_endpoint_the_instance_does_not_serve_is_404_naming_it(api: LiveApi, mastodon_server: Any, path: str,
                                                                  endpoint: str) -> None:
    """Was: "instance_activity was not found on <host>" (the source's internal name, as if something called
    instance_activity were missing), for an instance that answers 404 to an endpoint its admins turned off."""
    mastodon_server.fail(status=404, times=1, path=endpoint)
    error = assert_error(api.get(path, params={"instance": mastodon_server.domain}), 404, "upstream_not_found")
    assert endpoint in error["message"] and "404" in error["message"], error
    assert "instance_activity was" not in error["message"] and "public was" not in error["message"]


def test_health_and_openapi_need_no_key(api: LiveApi) -> None:
    assert api.get("/health", key=None).json() == {"status": "ok"}
    document = api.get("/openapi.json", key=None).json()
    assert document["openapi"].startswith("3.")
