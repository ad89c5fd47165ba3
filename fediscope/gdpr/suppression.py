"""The suppression list: account keys erased on request, which later collections must skip.

Erasing records is not enough: the next collection would land the account again. The collector passes this
list to :func:`fediscope.privacy.policy_from_settings` (``suppressed=load_suppressed(lake)``), and the policy
skips the account, its statuses and boosts of them, counted as ``skipped_suppressed``.

The list lives in ``<lake>/_state/suppressed.json`` next to the checkpoints, so it travels with the lake (local
or HDFS) and every collector and API process that lands into this lake sees it. It holds pseudonyms only (the
account key, and the account's id pseudonyms so that replies to it lose ``in_reply_to_account_id`` and
``in_reply_to_id``, at landing and, for one the lake holds, at the next erasure: :mod:`fediscope.gdpr.old_replies`),
never a clear name; it is therefore tied to the pseudonym key: after a key rotation, re-erase
the accounts on it (see the processing register). An account erased from a lake landed with privacy off is
listed as the digest of its clear key (:func:`fediscope.privacy.clear_key_digest`), and its ids as digests of
``instance/id``, which the policy then compares (privacy off keeps no pseudonyms).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fediscope.errors import LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import STATE_ROOT

if TYPE_CHECKING:
    from fediscope.privacy import PrivacyPolicy
    from fediscope.sources.spec import SourceRef

SUPPRESSED_PATH = f"{STATE_ROOT}/suppressed.json"


def load_suppressed(lake: LakeBackend) -> set[str]:
    """The pseudonyms on the suppression list (account keys and id pseudonyms; empty when nobody was erased)."""
    if not lake.exists(SUPPRESSED_PATH):
        return set()
    try:
        document = json.loads(lake.read(SUPPRESSED_PATH))
        accounts = document["accounts"]
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise TypeError("'accounts' is not a list of strings")
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(f"{SUPPRESSED_PATH} in the lake is damaged ({exc}); restore it from a backup — without it, "
                        "erased accounts would be collected again") from None
    return set(accounts)


def add_suppressed(lake: LakeBackend, account_key: str, ids: Iterable[str] = ()) -> bool:
    """Put an account key (and the account's id pseudonyms) on the list, atomically. Returns False when the
    account key was already there."""
    if not account_key:
        raise ValueError("empty account key")
    accounts = load_suppressed(lake)
    new = account_key not in accounts
    if not new and set(ids) <= accounts:
        return False
    accounts.update([account_key, *ids])
    document = {"accounts": sorted(accounts), "updated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    lake.write_atomic(SUPPRESSED_PATH, json.dumps(document, indent=1).encode())
    return new


def names_an_erased_account(policy: PrivacyPolicy, source: SourceRef, domain: str,
                            handle_domain: str | None = None) -> bool:
    """Whether an ``account:`` / ``account_lookup:`` source of instance ``domain`` names an account ``gdpr erase``
    put on the suppression list of ``policy``: nothing of it may be landed or served, so ``fediscope collect`` does
    not collect it (its checkpoint, the account's newest status id, would be written again) and the scraping API
    answers 410 ``erased_account``, both before any request to the instance. ``handle_domain``: the instance's
    handle domain, when known: a source without a domain is also looked up as written with it
    (``account:alice`` of social.example.com as ``alice@example.com``), since with privacy off the policy keys a
    local account by the domain connected to (``alice@social.example.com``), not by the handle the erasure was
    given."""
    if not source.names_an_account or not source.arg:
        return False
    handles = [source.arg, *([f"{source.arg}@{handle_domain}"] if handle_domain and "@" not in source.arg else [])]
    return any(policy.skip_reason({"acct": handle}, domain) == "suppressed" for handle in handles)
