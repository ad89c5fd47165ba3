"""run_collection against the Mastodon double: backfill, incremental runs, faults, quarantine, privacy, tokens."""

from __future__ import annotations

import json
import logging
from datetime import timedelta, timezone

import pytest
from doubles.mastodon_server import RECORDED_AT, MastodonDouble
from terminal_screen import stderr_as_a_wide_terminal

from fediscope.errors import ConfigError
from fediscope.gdpr.suppression import add_suppressed
from fediscope.lake.backend import open_lake
from fediscope.lake.state import load_walk_start
from fediscope.privacy import PrivacyPolicy
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.timestamps import parse_iso

TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"  # the hashtag of the recorded pagination tests


def public(server) -> list[tuple[str, object]]:
    return [(server.url, parse_source("public"))]


def served_ids(server) -> list[str]:
    return [s["id"] for s in server.public_statuses()]


def test_first_run_walks_back_the_configured_number_of_pages(mastodon_server, make_settings, lake) -> None:
    summary = run_collection(make_settings(backfill_pages=2), public(mastodon_server), progress=False)
    assert summary.ok and summary.pages == 2
    assert lake.status_ids() == set(served_ids(mastodon_server)[:20])
    assert summary.landed == summary.fetched == 20
    assert lake.checkpoint(mastodon_server.domain, "public")["newest_id"] == served_ids(mastodon_server)[0]


def test_a_first_run_cut_by_the_backfill_depth_says_so(mastodon_server, make_settings, lake) -> None:
    """Its older statuses are never collected (later runs stop at the checkpoint), so the summary says it."""
    summary = run_collection(make_settings(backfill_pages=2), public(mastodon_server), progress=False)
    assert summary.sources[0].backfill_cut and summary.to_dict()["sources"][0]["backfill_cut"] is True
    # set nowhere (the settings are built in code): named by the variable and the config file's key
    assert summary.line().endswith(
        "; first run stopped at FEDISCOPE_BACKFILL_PAGES (or [fediscope] backfill_pages in fediscope.toml) on 1 "
        "source: older statuses are not collected, by this run or a later one; raise it or set "
        "FEDISCOPE_BACKFILL_SINCE (or [fediscope] backfill_since in fediscope.toml) before a source's first run")
    again = run_collection(make_settings(backfill_pages=2), public(mastodon_server), progress=False)
    assert again.ok and again.landed == 0 and not again.sources[0].backfill_cut
    assert "backfill_cut" not in again.to_dict()["sources"][0] and "FEDISCOPE_BACKFILL" not in again.line()


def test_a_resumed_first_run_cut_by_the_backfill_depth_says_so_too(mastodon_server, make_settings, lake) -> None:
    """Was: a first walk stopped by ``--max-pages`` (the README's own example) and resumed by the next run, which
    then stopped at FEDISCOPE_BACKFILL_PAGES, said nothing: the fresh walk above the checkpoint that follows a
    resumed one reset ``backfill_cut``, though the lake recorded the first walk as cut."""
    settings = make_settings(backfill_pages=3)
    first = run_collection(settings, public(mastodon_server), max_pages=2, progress=False)
    assert first.ok and not first.sources[0].caught_up and not first.sources[0].backfill_cut
    resumed = run_collection(settings, public(mastodon_server), progress=False)
    assert resumed.ok and resumed.sources[0].caught_up and resumed.sources[0].backfill_cut
    assert resumed.to_dict()["sources"][0]["backfill_cut"] is True
    assert ("first run stopped at FEDISCOPE_BACKFILL_PAGES (or [fediscope] backfill_pages in fediscope.toml) on 1 "
            "source") in resumed.line()
    assert lake.status_ids() == set(served_ids(mastodon_server)[:30])


@pytest.mark.parametrize(("statuses", "depth"), [(100, 1000), (25, 3)])
def test_a_first_run_that_reaches_the_end_of_the_timeline_is_not_cut(make_settings, lake, statuses: int,
                                                                     depth: int) -> None:
    """10 statuses a page: an empty page ends the walk, or a short one (the timeline's last) at the depth."""
    with MastodonDouble(statuses=statuses) as server:
        summary = run_collection(make_settings(backfill_pages=depth), public(server), progress=False)
    assert summary.landed == statuses and not summary.sources[0].backfill_cut
    assert "FEDISCOPE_BACKFILL" not in summary.line()


def test_first_run_stops_at_backfill_since(make_settings, lake) -> None:
    with MastodonDouble(statuses=30, spacing=timedelta(hours=6)) as server:
        since = (RECORDED_AT - timedelta(days=3)).date()
        run_collection(make_settings(backfill_since=since.isoformat()), public(server), progress=False)
        expected = {s["id"] for s in server.public_statuses() if s["created_at"][:10] >= since.isoformat()}
    assert 0 < len(expected) < 30
    assert lake.status_ids() == expected


