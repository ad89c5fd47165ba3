"""The scraping API keys local accounts of a server served from social.example.test whose handles are
@user@example.test (``LOCAL_DOMAIN`` ≠ ``WEB_DOMAIN``) as the collector does: as every other instance names them.

The home instance is the recorded Mastodon double reached as social.example.test (resolved to 127.0.0.1 for the
test) with its recorded instance document declaring example.test; the remote one is a double on 127.0.0.1 serving
the same corpus as another instance sees it (``acct: "user@example.test"``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_testing import LiveApi, make_settings
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, split_domain_double, without_instance_document

from fediscope.config import Settings
from fediscope.engine.process import run_process
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.opt_outs import pending_opt_outs
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings
from fediscope.sources.collector import run_collection
from fediscope.sources.handle_domains import HANDLE_DOMAINS_PATH, load_handle_domains, remember_handle_domain
from fediscope.sources.spec import parse_source


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    with split_domain_double(monkeypatch) as double:
        yield double


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def fail_instance_documents(double: MastodonDouble) -> None:
    for path in ("/api/v2/instance", "/api/v1/instance"):
        double.fail(status=500, times=1000, path=path)


def authors(live: LiveApi, double: MastodonDouble) -> set[str]:
    response = live.get("/v1/timelines/public", params={"instance": double.domain, "limit": 20})
    assert response.status_code == 200, response.text
    return {r["data"]["account"]["acct"] for r in response.json()["records"]}


def test_local_accounts_get_the_key_other_instances_give_them(home: MastodonDouble, live_api: Callable[..., LiveApi],
                                                               lake_dir: Path) -> None:
    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:
        settings = make_settings(instances=(home.url, remote.url), allow_private_addresses=True, lake=str(lake_dir))
        live = live_api(settings)
        at_home, seen_remotely = authors(live, home), authors(live, remote)
        assert remote.requests_to("/api/v2/instance") == []  # 127.0.0.1 has no parent domain: not asked
    policy = policy_from_settings(settings)
    assert at_home and at_home == seen_remotely
    users = {s["account"]["acct"] for s in home.public_statuses()}
    assert at_home <= {policy.account_key(f"{user}@{HANDLE_DOMAIN}") for user in users}
    assert authors(live, home) == at_home
    assert len(home.requests_to("/api/v2/instance")) == 1  # remembered across requests


def test_an_unreadable_document_with_nothing_remembered_keeps_todays_keys(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path) -> None:
    home.fail(status=503, times=2, path="/api/v2/instance")  # the request and its one retry
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir))
    live = live_api(settings)
    policy = policy_from_settings(settings)
    users = {s["account"]["acct"] for s in home.public_statuses()}
    assert authors(live, home) <= {policy.account_key(f"{user}@{home.domain}") for user in users}
    assert len(home.requests_to("/api/v2/instance")) == 2


def test_the_instance_route_reuses_its_own_document(home: MastodonDouble, live_api: Callable[..., LiveApi],
                                                    lake_dir: Path) -> None:
    live = live_api(make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir)))
    response = live.get("/v1/instance", params={"instance": home.domain})
    assert response.status_code == 200, response.text
    authors(live, home)
    assert len(home.requests_to("/api/v2/instance")) == 1


def handle_keys(settings: Settings, double: MastodonDouble, domain: str) -> set[str]:
    policy = policy_from_settings(settings)
    return {policy.account_key(f"{s['account']['acct']}@{domain}") for s in double.public_statuses()}


def test_an_unreadable_document_uses_the_handle_domain_a_collection_remembered(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path) -> None:
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir),
                             retry_backoff=0.01)
    run_collection(settings, [(home.url, parse_source("instance"))])
    assert load_handle_domains(open_lake(str(lake_dir))) == {home.domain: HANDLE_DOMAIN}
    fail_instance_documents(home)
    at_home = authors(live_api(settings), home)
    assert at_home and at_home <= handle_keys(settings, home, HANDLE_DOMAIN)


def test_the_api_remembers_what_it_learned_for_its_next_start(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path) -> None:
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir))
    first = authors(live_api(settings), home)
    assert load_handle_domains(open_lake(str(lake_dir))) == {home.domain: HANDLE_DOMAIN}
    fail_instance_documents(home)
    again = authors(live_api(settings), home)  # a new process: nothing cached in memory
    assert again == first and again <= handle_keys(settings, home, HANDLE_DOMAIN)


def test_a_damaged_memory_is_503_only_when_it_is_needed(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path) -> None:
    path = lake_dir / HANDLE_DOMAINS_PATH
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir))
    served = authors(live_api(settings), home)  # the document answered: the answer is right, served (and logged)
    assert served <= handle_keys(settings, home, HANDLE_DOMAIN)
    assert path.read_text() == "{not json"
    fail_instance_documents(home)
    response = live_api(settings).get("/v1/timelines/public", params={"instance": home.domain, "limit": 20})
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "lake_unavailable" and "FEDISCOPE_LAKE" in error["message"]
    assert json.loads(response.text)  # the JSON error envelope, no traceback
    path.unlink()
    path.mkdir()  # unreadable: the reason names the file's path
    response = live_api(settings).get("/v1/timelines/public", params={"instance": home.domain, "limit": 20})
    assert response.status_code == 503, response.text
    assert str(lake_dir) not in response.text  # where the lake lives is for the server log (api/README.md)


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy_on", "privacy_off"])
def test_a_damaged_memory_is_503_when_anybody_was_erased(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path, tmp_path: Path, privacy: bool) -> None:
    """An account erased as ``user@social.example.test`` before the lake knew the handle domain (the suppression list
    holds that name alone), the handle domain remembered since, then the memory damaged: another instance's timeline
    (``acct: "user@example.test"``) is 503 ``lake_unavailable`` naming the file and its fix, with privacy on or off,
    rather than served without the other name of the erased account (the memory is what links the two). Once the file
    is repaired the timeline is served, without the account. Was: logged, and the account's statuses served."""
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir),
                             store=f"sqlite:///{tmp_path / 'metrics.db'}",
                             **({} if privacy else {"privacy": False, "pseudonym_key": None}))
    with without_instance_document(home):  # keyed by the served domain, nothing remembered
        assert run_collection(settings.replace(retry_backoff=0.01, max_retries=1), [(home.url, parse_source("public"))],
                              progress=False).landed
    author = "mastodonpy_test_2"  # most of the corpus's public statuses
    erase_account(settings, f"{author}@{home.domain}")  # the suppression list holds the served domain's name alone
    remember_handle_domain(open_lake(str(lake_dir)), home.domain, HANDLE_DOMAIN)  # learned since (a collect)
    path = lake_dir / HANDLE_DOMAINS_PATH
    remembered = path.read_text()
    path.write_text("{not json")
    policy = policy_from_settings(settings)
    keys = {policy.account_key(f"{author}@{domain}") for domain in (home.domain, HANDLE_DOMAIN)}

    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:
        both = settings.replace(instances=(home.url, remote.url))
        response = live_api(both).get("/v1/timelines/public", params={"instance": remote.domain, "limit": 40})
        assert response.status_code == 503, (response.status_code, response.json().get("skipped"))
        error = response.json()["error"]
        assert error["code"] == "lake_unavailable", error
        assert "_state/handle_domains.json" in error["message"] and "delete it" in error["message"], error
        assert str(lake_dir) not in response.text and not [k for k in keys if k in response.text]
        assert path.read_text() == "{not json"  # never rewritten by the API

        path.write_text(remembered)  # repaired (a new API process: the memory is re-read every 30 s)
        response = live_api(both).get("/v1/timelines/public", params={"instance": remote.domain, "limit": 40})
    assert response.status_code == 200, response.text
    assert response.json()["skipped"] >= 20 and response.json()["records"], response.json()["skipped"]
    assert not [k for k in keys if k in response.text]


