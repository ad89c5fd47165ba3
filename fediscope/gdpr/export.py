"""Right of access: everything held about one account, as one JSON document.

The export has the account's own data in full — its landed account snapshots, its statuses and boosts as
landed (pseudonymised, minimised: exactly what is kept), its rows in the curated tables and in every metric
table — and, for other people's records that refer to it (a mention, a reply, a quote), only *where* and *how*
they refer to it, not those people's content. The pseudonym is part of the export (it is the account's data);
the clear name appears only as the request's subject. Opt-out notes not applied yet that name the account's key
(:mod:`fediscope.gdpr.opt_outs`) are listed in ``opt_out_notes``: which note file, when and by which landing
source it was noted. An erasure of the account that was started and stopped before it finished keeps what it found
(:mod:`fediscope.gdpr.resume`): the export starts from that too, so it lists the rows the finished erasure removes
(another person's boost of the account's status, a metric's row of its status by id, tied to the account by nothing
the lake still holds), and says so in ``erasing``. The hidden temporary files of raw batches whose write was
killed before its rename (or is under way) are read too, and what they hold is marked ``unfinished_write``
(:func:`raw_about`).

What the lake keeps besides the records and tables, and the erasure deletes too, is listed as well: the state files
of an ``account:`` or ``account_lookup:`` source naming the account (``state``: its checkpoint, the newest status id
collected; where its first walk ended and the day of its oldest status; its settle mark, its count of records no
event announced yet, its walk lock; :func:`state_about`, found as the erasure finds them), and the copies of its
metric rows kept for incremental runs (``metric_snapshots``, :func:`snapshot_rows_about`, matched as its rows in the
store are), and the quarantine files the erasure deletes (``quarantine``, :func:`quarantine_about`, found as the
erasure finds them: named after a page of the account's own source, listed with what they hold, or naming the
account, listed with the kind and reason of the entries naming it, and the content of its own items alone:
:func:`is_own_item`). Was: the quarantine was not looked at, so an access answer left out files the erasure of the
same account deleted; then the account's own items in a file of another source were listed by kind and reason alone,
though it is entitled to their content.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from fediscope.analysis import stale_as_store_error
from fediscope.config import Settings
from fediscope.engine.metric_state import kept_rows
from fediscope.engine.metrics import Metric
from fediscope.errors import LakeError
from fediscope.gdpr.curated import curated_rows_about
from fediscope.gdpr.cursors import HoldingFile, erased_status_ids, state_holding
from fediscope.gdpr.erase import (
    AccountStateFile,
    QuarantinedFile,
    account_state_files,
    concern_search,
    entity_and_instance,
    find_all_traces,
    is_deletion_of,
    is_owned,
    json_documents,
    quarantine_names,
    quarantined_bytes,
    quarantined_naming,
    read_batch_text,
    records_found,
    stored_metrics,
    unlisted_tables,
)
from fediscope.gdpr.opt_outs import notes_about
from fediscope.gdpr.resume import kept_traces
from fediscope.gdpr.subject import (
    Subject,
    Traces,
    account_key_of,
    contains_trace,
    names_status,
    nested_statuses,
    quoted_author,
    status_author,
    subjects_from_settings,
)
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.backend import LakeBackend, open_lake, require_lake_layout
from fediscope.lake.batches import raw_batch_files
from fediscope.lake.debris import unfinished_raw_batches
from fediscope.lake.key_check import require_lake_key, require_pseudonym_key
from fediscope.lake.layout import parse_partition
from fediscope.lake.lock import lake_lock
from fediscope.lake.state import PERSONAL_SOURCES, UnreadableCheckpoint, read_state
from fediscope.privacy import policy_from_settings
from fediscope.sources.handle_domains import load_handle_domains
from fediscope.store.port import MetricStore, open_existing

log = logging.getLogger(__name__)

#: What each field of the export means, written into it (``about``): the person who asked reads the file, not the
#: README, and the right of access is to an intelligible answer. Every field of the document has its line here.
ABOUT: dict[str, str] = {
    "about": "what each field of this document means; why we process the data, on which legal basis, for how "
             "long and who receives it is in our record of processing (fediscope gdpr register)",
    "subject": "the account this answer is about, as it was asked for (user@instance)",
    "account_key": "the pseudonym that stands for the account everywhere in our data instead of its name; your "
                   "name, profile link and ids are replaced by pseudonyms when your posts are collected",
    "pseudonyms": "every pseudonym the data holds for the account: account_key, account_ids (the pseudonyms of "
                  "your account's id on each server it was collected from) and status_links (the pseudonyms of "
                  "the links of your posts, written urn:fediscope:…)",
    "raw": "the collected records: records are yours (your profile snapshots, your posts and boosts, exactly as "
           "kept: pseudonymised, with the fields we do not need removed); references are other people's posts "
           "that refer to you, with only where they are and how (relation: mentions = they mention you, "
           "replies_to = a reply to you, quotes = they quote your post, names = your pseudonym appears in them), "
           "never their content; an entry with unfinished_write: true is in a hidden temporary file (its path) "
           "left by a collection stopped before it finished writing the file, or still writing it: we hold it "
           "until that collection finishes or, for a stopped one, until an erasure or our retention run deletes it "
           "once a day old",
    "curated": "your rows in the analysis tables made from the collected records (statuses: one row per post; "
               "a post that is not public, such as followers-only, is kept only as a marker without its text, "
               "hashtags or mentions, so that no analysis counts it; accounts: one profile snapshot, your home "
               "server's when we have it; hashtags: one row per hashtag of a post); a table named "
               "'<table> (references)' lists other people's rows that refer to you, by the columns that do",
    "store": "your rows in the computed results, per metric (such as your engagement or your place among the "
             "most followed accounts), and the rows about your posts (a result per post, such as the most "
             "interacted-with posts)",
    "state": "what a collection of your account's own posts or profile (a source named after your account) "
             "keeps to go on from where it stopped: each file's path and what it holds — kind checkpoint: the id "
             "of your newest post collected (newest_id) and, while older posts are still being collected, the ids "
             "that walk is at (extra.walk); start: how the first collection of your posts ended and the day of the "
             "oldest one it collected (extra.ended, extra.oldest_day); settle: the id up to which your posts were "
             "collected again once their counts settled; unannounced: how many records a failed collection landed "
             "that the next one announces (extra.records); walk_lock: the file a collection of your posts locks "
             "while it runs (it holds only that collection's process number); updated_at: when it was last "
             "written; an entry with unreadable: true could not be read. Besides, kind "
             "checkpoint_of_another_source (or settle_of_another_source, a settle pass's mark): the file of a "
             "collection of something else (a timeline, a hashtag, another account's posts) that is at one of your "
             "posts (or at somebody's boost of one): its source (only its kind when it is another account's: its "
             "name would name that person) and which of its fields holds which of your posts' ids (holds); the "
             "erasure moves it to an id that is none of them",
    "metric_snapshots": "the copies of your rows in the computed results that we keep beside them to compute only "
                        "what changed at the next run: per file (one per metric and results database) the metric "
                        "and your rows, as in store",
    "quarantine": "the files where we keep what a server answered that was not what its API documents (to find out "
                  "what went wrong) that the erasure deletes: per file its path, the server (instance), where it "
                  "was asked (endpoint), when (fetched_at) and why it is listed — why source: a page of a "
                  "collection of your account's own posts or profile, listed with what it holds (entries: each "
                  "its kind, the reason it was kept aside, its shape and, when we keep them, the values); why "
                  "names: another page, that names your account, listed with only the kind and reason of each "
                  "entry naming you, and the content of those that are your own (item: your post, when it carries "
                  "nobody else's post, or your profile), never other people's (a batch of stored records our "
                  "collection flow could not store, kind record: each record as held, or, naming you, its reason, "
                  "endpoint and time, and the record itself when it is your own); an entry with unreadable: true "
                  "could not be read",
    "suppressed": "true when the account was erased: later collections skip it",
    "erasing": "true when an erasure of the account was started and stopped before it finished: what it had found "
               "is kept until it finishes, and the rows listed here are those the finished erasure deletes; running "
               "it again (for an opt-out: the next processing run) finishes it",
    "opt_out_notes": "opt-outs we noticed (noindex, #nobot … in your profile) and have not applied yet: the next "
                     "processing run deletes what we hold about the account (erasing: true marks a deletion that "
                     "was started and stopped before it finished; the next processing run finishes it); a note "
                     "with unfinished_writes was left by an erasure of the account: those hidden temporary files of "
                     "a collection's unfinished writes held your records and could not be touched while it might "
                     "still be writing them; the first processing run after one of them is finished deletes what "
                     "it landed, and the note goes once none is left",
    "also": "the same answer for the other names under which we may hold the same account (the server's own "
            "address when its handles use another domain)",
    "generated_at": "when this answer was made (UTC)",
}


def _relations(entity: str, data: Any, instance: str, traces: Traces) -> list[str]:
    """How another person's record refers to the account."""
    found: list[str] = []
    if entity == "statuses":
        for status in nested_statuses(data):
            if any(account_key_of(m, instance) == traces.key for m in status.get("mentions") or []):
                found.append("mentions")
            if traces.is_account_id(status.get("in_reply_to_account_id"), instance):
                found.append("replies_to")
            if quoted_author(status, instance) == traces.key:
                found.append("quotes")
    elif entity == "instance" and isinstance(data, dict):
        contact = data.get("contact")
        if traces.key in (account_key_of(contact.get("account") if isinstance(contact, dict) else None, instance),
                          account_key_of(data.get("contact_account"), instance)):
            found.append("instance_contact")
    return sorted(set(found)) or ["names"]