@pytest.mark.parametrize("offset", [timedelta(hours=-5), timedelta(hours=5, minutes=30)])
def test_backfill_since_is_a_utc_day_also_for_dates_given_with_an_offset(make_settings, lake,
                                                                        offset: timedelta) -> None:
    """A server that writes ``created_at`` in its own zone (``…T21:00:00-05:00``, which is 02:00 the next day in
    UTC) is walked down to the same statuses as one writing UTC: the since-date is a UTC day, as curation's days
    are (the day's text alone put a status 5 hours either side of midnight on the wrong side)."""
    zone = timezone(offset)
    with MastodonDouble(statuses=30, spacing=timedelta(hours=6)) as server:
        since = (RECORDED_AT - timedelta(days=3)).date()
        expected = {s["id"] for s in server.public_statuses() if s["created_at"][:10] >= since.isoformat()}
        for status in server.public_statuses():
            status["created_at"] = parse_iso(status["created_at"]).astimezone(zone).isoformat(timespec="milliseconds")
        run_collection(make_settings(backfill_since=since.isoformat()), public(server), progress=False)
    assert 0 < len(expected) < 30
    assert lake.status_ids() == expected


@pytest.mark.parametrize(("overrides", "ended", "oldest_at"), [
    ({"backfill_pages": 2}, "cut", 19),  # 10 a page: the 20th newest is the oldest landed; older ones exist
    ({"backfill_pages": 1000}, "end", 29),  # an empty page below the last: the timeline's beginning
    ({"backfill_since": (RECORDED_AT - timedelta(days=3)).date().isoformat()}, "since", None),
    ({"backfill_pages": 0}, "now", 0),  # nothing landed: the collection begins after the newest status
])
def test_the_first_walk_records_where_the_collection_begins(make_settings, lake_dir, overrides, ended,
                                                            oldest_at) -> None:
    """Was: nothing in the lake said where a source's first walk back in time stopped (the checkpoint keeps the
    newest id only, ``backfill_cut`` is in that run's summary alone), so the first day collected could not be told
    whole (the timeline's beginning, FEDISCOPE_BACKFILL_SINCE) from cut. Recorded once, by the first walk."""
    with MastodonDouble(statuses=30, spacing=timedelta(hours=6)) as server:
        settings = make_settings(**overrides)
        run_collection(settings, public(server), progress=False)
        served = server.public_statuses()
        lake = open_lake(settings.lake)
        start = load_walk_start(lake, server.domain, "public")
        assert start is not None and start.extra is not None and start.extra["ended"] == ended
        if oldest_at is None:  # the oldest status created on or after the since-day
            oldest_at = max(i for i, s in enumerate(served) if s["created_at"][:10] >= overrides["backfill_since"])
        # its day alone: with the instance an id names its author, and a snowflake id is nearly its time
        assert start.extra == {"ended": ended, "oldest_day": served[oldest_at]["created_at"][:10]}
        assert start.newest_id is None
        server.add_statuses(3)
        again = run_collection(settings, public(server), progress=False)  # not a first walk: the record stays
        assert again.ok and load_walk_start(lake, server.domain, "public") == start


@pytest.mark.parametrize(("backfill_pages", "first_day_partial"), [(2, True), (1000, False)])
def test_the_report_marks_the_first_day_as_the_first_walk_ended(make_settings, lake_dir, tmp_path, backfill_pages,
                                                                first_day_partial) -> None:
    """Was: the report marked the hashtag series' first day "(partial)" always, also when the first walk reached
    the timeline's beginning (the whole day collected): the store could not tell. A walk cut by
    FEDISCOPE_BACKFILL_PAGES marks it "(partial)", one that reached the end leaves it unmarked; a lake without
    the records (collected before them) marks it "(partial?)", also when nothing else changed since the last run."""
    from fediscope import analysis
    from fediscope.engine.process import run_process
    from fediscope.lake.layout import STATE_ROOT
    from fediscope.store.port import open_store

    store_url = f"sqlite:///{tmp_path / 'm.db'}"
    # 30 statuses a minute apart: every one on the recorded day, the first and only day of the series
    with MastodonDouble(statuses=30) as server:
        settings = make_settings(backfill_pages=backfill_pages, store=store_url)
        assert run_collection(settings, public(server), progress=False).ok
        domain = server.domain
    run_process(settings, progress=False)
    store = open_store(store_url)
    result = analysis.hashtags_per_day(store)
    assert [r["day"] for r in result.rows] == [RECORDED_AT.date().isoformat()]
    assert result.summary["first_day_partial"] is first_day_partial
    assert result.summary["partial_days"] == ([result.rows[0]["day"]] if first_day_partial else [])
    assert analysis.partial_marks(result) == ({result.rows[0]["day"]: "(partial)"} if first_day_partial else {})

    assert open_lake(settings.lake).delete(f"{STATE_ROOT}/{domain}/start", recursive=True)  # as collected before
    again = run_process(settings, progress=False)
    assert not again.metrics_skipped and again.metrics["trending_hashtags"].stored
    result = analysis.hashtags_per_day(store)
    assert result.summary["first_day_partial"] is None and result.summary["partial_days"] == []
    assert analysis.partial_marks(result) == {result.rows[0]["day"]: "(partial?)"}


