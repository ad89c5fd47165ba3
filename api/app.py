"""The app factory: ``create_app(settings=None, test_config=None)`` builds the API from settings: the scraping
routes (:mod:`api.resources`) and the results routes over the metrics store (:mod:`api.results`).

Every request passes, in this order: the Host header (400 ``invalid_host`` for an HTTP/1.1 request without exactly
one: the ``Link`` URLs are built from it), the method (501 ``not_implemented`` for one the server does not know, on
any path), the request target ``*`` (only ``OPTIONS *``, about the server: 400 with another method), routing
(404/405; a records route refuses HEAD, 405, as it cannot be answered without asking the instance), the body-size
cap (413: over 8 KiB), any body at all (400 ``body_not_allowed``: the API takes its parameters in the query string,
so a body is refused rather than ignored), OPTIONS (answered 204 with the ``Allow`` header a 405 carries;
``OPTIONS *`` with every method a route takes), the API key (401; a read-only key on a write method: 403), the
per-key rate limit (429 + ``Retry-After``), the encoding of the path's parameters and of the query string (400 for a
percent-escape that is not UTF-8, instead of reading it as literal text or as U+FFFD), then the resource. Every
response gets the security headers below; every failure the JSON error envelope of :mod:`api.errors` — also what the
server itself refuses before the app sees a request (a too large body or header block, a malformed request):
:func:`make_server` gives waitress an error page in the same envelope.

``test_config`` is merged into ``app.config`` (Flask's tutorial pattern). Besides Flask's own keys it may set
``FEDISCOPE_RESOLVER`` (a ``(host, port) -> [address, ...]`` function replacing DNS, for tests of the
address guard) and ``FEDISCOPE_CLOCK`` (a monotonic clock for the rate limiter).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

from flask import Flask, Response, current_app, g, request
from flask_restful import Api
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.proxy_headers import PROXY_HEADERS, MalformedProxyHeader, clear_untrusted_headers, parse_proxy_headers
from waitress.task import ErrorTask
from waitress.utilities import BadRequest, RequestHeaderFieldsTooLarge
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from api.auth import HEADER, KeyRing, RepeatedKeyHeader, may_call, presented_key, unknown_key_message
from api.errors import DEFAULT_CODES, ApiError, bad_parameter, envelope, handle_any
from api.guard import InstanceGuard, system_resolver
from api.openapi import build_document
from api.ratelimit import RateLimiter
from api.results import ResultsStore
from api.routes import ROUTES
from api.upstream import Upstream
from fediscope.config import Settings, load_settings
from fediscope.wording import QUOTED_LENGTH, quoted

log = logging.getLogger(__name__)
#: One INFO line per request (quiet at the default level, WARNING): ``FEDISCOPE_LOG_LEVEL=INFO`` shows it.
access_log = logging.getLogger("api.access")

#: The API takes no request bodies; anything larger than this is refused (413) before it is read, anything
#: smaller (but not empty) once read (400).
MAX_BODY_BYTES = 8 * 1024
#: A request line and headers larger than this in all are refused by the server (431; a request line alone this
#: long: 414) before the app sees them.
MAX_HEADER_BYTES = 16 * 1024

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

    def error_router(self, original_handler: Any, e: Exception) -> Response:
        """Every error to :meth:`handle_error`. flask-restful's router first asks whether the failed request was
        for one of its routes (to leave other views' errors to Flask) by routing the request again, outside any
        ``try``: a Host werkzeug cannot route (``a..b``: not IDNA) raised ``BadHost`` there while the error was
        being handled, a 500 with a traceback in the server log. Every route of the app is the Api's, so there is
        nothing to ask; as flask-restful does, Flask's own handler is the fallback if ours fails."""
        try:
            return self.handle_error(e)
        except Exception:  # flask-restful's fallback, kept: Flask's handler answers then
            return original_handler(e)

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
    # /v1//metrics is no route (404), not a 308 redirect to /v1/metrics: Flask answers redirects itself, in HTML
    app.url_map.merge_slashes = False
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
    _no_head_on_records_routes(app)
    app.register_error_handler(Exception, handle_any)

    app.before_request(_guard_request)
    app.after_request(_finish_response)
    return app


def _no_head_on_records_routes(app: Flask) -> None:
    """HEAD on a records route is 405 with ``Allow: GET, OPTIONS`` (and OPTIONS lists the same), from routing, so
    before the key and the rate limit. werkzeug adds HEAD to every rule that takes GET, and flask-restful answers
    it by running ``get``: a HEAD fetched the page from the instance, spending a request of its rate-limit budget
    and one of the key's, to send headers only. Answered without the fetch it could not be what GET answers (RFC
    9110 section 9.3.2: the same status and headers): whether the page is a 200 or a 404, 410, 429 or 502, and its
    ``Link``, are the instance's answer, so a 200 would tell a probe (curl -I, a monitor, InvokeHTTP set to HEAD)
    that a page is there when it may not be. The other routes (health, the OpenAPI document, the results of the
    store) contact no instance and keep HEAD."""
    records = {route.endpoint for route in ROUTES if route.records}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in records and rule.methods is not None:
            rule.methods.discard("HEAD")


def _body_too_large() -> ApiError:
    return ApiError(413, "body_too_large", f"request body larger than {MAX_BODY_BYTES} bytes; this API takes "
                                           "its parameters in the query string")


def _guard_request() -> Response | None:
    """Routing errors, the body, OPTIONS, authentication, rate limiting and the query string's encoding, before
    any resource runs (the order is the module docstring's)."""
    g.started = time.monotonic()
    _check_host()
    _check_method()
    asterisk = _asterisk_form(request.environ)
    if asterisk and request.method != "OPTIONS":
        raise ApiError(400, "bad_request", f"the request target '*' is for OPTIONS only (RFC 9112 section 3.2.4), "
                                           f"not {request.method}; see /openapi.json for the routes this API serves")
    if not asterisk:  # OPTIONS * asks about the server: there is no route to match
        _check_route()
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise _body_too_large()
    # read it (a chunked body has no length; werkzeug stops at MAX_CONTENT_LENGTH: 413): a body is never ignored
    if request.get_data(cache=True):
        raise ApiError(400, "body_not_allowed", f"this API takes no request body (got one on {request.method}): "
                                                "send the parameters in the query string")
    if request.method == "OPTIONS":
        return _options_response(asterisk)
    if request.endpoint not in _PUBLIC_ENDPOINTS:
        _authenticate()
    _check_path_encoding()
    _check_query_encoding(request.query_string)
    return None


def _check_route() -> None:
    """The routing error of the request (404, 405), if any."""
    if isinstance(request.routing_exception, RequestRedirect):
        # Flask answers a routing redirect itself, bypassing the error handlers: an HTML page. None is expected
        # (no slash merging, no rule with a trailing slash), so any is a path that is not a route
        raise NotFound()
    if _sent_path(request.environ).startswith("//"):
        raise ApiError(404, "not_found", "no route starts with '//': paths are matched as sent; join routes to the "
                                         "API's base URL without its trailing slash (http://host:port/v1/…)")
    if request.routing_exception is not None:
        raise request.routing_exception


def _sent_path(environ: dict[str, Any]) -> str:
    """The request's path as the client sent it, percent-escapes decoded. Paths are matched as sent
    (``/v1//metrics`` is no route), but waitress and werkzeug's router both drop leading slashes (``//v1/metrics``
    and ``/%2Fv1/metrics`` were served as ``/v1/metrics``), so a reverse proxy's rule on a path prefix (refusing
    ``/v1/timelines/``) was passed by doubling the first slash. ``REQUEST_URI`` is the request target as sent
    (waitress and werkzeug's server set it), in absolute form too (``http://host//v1/metrics``)."""
    return unquote(_raw_path(environ))


def _raw_path(environ: dict[str, Any]) -> str:
    """The request's path as the client sent it, percent-escapes as they are (:func:`_sent_path`)."""
    target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    path = target.partition("?")[0]
    if not path.startswith("/") and "://" in path:  # absolute form: the path follows the authority
        path = "/" + path.partition("://")[2].partition("/")[2]
    return path


def _check_host() -> None:
    """400 ``invalid_host`` for an HTTP/1.1 request without exactly one Host that names a host (RFC 9112 §3.2: a
    server answers 400 to one with none, several or an invalid one). The ``Link`` URLs are built from it: they
    named no host (``http:///v1/...``) or the server's made-up ``waitress.invalid``. Both servers join a repeated
    header with commas, and werkzeug reads a Host of characters no host has (a comma, a space) or an empty one as
    ``""``, as it does a name with characters outside letters, digits, dots and hyphens (``a_b.example``): links
    to it cannot be built. HTTP/1.0 needs no Host: the address the server listens on stands in, unless it listens
    on every address (``0.0.0.0``: waitress then names itself ``waitress.invalid``). Behind the trusted proxy, its
    X-Forwarded-Host is the Host checked. A name werkzeug takes but cannot route, as it is no IDNA name (an empty
    label, ``a..b`` or ``.a``, or one over 63 characters), is refused the same way: it was a 500."""
    header = request.environ.get("HTTP_HOST")
    if header is None and request.environ.get("SERVER_PROTOCOL", "HTTP/1.1") in {"HTTP/1.0", "HTTP/0.9"}:
        if request.environ.get("SERVER_NAME") != UNNAMED_SERVER:
            return
        raise ApiError(400, "invalid_host", "this server listens on every address, so it cannot name itself in "
                                            "links: send a Host header")
    if header is None or not request.host or not _routable(request.host):
        if header is not None and header == request.environ.get(ABSOLUTE_FORM_HOST):
            raise ApiError(400, "invalid_host", "the authority of the request target in absolute form, which names "
                                                "the host in place of the Host header (RFC 9112 section 3.2.2), is "
                                                "not a host name (labels of 1 to 63 letters, digits and hyphens "
                                                "joined by dots, or an IP address) with an optional :port; a user "
                                                "name before an @ is not taken (RFC 9110 section 4.2.4)")
        raise ApiError(400, "invalid_host", "the request's Host header is missing, empty, repeated or not a host "
                                            "name (labels of 1 to 63 letters, digits and hyphens joined by dots, "
                                            "or an IP address) with an optional :port; an HTTP/1.1 request sends "
                                            "exactly one (RFC 9112 section 3.2)")


def _routable(host: str) -> bool:
    """Whether werkzeug's router takes ``host`` (``host[:port]``, as :attr:`request.host` gives it): it encodes the
    name as IDNA (:meth:`werkzeug.routing.Map.bind`), which refuses an empty label or one over 63 characters."""
    try:
        host.lower().partition(":")[0].encode("idna")
    except UnicodeError:
        return False
    return True


#: The methods this server knows: RFC 9110 section 9's, PATCH (RFC 5789) and QUERY (the IETF's safe method with a
#: body, an operation OpenAPI 3.2 documents on a route; schemathesis expects its 405). One a route does not take is
#: 405 with ``Allow``; any other (``PROPFIND``, ``BREW``) is 501, on any path, as no resource of the server takes it.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"})


def _check_method() -> None:
    """501 ``not_implemented`` for a method the server does not know (RFC 9110 section 15.6.2), before routing: a
    405 says the method exists but this route does not take it, with an ``Allow`` the client may retry with. Methods
    are case-sensitive (``get`` is unknown; waitress refuses it itself, 400)."""
    if request.method not in KNOWN_METHODS:
        raise ApiError(501, "not_implemented",
                       f"method {quoted(request.method, 40)} is not one this server implements; its routes take "
                       f"{', '.join(sorted(_server_methods(current_app)))}: see /openapi.json")


def _asterisk_form(environ: dict[str, Any]) -> bool:
    """Whether the request target is ``*`` (RFC 9112 section 3.2.4: ``OPTIONS *``, the server's options).
    waitress and werkzeug's server pass it as ``PATH_INFO`` ``*``, which matches no route (it was a 404);
    ``REQUEST_URI`` tells it from ``%2A``, which is a path (no route)."""
    return environ.get("REQUEST_URI") == "*"


def _server_methods(app: Flask) -> set[str]:
    """Every method some route of the app takes: the ``Allow`` of ``OPTIONS *``."""
    return {method for rule in app.url_map.iter_rules() for method in rule.methods or ()}


def _options_response(server: bool) -> Response:
    """204 with the methods the route takes, in the ``Allow`` header a 405 on the same route carries (and no
    ``Content-Type``, which Flask gives every response: a 204 has no content); for ``OPTIONS *``, those of the
    server (RFC 9110 section 9.3.7: a request about the server, not a resource)."""
    methods = _server_methods(current_app) if server else request.url_rule.methods if request.url_rule else None
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    response.headers["Allow"] = ", ".join(sorted(methods or ()))
    return response


def _check_query_encoding(query: bytes) -> None:
    """400 naming the parameter whose name or value has a percent-escape (or a raw byte) that is not UTF-8:
    werkzeug would pass it on as literal text (``%ff`` → ``"%FF"``), which then matches nothing silently."""
    for pair in query.split(b"&"):
        name, _, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in pair.partition(b"="))
        try:
            name.decode("utf-8")
            value.decode("utf-8")
        except UnicodeDecodeError:
            shown = name.decode("utf-8", "replace")
            raise bad_parameter(shown[:100], f"parameter {quoted(shown)} is not UTF-8 once its percent-escapes are "
                                            "decoded; percent-encode the UTF-8 bytes of the text (é is %C3%A9)") \
                from None