def raw_about(lake: LakeBackend, subject: Subject, traces: Traces,
              unfinished: Sequence[tuple[str, bytes]] = ()) -> dict[str, list[dict[str, Any]]]:
    """The account's raw records and other people's references to it.

    A record is listed when it is the account's (:func:`~fediscope.gdpr.erase.is_owned`: its key), a deletion of
    one of its statuses (:func:`~fediscope.gdpr.erase.is_deletion_of`: a copy's id, an ``origin_ref``) or holds a
    trace (:func:`_relations` then only tells how): with a pseudonymised key, each is in the line's bytes, so only
    the lines a search of a batch finds one of them in are parsed (:func:`~fediscope.gdpr.erase.records_found`, the
    erasure's needles); with clear names every line is (a local account's ``acct`` has no domain).

    The temporary files of raw batches' writes killed before their rename (or under way), ``unfinished`` as
    :func:`~fediscope.lake.debris.unfinished_raw_batches` read them (a cut last line left out), are searched too,
    first (read once per export, for every key): the lake holds
    their records until the erasure or retention removes them a day later. What they hold is listed with
    ``unfinished_write``: true. Read before the batches are listed, a file renamed into place meanwhile is then
    listed as its batch (perhaps twice, never not at all)."""
    found = _Found(subject, traces, concern_search(subject, traces))
    for path, text in unfinished:
        found.add(path, text, unfinished=True)
    for path in raw_batch_files(lake):
        found.add(path, read_batch_text(lake, path))
    return {"records": found.own, "references": found.references}


