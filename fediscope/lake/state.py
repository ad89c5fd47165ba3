"""Checkpoints: the newest id seen per (instance, source), kept in ``<lake>/_state/``.

A checkpoint is advanced only after the batch it covers is durable in the lake, so a crash between the two
re-fetches (and re-lands into a new batch) at most the last page; readers deduplicate by status URI.

An ``account:NAME`` or ``account_lookup:NAME`` source names a person, so with the privacy policy on (pass
``policy``) its checkpoint file is named after a keyed digest of the source (:func:`checkpoint_source`), as its
batch ids are, not after the handle. A checkpoint written under the clear name by an older fediscope is read
once and moved, or deleted when the source's checkpoint is next saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fediscope.errors import LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import STATE_ROOT, state_path
from fediscope.sources.spec import KINDS, SourceRef
from fediscope.timestamps import parse_iso

if TYPE_CHECKING:
    from fediscope.privacy import PrivacyPolicy

log = logging.getLogger(__name__)


class UnreadableCheckpoint(ValueError):
    """A checkpoint (or pass mark) file that is not one: not JSON, or JSON that is not an object. ``path`` is the
    file, relative to the lake root, for a message that tells the user which file to delete."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path


@dataclass
class Checkpoint:
    newest_id: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] | None = None


#: Source kinds whose argument is a person's handle.
PERSONAL_SOURCES = ("account", "account_lookup")
#: The shortest local part of a source's handle (``alice`` of ``account:alice@example.org``) that
#: :func:`text_for_logs` hides where a message writes it alone (as :mod:`fediscope.privacy` hides a bare name).
MIN_LOCAL_PART = 3


def checkpoint_source(source: str, policy: PrivacyPolicy | None) -> str:
    """The name a source's checkpoint is kept under: ``<kind>:<digest>`` for a source naming an account when the
    privacy policy is on (the digest is keyed, case-insensitive), the source itself otherwise."""
    kind, sep, _arg = source.partition(":")
    if kind not in PERSONAL_SOURCES or not sep or policy is None or not policy.enabled:
        return source
    return f"{kind}:{policy.pseudonym('source', source.lower())[1:13]}"


def source_batch_tag(policy: PrivacyPolicy | None, source: SourceRef) -> str:
    """The source part of a batch id: the kind, plus a digest of the argument (it may name an account), keyed when
    the privacy policy is on."""
    if source.arg is None:
        return source.kind
    if policy is not None and policy.enabled:
        digest = policy.pseudonym("source", source.name)[1:13]
    else:
        digest = hashlib.sha256(source.name.encode()).hexdigest()[:12]
    return f"{source.kind}-{digest}"


def source_for_logs(source: str, policy: PrivacyPolicy | None) -> str:
    """How a log line names a source: one naming an account by a digest of its handle — its checkpoint name
    (:func:`checkpoint_source`, keyed) when the privacy policy is on, an unkeyed digest with privacy off —, so that
    the handle does not reach the logs (Airflow keeps them); any other source as it is written."""
    kind, sep, _arg = source.partition(":")
    if kind not in PERSONAL_SOURCES or not sep:
        return source
    if policy is not None and policy.enabled:
        return checkpoint_source(source, policy)
    return f"{kind}:{hashlib.sha256(source.lower().encode()).hexdigest()[:12]}"


