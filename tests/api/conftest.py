"""Fixtures of the API tests (helpers live in api_testing.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_testing import LiveApi, make_settings, serve_app

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
