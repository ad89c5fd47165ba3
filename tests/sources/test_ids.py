"""Status ids in the order the servers keep them: Mastodon's snowflakes as numbers, GoToSocial's ULIDs and
Pleroma's FlakeIds as text, and Pleroma's numeric ids of before its FlakeIds below every FlakeId.

Pleroma (and Akkoma) stores every id as 128 bits; ``FlakeId.from_string`` reads a number shorter than 18
characters as ``<<0::64, id::64>>``, a FlakeId of time 0, so its statuses of before the FlakeIds ("9876") list
below all later ones. Was: :func:`~fediscope.sources.pages.id_key` sorted every number above every text id, so on
such a timeline the checkpoint never moved from an old numeric id to the FlakeIds above it (every run landed the
same statuses again), a first walk stalled where the FlakeIds gave way to the numbers, and the settle pass never
moved past the numbers.

The instance is the recorded Mastodon double serving its REAL recorded statuses as Pleroma would
(:class:`~doubles.fediverse_ids.PleromaDouble`: FlakeIds, its oldest statuses numbered).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from doubles.fediverse_ids import PleromaDouble, flake_id, ulid
from doubles.mastodon_server import MastodonDouble

from fediscope.config import Settings
from fediscope.lake.backend import open_lake
from fediscope.lake.state import SETTLE_PASS, load_pass_mark
from fediscope.privacy import policy_from_settings
from fediscope.sources.collector import _newer, run_collection
from fediscope.sources.pages import id_key, max_id_of, min_id_of
from fediscope.sources.spec import parse_source
from fediscope.sources.summary import CollectSummary

SNOWFLAKES = ["109", "110", "999", "1000", "113456789012345678", "1134567890123456789"]
#: snowflakes of 2024 and 2026: FlakeIds of 18 characters and ULIDs of these times
RECENT = ["113456789012345678", "113456789012345679", "115900000000000000"]


def collect(settings: Settings, server: MastodonDouble) -> CollectSummary:
    summary = run_collection(settings, [(server.url, parse_source("public"))], progress=False)
    assert summary.ok, [r.error for r in summary.failed]
    return summary


def served(server: PleromaDouble) -> set[str]:
    return {server.text(s["id"]) for s in server.public_statuses()}


def settle_mark(settings: Settings, server: MastodonDouble) -> str | None:
    return load_pass_mark(open_lake(settings.lake), server.domain, "public", SETTLE_PASS,
                          policy_from_settings(settings))


def test_ids_order_as_their_servers_order_them() -> None:
    """Snowflakes of differing lengths as numbers, ULIDs and FlakeIds as text, Pleroma's old numbers first."""
    assert sorted(reversed(SNOWFLAKES), key=id_key) == SNOWFLAKES
    ulids = [ulid(s) for s in RECENT]
    assert sorted(reversed(ulids), key=id_key) == ulids and len(ulids[0]) == 26
    pleroma = ["95", "98", "101", *(flake_id(s) for s in RECENT)]  # the double's old numbers, FlakeIds
    assert sorted(reversed(pleroma), key=id_key) == pleroma and {len(i) for i in pleroma[3:]} == {18}
    assert _newer("101", pleroma[-1]) == _newer(pleroma[-1], "101") == pleroma[-1]  # was: "101"
    assert _newer("999", "1000") == _newer("1000", "999") == "1000"
    assert _newer(ulids[0], ulids[1]) == ulids[1] and _newer(None, "95") == "95"


def test_a_page_ends_at_the_ids_of_its_usual_kind() -> None:
    """:func:`min_id_of` (the API's ``next`` of a page cut to its limit) and :func:`max_id_of` leave out a malformed
    item's id of the minority kind, as the collector does. Was: ``"42"`` among ULIDs the lowest (the next page
    below everything), ``"abc"`` among snowflakes the highest. At Pleroma's boundary the lowest of the usual kind
    is the page's lowest, or a FlakeId above its numbers: asked below it, the numbers come again, none is skipped."""
    ulids, flakes = [ulid(s) for s in reversed(RECENT)], [flake_id(s) for s in reversed(RECENT)]
    assert min_id_of([{"id": ulids[0]}, {"id": "42"}, *({"id": i} for i in ulids[1:])]) == ulids[-1]  # was: "42"
    assert max_id_of([{"id": "1000"}, {"id": "abc"}, {"id": "999"}]) == "1000"  # was: "abc"
    assert min_id_of([{"id": flakes[-1]}, {"id": "152"}, {"id": "149"}]) == "149"
    assert min_id_of([*({"id": i} for i in flakes), {"id": "152"}]) == flakes[-1]
    assert max_id_of([{"id": flakes[-1]}, {"id": "152"}, {"id": "149"}]) == "152"