@dataclass
class _Found:
    """The account's raw records and the references to it that :func:`raw_about` found so far."""

    subject: Subject
    traces: Traces
    search: re.Pattern[bytes] | None
    own: list[dict[str, Any]] = field(default_factory=list)
    references: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, text: bytes, unfinished: bool = False) -> None:
        """Those of one raw batch (``text``: decompressed); ``unfinished``: a temporary file of its write."""
        traces, values = self.traces, self.traces.values()
        flag = {"unfinished_write": True} if unfinished else {}
        for record in records_found(path, text, self.search):
            entity, instance = entity_and_instance(path, record)
            data = record.get("data")
            if is_owned(entity, data, instance, traces.key) or is_deletion_of(entity, data, instance, traces):
                self.own.append({"path": path, "entity": entity, "record": record, **flag})
            elif contains_trace(record, values) or (not self.subject.pseudonymised and _relations(
                    entity, data, instance, traces) != ["names"]):
                where = data.get("uri") if isinstance(data, dict) and entity == "statuses" else None
                self.references.append({"path": path, "entity": entity, "status": where,
                                        "relation": _relations(entity, data, instance, traces),
                                        "fetched_at": (record.get("meta") or {}).get("fetched_at"), **flag})


def store_rows_about(store: MetricStore, traces: Traces, metrics: Mapping[str, Metric]) -> dict[str, list[Any]]:
    """The account's rows in each metric table of ``metrics`` (:func:`~fediscope.gdpr.erase.stored_metrics`), as
    the erasure finds them: by ``account_key``, by a trace in any text column, by one of its statuses' ids. Rows
    this version does not read are a StoreError saying to re-run ``fediscope process``
    (:func:`~fediscope.analysis.stale_as_store_error`): was the store's decoding ``ValueError``, a traceback."""
    values = traces.values()
    found: dict[str, list[Any]] = {}
    for name, metric in metrics.items():
        with stale_as_store_error(name):  # rows another fediscope version stored: re-run `fediscope process`
            every = store.all(metric)
        rows = [row for row in every if _row_about(row, traces, values)]
        if rows:
            found[name] = rows
    return found


