"""Local accounts of a server whose handles are of a parent domain (``LOCAL_DOMAIN`` ≠ ``WEB_DOMAIN``) get the key
every other instance gives them, on the collector's and the stream's landing paths.

The home instance is the Mastodon double reached as ``social.example.test`` (resolved to 127.0.0.1 for the test)
with its recorded instance document declaring ``example.test``; the remote instance is a second double on
127.0.0.1 serving the same recorded corpus as another instance sees it (``acct: "user@example.test"``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, PUBLIC, WEB_HOST, split_domain_double, without_instance_document

from fediscope.config import Settings
from fediscope.privacy import policy_from_settings
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.stream import StreamRun


@pytest.fixture
def remote() -> Iterator[MastodonDouble]:
    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as double:
        yield double


def usernames(double: MastodonDouble) -> set[str]:
    return {s["account"]["acct"] for s in double.public_statuses()} | {
        m["acct"] for s in double.public_statuses() for m in s.get("mentions") or []}


def landed_keys(lake: Any, domain: str) -> tuple[set[str], set[str], set[str]]:
    """(author keys, mention keys, author ``domain`` fields) of the statuses landed from ``domain``."""
    records = [r["data"] for _p, r in lake.records("statuses") if r["meta"]["instance"] == domain]
    assert records
    return ({r["account"]["acct"] for r in records}, {m["acct"] for r in records for m in r["mentions"]},
            {r["account"]["domain"] for r in records})


def test_one_person_one_key_from_the_home_instance_and_from_a_remote_one(
        home: MastodonDouble, remote: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    settings = make_settings()
    summary = run_collection(settings, [(home.url, PUBLIC), (remote.url, PUBLIC)])
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    policy = policy_from_settings(settings)
    expected = {policy.account_key(f"{user}@{HANDLE_DOMAIN}") for user in usernames(home)}
    home_authors, home_mentions, home_domains = landed_keys(lake, home.domain)
    remote_authors, remote_mentions, remote_domains = landed_keys(lake, remote.domain)
    assert home_authors == remote_authors and home_authors <= expected
    assert home_mentions and home_mentions == remote_mentions and home_mentions <= expected
    assert home_domains == remote_domains == {HANDLE_DOMAIN}
    # learned once per instance and run, from the instance document; the remote on 127.0.0.1 is not asked
    assert len(home.requests_to("/api/v2/instance")) == 1
    assert remote.requests_to("/api/v2/instance") == []


def test_an_instance_source_collected_first_is_the_document_used(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    run_collection(make_settings(), [(home.url, parse_source("instance")), (home.url, PUBLIC)])
    assert len(home.requests_to("/api/v2/instance")) == 1  # the instance source's own request, no second one
    authors, _mentions, _domains = landed_keys(lake, home.domain)
    policy = policy_from_settings(make_settings())
    assert authors <= {policy.account_key(f"{user}@{HANDLE_DOMAIN}") for user in usernames(home)}


def test_a_v1_only_server_declares_it_in_uri(monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings],
                                             lake: Any) -> None:
    with split_domain_double(monkeypatch, statuses=10, instance_v2=False) as home:
        run_collection(make_settings(), [(home.url, PUBLIC)])
        _authors, _mentions, domains = landed_keys(lake, home.domain)
    assert domains == {HANDLE_DOMAIN}


@pytest.mark.parametrize("declared", [None, "mastodon.social", "test", "other.social.example.test"])
def test_a_document_that_is_not_a_parent_domain_keeps_todays_keys(
        monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings], lake: Any,
        declared: str | None) -> None:
    """None: the recorded document as it is (``localhost:3000``); the others: not a proper parent domain."""
    resolve_to_loopback(monkeypatch, WEB_HOST)
    with MastodonDouble(statuses=10, hostname=WEB_HOST, handle_domain=declared) as home:
        run_collection(make_settings(), [(home.url, PUBLIC)])
        authors, _mentions, domains = landed_keys(lake, home.domain)
        policy = policy_from_settings(make_settings())
        assert authors <= {policy.account_key(f"{user}@{home.domain}") for user in usernames(home)}
        assert domains == {home.domain}


def test_addresses_are_not_asked_and_keep_todays_keys(make_settings: Callable[..., Settings], lake: Any) -> None:
    with MastodonDouble(statuses=10, handle_domain=HANDLE_DOMAIN) as double:  # 127.0.0.1 has no parent domain
        run_collection(make_settings(), [(double.url, PUBLIC)])
        assert double.requests_to("/api/v2/instance") == []
        _authors, _mentions, domains = landed_keys(lake, double.domain)
        assert domains == {double.domain}


@pytest.mark.parametrize("fault", ["fail", "malformed"])
def test_an_unreadable_document_never_fails_the_collection(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake: Any, caplog: pytest.LogCaptureFixture,
        fault: str) -> None:
    if fault == "fail":
        home.fail(status=503, times=100, path="/api/v2/instance")
    else:
        home.malformed(how="not_json", times=100, path="/api/v2/instance")
    with caplog.at_level(logging.INFO, logger="fediscope.sources.pages"):
        summary = run_collection(make_settings(), [(home.url, PUBLIC), (home.url, parse_source("local"))])
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    _authors, _mentions, domains = landed_keys(lake, home.domain)
    assert domains == {home.domain}  # keyed as before
    said = [r for r in caplog.records if "instance document could not be read" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO  # once per instance and run


def test_the_stream_keys_local_accounts_by_the_handle_domain(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    summary = StreamRun(make_settings(), home.url, PUBLIC, max_events=6, flush_seconds=60).run()
    assert summary.ok, summary.line()
    assert summary.landed > 0
    _authors, _mentions, domains = landed_keys(lake, home.domain)
    assert domains == {HANDLE_DOMAIN}
    assert len(home.requests_to("/api/v2/instance")) >= 1


def test_the_stream_with_privacy_off_skips_an_account_erased_by_its_handle(
        home: MastodonDouble, remote: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    """``FEDISCOPE_PRIVACY=off``, the account erased as ``user@example.test`` when the lake knew only another
    instance's records of it: the home instance's stream (``acct: "user"``, keyed ``user@social.example.test`` with
    privacy off) lands none of its statuses. Was: the stream asked for the handle domain with privacy on only, and
    privacy off looked the account up under the served domain's key alone: it landed them."""
    from fediscope.gdpr.erase import erase_account

    settings = make_settings(privacy=False, pseudonym_key=None, allow_private_addresses=True)
    assert run_collection(settings, [(remote.url, PUBLIC)], progress=False).landed
    author = "mastodonpy_test"  # the author of the recorded stream's public statuses
    erase_account(settings, f"{author}@{HANDLE_DOMAIN}")
    summary = StreamRun(settings, home.url, PUBLIC, max_events=12, flush_seconds=60).run()
    assert summary.ok, summary.line()
    assert summary.landed == 0 and summary.skipped >= 4, summary.line()  # its updates and edits (and direct ones)
    assert [r for _p, r in lake.records("statuses") if r["meta"]["instance"] == home.domain] == []