#: What a path parameter that is not UTF-8 is quoted with: its segment as sent, escapes and all, but a byte that is no
#: printable ASCII (sent raw, not escaped) is percent-encoded.
_SHOWN_AS_SENT = "".join(chr(c) for c in range(0x21, 0x7F))


def _check_path_encoding() -> None:
    """400 naming the path parameter (``name``, ``tag``, ``acct``) whose percent-escapes are not UTF-8, quoting its
    segment as sent (``'%ff'``), as far as the route's own check quotes it (a ``name`` its first 64 characters).
    werkzeug decodes it with the bytes replaced, so the route's check quoted ``'\ufffd'``, a character the client
    never sent (one that sends it, ``%EF%BF%BD``, is answered by the route's check as before)."""
    if request.url_rule is None or not request.view_args:
        return
    sent = _raw_path(request.environ).split("/")
    for position, part in enumerate(request.url_rule.rule.split("/")):
        if not (part.startswith("<") and part.endswith(">")) or position >= len(sent):
            continue
        try:
            segment = sent[position].encode("latin-1")  # WSGI's text: each byte one character
        except UnicodeEncodeError:
            segment = sent[position].encode("utf-8")
        try:
            unquote_to_bytes(segment).decode("utf-8")
        except UnicodeDecodeError:
            name = part[1:-1].rpartition(":")[2]
            shown = quote(segment, safe=_SHOWN_AS_SENT)
            raise bad_parameter(name, f"{name} is not UTF-8 once its percent-escapes are decoded (got "
                                      f"{quoted(shown, 64 if name == 'name' else QUOTED_LENGTH)}); percent-encode "
                                      "the UTF-8 bytes of the text (é is %C3%A9)") from None