def test_a_public_suffix_is_not_used_whether_declared_or_remembered(
        monkeypatch: pytest.MonkeyPatch, live_api: Callable[..., LiveApi], lake_dir: Path) -> None:
    """An instance at social.alice.github.io declaring github.io (a public suffix, shared by many owners) keeps
    its served domain; so does a run that finds only github.io remembered by an earlier version."""
    host = "social.alice.github.io"
    resolve_to_loopback(monkeypatch, host)
    with MastodonDouble(statuses=30, hostname=host, handle_domain="github.io") as pages:
        settings = make_settings(instances=(pages.url,), allow_private_addresses=True, lake=str(lake_dir))
        declared = authors(live_api(settings), pages)
        assert declared and declared <= handle_keys(settings, pages, pages.domain)
        assert load_handle_domains(open_lake(str(lake_dir))) == {pages.domain: None}
        (lake_dir / HANDLE_DOMAINS_PATH).write_text(json.dumps(
            {"instances": {pages.domain: {"handle_domain": "github.io", "learned_at": "2026-01-01T00:00:00+00:00"}},
             "updated_at": "2026-01-01T00:00:00+00:00"}))
        fail_instance_documents(pages)
        remembered = authors(live_api(settings), pages)  # a new process: nothing cached in memory
        assert remembered == declared