def _row_about(row: Mapping[str, Any], traces: Traces, values: Set[str]) -> bool:
    """Is a metric row the account's, or about one of its statuses? (``values``: ``traces.values()``)"""
    return (row.get("account_key") == traces.key
            or any(isinstance(v, str) and contains_trace(v, values) for v in row.values())
            or names_status(row, traces))


def snapshot_rows_about(snapshots: Sequence[tuple[str, str, list[dict[str, Any]]]],
                        traces: Traces) -> list[dict[str, Any]]:
    """The account's rows in the metric results kept for incremental runs (``snapshots``: (path, metric, rows) as
    :func:`~fediscope.engine.metric_state.kept_rows` reads them, the files the erasure deletes), matched as its rows
    in the store are (:func:`store_rows_about`)."""
    values = traces.values()
    found = []
    for path, metric, rows in snapshots:
        about = [row for row in rows if _row_about(row, traces, values)]
        if about:
            found.append({"path": path, "metric": metric, "rows": about})
    return found


def quarantine_about(held: Sequence[QuarantinedFile], subject: Subject, traces: Traces,
                     read: Callable[[str], bytes | None]) -> list[dict[str, Any]]:
    """The quarantine files naming the account (``held``, as :func:`~fediscope.gdpr.erase.quarantined_naming`
    finds them for the erasure, which deletes them): one named after a page of the account's own source with its
    entries as held (they are of its own timeline or profile), another with the kind and reason of the entries that
    name it, and the item of those that are its own (:func:`_named_entry`; the others are other people's items).
    ``read`` gives a file's content (None: gone meanwhile, left out)."""
    listed = []
    for each in held:
        data = each.data if each.data is not None else read(each.path)
        if data is None:
            continue
        documents = json_documents(data)
        document = documents[0] if len(documents) == 1 and isinstance(documents[0], dict) else None
        entry: dict[str, Any] = {"path": each.path, "why": "source" if each.why == "source" else "names"}
        if document is None or not isinstance(document.get("entries"), list):
            records = _quarantined_records(each, documents, subject, traces)
            listed.append(entry | ({"unreadable": True} if records is None else records))
            continue
        entry |= {name: document.get(name) for name in ("instance", "endpoint", "fetched_at")}
        entries = [e for e in document["entries"] if isinstance(e, dict)]
        if each.why == "source":
            entry["entries"] = entries
        else:
            # each entry as a document of its own, with the file's instance (a local acct is of it)
            instance = str(document.get("instance") or "")
            entry["entries"] = [_named_entry(e, instance, subject) for e in entries
                                if quarantine_names(each.path, json.dumps(
                                    {"instance": document.get("instance"), "entries": [e]}).encode(), subject,
                                    traces)]
        listed.append(entry)
    return listed


def _named_entry(entry: dict[str, Any], instance: str, subject: Subject) -> dict[str, Any]:
    """An entry naming the account in a quarantine file of another source: its kind and reason, and the item itself
    when it is the account's own (:func:`is_own_item`) and the file keeps values (privacy off): the person is
    entitled to their own data, never to the other people's items of the same file."""
    listed = {"kind": entry.get("kind"), "reason": entry.get("reason")}
    if "item" in entry and is_own_item(entry["item"], instance, subject.key):
        listed["item"] = entry["item"]
    return listed