def _authenticate() -> None:
    state: ApiState = current_app.extensions["fediscope_api"]
    try:
        presented = presented_key(request.headers.get(HEADER))
    except RepeatedKeyHeader as exc:  # the message names the header, never a value of it
        raise ApiError(400, "repeated_api_key", str(exc)) from None
    key = state.keys.match(presented)
    if key is None:
        raise ApiError(401, "unauthorized", unknown_key_message(presented))
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
    log_access(request.method, _route_template(response.status_code), response.status_code, request.remote_addr,
               elapsed, g.get("key_label"))
    return response


def _route_template(status: int) -> str:
    """The access line's route: the matched route's template, ``*`` for ``OPTIONS *``, else ``(no route)``. A 405
    matched the path but not the method, so werkzeug set no ``url_rule``: its route is the one the path matches
    with OPTIONS, which every route takes (it was logged ``(no route)``, as a path that is none). So is a 501 (a
    method no route takes, refused before routing) on such a path, unless it starts with ``//``: no route, though
    werkzeug's router, dropping the slash, matched it (:func:`_sent_path`)."""
    if request.url_rule is not None:
        return request.url_rule.rule
    if _asterisk_form(request.environ):
        return "*"
    if (status == 405 or (status == 501 and not _sent_path(request.environ).startswith("//"))) \
            and isinstance(request.routing_exception, MethodNotAllowed):
        try:
            rule, _ = current_app.url_map.bind_to_environ(request.environ).match(method="OPTIONS", return_rule=True)
        except HTTPException:
            return "(no route)"
        return str(rule.rule)
    return "(no route)"