def test_the_checkpoint_moves_from_old_numeric_ids_to_the_flake_ids_above_them(
        make_settings: Callable[..., Settings], lake: Any) -> None:
    """A timeline whose newest status predates Pleroma's FlakeIds, then new statuses. Was: the checkpoint stayed
    at the old number, and every later run landed the new statuses again."""
    with PleromaDouble(numbered=20, statuses=20) as server:
        settings = make_settings(page_limit=7)
        collect(settings, server)
        assert lake.checkpoint(server.domain, "public")["newest_id"] == "152"  # 95 + 19 × 3
        new = sorted((server.text(s["id"]) for s in server.add_statuses(5)), key=id_key)
        assert all(re.fullmatch(r"[0-9A-Za-z]{18}", i) for i in new)
        second = collect(settings, server)
        assert second.landed + second.sources[0].skipped == 5
        assert lake.checkpoint(server.domain, "public")["newest_id"] == new[-1]  # was: "152"
        assert collect(settings, server).landed == 0  # was: the same 5 again, every run
        assert lake.status_ids() <= served(server) and max(lake.ids().values()) == 1


def test_a_first_walk_goes_on_from_the_flake_ids_down_to_the_old_numeric_ids(
        make_settings: Callable[..., Settings], lake: Any) -> None:
    """Was: "paging stalled" where a page's oldest id became a number below the FlakeIds: the old statuses were
    never landed."""
    with PleromaDouble(numbered=12, statuses=30) as server:
        numbers = {server.text(s["id"]) for s in server.public_statuses()[-12:]}
        assert {len(i) for i in numbers} == {2, 3}  # 95 … 128: "999" < "1000" in short
        run = collect(make_settings(page_limit=7), server)
        assert run.sources[0].caught_up
        skipped = served(server) - lake.status_ids()
        assert len(skipped) == run.sources[0].skipped  # opted-out authors' statuses, nothing else
        assert numbers - skipped <= lake.status_ids() and len(numbers - skipped) > 6


def test_the_settle_mark_moves_from_old_numeric_ids_to_the_flake_ids_above_them(
        make_settings: Callable[..., Settings]) -> None:
    """The settle pass starts at a checkpoint among the old numbers: it settles the FlakeIds above it once and its
    mark moves onto them. Was: nothing above the numbers settled, ever."""
    with PleromaDouble(numbered=20, statuses=20, newest_at=datetime.now(UTC) - timedelta(hours=3)) as server:
        collect(make_settings(page_limit=7), server)
        new = sorted((server.text(s["id"]) for s in server.add_statuses(10)), key=id_key)  # 2 h 50 min ago
        settings = make_settings(page_limit=7, settle_hours=0.5)
        assert collect(settings, server).settled == 0  # the gap walk lands them; the pass starts at "152"
        assert settle_mark(settings, server) == "152"
        third = collect(settings, server)
        assert third.settled + third.sources[0].skipped == 10  # was: 0
        assert settle_mark(settings, server) in new[-2:]  # the newest, or the one below it when its author is skipped
        assert collect(settings, server).settled == 0  # was (its mark kept at "152"): the same 10 again


class OddIdOnSettlePages(MastodonDouble):
    """Mastodon, whose pages asked with ``min_id`` (the settle pass's) carry one more, malformed item: ``abc``."""

    def _page(self, path: str, params: dict[str, str], pool: list[dict[str, Any]]) -> Any:
        status, headers, body = super()._page(path, params, pool)
        if params.get("min_id") and body:
            body = [*body, dict(body[-1], id="abc")]
        return status, headers, body


def test_a_text_id_among_snowflakes_does_not_become_the_settle_mark(make_settings: Callable[..., Settings]) -> None:
    """Text ids sort above every number (Pleroma's order): a malformed one on Mastodon must not become the next
    ``min_id`` (Mastodon reads it as NULL: empty pages, the pass stuck for good)."""
    with OddIdOnSettlePages(statuses=20, newest_at=datetime.now(UTC) - timedelta(hours=3)) as server:
        settings = make_settings(settle_hours=0.5)
        collect(make_settings(), server)
        collect(settings, server)  # the pass starts at the checkpoint
        server.add_statuses(5)  # 2 h 55 min ago
        collect(settings, server)
        assert settle_mark(settings, server) == server.public_statuses()[0]["id"]
        server.add_statuses(5)
        collect(settings, server)
        assert settle_mark(settings, server) == server.public_statuses()[0]["id"]
