"""A malformed record of an erased or opted-out account is left out, as the record itself would be, not quarantined.

Quarantine is written before the privacy policy is applied, and with privacy off it keeps the item as collected.
Was: a status of an erased account (or of one that opted out, ``#nobot``) that failed a check (a count sent as
text) went to the quarantine whole — handle, profile, bio, text — so the lake held again what the erasure had
removed, or what the opt-out asked not to be kept; its opt-out was not noted either. Now it is skipped and counted
(``skipped_suppressed``, ``skipped_opt_out``; a boost of one ``skipped_reblog_of_opted_out``) as the well-formed record
is, and the opt-out noted; with privacy on too (where the quarantine kept its shape alone).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from privacy_skips import NOBOT_NOTE

from fediscope.config import Settings
from fediscope.gdpr.erase import erase_account
from fediscope.privacy import PrivacyPolicy, clear_key_digest
from fediscope.sources.collector import run_collection
from fediscope.sources.pages import Page, land_page
from fediscope.sources.spec import parse_source

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
LOCAL = "localhost:3000"  # the recorded server
KEY = b"quarantine-left-out-test-key-0123456789"


def body(name: str, index: int) -> Any:
    return copy.deepcopy(json.loads((RECORDINGS / name).read_text())["interactions"][index]["response"]["body"])


def malformed(status: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(status)
    out["account"]["followers_count"] = "many"  # a count sent as text: quarantined
    return out


def _land(policy: PrivacyPolicy, *items: dict[str, Any]):
    page = Page(source=parse_source("public"), instance=LOCAL, endpoint="/api/v1/timelines/public", items=list(items))
    return land_page(page, policy)


@pytest.mark.parametrize("privacy", [True, False])
def test_a_malformed_status_of_an_erased_account_is_skipped_not_quarantined(privacy: bool) -> None:
    status = body("test_status_card.json", 1)
    handle = f"{status['account']['acct']}@{LOCAL}"
    probe = PrivacyPolicy(key=KEY if privacy else None, enabled=privacy)
    key = probe.account_key(handle) if privacy else clear_key_digest(handle)
    policy = PrivacyPolicy(key=KEY if privacy else None, enabled=privacy, suppressed=frozenset({key}))
    boost = body("test_status_reblog_unreblog.json", 1)  # another person's boost of the erased account's status
    boost["account"], boost["reblog"]["account"] = body("test_accounts.json", 1), copy.deepcopy(status["account"])
    assert boost["account"]["acct"] != status["account"]["acct"]
    landed = _land(policy, malformed(status), malformed(boost))
    assert (landed.quarantined, landed.skipped, landed.records) == ([], 2, [])
    assert policy.counts == {"skipped_suppressed": 1, "skipped_reblog_of_opted_out": 1}


@pytest.mark.parametrize("privacy", [True, False])
def test_a_malformed_status_of_an_opted_out_account_is_skipped_and_the_opt_out_noted(privacy: bool) -> None:
    status = body("test_status_card.json", 1)
    status["account"]["note"] = NOBOT_NOTE
    policy = PrivacyPolicy(key=KEY if privacy else None, enabled=privacy)
    landed = _land(policy, malformed(status))
    assert (landed.quarantined, landed.skipped, landed.opted_out) == ([], 1, 1)
    assert policy.opted_out == {policy.account_key(status["account"]["acct"], LOCAL)}


def test_a_malformed_status_of_another_account_is_still_quarantined() -> None:
    policy = PrivacyPolicy(key=None, enabled=False)
    landed = _land(policy, malformed(body("test_status_card.json", 1)))
    assert len(landed.quarantined) == 1 and "followers_count" in landed.quarantined[0].reason
    assert landed.skipped == 0


def test_the_collector_quarantines_no_malformed_status_of_an_erased_account(mastodon_server, tmp_path: Path) -> None:
    """The real collector, privacy off, against the recorded Mastodon double, after the erasure of the author of a
    status the public timeline then answers with a count no 64-bit column holds."""
    lake_dir = tmp_path / "lake"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'store.db'}", privacy=False,
                        backfill_pages=1, max_retries=0)
    served = mastodon_server.public_statuses()
    erased = served[1]["account"]["acct"]  # the second item is malformed (huge_counts: its account's count)
    assert served[0]["account"]["acct"] != erased  # the first one too (a status count): another person's
    assert run_collection(settings, [(mastodon_server.url, parse_source("instance"))], progress=False).ok
    erase_account(settings, f"{erased}@{mastodon_server.domain}")
    mastodon_server.malformed("huge_counts", times=1, path="/api/v1/timelines/public")
    summary = run_collection(settings, [(mastodon_server.url, parse_source("public"))], max_pages=1, progress=False)
    assert summary.quarantined == 1 and summary.skipped >= 1, summary.line()
    [quarantined] = [json.loads(p.read_text()) for p in (lake_dir / "quarantine").rglob("*.json")]
    assert [entry["item"]["account"]["acct"] for entry in quarantined["entries"]] == [served[0]["account"]["acct"]]