def log_access(method: str | None, route: str, status: int, client: str | None, duration_ms: float | None = None,
               key: str | None = None) -> None:
    """The access line of a request, on ``api.access`` at INFO: method, the route's template, status, duration, the
    API key's label (``key#2``) and the client's address (the one the trusted proxy forwarded, behind it). The
    route template and the key's label only: never the key, the query string or an account in the path. Its
    fields are the JSON log line's too (``FEDISCOPE_LOG_FORMAT=json``)."""
    shown = "-" if duration_ms is None else f"{duration_ms:.0f}ms"
    access_log.info("%s %s %d %s key=%s client=%s", method or "-", route, status, shown, key or "-", client or "-",
                    extra={"method": method, "route": route, "status": status,
                           "duration_ms": None if duration_ms is None else round(duration_ms, 1),
                           "key_label": key, "client": client})


# -- the server: waitress, with its own refusals in the API's envelope ------------------------------------------


#: waitress's SERVER_NAME when it is not given one: :func:`make_server` gives it the address it listens on,
#: unless that is every address.
UNNAMED_SERVER = "waitress.invalid"
#: ``--host`` values that listen on every address: no name for links.
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})


class _UriTooLong(BadRequest):
    code = 414
    reason = "URI Too Long"


class _RequestParser(HTTPRequestParser):
    """waitress's parser, telling a request line that alone reaches :data:`MAX_HEADER_BYTES` (414: the URL is too
    long) from a header block that does (431): waitress counts the request line in its header cap and calls both
    431, so a client with a long query string and few headers was told to send fewer headers."""

    def received(self, data: bytes) -> int:
        before, erred = self.header_plus, self.error is not None
        consumed: int = super().received(data)
        if not erred and isinstance(self.error, RequestHeaderFieldsTooLarge):
            received = (before + data).lstrip()  # waitress skips blank lines before the request line too
            end = received.find(b"\n")
            line = len((received[:end] if end >= 0 else received).removesuffix(b"\r"))  # without its line end
            if line >= self.adj.max_request_header_size:
                self.error = _UriTooLong(f"request line exceeds {self.adj.max_request_header_size} bytes")
        return consumed


