"""Helpers of the API tests: settings, serving the app over real HTTP on 127.0.0.1, the error-shape check.

The app runs in werkzeug's threaded WSGI server on a free port (``serve_app``); the upstream is the recorded
Mastodon double (``mastodon_server``, from tests/doubles). ``fediscope serve-api`` itself (waitress) is
exercised in test_api_serve.py. (A module of its own, not tests/api/__init__.py: a package named ``api``
under tests/ would shadow the real ``api`` package.)
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from werkzeug.serving import make_server

from fediscope.config import Settings

KEY = "test-key-0123456789abcdef"
OLD_KEY = "old-key-0123456789abcdef"
RO_KEY = "ro-key-0123456789abcdef"
PSEUDONYM_KEY = "pseudonym-key-for-tests-0123456789"
OFFLINE_DOMAIN = "allowed.example"  # allowlisted in the `offline` fixture, never contacted


#: The lake and store of settings that name none: this process's own, not ./lake and ./fediscope.db of the directory
#: the tests run in (the API notes opt-outs in the lake: they landed in the checkout, whose ./lake other tests read).
#: Made by the first :func:`make_settings` and removed when the process exits (was: made on import and never
#: removed, a ``fediscope-api-tests-*`` directory left in the temporary directory by every test process of a run).
_scratch: list[Path] = []


def scratch() -> Path:
    """This process's directory for the lake and store of settings that name none (see ``_scratch``)."""
    if not _scratch:
        _scratch.append(Path(tempfile.mkdtemp(prefix="fediscope-api-tests-")))
        atexit.register(remove_scratch)
    return _scratch[0]


def remove_scratch() -> None:
    """:func:`scratch`'s directory removed, if made: at the test session's end (tests/conftest.py, before its check
    of the temporary directory, which in a run without xdist comes before the process's exit), else at exit."""
    while _scratch:
        shutil.rmtree(_scratch.pop(), ignore_errors=True)


def make_settings(**overrides: Any) -> Settings:
    """Settings from nothing but these values (no environment, no fediscope.toml)."""
    values: dict[str, Any] = {"api_key": (KEY, OLD_KEY, RO_KEY + ":ro"), "pseudonym_key": PSEUDONYM_KEY,
                              "api_rate_limit": 0, "lake": str(scratch() / "lake"),
                              "store": f"sqlite:///{scratch() / 'fediscope.db'}"}
    values.update(overrides)
    return Settings(**values)


class LiveApi:
    """A served app: ``get(path, key=KEY, **params)`` sends a real HTTP request."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app = app
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False

    def get(self, path: str, key: str | None = KEY, params: dict[str, Any] | None = None,
            **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["X-API-Key"] = key
        return self.http.get(self.url + path, params=params, headers=headers, timeout=30, **kwargs)


@contextmanager
def serve_app(app: Flask) -> Iterator[LiveApi]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="api-under-test",
                              daemon=True)
    thread.start()
    try:
        yield LiveApi(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def assert_error(response: requests.Response, status: int, code: str | None = None,
                 parameter: str | None = None) -> dict[str, Any]:
    """The one error shape: JSON ``{"error": {"status", "code", "message", ...}}`` with the right status."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    assert "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code, error
    if parameter is not None:
        assert error.get("parameter") == parameter, error
    return error


def sqlite_store_holding(path: Path, rows_by_metric: dict[str, list[dict[str, Any]]]) -> str:
    """The URL of a new SQLite store at ``path`` holding these metrics' rows (written with the real registry)."""
    from fediscope.analysis import metric
    from fediscope.store.port import open_store

    url = f"sqlite:///{path}"
    store = open_store(url)
    try:
        for name, rows in rows_by_metric.items():
            store.write(metric(name), rows)
    finally:
        store.close()
    return url
