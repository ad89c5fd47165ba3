"""Opt-outs honoured backwards: an account that opts out loses the records landed before it did.

Landing skips an opted-out account (``noindex``, or ``#nobot``, ``#noindex``, ``#nosearch``, ``#noarchive`` in its
bio: :mod:`fediscope.privacy`) with everything it wrote or boosted. Records landed *before* the account opted out
used to stay until somebody asked for an erasure. Now:

1. every landing path (``fediscope collect``, ``fediscope stream``, the scraping API) notes the account keys of
   the opted-out accounts it met (:attr:`~fediscope.privacy.PrivacyPolicy.opted_out`) with :func:`note_opt_outs`:
   one small file per note under ``<lake>/_state/opt_outs/``, so concurrent landing runs never lose each other's
   notes. A note holds pseudonymous account keys only, never a name: for an account of a server whose handles
   have another domain, both the key by the handle domain and the key by the served domain (what was landed before
   the handle domain was known; see "Handle domains" in the README), whether it was met on its home instance or on
   another (``alice@example.com``), by the handle domains this run learned or the lake remembers. A long-running one
   (``stream``, the API) notes an account once while its note is pending (:class:`PendingNotes`), and again
   once a curation has applied that note: an account that opted back in, was landed, and opted out again is
   noted again;
2. the next curation (``fediscope process``, the batch DAG, ``spark_jobs/curate.py``), under the lake lock and
   before it reads anything, looks whether any noted account has records in the lake — a row in the curated
   accounts table (which holds every status author and reblogged author curated), a status quoting it (the
   curated statuses' ``quoted_account_key``; where statuses were curated before that column existed, a status
   quoting it in any raw file), or a status, boost or account snapshot of it, or a status quoting it, in a raw
   file not curated yet — and erases each that has, all in one pass over the raw lake and the
   curated tables, exactly as ``fediscope gdpr erase`` does (its statuses and boosts and snapshots removed,
   mentions of it dropped from other people's statuses, and the statuses of it they quote;
   :mod:`fediscope.gdpr.erase`). The
   kept metric results are dropped, so the metrics computed next leave it out and the store's rows of it are
   removed as stale. Before any raw file is rewritten, every checkpoint and settle mark holding the id of one of
   its statuses (or of a boost of one) is moved off it with the erasure's own
   :func:`~fediscope.gdpr.cursors.move_checkpoints` (a collection that ran before the account opted out saved its
   checkpoint at the newest status it landed, perhaps the account's: with the instance, the id names its author;
   ``checkpoints_moved`` under ``other``; later collections save none of its ids, as they skip its statuses).
   Was: those checkpoints kept the ids. One audit line per curation that erased any (``"action": "opt_out"``,
   their keys); the accounts on the suppression list (erased by ``fediscope gdpr erase``, whose records landed
   after it: below, "Unfinished writes") are erased in the same pass, which finishes that erasure for them as the
   command would have, and audited apart, as an erasure (``"action": "erase"``, their keys; each line counts what
   its own keys' steps did: :func:`_erase`). The curation's summary counts the two apart
   (:attr:`OptOutReport.opted_out`, :attr:`OptOutReport.finished`);
3. the notes read are then deleted. An account noted with nothing of its own in the lake costs one lookup.

**Interrupted.** Before the erasure starts, the keys it erases are written down in one more note,
``<lake>/_state/opt_outs/erasing.json`` (``"erasing": true``, pseudonyms only), deleted after the other notes, once
the erasure is done. A curation stopped part-way through it (Ctrl-C, a lost machine) has rewritten the curated
accounts table and the raw lake already, so the account is found nowhere any more, yet its curated statuses may
remain: the next curation erases the keys of that note without looking for them, starting from the traces the
stopped erasure had found (:mod:`fediscope.gdpr.resume`: ``<lake>/_state/erasing_traces.json``, kept as ``fediscope
gdpr erase`` keeps them, so another person's boost of one of the account's statuses in a curated partition the
stopped pass had not reached is erased too, although nothing else links it to the account any more). What the
stopped pass left of a reply to one of the account's statuses in a curated partition it had not reached yet (the
status id, which the raw records of the reply no longer hold) is found as ``fediscope gdpr erase`` finds it, by
those raw records, which say ``[erased]`` (:class:`~fediscope.gdpr.old_replies.OldReplies`, without a suppression
list; the same pass scrubs the reply ids an older release left, whoever's, counted under ``other`` in the audit
line).

A pending note is data about the account like any other: ``fediscope gdpr export`` lists the notes naming its
key(s) (:func:`notes_about`; the marker of a stopped erasure too, ``"erasing": true``), and ``fediscope gdpr
erase`` removes its key(s) from them, the marker included (:func:`forget_opt_outs`), rather than leaving the
pseudonym there until the next curation.

**Unfinished writes.** ``fediscope gdpr erase`` leaves a note of its own (``"source": "gdpr erase"``) when
temporary files of raw batches' writes younger than a day, which it must not touch (a collector may be writing
them: it takes no lake lock), hold the account's records (:mod:`fediscope.gdpr.erase`, "Unfinished writes"). The
note names those files (``unfinished_writes``) besides the account's keys. A curation applying it looks, for each
file, whether it is still there (the note is then kept: the write is unfinished), else whether the batch it is
renamed to is (:func:`~fediscope.lake.debris.temporary_destination`: it has landed): then the keys are erased
without looking for them — a landed file may hold no record of the account's own, only a mention of it in another
person's status, which the look-up above does not find —, as the erasure would have, as for every key on the
suppression list: the streamed deletions of the account's statuses go too, and before any raw file is rewritten
every checkpoint and settle mark holding the id of one of its statuses (or of a boost of one) is moved off it with
the erasure's own :func:`~fediscope.gdpr.cursors.move_checkpoints` (a collector that started before the erasure
saves its checkpoint at the newest status it landed, perhaps the account's; ``checkpoints_moved`` under ``other``).
They are audited in a line of their own, ``"action": "erase"`` as the erasure's, so that an auditor can match the
two; was: the opt-outs' line, and the checkpoints kept the ids. While such a note waits (a file still
there, none landed), a key only such notes name is neither looked for nor counted as noted (:class:`OptOutReport`):
the erasure found and erased what the lake held of it, and nothing lands it again (it is on the suppression list).
Was: every curation until the file landed or went (up to a day) looked it up again in the curated tables, perhaps
in the raw files too, and counted it as noted, although nothing was applied. The note goes once none of its files
is left (a killed write's is removed a day later, by retention or an erasure) or, as any note, when the erasure is
run again. Looked for in that order, a file renamed between the two looks is seen as still there, never as gone and not
landed.

Unlike an erasure request, the account does not go on the suppression list: an opt-out is withdrawn by removing
the tag (or ``noindex``), and the account is then landed again like any other. Quarantined files and
checkpoints named after the account are left alone: with the privacy policy on, quarantine keeps no raw item,
and the account's clear name, which a checkpoint name would need, is never written down. With
``FEDISCOPE_PRIVACY=off`` landing skips and notes opted-out accounts too: a note then holds the clear key
(``user@domain``, as the lake's records do), and the audit line its digest, as for an erasure. An account of a server
whose handles have another domain is noted under both its names then, whichever instance it was met on: privacy off
keys its home instance's records by the served domain (``alice@social.example.com``) and other instances' by the
handle (``alice@example.com``), by the handle domains registered or remembered in the lake.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fediscope.errors import LakeError
from fediscope.gdpr.subject import Subject, may_hold_trace
from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import raw_batch_files
from fediscope.lake.debris import temporary_destination
from fediscope.lake.layout import STATE_ROOT
from fediscope.wording import count

log = logging.getLogger(__name__)

OPT_OUTS_ROOT = f"{STATE_ROOT}/opt_outs"
#: The note of an opt-out erasure started and not finished (:func:`_mark_erasing`); landing runs name their notes
#: by time, never so
ERASING_PATH = f"{OPT_OUTS_ROOT}/erasing.json"
#: The field of a note an erasure leaves for the temporary files of unfinished writes holding the account's records
#: (module docstring, "Unfinished writes")
UNFINISHED_WRITES = "unfinished_writes"
#: Raw entities whose records can be an account's own (its statuses and boosts, its account snapshots).
_OWN_ENTITIES = ("statuses", "accounts", "directory")


def note_opt_outs(lake: LakeBackend, keys: Iterable[str], source: str,
                  unfinished_writes: Sequence[str] = ()) -> str | None:
    """Note the account keys of opted-out accounts a landing run met (none: nothing written); returns the file.
    ``unfinished_writes`` (an erasure, module docstring "Unfinished writes"): the temporary files holding the
    keys' records that the erasure had to leave; the note waits for them (:func:`_unfinished_writes`)."""
    wanted = sorted(set(keys))
    if not wanted:
        return None
    now = datetime.now(UTC)
    path = f"{OPT_OUTS_ROOT}/{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}.json"
    body: dict[str, Any] = {"source": source, "noted_at": now.isoformat(timespec="seconds"), "keys": wanted}
    if unfinished_writes:
        body[UNFINISHED_WRITES] = sorted(unfinished_writes)
    lake.write_atomic(path, json.dumps(body).encode())
    log.debug("opt-outs: %d noted by %s in %s", len(wanted), source, path)
    return path