class _JsonErrorTask(ErrorTask):
    """What waitress answers itself, before the app sees a request (a body over the cap, a request line or header
    block over :data:`MAX_HEADER_BYTES`, a malformed request, a failure of its own): the API's JSON error envelope and
    security headers instead of waitress's text/plain page."""

    def execute(self) -> None:
        error = self.request.error
        status = int(error.code)
        message = {
            413: _body_too_large().message,
            414: f"request line (method, path and query string) longer than {MAX_HEADER_BYTES} bytes; this API's "
                 "parameters never need that much: see /openapi.json for their bounds",
            431: f"request line and headers larger than {MAX_HEADER_BYTES} bytes in all; send fewer or shorter "
                 "headers",
            500: "internal error; the server log has the details",
        }.get(status, f"{error.reason.lower()}: {error.body}")
        body = json.dumps(envelope(ApiError(status, DEFAULT_CODES.get(status, "http_error"), message))).encode()
        self.status = f"{status} {error.reason}"
        # refused before the app: no route, no key; the address is the peer's (the proxy's, behind one). A request
        # line that could not be read has no method (the parser sets none)
        log_access(getattr(self.request, "command", None), "(refused by the server)", status, _peer(self.channel))
        self.response_headers.extend([("Content-Type", "application/json"), *SECURITY_HEADERS.items()])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def _peer(channel: Any) -> str | None:
    addr = getattr(channel, "addr", None)
    return str(addr[0]) if isinstance(addr, tuple) and addr else None


