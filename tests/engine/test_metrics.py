"""Metrics (DuckDB engine) against an independent Python implementation, and crafted-from-recorded cases."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import metric_reference as reference
import pytest
from engine_data import (
    INSTANCE,
    activity_answered_later,
    assert_rows_equal,
    at,
    federated_copy,
    land,
    policy,
    read_table,
    settings_for,
    snapshots,
    statuses,
    variant,
)
from report_text import unwrapped

from fediscope.engine.metrics import load_metrics
from fediscope.lake.local import LocalLake

METRICS = load_metrics()


@pytest.fixture(scope="module")
def corpus_results(curated_corpus: Path) -> dict[str, list[dict]]:
    from engine_data import settings_for

    from fediscope.engine.base import open_engine

    with open_engine(settings_for(curated_corpus), "duckdb") as engine:
        return {name: engine.run_metric(metric) for name, metric in METRICS.items()}


@pytest.fixture(scope="module")
def corpus_reference(curated_corpus: Path) -> tuple[dict, dict, dict[str, list[dict]]]:
    """The reference's curation of the corpus (statuses and accounts by key) and its metrics over them, computed
    once for the module (in Python, a second or so each time)."""
    statuses_ref, accounts_ref = reference.curate_lake(LocalLake(curated_corpus))
    return statuses_ref, accounts_ref, reference.metrics(statuses_ref, accounts_ref)


def test_curated_tables_match_the_reference_curation(curated_corpus: Path, corpus_reference: tuple) -> None:
    statuses_ref, accounts_ref, _ = corpus_reference
    curated = {r["uri"]: r for r in read_table(curated_corpus, "statuses")}
    assert len(curated) == len(statuses_ref) > 2000
    for uri, expected in statuses_ref.items():
        row = dict(curated[uri], dt=datetime.fromisoformat(curated[uri]["dt"]).date())
        assert row == expected, uri
    accounts = {r["account_key"]: r for r in read_table(curated_corpus, "accounts")}
    assert accounts == accounts_ref
    # the corpus exercises what the rules are about
    assert sum(r["is_reblog"] for r in curated.values()) > 100
    assert sum(r["edited_at"] is not None for r in curated.values()) > 50
    assert sum(bool(r["bot"]) for r in accounts.values()) > 5


@pytest.mark.parametrize("name", sorted(set(METRICS) - {"instance_activity_weekly"}))
def test_metric_matches_the_reference(name: str, curated_corpus: Path, corpus_results: dict,
                                      corpus_reference: tuple) -> None:
    lake = LocalLake(curated_corpus)
    statuses_ref, _, reference_metrics = corpus_reference
    if name == "federation_peers":
        expected = reference.federation_peers(lake)
        assert any(r["new_peers_7d"] and r["gone_peers"] for r in expected), "no peer came or went: untested"
    elif name == "server_trending_tags":
        expected = reference.server_trending_tags(lake, statuses_ref)
        assert any(r["collected_toots"] for r in expected), "no trending tag was collected: the join is untested"
    else:
        expected = reference_metrics[name]
    assert expected, f"the corpus gives {name} no rows: the comparison would prove nothing"
    assert_rows_equal(corpus_results[name], expected, name)


def test_server_trending_tags_collects_no_count_for_days_the_curated_retention_deleted(corpus_lake: Path) -> None:
    """The instances' own counts are kept by the curated retention, the toots of those days are not: their
    collected count is unknown (NULL), not 0 toots collected (was: 0 beside the instance's own count, as though
    the collection had missed every toot with the tag). The days kept are unchanged."""
    from engine_data import settings_for

    from fediscope.engine.base import open_engine
    from fediscope.gdpr.retention import apply_retention

    settings = settings_for(corpus_lake)
    metric = METRICS["server_trending_tags"]
    with open_engine(settings, "duckdb") as engine:
        engine.curate()
        before = {(r["instance"], r["tag"], r["day"]): r for r in engine.run_metric(metric)}
    cut = sorted({day for _, _, day in before})[3]  # a day inside the instances' 7 reported days
    apply_retention(settings.replace(retention_raw_days=0, retention_curated_days=10),
                    today=date.fromisoformat(cut) + timedelta(days=10))
    with open_engine(settings, "duckdb") as engine:
        engine.curate()
        after = {(r["instance"], r["tag"], r["day"]): r for r in engine.run_metric(metric)}
    assert after.keys() == before.keys()
    deleted = [key for key in before if key[2] < cut]
    assert any(before[key]["collected_toots"] for key in deleted), "no toot of a deleted day: the test proves nothing"
    assert all(after[key]["collected_toots"] is None for key in deleted)
    assert all(after[key] == before[key] for key in before if key[2] >= cut)


def test_every_metric_row_has_its_key_and_keys_are_unique(corpus_results: dict) -> None:
    for name, metric in METRICS.items():
        rows = corpus_results[name]
        keys = [tuple(r[k] for k in metric.key) for r in rows]
        assert len(keys) == len(set(keys)), name
        assert all(None not in k for k in keys), name
        if metric.rank_column:
            assert all(metric.rank_column in r for r in rows), name


def _activity_rows(weeks: list[dict], skip_newest: bool = True) -> list[dict]:
    """The metric rows expected of one Mastodon answer: every window but the newest (its day so far)."""
    return [{"instance": INSTANCE, "week": datetime.fromtimestamp(int(w["week"]), UTC).date().isoformat(),
             "statuses": int(w["statuses"]), "logins": int(w["logins"]), "registrations": int(w["registrations"])}
            for w in (weeks[1:] if skip_newest else weeks)]


def test_instance_activity_weekly_keeps_complete_windows_of_the_latest_grid(lake: LocalLake, lake_dir: Path,
                                                                            duckdb_engine) -> None:
    """Mastodon counts its windows back from when it answered: the newest is that day so far, and answers of
    other days overlap. The metric keeps the complete windows on the grid of each instance's latest answer."""
    from engine_data import interactions

    weeks = interactions("test_instance_activity.json")[0]["response"]["body"]
    assert int(weeks[0]["statuses"]) > 0, "the newest window counts nothing: its exclusion would prove nothing"
    land(lake, "instance_activity", weeks, at(1), endpoint="/api/v1/instance/activity")
    engine = duckdb_engine()
    engine.curate()
    metric = METRICS["instance_activity_weekly"]
    assert_rows_equal(engine.run_metric(metric), sorted(_activity_rows(weeks), key=lambda r: r["week"]))

    # a day later every window has moved by a day: only the new answer's windows are kept, none overlaps
    next_day = activity_answered_later(weeks, 1)
    land(lake, "instance_activity", next_day, at(1 + 24 * 60), endpoint="/api/v1/instance/activity")
    engine.curate()
    got = engine.run_metric(metric)
    assert_rows_equal(got, sorted(_activity_rows(next_day), key=lambda r: r["week"]))
    assert len(read_table(lake_dir, "instance_activity")) == 24  # both answers curated, one kept

    # a week after the first answer: the grids agree again, and the first answer's oldest window (older than
    # any of the new answer's) is history the metric keeps; its newest window, partial, is replaced
    next_week = activity_answered_later(weeks, 7)
    for window in next_week:
        window["statuses"] = str(int(window["statuses"]) + 100)
    land(lake, "instance_activity", next_week, at(1 + 7 * 24 * 60), endpoint="/api/v1/instance/activity")
    engine.curate()
    expected = _activity_rows(weeks)[-1:] + _activity_rows(next_week)
    assert_rows_equal(engine.run_metric(metric), sorted(expected, key=lambda r: r["week"]))
    first_newest = datetime.fromtimestamp(int(weeks[0]["week"]), UTC).date().isoformat()
    assert next_week[1]["week"] == weeks[0]["week"]  # the window that was the first answer's day so far
    assert {r["week"]: r["statuses"] for r in engine.run_metric(metric)}[first_newest] == \
        int(next_week[1]["statuses"])  # the new answer's complete window, not the first answer's day so far