@pytest.mark.parametrize(("added", "statuses", "ended", "marked"), [
    ({"backfill_pages": 1}, 40, "cut", True),  # 10 a page: its oldest landed status 2¼ days before its newest
    ({"backfill_since": "2026-07-30"}, 40, "since", False),  # the whole of that day collected
    ({}, 10, "end", False),  # the instance's timeline begins that day: nothing before it to collect
])
def test_a_source_added_later_marks_the_day_its_collection_begins_in_part(make_settings, tmp_path, added, statuses,
                                                                         ended, marked) -> None:
    """Was: only the series' first day was marked. A second instance collected from a later day on, its first walk
    cut by FEDISCOPE_BACKFILL_PAGES, adds its statuses from the middle of that day: the rise from the day before
    is its collection beginning, not growth; the report marks that day "(partial)" and says why, and trending
    says the day falls in its windows. A source whose walk reached its timeline's beginning or
    FEDISCOPE_BACKFILL_SINCE collected the whole day: nothing is marked."""
    from fediscope import analysis
    from fediscope.engine.process import run_process
    from fediscope.report import Report
    from fediscope.store.port import open_store

    store_url = f"sqlite:///{tmp_path / 'm.db'}"
    # 6 hours apart: the first instance's 40 statuses from 2026-07-22 06:00 (its first tagged toot at 12:00) to
    # 2026-08-01 00:00, collected to the timeline's beginning: the series' first day, whole
    # the first double is served until the second is: a port freed at once may be the second's, which would make it
    # the same instance (127.0.0.1:<port>), its walk going on from the first's checkpoint
    with MastodonDouble(statuses=40, spacing=timedelta(hours=6), newest_at=RECORDED_AT - timedelta(hours=14)) as first:
        assert run_collection(make_settings(store=store_url), public(first), progress=False).ok
        # days later a second instance (other statuses: ids of other minutes), its newest on 2026-08-01 as well
        with MastodonDouble(statuses=statuses, spacing=timedelta(hours=6),
                            newest_at=RECORDED_AT - timedelta(minutes=7)) as second:
            assert second.domain != first.domain
            settings = make_settings(store=store_url, **added)
            assert run_collection(settings, public(second), progress=False).ok
            start = load_walk_start(open_lake(settings.lake), second.domain, "public")
    assert start is not None and start.extra is not None and start.extra["ended"] == ended
    began = start.extra["oldest_day"]
    assert began == "2026-07-30"
    run_process(settings, progress=False)
    store = open_store(store_url)
    result = analysis.hashtags_per_day(store)
    days = [r["day"] for r in result.rows]
    assert days[0] == "2026-07-22" and days[-1] == "2026-08-01" and result.summary["first_day_partial"] is False
    assert result.summary["partial_days"] == ([began] if marked else [])
    assert analysis.partial_marks(result) == ({began: "(partial)"} if marked else {})
    trending = analysis.trending_hashtags(store)
    assert trending.summary["window_partial_days"] == ([began] if marked else [])
    report = Report(store_url, analysis.AnalysisRun([result, trending], {}, []))
    text = report.section(result)
    (row,) = [line for line in text.splitlines() if line.startswith(began)]
    assert row.startswith(f"{began} (partial) ") == marked
    assert (f"(partial), {began}: a source's collection began during it" in text) == marked
    assert (f"on {began} (the latest 7 days) a source's collection began in part" in report.section(trending)) == \
        marked


def test_backfill_zero_starts_from_now(mastodon_server, make_settings, lake) -> None:
    run_collection(make_settings(backfill_pages=0), public(mastodon_server), progress=False)
    assert lake.status_ids() == set()
    new = mastodon_server.add_statuses(3)
    run_collection(make_settings(backfill_pages=0), public(mastodon_server), progress=False)
    assert lake.status_ids() == {s["id"] for s in new}


def test_second_run_fetches_only_the_new_statuses(mastodon_server, make_settings, lake) -> None:
    settings = make_settings()
    first = run_collection(settings, public(mastodon_server), progress=False)
    assert first.landed == 100 and first.ok
    newest = served_ids(mastodon_server)[0]
    mastodon_server.log.clear()
    new = mastodon_server.add_statuses(25)
    second = run_collection(settings, public(mastodon_server), progress=False)
    assert second.fetched == second.landed == 25
    assert all(s.params.get("since_id") == newest for s in mastodon_server.requests_to("/api/v1/timelines"))
    assert len(mastodon_server.requests_to("/api/v1/timelines")) == 4  # 10 + 10 + 5, then an empty page
    assert lake.status_ids() == set(served_ids(mastodon_server))
    assert max(lake.ids().values()) == 1
    assert lake.checkpoint(mastodon_server.domain, "public")["newest_id"] == new[-1]["id"]
    third = run_collection(settings, public(mastodon_server), progress=False)
    assert third.fetched == 0 and third.pages == 1


def test_max_pages_bounds_a_run_and_the_walk_resumes(mastodon_server, make_settings, lake) -> None:
    settings = make_settings()
    runs = 0
    while True:
        runs += 1
        summary = run_collection(settings, public(mastodon_server), max_pages=3, progress=False)
        result = summary.sources[0]
        if runs == 1:
            state = lake.checkpoint(mastodon_server.domain, "public")
            assert state["newest_id"] is None and state["extra"]["walk"]["cursor"] == served_ids(mastodon_server)[29]
            assert not result.caught_up and result.landed == 30
            mastodon_server.add_statuses(7)  # arrive while the backfill is still going on
        if result.caught_up:
            break
        assert runs < 10
    run_collection(settings, public(mastodon_server), max_pages=3, progress=False)  # picks up the 7
    assert lake.status_ids() == set(served_ids(mastodon_server))
    assert max(lake.ids().values()) == 1