class _JsonErrorChannel(HTTPChannel):
    error_task_class = _JsonErrorTask
    parser_class = _RequestParser


def make_server(app: Flask, host: str, port: int, threads: int, trusted_proxy: str | None = None) -> Any:
    """The waitress server of ``fediscope serve-api``: the API's limits (a body of exactly :data:`MAX_BODY_BYTES`
    passes, as the app's check: waitress refuses at its cap, not over it), version hidden, no tracebacks, and
    what it refuses itself answered in the JSON envelope. Proxy headers are dropped, except those of
    ``trusted_proxy`` (``FEDISCOPE_API_TRUSTED_PROXY``, the TLS reverse proxy in front): its
    ``X-Forwarded-Proto``/``-Host``/``-For`` then make the request's scheme, host and client address, so the
    ``Link`` URLs clients follow are the proxy's ``https://`` ones, not plain http to the API's own address.
    It waits on its sockets with ``poll``: waitress's default, ``select``, cannot watch a descriptor numbered
    1024 or above, and its loop thread died on the first one (every later request hung), so a server with many
    open connections or files stopped answering. Raises OSError / ValueError when it cannot listen."""
    from waitress.server import create_server

    options: dict[str, Any] = {}
    if trusted_proxy:  # read by _forwarded (waitress's own reading answers a malformed header in text/plain)
        app = _forwarded(app, trusted_proxy)  # type: ignore[assignment]
        options["clear_untrusted_proxy_headers"] = False
    app = _absolute_form_host(app)  # type: ignore[assignment]  # first: the trusted proxy's X-Forwarded-Host wins
    if host not in WILDCARD_HOSTS:  # SERVER_NAME of a request without Host (HTTP/1.0): see _check_host
        options["server_name"] = host
    server = create_server(app, host=host, port=port, threads=threads, ident="fediscope",
                           max_request_body_size=MAX_BODY_BYTES + 1, max_request_header_size=MAX_HEADER_BYTES,
                           expose_tracebacks=False, asyncore_use_poll=True,
                           **{"clear_untrusted_proxy_headers": True, **options})
    # several listening sockets (a host name with an IPv4 and an IPv6 address) are servers of their own in the map
    for listener in {server, *getattr(server, "map", {}).values()}:
        if hasattr(listener, "channel_class"):
            listener.channel_class = _JsonErrorChannel
    return server


#: the WSGI environ key :func:`_absolute_form_host` notes the authority it took as the Host under: a Host that is no
#: host name is then said to be the target's (was: "the request's Host header is … not a host name" for
#: ``GET http://user@api.example/… HTTP/1.1`` with a good Host header)
ABSOLUTE_FORM_HOST = "fediscope.absolute_form_host"