def text_for_logs(text: str, source: str, named: str, instance: str | Iterable[str] | None = None) -> str:
    """``text``, a message about ``source`` (an error, a wait), naming the source as ``named`` does
    (:func:`source_for_logs`'s name of it): for a source naming an account, the source (``account:alice``, in any
    case) becomes ``named`` and its handle written alone (``account alice was not found on …``, ``acct=alice``,
    also percent-encoded) the digest, so that an error quoting the handle, or an instance's answer quoting it,
    does not bring it into a log line the source is named in by its digest. So does the local part of a handle
    with a domain (``alice`` of ``account:alice@example.org``) written alone (``user alice not found``), from
    :data:`MIN_LOCAL_PART` characters on (as a status's plain text hides a bare name: a shorter one is too often a
    word of the message, ``on``, ``id``, and names little); not followed by ``@`` and a domain, which is another
    account's handle. A handle (or local part) that is also a word of the message (``account:not``) is replaced
    there too: more is hidden rather than less. Any other text as it is.

    ``instance``: the domain of the instance the source is collected from (or its domains: the instance's own and
    the handle domain its accounts are named by, when it has one). There a handle without a domain
    (``account:alice``) is also written with the instance's domain (``alice@mastodon.social``, ``@alice@…``,
    ``alice%40…``): that form is the same account and is hidden too (``alice@other.org`` is another one); and a
    handle with that domain (``account:id@mastodon.social``) is mentioned as ``@id`` (or ``%40id``), hidden
    whatever its length (``id`` alone, a word, still from :data:`MIN_LOCAL_PART` characters on)."""
    kind, sep, handle = source.partition(":")
    if kind not in PERSONAL_SOURCES or not sep or not handle or named == source:
        return text
    digest = named.partition(":")[2]
    domains = [instance] if isinstance(instance, str) else list(instance or ())
    text = re.sub(re.escape(source), lambda _m: named, text, flags=re.IGNORECASE)
    local, at, domain = handle.lstrip("@").partition("@")
    local_here = not at or domain.lower() in {d.lower() for d in domains}  # an account of the instance
    written = (f"{local}@{d}" for d in domains if d) if local_here else ()
    local_forms = (local, quote(local, safe="")) if at and len(local) >= MIN_LOCAL_PART else ()
    # the longest forms first: the whole handle as written with the instance's domain, the handle, then its local
    # part (no longer written in them)
    for form in dict.fromkeys(f for h in (*written, handle) for f in _encoded(h)):
        text = _hide(form, digest, text)
    for form in local_forms:
        text = _hide(form, digest, text)
    if at and local_here:  # the local part mentioned (``@id``) on its own instance, a short one too
        for mark in ("@", "%40"):
            text = _hide(mark + local, mark + digest, text)
    return text


def _encoded(handle: str) -> tuple[str, ...]:
    """``handle`` as a message may write it: as it is, percent-encoded, or its ``@`` only (a domain with a port,
    ``alice%40example.org:8443``, as a URL's query may keep the ``:``)."""
    local, at, domain = handle.partition("@")
    return (handle, quote(handle, safe=""), *((f"{quote(local, safe='')}%40{domain}",) if at else ()))


def _hide(form: str, replacement: str, text: str) -> str:
    """``text`` with ``form`` written alone replaced (any case): not inside a longer name, word or domain (``alice``
    in ``alice_b``, ``malice`` or ``alice.org``), nor followed by ``@`` and a domain (another account's handle);
    after an ``@`` percent-encoded (``acct=%40alice``) as after one written as it is."""
    return re.sub(rf"(?:(?<=%40)|(?<![\w.%-])){re.escape(form)}(?![\w%-]|[.@]\w)", lambda _m: replacement, text,
                  flags=re.IGNORECASE)


def load_checkpoint(lake: LakeBackend, instance: str, source: str, policy: PrivacyPolicy | None = None,
                    listing: StateListing | None = None) -> Checkpoint:
    """The source's checkpoint (an empty one before its first run). ``listing`` (:func:`list_state`, of
    ``instance``, taken earlier in the run): a checkpoint it shows is read without asking the lake whether it is there
    first (one that is gone since, erased or deleted to start the source over, is none); one it does not show is
    asked about all the same (another collect of the source may have written it since). The file an older fediscope
    named after the handle is looked for only where the listing shows it (see :class:`StateListing`)."""
    name = checkpoint_source(source, policy)
    path = state_path(instance, name)
    checkpoint = _read_if_there(lake, path, listing)
    if checkpoint is not None:
        return checkpoint
    legacy = state_path(instance, source)
    if name == source or not _may_exist(lake, legacy, listing):
        return Checkpoint()
    checkpoint = read_state(lake, legacy)  # named after the handle by an older fediscope: move it
    write_state(lake, path, checkpoint)
    lake.delete(legacy)
    return checkpoint


def _read_if_there(lake: LakeBackend, path: str, listing: StateListing | None) -> Checkpoint | None:
    """The state file ``path`` read, None when it is not there. Where ``listing`` (:func:`list_state`, taken earlier
    in the run) shows it, it is read without asking first whether it is there (one request less on WebHDFS); gone
    since (erased, deleted to start the source over), it is none, not a lake error. One the listing does not show is
    asked about all the same: another collect of the source may have written it since."""
    listed = listing is not None and listing.may_hold(path)
    if listed or lake.exists(path):
        try:
            return read_state(lake, path)
        except LakeError:
            if not listed or lake.exists(path):
                raise
    return None


