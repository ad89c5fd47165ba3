"""Fetch one page of a source and turn it into landed records: the code path the collector and the API share.

``fetch_page`` asks an instance for one page (a timeline page, the instance document, the peers list …) and
returns the raw JSON items plus the paging cursors from the ``Link`` header. ``land_page`` validates every item,
applies the privacy policy and wraps the survivors in the lake's envelope; items that are not what the Mastodon
API documents go to ``quarantined`` instead of crashing anything.

How Mastodon pages: a timeline answers newest first, at most ``limit`` (40) statuses, and a ``Link`` header::

    Link: <https://host/api/v1/timelines/public?max_id=110>; rel="next",
          <https://host/api/v1/timelines/public?min_id=150>; rel="prev"

``max_id`` (exclusive) walks back in time, ``since_id`` (exclusive) bounds the walk from below while still
returning the newest items first, and ``min_id`` returns the items just above it (walking forward). Ids are
strings; on Mastodon they are snowflakes that sort by time (compare them as numbers when they are digits).

The directory and the trending tags page otherwise: ``offset`` (how many items to skip) and ``limit`` (the
directory at most 80, the trending tags 20); ``fetch_page(..., offset=N)`` asks for the page starting there, and
:attr:`Page.next_offset` says where the next one starts. Mastodon's ``Api::V1::DirectoriesController`` sends no
``Link`` header (a full page means there may be more); ``Api::V1::Trends::TagsController`` (Mastodon 3.5 and
later) sends ``Link: <…/api/v1/trends/tags?offset=20>; rel="next"`` exactly when its page was full by its own limit,
which ``MAX_TRENDING_TAGS`` may make smaller than the one asked for. Mastodon 3.0–3.4 served the trending tags at
``/api/v1/trends``, without ``offset``: one page there.

``fetch_handle_domain`` asks an instance for the domain of its local accounts' handles (a server served from
``social.example.com`` may hand out ``@alice@example.com``), which every landing path registers with the privacy
policy before landing that instance's pages (:meth:`~fediscope.privacy.PrivacyPolicy.use_handle_domain`). A
declared domain that is a public suffix (``co.uk``, ``github.io``) is refused like any other that is not a proper
parent (:func:`~fediscope.privacy.parent_handle_domain`), and a host whose parents are all public suffixes
(``mastodon.co.uk``) is not asked at all.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, urlsplit

from fediscope.config import instance_domain
from fediscope.engine.schema import DATA_SCHEMAS, Type
from fediscope.errors import FediscopeError
from fediscope.lake.layout import envelope
from fediscope.privacy import (
    PUBLIC_VISIBILITIES,
    PrivacyPolicy,
    handle_domain_of,
    may_have_handle_domain,
    proper_parent_domain,
)
from fediscope.sources.client import MalformedResponse, MastodonClient, RawResponse, UpstreamNotFound
from fediscope.sources.endpoints import account_statuses_path
from fediscope.sources.spec import SourceRef

log = logging.getLogger(__name__)

#: Upper bounds Mastodon applies to ``limit`` per endpoint family.
LIMITS = {"statuses": 40, "directory": 80, "trends_tags": 20}


@dataclass
class Page:
    """One upstream page: raw JSON items and the cursors to the next (older) and previous (newer) page."""

    source: SourceRef
    instance: str  # domain
    endpoint: str  # path template, free of account identifiers (it lands in every record's meta)
    items: list[Any]
    next_max_id: str | None = None
    prev_min_id: str | None = None
    #: where the next page of a source paged by offset starts (:func:`next_offset`); None: this page is its last
    next_offset: int | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: int = 200

    @property
    def newest_id(self) -> str | None:
        """The highest status id on the page among the ids of its usual kind (the page's upper bound): a malformed
        item's id of the other kind (text among snowflakes, digits among text ids) is not where the page ends."""
        return max_id_of(self.items)

    @property
    def oldest_id(self) -> str | None:
        return min_id_of(self.items)


@dataclass
class QuarantinedItem:
    reason: str
    item: Any


@dataclass
class Landed:
    """The landed form of a page: enveloped records, and what was skipped or quarantined."""

    records: list[dict[str, Any]]
    fetched: int
    skipped: int = 0
    #: of ``skipped``: the items whose own account opted out (noindex, #nobot …; the policy's ``skipped_opt_out``)
    opted_out: int = 0
    quarantined: list[QuarantinedItem] = field(default_factory=list)


# -- ids ----------------------------------------------------------------------------------------------------
def id_key(value: str) -> tuple[int, int, str]:
    """Sort key of an id, older first as the servers order their statuses: numerically when it is ASCII digits
    (Mastodon's snowflakes: ``"999" < "1000"``), else as text (GoToSocial's ULIDs, Pleroma's and Akkoma's
    base62 FlakeIds, which sort as their ASCII; ``²`` or ``١٢`` too: ``isdigit`` alone takes them, and ``int``
    fails on the first); every number below every text id. That is Pleroma's order: the statuses it stored
    before it moved to FlakeIds keep their numeric ids (``"9876"``), which it reads as FlakeIds of time 0
    (``FlakeId.from_string``), older than any other. On Mastodon a text id, and on GoToSocial a number, is
    malformed: the callers keep the page's usual kind (:func:`usual_ids`)."""
    return (0, int(value), "") if is_number_id(value) else (1, 0, value)


def well_formed_ids(items: list[Any]) -> list[str]:
    """The ids of ``items`` that are non-empty strings, in their order, of either kind."""
    return [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str) and i["id"]]