def test_a_failing_source_is_reported_and_the_others_go_on(mastodon_server, make_settings, lake) -> None:
    mastodon_server.fail(500, times=1000, path="/api/v1/timelines/tag/")
    targets = [(mastodon_server.url, parse_source(f"tag:{TAG}")), *public(mastodon_server),
               (mastodon_server.url, parse_source("instance"))]
    summary = run_collection(make_settings(max_retries=2), targets, progress=False)
    failed = {s.source: s for s in summary.failed}
    assert set(failed) == {f"tag:{TAG}"}
    assert "HTTP 500" in failed[f"tag:{TAG}"].error and "gave up after 3 attempts" in failed[f"tag:{TAG}"].error
    assert len(mastodon_server.requests_to("/api/v1/timelines/tag/")) == 3
    assert lake.status_ids() == set(served_ids(mastodon_server))
    assert lake.records("instance")
    assert not summary.ok and summary.to_dict()["failed"]


@pytest.mark.parametrize("progress", [False, True])
def test_a_failed_source_is_a_warning_only_where_no_progress_line_says_it(
        mastodon_server, make_settings, lake, caplog, capsys, progress: bool) -> None:
    """On a terminal the source's progress line says it failed (and the command's summary lists it): a WARNING
    too showed it a third time. Without progress output the log line is the only record, so it stays a WARNING."""
    mastodon_server.fail(500, times=1000, path="/api/v1/timelines/tag/")
    with caplog.at_level(logging.INFO, logger="fediscope.sources.collector"):
        summary = run_collection(make_settings(max_retries=0), [(mastodon_server.url, parse_source(f"tag:{TAG}"))],
                                 progress=progress)
    assert [s.source for s in summary.failed] == [f"tag:{TAG}"]
    said = [r for r in caplog.records if r.getMessage().startswith(f"source {mastodon_server.domain} ")]
    assert [r.levelno for r in said] == [logging.INFO if progress else logging.WARNING]
    shown = capsys.readouterr().err
    assert (f"tag:{TAG}: failed: " in shown) is progress and "HTTP 500" in said[0].getMessage()


def test_an_unreachable_instance_fails_alone(mastodon_server, make_settings, lake) -> None:
    targets = [("http://127.0.0.1:9", parse_source("public")), *public(mastodon_server)]
    summary = run_collection(make_settings(max_retries=1), targets, progress=False)
    assert [s.instance for s in summary.failed] == ["127.0.0.1:9"]
    assert summary.landed == 100


def test_5xx_burst_mid_walk_then_success(mastodon_server, make_settings, lake) -> None:
    mastodon_server.fail(503, times=2, after=2, path="/api/v1/timelines/public")
    summary = run_collection(make_settings(), public(mastodon_server), progress=False)
    assert summary.ok and summary.retries == 2
    assert lake.status_ids() == set(served_ids(mastodon_server))


def test_429_mid_walk_waits_for_the_reset(mastodon_server, make_settings, lake) -> None:
    mastodon_server.throttle(reset_in=0.3, times=1, after=3)
    summary = run_collection(make_settings(), public(mastodon_server), progress=False)
    assert summary.ok and summary.rate_limit_waits >= 1 and summary.rate_limit_wait_seconds >= 0.25
    assert lake.status_ids() == set(served_ids(mastodon_server))


def test_slow_answer_times_out_and_is_retried(mastodon_server, make_settings, lake) -> None:
    mastodon_server.slow(1.5, times=1, after=1)
    summary = run_collection(make_settings(request_timeout=0.5), public(mastodon_server), progress=False)
    assert summary.ok and summary.retries == 1
    assert lake.status_ids() == set(served_ids(mastodon_server))


def test_non_json_bodies_are_quarantined_and_the_page_fetched_again(mastodon_server, make_settings, lake) -> None:
    mastodon_server.malformed("not_json", times=2, after=1, path="/api/v1/timelines/public")
    summary = run_collection(make_settings(), public(mastodon_server), progress=False)
    assert summary.ok and summary.quarantined == 2
    entries = lake.quarantine_entries()
    assert [e["kind"] for e in entries] == ["body", "body"]
    assert all("not JSON" in e["reason"] and e["status"] == 200 and "body" not in e for e in entries)
    assert all("timelines_public" in f.name for f in lake.quarantine_files())
    assert lake.status_ids() == set(served_ids(mastodon_server))


def test_a_page_that_stays_broken_fails_the_source_and_resumes_later(mastodon_server, make_settings, lake) -> None:
    mastodon_server.malformed("truncated", times=3, after=2, path="/api/v1/timelines/public")
    first = run_collection(make_settings(), public(mastodon_server), progress=False)
    assert not first.ok and "not JSON" in first.failed[0].error and first.quarantined == 3
    assert lake.checkpoint(mastodon_server.domain, "public")["extra"]["walk"]["pages"] == 2
    second = run_collection(make_settings(), public(mastodon_server), progress=False)
    assert second.ok
    assert lake.status_ids() == set(served_ids(mastodon_server)) and max(lake.ids().values()) == 1


