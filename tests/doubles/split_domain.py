"""The split-domain instance of the handle-domain tests: a Mastodon server served from ``social.example.test``
whose handles are ``@user@example.test`` (``WEB_DOMAIN`` ≠ ``LOCAL_DOMAIN``).

:func:`split_domain_double` serves it: the recorded Mastodon double under :data:`WEB_HOST` (resolved to 127.0.0.1
for the test, tests/doubles/hostnames.py), its instance documents declaring :data:`HANDLE_DOMAIN`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble
from fediscope.sources.spec import parse_source

WEB_HOST = "social.example.test"  # the host connected to …
HANDLE_DOMAIN = "example.test"  # … whose accounts are @user@example.test everywhere else
PUBLIC = parse_source("public")


@contextmanager
def split_domain_double(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Iterator[MastodonDouble]:
    """Resolve :data:`WEB_HOST` to 127.0.0.1 until the test ends and serve the split-domain instance while the
    ``with`` block runs. ``kwargs`` override :class:`MastodonDouble`'s (30 statuses, :data:`WEB_HOST`,
    :data:`HANDLE_DOMAIN`)."""
    resolve_to_loopback(monkeypatch, WEB_HOST)
    with MastodonDouble(**{"statuses": 30, "hostname": WEB_HOST, "handle_domain": HANDLE_DOMAIN, **kwargs}) as double:
        yield double


@contextmanager
def without_instance_document(home: MastodonDouble) -> Iterator[None]:
    """``home``'s instance documents (``/api/v2/instance``, ``/api/v1/instance``) fail (500) while the ``with``
    block runs, and answer again after it: a run in it cannot learn the handle domain, so it keys the instance's
    local accounts by the served domain and remembers nothing (as a run before the handle-domain rule did)."""
    faults = [home.fail(status=500, times=1000, path=p) for p in ("/api/v2/instance", "/api/v1/instance")]
    try:
        yield
    finally:
        for fault in faults:
            fault.times = 0