def is_number_id(value: str) -> bool:
    """Whether ``value`` is an id :func:`id_key` orders as a number (ASCII digits: Mastodon's snowflakes)."""
    return value.isascii() and value.isdigit()


def same_id_kind(a: str, b: str) -> bool:
    """Whether two ids are of one kind: both numbers or both text. :func:`id_key` sorts every number below every
    text id, as Pleroma does (its pre-FlakeId numeric ids are the oldest), which says nothing on a server of one
    kind, where the other kind is a malformed item's."""
    return is_number_id(a) == is_number_id(b)


def usual_is_number(ids: Collection[str]) -> bool:
    """Whether the usual kind of ``ids`` (whichever most are; numbers when as many) is numbers."""
    return 2 * sum(1 for i in ids if is_number_id(i)) >= len(ids)


def usual_ids(items: list[Any]) -> list[str]:
    """The well-formed ids of ``items`` in their order, keeping only the page's usual kind (numbers or text:
    whichever most ids are), so that a malformed item's odd id does not bound the page."""
    ids = well_formed_ids(items)
    numbers = usual_is_number(ids)
    return [i for i in ids if is_number_id(i) == numbers]


def placed_against(status_id: str, bound: str, numbers_usual: bool) -> bool:
    """Whether ``status_id``, among ids whose usual kind is numbers (``numbers_usual``, :func:`usual_is_number`:
    a page's, the kept ids of an instance), is placed against ``bound`` in :func:`id_key`'s order: when both are
    of one kind, or ``status_id`` is of the usual kind. Across kinds that order is Pleroma's (its old numeric ids
    below its FlakeIds): a FlakeId bound places the numbers below it where most ids are numbers, a numeric bound
    the FlakeIds above it where most are FlakeIds. A malformed item's id (text among Mastodon's snowflakes, a
    number among GoToSocial's ULIDs) is of the minority kind, and on such a server no bound is: it is placed
    against none. The price, on a Pleroma page where the numbers are the most: its FlakeIds are not placed
    against a numeric bound (the settle pass fetches them again on its next page, above the numbers)."""
    return same_id_kind(status_id, bound) or is_number_id(status_id) == numbers_usual


