"""One account, one source: ``account:alice``, ``account:Alice`` and ``account:alice@mastodon.social`` on
mastodon.social.

Mastodon looks a handle up whatever its case, and a handle whose domain is the instance's own as the local account of
that name, so all those spellings walk the same timeline. Kept apart, they had a checkpoint each and the timeline was
collected twice into the raw lake (curation keeps one copy, so no metric changed, but raw files and requests
doubled). An account source is therefore taken in lower case, and without its domain where that is the one the
instance is connected to (:func:`~fediscope.config.instance_domain`: host, and port when given) or its handle domain
once known (``example.com`` of ``social.example.com`` serving ``@alice@example.com``, :mod:`fediscope.privacy`):
:func:`on_instance`. That form names its checkpoint, walk lock and batch files, while the summary's ``--json``
keeps the spelling written (:attr:`SourceRef.written`).

A host that may have a handle domain (:func:`~fediscope.privacy.may_have_handle_domain`) keeps
``alice@social.example.com`` as written, since such a server may not take it for its local ``alice``; and its
handle domain's spelling (``alice@example.com``) is folded only once the handle domain is known (learned from the
instance document this run, or remembered in the lake: :mod:`fediscope.sources.handle_domains`).

A lake whose checkpoint was kept under another spelling keeps it: the first run that collects the source under its
own name moves that spelling's state files to it (:func:`~fediscope.lake.state.adopt_spelling`), for the spellings
with a domain (:func:`other_spellings`) and those in another case (:func:`~fediscope.lake.state.spellings_kept`).
"""

from __future__ import annotations

from fediscope.privacy import may_have_handle_domain
from fediscope.sources.spec import SourceRef


def on_instance(source: SourceRef, domain: str, handle_domain: str | None = None) -> SourceRef:
    """``source`` as collected from the instance at ``domain`` (its :func:`~fediscope.config.instance_domain`),
    whose handle domain is ``handle_domain`` when known: an account source in lower case, without the instance's
    domain or its handle domain, its :attr:`~SourceRef.written` the spelling given; any other source as it is."""
    if not source.names_an_account or source.arg is None:
        return source
    arg = source.arg.lower()
    name, at, home = arg.partition("@")
    if at and home in _home_domains(domain, handle_domain):
        arg = name
    if arg == source.arg:
        return source
    return SourceRef(source.kind, arg, written=source.written or source.name)


def other_spellings(source: SourceRef, domain: str, handle_domain: str | None = None) -> list[str]:
    """The spellings with a domain of a bare account source that :func:`on_instance` takes as it (``account:alice``
    on mastodon.social → ``account:alice@mastodon.social``; on social.example.com whose handle domain is
    example.com → ``account:alice@example.com``), which an earlier run may have kept its state under; none for any
    other source."""
    if not source.names_an_account or source.arg is None or "@" in source.arg:
        return []
    return [f"{source.kind}:{source.arg}@{home}" for home in _home_domains(domain, handle_domain)]


def _home_domains(domain: str, handle_domain: str | None) -> list[str]:
    """The domains an account handle of the instance at ``domain`` may be written with and still name its local
    account for sure: its own (unless it may have a handle domain) and its handle domain when known."""
    homes = [] if may_have_handle_domain(domain) else [domain.lower()]
    return homes + ([handle_domain.lower()] if handle_domain else [])