def _with_account(status: dict, followers: int) -> dict:
    status = copy.deepcopy(status)
    status["account"]["followers_count"] = followers
    return status


def test_engagement_rate_is_per_toot_per_follower_and_null_without_followers(lake: LocalLake,
                                                                            duckdb_engine) -> None:
    by_admin = statuses("test_public_tl.json", method="GET", path_contains="local=1")
    admin = [s for s in by_admin if s["account"]["acct"] == "admin"][:2]
    other = [s for s in by_admin if s["account"]["acct"] != "admin"][:1]
    admin[0]["favourites_count"], admin[0]["replies_count"] = 6, 1
    admin[1]["reblogs_count"] = 1
    land(lake, "statuses", [_with_account(s, 4) for s in admin] + [_with_account(s, 0) for s in other],
         at(1), policy())
    engine = duckdb_engine()
    engine.curate()
    rows = {r["account_key"]: r for r in engine.run_metric(METRICS["account_engagement"])}
    admin_key = policy().account_key("admin", INSTANCE)
    assert rows[admin_key]["toots"] == 2 and rows[admin_key]["interactions_total"] == 8
    assert rows[admin_key]["interactions_per_toot"] == 4.0
    assert rows[admin_key]["engagement_rate"] == 8 / 2 / 4
    assert rows[admin_key]["favourites_mean"] == 3.0
    (other_row,) = [r for k, r in rows.items() if k != admin_key]
    assert other_row["followers_count"] == 0 and other_row["engagement_rate"] is None


