"""``FEDISCOPE_PRIVACY=off`` and a server served from social.example.test whose handles are ``@user@example.test``
(``LOCAL_DOMAIN`` ≠ ``WEB_DOMAIN``): privacy off keys records as collected, so the home instance's records name a
local account ``user@social.example.test`` and every other instance's ``user@example.test``. An erasure by either
name must keep the account out of what is landed from both, on every route (a timeline, a hashtag), not only on the
``account:`` source named after it; and ``gdpr erase user@example.test`` must find the home instance's records.
(The scraping API: tests/api/test_api_handle_domain.py.)

The instances are the recorded Mastodon double over real HTTP: the home one reached as social.example.test
(resolved to 127.0.0.1 for the test) with its recorded instance document declaring example.test, the other one on
127.0.0.1 serving the same corpus as another instance sees it (``acct: "user@example.test"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, split_domain_double

from fediscope.config import Settings
from fediscope.erased_mentions import ERASED
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.opt_outs import apply_opt_outs, pending_opt_outs
from fediscope.gdpr.suppression import SUPPRESSED_PATH
from fediscope.lake.backend import open_lake
from fediscope.privacy import clear_key_digest
from fediscope.sources.collector import run_collection
from fediscope.sources.handle_domains import HANDLE_DOMAINS_PATH
from fediscope.sources.spec import parse_source

AUTHOR = "mastodonpy_test_2"  # writes most public statuses of the corpus, all with one hashtag
MENTIONED = "mastodonpy_test"  # mentioned by admin in one public status


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(lake=str(tmp_path / "lake"), store=f"sqlite:///{tmp_path / 'store.db'}", privacy=False,
                    pseudonym_key=None, allow_private_addresses=True)


def landed_statuses(settings: Settings) -> list[dict[str, Any]]:
    """Every raw status record of the lake (``meta`` and ``data``)."""
    return [json.loads(line) for path in sorted(Path(settings.lake).glob("raw/mastodon/statuses/**/*.jsonl"))
            for line in path.read_text().splitlines()]


def is_subject(acct: str, user: str) -> bool:
    """Whether ``acct`` (as landed with privacy off) names ``user``: local, or with any domain."""
    return acct == user or acct.startswith(f"{user}@")


def suppressed(settings: Settings) -> set[str]:
    return set(json.loads((Path(settings.lake) / SUPPRESSED_PATH).read_text())["accounts"])


def erase_by_handle_from_another_instance(settings: Settings) -> None:
    """Land what another instance serves of the home instance's accounts (``user@example.test``), then erase
    :data:`AUTHOR` and :data:`MENTIONED` by their handles: the lake has never heard of social.example.test, so
    the suppression list holds the handles' keys alone."""
    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:
        assert run_collection(settings, [(remote.url, parse_source("public"))], progress=False).landed
    for user in (AUTHOR, MENTIONED):
        erase_account(settings, f"{user}@{HANDLE_DOMAIN}")
    assert not (Path(settings.lake) / HANDLE_DOMAINS_PATH).exists()
    assert suppressed(settings) >= {clear_key_digest(f"{u}@{HANDLE_DOMAIN}") for u in (AUTHOR, MENTIONED)}


