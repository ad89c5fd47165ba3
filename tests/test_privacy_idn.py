"""One account key for an account of a server with an internationalised domain name (``bawü.social``).

Mastodon's API writes a remote account's domain in Unicode (``acct``: ``mastodonpy_test_2@bawü.social``), while
fediscope collects a server from its ASCII address (``xn--baw-joa.social``), which its local accounts (``acct``
without a domain) are keyed by. Was: the same person landed under two keys (``user@xn--baw-joa.social`` from its
own server, ``user@bawü.social`` from every other), so analytics counted one person as two accounts, and their
mentions, boosts and quotes as of two. The landing settles every handle and domain on the ASCII spelling.

The records are the recorded statuses and accounts of the test server, moved to the IDN server (every link to it
with its ASCII host, as Mastodon writes them), as the server itself and another instance serve them, landed through
``land_page`` (what the REST collector, the stream and the scraping API all land with) and the real policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fediscope.privacy import PrivacyPolicy
from fediscope.sources.pages import Page, land_page
from fediscope.sources.spec import SourceRef
from spark_jobs.mapreduce import mapper

RECORDINGS = Path(__file__).parent / "data" / "mastodon" / "recordings"
RECORDED_HOST = "localhost:3000"  # the recorded server (tests/data/README.md)
KEY = b"test-pseudonym-key-0123456789abcdef"
UNICODE, PUNYCODE = "bawü.social", "xn--baw-joa.social"
REMOTE = "mastodon.example"  # another instance, whose API names the IDN server's accounts in Unicode

#: (recording, interaction): a status, a reply mentioning its author, a boost, a quote; an account.
STATUSES = [("test_status_reply.json", 0), ("test_status_reply.json", 2), ("test_status_reblog_unreblog.json", 1),
            ("test_status_quote_revoke.json", 1)]
ACCOUNT = ("test_accounts.json", 1)


def _recorded(name: str, index: int, view: str) -> dict[str, Any]:
    """A recorded entity of the test server, moved to the IDN server, as ``view`` serves it: the server itself
    (every ``acct`` local, as recorded) or :data:`REMOTE` (every ``acct`` with the domain in Unicode)."""
    text = json.dumps(json.loads((RECORDINGS / name).read_text())["interactions"][index]["response"]["body"])
    entity = json.loads(text.replace(RECORDED_HOST, PUNYCODE))
    if view == REMOTE:
        _remote_accts(entity)
    return entity


def _remote_accts(value: Any) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("acct"), str) and "@" not in value["acct"]:
            value["acct"] = f"{value['acct']}@{UNICODE}"
        for child in value.values():
            _remote_accts(child)
    elif isinstance(value, list):
        for child in value:
            _remote_accts(child)


def _landed(policy: PrivacyPolicy, entity: str, item: dict[str, Any], view: str) -> dict[str, Any]:
    """``item`` landed by ``land_page`` as collected from ``view`` (the IDN server from its ASCII address)."""
    instance = PUNYCODE if view == "own" else REMOTE
    source = SourceRef("public") if entity == "statuses" else SourceRef("account_lookup", "x")
    page = Page(source=source, instance=instance, endpoint="/api/v1/timelines/public", items=[item])
    landed = land_page(page, policy)
    assert not landed.quarantined and len(landed.records) == 1
    return landed.records[0]["data"]


def _accounts(status: dict[str, Any]) -> dict[str, Any]:
    """Every account object of a landed status, by where it is: author, mentions, boosted and quoted authors."""
    found = {"author": status["account"]}
    found |= {f"mention {i}": m for i, m in enumerate(status.get("mentions") or [])}
    if status.get("reblog"):
        found |= {f"boosted {k}": v for k, v in _accounts(status["reblog"]).items()}
    quoted = (status.get("quote") or {}).get("quoted_status")
    if quoted:
        found |= {f"quoted {k}": v for k, v in _accounts(quoted).items()}
    return found


@pytest.mark.parametrize(("name", "index"), STATUSES)
def test_one_key_whichever_instance_served_the_status(name: str, index: int) -> None:
    policy = PrivacyPolicy(key=KEY)
    own = _accounts(_landed(policy, "statuses", _recorded(name, index, "own"), "own"))
    remote = _accounts(_landed(policy, "statuses", _recorded(name, index, REMOTE), REMOTE))
    assert own.keys() == remote.keys()
    for where, account in own.items():
        assert remote[where]["acct"] == account["acct"], where
        assert "domain" not in account or remote[where]["domain"] == account["domain"] == PUNYCODE, where
    # the author's key is the one the request for the account (either spelling) asks for
    handle = f"{_recorded(name, index, 'own')['account']['acct']}@{PUNYCODE}"
    assert own["author"]["acct"] == policy.account_key(handle) == policy.account_key(handle.replace(PUNYCODE, UNICODE))
    if name == "test_status_reply.json" and index == 2:
        assert "mention 0" in own  # the reply mentions the original's author: one key for both
        assert own["mention 0"]["acct"] == _accounts(_landed(policy, "statuses", _recorded(name, 0, REMOTE),
                                                              REMOTE))["author"]["acct"]


def test_a_handle_written_in_unicode_in_the_text_is_the_accounts_key() -> None:
    policy = PrivacyPolicy(key=KEY)
    status = _recorded("test_status_reply.json", 2, REMOTE)
    (mention,) = status["mentions"]
    status["spoiler_text"] = f"cc @{mention['acct']}"
    landed = _landed(policy, "statuses", status, REMOTE)
    assert landed["spoiler_text"] == f"cc @{landed['mentions'][0]['acct']}"
    assert landed["mentions"][0]["acct"] == policy.account_key(mention["username"], PUNYCODE)


def test_one_key_for_the_account_record() -> None:
    policy = PrivacyPolicy(key=KEY)
    own = _landed(policy, "accounts", _recorded(*ACCOUNT, "own"), "own")
    remote = _landed(policy, "accounts", _recorded(*ACCOUNT, REMOTE), REMOTE)
    assert own["acct"] == remote["acct"] and own["domain"] == remote["domain"] == PUNYCODE


@pytest.mark.parametrize(("name", "index"), STATUSES)
def test_privacy_off_lands_the_ascii_spelling_so_curation_keys_one_account(name: str, index: int) -> None:
    """With privacy off records land as collected, but a remote ``acct``'s domain in ASCII: curation (here its
    MapReduce twin, which keys accounts as the SQL does) keys ``user@domain`` from it, so one account again."""
    policy = PrivacyPolicy(key=None, enabled=False)
    own = _accounts(_landed(policy, "statuses", _recorded(name, index, "own"), "own"))
    remote = _accounts(_landed(policy, "statuses", _recorded(name, index, REMOTE), REMOTE))
    assert own.keys() == remote.keys()
    for where, account in own.items():
        assert remote[where]["acct"] == f"{account['acct']}@{PUNYCODE}", where
        assert mapper.account_key(remote[where], REMOTE) == mapper.account_key(account, PUNYCODE), where
        assert mapper.home_instance(remote[where], REMOTE) == mapper.home_instance(account, PUNYCODE) == PUNYCODE
    collected = _recorded(name, index, REMOTE)
    assert collected["account"]["acct"].endswith(f"@{UNICODE}")  # the collected item is left as it was


def test_a_domain_that_cannot_be_spelled_in_ascii_lands_as_written() -> None:
    """``Ü..Social`` (an empty label) has no ASCII spelling: landed in lower case as written, beside an account of
    ``Bawü.Social`` landed in ASCII on the same page; neither is quarantined."""
    policy = PrivacyPolicy(key=KEY)
    spelled, unspellable = _recorded(*ACCOUNT, REMOTE), _recorded(*ACCOUNT, REMOTE)
    spelled["acct"] = f"{spelled['username']}@Bawü.Social"
    unspellable["acct"] = f"{unspellable['username']}@Ü..Social"
    page = Page(source=SourceRef("directory"), instance=REMOTE, endpoint="/api/v1/directory",
                items=[spelled, unspellable])
    landed = land_page(page, policy)
    assert not landed.quarantined
    first, second = (record["data"] for record in landed.records)
    assert first["domain"] == PUNYCODE
    assert first["acct"] == policy.pseudonym("acct", f"{spelled['username']}@{PUNYCODE}")
    assert second["domain"] == "ü..social"
    assert second["acct"] == policy.pseudonym("acct", f"{unspellable['username']}@ü..social")


@pytest.mark.parametrize("enabled", [True, False])
def test_an_opted_out_account_is_noted_under_both_spellings(enabled: bool) -> None:
    """Records landed before the landing settled on ASCII carry the Unicode spelling's key: the opt-out note
    names both, so the next curation erases those too."""
    policy = PrivacyPolicy(key=KEY if enabled else None, enabled=enabled)
    account = _recorded(*ACCOUNT, "own")
    account["noindex"] = True
    page = Page(source=SourceRef("account_lookup", "x"), instance=PUNYCODE, endpoint="/api/v1/accounts/lookup",
                items=[account])
    assert land_page(page, policy).records == []
    handle = f"{account['username']}@{PUNYCODE}"
    assert policy.opted_out == {policy.account_key(handle), policy.spelled_key(handle.replace(PUNYCODE, UNICODE))}
    assert len(policy.opted_out) == 2


def test_a_handle_domain_declared_in_unicode_is_taken_in_ascii() -> None:
    policy = PrivacyPolicy(key=KEY)
    assert policy.use_handle_domain(f"social.{PUNYCODE}", UNICODE) == PUNYCODE
    assert policy.account_key("alice", f"social.{PUNYCODE}") == policy.account_key(f"alice@{UNICODE}")
