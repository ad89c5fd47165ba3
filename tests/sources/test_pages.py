"""fetch_page and land_page: Link-header paging, every source kind, validation and quarantine, privacy."""

from __future__ import annotations

import json

import pytest

from fediscope.privacy import PrivacyPolicy
from fediscope.sources.client import MalformedResponse, MastodonClient, UpstreamNotFound
from fediscope.sources.pages import fetch_page, id_key, land_page
from fediscope.sources.spec import parse_source

KEY = b"pages-test-key"


@pytest.fixture
def client(mastodon_server) -> MastodonClient:
    return MastodonClient(mastodon_server.url, backoff_base=0.01, max_retries=2)


@pytest.fixture
def policy() -> PrivacyPolicy:
    return PrivacyPolicy(key=KEY)


def test_link_headers_walk_every_status_once_newest_first(mastodon_server, client) -> None:
    public = parse_source("public")
    seen, cursor, pages = [], None, 0
    while True:
        page = fetch_page(client, public, max_id=cursor, limit=7)
        if not page.items:
            break
        pages += 1
        seen.extend(s["id"] for s in page.items)
        assert page.prev_min_id == page.items[0]["id"] and page.next_max_id == page.items[-1]["id"]
        cursor = page.next_max_id
    served = [s["id"] for s in mastodon_server.public_statuses()]
    assert seen == served  # all of them, once, newest first
    assert pages == -(-len(served) // 7)
    assert seen == sorted(seen, key=id_key, reverse=True)


def test_since_id_bounds_a_walk_from_below_and_min_id_walks_forward(mastodon_server, client) -> None:
    served = [s["id"] for s in mastodon_server.public_statuses()]
    lower = served[30]
    page = fetch_page(client, parse_source("public"), since_id=lower, limit=40)
    assert [s["id"] for s in page.items] == served[:30]
    page = fetch_page(client, parse_source("public"), min_id=lower, limit=5)
    assert [s["id"] for s in page.items] == served[25:30]  # the five just above min_id, newest first


@pytest.mark.parametrize(("source", "entity", "endpoint"), [
    ("public", "statuses", "/api/v1/timelines/public"),
    ("local", "statuses", "/api/v1/timelines/public?local=true"),
    ("tag:fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp", "statuses",
     "/api/v1/timelines/tag/fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"),
    ("account:mastodonpy_test_2", "statuses", "/api/v1/accounts/:id/statuses"),
    ("instance", "instance", "/api/v2/instance"),
    ("instance_activity", "instance_activity", "/api/v1/instance/activity"),
    ("instance_peers", "instance_peers", "/api/v1/instance/peers"),
    ("trends_tags", "trends_tags", "/api/v1/trends/tags"),
    ("directory", "directory", "/api/v1/directory"),
    ("account_lookup:mastodonpy_test", "accounts", "/api/v1/accounts/lookup"),
])
def test_every_source_kind_fetches_and_lands(client, policy, mastodon_server, source, entity, endpoint) -> None:
    ref = parse_source(source)
    page = fetch_page(client, ref, limit=10)
    assert ref.entity == entity and page.endpoint == endpoint
    assert page.items, "the recordings hold data for every source kind"
    landed = land_page(page, policy)
    assert landed.fetched == len(page.items)
    assert len(landed.records) + landed.skipped + len(landed.quarantined) == len(page.items)
    assert not landed.quarantined
    meta = landed.records[0]["meta"]
    assert meta["instance"] == mastodon_server.domain and meta["endpoint"] == endpoint
    assert meta["fetched_at"].endswith("Z") and meta["schema_version"] == 1


def test_account_timeline_serves_only_that_accounts_statuses(client, mastodon_server) -> None:
    page = fetch_page(client, parse_source("account:mastodonpy_test_2"), limit=40)
    assert {s["account"]["acct"] for s in page.items} == {"mastodonpy_test_2"}
    before = len(mastodon_server.log)
    fetch_page(client, parse_source("account:mastodonpy_test_2"), max_id=page.next_max_id)
    assert len(mastodon_server.log) == before + 1  # the account id lookup is memoised per client


def test_instance_falls_back_to_v1(mastodon_server, client, policy) -> None:
    mastodon_server.instance_v2 = False
    page = fetch_page(client, parse_source("instance"))
    assert page.endpoint == "/api/v1/instance" and page.items[0]["uri"] == "localhost:3000"
    record = land_page(page, policy).records[0]["data"]
    assert record["uri"] == "localhost:3000" and "email" not in record


def test_unknown_account_is_not_found(client) -> None:
    with pytest.raises(UpstreamNotFound):
        fetch_page(client, parse_source("account:nobody_at_all"))


@pytest.mark.parametrize("how", ["not_json", "truncated", "wrong_shape"])
def test_unusable_bodies_raise_malformed_with_the_body(mastodon_server, client, how) -> None:
    mastodon_server.malformed(how, times=1)
    with pytest.raises(MalformedResponse) as info:
        fetch_page(client, parse_source("public"))
    assert info.value.endpoint == "/api/v1/timelines/public" and info.value.content
    assert fetch_page(client, parse_source("public")).items  # the next answer is fine again


@pytest.mark.parametrize("how", ["missing_fields", "wrong_types"])
def test_malformed_items_are_quarantined_and_the_rest_lands(mastodon_server, client, policy, how) -> None:
    mastodon_server.malformed(how, times=1)
    page = fetch_page(client, parse_source("public"), limit=10)
    landed = land_page(page, policy)
    bad = 3 if how == "missing_fields" else 4
    assert len(landed.quarantined) == bad
    assert len(landed.records) == 10 - bad
    assert all(q.reason for q in landed.quarantined)
    assert page.next_max_id == mastodon_server.public_statuses()[9]["id"]  # paging unharmed


def test_opted_out_accounts_are_skipped_and_counted(mastodon_server, client, policy) -> None:
    author = mastodon_server.statuses[0]["account"]
    for status in mastodon_server.statuses:  # the recorded account, as if it had opted out of indexing
        if status["account"]["acct"] == author["acct"]:
            status["account"]["noindex"] = True
    page = fetch_page(client, parse_source("public"), limit=40)
    landed = land_page(page, policy)
    by_author = sum(1 for s in page.items if s["account"]["acct"] == author["acct"])
    assert by_author > 0 and landed.skipped == by_author
    assert len(landed.records) == 40 - by_author


def test_landed_statuses_carry_no_account_identifier(mastodon_server, client, policy) -> None:
    page = fetch_page(client, parse_source("public"), limit=40)
    text = json.dumps(land_page(page, policy).records)
    leaks = [i for i in mastodon_server.account_identifiers() if i in text]
    assert leaks == []


def test_privacy_off_lands_the_upstream_json_as_it_came(mastodon_server, client) -> None:
    page = fetch_page(client, parse_source("public"), limit=5)
    landed = land_page(page, PrivacyPolicy(key=None, enabled=False))
    assert [r["data"] for r in landed.records] == mastodon_server.public_statuses()[:5]


def test_ids_of_other_digits_sort_as_text_not_as_numbers() -> None:
    """``"²".isdigit()`` is True and ``int("²")`` fails: an upstream id like it failed the source with an
    internal error; ``"١٢"`` (Arabic-Indic digits) was read as the number 12. Text ids sort above every number
    (Pleroma's order: see test_ids.py); a page is bounded by the ids of its usual kind: the odd one out is a
    malformed item's (was, since text ids sort above numbers: ``"²"`` the page's highest)."""
    from fediscope.sources.pages import max_id_of, min_id_of

    assert id_key("²") == (1, 0, "²") and id_key("١٢") == (1, 0, "١٢")
    items = [{"id": "109"}, {"id": "²"}, {"id": "110"}]
    assert max_id_of(items) == "110" and min_id_of(items) == "109"