def is_own_item(item: Any, instance: str, key: str) -> bool:
    """Is a quarantined item (or a landed record's data) of ``instance`` the account's own and no other person's: its
    account (not moved to another's), or its status carrying no other person's status (a boost or quote of one)?
    Its mentions, reply ids and link preview are part of its status, as the raw export gives its own records. An item
    that does not say whose it is (a status without its ``account``, the reason it was kept aside) is nobody's."""
    if not isinstance(item, dict):
        return False
    if "account" not in item:  # an account object
        moved = item.get("moved")
        return account_key_of(item, instance) == key and (not isinstance(moved, dict)
                                                          or account_key_of(moved, instance) == key)
    try:
        return all(status_author(status, instance) == key for status in nested_statuses(item))
    except RecursionError:  # boosts nested deeper than Python recurses (malformed, as sent): whose is not told
        return False


#: The reason in the name of a quarantine file NiFi writes (``nifi_<reason>-<batch id>.json``, nifi_templates/README.md)
_NIFI_REASON_RE = re.compile(r"nifi_([a-z]+)-")


def _quarantined_records(held: QuarantinedFile, documents: list[Any], subject: Subject,
                         traces: Traces) -> dict[str, Any] | None:
    """What :func:`quarantine_about` lists of a quarantine file of landed records (JSON Lines: a NiFi batch
    quarantined whole, :func:`~fediscope.gdpr.erase.json_documents`), as of a file of entries: the instance of its
    partition (each record names its own endpoint and time) and its records, each as held for a file of the account's
    own source, else the kind (``record``), reason (NiFi's, in the file's name), endpoint and time of each record
    naming the account, and the record itself when it is the account's own (:func:`is_own_item`), never another's
    content. None when it is no such file (a line that is no record). Was: listed as ``unreadable``, though it is
    readable."""
    if not documents or not all(isinstance(each, dict) and isinstance(each.get("meta"), dict) for each in documents):
        return None
    found = _NIFI_REASON_RE.match(held.path.rpartition("/")[2])
    out: dict[str, Any] = {"instance": parse_partition(held.path).get("instance"), "endpoint": None,
                           "fetched_at": None}
    if held.why == "source":
        return out | {"entries": documents}
    listed = []
    for record in documents:
        if not quarantine_names(held.path, json.dumps(record).encode(), subject, traces):
            continue
        named = {"kind": "record", "reason": found.group(1) if found else None,
                 "endpoint": record["meta"].get("endpoint"), "fetched_at": record["meta"].get("fetched_at")}
        if is_own_item(record.get("data"), entity_and_instance(held.path, record)[1], subject.key):
            named["record"] = record  # the account's own record, as the raw export gives it
        listed.append(named)
    return out | {"entries": listed}


def state_about(lake: LakeBackend, held: Sequence[AccountStateFile]) -> list[dict[str, Any]]:
    """What each of the state files of the account's sources (``held``, as :func:`~fediscope.gdpr.erase.
    account_state_files` finds them for the erasure) holds: its kind, and the checkpoint's content (``newest_id``,
    ``extra``, ``updated_at``) but of a walk lock, which holds the process id of the last collect alone. A file that
    is not a checkpoint is listed ``unreadable``; one a collection removed meanwhile (an ``unannounced`` count it
    announced) is left out."""
    listed = []
    for each in held:
        entry: dict[str, Any] = {"path": each.path, "kind": each.kind}
        if each.kind != "walk_lock":
            try:
                checkpoint = read_state(lake, each.path)
            except UnreadableCheckpoint:
                entry["unreadable"] = True
            except LakeError:
                if lake.exists(each.path):
                    raise
                continue
            else:
                entry |= {name: value for name, value in asdict(checkpoint).items() if value is not None}
        listed.append(entry)
    return listed


def other_state_about(holding: Sequence[HoldingFile], traces: Traces) -> list[dict[str, Any]]:
    """The checkpoints and settle marks of other sources that hold one of the account's status ids (or of a boost
    of one), ``holding`` as :func:`~fediscope.gdpr.cursors.state_holding` finds them for the erasure, which moves
    them: per file its path, source and the fields holding those ids, nothing else of it (its other ids are other
    people's statuses). Another account's source is named by its kind alone, and its path left out: both name
    that account (or its keyed digest)."""
    ids = erased_status_ids([traces])
    listed = []
    for each in holding:
        fields = each.fields(ids.get(each.domain, set()))
        if not fields:
            continue
        kind, _, _name = each.source.partition(":")
        where: dict[str, Any] = ({"source": kind} if kind in PERSONAL_SOURCES
                                 else {"path": each.path, "source": each.source})
        listed.append({**where, "kind": "settle_of_another_source" if each.settle else "checkpoint_of_another_source",
                       "holds": fields})
    return listed


