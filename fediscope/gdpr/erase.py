"""Right to erasure: remove one account from the raw lake, the curated tables and every store table.

``erase_account(settings, "alice@mastodon.social")`` works in this order, so that an interruption never leaves
the account collectable again:

1. the account key goes on the suppression list (later collections skip the account, its statuses and boosts);
2. **find** (first pass): the id pseudonyms and status links that point at the account (:class:`Traces`); the
   id pseudonyms (with privacy off: digests of ``instance/id``) join the suppression list too (later replies to
   the account lose the reference); what it finds, and what a stopped run of the same erasure had found, is kept
   in ``<lake>/_state/erasing_traces.json`` until step 7 is done (:mod:`fediscope.gdpr.resume`);
3. **checkpoints**: those of an ``account:`` source naming the account are deleted (``name@domain`` from any
   instance, the bare ``name`` only from its own instance or one serving its handle domain: elsewhere that is
   another person, :func:`account_state_files`), and every other checkpoint or settle
   mark holding the id of one of its statuses (or of a boost of one) on that instance — with the instance, the id
   names its author — is moved to an id that names none, down for the ids below which all is landed, up for a
   walk's cursor, so the next collection fetches some statuses again but skips none
   (:mod:`fediscope.gdpr.cursors`). Before any raw file is rewritten, so that running it again still finds the ids;
4. **raw lake**: records that are the account's are dropped — its statuses, boosts of its statuses, its account and
   directory records, and the streamed deletions of its statuses (:func:`is_deletion_of`: a status id on a known
   instance names its author; the suppression list, not a tombstone, keeps the status from coming back); in other
   records, mentions of it are dropped from ``mentions``, a reply to its status loses ``in_reply_to_account_id``
   (null) and ``in_reply_to_id`` (``[erased]``: still a reply, to a status nobody can look up), a quote of its status
   loses ``quoted_status``, an instance whose contact it is loses ``contact.account``, a link preview whose author it
   is loses the author; whatever still names it (its handle inside the text of a status that mentioned it) is
   replaced by ``[erased]``, and with privacy off, where a text names it as collected, so are a mention of it
   (``@<span>name</span>`` and its ``href``) and its profile links, in the texts and the link preview of every
   status, mentioning it or not; a link preview of one of its own pages keeps its type and provider alone
   (:mod:`fediscope.gdpr.mentions`). Affected batch
   files are rewritten atomically under the same name (a file left empty is deleted; one that stays in the curated
   manifest, as curation keeps other people's rows from it, is listed there under a name that does not name the
   account when its own did: :func:`erase_raw`). Mention entries are *removed*
   rather than blanked: a blank entry would still say "this status mentioned somebody who asked to be forgotten", and
   no metric needs it. The same pass, and
   the curated one of step 5, scrub the reply ids an erasure (or a landing) by an older release left, whoever it
   erased, and the replies to any account id on the suppression list, as landing does (:mod:`fediscope.gdpr.
   old_replies`; counted under ``other``: ``old_reply_records_scrubbed``, ``old_reply_rows_scrubbed``). It also
   notes the status records whose text says ``[erased]``, so that the curated pass gives their rows the columns
   curation computes from the text (``content_length``, …) as a curation of the rewritten record gives them, also
   where an earlier erasure rewrote the text (:mod:`fediscope.gdpr.texts`; counted under ``other``:
   ``content_rows_recounted``); a status whose text it rewrites keeps the length of the text as written
   (``authored_length``: landing records it, the erasure records it with privacy off), so ``content_length`` is
   that of the text its readers saw, landed before or after the erasure, with privacy on or off;
5. curated Parquet tables (:mod:`fediscope.gdpr.curated`), store tables — every metric the store's catalog
   lists, as it recorded it, also one whose SQL file is gone (:func:`stored_metrics`; the metric files are never
   read, so a broken or clashing one does not hold the erasure up) — (``delete_where`` on
   ``account_key``, then any row still holding a trace, then any row identifying one of its statuses by id —
   :func:`~fediscope.gdpr.subject.names_status`; tables no catalog entry lists cannot be read and are named in a
   warning, :func:`unlisted_tables`), quarantined files naming the account or named after a page of a source
   naming it (:func:`erase_quarantined`: its batch tag, a digest of the handle) and the quarantine files the NiFi
   flows wrote that name any account on the suppression list (:func:`nifi_files_naming_the_erased`: written after
   an earlier erasure, out of every policy's reach; counted ``quarantined_files_of_earlier_erasures_deleted``),
   every temporary file a write killed
   before its rename left in the lake once it is a day old, as ``fediscope gdpr retention`` removes them (counted
   under ``other``: ``temporary_files_removed``; a collection killed between writing a raw batch and renaming it
   leaves the batch's records there, perhaps the account's), and the metric results kept for incremental runs
   (:mod:`fediscope.engine.metric_state`), so the next ``fediscope process`` recomputes every metric — aggregates
   included — without the account;
6. pending opt-out notes (:mod:`fediscope.gdpr.opt_outs`) lose the account's key(s): a note naming only them is
   deleted, one naming other accounts too is rewritten atomically without them (``opt_out_notes_removed``); then,
   when unfinished writes hold the account's records (below), one note is left for them;
7. an audit line (time, pseudonym, counts — never the clear name) is appended to ``<lake>/_audit/erasures.jsonl``;
   then the traces kept at step 2 are removed.

**Unfinished writes.** A collector lands a raw batch under a hidden temporary name and renames it into place, and
takes no lake lock. The temporary files of raw batches' writes, of any age, are read at step 2 (one walk of the
lake's hidden files, :func:`~fediscope.lake.debris.list_temporary_files`, also the one step 5 removes the day-old
ones from), so what only they hold of the account (its id pseudonyms, its statuses' links and ids) is among its
traces: on the suppression list, searched for in the checkpoints, the curated tables and the store. A file younger
than a day may be a write under way: removing it would lose the collection's batch, and rewriting it would race
the collector, which renames its own bytes into place. So it is left, and when it holds the account's records
(what the raw pass would change in it were it a batch, :func:`unfinished_holding`), the erasure is not finished
for it, and says so: the report lists it (``unfinished_writes``, also counted in the audit line), a warning names
it, and a pending note (:func:`~fediscope.gdpr.opt_outs.note_opt_outs`, ``"source": "gdpr erase"``, with the
files) has the first ``fediscope process`` after one of them has landed erase the account's keys again, in the
raw lake and the curated tables, before it reads anything, moving the checkpoints off its status ids as step 3
does (a collector that was running saves its checkpoint at the newest status it landed) and writing an audit line
``"action": "erase"`` of its own (:mod:`fediscope.gdpr.opt_outs`, "Unfinished writes");
the note waits while a file is unfinished, and goes once none is left (a killed write's is removed a day later,
by this erasure run again or ``fediscope gdpr retention``). Running the erasure again once the collection is done
finishes it at once. Young temporary files that are not a raw batch's are not searched: they are named in a
warning, as possibly holding the account's records (:func:`temporary_file_warnings`).

**One account, several keys.** Local accounts of a server served from ``social.example.com`` whose handles are
``@alice@example.com`` are keyed as ``alice@example.com``, but records landed before that rule existed, or by a
run that could not read the instance document before its handle domain was remembered, carry
``alice@social.example.com``. Every step above is therefore done for each key the account has by the handle
domains remembered in ``<lake>/_state/handle_domains.json`` (:mod:`fediscope.sources.handle_domains`) — asked for
``alice@example.com`` or ``alice@social.example.com``, both — in one run with one report and one audit line
(``also_keys``). An instance whose handle domain was never learned is not known to be the same server: erase its
served-domain handle separately. What is landed afterwards is kept out under both names all the same: once a
landing learns (or the lake remembers) the handle domain, it looks an account up on the suppression list under its
other name too (:meth:`~fediscope.privacy.PrivacyPolicy.is_erased`), so ``alice@social.example.com`` erased alone
is not landed again as ``alice@example.com``, from its home instance or another one, with privacy on or off.

The keys share the passes: step 2 reads each raw batch and curated file once and collects the traces of every key
(:func:`find_all_traces`); steps 4 and 5 read each file once more and apply the keys one after the other to its
records in memory — the asked key first, as erasing them one by one would — so an affected file is rewritten
once, whatever the number of keys. The counts are those of erasing the keys one by one (a record one key
scrubbed and the next one removed counts once for each; ``files_rewritten`` counts one rewrite per key that
changed the file). The traces of every key are found before any is erased: a value two keys share (the link of
a status landed under both, an id pseudonym, which depends on the instance and not on the key) is then a trace
of both, and is gone once the first key is applied, so the result is that of erasing the keys one by one. An
interrupted erasure leaves every file either untouched or rewritten for all keys; running it again finishes it.

**Interrupted.** Run again, an erasure stopped anywhere (Ctrl-C, SIGTERM, a lost machine) finishes it: it starts
from what the stopped run found, kept at step 2 (:mod:`fediscope.gdpr.resume`) — so another person's boost of the
account's status, named by the status's link alone in a curated partition the stopped run had not reached, and the
store's rows of its statuses by id, are found although the raw records and the curated rows that held the link and
the ids are rewritten already; besides, the checkpoints move before any raw file is rewritten, while the status ids
are still found; once the raw batches are rewritten, the account's curated rows still name its statuses (their
copies, ``origin_ref``, links), and the curated ``status_deletions`` are rewritten before the ``statuses`` (the lake
lists them in that order), so the deletions of its statuses are still matched; what neither names any more — a
reply's ``in_reply_to_id`` in a curated partition rewritten after the one holding its statuses, or an old reply's —
is found by the raw records of the reply, which say ``[erased]``
(:meth:`~fediscope.gdpr.old_replies.OldReplies.note_erased`); a reply that is linked to the account by its
``in_reply_to_account_id`` alone, once the records holding the account's ids are rewritten, by the suppression list,
which holds them. A raw file of only the account's records leaves the curated manifest even when the erasure stops
right after deleting it (:func:`erase_raw`). A ``fediscope process`` in between does not finish it (the account's
own curated rows stay until the erasure is run again), but it undoes none of it: it reads the rewritten batches
again, and their versions of other people's statuses, which tie with the curated rows on the fetch and the counts,
win the merge (:data:`~fediscope.engine.curate_sql.STATUS_ORDER`: a reply id ``[erased]``, fewer mentions, no quoted
author). Killed outright in the store pass (SIGKILL, the OOM killer: no clean-up runs), between a metric's deletion
and its record in the store's catalog, it leaves the rows gone but the catalog's row count of before and a
provisional generation (the metric is "Partly written" in ``fediscope report``, its API cursors stale, and ``store
export`` refuses it); the run again, which finds none of the account's rows left, records every metric it passes
anew when its catalog entry disagrees with the rows (:func:`erase_store`), so the store ends as an uninterrupted
erasure leaves it, not at the next ``fediscope process``. Stopped by the store itself (gone, a call refused, a table
dropped by hand), the store's error says that the erasure is unfinished, what is done, and to run it again once the
store is fixed (:func:`unfinished_in_store`); a store that cannot be opened stops it before anything is touched, and
its error says that nothing was erased (:data:`NOTHING_ERASED`). Stopped by the lake (a write or deletion refused, a
full disk), its error says the same kind of thing (:func:`unfinished`, one wording for both): nothing was erased
before the account is on the suppression list; after, what may be left (:func:`unfinished_in_lake`,
:func:`unfinished_at_the_end`) and to run it again. ``fediscope gdpr erase`` prints the warnings the erasure gathered
before the error (``warnings`` of :func:`erase_account`).

The pseudonym then remains only in the suppression list and the audit log, where it is needed. Run erasure
when no collection is running (a collection that started before step 1 does not know the account is
suppressed); running it again is harmless. It holds the lake lock (:mod:`fediscope.lake.lock`) throughout, so
it fails at once while a ``fediscope process`` runs on the lake, and the other way round.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import re
import sqlite3
import zlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

from fediscope.analysis import stale_as_store_error
from fediscope.config import Settings
from fediscope.engine.manifest import forget_erased_files
from fediscope.engine.metric_state import forget as forget_metric_snapshots
from fediscope.engine.metrics import Metric, without_metric_file
from fediscope.engine.schema import STATUS_DELETIONS
from fediscope.engine.workspace import tidy_stopped_runs
from fediscope.erased_mentions import quoted_paths, value_at
from fediscope.errors import LakeError, MetricFileError, StoreError
from fediscope.gdpr.curated import erase_curated, note_curated_traces
from fediscope.gdpr.cursors import move_checkpoints
from fediscope.gdpr.mentions import ProfileLinks, unlink_card_author
from fediscope.gdpr.old_replies import LINE_PATTERNS, OldReplies
from fediscope.gdpr.opt_outs import forget_opt_outs, note_opt_outs
from fediscope.gdpr.resume import TRACES_PATH, forget_traces, resume_traces
from fediscope.gdpr.subject import (
    ORIGIN_REF_COLUMN,
    STATUS_ID_COLUMN,
    Subject,
    Traces,
    account_key_of,
    contains_trace,
    copy_ids,
    may_hold_in_json,
    may_hold_trace,
    names_status,
    nested_statuses,
    parse_account,
    scrub,
    status_author,
    status_copy,
    subject_from_settings,
    subjects_from_settings,
    trace_search,
)
from fediscope.gdpr.suppression import add_suppressed, load_suppressed
from fediscope.gdpr.texts import RewrittenTexts
from fediscope.interrupts import raise_if_lost
from fediscope.lake.backend import LakeBackend, open_lake, require_lake_layout, url_below
from fediscope.lake.batches import decode_jsonl, encode_jsonl, gunzip_batch, raw_batch_files
from fediscope.lake.debris import (
    TemporaryCleanup,
    list_temporary_files,
    remove_stale_temporary_files,
    unfinished_raw_batches,
)
from fediscope.lake.key_check import require_lake_key, require_pseudonym_key
from fediscope.lake.layout import AUDIT_ROOT, QUARANTINE_ROOT, STATE_ROOT, parse_partition, state_path
from fediscope.lake.lock import lake_lock
from fediscope.lake.state import PERSONAL_SOURCES, checkpoint_source, source_batch_tag
from fediscope.privacy import (
    PrivacyPolicy,
    clear_key_digest,
    keep_lengths_as_written,
    policy_from_settings,
    unreplied,
)
from fediscope.sources.handle_domains import load_handle_domains, usable_handle_domain
from fediscope.sources.spec import SourceRef
from fediscope.sources.walk_lock import walk_lock_name, walk_lock_tag
from fediscope.step_progress import in_steps
from fediscope.store.port import MetricStore, open_existing
from fediscope.wording import count

log = logging.getLogger(__name__)

AUDIT_PATH = f"{AUDIT_ROOT}/erasures.jsonl"


@dataclass
class ErasureReport:
    """What one erasure removed (printed by the CLI and written to the audit log)."""

    account_key: str  # the pseudonym (or a hash when the lake holds clear names): never the clear name
    at: str
    raw: dict[str, int] = field(default_factory=dict)
    curated: dict[str, int] = field(default_factory=dict)
    store: dict[str, int] = field(default_factory=dict)  # metric → rows deleted
    other: dict[str, int] = field(default_factory=dict)  # quarantined files, checkpoints
    newly_suppressed: bool = False
    warnings: list[str] = field(default_factory=list)
    #: the same account's other keys (pseudonyms, or hashes), erased in the same run: under the served domains of
    #: the instances remembered with its handle domain (module docstring); the counts above include them
    also_keys: list[str] = field(default_factory=list)
    #: the temporary files of raw batches' unfinished writes, left in place (too young to remove: perhaps a write
    #: under way), that hold the account's records: a pending note has the next curation erase them once landed
    #: (:func:`unfinished_holding`)
    unfinished_writes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        def part(name: str, counts: Mapping[str, int]) -> str:
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items()) if v)
            return f"{name}: {shown or 'nothing'}"

        also = f" (also keyed {', '.join(self.also_keys)})" if self.also_keys else ""
        return "; ".join([f"erased account {self.account_key}{also}", part("raw", self.raw),
                          part("curated", self.curated),
                          part("store", self.store), part("other", self.other)])


# -- raw records --------------------------------------------------------------------------------------------
def entity_and_instance(path: str, record: dict[str, Any]) -> tuple[str, str]:
    partition = parse_partition(path)
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    return partition.get("entity", ""), str(meta.get("instance") or partition.get("instance") or "")


def is_owned(entity: str, data: Any, instance: str, key: str) -> bool:
    """Is this landed record the account's own (dropped whole)?"""
    if entity in {"accounts", "directory"}:
        return account_key_of(data, instance) == key
    if entity == "statuses" and isinstance(data, dict):
        return status_author(data, instance) == key or status_author(data.get("reblog"), instance) == key
    return False


