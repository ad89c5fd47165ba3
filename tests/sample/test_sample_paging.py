"""Mastodon's id paging and Link headers, checked against a brute-force reference and the recordings."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from fediscope.sample.paging import (
    PageRequest,
    ParamError,
    link_header,
    offset_link_header,
    page_request,
    select,
    truthy,
)


def reference(ids: list[int], request: PageRequest) -> list[int]:
    """The SQL Mastodon runs, written naively: filter, order, limit (then reverse for min_id)."""
    rows = [i for i in ids if request.max_id is None or i < request.max_id]
    if request.min_id is not None:
        return sorted([i for i in rows if i > request.min_id])[: request.limit][::-1]
    rows = [i for i in rows if request.since_id is None or i > request.since_id]
    return sorted(rows, reverse=True)[: request.limit]


def test_select_matches_the_reference_on_random_requests() -> None:
    rng = random.Random(4)
    ids = sorted(rng.sample(range(1, 10_000), 300))
    for _ in range(3000):
        pick = lambda: rng.choice([None, rng.randrange(0, 10_001), rng.choice(ids)])  # noqa: E731
        request = PageRequest(limit=rng.randrange(0, 45), max_id=pick(), since_id=pick(), min_id=pick())
        assert select(ids, request) == reference(ids, request), request


def test_min_id_returns_the_page_just_above_and_since_id_the_newest() -> None:
    ids = list(range(1, 101))
    assert select(ids, PageRequest(limit=5, min_id=10)) == [15, 14, 13, 12, 11]
    assert select(ids, PageRequest(limit=5, since_id=10)) == [100, 99, 98, 97, 96]
    assert select(ids, PageRequest(limit=5, since_id=10, min_id=50)) == [55, 54, 53, 52, 51]  # min_id wins


def _recorded_link(recordings_dir: Path, recording: str, uri_part: str) -> tuple[str, list[str]]:
    for interaction in json.loads((recordings_dir / recording).read_text())["interactions"]:
        if interaction["request"]["method"] == "GET" and uri_part in interaction["request"]["uri"]:
            headers = interaction["response"]["headers"]
            body = interaction["response"]["body"]
            statuses = json.loads(body) if isinstance(body, str) else body
            return headers["link"][0], [s["id"] for s in statuses]
    raise AssertionError(uri_part)


@pytest.mark.parametrize("recording, uri_part, path, permitted", [
    ("test_public_tl.json", "timelines/public", "/api/v1/timelines/public", {}),
    ("test_timeline_disabled.json", "timelines/public?local=1&remote=1", "/api/v1/timelines/public",
     {"local": "1", "remote": "1"}),
    ("test_hashtag_tl.json", "timelines/tag/hoot", "/api/v1/timelines/tag/hoot", {}),
    ("test_fetch_remaining.json", "limit=10&max_id", "/api/v1/timelines/tag/"
     "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp", {"limit": "10"}),
])
def test_link_header_is_formatted_exactly_like_mastodon(recordings_dir: Path, recording: str, uri_part: str,
                                                         path: str, permitted: dict[str, str]) -> None:
    recorded, ids = _recorded_link(recordings_dir, recording, uri_part)
    assert link_header("http://localhost:3000", path, permitted, [int(i) for i in ids]) == recorded


def test_account_statuses_link_without_next(recordings_dir: Path) -> None:
    recorded, ids = _recorded_link(recordings_dir, "test_account_pinned.json", "statuses?pinned=1")
    header = link_header("http://localhost:3000", "/api/v1/accounts/117020565966271181/statuses",
                         {"pinned": "1"}, [int(i) for i in ids], has_next=False)
    assert header == recorded


def test_no_link_for_an_empty_page() -> None:
    assert link_header("http://x", "/p", {}, []) is None


def test_offset_links() -> None:
    assert offset_link_header("http://x", "/t", {"limit": "5"}, 0, 5, 5) == '<http://x/t?limit=5&offset=5>; rel="next"'
    assert offset_link_header("http://x", "/t", {}, 20, 10, 3) == '<http://x/t?offset=10>; rel="prev"'
    assert offset_link_header("http://x", "/t", {}, 0, 10, 3) is None


def test_page_request_parsing() -> None:
    assert page_request({}) == PageRequest(20)
    assert page_request({"limit": "100"}).limit == 40
    assert page_request({"limit": "-7", "max_id": "12"}) == PageRequest(7, max_id=12)
    for bad in ({"max_id": "a-b"}, {"min_id": "1e+5"}, {"limit": "many"}, {"max_id": "²"},  # "²".isdigit()
                {"since_id": "1" * 20}, {"max_id": "a" * 65}):
        with pytest.raises(ParamError):
            page_request(bad)


def test_an_id_of_another_servers_kind_is_read_as_mastodons_rails_reads_it() -> None:
    """Was: 400. Mastodon binds a text id as Rails casts text to an integer column: NULL when it does not start with
    a digit (a Pleroma FlakeId: no status is below or above it, the page is empty), else its leading digits (a
    GoToSocial ULID ``01HQ…`` is 1)."""
    ids = list(range(1, 101))
    assert select(ids, page_request({"max_id": "AbCdEf12345xyz"})) == []
    assert select(ids, page_request({"since_id": "AbCdEf12345xyz"})) == []
    assert select(ids, page_request({"min_id": "abc"})) == []
    assert page_request({"max_id": "01HQ7Z9W4Y6Q2J8X3M5N7P9R1T"}).max_id == 1
    assert select(ids, page_request({"since_id": "01HQ7Z9W4Y6Q2J8X3M5N7P9R1T", "limit": "3"})) == [100, 99, 98]
    assert page_request({"min_id": "1e5"}).min_id == 1


def test_truthy_follows_rails() -> None:
    assert all(truthy(v) for v in ("1", "true", "True", "on", "t"))
    assert not any(truthy(v) for v in (None, "", "0", "false", "off"))
