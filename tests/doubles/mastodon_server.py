"""A Mastodon instance on 127.0.0.1 that replays REAL recorded responses, with paging and programmable faults.

The recordings in ``tests/data/mastodon/recordings/`` are real answers of a Mastodon 4.x server (converted from
the Mastodon.py test-suite cassettes). This double serves them over real HTTP, so Mastodon.py (and anything
else) talks to it exactly as to an instance:

* fixed documents replay the recorded body of the same path: ``/api/v2/instance``, ``/api/v1/instance``,
  ``/api/v1/instance/activity``, ``/api/v1/instance/peers``, ``/api/v1/directory``, ``/api/v1/accounts/lookup``
  (known accounts; the recorded 404 for others), and any other recorded GET path;
* timelines (``/api/v1/timelines/public`` with ``local``, ``/api/v1/timelines/tag/<tag>``,
  ``/api/v1/accounts/<id>/statuses``) page over a corpus of ``statuses`` public statuses built by cloning the
  recorded public statuses with new snowflake ids (the id also replaced inside ``uri``/``url``, ``created_at``
  set to the id's time, one account entity per acct; every other field as recorded), honouring ``max_id``,
  ``since_id``, ``min_id`` and ``limit`` like Mastodon and answering with ``Link`` headers
  (``rel="next"`` → ``max_id``, ``rel="prev"`` → ``min_id``);
* the trending tags (``/api/v1/trends/tags``) are the recorded tag entities (more with
  :meth:`MastodonDouble.add_trending_tags`), paged by ``offset`` and ``limit`` with Mastodon's ``Link`` header;
  ``trends_offset=False`` serves them as Mastodon 3.0–3.4 did, at ``/api/v1/trends`` without ``offset``;
* every answer carries ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (ISO 8601, as Mastodon sends it) for a
  window of ``ratelimit_limit`` requests per ``ratelimit_window`` seconds; exceeding it gives a real 429;
* the streaming API (``/api/v1/streaming/public[/local]``, ``/api/v1/streaming/hashtag[/local]``) replays the
  recorded event stream with the most events (a user stream: ``update``, ``notification``, ``status.update``
  and ``delete`` of real statuses), then ends the response; :meth:`MastodonDouble.stream` queues other bodies
  for the next connections. The instance documents name the double as its streaming server (``ws://`` and its
  address), or ``streaming_url`` when a test sets it (only that value of the recorded documents changes);
* a server whose handles are not of the host it is served from (``LOCAL_DOMAIN`` ≠ ``WEB_DOMAIN``):
  ``hostname`` names the double in ``url``/``domain`` (it still listens on 127.0.0.1: the test makes that name
  resolve there) and ``handle_domain`` replaces ``domain`` (v2) / ``uri`` (v1) of the recorded instance
  documents; ``accounts_domain`` serves the corpus as another instance sees it: every local ``acct`` of a
  timeline's (and the recorded stream's) statuses (author, mentions, reblogged and quoted authors) becomes
  ``acct@accounts_domain``;
* faults are queued with :meth:`MastodonDouble.fail`, :meth:`throttle`, :meth:`slow`, :meth:`malformed`,
  :meth:`redirect` and :meth:`damage_gzip` (each for ``times`` matching requests, optionally after ``after`` of
  them, optionally on one path prefix).

Use the ``mastodon_server`` pytest fixture (a fresh, started double per test) or ``with MastodonDouble() as m``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest

from fediscope import timestamps

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
RECORDED_AT = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)
NOT_FOUND = {"error": "Record not found"}  # Mastodon's recorded 404 body
_TOO_MANY = json.dumps({"error": "Too many requests"}).encode()


# -- the recordings ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _load(recordings: str) -> dict[str, Any]:
    """Index the recorded GET answers: by path, the public statuses, accounts and tag entities."""
    by_path: dict[str, list[tuple[dict[str, str], dict[str, Any]]]] = {}
    statuses: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    for file in sorted(Path(recordings).glob("test_*.json")):
        for interaction in json.loads(file.read_text())["interactions"]:
            request, response = interaction["request"], interaction["response"]
            if request["method"] != "GET":
                continue
            parts = urlsplit(request["uri"])
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            by_path.setdefault(parts.path.rstrip("/"), []).append((query, response))
            body = response["body"]
            if response["status"] != 200 or not isinstance(body, list):
                continue
            for item in body:
                if not isinstance(item, dict):
                    continue
                if "visibility" in item and "account" in item and item["visibility"] == "public":
                    statuses[item["id"]] = item
                if "history" in item and "name" in item and "url" in item:
                    tags[item["name"]] = item
    public = sorted(statuses.values(), key=lambda s: int(s["id"]))
    # The cassettes come from several sessions against a server whose database was reset in between, so one
    # acct appears with several ids. A real instance has one account per acct: keep the first one seen.
    canonical: dict[str, dict[str, Any]] = {}
    authors = [copy.deepcopy(s["account"]) for s in public]
    for status in public:
        status["account"] = canonical.setdefault(status["account"]["acct"], status["account"])
    return {"by_path": by_path, "statuses": public, "tags": list(tags.values()), "authors": authors}


_LEADING_INTEGER = re.compile(r"\s*[+-]?[0-9]+")


def _as_mastodon_reads(value: str) -> int | None:
    """A paging id as Mastodon's database query reads it (ActiveModel's integer type, Rails 7): the number its
    text starts with (``12a`` is 12), or NULL (None) when it starts with none (a ULID, ``abc``), which no id
    equals or exceeds: the page is empty, HTTP 200."""
    match = _LEADING_INTEGER.match(value)
    return int(match.group()) if match else None


def _stride(n: int) -> int:
    """A step coprime with ``n``: walking the templates with it mixes authors and tags even in small corpora."""
    return next(step for step in (37, 41, 43, 47, 53, 1) if n % step or step == 1)


def snowflake(at: datetime, sequence: int) -> str:
    """A Mastodon-style id (:mod:`fediscope.timestamps`) of a status created at ``at``, ``sequence`` its low bits."""
    return str(timestamps.snowflake(timestamps.to_ms(at), sequence))


def snowflake_time(status_id: str) -> datetime:
    return timestamps.from_ms(timestamps.snowflake_ms(status_id))


# -- faults -----------------------------------------------------------------------------------------------
@dataclass
class Fault:
    kind: str  # "status" | "throttle" | "slow" | "malformed" | "redirect" | "damaged_gzip"
    times: int = 1
    after: int = 0
    path: str | None = None
    status: int = 503
    delay: float = 0.0
    reset_in: float = 0.5
    reset_style: str = "iso"  # "iso" | "epoch" | "retry_after" | "none"
    malformation: str = "not_json"
    retry_after: str | None = None  # a status fault's Retry-After header
    error: str = "Something went wrong"  # a status fault's Mastodon error message ({"error": ...})
    location: str = ""  # a redirect fault's target: a base URL (the request's path and query are appended) or a URL
    seen: int = 0
    fired: int = 0

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


class CutShort(bytes):
    """A streaming body whose connection breaks off: its ``Content-Length`` announces more than is sent."""


@dataclass
class Served:
    """One request the double answered."""

    path: str
    params: dict[str, str]
    status: int
    fault: str | None = None
    authorization: str | None = None
    at: float = field(default_factory=time.time)
    user_agent: str | None = None


MALFORMATIONS = ("not_json", "truncated", "wrong_shape", "missing_fields", "wrong_types", "wrong_quotes",
                 "huge_counts", "lone_surrogate")


def _malform_items(items: list[Any], how: str) -> list[Any]:
    """Damage some items of a page the way broken servers and proxies do (the others stay intact)."""
    items = copy.deepcopy(items)
    if how == "missing_fields":
        for i, name in enumerate(("account", "id", "created_at")):
            if i < len(items) and isinstance(items[i], dict):
                items[i].pop(name, None)
    elif how == "wrong_types":
        damage: list[Callable[[dict[str, Any]], None]] = [
            lambda s: s.update(id=int(s["id"])),
            lambda s: s.update(account=str(s["account"].get("id"))),
            lambda s: s.update(replies_count="many"),
        ]
        for i, hurt in enumerate(damage):
            if i < len(items) and isinstance(items[i], dict):
                hurt(items[i])
        if len(items) > len(damage):
            items[len(damage)] = "not a status"
    elif how == "wrong_quotes":  # quotes as servers that are not Mastodon might send them
        quotes: list[Any] = ["https://elsewhere.example/notes/1", True, {"state": "accepted", "quoted_status": "1"},
                             {"state": "accepted", "quoted_status": {"id": "1", "account": "bob"}}]
        for item, quote in zip(items, quotes, strict=False):
            if isinstance(item, dict):
                item["quote"] = quote
    elif how == "huge_counts":  # integers JSON allows and no 64-bit count column holds
        huge: list[Callable[[dict[str, Any]], None]] = [
            lambda s: s.update(favourites_count=10**20),
            lambda s: s["account"].update(followers_count=-(2**63) - 1),
        ]
        for item, hurt in zip(items, huge, strict=False):
            if isinstance(item, dict):
                hurt(item)
    elif how == "lone_surrogate":  # half an emoji: sent as "\ud83d" (json.dumps escapes it), which json reads
        for item in items[:1]:
            if isinstance(item, dict):
                item["content"] = f"{item.get('content') or ''}\ud83d"
    return items


# -- the server -------------------------------------------------------------------------------------------
class MastodonDouble:
    """A started-on-demand Mastodon double; see the module docstring. Thread-safe."""

    def __init__(self, recordings: Path | str = RECORDINGS, *, statuses: int = 100, newest_at: datetime = RECORDED_AT,
                 spacing: timedelta = timedelta(minutes=1), ratelimit_limit: int = 300,
                 ratelimit_window: float = 300.0, instance_v2: bool = True, trends_offset: bool = True,
                 delay: float = 0.0,
                 hostname: str | None = None, handle_domain: str | None = None,
                 accounts_domain: str | None = None) -> None:
        data = _load(str(recordings))
        self._by_path = data["by_path"]
        self._templates = data["statuses"]
        self._recorded_authors = data["authors"]  # before canonicalisation: their ids live on in status uris
        self.tags = copy.deepcopy(data["tags"])  # trending, in rank order
        self._tag_templates = data["tags"]
        self.spacing = spacing
        self.ratelimit_limit = ratelimit_limit
        self.ratelimit_window = ratelimit_window
        self.instance_v2 = instance_v2
        self.trends_offset = trends_offset  # Mastodon 3.5+: /api/v1/trends/tags, paged by offset; else /api/v1/trends
        self.trends_default_limit = 10  # Mastodon's MAX_TRENDING_TAGS: a page holds at most twice as many
        self.delay = delay  # seconds added to every answer (kill-and-resume tests)
        self.hostname = hostname  # the name in url/domain instead of 127.0.0.1
        self.handle_domain = handle_domain  # the instance documents' domain (v2) / uri (v1) instead of the recorded
        self.accounts_domain = accounts_domain  # local accts of timelines served as acct@accounts_domain
        self.streaming_url: str | None = None  # the streaming server the instance documents name (None: the double)
        self.faults: list[Fault] = []
        self.log: list[Served] = []
        self.stream_bodies: list[bytes] = []  # served to the next streaming connections, then the recorded one
        self._lock = threading.RLock()
        self._window_start = time.time()
        self._window_used = 0
        self._clones = 0
        self._newest_at = newest_at - spacing * statuses
        self.statuses: list[dict[str, Any]] = []  # newest first
        self.add_statuses(statuses)
        self._server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()  # ends the answers held back (slow, delay) when the double stops
        self._thread: threading.Thread | None = None

    # -- corpus -------------------------------------------------------------------------------------------
    def add_statuses(self, count: int, author: str | None = None) -> list[dict[str, Any]]:
        """Publish ``count`` new statuses (newer than all others), cloned from the recorded ones (of the account
        whose ``acct`` is ``author`` only, when given)."""
        added = []
        with self._lock:
            templates = [t for t in self._templates if author is None or t["account"]["acct"] == author]
            if not templates:
                raise ValueError(f"no recorded status of {author!r}")
            for _ in range(count):
                template = templates[(self._clones * _stride(len(templates))) % len(templates)]
                self._newest_at += self.spacing
                status = copy.deepcopy(template)
                new_id = snowflake(self._newest_at, self._clones)
                for name in ("uri", "url"):
                    if isinstance(status.get(name), str):
                        status[name] = status[name].replace(template["id"], new_id)
                status["id"] = new_id
                status["created_at"] = self._newest_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                self._clones += 1
                added.append(status)
            self.statuses = sorted(added, key=lambda s: int(s["id"]), reverse=True) + self.statuses
        return added

    def add_trending_tags(self, count: int) -> list[dict[str, Any]]:
        """Make ``count`` more hashtags trend, ranked after those trending now: the recorded tag entities cloned
        with a new ``name`` (the recorded one and a number; in ``url`` too) and ``id``, their history as recorded."""
        with self._lock:
            templates, added = self._tag_templates, []
            for _ in range(count):
                number = len(self.tags)
                template = templates[number % len(templates)]
                tag = copy.deepcopy(template)
                tag["name"] = f"{template['name']}{number}"
                tag["url"] = template["url"].replace(f"/tags/{template['name']}", f"/tags/{tag['name']}")
                tag["id"] = str(1000 + number)
                self.tags.append(tag)
                added.append(tag)
        return added

    def set_account_note(self, acct: str, note: str) -> int:
        """The account ``acct`` changes its bio (say, adds ``#nobot``): every copy served from now on says so — its
        statuses (served and published later), boosts of them, the directory and lookups. Returns the copies
        changed. The recordings are shared by every double: this one changes its own copy of them."""
        with self._lock:
            if not getattr(self, "_own_recordings", False):
                self._templates, self._by_path = copy.deepcopy((self._templates, self._by_path))
                self._own_recordings = True
            accounts = []
            for status in self._templates + self.statuses:
                accounts.append(status.get("account"))
                if isinstance(status.get("reblog"), dict):
                    accounts.append(status["reblog"].get("account"))
            for path in ("/api/v1/directory", "/api/v1/accounts/lookup"):
                for _query, response in self._by_path.get(path, []):
                    body = response["body"]
                    accounts.extend(body if isinstance(body, list) else [body])
            changed = {id(a): a for a in accounts if isinstance(a, dict) and a.get("acct") == acct}
            for account in changed.values():
                account["note"] = note
            return len(changed)

    def public_statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.statuses)

    def accounts(self) -> list[dict[str, Any]]:
        """Every account entity the double can serve (status authors, mentions, directory, lookups)."""
        found: dict[str, dict[str, Any]] = {}
        for status in self.public_statuses() + self._templates:  # authors of served statuses first
            found.setdefault(status["account"]["id"], status["account"])
        for status in self._templates:
            for mention in status.get("mentions") or []:
                found.setdefault(mention["id"], mention)
        for path in ("/api/v1/directory", "/api/v1/accounts/lookup"):
            for _query, response in self._by_path.get(path, []):
                body = response["body"]
                for account in body if isinstance(body, list) else [body]:
                    if isinstance(account, dict) and "acct" in account:
                        found.setdefault(account["id"], account)
        return list(found.values())

    def account_identifiers(self) -> set[str]:
        """The original identifiers (id, username, acct, profile url/uri) of every account served."""
        out: set[str] = set()
        for account in self.accounts() + self._recorded_authors:
            for name in ("id", "username", "acct", "url", "uri"):
                if account.get(name):
                    out.add(str(account[name]))
        return out

    # -- faults -------------------------------------------------------------------------------------------
    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(self, status: int = 503, times: int = 1, path: str | None = None, after: int = 0,
             retry_after: str | None = None, error: str = "Something went wrong") -> Fault:
        """Answer ``times`` matching requests with HTTP ``status`` (and Mastodon's error JSON, ``error`` its
        message), with a ``Retry-After`` header when given."""
        return self._add(Fault("status", times=times, after=after, path=path, status=status,
                               retry_after=retry_after, error=error))

    def throttle(self, reset_in: float = 0.5, times: int = 1, path: str | None = None, after: int = 0,
                 style: str = "iso") -> Fault:
        """HTTP 429 whose reset is ``reset_in`` s away, sent as ISO ``X-RateLimit-Reset`` (Mastodon), epoch
        seconds (``style="epoch"``), ``Retry-After`` only (``"retry_after"``) or no hint (``"none"``)."""
        return self._add(Fault("throttle", times=times, after=after, path=path, reset_in=reset_in,
                               reset_style=style))

    def slow(self, delay: float, times: int = 1, path: str | None = None, after: int = 0) -> Fault:
        """Hold ``times`` matching answers back for ``delay`` seconds (then answer normally)."""
        return self._add(Fault("slow", times=times, after=after, path=path, delay=delay))

    def malformed(self, how: str = "not_json", times: int = 1, path: str | None = None, after: int = 0) -> Fault:
        """Break ``times`` answers: ``not_json``, ``truncated`` or ``wrong_shape`` bodies, or some items of a
        page with ``missing_fields`` / ``wrong_types`` (the rest of the page and its Link header intact)."""
        if how not in MALFORMATIONS:
            raise ValueError(f"unknown malformation {how!r}; known: {MALFORMATIONS}")
        return self._add(Fault("malformed", times=times, after=after, path=path, malformation=how))

    def redirect(self, to: str, status: int = 302, times: int = 1, path: str | None = None,
                 after: int = 0) -> Fault:
        """Answer ``times`` matching requests (streaming connections too) with a redirect (HTTP ``status``) to
        ``to``: a base URL (``http://host:port``, the request's path and query appended), or a URL with a path of
        its own, taken as it is."""
        return self._add(Fault("redirect", times=times, after=after, path=path, status=status, location=to))

    def damage_gzip(self, times: int = 1, path: str | None = None, after: int = 0) -> Fault:
        """Send ``times`` matching answers with ``Content-Encoding: gzip`` over a body that is no gzip stream (a
        broken proxy): the client cannot decode it."""
        return self._add(Fault("damaged_gzip", times=times, after=after, path=path))

    @staticmethod
    def _redirect_answer(fault: Fault, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        target = fault.location
        if urlsplit(target).path in {"", "/"}:
            target = target.rstrip("/") + path + (f"?{query}" if query else "")
        return fault.status, {"Location": target}, b""

    def stream(self, *bodies: bytes) -> None:
        """Serve these event-stream bodies to the next streaming connections (one each), in order; a
        :class:`CutShort` body is sent, then the connection is closed before the rest its length announced."""
        with self._lock:
            self.stream_bodies.extend(bodies)

    def recorded_stream(self) -> bytes:
        """The recorded event stream with the most events, as the server sent it."""
        bodies = [r["body"] for _q, r in self._by_path.get("/api/v1/streaming/user", []) if r["status"] == 200]
        return max(bodies, key=lambda b: b.count("event: ")).encode()

    def _stream_as_served(self) -> bytes:
        """The recorded stream, its statuses (``update``, ``status.update``) as another instance serves them when
        ``accounts_domain`` is set (:meth:`_seen_remotely`); every other line as recorded."""
        body = self.recorded_stream()
        if self.accounts_domain is None:
            return body
        lines, event = [], None
        for line in body.decode().split("\n"):
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event in {"update", "status.update"}:
                status = self._seen_remotely(json.loads(line.removeprefix("data: ")))
                line = "data: " + json.dumps(status, ensure_ascii=False, separators=(",", ":"))
            lines.append(line)
        return "\n".join(lines).encode()

    def stream_answer(self, path: str, query: str = "") -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one streaming connection; a queued ``fail`` fault answers its status (with
        its ``Retry-After``, when given), a ``throttle`` fault a 429 as :meth:`answer` does, a ``redirect`` its
        redirect, a ``damaged_gzip`` the stream under a ``Content-Encoding: gzip`` it does not have."""
        fault = self._next_fault(path)
        if fault is not None and fault.kind == "redirect":
            return self._redirect_answer(fault, path, query)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return fault.status, headers, json.dumps({"error": "Error"}).encode()
        if fault is not None and fault.kind == "throttle":
            return 429, self._throttle_headers(fault.reset_in, fault.reset_style), _TOO_MANY
        if path not in {"/api/v1/streaming/public", "/api/v1/streaming/public/local", "/api/v1/streaming/hashtag",
                        "/api/v1/streaming/hashtag/local"}:
            return 404, {}, json.dumps(NOT_FOUND).encode()
        with self._lock:
            body = self.stream_bodies.pop(0) if self.stream_bodies else self._stream_as_served()
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "private, no-store"}
        if fault is not None and fault.kind == "damaged_gzip":
            headers["Content-Encoding"] = "gzip"
        return 200, headers, body

    def requests_to(self, path_prefix: str) -> list[Served]:
        with self._lock:
            return [s for s in self.log if s.path.startswith(path_prefix)]

    # -- lifecycle ----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "the double is not started"
        host, port = self._server.server_address[:2]
        return f"http://{self.hostname or host}:{port}"

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]

    def handler(self) -> type[_Handler]:
        """The request handler class of the double's server. A subclass answering some requests its own way returns
        its own subclass of :class:`_Handler` (with ``server_double`` set to it): :meth:`start` and :meth:`stop`
        serve it as they serve this one."""
        double = self

        class Handler(_Handler):
            server_double = double

        return Handler

    def start(self) -> MastodonDouble:
        self._stopped.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="mastodon-double",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MastodonDouble:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- answering ----------------------------------------------------------------------------------------
    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.fired >= fault.times or not fault.matches(path):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.fired += 1
                return fault
        return None

    def _rate_headers(self) -> tuple[dict[str, str], bool]:
        """Rate-limit headers for this request, and whether the window's budget is exceeded."""
        with self._lock:
            now = time.time()
            if now - self._window_start >= self.ratelimit_window:
                self._window_start, self._window_used = now, 0
            self._window_used += 1
            remaining = self.ratelimit_limit - self._window_used
            reset = datetime.fromtimestamp(self._window_start + self.ratelimit_window, UTC)
        headers = {"X-RateLimit-Limit": str(self.ratelimit_limit), "X-RateLimit-Remaining": str(max(0, remaining)),
                   "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z")}
        return headers, remaining < 0

    @staticmethod
    def _throttle_headers(reset_in: float, style: str) -> dict[str, str]:
        """The headers of a 429 whose window resets in ``reset_in`` s, said as ``style`` does (:meth:`throttle`)."""
        reset_at = time.time() + reset_in
        headers = {"X-RateLimit-Remaining": "0"}
        if style == "iso":
            headers["X-RateLimit-Reset"] = datetime.fromtimestamp(reset_at, UTC).isoformat(
                timespec="microseconds").replace("+00:00", "Z")
        elif style == "epoch":
            headers["X-RateLimit-Reset"] = str(int(reset_at + 0.999))
        elif style == "retry_after":
            headers["Retry-After"] = str(max(0, round(reset_in)))
        return headers

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes, str | None]:
        """(status, headers, body, fault name) for one GET."""
        fault = self._next_fault(path)
        if fault is not None and fault.kind == "redirect":
            return (*self._redirect_answer(fault, path, urlencode(params)), "redirect")
        held = (fault.delay if fault is not None and fault.kind == "slow" else 0.0) + self.delay
        if held and self._stopped.wait(held):
            # stopped meanwhile (the client gave up on a slow answer and the test ended): answering needs the
            # server's address, gone now; the client is gone too
            return 503, {}, b'{"error": "the double stopped"}', "stopped"
        headers, over = self._rate_headers()
        if (fault is not None and fault.kind == "throttle") or over:
            reset_in = fault.reset_in if fault is not None and fault.kind == "throttle" else (
                self._window_start + self.ratelimit_window - time.time())
            style = fault.reset_style if fault is not None and fault.kind == "throttle" else "iso"
            headers.pop("X-RateLimit-Reset")  # a throttle of another style names no reset
            return 429, {**headers, **self._throttle_headers(reset_in, style)}, _TOO_MANY, "throttle"
        if fault is not None and fault.kind == "status":
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            return fault.status, headers, json.dumps({"error": fault.error}).encode(), "status"
        status, extra, body = self._route(path, params)
        headers.update(extra)
        name = fault.kind if fault is not None else None
        if fault is not None and fault.kind == "malformed" and status == 200:
            how = fault.malformation
            if how == "not_json":
                headers["Content-Type"] = "text/html; charset=utf-8"
                return 200, headers, b"<html><body><h1>502 Bad Gateway</h1></body></html>", name
            encoded = json.dumps(body).encode()
            if how == "truncated":
                return 200, headers, encoded[: len(encoded) // 2], name
            if how == "wrong_shape":
                return 200, headers, json.dumps({"items": body} if isinstance(body, list) else [body]).encode(), name
            if isinstance(body, list):
                body = _malform_items(body, how)
        if fault is not None and fault.kind == "damaged_gzip":
            headers["Content-Encoding"] = "gzip"  # over the plain JSON: no gzip header, "incorrect header check"
        return status, headers, json.dumps(body).encode(), name

    def _route(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if path == "/api/v1/timelines/public":
            local = params.get("local", "").lower() in {"1", "true"}
            pool = [s for s in self.public_statuses() if not local or "@" not in s["account"]["acct"]]
            return self._page(path, params, pool)
        if path.startswith("/api/v1/timelines/tag/"):
            tag = unquote(path.rsplit("/", 1)[1]).lower()
            pool = [s for s in self.public_statuses()
                    if any(str(t.get("name", "")).lower() == tag for t in s.get("tags") or [])]
            return self._page(path, params, pool)
        if path.startswith("/api/v1/accounts/") and path.endswith("/statuses") and "lookup" not in path:
            account_id = path.split("/")[4]
            if account_id not in {a["id"] for a in self.accounts()}:
                return 404, {}, NOT_FOUND
            pool = [s for s in self.public_statuses() if s["account"]["id"] == account_id]
            return self._page(path, params, pool)
        if path == "/api/v1/accounts/lookup":
            acct = params.get("acct", "").lstrip("@").lower()
            # a local account by its handle with the instance's domain too, or with its handle domain (LOCAL_DOMAIN)
            homes = [self.domain, *([self.handle_domain] if self.handle_domain else [])]
            for account in self.accounts():
                if "acct" in account and acct in {account["acct"].lower(), *(f"{account['acct'].lower()}@{home}"
                                                                             for home in homes)}:
                    return 200, {}, self._recorded_account(account)
            return 404, {}, NOT_FOUND
        if path == "/api/v2/instance" and not self.instance_v2:
            return 404, {}, NOT_FOUND
        if path in {"/api/v1/instance", "/api/v2/instance"}:  # name the streaming server (the double itself)
            status, headers, body = self._recorded(path)
            streaming = self.streaming_url or "ws://" + self.domain
            if isinstance(body, dict) and path.endswith("v1/instance"):
                body.setdefault("urls", {})["streaming_api"] = streaming
            elif isinstance(body, dict):
                body.setdefault("configuration", {}).setdefault("urls", {})["streaming"] = streaming
            if isinstance(body, dict) and self.handle_domain is not None:
                body["uri" if path.endswith("v1/instance") else "domain"] = self.handle_domain
            return status, headers, body
        if path in {"/api/v1/trends/tags", "/api/v1/trends"}:
            served = "/api/v1/trends/tags" if self.trends_offset else "/api/v1/trends"
            return self._trends(path, params) if path == served else (404, {}, NOT_FOUND)
        return self._recorded(path)

    def _trends(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """The trending tags as Mastodon serves them: ``limit`` (default ``trends_default_limit``, Mastodon's
        ``MAX_TRENDING_TAGS``: 10; at most twice that) of them from ``offset``, and a
        ``Link`` header as ``Api::V1::Trends::TagsController`` writes it (``next`` when the page is full, ``prev``
        when ``offset`` > ``limit``, ``limit`` kept). Mastodon 3.0–3.4 (``trends_offset`` False) serves them at
        ``/api/v1/trends``, which takes no ``offset`` and sends no ``Link``."""
        try:
            default = self.trends_default_limit
            limit = min(abs(int(params.get("limit") or default)), 2 * default)
            offset = int(params.get("offset") or 0) if self.trends_offset else 0
        except ValueError:
            return 400, {}, {"error": "invalid paging parameter"}
        page = self.tags[offset:offset + limit]
        links = []
        if self.trends_offset:
            keep = {"limit": params["limit"]} if "limit" in params else {}
            base = self.url + path
            if len(page) == limit:
                links.append(f'<{base}?{urlencode({**keep, "offset": offset + limit})}>; rel="next"')
            if offset > limit:
                links.append(f'<{base}?{urlencode({**keep, "offset": offset - limit})}>; rel="prev"')
        return 200, {"Link": ", ".join(links)} if links else {}, copy.deepcopy(page)

    def _recorded(self, path: str) -> tuple[int, dict[str, str], Any]:
        recorded = self._by_path.get(path)
        if recorded:
            ok = [r for _q, r in recorded if r["status"] == 200] or [r for _q, r in recorded]
            response = ok[-1]
            return response["status"], {}, copy.deepcopy(response["body"])
        return 404, {}, NOT_FOUND

    def _recorded_account(self, account: dict[str, Any]) -> dict[str, Any]:
        for _query, response in self._by_path.get("/api/v1/accounts/lookup", []):
            body = response["body"]
            if response["status"] == 200 and isinstance(body, dict) and body.get("id") == account["id"]:
                return copy.deepcopy(body)
        return copy.deepcopy(account)

    def _seen_remotely(self, status: dict[str, Any]) -> dict[str, Any]:
        """``status`` as another instance serves it: local accts get ``@accounts_domain``."""
        status = copy.deepcopy(status)
        nested = [status, status.get("reblog"), (status.get("quote") or {}).get("quoted_status")]
        for entity in (s for s in nested if isinstance(s, dict)):
            for account in [entity.get("account"), *(entity.get("mentions") or [])]:
                if isinstance(account, dict) and "@" not in str(account.get("acct", "@")):
                    account["acct"] = f"{account['acct']}@{self.accounts_domain}"
        return status

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]
              ) -> tuple[int, dict[str, str], Any]:
        """Mastodon's paging: newest first; max_id/since_id exclusive bounds; min_id = the items just above. An id
        is read as Mastodon's query reads it (:func:`_as_mastodon_reads`): one that is not a number (another
        server's text id) matches nothing, an empty page."""
        try:
            limit = max(1, min(int(params.get("limit") or 20), 40))
        except ValueError:
            return 400, {}, {"error": "invalid paging parameter"}
        given = {name: params[name] for name in ("max_id", "since_id", "min_id") if params.get(name)}
        bounds = {name: _as_mastodon_reads(value) for name, value in given.items()}
        max_id, since_id, min_id = (bounds.get(name) for name in ("max_id", "since_id", "min_id"))
        chosen = [] if None in bounds.values() else [
            s for s in pool if (max_id is None or int(s["id"]) < max_id)
            and (since_id is None or int(s["id"]) > since_id) and (min_id is None or int(s["id"]) > min_id)]
        chosen = chosen[-limit:] if min_id is not None else chosen[:limit]
        if self.accounts_domain is not None:
            chosen = [self._seen_remotely(s) for s in chosen]
        headers: dict[str, str] = {}
        if chosen:
            keep = {k: v for k, v in params.items() if k not in {"max_id", "since_id", "min_id"}}
            base = self.url + quote(path)
            next_url = f"{base}?{urlencode({**keep, 'max_id': chosen[-1]['id']})}"
            prev_url = f"{base}?{urlencode({**keep, 'min_id': chosen[0]['id']})}"
            headers["Link"] = f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'
        return 200, headers, copy.deepcopy(chosen)


class _Handler(BaseHTTPRequestHandler):
    server_double: MastodonDouble
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: without this, 40 ms delayed ACKs

    def handle(self) -> None:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):  # the client went away (killed, timeout)
            super().handle()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        double = self.server_double
        if path.startswith("/api/v1/streaming/"):
            status, headers, body = double.stream_answer(path, parts.query)
            fault = None
        else:
            status, headers, body, fault = double.answer(path, params)
        with double._lock:
            double.log.append(Served(path, params, status, fault, self.headers.get("Authorization"),
                                     user_agent=self.headers.get("User-Agent")))
        try:
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body) + (1000 if isinstance(body, CutShort) else 0)))
            self.end_headers()
            self.wfile.write(body)
            if isinstance(body, CutShort):
                self.close_connection = True  # the rest never comes: the client reads IncompleteRead
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def mastodon_server() -> Iterator[MastodonDouble]:
    """A started Mastodon double (100 public statuses cloned from the recordings), stopped after the test."""
    with MastodonDouble() as double:
        yield double
