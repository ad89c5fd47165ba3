"""The sample instance over real HTTP on 127.0.0.1: paging, headers, errors, rate limits, Mastodon.py."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from mastodon import Mastodon

from fediscope.sample import shapes
from fediscope.sample.corpus import on_public_timeline
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer

Get = Callable[[str], Any]  # conftest.http_get: returns a Response (status, headers, body, json())
NEXT = re.compile(r'<([^>]+)>; rel="next"')
PREV = re.compile(r'<([^>]+)>; rel="prev"')


def walk(get: Get, url: str) -> tuple[list[str], int]:
    """Follow rel="next" links until an empty page or no next link; returns every id in order and the pages."""
    ids: list[str] = []
    pages = 0
    while True:
        response = get(url)
        assert response.status == 200
        page = [s["id"] for s in response.json()]
        if not page:
            assert "Link" not in response.headers
            return ids, pages
        pages += 1
        ids.extend(page)
        following = NEXT.search(response.headers["Link"])
        if following is None:
            return ids, pages
        url = following.group(1)


def test_paging_walks_the_whole_public_timeline_exactly_once(sample_server: SampleServer, http_get: Get) -> None:
    instance = sample_server.instance
    ids, pages = walk(http_get, f"{sample_server.url}/api/v1/timelines/public?limit=40")
    expected = [str(i) for i in sorted((int(s["id"]) for s in instance.statuses.values() if on_public_timeline(s)),
                                       reverse=True)]
    assert ids == expected  # every public status once, newest first
    assert pages == -(-len(expected) // 40)


def test_default_limit_is_20_and_max_40(sample_server: SampleServer, http_get: Get) -> None:
    assert len(http_get(f"{sample_server.url}/api/v1/timelines/public").json()) == 20
    assert len(http_get(f"{sample_server.url}/api/v1/timelines/public?limit=500").json()) == 40


def test_local_and_remote_timelines(sample_server: SampleServer, http_get: Get) -> None:
    instance = sample_server.instance
    local, _ = walk(http_get, f"{sample_server.url}/api/v1/timelines/public?local=true&limit=40")
    remote, _ = walk(http_get, f"{sample_server.url}/api/v1/timelines/public?remote=1&limit=40")
    assert local and remote
    assert {instance.domain_of(instance.statuses[int(i)]) for i in local} == {instance.home}
    assert instance.home not in {instance.domain_of(instance.statuses[int(i)]) for i in remote}
    first = http_get(f"{sample_server.url}/api/v1/timelines/public?local=true&limit=5")
    assert "local=true&max_id=" in first.headers["Link"]  # parameters are carried over, sorted


def test_local_and_remote_together_filter_nothing(sample_server: SampleServer, http_get: Get) -> None:
    """Mastodon serves ``local=1&remote=1`` as the whole federated timeline (recorded: test_timeline_disabled.json
    answers it with a full page); the sample instance answered an empty timeline."""
    both, _ = walk(http_get, f"{sample_server.url}/api/v1/timelines/public?local=1&remote=1&limit=40")
    every, _ = walk(http_get, f"{sample_server.url}/api/v1/timelines/public?limit=40")
    assert both and both == every
    first = http_get(f"{sample_server.url}/api/v1/timelines/public?local=1&remote=1&limit=5")
    assert "local=1&max_id=" in first.headers["Link"] and "&remote=1>" in first.headers["Link"]


def test_min_id_and_since_id(sample_server: SampleServer, http_get: Get) -> None:
    base = f"{sample_server.url}/api/v1/timelines/public"
    everything, _ = walk(http_get, f"{base}?limit=40")
    ascending = everything[::-1]
    anchor = ascending[100]
    just_above = http_get(f"{base}?min_id={anchor}&limit=5").json()
    assert [s["id"] for s in just_above] == ascending[101:106][::-1]
    newest = http_get(f"{base}?since_id={anchor}&limit=5").json()
    assert [s["id"] for s in newest] == everything[:5]
    between = http_get(f"{base}?min_id={ascending[10]}&max_id={ascending[14]}").json()
    assert [s["id"] for s in between] == ascending[11:14][::-1]


def test_walking_up_with_prev_links_reaches_the_top(sample_server: SampleServer, http_get: Get) -> None:
    base = f"{sample_server.url}/api/v1/timelines/public"
    everything, _ = walk(http_get, f"{base}?limit=40")
    url, seen = f"{base}?min_id={everything[-1]}&limit=40", [everything[-1]]
    while True:
        response = http_get(url)
        page = [s["id"] for s in response.json()]
        if not page:
            break
        seen.extend(page[::-1])
        url = PREV.search(response.headers["Link"]).group(1)
    assert seen == everything[::-1]


def test_hashtag_timeline(sample_server: SampleServer, http_get: Get) -> None:
    top = sample_server.instance.trending_tags()[0]["name"]
    ids, _ = walk(http_get, f"{sample_server.url}/api/v1/timelines/tag/{top.upper()}?limit=40")
    assert ids
    for sid in ids:
        status = sample_server.instance.statuses[int(sid)]
        assert top in {t["name"] for t in status["tags"]} and on_public_timeline(status)


def test_account_lookup_and_statuses(sample_server: SampleServer, http_get: Get) -> None:
    instance = sample_server.instance
    authors = Counter(s["account"]["id"] for s in instance.statuses.values())
    info = instance.accounts[authors.most_common(1)[0][0]]
    acct = info.entity["acct"]
    looked_up = http_get(f"{sample_server.url}/api/v1/accounts/lookup?acct={acct}")
    assert looked_up.status == 200 and looked_up.json()["id"] == info.id
    assert http_get(f"{sample_server.url}/api/v1/accounts/{info.id}").json()["acct"] == acct
    local = next(a for a in instance.accounts.values() if a.domain == instance.home)
    for alias in (f"@{local.entity['username']}", f"{local.entity['username']}@{instance.home}",
                  f"{local.entity['username']}@{sample_server.url.split('//')[1]}"):
        assert http_get(f"{sample_server.url}/api/v1/accounts/lookup?acct={alias}").json()["id"] == local.id
    ids, pages = walk(http_get, f"{sample_server.url}/api/v1/accounts/{info.id}/statuses?limit=7")
    own = [s for s in instance.statuses.values() if s["account"]["id"] == info.id]
    assert sorted(ids) == sorted(s["id"] for s in own) and pages >= 2
    last_page = http_get(f"{sample_server.url}/api/v1/accounts/{info.id}/statuses?limit=40&min_id=0")
    if len(last_page.json()) < 40:  # a short page has no rel="next", as in Mastodon
        assert 'rel="next"' not in last_page.headers.get("Link", "")
    no_reblogs, _ = walk(http_get, f"{sample_server.url}/api/v1/accounts/{info.id}/statuses?exclude_reblogs=1")
    assert all(instance.statuses[int(i)]["reblog"] is None for i in no_reblogs)


def test_not_found_and_bad_parameters(sample_server: SampleServer, http_get: Get) -> None:
    missing = http_get(f"{sample_server.url}/api/v1/accounts/lookup?acct=nobody_here")
    assert missing.status == 404 and missing.json() == {"error": "Record not found"}
    assert http_get(f"{sample_server.url}/api/v1/accounts/1/statuses").status == 404
    assert http_get(f"{sample_server.url}/api/v1/nothing").status == 404
    # another server's text id: Mastodon answers an empty page, no Link (was: 400, passed on by the API as 502)
    flake = http_get(f"{sample_server.url}/api/v1/timelines/public?max_id=abc")
    assert flake.status == 200 and flake.json() == [] and "Link" not in flake.headers
    bad = http_get(f"{sample_server.url}/api/v1/timelines/public?max_id=a-b")
    assert bad.status == 400 and "max_id" in bad.json()["error"]
    superscript = http_get(f"{sample_server.url}/api/v1/timelines/public?max_id=%C2%B2")  # "²".isdigit() is True
    assert superscript.status == 400 and "max_id" in superscript.json()["error"]
    huge = http_get(f"{sample_server.url}/api/v1/timelines/public?max_id={'9' * 5000}")  # int() refuses: was no answer
    assert huge.status == 400 and "max_id" in huge.json()["error"]
    assert http_get(f"{sample_server.url}/api/v1/directory?offset=%C2%B2").status == 400
    assert http_get(f"{sample_server.url}/api/v1/directory?order=sideways").status == 400
    assert http_get(f"{sample_server.url}/api/v1/accounts/lookup").status == 400


def test_response_headers_look_like_mastodon(sample_server: SampleServer, http_get: Get) -> None:
    response = http_get(f"{sample_server.url}/api/v1/timelines/public?limit=2")
    headers = response.headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Cache-Control"] == "private, no-store"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["X-Request-Id"])
    assert int(headers["X-RateLimit-Limit"]) > int(headers["X-RateLimit-Remaining"]) >= 0
    reset = datetime.fromisoformat(headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", headers["X-RateLimit-Reset"])
    assert reset > datetime.now(UTC)
    instance = http_get(f"{sample_server.url}/api/v2/instance/")
    assert instance.headers["Cache-Control"].startswith("max-age=300, public")


def test_instance_documents(sample_server: SampleServer, http_get: Get) -> None:
    v2 = http_get(f"{sample_server.url}/api/v2/instance").json()
    assert set(shapes.template("instance_v2")) <= set(v2) and v2["domain"] == sample_server.instance.home
    v1 = http_get(f"{sample_server.url}/api/v1/instance").json()
    assert set(shapes.template("instance_v1")) <= set(v1) and v1["stats"]["user_count"] > 0
    activity = http_get(f"{sample_server.url}/api/v1/instance/activity").json()
    assert len(activity) == 12 and set(activity[0]) == set(shapes.template("activity"))
    assert sum(int(w["statuses"]) for w in activity) > 0
    assert int(activity[0]["week"]) > int(activity[1]["week"])
    peers = http_get(f"{sample_server.url}/api/v1/instance/peers").json()
    assert "demo.example" in peers and sample_server.instance.home not in peers


def test_activity_windows_are_counted_as_mastodon_counts_them(sample_server: SampleServer, http_get: Get) -> None:
    """Mastodon counts back from when it answers: window i starts i weeks before the answer and sums the six
    UTC days from that day, so the newest holds only the answer's day so far (counted here from the statuses'
    own created_at, not the instance's code)."""
    from datetime import timedelta

    instance = sample_server.instance
    activity = http_get(f"{sample_server.url}/api/v1/instance/activity").json()
    now = instance.now_ms() // 1000
    assert [int(w["week"]) for w in activity] == [now - i * 7 * 86400 for i in range(12)]
    local = [datetime.fromisoformat(s["created_at"].replace("Z", "+00:00")).date()
             for s in instance.statuses.values() if instance.domain_of(s) == instance.home]
    for window in activity:
        first = datetime.fromtimestamp(int(window["week"]), UTC).date()
        assert int(window["statuses"]) == sum(first <= day < first + timedelta(days=6) for day in local)
    today = datetime.fromtimestamp(now, UTC).date()
    assert int(activity[0]["statuses"]) == sum(day == today for day in local) > 0
    assert sum(int(w["statuses"]) for w in activity[1:]) > 0


