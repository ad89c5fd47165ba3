"""The collector's refresh pass: statuses of the last ``refresh_hours`` are landed again so their engagement counts
become current after curation; older statuses, the checkpoint and the page bound are respected.

Runs against the sample instance (``SampleInstance.engage`` changes a status's counts while the server runs) and
curates the lake with the real DuckDB engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fediscope.config import Settings, load_settings
from fediscope.errors import ConfigError
from fediscope.gdpr.suppression import add_suppressed
from fediscope.lake.backend import open_lake
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.summary import CollectSummary

NOW = datetime.now(UTC)
RECENT_HOURS = 5  # recent statuses are spread over the last RECENT_HOURS hours; the corpus is days older


@pytest.fixture(autouse=True)
def _now() -> None:
    """NOW is each test's own start: the refresh window is measured from the collector's clock, so a NOW taken when
    the module was imported (over 30 minutes before a test on a loaded CI worker) left the statuses grown an hour
    before it outside a 1.5-hour window (autouse: set up before ``instance`` reads it)."""
    global NOW
    NOW = datetime.now(UTC)


@pytest.fixture
def instance() -> SampleInstance:
    """A small corpus ending three days ago, plus statuses published in the last few hours."""
    sample = SampleInstance.generate(150, seed=7, end=NOW - timedelta(days=3))
    for hours_ago in range(RECENT_HOURS, 0, -1):
        sample.grow(12, at=NOW - timedelta(hours=hours_ago))
    return sample


@pytest.fixture
def server(instance: SampleInstance) -> Iterator[SampleServer]:
    with SampleServer(instance, rate_limit=100_000) as running:
        yield running


def collect(settings: Settings, server: SampleServer) -> CollectSummary:
    summary = run_collection(settings, [(server.url, parse_source("public"))], progress=False)
    assert summary.ok, summary.failed
    return summary


def public_ids(instance: SampleInstance, *, newer_than: datetime | None = None,
               older_than: datetime | None = None) -> list[str]:
    """Ids on the public timeline (newest first), optionally only those created in a time range."""
    out = []
    for sid in reversed(instance.public_timeline_ids()):
        created = datetime.fromisoformat(instance.statuses[sid]["created_at"])
        if (newer_than is None or created >= newer_than) and (older_than is None or created < older_than):
            out.append(str(sid))
    return out


def refresh_records(lake: Any) -> list[dict[str, Any]]:
    """The records the refresh pass landed (its batch files carry ``-refresh-`` in their names)."""
    import json

    return [json.loads(line) for path in sorted((lake.root / "raw").rglob("*-refresh-*.jsonl"))
            for line in path.read_text().splitlines()]


def engaged(instance: SampleInstance) -> tuple[str, str, int, int]:
    """Engage one recent and one old public status; (recent id, old id, recent's old count, old's old count)."""
    recent = public_ids(instance, newer_than=NOW - timedelta(hours=2))[-1]
    old = public_ids(instance, older_than=NOW - timedelta(days=2))[0]
    before = (instance.statuses[int(recent)]["favourites_count"], instance.statuses[int(old)]["favourites_count"])
    instance.engage(recent, favourites=before[0] + 900, reblogs=5, replies=3)
    instance.engage(old, favourites=before[1] + 700)
    return recent, old, before[0], before[1]


def test_without_refresh_a_later_run_keeps_the_first_counts(server, instance, make_settings, lake) -> None:
    settings = make_settings()
    assert settings.refresh_hours == 0  # the default: off
    first = collect(settings, server)
    assert first.landed + first.skipped == len(public_ids(instance))  # skipped: opted-out accounts
    recent, old, recent_before, old_before = engaged(instance)
    second = collect(settings, server)
    assert second.landed == 0 and second.sources[0].refreshed == 0 and second.refreshed == 0
    assert "refreshed" not in second.line() and "refreshed" not in second.to_dict()
    assert refresh_records(lake) == []
    favourites = lake.curated_favourites(settings)
    assert favourites[recent] == recent_before and favourites[old] == old_before


def test_refresh_relands_recent_statuses_and_curation_shows_the_new_counts(server, instance, make_settings,
                                                                          lake) -> None:
    settings = make_settings(refresh_hours=RECENT_HOURS + 1, refresh_max_pages=100)
    first = collect(settings, server)
    assert first.refreshed == 0  # a first run has no checkpoint below which to refresh
    landed_first = lake.status_ids()  # without the statuses of opted-out accounts
    recent, old, recent_before, old_before = engaged(instance)
    instance.grow(4)

    second = collect(settings, server)
    window = public_ids(instance, newer_than=NOW - timedelta(hours=RECENT_HOURS + 1))
    refreshed_ids = [i for i in window if i in landed_first]
    assert len(refreshed_ids) >= 30 and recent in refreshed_ids
    assert second.landed == len(lake.status_ids() - landed_first)
    assert second.refreshed == second.sources[0].refreshed == len(refreshed_ids)
    assert f"refreshed {len(refreshed_ids)}" in second.line()
    assert second.to_dict()["refreshed"] == len(refreshed_ids)
    assert second.to_dict()["sources"][0]["refreshed"] == len(refreshed_ids)

    # only statuses inside the window were fetched again: nothing older was landed by the refresh pass
    records = refresh_records(lake)
    assert sorted(r["data"]["id"] for r in records) == sorted(refreshed_ids)
    assert old not in {r["data"]["id"] for r in records}

    favourites = lake.curated_favourites(settings)
    assert favourites[recent] == recent_before + 900
    assert favourites[old] == old_before  # older than the window: not refreshed


def lake_records_older_than(lake: Any, moment: datetime) -> list[dict[str, Any]]:
    return [r for r in refresh_records(lake) if datetime.fromisoformat(r["data"]["created_at"]) < moment]


def test_refresh_stops_at_the_window(server, instance, make_settings, lake, capsys) -> None:
    settings = make_settings(refresh_hours=1.5, refresh_max_pages=100)
    collect(settings, server)
    capsys.readouterr()
    second = run_collection(settings, [(server.url, parse_source("public"))], progress=True)
    assert f", {second.refreshed} refreshed" in capsys.readouterr().err  # the progress line and the done line
    window = public_ids(instance, newer_than=NOW - timedelta(hours=1.5))
    assert 0 < second.refreshed == len(set(window) & lake.status_ids()) < len(public_ids(instance))
    assert len(lake_records_older_than(lake, NOW - timedelta(hours=1.5))) == 0
    # one empty gap page, then refresh pages of 10 down to the first one reaching past the window
    assert second.pages == 1 + len(window) // 10 + 1
    assert second.requests == second.pages


def test_refresh_max_pages_bounds_the_pass(server, instance, make_settings, lake) -> None:
    settings = make_settings(refresh_hours=RECENT_HOURS + 1, refresh_max_pages=2)
    collect(settings, server)
    second = collect(settings, server)
    assert second.pages == 1 + 2 and second.requests == 3
    newest = public_ids(instance)[:20]  # two full pages of page_limit 10
    assert second.refreshed == len(refresh_records(lake)) == len(set(newest) & lake.status_ids()) > 10
    assert {r["data"]["id"] for r in refresh_records(lake)} <= set(newest)


def test_refresh_leaves_the_checkpoint_alone(server, instance, make_settings, lake) -> None:
    settings = make_settings(refresh_hours=RECENT_HOURS + 1, refresh_max_pages=100)
    collect(settings, server)
    domain = server.url.split("//", 1)[1]
    before = lake.checkpoint(domain, "public")
    new = instance.grow(3)
    newest_public = public_ids(instance)[0]
    second = collect(settings, server)
    assert second.refreshed > 0
    after = lake.checkpoint(domain, "public")
    assert after["newest_id"] == newest_public == second.sources[0].checkpoint
    assert int(after["newest_id"]) > int(before["newest_id"]) and newest_public in {s["id"] for s in new}
    assert not (after.get("extra") or {}).get("walk")
    third = collect(settings, server)
    assert third.refreshed > 0 and third.landed == 0
    assert lake.checkpoint(domain, "public")["newest_id"] == newest_public


def test_refresh_applies_the_suppression_list(server, instance, make_settings, lake) -> None:
    settings = make_settings(refresh_hours=RECENT_HOURS + 1, refresh_max_pages=100)
    collect(settings, server)
    recent = public_ids(instance, newer_than=NOW - timedelta(hours=2))[0]
    victim = instance.statuses[int(recent)]["account"]["acct"]
    key = PrivacyPolicy(key=settings.pseudonym_key.encode()).account_key(victim, server.url.split("//", 1)[1])
    assert key in {r["data"]["account"]["acct"] for _p, r in lake.records()}
    add_suppressed(open_lake(settings.lake), key)  # erased after the first run
    second = collect(settings, server)
    records = refresh_records(lake)
    assert second.refreshed == len(records) > 0 and second.skipped > 0
    assert key not in {r["data"]["account"]["acct"] for r in records}
    assert recent not in {r["data"]["id"] for r in records}


@pytest.mark.parametrize(("name", "value"), [("FEDISCOPE_REFRESH_HOURS", "-1"),
                                             ("FEDISCOPE_REFRESH_HOURS", "three"),
                                             ("FEDISCOPE_REFRESH_HOURS", "nan"),
                                             ("FEDISCOPE_REFRESH_MAX_PAGES", "-2"),
                                             ("FEDISCOPE_REFRESH_MAX_PAGES", "ten")])
def test_invalid_refresh_settings_are_a_config_error(name: str, value: str, tmp_path) -> None:
    with pytest.raises(ConfigError, match=f"{name} is invalid"):
        load_settings(env={name: value}, toml_path=None)


def test_refresh_settings_are_read_from_the_environment(tmp_path) -> None:
    settings = load_settings(env={"FEDISCOPE_REFRESH_HOURS": "2.5", "FEDISCOPE_REFRESH_MAX_PAGES": "3"})
    assert settings.refresh_hours == 2.5 and settings.refresh_max_pages == 3


def test_max_pages_bounds_the_refresh_pass_too(server, instance, make_settings, lake) -> None:
    settings = make_settings(refresh_hours=RECENT_HOURS + 1, refresh_max_pages=100)
    collect(settings, server)
    targets = [(server.url, parse_source("public"))]
    spent = run_collection(settings, targets, max_pages=1, progress=False)  # the gap page takes the budget
    assert spent.ok and spent.pages == spent.requests == 1 and spent.refreshed == 0
    assert refresh_records(lake) == []
    bounded = run_collection(settings, targets, max_pages=3, progress=False)  # 1 gap page + 2 refresh pages
    assert bounded.ok and bounded.pages == bounded.requests == 3
    assert bounded.refreshed == len(refresh_records(lake)) == len(set(public_ids(instance)[:20]) & lake.status_ids())


def test_a_failed_refresh_pass_leaves_the_source_collected(mastodon_server, make_settings, lake) -> None:
    """The refresh pass is best effort: its failure is reported, the new statuses and the checkpoint stay."""
    settings = make_settings(refresh_hours=1_000_000, refresh_max_pages=5, max_retries=1)  # every status is recent
    targets = [(mastodon_server.url, parse_source("public"))]
    assert run_collection(settings, targets, progress=False).ok
    new = {s["id"] for s in mastodon_server.add_statuses(3)}
    requests_before = len(mastodon_server.requests_to("/api/v1/timelines/public"))
    # the gap walk takes two pages (the 3 new statuses, then an empty page); every later request fails
    mastodon_server.fail(500, times=1000, after=2, path="/api/v1/timelines/public")
    second = run_collection(settings, targets, progress=False)
    source = second.sources[0]
    assert second.ok and source.status == "ok" and source.error is None
    assert source.landed == 3 and new <= lake.status_ids() and source.refreshed == 0
    assert source.refresh_error and "HTTP 500" in source.refresh_error
    assert lake.checkpoint(mastodon_server.domain, "public")["newest_id"] == source.checkpoint == max(new, key=int)
    assert len(mastodon_server.requests_to("/api/v1/timelines/public")) == requests_before + 2 + 2  # 1 retry
    assert "(refresh failed for 1)" in second.line()
    document = second.to_dict()
    assert document["failed"] == [] and document["refresh_failed"] == [
        f"{mastodon_server.domain} public: {source.refresh_error}"]
    assert document["sources"][0]["refresh_error"] == source.refresh_error