@pytest.mark.parametrize("how", ["missing_fields", "wrong_types"])
def test_malformed_items_are_counted_quarantined_and_never_crash(mastodon_server, make_settings, lake, how) -> None:
    mastodon_server.malformed(how, times=1, after=1, path="/api/v1/timelines/public")
    summary = run_collection(make_settings(), public(mastodon_server), progress=False)
    bad = 3 if how == "missing_fields" else 4
    assert summary.ok and summary.quarantined == bad and summary.landed == 100 - bad
    entries = lake.quarantine_entries()
    assert len(entries) == bad and all(e["kind"] == "item" and e["reason"] and e["sha256"] for e in entries)
    assert all("item" not in e for e in entries)  # never the raw values while the privacy policy is on
    document = json.loads(lake.quarantine_files()[0].read_text())
    assert document["endpoint"] == "/api/v1/timelines/public"


def test_without_privacy_quarantine_keeps_the_raw_item(mastodon_server, make_settings, lake) -> None:
    mastodon_server.malformed("missing_fields", times=1)
    run_collection(make_settings(privacy=False, pseudonym_key=None), public(mastodon_server), progress=False)
    items = [e["item"] for e in lake.quarantine_entries()]
    assert len(items) == 3 and all(isinstance(i, dict) for i in items)


def test_no_pseudonym_key_refuses_before_any_request(mastodon_server, make_settings) -> None:
    with pytest.raises(ConfigError, match="FEDISCOPE_PSEUDONYM_KEY"):
        run_collection(make_settings(pseudonym_key=None), public(mastodon_server), progress=False)
    assert mastodon_server.log == []


def test_nothing_to_collect_is_a_config_error(make_settings) -> None:
    with pytest.raises(ConfigError, match="--instance"):
        run_collection(make_settings(), None, progress=False)


def test_erasure_suppression_list_is_applied(mastodon_server, make_settings, lake) -> None:
    settings = make_settings()
    victim = "mastodonpy_test_2"
    key = PrivacyPolicy(key=settings.pseudonym_key.encode()).account_key(victim, mastodon_server.domain)
    add_suppressed(open_lake(settings.lake), key)  # what `fediscope gdpr erase` leaves behind
    summary = run_collection(settings, public(mastodon_server), progress=False)
    by_victim = sum(1 for s in mastodon_server.public_statuses() if s["account"]["acct"] == victim)
    assert by_victim > 0 and summary.skipped == by_victim and summary.landed == 100 - by_victim
    assert key not in {r["data"]["account"]["acct"] for _p, r in lake.records()}


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy-on", "privacy-off"])
def test_the_warning_for_a_source_naming_an_erased_account_names_it_as_the_other_lines_do(
        mastodon_server, make_settings, lake_dir, caplog, capsys, privacy: bool) -> None:
    """Was, with privacy off: the warning (and the progress line) named the source by an unkeyed digest of its
    handle (``account:3f9a…``) while every other line of the run (its summary's list of cut walks, the Airflow
    task's label) names it as written. Named as :meth:`_Context.named` names it now: by its keyed digest, the
    checkpoint's name, while privacy is on; as written with privacy off (the erasure lists the digest of the clear
    key then: the source is skipped all the same)."""
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import clear_key_digest, policy_from_settings

    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    policy = policy_from_settings(settings)
    victim, domain = "mastodonpy_test_2", mastodon_server.domain
    key = policy.account_key(victim, domain)
    add_suppressed(open_lake(settings.lake), key if privacy else clear_key_digest(key))  # as `gdpr erase` lists it
    source = f"account:{victim}"
    with caplog.at_level(logging.INFO, logger="fediscope"):
        summary = run_collection(settings, [(mastodon_server.url, parse_source(source))], progress=True)
    assert summary.sources[0].status == "skipped" and summary.fetched == 0
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    named = source_for_logs(source, policy) if privacy else source
    assert warning.startswith(f"source {domain} {named} names an erased account"), warning
    assert f"{domain} {named}: not collected: an erased account" in capsys.readouterr().err
    if privacy:
        assert victim not in warning
    else:
        assert warning.split()[2] == source  # no digest of it: with privacy off, not a keyed one, but a guessable one


def test_several_instances_each_with_its_own_token(make_settings, lake, tmp_path, monkeypatch) -> None:
    from fediscope.config import load_settings, token_env_name

    monkeypatch.chdir(tmp_path)
    with MastodonDouble(statuses=12) as one, MastodonDouble(statuses=8) as two:
        tokens = load_settings(env={token_env_name(one.url): "token-one"}).tokens
        settings = make_settings(tokens=tokens)
        summary = run_collection(settings, [*public(one), *public(two)], progress=False)
        assert summary.ok and summary.landed == 20
        assert {s.authorization for s in one.log} == {"Bearer token-one"}
        assert {s.authorization for s in two.log} == {None}
        partitions = {p.split("/")[3] for p, _r in lake.records()}
        assert partitions == {f"instance={one.domain}", f"instance={two.domain}"}


def test_progress_goes_to_the_terminal_stream_only_when_asked(mastodon_server, make_settings, capsys,
                                                             monkeypatch) -> None:
    stderr_as_a_wide_terminal(monkeypatch)  # each page on the status line: a log gets only the final lines
    mastodon_server.throttle(reset_in=0.1, after=1)
    run_collection(make_settings(), public(mastodon_server), progress=True)
    err = capsys.readouterr().err
    assert "page 10" in err and "waiting" in err and "100 landed" in err, err
    mastodon_server.add_statuses(5)
    run_collection(make_settings(), public(mastodon_server), progress=False)
    err = capsys.readouterr().err
    assert "page" not in err and "waiting" not in err, err


