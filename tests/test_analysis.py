"""The analyses: hand-checked answers on small inputs, and the same answers from every store on real metric rows."""

from __future__ import annotations

import pytest

from fediscope import analysis
from fediscope.analysis import metric, run_analyses
from fediscope.engine.metrics import load_metrics
from fediscope.errors import StoreError
from fediscope.store.port import open_store


def load(store, name, rows):
    store.write(metric(name), rows)


# -- the same answers on every store ---------------------------------------------------------------------------

def test_every_analysis_reads_a_registered_metric():
    registry = load_metrics()
    assert {name for _, name in analysis.ANALYSES} <= set(registry)


def test_analyses_answer_the_same_on_every_store(metric_store, sample_metric_rows, tmp_path):
    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    for name, rows in sample_metric_rows.items():
        load(metric_store, name, rows)
        load(reference, name, rows)
    expected = [r.to_dict() for r in run_analyses(reference, 10).results]
    got = [r.to_dict() for r in run_analyses(metric_store, 10).results]
    assert [r["name"] for r in got] == [r["name"] for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs, mine["name"]
    day = sample_metric_rows["hashtags_daily"][0]["day"]
    assert analysis.hashtags_on(metric_store, day).to_dict() == analysis.hashtags_on(reference, day).to_dict()
    instance = sample_metric_rows["signups_by_month"][0]["instance"]
    assert analysis.signups_over_time(metric_store, instance=instance).to_dict() == \
        analysis.signups_over_time(reference, instance=instance).to_dict()


def test_analyses_show_the_columns_the_metrics_produce(sample_metric_rows, tmp_path):
    """A column an analysis shows that no row has is a metric renamed under it (every value would be None)."""
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    for name, rows in sample_metric_rows.items():
        load(store, name, rows)
    run = run_analyses(store, 10)
    for result in run.results:
        if not result.rows:
            continue
        empty = [c for c in result.columns if all(r.get(c) is None for r in result.rows)]
        assert not empty, f"{result.name}: no values for {empty}"


# -- each analysis on hand-made rows ---------------------------------------------------------------------------

ACCOUNTS = [
    {"account_key": key, "instance": inst, "followers_count": f, "following_count": 1, "statuses_count": 2,
     "bot": bot}
    for key, inst, f, bot in [("a1", "x.example", 500, False), ("a2", "y.example", 90, True),
                              ("a3", "x.example", 90, False), ("a4", "y.example", 0, False)]
]


def test_top_accounts_by_followers(metric_store):
    load(metric_store, "top_accounts_by_followers", list(reversed(ACCOUNTS)))
    result = analysis.top_accounts(metric_store, 3)
    assert [r["account_key"] for r in result.rows] == ["a1", "a2", "a3"]  # a follower tie: by key
    assert result.columns[:3] == ["ranking", "account_key", "instance"]
    assert [r["ranking"] for r in result.rows] == [1, 2, 3]  # the position in the store's top-N order
    assert result.rows[1]["bot"] is True


def test_top_accounts_ranking_ignores_a_ranking_column_left_in_the_store(metric_store):
    """A store written before the metric dropped its ``ranking`` still holds the column (stale, or NULL in rows
    written since); the report shows the position in the top-N order, not that column."""
    stale = [{**row, "ranking": 9 - i} for i, row in enumerate(ACCOUNTS)]
    load(metric_store, "top_accounts_by_followers", stale)
    result = analysis.top_accounts(metric_store, 4)
    assert [(r["ranking"], r["account_key"]) for r in result.rows] == [(1, "a1"), (2, "a2"), (3, "a3"), (4, "a4")]


def engagement_row(key, per_toot, rate, toots=2):
    return {"account_key": key, "instance": "x.example", "followers_count": 10, "toots": toots,
            "interactions_total": per_toot * toots, "interactions_per_toot": per_toot, "engagement_rate": rate}


def test_engagement_distribution_buckets_and_rates(metric_store):
    rows = [engagement_row("a", 0.0, None), engagement_row("b", 0.5, 0.05), engagement_row("c", 1.0, 0.1),
            engagement_row("d", 3.0, 0.3), engagement_row("e", 250.0, 25.0), engagement_row("f", 0.0, 0.0)]
    load(metric_store, "account_engagement", rows)
    result = analysis.engagement_distribution(metric_store)
    counts = {r["interactions_per_toot"]: r["accounts"] for r in result.rows}
    assert counts == {"0": 2, "0-1": 2, "1-2": 0, "2-5": 1, "5-10": 0, "10-20": 0, "20-50": 0, "50-100": 0,
                      ">100": 1}
    assert result.rows[0]["share"] == 2 / 6
    assert result.summary["accounts"] == 6
    assert result.summary["accounts_with_followers"] == 5
    assert result.summary["median_engagement_rate"] == 0.1
    assert result.summary["mean_engagement_rate"] == pytest.approx((0.05 + 0.1 + 0.3 + 25.0 + 0.0) / 5)
    assert result.summary["median_interactions_per_toot"] == 0.75
    top = analysis.top_engaged_accounts(metric_store, 2)
    assert [r["account_key"] for r in top.rows] == ["e", "d"]


def test_signups_sum_over_instances_and_one_instance_is_a_prefix_read(metric_store):
    rows = [{"instance": "x.example", "month": "2024-01", "accounts": 2, "accounts_cumulative": 2},
            {"instance": "x.example", "month": "2024-03", "accounts": 1, "accounts_cumulative": 3},
            {"instance": "y.example", "month": "2024-01", "accounts": 5, "accounts_cumulative": 5},
            {"instance": "y.example", "month": "2024-02", "accounts": 4, "accounts_cumulative": 9}]
    load(metric_store, "signups_by_month", rows)
    result = analysis.signups_over_time(metric_store)
    assert result.rows == [{"month": "2024-01", "accounts": 7, "accounts_cumulative": 7},
                           {"month": "2024-02", "accounts": 4, "accounts_cumulative": 11},
                           {"month": "2024-03", "accounts": 1, "accounts_cumulative": 12}]
    assert result.summary["busiest_month"] == "2024-01"
    assert result.summary["instances"] == 2
    one = analysis.signups_over_time(metric_store, instance="x.example")
    # a month without sign-ups is in the series (with 0), so the chart's evenly spaced bars keep the calendar
    assert [(r["month"], r["accounts"], r["accounts_cumulative"]) for r in one.rows] == [
        ("2024-01", 2, 2), ("2024-02", 0, 2), ("2024-03", 1, 3)]
    assert one.summary["months"] == 3


def test_signups_fill_months_across_a_year_end(metric_store):
    rows = [{"instance": "x.example", "month": m, "accounts": 1, "accounts_cumulative": i}
            for i, m in enumerate(["2023-11", "2024-02"], 1)]
    load(metric_store, "signups_by_month", rows)
    result = analysis.signups_over_time(metric_store)
    assert [(r["month"], r["accounts"]) for r in result.rows] == [
        ("2023-11", 1), ("2023-12", 0), ("2024-01", 0), ("2024-02", 1)]
    assert result.rows[-1]["accounts_cumulative"] == 2


def test_signups_are_not_filled_across_centuries(metric_store):
    """A remote server may send any creation date: one account "created" in the year 1 must not make the series
    24,000 empty months (was: 24,311 rows, 1.5 MB of JSON from the results API)."""
    rows = [{"instance": "evil.example", "month": "0001-01", "accounts": 1, "accounts_cumulative": 1},
            {"instance": "x.example", "month": "2026-10", "accounts": 5, "accounts_cumulative": 5},
            {"instance": "x.example", "month": "2026-12", "accounts": 7, "accounts_cumulative": 12}]
    load(metric_store, "signups_by_month", rows)
    result = analysis.signups_over_time(metric_store)
    assert [(r["month"], r["accounts"], r["accounts_cumulative"]) for r in result.rows] == [
        ("0001-01", 1, 1), ("2026-10", 5, 6), ("2026-12", 7, 13)]
    one_instance = analysis.signups_over_time(metric_store, instance="x.example")
    assert [r["month"] for r in one_instance.rows] == ["2026-10", "2026-11", "2026-12"]  # filled


HASHTAGS = [
    {"day": "2024-05-01", "tag": "python", "toots": 3, "accounts": 2, "engagement_total": 10, "engagement_mean": 3.3},
    {"day": "2024-05-01", "tag": "rust", "toots": 3, "accounts": 3, "engagement_total": 1, "engagement_mean": 0.3},
    {"day": "2024-05-01", "tag": "art", "toots": 1, "accounts": 1, "engagement_total": 0, "engagement_mean": 0.0},
    {"day": "2024-05-02", "tag": "python", "toots": 5, "accounts": 4, "engagement_total": 7, "engagement_mean": 1.4},
]


def test_hashtags_per_day_and_on_one_day(metric_store):
    load(metric_store, "hashtags_daily", HASHTAGS)
    result = analysis.hashtags_per_day(metric_store)
    assert result.rows == [
        {"day": "2024-05-01", "tags": 3, "uses": 7, "uses_engagement": 11,
         "top_tags": "#python (3), #rust (3), #art (1)"},
        {"day": "2024-05-02", "tags": 1, "uses": 5, "uses_engagement": 7, "top_tags": "#python (5)"},
    ]
    assert result.summary["top_tags"] == ["python", "rust", "art"]
    assert result.summary["per_day"]["python"] == {"2024-05-01": 3, "2024-05-02": 5}
    day = analysis.hashtags_on(metric_store, "2024-05-01", n=2)
    assert [r["tag"] for r in day.rows] == ["python", "rust"]
    assert day.summary["tags"] == 3


def test_hashtags_per_day_has_a_row_for_each_day_also_those_without_tags(tmp_path):
    """Was: days without any hashtag use were left out, so the table and the chart went from 2024-05-02 straight to
    2024-05-05 as if they were neighbouring days (the chart's points are evenly spaced)."""
    from fediscope.store.port import open_store

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    load(store, "hashtags_daily", [*HASHTAGS, {"day": "2024-05-05", "tag": "art", "toots": 2, "accounts": 1,
                                               "engagement_total": 4, "engagement_mean": 2.0}])
    result = analysis.hashtags_per_day(store)
    assert [(r["day"], r["uses"]) for r in result.rows] == [
        ("2024-05-01", 7), ("2024-05-02", 5), ("2024-05-03", 0), ("2024-05-04", 0), ("2024-05-05", 2)]
    assert result.rows[2] == {"day": "2024-05-03", "tags": 0, "uses": 0, "uses_engagement": 0, "top_tags": ""}
    assert result.summary["days"] == 5
    assert analysis._every_day(["2019-01-01", "2024-12-31"]) == ["2019-01-01", "2024-12-31"]  # too long to fill
    assert analysis._every_day(["2024-05-01", "May 3"]) == ["2024-05-01", "May 3"]


def _tag(tag, toots, total, with_media, media_total):
    """A hashtag_engagement row as the metric computes it from its totals."""
    without = toots - with_media
    return {"tag": tag, "toots": toots, "accounts": 1, "engagement_total": total, "engagement_per_toot": total / toots,
            "toots_with_media": with_media, "engagement_with_media": media_total,
            "engagement_per_toot_with_media": media_total / with_media if with_media else None,
            "engagement_per_toot_without_media": (total - media_total) / without if without else None}


def test_hashtag_engagement_ranks_tags_with_the_media_lift(metric_store):
    load(metric_store, "hashtag_engagement", [
        _tag("art", 4, 30, 2, 24), _tag("cats", 3, 30, 3, 30), _tag("news", 5, 12, 0, 0),
        _tag("quiet", 2, 4, 1, 4)])
    result = analysis.hashtag_engagement(metric_store, 3)
    assert [r["tag"] for r in result.rows] == ["art", "cats", "news"]  # 30, 30 (a tie: by tag), 12
    art, cats, news = result.rows
    assert (art["per_toot_with_media"], art["per_toot_without_media"], art["media_lift"]) == (12.0, 3.0, 4.0)
    assert (cats["per_toot_without_media"], cats["media_lift"]) == (None, None)  # no toot without media
    assert (news["per_toot_with_media"], news["media_lift"]) == (None, None)  # no toot with media
    assert analysis.hashtag_engagement(metric_store, 4).rows[3]["media_lift"] is None  # nothing without media: 0
    # over every use of every tag: 6 with media drew 58, 8 without drew 18
    assert result.summary == {"tags": 4, "uses": 14, "uses_with_media": 6, "per_use_with_media": 58 / 6,
                              "per_use_without_media": 18 / 8, "lift_with_media": (58 / 6) / (18 / 8)}


def test_languages_top_and_the_rest(metric_store):
    rows = [{"language": lang, "toots": n, "share": n / 20} for lang, n in
            [("en", 10), ("de", 5), ("fr", 3), ("und", 1), ("ja", 1)]]
    load(metric_store, "languages", rows)
    result = analysis.languages(metric_store, 2)
    assert result.rows == [{"language": "en", "toots": 10, "share": 0.5}, {"language": "de", "toots": 5, "share": 0.25},
                           {"language": "other (3)", "toots": 5, "share": 0.25}]
    assert analysis.languages(metric_store, 5).rows[-1]["language"] == "und"  # ties by key: ja < und


def test_media_engagement_in_a_fixed_order_with_the_lift(metric_store):
    rows = [{"media_type": t, "toots": 1, "interactions_mean": m, "favourites_mean": m, "reblogs_mean": 0.0,
             "replies_mean": 0.0} for t, m in [("video", 6.0), ("any", 5.0), ("none", 2.0), ("image", 4.0)]]
    load(metric_store, "media_engagement", rows)
    result = analysis.media_engagement(metric_store)
    assert [r["media_type"] for r in result.rows] == ["none", "any", "image", "video"]
    assert [r["lift_vs_none"] for r in result.rows] == [1.0, 2.5, 2.0, 3.0]
    assert result.summary["lift_with_media"] == 2.5


def test_activity_by_hour_and_weekday(metric_store):
    rows = [{"weekday": 1, "hour": 9, "toots": 4}, {"weekday": 3, "hour": 9, "toots": 1},
            {"weekday": 3, "hour": 22, "toots": 6}, {"weekday": 7, "hour": 0, "toots": 2}]
    load(metric_store, "activity_by_hour", rows)
    result = analysis.activity(metric_store)
    assert len(result.rows) == 24
    assert result.rows[9] == {"hour": 9, "toots": 5, "share": 5 / 13}
    assert result.summary["peak_hour"] == 22
    assert result.summary["peak_weekday"] == "Wednesday"
    assert result.summary["weekdays"]["Sunday"] == 2
    by_weekday = analysis.activity_by_weekday(metric_store)
    assert [(r["weekday"], r["toots"]) for r in by_weekday.rows] == [
        ("Monday", 4), ("Tuesday", 0), ("Wednesday", 7), ("Thursday", 0), ("Friday", 0), ("Saturday", 0),
        ("Sunday", 2)]


def test_bots_share_puts_all_instances_first(metric_store):
    rows = [{"instance": "*", "accounts": 10, "bots": 2, "bot_share": 0.2, "toots": 50, "bot_toots": 20,
             "bot_toot_share": 0.4},
            {"instance": "small.example", "accounts": 3, "bots": 0, "bot_share": 0.0, "toots": 10, "bot_toots": 0,
             "bot_toot_share": 0.0},
            {"instance": "big.example", "accounts": 7, "bots": 2, "bot_share": 2 / 7, "toots": 40, "bot_toots": 20,
             "bot_toot_share": 0.5}]
    load(metric_store, "bot_share", rows)
    result = analysis.bots_share(metric_store)
    assert [r["instance"] for r in result.rows] == ["all instances", "big.example", "small.example"]
    assert result.summary == {"bot_share": 0.2, "bot_toot_share": 0.4}


def test_content_warnings_show_the_top_languages_and_headline_numbers_over_every_language(metric_store):
    def row(language, toots, warned, sensitive, with_cw, without_cw):
        return {"language": language, "toots": toots, "toots_with_cw": warned, "cw_share": warned / toots,
                "sensitive_toots": sensitive, "sensitive_share": sensitive / toots,
                "interactions_mean_with_cw": with_cw, "interactions_mean_without_cw": without_cw,
                "cw_length_mean": 12.0 if warned else None}
    load(metric_store, "content_warnings", [row("en", 80, 8, 10, 1.5, 3.0), row("de", 15, 0, 1, None, 2.0),
                                            row("und", 5, 2, 2, 4.0, 1.0)])
    result = analysis.content_warnings(metric_store, n=2)
    assert [r["language"] for r in result.rows] == ["en", "de"]
    assert result.rows[1]["interactions_mean_with_cw"] is None
    assert result.summary == {"toots": 100, "toots_with_cw": 10, "cw_share": 0.1, "sensitive_share": 0.13}


def test_instance_activity_shows_the_latest_week(metric_store):
    rows = [{"instance": "x.example", "week": w, "statuses": s, "logins": 1, "registrations": 0}
            for w, s in [("2024-04-29", 50), ("2024-05-06", 7)]]
    rows.append({"instance": "y.example", "week": "2024-05-06", "statuses": 9, "logins": 2, "registrations": 1})
    load(metric_store, "instance_activity_weekly", rows)
    result = analysis.instance_activity(metric_store)
    assert [(r["instance"], r["week"]) for r in result.rows] == [("y.example", "2024-05-06"),
                                                                 ("x.example", "2024-05-06")]


def test_server_trending_tags_sums_each_instances_last_7_reported_days(metric_store):
    def row(instance, tag, day, uses, collected=0):
        return {"instance": instance, "tag": tag, "day": day, "uses": uses, "accounts": 1,
                "collected_toots": collected}

    load(metric_store, "server_trending_tags", [
        row("x.example", "cats", "2024-05-10", 5, 2), row("x.example", "cats", "2024-05-04", 7, 1),
        row("x.example", "cats", "2024-05-03", 100),  # 7 days before x's latest day: outside its window
        row("x.example", "dogs", "2024-05-09", 9),
        row("y.example", "cats", "2024-05-01", 30, 4)])  # y reported last on May 1st: its own window
    result = analysis.server_trending_tags(metric_store)
    assert [(r["instance"], r["tag"], r["uses_7d"], r["uses_latest_day"], r["collected_toots_7d"], r["latest_day"])
            for r in result.rows] == [("y.example", "cats", 30, 30, 4, "2024-05-01"),
                                      ("x.example", "cats", 12, 5, 3, "2024-05-10"),
                                      ("x.example", "dogs", 9, 0, 0, "2024-05-10")]
    assert result.summary == {"instances": 2, "tags": 3}


def test_server_trending_tags_leaves_days_not_collected_out_of_the_collected_toots(metric_store):
    """A day before the collection's first (or deleted by the curated retention) has no collected count (NULL), so
    a window of only such days has none either, rather than 0 toots collected."""
    load(metric_store, "server_trending_tags", [
        {"instance": "x.example", "tag": t, "day": d, "uses": 5, "accounts": 1, "collected_toots": c}
        for t, d, c in [("cats", "2024-05-10", 2), ("cats", "2024-05-09", None), ("dogs", "2024-05-08", None)]])
    result = analysis.server_trending_tags(metric_store)
    assert [(r["tag"], r["collected_toots_7d"]) for r in result.rows] == [("cats", 2), ("dogs", None)]


def test_federation_lists_the_instances_with_the_most_peers(metric_store):
    load(metric_store, "federation_peers", [
        {"instance": i, "latest_fetch": "2024-05-10", "peers": p, "new_peers_7d": 1, "gone_peers": 0,
         "peers_ever": p} for i, p in [("a.example", 3), ("b.example", 40), ("c.example", 12)]])
    result = analysis.federation(metric_store, n=2)
    assert [(r["instance"], r["peers"]) for r in result.rows] == [("b.example", 40), ("c.example", 12)]


def test_trending_mentions_toots_instances_features(metric_store):
    load(metric_store, "trending_hashtags", [
        {"ranking": 2, "tag": "b", "window_end": "2024-05-02", "current_toots": 2, "previous_toots": 1,
         "delta": 1, "growth": 1.5, "current_engagement": 3},
        {"ranking": 1, "tag": "a", "window_end": "2024-05-02", "current_toots": 3, "previous_toots": 0,
         "delta": 3, "growth": 4.0, "current_engagement": 1}])
    load(metric_store, "top_mentioned_accounts", [{"account_key": k, "mentions": m, "mentioned_by": 1}
                                                  for k, m in [("p", 1), ("q", 9), ("r", 9)]])
    load(metric_store, "instances", [{"instance": "x", "toots": 1, "accounts": 1, "share": 0.25},
                                     {"instance": "y", "toots": 3, "accounts": 1, "share": 0.75}])
    assert [r["tag"] for r in analysis.trending_hashtags(metric_store).rows] == ["a", "b"]
    assert [r["account_key"] for r in analysis.mentions(metric_store, 2).rows] == ["q", "r"]
    assert [r["instance"] for r in analysis.instances(metric_store).rows] == ["y", "x"]


# -- the whole run ---------------------------------------------------------------------------------------------

def test_an_empty_store_says_to_run_process(metric_store):
    with pytest.raises(StoreError, match="run `fediscope process` first"):
        run_analyses(metric_store)


def test_a_store_with_only_empty_metrics_says_to_collect(metric_store):
    metric_store.write(metric("languages"), [])
    with pytest.raises(StoreError, match="fediscope collect"):
        run_analyses(metric_store)


def test_missing_metrics_are_listed_and_empty_ones_run(metric_store):
    load(metric_store, "languages", [{"language": "en", "toots": 1, "share": 1.0}])
    metric_store.write(metric("bot_share"), [])
    run = run_analyses(metric_store)
    assert [r.name for r in run.results] == ["languages", "bots_share"]
    assert run.get("bots_share").rows == []
    assert "top_accounts_by_followers" in run.missing and "languages" not in run.missing


def test_a_stored_metric_without_a_column_an_analysis_reads_is_a_failure_not_zeros(metric_store, caplog):
    """A store written by another fediscope, whose metrics call a column otherwise: the analyses reading it say
    so, instead of counting every value as 0 (languages showed 0 toots, hashtags per day 0 engagement)."""
    from fediscope.engine.metrics import parse_metric

    renamed = parse_metric("languages", "-- question: q\n-- key: language\n-- rank: statuses DESC\nSELECT 1")
    metric_store.write(renamed, [{"language": "en", "statuses": 3, "share": 0.6},
                                 {"language": "de", "statuses": 2, "share": 0.4}])
    load(metric_store, "hashtags_daily", [{"day": "2024-01-01", "tag": "a", "toots": 2, "accounts": 1,
                                          "engagement": 5, "engagement_mean": 2.5}])
    load(metric_store, "activity_by_hour", [{"weekday": 1, "hour": 3, "statuses": 4}])
    run = run_analyses(metric_store)
    assert run.failed.keys() == {"languages", "hashtags_per_day", "activity", "activity_by_weekday"}
    assert "column 'toots' missing" in run.failed["languages"]
    assert "column 'engagement_total' missing" in run.failed["hashtags_per_day"]
    assert "column 'toots' missing" in run.failed["activity"]
    assert run.results == []


def test_a_stored_table_missing_a_column_fails_only_its_analyses(tmp_path):
    """Was: `fediscope report` stopped at the first analysis of a metric whose SQLite table lost a column (an older
    fediscope, a hand edit), printing none, while the results API answered 409 for that metric alone."""
    import sqlite3

    path = tmp_path / "store.db"
    store = open_store(f"sqlite:///{path}")
    try:
        load(store, "languages", [{"language": "en", "toots": 3, "share": 0.75}, {"language": "de", "toots": 1,
                                                                                 "share": 0.25}])
        load(store, "hashtags_daily", HASHTAGS)
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE metric_languages DROP COLUMN share")
    store = open_store(f"sqlite:///{path}")
    try:
        run = run_analyses(store)
    finally:
        store.close()
    assert set(run.failed) == {"languages"} and "share" in run.failed["languages"]
    assert [r.name for r in run.results] == ["hashtags_per_day"]


def test_no_rows_are_blamed_on_a_window_only_when_a_run_had_one() -> None:
    """A run without --since/--until records ``{"since": null, "until": null}``: its empty metrics keep the advice
    to collect (was, for a moment: "its window (until None)")."""
    no_window = {"raw_files": 0, "window": {"since": None, "until": None}}
    assert analysis._window_curated_nothing({"languages": no_window, "instances": None}, "`fediscope process`") is None
    windowed = {"raw_files": 0, "window": {"since": "2099-01-01", "until": None}}
    assert "its window (since 2099-01-01)" in analysis._window_curated_nothing({"languages": windowed}, "x")
    assert analysis._window_curated_nothing({"languages": windowed, "instances": no_window}, "x") is None
