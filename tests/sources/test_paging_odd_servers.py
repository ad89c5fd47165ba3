"""Timeline walks against servers that page unlike Mastodon (other fediverse software, or a buggy one).

Found by a review of 307623a (the next page is asked below the page's oldest status):
* a server answering ``max_id`` inclusively (the status at ``max_id`` again, alone on the last page) failed the
  source with "paging stalled" on every run, for good, with the end of the gap never landed;
* one status listed first out of id order (a pinned post) made its id the next ``max_id``: the statuses between
  it and the rest of the page were never landed, silently (the Link header was right);
and, older than that commit, one item whose id is of the other kind (``abc`` among snowflakes, digits among text
ids) closed the walk (every text id sorted below every number then) or became the checkpoint, so what lay below it was
never landed, silently.

The answers are the recorded double's (tests/doubles/mastodon_server.py); only their paging or ids are altered.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from doubles.mastodon_server import MastodonDouble

from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source


def public(server: MastodonDouble) -> list[tuple[str, object]]:
    return [(server.url, parse_source("public"))]


def served(server: MastodonDouble, as_id: Any = str) -> set[str]:
    return {as_id(s["id"]) for s in server.public_statuses()}


class InclusiveMaxId(MastodonDouble):
    """``max_id`` answered inclusively: the status at ``max_id`` comes again, at the top of the next page."""

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        if params.get("max_id"):
            params = {**params, "max_id": str(int(params["max_id"]) + 1)}
        return super()._page(path, params, pool)


def test_an_inclusive_max_id_ends_the_walk_instead_of_stalling_it(make_settings, lake) -> None:
    with InclusiveMaxId(statuses=25) as server:
        settings = make_settings()  # a first run deep enough to reach the oldest status
        first = run_collection(settings, public(server), progress=False)
        assert first.ok, [r.error for r in first.failed]
        server.add_statuses(5)
        again = run_collection(settings, public(server), progress=False)
        assert again.ok and again.landed == 5, [r.error for r in again.failed]
        assert lake.status_ids() == served(server)
        assert max(lake.ids().values()) == 1  # the status at max_id, answered twice, is landed once
        assert lake.checkpoint(server.domain, "public")["newest_id"] == server.public_statuses()[0]["id"]


def test_an_inclusive_max_id_keeps_later_runs_collecting(make_settings, lake) -> None:
    with InclusiveMaxId(statuses=25) as server:
        settings = make_settings(backfill_pages=1)
        assert run_collection(settings, public(server), progress=False).ok
        for _ in range(2):  # each gap walk ends with a page holding only the status at max_id
            server.add_statuses(5)
            run = run_collection(settings, public(server), progress=False)
            assert run.ok and run.landed == 5, [r.error for r in run.failed]
        assert lake.checkpoint(server.domain, "public")["newest_id"] == server.public_statuses()[0]["id"]


class PinnedFirst(MastodonDouble):
    """One status (``pinned``) is listed at the top of every page whose bounds hold it, out of id order, and not
    at its own place; the Link header is the server's (its last item), unless ``links`` is off."""

    pinned: str | None = None
    links = True

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        rest = [s for s in pool if s["id"] != self.pinned]
        status, headers, body = super()._page(path, params, rest)
        pinned = [s for s in pool if s["id"] == self.pinned]
        top, bottom = params.get("max_id"), params.get("since_id")
        if pinned and body and (top is None or int(self.pinned or 0) < int(top)) and (
                bottom is None or int(self.pinned or 0) > int(bottom)):
            body = [dict(pinned[0]), *body]
        if not self.links:
            headers.pop("Link", None)
        return status, headers, body


@pytest.mark.parametrize(("page_limit", "links"), [(10, True), (1, True), (1, False)])
def test_a_status_listed_first_out_of_order_does_not_skip_the_page_below(make_settings, lake, page_limit,
                                                                         links) -> None:
    """With one status a page, each page above the pinned status holds it and one other (Was: with
    FEDISCOPE_PAGE_LIMIT=1, its id became the next max_id from the first page on: 60 of 100 never landed; and
    after 3c21dee, 59 of 100 from a server sending no Link header)."""
    with PinnedFirst(statuses=100) as server:
        server.links = links
        server.pinned = server.public_statuses()[60]["id"]  # the 61st newest, listed first on the pages above it
        run = run_collection(make_settings(page_limit=page_limit), public(server), progress=False)
        assert run.ok
        assert lake.status_ids() == served(server)  # was: 50 of 100 never landed, and the run said ok


class OddIdOnce(MastodonDouble):
    """The first page of a gap walk (``since_id`` set) carries one more item, whose id is ``odd``."""

    odd: str | None = None

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        status, headers, body = super()._page(path, params, pool)
        if self.odd is not None and params.get("since_id") and body:
            body = [body[0], dict(body[0], id=self.odd), *body[1:]]
            self.odd = None
        return status, headers, body