def _local_user(double: MastodonDouble) -> str:
    """A local account of the instance with public statuses (its acct has no domain)."""
    return next(s["account"]["acct"] for s in double.public_statuses() if "@" not in s["account"]["acct"])


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy-on", "privacy-off"])
@pytest.mark.parametrize("document", ["answers", "fails"])
def test_an_account_erased_by_its_handle_is_410_when_asked_for_without_a_domain(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path, tmp_path: Path, privacy: bool,
        document: str) -> None:
    """``gdpr erase --account user@example.test`` (the handle) and then ``/v1/accounts/user/statuses`` of
    social.example.test: 410 erased_account, the instance not asked for the account, as ``fediscope collect`` skips
    ``account:user`` there. The handle domain comes from the instance document, or, when that fails, from the lake's
    memory. Was: the API checked ``user`` as keyed by the domain connected to (``user@social.example.test``), which
    is not the erased key: it looked the account up and served its statuses' cursors."""
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir),
                             store=f"sqlite:///{tmp_path / 'metrics.db'}",
                             **({} if privacy else {"privacy": False, "pseudonym_key": None}))
    assert run_collection(settings, [(home.url, parse_source("public"))], progress=False).landed
    # erased before the lake learned that example.test is served from social.example.test (say, its records came
    # from other instances): the suppression list holds the handle's key alone, not the served domain's too
    (lake_dir / HANDLE_DOMAINS_PATH).unlink(missing_ok=True)
    user = _local_user(home)
    erase_account(settings, f"{user}@{HANDLE_DOMAIN}")
    if document == "fails":  # learned since, by a collection or a request that read the document
        remember_handle_domain(open_lake(str(lake_dir)), home.domain, HANDLE_DOMAIN)
        fail_instance_documents(home)
    asked = len(home.requests_to("/api/v1/accounts"))

    live = live_api(settings)  # a new process: nothing of the instance known in memory
    for spelling in (user, f"@{user}", f"{user}@{HANDLE_DOMAIN}"):
        response = live.get(f"/v1/accounts/{spelling}/statuses", params={"instance": home.domain})
        assert response.status_code == 410, (spelling, response.text)
        assert response.json()["error"]["code"] == "erased_account"
    assert len(home.requests_to("/api/v1/accounts")) == asked  # the instance was not asked for it
    other = next(s["account"]["acct"] for s in home.public_statuses()
                 if "@" not in s["account"]["acct"] and s["account"]["acct"] != user)
    assert live.get(f"/v1/accounts/{other}/statuses", params={"instance": home.domain}).status_code == 200


def test_privacy_off_serves_no_status_of_an_account_erased_by_its_handle_on_a_timeline(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path, tmp_path: Path) -> None:
    """With ``FEDISCOPE_PRIVACY=off``, ``gdpr erase --account user@example.test`` made before the lake knew
    social.example.test, then the home instance's public and hashtag timelines: none of the account's statuses is
    served, nor its name. Was: privacy off keys the home instance's ``acct: "user"`` by the domain connected to
    (``user@social.example.test``), not the erased handle, and the API never registered the handle domain with privacy
    off: every status the account wrote was served."""
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir),
                             store=f"sqlite:///{tmp_path / 'metrics.db'}", privacy=False, pseudonym_key=None)
    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:  # the account as others name it
        assert run_collection(settings, [(remote.url, parse_source("public"))], progress=False).landed
    author = "mastodonpy_test_2"  # most of the corpus's public statuses, all with one hashtag
    erase_account(settings, f"{author}@{HANDLE_DOMAIN}")
    assert not (lake_dir / HANDLE_DOMAINS_PATH).exists()  # the suppression list holds the handle's key alone
    tag = next(t["name"] for s in home.public_statuses() if s["account"]["acct"] == author for t in s["tags"])

    live = live_api(settings)
    for path in ("/v1/timelines/public", f"/v1/timelines/tag/{tag}"):
        response = live.get(path, params={"instance": home.domain, "limit": 40})
        assert response.status_code == 200, response.text
        assert response.json()["skipped"] >= 20, (path, response.json()["skipped"])
        accts = {r["data"]["account"]["acct"] for r in response.json()["records"]}
        assert author not in accts and author not in response.text, path
    assert load_handle_domains(open_lake(str(lake_dir))) == {home.domain: HANDLE_DOMAIN}  # learned, remembered


