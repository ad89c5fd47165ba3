"""One account, one source: ``account:alice`` and ``account:alice@mastodon.social`` on mastodon.social.

Mastodon looks a handle whose domain is the instance's own up as the local account of that name, so both
spellings walk the same timeline. Kept apart, they had a checkpoint each and the timeline was collected twice into
the raw lake (curation keeps one copy, so no metric changed, but raw files and requests doubled). An account source
whose domain is the one the instance is connected to (:func:`~fediscope.config.instance_domain`: host, and port
when given) is therefore taken as the bare name (:func:`on_instance`), which is what names its checkpoint, walk
lock and batch files, while the summary's ``--json`` keeps the spelling written (:attr:`SourceRef.written`).

Only where that is sure without asking the instance: a host that may have a handle domain
(:func:`~fediscope.privacy.may_have_handle_domain`, ``social.example.com`` serving ``@alice@example.com``) keeps
``alice@social.example.com`` as written, since such a server may not take it for its local ``alice``.

A lake whose checkpoint was kept under the spelling with the domain keeps it: the first run that collects the
source under its bare name moves that spelling's state files to the bare name
(:func:`~fediscope.lake.state.adopt_spelling`).
"""

from __future__ import annotations

from fediscope.privacy import may_have_handle_domain
from fediscope.sources.spec import SourceRef


def on_instance(source: SourceRef, domain: str) -> SourceRef:
    """``source`` as collected from the instance at ``domain`` (its :func:`~fediscope.config.instance_domain`):
    an account source naming the instance's own domain as the bare name, its :attr:`~SourceRef.written` the
    spelling given; any other source as it is."""
    if not source.names_an_account or source.arg is None:
        return source
    name, at, home = source.arg.partition("@")
    if not at or home.lower() != domain.lower() or may_have_handle_domain(domain):
        return source
    return SourceRef(source.kind, name, written=source.written or source.name)


def other_spelling(source: SourceRef, domain: str) -> str | None:
    """The spelling with the instance's domain of a bare account source (``account:alice`` on mastodon.social →
    ``account:alice@mastodon.social``), which an earlier run may have kept its state under, where
    :func:`on_instance` takes that spelling as the bare name; None for any other source."""
    if (not source.names_an_account or source.arg is None or "@" in source.arg
            or may_have_handle_domain(domain)):
        return None
    return f"{source.kind}:{source.arg}@{domain.lower()}"