def test_an_account_erased_by_its_handle_is_not_landed_from_its_home_timelines(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the home instance's statuses name the account ``acct: "user"``, keyed ``user@social.example.test`` with
    privacy off, which is not the erased key: the public and hashtag timelines landed every status the erased
    account wrote, and admin's status kept its mention of the other erased account."""
    erase_by_handle_from_another_instance(settings)
    with split_domain_double(monkeypatch) as home:
        tag = next(t["name"] for s in home.public_statuses() if s["account"]["acct"] == AUTHOR for t in s["tags"])
        summary = run_collection(settings, [(home.url, parse_source("public")), (home.url, parse_source(f"tag:{tag}"))],
                                 progress=False)
        served = home.domain
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    assert summary.skipped >= 2 * 22 + 1  # the author's statuses on both timelines, the mentioned one's own
    from_home = [r["data"] for r in landed_statuses(settings) if r["meta"]["instance"] == served]
    assert from_home  # admin's statuses landed
    assert not [s for s in from_home if is_subject(s["account"]["acct"], AUTHOR)
                or is_subject(s["account"]["acct"], MENTIONED)]
    mentioning = [s for s in from_home if f"@<span>{MENTIONED}</span>" in s["content"] or s["mentions"]]
    assert mentioning == []  # admin's mention of the erased account: gone from mentions and its content …
    assert any(f"@<span>{ERASED}</span>" in s["content"] for s in from_home)  # … written as erased


def test_erase_by_the_handle_finds_what_a_privacy_off_collection_keyed_by_the_served_domain(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A collection with privacy off learns and remembers the handle domain as one with privacy on does, so one
    erasure by the handle removes the home instance's records (``user`` of social.example.test) and the other
    instance's (``user@example.test``), and suppresses both keys. Was: privacy off never asked for the instance
    document on a timeline, the lake never remembered it, and the erasure left the home instance's records."""
    with (split_domain_double(monkeypatch) as home,
          MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote):
        public = parse_source("public")
        run_collection(settings, [(home.url, public), (remote.url, public)], progress=False)
        served = home.domain
        by_instance = {r["meta"]["instance"] for r in landed_statuses(settings)
                       if is_subject(r["data"]["account"]["acct"], AUTHOR)}
        assert by_instance == {served, remote.domain}

        report = erase_account(settings, f"{AUTHOR}@{HANDLE_DOMAIN}")
        assert report.also_keys == [clear_key_digest(f"{AUTHOR}@{served}")]
        assert not [r for r in landed_statuses(settings) if is_subject(r["data"]["account"]["acct"], AUTHOR)]
        assert {clear_key_digest(f"{AUTHOR}@{d}") for d in (HANDLE_DOMAIN, served)} <= suppressed(settings)

        home.add_statuses(3, author=AUTHOR)
        again = run_collection(settings, [(home.url, public)], progress=False)
    assert again.skipped >= 3
    assert not [r for r in landed_statuses(settings) if is_subject(r["data"]["account"]["acct"], AUTHOR)]



def erase_by_the_served_domain_before_the_lake_knew(settings: Settings, home: MastodonDouble) -> str:
    """Land the home instance's public timeline (:data:`AUTHOR` keyed ``user@social.example.test``) in a lake that
    then forgets the handle domain (as one landed before privacy off learned it), erase :data:`AUTHOR` by that
    served-domain name, and let the lake learn the handle domain again (a collection of the home instance's
    document). Returns the served domain. The suppression list holds the served-domain key alone."""
    public = parse_source("public")
    assert run_collection(settings, [(home.url, public)], progress=False).landed
    (Path(settings.lake) / HANDLE_DOMAINS_PATH).unlink()
    served = home.domain
    erase_account(settings, f"{AUTHOR}@{served}")
    assert clear_key_digest(f"{AUTHOR}@{served}") in suppressed(settings)
    assert clear_key_digest(f"{AUTHOR}@{HANDLE_DOMAIN}") not in suppressed(settings)
    assert run_collection(settings, [(home.url, parse_source("instance"))], progress=False).landed
    assert json.loads((Path(settings.lake) / HANDLE_DOMAINS_PATH).read_text())["instances"][served][
        "handle_domain"] == HANDLE_DOMAIN
    return served


def test_an_account_erased_by_its_served_domain_name_is_not_landed_from_an_instance_collected_first(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The account erased as ``user@social.example.test`` (before the lake knew the handle domain), then another
    instance (``acct: "user@example.test"``) collected before the home one in the same run: none of its statuses
    land. Was: the policy knew the handle domain only once the run had reached social.example.test, so the other
    instance's statuses of the account, collected first, were landed under ``user@example.test``."""
    with (split_domain_double(monkeypatch) as home,
          MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote):
        erase_by_the_served_domain_before_the_lake_knew(settings, home)
        public = parse_source("public")
        summary = run_collection(settings, [(remote.url, public), (home.url, public)], progress=False)
        remote_domain = remote.domain
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    from_remote = [r["data"] for r in landed_statuses(settings) if r["meta"]["instance"] == remote_domain]
    assert from_remote  # the other accounts' statuses landed
    assert not [s for s in from_remote if is_subject(s["account"]["acct"], AUTHOR)]
    assert not [r for r in landed_statuses(settings) if is_subject(r["data"]["account"]["acct"], AUTHOR)]


@pytest.mark.parametrize("seen_on", ["home", "remote"])
def test_an_opt_out_is_noted_under_both_names_and_erases_the_other_instances_records(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, seen_on: str) -> None:
    """Privacy off keys the home instance's records of a local account ``user@social.example.test`` and another
    instance's ``user@example.test``. The account opts out (``#nobot``) and is met on one of them: it is noted under
    both names, so the next curation's opt-out erasure removes what the other instance's records held of it before.
    Was: noted under the key of the instance it was met on alone; the other instance's records stayed."""
    public = parse_source("public")
    with (split_domain_double(monkeypatch) as home,
          MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote):
        served = home.domain
        met, other = (home, remote) if seen_on == "home" else (remote, home)
        if seen_on == "remote":  # the lake learns the handle domain (the remote instance's run alone never asks)
            assert run_collection(settings, [(home.url, parse_source("instance"))], progress=False).landed
        assert run_collection(settings, [(other.url, public)], progress=False).landed
        other_domain = other.domain
        assert [r for r in landed_statuses(settings)
                if r["meta"]["instance"] == other_domain and is_subject(r["data"]["account"]["acct"], AUTHOR)]
        assert met.set_account_note(AUTHOR, "<p>#nobot</p>")
        assert run_collection(settings, [(met.url, public)], progress=False).landed
    lake = open_lake(settings.lake)
    keys, _notes = pending_opt_outs(lake)
    assert {f"{AUTHOR}@{served}", f"{AUTHOR}@{HANDLE_DOMAIN}"} <= keys
    report = apply_opt_outs(lake)
    # the key the other instance's records carry: the handle (another instance's), the served domain (its own)
    assert report.opted_out == [f"{AUTHOR}@{HANDLE_DOMAIN if seen_on == 'home' else served}"]
    assert not [r for r in landed_statuses(settings) if is_subject(r["data"]["account"]["acct"], AUTHOR)]


def test_an_account_erased_by_its_served_domain_name_is_not_landed_from_another_instance_in_the_first_run(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The account erased as ``user@social.example.test`` and the lake not knowing the handle domain yet (nothing
    remembered): the next run, another instance (``acct: "user@example.test"``) collected before the home one, lands
    none of its statuses. Was: the handle domain was learned when the run reached social.example.test, after the
    other instance's statuses of the account had landed under ``user@example.test``."""
    public = parse_source("public")
    with (split_domain_double(monkeypatch) as home,
          MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote):
        assert run_collection(settings, [(home.url, public)], progress=False).landed
        (Path(settings.lake) / HANDLE_DOMAINS_PATH).unlink()  # a lake landed before privacy off learned it
        erase_account(settings, f"{AUTHOR}@{home.domain}")
        summary = run_collection(settings, [(remote.url, public), (home.url, parse_source("local"))], progress=False)
        remote_domain = remote.domain
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    from_remote = [r["data"] for r in landed_statuses(settings) if r["meta"]["instance"] == remote_domain]
    assert from_remote  # the other accounts' statuses landed
    assert not [r for r in landed_statuses(settings) if is_subject(r["data"]["account"]["acct"], AUTHOR)]