def max_id_of(items: list[Any]) -> str | None:
    """The highest id of ``items`` among those of their usual kind (:func:`usual_ids`)."""
    ids = usual_ids(items)
    return max(ids, key=id_key) if ids else None


def min_id_of(items: list[Any]) -> str | None:
    """The lowest id of ``items`` among those of their usual kind (:func:`usual_ids`): a malformed item's odd id
    (a number sorts below every text id) is not where a page ends. On a Pleroma page mixing its old numeric ids
    with FlakeIds, all of which are above the numbers, the usual kind's lowest is the page's lowest or a FlakeId
    above it: paging on from it fetches the numbers again, it skips nothing."""
    ids = usual_ids(items)
    return min(ids, key=id_key) if ids else None


def _query_param(url: str, *names: str) -> str | None:
    query = parse_qs(urlsplit(url).query)
    for name in names:
        if query.get(name):
            return query[name][0]
    return None


# -- fetching -----------------------------------------------------------------------------------------------
def page_size(limit: int, entity: str) -> int:
    """The ``limit`` a request for ``entity`` asks for: the setting, within what Mastodon serves."""
    return max(1, min(int(limit), LIMITS.get(entity, 40)))


def decode_body(domain: str, endpoint: str, response: RawResponse) -> Any:
    """The JSON body of an answer; :class:`MalformedResponse` (quarantined by the callers) when it is not JSON.

    ``endpoint`` is the path template that names the answer (a path may hold an account id). A body nested deeper
    than the decoder goes (``RecursionError``; no Mastodon entity is) is malformed too, not a crash.
    """
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise MalformedResponse(f"{domain}{endpoint}: the instance answered HTTP {response.status} with a body "
                                f"that is not JSON ({reason})", endpoint=endpoint, status=response.status,
                                content=response.content,
                                content_type=response.headers.get("Content-Type", "")) from None


def _account_id(client: MastodonClient, acct: str) -> str:
    """Resolve ``user`` / ``user@domain`` to the instance-local account id (memoised on the client)."""
    key = f"account_id:{acct.lower()}"
    if key not in client.cache:
        response = client.get("/api/v1/accounts/lookup", {"acct": acct})
        body = decode_body(client.domain, "/api/v1/accounts/lookup", response)
        account_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(account_id, (str, int)) or isinstance(account_id, bool) or not str(account_id):
            raise MalformedResponse(f"{client.domain}/api/v1/accounts/lookup: answer has no account id",
                                    endpoint="/api/v1/accounts/lookup", status=response.status,
                                    content=response.content, content_type=response.headers.get("Content-Type", ""))
        client.cache[key] = str(account_id)
    return client.cache[key]


def _request(client: MastodonClient, source: SourceRef, paging: dict[str, Any],
             limit: int) -> tuple[str, RawResponse]:
    """(endpoint template for the envelope, raw response) of one request for ``source``."""
    kind = source.kind
    timeline_params = {**paging, "limit": page_size(limit, "statuses")}
    if kind == "public":
        return "/api/v1/timelines/public", client.get("/api/v1/timelines/public", timeline_params)
    if kind == "local":
        return ("/api/v1/timelines/public?local=true",
                client.get("/api/v1/timelines/public", {**timeline_params, "local": "true"}))
    if kind == "tag":
        path = f"/api/v1/timelines/tag/{quote(str(source.arg), safe='')}"
        return path, client.get(path, timeline_params)
    if kind == "account":
        account_id = _account_id(client, str(source.arg))
        return account_statuses_path(), client.get(account_statuses_path(account_id), timeline_params)
    if kind == "account_lookup":
        return "/api/v1/accounts/lookup", client.get("/api/v1/accounts/lookup", {"acct": source.arg})
    if kind == "instance":
        try:
            return "/api/v2/instance", client.get("/api/v2/instance")
        except UpstreamNotFound:  # Mastodon < 4.0 only has v1
            return "/api/v1/instance", client.get("/api/v1/instance")
    if kind == "instance_activity":
        return "/api/v1/instance/activity", client.get("/api/v1/instance/activity")
    if kind == "instance_peers":
        return "/api/v1/instance/peers", client.get("/api/v1/instance/peers")
    if kind == "trends_tags":
        params = {"limit": page_size(limit, "trends_tags")}
        try:
            return "/api/v1/trends/tags", client.get("/api/v1/trends/tags", {**paging, **params})
        except UpstreamNotFound:  # Mastodon 3.0 – 3.4 served trending tags at /api/v1/trends, without offset
            return TRENDS_BEFORE_3_5, client.get(TRENDS_BEFORE_3_5, params)
    if kind == "directory":
        return "/api/v1/directory", client.get("/api/v1/directory", {
            **paging, "limit": page_size(limit, "directory"), "order": "active"})
    raise ValueError(f"unsupported source kind {kind!r}")