def test_trending_tags_and_directory(sample_server: SampleServer, http_get: Get) -> None:
    first = http_get(f"{sample_server.url}/api/v1/trends/tags?limit=5")
    tags = first.json()
    assert len(tags) == 5 and set(shapes.template("tag")) <= set(tags[0]) and len(tags[0]["history"]) == 7
    assert NEXT.search(first.headers["Link"]).group(1).endswith("limit=5&offset=5")
    directory = http_get(f"{sample_server.url}/api/v1/directory?limit=10&order=new").json()
    assert len(directory) == 10 and all(a["discoverable"] is True for a in directory)
    assert [int(a["id"]) for a in directory] == sorted((int(a["id"]) for a in directory), reverse=True)


def test_rate_limit_enforced_with_429(http_get: Get) -> None:
    with SampleServer(SampleInstance.generate(50, seed=1), rate_limit=3, enforce_rate_limit=True) as server:
        statuses = [http_get(f"{server.url}/api/v1/timelines/public").status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = http_get(f"{server.url}/api/v1/timelines/public")
        assert refused.json() == {"error": "Too many requests"}
        assert refused.headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Reset" in refused.headers


def test_grow_adds_newer_statuses_seen_with_min_id(http_get: Get) -> None:
    with SampleServer(SampleInstance.generate(200, seed=2)) as server:
        base = f"{server.url}/api/v1/timelines/public"
        newest = http_get(f"{base}?limit=1").json()[0]["id"]
        added = server.instance.grow(30)
        fresh = http_get(f"{base}?min_id={newest}&limit=40").json()
        expected = sorted((s["id"] for s in added if on_public_timeline(s)), key=int, reverse=True)
        assert [s["id"] for s in fresh] == expected and expected
        assert all(int(s["id"]) > int(newest) for s in added)


def test_grow_since_spreads_the_new_statuses_over_the_hours_in_id_order(http_get: Get) -> None:
    """``grow(since=…)`` posts the statuses from ``since`` to ``at`` with the corpus's day/night rhythm, not all at
    ``at`` (the demo's spike in the activity heatmap); they still page in above the corpus, newest id first,
    the newest posted last."""
    end = datetime(2026, 8, 1, 12, tzinfo=UTC)
    with SampleServer(SampleInstance.generate(200, seed=2, end=end)) as server:
        base = f"{server.url}/api/v1/timelines/public"
        newest = http_get(f"{base}?limit=1").json()[0]["id"]
        added = server.instance.grow(30, at=end + timedelta(hours=12), since=end)
        created = [datetime.fromisoformat(s["created_at"]) for s in added]
        assert created == sorted(created) and end <= created[0] and created[-1] < end + timedelta(hours=12)
        assert len({moment.hour for moment in created}) > 3
        assert [int(s["id"]) for s in added] == sorted(int(s["id"]) for s in added)
        fresh = http_get(f"{base}?min_id={newest}&limit=40").json()
        assert [s["id"] for s in fresh] == sorted((s["id"] for s in added if on_public_timeline(s)), key=int,
                                                  reverse=True)


def test_edits_and_follower_counts_are_served_once_changed(http_get: Get) -> None:
    """What a walk over several days needs besides new statuses: an edited status is served with its new content
    and ``edited_at``; an account's new follower count in its lookup and in every status embedding it."""
    with SampleServer(SampleInstance.generate(200, seed=2)) as server:
        base = f"{server.url}/api/v1/timelines/public?limit=40"
        first = http_get(base).json()  # cached by the server: the change must reach what it serves next
        status, author = first[0], first[0]["account"]
        server.instance.edit(status["id"], "<p>edited</p>", at=datetime(2026, 8, 1, 12, 0, 0, 500000, tzinfo=UTC))
        server.instance.set_followers(author["id"], author["followers_count"] + 1000)
        again = {s["id"]: s for s in http_get(base).json()}
        assert again[status["id"]]["content"] == "<p>edited</p>"
        assert again[status["id"]]["edited_at"] == "2026-08-01T12:00:00.500Z"
        embedding = [s for s in again.values() if s["account"]["id"] == author["id"]]
        assert embedding and {s["account"]["followers_count"] for s in embedding} == {author["followers_count"] + 1000}
        looked_up = http_get(f"{server.url}/api/v1/accounts/lookup?acct={author['acct']}").json()
        assert looked_up["followers_count"] == author["followers_count"] + 1000
        with pytest.raises(ValueError, match="followers must be an integer >= 0"):
            server.instance.set_followers(author["id"], -1)


def test_read_only(sample_server: SampleServer) -> None:
    request = urllib.request.Request(f"{sample_server.url}/api/v1/statuses", data=b"status=hi", method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 405


def test_mastodon_py_pages_through_the_timeline() -> None:
    # Mastodon.py turns every status into typed objects (~5 ms each): a small corpus keeps this test fast
    with SampleServer(SampleInstance.generate(250, seed=8), rate_limit=1000) as server:
        api = Mastodon(api_base_url=server.url, version_check_mode="none")
        page = api.timeline_public(limit=40)
        seen = [s.id for s in page]
        while (page := api.fetch_next(page)):
            seen.extend(s.id for s in page)
        expected = sorted((int(s["id"]) for s in server.instance.statuses.values() if on_public_timeline(s)),
                          reverse=True)
        assert [int(i) for i in seen] == expected and len(expected) > 80
        assert api.ratelimit_limit == 1000 and api.ratelimit_remaining < 1000


def test_mastodon_py_other_endpoints(sample_server: SampleServer) -> None:
    api = Mastodon(api_base_url=sample_server.url, version_check_mode="none")
    local = api.timeline_local(limit=3)
    assert len(local) == 3
    account = api.account_lookup(local[0].account.acct)
    assert account.id == local[0].account.id
    assert api.account_statuses(account.id, limit=5)
    assert api.instance_v2().domain == sample_server.instance.home
    assert len(api.instance_activity()) == 12 and api.instance_peers()
    assert api.trending_tags() and api.directory()
    tag = api.trending_tags()[0].name
    assert all(tag in {t.name for t in s.tags} for s in api.timeline_hashtag(tag))
    first = api.timeline_public(limit=3)
    second = api.fetch_next(first)
    assert [s.id for s in api.fetch_previous(second)] == [s.id for s in first]  # min_id: the page just above


def test_small_keep_alive_responses_do_not_stall(sample_server: SampleServer) -> None:
    with requests.Session() as session:
        session.get(f"{sample_server.url}/api/v1/instance/peers", timeout=5)
        started = time.monotonic()
        for _ in range(20):
            assert session.get(f"{sample_server.url}/api/v1/instance/peers", timeout=5).status_code == 200
        # a Nagle/delayed-ACK stall costs ~40 ms per response: 20 of them would take ~0.8 s
        assert time.monotonic() - started < 0.6


def test_grow_mode_adds_statuses_in_the_background() -> None:
    with SampleServer(SampleInstance.generate(50, seed=3), grow_per_minute=1200) as server:
        before = len(server.instance.statuses)
        deadline = time.monotonic() + 5
        while len(server.instance.statuses) < before + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.instance.statuses) >= before + 3


def _raw(server: SampleServer, request: bytes) -> bytes:
    """Send ``request`` as is on a new connection; the whole answer (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_host_header_that_names_no_host_is_refused_not_written_into_the_link_header(
        sample_server: SampleServer) -> None:
    """Was: the Host header went into the Link URLs as sent, and the standard library keeps a folded header's line
    break, so ``Host: a`` continued by `` Set-Cookie: x=1`` wrote a header of the client's into the answer."""
    for host in (b"a\r\n Set-Cookie: x=1", b"a b", b"a/b", b"evil>; rel=\"next\""):
        answer = _raw(sample_server, b"GET /api/v1/timelines/public?limit=1 HTTP/1.1\r\nHost: " + host
                      + b"\r\nConnection: close\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), head
        assert b"Set-Cookie" not in head and b"Link" not in head
        assert json.loads(body) == {"error": "Invalid Host header"}
    for host in (b"127.0.0.1:8765", b"sample.social", b"[::1]:8080", b"Sample-1.example."):
        answer = _raw(sample_server, b"GET /api/v1/timelines/public?limit=1 HTTP/1.1\r\nHost: " + host
                      + b"\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200") and b"Link: <http://" + host + b"/api/v1/" in answer, host


def test_a_status_id_too_long_for_a_number_is_not_found(sample_server: SampleServer) -> None:
    """Was: int() refused the id (over 4300 digits) and the connection closed without an answer, a traceback on
    the server's stderr."""
    answer = _raw(sample_server, b"GET /api/v1/statuses/" + b"9" * 5000
                  + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404") and answer.endswith(b'{"error":"Record not found"}'), answer[:300]


@pytest.mark.parametrize(("length", "status"), [(b"abc", 400), (b"-1", 400), (b"1e3", 400),
                                                (b"99999999999", 413)])
def test_a_write_with_a_bad_or_huge_content_length_is_answered(sample_server: SampleServer, length: bytes,
                                                               status: int) -> None:
    """Was: a Content-Length that is not a number was a traceback and no answer; a negative one read until the
    client went away, and a huge one was read whole into memory."""
    answer = _raw(sample_server, b"POST /api/v1/statuses HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                  b"Content-Length: " + length + b"\r\n\r\nstatus=hi")
    assert answer.startswith(b"HTTP/1.1 %d" % status), answer[:300]
    assert "error" in json.loads(answer.partition(b"\r\n\r\n")[2])
