"""With privacy off and an erasure on the suppression list, landing reads each author's bio for an erased account's
handle or profile link (:meth:`fediscope.privacy.PrivacyPolicy._collected_profile`). An author's bio comes back with
each of its statuses: a bio found to name no erased account is remembered (by a digest of its texts), not searched
again; one naming an erased account is rewritten every time; a handle domain registered later forgets what was
remembered, as it may make a handle name an erased account under its other name.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from gdpr_lake import LOCAL, STATUS_FILES, SUBJECT, recorded

from fediscope.erased_mentions import ERASED
from fediscope.privacy import PrivacyPolicy, clear_key_digest

USER = SUBJECT.split("@")[0]
OTHER = "mastodonpy_test"
SERVED, HANDLE_DOMAIN = "social.example.org", "example.org"


def _status() -> dict[str, Any]:
    """A recorded public status of another person that does not name the subject."""
    return copy.deepcopy(next(item for _, item in recorded(STATUS_FILES, "statuses")
                              if item["account"]["acct"] == OTHER and USER not in json.dumps(item)
                              and item["visibility"] == "public" and not item.get("reblog")))


def _reads(policy: PrivacyPolicy, monkeypatch: pytest.MonkeyPatch, note: str) -> list[int]:
    """Count the searches of texts holding ``note`` (the bio) for erased accounts."""
    reads: list[int] = []
    search = PrivacyPolicy._note_named

    def counted(self: PrivacyPolicy, texts: list[str], erased: dict) -> None:
        reads.extend(1 for text in texts if text == note)
        search(self, texts, erased)

    monkeypatch.setattr(PrivacyPolicy, "_note_named", counted)
    return reads


def test_a_bio_naming_no_erased_account_is_searched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = PrivacyPolicy(key=None, enabled=False, suppressed=frozenset({clear_key_digest(SUBJECT)}))
    status = _status()
    note = status["account"]["note"] = '<p>blog: <a href="https://example.com/blog">example.com/blog</a></p>'
    reads = _reads(policy, monkeypatch, note)
    for _ in range(5):
        landed = policy.apply("statuses", copy.deepcopy(status), LOCAL)
        assert landed is not None and landed["account"]["note"] == note
    assert len(reads) == 1


def test_a_bio_naming_an_erased_account_is_rewritten_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = PrivacyPolicy(key=None, enabled=False, suppressed=frozenset({clear_key_digest(SUBJECT)}))
    status = _status()
    status["account"]["note"] = f"<p>with {SUBJECT}</p>"
    for _ in range(3):
        landed = policy.apply("statuses", copy.deepcopy(status), LOCAL)
        assert landed is not None and landed["account"]["note"] == f"<p>with {ERASED}</p>"


def test_a_handle_domain_registered_later_forgets_the_bios_remembered() -> None:
    # erased under the served domain's name; the bio names the account by its handle domain's
    policy = PrivacyPolicy(key=None, enabled=False,
                           suppressed=frozenset({clear_key_digest(f"{USER}@{SERVED}")}))
    status = _status()
    status["account"]["note"] = f"<p>with {USER}@{HANDLE_DOMAIN}</p>"
    first = policy.apply("statuses", copy.deepcopy(status), LOCAL)
    assert first is not None and first["account"]["note"] == status["account"]["note"]  # not known to be the same
    assert policy.use_handle_domain(SERVED, HANDLE_DOMAIN) == HANDLE_DOMAIN
    again = policy.apply("statuses", copy.deepcopy(status), LOCAL)
    assert again is not None and again["account"]["note"] == f"<p>with {ERASED}</p>"
