"""The handle domain each instance was last seen to have, remembered in ``<lake>/_state/handle_domains.json``.

Local accounts of a server served from ``social.example.com`` whose handles are ``@alice@example.com`` are keyed
as ``alice@example.com`` (:mod:`fediscope.privacy`), learned from the instance document at the start of every
run (:func:`fediscope.sources.pages.fetch_handle_domain`). A run that cannot read the document would key them
by the served domain instead, so the same person would get two pseudonyms depending on the run (analytics count
them twice, an erasure by handle misses half). So every landing path that learned a *settled* answer records it
here (:func:`remember_handle_domain`), and a run that could not read the document uses what is recorded
(:func:`handle_domain_for_run`, logged at INFO), keeping the keys the instance's accounts had before. An erasure
by handle also erases what was keyed under the served domains this map lists for that handle domain
(:func:`served_domains`; see :mod:`fediscope.gdpr.erase`).

The file maps a served domain to its handle domain (``null``: the instance's own domain — the document was read
and names no parent domain) and when that was learned::

    {"instances": {"social.example.com": {"handle_domain": "example.com", "learned_at": "2026-12-02T02:39:05+00:00"}},
     "updated_at": "2026-12-02T02:39:05+00:00"}

Only hosts that can have a parent domain (:func:`~fediscope.privacy.may_have_handle_domain`) are recorded; the
others are never asked and keep their own domain anyway. The file holds domains only, never an account.

**Concurrent writers.** ``fediscope collect``, ``fediscope stream`` and the scraping API may update the file at
the same time. An update reads the file fresh just before it writes it back (atomically, ``write_atomic``), and
writes only when the answer differs from what is there, which keeps the window small but does not close it: of
two writers that read the same old file, the second write may drop the entry the first one added. That entry is
learned again by the next run that reads that instance's document; until then a run that cannot read the
document keys the instance's accounts by the served domain, as without this file.

**A damaged file** is a :class:`~fediscope.errors.LakeError` naming it and what to do (delete it; the next runs
learn every instance's handle domain again), as for a damaged checkpoint or suppression list: guessing would key
accounts differently from the runs before.

**A remembered public suffix.** Versions before public suffixes were refused (:mod:`fediscope.privacy`,
"Public suffixes") may have recorded one: ``"x.co.uk": {"handle_domain": "co.uk"}``. Such an entry is not damage
(the file says what those runs did) but it is never used to key accounts: a run that cannot read ``x.co.uk``'s
document keys its local accounts by ``x.co.uk``, exactly as a run that reads the document now does, rather than
carry on giving them the keys of a domain nobody there owns. It is logged at WARNING once per process (per lake
and entry), and it stays in the file until a settled answer for the instance replaces it (never, for a host whose
parents are all public suffixes: it is no longer asked). What it still does is tell an erasure or export
(:func:`served_domains`) that the instance's accounts were keyed under the public suffix before, so erasing
``alice@x.co.uk`` also finds ``alice@co.uk``; it never links two instances that declared the same public suffix
(``x.co.uk`` and ``y.co.uk`` are different owners), as it links the served domains of one real handle domain.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fediscope.errors import LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import STATE_ROOT
from fediscope.privacy import (
    is_public_suffix,
    may_have_handle_domain,
    parent_handle_domain,
    proper_parent_domain,
)

if TYPE_CHECKING:  # a type only: importing the collector's pages (Mastodon.py, requests) costs every
    # `fediscope process` about 0.1 s, through curation's opt-outs and gdpr.subject, for nothing it uses
    from fediscope.privacy import PrivacyPolicy
    from fediscope.sources.pages import HandleDomain

log = logging.getLogger(__name__)

HANDLE_DOMAINS_PATH = f"{STATE_ROOT}/handle_domains.json"

#: (lake url, served domain, handle domain) of the refused entries already logged (see the module docstring)
_warned_refused: set[tuple[str, str, str]] = set()


#: what deleting a damaged memory file costs: nothing lasting (said in every message that tells to delete it)
_LEARNED_AGAIN = ("the next collect, stream or API request that reads an instance's document learns its handle "
                  "domain again")


class DamagedHandleDomains(LakeError):
    """The memory file is there but is not what this module writes; ``problem`` says how."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{HANDLE_DOMAINS_PATH} in the lake is damaged ({problem}); delete it — {_LEARNED_AGAIN}")
        self.problem = problem


def _damaged(problem: str) -> LakeError:
    return DamagedHandleDomains(problem)