def test_a_hidden_follower_count_is_unknown_not_negative(lake: LocalLake, duckdb_engine) -> None:
    """A server hiding an account's follower count sends -1 (glitch-soc; Mastodon for a remote account that hides
    it): the count is unknown, so the metrics give it as 0, like a missing one, and the engagement rate is NULL.
    Was: -1 followers published in ``top_accounts_by_followers`` and ``account_engagement``. (A snapshot that knows
    the count wins over the hidden one: tests/engine/test_account_snapshots.py; here none does.)"""
    by_admin = statuses("test_public_tl.json", method="GET", path_contains="local=1")
    admin = next(s for s in by_admin if s["account"]["acct"] == "admin")
    hidden = _with_account(admin, -1)
    hidden["account"]["following_count"] = -1
    hidden["favourites_count"] = 3
    land(lake, "statuses", [hidden], at(2), policy())  # the only snapshot: its counts hidden
    engine = duckdb_engine()
    engine.curate()
    key = policy().account_key("admin", INSTANCE)
    (engaged,) = [r for r in engine.run_metric(METRICS["account_engagement"]) if r["account_key"] == key]
    assert engaged["interactions_total"] == 3
    assert engaged["followers_count"] == 0 and engaged["engagement_rate"] is None
    (account,) = [r for r in engine.run_metric(METRICS["top_accounts_by_followers"]) if r["account_key"] == key]
    assert (account["followers_count"], account["following_count"]) == (0, 0)


def test_weekday_and_hour_are_utc_and_iso(lake: LocalLake, duckdb_engine) -> None:
    status = snapshots("test_status_reblog_unreblog.json")[0]
    late = copy.deepcopy(status)
    late["id"], late["uri"] = "117020586019094999", status["uri"] + "-late"
    late["created_at"] = "2026-08-03T01:30:00.000+02:00"  # Monday 01:30 in UTC+2 = Sunday 23:30 UTC
    land(lake, "statuses", [status], at(1), policy())
    land(lake, "statuses", [late], at(60 * 48), policy())  # fetched after it was posted (2026-08-03 14:00 UTC)
    engine = duckdb_engine()
    engine.curate()
    created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
    expected = sorted([{"weekday": created.isoweekday(), "hour": created.hour, "toots": 1},
                       {"weekday": 7, "hour": 23, "toots": 1}], key=lambda r: (r["weekday"], r["hour"]))
    assert_rows_equal(engine.run_metric(METRICS["activity_by_hour"]), expected)


def _tagged(base: dict, n: int, day: datetime, tag: str) -> dict:
    status = copy.deepcopy(base)
    status["id"] = str(int(base["id"]) + n)
    status["uri"] = f"{base['uri']}-{n}"
    status["created_at"] = day.isoformat().replace("+00:00", "Z")
    status["tags"] = [{"name": tag, "url": f"http://localhost:3000/tags/{tag}"}]
    status["favourites_count"] = n
    return status


def test_trending_hashtags_compare_the_latest_week_with_the_week_before(lake: LocalLake, duckdb_engine) -> None:
    base = statuses("test_hashtag_tl.json", method="POST")[0]
    last = datetime(2026, 8, 20, 12, tzinfo=UTC)
    plan = [(0, "Rising"), (6, "rising"), (3, "rising"), (7, "rising"), (8, "fading"), (9, "fading"),
            (1, "fading"), (2, "new"), (14, "old")]  # (days before the last day, tag)
    crafted = [_tagged(base, n, last - timedelta(days=ago), tag) for n, (ago, tag) in enumerate(plan, 1)]
    land(lake, "statuses", crafted, last + timedelta(days=1), policy())  # the last day is whole: fetched after it
    engine = duckdb_engine()
    engine.curate()
    rows = engine.run_metric(METRICS["trending_hashtags"])
    assert [(r["tag"], r["current_toots"], r["previous_toots"], r["growth"]) for r in rows] == [
        ("new", 1, 0, 2.0), ("rising", 3, 1, 2.0), ("fading", 1, 2, 2 / 3)]  # equal growth: by tag
    assert rows[1]["window_end"] == "2026-08-20" and rows[1]["current_engagement"] == 1 + 2 + 3
    assert [r["ranking"] for r in rows] == [1, 2, 3]
    daily = engine.run_metric(METRICS["hashtags_daily"])
    assert sum(r["toots"] for r in daily) == len(crafted)
    assert {r["latest_fetch_day"] for r in rows} == {"2026-08-21"}  # fetched at 12:00 the day after the last


def _steady(base: dict, until: datetime) -> list[dict]:
    """One toot tagged "steady" every 2 hours from 1 July 2026 00:00 UTC up to ``until``: 12 a day."""
    start = datetime(2026, 7, 1, tzinfo=UTC)
    toots = int((until - start) / timedelta(hours=2)) + 1
    return [_tagged(base, n, start + timedelta(hours=2 * n), "steady") for n in range(toots)]


@pytest.mark.parametrize("fetched", [datetime(2026, 7, 15, 1, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC),
                                     datetime(2026, 7, 15, 23, 30, tzinfo=UTC)])