def test_the_stream_with_privacy_off_skips_an_account_erased_by_its_served_domain_on_another_instance(
        home: MastodonDouble, remote: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    """``FEDISCOPE_PRIVACY=off``, the account erased as ``user@social.example.test`` before the lake knew the handle
    domain, learned since: another instance's stream (``acct: "user@example.test"``) lands none of its statuses.
    Was: the stream registered the handle domain of the instance it streams alone (none, for 127.0.0.1), so the
    account's other name was never looked up and its statuses landed."""
    from fediscope.gdpr.erase import erase_account
    from fediscope.lake.backend import open_lake
    from fediscope.sources.handle_domains import HANDLE_DOMAINS_PATH, remember_handle_domain

    settings = make_settings(privacy=False, pseudonym_key=None, allow_private_addresses=True)
    assert run_collection(settings, [(home.url, PUBLIC)], progress=False).landed
    (lake.root / HANDLE_DOMAINS_PATH).unlink()  # a lake landed before privacy off learned handle domains
    author = "mastodonpy_test"  # the author of the recorded stream's public statuses
    erase_account(settings, f"{author}@{home.domain}")  # the suppression list holds the served domain's key alone
    remember_handle_domain(open_lake(settings.lake), home.domain, HANDLE_DOMAIN)  # learned since (say, a collect)
    summary = StreamRun(settings, remote.url, PUBLIC, max_events=12, flush_seconds=60).run()
    assert summary.ok, summary.line()
    assert summary.landed == 0 and summary.skipped >= 4, summary.line()
    assert [r for _p, r in lake.records("statuses") if r["meta"]["instance"] == remote.domain] == []


@pytest.mark.parametrize("streamed", ["remote", "home"])
def test_the_stream_with_privacy_on_skips_an_account_erased_by_its_served_domain(
        home: MastodonDouble, remote: MastodonDouble, make_settings: Callable[..., Settings], lake: Any,
        streamed: str) -> None:
    """Privacy on, the account erased as ``user@social.example.test`` before the lake knew the handle domain: the
    home instance's stream (which learns it, and keys the account ``user@example.test``) or another instance's
    (``acct: "user@example.test"``; the handle domain remembered since) lands none of its statuses. Was: the
    pseudonym of the handle was on no list, and the privacy-on checks never computed the other name's: both landed
    every status it wrote."""
    from fediscope.gdpr.erase import erase_account
    from fediscope.lake.backend import open_lake
    from fediscope.sources.handle_domains import HANDLE_DOMAINS_PATH, remember_handle_domain

    settings = make_settings(allow_private_addresses=True)
    with without_instance_document(home):
        assert run_collection(settings, [(home.url, PUBLIC)], progress=False).landed  # keyed by the served domain
    assert not (lake.root / HANDLE_DOMAINS_PATH).exists()
    author = "mastodonpy_test"  # the author of the recorded stream's public statuses
    erase_account(settings, f"{author}@{home.domain}")  # the suppression list holds the served domain's key alone
    if streamed == "remote":
        remember_handle_domain(open_lake(settings.lake), home.domain, HANDLE_DOMAIN)  # learned since (a collect)
    double = remote if streamed == "remote" else home
    before = [r for _p, r in lake.records("statuses")]
    summary = StreamRun(settings, double.url, PUBLIC, max_events=12, flush_seconds=60).run()
    assert summary.ok, summary.line()
    assert summary.landed == 0 and summary.skipped >= 4, summary.line()
    assert [r for _p, r in lake.records("statuses")] == before


def test_the_stream_with_privacy_on_notes_an_opt_out_met_on_another_instance_under_both_names(
        home: MastodonDouble, remote: MastodonDouble, make_settings: Callable[..., Settings], lake: Any) -> None:
    """Privacy on, nobody erased: the home instance's records of the account keyed ``user@social.example.test`` (a
    run that could not read its document), the handle domain remembered since. The account adds ``#nobot`` and is
    met on another instance's stream (``acct: "user@example.test"``): it is noted under both names, and the next
    curation erases the home records. Was: the stream read the remembered handle domains with privacy on only when
    anybody was erased, and the policy noted the name met alone."""
    import json

    from fediscope.engine.process import run_process
    from fediscope.gdpr.opt_outs import pending_opt_outs
    from fediscope.lake.backend import open_lake
    from fediscope.sources.handle_domains import remember_handle_domain
    from fediscope.sources.sse import SSEParser

    settings = make_settings(allow_private_addresses=True)
    with without_instance_document(home):
        assert run_collection(settings, [(home.url, PUBLIC)], progress=False).landed  # keyed by the served domain
    author = "mastodonpy_test"  # the author of the recorded stream's public statuses
    policy = policy_from_settings(settings)
    served_key, handle_key = (policy.account_key(f"{author}@{d}") for d in (home.domain, HANDLE_DOMAIN))
    assert [r for _p, r in lake.records("statuses") if r["data"]["account"]["acct"] == served_key]
    remember_handle_domain(open_lake(settings.lake), home.domain, HANDLE_DOMAIN)  # learned since (a collect)
    updates = [json.loads(e.data) for e in SSEParser().feed(remote.recorded_stream()) if e.name == "update"]
    assert updates and {u["account"]["acct"] for u in updates} == {author}
    for update in updates:  # as another instance streams them, the account's bio now saying #nobot
        update["account"].update(acct=f"{author}@{HANDLE_DOMAIN}", note="<p>#nobot</p>")
    remote.stream(b"".join(b"event: update\ndata: " + json.dumps(u).encode() + b"\n\n" for u in updates))
    summary = StreamRun(settings, remote.url, PUBLIC, max_events=len(updates), flush_seconds=60).run()
    assert summary.ok, summary.line()
    assert summary.opted_out >= 1 and summary.landed == 0, summary.line()  # (the other update is not public)
    keys, _notes = pending_opt_outs(open_lake(settings.lake))
    assert {served_key, handle_key} <= keys

    assert run_process(settings, progress=False).curate["opted_out_erased"] == 1
    assert not [r for _p, r in lake.records("statuses") if r["data"]["account"]["acct"] == served_key]


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy_on", "privacy_off"])
def test_an_opt_out_met_on_another_instance_before_the_home_one_is_noted_under_both_names_on_a_fresh_lake(
        home: MastodonDouble, remote: MastodonDouble, make_settings: Callable[..., Settings], privacy: bool) -> None:
    """A fresh lake (no handle domain remembered) and nobody erased, so the run does not learn handle domains
    first: the account adds ``#nobot``, is met on another instance (``acct: "user@example.test"``) and only then
    the run reaches its home instance, whose document declares example.test. It is noted under both names, as in
    the other orders (home first, or the handle domain remembered or learned before). Was: under
    ``user@example.test`` alone, so what its home instance's records hold under the served domain stayed."""
    from fediscope.gdpr.opt_outs import pending_opt_outs
    from fediscope.lake.backend import open_lake

    settings = make_settings(privacy=privacy, **({} if privacy else {"pseudonym_key": None}))
    author = "mastodonpy_test_2"  # writes most public statuses of the corpus
    assert remote.set_account_note(author, "<p>#nobot</p>") > 0
    summary = run_collection(settings, [(remote.url, PUBLIC), (home.url, parse_source("instance"))],
                             progress=False)
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    assert summary.opted_out >= 1, summary.line()
    assert summary.handle_domains == {home.domain: HANDLE_DOMAIN}  # learned after the other instance's timeline
    policy = policy_from_settings(settings)
    keys, _notes = pending_opt_outs(open_lake(settings.lake))
    assert {policy.account_key(f"{author}@{d}") for d in (home.domain, HANDLE_DOMAIN)} <= keys
