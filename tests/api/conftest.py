"""Fixtures of the API tests (helpers live in api_testing.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_testing import OFFLINE_DOMAIN, LiveApi, make_settings, serve_app

from api import create_app
from fediscope.config import Settings


@pytest.fixture
def live_api() -> Iterator[Callable[..., LiveApi]]:
    """``live_api(settings, test_config=None)`` → a LiveApi served until the test ends."""
    stack: list[Any] = []

    def start(settings: Settings, test_config: dict[str, Any] | None = None) -> LiveApi:
        context = serve_app(create_app(settings, test_config))
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def api(mastodon_server: Any, live_api: Callable[..., LiveApi]) -> LiveApi:
    """The API with the Mastodon double allowlisted (and private addresses allowed: it is on 127.0.0.1)."""
    return live_api(make_settings(instances=(mastodon_server.url,), allow_private_addresses=True))


class Offline:
    def __init__(self, live: LiveApi, resolved: list[str]) -> None:
        self.live = live
        self.resolved = resolved


@pytest.fixture(scope="module")
def offline() -> Iterator[Offline]:
    """One API per module whose only allowlisted instance (OFFLINE_DOMAIN) is never contacted; its resolver
    records every lookup, and the address guard would refuse the TEST-NET address it returns anyway."""
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["192.0.2.1"]

    app = create_app(make_settings(instances=(OFFLINE_DOMAIN,)), {"FEDISCOPE_RESOLVER": resolver})
    with serve_app(app) as live:
        yield Offline(live, resolved)


@pytest.fixture
def checked(offline: Offline) -> Iterator[LiveApi]:
    """The offline API; the test fails if any of its requests got as far as resolving the instance."""
    offline.resolved.clear()
    yield offline.live
    assert offline.resolved == [], "a request that should have been refused reached the upstream step"
