"""Status versions as ``fediscope gdpr erase`` rewrites them, shared by the curation and the MapReduce tests: the
same fetch, with what the erasure cuts (a reply's ``in_reply_to_id`` says ``[erased]``, mentions of the account are
dropped, a quote of its status loses the quoted status)."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fediscope.gdpr.erase import erase_raw, find_all_traces
from fediscope.gdpr.subject import Subject, parse_account, subject_for_policy
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy

RECORDINGS = Path(__file__).resolve().parent / "data" / "mastodon" / "recordings"
INSTANCE = "localhost:3000"  # the recorded server


def _recorded_statuses(name: str) -> list[dict[str, Any]]:
    found = []
    for interaction in json.loads((RECORDINGS / name).read_text())["interactions"]:
        body = interaction["response"]["body"]
        if interaction["response"]["status"] == 200:
            found += [item for item in (body if isinstance(body, list) else [body])
                      if isinstance(item, dict) and "uri" in item and "account" in item]
    return found


def reply_and_quote() -> tuple[dict[str, Any], dict[str, Any], tuple[str, str]]:
    """admin's recorded reply to a status of mastodonpy_test_2 (mentioning it), admin's recorded quote of a status of
    mastodonpy_test, and those two accounts (``user@instance``): the accounts whose erasure rewrites them."""
    reply = next(s for s in _recorded_statuses("test_status_reply.json") if s["in_reply_to_id"] and s["mentions"])
    quote = next(s for s in _recorded_statuses("test_status_quote_revoke.json")
                 if (s.get("quote") or {}).get("quoted_status"))
    accounts = (f"{reply['mentions'][0]['acct']}@{INSTANCE}",
                f"{quote['quote']['quoted_status']['account']['acct']}@{INSTANCE}")
    return copy.deepcopy(reply), copy.deepcopy(quote), accounts


def _subject(account: str, policy: PrivacyPolicy | None) -> Subject:
    if policy is not None:
        return subject_for_policy(policy, account)
    user, domain = parse_account(account)
    return Subject(key=f"{user}@{domain}", pseudonymised=False, username=user, domain=domain)


def as_erased(records: list[dict[str, Any]], accounts: tuple[str, ...], fetched_at: datetime, scratch: Path,
              policy: PrivacyPolicy | None = None) -> list[dict[str, Any]]:
    """Landed status ``records`` (envelopes, fetched at ``fetched_at``, from :data:`INSTANCE`) as the erasure of each
    of ``accounts`` rewrites them: its raw pass (:func:`~fediscope.gdpr.erase.erase_raw`) over a lake at ``scratch``
    holding them alone (``policy``: the one that landed them; None: privacy off). The fetch time is kept."""
    lake = LocalLake(scratch)
    write_batch(lake, "statuses", INSTANCE, copy.deepcopy(records), fetched_at=fetched_at)
    for account in accounts:
        subject = _subject(account, policy)
        erase_raw(lake, list(zip([subject], find_all_traces(lake, [subject]), strict=True)))
    return [record for path in raw_batch_files(lake) for record in read_batch(lake, path)]