class PendingNotes:
    """The opted-out accounts a long-running landing process (``stream``, the scraping API) has noted, each
    remembered while the note naming it is pending: a note a curation applied (deleted) is forgotten, so an
    account met opted out again after that (it opted back in, was landed, and opted out again) is noted again.
    Remembering them forever would leave what was landed in between for good.

    Whether a note is still there is asked of the lake only for the notes of accounts met again, at most once
    per ``recheck_seconds`` per note; beyond ``remembered`` keys everything is forgotten (a note more, not one
    less). Thread-safe; the lake is written and asked outside the lock."""

    def __init__(self, source: str, recheck_seconds: float = 0.0, remembered: int = 100_000) -> None:
        self.source, self.recheck_seconds, self.remembered = source, recheck_seconds, remembered
        self._pending: dict[str, str] = {}  # account key → the note file naming it
        self._seen: dict[str, float] = {}  # note file → when it was last known to be there (monotonic)
        self._lock = threading.Lock()

    def note(self, lake: LakeBackend | Callable[[], LakeBackend], met: Iterable[str]) -> str | None:
        """Note the keys of ``met`` not pending in a note of this process; returns the note written, if any.
        ``lake`` may be a callable opening it (only called when the lake is needed)."""
        met = set(met)
        if not met:
            return None
        now = time.monotonic()
        with self._lock:
            due = {path for key in met if (path := self._pending.get(key)) is not None
                   and now - self._seen.get(path, now) >= self.recheck_seconds}
        opened: LakeBackend | None = None

        def the_lake() -> LakeBackend:
            nonlocal opened
            if opened is None:
                opened = lake() if callable(lake) else lake
            return opened

        gone = {path for path in due if not the_lake().exists(path)}
        with self._lock:
            for path in due - gone:
                self._seen[path] = now
            if gone:  # applied by a curation: their accounts are noted again when met
                self._pending = {key: path for key, path in self._pending.items() if path not in gone}
                for path in gone:
                    self._seen.pop(path, None)
            new = met - self._pending.keys()
            if len(self._pending) + len(new) > self.remembered:
                self._pending.clear()
                self._seen.clear()
        if not new:
            return None
        path = note_opt_outs(the_lake(), new, self.source)
        if path is not None:
            with self._lock:
                self._pending.update(dict.fromkeys(new, path))
                self._seen[path] = time.monotonic()
        return path


