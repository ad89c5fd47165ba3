"""A small Mastodon-compatible HTTP server on 127.0.0.1 that serves a generated corpus.

It answers the read-only public API a collector uses, with Mastodon's own semantics: id paging with ``Link``
headers (``fediscope.sample.paging``), rate-limit headers and optional 429s (``fediscope.sample.ratelimit``),
``{"error": ...}`` bodies, and the response headers of a real server (``Cache-Control``, ``X-Request-Id``).
Mastodon.py and any other Mastodon client can be pointed at it (``api_base_url="http://127.0.0.1:PORT"``).

Routes: ``/api/v1/timelines/public`` (``local``, ``remote``, ``only_media``), ``/api/v1/timelines/tag/<tag>``,
``/api/v1/accounts/lookup?acct=``, ``/api/v1/accounts/<id>``, ``/api/v1/accounts/<id>/statuses``,
``/api/v1/statuses/<id>``, ``/api/v2/instance``, ``/api/v1/instance``, ``/api/v1/instance/activity``,
``/api/v1/instance/peers``, ``/api/v1/trends/tags``, ``/api/v1/directory``; and the streaming API
(server-sent events): ``/api/v1/streaming/public[/local]``, ``/api/v1/streaming/hashtag[/local]?tag=`` send an
``update`` event for every status the instance gains while connected (``--grow``), with ``:thump`` heartbeats;
``/api/v1/streaming/health`` answers ``OK``. The instance documents name this server as their streaming server.

Built on the standard library's ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, one thread per connection):
no framework, starts in milliseconds, and serves a few thousand statuses a second from cached JSON.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fediscope.sample import MAX_GROW_PER_MINUTE
from fediscope.sample.instance import SampleInstance
from fediscope.sample.paging import (
    ParamError,
    limit_param,
    link_header,
    offset_link_header,
    page_request,
    truthy,
)
from fediscope.sample.ratelimit import RateLimiter

log = logging.getLogger(__name__)

PRIVATE = "private, no-store"
PUBLIC_CACHE = "max-age=300, public, stale-while-revalidate=30, stale-if-error=86400"


class Reply:
    """What a route returns: status code, JSON body (bytes), extra headers."""

    def __init__(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None,
                 cache: str = PRIVATE) -> None:
        self.body, self.status, self.headers, self.cache = body, status, headers or {}, cache


def json_reply(data: Any, status: int = 200, cache: str = PRIVATE, headers: dict[str, str] | None = None) -> Reply:
    return Reply(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), status, headers, cache)


def error(status: int, message: str) -> Reply:
    return json_reply({"error": message}, status)


NOT_FOUND = "Record not found"


class Routes:
    """The API: one method per route, pure functions of (instance, path match, query) → Reply."""

    TABLE: list[tuple[re.Pattern[str], str]] = [
        (re.compile(r"^/api/v1/timelines/public$"), "public"),
        (re.compile(r"^/api/v1/timelines/tag/(?P<tag>[^/]+)$"), "tag"),
        (re.compile(r"^/api/v1/accounts/lookup$"), "lookup"),
        (re.compile(r"^/api/v1/accounts/(?P<id>\d+)/statuses$"), "account_statuses"),
        (re.compile(r"^/api/v1/accounts/(?P<id>\d+)$"), "account"),
        (re.compile(r"^/api/v1/statuses/(?P<id>[0-9]{1,20})$"), "status"),  # longer: no route, 404 as Mastodon
        (re.compile(r"^/api/v2/instance$"), "instance_v2"),
        (re.compile(r"^/api/v1/instance$"), "instance_v1"),
        (re.compile(r"^/api/v1/instance/activity$"), "activity"),
        (re.compile(r"^/api/v1/instance/peers$"), "peers"),
        (re.compile(r"^/api/v1/trends/tags$"), "trends_tags"),
        (re.compile(r"^/api/v1/directory$"), "directory"),
    ]

    def __init__(self, instance: SampleInstance) -> None:
        self.instance = instance

    def dispatch(self, path: str, query: dict[str, str], base_url: str) -> Reply:
        for pattern, name in self.TABLE:
            match = pattern.match(path)
            if match:
                handler: Callable[..., Reply] = getattr(self, name)
                try:
                    return handler(query, base_url, path, **match.groupdict())
                except ParamError as exc:
                    return error(400, str(exc))
        return error(404, NOT_FOUND)

    def _statuses(self, ids: list[int], base_url: str, path: str, permitted: dict[str, str],
                  has_next: bool = True) -> Reply:
        body = b"[" + b",".join(self.instance.status_json(sid) for sid in ids) + b"]"
        link = link_header(base_url, path, permitted, ids, has_next)
        return Reply(body, headers={"Link": link} if link else {})

    @staticmethod
    def _permitted(query: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
        return {k: query[k] for k in names if k in query}

    def public(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        ids = self.instance.public_timeline(page_request(query), local=truthy(query.get("local")),
                                            remote=truthy(query.get("remote")),
                                            only_media=truthy(query.get("only_media")))
        permitted = self._permitted(query, ("local", "remote", "limit", "only_media"))
        return self._statuses(ids, base_url, path, permitted)

    def tag(self, query: dict[str, str], base_url: str, path: str, tag: str) -> Reply:
        ids = self.instance.tag_timeline(unquote(tag), page_request(query), local=truthy(query.get("local")),
                                         only_media=truthy(query.get("only_media")))
        return self._statuses(ids, base_url, path, self._permitted(query, ("local", "limit", "only_media")))

    def account_statuses(self, query: dict[str, str], base_url: str, path: str, id: str) -> Reply:
        if self.instance.account(id) is None:
            return error(404, NOT_FOUND)
        request = page_request(query)
        if truthy(query.get("pinned")):
            return Reply(b"[]")
        ids = self.instance.account_timeline(
            id, request, only_media=truthy(query.get("only_media")),
            exclude_replies=truthy(query.get("exclude_replies")),
            exclude_reblogs=truthy(query.get("exclude_reblogs")), tagged=query.get("tagged") or None)
        permitted = self._permitted(query, ("limit", "pinned", "tagged", "only_media", "exclude_replies",
                                            "exclude_reblogs"))
        return self._statuses(ids, base_url, path, permitted, has_next=len(ids) == request.limit)

    def account(self, query: dict[str, str], base_url: str, path: str, id: str) -> Reply:
        account = self.instance.account(id)
        return json_reply(account.entity) if account else error(404, NOT_FOUND)

    def lookup(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        acct = query.get("acct", "")
        if not acct:
            return error(400, "Missing acct parameter")
        served_as = "@" + base_url.split("://", 1)[1].lower()
        if acct.lower().endswith(served_as):  # user@127.0.0.1:8765 is local too: the address it is reached at
            acct = acct[: -len(served_as)]
        account = self.instance.lookup(acct)
        return json_reply(account.entity) if account else error(404, NOT_FOUND)

    def status(self, query: dict[str, str], base_url: str, path: str, id: str) -> Reply:
        sid = int(id)
        status = self.instance.statuses.get(sid)
        if status is None or status["visibility"] not in {"public", "unlisted"}:
            return error(404, NOT_FOUND)
        return Reply(self.instance.status_json(sid))

    def instance_v2(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        doc = self.instance.instance_v2()
        doc.setdefault("configuration", {}).setdefault("urls", {})["streaming"] = _websocket_url(base_url)
        return json_reply(doc, cache=PUBLIC_CACHE)

    def instance_v1(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        doc = self.instance.instance_v1()
        doc.setdefault("urls", {})["streaming_api"] = _websocket_url(base_url)
        return json_reply(doc, cache=PUBLIC_CACHE)

    def activity(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        return json_reply(self.instance.activity(), cache=PUBLIC_CACHE)

    def peers(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        return json_reply(self.instance.peers, cache=PUBLIC_CACHE)

    def trends_tags(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        limit = limit_param(query, 10, 20)
        offset = _offset(query)
        tags = self.instance.trending_tags()[offset:offset + limit]
        link = offset_link_header(base_url, path, self._permitted(query, ("limit",)), offset, limit, len(tags))
        return json_reply(tags, headers={"Link": link} if link else None)

    def directory(self, query: dict[str, str], base_url: str, path: str) -> Reply:
        limit = limit_param(query, 40, 80)
        order = query.get("order") or "active"
        if order not in {"active", "new"}:
            return error(400, f"order must be 'active' or 'new', got {order!r}")
        offset = _offset(query)
        accounts = self.instance.directory(order, local=truthy(query.get("local")))
        return json_reply(accounts[offset:offset + limit])


def _websocket_url(base_url: str) -> str:
    """Where this server streams, written as Mastodon writes it (``wss://host``; clients use https for SSE)."""
    return ("wss" if base_url.startswith("https:") else "ws") + base_url[base_url.index(":"):]


#: streaming path → stream name (Mastodon's channel names)
STREAMS = {"/api/v1/streaming/public": "public", "/api/v1/streaming/public/local": "public:local",
           "/api/v1/streaming/hashtag": "hashtag", "/api/v1/streaming/hashtag/local": "hashtag:local"}
#: A ``Host`` the Link URLs may name: a name or IPv4 address, or a bracketed IPv6 one, with an optional port.
HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9.])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
#: The largest request body read (and dropped) before the 405 of a write: larger is 413 and the connection closed.
MAX_BODY_BYTES = 64 * 1024
HEARTBEAT_SECONDS = 15.0  # Mastodon's streaming server sends ":thump" this often


