"""Checkpoints and pass marks that hold an erased account's status ids, moved to ids that name none of them.

A paged source's checkpoint (``_state/<domain>/<source>.json``: ``newest_id`` and, while a gap is walked,
``extra.walk`` with ``lower``, ``upper`` and ``cursor``; :mod:`fediscope.sources.collector`) and its settle pass's
mark (``_state/<domain>/settle/<source>.json``) hold status ids of that instance, and with the instance a status id
names its author. The erasure (:mod:`fediscope.gdpr.erase`) moves each such id that is one of the account's
statuses there (:attr:`~fediscope.gdpr.subject.Traces.status_copies`) or another person's boost of one
(:attr:`~fediscope.gdpr.subject.Traces.boost_copies`), in the direction that can only make the collector fetch
again what it has, never skip what it has not:

* the ids at and below which everything is landed — ``newest_id`` and the walk's ``lower`` (the next
  ``since_id``), the walk's ``upper`` (the checkpoint the walk ends with) and the settle mark (the next
  ``min_id``) — move **down**;
* the walk's ``cursor`` — the next ``max_id``, below which the rest of the gap is not landed yet — moves **up**.

Each moves by the least (:func:`moved_down`, :func:`moved_up`), to whichever is nearer on its side of: the nearest
id, in the collector's order (:func:`~fediscope.sources.pages.id_key`: an id of the same kind, or of the kind most
of them are, as Pleroma's old numeric ids below its FlakeIds; :class:`KeptIds`), of another status landed from that
instance that the erasure keeps; and, for a Mastodon snowflake, a time — the first snowflake of its
minute going down, of the next minute going up (of the minute beyond, when that one is one of the account's ids).
What is fetched again in between is then the account's statuses, which the suppression list keeps out, and
statuses that were never landed; curation deduplicates the rest. The ids landed are read from that instance's raw
statuses, once, only when one of its state files needs them. An id with neither (not a snowflake, and no such
status on its side):

* a cursor is dropped (the walk goes down again from the newest status to its ``lower``: nothing kept was landed
  above the cursor) and so is an ``upper`` (the next page sets it again, lower);
* a checkpoint (its ``newest_id`` or its walk's ``lower``) is deleted, with a warning: the source starts over like a
  new one, and its first walk goes back only ``FEDISCOPE_BACKFILL_PAGES`` pages; a settle mark too (the pass starts
  again at the checkpoint, and statuses landed but not settled yet keep the counts of their first fetch).

A later collection saves none of the account's status ids again: before it saves, the collector moves them with the
same :func:`moved_down` and :func:`moved_up`, given the kept statuses of the page it fetched
(:mod:`fediscope.sources.collector`), so an id lands where the erasure would have moved it.

Run before any raw file is rewritten, once the suppression list has the account: an interrupted erasure run again
finds the same ids. A curation that erases an opted-out account, or finishes an erasure (records of the account
landed after it, from a write that was unfinished), moves them with the same :func:`move_checkpoints`
(:mod:`fediscope.gdpr.opt_outs`), once for all the accounts it erases, before it rewrites any raw file too; what
is fetched again is then skipped while the account stays opted out (landing skips it as it skips an erased one),
and landed again once it opts back in.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fediscope.gdpr.subject import Traces
from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import decode_jsonl, raw_batch_files
from fediscope.lake.layout import STATE_ROOT, parse_partition
from fediscope.lake.state import SETTLE_PASS, Checkpoint, UnreadableCheckpoint, read_state, write_state
from fediscope.sources.pages import id_key, placed_against, usual_is_number
from fediscope.timestamps import is_snowflake, snowflake, snowflake_ms

#: The ids of a walk (``extra.walk``) that bound what is landed from below, and the one bounding it from above.
_LOWER_WALK_IDS = ("lower", "upper")
_UPPER_WALK_IDS = ("cursor",)
_MINUTE_MS = 60_000


def erased_status_ids(found: Sequence[Traces]) -> dict[str, set[str]]:
    """Instance (lower case) → the ids there of the account's statuses and of other people's boosts of them, for
    every key of the account."""
    ids: dict[str, set[str]] = {}
    for traces in found:
        for copy in traces.status_copies | traces.boost_copies:
            instance, _, status_id = copy.partition("/")
            ids.setdefault(instance, set()).add(status_id)
    return ids


@dataclass
class KeptIds:
    """Ids of statuses that are kept (landed from one instance and kept by the erasure, or on a page the collector
    lands), in the collector's order: where an erased or withheld id finds its nearest kept neighbours.

    A neighbour of the other kind than the id is one only when it is of the usual kind of these ids
    (:func:`~fediscope.sources.pages.placed_against`, the settle pass's rule): Pleroma's old numeric ids lie below
    its FlakeIds, while a malformed item's id (text among Mastodon's snowflakes, a number among GoToSocial's
    ULIDs) is no place to move a checkpoint to."""

    ids: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, ids: Iterable[str]) -> KeptIds:
        return cls(sorted(ids, key=id_key))

    @functools.cached_property
    def _numbers_usual(self) -> bool:
        return usual_is_number(self.ids)

    def below(self, status_id: str) -> str | None:
        """The nearest id below ``status_id`` placed against it, or None. (Numbers sort below text ids: when the
        nearest is not placed, no id below is.)"""
        at = bisect_left(self.ids, id_key(status_id), key=id_key)
        return self.ids[at - 1] if at and placed_against(self.ids[at - 1], status_id, self._numbers_usual) else None

    def above(self, status_id: str) -> str | None:
        """The nearest id above ``status_id`` placed against it, or None."""
        at = bisect_right(self.ids, id_key(status_id), key=id_key)
        return (self.ids[at] if at < len(self.ids) and placed_against(self.ids[at], status_id, self._numbers_usual)
                else None)


def landed_ids(lake: LakeBackend, domain: str, erased: set[str]) -> KeptIds:
    """The ids of the statuses (as timelines list them: a boost by its own id) in the raw partitions of ``domain``,
    but ``erased``."""
    found: set[str] = set()
    for path in raw_batch_files(lake, "statuses"):
        if parse_partition(path).get("instance", "").lower() != domain:
            continue
        for record in decode_jsonl(lake.read(path), path, name=path):
            data = record.get("data")
            status_id = data.get("id") if isinstance(data, dict) else None
            if isinstance(status_id, str) and status_id and status_id not in erased:
                found.add(status_id)
    return KeptIds.of(found)


def _landed_once(cache: dict[str, KeptIds], lake: LakeBackend, domain: str, erased: set[str]) -> KeptIds:
    """:func:`landed_ids`, read once per instance and erasure (``cache``)."""
    if domain not in cache:
        cache[domain] = landed_ids(lake, domain, erased)
    return cache[domain]


def minute_before(status_id: str, erased: Collection[str]) -> str | None:
    """The first snowflake of the minute of ``status_id`` (of an earlier minute when that one is erased or not
    below it), or None when ``status_id`` is not a snowflake: a time below it, no status."""
    if not is_snowflake(status_id):
        return None
    ms = snowflake_ms(status_id) // _MINUTE_MS * _MINUTE_MS
    while (floor := snowflake(ms, 0)) >= int(status_id) or str(floor) in erased:
        ms -= _MINUTE_MS
    return str(floor)


def minute_after(status_id: str, erased: Collection[str]) -> str | None:
    """The first snowflake of the minute after that of ``status_id`` (of a later minute when that one is erased),
    or None when ``status_id`` is not a snowflake: a time above it, no status (where a cursor moves up to)."""
    if not is_snowflake(status_id):
        return None
    ms = snowflake_ms(status_id) // _MINUTE_MS * _MINUTE_MS + _MINUTE_MS
    while str(ceiling := snowflake(ms, 0)) in erased:
        ms += _MINUTE_MS
    return str(ceiling)


def moved_down(status_id: str, below: str | None, erased: Collection[str]) -> str | None:
    """Where ``status_id``, one of ``erased`` (or withheld), moves from a place at and below which everything is
    landed (a checkpoint's ``newest_id``, a walk's ``lower`` and ``upper``, a settle mark): down, which only fetches
    again, by the least — to the higher of ``below``, the nearest kept id below it (:meth:`KeptIds.below`), and
    :func:`minute_before`. None when neither exists (an id that is not a snowflake, nothing kept below it): what
    that means is the caller's."""
    found = [i for i in (below, minute_before(status_id, erased)) if i is not None]
    return max(found, key=id_key, default=None)