def test_an_item_with_a_text_id_among_snowflakes_does_not_close_the_walk(make_settings, lake) -> None:
    with OddIdOnce(statuses=20) as server:
        settings = make_settings()
        assert run_collection(settings, public(server), progress=False).ok
        server.add_statuses(50)
        server.odd = "abc"
        run = run_collection(settings, public(server), progress=False)
        assert run.ok
        assert served(server) <= lake.status_ids()  # was: 40 of the 50 never landed
        assert lake.checkpoint(server.domain, "public")["newest_id"] == server.public_statuses()[0]["id"]


class TextIds(MastodonDouble):
    """Ids as text of one length (as ULIDs or other software's ids), in the same order as the double's."""

    odd: str | None = None

    @staticmethod
    def text(number: Any) -> str:
        return f"T{int(number):020d}"

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        numeric = {k: (str(int(v[1:])) if k in ("max_id", "since_id", "min_id") and v else v)
                   for k, v in params.items()}
        status, headers, body = super()._page(path, numeric, pool)
        if isinstance(body, list):
            body = [dict(s, id=self.text(s["id"])) for s in body]
            if self.odd is not None and params.get("since_id") and body:
                body = [*body, dict(body[0], id=self.odd)]  # a malformed item whose id is digits
                self.odd = None
        if "Link" in headers:
            headers["Link"] = re.sub(r"(max_id|min_id)=(\d+)", lambda m: f"{m[1]}={self.text(m[2])}", headers["Link"])
        return status, headers, body


def test_an_item_with_a_number_id_among_text_ids_does_not_become_the_checkpoint(make_settings, lake) -> None:
    with TextIds(statuses=20) as server:
        settings = make_settings()
        assert run_collection(settings, public(server), progress=False).ok
        server.add_statuses(5)
        server.odd = "12345"
        assert run_collection(settings, public(server), progress=False).ok
        newest = TextIds.text(server.public_statuses()[0]["id"])
        assert lake.checkpoint(server.domain, "public")["newest_id"] == newest  # was: "12345"
        server.add_statuses(15)
        run = run_collection(settings, public(server), progress=False)
        assert run.ok and run.landed == 15  # was: 0, every later run
        assert served(server, TextIds.text) <= lake.status_ids()


def test_an_inclusive_max_id_one_status_a_page_walks_on_below_it(make_settings, lake) -> None:
    """Was (after 21afb0b): with FEDISCOPE_PAGE_LIMIT=1 a full page holding only the status at max_id read as the
    end of the timeline: 1 of 25 statuses landed, the gap closed for good, the run ok."""
    with InclusiveMaxId(statuses=25) as server:
        run = run_collection(make_settings(page_limit=1), public(server), progress=False)
        assert run.ok, [r.error for r in run.failed]
        assert lake.status_ids() == served(server) and max(lake.ids().values()) == 1


class PinnedOnTop(MastodonDouble):
    """The ``pinned`` status is listed first on the newest page (asked without ``max_id``), whatever ``since_id``;
    the Link header is the server's, unless ``links`` is off."""

    pinned: str | None = None
    links = True

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        status, headers, body = super()._page(path, params, [s for s in pool if s["id"] != self.pinned])
        pinned = [s for s in pool if s["id"] == self.pinned]
        if pinned and body is not None and not params.get("max_id"):
            body = [dict(pinned[0]), *body]
        if not self.links:
            headers.pop("Link", None)
        return status, headers, body


@pytest.mark.parametrize(("page_limit", "links"), [(10, True), (1, True), (1, False)])
def test_an_old_pinned_status_on_the_newest_page_does_not_close_the_next_gap_early(make_settings, lake,
                                                                                   page_limit, links) -> None:
    """Was: the pinned status, older than the checkpoint, read as "since_id ignored, checkpoint reached" on the
    first page of the next run's walk: 20 of 30 new statuses were never landed, and the run said ok."""
    with PinnedOnTop(statuses=30) as server:
        server.links = links
        server.pinned = server.public_statuses()[-1]["id"]  # the oldest status is pinned
        settings = make_settings(page_limit=page_limit)
        assert run_collection(settings, public(server), progress=False).ok
        server.add_statuses(30)
        run = run_collection(settings, public(server), progress=False)
        assert run.ok and lake.status_ids() == served(server)


class OldestFirst(MastodonDouble):
    """Each page's statuses listed oldest first (the page itself and its Link header are Mastodon's)."""

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        status, headers, body = super()._page(path, params, pool)
        if isinstance(body, list):
            body = sorted(body, key=lambda s: int(s["id"]))
        return status, headers, body


@pytest.mark.parametrize("page_limit", [2, 3])
def test_pages_listed_oldest_first_land_each_status_once(make_settings, lake, page_limit) -> None:
    """Was (e37ff85): at a page limit of 2, a page of two whose first id is the lower was taken for a pinned status
    above one other, so each page was asked one status lower: every status landed twice and counted again."""
    with OldestFirst(statuses=30) as server:
        settings = make_settings(page_limit=page_limit)
        first = run_collection(settings, public(server), progress=False)
        assert first.ok and first.landed == 30, [r.error for r in first.failed]
        server.add_statuses(7)
        again = run_collection(settings, public(server), progress=False)
        assert again.ok and again.landed == 7, [r.error for r in again.failed]
        assert lake.status_ids() == served(server) and max(lake.ids().values()) == 1
