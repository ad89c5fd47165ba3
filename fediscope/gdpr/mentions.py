"""The erased account's mentions and profile links in other people's texts, in a lake landed with privacy off.

With privacy on, landing writes every mention and profile link of an account as the account's pseudonym
(``<a href="acct:<key>" class="u-url mention">@<span><key></span></a>``), which the erasure finds as a word and
replaces by :data:`~fediscope.privacy.ERASED`. With privacy off the texts are as collected: a mention is Mastodon's
``<a href="https://host/@name" class="u-url mention">@<span>name</span></a>``, which holds neither ``name@domain``
nor a link of one of the account's statuses, the traces the erasure replaces in a text
(:meth:`~fediscope.gdpr.subject.Traces.values`), so the name and the profile link stayed in other people's texts.

:class:`ProfileLinks` finds them, as :mod:`fediscope.erased_mentions` describes (one implementation: landing with
privacy off rewrites a status that names an account on the suppression list with it too — by a mention, a quote, a
card's author, or a handle or profile link in its texts —, so the status landed after the erasure says what the
erasure made of it landed before); here it is built from what the first pass found
(:class:`~fediscope.gdpr.subject.Traces`: the key, the ids, the profile links of
:attr:`~fediscope.gdpr.subject.Traces.profile_links`), and asks which statuses of a record mention the account.
A card's author is removed as a mention is (:func:`unlink_card_author`); a card's texts are erased as a status's
are, and a card previewing one of the account's own pages keeps its type and provider alone.
"""

from __future__ import annotations

from typing import Any

from fediscope.erased_mentions import ProfileLinks as _SharedProfileLinks
from fediscope.erased_mentions import unlink_card_author as _unlink_card_author
from fediscope.gdpr.subject import Traces, account_key_of, nested_statuses


class ProfileLinks(_SharedProfileLinks):
    """The profile links of the subject of an erasure of a lake landed with privacy off (module docstring)."""

    def __init__(self, traces: Traces) -> None:
        super().__init__(traces.key, traces.profile_links, traces.ids)

    def mentioned(self, data: Any, instance: str) -> list[bool]:
        """For each status a raw status record's ``data`` carries (:func:`~fediscope.gdpr.subject.nested_statuses`),
        whether its ``mentions`` name the account. Asked before the erasure drops them."""
        return [any(account_key_of(m, instance) == self.key for m in status.get("mentions") or [])
                if isinstance(status.get("mentions"), list) else False for status in nested_statuses(data)]


def unlink_card_author(status: dict[str, Any], instance: str, traces: Traces, links: ProfileLinks | None) -> None:
    """Remove the account from the link preview (``card``) of ``status`` (in place): an entry of ``authors`` holding
    its account or its profile link goes, and ``author_name``/``author_url`` become empty when the link is its
    profile link (:func:`fediscope.erased_mentions.unlink_card_author`)."""
    _unlink_card_author(status, lambda account: account_key_of(account, instance) == traces.key, links)