def test_privacy_off_serves_no_status_of_an_account_erased_by_its_served_domain_from_another_instance(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path, tmp_path: Path) -> None:
    """With ``FEDISCOPE_PRIVACY=off``, ``gdpr erase --account user@social.example.test`` made before the lake knew the
    handle domain, learned since: another instance's public timeline (``acct: "user@example.test"``), asked of an
    API that was never asked about social.example.test, serves none of the account's statuses. Was: the API knew a
    handle domain only for the instance a request named, so it served every status the account wrote there."""
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir),
                             store=f"sqlite:///{tmp_path / 'metrics.db'}", privacy=False, pseudonym_key=None)
    assert run_collection(settings, [(home.url, parse_source("public"))], progress=False).landed
    (lake_dir / HANDLE_DOMAINS_PATH).unlink()  # a lake landed before privacy off learned handle domains
    author = "mastodonpy_test_2"  # most of the corpus's public statuses
    erase_account(settings, f"{author}@{home.domain}")  # the suppression list holds the served domain's key alone
    remember_handle_domain(open_lake(str(lake_dir)), home.domain, HANDLE_DOMAIN)  # learned since (say, a collect)
    asked = len(home.requests_to("/api/v2/instance"))

    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:
        live = live_api(make_settings(instances=(home.url, remote.url), allow_private_addresses=True,
                                      lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'metrics.db'}",
                                      privacy=False, pseudonym_key=None))
        response = live.get("/v1/timelines/public", params={"instance": remote.domain, "limit": 40})
    assert response.status_code == 200, response.text
    assert response.json()["skipped"] >= 20, response.json()["skipped"]
    accts = {r["data"]["account"]["acct"] for r in response.json()["records"]}
    assert accts and f"{author}@{HANDLE_DOMAIN}" not in accts and author not in response.text
    assert len(home.requests_to("/api/v2/instance")) == asked  # social.example.test was not asked


