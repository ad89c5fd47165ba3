"""The statuses of a page skipped for their author, and where an id that would name one of them moves instead.

With its instance a status id names its author. So neither the ids the collector saves in ``_state/`` (checkpoints,
an unfinished walk's ids, settle marks; :mod:`fediscope.sources.collector`) nor the paging cursors the scraping API
hands out (:mod:`api.upstream`, which NiFi keeps as its state) are ever those of the statuses the privacy policy
skips for whose they are — an erased (suppressed) or opted-out account's, and boosts of them. Such an id moves by
the least, in the direction that can only fetch again what was had, never skip what was not, to where the erasure
moves it (:func:`~fediscope.gdpr.cursors.moved_down`, :func:`~fediscope.gdpr.cursors.moved_up`): the page's nearest
other status (:class:`~fediscope.gdpr.cursors.KeptIds`) or, for a Mastodon snowflake, the first id of its minute
(of the next minute going up), whichever is nearer. One rule, one copy, for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fediscope.gdpr.cursors import KeptIds, moved_down, moved_up
from fediscope.privacy import PrivacyPolicy
from fediscope.sources.pages import usual_ids


@dataclass(frozen=True)
class Withheld:
    """The ids of a page's statuses not kept for whose they are (:meth:`of`), and the page's other ids (of its
    usual kind, :func:`~fediscope.sources.pages.usual_ids`): where an id moves when it is one of the first."""

    ids: frozenset[str]
    kept: KeptIds

    @classmethod
    def of(cls, policy: PrivacyPolicy, items: list[Any], domain: str) -> Withheld:
        """The statuses among ``items`` (a page of instance ``domain``) that ``policy`` skips for their author or
        the author of the status they boost. The instance's handle domain must be registered with ``policy``
        first (``use_handle_domain``), so that its local accounts are keyed as when they are landed."""
        ids = frozenset(i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)
                        and skipped_for_its_author(policy, i, domain))
        return cls(ids, KeptIds.of(i for i in usual_ids(items) if i not in ids))

    def saved_down(self, status_id: str | None) -> str | None:
        """What stands for ``status_id`` where an id bounds what was had from above (a checkpoint's ``newest_id``,
        a walk's ``upper``, the settle mark, the API's ``prev`` ``min_id``: everything at or below it is had): the
        id itself, unless it is withheld; then where the erasure would move it
        (:func:`~fediscope.gdpr.cursors.moved_down`: the nearest kept id below it or the first snowflake of its
        minute, whichever is higher), so that a timeline the account fills still moves on; None when neither exists
        (a text id with no kept id below it on the page: what that means is the caller's)."""
        if status_id is None or status_id not in self.ids:
            return status_id
        return moved_down(status_id, self.kept.below(status_id), self.ids)

    def saved_up(self, cursor: str | None) -> str | None:
        """What stands for a ``max_id`` cursor (a walk's ``cursor``, the API's ``next``: below it nothing was had
        yet): the cursor itself, unless it is withheld; then where the erasure would move it
        (:func:`~fediscope.gdpr.cursors.moved_up`: the page's nearest kept id above it or the first snowflake of the
        next minute, whichever is lower); None when neither exists."""
        if cursor is None or cursor not in self.ids:
            return cursor
        return moved_up(cursor, self.kept.above(cursor), self.ids)


def skipped_for_its_author(policy: PrivacyPolicy, status: dict[str, Any], domain: str) -> bool:
    """Whether ``policy`` skips ``status`` of instance ``domain`` for its author or that of the status it boosts
    (erased or opted out). A status without an ``acct`` is not: it is quarantined when landed."""
    boosted = status.get("reblog")
    authors = [status.get("account"), boosted.get("account") if isinstance(boosted, dict) else None]
    try:
        return any(isinstance(a, dict) and policy.skip_reason(a, domain) is not None for a in authors)
    except (KeyError, TypeError, ValueError, AttributeError):  # no acct: quarantined when landed, not skipped
        return False