def test_no_original_account_identifier_in_any_landed_byte(mastodon_server, make_settings, lake) -> None:
    mastodon_server.malformed("missing_fields", times=1, after=1, path="/api/v1/timelines/public")
    mastodon_server.malformed("not_json", times=1, after=3, path="/api/v1/timelines/public")
    mastodon_server.malformed("truncated", times=1, after=1, path="/api/v1/accounts/")  # after the id lookup
    sources = ["public", "local", f"tag:{TAG}", "account:mastodonpy_test_2", "instance", "instance_activity",
               "instance_peers", "trends_tags", "directory", "account_lookup:mastodonpy_test"]
    targets = [(mastodon_server.url, parse_source(s)) for s in sources]
    summary = run_collection(make_settings(), targets, progress=False)
    assert summary.ok and summary.landed > 200 and summary.quarantined == 5
    identifiers = mastodon_server.account_identifiers()
    assert {"mastodonpy_test_2", "117020566092212359", "http://localhost:3000/@mastodonpy_test_2"} <= identifiers
    files = lake.all_bytes()
    assert len(files) > 20
    leaks = [(path.name, i) for path, data in files for i in identifiers if i.encode() in data]
    assert leaks == []
    named = [str(path) for path, _data in files for i in identifiers if i.lower() in str(path).lower()]
    assert named == []  # file names too: the account sources' checkpoints are named after a keyed digest
    again = run_collection(make_settings(), targets[3:4], progress=False)  # the checkpoint is found again
    assert again.ok and again.sources[0].landed == 0


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy-on", "privacy-off"])
def test_a_quote_of_another_shape_is_quarantined_and_curation_goes_on(mastodon_server, make_settings, lake,
                                                                      privacy: bool, tmp_path) -> None:
    """Was, with privacy off: the status landed as it came, and every later curation of the lake failed on it
    ("JSON transform error … Expected OBJECT"): the engines read the quoted author with a declared schema."""
    from fediscope.engine.process import run_process

    mastodon_server.malformed("wrong_quotes", times=1, after=1, path="/api/v1/timelines/public")
    settings = make_settings(store=f"sqlite:///{tmp_path / 'store.db'}",
                             **({} if privacy else {"privacy": False, "pseudonym_key": None}))
    summary = run_collection(settings, public(mastodon_server), progress=False)
    assert summary.ok and summary.quarantined == 4 and summary.landed == 96
    assert all("quote" in e["reason"] for e in lake.quarantine_entries())
    assert run_process(settings, progress=False).curate["statuses_written"] > 0


def test_a_count_beyond_64_bits_is_quarantined_and_curation_goes_on(mastodon_server, make_settings, lake,
                                                                     tmp_path) -> None:
    """Was: ``favourites_count: 100000000000000000000`` landed (it is an integer), and every later curation of the lake
    failed on it ("Failed to cast value to numerical") until the raw file was edited by hand."""
    from fediscope.engine.process import run_process

    mastodon_server.malformed("huge_counts", times=1, after=1, path="/api/v1/timelines/public")
    settings = make_settings(store=f"sqlite:///{tmp_path / 'store.db'}", privacy=False, pseudonym_key=None)
    summary = run_collection(settings, public(mastodon_server), progress=False)
    assert summary.ok and summary.quarantined == 2 and summary.landed == 98
    reasons = sorted(e["reason"] for e in lake.quarantine_entries())
    assert "beyond a 64-bit integer" in reasons[0] and "beyond a 64-bit integer" in reasons[1]
    assert run_process(settings, progress=False).curate["statuses_written"] == 98


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_an_unreadable_checkpoint_names_its_file(mastodon_server, make_settings, lake, content: str) -> None:
    """Was: "the checkpoint of <instance> public is unreadable (…); delete it", without saying which file; a
    checkpoint holding JSON that is not an object was an AttributeError."""
    assert run_collection(make_settings(backfill_pages=1), public(mastodon_server), progress=False).ok
    path = lake.root / "_state" / mastodon_server.domain / "public.json"
    path.write_text(content)
    summary = run_collection(make_settings(backfill_pages=1), public(mastodon_server), progress=False)
    (failed,) = summary.failed
    assert not summary.ok and f"the checkpoint of {mastodon_server.domain} public is unreadable" in failed.error
    assert f"delete {path} to start this source over" in failed.error, failed.error
    assert "AttributeError" not in failed.error and path.read_text() == content  # left for the user


@pytest.mark.parametrize("source", ["account_lookup:mastodonpy_test", "account:mastodonpy_test_2"])
def test_a_checkpoint_an_older_fediscope_named_after_the_handle_is_gone_after_the_next_run(
        mastodon_server, make_settings, lake_dir, source: str) -> None:
    """Was: an ``account_lookup:`` source (a snapshot, which never reads its checkpoint) wrote its keyed one
    beside the older fediscope's ``account_lookup__<handle>.json``, which stayed in the lake for good, the handle
    in its name; an ``account:`` source's was moved when read, and still is."""
    from fediscope.lake.layout import state_path

    legacy = lake_dir / state_path(mastodon_server.domain, source)  # as a fediscope before 2026-12-01 named it
    legacy.parent.mkdir(parents=True)
    legacy.write_text('{"newest_id": null, "updated_at": "2026-11-23T10:00:00+00:00", "extra": null}')
    summary = run_collection(make_settings(), [(mastodon_server.url, parse_source(source))], progress=False)
    assert summary.ok and summary.landed > 0
    handle = source.partition(":")[2]
    assert [p.name for p in lake_dir.joinpath("_state").rglob("*") if handle in p.name] == []
    assert len(list(legacy.parent.glob(f"{source.partition(':')[0]}__*.json"))) == 1