#: Sources whose answer is one object rather than a list of items.
_SINGLE_OBJECT = {"instance", "account_lookup"}
#: Where Mastodon 3.0–3.4 served the trending tags: one page, it takes no ``offset``.
TRENDS_BEFORE_3_5 = "/api/v1/trends"
#: Digits of an offset read from a ``Link`` header (a longer one is no offset of a real list).
_OFFSET_RE = re.compile(r"[0-9]{1,15}")


def next_offset(page: Page, offset: int, links: dict[str, str], asked: int) -> int | None:
    """Where the page after ``page`` (of a source paged by offset, asked for at ``offset`` with ``limit=asked``)
    starts, or None when ``page`` is the last (see the module docstring): the ``offset`` of the ``Link`` header's
    ``next`` when the answer has a ``Link`` header (the trending tags), else after a full page (the directory);
    never past ``/api/v1/trends``, which takes no ``offset``. A ``next`` that does not move past ``offset`` ends
    the walk too, so a server's odd link cannot send it round in circles."""
    if not page.source.offset_paged or page.endpoint == TRENDS_BEFORE_3_5:
        return None
    if links:
        found = _query_param(links["next"], "offset") if "next" in links else None
        moved = int(found) if found is not None and _OFFSET_RE.fullmatch(found) else None
        return moved if moved is not None and moved > offset else None
    return offset + len(page.items) if len(page.items) >= asked else None


def fetch_page(client: MastodonClient, source: SourceRef, *, since_id: str | None = None,
               max_id: str | None = None, min_id: str | None = None, offset: int | None = None,
               limit: int = 40) -> Page:
    """Fetch one page of ``source``. The id parameters apply to paged sources (timelines) only, ``offset`` to the
    sources paged by offset (:attr:`~fediscope.sources.spec.SourceRef.offset_paged`: the directory, the trending
    tags) only; :attr:`Page.next_offset` says where their next page starts.

    Raises the client's errors (:class:`~fediscope.sources.client.UpstreamError` subclasses) and
    :class:`MalformedResponse` when the body is not JSON or not the documented shape (object vs. list). For a source
    naming an account the instance does not have, :class:`UpstreamNotFound` says so in
    :meth:`~fediscope.sources.spec.SourceRef.not_found_on`'s words ("account alice was not found on …").
    """
    paging: dict[str, Any] = ({"since_id": since_id, "max_id": max_id, "min_id": min_id} if source.paged else
                              {"offset": offset or None} if source.offset_paged else {})
    try:
        endpoint, response = _request(client, source, paging, limit)
    except UpstreamNotFound as exc:
        if not source.names_an_account:  # "not found" of another source is its endpoint's: said as it is
            raise
        raise UpstreamNotFound(source.not_found_on(client.domain)) from exc
    fetched_at = datetime.now(UTC)
    body = decode_body(client.domain, endpoint, response)
    expect_object = source.kind in _SINGLE_OBJECT
    if expect_object != isinstance(body, dict) or not isinstance(body, (dict, list)):
        wanted = "an object" if expect_object else "a list"
        raise MalformedResponse(f"{client.domain}{endpoint}: expected {wanted}, got {type(body).__name__}",
                                endpoint=endpoint, status=response.status, content=response.content,
                                content_type=response.headers.get("Content-Type", ""))
    items = [body] if isinstance(body, dict) else body
    links = response.links()
    next_max = _query_param(links["next"], "max_id") if "next" in links else None
    prev_min = _query_param(links["prev"], "min_id", "since_id") if "prev" in links else None
    page = Page(source=source, instance=client.domain, endpoint=endpoint, items=items, next_max_id=next_max,
                prev_min_id=prev_min, fetched_at=fetched_at, status=response.status)
    page.next_offset = next_offset(page, offset or 0, links, page_size(limit, source.entity))
    return page