def _note_files(lake: LakeBackend) -> list[str]:
    """The pending note files (the hidden temporary file of a note being written is not listed)."""
    entries = lake.list(OPT_OUTS_ROOT) if lake.exists(OPT_OUTS_ROOT) else []
    return sorted(e.path for e in entries if not e.is_dir and e.path.endswith(".json"))


def _parse_note(raw: bytes) -> dict[str, Any]:
    """A note's body with its ``keys`` as a list of strings; ValueError when it is not a note."""
    body = json.loads(raw)
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        raise ValueError("no list of keys")
    return {**body, "keys": [str(k) for k in body["keys"] if isinstance(k, str) and k]}


def pending_opt_outs(lake: LakeBackend) -> tuple[set[str], list[str]]:
    """The keys noted and not applied yet, and the note files they come from. An unreadable note is logged and
    listed (so it is deleted with the others): it cannot be read by any later run either."""
    files, notes = _pending(lake)
    return _keys_of(notes.values()), files


def _pending(lake: LakeBackend) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The pending note files (:func:`pending_opt_outs`), and the body of each readable one (path → body)."""
    notes: dict[str, dict[str, Any]] = {}
    files = _note_files(lake)
    for path in files:
        try:
            notes[path] = _parse_note(lake.read(path))
        except ValueError as exc:
            log.warning("opt-outs: %s is unreadable (%s); deleted with the notes applied", path, exc)
    return files, notes


def _keys_of(notes: Iterable[dict[str, Any]]) -> set[str]:
    """Every key the note bodies ``notes`` name."""
    return {key for body in notes for key in body["keys"]}


def _waiting_only(notes: Mapping[str, dict[str, Any]], waiting: Mapping[str, list[str]], landed: set[str]) -> set[str]:
    """The keys named only by notes still waiting for unfinished writes (``waiting``, none of whose files has
    landed: not in ``landed``). They are neither looked up nor counted as noted: the erasure that left the note
    found and erased what the lake held of them, and the note is applied once a file lands (module docstring,
    "Unfinished writes"); looking them up at every curation until then was repeated work for nothing."""
    return (_keys_of(body for path, body in notes.items() if path in waiting) - landed
            - _keys_of(body for path, body in notes.items() if path not in waiting))


def _unfinished_writes(lake: LakeBackend, notes: Mapping[str, dict[str, Any]]
                       ) -> tuple[set[str], dict[str, list[str]]]:
    """Of the notes an erasure left for unfinished writes (``notes``, module docstring "Unfinished writes"): the keys
    of those one of whose files has landed since (renamed into place: erased without looking for them, as a landed
    file may hold only a mention of the account, which the look-up does not find), and the notes still waiting for
    a file, each with the files it still waits for. A file is looked for before its target: a rename between the two
    looks is seen as still waiting, never as gone and not landed."""
    landed: set[str] = set()
    waiting: dict[str, list[str]] = {}
    for path, body in notes.items():
        for temporary in body[UNFINISHED_WRITES]:
            if not isinstance(temporary, str):
                continue
            if lake.exists(temporary):
                waiting.setdefault(path, []).append(temporary)
            elif (target := temporary_destination(temporary)) is not None and lake.exists(target):
                landed.update(body["keys"])
    return landed, waiting


def _wait(lake: LakeBackend, path: str, body: dict[str, Any], files: list[str]) -> None:
    """Keep the note ``path`` (``body``) waiting for ``files`` alone: those landed or gone are done with (once the
    curation's erasure is done: a stopped one finds them again)."""
    if files != body[UNFINISHED_WRITES]:
        lake.write_atomic(path, json.dumps({**body, UNFINISHED_WRITES: files}).encode())


def _notes_naming(lake: LakeBackend, wanted: set[str],
                  applied_meanwhile: bool = False) -> Iterator[tuple[str, bytes, dict[str, Any] | None]]:
    """(path, bytes, parsed body or None when unreadable) of every pending note whose bytes hold one of ``wanted``.
    ``applied_meanwhile``: a note deleted between listing and reading it (applied by a curation) is left out."""
    for path in _note_files(lake):
        try:
            raw = lake.read(path)
        except LakeError:
            if not applied_meanwhile or lake.exists(path):
                raise
            continue
        if not may_hold_trace(raw, wanted):  # a note is written with ensure_ascii: a non-ASCII clear key escaped
            continue
        try:
            body: dict[str, Any] | None = _parse_note(raw)
        except ValueError:
            body = None
        yield path, raw, body


def notes_about(lake: LakeBackend, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The pending notes naming each of ``keys`` (for an access export): key → ``{"path", "source",
    "noted_at"}`` of every note holding it, oldest first; the marker of an opt-out erasure a stopped curation
    started (:func:`_mark_erasing`) last, with ``"erasing": true`` (``noted_at``: when it started). An unreadable
    note whose bytes hold the key is listed too, with ``"unreadable": true`` (the next curation deletes it unread).
    A note deleted between listing and reading it is no longer pending, and is left out (the export holds the lake
    lock, so no curation applies one meanwhile: this covers a note removed by hand)."""
    wanted = set(keys)
    found: dict[str, list[dict[str, Any]]] = {key: [] for key in wanted}
    for path, raw, body in _notes_naming(lake, wanted, applied_meanwhile=True):
        if body is None:
            for key in wanted:
                if may_hold_trace(raw, {key}):
                    found[key].append({"path": path, "source": None, "noted_at": None, "unreadable": True})
            continue
        for key in wanted.intersection(body["keys"]):
            found[key].append({"path": path, "source": body.get("source"), "noted_at": body.get("noted_at"),
                               **({"erasing": True} if path == ERASING_PATH else {}),
                               **({UNFINISHED_WRITES: body[UNFINISHED_WRITES]} if UNFINISHED_WRITES in body else {})})
    return found


def forget_opt_outs(lake: LakeBackend, keys: Iterable[str]) -> int:
    """Remove ``keys`` from the pending notes (after an erasure: the account is gone, its pseudonym must not stay
    in a note until the next curation); returns the number of notes that named any of them.

    A note naming only those keys is deleted; one naming other keys too is rewritten atomically under the same
    name without them, its other keys, source and time kept. Call under the lake lock: the only other process
    that changes an existing note is a curation applying it, which holds the lock too. Landing runs never
    change an existing note — each writes a new file of its own (module docstring) — so rewriting a note read
    here loses nobody's note, and a note written meanwhile is simply not looked at. An unreadable note whose
    bytes hold one of the keys is deleted: no run can read it, and the next curation would delete it unread."""
    wanted = set(keys)
    removed = 0
    for path, _raw, body in _notes_naming(lake, wanted):
        kept = [] if body is None else [key for key in body["keys"] if key not in wanted]
        if body is not None and len(kept) == len(body["keys"]):
            continue  # the bytes held a key only as part of something else
        if kept:
            lake.write_atomic(path, json.dumps({**body, "keys": kept}).encode())
        else:
            lake.delete(path)
        removed += 1
    if removed:
        log.info("opt-outs: %d pending note(s) named the erased account; its key(s) removed from them", removed)
    return removed


@dataclass
class OptOutReport:
    """What :func:`apply_opt_outs` did: accounts noted, those with records of their own (erased), counts."""

    noted: int = 0
    erased: list[str] = field(default_factory=list)
    #: of ``erased``, the accounts on the suppression list: erasures by ``fediscope gdpr erase`` this finished (records
    #: of theirs landed after it, module docstring "Unfinished writes"), not opt-outs
    finished: list[str] = field(default_factory=list)
    raw: dict[str, int] = field(default_factory=dict)
    curated: dict[str, int] = field(default_factory=dict)
    #: reply ids scrubbed (OldReplies.counts), content rows recounted, checkpoints moved (_erase)
    other: dict[str, int] = field(default_factory=dict)

    @property
    def opted_out(self) -> list[str]:
        """Of ``erased``, the accounts that opted out (not :attr:`finished`)."""
        finished = set(self.finished)
        return [key for key in self.erased if key not in finished]

    def as_dict(self) -> dict[str, Any]:
        return {"noted": self.noted, "erased": len(self.erased), "erasures_finished": len(self.finished),
                "raw": self.raw, "curated": self.curated, "other": self.other}


#: Where the curated tables name an account that an opt-out erases: the accounts table holds every status author
#: and reblogged author curated, and the statuses table the author of every status a status quotes.
_CURATED_KEY_COLUMNS = (("accounts", "account_key"), ("statuses", "quoted_account_key"))


def _curated_account_keys(lake: LakeBackend, keys: set[str]) -> tuple[set[str], bool]:
    """The ``keys`` the curated tables name as an account (:data:`_CURATED_KEY_COLUMNS`), each column read on its
    own: on a local lake only that column of each file, on a remote one the whole file; and whether a file that
    was looked in lacks its column (curated before the column existed: an account only quoted there is not found
    here, :func:`apply_opt_outs` then looks for it in the raw files curated into such files)."""
    import pyarrow.parquet as pq

    from fediscope.lake.layout import CURATED_ROOT

    found: set[str] = set()
    lacking = False
    for table, column in _CURATED_KEY_COLUMNS:
        for entry in lake.walk(f"{CURATED_ROOT}/{table}"):
            if not entry.path.endswith(".parquet") or not keys - found:
                continue
            local = lake.local_path(entry.path)
            parquet = pq.ParquetFile(local if local is not None else io.BytesIO(lake.read(entry.path)))
            if column in parquet.schema_arrow.names:
                values = parquet.read(columns=[column]).column(0).to_pylist()
                found.update((keys - found).intersection(values))
            else:
                lacking = True
    return found, lacking and bool(keys - found)


def _uncurated_files(lake: LakeBackend) -> dict[str, list[str]]:
    from fediscope.engine.manifest import load_manifest, plan_curation

    return plan_curation(lake, load_manifest(lake)).files


def _uncurated_owners(lake: LakeBackend, keys: set[str], uncurated: Mapping[str, list[str]]) -> set[str]:
    """The ``keys`` owning a record in a raw file of ``uncurated`` (entity → files: those not curated yet), or
    quoted in one."""
    from fediscope.gdpr.erase import entity_and_instance, is_owned, read_batch_text
    from fediscope.lake.batches import decode_jsonl

    found: set[str] = set()
    for entity in _OWN_ENTITIES:
        for path in uncurated.get(entity, []):
            text = read_batch_text(lake, path)
            wanted = keys - found
            lowered = text.lower() if any("@" in key for key in wanted) else text  # once per file, not per key
            present = {key for key in wanted if _may_name(text, lowered, key)}
            if not present:
                continue
            for record in decode_jsonl(text, name=path):
                kind, instance = entity_and_instance(path, record)
                data = record.get("data")
                found.update(key for key in present
                             if is_owned(kind, data, instance, key) or _quotes(kind, data, instance, key))
    return found


def _may_name(text: bytes, lowered: bytes, key: str) -> bool:
    """Fast path of :func:`_uncurated_owners`: can a raw file of ``text`` (``lowered``: in lower case) hold a record
    of the account ``key``? A pseudonym is written as it is; a clear key (privacy off, ``user@domain`` in lower
    case) is not: a local account's ``acct`` has no domain and a name may be in upper case (``Gargron``), so only
    its name is looked for, in any case, in every form JSON may write it (:func:`~fediscope.gdpr.subject.
    may_hold_trace`: a name holding a non-ASCII character may be escaped)."""
    if "@" not in key:
        return key.encode() in text
    return may_hold_trace(lowered, {key.partition("@")[0]})


def _quotes(entity: str, data: Any, instance: str, key: str) -> bool:
    """Whether a raw status (or a status nested in it) quotes a status of the account ``key``: what the erasure
    then cuts (:mod:`fediscope.gdpr.erase`)."""
    from fediscope.gdpr.subject import nested_statuses, quoted_author

    return entity == "statuses" and any(quoted_author(s, instance) == key for s in nested_statuses(data))


def apply_opt_outs(lake: LakeBackend,
                   uncurated: Callable[[], Mapping[str, list[str]]] | None = None) -> OptOutReport:
    """Erase the noted opted-out accounts that have records of their own in the lake, then delete the notes (see
    the module docstring). Call under the lake lock, before curation reads anything. ``uncurated`` gives the raw
    files not curated yet, by entity, asked only when a noted account is not in the curated tables: a curation
    passes its own plan, from the walk of the raw lake it makes anyway; without it they are planned here."""
    files, notes = _pending(lake)
    if not files:
        return OptOutReport()
    unfinished = {path: body for path, body in notes.items() if isinstance(body.get(UNFINISHED_WRITES), list)}
    # an erasure's unfinished writes that have landed since, and the notes still waiting for one (kept, at the end)
    landed, waiting = _unfinished_writes(lake, unfinished)
    keys = _keys_of(notes.values()) - _waiting_only(notes, waiting, landed)
    report = OptOutReport(noted=len(keys))
    # an erasure a stopped curation started: its accounts may be found nowhere any more, yet not all erased
    owners = (_erasing_keys(lake) | landed) & keys
    found, predates = _curated_account_keys(lake, keys - owners) if keys - owners else (set(), False)
    owners |= found
    if keys - owners:
        not_curated = (uncurated or (lambda: _uncurated_files(lake)))()
        owners |= _uncurated_owners(lake, keys - owners, not_curated)
        if predates and keys - owners:
            # curated statuses made before quoted_account_key existed cannot tell whom their statuses quote: the
            # raw files curated already are read for quotes too (until `--recurate` has rebuilt those files)
            scanned = set(not_curated.get("statuses", []))
            curated = [path for path in raw_batch_files(lake, "statuses") if path not in scanned]
            log.warning("opt-outs: statuses curated before fediscope kept quoted_account_key cannot tell whom they "
                        "quote: reading %s for quotes of %s; run `fediscope process --recurate` once to make this "
                        "lookup cheap again", count(len(curated), "raw statuses file"),
                        count(len(keys - owners), "noted account"))
            owners |= _uncurated_owners(lake, keys - owners, {"statuses": curated})
    with _unfinished_if_stopped(lake, len(owners)):
        if owners:
            report.erased = sorted(owners)
            _mark_erasing(lake, report.erased)
            # each pass logs what it erased
            report.raw, report.curated, report.other, report.finished = _erase(lake, report.erased)
        for path in files:
            if path in waiting:
                _wait(lake, path, unfinished[path], waiting[path])
            elif path != ERASING_PATH:
                lake.delete(path)
        if lake.exists(ERASING_PATH):  # last, the erasure done (listed above only when a stopped run wrote it)
            lake.delete(ERASING_PATH)
    log.info("opt-outs: %d noted account(s) checked, %d erased", len(keys), len(owners))
    return report


@contextlib.contextmanager
def _unfinished_if_stopped(lake: LakeBackend, erasing: int) -> Iterator[None]:
    """A lake error (a write or deletion refused, a full disk) that stops the erasure of ``erasing`` accounts, or
    the removal of the notes after it, ends as ``fediscope gdpr erase``'s does
    (:func:`fediscope.gdpr.erase.unfinished`): the erasure is unfinished, and the next ``fediscope process`` finishes
    it once that is fixed (the notes, and the marker of the erasure started, are still there: module docstring,
    "Interrupted"). Was: the lake's error alone, which ``fediscope process`` printed as any failed run's."""
    try:
        yield
    except LakeError as exc:
        if erasing:
            from fediscope.gdpr.erase import unfinished
            from fediscope.lake.backend import url_below

            exc.args = (f"{exc}; " + unfinished(
                f"the lake may still hold records of {count(erasing, 'account')}, landed before their opt-out (or "
                f"after their erasure by `fediscope gdpr erase`), as the notes in {url_below(lake.url, OPT_OUTS_ROOT)} "
                "still say", again="`fediscope process`"),)
        raise


def _mark_erasing(lake: LakeBackend, keys: list[str]) -> None:
    """Note, before the erasure of ``keys`` starts, that it has: the marker (:data:`ERASING_PATH`) is a note like
    the others (so the access export lists it, and ``fediscope gdpr erase`` removes a key from it), with
    ``"erasing": true``; kept with the keys of an earlier stopped erasure, and deleted after the notes."""
    keys = sorted(set(keys) | _erasing_keys(lake))
    body = {"source": "curation", "noted_at": datetime.now(UTC).isoformat(timespec="seconds"), "keys": keys,
            "erasing": True}
    lake.write_atomic(ERASING_PATH, json.dumps(body).encode())


def _erasing_keys(lake: LakeBackend) -> set[str]:
    """The keys of an opt-out erasure started and not finished (:func:`_mark_erasing`); none when its marker is
    unreadable (it is then deleted with the notes, as any unreadable note)."""
    if not lake.exists(ERASING_PATH):
        return set()
    try:
        return set(_parse_note(lake.read(ERASING_PATH))["keys"])
    except ValueError:
        return set()


def _erase(lake: LakeBackend, keys: list[str]
           ) -> tuple[dict[str, int], dict[str, int], dict[str, int], list[str]]:
    """Erase ``keys`` (:mod:`fediscope.gdpr.erase`, without adding them to the suppression list), all in one pass;
    the raw, curated and other counts, and the keys whose erasure this finished (on the suppression list).

    The keys on the suppression list are accounts ``fediscope gdpr erase`` erased: records of theirs found now (a
    note it left for its unfinished writes, one of which has landed since; a landing run that met them before the
    erasure) are what it could not erase, and erasing them finishes it, as it would have: the deletions of their
    statuses go too. The other keys are opted-out accounts: the deletions of their statuses stay tombstones,
    should they come back. The other counts are the reply ids scrubbed by :class:`~fediscope.gdpr.old_replies.
    OldReplies` (those of another person's reply to a status of the account, which a stopped erasure left in a
    curated row while it scrubbed the raw records, and those an older release left, whoever's), the content rows
    recounted (:mod:`fediscope.gdpr.texts`) and the checkpoints moved.

    One pass for both kinds: their traces are found in one read of the raw lake and the curated tables, and before
    any raw file is rewritten (a stopped erasure run again still finds the ids) the checkpoints and settle marks
    holding one of their status ids (or a boost's) are moved off them all at once with the erasure's own
    :func:`~fediscope.gdpr.cursors.move_checkpoints` (a checkpoint deleted is logged as the command warns of it):
    with the instance, the id names its author, so an id never lands on a status of another of the accounts. Then
    one rewrite of the raw lake and one of the curated tables. Was: a pass for each kind, one after the other,
    each reading the lake twice; the first could move a checkpoint onto a status of an account of the second,
    which moved it again (``checkpoints_moved`` counted twice for one file).

    Audited apart, one line for each kind (:func:`_audit`): ``"action": "erase"`` for the finished erasures,
    so that an auditor can match it to the erasure's own, and ``"action": "opt_out"`` for the opt-outs, each with
    the raw and curated counts of its own keys' steps and the checkpoints it moved (a file holding ids of both
    kinds is counted once, in the erasure's line); the counts of the pass as a whole, not of one key (the old
    reply ids and content rows), go in the last line written. The lines add up to the counts returned."""
    from fediscope.engine.metric_state import forget as forget_metric_snapshots
    from fediscope.gdpr.curated import erase_curated
    from fediscope.gdpr.cursors import move_checkpoints
    from fediscope.gdpr.erase import erase_raw, find_all_traces
    from fediscope.gdpr.old_replies import OldReplies
    from fediscope.gdpr.resume import forget_traces, resume_traces
    from fediscope.gdpr.suppression import load_suppressed
    from fediscope.gdpr.texts import RewrittenTexts

    # a key noted with privacy off is the clear user@domain (a pseudonym never holds "@")
    subjects = [Subject(key=key, pseudonymised="@" not in key, username=key.partition("@")[0],
                        domain=key.partition("@")[2]) for key in keys]
    suppressed = load_suppressed(lake)
    # the finished erasures first: a checkpoint holding ids of both kinds is counted in their line
    groups = [group for group in ([s for s in subjects if s.audit_id in suppressed],
                                  [s for s in subjects if s.audit_id not in suppressed]) if group]
    subjects = [subject for group in groups for subject in group]
    found = find_all_traces(lake, subjects)
    for subject, traces in zip(subjects, found, strict=True):
        traces.with_deletions = subject.audit_id in suppressed
    pairs = list(zip(subjects, found, strict=True))
    resume_traces(lake, pairs)  # with what a stopped run found (fediscope.gdpr.resume); a warning is logged
    moved_by: dict[str, Counter[str]] = {}
    moved, warnings = move_checkpoints(lake, found, by_key=moved_by)
    for warning in warnings:
        log.warning("opt-outs: %s", warning)
    old_replies = OldReplies()  # no suppression list: an opt-out does not put the account on it
    texts = RewrittenTexts()  # the content columns of the statuses whose text it rewrites (fediscope.gdpr.texts)
    raw_by: dict[str, Counter[str]] = {}
    curated_by: dict[str, Counter[str]] = {}
    raw = erase_raw(lake, pairs, old_replies, texts, by_key=raw_by)
    curated = erase_curated(lake, found, old_replies, texts, by_key=curated_by)
    forget_metric_snapshots(lake)  # the next metrics compare with the store in full: its rows of them go
    for at, group in enumerate(groups):
        whole = old_replies.counts() | texts.counts() if at == len(groups) - 1 else {}
        _audit(lake, group, group[0].audit_id in suppressed, raw_by, curated_by, moved_by, whole)
    forget_traces(lake, subjects)
    finished = [subject.key for subject in subjects if subject.audit_id in suppressed]
    return dict(raw), dict(curated), dict(moved) | old_replies.counts() | texts.counts(), finished


def _audit(lake: LakeBackend, group: list[Subject], erased: bool, raw_by: Mapping[str, Counter[str]],
           curated_by: Mapping[str, Counter[str]], moved_by: Mapping[str, Counter[str]],
           whole: Mapping[str, int]) -> None:
    """The audit line and warning of one kind of keys :func:`_erase` erased (``erased``: finished erasures, else
    opt-outs): the sums of their keys' counts, and ``whole``, the counts of the pass as a whole, if any."""
    from fediscope.gdpr.erase import append_audit

    raw: Counter[str] = sum((raw_by.get(subject.key, Counter()) for subject in group), Counter())
    curated: Counter[str] = sum((curated_by.get(subject.key, Counter()) for subject in group), Counter())
    moved: Counter[str] = sum((moved_by.get(subject.key, Counter()) for subject in group), Counter())
    other = dict(moved) | dict(whole)
    append_audit(lake, {"time": datetime.now(UTC).isoformat(timespec="seconds"),
                        "action": "erase" if erased else "opt_out",
                        "account_keys": [subject.audit_id for subject in group], "raw": dict(raw),
                        "curated": dict(curated), **({"other": other} if other else {})})
    if erased:
        log.warning("opt-outs: finished the erasure of %d account(s) erased by `fediscope gdpr erase`, records of "
                    "whose were landed after it; erased from the raw lake and the curated tables (%s raw records, "
                    "%s curated rows, %s moved)", len(group), raw.get("records_removed", 0),
                    curated.get("rows_removed", 0), count(moved["checkpoints_moved"], "checkpoint"))
    else:
        log.warning("opt-outs: %d account(s) opted out after records of theirs were landed; erased from the raw "
                    "lake and the curated tables (%s raw records, %s curated rows); %s moved off their status ids",
                    len(group), raw.get("records_removed", 0), curated.get("rows_removed", 0),
                    count(moved["checkpoints_moved"], "checkpoint"))