@pytest.mark.parametrize("privacy", [True, False])
def test_a_lone_surrogate_is_quarantined_and_the_rest_of_the_page_lands(mastodon_server, make_settings, lake,
                                                                        privacy: bool) -> None:
    """Was: a status whose ``content`` ended in half an emoji (JSON ``"\\ud83d"``, which ``json`` reads) failed the
    whole page's batch with a ``UnicodeEncodeError`` traceback, so the source failed at that page on every run."""
    mastodon_server.malformed("lone_surrogate", times=1, after=1, path="/api/v1/timelines/public")
    settings = make_settings(privacy=privacy, **({} if privacy else {"pseudonym_key": None}))
    summary = run_collection(settings, public(mastodon_server), progress=False)
    assert summary.ok and summary.quarantined == 1 and summary.landed == 99, summary.line()
    [entry] = lake.quarantine_entries()
    assert entry["reason"].startswith("status.content holds a lone UTF-16 surrogate")
    if not privacy:  # the raw item is kept, its surrogate written as the escape it came as
        assert entry["item"]["content"].endswith("\ud83d")
    assert len(lake.status_ids()) == 99 and lake.status_ids() < set(served_ids(mastodon_server))
    assert lake.checkpoint(mastodon_server.domain, "public")["newest_id"] == served_ids(mastodon_server)[0]


def test_the_collectors_log_lines_name_an_accounts_source_by_its_digest_while_privacy_is_on(
        mastodon_server, make_settings, lake, caplog, tmp_path) -> None:
    """Was: a failed source's warning (and the instance's "not found" it quotes), the quarantine warnings and the
    summary line's list of cut walks named the handle (``account:mastodonpy_test_2``), though the checkpoint, the
    lock and the Airflow task's label name it by a keyed digest; logs end up in Airflow's, journald, files. Named by
    that digest now, the one :func:`~fediscope.lake.state.source_for_logs` gives; ``--json``'s document keeps the
    sources as the user wrote them. With privacy off, the handle as before."""
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    mastodon_server.malformed("missing_fields", times=1, after=1, path="/api/v1/accounts/")  # after the id lookup
    mastodon_server.malformed("not_json", times=1, after=3, path="/api/v1/accounts/")
    sources = ["account:mastodonpy_test_2", "account:NoSuchUser", "account_lookup:mastodonpy_test"]
    targets = [(mastodon_server.url, parse_source(s)) for s in sources]
    settings = make_settings(max_retries=0)
    with caplog.at_level(logging.INFO, logger="fediscope"):
        summary = run_collection(settings, targets, max_pages=2, progress=False)
    assert [s.source for s in summary.failed] == ["account:NoSuchUser"] and summary.quarantined > 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "malformed item" in logged and "malformed answer" in logged and "was not found" in logged, logged
    assert "mastodonpy_test" not in logged.lower() and "nosuchuser" not in logged.lower(), logged
    named = {s: source_for_logs(s, policy_from_settings(settings)) for s in sources}
    domain = mastodon_server.domain
    assert f"source {domain} {named['account:NoSuchUser']} failed: account " in logged, logged
    assert f"{domain} {named['account:mastodonpy_test_2']}: malformed item" in logged, logged
    assert f"on 1 source ({domain} {named['account:mastodonpy_test_2']}), more statuses to fetch" in summary.line()
    assert summary.line() in logged
    # the data keeps what the user wrote; a summary kept where logs are (an Airflow task's XCom) asks for the digest
    assert [s["source"] for s in summary.to_dict()["sources"]] == sources
    shown = summary.to_dict(shown=True)
    assert [s["source"] for s in shown["sources"]] == list(named.values())
    assert "mastodonpy_test" not in json.dumps(shown).lower() and "nosuchuser" not in json.dumps(shown).lower()

    caplog.clear()
    off = make_settings(max_retries=0, privacy=False, pseudonym_key=None, lake=str(tmp_path / "lake-off"))
    with caplog.at_level(logging.INFO, logger="fediscope"):
        summary = run_collection(off, targets[:2], max_pages=2, progress=False)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"source {domain} account:NoSuchUser failed: account NoSuchUser was not found" in logged, logged
    assert f"({domain} account:mastodonpy_test_2), more statuses to fetch" in summary.line() and not summary.shown_as



