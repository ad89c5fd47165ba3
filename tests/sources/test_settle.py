"""The collector's settle pass: every status is landed once more when it is ``settle_hours`` old (oldest first,
from a mark kept in ``_state/<domain>/settle/``), so curation holds its counts at that age; younger statuses wait,
none is settled twice, and the pass's pages are bounded.

Runs against the sample instance (``SampleInstance.engage`` changes a status's counts while the server runs;
``grow(at=…)`` posts statuses at a chosen time) and curates the lake with the real DuckDB engine. Time does not
pass during a test, so "the statuses got older" is played by a later run with a shorter ``settle_hours``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fediscope.config import Settings, load_settings
from fediscope.errors import ConfigError
from fediscope.lake.backend import open_lake
from fediscope.lake.state import load_pass_mark
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.summary import CollectSummary
from fediscope.timestamps import snowflake, snowflake_ms, to_ms


@pytest.fixture
def now() -> datetime:
    """The test's "now" (taken when it starts: the ages below are minutes apart, so a module-level time taken
    when the suite started would drift past them)."""
    return datetime.now(UTC)


@pytest.fixture
def instance(now: datetime) -> SampleInstance:
    """A small corpus ending three days ago, plus six statuses posted two hours ago."""
    sample = SampleInstance.generate(120, seed=5, end=now - timedelta(days=3))
    sample.grow(6, at=now - timedelta(hours=2))
    return sample


@pytest.fixture
def server(instance: SampleInstance) -> Iterator[SampleServer]:
    with SampleServer(instance, rate_limit=100_000) as running:
        yield running


def collect(settings: Settings, server: SampleServer, source: str = "public",
            max_pages: int | None = None) -> CollectSummary:
    summary = run_collection(settings, [(server.url, parse_source(source))], progress=False, max_pages=max_pages)
    assert summary.ok, summary.failed
    return summary


def settle_records(lake: Any) -> list[dict[str, Any]]:
    """The records the settle pass landed (its batch files carry ``-settle-`` in their names)."""
    return [json.loads(line) for path in sorted((lake.root / "raw").rglob("*-settle-*.jsonl"))
            for line in path.read_text().splitlines()]


def public(statuses: list[dict[str, Any]]) -> list[str]:
    """The ids of those statuses that the public timeline shows (boosts and replies to others are not on it)."""
    from fediscope.sample.corpus import on_public_timeline

    return [s["id"] for s in statuses if on_public_timeline(s)]


def test_statuses_settle_once_when_old_enough(server, instance, make_settings, lake, now) -> None:
    first = collect(make_settings(settle_hours=1), server)
    assert first.settled == 0  # the mark starts at this run's checkpoint: nothing above it yet
    domain = first.sources[0].instance
    mark = load_pass_mark(open_lake(str(lake.root)), domain, "public", "settle")
    assert mark == first.sources[0].checkpoint
    assert (lake.root / "_state" / domain / "settle" / "public.json").is_file()

    older = public(instance.grow(8, at=now - timedelta(minutes=40)))
    newer = public(instance.grow(8, at=now - timedelta(minutes=5)))
    assert older and newer
    second = collect(make_settings(settle_hours=1), server)  # every new status is younger than an hour
    assert second.landed == len(older) + len(newer) - second.skipped and second.settled == 0
    assert settle_records(lake) == []

    engaged = next(i for i in older if i in lake.status_ids())
    before = instance.statuses[int(engaged)]["favourites_count"]
    instance.engage(engaged, favourites=before + 900)
    third = collect(make_settings(settle_hours=0.5), server)  # the older ones are 40 minutes old now
    landed_older = [i for i in older if i in lake.status_ids()]  # without opted-out accounts
    assert third.landed == 0 and third.settled == third.sources[0].settled == len(landed_older)
    assert sorted(r["data"]["id"] for r in settle_records(lake)) == sorted(landed_older)
    assert f"settled {len(landed_older)}" in third.line()
    assert third.to_dict()["settled"] == third.to_dict()["sources"][0]["settled"] == len(landed_older)
    assert load_pass_mark(open_lake(str(lake.root)), domain, "public", "settle") == max(older, key=int)
    assert lake.curated_favourites(make_settings())[engaged] == before + 900

    fourth = collect(make_settings(settle_hours=0.5), server)  # nothing settles twice; the newer still wait
    assert fourth.settled == 0 and "settled" not in fourth.to_dict()
    fifth = collect(make_settings(settle_hours=0.01), server)
    assert fifth.settled == len([i for i in newer if i in lake.status_ids()])


def test_a_first_run_settles_later_only_what_it_landed_young(server, instance, make_settings, lake, now) -> None:
    """The backfill's statuses that were already older than settle_hours have their settled counts; the young
    ones (here: the six posted two hours ago, with settle_hours=3) settle later."""
    young = [str(sid) for sid in instance.public_timeline_ids()
             if datetime.fromisoformat(instance.statuses[sid]["created_at"]) > now - timedelta(hours=3)]
    first = collect(make_settings(settle_hours=3), server)
    assert first.settled == 0 and young
    mark = load_pass_mark(open_lake(str(lake.root)), first.sources[0].instance, "public", "settle")
    assert mark == str(int(min(young, key=int)) - 1)  # just below the oldest young one
    later = collect(make_settings(settle_hours=1), server)  # "an hour later": they are old enough now
    assert later.landed == 0 and later.settled == len([i for i in young if i in lake.status_ids()])
    assert sorted((r["data"]["id"] for r in settle_records(lake)), key=int) == [i for i in young
                                                                                 if i in lake.status_ids()]


def test_turning_the_pass_on_for_a_collected_source_settles_what_it_landed_in_the_last_n_hours(
        server, instance, make_settings, lake, now) -> None:
    """The six statuses posted two hours ago were landed before the pass was on: with settle_hours=3 the mark
    starts three hours back (by snowflake id), so they settle once old enough; the corpus (days old) does not."""
    collect(make_settings(), server)  # the pass is off
    before = datetime.now(UTC) - timedelta(hours=3)
    turned_on = collect(make_settings(settle_hours=3), server)
    after = datetime.now(UTC) - timedelta(hours=3)
    assert turned_on.settled == 0
    mark = load_pass_mark(open_lake(str(lake.root)), turned_on.sources[0].instance, "public", "settle")
    # the first snowflake of "3 hours before the run"
    assert to_ms(before) <= snowflake_ms(mark) <= to_ms(after)
    assert int(mark) == snowflake(snowflake_ms(mark), 0)
    two_hours_old = [str(sid) for sid in instance.public_timeline_ids()
                     if datetime.fromisoformat(instance.statuses[sid]["created_at"]) > now - timedelta(hours=3)]
    later = collect(make_settings(settle_hours=1.5), server)
    assert sorted((r["data"]["id"] for r in settle_records(lake)), key=int) == [
        i for i in sorted(two_hours_old, key=int) if i in lake.status_ids()]
    assert later.settled == len(settle_records(lake)) > 0


def test_settle_max_pages_bounds_a_run_and_the_next_run_goes_on(server, instance, make_settings, lake, now) -> None:
    settings = make_settings(settle_hours=0.5, settle_max_pages=2)  # page_limit is 10 in these tests
    collect(settings, server)
    waiting = sorted(public(instance.grow(70, at=now - timedelta(hours=1))), key=int)
    assert len(waiting) > 30
    second = collect(settings, server)

    def settled(ids: list[str]) -> list[str]:  # opted-out accounts are skipped by the privacy policy
        return [i for i in ids if i in lake.status_ids()]

    assert sorted((r["data"]["id"] for r in settle_records(lake)), key=int) == settled(waiting[:20])
    assert second.settled == len(settled(waiting[:20]))  # two pages of ten, oldest first
    # more wait: the summary says how far behind (posted an hour ago, settled at half an hour: ~0.5 h)
    assert second.sources[0].settle_behind_hours == pytest.approx(0.5, abs=0.11)
    assert "settle pass behind on 1 source, up to 0.5 h" in second.line()
    assert second.to_dict()["sources"][0]["settle_behind_hours"] == second.sources[0].settle_behind_hours
    third = collect(settings, server)
    assert third.settled == len(settled(waiting[20:40]))
    assert sorted((r["data"]["id"] for r in settle_records(lake)), key=int) == settled(waiting[:40])
    caught_up = collect(make_settings(settle_hours=0.5, settle_max_pages=20), server)
    assert caught_up.settled == len(settled(waiting[40:])) > 0
    assert caught_up.sources[0].settle_behind_hours is None and "behind" not in caught_up.line()
    assert "settle_behind_hours" not in caught_up.to_dict()["sources"][0]


def test_max_pages_leaves_the_settle_pass_what_the_walk_did_not_use(server, instance, make_settings,
                                                                    lake, now) -> None:
    collect(make_settings(settle_hours=1), server)
    waiting = sorted(public(instance.grow(30, at=now - timedelta(minutes=40))), key=int)
    assert collect(make_settings(settle_hours=1), server).settled == 0  # lands them: too young to settle
    settings = make_settings(settle_hours=0.5, settle_max_pages=100)
    spent = collect(settings, server, max_pages=1)  # the gap walk's one page (nothing new) takes the budget
    assert spent.pages == spent.requests == 1 and spent.settled == 0
    bounded = collect(settings, server, max_pages=2)  # 1 gap page + 1 settle page of ten
    assert bounded.pages == bounded.requests == 2
    assert bounded.settled == len([i for i in waiting[:10] if i in lake.status_ids()]) > 0


def test_the_mark_of_an_account_source_does_not_name_the_account(server, instance, make_settings, lake) -> None:
    settings = make_settings(settle_hours=1)
    author = instance.statuses[instance.public_timeline_ids()[-1]]["account"]  # an account that posts
    handle = author["acct"]
    summary = collect(settings, server, source=f"account:{handle}")
    policy = PrivacyPolicy(key=settings.pseudonym_key.encode())
    domain = summary.sources[0].instance
    assert load_pass_mark(open_lake(str(lake.root)), domain, f"account:{handle}", "settle", policy) is not None
    names = [p.name for p in (lake.root / "_state").rglob("*.json")]
    assert names and not any(author["username"].lower() in n.lower() for n in names)


@pytest.mark.parametrize("name, value", [("FEDISCOPE_SETTLE_HOURS", "-1"), ("FEDISCOPE_SETTLE_HOURS", "soon"),
                                         ("FEDISCOPE_SETTLE_MAX_PAGES", "-2")])
def test_invalid_settle_settings_are_a_config_error(name: str, value: str, tmp_path) -> None:
    with pytest.raises(ConfigError, match=f"{name} is invalid"):
        load_settings(env={name: value}, toml_path=None)


def test_settle_settings_are_read_from_the_environment(tmp_path) -> None:
    settings = load_settings(env={"FEDISCOPE_SETTLE_HOURS": "24", "FEDISCOPE_SETTLE_MAX_PAGES": "3"},
                             toml_path=None)
    assert settings.settle_hours == 24 and settings.settle_max_pages == 3
    assert load_settings(env={}, toml_path=None).settle_hours == 0  # off by default


def test_a_failed_settle_pass_leaves_the_source_collected_and_the_next_run_settles(mastodon_server,
                                                                                   make_settings, lake) -> None:
    """Best effort, like the refresh pass: the failure is reported, the new statuses and the checkpoint stay,
    the mark does not move, and the next run settles what the failed one could not."""
    settings = make_settings(settle_hours=1, settle_max_pages=5, max_retries=1)  # recorded statuses are old
    targets = [(mastodon_server.url, parse_source("public"))]
    first = run_collection(settings, targets, progress=False)
    assert first.ok
    new = {s["id"] for s in mastodon_server.add_statuses(3)}
    # the gap walk takes two pages (the 3 new statuses, then an empty page); the settle page then fails twice
    mastodon_server.fail(500, times=2, after=2, path="/api/v1/timelines/public")
    second = run_collection(settings, targets, progress=False)
    source = second.sources[0]
    assert second.ok and source.status == "ok" and source.landed == 3 and source.settled == 0
    assert source.refresh_error and source.refresh_error.startswith("settle pass:") and "HTTP 500" in \
        source.refresh_error
    assert "(refresh failed for 1)" in second.line()
    domain = mastodon_server.domain
    assert load_pass_mark(open_lake(str(lake.root)), domain, "public", "settle") == first.sources[0].checkpoint
    third = run_collection(settings, targets, progress=False)
    assert third.ok and third.sources[0].refresh_error is None
    assert third.settled == 3 and {r["data"]["id"] for r in settle_records(lake)} == new
    assert load_pass_mark(open_lake(str(lake.root)), domain, "public", "settle") == max(new, key=int)


def test_an_unreadable_mark_is_reported_and_the_source_still_collected(server, instance, make_settings,
                                                                        lake) -> None:
    first = collect(make_settings(settle_hours=1), server)
    path = lake.root / "_state" / first.sources[0].instance / "settle" / "public.json"
    path.write_text("[not a mark")
    grown = public(instance.grow(6))
    second = collect(make_settings(settle_hours=1), server)
    source = second.sources[0]
    assert source.status == "ok" and source.landed + source.skipped == len(grown) > 0
    assert source.refresh_error.startswith("settle pass: ") and "public.json is not a settle mark" in \
        source.refresh_error and "delete it" in source.refresh_error