def test_trending_windows_end_on_the_last_complete_day(lake: LocalLake, duckdb_engine, fetched: datetime) -> None:
    """Was: the latest 7 days ended on the day of the latest fetch, which the collection stopped during: 6 whole
    days and part of one against 7 whole days, so a tag used at a steady rate had a growth below 1 that depended on
    the time of day the collection ran (0.87 collected at 01:00). The windows end on the day before."""
    base = statuses("test_hashtag_tl.json", method="POST")[0]
    land(lake, "statuses", _steady(base, fetched - timedelta(minutes=30)), fetched, policy())
    engine = duckdb_engine()
    engine.curate()
    (row,) = engine.run_metric(METRICS["trending_hashtags"])
    assert (row["window_end"], row["latest_fetch_day"]) == ("2026-07-14", "2026-07-15")
    assert (row["current_toots"], row["previous_toots"], row["growth"]) == (84, 84, 1.0)


def test_a_toot_from_a_fast_clock_does_not_move_the_trending_window(lake: LocalLake, duckdb_engine,
                                                                     tmp_path: Path) -> None:
    """Curation keeps a toot dated up to an hour after its fetch (a server's clock a little fast). Was: one toot
    dated 00:10 on the day after a fetch at 23:30 moved the windows onto that day, with almost nothing collected
    (growth 0.87 for a steady tag), and hashtags per day did not mark the day of the latest fetch partial (it was no
    longer the last day). The windows end on the last complete day; both days are marked partial."""
    from fediscope import analysis
    from fediscope.store.port import open_store

    base = statuses("test_hashtag_tl.json", method="POST")[0]
    fetched = datetime(2026, 7, 15, 23, 30, tzinfo=UTC)
    crafted = _steady(base, fetched - timedelta(minutes=30))
    crafted.append(_tagged(base, 1000, datetime(2026, 7, 16, 0, 10, tzinfo=UTC), "steady"))
    land(lake, "statuses", crafted, fetched, policy())
    engine = duckdb_engine()
    engine.curate()
    (row,) = engine.run_metric(METRICS["trending_hashtags"])
    assert (row["window_end"], row["latest_fetch_day"]) == ("2026-07-14", "2026-07-15")
    assert (row["current_toots"], row["previous_toots"], row["growth"]) == (84, 84, 1.0)
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    for name in ("hashtags_daily", "trending_hashtags"):
        store.write(METRICS[name], engine.run_metric(METRICS[name]))
    result = analysis.hashtags_per_day(store)
    assert [r["day"] for r in result.rows][-2:] == ["2026-07-15", "2026-07-16"]  # the fast clock's toot curated
    assert result.summary["partial_days"] == ["2026-07-15", "2026-07-16"]
    assert result.summary["partial_day"] == "2026-07-16"


def _fetched_the_next_day(lake: LocalLake, case: str, steady: list[dict], fetched: datetime) -> None:
    """What a fetch on the day after ``steady``'s leaves that the statuses view does not show: a stale copy of a
    toot that loses to the earlier fetch of its edit, a toot deleted since, or a toot not public."""
    from non_public_statuses import land_raw, tagged, with_visibility
    from streamed_deletions import land_deletion

    if case == "a copy that lost":
        edited = steady[-1]
        stale = {k: v for k, v in edited.items() if k != "edited_at"}
        land(lake, "statuses", [federated_copy(stale, "9990001")], fetched, policy(), instance="remote.example")
    elif case == "a status deleted since":
        toot = variant(tagged(), "d", created_at="2026-07-14T23:40:00.000Z")
        land(lake, "statuses", [toot], fetched, policy())
        land_deletion(lake, toot["id"], INSTANCE, fetched + timedelta(hours=1), policy=policy())
    else:
        land_raw(lake, [variant(with_visibility(tagged(), "private"), "p", created_at="2026-07-14T23:40:00.000Z")],
                 fetched, policy())


@pytest.mark.parametrize("case", ["a copy that lost", "a status deleted since", "a status not public"])
@pytest.mark.parametrize("runs", ["one run", "a run per fetch"])
def test_the_latest_fetch_is_of_every_curated_status(lake: LocalLake, lake_dir: Path, duckdb_engine, case: str,
                                                     runs: str) -> None:
    """Was: the latest fetch was that of the statuses the metrics see (the winning versions, neither deleted nor
    not public), so a fetch on the next day that only saw a stale copy losing to an earlier fetch of the toot's edit,
    a toot deleted since, or one not public, was left out: the day before, collected whole, was taken for the day the
    collection stopped during (the report's period marked it "(partial)", trending_hashtags' windows ended the day
    before it). The latest fetch is now that of any version merged into a curated row, tombstones and markers
    included, alike whether the later fetch is curated with the first or merged into its curated rows later."""
    base = statuses("test_hashtag_tl.json", method="POST")[0]
    fetched = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)
    steady = _steady(base, fetched - timedelta(minutes=30))
    steady[-1]["edited_at"] = "2026-07-14T22:10:00.000Z"
    land(lake, "statuses", steady, fetched, policy())
    if runs == "a run per fetch":
        duckdb_engine().curate()
    _fetched_the_next_day(lake, case, steady, fetched + timedelta(hours=1, minutes=30))
    engine = duckdb_engine()
    engine.curate()

    (row,) = engine.run_metric(METRICS["trending_hashtags"])
    assert (row["window_end"], row["latest_fetch_day"]) == ("2026-07-14", "2026-07-15")
    assert (row["current_toots"], row["previous_toots"]) == (84, 84)  # the next day's fetch added no toot
    period = {r["instance"]: r for r in engine.run_metric(METRICS["posted_days"])}
    assert (period["*"]["last_day"], period["*"]["latest_fetch_day"]) == ("2026-07-14", "2026-07-15")
    assert period["*"]["statuses"] == len(steady)
    latest = max(r["last_fetched_at"] for r in read_table(lake_dir, "statuses"))  # UTC, as Parquet holds it
    assert latest == (fetched + timedelta(hours=1, minutes=30)).replace(tzinfo=None)


