"""``fediscope stream``: land a Mastodon streaming timeline into the raw lake as it happens.

The REST collector (:mod:`fediscope.sources.collector`) walks timelines page by page on a schedule; a busy
federated timeline can outrun it, and it never learns that a status was deleted. The streaming API pushes
every new status (``update``), every edit (``status.update``) and every deletion (``delete``, the bare id) of
a public timeline the moment the instance sees it. This module keeps one stream open and lands what it brings:

* ``update`` and ``status.update`` → ``raw/mastodon/statuses`` records, through the same validation and
  privacy policy as a REST page (:func:`fediscope.sources.pages.land_page`), so curation merges them with
  collected statuses by URI (an edit is a newer version: the latest ``edited_at`` wins);
* ``delete`` → ``raw/mastodon/status_deletions`` records ``{"id": <the instance's status id>}`` (with privacy on
  also ``origin_ref``, the pseudonym of this instance and that id that its own statuses carry); curation
  turns the status curated from that instance with that id into a tombstone, and every copy of a status whose
  home is this instance, fetched from anywhere (:mod:`fediscope.engine.curate_sql`);
* anything else (``notification``, ``filters_changed``, announcements) is counted and dropped.

**Connection.** Mastodon.py opens the stream (it finds the streaming server from the instance's
``urls.streaming_api``, sends the token and user agent). That server is checked once, before anything is opened: it
must be the instance's host or a subdomain of it, over TLS from an https instance, else the run stops at once,
nothing sent there (:mod:`fediscope.sources.streaming_server`); the checked address serves every reconnection. The
listener reads the raw bytes itself (:mod:`fediscope.sources.sse`) rather than through Mastodon.py's event objects,
so payloads land as the server sent them (see :mod:`fediscope.sources.client`, "Why raw JSON"), decoded as their
``Content-Encoding`` says (a proxy may compress the stream); a line that is not UTF-8 text is skipped, counted
(``malformed``) and warned of once a run. The stream is read in a thread; the calling thread flushes batches on time
and closes the connection when the run ends (``duration``, ``max_events``, or ``stop`` — set by SIGINT/SIGTERM in
the CLI). A dropped connection is reopened with the client's backoff, and a refused one no sooner than its
``Retry-After`` (a 429 without one: its ``X-RateLimit-Reset``) asks; a wait longer than ``max_wait`` stops the run
at once, as it fails a collected source. The run stops with the error when ``max_retries`` reconnections in a row
fail (a connection that brought events or stayed open past the read timeout counts as healthy), or at once when the
server refuses the stream (401, 403, 404 …: a missing token does not heal), TLS fails (a certificate that is not
trusted or is for another host, https to a plain-HTTP port: the error says what to check) or the streaming server
redirects to another host or from https to plain HTTP (not followed, as the REST client does not:
:mod:`fediscope.sources.redirects`); a network
failure reads as the REST client's (``network error: [Errno 111] Connection refused``). ``connections`` counts the
connections that opened (the streaming server answered 200), ``failed_connections`` the attempts that did not; a run
that ends (``duration``, ``stop``) without any connection having opened failed, with the last attempt's error: it
streamed nothing. One that streamed and then could not reconnect until the end is a success that reports its failed
attempts and the last one's error (``last_connection_error``). A lake that cannot be written is retried at the next
flush (the items wait in memory), ``max_retries`` times in a row; every exit path flushes, and what could not be
landed in the end is lost (it was only in memory): counted (``unlanded``) and said in the error. An exception
fediscope did not expect (a bug), in the stream or in a flush, fails the stream as ``collect`` fails a source
(``internal error: TYPE: message``, logged once with its traceback), after landing what can be.

**Local accounts** are keyed by the instance's handle domain when it is a proper parent domain of the host
connected to (see :mod:`fediscope.privacy`), learned once per run from the instance document before the stream
is opened (:func:`fediscope.sources.pages.fetch_handle_domain`); a settled answer is remembered in the lake, and
when the document cannot be had the remembered handle domain is used (:mod:`fediscope.sources.handle_domains`;
without one, the domain connected to, as before).

**Batches.** Received items wait in memory (raw, at most ``flush_seconds`` or ``flush_records``) and are
landed together; the privacy policy is applied at that moment with the lake's current suppression list, so an
account erased while the stream runs is not landed from the buffer either.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from mastodon import StreamListener
from mastodon.errors import MastodonError
from urllib3.exceptions import HTTPError

from fediscope.config import Settings, token_env_name
from fediscope.errors import ConfigError, FediscopeError, LakeError
from fediscope.gdpr.opt_outs import PendingNotes
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope, new_batch_id
from fediscope.lake.state import source_batch_tag
from fediscope.privacy import PrivacyPolicy, policy_from_settings
from fediscope.redact import secret_values
from fediscope.sources.client import (
    MastodonClient,
    network_error_text,
    refused_redirect,
    tls_failure,
)
from fediscope.sources.handle_domains import handle_domain_for_run, preload_handle_domains
from fediscope.sources.internal_error import internal_error_text, masked_message
from fediscope.sources.pages import Page, fetch_handle_domain, land_page
from fediscope.sources.quarantine import item_entry, write_quarantine
from fediscope.sources.spec import SourceRef
from fediscope.sources.sse import Event, SSEParser
from fediscope.sources.streaming_server import pin_streaming_server
from fediscope.sources.summary import opted_out_note
from fediscope.wording import count

log = logging.getLogger(__name__)

DELETIONS = "status_deletions"
STATUS_EVENTS = {"update", "status.update"}
#: What a deleted status's id may look like (Mastodon: digits; other servers: ULIDs and the like).
_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
READ_TIMEOUT = 60.0  # seconds without a byte (Mastodon sends a heartbeat every ~15 s) before reconnecting
POLL = 0.1  # how often the calling thread checks the clock, the stop flag and the flush deadline
#: Answers of the streaming server that reconnecting will not change (a missing token, an unknown stream).
REFUSALS = frozenset({400, 401, 403, 404, 410, 422})


#: How a summary line says why a run ended (``StreamSummary.stopped``; ``error`` gives "stopped by an error: …").
STOP_REASONS = {"duration": "stopped at --duration", "max-events": "stopped at --max-events",
                "stopped": "stopped on request (Ctrl-C or SIGTERM)"}


@dataclass
class StreamSummary:
    instance: str
    source: str
    events: Counter[str] = field(default_factory=Counter)  # every event received, by name
    landed: int = 0       # status records landed (new statuses and edits)
    edits: int = 0        # of ``landed``: edits (``status.update``); those the privacy policy left out are not
    deletions: int = 0    # deletion records landed
    skipped: int = 0      # statuses the privacy policy left out (opt-outs, erased accounts, not public)
    #: of ``skipped``: statuses whose own account opted out (a count only: which accounts is never said)
    opted_out: int = 0
    quarantined: int = 0  # payloads that were not what the API documents
    malformed: int = 0    # lines of the event stream that could not be read (not UTF-8), skipped
    unlanded: int = 0     # received items the last flush could not land: lost (the error says why)
    batches: list[str] = field(default_factory=list)
    connections: int = 0  # connections that opened (the streaming server answered 200)
    failed_connections: int = 0  # attempts that did not open (unreachable, an HTTP error), the run's end aside
    last_connection_error: str | None = None  # the last failed attempt's error
    stopped: str = ""     # duration | max-events | stopped (the stop event: Ctrl-C or SIGTERM in the CLI) | error
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        others = sum(n for name, n in self.events.items() if name not in STATUS_EVENTS | {"delete"})
        failed = f", {self.failed_connections} failed" if self.failed_connections else ""
        text = (f"stream {self.instance} {self.source}: {count(sum(self.events.values()), 'event')} in "
                f"{self.seconds:.0f} s ({count(self.connections, 'connection')}{failed}); landed "
                f"{count(self.landed, 'status')} ({count(self.edits, 'edit')}) and "
                f"{count(self.deletions, 'deletion')} in {count(len(self.batches), 'batch')}; {self.skipped} left out "
                f"by the privacy policy{opted_out_note(self.opted_out)}, {self.quarantined} quarantined, "
                f"{count(others, 'other event')} ignored")
        if self.malformed:
            text += f", {count(self.malformed, 'unreadable line')} skipped"
        if self.stopped == "error" and self.error:
            return f"{text}; stopped by an error: {self.error}"
        text += f"; {STOP_REASONS.get(self.stopped, f'stopped: {self.stopped}')}"
        if self.error:
            return f"{text}; error: {self.error}"
        return text + (f"; last failed connection: {self.last_connection_error}" if self.last_connection_error else "")

    def to_dict(self) -> dict[str, Any]:
        return {"instance": self.instance, "source": self.source, "events": dict(sorted(self.events.items())),
                "landed": self.landed, "edits": self.edits, "deletions": self.deletions,
                "skipped": self.skipped, "opted_out": self.opted_out, "quarantined": self.quarantined,
                "malformed": self.malformed, "unlanded": self.unlanded, "batches": self.batches,
                "connections": self.connections, "failed_connections": self.failed_connections,
                "last_connection_error": self.last_connection_error, "stopped": self.stopped, "error": self.error,
                "seconds": round(self.seconds, 3), "ok": self.ok}


def stream_endpoint(source: SourceRef) -> str:
    """The streaming path a source is read from (it lands in every record's ``meta.endpoint``)."""
    if source.kind == "public":
        return "/api/v1/streaming/public"
    if source.kind == "local":
        return "/api/v1/streaming/public/local"
    if source.kind == "tag":
        return "/api/v1/streaming/hashtag"
    raise ConfigError(f"source {source.name!r} has no stream; stream public, local or tag:NAME")


def deletion_data(domain: str, status_id: str, policy: PrivacyPolicy) -> dict[str, str]:
    """The landed ``data`` of a ``delete`` event from ``domain``: the instance's id of the status and, with privacy
    on, ``origin_ref``, the pseudonym that the statuses this instance is the home of carry
    (:meth:`~fediscope.privacy.PrivacyPolicy.origin_ref`), so that copies fetched elsewhere match too."""
    data = {"id": status_id}
    if policy.enabled:
        data["origin_ref"] = policy.origin_ref(domain, status_id)
    return data


class _Buffer:
    """Received items waiting to be landed; filled by the reader thread, emptied by :meth:`flush`."""

    def __init__(self, lake: LakeBackend, settings: Settings, domain: str, source: SourceRef,
                 summary: StreamSummary, batch_tag: str) -> None:
        self.lake, self.settings, self.domain, self.source = lake, settings, domain, source
        self.summary, self.batch_tag = summary, batch_tag
        self.endpoint = stream_endpoint(source)
        self.handle_domain: str | None = None  # of the instance's local accounts, when learned (StreamRun.run)
        self._items: list[tuple[Event, datetime]] = []
        self._lock = threading.Lock()
        # A flush that failed part-way: its items, batch id and the kinds of file already written, so the next
        # flush writes only the rest (never a second copy of a file that was landed).
        self._unfinished: tuple[list[tuple[Event, datetime]], str, set[str]] | None = None
        # opted-out accounts noted in the lake by this stream: each once while its note is pending (a note per
        # batch would pile up), again once a curation applied it (it may have opted back in and out meanwhile)
        self._opt_outs = PendingNotes("stream")

    def __len__(self) -> int:
        with self._lock:
            return len(self._items) + (len(self._unfinished[0]) if self._unfinished else 0)

    def unlanded(self) -> int:
        """Received items not landed yet: the waiting ones, and those of a part-way flush whose file is missing."""
        with self._lock:
            waiting = len(self._items)
        unfinished = self._unfinished
        if unfinished is not None:
            items, _batch_id, done = unfinished
            waiting += sum(1 for event, _at in items
                           if (DELETIONS if event.name == "delete" else "statuses") not in done)
        return waiting

    def add(self, event: Event) -> None:
        with self._lock:
            self._items.append((event, datetime.now(UTC)))

    def flush(self) -> None:
        """Land everything received so far (statuses, deletions, quarantine), each kind as one batch file.

        A flush that fails part-way is finished first by the next one: the files it wrote are not written
        again, the others are landed from the same items (with the suppression list read again)."""
        if self._unfinished is not None:
            items, batch_id, done = self._unfinished
            self._land(items, batch_id, done)  # raises again while the lake still fails
            self._unfinished = None
        with self._lock:
            items, self._items = self._items, []
        if not items:
            return
        batch_id, done = f"{self.batch_tag}-{new_batch_id(items[0][1])}", set()
        try:
            self._land(items, batch_id, done)
        except BaseException:
            self._unfinished = (items, batch_id, done)  # nothing received is dropped because the lake failed
            raise

    def _land(self, items: list[tuple[Event, datetime]], batch_id: str, done: set[str]) -> None:
        """Write the files of ``items`` not in ``done`` (entity names, and ``quarantine``), adding each to
        ``done`` as it is written; the summary counts a file's records once it is written."""
        policy = policy_from_settings(self.settings, suppressed=load_suppressed(self.lake))
        # every handle domain the lake remembers (read again with the suppression list), so an account
        # erased under one name is left out under the other, also on a stream of another instance
        # (while anybody is erased, a memory that cannot be read fails the flush: see StreamRun._prepare)
        preload_handle_domains(self.lake, policy, self.settings.origin("lake"))
        policy.use_handle_domain(self.domain, self.handle_domain)
        statuses: list[dict[str, Any]] = []
        deletions: list[dict[str, Any]] = []
        quarantined: list[dict[str, Any]] = []
        skipped = opted_out = edits = 0
        for event, received_at in items:
            if event.name == "delete":
                self._deletion(event, received_at, deletions, quarantined, policy)
            else:
                before = len(statuses)
                left_out, left_out_opted = self._status(event, received_at, statuses, quarantined, policy)
                skipped, opted_out = skipped + left_out, opted_out + left_out_opted
                edits += len(statuses) - before if event.name == "status.update" else 0
        for entity, records in (("statuses", statuses), (DELETIONS, deletions)):
            if entity in done:
                continue
            path = write_batch(self.lake, entity, self.domain, records, fetched_at=items[0][1], batch_id=batch_id)
            done.add(entity)
            if path:
                self.summary.batches.append(path)
            if entity == DELETIONS:
                self.summary.deletions += len(records)
            else:
                self.summary.landed += len(records)
                self.summary.edits += edits
                self.summary.skipped += skipped
                self.summary.opted_out += opted_out
        if quarantined and "quarantine" not in done:
            write_quarantine(self.lake, self.domain, self.endpoint, quarantined, batch_id, items[0][1])
            self.summary.quarantined += len(quarantined)
        done.add("quarantine")
        # the next curation erases what was landed of them before (fediscope.gdpr.opt_outs)
        self._opt_outs.note(self.lake, policy.opted_out)
        log.info("stream %s %s: landed %d statuses, %d deletions (%d quarantined)", self.domain, self.source.name,
                 len(statuses), len(deletions), len(quarantined))

    def _status(self, event: Event, received_at: datetime, out: list[dict[str, Any]],
                quarantined: list[dict[str, Any]], policy: PrivacyPolicy) -> tuple[int, int]:
        """Land one status event into ``out`` (or ``quarantined``); returns (skipped, opted out): (1, 0) when the
        policy left it out, (1, 1) when that was because its account opted out, else (0, 0)."""
        try:
            item = json.loads(event.data)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the decoder goes
            why = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
            quarantined.append(item_entry(f"{event.name} event: payload is {why}", event.data,
                                          keep_raw=not policy.enabled, secrets=secret_values(self.settings),
                                          scrub=policy.quarantine_scrub(self.domain)))
            return 0, 0
        page = Page(self.source, self.domain, self.endpoint, [item], fetched_at=received_at)
        landed = land_page(page, policy)
        out.extend(landed.records)
        if landed.quarantined:  # with privacy off, kept without what it holds of an erased account, as the collector
            scrub = policy.quarantine_scrub(self.domain)
            quarantined.extend(item_entry(f"{event.name} event: {q.reason}", q.item, keep_raw=not policy.enabled,
                                          secrets=secret_values(self.settings), scrub=scrub)
                               for q in landed.quarantined)
        return landed.skipped, landed.opted_out

    def _deletion(self, event: Event, received_at: datetime, out: list[dict[str, Any]],
                  quarantined: list[dict[str, Any]], policy: PrivacyPolicy) -> None:
        status_id = event.data.strip().strip('"')
        if not _ID_RE.fullmatch(status_id):
            quarantined.append(item_entry("delete event: payload is not a status id", event.data,
                                          keep_raw=not policy.enabled, secrets=secret_values(self.settings),
                                          scrub=policy.quarantine_scrub(self.domain)))
            return
        out.append(envelope(self.domain, self.endpoint, deletion_data(self.domain, status_id, policy), received_at))


class _Listener(StreamListener):
    """Reads the raw stream Mastodon.py opened (``handle_stream``) and hands each event to ``on_event``, and each
    line it could not read (not UTF-8) to ``on_malformed``.

    The body is decoded as its ``Content-Encoding`` says: requests asks for gzip, and a proxy in front of the
    streaming server may well compress the event stream (read undecoded, it yielded no event at all)."""

    def __init__(self, on_event: Callable[[Event], None], on_malformed: Callable[[int], None] = lambda _n: None,
                 ) -> None:
        self.on_event, self.on_malformed = on_event, on_malformed
        self.response: requests.Response | None = None
        self.closing = False
        self.received = 0  # events

    @property
    def opened(self) -> bool:
        """Whether the streaming server answered 200 (Mastodon.py hands the response over only then)."""
        return self.response is not None

    def handle_stream(self, response: requests.Response) -> None:
        self.response = response
        parser = SSEParser()
        while not self.closing:
            chunk = response.raw.read1(65536, decode_content=True)
            if not chunk or self.closing:
                return  # the server ended the stream, or the run did (nothing is taken after the last flush)
            malformed = parser.malformed
            for event in parser.feed(chunk):
                self.received += 1
                self.on_event(event)
            if parser.malformed != malformed:
                self.on_malformed(parser.malformed - malformed)

    def close(self) -> None:
        """Called from the other thread: end the read at once, even on a quiet stream (a blocked ``recv`` is
        woken by shutting the socket down; closing it alone would wait for the next heartbeat)."""
        self.closing = True
        response = self.response
        if response is None:
            return
        with contextlib.suppress(ValueError, RuntimeError, OSError, AttributeError):
            response.raw.shutdown()
        response.close()


class StreamRun:
    """One ``fediscope stream`` run: see the module docstring. :meth:`run` returns the summary."""

    def __init__(self, settings: Settings, instance: str, source: SourceRef, *, duration: float | None = None,
                 max_events: int | None = None, flush_records: int = 500, flush_seconds: float = 30.0,
                 stop: threading.Event | None = None, read_timeout: float = READ_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        stream_endpoint(source)  # refuses sources without a stream before anything is opened
        self.settings, self.source = settings, source
        self.duration, self.max_events = duration, max_events
        self.flush_records, self.flush_seconds = flush_records, flush_seconds
        self.stop = stop or threading.Event()
        self.read_timeout, self.clock = read_timeout, clock
        self.client = MastodonClient.from_settings(settings, instance)
        self.summary = StreamSummary(instance=self.client.domain, source=source.name)
        self._events = 0
        self.lake = open_lake(settings.lake)
        tag = source_batch_tag(policy_from_settings(settings), source)  # no pseudonym key: ConfigError, here
        self.buffer = _Buffer(self.lake, settings, self.client.domain, source, self.summary, f"{tag}-stream")

    # -- the run ------------------------------------------------------------------------------------------
    def run(self) -> StreamSummary:
        """Stream until the run ends; never raises (the summary says it: ``error`` and ``stopped="error"``).

        An exception fediscope did not expect (a bug), in the stream or in a flush, fails this stream as ``collect``
        fails a source (:meth:`_internal_error`); what was received is landed first, as far as it can be
        (:meth:`_final_flush`)."""
        started = self.clock()
        self._deadline = started + self.duration if self.duration is not None else None
        self._flush_at = started + self.flush_seconds
        self._flush_failures = 0
        self._internal_errors: set[str] = set()  # those logged already (a flush that fails again is not logged twice)
        # since when no connection is open, and how many attempts failed since (said when one opens again)
        self._lost_at, self._failed_since = started, 0
        try:
            if self._unless_ended(self._prepare):
                self._loop()
        except FediscopeError as exc:
            self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not lose what was received: land it, report it
            self._fail(self._internal_error(exc))
        finally:
            self._final_flush()
            self.client.close()
            self.summary.seconds = self.clock() - started
        if not self.summary.stopped:
            self.summary.stopped = self._done() or "stopped"
        if self.summary.error is None and not self.summary.connections:
            # it streamed nothing: whatever ended the run, it failed (the last attempt's error says why)
            self.summary.error = (self.summary.last_connection_error
                                  or "no connection to the streaming server opened before the run ended")
        return self.summary

    def _final_flush(self) -> None:
        """Land what is left when the run ends. What cannot be landed now is lost (it was only ever in memory, and
        a stream cannot be replayed): counted in ``unlanded`` and said in the error, with why; the files that were
        written stay landed and counted (a flush that fails part-way keeps them)."""
        try:
            self.buffer.flush()
            return
        except FediscopeError as exc:
            why = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug at the last flush: the summary must still be printed
            why = self._internal_error(exc)
        lost = self.summary.unlanded = self.buffer.unlanded()
        prior = self.summary.error
        what = f"{count(lost, 'received item')} could not be landed and {'is' if lost == 1 else 'are'} lost"
        if prior is None:
            self._fail(f"{what}: {why}" if lost else why)
        elif why in prior:  # the error that stopped the run, again
            self._fail(f"{prior}; {what}" if lost else prior)
        else:
            self._fail(f"{prior}; {what}: {why}" if lost else f"{prior}; {why}")

    def _internal_error(self, exc: Exception) -> str:
        """The error of a stream failed by an exception fediscope did not expect, worded as ``collect`` words a
        source's (:func:`~fediscope.sources.internal_error.internal_error_text`: masked, on one line); logged at
        ERROR with its traceback (masked by the log handler), once: a last flush that fails again the same way adds
        no second traceback."""
        text = internal_error_text(exc, self.settings)
        if text not in self._internal_errors:
            self._internal_errors.add(text)
            log.error("stream %s %s failed unexpectedly", self.client.domain, self.source.name, exc_info=exc)
        return text

    def _prepare(self) -> None:
        """What is asked of the instance once, before the stream is opened: its streaming server, checked, and the
        handle domain of its local accounts. First, while anybody is erased, the lake's memory of handle domains
        must be readable (:func:`~fediscope.sources.handle_domains.preload_handle_domains`, as ``collect`` and the
        scraping API refuse): without it an erased account could be landed under its other name, and every flush
        would fail on it until the run stops, the events received lost. A suppression list that cannot be read is
        left to the flushes, as before (they say it, and retry)."""
        try:
            policy = policy_from_settings(self.settings, suppressed=load_suppressed(self.lake))
        except LakeError:
            policy = None
        if policy is not None and policy.suppressed:
            preload_handle_domains(self.lake, policy, self.settings.origin("lake"))
        with self._warnings_logged():  # Mastodon.py warns when the public timeline needs a login
            pin_streaming_server(self.client)  # refuses another host's before any connection to it
        if self.buffer.handle_domain is None:  # with privacy off too: an erased account's other name (collector)
            # once per run; never raises for what the instance does (LakeError for a damaged memory file)
            self.buffer.handle_domain = handle_domain_for_run(self.lake, self.client.domain,
                                                              fetch_handle_domain(self.client))

    def _unless_ended(self, work: Callable[[], None]) -> bool:
        """Run ``work`` in a thread while the run goes on; False when the run ended first (Ctrl-C, SIGTERM,
        ``duration``), else what ``work`` raised is raised here.

        The instance document is asked for with the client's timeouts and retries: an instance that accepts the
        connection and never answers holds it for minutes, and a stop must not wait for that (systemd kills the
        process 30 s after SIGTERM). The thread left behind (a daemon) holds nothing received."""
        worker, outcome = _started(work, f"stream-prepare-{self.client.domain}")
        while worker.is_alive():
            worker.join(POLL)
            if self._done():
                return False
        if "error" in outcome:
            raise outcome["error"]
        return True

    def _fail(self, error: str) -> None:
        self.summary.error, self.summary.stopped = error, "error"

    def _loop(self) -> None:
        failures = 0
        while not self._done():
            connected_at = self.clock()
            received, error, permanent, asked = self._connection()
            if self._done():
                return
            if self._lost_at is None:  # it had opened: the stream is lost from now
                self._lost_at = self.clock()
            # a connection that brought events, or stayed open past the read timeout (heartbeats), was healthy
            healthy = received > 0 or self.clock() - connected_at >= self.read_timeout
            failures = 0 if healthy else failures + 1
            if error is None:  # the server ended the stream (a restart): open it again
                error = "the server closed the stream"
            if asked is not None and asked > self.client.max_wait:  # as collect does: not retried sooner, nor waited
                error += f"; {self.client.too_long_wait(asked)}"
                permanent = True
            if permanent or failures > self.client.max_retries:  # max_retries reconnections failed in a row
                self._fail(error)
                return
            # no sooner than the refusal's Retry-After (a 429's window reset) asks
            delay = max(self.client.backoff_delay(max(failures - 1, 0)), asked or 0.0)
            log.warning("stream %s %s: %s; reconnecting in %.1f s", self.client.domain, self.source.name, error,
                        delay)
            self._sleep(delay)

    def _done(self) -> str:
        """Why the run should end now ("" while it should go on)."""
        if self.stop.is_set():
            return "stopped"
        if self._deadline is not None and self.clock() >= self._deadline:
            return "duration"
        if self.max_events is not None and self._events >= self.max_events:
            return "max-events"
        return ""

    def _sleep(self, seconds: float) -> None:
        end = self.clock() + seconds
        while not self._done() and self.clock() < end:
            self.stop.wait(min(POLL, max(0.0, end - self.clock())))

    def _on_event(self, event: Event) -> None:
        if self.max_events is not None and self._events >= self.max_events:
            return  # arrived in the same read as the last wanted one
        self._events += 1  # the total, read by the calling thread (the Counter is only written here)
        self.summary.events[event.name] += 1
        if event.name in STATUS_EVENTS or event.name == "delete":
            self.buffer.add(event)

    def _on_malformed(self, lines: int) -> None:
        """Lines of the stream the parser skipped; the first ones of a run are logged (once: a stream that is not
        text at all would log every chunk), the summary counts them all."""
        if not self.summary.malformed:
            log.warning("stream %s %s: skipped a line of the event stream that is not UTF-8 text (the summary "
                        "counts them); is something between here and the streaming server altering the stream?",
                        self.client.domain, self.source.name)
        self.summary.malformed += lines

    def _connection(self) -> tuple[int, str | None, bool, float | None]:
        """One connection, read in a thread until it ends or the run does: (events received, error or None,
        whether the error is a refusal that retrying will not heal, the seconds a refusal asked to wait or None)."""
        listener = _Listener(self._on_event, self._on_malformed)

        def read() -> None:
            with self._warnings_logged():
                self._open(listener)

        reader, outcome = _started(read, f"stream-{self.client.domain}")
        try:
            while reader.is_alive():
                reader.join(POLL)
                self._note_opened(listener)
                if self._done():
                    break
                if self.clock() >= self._flush_at or (len(self.buffer) >= self.flush_records
                                                      and not self._flush_failures):  # a failed lake waits
                    self._flush_on_time()
        finally:
            if reader.is_alive():
                listener.close()
                reader.join(5)
        self._note_opened(listener)  # one that opened and ended within a poll
        if listener.opened:
            self.summary.connections += 1
        error = outcome.get("error")
        if error is None or listener.closing:  # closing: the run ended it (or ended the attempt to open it)
            return listener.received, None, False, None
        # a refusal, a TLS failure (a certificate not trusted, https to a plain-HTTP port) or a redirect to another
        # host: reconnecting repeats it
        permanent = (isinstance(error, MastodonError) and self.client.last_status in REFUSALS) or \
            tls_failure(error) is not None or refused_redirect(error) is not None
        described = self._describe(error)
        if not listener.opened:
            self.summary.failed_connections += 1
            self._failed_since += 1
            self.summary.last_connection_error = described
        # Mastodon.py raises a MastodonError for an answer other than 200: the client's last answer is that one
        asked = self.client.last_answer_wait() if isinstance(error, MastodonError) else None
        return listener.received, described, permanent, asked

    def _note_opened(self, listener: _Listener) -> None:
        """Once per connection that opened after the stream was lost (or after failed first attempts): a warning
        that closes the ``reconnecting`` ones, so a log whose last line is a failure means the stream is down. It
        says how long no connection was open: what was posted meanwhile waits for the scheduled collect."""
        if not listener.opened or self._lost_at is None:
            return
        if self.summary.connections or self._failed_since:
            after = f"after {count(self._failed_since, 'failed attempt')}, " if self._failed_since else ""
            log.warning("stream %s %s: connected%s (%s%.1f s without a connection)", self.client.domain,
                        self.source.name, " again" if self.summary.connections else "", after,
                        self.clock() - self._lost_at)
        self._lost_at, self._failed_since = None, 0

    @contextlib.contextmanager
    def _warnings_logged(self) -> Iterator[None]:
        """Mastodon.py's warnings, raised in the block, as this run's log lines (also when the block raises)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                for warning in caught:
                    log.warning("stream %s: %s", self.client.domain, warning.message)

    def _flush_on_time(self) -> None:
        """A periodic flush; a lake that fails is retried at the next one (what was received stays in memory),
        up to ``max_retries`` failures in a row, then the run stops with the lake's error. Anything else raised (a
        bug) stops the run at once: :meth:`run` reports it as an internal error, and its last flush tries again."""
        try:
            self.buffer.flush()
            self._flush_failures = 0
        except FediscopeError as exc:
            self._flush_failures += 1
            if self._flush_failures > self.client.max_retries:
                raise
            log.warning("stream %s %s: could not land %d received items (%s); retrying in %.0f s",
                        self.client.domain, self.source.name, self.buffer.unlanded(), exc, self.flush_seconds)
        self._flush_at = self.clock() + self.flush_seconds

    def _open(self, listener: _Listener) -> None:
        api, timeout = self.client.api, self.read_timeout
        if self.source.kind == "tag":
            api.stream_hashtag(self.source.arg, listener, timeout=timeout)
        else:
            api.stream_public(listener, local=self.source.kind == "local", timeout=timeout)

    def _describe(self, error: BaseException) -> str:
        """One line for a failed connection; the streaming server's refusal names the token setting."""
        status = self.client.last_status
        if isinstance(error, MastodonError) and status in (401, 403):
            return (f"the streaming server refused the connection (HTTP {status}); most instances need "
                    f"an access token for streams: set {token_env_name(self.client.domain)}")
        if (elsewhere := refused_redirect(error)) is not None:
            return elsewhere.explained("the streaming server")
        if isinstance(error, MastodonError) and status is not None and status >= 400:
            return f"the streaming server answered HTTP {status}"
        if isinstance(error, (requests.exceptions.RequestException, HTTPError, OSError)):
            # worded as the REST client words it: "network error: [Errno 111] Connection refused", "TLS error: …"
            return network_error_text(error)
        # anything else (a MastodonError of Mastodon.py's own, a bug) quotes what it was given, a URL or a header
        # perhaps: masked as a log line is, since the summary is printed as it is
        text = masked_message(error, self.settings, 200)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _started(work: Callable[[], None], name: str) -> tuple[threading.Thread, dict[str, BaseException]]:
    """``work`` started in a daemon thread (a stop does not wait for it), and where what it raised is kept
    (``"error"``) for the thread watching it to report or raise."""
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the watching thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread, outcome
