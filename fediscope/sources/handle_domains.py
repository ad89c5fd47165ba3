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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fediscope.errors import LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import STATE_ROOT
from fediscope.privacy import may_have_handle_domain, parent_handle_domain
from fediscope.sources.pages import HandleDomain

log = logging.getLogger(__name__)

HANDLE_DOMAINS_PATH = f"{STATE_ROOT}/handle_domains.json"


def _damaged(problem: str) -> LakeError:
    return LakeError(f"{HANDLE_DOMAINS_PATH} in the lake is damaged ({problem}); delete it — the next collect, "
                     "stream or API request that reads an instance's document learns its handle domain again")


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
        if handle is not None and parent_handle_domain(served, handle) != handle:
            raise _damaged(f"the handle domain of {served!r} is {handle!r}, not null or a parent domain of it")
    return instances


def load_handle_domains(lake: LakeBackend) -> dict[str, str | None]:
    """Served domain → the handle domain it was last seen to have (None: its own domain), as recorded in the lake;
    empty when nothing was recorded. LakeError (naming the file, and what to do) when the file is damaged."""
    return {served: entry["handle_domain"] for served, entry in _load_document(lake).items()}


def remember_handle_domain(lake: LakeBackend, instance: str, handle_domain: str | None) -> bool:
    """Record that ``instance`` (a served domain) has ``handle_domain`` (None: its own), a settled answer, unless
    that is what the file already says or the host cannot have a parent domain. Reads the file fresh first (see
    the module docstring on concurrent writers). Returns whether it wrote."""
    instance = instance.lower()
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
    """The handle domain the file remembers for ``instance`` (None when it remembers none or its own), logged at
    INFO when there is one: for a run that could not read the instance document."""
    remembered = load_handle_domains(lake).get(instance.lower())
    if remembered is not None:
        log.info("%s: the instance document could not be read; its local accounts are keyed by %s, the handle "
                 "domain remembered from an earlier run (%s)", instance, remembered, HANDLE_DOMAINS_PATH)
    else:
        log.info("%s: the instance document could not be read and no handle domain is remembered for it; its "
                 "local accounts are keyed by %s", instance, instance)
    return remembered


def served_domains(handle_domains: Mapping[str, str | None], domain: str) -> set[str]:
    """Every domain that names the same accounts as ``domain`` by the map ``handle_domains``: its handle domain
    (itself when it has none) and every served domain remembered with that handle domain."""
    domain = domain.lower()
    handle = handle_domains.get(domain) or domain
    return {handle} | {served for served, known in handle_domains.items() if known == handle}