@pytest.mark.parametrize(("first_ago", "starts", "first_partial", "previous_partial"), [
    (9, ["cut"], True, True), (13, ["cut"], True, True), (14, ["cut"], True, False),
    (13, ["since", "now"], True, True),  # one source cut (or started from now) that day: partial
    (13, ["end", "since"], False, False),  # every source that began that day collected it whole
    (9, ["end"], False, True),  # whole, but the 7 days before begin before it: days without data
    (13, [], None, True),  # no record (a lake collected before them): not known
    (9, [], None, True),  # not known, but the 7 days before begin before it: days without data, partial for sure
    # a source first collected before the records (its checkpoint, no record: an upgraded lake) may have begun
    # that day, cut: whole is not known; a source cut that day leaves it partial all the same
    (13, ["end", "unrecorded"], None, True), (13, ["cut", "unrecorded"], True, True),
    (13, ["later:cut"], None, True),  # a source that began the next day says nothing of the first
    # a source added later whose walk was cut (or started from now) marks the day it began; one that collected the
    # whole of that day (the timeline's beginning, FEDISCOPE_BACKFILL_SINCE) does not
    (13, ["end", "later:now"], False, False), (13, ["end", "later:end", "later:since"], False, False),
    # was "(partial?)": a source that began the day before, on a day without hashtags, collected the whole first
    # day, cut or not
    (13, ["earlier:end"], False, False), (13, ["earlier:cut"], False, False), (9, ["earlier:cut"], False, True),
])
def test_the_first_day_is_marked_as_the_lake_records_where_collections_begin(
        lake: LocalLake, duckdb_engine, tmp_path: Path, first_ago: int, starts: list[str], first_partial: bool | None,
        previous_partial: bool) -> None:
    """Was: the first day, where the collection's walk back in time began, was marked "(partial)" always: the store
    could not tell a walk cut by FEDISCOPE_BACKFILL_PAGES (one toot that day against the next days' several, read
    as growth) from one that reached the timeline's beginning or FEDISCOPE_BACKFILL_SINCE (the whole day). The
    metric reads the lake's records of where each source's collection begins (``collection_starts``): the first day
    is marked "(partial)" in the summary, the text table and the JSON when a source began on it cut, not at all
    when it is whole, "(partial?)" when no record says; the trending note says when the 7 days before reach it (13
    days before the window's end: its first day) unless it is whole, or reach days before it. A later day on which
    a source began cut or from now (one added later) is marked "(partial)" too, and trending says which window it
    is in."""
    from fediscope import analysis
    from fediscope.lake.state import Checkpoint, save_checkpoint, save_walk_start
    from fediscope.report import FIRST_DAY_NOTE, FIRST_DAY_UNKNOWN_NOTE, Report
    from fediscope.store.port import open_store

    base = statuses("test_hashtag_tl.json", method="POST")[0]
    last = datetime(2026, 8, 20, 12, tzinfo=UTC)
    walk_began = last - timedelta(days=first_ago) + timedelta(hours=11)  # 23:00: the day's last hour alone
    plan = [walk_began] + [last - timedelta(days=ago) for ago in range(first_ago - 1, -1, -1) for _ in range(3)]
    crafted = [_tagged(base, n, created, "tag") for n, created in enumerate(plan, 1)]
    land(lake, "statuses", crafted, last + timedelta(days=1), policy())  # the last day is whole: fetched after it
    for n, ended in enumerate(starts):
        if ended == "unrecorded":  # what an older fediscope left: the checkpoint alone
            save_checkpoint(lake, "mastodon.social", "public", Checkpoint("1"), policy())
            continue
        began = walk_began + timedelta(days={"later": 1, "earlier": -1}.get(ended.partition(":")[0], 0))
        save_walk_start(lake, "mastodon.social", f"account:source{n}", ended.rpartition(":")[2],
                        began.isoformat().replace("+00:00", "Z"), policy())
    engine = duckdb_engine()
    engine.curate()
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    for name in ("hashtags_daily", "trending_hashtags"):
        store.write(METRICS[name], engine.run_metric(METRICS[name]))
    first, second = walk_began.date().isoformat(), (walk_began + timedelta(days=1)).date().isoformat()
    later = [second] if {"later:cut", "later:now"} & set(starts) else []
    result = analysis.hashtags_per_day(store)
    assert [(r["day"], r["uses"]) for r in result.rows[:2]] == [(first, 1), (second, 3)]
    assert result.summary["first_day_partial"] is first_partial
    assert result.summary["partial_days"] == ([first] if first_partial else []) + later
    assert result.summary["source_start_days"] == later
    assert result.summary["partial_day"] is None  # the last day: fetched a day after it
    trending = analysis.trending_hashtags(store)
    assert trending.summary == {"first_day": first, "previous_window_partial": previous_partial,
                                "first_day_partial": first_partial, "window_partial_days": later}
    report = Report("sqlite://", analysis.AnalysisRun([result, trending], {"hashtags_daily": 1,
                                                                           "trending_hashtags": 1}, []))
    text = unwrapped(report.section(result))
    table = [line for line in text.splitlines() if line.startswith("2026-")]
    mark = {True: " (partial) ", False: "  ", None: " (partial?) "}[first_partial]
    assert table[0].startswith(f"{first}{mark}") and sum("(partial" in line for line in table) == (
        first_partial is not False) + len(later)
    assert table[1].startswith(f"{second} (partial) ") == bool(later)
    assert (f"(partial), {second}: a source's collection began during it" in text) == bool(later)
    assert (FIRST_DAY_NOTE in text, FIRST_DAY_UNKNOWN_NOTE in text) == (first_partial is True, first_partial is None)
    assert "first day partial" not in text
    said = unwrapped(report.section(trending))
    # was "(partial): … their counts are low" also when the first day is not known to be partial (an upgraded lake)
    unsure = previous_partial and first_partial is None and first_ago == 13
    assert (f"(partial): the 7 days before reach the first day with hashtag data ({first})" in said) == (
        previous_partial and not unsure)
    assert (f"(partial?): the 7 days before begin on the first day with hashtag data ({first}), where the "
            "collection began, and the store does not say whether that day is whole" in said) == unsure
    assert "previous window partial" not in said
    assert (f"(partial): on {second} (the 7 days before) a source's collection began in part" in said) == bool(later)
    (shown,) = [a for a in report.to_dict()["analyses"] if a["name"] == "hashtags_per_day"]
    assert shown["summary"]["partial_days"] == result.summary["partial_days"]
    assert shown["summary"]["first_day_partial"] is first_partial