def moved_up(status_id: str, above: str | None, erased: Collection[str]) -> str | None:
    """Where a walk's cursor (the next ``max_id``: below it the gap is not landed yet) that is one of ``erased`` (or
    withheld) moves: up, which only fetches again, by the least — to the lower of ``above``, the nearest kept id
    above it (:meth:`KeptIds.above`), and :func:`minute_after`. None when neither exists."""
    found = [i for i in (above, minute_after(status_id, erased)) if i is not None]
    return min(found, key=id_key, default=None)


def _erased(value: Any, erased: set[str]) -> bool:
    return isinstance(value, str) and value in erased


def _move_walk(walk: dict[str, Any], erased: set[str], landed: Callable[[], KeptIds]) -> dict[str, Any] | None:
    """``extra.walk`` with its erased ids moved; None when its ``lower`` has no id below it to move to."""
    moved = dict(walk)
    for name in _LOWER_WALK_IDS:
        if _erased(value := moved.get(name), erased):
            moved[name] = moved_down(value, landed().below(value), erased)
            if moved[name] is None and name == "lower":  # None would make the walk a new source's first one
                return None
    for name in _UPPER_WALK_IDS:
        if _erased(value := moved.get(name), erased):
            moved[name] = moved_up(value, landed().above(value), erased)
    return moved