# -- the handle domain --------------------------------------------------------------------------------------
INSTANCE_SOURCE = SourceRef("instance")


def handle_domain_in(domain: str, document: Any) -> str | None:
    """The handle domain of ``domain`` that its instance ``document`` declares when it is a proper parent domain
    of it and not a public suffix (:func:`~fediscope.privacy.handle_domain_of`), else None; a document without a
    ``domain`` (v2) or ``uri`` (v1) string, and a parent domain refused as a public suffix, are logged at INFO."""
    declared = document.get("domain") if isinstance(document, dict) and "domain" in document else (
        document.get("uri") if isinstance(document, dict) else None)
    if not isinstance(declared, str):
        log.info("%s: the instance document names no domain; its local accounts are keyed by %s", domain, domain)
        return None
    handle_domain = handle_domain_of(domain, document)
    refused = proper_parent_domain(domain, declared) if handle_domain is None else None
    if refused is not None:
        log.info("%s: the instance document declares %s, a public suffix or a domain above one of the host's, as "
                 "the domain of its handles; that is nobody's handle domain, so its local accounts are keyed by %s",
                 domain, refused, domain)
    return handle_domain


def fetch_instance_document(client: MastodonClient) -> Any | None:
    """The instance document (``/api/v2/instance``, ``/api/v1/instance`` on old servers) of the instance
    ``client`` connects to; None when it cannot be had (logged at INFO). Never raises for what the instance does."""
    try:
        return fetch_page(client, INSTANCE_SOURCE).items[0]
    except FediscopeError as exc:
        # which domain its local accounts are then keyed by is the caller's to say (a remembered handle domain,
        # fediscope.sources.handle_domains, else the served one)
        log.info("%s: the instance document could not be read (%s)", client.domain, exc)
        return None


class HandleDomain(NamedTuple):
    """What :func:`fetch_handle_domain` learned: the handle domain (None: the instance's own), and whether that is
    settled (False when the instance document could not be had, so asking again later may change it)."""

    domain: str | None
    settled: bool


def fetch_handle_domain(client: MastodonClient, page: Page | None = None, *, ask: bool = True) -> HandleDomain:
    """The handle domain of the instance ``client`` connects to, when it is a proper parent domain of it and not a
    public suffix (``social.example.com`` → ``example.com``); None otherwise. Read from ``page`` when that is the
    instance document, else asked for (unless not to ``ask``: the scraping API does not ask an instance it found
    down, and the document is then not had), and only when the host can have such a parent
    (:func:`~fediscope.privacy.may_have_handle_domain`: not for an address, ``mastodon.social`` or
    ``mastodon.co.uk``). Never raises
    for what the instance does: an answer that fails or is malformed leaves its local accounts keyed by the
    domain connected to, as before (logged at INFO)."""
    if not may_have_handle_domain(client.domain):
        return HandleDomain(None, True)
    if page is not None and page.source.kind == "instance" and page.items:
        document = page.items[0]
    else:
        document = fetch_instance_document(client) if ask else None
    if document is None:
        return HandleDomain(None, False)
    return HandleDomain(handle_domain_in(client.domain, document), True)