def _may_exist(lake: LakeBackend, path: str, listing: StateListing | None) -> bool:
    """Whether the state file ``path``, one only an older fediscope (or a spelling's run) writes, is there: never
    where ``listing`` does not show it (:class:`StateListing`), else as the lake says."""
    return (listing is None or listing.may_hold(path)) and lake.exists(path)


#: The passes whose files are named like a source's checkpoint (``_state/<domain>/<pass>/<source>.json``): the
#: settle mark, the walk start and the Airflow task's unannounced records (``fediscope.orchestration``).
SOURCE_PASSES = ("settle", "start", "unannounced")
#: Of :data:`SOURCE_PASSES`, those whose file counts work still to do (records a failed Airflow try landed, which the
#: next event announces), no position in the timeline: never deleted as covered by the source's own state.
PENDING_PASSES = ("unannounced",)


@dataclass(frozen=True)
class StateListing:
    """The files of one instance's ``_state/<instance>/`` and of its :data:`SOURCE_PASSES` folders, listed once
    (:func:`list_state`): where :func:`adopt_spelling` and :func:`spellings_kept` look for the state files of a
    source's other spellings, and what spares a source's checkpoint (:func:`load_checkpoint`) and pass mark
    (:func:`load_pass_mark`) the question whether they are there, without asking the lake about each file (on a
    WebHDFS lake every question is an HTTP request, and a collection asks for every source, at every run).

    A spelling's files are hardly ever created: the collector names state files after the source as it collects
    it (:mod:`fediscope.sources.spellings`), and only an older fediscope, or a run that did not know the instance's
    handle domain, wrote other spellings' names. So a listing taken at the start of a run is trusted for the files it
    does not show (one written by such a run meanwhile is adopted at the next run), while a file it shows may be gone
    since (another run adopted it): :func:`adopt_spelling` asks the lake again, as before, for a spelling the
    listing shows a file of.

    A pass folder is listed the first time a file in it is asked about (:meth:`may_hold`), once: a run whose sources
    never ask about one (no account source, no settle pass) does not list it."""

    #: the directory listed, ``_state/<instance>``
    directory: str
    #: the files directly in it (checkpoints, walk locks, …), as the lake names them
    files: frozenset[str]
    #: the files directly in it, in lower case (a file system that ignores case takes ``account__Alice.json`` for
    #: ``account__alice.json``, as the lake's ``exists`` would)
    folded: frozenset[str]
    #: the lake, where a pass folder is listed when first asked about
    lake: LakeBackend = field(repr=False, compare=False)
    #: the :data:`SOURCE_PASSES` folders the directory holds
    passes: frozenset[str] = frozenset()
    #: pass → the files of its folder, in lower case, once listed
    _listed: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    def may_hold(self, path: str) -> bool:
        """Whether ``path`` may be a file here, in the directory or in one of its pass folders: listed, in any
        case."""
        folder, folded = posixpath.dirname(path).lower(), path.lower()
        if folder == self.directory.lower():
            return folded in self.folded
        parent, collection_pass = posixpath.split(folder)
        if parent != self.directory.lower() or collection_pass not in self.passes:
            return False
        if collection_pass not in self._listed:
            self._listed[collection_pass] = frozenset(
                e.path.lower() for e in self.lake.list(posixpath.join(self.directory, collection_pass))
                if not e.is_dir)
        return folded in self._listed[collection_pass]


def list_state(lake: LakeBackend, instance: str) -> StateListing:
    """:class:`StateListing` of ``instance``: one listing of ``_state/<instance>/`` (one LISTSTATUS on WebHDFS); each
    of its :data:`SOURCE_PASSES` folders is listed when first asked about."""
    directory = posixpath.dirname(state_path(instance, "_"))
    entries = lake.list(directory)
    files = frozenset(e.path for e in entries if not e.is_dir)
    passes = frozenset({posixpath.basename(e.path) for e in entries if e.is_dir} & set(SOURCE_PASSES))
    return StateListing(directory, files, frozenset(path.lower() for path in files), lake, passes)


