"""Reply ids an older erasure left behind, scrubbed by every ``fediscope gdpr erase`` run.

A reply to an erased account's status loses ``in_reply_to_account_id`` (null) and ``in_reply_to_id`` (:data:`ERASED`:
a status id on a known instance names its author through the instance's API), in the raw lake, the curated
statuses, and at landing after the erasure (:func:`fediscope.privacy._unreplied`). Releases before that nulled
the account id but **kept** the status id, and running their erasure again finds nothing: the account's statuses
are gone, so their ids can no longer be matched.

Such a leftover has a shape of its own: a status whose ``in_reply_to_account_id`` is present and null while its
``in_reply_to_id`` is set (and not :data:`ERASED`). Mastodon never sends it: both come from the status replied to,
and its database nullifies both when that status or its account goes (the recorded responses in
``tests/data/mastodon/recordings`` hold both set or both null, never one). Landing keeps ``in_reply_to_id`` as sent
and writes ``in_reply_to_account_id`` as null or as an id pseudonym (privacy on), or as sent (privacy off), so the
shape is the same in both lakes. Other servers behind the Mastodon API may send it: old Pleroma releases rendered
``in_reply_to_account_id`` null when the replied-to author was not cached (current Pleroma and Akkoma render ``""``
then, which is not matched). Their ``in_reply_to_id`` is then scrubbed as well: it stays a reply (``is_reply``), no
built-in metric reads the id, and keeping a link to a status that may be an erased person's is the worse error.
A status whose ``in_reply_to_account_id`` is absent is not matched (an older erasure always wrote the null), but a
lake landed with privacy on writes a null for an absent one, so there it is.

The curated ``statuses`` table has no ``in_reply_to_account_id``: its rows are matched by the copies of the statuses
replied to that the raw pass scrubbed (``fetched_from`` and ``in_reply_to_id``, as :class:`OldReplies` notes them),
so a curated row whose raw files are gone (raw retention shorter than curated) keeps its id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fediscope.gdpr.subject import ERASED, nested_statuses, status_copy

#: Byte patterns of the two halves of a leftover, for the fast path over a raw batch's lines (:func:`may_hold`).
_NULL_ACCOUNT = re.compile(rb'"in_reply_to_account_id"\s*:\s*null')
_SET_REPLY_ID = re.compile(rb'"in_reply_to_id"\s*:\s*(?!null\b|""|"\[erased\]")')


def is_old_reply(status: Mapping[str, Any]) -> bool:
    """Is ``status`` (a landed status, or one nested in it) a reply an older erasure or landing left its
    ``in_reply_to_id`` (see the module docstring)?"""
    return ("in_reply_to_account_id" in status and status["in_reply_to_account_id"] is None
            and status.get("in_reply_to_id") not in (None, "", ERASED))


def may_hold(text: bytes) -> bool:
    """Fast path of a raw batch (decompressed, one record a line): can a record of it hold an old reply? A line
    with both halves may still not (a boost of a reply, the boost's own fields null): it is parsed to tell."""
    if _SET_REPLY_ID.search(text) is None:
        return False
    return any(_NULL_ACCOUNT.search(line) and _SET_REPLY_ID.search(line) for line in text.splitlines())


@dataclass
class OldReplies:
    """The old replies of one erasure run: scrubbed from the raw records first (:meth:`scrub_record`), which notes
    the copies of the statuses they reply to (``instance/id``, :func:`~fediscope.gdpr.subject.status_copy`), then
    from the curated rows replying to those copies (:meth:`scrub_row`). Counted apart from the erased account's
    records and rows (:meth:`counts`): they are nobody's in particular, and an erasure of an account the lake does
    not hold must still say it found nothing of it."""

    copies: set[str] = field(default_factory=set)
    records: int = 0  # raw records scrubbed
    rows: int = 0  # curated rows scrubbed

    def counts(self) -> dict[str, int]:
        """``old_reply_records_scrubbed`` and ``old_reply_rows_scrubbed``, those that are not 0."""
        counts = {"old_reply_records_scrubbed": self.records, "old_reply_rows_scrubbed": self.rows}
        return {name: value for name, value in counts.items() if value}

    def scrub_record(self, entity: str, data: Any, instance: str) -> bool:
        """Scrub the old replies in one raw record's ``data`` (fetched from ``instance``) in place; whether any."""
        if entity != "statuses":
            return False
        found = False
        for status in nested_statuses(data):
            if is_old_reply(status):
                if copy := status_copy(instance, status["in_reply_to_id"]):
                    self.copies.add(copy)
                status["in_reply_to_id"] = ERASED
                found = True
        self.records += found
        return found

    def scrub_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A curated row whose ``in_reply_to_id`` replies to a copy :meth:`scrub_record` met, with it replaced by
        :data:`ERASED`; else the same object."""
        if self.copies and status_copy(row.get("fetched_from"), row.get("in_reply_to_id")) in self.copies:
            self.rows += 1
            return {**row, "in_reply_to_id": ERASED}
        return row
