"""A link preview's author accounts (``card.authors[].account``: a whole profile) with privacy off, on REAL recorded
entities.

Was: privacy off landed a card's ``authors`` as collected, so an account that opted out (``#nobot``) came back in
clear — bio, avatar, display name — in the card of every status linking to a page it wrote, and the opt-out was not
noted. Now its ``account`` is None (as Mastodon writes an author without a fediverse account) and the opt-out is
noted, as privacy off treats a ``moved`` profile (tests/test_privacy_moved.py); privacy on lands no author at all (the
card's type and provider only). An erased author was already removed whole, its name and link too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from privacy_skips import NOBOT_NOTE

from fediscope.privacy import PrivacyPolicy, clear_key_digest

RECORDINGS = Path(__file__).parent / "data" / "mastodon" / "recordings"
LOCAL = "localhost:3000"  # the recorded server (see tests/data/README.md)


def body(name: str, index: int) -> Any:
    return copy.deepcopy(json.loads((RECORDINGS / name).read_text())["interactions"][index]["response"]["body"])


def authored_by(status: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    """``status`` with its card naming ``account`` as the linked page's author, as Mastodon gives a fediverse
    author: ``author_name``, ``author_url`` and an ``authors`` entry holding the account."""
    name = account["display_name"] or account["username"]
    card = {**status["card"], "author_name": name, "author_url": account["url"],
            "authors": [{"name": name, "url": account["url"], "account": copy.deepcopy(account)}]}
    return {**copy.deepcopy(status), "card": card}


def recorded() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The recorded status with a card (by mastodonpy_test), a recorded boost, and the recorded profile of
    mastodonpy_test_2 (the card's author in these tests, not otherwise named by the status)."""
    carded, boost = body("test_status_card.json", 1), body("test_status_reblog_unreblog.json", 1)
    target = body("test_accounts.json", 1)
    assert carded["card"]["authors"] == [] and target["acct"] == "mastodonpy_test_2"
    assert carded["account"]["acct"] != target["acct"] and not target.get("moved")
    return carded, boost, target


def test_privacy_off_lands_no_profile_of_an_opted_out_card_author_and_notes_the_opt_out() -> None:
    carded, _boost, target = recorded()
    opted = {**target, "note": NOBOT_NOTE}
    off = PrivacyPolicy(key=None, enabled=False)
    status = authored_by(carded, opted)
    landed = off.apply("statuses", copy.deepcopy(status), LOCAL)
    author = status["card"]["authors"][0]
    assert landed == {**status, "card": {**status["card"], "authors": [{**author, "account": None}]}}
    assert NOBOT_NOTE not in json.dumps(landed) and target["id"] not in json.dumps(landed)
    assert off.opted_out == {f"{target['acct']}@{LOCAL}"}  # noted, so the next curation erases what it landed
    assert off.counts == {}  # the status is landed: only the author's profile is left out


def test_privacy_off_lands_no_profile_of_an_opted_out_card_author_in_a_boosted_status() -> None:
    carded, boost, target = recorded()
    shared = {**copy.deepcopy(boost), "reblog": {**authored_by(carded, {**target, "note": NOBOT_NOTE}),
                                                 "account": boost["reblog"]["account"]}}
    off = PrivacyPolicy(key=None, enabled=False)
    landed = off.apply("statuses", shared, LOCAL)
    assert [a["account"] for a in landed["reblog"]["card"]["authors"]] == [None]
    assert NOBOT_NOTE not in json.dumps(landed) and off.opted_out == {f"{target['acct']}@{LOCAL}"}


def test_privacy_off_leaves_out_a_card_authors_moved_account_that_opted_out() -> None:
    carded, _boost, target = recorded()
    author = body("test_accounts.json", 0)
    assert author["acct"] == "mastodonpy_test" and not author.get("moved")
    off = PrivacyPolicy(key=None, enabled=False)
    landed = off.apply("statuses", authored_by(carded, {**author, "moved": {**target, "note": NOBOT_NOTE}}), LOCAL)
    assert landed["card"]["authors"][0]["account"] == {**author, "moved": None}
    assert off.opted_out == {f"{target['acct']}@{LOCAL}"}


def test_privacy_off_keeps_a_card_author_that_neither_opted_out_nor_was_erased() -> None:
    carded, _boost, target = recorded()
    off = PrivacyPolicy(key=None, enabled=False)
    status = authored_by(carded, target)
    assert off.apply("statuses", copy.deepcopy(status), LOCAL) == status
    assert off.opted_out == set()


def test_privacy_off_still_removes_an_erased_card_author_whole_also_one_that_opted_out() -> None:
    """The erased author's entry goes, its name and link too, as `gdpr erase` removes it (not just its account)."""
    carded, _boost, target = recorded()
    off = PrivacyPolicy(key=None, enabled=False,
                        suppressed=frozenset({clear_key_digest(f"{target['acct']}@{LOCAL}".lower())}))
    for author in (target, {**target, "note": NOBOT_NOTE}):
        landed = off.apply("statuses", authored_by(carded, author), LOCAL)
        assert landed["card"]["authors"] == [] and landed["card"]["author_url"] == landed["card"]["author_name"] == ""
        assert target["acct"] not in json.dumps(landed)
    assert off.opted_out == set()  # an erased account is not noted: nothing of it is landed


def test_privacy_on_lands_no_card_author_as_before() -> None:
    """What privacy off now approaches (no change on this side): the card's type and provider only."""
    carded, _boost, target = recorded()
    on = PrivacyPolicy(key=b"test-pseudonym-key-0123456789abcdef")
    landed = on.apply("statuses", authored_by(carded, {**target, "note": NOBOT_NOTE}), LOCAL)
    assert "authors" not in landed["card"] and NOBOT_NOTE not in json.dumps(landed)


def test_privacy_on_notes_the_opt_out_of_a_card_author_as_privacy_off_does() -> None:
    """Was: privacy on left an opted-out card author out (the card's type and provider only) without noting the
    opt-out, so what was landed of that account before it opted out stayed in the lake; privacy off noted it."""
    carded, boost, target = recorded()
    key = b"test-pseudonym-key-0123456789abcdef"
    opted = {**target, "note": NOBOT_NOTE}
    on = PrivacyPolicy(key=key)
    landed = on.apply("statuses", authored_by(carded, opted), LOCAL)
    assert landed is not None and on.counts == {}  # the status is landed: only the author is left out
    expected = on.account_key(target["acct"], LOCAL)
    assert on.opted_out == {expected}
    # in a boosted status's card too, and the account a card author moved to
    shared = {**copy.deepcopy(boost), "reblog": {**authored_by(carded, opted), "account": boost["reblog"]["account"]}}
    boosted = PrivacyPolicy(key=key)
    assert boosted.apply("statuses", shared, LOCAL) is not None and boosted.opted_out == {expected}
    author = body("test_accounts.json", 0)
    moved = PrivacyPolicy(key=key)
    assert moved.apply("statuses", authored_by(carded, {**author, "moved": opted}), LOCAL) is not None
    assert moved.opted_out == {expected}
    # an author who did not opt out is not noted
    kept = PrivacyPolicy(key=key)
    kept.apply("statuses", authored_by(carded, target), LOCAL)
    assert kept.opted_out == set()
