"""What an erasure found of an account, kept until the erasure is done, so that running it again erases it all.

An erasure finds the account's traces (:class:`~fediscope.gdpr.subject.Traces`: its id pseudonyms, the links, ids,
``origin_ref`` values and copies of its statuses, the boosts of them) in the raw records and the curated rows, then
rewrites those very files. Stopped part-way (Ctrl-C, a lost machine) and run again, it finds only what the files not
rewritten yet still hold. Most of what is left is tied to the account by its own row (the account's curated statuses,
found by ``account_key``) or by a mark the first run left (``[erased]``: :mod:`fediscope.gdpr.old_replies`), but some
of it is tied only by a trace found in files already rewritten: another person's boost of the account's status, in a
curated ``statuses`` partition of a later day than the status (its row names the status by its link alone, which
the raw records, erased, and the status's own row, in a partition rewritten first, held), and the store's rows of the
account's statuses by id or ``origin_ref`` (the store is erased last).

So before it rewrites anything, the erasure writes what it found to ``<lake>/_state/erasing_traces.json`` (written
atomically, one entry per key, named by :attr:`~fediscope.gdpr.subject.Subject.audit_id`: the pseudonym, or a digest
of the clear key with ``FEDISCOPE_PRIVACY=off`` — never a handle), adds what an entry of a stopped run holds to what
it finds itself, and removes its entries once its audit line is written. The entry holds what the lake held, as the
lake held it: pseudonyms and the instances' own status ids with privacy on, the clear ids and links with privacy
off; it lives only until the erasure is done. ``fediscope gdpr erase`` and the opt-out erasure of a curation
(:mod:`fediscope.gdpr.opt_outs`) keep it alike, under the lake lock, and share it: run for the same account, either
finishes what the other started.

The access export (:mod:`fediscope.gdpr.export`) reads the entries of the account's keys too (:func:`kept_traces`),
never writes the file: during a stopped erasure it lists what the finished erasure would remove, and says the
erasure was started.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fediscope.errors import LakeError
from fediscope.gdpr.subject import Subject, Traces
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import STATE_ROOT

log = logging.getLogger(__name__)

TRACES_PATH = f"{STATE_ROOT}/erasing_traces.json"


def _load(lake: LakeBackend) -> dict[str, Any]:
    """The entries kept (audit id → :meth:`~fediscope.gdpr.subject.Traces.found`); ValueError when unreadable."""
    if not lake.exists(TRACES_PATH):
        return {}
    body = json.loads(lake.read(TRACES_PATH))
    if not isinstance(body, dict) or not all(isinstance(entry, dict) for entry in body.values()):
        raise ValueError("not an object of entries")
    return body


def _save(lake: LakeBackend, entries: dict[str, Any]) -> None:
    if entries:
        lake.write_atomic(TRACES_PATH, json.dumps(entries, sort_keys=True).encode())
    elif lake.exists(TRACES_PATH):
        lake.delete(TRACES_PATH)


def _add_kept(entries: dict[str, Any], found: Sequence[tuple[Subject, Traces]]) -> list[Subject]:
    """Add to each key's traces its entry of ``entries``; the keys that had one. ValueError on a malformed entry."""
    started = [subject for subject, _ in found if subject.audit_id in entries]
    for subject, traces in found:
        traces.add_found(entries.get(subject.audit_id, {}))
    return started


def kept_traces(lake: LakeBackend, found: Sequence[tuple[Subject, Traces]]) -> tuple[list[Subject], str | None]:
    """Read only (an access export: no lake lock, nothing written): add to each key's traces what a stopped erasure
    of it kept. Returns the keys whose erasure was started and not finished, and a warning when the file is
    unreadable (nothing is then added: the next erasure replaces it). Other keys' entries are read, never returned."""
    try:
        return _add_kept(_load(lake), found), None
    except (ValueError, LakeError) as exc:
        warning = (f"{TRACES_PATH}, what a stopped erasure found, is unreadable ({exc}): rows tied to the account "
                   f"only by it (another person's boost of its status, a metric's row of its status by id) are not "
                   f"listed, nor whether an erasure of the account was started")
        log.warning("%s", warning)
        return [], warning


def resume_traces(lake: LakeBackend, found: Sequence[tuple[Subject, Traces]]) -> list[str]:
    """Add to each key's traces what a stopped erasure of it found (its entry in :data:`TRACES_PATH`), then keep
    them all there. Call under the lake lock, before any file is rewritten. Returns a warning when the file is
    unreadable (it is then written anew: a stopped erasure's traces that no file holds any more are lost)."""
    warnings: list[str] = []
    try:
        entries = _load(lake)
        _add_kept(entries, found)
    except (ValueError, LakeError) as exc:
        entries = {}
        warnings.append(f"{TRACES_PATH}, what a stopped erasure found, is unreadable ({exc}) and was replaced: rows "
                        f"tied to the account only by what that erasure found in files it had rewritten already "
                        f"(another person's boost of its status, a metric's row of its status by id) may remain")
        log.warning("%s", warnings[-1])
    for subject, traces in found:
        entries[subject.audit_id] = traces.found()
    _save(lake, entries)
    return warnings


def forget_traces(lake: LakeBackend, subjects: Iterable[Subject]) -> None:
    """Remove the entries of ``subjects`` (their erasure is done; the file goes when no entry is left). An unreadable
    file is left to the next erasure, which replaces it."""
    try:
        entries = _load(lake)
    except (ValueError, LakeError):
        return
    for subject in subjects:
        entries.pop(subject.audit_id, None)
    _save(lake, entries)