def _hashtag_engagement_from_curated(lake_dir: Path) -> list[dict]:
    """``hashtag_engagement`` recomputed in plain Python from the curated ``statuses`` Parquet (read with pyarrow,
    not through an engine, nor through the curated hashtags table the SQL reads): every toot that is not a share
    event or deleted, once per tag it has."""
    by_tag: dict[str, list[dict]] = {}
    for status in read_table(lake_dir, "statuses"):
        if not status["is_reblog"] and not status["deleted"]:
            for tag in status["hashtags"]:
                by_tag.setdefault(tag, []).append(status)
    return sorted((reference.hashtag_engagement_row(tag, toots) for tag, toots in by_tag.items()),
                  key=lambda r: (-r["engagement_total"], r["tag"]))


def test_hashtag_engagement_counts_a_boosted_toot_once_and_splits_media(lake: LocalLake, lake_dir: Path,
                                                                        duckdb_engine) -> None:
    """One row per tag: its toots, their engagement, and the engagement per toot with and without media. A tagged
    toot that was also fetched through a boost is one toot, with its latest counts (the boost in its reblogs)."""
    base = statuses("test_hashtag_tl.json", method="POST")[0]
    images = statuses("test_media_post_multiple.json", method="POST")[0]["media_attachments"]
    other_author = next(s for s in statuses("test_public_tl.json", method="GET", path_contains="local=1")
                        if s["account"]["acct"] != base["account"]["acct"])["account"]
    day = datetime(2026, 7, 30, 12, tzinfo=UTC)
    plan = [(["cats"], True), (["cats"], True), (["cats"], False), (["dogs"], False), (["dogs"], False),
            (["birds"], True), (["cats", "birds"], True)]  # (tags, with media); toot n has n favourites
    crafted = []
    for n, (tags, with_media) in enumerate(plan, 1):
        toot = _tagged(base, n, day, tags[0])
        toot["tags"] = [{"name": t, "url": f"http://localhost:3000/tags/{t}"} for t in tags]
        toot["media_attachments"] = copy.deepcopy(images) if with_media else []
        crafted.append(toot)
    crafted[4]["account"] = copy.deepcopy(other_author)
    boost = snapshots("test_status_reblog_unreblog.json")[1]  # a recorded boost: a wrapper around its original
    boost["reblog"] = dict(copy.deepcopy(crafted[3]), reblogs_count=1)  # the dogs toot, seen later, boosted once
    land(lake, "statuses", crafted, at(1), policy())
    land(lake, "statuses", [boost], at(60), policy())
    engine = duckdb_engine()
    engine.curate()
    curated = {s["uri"]: s for s in read_table(lake_dir, "statuses")}
    (share,) = [s for s in curated.values() if s["is_reblog"]]  # the boost: a share event, its original curated
    assert (curated[share["reblog_of_uri"]]["hashtags"], curated[share["reblog_of_uri"]]["reblogs_count"]) == (
        ["dogs"], 1)
    rows = engine.run_metric(METRICS["hashtag_engagement"])
    assert_rows_equal(rows, _hashtag_engagement_from_curated(lake_dir), "hashtag_engagement")
    got = {r["tag"]: r for r in rows}
    assert [r["tag"] for r in rows] == ["birds", "cats", "dogs"]  # 13, 13 (a tie: by tag), then 10
    # cats: toots 1, 2, 3 and 7 (also tagged birds: one use of each tag); 1, 2 and 7 with media
    assert (got["cats"]["toots"], got["cats"]["toots_with_media"], got["cats"]["engagement_total"]) == (4, 3, 13)
    assert got["cats"]["engagement_per_toot_with_media"] == 10 / 3
    assert got["cats"]["engagement_per_toot_without_media"] == 3.0
    # dogs: toots 4 (4 favourites + the boost's reblog, counted once) and 5 (another author); the boost is no toot
    assert (got["dogs"]["toots"], got["dogs"]["accounts"], got["dogs"]["engagement_total"]) == (2, 2, 10)
    assert got["dogs"]["engagement_per_toot_with_media"] is None  # no toot with media: undefined, not 0
    assert got["dogs"]["engagement_per_toot_without_media"] == 5.0
    assert got["birds"]["engagement_per_toot_with_media"] == 6.5
    assert got["birds"]["engagement_per_toot_without_media"] is None


