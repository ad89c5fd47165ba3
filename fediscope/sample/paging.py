"""Mastodon's id-based paging, reproduced exactly: ``max_id``, ``since_id``, ``min_id``, ``limit`` and ``Link``.

A timeline is a list of statuses, newest first. A client pages *down* (older) with ``max_id`` (statuses with a
smaller id) and *up* (newer) with ``min_id`` (the statuses immediately above that id, oldest of them first
in the id range, but still returned newest first) or ``since_id`` (the *newest* statuses above that id, which
may leave a gap). When ``min_id`` is given, ``since_id`` is ignored, as in Mastodon's
``to_a_paginated_by_id``. ``limit`` defaults to 20 and is capped at twice the default (40).

The ``Link`` header carries the next page (``rel="next"``, ``max_id`` = the oldest id of this page) and the
previous page (``rel="prev"``, ``min_id`` = the newest id of this page). Rails builds those URLs with the
request's permitted parameters sorted by name, e.g.
``<http://localhost:3000/api/v1/timelines/public?local=1&max_id=117024218475038112&remote=1>; rel="next"``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


class ParamError(ValueError):
    """A request parameter is invalid (answered with HTTP 400)."""


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None


#: what an id that names no Mastodon id compares as: Rails binds a text that does not start with a digit as NULL,
#: and ``id < NULL`` (``> NULL``) holds for no status, so Mastodon answers an empty page (another server's text id,
#: such as a Pleroma FlakeId, sent to a Mastodon instance)
NO_ID = -1

#: ``max_id``/``since_id``/``min_id`` values standing for :data:`NO_ID`: below every id, above every id
_NOTHING_BELOW, _NOTHING_ABOVE = 0, 2**63


def _id_param(params: Mapping[str, str], name: str) -> int | None:
    """An id parameter as Mastodon's Rails reads it: digits are the id; an id of another server's kind (1 to 64
    ASCII letters and digits) is, as Rails casts text to an integer column, its leading digits (a GoToSocial ULID
    ``01HQ…`` is 1), or :data:`NO_ID` when it starts with a letter; anything else is refused (400)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isalnum()) or len(raw) > 64:
        raise ParamError(f"{name} must be a status id (up to 64 letters and digits), got {raw[:40]!r}")
    digits = len(raw) - len(raw.lstrip("0123456789"))
    if digits > 19:  # ids are 64-bit (int() refuses 4,300 digits)
        raise ParamError(f"{name} must be a status id (up to 19 digits), got {raw[:40]!r}")
    return int(raw[:digits]) if digits else NO_ID


def limit_param(params: Mapping[str, str], default: int = DEFAULT_LIMIT, maximum: int | None = None) -> int:
    """Mastodon's ``limit_param``: absent → default; otherwise ``abs(int)`` capped at ``2 * default``."""
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = abs(int(raw))
    except ValueError:
        raise ParamError(f"limit must be a number, got {raw!r}") from None
    return min(value, maximum if maximum is not None else default * 2)


def page_request(params: Mapping[str, str], default_limit: int = DEFAULT_LIMIT) -> PageRequest:
    max_id, since_id, min_id = (_id_param(params, name) for name in ("max_id", "since_id", "min_id"))
    return PageRequest(limit=limit_param(params, default_limit),
                       max_id=_NOTHING_BELOW if max_id == NO_ID else max_id,
                       since_id=_NOTHING_ABOVE if since_id == NO_ID else since_id,
                       min_id=_NOTHING_ABOVE if min_id == NO_ID else min_id)


def select(ids: Sequence[int], request: PageRequest) -> list[int]:
    """One page of ``ids`` (ascending, unique), newest first."""
    hi = len(ids) if request.max_id is None else bisect_left(ids, request.max_id)
    if request.limit <= 0:
        return []
    if request.min_id is not None:
        lo = bisect_right(ids, request.min_id)
        window = ids[lo:min(lo + request.limit, hi)]
    else:
        lo = 0 if request.since_id is None else bisect_right(ids, request.since_id)
        window = ids[max(lo, hi - request.limit):hi]
    return list(reversed(window))


def page_url(base_url: str, path: str, params: Mapping[str, str]) -> str:
    query = urlencode(sorted(params.items()))
    return f"{base_url}{path}?{query}" if query else f"{base_url}{path}"


def link_header(base_url: str, path: str, permitted: Mapping[str, str], page: Sequence[int],
                has_next: bool = True) -> str | None:
    """The ``Link`` header for a page (None when the page is empty, as Mastodon sends none then)."""
    if not page:
        return None
    links = []
    if has_next:
        links.append(f'<{page_url(base_url, path, {**permitted, "max_id": str(page[-1])})}>; rel="next"')
    links.append(f'<{page_url(base_url, path, {**permitted, "min_id": str(page[0])})}>; rel="prev"')
    return ", ".join(links)


def offset_link_header(base_url: str, path: str, permitted: Mapping[str, str], offset: int, limit: int,
                       returned: int) -> str | None:
    """Offset paging (trends): ``next`` when the page was full, ``prev`` when there is a page before."""
    links = []
    if returned == limit and limit > 0:
        links.append(f'<{page_url(base_url, path, {**permitted, "offset": str(offset + limit)})}>; rel="next"')
    if offset > limit:
        links.append(f'<{page_url(base_url, path, {**permitted, "offset": str(offset - limit)})}>; rel="prev"')
    return ", ".join(links) or None


def truthy(value: str | None) -> bool:
    """Rails' boolean cast of a query parameter (``1``, ``true``, ``t``, ``on`` … are true)."""
    return value is not None and value.strip().lower() in {"1", "true", "t", "on", "yes", "y"}