# -- validation ---------------------------------------------------------------------------------------------
_COUNT_FIELDS = ("replies_count", "reblogs_count", "favourites_count", "followers_count", "following_count",
                 "statuses_count")
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


#: The counts are read as 64-bit integers (the engines' raw schemas): a larger one, which JSON allows, would stop
#: every later curation of the lake at that record.
_COUNT_RANGE = range(-(2**63), 2**63)


def _check_counts(record: dict[str, Any]) -> str | None:
    for name in _COUNT_FIELDS:
        if name in record and record[name] is not None and (
                not isinstance(record[name], int) or isinstance(record[name], bool)):
            return f"{name} is {type(record[name]).__name__}, expected an integer"
        if record.get(name) is not None and record[name] not in _COUNT_RANGE:
            return f"{name} is {record[name]}, beyond a 64-bit integer"
    return None


def check_account(item: Any) -> str | None:
    """Why ``item`` is not a usable Mastodon Account entity, or None when it is."""
    if not isinstance(item, dict):
        return f"account is {type(item).__name__}, expected an object"
    if not _nonempty_str(item.get("id")):
        return "account id missing or not a string"
    if not (_nonempty_str(item.get("acct")) or _nonempty_str(item.get("username"))):
        return "account has no acct/username"
    return _check_counts(item)


def check_status(item: Any, depth: int = 0) -> str | None:
    """Why ``item`` is not a usable Mastodon Status entity, or None when it is."""
    if not isinstance(item, dict):
        return f"status is {type(item).__name__}, expected an object"
    if not _nonempty_str(item.get("id")):
        return "status id missing or not a string"
    created = item.get("created_at")
    if not isinstance(created, str) or not _ISO_RE.match(created):
        return "status created_at missing or not an ISO 8601 string"
    if "account" not in item:
        return "status has no account"
    problem = check_account(item["account"])
    if problem:
        return f"status {problem}"
    for name in ("mentions", "tags", "media_attachments", "emojis"):
        if item.get(name) is not None and not isinstance(item[name], list):
            return f"status {name} is {type(item[name]).__name__}, expected a list"
    if "content" in item and item["content"] is not None and not isinstance(item["content"], str):
        return "status content is not a string"
    problem = _check_quote(item.get("quote"))
    if problem:
        return problem
    if item.get("reblog") is not None:
        if depth > 0:
            return "reblog of a reblog"
        problem = check_status(item["reblog"], depth + 1)
        if problem:
            return f"reblogged {problem}"
    return _check_counts(item)


def _check_quote(quote: Any) -> str | None:
    """What curation reads of a quote (the quoted status's author) must have the shape Mastodon gives it: a
    ``quote`` object whose ``quoted_status`` is null or an object with an ``account`` object. Another shape would
    stop every later curation of the lake (the engines read raw records with a declared schema)."""
    if quote is None:
        return None
    if not isinstance(quote, dict):
        return f"status quote is {type(quote).__name__}, expected an object"
    quoted = quote.get("quoted_status")
    if quoted is not None and (not isinstance(quoted, dict) or not isinstance(quoted.get("account", {}), dict)):
        return "status quote.quoted_status is not a status object"
    return None