@pytest.mark.parametrize(("fetched_after", "partial"), [(timedelta(hours=1), "2026-08-20"), (timedelta(days=1), None)])
def test_hashtags_per_day_marks_the_day_of_the_latest_fetch_partial(lake: LocalLake, duckdb_engine, tmp_path: Path,
                                                                    fetched_after: timedelta, partial) -> None:
    """Was: the day the collection stopped in, collected in part, was a drop in hashtags per day that read as a
    decline; the store did not say when the latest fetch was. A day before the fetch's day is whole."""
    from fediscope import analysis
    from fediscope.store.port import open_store

    base = statuses("test_hashtag_tl.json", method="POST")[0]
    last = datetime(2026, 8, 20, 12, tzinfo=UTC)
    crafted = [_tagged(base, n, last - timedelta(days=ago), "tag") for n, ago in enumerate([2, 1, 1, 0], 1)]
    land(lake, "statuses", crafted, last + fetched_after, policy())
    engine = duckdb_engine()
    engine.curate()
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    for name in ("hashtags_daily", "trending_hashtags"):
        store.write(METRICS[name], engine.run_metric(METRICS[name]))
    result = analysis.hashtags_per_day(store)
    assert [r["day"] for r in result.rows] == ["2026-08-18", "2026-08-19", "2026-08-20"]  # no day dropped
    assert result.summary["latest_fetch_day"] == (last + fetched_after).date().isoformat()
    assert result.summary["partial_day"] == partial


def test_ranking_columns_follow_the_store_order(corpus_results: dict) -> None:
    """A metric's ``ranking`` is its order by the rank column, ties broken by key: what a store's top-N reads."""
    checked = 0
    for name, metric in METRICS.items():
        rows = corpus_results[name]
        if not metric.rank_column or not rows or "ranking" not in rows[0]:
            continue
        sign = -1 if metric.rank_desc else 1
        in_store_order = sorted(rows, key=lambda r: (sign * r[metric.rank_column], *(r[k] for k in metric.key)))
        assert [r["ranking"] for r in in_store_order] == list(range(1, len(rows) + 1)), name
        checked += 1
    assert checked == 2  # top_toots and trending_hashtags: short, limited lists


def test_top_accounts_have_no_ranking_and_the_store_top_n_is_their_sql_order(corpus_results: dict,
                                                                              tmp_path: Path) -> None:
    """A global ranking over every account would change for all accounts below one whose follower count moves;
    the metric leaves the position to the store's top-N read, which must give the SQL's ORDER BY exactly."""
    from fediscope.store.port import open_store

    metric = METRICS["top_accounts_by_followers"]
    rows = corpus_results[metric.name]
    assert rows and "ranking" not in rows[0]
    followers = [r["followers_count"] for r in rows]
    assert len(set(followers)) < len(followers), "no follower-count ties: the key tie-break goes untested"
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        store.write(metric, list(reversed(rows)))
        assert store.top(metric, len(rows)) == rows
    finally:
        store.close()