def adopt_spelling(lake: LakeBackend, instance: str, source: str, spelling: str,
                   policy: PrivacyPolicy | None = None, listing: StateListing | None = None) -> str | None:
    """Give ``source`` the state kept under ``spelling``, another way of writing it
    (:mod:`fediscope.sources.spellings`): while ``source`` has no checkpoint, the spelling's checkpoint and the
    files of its passes (:data:`SOURCE_PASSES`) are moved to the source's names (``"moved"``), so its collection
    goes on where it was; once it has one, they are deleted (``"merged"``: they tracked the same timeline, which
    the source's own checkpoint covers, and would be left behind for nothing). None when the spelling has none.
    A file of :data:`PENDING_PASSES` is no position in the timeline: it is moved whenever the source has none of
    its own, and added to it (its ``records``) when it has (:func:`_add_pending`), never merely deleted.
    Looks for both the names a spelling's files may have: its keyed digest, and the handle of an older fediscope.
    A spelling differing from the source in case only is left alone where the lake's file system takes the two
    names for one file (:func:`_two_files`).

    The checkpoint is moved last: once the source has one, the next run deletes what the spelling still keeps, so a
    run stopped between the moves (killed, a lake error) must not have given it one before its walk start and pass
    marks were moved (a walk start lost leaves where the source's first walk ended unknown, the report's
    ``(partial?)``; a settle mark lost starts the settle pass again from the last ``FEDISCOPE_SETTLE_HOURS``).

    ``listing`` (:func:`list_state`, of ``instance``): a spelling it shows no file of has none, and the lake is not
    asked (one listing per instance and run, rather than some ten questions per account source and run)."""
    target = checkpoint_source(source, policy)
    olds = [name for name in dict.fromkeys((checkpoint_source(spelling, policy), spelling)) if name != target]
    if listing is not None and not any(listing.may_hold(state_path(instance, name, collection_pass))
                                       for name in olds for collection_pass in (*SOURCE_PASSES, None)):
        return None
    had_checkpoint = lake.exists(state_path(instance, target))
    done = None
    for name in olds:
        for collection_pass in (*SOURCE_PASSES, None):
            old = state_path(instance, name, collection_pass)
            if not lake.exists(old):
                continue
            new = state_path(instance, target, collection_pass)
            pending = collection_pass in PENDING_PASSES
            if (pending or not had_checkpoint) and not lake.exists(new):
                lake.write_atomic(new, lake.read(old))
                done = "moved" if not had_checkpoint else done or "merged"  # the log line speaks of the checkpoint
            elif pending and _two_files(lake, old, new):
                _add_pending(lake, old, new)
            if _two_files(lake, old, new):
                done = done or "merged"
                lake.delete(old)
    return done


def _add_pending(lake: LakeBackend, old: str, new: str) -> None:
    """Add the ``records`` counted in the pending file ``old`` to those of ``new`` (both of
    :data:`PENDING_PASSES`). A count that cannot be read leaves ``new`` as it is: its file is there, so the records
    are announced all the same (a file that is there counts at least one)."""
    try:
        kept, extra = read_state(lake, new), read_state(lake, old).extra
        records = kept.extra.get("records") if isinstance(kept.extra, dict) else None
        added = extra.get("records") if isinstance(extra, dict) else None
    except UnreadableCheckpoint:
        return
    if isinstance(records, int) and isinstance(added, int) and added > 0:
        extra = {**(kept.extra or {}), "records": records + added}
        write_state(lake, new, Checkpoint(kept.newest_id, kept.updated_at, extra))


def _two_files(lake: LakeBackend, old: str, new: str) -> bool:
    """Whether the lake paths ``old`` and ``new`` are two files. Only names differing in case can be one (on a
    file system that ignores case, macOS's by default): then they are two only where a listing shows both names."""
    if old.lower() != new.lower():
        return True
    names = {posixpath.basename(e.path) for e in lake.list(posixpath.dirname(old))}
    return posixpath.basename(old) in names and posixpath.basename(new) in names


def spellings_kept(lake: LakeBackend, instance: str, spellings: Iterable[str],
                   listing: StateListing | None = None) -> list[str]:
    """The sources whose checkpoints ``_state/<instance>/`` keeps under the name of one of ``spellings`` in another
    case (``account__Alice.json`` for ``account:alice``), as those checkpoints name them: an older fediscope named
    an account source's checkpoint after the handle as written (with privacy off, or before keyed digests), and
    Mastodon takes every case of a handle for one account. For :func:`adopt_spelling`. ``listing``
    (:func:`list_state`, of ``instance``): its files, rather than a listing of the lake's."""
    wanted = {state_path(instance, spelling) for spelling in spellings}
    folded = {path.lower() for path in wanted}
    if listing is not None:
        files = sorted(listing.files)
    else:
        files = [e.path for e in lake.list(posixpath.dirname(state_path(instance, "_"))) if not e.is_dir] \
            if wanted else []
    return [posixpath.basename(path).removesuffix(".json").replace("__", ":", 1) for path in files
            if path.lower() in folded and path not in wanted]