def export_account(settings: Settings, account: str, *, lake: LakeBackend | None = None,
                   store: MetricStore | None = None) -> dict[str, Any]:
    """The access export of ``account`` (``user@instance``) as a JSON-compatible dict.

    An account of an instance whose handles use a parent domain may also be held under the key of the domain it
    is served from (records landed before fediscope learned the handle domain, or by a run that could not read the
    instance document; :mod:`fediscope.sources.handle_domains`): the same export of every such key is in ``also``,
    as the erasure covers those keys too.

    The metric tables searched are those the store lists, as it recorded them
    (:func:`~fediscope.gdpr.erase.stored_metrics`): the metric files are never read, so a broken or clashing one
    does not hold the answer up.

    It holds the lake lock (:mod:`fediscope.lake.lock`) while it reads, as the erasure and ``fediscope process`` do
    while they write: an erasure (or a curation applying an opt-out) finishing during the export made its answer
    list rows already gone beside others read after, a mix no moment of the lake held. While another run holds the
    lock it fails at once with :class:`~fediscope.errors.LakeLockedError` naming it, exporting nothing."""
    lake = lake or open_lake(settings.lake)
    # a mistyped lake path would answer the request with "nothing held"; a directory that is no lake (the one above
    # it) would too, and the lock would create _state/ there
    set_in = settings.origin("lake", advice=True)  # fediscope.toml's key, for a lake set there
    require_lake_layout(lake, f"set {set_in} to the lake the account was collected into", chosen_by=set_in,
                        outcome="nothing was exported")
    # a missing key: asked for as the lake records it (subjects_from_settings: for a lake that records none)
    require_pseudonym_key(settings, lake)
    # with another key than the lake's it would answer "nothing held" about an account the lake holds
    require_lake_key(settings, lake, "nothing was exported (the answer would have been that nothing is held)")
    handle_domains = load_handle_domains(lake)
    subjects = subjects_from_settings(settings, account, handle_domains)
    with lake_lock(lake, command="fediscope gdpr export"):
        return _export_locked(settings, lake, store, subjects, handle_domains)


def _export_locked(settings: Settings, lake: LakeBackend, store: MetricStore | None, subjects: list[Subject],
                   handle_domains: Mapping[str, str | None]) -> dict[str, Any]:
    """:func:`export_account` once the lake lock is held."""
    # the traces of every key as the erasure finds them (one pass; also in the unfinished writes the export lists),
    # with what a stopped erasure of it kept
    unfinished = list(unfinished_raw_batches(lake))  # read once: for the traces, then each key's raw records
    found = list(zip(subjects, find_all_traces(lake, subjects, unfinished=unfinished), strict=True))
    erasing = {each.audit_id for each in kept_traces(lake, found)[0]}
    (subject, traces), *others = found
    own_store = store is None
    store = store or open_existing(settings)  # None: a SQLite store not created yet (nothing held there)
    try:
        suppressed = load_suppressed(lake)
        notes = notes_about(lake, [each.key for each in subjects])
        tables: dict[str, Metric] = {}
        if store is not None:
            tables = stored_metrics(store)  # every metric the store lists, also one whose SQL file is gone
            if warning := unlisted_tables(store, settings.metrics_dir):
                log.warning("%s", warning)
        # the state files of the sources named after the account, found as the erasure finds them (with the policy
        # that collected them), each given to the first key naming it; and the kept metric results, read once
        policy = policy_from_settings(settings) if subject.pseudonymised else None
        state: dict[str, list[AccountStateFile]] = {}
        for each in account_state_files(lake, subjects, policy, handle_domains):
            state.setdefault(subjects[each.key].key, []).append(each)
        # the other sources' checkpoints at one of the statuses of any key, found as the erasure finds them to
        # move them (but those of the account's own sources, listed above: the erasure deletes them)
        own = {each.path for files in state.values() for each in files}
        holding = [each for each in state_holding(lake, erased_status_ids([traces for _, traces in found]))
                   if each.path not in own]
        # the quarantine files the erasure deletes, found as it finds them, each given to the first key naming it
        quarantine: dict[str, list[QuarantinedFile]] = {}
        for each in quarantined_naming(lake, found, policy, handle_domains):
            quarantine.setdefault(subjects[each.key].key, []).append(each)
        held = _Held(tables, suppressed, notes, erasing, unfinished, state, list(kept_rows(lake)), holding,
                     quarantine)
        document = {"about": ABOUT, **_export_one(lake, store, subject, traces, held),
                    "generated_at": datetime.now(UTC).isoformat(timespec="seconds")}
        document["also"] = [_export_one(lake, store, other, other_traces, held) for other, other_traces in others]
        return document
    finally:
        if own_store and store is not None:
            store.close()