def _load_document(lake: LakeBackend) -> dict[str, dict[str, Any]]:
    """The ``instances`` of the file (empty when there is none); LakeError when it is damaged."""
    if not lake.exists(HANDLE_DOMAINS_PATH):
        return {}
    try:
        document = json.loads(lake.read(HANDLE_DOMAINS_PATH))
    except ValueError as exc:
        raise _damaged(f"not JSON: {exc}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, dict):
        raise _damaged("no 'instances' object")
    for served, entry in instances.items():
        handle = entry.get("handle_domain", "") if isinstance(entry, dict) else ""
        if handle is not None and proper_parent_domain(served, handle) != handle:
            raise _damaged(f"the handle domain of {served!r} is {handle!r}, not null or a parent domain of it")
        if handle is not None and parent_handle_domain(served, handle) is None:
            _warn_refused(lake, served, handle)
    return instances


def _warn_refused(lake: LakeBackend, served: str, handle: str) -> None:
    """Log, once per process, a remembered handle domain that is refused now: a public suffix, or a domain above one
    of the host's public suffixes (see the module docstring)."""
    seen = (str(getattr(lake, "url", id(lake))), served, handle)
    if seen in _warned_refused:
        return
    _warned_refused.add(seen)
    log.warning("%s: %s remembers %s as its handle domain, which is a public suffix (or lies above one of the "
                "host's) and so nobody's handle domain (an earlier version accepted it); its local accounts are keyed "
                "by %s, and erasing or exporting one of them also covers what was keyed under %s before", served,
                HANDLE_DOMAINS_PATH, handle, served, handle)


def _usable(served: str, handle: str | None) -> str | None:
    """``handle`` when local accounts of ``served`` may be keyed by it; None for a refused public suffix."""
    return handle if handle is None or parent_handle_domain(served, handle) == handle else None


def load_handle_domains(lake: LakeBackend) -> dict[str, str | None]:
    """Served domain → the handle domain it was last seen to have (None: its own domain), as recorded in the lake;
    empty when nothing was recorded. LakeError (naming the file, and what to do) when the file is damaged. A
    public suffix recorded by an earlier version is returned as recorded (what its accounts were keyed by then,
    for :func:`served_domains`), logged at WARNING once; nothing keys accounts by it (see the module docstring)."""
    return {served: entry["handle_domain"] for served, entry in _load_document(lake).items()}


def remember_handle_domain(lake: LakeBackend, instance: str, handle_domain: str | None) -> bool:
    """Record that ``instance`` (a served domain) has ``handle_domain`` (None: its own), a settled answer, unless
    that is what the file already says or the host cannot have a parent domain. Reads the file fresh first (see
    the module docstring on concurrent writers). Returns whether it wrote."""
    instance = instance.lower()
    if handle_domain is not None and parent_handle_domain(instance, handle_domain) != handle_domain:
        raise ValueError(f"{handle_domain!r} is not a handle domain of {instance!r} (a parent domain of it that "
                         "is not a public suffix): check it with fediscope.privacy.parent_handle_domain first")
    if not may_have_handle_domain(instance):
        return False
    instances = _load_document(lake)
    known = instances.get(instance)
    if known is not None and known.get("handle_domain") == handle_domain:
        return False
    now = datetime.now(UTC).isoformat(timespec="seconds")
    instances[instance] = {"handle_domain": handle_domain, "learned_at": now}
    document = {"instances": dict(sorted(instances.items())), "updated_at": now}
    lake.write_atomic(HANDLE_DOMAINS_PATH, json.dumps(document, indent=1).encode())
    if known is not None:
        log.info("%s: its handle domain changed from %s to %s; its local accounts are keyed by %s from now on",
                 instance, known.get("handle_domain") or instance, handle_domain or instance,
                 handle_domain or instance)
    return True


def handle_domain_for_run(lake: LakeBackend, instance: str, learned: HandleDomain) -> str | None:
    """The handle domain to key ``instance``'s local accounts by in this run: the one ``learned`` when it is
    settled (recorded when it differs from the file), else the one the file remembers (logged at INFO), else None
    (the served domain, as before). LakeError when the file is damaged or the lake cannot be used."""
    if learned.settled:
        remember_handle_domain(lake, instance, learned.domain)
        return learned.domain
    return remembered_handle_domain(lake, instance)


def remembered_handle_domain(lake: LakeBackend, instance: str) -> str | None:
    """The handle domain the file remembers for ``instance`` (None when it remembers none or its own, or only a
    public suffix, which is refused: see the module docstring), logged at INFO when there is one: for a run that
    could not read the instance document."""
    remembered = usable_handle_domain(load_handle_domains(lake), instance)
    if remembered is not None:
        log.info("%s: the instance document could not be read; its local accounts are keyed by %s, the handle "
                 "domain remembered from an earlier run (%s)", instance, remembered, HANDLE_DOMAINS_PATH)
    else:
        log.info("%s: the instance document could not be read and no handle domain is remembered for it; its "
                 "local accounts are keyed by %s", instance, instance)
    return remembered


def preload_handle_domains(lake: LakeBackend, policy: PrivacyPolicy, lake_named: str = "FEDISCOPE_LAKE") -> None:
    """Register every handle domain the lake remembers with ``policy`` before a landing run lands anything
    (:meth:`~fediscope.privacy.PrivacyPolicy.use_remembered_handle_domains`; with privacy on, to find an account's
    other name alone, never to key one), so an account erased under one of its names is left out under the other on
    every instance, whichever the run reaches first, and an opted-out account met on another instance
    (``alice@example.com``) is noted under its served-domain name too, which its home instance's older records may
    carry. One read of the file, with privacy on or off (an opt-out may be met whether or not anybody was erased);
    the file missing is nothing remembered. A file that cannot be read (damaged, or the lake failing) while anybody
    was erased (``policy.suppressed``) is a LakeError (:func:`unreadable_memory_refusal`, naming the lake by
    ``lake_named``, where it was set), before anything lands, as the scraping API answers 503 then: an account erased
    under one name before the lake knew its handle domain is on the suppression list under that name alone, and the
    memory is what finds it under the other (was: a warning, and the run landed it under the other name). Nobody
    erased, it is logged (WARNING) and nothing is preloaded: the sources of an instance that needs its memory fail
    on it when they land."""
    try:
        remembered = load_handle_domains(lake)
    except LakeError as exc:
        if policy.suppressed:
            raise LakeError(unreadable_memory_refusal("landed", exc, lake_named)) from None
        log.warning("%s", unreadable_memory_warning(exc, "this run learns"))
        return
    policy.use_remembered_handle_domains(remembered)


def unreadable_memory_refusal(what: str, exc: BaseException | None = None, lake_named: str = "FEDISCOPE_LAKE") -> str:
    """Why a landing run (``collect``, ``stream``: :func:`preload_handle_domains`) or the scraping API
    (``HandleDomains.preload``'s 503) refuses while the memory cannot be read and anybody was erased: an erased
    account could be ``what`` (``landed``, ``served``) under its other name. The reason, ``exc``, comes in brackets
    (None: the API's answer, which must not name where the lake lives; its server log says it), then the fix, last:
    for a damaged file, delete it; else check the lake. One wording for all three."""
    if exc is None:
        why = "the server log says why"
        fix = f"if the log says the file is damaged, delete it ({_LEARNED_AGAIN}), else check the lake"
    elif isinstance(exc, DamagedHandleDomains):
        why, fix = f"damaged: {exc.problem}", f"delete it ({_LEARNED_AGAIN})"
    else:
        why, fix = " ".join(str(exc).split()), "check the lake"
    return (f"the handle domains remembered in the lake ({lake_named}), {HANDLE_DOMAINS_PATH}, cannot be read ({why}), "
            f"so an account erased under one of its names could be {what} under the other; {fix}; then retry")


def unreadable_memory_warning(exc: BaseException, learner: str) -> str:
    """What a landing run (:func:`preload_handle_domains`; the API's ``HandleDomains.preload``) logs when it cannot
    read the lake's memory: both things that depend on it, the erasure's other name and the opt-out noted under the
    other name, are limited to the instances ``learner`` (``this run learns``); the reason comes last, with its fix
    (for a damaged file, :func:`_damaged`'s: delete it, and the next runs learn every handle domain again). Was: the
    erasures alone."""
    return ("the handle domains remembered in the lake could not be read, so an account erased under one of its names "
            "is matched under the other, and an opted-out account is noted under its other name too, only on "
            f"instances {learner}: {exc}")


def usable_handle_domain(handle_domains: Mapping[str, str | None], instance: str) -> str | None:
    """The handle domain of ``instance`` (a served domain) by the map :func:`load_handle_domains` read, when its
    local accounts may be keyed by it: None when the map has none, or the instance's own, or a refused public
    suffix (see the module docstring)."""
    return _usable(instance.lower(), handle_domains.get(instance.lower()))


def served_domains(handle_domains: Mapping[str, str | None], domain: str) -> set[str]:
    """Every domain that names the same accounts as ``domain`` by the map ``handle_domains``: its handle domain
    (itself when it has none) and every served domain remembered with that handle domain. A public suffix that an
    earlier version remembered as the handle domain of ``domain`` adds only that suffix (what its accounts were
    keyed under then), never the other instances remembered with it, which are other owners; and ``domain`` that
    is itself a public suffix names only itself. The same holds for any remembered handle domain that is refused
    now (:func:`~fediscope.privacy.parent_handle_domain`): a domain above one of the host's public suffixes, such
    as ``amazonaws.com`` remembered for ``x.s3.amazonaws.com``."""
    domain = domain.lower()
    handle = handle_domains.get(domain) or domain
    if is_public_suffix(handle) or (handle != domain and _usable(domain, handle) is None):
        return {domain, handle}
    return {handle} | {served for served, known in handle_domains.items()
                       if known == handle and _usable(served, known) is not None}