def is_deletion_of(entity: str, data: Any, instance: str, traces: Traces) -> bool:
    """Is this landed record a streamed deletion of one of the account's statuses
    (:meth:`~fediscope.gdpr.subject.Traces.names_deletion`; its ``origin_ref`` as the curation reads it: landed
    with privacy off, ``instance/id``)? Erased with the account: its instance and id name the status's author."""
    if entity != STATUS_DELETIONS.name or not isinstance(data, dict) or not traces.with_deletions:
        return False
    return traces.names_deletion(instance, data.get("id"),
                                 data.get("origin_ref") or status_copy(instance, data.get("id")))


def _unlink(entity: str, data: Any, instance: str, traces: Traces, links: ProfileLinks | None = None) -> Any:
    """Cut the references of a kept record to the account (see the module docstring, step 4). ``links``: the
    account's profile links, in a lake landed with privacy off (:mod:`fediscope.gdpr.mentions`)."""
    if not isinstance(data, dict):
        return data
    if entity == "statuses":
        for status in nested_statuses(data):
            if isinstance(status.get("mentions"), list):
                status["mentions"] = [m for m in status["mentions"] if account_key_of(m, instance) != traces.key]
            unlink_card_author(status, instance, traces, links)
            if traces.replies_to(status, instance):  # the status replied to is the account's: as landing leaves it
                status.update(unreplied(status))
            for path in quoted_paths(status):  # Mastodon's quote.quoted_status, or another server's quote
                if status_author(value_at(status, path), instance) == traces.key:
                    value_at(status, path[:-1])[path[-1]] = None
    elif entity == "instance":
        contact = data.get("contact")
        if isinstance(contact, dict) and account_key_of(contact.get("account"), instance) == traces.key:
            contact["account"] = None
        if account_key_of(data.get("contact_account"), instance) == traces.key:
            data["contact_account"] = None
    return data


def _may_hold(raw: bytes, subject: Subject, values: Set[str]) -> bool:
    """Fast path: a file whose bytes hold no trace, in any form JSON may write it (:func:`~fediscope.gdpr.subject.
    may_hold_trace`), needs no parsing (clear names need parsing: ``acct`` of a local account has no domain)."""
    return not subject.pseudonymised or may_hold_trace(raw, values)


def read_batch_text(lake: LakeBackend, path: str) -> bytes:
    data = lake.read(path)
    return gunzip_batch(data, path) if path.endswith(".gz") else data


def find_traces(lake: LakeBackend, subject: Subject) -> Traces:
    """First pass over the raw lake and the curated tables: every value that points at the account."""
    return find_all_traces(lake, [subject])[0]


def find_all_traces(lake: LakeBackend, subjects: Sequence[Subject],
                    progress: Callable[[str], None] | None = None,
                    unfinished: Sequence[tuple[str, bytes]] = ()) -> list[Traces]:
    """:func:`find_traces` of every key of one account (``subjects``), in one read of each raw batch and curated
    file: the traces of each key, in the order of ``subjects``. ``progress`` is told how far the raw pass got.
    ``unfinished`` (the erasure and the access export, module docstrings): the temporary files of raw batches'
    writes killed before their rename or under way, as :func:`~fediscope.lake.debris.unfinished_raw_batches` read them,
    searched first."""
    found = [Traces(key=subject.key, clear=not subject.pseudonymised) for subject in subjects]
    for path, text in unfinished:
        _note_batch_traces(path, text, subjects, found)
    for path in in_steps(raw_batch_files(lake), "erase: finding the account in the raw batches", progress):
        _note_batch_traces(path, read_batch_text(lake, path), subjects, found)
    note_curated_traces(lake, found)
    return found


def _note_batch_traces(path: str, text: bytes, subjects: Sequence[Subject], found: Sequence[Traces]) -> None:
    """:func:`find_all_traces` of one raw batch (``text``: decompressed)."""
    holding = [traces for subject, traces in zip(subjects, found, strict=True)
               if _may_hold(text, subject, {subject.key})]
    if not holding:
        return
    for record in decode_jsonl(text, name=path):
        entity, instance = entity_and_instance(path, record)
        for traces in holding:
            traces.note_record(entity, record.get("data"), instance)