def _offset(query: dict[str, str]) -> int:
    raw = query.get("offset") or "0"
    if not (raw.isascii() and raw.isdigit()):
        raise ParamError(f"offset must be a number >= 0, got {raw!r}")
    return int(raw)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm holds the body back until
    # the client's delayed ACK (40 ms) on every small keep-alive response
    disable_nagle_algorithm = True
    server_version = "Mastodon"
    sys_version = ""
    server: SampleHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path.startswith("/api/v1/streaming"):
            self._stream(path, query)
            return
        header = self.headers.get("Host")
        host = header or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        if header and not HOST.fullmatch(header):
            # the Link URLs are built from it: a folded header keeps its line break, which would end the Link header
            # and start one of the client's
            self._send(error(400, "Invalid Host header"), {})
            return
        verdict = self.server.limiter.hit(self._client_key())
        if not verdict.allowed:
            reply = error(429, "Too many requests")
        else:
            reply = self.server.routes.dispatch(path, query, f"http://{host}")
        self._send(reply, verdict.headers())

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(error(405, "Method not allowed"), {}, allow="GET")

    def do_POST(self) -> None:  # noqa: N802
        """405: the instance is read-only. The body is read (and dropped) so that the connection can serve the next
        request, unless its length is not a number (400) or over :data:`MAX_BODY_BYTES` (413): then the connection
        is closed instead."""
        length = (self.headers.get("Content-Length") or "0").strip()
        if not (length.isascii() and length.isdigit()):
            self.close_connection = True
            self._send(error(400, "Content-Length must be a number of bytes"), {})
        elif int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(error(413, "Request body too large"), {})
        else:
            self.rfile.read(int(length))
            self._send(error(405, "This sample instance is read-only"), {}, allow="GET")

    do_PUT = do_DELETE = do_PATCH = do_POST  # noqa: N815

    def _stream(self, path: str, query: dict[str, str]) -> None:
        """Server-sent events until the client goes away or the server stops (chunked, like Mastodon's)."""
        if path == "/api/v1/streaming/health":
            self._send(Reply(b"OK"), {})
            return
        stream = STREAMS.get(path)
        tag = query.get("tag") or None
        if stream is None or (stream.startswith("hashtag") and tag is None):
            self._send(error(404 if stream is None else 400, "Unknown stream" if stream is None else
                             "Missing tag parameter"), {})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", PRIVATE)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        self.end_headers()
        instance = self.server.routes.instance
        feed = instance.subscribe()
        try:
            self._chunk(b":)\n")
            while not self.server.closing.is_set():
                try:
                    status = feed.get(timeout=min(HEARTBEAT_SECONDS, self.server.heartbeat))
                except queue.Empty:
                    self._chunk(b":thump\n")
                    continue
                if instance.streams(status, stream, tag):
                    self._chunk(b"event: update\ndata: " + instance.status_json(int(status["id"])) + b"\n\n")
            self._chunk(b"")  # the last chunk: the stream ends cleanly
        except (ConnectionError, OSError):
            log.debug("streaming client %s went away", self.client_address)
        finally:
            instance.unsubscribe(feed)
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _client_key(self) -> str:
        auth = self.headers.get("Authorization") or ""
        return f"token:{auth[7:]}" if auth.startswith("Bearer ") else f"ip:{self.client_address[0]}"

    def _send(self, reply: Reply, rate_headers: dict[str, str], allow: str | None = None) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", reply.cache if reply.status == 200 else PRIVATE)
        for name, value in {**reply.headers, **rate_headers}.items():
            self.send_header(name, value)
        if allow:
            self.send_header("Allow", allow)
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)


class SampleHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], routes: Routes, limiter: RateLimiter,
                 heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.routes, self.limiter, self.heartbeat = routes, limiter, heartbeat
        self.closing = threading.Event()  # set when the server stops: open streams end
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (an interrupted collector) is routine: a debug line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.debug("client %s went away: %s", client_address, error)
            return
        super().handle_error(request, client_address)


class SampleServer:
    """A running sample instance: ``with SampleServer(instance) as server: ... server.url``.

    ``rate_limit``/``rate_period`` set the advertised limit (Mastodon's default: 300 per 300 s);
    ``enforce_rate_limit`` makes it answer 429 past the limit; ``grow_per_minute`` adds that many new
    statuses per minute in a background thread (and sends them on the open streams), at most
    :data:`~fediscope.sample.MAX_GROW_PER_MINUTE` (a larger value is a ValueError); ``stream_heartbeat`` is
    the seconds between heartbeats on a quiet stream.
    """

    def __init__(self, instance: SampleInstance, host: str = "127.0.0.1", port: int = 0, *,
                 rate_limit: int = 300, rate_period: int = 300, enforce_rate_limit: bool = False,
                 grow_per_minute: float = 0.0, stream_heartbeat: float = HEARTBEAT_SECONDS) -> None:
        if not 0 <= grow_per_minute <= MAX_GROW_PER_MINUTE:  # NaN too
            raise ValueError(f"grow_per_minute must be between 0 and {MAX_GROW_PER_MINUTE}, not {grow_per_minute!r}")
        self.instance = instance
        self.limiter = RateLimiter(rate_limit, rate_period, enforce_rate_limit)
        self.httpd = SampleHTTPServer((host, port), Routes(instance), self.limiter, stream_heartbeat)
        self.grow_per_minute = grow_per_minute
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._serving = False

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> SampleServer:
        """Serve in a background thread (returns at once)."""
        self._serving = True
        thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="sample-instance", daemon=True)
        thread.start()
        self._threads.append(thread)
        self._start_growth()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C) or :meth:`stop` is called from another thread."""
        self._start_growth()
        self._serving = True
        try:
            self.httpd.serve_forever(poll_interval=0.05)  # stop() from another thread returns at once
        finally:
            self._stop.set()

    def _start_growth(self) -> None:
        if self.grow_per_minute > 0 and not any(t.name == "sample-grow" for t in self._threads):
            thread = threading.Thread(target=self._grow_loop, name="sample-grow", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _grow_loop(self) -> None:
        interval = 60.0 / self.grow_per_minute
        next_at = time.monotonic() + interval
        while True:
            # waited in steps of at most a minute: a tiny rate's interval (--grow 1e-300: 6e301 s) is no timeout
            # that threading can wait (an OverflowError ended the thread with a traceback)
            wait = next_at - time.monotonic()
            if self._stop.wait(min(max(0.0, wait), 60.0)):
                return
            if wait <= 60.0:
                self.instance.grow(1)
                next_at += interval

    def stop(self) -> None:
        self._stop.set()
        self.httpd.closing.set()
        if self._serving:
            self.httpd.shutdown()
            self._serving = False
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> SampleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sample_server(n_statuses: int = 2000, seed: int = 0, host: str = "127.0.0.1", port: int = 0,
                        **options: Any) -> SampleServer:
    """Generate a corpus and serve it in a background thread; ``options`` go to :class:`SampleServer`."""
    return SampleServer(SampleInstance.generate(n_statuses, seed), host, port, **options).start()
