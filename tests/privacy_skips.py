"""Shared set-up of the tests that check opt-outs are counted apart from the rest of the privacy policy's skips
(``collect``, ``stream``, the scraping API): in the Mastodon double's recorded statuses one author opts out
(``#nobot`` in its bio) and another is erased (on the lake's suppression list), so both kinds of skip occur."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from fediscope.gdpr.suppression import add_suppressed
from fediscope.lake.backend import LakeBackend
from fediscope.privacy import PrivacyPolicy

NOBOT_NOTE = "<p>Please leave me out #nobot</p>"


@dataclass(frozen=True)
class PrivacySkips:
    opted: str           # the acct of the author who opted out (never to be named in any output)
    opted_statuses: int  # how many of the statuses counted among are theirs
    erased: str          # the acct of the author who was erased


def opt_out_one_author_and_erase_another(double: Any, lake: LakeBackend, policy: PrivacyPolicy,
                                         among: list[dict[str, Any]] | None = None) -> PrivacySkips:
    """The two authors with the most statuses ``among`` those given (default: all the double's public statuses):
    the first opts out (every copy the double serves from now on says so), the second is erased in ``lake`` (keyed
    by ``policy``). Returns them, with the first's number of statuses ``among`` those."""
    statuses = double.public_statuses() if among is None else among
    (opted, opted_statuses), (erased, _) = Counter(s["account"]["acct"] for s in statuses).most_common(2)
    assert double.set_account_note(opted, NOBOT_NOTE) > 0
    add_suppressed(lake, policy.account_key(erased, double.domain))
    return PrivacySkips(opted=opted, opted_statuses=opted_statuses, erased=erased)