@dataclass(frozen=True)
class _Line:
    """A line of a raw batch not parsed: no step has found anything it may change in its bytes. Written back as it
    was read."""

    number: int  # from 1, as a damaged line's error names it
    data: bytes

    def parse(self, path: str) -> dict[str, Any]:
        """The record of the line (:func:`~fediscope.lake.batches.decode_jsonl`'s error when it is not one: read
        again after as many blank lines as came before it, so that the error names its number)."""
        try:
            return json.loads(self.data)  # as decode_jsonl reads a line
        except ValueError:
            return next(decode_jsonl(b"\n" * (self.number - 1) + self.data, name=path))


_Entry = dict[str, Any] | _Line


def _lines(text: bytes) -> list[_Entry]:
    """The records of a batch (decompressed), each as its line, unparsed; blank lines left out, as read."""
    return [_Line(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _encoded(entries: Sequence[_Entry]) -> bytes:
    """A batch of ``entries``: the lines not parsed as they were read, the records parsed encoded anew."""
    return b"".join(entry.data + b"\n" if isinstance(entry, _Line) else encode_jsonl([entry]) for entry in entries)


def _needles(traces: Traces, values: Set[str]) -> frozenset[str]:
    """What a line's bytes hold when one key's step may change its record: a trace, the id of a copy of one of the
    account's statuses (a reply's ``in_reply_to_id``, :meth:`~fediscope.gdpr.subject.Traces.replies_to`; a deletion's
    id, :func:`is_deletion_of`: :func:`~fediscope.gdpr.subject.copy_ids`) or one of their ``origin_ref`` values (a
    deletion's)."""
    return frozenset({*values, *copy_ids(traces.status_copies), *traces.origin_refs})


class _Needles:
    """The byte searches of one key's :func:`_needles`, for every batch of an erasure.

    The needles grow while the raw pass runs: a reply to the account whose status's copy was not known adds it
    (:meth:`~fediscope.gdpr.subject.Traces.replies_to`), and with it a needle, for the lines after it. Compiling all
    of them again for each new copy took half a second for an account of a thousand statuses (thousands of
    alternatives), per copy; so the needles are held in a few patterns, those found anew in one of their own, merged
    with the newest ones while these are not larger (as a binary counter carries): at most log2(needles) patterns,
    each needle compiled into at most that many over the erasure. A line holds a needle exactly when one of the
    patterns finds something in it (:func:`~fediscope.gdpr.subject.trace_search` finds whether any of a set is
    there). Not the needles a batch ends with, searched before its first line: a line holding only the id of a copy
    that a later line adds would be parsed, written anew (not as read) and, damaged, refused, where the erasure
    applying the needles as it meets the lines keeps it as read; so the lines after a new needle are searched again
    for it alone (:class:`_LineSearch`, from the line reached on)."""

    def __init__(self, traces: Traces, values: Set[str]) -> None:
        self._traces, self._values = traces, values
        self._compiled: set[str] = set()
        self._parts: list[tuple[frozenset[str], re.Pattern[bytes]]] = []
        self._copies = -1  # how many copies the traces had when the needles were last made (they only grow)

    def patterns(self) -> list[re.Pattern[bytes]]:
        """The searches of the needles as the traces are now."""
        if len(self._traces.status_copies) != self._copies:
            self._copies = len(self._traces.status_copies)
            new = _needles(self._traces, self._values) - self._compiled
            if new:
                self._compiled |= new
                while self._parts and len(self._parts[-1][0]) <= len(new):
                    new |= self._parts.pop()[0]
                self._parts.append((new, trace_search(new)))
        return [pattern for _, pattern in self._parts]


class _LineSearch:
    """Which of a batch's unparsed lines hold what a search finds: the lines' bytes are searched together, once per
    pattern, from the line asked about on — a search of each line on its own cost more than the search itself (80,000
    lines at 100,000 statuses, most of the raw pass). Line ``i`` holds a match exactly when ``pattern.search`` of its
    bytes alone finds one: a match found across the end of a line is checked against that line alone (a search
    between ``pos`` and ``endpos`` is that of the slice for a pattern with no lookbehind nor ``^``, and the lines'
    patterns have none: the traces' (:func:`~fediscope.gdpr.subject.trace_search`), the old replies'
    (:data:`~fediscope.gdpr.old_replies.LINE_PATTERNS`: their lookahead matches no newline))."""

    def __init__(self, lines: Sequence[_Line]) -> None:
        self._data = [line.data for line in lines]
        self._text = b"\n".join(self._data)
        self._starts = list(accumulate((len(data) + 1 for data in self._data[:-1]), initial=0))
        #: for each pattern asked about, by its id (a pattern's hash reads all its compiled code, each time): the
        #: pattern (held, so that its id is no other's) and the first line holding a match at or after the last line
        #: asked about
        self._next: dict[int, tuple[re.Pattern[bytes], int]] = {}

    def holds(self, index: int, patterns: Sequence[re.Pattern[bytes]]) -> bool:
        """Does line ``index`` (of the lines given, in order; asked in increasing order) hold a match of any of
        ``patterns``?"""
        for pattern in patterns:
            _, found = self._next.get(id(pattern), (pattern, -1))
            if found < index:  # a new pattern, or the line found last is behind
                found = self._find(pattern, index)
                self._next[id(pattern)] = pattern, found
            if found == index:
                return True
        return False

    def _find(self, pattern: re.Pattern[bytes], index: int) -> int:
        """The first line from ``index`` on whose bytes hold a match of ``pattern`` (the number of lines: none)."""
        while index < len(self._data):
            match = pattern.search(self._text, self._starts[index])
            if match is None:
                return len(self._data)
            index = bisect_right(self._starts, match.start()) - 1
            end = self._starts[index] + len(self._data[index])
            if match.end() <= end or pattern.search(self._text, self._starts[index], end) is not None:
                return index
            index += 1
        return len(self._data)


def concern_search(subject: Subject, traces: Traces) -> re.Pattern[bytes] | None:
    """What a raw line's bytes hold when its record may concern the key, for a pass whose traces do not grow while
    it runs (the access export): a trace, or the id of a copy of one of its statuses or an ``origin_ref`` of one (a
    streamed deletion of it, :func:`is_deletion_of`) — the needles of the erasure (:func:`_needles`). None for clear
    names: every line is parsed, as :func:`_may_hold` has the erasure do (``acct`` of a local account has no
    domain)."""
    return trace_search(_needles(traces, traces.values())) if subject.pseudonymised else None


def records_found(path: str, text: bytes, search: re.Pattern[bytes] | None) -> Iterator[dict[str, Any]]:
    """The records of a raw batch (``text``: decompressed) whose lines' bytes hold what ``search``
    (:func:`concern_search`) finds, in order: a batch it finds nothing in is not split into lines, and a line it
    finds nothing in is not parsed — nor refused when damaged, as the erasure keeps such a line as read. Every
    record with ``search`` None, as :func:`~fediscope.lake.batches.decode_jsonl` reads them."""
    if search is None:
        yield from decode_jsonl(text, name=path)
        return
    if search.search(text) is None:
        return
    lines = [line for line in _lines(text) if isinstance(line, _Line)]  # all of them: none is parsed yet
    found = _LineSearch(lines)
    for index, line in enumerate(lines):
        if found.holds(index, [search]):
            yield line.parse(path)


class _Key(NamedTuple):
    """One key of the account, as the raw pass applies it: its subject, traces, their values (:meth:`~fediscope.
    gdpr.subject.Traces.values`), the searches of its needles (None: every line is parsed, as for clear names:
    :func:`_may_hold`) and, for clear names, its profile links (:mod:`fediscope.gdpr.mentions`)."""

    subject: Subject
    traces: Traces
    values: Set[str]
    needles: _Needles | None
    links: ProfileLinks | None = None


def _key(subject: Subject, traces: Traces) -> _Key:
    values = traces.values()
    if subject.pseudonymised:
        return _Key(subject, traces, values, _Needles(traces, values))
    return _Key(subject, traces, values, None, ProfileLinks(traces))


def _may_change(path: str, raw: bytes, key: _Key) -> bool:
    """Fast path of one key over a raw batch (``raw``: decompressed): can its bytes hold what the key's step changes?
    A trace (:func:`_may_hold`); in a batch of streamed deletions, also a deletion of one of the account's statuses
    (:func:`is_deletion_of`): the id of a copy of one, or an ``origin_ref``. Those are searched with the key's
    needles (:class:`_Needles`: the traces too), compiled once per erasure and as the copies grow, not made anew
    for each deletion batch (a set of every copy's id and ``origin_ref``, built, hashed and compared with the
    cached one's, per batch). The needles hold each part of a copy after a ``/`` (:func:`~fediscope.gdpr.subject.
    copy_ids`), not only its id; each such part ends with the id, so they find the same batches."""
    if (key.needles is not None and key.traces.with_deletions
            and parse_partition(path).get("entity") == STATUS_DELETIONS.name):
        return any(pattern.search(raw) is not None for pattern in key.needles.patterns())
    return _may_hold(raw, key.subject, key.values)


def _erase_records(path: str, records: list[_Entry], before: list[str | None], traces: Traces,
                   values: Set[str], needles: _Needles | None = None,
                   links: ProfileLinks | None = None) -> tuple[list[_Entry], list[str | None], Counter[str]]:
    """One key's step over the records of one batch: the records kept, their JSON (``sort_keys``: what tells a
    changed record, reused as ``before`` by the next key; ``before`` holds None for records not dumped yet), and
    the records removed and scrubbed. A record still a :class:`_Line` is parsed only when its bytes may hold what
    the step changes (``needles``, as they are when the line is met: a reply may add a copy, and a needle for the
    lines after it), else kept as it is; ``needles`` None parses them all. ``links`` (clear names): the account's
    profile links, erased from the texts of other people's statuses (:mod:`fediscope.gdpr.mentions`) before its
    traces are, so a link of one of its statuses goes with the text its anchor shows."""
    kept: list[_Entry] = []
    dumped: list[str | None] = []
    counts: Counter[str] = Counter()
    lines = _LineSearch([record for record in records if isinstance(record, _Line)]) if needles is not None else None
    line = -1
    for record, old in zip(records, before, strict=True):
        if isinstance(record, _Line):
            line += 1
            if lines is not None and needles is not None and not lines.holds(line, needles.patterns()):
                kept.append(record)
                dumped.append(None)
                continue
            record = record.parse(path)
        entity, instance = entity_and_instance(path, record)
        if is_owned(entity, record.get("data"), instance, traces.key) or is_deletion_of(
                entity, record.get("data"), instance, traces):
            counts["records_removed"] += 1
            continue
        old = json.dumps(record, sort_keys=True) if old is None else old
        mentioned = links.mentioned(record.get("data"), instance) if links is not None and entity == "statuses" \
            else None
        record["data"] = _unlink(entity, record.get("data"), instance, traces, links)
        scrubbed = record
        if mentioned is not None and links is not None and (
                data := links.erase(record.get("data"), mentioned)) is not record.get("data"):
            scrubbed = {**record, "data": data}  # a copy: ``record`` keeps the texts as they were
        if links is not None and entity in {"statuses", "accounts", "directory", "instance"}:
            # the bios, display names and profile fields of the accounts it holds (those they moved to, a link
            # preview's author, an instance's contact too), as landing writes them
            # (fediscope.erased_mentions.ProfileLinks.erase_profile)
            erase = {"statuses": links.erase_authors, "instance": links.erase_contacts}.get(entity,
                                                                                          links.erase_profile)
            if (data := erase(scrubbed.get("data"))) is not scrubbed.get("data"):
                scrubbed = {**scrubbed, "data": data}
        # ``old`` is the record's JSON before _unlink, which only takes away, and before the profile links became
        # [erased]: no trace in it, none in the record
        if may_hold_in_json(old, values) and contains_trace(scrubbed, values):
            scrubbed = scrub(scrubbed, values)  # a copy: ``record`` keeps the texts as they were
        if scrubbed is not record:
            if entity == "statuses":  # its length stays that of the text as written (fediscope.gdpr.texts)
                keep_lengths_as_written(record.get("data"), scrubbed.get("data"), traces.clear)
            record = scrubbed
        new = json.dumps(record, sort_keys=True)
        if new != old:
            counts["records_scrubbed"] += 1
        kept.append(record)
        dumped.append(new)
    return kept, dumped, counts


def erase_raw(lake: LakeBackend, found: Sequence[tuple[Subject, Traces]],
              old_replies: OldReplies | None = None, texts: RewrittenTexts | None = None,
              progress: Callable[[str], None] | None = None, *,
              by_key: dict[str, Counter[str]] | None = None,
              named: Callable[[str], bool] | None = None) -> Counter[str]:
    """Step 4 for every key of the account (``found``: each key with its traces, the asked key first): each raw
    batch is read once, the keys are applied to its records one after the other, and a file any of them changed
    is rewritten (or deleted, when left empty) once. Counted as erasing the keys one by one would count. A deleted
    file of only the keys' own records leaves the curated manifest too (:func:`_authored_by`,
    :func:`~fediscope.engine.manifest.forget_erased_files`). A deleted file whose curated rows are partly other
    people's (the account's boost of another person's status: curation keeps that status, its hashtags and its
    author's snapshot from it) stays listed, so that a rebuild without it must be forced, as for a file retention
    deleted; when its name names one of the keys (``named``: its batch tag, a digest of the handle, that of a page
    of the account's own ``account:`` source) it is listed under a name that does not
    (:func:`~fediscope.engine.manifest.forget_erased_files`, ``unnamed``). Was: the manifest kept the path, and with
    it the digest of the erased handle (unkeyed with privacy off: anyone can check a guessed handle against it).

    With ``old_replies``, the same pass then scrubs the reply ids an older erasure left in the records kept
    (:mod:`fediscope.gdpr.old_replies`), counted there, not in the counts returned (a file rewritten for them
    alone is not in ``files_rewritten``), and notes the statuses whose records (as left) say ``[erased]``, so that
    the curated pass scrubs their rows too, also those an interrupted erasure scrubbed the records of
    (:meth:`~fediscope.gdpr.old_replies.OldReplies.note_erased`). With ``texts``, it notes the status records whose
    text says ``[erased]`` as left (:meth:`~fediscope.gdpr.texts.RewrittenTexts.note`), so that the curated pass
    gives their rows the content columns a curation of them gives (:mod:`fediscope.gdpr.texts`). ``progress`` is
    told how far the pass got. ``by_key`` (several accounts erased in one pass, each audited apart:
    :mod:`fediscope.gdpr.opt_outs`) is given the counts of each key's steps too, under its key; they add up to the
    counts returned."""
    counts: Counter[str] = Counter()
    deleted: list[str] = []
    emptied: list[str] = []
    keys = [_key(subject, traces) for subject, traces in found]
    try:
        for path in in_steps(raw_batch_files(lake), "erase: raw batches", progress):
            _erase_batch(lake, path, keys, old_replies, counts, deleted, texts, by_key, emptied)
    finally:  # also when stopped part-way: run again, the erasure no longer sees the files it deleted
        forget_erased_files(lake, [path for path in deleted if not lake.exists(path)],
                            unnamed=[path for path in emptied
                                     if named is not None and named(path) and not lake.exists(path)])
    return counts


def _erase_batch(lake: LakeBackend, path: str, keys: Sequence[_Key],
                 old_replies: OldReplies | None, counts: Counter[str], deleted: list[str],
                 texts: RewrittenTexts | None = None, by_key: dict[str, Counter[str]] | None = None,
                 emptied: list[str] | None = None) -> None:
    """:func:`erase_raw` of one batch: rewritten or deleted when any key (or an old reply) changes it, counted in
    ``counts`` (and ``by_key``); a file of only the keys' own records is added to ``deleted`` before it is
    deleted, another file the erasure empties to ``emptied``."""
    text = read_batch_text(lake, path)
    # a key whose traces the bytes do not hold would change nothing (the key-by-key erasure skipped the file)
    active = [key for key in keys if _may_change(path, text, key)]
    leftovers = old_replies is not None and old_replies.may_hold(text)
    # each record as its line: parsed only where a step's bytes prefilter finds something (_erase_records)
    records = _lines(text) if active or leftovers else []
    dumped: list[str | None] = [None] * len(records)
    changed = False
    for key in active:
        records, dumped, step = _erase_records(path, records, dumped, key.traces, key.values, key.needles,
                                               key.links)
        if not step:
            continue
        changed = True
        # one per key that changed the file, as if each key rewrote it
        step["files_rewritten" if records else "files_deleted"] += 1
        counts.update(step)
        if by_key is not None:
            by_key.setdefault(key.traces.key, Counter()).update(step)
        if not records:
            break  # gone: the later keys have nothing left in it
    if leftovers and records and _scrub_old_replies(path, records, old_replies):
        changed = True
    if not changed:
        _note_erased(path, text, old_replies, texts)  # what an earlier erasure scrubbed here, for the curated pass
        return
    if records:
        payload = _encoded(records)
        _note_erased(path, payload, old_replies, texts)
        lake.write_atomic(path, gzip.compress(payload) if path.endswith(".gz") else payload)
        return
    if all(_authored_by(path, record, keys) for record in decode_jsonl(text, name=path)):
        deleted.append(path)
    elif emptied is not None:
        emptied.append(path)
    lake.delete(path)


def _note_erased(path: str, text: bytes, old_replies: OldReplies | None, texts: RewrittenTexts | None) -> None:
    """Tell the curated pass what a raw batch (``text``: decompressed, as the erasure leaves it) says ``[erased]``:
    the replies (:meth:`~fediscope.gdpr.old_replies.OldReplies.note_erased`), the texts
    (:meth:`~fediscope.gdpr.texts.RewrittenTexts.note`)."""
    if old_replies is not None:
        old_replies.note_erased(text, path)
    if texts is not None:
        texts.note(path, text)


def _scrub_old_replies(path: str, records: list[_Entry], old_replies: OldReplies | None) -> bool:
    """Did any of a batch's ``records`` hold an old reply id (scrubbed in place, :mod:`fediscope.gdpr.old_replies`)?
    A line not parsed yet is parsed (in place) when its bytes may hold one (:meth:`~fediscope.gdpr.old_replies.
    OldReplies.may_hold`), asked only of the lines a search of them all finds a reply in
    (:data:`~fediscope.gdpr.old_replies.LINE_PATTERNS`)."""
    if old_replies is None:
        return False
    found = False
    lines, line = _LineSearch([record for record in records if isinstance(record, _Line)]), -1
    for i, record in enumerate(records):
        if isinstance(record, _Line):
            line += 1
            if not lines.holds(line, LINE_PATTERNS) or not old_replies.may_hold(record.data):
                continue
            record = records[i] = record.parse(path)
        entity, instance = entity_and_instance(path, record)
        found |= old_replies.scrub_record(entity, record.get("data"), instance)
    return found


def _authored_by(path: str, record: dict[str, Any], keys: Sequence[_Key]) -> bool:
    """Is this raw record one of the erased keys' own (their account, their status, their boost of their own
    status), and not another person's boost of their status, nor their boost of another person's status? A file of
    only such records can leave the curated manifest once deleted: nothing curated from it survives the erasure
    (another person's boost leaves that person's account snapshot; their boost of another's status leaves that
    status, its hashtags and its author's snapshot)."""
    entity, instance = entity_and_instance(path, record)
    data = record.get("data")
    if entity == STATUS_DELETIONS.name:  # its curated row went with the erasure too
        return any(is_deletion_of(entity, data, instance, key.traces) for key in keys)
    if entity in {"accounts", "directory"}:
        owner = account_key_of(data, instance)
    elif entity == "statuses" and isinstance(data, dict):
        owner = status_author(data, instance)
        if isinstance(data.get("reblog"), dict) and not _authored_by(path, {**record, "data": data["reblog"]}, keys):
            return False  # their boost of another person's status: curation keeps that status and its author
    else:
        return False
    return any(owner == key.traces.key for key in keys)


# -- everything else ----------------------------------------------------------------------------------------
def _quarantine_names(path: str, data: bytes, subject: Subject, values: Set[str]) -> bool:
    """Does a quarantined file name the account? Quarantine may keep raw upstream items (clear names): look
    for account objects whose ``acct`` resolves to the subject, its handle and profile links, and traces."""
    if may_hold_trace(data, values):
        return True
    user, domain = subject.username, subject.domain
    # in any form JSON may write them (a NiFi file may write ``/`` as ``\/``): fediscope.gdpr.subject.may_hold_trace
    if may_hold_trace(data.lower(), {f"{user}@{domain}", f"{domain}/@{user}", f"{domain}/users/{user}"}):
        return True
    return any(_names_account(document, _document_instance(path, document), f"{user}@{domain}")
               for document in json_documents(data))


def quarantine_names(path: str, data: bytes, subject: Subject, traces: Traces) -> bool:
    """Does (a part of) a quarantined file, ``data``, name the account (:func:`_quarantine_names`)?"""
    return _quarantine_names(path, data, subject, traces.values())


def _document_instance(path: str, document: Any) -> str:
    """The instance a quarantined document's accounts were fetched from, which a local ``acct`` is of: a quarantine
    file's own ``instance`` (:mod:`fediscope.sources.quarantine`), else a landed record's (a line of a NiFi batch
    quarantined whole: its ``meta``), else the file's partition's."""
    if isinstance(document, dict) and document.get("instance"):
        return str(document["instance"])
    if isinstance(document, dict):
        return entity_and_instance(path, document)[1]
    return parse_partition(path).get("instance", "")


def _names_account(document: Any, instance: str, key: str) -> bool:
    """Does a JSON document hold an account object whose key (its ``acct`` of ``instance``) is ``key``?"""
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if account_key_of(value, instance) == key:
                return True
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def json_documents(data: bytes) -> list[Any]:
    """The JSON documents of a quarantined file: the one it is (what :mod:`fediscope.sources.quarantine` writes),
    else one a line (JSON Lines: a NiFi batch quarantined whole, landed records each naming its instance), a line
    that is not JSON left out (the others are still looked at); none when the file is neither."""
    try:
        return [json.loads(data)]
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder goes
        pass
    documents = []
    for line in data.splitlines():
        with contextlib.suppress(ValueError, RecursionError):
            documents.append(json.loads(line))
    return documents


@dataclass(frozen=True)
class _StateNames:
    """The names of the state files of the ``account:``/``account_lookup:`` sources naming one key of the account:
    its checkpoint's (and pass marks') source names and its walk locks' file names, for the handle written with its
    domain (``name@domain``: the account wherever it is collected from) and for the bare name (``name``: the
    account only where it is collected from its own instance, :meth:`home`)."""

    subject: Subject
    #: the served domains whose remembered handle domain is the subject's (:mod:`fediscope.sources.handle_domains`)
    serving: frozenset[str]
    anywhere: frozenset[str]
    anywhere_locks: frozenset[str]
    bare: frozenset[str]
    bare_locks: frozenset[str]
    #: the batch tags of those sources (:func:`~fediscope.lake.state.source_batch_tag`: ``account-<digest>``), which
    #: the batch ids of the pages collected from them begin with, and so the names of their quarantine files
    anywhere_tags: frozenset[str] = frozenset()
    bare_tags: frozenset[str] = frozenset()

    def home(self, domain: str) -> bool:
        """Does a bare ``account:<name>`` collected from ``domain`` name the subject? Only on its own instance, or on
        one serving its handle domain (:func:`~fediscope.sources.spellings.on_instance` takes ``name@<either>``
        there as ``name``): on any other instance it names that instance's own account of the name."""
        return domain.lower() in self.serving or domain.lower() == self.subject.domain.lower()

    def tags(self, domain: str) -> frozenset[str]:
        """The batch tags of the sources naming the subject when collected from ``domain`` (as :meth:`names`)."""
        return self.anywhere_tags | self.bare_tags if self.home(domain) else self.anywhere_tags

    def names(self, domain: str) -> tuple[frozenset[str], frozenset[str]]:
        """(source names, walk lock file names) naming the subject in ``_state/<domain>/``."""
        if self.home(domain):
            return self.anywhere | self.bare, self.anywhere_locks | self.bare_locks
        return self.anywhere, self.anywhere_locks


def _state_names(subject: Subject, policy: PrivacyPolicy | None,
                 handle_domains: Mapping[str, str | None]) -> _StateNames:
    """The sources whose state files are named after the account (:class:`_StateNames`): ``account:<handle>`` and
    ``account_lookup:<handle>``, as written and as their keyed digests when ``policy`` — the one that collected — is
    given; and their walk locks' names (:func:`~fediscope.sources.walk_lock.walk_lock_tag`: a digest of the handle,
    keyed when ``policy`` is given, else unkeyed)."""

    def sources(handle: str) -> frozenset[str]:
        names = {f"{kind}:{handle}" for kind in PERSONAL_SOURCES}
        return frozenset(names | {checkpoint_source(name, policy) for name in names})

    def tags(handle: str) -> frozenset[str]:
        # the collector tags a source as written (account:Alice and account:alice differ): as the erasure is asked
        # (lower case, as handles are) and as the walk lock tags it, which is the same
        return frozenset(source_batch_tag(policy, SourceRef(kind, handle)) for kind in PERSONAL_SOURCES)

    def locks(handle: str) -> frozenset[str]:
        return frozenset(walk_lock_name(walk_lock_tag(policy, SourceRef(kind, handle))) for kind in PERSONAL_SOURCES)

    serving = frozenset(served.lower() for served in handle_domains
                        if (usable_handle_domain(handle_domains, served) or "").lower() == subject.domain.lower())
    with_domain = f"{subject.username}@{subject.domain}"
    return _StateNames(subject, serving, sources(with_domain), locks(with_domain), sources(subject.username),
                       locks(subject.username), tags(with_domain), tags(subject.username))


def erase_quarantined(lake: LakeBackend, found: Sequence[tuple[Subject, Traces]],
                      policy: PrivacyPolicy | None = None,
                      handle_domains: Mapping[str, str | None] | None = None,
                      suppression: PrivacyPolicy | None = None) -> Counter[str]:
    """Quarantined files that name the account, for every key in ``found`` (:func:`quarantined_naming`), deleted;
    with ``suppression`` (the policy holding the whole suppression list), the files the NiFi flows wrote that name an
    account erased before too (:func:`nifi_files_naming_the_erased`).
    Was: a quarantined item of the account's own timeline that does not name it (a malformed status, its account
    left out; with privacy on only its shape) outlived the erasure, in a file named after the account's source."""
    counts: Counter[str] = Counter()
    for held in quarantined_naming(lake, found, policy, handle_domains):
        lake.delete(held.path)
        counts["quarantined_files_deleted"] += 1
    for path in nifi_files_naming_the_erased(lake, suppression) if suppression is not None else ():
        lake.delete(path)
        counts["quarantined_files_of_earlier_erasures_deleted"] += 1
    return counts


#: The name of a quarantine file the NiFi flows write themselves (``Name quarantine file`` of
#: nifi_templates/build_flows.py: ``nifi_<reason>-<batch id>.json``), which no privacy policy wrote.
_NIFI_QUARANTINE_NAME = re.compile(r"nifi_[a-z]+-[^/]*\.json(?:\.gz)?")


def nifi_files_naming_the_erased(lake: LakeBackend, suppression: PrivacyPolicy) -> list[str]:
    """The quarantine files the NiFi flows wrote that name an account on the suppression list (``suppression``: the
    policy holding it): :func:`_names_an_erased_account`.

    fediscope writes its own quarantine files through the policy (:meth:`~fediscope.privacy.PrivacyPolicy.
    quarantine_scrub`), but NiFi writes what it could not land or fetch itself: a page the API served before an
    erasure (or in the :data:`~api.upstream.SUPPRESSION_TTL` seconds the API keeps the list) and quarantined after it
    (``Retry landing`` waits 10 minutes), or a description of a failed request written by an older flow that named
    the account in its URL. Nothing of fediscope sees those bytes, so every erasure looks for them."""
    if not suppression.suppressed:
        return []
    return [entry.path for entry in lake.walk(QUARANTINE_ROOT)
            if _NIFI_QUARANTINE_NAME.fullmatch(entry.path.rpartition("/")[2])
            and _names_an_erased_account(entry.path, quarantined_bytes(lake, entry.path), suppression)]


def _names_an_erased_account(path: str, data: bytes, suppression: PrivacyPolicy) -> bool:
    """Does a quarantine file name an account on the suppression list? Landed pseudonymised (privacy on), its
    records hold the account's key and id pseudonyms as the list does. Else (and for what names an account in clear
    with privacy on too: a description's URL) each document (a landed record, a description, or the text of what is
    no JSON) is read as :meth:`~fediscope.privacy.PrivacyPolicy.erased_in_quarantine` reads a malformed item: the
    erased account's objects, handles and profile links, each keyed as the list keys it."""
    if suppression.enabled and may_hold_trace(data, frozenset(suppression.suppressed)):
        return True
    documents = json_documents(data)
    if not documents:
        text = data.decode("utf-8", "replace")
        return suppression.erased_in_quarantine(text, parse_partition(path).get("instance", "")) != text

    def written(value: Any) -> str:  # compared as written: a NaN (JSON's NaN, which Python reads) equals itself
        return json.dumps(value, sort_keys=True, default=str)

    return any(_route_names_an_erased_account(document, _document_instance(path, document), suppression)
               or written(suppression.erased_in_quarantine(document, _document_instance(path, document)))
               != written(document) for document in documents)


#: The account an account route of the scraping API names (``/v1/accounts/<acct>/statuses``) in the ``url`` or
#: ``error`` of a failed request's description, as a NiFi flow built before they masked it quarantined it
#: (``_masked`` of nifi_templates/build_flows.py): in a URL's path, which no scrub of texts reads as a handle.
_ACCOUNT_ROUTE_RE = re.compile(r"/v1/accounts/([^/?#\s]+)/")


def _route_names_an_erased_account(document: Any, instance: str, suppression: PrivacyPolicy) -> bool:
    """Does a failed request's description (a NiFi quarantine file) name an erased account in its URL's path?"""
    if not isinstance(document, dict):
        return False
    for name in ("url", "error"):
        value = document.get(name)
        for found in _ACCOUNT_ROUTE_RE.finditer(value if isinstance(value, str) else ""):
            with contextlib.suppress(ValueError, UnicodeError):  # no handle after all
                if suppression.is_erased(unquote(found.group(1)).lstrip("@"), instance):
                    return True
    return False


@dataclass(frozen=True)
class QuarantinedFile:
    """A quarantine file naming the account (:func:`quarantined_naming`): what the erasure deletes."""

    path: str
    #: the index, in the keys given, of the first key that names it
    key: int
    #: ``source``: named after a page of an ``account:``/``account_lookup:`` source naming the account (its batch
    #: tag); ``content``: what it holds names the account
    why: str
    #: the file's content (decompressed); None for one named after the account's source (not read)
    data: bytes | None = None


def quarantined_naming(lake: LakeBackend, found: Sequence[tuple[Subject, Traces]],
                       policy: PrivacyPolicy | None = None,
                       handle_domains: Mapping[str, str | None] | None = None) -> list[QuarantinedFile]:
    """Quarantined files that name the account, for every key in ``found`` (each file is read once; a file is
    given to the first key that names it): by their name, when it is that of a page collected from an
    ``account:``/``account_lookup:`` source naming the account (:func:`_named_after_the_account`; ``policy`` and
    ``handle_domains`` as :func:`account_state_files` takes them), or by what they hold (:func:`_quarantine_names`).
    What the erasure deletes (:func:`erase_quarantined`) and the export lists."""
    keys = [(subject, traces.values()) for subject, traces in found]
    if handle_domains is None:
        handle_domains = load_handle_domains(lake)
    names = [_state_names(subject, policy, handle_domains) for subject, _ in found]
    held: list[QuarantinedFile] = []
    for entry in lake.walk(QUARANTINE_ROOT):
        owner = _named_after_the_account(entry.path, names)
        if owner is not None:
            held.append(QuarantinedFile(entry.path, owner, "source"))
            continue
        data = quarantined_bytes(lake, entry.path)
        owner = next((index for index, (subject, values) in enumerate(keys)
                      if _quarantine_names(entry.path, data, subject, values)), None)
        if owner is not None:
            held.append(QuarantinedFile(entry.path, owner, "content", data))
    return held


def quarantined_bytes(lake: LakeBackend, path: str) -> bytes:
    """A quarantine file's content, decompressed when its name ends ``.gz`` (as read when it is not gzip): as far as
    it can be (:func:`_gunzip_what_is_there`)."""
    data = lake.read(path)
    return _gunzip_what_is_there(data) if path.endswith(".gz") else data


#: How much compressed data :func:`_gunzip_what_is_there` decompresses at a time: what a damaged stream yields before
#: its damage is kept to within this much.
_GUNZIP_STEP = 4096


def _gunzip_what_is_there(data: bytes) -> bytes:
    """``data`` decompressed as gzip (its members one after the other) as far as it can be: a file cut short, or
    damaged part-way, gives what comes before (searched for the account as the rest is: what the erasure deletes,
    what the export lists); one whose gzip header is not there is taken as it is (it is no gzip file). Was: a file cut
    short raised ``gzip``'s EOFError, which click takes for a Ctrl-D (``gdpr erase``/``export`` said "aborted", exit
    130, and an erasure could not finish while it was there), and a stream damaged part-way gave ``zlib.error``."""
    out: list[bytes] = []
    rest = data
    while rest:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip's header and trailer
        try:
            for start in range(0, len(rest), _GUNZIP_STEP):
                out.append(decompressor.decompress(rest[start:start + _GUNZIP_STEP]))
                if decompressor.eof:
                    break
        except zlib.error:
            return b"".join(out) if out else data  # damaged: what came before; no gzip header: as read
        if not decompressor.eof:
            out.append(decompressor.flush())
            break  # cut short: what is there
        rest = decompressor.unused_data.lstrip(b"\0")  # the next member (zeros: padding after the last)
    return b"".join(out)


def _named_after_the_account(path: str, names: Sequence[_StateNames]) -> int | None:
    """Is the quarantine file (or raw batch) at ``path`` (``…/instance=<domain>/dt=<day>/<endpoint>-<batch id>.json``,
    ``…/<batch id>.jsonl``) one of a page collected from a source naming the account? Its batch id then begins with
    the source's batch tag (a digest of the handle, :class:`_StateNames`), the bare name's only on the account's own
    instance. The index of the first key's names naming it, or None."""
    domain = parse_partition(path).get("instance", "")
    name = path.rpartition("/")[2]
    return next((index for index, each in enumerate(names)
                 if any(f"-{tag}-" in name or name.startswith(f"{tag}-") for tag in each.tags(domain))), None)


def erase_checkpoints(lake: LakeBackend, found: Sequence[tuple[Subject, Traces]],
                      policy: PrivacyPolicy | None = None,
                      handle_domains: Mapping[str, str | None] | None = None) -> tuple[Counter[str], list[str]]:
    """The checkpoints (and pass marks, walk starts, walk locks) of the ``account:`` sources naming the account
    (:func:`account_state_files`: ``name@domain`` anywhere, the bare ``name`` on its own instance or one serving its
    handle domain by ``handle_domains``; named after the handle, or after its keyed digest when ``policy`` — the one
    that collected — is given) are deleted, for every key in ``found``; then every other checkpoint holding one of
    its status ids is moved
    (:func:`~fediscope.gdpr.cursors.move_checkpoints`). Returns the counts and the warnings of the move.

    Before the raw lake is rewritten: an interrupted erasure run again still finds the status ids."""
    counts = _delete_account_checkpoints(lake, found, policy, handle_domains)
    moved, warnings = move_checkpoints(lake, [traces for _, traces in found])
    return counts + moved, warnings


def _delete_account_checkpoints(lake: LakeBackend, found: Sequence[tuple[Subject, Traces]],
                                policy: PrivacyPolicy | None,
                                handle_domains: Mapping[str, str | None] | None) -> Counter[str]:
    counts: Counter[str] = Counter()
    for held in account_state_files(lake, [subject for subject, _ in found], policy, handle_domains):
        lake.delete(held.path)
        counts["checkpoints_deleted"] += held.matched
    return counts


@dataclass(frozen=True)
class AccountStateFile:
    """A file under ``_state`` named after an ``account:`` (or ``account_lookup:``) source for the account."""

    path: str
    #: ``checkpoint`` (``_state/<domain>/<source>.json``), the pass it belongs to (``start``, ``settle``,
    #: ``unannounced``: ``_state/<domain>/<pass>/<source>.json``), or ``walk_lock`` (``collect-<digest>.lock``)
    kind: str
    #: the index, in the subjects given, of the first key whose source names it
    key: int
    #: how many of that key's source names name it (the erasure's ``checkpoints_deleted``; 0 for a walk lock)
    matched: int


def account_state_files(lake: LakeBackend, subjects: Sequence[Subject], policy: PrivacyPolicy | None,
                        handle_domains: Mapping[str, str | None] | None = None) -> list[AccountStateFile]:
    """The checkpoints, pass marks (``settle``, ``unannounced``), walk starts and walk locks of the ``account:`` and
    ``account_lookup:`` sources naming any key in ``subjects`` (named after the handle, or after its keyed digest
    when ``policy`` — the one that collected — is given): what the erasure deletes (:func:`erase_checkpoints`) and
    the export lists. A file is given to the first key whose sources name it.

    A source naming the key is ``<kind>:name@domain`` in any instance's ``_state/<instance>/``, and the bare
    ``<kind>:name`` only in the key's own instance's or in that of an instance serving its handle domain by
    ``handle_domains`` (:func:`~fediscope.sources.handle_domains.load_handle_domains`, read from the lake when not
    given): elsewhere the bare name is that instance's own account of the name, another person."""
    if handle_domains is None:
        handle_domains = load_handle_domains(lake)
    names = [_state_names(subject, policy, handle_domains) for subject in subjects]
    held: list[AccountStateFile] = []
    for entry in lake.walk(STATE_ROOT):
        parts = entry.path.split("/")  # _state/<domain>/<source>.json, or _state/<domain>/<pass>/<source>.json
        if len(parts) not in (3, 4):
            continue
        if len(parts) == 3 and (owner := next((i for i, own in enumerate(names)
                                               if parts[2] in own.names(parts[1])[1]), None)) is not None:
            # the walk lock of the account's source (_state/<domain>/collect-<digest>.lock): it names the account
            # as its checkpoint does, and holds nothing a collect needs (the next one creates it again)
            held.append(AccountStateFile(entry.path, "walk_lock", owner, 0))
            continue
        collection_pass = parts[2] if len(parts) == 4 else None
        for index, key_names in enumerate(names):
            matched = 0
            for name in key_names.names(parts[1])[0]:
                try:
                    candidate = state_path(parts[1], name, collection_pass)
                except ValueError:
                    continue
                if candidate.lower() == entry.path.lower():
                    matched += 1
            if matched:
                held.append(AccountStateFile(entry.path, collection_pass or "checkpoint", index, matched))
                break  # the first key's: a later key's erasure would not see it
    return held


def unfinished_holding(unfinished: Sequence[tuple[str, bytes]], cleanup: TemporaryCleanup,
                       found: Sequence[tuple[Subject, Traces]]) -> list[str]:
    """The temporary files of raw batches' unfinished writes (``unfinished``, as :func:`~fediscope.lake.debris.
    unfinished_raw_batches` read them) that the erasure left in place as too young to remove (``cleanup``) and that
    hold the account's records: those the raw pass would change for one of its keys, were they batches
    (:func:`_erase_records`, on a copy: never written), as far as they were written when read."""
    left = {path for path, _ in cleanup.young}
    keys = [_key(subject, traces) for subject, traces in found]
    return [path for path, text in unfinished if path in left and _would_change(path, text, keys)]


def _would_change(path: str, text: bytes, keys: Sequence[_Key]) -> bool:
    """Would the raw pass change a batch of ``text`` (decompressed) for any of ``keys``?"""
    for key in keys:
        if _may_change(path, text, key):
            records = _lines(text)
            if _erase_records(path, records, [None] * len(records), key.traces, key.values, key.needles,
                              key.links)[2]:
                return True
    return False


def temporary_file_warnings(cleanup: TemporaryCleanup, holding: Sequence[str] = (),
                            searched: Set[str] = frozenset()) -> list[str]:
    """What the erasure says of the temporary files it left (:func:`~fediscope.lake.debris.
    remove_stale_temporary_files`): those it could not remove, those of raw batches' unfinished writes that hold the
    account's records (``holding``: :func:`unfinished_holding`), and the other young ones it did not search (not
    in ``searched``: not a raw batch's), which may hold them.

    A write lands a file under a hidden temporary name and renames it into place; killed in between, it leaves that
    file, which no reader (nor the erasure's passes) sees. Collectors (``collect``, ``stream``, NiFi) take no lake
    lock, so a young one may be a write under way: removing it would make that write fail (its rename finds nothing)
    and lose what it lands, and rewriting it would race the writer (which renames its own bytes into place). Only
    those a day old are removed, as retention removes them."""
    warnings = []
    if cleanup.failed:
        warnings.append(f"{count(len(cleanup.failed), 'stale temporary file')} of interrupted writes, which may hold "
                        f"the account's records, could not be removed: {'; '.join(cleanup.failed)}; remove them by "
                        f"hand")
    young = [(path, when) for path, when in cleanup.young if path in holding or path not in searched]
    if not young:
        return warnings
    known = [when for _, when in young if when is not None]
    after = (f"from {datetime.fromtimestamp(max(known), UTC).isoformat(timespec='minutes')} (storage clock)"
             if known else "once the storage reports their age")
    removal = (f"a killed write's are removed by `fediscope gdpr erase` run again (or `fediscope gdpr retention`) "
               f"{after}")
    if holding:
        warnings.append(
            f"{count(len(holding), 'temporary file')} of raw batches' writes under way or stopped less than "
            f"{cleanup.older_than_hours:g} h ago {'holds' if len(holding) == 1 else 'hold'} the account's records "
            f"and {'was' if len(holding) == 1 else 'were'} left in place: {', '.join(holding)}; the erasure is not "
            f"finished for {'it' if len(holding) == 1 else 'them'}: a collection writing them lands them, and the "
            f"next `fediscope process` after that erases the account again (a pending note says so; or run the "
            f"erasure again once the collection is done); {removal}")
    unsearched = [path for path, _ in young if path not in holding]
    if unsearched:
        warnings.append(
            f"{count(len(unsearched), 'temporary file')} of writes under way or stopped less than "
            f"{cleanup.older_than_hours:g} h ago {'was' if len(unsearched) == 1 else 'were'} left in place and "
            f"may hold the account's records: {', '.join(unsearched)}; a collection writing them lands them (run the "
            f"erasure again once it is done), and {removal}")
    return warnings


def stored_metrics(store: MetricStore) -> dict[str, Metric]:
    """Every metric the store lists (its catalog), by name, as the store recorded it at its last write
    (:meth:`~fediscope.store.port.MetricStore.recorded_metric`): the tables the erasure and the access export search.
    Not the registry's: a metric whose SQL file was deleted, or an own metric whose ``FEDISCOPE_METRICS_DIR`` is
    not set in this shell, keeps its rows (``fediscope report`` shows them) until ``fediscope store drop``; and the
    stored rows are keyed by the recorded key, also when the file names another since."""
    recorded = {name: store.recorded_metric(name) for name in store.stored_metrics()}
    return {name: metric for name, metric in recorded.items() if metric is not None}


def unlisted_tables(store: MetricStore, own_dir: Path | None = None) -> str | None:
    """The store's tables that no catalog entry lists (:meth:`~fediscope.store.port.MetricStore.unlisted_metrics`),
    named with how to remove them (:func:`_removal`), or None when there are none.

    No catalog entry records their columns' types, so their rows cannot be read (an HBase cell is bytes of a type
    only the catalog tells): the erasure and the export cannot search them, and neither drops them itself — they
    may be the only copy of an interrupted write's rows, or (HBase) tables made beforehand."""
    unlisted = store.unlisted_metrics()
    if not unlisted:
        return None
    tables = "; ".join(f"{', '.join(names)} (metric {name})" for name, names in unlisted.items())
    return (f"the store holds table(s) that no catalog entry lists, left by an interrupted write or removal: "
            f"{tables}; without a recorded schema their rows cannot be read, so they were not searched for the "
            f"account and may still hold its rows: remove them with {_removal(list(unlisted), own_dir)}")


def _removal(names: Sequence[str], own_dir: Path | None) -> str:
    """How to remove the unlisted tables of the metrics ``names``: those of a metric whose SQL file is gone
    (``own_dir``: the ``metrics_dir`` setting) with ``fediscope store drop NAME``, those of a metric still defined
    by its next write (``fediscope process``). The metric files only choose the remedy: when they cannot be listed
    (an own file named as a built-in metric, a missing ``own_dir``), both are named with the reason, and the
    erasure or export goes on — it searches the store's catalog, not the files."""
    try:
        gone = set(without_metric_file(names, own_dir=own_dir))
    except MetricFileError as exc:
        drops = ", ".join(f"`fediscope store drop {name}`" for name in names)
        return (f"{drops} where the metric's SQL file is gone, or `fediscope process` where the metric is still "
                f"defined (it writes its table anew, replacing them); the metric files could not be listed to tell "
                f"which: {exc}")
    remedies = [f"`fediscope store drop {name}`" for name in names if name in gone]
    defined = [name for name in names if name not in gone]
    if defined:
        remedies.append(f"`fediscope process` (it writes {', '.join(defined)} anew, replacing them)")
    return " and ".join(remedies)


def erase_store(store: MetricStore, traces: Traces, metrics: Mapping[str, Metric]) -> dict[str, int]:
    """Delete the account's rows from every metric table (``metrics``: :func:`stored_metrics`): by
    ``account_key``, then any row still naming it, then any row identifying one of its statuses by id
    (:func:`~fediscope.gdpr.subject.names_status`: a metric keyed by ``instance``/``status_id`` names no account,
    yet the status is the account's until the next ``fediscope process`` recomputes it without). Then the catalog
    entry is made to agree with the rows left (:meth:`~fediscope.store.port.MetricStore.settle`): an erasure killed
    between a deletion and its record in the catalog left the count of before, and the generation of before or a
    provisional one, which the run again, finding nothing left to delete, would otherwise keep."""
    deleted: dict[str, int] = {}
    values = traces.values()
    for name, metric in metrics.items():
        count = store.delete_where(metric, "account_key", traces.key)
        with stale_as_store_error(name):  # a value another fediscope version stored: re-run `fediscope process`
            rows = store.all(metric)
        named = 0
        statuses: list[Mapping[str, Any]] = []
        for row in rows:
            column = next((c for c, v in row.items() if isinstance(v, str) and contains_trace(v, values)), None)
            if column is not None:
                named += store.delete_where(metric, column, row[column])
            elif names_status(row, traces):
                statuses.append(row)
        if statuses:
            named += _delete_rows(store, metric, statuses, len(rows) - named)
        # a run killed after deleting rows, before the catalog recorded it (rows gone, the count of before, a
        # provisional generation): this run finds none left and deletes nothing, so the catalog is recorded anew here
        store.settle(metric, len(rows) - named)
        count += named
        if count:
            deleted[name] = count
    return deleted


def _delete_rows(store: MetricStore, metric: Metric, rows: Sequence[Mapping[str, Any]], stored: int) -> int:
    """Delete exactly ``rows`` of the ``stored`` rows of ``metric``, by their key (``delete_where`` takes one column,
    and one status id may be another status's on another instance); ``metric`` is as the store recorded it
    (:func:`stored_metrics`), so its key is the stored rows'. When the store cannot delete by it all the same (a
    write changed the metric's key meanwhile), by the identifying column alone: rows of other statuses with the
    same id may go too, and the next ``fediscope process`` recomputes them."""
    keys = [tuple(row.get(column) for column in metric.key) for row in rows]
    if store.write_changes(metric, [], keys, row_count=stored - len(keys)) is not None:
        return len(keys)
    count = 0
    for row in rows:
        column = STATUS_ID_COLUMN if row.get(STATUS_ID_COLUMN) not in (None, "") else ORIGIN_REF_COLUMN
        count += store.delete_where(metric, column, row[column])
    return count


def compact_sqlite(url: str) -> str | None:
    """SQLite keeps deleted rows in free pages and in its write-ahead log until they are reused: checkpoint and
    VACUUM so the bytes are really gone. Returns a warning when that was not possible (database busy)."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    try:
        with sqlite3.connect(database, timeout=30) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    except sqlite3.Error as exc:
        return f"the SQLite store could not be compacted ({exc}); run VACUUM on it when it is idle"
    return None


def append_audit(lake: LakeBackend, entry: Mapping[str, Any]) -> None:
    """One JSON line per erasure; the file is rewritten atomically (lake backends have no append)."""
    old = lake.read(AUDIT_PATH) if lake.exists(AUDIT_PATH) else b""
    line = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    lake.write_atomic(AUDIT_PATH, old + line)


#: How a store failure before the erasure began ends its message (the store is opened before anything is touched).
NOTHING_ERASED = "nothing was erased: run the same command again once that is fixed"


def unfinished(done: str, again: str = "the same command", kept: str | None = None) -> str:
    """How an error that stopped an erasure part-way ends, whatever stopped it (the lake, the store; ``fediscope
    gdpr erase`` or the opt-out erasure of ``fediscope process``): that the erasure is unfinished, what is ``done``
    (and what may not be), and that running ``again`` once that is fixed finishes it; ``kept``: where what the run
    found is kept for that run (:mod:`fediscope.gdpr.resume`), when it was. One wording for every such error: was,
    only the store's said so, and a lake's error (a write refused, a full disk) was the lake's line alone."""
    return (f"the erasure is unfinished: {done}; run {again} again once that is fixed: it finishes the erasure"
            + (f", starting from what this run found (kept in {kept})" if kept else ""))


def unfinished_in_store(lake: LakeBackend) -> str:
    """How a store failure in the erasure's store pass (the store gone, a deletion refused, a table dropped by hand)
    ends its message. Was: the store's error alone (``could not delete from <table>: …``), which did not say that
    the erasure stopped half-way, nor that running it again finishes it. True wherever in the pass the store
    failed: the lake's part is done then, the traces the run found are kept (:mod:`fediscope.gdpr.resume`), and
    the opt-out notes, the audit line and the kept traces' removal, which come after the store, are not done."""
    return unfinished("its lake part is done (the account is on the suppression list), but the store may still hold "
                      "the account's rows and no audit line was written", kept=url_below(lake.url, TRACES_PATH))


def unfinished_in_lake(lake: LakeBackend, traces_kept: bool) -> str:
    """How a lake failure (a write or deletion refused, a full disk, the lake gone) ends its message once the
    account is on the suppression list and before the store pass: the lake may still hold the account's records,
    the store its rows, and no audit line was written; ``traces_kept``: what the run found is kept already
    (:func:`~fediscope.gdpr.resume.resume_traces`). Before the account is on the list it ends with
    :data:`NOTHING_ERASED`."""
    return unfinished("the account is on the suppression list, but the lake may still hold some of its records and "
                      "the store its rows, and no audit line was written",
                      kept=url_below(lake.url, TRACES_PATH) if traces_kept else None)


def unfinished_at_the_end(lake: LakeBackend) -> str:
    """How a lake failure after the store pass ends its message: what remains is the erasure's bookkeeping (its
    opt-out notes, the audit line, the removal of what the run found), which running it again does."""
    return unfinished("the account is erased from the lake and the store (it is on the suppression list), but the "
                      "audit line and the removal of the account's key from pending opt-out notes may not be done",
                      kept=url_below(lake.url, TRACES_PATH))


@contextlib.contextmanager
def _noted(note: str) -> Iterator[None]:
    """A :class:`~fediscope.errors.StoreError` raised inside ends with ``note`` (the same error: type, attributes,
    traceback; the message changed)."""
    try:
        yield
    except StoreError as exc:
        exc.args = (f"{exc}; {note}",)
        raise


class _Stopped:
    """What a lake or store error that stops :func:`erase_account` ends with (:func:`unfinished`): ``note``, set
    as the erasure gets on. The same error (type, attributes, traceback); its message ends with the note."""

    def __init__(self, note: str) -> None:
        self.note = note

    @contextlib.contextmanager
    def noted(self) -> Iterator[None]:
        try:
            yield
        except (LakeError, StoreError) as exc:
            exc.args = (f"{exc}; {self.note}",)
            raise


def check_erasable(settings: Settings, account: str, lake: LakeBackend | None = None) -> LakeBackend:
    """The lake ``account`` would be erased from, once the checks that need no change pass: the account, the
    pseudonym key, the lake and the key it was landed with. ``fediscope gdpr erase`` runs them before it asks for
    confirmation, so a refused erasure is not confirmed first; :func:`erase_account` runs them again. The metric
    files are not read: the store step searches the store's catalog (:func:`stored_metrics`), so a broken or
    clashing file, unrelated to the account, does not hold up a request the law gives a deadline."""
    parse_account(account)  # a bad account is refused before the lake is opened
    lake = lake or open_lake(settings.lake)
    # a missing key: for a lake landed with one (or with privacy off) the refusal asks for that key (the demo's
    # names its file), else for the key that landed the lake; never for a new one, which would find nothing
    require_pseudonym_key(settings, lake)
    subject_from_settings(settings, account)
    # a mistyped lake path must not "erase" from a new empty lake: the real one would keep the account, off the
    # suppression list, while the store lost its rows and the report said it was done
    set_in = settings.origin("lake", advice=True)  # fediscope.toml's key, for a lake set there
    # nor walk a directory that is no lake (the one above it): the erasure removes day-old temporary files at any
    # depth below the root, and its lock would create _state/ there
    require_lake_layout(lake, f"set {set_in} to the lake the account was collected into; nothing was erased",
                        chosen_by=set_in, outcome="nothing was erased")
    # with another key than the lake's, no record would match and the suppression list would get a pseudonym that
    # no later collection ever meets: refused, before anything is touched (fediscope.lake.key_check)
    require_lake_key(settings, lake, "nothing was erased, and nothing was added to the suppression list")
    return lake


def erase_account(settings: Settings, account: str, *, lake: LakeBackend | None = None,
                  store: MetricStore | None = None, progress: Callable[[str], None] | None = None,
                  warnings: list[str] | None = None) -> ErasureReport:
    """Erase ``account`` (``user@instance``) everywhere; see the module docstring for what that means. ``progress``
    (``fediscope gdpr erase`` on a terminal) is told each pass, and how far each long one got. ``warnings``: the
    list the report's warnings are gathered in (the caller's own, so that those said before a lake or store error
    stopped the erasure are not lost with the report: ``fediscope gdpr erase`` prints them with the error).

    A lake or store error that stops it part-way ends with what is done and that running it again finishes it
    (:func:`unfinished`; before the account is on the suppression list, :data:`NOTHING_ERASED`)."""
    lake = check_erasable(settings, account, lake)
    # every key the account has (module docstring, "One account, several keys"); a damaged handle-domain file is a
    # LakeError naming it, before anything is touched
    handle_domains = load_handle_domains(lake)
    subjects = subjects_from_settings(settings, account, handle_domains)
    subject = subjects[0]
    # The lake lock (fediscope.lake.lock), before the store is opened: a curation running meanwhile could publish
    # the account's rows again from batches it read before they were rewritten.
    with lake_lock(lake, command="fediscope gdpr erase"):
        own_store = store is None
        # fail before touching anything when the store is unreachable; a SQLite file not created yet holds nothing
        with _noted(NOTHING_ERASED):
            store = store or open_existing(settings)
        report = ErasureReport(account_key=subject.audit_id, at=datetime.now(UTC).isoformat(timespec="seconds"),
                               also_keys=[other.audit_id for other in subjects[1:]],
                               warnings=warnings if warnings is not None else [])
        stopped = _Stopped(NOTHING_ERASED)  # what a lake or store error ends with, as the erasure gets on
        try:
            with stopped.noted():
                _erase_everywhere(settings, lake, store, subjects, handle_domains, report, stopped, progress)
        finally:
            if own_store and store is not None:
                store.close()
        if store is not None and settings.store.startswith("sqlite:"):
            warning = compact_sqlite(settings.store)
            if warning:
                report.warnings.append(warning)
        stopped.note = unfinished_at_the_end(lake)
        with stopped.noted():
            # last: until the erasure is done, a note left pending still has the next curation erase the account
            notes = forget_opt_outs(lake, [each.key for each in subjects])
            if notes:
                report.other["opt_out_notes_removed"] = notes
            if report.unfinished_writes:  # after: the next curation erases them once landed (fediscope.gdpr.opt_outs)
                note_opt_outs(lake, [each.key for each in subjects], "gdpr erase", report.unfinished_writes)
            append_audit(lake, {"time": report.at, "action": "erase", "account_key": report.account_key,
                                **({"also_keys": report.also_keys} if report.also_keys else {}),
                                **({"unfinished_writes": len(report.unfinished_writes)} if report.unfinished_writes
                                   else {}),
                                "raw": report.raw, "curated": report.curated, "store": report.store,
                                "other": report.other})
            forget_traces(lake, subjects)  # done: a run again needs them no more
    log.info("erasure done: %s", report.summary())
    return report


def _erase_everywhere(settings: Settings, lake: LakeBackend, store: MetricStore | None, subjects: list[Subject],
                      handle_domains: Mapping[str, str | None], report: ErasureReport, stopped: _Stopped,
                      progress: Callable[[str], None] | None) -> None:
    """The passes of :func:`erase_account` from the suppression list to the store, their counts and warnings in
    ``report``; ``stopped`` is told how far they got (what a lake or store error stopping them ends with)."""
    subject = subjects[0]
    # what a `fediscope process` killed outright left: its staged output holds the account's rows too
    tidy_stopped_runs(lake)
    # with privacy off the list gets a digest of the clear key (Subject.audit_id), never the name
    report.newly_suppressed = add_suppressed(lake, subject.audit_id)
    stopped.note = unfinished_in_lake(lake, traces_kept=False)
    for other in subjects[1:]:
        add_suppressed(lake, other.audit_id)
    if not subject.pseudonymised:
        report.warnings.append("privacy is off (FEDISCOPE_PRIVACY=off): other accounts' handles and links "
                               "stay in clear in the lake; of this one, other people's texts keep its display "
                               "name and a bare @name where they do not mention it")
    policy = policy_from_settings(settings) if subject.pseudonymised else None
    # the lake's temporary files, in one walk: those of raw batches' unfinished writes (any age) are searched
    # for the traces too, and the day-old ones removed after the passes (fediscope.lake.debris)
    temporary_files = list_temporary_files(lake)
    unfinished = list(unfinished_raw_batches(lake, temporary_files.entries))
    # every key in one pass of each kind (module docstring, "The keys share the passes")
    found = find_all_traces(lake, subjects, progress, unfinished=unfinished)
    keys = list(zip(subjects, found, strict=True))
    # with what a stopped run of it found, kept for this run and any after (fediscope.gdpr.resume)
    report.warnings.extend(resume_traces(lake, keys))
    stopped.note = unfinished_in_lake(lake, traces_kept=True)
    for each, traces in keys:  # before any file is rewritten
        if each.pseudonymised:
            add_suppressed(lake, each.key, traces.ids)
        elif traces.ids:  # clear ids (instance/id) as digests, so later replies lose the reference
            add_suppressed(lake, each.audit_id, {clear_key_digest(i) for i in traces.ids})
    raise_if_lost()  # as between the files of a pass (fediscope.step_progress.in_steps)
    checkpoints, warnings = erase_checkpoints(lake, keys, policy, handle_domains)
    report.warnings.extend(warnings)
    # the reply ids an older erasure left, whoever it erased, in the same passes (fediscope.gdpr.old_replies),
    # and the replies to an erased account's ids, listed now and by earlier erasures (as landing scrubs them)
    old_replies = OldReplies(suppression=policy_from_settings(settings, load_suppressed(lake)))
    # and the texts of other people's statuses it rewrote (fediscope.gdpr.texts)
    texts = RewrittenTexts()
    # a raw file named after a page of the account's own source, deleted but kept in the curated manifest, is
    # listed there under another name (erase_raw)
    names = [_state_names(each, policy, handle_domains) for each, _ in keys]
    report.raw = dict(erase_raw(lake, keys, old_replies, texts, progress,
                                named=lambda path: _named_after_the_account(path, names) is not None))
    report.curated = dict(erase_curated(lake, found, old_replies, texts, progress))
    report.other = (dict(checkpoints + erase_quarantined(lake, keys, policy, handle_domains, old_replies.suppression))
                    | old_replies.counts() | texts.counts())
    # what writes killed before their rename left: raw records, perhaps the account's (fediscope.lake.debris)
    temporary = remove_stale_temporary_files(lake, listed=temporary_files)
    if temporary.count:
        report.other["temporary_files_removed"] = temporary.count
    report.unfinished_writes = unfinished_holding(unfinished, temporary, keys)
    report.warnings.extend(temporary_file_warnings(temporary, report.unfinished_writes,
                                                   {path for path, _ in unfinished}))
    # Kept metric results hold the account's rows and describe curated data that just changed: drop them,
    # so the next `fediscope process` recomputes every metric and compares it with the store in full.
    snapshots = forget_metric_snapshots(lake)
    if snapshots:
        report.other["metric_snapshots"] = snapshots
    if store is None:
        return
    raise_if_lost()  # a Ctrl-C raised in a finalizer stops the erasure before the store (run again, it finishes)
    stopped.note = unfinished_in_store(lake)  # a store failing here stops the erasure after its lake part
    # every metric the store lists, as it recorded them: also one whose SQL file is gone
    tables = stored_metrics(store)
    if progress is not None:
        progress(f"erase: the store's {count(len(tables), 'metric table')}")
    deleted: Counter[str] = Counter()
    for traces in found:
        deleted.update(erase_store(store, traces, tables))
    report.store = dict(deleted)
    if warning := unlisted_tables(store, settings.metrics_dir):
        report.warnings.append(warning)
