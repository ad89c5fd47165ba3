"""Reply ids an older erasure left behind, scrubbed by every ``fediscope gdpr erase`` run.

A reply to an erased account's status loses ``in_reply_to_account_id`` (null) and ``in_reply_to_id`` (:data:`ERASED`:
a status id on a known instance names its author through the instance's API), in the raw lake, the curated
statuses, and at landing after the erasure (:func:`fediscope.privacy.unreplied`). Releases before that nulled
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

**An interrupted erasure.** An erasure stopped after its raw pass and before (or part-way through) its curated one
leaves curated rows with ids whose raw records it scrubbed: the reply ids above, and the ids of the erased account's
statuses in other people's replies once the partition holding those statuses was rewritten. Run again, it meets
neither in the raw lake any more. So the curated pass also scrubs the ``in_reply_to_id`` of a row whose status (its
``uri``) says :data:`ERASED` in a raw record (:meth:`OldReplies.note_erased`): every copy of a reply answers the same
status, and only an erasure or a landing after one writes the marker. Counted as an old reply row.

**A reply to an erased account's id.** A reply whose ``in_reply_to_account_id`` is on the suppression list (an id
pseudonym; with privacy off, the digest of ``instance/id``: :meth:`~fediscope.privacy.PrivacyPolicy.
replies_to_suppressed`, the rule landing applies) is scrubbed the same way (``in_reply_to_account_id`` null,
``in_reply_to_id`` :data:`ERASED`), its curated rows matched as above. An erasure finds the replies to the account it
erases by the account's ids, but those are known only from its records and the mentions of it: stopped after
rewriting those, run again it no longer knows them, and a reply neither mentioning the account nor answering a
status the lake holds kept both ids. The list has them, not tied to the account, so such a reply is counted here,
whoever's it was, as is one landed by a collection that started before the erasure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fediscope.gdpr.subject import ERASED, nested_statuses, status_copy
from fediscope.lake.batches import decode_jsonl
from fediscope.privacy import PrivacyPolicy, unreplied

#: Byte patterns of the two halves of a leftover, for the fast path over a raw batch's lines (:func:`may_hold`).
_NULL_ACCOUNT = re.compile(rb'"in_reply_to_account_id"\s*:\s*null')
_SET_REPLY_ID = re.compile(rb'"in_reply_to_id"\s*:\s*(?!null\b|""|"\[erased\]")')
#: A reply an erasure (or a landing after one) scrubbed, for the fast path of :meth:`OldReplies.note_erased`.
_ERASED_REPLY_ID = re.compile(rb'"in_reply_to_id"\s*:\s*"\[erased\]"')
#: The account ids replies name, for the fast path of a reply to an erased account (:meth:`OldReplies.may_hold`):
#: Mastodon's ids are strings, but a number (another server's) is read too.
_REPLIED_TO = re.compile(rb'"in_reply_to_account_id"\s*:\s*(?:"([^"\\]+)"|(\d+))')
#: A line :meth:`OldReplies.may_hold` finds something in holds a match of one of these (the reply id :func:`may_hold`
#: needs, the account id a reply to an erased account names): the raw pass looks no further at a line without.
LINE_PATTERNS = (_SET_REPLY_ID, _REPLIED_TO)


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

    #: The landing policy holding the suppression list, as the lake was landed (privacy on or off): a reply whose
    #: ``in_reply_to_account_id`` it says is an erased account's (:meth:`~fediscope.privacy.PrivacyPolicy.
    #: replies_to_suppressed`) is scrubbed too, as landing scrubs it (module docstring)
    suppression: PrivacyPolicy | None = None
    copies: set[str] = field(default_factory=set)
    #: The statuses (``uri``) whose raw records say their ``in_reply_to_id`` is :data:`ERASED` (:meth:`note_erased`)
    erased: set[str] = field(default_factory=set)
    records: int = 0  # raw records scrubbed
    rows: int = 0  # curated rows scrubbed

    def __bool__(self) -> bool:
        """Whether the curated pass has any row to look for."""
        return bool(self.copies or self.erased)

    def counts(self) -> dict[str, int]:
        """``old_reply_records_scrubbed`` and ``old_reply_rows_scrubbed``, those that are not 0."""
        counts = {"old_reply_records_scrubbed": self.records, "old_reply_rows_scrubbed": self.rows}
        return {name: value for name, value in counts.items() if value}

    def may_hold(self, text: bytes) -> bool:
        """Fast path of a raw batch (decompressed): can a record of it hold an old reply, or a reply to an erased
        account? With privacy off (ids kept as ``instance/id`` digests) any reply may: its records are parsed."""
        if may_hold(text):
            return True
        if self.suppression is None or not self.suppression.suppressed:
            return False
        replied = (b"".join(match.groups(b"")).decode() for match in _REPLIED_TO.finditer(text))
        return any(not self.suppression.enabled or value in self.suppression.suppressed for value in replied)

    def scrub_record(self, entity: str, data: Any, instance: str) -> bool:
        """Scrub the old replies and the replies to an erased account in one raw record's ``data`` (fetched from
        ``instance``) in place; whether any."""
        if entity != "statuses":
            return False
        found = False
        for status in nested_statuses(data):
            if is_old_reply(status) or self._replies_to_erased(status, instance):
                if copy := status_copy(instance, status.get("in_reply_to_id")):
                    self.copies.add(copy)
                status.update(unreplied(status))
                found = True
        self.records += found
        return found

    def _replies_to_erased(self, status: Mapping[str, Any], instance: str) -> bool:
        return self.suppression is not None and self.suppression.replies_to_suppressed(
            status.get("in_reply_to_account_id"), instance)

    def note_erased(self, text: bytes, name: str) -> None:
        """Remember the statuses of a raw batch (decompressed, one record a line; ``name`` for a damaged line's
        error) whose ``in_reply_to_id`` is :data:`ERASED`. Only the lines that say so are parsed (the others are
        blanked, so a damaged line's number stays right)."""
        if _ERASED_REPLY_ID.search(text) is None:
            return
        lines = b"\n".join(line if _ERASED_REPLY_ID.search(line) else b"" for line in text.splitlines())
        for record in decode_jsonl(lines, name=name):
            data = record.get("data") if isinstance(record, dict) else None
            self.erased.update(str(status["uri"]) for status in nested_statuses(data)
                               if status.get("in_reply_to_id") == ERASED and status.get("uri"))

    def scrub_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A curated row whose ``in_reply_to_id`` replies to a copy :meth:`scrub_record` met, or whose status's raw
        records say :data:`ERASED` (:meth:`note_erased`), with it replaced by :data:`ERASED`; else the same
        object."""
        if row.get("in_reply_to_id") in (None, "", ERASED):
            return row
        if status_copy(row.get("fetched_from"), row["in_reply_to_id"]) in self.copies or row.get("uri") in self.erased:
            self.rows += 1
            return {**row, "in_reply_to_id": ERASED}
        return row