def read_state(lake: LakeBackend, path: str) -> Checkpoint:
    """The checkpoint (or pass mark, or walk start) in ``path``, a lake path; :class:`UnreadableCheckpoint` when the
    file is not one."""
    try:
        raw = json.loads(lake.read(path))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested too deeply
        raise UnreadableCheckpoint(path, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(raw, dict):
        raise UnreadableCheckpoint(path, f"JSON {type(raw).__name__}, not an object")
    return Checkpoint(raw.get("newest_id"), raw.get("updated_at"), raw.get("extra"))


def save_checkpoint(lake: LakeBackend, instance: str, source: str, checkpoint: Checkpoint,
                    policy: PrivacyPolicy | None = None, listing: StateListing | None = None) -> None:
    """Write ``checkpoint`` under the source's name (:func:`checkpoint_source`). A checkpoint an older fediscope
    named after the handle is deleted then: a snapshot source (``account_lookup:``) never loads its checkpoint,
    so :func:`load_checkpoint` would never move it, and the handle would stay in the lake in its name. ``listing``
    (:func:`list_state`): that file is looked for only where it shows it (a walk saves its checkpoint after every
    page)."""
    checkpoint.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    name = checkpoint_source(source, policy)
    write_state(lake, state_path(instance, name), checkpoint)
    if name != source and _may_exist(lake, legacy := state_path(instance, source), listing):
        lake.delete(legacy)


def load_pass_mark(lake: LakeBackend, instance: str, source: str, collection_pass: str,
                   policy: PrivacyPolicy | None = None, listing: StateListing | None = None) -> str | None:
    """The id up to which another pass over a source's timeline (``settle``) has gone, or None before its first
    run. Kept apart from the checkpoint, which the gap walk rewrites on every page; named like it. ValueError
    (naming the file) when the file is not a mark. ``listing`` (:func:`list_state`, of ``instance``): a mark it
    shows is read without asking first whether it is there, as :func:`load_checkpoint` reads a checkpoint."""
    path = state_path(instance, checkpoint_source(source, policy), collection_pass)
    try:
        state = _read_if_there(lake, path, listing)
    except UnreadableCheckpoint as exc:
        raise ValueError(f"{path} is not a {collection_pass} mark ({str(exc).partition(':')[0]}); delete it to "
                         f"start the {collection_pass} pass over from the checkpoint") from None
    mark = state.newest_id if state is not None else None
    return mark if isinstance(mark, str) and mark else None


def save_pass_mark(lake: LakeBackend, instance: str, source: str, collection_pass: str, mark: str,
                   policy: PrivacyPolicy | None = None) -> None:
    checkpoint = Checkpoint(mark, datetime.now(UTC).isoformat(timespec="seconds"))
    write_state(lake, state_path(instance, checkpoint_source(source, policy), collection_pass), checkpoint)


#: The pass name under which the settle pass keeps its mark (:func:`save_pass_mark`).
SETTLE_PASS = "settle"
#: The pass name under which :func:`save_walk_start` keeps where a source's first walk began.
WALK_START = "start"
#: How a first walk ended (:func:`save_walk_start`): at the timeline's end (nothing older), at
#: ``FEDISCOPE_BACKFILL_SINCE`` (a status older than it was seen), cut by ``FEDISCOPE_BACKFILL_PAGES`` (older
#: statuses exist and are never collected), or ``now``: ``FEDISCOPE_BACKFILL_PAGES=0``, nothing walked back.
WALK_ENDS = ("end", "since", "cut", "now")
#: How :func:`collection_starts` lists a timeline with a checkpoint but no record of its first walk: collected
#: before fediscope kept one (or its first walk has not ended yet). Its oldest day is not known either.
WALK_UNKNOWN = "unknown"


def save_walk_start(lake: LakeBackend, instance: str, source: str, ended: str, oldest_created_at: str | None,
                    policy: PrivacyPolicy | None = None) -> None:
    """Record where a source's collection begins, when its first walk back in time ends: how it ended
    (:data:`WALK_ENDS`) and the UTC day of the oldest status it landed in the run that ended it (from its
    ``created_at``; None when that run landed none; on ``now`` the newest status then, not landed: the collection
    begins after it). The day alone, not the status's id or time: with its instance an id names its author, and a
    Mastodon id is its time to the millisecond and a few bits, so the time would nearly name it too.
    On ``end`` or ``since`` the first day collected is whole; on ``cut`` or ``now`` it holds only the statuses
    from the oldest on. Kept as ``_state/<domain>/start/<source>.json`` (named like the checkpoint; an erasure of
    the account a source names deletes it with the checkpoint); a source started over (its checkpoint deleted)
    records its new first walk."""
    if ended not in WALK_ENDS:
        raise ValueError(f"unknown end of a walk {ended!r}; known: {', '.join(WALK_ENDS)}")
    oldest = parse_iso(oldest_created_at)
    extra = {"ended": ended, "oldest_day": oldest.astimezone(UTC).date().isoformat() if oldest else None}
    write_state(lake, state_path(instance, checkpoint_source(source, policy), WALK_START),
                Checkpoint(None, datetime.now(UTC).isoformat(timespec="seconds"), extra))


def load_walk_start(lake: LakeBackend, instance: str, source: str,
                    policy: PrivacyPolicy | None = None) -> Checkpoint | None:
    """The record :func:`save_walk_start` kept (``extra``: how the walk ended, the oldest status's day),
    or None for a source whose first walk ended before fediscope recorded it (or has not ended)."""
    path = state_path(instance, checkpoint_source(source, policy), WALK_START)
    return read_state(lake, path) if lake.exists(path) else None


@dataclass(frozen=True)
class CollectionStart:
    """Where one source's collection begins, without the source (the metrics' ``collection_starts`` table: a
    source may name a person): its instance's domain, how its first walk ended (:data:`WALK_ENDS`, or
    :data:`WALK_UNKNOWN` for a timeline without a record) and the UTC day of the oldest status recorded (None when
    the record holds none)."""

    instance: str
    ended: str
    oldest_day: date | None


def collection_starts(lake: LakeBackend) -> list[CollectionStart]:
    """Every record :func:`save_walk_start` kept in the lake (``_state/<domain>/start/*.json``), sorted; a record
    that is not one (unreadable, an unknown end) is left out with a warning: the day it would speak for is then
    told by the others, or unknown. A timeline with a checkpoint but no record (first collected by an older
    fediscope, or its first walk not ended) is a row :data:`WALK_UNKNOWN` without a day: it may have begun on any
    day, cut, so no day can be called whole for it."""
    starts = []
    for domain in (e for e in lake.list(STATE_ROOT) if e.is_dir):
        instance = posixpath.basename(domain.path)
        recorded = set()
        for entry in _json_files(lake, posixpath.join(domain.path, WALK_START)):
            recorded.add(posixpath.basename(entry))
            try:
                extra = read_state(lake, entry).extra
            except UnreadableCheckpoint as exc:
                log.warning("%s is not a record of where a collection begins (%s): left out", entry, exc)
                continue
            ended = extra.get("ended") if isinstance(extra, dict) else None
            if ended not in WALK_ENDS:
                log.warning("%s does not say how a first walk ended (%r): left out", entry, ended)
                continue
            starts.append(CollectionStart(instance, ended, _day(extra.get("oldest_day"))))
        starts.extend(CollectionStart(instance, WALK_UNKNOWN, None) for entry in _json_files(lake, domain.path)
                      if _is_timeline(entry) and posixpath.basename(entry) not in recorded)
    return sorted(starts, key=lambda s: (s.instance, s.ended, s.oldest_day or date.min))


def _day(value: Any) -> date | None:
    """A ``YYYY-MM-DD`` day of a record, or None for none or anything else (the day is then unknown)."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _json_files(lake: LakeBackend, directory: str) -> list[str]:
    """The ``.json`` files directly in ``directory`` (none when it does not exist)."""
    return [e.path for e in lake.list(directory) if not e.is_dir and e.path.endswith(".json")]


def _is_timeline(checkpoint_file: str) -> bool:
    """Is this checkpoint (``_state/<domain>/<source>.json``, :func:`~fediscope.lake.layout.state_path`) a
    timeline's, whose first walk :func:`save_walk_start` records? Not a snapshot source's (``instance``,
    ``directory``, ``account_lookup:…``)."""
    kind = posixpath.basename(checkpoint_file).removesuffix(".json").partition("__")[0]
    return kind in KINDS and KINDS[kind][0] == "statuses"


def write_state(lake: LakeBackend, path: str, checkpoint: Checkpoint) -> None:
    lake.write_atomic(path, json.dumps(asdict(checkpoint)).encode())
