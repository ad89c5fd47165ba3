"""With the privacy policy on, an account of a server served from social.example.test whose handles are
``@user@example.test`` (``LOCAL_DOMAIN`` ≠ ``WEB_DOMAIN``), erased as ``user@social.example.test`` before the lake
knew the handle domain, is never landed again: not from its home instance once the run learns the handle domain
(which keys the account ``user@example.test``), nor from another instance (``acct: "user@example.test"``), in
either order, nor once the lake remembers the handle domain. The suppression list holds the pseudonym of the name
erased alone; the landing looks the account up under its other name from the clear handle, before pseudonymising.
(The stream: tests/sources/test_handle_domain.py; the scraping API: tests/api/test_api_handle_domain.py.) An account
that opts out (``#nobot``) and is met on another instance is noted under both names, so the next curation erases
what its home instance's records hold of it under the served-domain name.

The instances are the recorded Mastodon double over real HTTP: the home one reached as social.example.test
(resolved to 127.0.0.1 for the test) with its recorded instance document declaring example.test, the other one on
127.0.0.1 serving the same corpus as another instance sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, split_domain_double, without_instance_document

from fediscope.engine.process import run_process
from fediscope.erased_mentions import ERASED
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.opt_outs import pending_opt_outs
from fediscope.gdpr.suppression import SUPPRESSED_PATH
from fediscope.sources.collector import run_collection
from fediscope.sources.handle_domains import HANDLE_DOMAINS_PATH, load_handle_domains
from fediscope.sources.spec import parse_source

AUTHOR = "mastodonpy_test_2"  # writes most public statuses of the corpus
MENTIONED = "mastodonpy_test"  # mentioned by admin in one public status
PUBLIC = parse_source("public")


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    with split_domain_double(monkeypatch) as double:
        yield double


@pytest.fixture
def remote() -> Iterator[MastodonDouble]:
    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as double:
        yield double


def raw_statuses(env: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(env.lake_dir.glob("raw/mastodon/statuses/**/*.jsonl"))
            for line in path.read_text().splitlines()]


def raw_files_holding(env: Any, keys: set[str]) -> list[str]:
    return [str(p) for p in env.lake_dir.rglob("raw/**/*.jsonl") if any(k in p.read_text() for k in keys)]


def erase_by_the_served_domain_before_the_lake_knew(env: Any, home: MastodonDouble) -> set[str]:
    """A run that could not read the home instance's document landed its public timeline keyed by the served
    domain (nothing remembered), then :data:`AUTHOR` and :data:`MENTIONED` are erased by that name
    (``gdpr erase --account user@social.example.test``). Returns every key of both (handle and served domain); the
    suppression list holds the served-domain ones alone."""
    with without_instance_document(home):
        assert run_collection(env.settings.replace(retry_backoff=0.01, max_retries=1), [(home.url, PUBLIC)],
                              progress=False).landed
    assert not (env.lake_dir / HANDLE_DOMAINS_PATH).exists()
    served = home.domain
    for user in (AUTHOR, MENTIONED):
        assert erase_account(env.settings, f"{user}@{served}").raw
    held = set(json.loads((env.lake_dir / SUPPRESSED_PATH).read_text())["accounts"])
    served_keys = {env.key(f"{u}@{served}") for u in (AUTHOR, MENTIONED)}
    handle_keys = {env.key(f"{u}@{HANDLE_DOMAIN}") for u in (AUTHOR, MENTIONED)}
    assert served_keys <= held and not handle_keys & held
    assert raw_files_holding(env, served_keys) == []
    return served_keys | handle_keys


@pytest.mark.parametrize("order", ["home_first", "remote_first"])
def test_an_account_erased_by_its_served_domain_name_is_not_landed_again_in_either_order(
        env: Any, home: MastodonDouble, remote: MastodonDouble, order: str) -> None:
    """The first run after the erasure learns the handle domain (and keys the home instance's local accounts by
    it): none of the erased accounts' statuses land, from either instance, whichever comes first, and the mention
    of the erased one in admin's status is written as erased on both. Was: every status of the account landed under
    ``user@example.test``, from both instances, in either order (the key of the handle was on no list)."""
    keys = erase_by_the_served_domain_before_the_lake_knew(env, home)
    targets = [(home.url, parse_source("local")), (remote.url, PUBLIC)]  # the home's statuses again, a new source
    summary = run_collection(env.settings, targets if order == "home_first" else targets[::-1], progress=False)
    domains = {home.domain, remote.domain}
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    assert summary.skipped >= 2 * 20, summary.skipped  # the author's statuses on both timelines
    assert raw_files_holding(env, keys) == []
    landed = [r for r in raw_statuses(env) if r["meta"]["instance"] in domains]
    assert {r["meta"]["instance"] for r in landed} == domains  # the other accounts' statuses landed from both
    assert {r["meta"]["instance"] for r in landed if ERASED in r["data"]["content"]} == domains
    assert load_handle_domains(env.lake) == {home.domain: HANDLE_DOMAIN}


def test_an_account_erased_by_its_served_domain_name_is_not_landed_from_another_instance_alone(
        env: Any, home: MastodonDouble, remote: MastodonDouble) -> None:
    """Once the lake remembers the handle domain (a collection of the home instance's document), a run of another
    instance alone, which never asks social.example.test, lands none of the erased account's statuses. Was: the
    remembered handle domains were registered with privacy off only."""
    keys = erase_by_the_served_domain_before_the_lake_knew(env, home)
    assert run_collection(env.settings, [(home.url, parse_source("instance"))], progress=False).landed
    asked = len(home.requests_to("/api/v2/instance"))
    summary = run_collection(env.settings, [(remote.url, PUBLIC)], progress=False)
    assert [r.status for r in summary.sources] == ["ok"]
    assert summary.landed and summary.skipped >= 20, summary.skipped
    assert raw_files_holding(env, keys) == []
    assert len(home.requests_to("/api/v2/instance")) == asked  # remembered, not asked


def land_home_keyed_by_the_served_domain(env: Any, home: MastodonDouble) -> str:
    """A run that could not read the home instance's document lands its public timeline: :data:`AUTHOR` keyed
    ``user@social.example.test`` (nothing remembered). Returns that key."""
    with without_instance_document(home):
        assert run_collection(env.settings.replace(retry_backoff=0.01, max_retries=1), [(home.url, PUBLIC)],
                              progress=False).landed
    assert not (env.lake_dir / HANDLE_DOMAINS_PATH).exists()
    served_key = env.key(f"{AUTHOR}@{home.domain}")
    assert raw_files_holding(env, {served_key})
    return served_key


@pytest.mark.parametrize("handle_domain", ["remembered", "learned"])
def test_an_opt_out_met_on_another_instance_erases_the_home_records_keyed_by_the_served_domain(
        env: Any, home: MastodonDouble, remote: MastodonDouble, handle_domain: str) -> None:
    """The home instance's records of :data:`AUTHOR` are keyed ``user@social.example.test`` (its document could not
    be read); the account then adds ``#nobot`` and is met on another instance alone (``acct: "user@example.test"``),
    the handle domain remembered by the lake (an earlier run of the home instance's document) or learned by the same
    run (its ``instance`` source first). It is noted under both names, and the next ``fediscope process`` erases the
    home instance's records of it. Was: noted under ``user@example.test`` alone (with privacy on, the remembered
    handle domains were not even read when nobody was erased), and the home records stayed."""
    served_key = land_home_keyed_by_the_served_domain(env, home)
    handle_key = env.key(f"{AUTHOR}@{HANDLE_DOMAIN}")
    targets = [(remote.url, PUBLIC)]
    if handle_domain == "remembered":
        assert run_collection(env.settings, [(home.url, parse_source("instance"))], progress=False).landed
        assert load_handle_domains(env.lake) == {home.domain: HANDLE_DOMAIN}
    else:
        targets.insert(0, (home.url, parse_source("instance")))
    assert remote.set_account_note(AUTHOR, "<p>#nobot</p>") > 0
    summary = run_collection(env.settings, targets, progress=False)
    assert [r.status for r in summary.sources] == ["ok"] * len(targets)
    assert summary.skipped >= 20, summary.skipped  # the author's statuses on the other instance's timeline
    keys, _notes = pending_opt_outs(env.lake)
    assert {served_key, handle_key} <= keys
    assert raw_files_holding(env, {served_key})  # nothing erased yet

    processed = run_process(env.settings, progress=False)

    assert processed.curate["opted_out_erased"] == 1
    assert raw_files_holding(env, {served_key, handle_key}) == []
    assert [r for r in raw_statuses(env) if r["meta"]["instance"] == home.domain]  # the others' statuses stay
    assert pending_opt_outs(env.lake) == (set(), [])
