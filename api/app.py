"""The app factory: ``create_app(settings=None, test_config=None)`` builds the API from settings: the scraping
routes (:mod:`api.resources`) and the results routes over the metrics store (:mod:`api.results`).

Every request passes, in this order: routing (404/405), the body-size cap (413), the API key (401; a
read-only key on a write method: 403), the per-key rate limit (429 + ``Retry-After``), then the resource.
Every response gets the security headers below; every failure the JSON error envelope of :mod:`api.errors`.

``test_config`` is merged into ``app.config`` (Flask's tutorial pattern). Besides Flask's own keys it may set
``FEDISCOPE_RESOLVER`` (a ``(host, port) -> [address, ...]`` function replacing DNS, for tests of the
address guard) and ``FEDISCOPE_CLOCK`` (a monotonic clock for the rate limiter).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_restful import Api

from api.auth import HEADER, KeyRing, may_call
from api.errors import ApiError, handle_any
from api.guard import InstanceGuard, system_resolver
from api.openapi import build_document
from api.ratelimit import RateLimiter
from api.results import ResultsStore
from api.routes import ROUTES
from api.upstream import Upstream
from fediscope.config import Settings, load_settings

log = logging.getLogger(__name__)

#: The API takes no request bodies; anything larger than this is refused before it is read.
MAX_BODY_BYTES = 8 * 1024

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_PUBLIC_ENDPOINTS = frozenset(route.endpoint for route in ROUTES if route.public)


class _Api(Api):
    """flask-restful's Api, with every error answered in our envelope (its own is ``{"message": ...}``)."""

    def handle_error(self, e: Exception) -> Response:
        return handle_any(e)


@dataclass
class ApiState:
    """What the resources need, built once per app (``app.extensions["fediscope_api"]``)."""

    settings: Settings
    keys: KeyRing
    limiter: RateLimiter
    guard: InstanceGuard
    upstream: Upstream
    openapi: dict[str, Any]
    results: ResultsStore  # the metrics store, opened at the first results request


def create_app(settings: Settings | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    """Build the API. Raises ConfigError (with what to set) when no API key or pseudonym key is configured."""
    settings = settings or load_settings()
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    guard = InstanceGuard(settings, resolver=app.config.get("FEDISCOPE_RESOLVER") or system_resolver)
    limiter = RateLimiter(settings.api_rate_limit, clock=app.config.get("FEDISCOPE_CLOCK") or time.monotonic)
    state = ApiState(settings=settings, keys=KeyRing(settings.api_key), limiter=limiter, guard=guard,
                     upstream=Upstream(settings, guard), openapi=build_document(),
                     results=ResultsStore(settings))
    app.extensions["fediscope_api"] = state

    api = _Api(app, catch_all_404s=True)
    for route in ROUTES:
        api.add_resource(route.resource, route.path, endpoint=route.endpoint)
    app.register_error_handler(Exception, handle_any)

    app.before_request(_guard_request)
    app.after_request(_finish_response)
    return app


def _guard_request() -> None:
    """Routing errors, body cap, authentication and rate limiting, before any resource runs."""
    g.started = time.monotonic()
    if request.routing_exception is not None:
        raise request.routing_exception
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"request body larger than {MAX_BODY_BYTES} bytes; this API takes "
                                              "its parameters in the query string")
    if request.endpoint in _PUBLIC_ENDPOINTS:
        return
    state: ApiState = current_app.extensions["fediscope_api"]
    key = state.keys.match(request.headers.get(HEADER))
    if key is None:
        raise ApiError(401, "unauthorized", f"missing or unknown API key: send it in the {HEADER} header "
                                            "(keys are configured in FEDISCOPE_API_KEY)")
    g.key_label = key.label
    if not may_call(key, request.method):
        raise ApiError(403, "read_only_key", f"this API key is read-only ({key.label}); {request.method} needs "
                                             "a key without the ':ro' suffix")
    wait = state.limiter.take(key.label)
    if wait:
        raise ApiError(429, "rate_limited", f"more than {state.settings.api_rate_limit} requests per minute with "
                                            f"this API key; retry in {wait} s (FEDISCOPE_API_RATE_LIMIT)",
                       headers={"Retry-After": str(wait)}, retry_after=wait)


def _finish_response(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    elapsed = (time.monotonic() - g.get("started", time.monotonic())) * 1000
    # the route template and the key's label only: never the key, the query string or an account in the path
    route = request.url_rule.rule if request.url_rule is not None else "(no route)"
    log.info("%s %s %s %d %.0fms", request.method, route, g.get("key_label", "-"), response.status_code, elapsed)
    return response