def test_an_instances_answer_quoting_a_bare_handle_with_its_domain_names_it_by_its_digest(
        mastodon_server, make_settings, caplog) -> None:
    """Was: for ``account:mastodonpy_test_2`` (a handle without a domain), an instance's error quoting it as
    ``mastodonpy_test_2@<the instance>`` reached the warning, the summary kept with the logs (an Airflow task's
    XCom) and the Airflow task's error as it was, though that is the same account: only the handle written alone
    was named by the digest. Another instance's account of that name stays as it is."""
    from fediscope import orchestration
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    domain, source = mastodon_server.domain, "account:mastodonpy_test_2"
    mastodon_server.fail(422, path="/api/v1/accounts/lookup", error=(
        f"@mastodonpy_test_2@{domain} cannot be listed (acct=mastodonpy_test_2%40{domain.upper()}); "
        "mastodonpy_test_2@other.example can"))
    settings = make_settings(max_retries=0)
    with caplog.at_level(logging.INFO, logger="fediscope"):
        summary = run_collection(settings, [(mastodon_server.url, parse_source(source))], progress=False)
    (failed,) = summary.failed
    assert f"mastodonpy_test_2@{domain} cannot be listed" in failed.error  # --json keeps what the instance said
    named = source_for_logs(source, policy_from_settings(settings))
    digest = named.partition(":")[2]
    said = (f"@{digest} cannot be listed (acct={digest}); mastodonpy_test_2@other.example can")
    logged = caplog.text
    assert f"source {domain} {named} failed: {domain}/api/v1/accounts/lookup: HTTP 422: {said}" in logged, logged
    assert f"mastodonpy_test_2@{domain}".lower() not in logged.lower(), logged
    (shown,) = summary.to_dict(shown=True)["failed"]
    assert shown == f"{domain} {named}: {domain}/api/v1/accounts/lookup: HTTP 422: {said}"
    (task_error,) = orchestration._failed_sources(summary.to_dict(), settings)
    assert task_error == shown


def test_an_answer_quoting_a_bare_handle_with_its_instances_handle_domain_names_it_by_its_digest(
        home, make_settings, caplog) -> None:
    """The instance served from social.example.test names its accounts ``@user@example.test``: a page's error
    quoting the handle with that domain (learned from the instance document when the first page landed) is the
    same account."""
    from doubles.split_domain import HANDLE_DOMAIN

    from fediscope import orchestration
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings

    source = "account:mastodonpy_test_2"
    home.fail(422, path="/api/v1/accounts/", after=2,  # the lookup and the first page answered
              error=f"statuses of mastodonpy_test_2@{HANDLE_DOMAIN} below this one are not listed")
    settings = make_settings(max_retries=0)
    with caplog.at_level(logging.INFO, logger="fediscope"):
        summary = run_collection(settings, [(home.url, parse_source(source))], progress=False)
    (failed,) = summary.failed
    assert summary.landed == 10 and f"mastodonpy_test_2@{HANDLE_DOMAIN} below" in failed.error
    named = source_for_logs(source, policy_from_settings(settings))
    logged = caplog.text
    assert f"{named} failed: " in logged and f"HTTP 422: statuses of {named.partition(':')[2]} below" in logged, logged
    assert "mastodonpy_test_2" not in logged, logged
    # the summary kept with the logs (an Airflow task's XCom) and the Airflow task's error, too
    (shown,) = summary.to_dict(shown=True)["failed"]
    assert f"HTTP 422: statuses of {named.partition(':')[2]} below" in shown and "mastodonpy_test_2" not in shown
    assert "handle_domains" not in summary.to_dict()
    (task_error,) = orchestration._failed_sources(summary.to_dict(), settings, summary.handle_domains)
    assert task_error == shown

def test_an_unexpected_failures_traceback_names_an_accounts_source_by_its_digest_while_privacy_is_on(
        mastodon_server, make_settings, caplog, monkeypatch, tmp_path) -> None:
    """Was: the warning named the source by its digest, but the traceback ``log.exception`` wrote with it quoted the
    exception's message as it was, the handle in it. The traceback's text is said as the warning is now, its frames
    kept; with privacy off, as before."""
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import policy_from_settings
    from fediscope.sources import pages

    def planted_bug(client, acct: str) -> str:
        raise RuntimeError(f"no id cached for {acct} (asked as acct={acct})")

    monkeypatch.setattr(pages, "_account_id", planted_bug)
    source = "account:mastodonpy_test_2@example.org"
    settings = make_settings(max_retries=0)
    with caplog.at_level(logging.INFO, logger="fediscope"):
        summary = run_collection(settings, [(mastodon_server.url, parse_source(source))], progress=False)
    (failed,) = summary.failed
    assert failed.error.startswith("internal error: RuntimeError: no id cached for mastodonpy_test_2@example.org")
    (record,) = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert record.exc_info is not None  # still a record with its exception (the JSON lines' "exception" field)
    logged = caplog.text
    digest = source_for_logs(source, policy_from_settings(settings)).partition(":")[2]
    # a formatter reading the exception itself (pyspark's JSON lines, once a Spark session ran in the process: CI
    # caught it) sees it said too
    assert str(record.exc_info[1]) == f"no id cached for {digest} (asked as acct={digest})"
    # the traceback text the formatters take (whichever formats the line: pyspark's JSON lines show frames only)
    traceback_text = record.exc_text or ""
    assert f"RuntimeError: no id cached for {digest} (asked as acct={digest})" in traceback_text, traceback_text
    assert "in planted_bug" in traceback_text and "raise RuntimeError(" in traceback_text  # the frames are kept
    assert "mastodonpy_test" not in logged, logged

    caplog.clear()
    off = make_settings(max_retries=0, privacy=False, pseudonym_key=None, lake=str(tmp_path / "lake-off"))
    with caplog.at_level(logging.INFO, logger="fediscope"):
        run_collection(off, [(mastodon_server.url, parse_source(source))], progress=False)
    (record,) = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert str(record.exc_info[1]).startswith("no id cached for mastodonpy_test_2@example.org")
