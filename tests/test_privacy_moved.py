"""An account's ``moved`` (the account it moved to: a whole profile) with privacy off, on REAL recorded entities.

Was: privacy off landed ``moved`` as collected, so an erased account came back in clear (id, handle, profile link,
bio, avatar) inside the record of any account that had moved to it — its profile, its statuses, a boost of them,
an instance's contact — after ``gdpr erase`` had removed it, and an account that opted out (``#nobot``) was
landed there. Privacy on leaves such a ``moved`` None (``PrivacyPolicy._account``); privacy off now does too.
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


def moved_to(account: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(account), "moved": copy.deepcopy(target)}


def traces(landed: Any, target: dict[str, Any]) -> list[str]:
    """What of ``target`` the landed bytes hold: its id, handle and profile link."""
    text = json.dumps(landed)
    return [v for v in (target["id"], target["acct"], target["url"]) if v in text]


def recorded() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A reply by admin, a boost of it, the recorded profile of mastodonpy_test and of mastodonpy_test_2 (the
    target, not otherwise named by the reply's author or the profile)."""
    reply = body("test_status_reply.json", 2)
    boost = body("test_status_reblog_unreblog.json", 1)
    first, target = body("test_accounts.json", 0), body("test_accounts.json", 1)
    assert first["acct"] == "mastodonpy_test" and target["acct"] == "mastodonpy_test_2"
    assert not first.get("moved") and not target.get("moved")  # recorded as not moved: the tests move them
    return reply, boost, first, target


def test_privacy_off_drops_an_erased_account_another_account_moved_to() -> None:
    reply, boost, first, target = recorded()
    reply = {**reply, "mentions": [], "in_reply_to_account_id": None, "in_reply_to_id": None}  # names only its own
    off = PrivacyPolicy(key=None, enabled=False,
                        suppressed=frozenset({clear_key_digest(f"{target['acct']}@{LOCAL}".lower())}))

    profile = off.apply("accounts", moved_to(first, target), LOCAL)
    assert profile == {**first, "moved": None} and not traces(profile, target)

    status = {**reply, "account": moved_to(reply["account"], target)}
    landed = off.apply("statuses", copy.deepcopy(status), LOCAL)
    assert landed["account"] == {**reply["account"], "moved": None} and not traces(landed, target)

    assert boost["reblog"] and boost["reblog"]["account"]["acct"] != target["acct"]
    shared = copy.deepcopy(boost)
    shared["reblog"]["account"] = moved_to(shared["reblog"]["account"], target)
    landed = off.apply("statuses", shared, LOCAL)
    assert landed["reblog"]["account"]["moved"] is None and not traces(landed, target)

    v2 = body("test_timeline_disabled.json", 1)  # mastodon.social's instance document, with a contact account
    v2["contact"]["account"] = moved_to(v2["contact"]["account"], {**target, "acct": f"{target['acct']}@{LOCAL}"})
    landed = off.apply("instance", v2, "mastodon.social")
    assert landed["contact"]["account"]["moved"] is None and not traces(landed, target)
    assert off.counts == {}  # the records are landed: only the moved account is left out


def test_privacy_off_drops_an_opted_out_account_another_account_moved_to_and_notes_it() -> None:
    reply, _boost, first, target = recorded()
    opted = {**target, "note": NOBOT_NOTE}
    off = PrivacyPolicy(key=None, enabled=False)
    profile = off.apply("accounts", moved_to(first, opted), LOCAL)
    assert profile == {**first, "moved": None}
    landed = off.apply("statuses", {**reply, "account": moved_to(reply["account"], opted)}, LOCAL)
    assert landed["account"]["moved"] is None and NOBOT_NOTE not in json.dumps(landed)
    assert off.opted_out == {f"{target['acct']}@{LOCAL}"}  # noted, so the next curation erases what it landed


def test_privacy_off_keeps_a_moved_account_that_neither_opted_out_nor_was_erased() -> None:
    reply, _boost, first, target = recorded()
    off = PrivacyPolicy(key=None, enabled=False)
    assert off.apply("accounts", moved_to(first, target), LOCAL) == moved_to(first, target)
    status = {**reply, "account": moved_to(reply["account"], target)}
    assert off.apply("statuses", copy.deepcopy(status), LOCAL) == status


def test_privacy_on_leaves_out_an_erased_or_opted_out_moved_account_as_before() -> None:
    """The behaviour privacy off now matches (no fix needed on this side)."""
    _reply, _boost, first, target = recorded()
    on = PrivacyPolicy(key=b"test-pseudonym-key-0123456789abcdef")
    erased = PrivacyPolicy(key=on.key, suppressed=frozenset({on.account_key(target["acct"], LOCAL)}))
    assert erased.apply("accounts", moved_to(first, target), LOCAL)["moved"] is None
    assert on.apply("accounts", moved_to(first, {**target, "note": NOBOT_NOTE}), LOCAL)["moved"] is None
    assert on.apply("accounts", moved_to(first, target), LOCAL)["moved"]["acct"] == on.account_key(target["acct"],
                                                                                                     LOCAL)
