"""The scraping API keys local accounts of a server served from social.example.test whose handles are
@user@example.test (``LOCAL_DOMAIN`` ≠ ``WEB_DOMAIN``) as the collector does: as every other instance names them.

The home instance is the recorded Mastodon double reached as social.example.test (resolved to 127.0.0.1 for the
test) with its recorded instance document declaring example.test; the remote one is a double on 127.0.0.1 serving
the same corpus as another instance sees it (``acct: "user@example.test"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from api_testing import LiveApi, make_settings
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble

from fediscope.privacy import policy_from_settings

WEB_HOST = "social.example.test"
HANDLE_DOMAIN = "example.test"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    resolve_to_loopback(monkeypatch, WEB_HOST)
    with MastodonDouble(statuses=30, hostname=WEB_HOST, handle_domain=HANDLE_DOMAIN) as double:
        yield double


def authors(live: LiveApi, double: MastodonDouble) -> set[str]:
    response = live.get("/v1/timelines/public", params={"instance": double.domain, "limit": 20})
    assert response.status_code == 200, response.text
    return {r["data"]["account"]["acct"] for r in response.json()["records"]}


def test_local_accounts_get_the_key_other_instances_give_them(home: MastodonDouble,
                                                               live_api: Callable[..., LiveApi]) -> None:
    with MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote:
        settings = make_settings(instances=(home.url, remote.url), allow_private_addresses=True)
        live = live_api(settings)
        at_home, seen_remotely = authors(live, home), authors(live, remote)
        assert remote.requests_to("/api/v2/instance") == []  # 127.0.0.1 has no parent domain: not asked
    policy = policy_from_settings(settings)
    assert at_home and at_home == seen_remotely
    users = {s["account"]["acct"] for s in home.public_statuses()}
    assert at_home <= {policy.account_key(f"{user}@{HANDLE_DOMAIN}") for user in users}
    assert authors(live, home) == at_home
    assert len(home.requests_to("/api/v2/instance")) == 1  # remembered across requests


def test_an_unreadable_document_keeps_todays_keys(
        home: MastodonDouble, live_api: Callable[..., LiveApi]) -> None:
    home.fail(status=503, times=2, path="/api/v2/instance")  # the request and its one retry
    settings = make_settings(instances=(home.url,), allow_private_addresses=True)
    live = live_api(settings)
    policy = policy_from_settings(settings)
    users = {s["account"]["acct"] for s in home.public_statuses()}
    assert authors(live, home) <= {policy.account_key(f"{user}@{home.domain}") for user in users}
    assert len(home.requests_to("/api/v2/instance")) == 2


def test_the_instance_route_reuses_its_own_document(home: MastodonDouble, live_api: Callable[..., LiveApi]) -> None:
    live = live_api(make_settings(instances=(home.url,), allow_private_addresses=True))
    response = live.get("/v1/instance", params={"instance": home.domain})
    assert response.status_code == 200, response.text
    authors(live, home)
    assert len(home.requests_to("/api/v2/instance")) == 1
