"""What landing lets through, DuckDB curation can read: the element shapes of a status's lists and a trend's history.

Was: the landing checks made sure ``tags``, ``emojis``, ``mentions`` and ``media_attachments`` were lists (and a
trend's ``history``) but not what they held, so ``tags: [1, null, "x"]`` landed, and every later curation failed on
that raw file ("JSON transform error … Expected OBJECT, but got UBIGINT") and never marked it curated. Each such
item is now quarantined at landing (:mod:`fediscope.sources.pages`), and a curation of the rest succeeds.

Every payload is a REAL recorded one (``tests/data/mastodon/recordings``), altered in the one field under test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from engine_data import INSTANCE, at, interactions, policy, read_table, statuses

from fediscope.engine.schema import DATA_SCHEMAS
from fediscope.lake.batches import write_batch
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.sources.pages import Landed, Page, land_page
from fediscope.sources.spec import SourceRef


def _public(name: str) -> dict[str, Any]:
    return next(s for s in statuses(name) if s["visibility"] == "public")


def _tagged() -> dict[str, Any]:
    status = _public("test_fetch_remaining.json")
    assert status["tags"]
    return status


def _with_media() -> dict[str, Any]:
    status = _public("test_admin_moderation.json")
    assert status["media_attachments"]
    return status


def _mention() -> dict[str, Any]:
    """A recorded Mention entity (of a direct message: only the entity is used)."""
    return copy.deepcopy(next(s for s in statuses("test_conversations.json") if s["mentions"])["mentions"][0])


def _reblog() -> dict[str, Any]:
    return next(s for s in statuses("test_status_reblogged_by.json")
                if s["visibility"] == "public" and isinstance(s["reblog"], dict))


def _altered(base: Callable[[], dict[str, Any]], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    status = base()
    change(status)
    return status


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(status: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = status
        for name in parents:
            target = target[name]
        target[last] = value
    return change


#: (id, a recorded status altered in one field, text the quarantine reason holds)
BAD_STATUSES: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("tags-mixed", lambda: _altered(_tagged, _set("tags", [1, None, "x"])), "tags"),
    ("tags-null", lambda: _altered(_tagged, _set("tags", [None])), "tags"),
    ("tags-list", lambda: _altered(_tagged, _set("tags", [[{"name": "x"}]])), "tags"),
    ("tag-name-object", lambda: _altered(_tagged, lambda s: s["tags"][0].update(name={"a": 1})), "tags"),
    ("emojis-string", lambda: _altered(_tagged, _set("emojis", ["x"])), "emojis"),
    ("emoji-shortcode-list", lambda: _altered(_tagged, _set("emojis", [{"shortcode": ["x"]}])), "emojis"),
    ("mentions-string", lambda: _altered(_tagged, _set("mentions", ["x"])), "mentions"),
    ("mention-acct-object", lambda: _altered(_tagged, _set("mentions", [dict(_mention(), acct={"a": 1})])),
     "mentions"),
    ("media-string", lambda: _altered(_with_media, _set("media_attachments", ["x"])), "media_attachments"),
    ("media-type-list", lambda: _altered(_with_media, lambda s: s["media_attachments"][0].update(type=["image"])),
     "media_attachments"),
    ("bot-text", lambda: _altered(_tagged, _set("account.bot", "yes")), "bot"),
    ("deleted-text", lambda: _altered(_tagged, _set("deleted", "yes")), "deleted"),
    ("reblog-tags", lambda: _altered(_reblog, _set("reblog.tags", [1, None, "x"])), "reblog"),
    ("reblog-emojis", lambda: _altered(_reblog, _set("reblog.emojis", ["x"])), "reblog"),
    ("reblog-mentions", lambda: _altered(_reblog, _set("reblog.mentions", ["x"])), "reblog"),
    ("reblog-media", lambda: _altered(_reblog, _set("reblog.media_attachments", [5])), "reblog"),
    ("reblog-author-group", lambda: _altered(_reblog, _set("reblog.account.group", "no")), "reblog"),
]


def _privacy(on: bool) -> PrivacyPolicy:
    return policy() if on else PrivacyPolicy(key=None, enabled=False)


def _land_checked(lake: LocalLake, kind: str, items: list[Any], fetched_at: datetime, privacy: PrivacyPolicy,
                  endpoint: str) -> Landed:
    """Land ``items`` as a page of ``kind`` the way the collector and the stream do: through the landing checks."""
    page = Page(SourceRef(kind), INSTANCE, endpoint, items, fetched_at=fetched_at)
    landed = land_page(page, privacy)
    write_batch(lake, page.source.entity, INSTANCE, landed.records, fetched_at=fetched_at)
    return landed


@pytest.mark.parametrize("privacy_on", [True, False], ids=["privacy-on", "privacy-off"])
@pytest.mark.parametrize(("make_bad", "field"), [(make, field) for _id, make, field in BAD_STATUSES],
                         ids=[case_id for case_id, _make, _field in BAD_STATUSES])
def test_a_status_curation_cannot_read_is_quarantined_and_the_rest_is_curated(
        make_bad: Callable[[], dict[str, Any]], field: str, privacy_on: bool, lake: LocalLake, lake_dir: Path,
        duckdb_engine: Callable[[], Any]) -> None:
    good = [_tagged(), _with_media(), _reblog()]
    bad = make_bad()
    landed = _land_checked(lake, "public", [*good, bad], at(1), _privacy(privacy_on), "/api/v1/timelines/public")
    summary = duckdb_engine().curate()  # was: "JSON transform error …", on this and every later run
    assert summary.raw_files == 1
    assert [q.item for q in landed.quarantined] == [bad]
    assert field in landed.quarantined[0].reason
    assert len(landed.records) == len(good)
    ids = {row["status_id"] for row in read_table(lake_dir, "statuses")}
    assert {s["id"] for s in good} | {good[2]["reblog"]["id"]} <= ids


def _trends() -> list[dict[str, Any]]:
    """Recorded Tag entities with their seven days of history."""
    tags = copy.deepcopy(interactions("test_suggested_tags.json")[1]["response"]["body"])
    assert tags and all(len(t["history"]) == 7 for t in tags)
    return tags


BAD_TRENDS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("history-scalars", _set("history", ["x", 5])),
    ("history-null", _set("history", [None])),
    ("day-object", lambda t: t["history"][0].update(day={"a": 1})),
    ("uses-list", lambda t: t["history"][0].update(uses=[1])),
    ("accounts-object", lambda t: t["history"][0].update(accounts={})),
]


@pytest.mark.parametrize("change", [c for _id, c in BAD_TRENDS], ids=[i for i, _c in BAD_TRENDS])
def test_a_trend_curation_cannot_read_is_quarantined_and_the_rest_is_curated(
        change: Callable[[dict[str, Any]], None], lake: LocalLake, lake_dir: Path,
        duckdb_engine: Callable[[], Any]) -> None:
    good = _trends()
    bad = copy.deepcopy(good[0])
    bad["name"] = "altered" + bad["name"]
    change(bad)
    landed = _land_checked(lake, "trends_tags", [*good, bad], at(1), policy(), "/api/v1/trends/tags")
    summary = duckdb_engine().curate()
    assert summary.raw_files == 1
    assert [q.item for q in landed.quarantined] == [bad] and "history" in landed.quarantined[0].reason
    assert len(landed.records) == len(good)
    tags = {row["tag"] for row in read_table(lake_dir, "tag_trends")}
    assert tags == {t["name"].lower() for t in good}


def test_every_recorded_status_and_tag_passes_the_checks() -> None:
    """The checks follow the declared schema (DATA_SCHEMAS) and refuse nothing Mastodon sends."""
    assert "tags" in DATA_SCHEMAS["statuses"] and "history" in DATA_SCHEMAS["trends_tags"]
    recorded = [s for name in ("test_fetch_remaining.json", "test_admin_moderation.json",
                               "test_status_reblogged_by.json", "test_conversations.json", "test_status_edit.json")
                for s in statuses(name)]
    page = Page(SourceRef("public"), INSTANCE, "/api/v1/timelines/public", recorded)
    assert land_page(page, policy()).quarantined == []
    trends = Page(SourceRef("trends_tags"), INSTANCE, "/api/v1/trends/tags", _trends())
    assert land_page(trends, policy()).quarantined == []


def test_the_quick_readability_check_agrees_with_the_reasoned_one() -> None:
    """Landing asks ``readable`` for every item and ``shape_problem`` only when it says no (for the reason): the two
    must agree on real statuses and on every odd value put anywhere the raw schema declares something."""
    import random

    from fediscope.sample.corpus import iter_statuses
    from fediscope.sources.pages import readable, shape_problem

    declared = DATA_SCHEMAS["statuses"]
    odd = [None, True, False, 0, -1, 2**63, -(2**63) - 1, 1.5, float("nan"), "", "x", [], {}, [1], [None], [{}],
           [[]], {"a": 1}, {"id": {}}]

    def paths(schema: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix] if prefix else []
        if isinstance(schema, dict):
            for name, sub in schema.items():
                found += paths(sub, (*prefix, name))
        elif isinstance(schema, list):
            found += paths(schema[0], (*prefix, 0))
        return found

    def put(item: Any, path: tuple[Any, ...], value: Any) -> Any:
        item = copy.deepcopy(item)
        here = item
        for step in path[:-1]:
            if isinstance(step, int):
                if not isinstance(here, list) or not here:
                    return item
                here = here[0]
            else:
                if not isinstance(here, dict):
                    return item
                here = here.setdefault(step, {} if not isinstance(path[path.index(step) + 1], int) else [{}])
        if isinstance(path[-1], int):
            if isinstance(here, list):
                here[:1] = [value]
        elif isinstance(here, dict):
            here[path[-1]] = value
        return item

    rng = random.Random(7)
    samples = [*statuses("test_fetch_remaining.json"), *iter_statuses(300, seed=3)]
    cases = list(samples)
    for path in paths(declared):
        for value in odd:
            cases.append(put(rng.choice(samples), path, value))
    refused = 0
    for case in cases:
        reason = shape_problem(case, declared, "status")
        assert readable(case, declared) == (reason is None), (reason, case.get("id"))
        refused += reason is not None
    assert refused > len(cases) // 5  # many odd values were put where they are refused
