"""With privacy off, a quarantined body read in part keeps no start of an erased account's handle or link at its end.

A body longer than the quarantine reads (:data:`~fediscope.sources.quarantine.MAX_BODY` characters, read as that
many bytes and a margin) may end inside a handle; the policy's scrub (:meth:`fediscope.privacy.PrivacyPolicy.
erased_in_quarantine`) finds an erased account's handle and links only whole. Was: the cut-off start
(``@mastodonpy_test_2@local``) was kept — in a body of multi-byte text, whose bytes read are fewer characters than
the cut keeps, or in one whose earlier handles the scrub shortened, bringing the end within the cut.
"""

from __future__ import annotations

import pytest
from gdpr_lake import LOCAL, SUBJECT

from fediscope.erased_mentions import ERASED
from fediscope.privacy import PrivacyPolicy, clear_key_digest
from fediscope.sources.quarantine import _MASK_MARGIN, MAX_BODY, body_entry

READ = MAX_BODY + _MASK_MARGIN  # the bytes a body entry reads


def _kept(filler: str, cut_at: int) -> str:
    """The body kept of an HTML page naming the subject, ``filler`` text, then the subject's handle again, the
    read ending ``cut_at`` bytes into that handle."""
    policy = PrivacyPolicy(key=None, enabled=False, suppressed=frozenset({clear_key_digest(SUBJECT)}))
    head = f"<p>@{SUBJECT} wrote</p><p>".encode()
    fill = filler.encode()
    body = head + fill * ((READ - len(head)) // len(fill))
    body = body[:READ - cut_at] + b" " * (READ - cut_at - len(body[:READ - cut_at]))
    body += f"@{SUBJECT} more</p>".encode() + b"x" * 100
    assert len(body) > READ and body[READ - cut_at:READ] == f"@{SUBJECT}".encode()[:cut_at]
    entry = body_entry("not JSON", body, 502, "text/html", keep_raw=True, scrub=policy.quarantine_scrub(LOCAL))
    return entry["body"]


@pytest.mark.parametrize("filler", ["日本語のテキスト ", f"cc @{SUBJECT} "], ids=["multi_byte", "shortened"])
def test_a_body_cut_inside_an_erased_handle_keeps_no_start_of_it(filler: str) -> None:
    user = SUBJECT.split("@")[0]
    kept = _kept(filler, len(user) + 5)  # "@mastodonpy_test_2@loc"
    assert ERASED in kept and SUBJECT not in kept
    assert user not in kept, kept[-60:]