@pytest.mark.parametrize("asked", ["remote", "home"])
def test_privacy_on_serves_no_status_of_an_account_erased_by_its_served_domain(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path, tmp_path: Path, asked: str) -> None:
    """With the privacy policy on, ``gdpr erase --account user@social.example.test`` made before the lake knew the
    handle domain: the public timeline of another instance (``acct: "user@example.test"``; the handle domain
    remembered since) or of the home instance (learned by the request) serves none of the account's statuses, nor
    its key. Was: the records are keyed by the handle (``user@example.test``), whose pseudonym was on no list, and
    the API registered remembered handle domains with privacy off only: it served every status the account wrote."""
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir),
                             store=f"sqlite:///{tmp_path / 'metrics.db'}")
    # a run that could not read the instance document keyed the account by the served domain (nothing remembered)
    with without_instance_document(home):
        assert run_collection(settings.replace(retry_backoff=0.01, max_retries=1), [(home.url, parse_source("public"))],
                              progress=False).landed
    assert not (lake_dir / HANDLE_DOMAINS_PATH).exists()
    author = "mastodonpy_test_2"  # most of the corpus's public statuses
    erase_account(settings, f"{author}@{home.domain}")  # the suppression list holds the served domain's key alone
    policy = policy_from_settings(settings)
    keys = {policy.account_key(f"{author}@{domain}") for domain in (home.domain, HANDLE_DOMAIN)}
    if asked == "remote":
        remember_handle_domain(open_lake(str(lake_dir)), home.domain, HANDLE_DOMAIN)  # learned since (a collect)

    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:
        live = live_api(make_settings(instances=(home.url, remote.url), allow_private_addresses=True,
                                      lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'metrics.db'}"))
        response = live.get("/v1/timelines/public",
                            params={"instance": (remote if asked == "remote" else home).domain, "limit": 40})
    assert response.status_code == 200, response.text
    assert response.json()["skipped"] >= 20, response.json()["skipped"]
    assert response.json()["records"] and not [k for k in keys if k in response.text]


def test_privacy_on_notes_an_opt_out_met_on_another_instance_under_its_served_domain_name_too(
        home: MastodonDouble, live_api: Callable[..., LiveApi], lake_dir: Path, tmp_path: Path) -> None:
    """With the privacy policy on and nobody erased: the home instance's records of an account keyed
    ``user@social.example.test`` (a run that could not read its document), the handle domain remembered since. The
    account adds ``#nobot`` and is met on another instance's public timeline (``acct: "user@example.test"``), asked
    of an API never asked about social.example.test: it is noted under both names, and the next curation erases the
    home records. Was: the API read the remembered handle domains with privacy on only when anybody was erased, and
    the policy noted the name met alone."""
    settings = make_settings(instances=(home.url,), allow_private_addresses=True, lake=str(lake_dir),
                             store=f"sqlite:///{tmp_path / 'metrics.db'}")
    with without_instance_document(home):
        assert run_collection(settings.replace(retry_backoff=0.01, max_retries=1), [(home.url, parse_source("public"))],
                              progress=False).landed
    author = "mastodonpy_test_2"  # most of the corpus's public statuses
    policy = policy_from_settings(settings)
    served_key, handle_key = (policy.account_key(f"{author}@{d}") for d in (home.domain, HANDLE_DOMAIN))
    raw = sorted(lake_dir.glob("raw/mastodon/statuses/**/*.jsonl"))
    assert any(served_key in p.read_text() for p in raw)
    remember_handle_domain(open_lake(str(lake_dir)), home.domain, HANDLE_DOMAIN)  # learned since (a collect)
    asked = len(home.requests_to("/api/v2/instance"))

    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:
        assert remote.set_account_note(author, "<p>#nobot</p>") > 0
        live = live_api(make_settings(instances=(home.url, remote.url), allow_private_addresses=True,
                                      lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'metrics.db'}"))
        response = live.get("/v1/timelines/public", params={"instance": remote.domain, "limit": 40})
    assert response.status_code == 200, response.text
    assert response.json()["opted_out"] >= 20, response.json()
    assert len(home.requests_to("/api/v2/instance")) == asked  # social.example.test was not asked
    keys, _notes = pending_opt_outs(open_lake(str(lake_dir)))
    assert {served_key, handle_key} <= keys

    assert run_process(settings, progress=False).curate["opted_out_erased"] == 1
    assert not [p for p in lake_dir.glob("raw/mastodon/**/*.jsonl") if served_key in p.read_text()]


def test_an_unreadable_memory_warns_of_erasures_and_opt_outs_with_the_fix(
        lake_dir: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's preload before a page is landed, as the collector's: was `… could not be read (an account erased
    under one of its names is matched under the other only on instances this API learned): …`, the opt-outs noted
    under the other name by the same memory left unsaid."""
    from api import upstream

    monkeypatch.setattr(upstream, "_warned", set())  # said once per process: another test may have said it
    path = lake_dir / HANDLE_DOMAINS_PATH
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    settings = make_settings(lake=str(lake_dir))
    memory = upstream.HandleDomains(open_lake=lambda: open_lake(str(lake_dir)))
    with caplog.at_level(logging.WARNING, logger="api.upstream"):
        memory.preload(policy_from_settings(settings))
    (line,) = [r.getMessage() for r in caplog.records if "handle domains remembered" in r.getMessage()]
    assert line.startswith("the handle domains remembered in the lake could not be read, so an account erased under "
                           "one of its names is matched under the other, and an opted-out account is noted under its "
                           "other name too, only on instances this API learned: _state/handle_domains.json in the "
                           "lake is damaged (not JSON: "), line
    assert line.endswith("; delete it — the next collect, stream or API request that reads an instance's document "
                         "learns its handle domain again"), line