def holds_nothing(document: Mapping[str, Any]) -> bool:
    """Does the export find nothing at all about the account, under any of its keys?"""
    found = (document["raw"]["records"], document["raw"]["references"], document["curated"], document["store"],
             document["state"], document["metric_snapshots"], document["quarantine"], document["opt_out_notes"],
             document["suppressed"], document["erasing"])
    return not any(found) and all(holds_nothing(other) for other in document.get("also", []))


@dataclass(frozen=True)
class _Held:
    """What the export reads once for every key of the account."""

    metrics: Mapping[str, Metric]
    suppressed: set[str]
    notes: Mapping[str, list[dict[str, Any]]]
    erasing: set[str]  # audit ids of the keys whose erasure was started and not finished
    #: the temporary files of raw batches' writes, as :func:`~fediscope.lake.debris.unfinished_raw_batches` read them
    unfinished: list[tuple[str, bytes]] = field(default_factory=list)
    #: key → the state files of the sources named after it (:func:`~fediscope.gdpr.erase.account_state_files`)
    state: Mapping[str, list[AccountStateFile]] = field(default_factory=dict)
    #: the kept metric results, as :func:`~fediscope.engine.metric_state.kept_rows` read them
    snapshots: list[tuple[str, str, list[dict[str, Any]]]] = field(default_factory=list)
    #: the other sources' checkpoints and settle marks holding one of the statuses of any key
    #: (:func:`~fediscope.gdpr.cursors.state_holding`)
    holding: list[HoldingFile] = field(default_factory=list)
    #: key → the quarantine files naming it (:func:`~fediscope.gdpr.erase.quarantined_naming`)
    quarantine: Mapping[str, list[QuarantinedFile]] = field(default_factory=dict)


def _export_one(lake: LakeBackend, store: MetricStore | None, subject: Subject, traces: Traces,
                held: _Held) -> dict[str, Any]:
    return {
        "subject": f"{subject.username}@{subject.domain}",
        "account_key": subject.key,
        "suppressed": subject.audit_id in held.suppressed,  # what erase lists: with privacy off, a digest of the key
        # like the suppression list and the kept traces, by audit id (never the handle)
        "erasing": subject.audit_id in held.erasing,
        "opt_out_notes": held.notes.get(subject.key, []),  # pending: the next curation applies and deletes them
        "pseudonyms": {"account_key": subject.key, "account_ids": sorted(traces.ids),
                       "status_links": sorted(traces.status_links)},
        "raw": raw_about(lake, subject, traces, held.unfinished),
        "curated": curated_rows_about(lake, traces),
        "store": store_rows_about(store, traces, held.metrics) if store is not None else {},
        "state": state_about(lake, held.state.get(subject.key, [])) + other_state_about(held.holding, traces),
        "metric_snapshots": snapshot_rows_about(held.snapshots, traces),
        "quarantine": quarantine_about(held.quarantine.get(subject.key, []), subject, traces,
                                       lambda path: _read_quarantined(lake, path)),
    }


def _read_quarantined(lake: LakeBackend, path: str) -> bytes | None:
    """A quarantine file's content, decompressed; None when it is gone."""
    try:
        return quarantined_bytes(lake, path)
    except LakeError:
        if lake.exists(path):
            raise
        return None