def _check_instance(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "instance is not an object"
    if not (_nonempty_str(item.get("domain")) or _nonempty_str(item.get("uri"))):
        return "instance has neither domain (v2) nor uri (v1)"
    return None


def _check_activity(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("week"), (str, int)):
        return "activity week is not an object with a 'week'"
    return None


def _check_peer(item: Any) -> str | None:
    return None if _nonempty_str(item) else "peer is not a domain string"


def _check_tag(item: Any) -> str | None:
    if not isinstance(item, dict) or not _nonempty_str(item.get("name")):
        return "tag is not an object with a name"
    if item.get("history") is not None and not isinstance(item["history"], list):
        return "tag history is not a list"
    return None


def _kind_of(value: Any) -> str:
    """``value``'s JSON type, for a reason."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


#: Scalar type of the raw schema → the JSON values read as it, and how a reason names it.
_SCALARS: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str, int, float), "a string"), "bigint": ((int,), "an integer"), "double": ((int, float), "a number"),
    "boolean": ((bool,), "a boolean"),
}


def _expected(declared: Type) -> str:
    if isinstance(declared, dict):
        return "an object"
    return "a list" if isinstance(declared, list) else _SCALARS[declared][1]


def shape_problem(value: Any, declared: Type, path: str) -> str | None:
    """Why the engines cannot read ``value`` (at ``path``) as the ``declared`` type of the raw schema
    (:data:`fediscope.engine.schema.DATA_SCHEMAS`), or None when they can.

    Both engines read the raw records with that schema, and DuckDB fails the whole curation on a value it cannot
    convert (``tags: [1]``: "Expected OBJECT, but got UBIGINT"), so the landing checks follow it: null is read as
    NULL anywhere; an object must be an object, each declared field it has of its declared type; a list a list of
    such values, none of them null (Mastodon sends none, and curation would count a null emoji or attachment); a
    ``bigint`` an integer of 64 bits, a ``boolean`` true or false; a ``string`` text or a number (read as its
    text), never an object, a list or a boolean, which the engines would read as garbled text.
    """
    if value is None:
        return None
    if isinstance(declared, (dict, list)) and not isinstance(value, type(declared)):
        return f"{path} is {_kind_of(value)}, expected {_expected(declared)}"
    if isinstance(declared, dict):
        for name, sub in declared.items():
            problem = shape_problem(value.get(name), sub, f"{path}.{name}")
            if problem:
                return problem
        return None
    if isinstance(declared, list):
        for i, element in enumerate(value):
            problem = (f"{path}[{i}] is null, expected {_expected(declared[0])}" if element is None else
                       shape_problem(element, declared[0], f"{path}[{i}]"))
            if problem:
                return problem
        return None
    if isinstance(value, bool) != (declared == "boolean") or not isinstance(value, _SCALARS[declared][0]):
        return f"{path} is {_kind_of(value)}, expected {_expected(declared)}"
    if declared == "bigint" and value not in _COUNT_RANGE:
        return f"{path} is {value}, beyond a 64-bit integer"
    return None


def readable(value: Any, declared: Type) -> bool:
    """Whether :func:`shape_problem` finds nothing, quickly: exact JSON types, no paths built. Landing calls it for
    every item, and :func:`shape_problem` only when it says no, for the reason (it made landing 1.5× slower)."""
    if value is None:
        return True
    kind = type(value)
    if type(declared) is dict:  # loops, not all(<generator>): this runs for every field of every item
        if kind is not dict:
            return False
        for name, sub in declared.items():
            field = value.get(name)
            if field is not None and not readable(field, sub):
                return False
        return True
    if type(declared) is list:
        if kind is not list:
            return False
        sub = declared[0]
        for element in value:  # noqa: SIM110 - a loop: all(<generator>) costs a frame per item
            if element is None or not readable(element, sub):
                return False
        return True
    if declared == "string":
        return kind is str or kind is int or kind is float
    if declared == "bigint":
        return kind is int and value in _COUNT_RANGE
    if declared == "boolean":
        return kind is bool
    return kind is int or kind is float  # double


def _shaped(check: Callable[[Any], str | None], entity: str, what: str) -> Callable[[Any], str | None]:
    """``check``, then :func:`shape_problem` against the raw schema of ``entity`` (``what`` names the item)."""
    declared = DATA_SCHEMAS[entity]

    def checked(item: Any) -> str | None:
        return check(item) or (None if readable(item, declared) else shape_problem(item, declared, what))

    checked.__doc__ = check.__doc__
    return checked


#: How a reason names an item of each entity (``status.content …``).
ITEM_NAMES = {"statuses": "status", "accounts": "account", "directory": "account", "instance": "instance",
              "instance_activity": "activity", "instance_peers": "peer", "trends_tags": "tag"}


def not_text_at(value: Any, path: str) -> str | None:
    """Where ``value`` holds a string that is not text (``status.content``), or None when it holds none.

    JSON's ``\\ud800`` escapes a lone UTF-16 surrogate: ``json`` reads it, but no UTF-8 file can hold it, so the
    batch written with it failed as a whole (a ``UnicodeEncodeError`` traceback; the source failed at that page
    on every run, a stream lost everything it held). One encoding tells whether there is one at all (the rare
    search for where only then): checked on the landed record, as a field the privacy policy drops or hashes is no
    harm."""
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode()
    except UnicodeEncodeError:
        return _surrogate_at(value, path) or path
    return None


def _surrogate_at(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for name, sub in value.items():
            if _surrogate_at(str(name), path) is not None:
                return f"a field name of {path}"
            if (where := _surrogate_at(sub, f"{path}.{name}")) is not None:
                return where
    if isinstance(value, list):
        for i, sub in enumerate(value):
            if (where := _surrogate_at(sub, f"{path}[{i}]")) is not None:
                return where
    return None


#: Entity → why an item of it cannot be landed (None: it can). Every entity curation reads is also checked against
#: its declared raw schema, so what lands is what the engines can read (the checks and the schema cannot drift).
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "statuses": _shaped(check_status, "statuses", "status"),
    "accounts": _shaped(check_account, "accounts", "account"),
    "directory": _shaped(check_account, "directory", "account"),
    "instance": _check_instance,
    "instance_activity": _shaped(_check_activity, "instance_activity", "activity"),
    "instance_peers": _shaped(_check_peer, "instance_peers", "peer"),
    "trends_tags": _shaped(_check_tag, "trends_tags", "tag"),
}


# -- landing ------------------------------------------------------------------------------------------------
def land_page(page: Page, policy: PrivacyPolicy, instance: str | None = None, endpoint: str | None = None,
              fetched_at: datetime | None = None) -> Landed:
    """Validate, apply the privacy policy and envelope every item of ``page``. Never raises on bad items.

    ``instance`` and ``endpoint`` default to the page's own (a domain and a path template).
    """
    domain = instance_domain(instance) if instance else page.instance
    endpoint = endpoint or page.endpoint
    fetched_at = fetched_at or page.fetched_at
    entity = page.source.entity
    check = CHECKS.get(entity, lambda _item: None)
    landed = Landed(records=[], fetched=len(page.items))
    opted_out_before = policy.counts["skipped_opt_out"]
    for item in page.items:
        problem = check(item)
        if problem and policy.left_out_unread(entity, item, domain):  # an erased or opted-out account's: counted
            landed.skipped += 1  # left out, as landed it would be: quarantined, it was kept (privacy off: in clear)
            continue
        if problem:
            landed.quarantined.append(QuarantinedItem(problem, item))
            continue
        if entity == "statuses" and item.get("visibility") not in PUBLIC_VISIBILITIES:
            landed.skipped += 1  # followers-only or direct: a token may see it, the lake never keeps it
            continue
        try:
            record = policy.apply(entity, item, domain)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # the exception text may quote an account name: keep only its type
            landed.quarantined.append(QuarantinedItem(f"privacy policy could not process it "
                                                      f"({type(exc).__name__})", item))
            continue
        if record is None:
            landed.skipped += 1
            continue
        if (where := not_text_at(record, ITEM_NAMES.get(entity, "item"))) is not None:
            landed.quarantined.append(QuarantinedItem(f"{where} holds a lone UTF-16 surrogate (a \\ud800-\\udfff "
                                                      f"escape without its pair), which is not text", item))
            continue
        landed.records.append(envelope(domain, endpoint, record, fetched_at))
    landed.opted_out = policy.counts["skipped_opt_out"] - opted_out_before
    return landed