def held_fields(checkpoint: Checkpoint, settle: bool) -> dict[str, str]:
    """The ids a checkpoint (or settle mark, ``settle``) holds where the erasure moves them, by field: its
    ``newest_id`` and, but in a settle mark, its walk's (``extra.walk.lower``, ``…upper``, ``…cursor``)."""
    extra = checkpoint.extra if isinstance(checkpoint.extra, dict) else None
    walk = extra.get("walk") if extra is not None and not settle else None
    fields = {"newest_id": checkpoint.newest_id,
              **{f"extra.walk.{name}": value for name, value in (walk.items() if isinstance(walk, dict) else ())}}
    return {name: value for name, value in fields.items() if isinstance(value, str)}


def _move_checkpoint(checkpoint: Checkpoint, settle: bool, erased: set[str],
                     landed: Callable[[], KeptIds]) -> Checkpoint | None:
    """One checkpoint (or settle mark, ``settle``) holding some of ``erased`` with them moved (module docstring);
    None when it has no id to move to (it is deleted)."""
    extra = checkpoint.extra if isinstance(checkpoint.extra, dict) else None
    walk = extra.get("walk") if extra is not None and not settle else None
    walk = walk if isinstance(walk, dict) else None
    newest = checkpoint.newest_id
    if _erased(newest, erased):
        newest = moved_down(newest, landed().below(newest), erased)
        if newest is None:
            return None
    if walk is not None:
        walk = _move_walk(walk, erased, landed)
        if walk is None:
            return None
        extra = {**(extra or {}), "walk": walk}
    return Checkpoint(newest, checkpoint.updated_at, extra)


def _state_file(path: str) -> tuple[str, bool] | None:
    """(domain, is a settle mark) of a checkpoint (``_state/<domain>/<source>.json``) or settle mark
    (``_state/<domain>/settle/<source>.json``); None for any other file under ``_state``."""
    parts = path.split("/")
    if not path.endswith(".json") or parts[0] != STATE_ROOT:
        return None
    if len(parts) == 3:
        return parts[1].lower(), False
    if len(parts) == 4 and parts[2] == SETTLE_PASS:
        return parts[1].lower(), True
    return None