def test_every_metric_on_recorded_statuses_matches_the_reference(lake: LocalLake, duckdb_engine) -> None:
    from engine_data import interactions

    names = ("test_public_tl.json", "test_hashtag_tl.json", "test_status_reblog_unreblog.json", "test_status_edit.json",
             "test_media_post_multiple.json", "test_media_post[True].json", "test_status_card.json",
             "test_status_reply.json", "test_home_tl.json")
    bot = statuses("test_status_reply.json", method="POST")[0]
    bot["account"]["bot"] = True  # one recorded author flagged as a bot, so bot_share has something to count
    for i, name in enumerate(names):
        land(lake, "statuses", statuses(name), at(i), policy())
    land(lake, "statuses", [bot], at(40), policy())  # newer than the directory snapshot below
    land(lake, "directory", interactions("test_directory.json")[0]["response"]["body"], at(30), policy(),
         endpoint="/api/v1/directory")
    engine = duckdb_engine()
    engine.curate()
    expected = reference.metrics(*reference.curate_lake(lake))
    for name in sorted(expected):
        assert_rows_equal(engine.run_metric(METRICS[name]), expected[name], name)
    media = {r["feature"]: r for r in engine.run_metric(METRICS["content_features"])}["media"]
    assert media["toots_with"] == 2 and media["items"] == 3  # two images in one toot, a video in another
    bots = {r["instance"]: r for r in engine.run_metric(METRICS["bot_share"])}["*"]
    assert bots["bots"] == 1 and bots["bot_toots"] >= 1


def _land_toot_without_its_account(lake: LocalLake, base: dict) -> None:
    """A REAL recorded toot by a bot of another home server (``remote.example``), posted at 00:30 on the curated
    retention's first day (2026-08-30, TODAY less 30 days) by a server whose clock runs 40 minutes fast, so fetched
    at 23:50 the day before: the toot is kept (posted within the retention), its author's only snapshot is not
    (fetched before it). Its author has no account row."""
    toot = variant(federated_copy(base, "7770003", home="remote.example"), "orphan",
                   created_at="2026-08-30T00:30:00.000Z")
    toot["account"] = dict(toot["account"], bot=True)
    land(lake, "statuses", [toot], datetime(2026, 8, 29, 23, 50, tzinfo=UTC), policy())


@pytest.mark.parametrize("with_accounts", [True, False], ids=["beside-accounts", "no-account-at-all"])
def test_bot_share_counts_the_toots_of_an_author_without_an_account_row(lake: LocalLake, lake_dir: Path,
                                                                        with_accounts: bool) -> None:
    """Was: the instances of bot_share were those of the account rows, so a toot whose author has none (its only
    snapshot left out by the curated retention) was left out of every row, its instance had no row, and with no
    account at all there was no '*' row either. Its bot flag is unknown: it counts in toots, not in bot_toots; and
    bot_share is NULL (no accounts), not a division by zero."""
    from fediscope.engine.duckdb_engine import DuckDBEngine

    today = date(2026, 9, 29)
    base = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    if with_accounts:  # a bot's toot of the recorded server, posted and fetched within the retention
        kept = dict(base, created_at="2026-09-27T10:00:00.000Z", account=dict(base["account"], bot=True))
        land(lake, "statuses", [kept], datetime(2026, 9, 27, 12, tzinfo=UTC), policy())
    _land_toot_without_its_account(lake, base)
    with DuckDBEngine(settings_for(lake_dir, retention_raw_days=0, retention_curated_days=30)) as engine:
        summary = engine.curate(today=today)
        rows = engine.run_metric(METRICS["bot_share"])

    assert summary.statuses_left_out == 0 and summary.accounts_left_out == 1
    got = {r["instance"]: (r["accounts"], r["bots"], r["bot_share"], r["toots"], r["bot_toots"], r["bot_toot_share"])
           for r in rows}
    if with_accounts:
        assert got == {"*": (1, 1, 1.0, 2, 1, 0.5), INSTANCE: (1, 1, 1.0, 1, 1, 1.0),
                       "remote.example": (0, 0, None, 1, 0, 0.0)}
    else:
        assert got == {"*": (0, 0, None, 1, 0, 0.0), "remote.example": (0, 0, None, 1, 0, 0.0)}
    statuses_ref, accounts_ref = reference.curate_lake(lake)
    kept_accounts = {k: a for k, a in accounts_ref.items() if a["fetched_at"].date() >= date(2026, 8, 30)}
    assert_rows_equal(rows, reference.metrics(statuses_ref, kept_accounts)["bot_share"], "bot_share")


def test_an_empty_language_is_undetermined_in_every_metric(lake: LocalLake, duckdb_engine) -> None:
    """A client may declare the language as "" (no language): every metric names it 'und', as `languages` does."""
    toot = statuses("test_public_tl.json", method="GET", path_contains="local=1")[0]
    toot["language"] = ""
    land(lake, "statuses", [toot], at(1), policy())
    engine = duckdb_engine()
    engine.curate()
    assert [r["language"] for r in engine.run_metric(METRICS["languages"])] == ["und"]
    assert [r["language"] for r in engine.run_metric(METRICS["top_toots"])] == ["und"]