def _absolute_form_host(app: Any) -> Any:
    """``app`` given, for a request target in absolute form (``GET http://api.example/v1/... HTTP/1.1``), the
    target's authority as its Host: RFC 9112 section 3.2.2 has the server ignore the Host header then and use the
    target's host. werkzeug's server does so itself; waitress passes the Host header on, so the ``Link`` URLs named
    the Host header's host while the request was for another. Before the trusted proxy's headers are read
    (:func:`_forwarded`): its X-Forwarded-Host names the host clients reach, and wins. The scheme stays the
    connection's (or the trusted proxy's), as werkzeug's server keeps it. A target with no authority (``http:///x``)
    leaves the Host header; one that names no host is refused as a bad Host would be (:func:`_check_host`)."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        scheme, sep, rest = str(environ.get("REQUEST_URI", "")).partition("://")
        if sep and scheme.lower() in {"http", "https"}:
            authority = rest.partition("/")[0].partition("?")[0].partition("#")[0]
            if authority:
                environ["HTTP_HOST"] = environ[ABSOLUTE_FORM_HOST] = authority
        return app(environ, start_response)

    return wsgi


#: The forwarded headers believed from ``FEDISCOPE_API_TRUSTED_PROXY``: the request's scheme, host and client address.
FORWARDED_HEADERS = frozenset({"x-forwarded-proto", "x-forwarded-host", "x-forwarded-for"})


def _forwarded(app: Any, trusted_proxy: str) -> Any:
    """``app`` behind the trusted proxy: waitress's own reading of its forwarded headers (one proxy, the headers of
    :data:`FORWARDED_HEADERS`), every proxy header of anyone else dropped, and a forwarded header it cannot read (an
    unknown scheme, ``X-Forwarded-Proto: https, http`` from a proxy that appends to the client's) answered 400
    ``invalid_forwarded_header`` in the API's envelope: waitress's middleware answered its text/plain page, without
    the security headers."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        untrusted = PROXY_HEADERS
        peer = environ.get("REMOTE_ADDR")
        if peer == trusted_proxy:
            try:
                untrusted = parse_proxy_headers(environ, trusted_proxy_count=1,
                                                trusted_proxy_headers=FORWARDED_HEADERS, logger=log)
                _check_forwarded_for(environ)
            except MalformedProxyHeader as exc:
                environ["REMOTE_ADDR"] = peer  # the refusal's access line names the proxy, not what it forwarded
                log.warning("malformed %s from the trusted proxy %s: %s (%r)", exc.header, trusted_proxy,
                            exc.reason, str(exc.value)[:100])
                error = ApiError(400, "invalid_forwarded_header",
                                 f"the reverse proxy in front of this API sent {exc.header} in a form that cannot be "
                                 "read (one value of each forwarded header is expected, a scheme of http or https, "
                                 "an IP address last in X-Forwarded-For); its operator must fix the proxy's "
                                 "configuration",
                                 setting="FEDISCOPE_API_TRUSTED_PROXY")
                body = json.dumps(envelope(error)).encode()
                log_access(environ.get("REQUEST_METHOD"), "(refused: malformed forwarded header)", 400,
                           environ.get("REMOTE_ADDR"))
                start_response("400 Bad Request", [("Content-Type", "application/json"),
                                                   ("Content-Length", str(len(body))), *SECURITY_HEADERS.items()])
                return [body]
        clear_untrusted_headers(environ, untrusted, logger=log)
        return app(environ, start_response)

    return wsgi


def _check_forwarded_for(environ: dict[str, Any]) -> None:
    """The client address waitress took from the trusted proxy's X-Forwarded-For (its last value) must be an IP
    address: waitress takes any text (``unknown``, ``1.2.3.4 key=key#1 client=5.6.7.8``), which the access line then
    gave as the client, so a client whose own X-Forwarded-For the proxy passes on (nginx does unless told to set it)
    wrote fields of its choosing into the access log."""
    if "HTTP_X_FORWARDED_FOR" not in environ:
        return
    address = environ.get("REMOTE_ADDR", "")
    bracketed, _, port = address.removeprefix("[").partition("]:")
    if address.startswith("[") and port.isdigit():  # [v6]:port, which waitress leaves whole (it splits v4:port)
        address = environ["REMOTE_ADDR"] = environ["REMOTE_HOST"] = bracketed
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise MalformedProxyHeader("X-Forwarded-For", "its last value is not an IP address",
                                   environ["HTTP_X_FORWARDED_FOR"]) from None