@dataclass(frozen=True)
class HoldingFile:
    """A checkpoint or settle mark that holds some of the status ids searched for (:func:`state_holding`)."""

    path: str
    domain: str  # lower case
    settle: bool
    checkpoint: Checkpoint

    @property
    def source(self) -> str:
        """The source the file is named after, as its name tells it (``tag__python.json``: ``tag:python``)."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".json").replace("__", ":", 1)

    def fields(self, ids: Collection[str]) -> dict[str, str]:
        """Field → id (:func:`held_fields`), of those of ``ids`` alone."""
        return {name: value for name, value in held_fields(self.checkpoint, self.settle).items() if value in ids}


def state_holding(lake: LakeBackend, ids: Mapping[str, set[str]]) -> Iterator[HoldingFile]:
    """Every checkpoint and settle mark that holds, where the erasure moves them (:func:`held_fields`), one of the
    status ids of its instance in ``ids`` (instance, lower case → ids, as :func:`erased_status_ids` gives them):
    the files :func:`move_checkpoints` moves and the access export lists. A file that is not a checkpoint is
    skipped (the collector names it when it reads it). Lazily, in the order of the lake's walk: a file may be
    rewritten once it is yielded."""
    for entry in lake.walk(STATE_ROOT):
        place = _state_file(entry.path)
        if place is None or not ids.get(place[0]):
            continue
        domain, settle = place
        try:
            checkpoint = read_state(lake, entry.path)
        except UnreadableCheckpoint:
            continue
        if set(held_fields(checkpoint, settle).values()) & ids[domain]:
            yield HoldingFile(entry.path, domain, settle, checkpoint)


def move_checkpoints(lake: LakeBackend, found: Sequence[Traces], *,
                     by_key: dict[str, Counter[str]] | None = None) -> tuple[Counter[str], list[str]]:
    """Move every checkpoint and settle mark id that is one of the account's statuses (every key in ``found``) or a
    boost of one (module docstring; the files :func:`state_holding` finds). Returns the counts
    (``checkpoints_moved``: files rewritten; ``checkpoints_deleted``: files that had no id to move to) and a warning
    for each file deleted. A file that is not a checkpoint is left to the collector, which names it when it reads
    it.

    ``found`` may hold the keys of several accounts erased together (:mod:`fediscope.gdpr.opt_outs`): each id then
    moves off the statuses of all of them at once, never onto one of another's. ``by_key`` is given each file's
    count too, under the key of the first of ``found`` whose ids it held (one file, one count: they add up to the
    counts returned)."""
    erased = erased_status_ids(found)
    owners = [(traces.key, erased_status_ids([traces])) for traces in found] if by_key is not None else []
    counts: Counter[str] = Counter()
    warnings: list[str] = []
    cache: dict[str, KeptIds] = {}
    for held in state_holding(lake, erased):
        domain = held.domain
        moved = _move_checkpoint(held.checkpoint, held.settle, erased[domain], functools.partial(
            _landed_once, cache, lake, domain, erased[domain]))
        outcome = "checkpoints_moved" if moved is not None else "checkpoints_deleted"
        if moved is not None:
            write_state(lake, held.path, moved)
        else:
            lake.delete(held.path)
            warnings.append(_deleted_warning(held.path, domain, held.settle))
        counts[outcome] += 1
        if by_key is not None:
            owner = next(key for key, ids in owners if held.fields(ids.get(domain, set())))
            by_key.setdefault(owner, Counter())[outcome] += 1
    return counts, warnings


def _deleted_warning(path: str, domain: str, settle: bool) -> str:
    head = (f"{path} held the id of one of the account's statuses, and no status of anybody else landed from "
            f"{domain} lies below it (nor is the id a Mastodon snowflake): it was deleted")
    if settle:
        return (f"{head}; that source's settle pass starts again at its checkpoint, and the statuses landed but not "
                f"settled yet keep the counts of their first fetch")
    return (f"{head}; that source starts over like a new one at its next collection: its first walk goes back "
            f"FEDISCOPE_BACKFILL_PAGES pages, and statuses posted since its last collection below that depth are "
            f"not collected")
