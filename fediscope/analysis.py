"""The analyses behind ``fediscope report``: each one a question answered from stored metrics.

Every analysis reads the store only through the port (``top``, ``all``, ``get``, ``scan_prefix``), never with
a store's own query language, so it gives the same answer on SQLite, MariaDB and HBase. What the metrics do
not precompute (a distribution's buckets, totals over instances, a lift against toots without media) is
computed here, over rows the stores return in the same (key) order — so even float sums are identical.

Each function takes the store (and a size) and returns an :class:`AnalysisResult`: a title, the question, the
columns to show, the rows, and a few headline numbers (``summary``). :func:`run_analyses` runs them all in
report order, skipping those whose metric is not in the store. A stored metric no analysis reads (a user's own) is
shown as it is stored: :func:`other_metrics`.
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from fediscope.engine.metrics import Metric, load_metrics
from fediscope.errors import MissingTableError, StoreError
from fediscope.interrupts import raise_if_lost
from fediscope.redact import redact_url
from fediscope.store.base import PROVISIONAL, UNDECODABLE
from fediscope.store.port import MetricStore, Row
from fediscope.timestamps import rfc3339_rows

log = logging.getLogger(__name__)

_Value = TypeVar("_Value")

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MEDIA_ORDER = ("none", "any", "image", "video", "gifv", "audio")
#: upper bounds of the interactions-per-toot buckets of the engagement distribution (the last is open)
ENGAGEMENT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100)


@dataclass
class AnalysisResult:
    name: str
    title: str
    question: str
    metric: str
    columns: list[str]
    rows: list[Row]
    summary: dict[str, Any] = field(default_factory=dict)
    text_tail: int | None = None  # a long time series: the text report shows only its last rows
    #: the metric's ``-- timestamps:`` columns among ``columns``: stored text, given by :meth:`to_dict` as RFC 3339
    timestamps: tuple[str, ...] = ()
    json_rows: list[Row] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # converted here, in the analysis: a stored value that is no timestamp is refused with the analysis' other
        # errors (ValueError), not when the report's JSON is printed
        self.json_rows = rfc3339_rows(self.rows, self.timestamps)

    def to_dict(self) -> dict[str, Any]:
        """The result as ``--format json`` and the results API give it: timestamps as RFC 3339 UTC (``…Z``), the
        text report showing them as stored."""
        return {"name": self.name, "title": self.title, "question": self.question, "metric": self.metric,
                "columns": self.columns, "rows": self.json_rows, "summary": self.summary}


def metric(name: str) -> Metric:
    """The registry's metric of that name; stores read by name, so an unregistered one still works."""
    registry = load_metrics()
    if name in registry:
        return registry[name]
    return Metric(name=name, question="", key=("",), sql="")


#: the analyses that ask a question of their own, not their metric's, by name (what lists of the analyses show
#: without running them: the API's ``GET /v1/analyses``, through :func:`analysis_question`)
OWN_QUESTIONS: dict[str, str] = {
    "engagement_distribution": "How are accounts spread over interactions per toot, and what is the typical "
                               "engagement rate (interactions per toot per follower)?",
    # the metric is per instance and month; the analysis sums over the instances (its instance= argument reads one;
    # the API's analysis takes none: /v1/metrics/signups_by_month?prefix=<instance> gives one instance's rows)
    "signups_over_time": "How many accounts were created each month, summed over the instances?",
    # both read the weekday × hour grid (whose question asks for both); each shows one of its sums
    "activity": "At which hours of the day (UTC) are toots posted, and on which weekday the most?",
    "activity_by_weekday": "On which weekdays (UTC) are toots posted?",
    # the top of account_engagement by its rank, total interactions (the metric asks about every account)
    "top_engaged_accounts": "Which accounts' toots get the most interactions in all?",
    # one row per instance: its latest complete week (the metric holds every week)
    "instance_activity": "How active was each instance in its latest complete week, as it reports itself?",
}

#: what each analysis shows, in a few words: ``fediscope report --help`` lists them in :data:`ANALYSES`'s order
#: (an analysis missing here is listed by its name; a test keeps them complete)
SHORT_TITLES: dict[str, str] = {
    "top_accounts": "top accounts by followers",
    "engagement_distribution": "the engagement distribution",
    "top_engaged_accounts": "the accounts with the most interactions",
    "signups_over_time": "sign-ups over time",
    "hashtags_per_day": "hashtags per day",
    "trending_hashtags": "trending hashtags",
    "hashtag_engagement": "hashtags by engagement (with and without media)",
    "server_trending_tags": "the tags the instances list as trending",
    "languages": "languages",
    "instances": "instances",
    "top_toots": "top toots",
    "media_engagement": "media engagement",
    "content_features": "content features",
    "content_warnings": "content warnings by language (their share and engagement)",
    "mentions": "mentions",
    "activity": "activity by hour",
    "activity_by_weekday": "activity by weekday",
    "bots_share": "the share of bots",
    "instance_activity": "instance activity (as the instances report it)",
    "federation": "federation (the peers each instance knows of)",
}


def short_title(name: str) -> str:
    """What the analysis ``name`` shows, in a few words (its name when :data:`SHORT_TITLES` lacks it)."""
    return SHORT_TITLES.get(name, name.replace("_", " "))


def analysis_question(name: str, metric_name: str) -> str:
    """The question the analysis ``name`` (reading ``metric_name``) answers, as its result gives it."""
    return OWN_QUESTIONS.get(name) or metric(metric_name).question


def _result(name: str, title: str, metric_name: str, columns: list[str], rows: list[Row],
            summary: dict[str, Any] | None = None, question: str | None = None,
            text_tail: int | None = None) -> AnalysisResult:
    _require(rows, *columns)
    return AnalysisResult(name=name, title=title, question=question or analysis_question(name, metric_name) or title,
                          metric=metric_name, columns=columns, rows=[{c: r[c] for c in columns} for r in rows],
                          summary=summary or {}, text_tail=text_tail,
                          timestamps=tuple(c for c in metric(metric_name).timestamp_columns if c in columns))


def _require(rows: list[Row], *columns: str) -> None:
    """KeyError naming the first of ``columns`` the rows lack: a store returns every column it holds (NULLs
    included) in every row, so a missing one is a metric whose columns differ from what the analysis reads (a
    store written by another fediscope). Without this check, values read with ``row.get(c) or 0`` would
    silently count as 0 and the report would show wrong totals."""
    if rows:
        missing = next((c for c in columns if c not in rows[0]), None)
        if missing is not None:
            raise KeyError(missing)


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# -- accounts -------------------------------------------------------------------------------------------------

def top_accounts(store: MetricStore, n: int = 10) -> AnalysisResult:
    """The ``n`` accounts with the most followers, with their 1-based ``ranking`` in that list.

    The metric stores no ranking (a global position would change for every account below one whose follower
    count moved, so each run would rewrite nearly every row); the position is the order ``store.top`` returns:
    followers descending, ties by account key. A ``ranking`` column left over in an older store is ignored.
    """
    rows = [{**row, "ranking": position}
            for position, row in enumerate(store.top(metric("top_accounts_by_followers"), n), 1)]
    return _result("top_accounts", "Top accounts by followers", "top_accounts_by_followers",
                   ["ranking", "account_key", "instance", "followers_count", "following_count", "statuses_count",
                    "bot"], rows)


def engagement_distribution(store: MetricStore, n: int = 10) -> AnalysisResult:
    """How accounts spread over interactions per toot, plus the median and mean engagement rate."""
    rows = store.all(metric("account_engagement"))
    _require(rows, "interactions_per_toot", "engagement_rate", "toots", "interactions_total")
    counts = [0] * (len(ENGAGEMENT_BUCKETS) + 1)
    for row in rows:
        value = row.get("interactions_per_toot") or 0
        index = next((i for i, bound in enumerate(ENGAGEMENT_BUCKETS) if value <= bound), len(ENGAGEMENT_BUCKETS))
        counts[index] += 1
    buckets = []
    for i, count in enumerate(counts):
        if i == 0:
            label = "0"
        elif i < len(ENGAGEMENT_BUCKETS):
            label = f"{ENGAGEMENT_BUCKETS[i - 1]}-{ENGAGEMENT_BUCKETS[i]}"
        else:
            label = f">{ENGAGEMENT_BUCKETS[-1]}"
        buckets.append({"interactions_per_toot": label, "accounts": count, "share": _share(count, len(rows))})
    rates = [r["engagement_rate"] for r in rows if r.get("engagement_rate") is not None]
    per_toot = [r.get("interactions_per_toot") or 0 for r in rows]
    summary = {
        "accounts": len(rows),
        "toots": sum(r.get("toots") or 0 for r in rows),
        "interactions": sum(r.get("interactions_total") or 0 for r in rows),
        "median_interactions_per_toot": statistics.median(per_toot) if per_toot else None,
        "accounts_with_followers": len(rates),
        "median_engagement_rate": statistics.median(rates) if rates else None,
        "mean_engagement_rate": statistics.fmean(rates) if rates else None,
    }
    return _result("engagement_distribution", "Engagement distribution (accounts by interactions per toot)",
                   "account_engagement", ["interactions_per_toot", "accounts", "share"], buckets, summary)


def top_engaged_accounts(store: MetricStore, n: int = 10) -> AnalysisResult:
    rows = store.top(metric("account_engagement"), n)
    return _result("top_engaged_accounts", "Accounts with the most interactions", "account_engagement",
                   ["account_key", "instance", "toots", "interactions_total", "interactions_per_toot",
                    "followers_count", "engagement_rate"], rows)


#: The most months :func:`_every_month` fills in (50 years): a remote server may send any account creation date
#: (year 1, say), and one such account must not turn the series into tens of thousands of empty months.
MAX_FILLED_MONTHS = 600


def _every_month(months: list[str]) -> list[str]:
    """``months`` (sorted ``YYYY-MM``) with the months between them that have no sign-ups, so a series (and its
    chart, whose bars are evenly spaced) does not squeeze out empty months; unchanged if one is not ``YYYY-MM``
    or they span more than :data:`MAX_FILLED_MONTHS`."""
    try:
        spans = [(int(m[:4]), int(m[5:7])) for m in months if len(m) == 7 and m[4] == "-"]
    except ValueError:
        return months
    if len(spans) != len(months) or not spans or not all(1 <= month <= 12 for _, month in spans):
        return months
    (first_year, first_month), (last_year, last_month) = spans[0], spans[-1]
    if (last_year - first_year) * 12 + last_month - first_month >= MAX_FILLED_MONTHS:
        log.info("sign-ups: months from %s to %s: too many to fill in, the months without sign-ups are left out",
                 months[0], months[-1])
        return months
    (year, month), last, out = spans[0], spans[-1], []
    while (year, month) <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def signups_over_time(store: MetricStore, n: int = 10, instance: str | None = None) -> AnalysisResult:
    """Accounts created per month, summed over instances (or for one instance: a prefix read)."""
    signups = metric("signups_by_month")
    rows = store.scan_prefix(signups, instance) if instance else store.all(signups)
    _require(rows, "month", "instance", "accounts")
    per_month: dict[str, int] = defaultdict(int)
    instances: set[str] = set()
    for row in rows:
        per_month[row["month"]] += row.get("accounts") or 0
        instances.add(row.get("instance"))
    series, total = [], 0
    for month in _every_month(sorted(per_month)):
        total += per_month.get(month, 0)
        series.append({"month": month, "accounts": per_month.get(month, 0), "accounts_cumulative": total})
    # None with no sign-up at all (as activity's peak_hour with no toot): the latest month was named the busiest
    busiest = max(series, key=lambda r: (r["accounts"], r["month"])) if total else None
    summary = {"accounts": total, "instances": len(instances), "months": len(series),
               "first_month": series[0]["month"] if series else None,
               "busiest_month": busiest["month"] if busiest else None}
    title = f"Sign-ups over time ({instance})" if instance else "Sign-ups over time (all instances)"
    question = f"How many accounts of {instance} were created each month?" if instance else None
    return _result("signups_over_time", title, "signups_by_month", ["month", "accounts", "accounts_cumulative"],
                   series, summary, question=question, text_tail=2 * n)


def bots_share(store: MetricStore, n: int = 10) -> AnalysisResult:
    bots = metric("bot_share")
    overall = store.get(bots, ["*"])
    per_instance = [r for r in store.all(bots) if r["instance"] != "*"]
    per_instance.sort(key=lambda r: (-(r.get("accounts") or 0), r["instance"]))
    rows = ([dict(overall, instance="all instances")] if overall else []) + per_instance[:n]
    summary = {"bot_share": overall.get("bot_share") if overall else None,
               "bot_toot_share": overall.get("bot_toot_share") if overall else None}
    return _result("bots_share", "Share of bots", "bot_share",
                   ["instance", "accounts", "bots", "bot_share", "toots", "bot_toots", "bot_toot_share"], rows,
                   summary)


def mentions(store: MetricStore, n: int = 10) -> AnalysisResult:
    rows = store.top(metric("top_mentioned_accounts"), n)
    return _result("mentions", "Most-mentioned accounts", "top_mentioned_accounts",
                   ["account_key", "mentions", "mentioned_by"], rows)


# -- content --------------------------------------------------------------------------------------------------

def top_toots(store: MetricStore, n: int = 10) -> AnalysisResult:
    rows = store.top(metric("top_toots"), n)
    return _result("top_toots", "Top toots by interactions", "top_toots",
                   ["ranking", "status_uri", "account_key", "created_at", "language", "interactions",
                    "favourites_count", "reblogs_count", "replies_count"], rows)


def media_engagement(store: MetricStore, n: int = 10) -> AnalysisResult:
    """Engagement of toots with and without media, with each group's lift over toots without media."""
    rows = store.all(metric("media_engagement"))
    order = {name: i for i, name in enumerate(MEDIA_ORDER)}
    rows.sort(key=lambda r: (order.get(r["media_type"], len(order)), r["media_type"]))
    baseline = next((r.get("interactions_mean") for r in rows if r["media_type"] == "none"), None)
    # None (shown "-") where a group's mean is NULL: it was taken as 0 and shown as a lift of 0.00x
    shown = [dict(r, lift_vs_none=None if r.get("interactions_mean") is None
                  else _share(r["interactions_mean"], baseline or 0)) for r in rows]
    with_media = next((r for r in shown if r["media_type"] == "any"), None)
    return _result("media_engagement", "Engagement of toots with and without media", "media_engagement",
                   ["media_type", "toots", "interactions_mean", "favourites_mean", "reblogs_mean", "replies_mean",
                    "lift_vs_none"], shown, {"lift_with_media": with_media["lift_vs_none"] if with_media else None})


def content_features(store: MetricStore, n: int = 10) -> AnalysisResult:
    rows = store.all(metric("content_features"))
    return _result("content_features", "Links, emojis, media, hashtags and mentions in toots", "content_features",
                   ["feature", "toots_with", "share", "items", "per_toot"], rows)


def content_warnings(store: MetricStore, n: int = 10) -> AnalysisResult:
    """The ``n`` languages with the most toots, each with its share of toots behind a content warning and their
    engagement against toots without one; headline numbers over every language (the rows hold counts)."""
    warnings = metric("content_warnings")
    every = store.all(warnings)
    _require(every, "toots", "toots_with_cw", "sensitive_toots")
    toots = sum(r.get("toots") or 0 for r in every)
    warned = sum(r.get("toots_with_cw") or 0 for r in every)
    sensitive = sum(r.get("sensitive_toots") or 0 for r in every)
    return _result("content_warnings", "Content warnings by language", "content_warnings",
                   ["language", "toots", "toots_with_cw", "cw_share", "sensitive_share", "interactions_mean_with_cw",
                    "interactions_mean_without_cw", "cw_length_mean"], store.top(warnings, n),
                   {"toots": toots, "toots_with_cw": warned, "cw_share": _share(warned, toots),
                    "sensitive_share": _share(sensitive, toots)})


def languages(store: MetricStore, n: int = 10) -> AnalysisResult:
    """The top languages, and the rest as one row."""
    langs = metric("languages")
    rows = store.top(langs, n)
    every = store.all(langs)
    _require(every, "toots")
    total = sum(r.get("toots") or 0 for r in every)
    shown = list(rows)
    if len(every) > len(rows):
        rest = total - sum(r.get("toots") or 0 for r in rows)
        shown.append({"language": f"other ({len(every) - len(rows)})", "toots": rest, "share": _share(rest, total)})
    return _result("languages", "Languages", "languages", ["language", "toots", "share"], shown,
                   {"languages": len(every), "toots": total})


def instances(store: MetricStore, n: int = 10) -> AnalysisResult:
    rows = store.top(metric("instances"), n)
    return _result("instances", "Instances (where toots come from)", "instances",
                   ["instance", "toots", "accounts", "share"], rows)


# -- hashtags -------------------------------------------------------------------------------------------------

#: The most days :func:`_every_day` fills in (about 5 years): one toot dated years back (an old toot a timeline
#: walk or a refresh brought in) must not turn the series into thousands of empty days.
MAX_FILLED_DAYS = 1830


def _every_day(days: list[str]) -> list[str]:
    """``days`` (sorted ``YYYY-MM-DD``) with the days between them that have no hashtag use, so the series (and its
    chart, whose points are evenly spaced) does not draw a week without tags as one step from a day to the next;
    unchanged if one is not an ISO date or they span more than :data:`MAX_FILLED_DAYS`."""
    try:
        dates = [date.fromisoformat(d) for d in days]
    except ValueError:
        return days
    if not dates or [d.isoformat() for d in dates] != days:
        return days
    span = (dates[-1] - dates[0]).days
    if span >= MAX_FILLED_DAYS:
        log.info("hashtags per day: days from %s to %s: too many to fill in, the days without hashtags are left "
                 "out", days[0], days[-1])
        return days
    return [date.fromordinal(dates[0].toordinal() + i).isoformat() for i in range(span + 1)]


def _trending_head(store: MetricStore) -> Row:
    """The first row of ``trending_hashtags`` (empty without one): the columns every row repeats are read there."""
    rows = store.top(metric("trending_hashtags"), 1)
    return rows[0] if rows else {}


def latest_fetch_day(head: Row) -> str | None:
    """The UTC day (``YYYY-MM-DD``) of the latest fetch of a status, as the ``trending_hashtags`` metric records it
    (its ``latest_fetch_day``, the same in every row: ``head``, :func:`_trending_head`); None when the store does
    not hold it (no hashtags, or metrics computed by a fediscope before the column)."""
    value = head.get("latest_fetch_day")
    return value if isinstance(value, str) else None


def first_day_partial(head: Row, first: str | None) -> bool | None:
    """Whether the first day with hashtag data (``first``) was collected in part, as ``trending_hashtags`` records it
    (``first_day_partial``, from the lake's records of where each source's collection begins): True when a source
    whose collection began that day was cut by ``FEDISCOPE_BACKFILL_PAGES`` or started from its first run's moment,
    False when every such source reached the timeline's beginning or ``FEDISCOPE_BACKFILL_SINCE``, or a source
    began before it (on a day without hashtags: it collected the whole first day); None when unknown: no record is
    of that day or before (sources first collected before fediscope kept them), metrics computed before
    the column, or a metric whose first day is not ``first``. ``head``: the metric's first row
    (:func:`_trending_head`), whose ``first_day`` and ``first_day_partial`` every row repeats."""
    value = head.get("first_day_partial")
    return value if isinstance(value, bool) and first is not None and head.get("first_day") == first else None


def partial_start_days(head: Row) -> list[str]:
    """The days after the first with hashtag data on which a source's collection began in part, as
    ``trending_hashtags`` records them (``partial_start_days``, from the lake's records of where each source's
    collection begins; the days alone, never which source): a source added later (an instance, a hashtag, an
    account) whose first walk back in time was cut by ``FEDISCOPE_BACKFILL_PAGES`` or started from its first run
    counts from the middle of that day, so the rise there is not growth. Empty when there are none, or the store
    does not say (metrics computed before the column: nothing is marked, as before). ``head``: the metric's first
    row (:func:`_trending_head`)."""
    value = head.get("partial_start_days")
    return [day for day in value.split(",") if day] if isinstance(value, str) else []


def source_start_days(days: list[str], began: Collection[str]) -> list[str]:
    """The days of a daily series (``days``, in order) after its first on which a source's collection began in part
    (``began``: :func:`partial_start_days`); the first day is :func:`first_day_partial`'s."""
    return [day for day in days[1:] if day in began]


def partial_days(days: list[str], fetched: str | None, first_partial: bool | None,
                 began: Collection[str] = ()) -> list[str]:
    """The days of a daily series (``days``, in order) collected only in part: its first day when
    ``first_partial`` (:func:`first_day_partial`) is True, the later days on which a source's collection began in
    part (``began``: :func:`source_start_days`), and the day of the latest fetch (``fetched``,
    :func:`latest_fetch_day`: the collection stopped during it) with any day after it (toots from a server's fast
    clock: :func:`last_day_partial`). A first day not known to be whole
    or partial (None) is not among them: the report marks it "(partial?)". Empty for no days; one day for a
    one-day series."""
    if not days:
        return []
    marked = [days[0]] if first_partial else []
    last = [day for day in days if fetched is not None and day >= fetched]
    return list(dict.fromkeys([*marked, *source_start_days(days, began), *last]))


def last_day_partial(days: list[str], fetched: str | None) -> str | None:
    """The last of ``days`` when it is the day of the latest fetch (``fetched``): the collection stopped during it,
    so it is collected in part; or a day after it, which holds only toots from a server's fast clock (curation
    allows an hour of clock skew), so a fraction of the day; None otherwise (also when the store does not say when
    that fetch was). Days are ``YYYY-MM-DD``, which compare as text in calendar order."""
    return days[-1] if days and fetched is not None and days[-1] >= fetched else None


def partial_marks(result: AnalysisResult) -> dict[str, str]:
    """The days of a daily series to mark, and how: "(partial)" for the days collected in part
    (``summary["partial_days"]``, else the latest fetch's ``partial_day`` alone), "(partial?)" for a first day the
    lake does not say is whole (``summary["first_day_partial"]`` None); the text table and the chart mark these."""
    summary = result.summary
    last = summary.get("partial_day")
    marks = dict.fromkeys(summary.get("partial_days") or ([] if last is None else [last]), "(partial)")
    first = result.rows[0].get("day") if result.rows else None
    if "first_day_partial" in summary and summary["first_day_partial"] is None and first is not None:
        marks.setdefault(first, "(partial?)")
    return marks


class TagUses(str):
    """A day's most used tags with their uses as one text, ``#python (5), #rust (3)``, as ``--format json`` and the
    API give it, keeping the ``(tag, uses)`` pairs it was made of (``pairs``): the text report isolates each tag on
    its own (:func:`fediscope.report.format_value`), so that a tag written right to left neither takes its count
    nor reverses the tags beside it; the joined text no longer tells where a tag ends (a server's tag may hold
    ``", "`` or ``" ("``)."""

    pairs: tuple[tuple[str, Any], ...]

    def __new__(cls, pairs: Iterable[tuple[str, Any]]) -> TagUses:
        kept = tuple(pairs)
        text = super().__new__(cls, ", ".join(f"#{tag} ({uses})" for tag, uses in kept))
        text.pairs = kept
        return text

    def __getnewargs__(self) -> tuple[Any, ...]:  # type: ignore[override]
        # pickle and copy make it anew from its pairs (str's own would pass the joined text as pairs)
        return (self.pairs,)


def hashtags_per_day(store: MetricStore, n: int = 10) -> AnalysisResult:
    """Per day: distinct tags, hashtag uses and their engagement, and the day's most used tags.

    ``uses`` sums the metric's per-tag toots, so a toot with three tags is three uses, and ``uses_engagement``
    counts its engagement once per tag: they are not the day's tagged toots (the metric is per tag and day; a toot's
    tags are not kept together there). Days between the first and the last without any hashtag use are rows of
    zeros (as sign-ups' empty months), so the series has one row per calendar day.

    ``summary["partial_days"]``: the days collected in part (:func:`partial_days`): the first day when the
    collection began during it (so a rise after it is not growth), the later days on which a source added later
    began in part (``summary["source_start_days"]``, :func:`source_start_days`: the rise there is that source's
    statuses beginning), and the day of the latest fetch (the collection stopped during it, so its drop is not a
    decline) with any day after it (a server's fast clock's toots). ``summary["first_day_partial"]`` says which
    the first day is (:func:`first_day_partial`: True, False, or None when the lake does not say; False without days).
    ``summary["partial_day"]`` is the series' last day alone when it is one of those (:func:`last_day_partial`;
    None when it is before the latest fetch's day, or the store does not say when that was), as it was before the
    first day was marked."""
    rows = store.all(metric("hashtags_daily"))
    _require(rows, "day", "tag", "toots", "engagement_total")
    days: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        days[row["day"]].append(row)
    series = []
    for day in _every_day(sorted(days)):
        tags = sorted(days.get(day, []), key=lambda r: (-(r.get("toots") or 0), r["tag"]))
        series.append({"day": day, "tags": len(tags), "uses": sum(r.get("toots") or 0 for r in tags),
                       "uses_engagement": sum(r.get("engagement_total") or 0 for r in tags),
                       "top_tags": TagUses((r["tag"], r.get("toots")) for r in tags[:3])})
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["tag"]] += row.get("toots") or 0
    leaders = sorted(totals, key=lambda t: (-totals[t], t))[:5]
    head = _trending_head(store)  # one read for the columns every row of trending_hashtags repeats
    fetched = latest_fetch_day(head)
    series_days = [r["day"] for r in series]
    first_partial = first_day_partial(head, series_days[0]) if series else False
    began = set(partial_start_days(head))
    summary = {"days": len(series), "tags": len(totals), "top_tags": leaders,
               "per_day": {tag: {r["day"]: r.get("toots") or 0 for r in rows if r["tag"] == tag} for tag in leaders},
               "latest_fetch_day": fetched, "partial_day": last_day_partial(series_days, fetched),
               "partial_days": partial_days(series_days, fetched, first_partial, began),
               "first_day_partial": first_partial, "source_start_days": source_start_days(series_days, began)}
    return _result("hashtags_per_day", "Hashtags per day", "hashtags_daily",
                   ["day", "tags", "uses", "uses_engagement", "top_tags"], series, summary, text_tail=2 * n)


#: the metric the report's period is read from (:func:`posted_period`); no analysis shows it as a section
PERIOD_METRIC = "posted_days"


@dataclass(frozen=True)
class Period:
    """The UTC days the report's numbers cover, as the store holds them: the first and last posted day of the
    curated statuses (``posted_days``' row ``'*'``: every status, with or without hashtags), each with its mark
    ("(partial)", "(partial?)" or none, as :func:`partial_marks` marks a daily series), and the day of the latest
    fetch of a status. All None when the store holds no status, or no ``posted_days`` (``computed`` False)."""

    first_day: str | None = None
    last_day: str | None = None
    first_mark: str | None = None
    last_mark: str | None = None
    latest_fetch_day: str | None = None
    days: int = 0
    computed: bool = True  # False: the store holds no posted_days (metrics computed before it)

    @property
    def known(self) -> bool:
        return self.first_day is not None

    def describe(self) -> str:
        """One line for the text report's head and the charts' footnote: ``statuses posted 2026-11-22 to 2026-12-06
        (partial), UTC days; latest fetch on 2026-12-06`` (was ``… (partial) (UTC days); …``, two brackets)."""
        if not self.known:
            return ("not known: the store holds no curated status" if self.computed else
                    f"not known: the store holds no {PERIOD_METRIC} (run `fediscope process` to compute it)")
        first, last = (" ".join(filter(None, pair)) for pair in ((self.first_day, self.first_mark),
                                                                 (self.last_day, self.last_mark)))
        fetched = f"; latest fetch on {self.latest_fetch_day}" if self.latest_fetch_day else ""
        return f"statuses posted {first} to {last}, UTC days{fetched}"

    def to_dict(self) -> dict[str, Any]:
        """``--format json``'s ``period``: the days, whether each is partial (the first: true, false or null when
        the store does not say, as ``first_day_partial``), the latest fetch's day, and the metric they are read
        from."""
        return {"first_day": self.first_day, "last_day": self.last_day,
                "first_day_partial": _mark_state(self.first_mark) if self.known else None,
                "last_day_partial": _mark_state(self.last_mark) if self.known else None,
                "latest_fetch_day": self.latest_fetch_day, "days": self.days, "metric": PERIOD_METRIC}


def _mark_state(mark: str | None) -> bool | None:
    """A day's :func:`partial_marks` mark as JSON: "(partial)" true, "(partial?)" null (not known), none false."""
    return {None: False, "(partial)": True}.get(mark)


def posted_period(store: MetricStore, stored: Collection[str]) -> Period:
    """The :class:`Period` of ``posted_days``' row ``'*'`` (``stored``: the metrics the store holds): its first day
    marked "(partial)" when its ``first_day_partial`` is true and "(partial?)" when the store does not say (NULL),
    its last day "(partial)" when it is the day of the latest fetch (the collection stopped during it), as
    hashtags per day marks its days (:func:`partial_days`)."""
    if PERIOD_METRIC not in stored:
        return Period(computed=False)
    row = store.get(metric(PERIOD_METRIC), ("*",))
    if row is None or not isinstance(row.get("first_day"), str) or not isinstance(row.get("last_day"), str):
        return Period()
    first, last, fetched = row["first_day"], row["last_day"], latest_fetch_day(row)
    state = row.get("first_day_partial")
    first_mark = "(partial)" if state is True else None if state is False else "(partial?)"
    return Period(first_day=first, last_day=last, first_mark=first_mark,
                  last_mark="(partial)" if last_day_partial([last], fetched) else None,
                  latest_fetch_day=fetched, days=int(row.get("days") or 0))


def hashtags_on(store: MetricStore, day: str, n: int = 10) -> AnalysisResult:
    """The tags of one day, most used first (a prefix read: the day is the metric's prefix column)."""
    rows = store.scan_prefix(metric("hashtags_daily"), day)
    rows.sort(key=lambda r: (-(r.get("toots") or 0), r["tag"]))
    return _result("hashtags_on_day", f"Hashtags on {day}", "hashtags_daily",
                   ["tag", "toots", "accounts", "engagement_total", "engagement_mean"], rows[:n],
                   {"day": day, "tags": len(rows)})


#: the days the metric's two windows span together (the latest 7 and the 7 before, ``trending_hashtags.sql``)
TRENDING_DAYS = 14


def trending_hashtags(store: MetricStore, n: int = 10) -> AnalysisResult:
    """The tags used more in the latest 7 days of data than in the 7 before.

    ``summary["previous_window_partial"]``: the 7 days before reach days before the first day with hashtag data
    (the metric's ``first_day``, where the collection began), or begin on it and it is not known to be whole
    (:func:`first_day_partial`), so their counts are low (or, not known whole, may be) and the growth overstated;
    None when the store does not say (metrics computed before the column). ``summary["first_day_partial"]``: that
    first day's :func:`first_day_partial` (None: not known whole, as on a lake first collected by an older
    fediscope; the report then says the growth may be overstated). ``summary["window_partial_days"]``: the days of
    the two windows after that first day on which a source's collection began in part (:func:`partial_start_days`;
    which window: :func:`trending_window`): the tags it collects count from then on, so their growth is overstated
    too."""
    rows = store.top(metric("trending_hashtags"), n)
    first = rows[0].get("first_day") if rows else None
    end = rows[0].get("window_end") if rows else None
    partial = None
    began: list[str] = []
    if isinstance(first, str) and isinstance(end, str):
        start = trending_start(end)
        partial = first > start or (first == start and rows[0].get("first_day_partial") is not False)
        began = [day for day in partial_start_days(rows[0]) if start <= day <= end]
    return _result("trending_hashtags", "Trending hashtags (the latest 7 days of data vs the 7 before)",
                   "trending_hashtags",
                   ["tag", "current_toots", "previous_toots", "growth", "current_engagement", "window_end"], rows,
                   {"first_day": first if isinstance(first, str) else None, "previous_window_partial": partial,
                    "first_day_partial": first_day_partial(rows[0], first) if rows else None,
                    "window_partial_days": began})


def trending_start(end: str) -> str:
    """The first of trending's 14 days (the first of the 7 days before), the window ending on ``end`` (its
    ``window_end``; both ``YYYY-MM-DD``)."""
    return (date.fromisoformat(end) - timedelta(days=TRENDING_DAYS - 1)).isoformat()


def trending_window(day: str, end: str) -> str:
    """Which of trending's two windows, ending on ``end`` (its ``window_end``), holds ``day`` (both ``YYYY-MM-DD``):
    "the latest 7 days" or "the 7 days before"."""
    latest = date.fromisoformat(day) > date.fromisoformat(end) - timedelta(days=TRENDING_DAYS // 2)
    return "the latest 7 days" if latest else "the 7 days before"


def hashtag_engagement(store: MetricStore, n: int = 10) -> AnalysisResult:
    """The ``n`` tags whose toots drew the most engagement, each with its engagement per toot with media and
    without, and their ratio (``media_lift``: None where either is undefined or nothing without media engaged).

    The summary gives the same over every tag use of every tag (a toot with 3 tags is 3 uses, as in hashtags per
    day), from the metric's integer totals, so it is exact on every store."""
    tags = metric("hashtag_engagement")
    every = store.all(tags)
    _require(every, "toots", "engagement_total", "toots_with_media", "engagement_with_media")
    top = store.top(tags, n)
    _require(top, "tag", "accounts", "engagement_per_toot", "engagement_per_toot_with_media",
             "engagement_per_toot_without_media")
    rows = [{"tag": r["tag"], "toots": r["toots"], "accounts": r["accounts"], "engagement_total": r["engagement_total"],
             "per_toot": r["engagement_per_toot"], "toots_with_media": r["toots_with_media"],
             "per_toot_with_media": r["engagement_per_toot_with_media"],
             "per_toot_without_media": r["engagement_per_toot_without_media"],
             "media_lift": _lift(r["engagement_per_toot_with_media"], r["engagement_per_toot_without_media"])}
            for r in top]
    uses = sum(r.get("toots") or 0 for r in every)
    with_media = sum(r.get("toots_with_media") or 0 for r in every)
    engagement = sum(r.get("engagement_total") or 0 for r in every)
    media_engagement_total = sum(r.get("engagement_with_media") or 0 for r in every)
    per_use_with = _share(media_engagement_total, with_media)
    per_use_without = _share(engagement - media_engagement_total, uses - with_media)
    summary = {"tags": len(every), "uses": uses, "uses_with_media": with_media,
               "per_use_with_media": per_use_with, "per_use_without_media": per_use_without,
               "lift_with_media": _lift(per_use_with, per_use_without)}
    return _result("hashtag_engagement", "Hashtags by engagement", "hashtag_engagement",
                   ["tag", "toots", "accounts", "engagement_total", "per_toot", "toots_with_media",
                    "per_toot_with_media", "per_toot_without_media", "media_lift"], rows, summary)


def _lift(with_media: float | None, without_media: float | None) -> float | None:
    """Engagement per toot with media over that without; None when either is undefined (no such toots), or when
    the toots without media drew none (no ratio to give)."""
    return None if with_media is None or without_media is None else _share(with_media, without_media)


def server_trending_tags(store: MetricStore, n: int = 10) -> AnalysisResult:
    """The tags the instances list as trending, by their own counts over the 7 days ending on each instance's
    latest reported day (the whole instance's use, next to what the collection holds of it: the collected toots
    of the days collected, None when none of the 7 was)."""
    rows = store.all(metric("server_trending_tags"))
    _require(rows, "instance", "tag", "day", "uses", "collected_toots")
    latest: dict[str, date] = {}
    for row in rows:
        day = date.fromisoformat(row["day"])
        latest[row["instance"]] = max(day, latest.get(row["instance"], day))
    totals: dict[tuple[str, str], Row] = {}
    for row in rows:
        end = latest[row["instance"]]
        if (end - date.fromisoformat(row["day"])).days >= 7:
            continue
        total = totals.setdefault((row["instance"], row["tag"]), {
            "instance": row["instance"], "tag": row["tag"], "uses_7d": 0, "uses_latest_day": 0,
            "collected_toots_7d": None, "latest_day": end.isoformat()})
        total["uses_7d"] += row.get("uses") or 0
        if row.get("collected_toots") is not None:  # None: a day not collected (before it began, or retention)
            total["collected_toots_7d"] = (total["collected_toots_7d"] or 0) + row["collected_toots"]
        if row["day"] == total["latest_day"]:
            total["uses_latest_day"] = row.get("uses") or 0
    shown = sorted(totals.values(), key=lambda r: (-r["uses_7d"], r["instance"], r["tag"]))[:n]
    return _result("server_trending_tags", "Trending on the instances (their own counts, last 7 days)",
                   "server_trending_tags",
                   ["instance", "tag", "uses_7d", "uses_latest_day", "collected_toots_7d", "latest_day"], shown,
                   {"instances": len(latest), "tags": len(totals)})


# -- time -----------------------------------------------------------------------------------------------------

def activity(store: MetricStore, n: int = 10) -> AnalysisResult:
    """Toots by hour of day and by weekday (UTC), from the weekday × hour grid."""
    cells = store.all(metric("activity_by_hour"))
    _require(cells, "weekday", "hour", "toots")
    hours = [0] * 24
    weekdays = [0] * 7
    for cell in cells:
        toots = cell.get("toots") or 0
        hours[int(cell["hour"]) % 24] += toots
        weekdays[(int(cell["weekday"]) - 1) % 7] += toots
    total = sum(hours)
    rows = [{"hour": h, "toots": hours[h], "share": _share(hours[h], total)} for h in range(24)]
    summary = {"toots": total,
               "peak_hour": max(range(24), key=lambda h: (hours[h], -h)) if total else None,
               "peak_weekday": WEEKDAYS[max(range(7), key=lambda d: (weekdays[d], -d))] if total else None,
               "weekdays": {WEEKDAYS[d]: weekdays[d] for d in range(7)},
               "grid": {f"{c['weekday']}:{c['hour']}": c.get("toots") or 0 for c in cells}}
    return _result("activity", "Activity by hour of day (UTC)", "activity_by_hour", ["hour", "toots", "share"],
                   rows, summary)


def activity_by_weekday(store: MetricStore, n: int = 10) -> AnalysisResult:
    """Toots by weekday (ISO: Monday first, UTC)."""
    weekdays = [0] * 7
    cells = store.all(metric("activity_by_hour"))
    _require(cells, "weekday", "toots")
    for cell in cells:
        weekdays[(int(cell["weekday"]) - 1) % 7] += cell.get("toots") or 0
    total = sum(weekdays)
    rows = [{"weekday": WEEKDAYS[d], "toots": weekdays[d], "share": _share(weekdays[d], total)} for d in range(7)]
    return _result("activity_by_weekday", "Activity by weekday (UTC)", "activity_by_hour",
                   ["weekday", "toots", "share"], rows, {"toots": total})


def instance_activity(store: MetricStore, n: int = 10) -> AnalysisResult:
    """Each instance's latest complete window as it reported it (statuses, logins, registrations; the metric
    leaves out the window still running when the instance answered)."""
    rows = store.all(metric("instance_activity_weekly"))
    latest: dict[str, Row] = {}
    for row in rows:  # key order: instance, then week ascending — the last one per instance is the latest
        latest[row["instance"]] = row
    shown = sorted(latest.values(), key=lambda r: (-(r.get("statuses") or 0), r["instance"]))[:n]
    return _result("instance_activity", "Instance activity (latest complete week)", "instance_activity_weekly",
                   ["instance", "week", "statuses", "logins", "registrations"], shown)


def federation(store: MetricStore, n: int = 10) -> AnalysisResult:
    """The instances that know of the most other servers, with the peers new this week and the ones gone."""
    rows = store.top(metric("federation_peers"), n)
    return _result("federation", "Federation (peers each instance knows of, latest fetch)", "federation_peers",
                   ["instance", "peers", "new_peers_7d", "gone_peers", "peers_ever", "latest_fetch"], rows)


Analysis = Callable[..., AnalysisResult]

#: every analysis, in report order, with the metric it reads
ANALYSES: tuple[tuple[Analysis, str], ...] = (
    (top_accounts, "top_accounts_by_followers"),
    (engagement_distribution, "account_engagement"),
    (top_engaged_accounts, "account_engagement"),
    (signups_over_time, "signups_by_month"),
    (hashtags_per_day, "hashtags_daily"),
    (trending_hashtags, "trending_hashtags"),
    (hashtag_engagement, "hashtag_engagement"),
    (server_trending_tags, "server_trending_tags"),
    (languages, "languages"),
    (instances, "instances"),
    (top_toots, "top_toots"),
    (media_engagement, "media_engagement"),
    (content_features, "content_features"),
    (content_warnings, "content_warnings"),
    (mentions, "top_mentioned_accounts"),
    (activity, "activity_by_hour"),
    (activity_by_weekday, "activity_by_hour"),
    (bots_share, "bot_share"),
    (instance_activity, "instance_activity_weekly"),
    (federation, "federation_peers"),
)


@dataclass
class AnalysisRun:
    results: list[AnalysisResult]
    stored: dict[str, int]
    missing: list[str]
    failed: dict[str, str] = field(default_factory=dict)  # analysis → why (a metric changed its columns)
    #: the days the numbers cover (:func:`posted_period`)
    period: Period = field(default_factory=Period)
    #: the metrics written again during each of the reads of :func:`read_one_state` (a ``fediscope process`` run or
    #: an erasure that kept writing the store): the results may be of different writes; empty when they were all
    #: read from one state of the store, or when the run was read once, without that check
    written_while_read: list[str] = field(default_factory=list)
    #: the metrics a write had begun changing and not finished when the reads of :func:`read_one_state` were done
    #: (:data:`PARTLY_WRITTEN_ADVICE`): their results may mix rows of before and after that write; empty otherwise
    partly_written: list[str] = field(default_factory=list)

    def get(self, name: str) -> AnalysisResult | None:
        return next((r for r in self.results if r.name == name), None)


#: the metrics an analysis (or the report's period) reads; every other stored metric (a user's own) is shown as its
#: rows: :func:`other_metrics`
ANALYSED_METRICS = frozenset(name for _, name in ANALYSES) | {PERIOD_METRIC}
#: rows per read when every row of a metric is read (:func:`every_row_in_top_order`), as a results API page holds
PAGE_ROWS = 1000


@dataclass
class MetricRows:
    """A stored metric no analysis reads (a user's own, or one whose SQL file is gone), shown as it is stored: its
    rows in the order of the store's top-N read (its rank column, ties by key; key order without a rank)."""

    name: str
    question: str | None  # its SQL file's "-- question:" line, else the one the store recorded (None: neither)
    columns: list[str]
    rows: list[Row]
    #: every row the store holds, ``rows`` being the first of them, of the same write (:func:`_rows_and_count`); with
    #: an ``error``, the catalog's count
    total_rows: int
    error: str | None = None  # why its rows could not be read (then ``rows`` is empty)
    sql_file: bool = True  # False when its SQL file is gone (the store keeps it: ``fediscope store drop`` removes it)
    #: ``rows`` as ``--format json`` gives them: its SQL file's ``-- timestamps:`` columns as RFC 3339 UTC
    json_rows: list[Row] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "sql_file": self.sql_file, "columns": self.columns,
                "rows": self.rows if self.json_rows is None else self.json_rows, "total_rows": self.total_rows,
                "error": self.error}


def other_metrics(store: MetricStore, stored: dict[str, int], limit: int | None,
                  own_dir: Path | None = None) -> list[MetricRows]:
    """Every metric of ``stored`` (:meth:`MetricStore.stored_metrics`) that no analysis reads, in name order, with
    its first ``limit`` rows (every row with None). Read through the port alone, by the schema the store recorded
    (:mod:`fediscope.store.base`), so a metric whose SQL file was deleted is read as well on every store. Its
    question is its SQL file's, built in or in ``own_dir`` (the ``metrics_dir`` setting)."""
    registry = load_metrics(own_dir=own_dir)
    return [_metric_rows(store, name, registry.get(name), count, limit)
            for name, count in sorted(stored.items()) if name not in ANALYSED_METRICS]


def _metric_rows(store: MetricStore, name: str, registered: Metric | None, count: int,
                 limit: int | None) -> MetricRows:
    """Its rows, read by its SQL file's definition, else by the one the store recorded at its last write (its key,
    rank and prefix; its question too, as the results API gives it)."""
    question = registered.question if registered is not None else None
    sql_file = registered is not None
    try:
        recorded = stored_definition(store, name, registered)
        question = question or recorded.question or None
        columns = list(store.column_types(name))
        rows, total = _rows_and_count(store, recorded, limit)
        json_rows = rfc3339_rows(rows, recorded.timestamp_columns)  # the store does not record them: its file's
    except MetricChangedError as exc:  # written again during each of its reads: to read again, not to store again
        log.info("metric=%s not shown: %s", name, exc)
        return MetricRows(name, question, [], [], count, error=str(exc), sql_file=sql_file)
    except UNREADABLE_AS_STORED as exc:  # a stored value or table this version cannot read, or a table dropped by
        # hand: worded as an analysis' failure is, "metric <name>: …" for the table (was without its metric)
        reason = analysis_failure(exc, name)
        # INFO: the caller says it (the report's "Could not read …" and its error line; ``other_metrics`` in JSON)
        log.info("metric=%s not shown: %s", name, reason)
        return MetricRows(name, question, [], [], count, error=reason, sql_file=sql_file)
    return MetricRows(name, question, columns, rows, total, sql_file=sql_file, json_rows=json_rows)


def stored_definition(store: MetricStore, name: str, registered: Metric | None = None) -> Metric:
    """How a stored metric is read: by its SQL file's definition (``registered``) when it has one, else by the key,
    rank and prefix the store recorded at its last write (:meth:`MetricStore.recorded_metric`), else by its name
    alone."""
    return registered or store.recorded_metric(name) or metric(name)


def _rows_and_count(store: MetricStore, stored: Metric, limit: int | None) -> tuple[list[Row], int]:
    """The first ``limit`` rows by :meth:`MetricStore.top` (every row with None: :func:`every_row_in_top_order`) and
    how many rows the metric holds, both of one write of it. The count given to :func:`other_metrics` is the
    catalog's when the report began, and a ``fediscope process`` since (or, on HBase, a write whose catalog entry
    lagged its rows) made "the first 10 of 3 rows", or no such line over 10 rows of 25: so it is the rows read
    themselves when they are all of them (every row read, or fewer than ``limit``), else the catalog's count read
    again with the rows, under the same generation, and never fewer than the rows read (a catalog an erasure
    stopped outright left behind, until ``fediscope process`` or the erasure run again settles it). The generation
    is compared around the read whether the rows are all of them or not (on HBase a read is a scan, no snapshot: a
    write landing during it gives rows of neither write): a write in between makes it read again, as
    :func:`every_row_in_top_order` does (:func:`read_again_if_written`), and so does one whose rows of neither write
    this version cannot read (:func:`overtaken_as_such`)."""
    if limit is None:
        rows = every_row_in_top_order(store, stored)
        return rows, len(rows)
    name = stored.name

    def once() -> tuple[list[Row], int]:
        generation = store.generation(name)
        with overtaken_as_such(store, {name: generation}, [name]):  # rows of neither write may not decode
            rows = store.top(stored, limit)
        count = len(rows) if len(rows) < limit else max(store.stored_metrics().get(name, 0), len(rows))
        # fewer than limit rows too: on HBase the read is a scan, no snapshot, which a write landing during it
        # leaves with rows of neither write (was returned unchecked)
        if store.generation(name) != generation:
            raise MetricChangedError(name)
        return rows, count

    return read_again_if_written(once, f"metric {name}")


#: whole reads :func:`every_row_in_top_order` makes of a metric that is written again while it reads it
READ_ATTEMPTS = 3


def every_row_in_top_order(store: MetricStore, stored: Metric) -> list[Row]:
    """Every row of ``stored`` in the order of :meth:`MetricStore.top`, read a page at a time
    (:func:`pages_in_top_order`) and all from one write of the metric: a read that ``fediscope process`` overtook
    (:class:`MetricChangedError`) is made again, up to :data:`READ_ATTEMPTS` times, then raised."""
    return _every_row(stored.name, lambda: pages_in_top_order(store, stored))


def every_row_of_prefix(store: MetricStore, stored: Metric, value: Any) -> list[Row]:
    """Every row of ``stored`` whose prefix column equals ``value`` (already of the column's type:
    :func:`~fediscope.store.port.prefix_value`), in key order, read a page at a time (:func:`pages_of_prefix`, as
    ``fediscope store export --prefix`` reads them) and all from one write of the metric, read again as
    :func:`every_row_in_top_order` reads."""
    return _every_row(stored.name, lambda: pages_of_prefix(store, stored, value))


def _every_row(name: str, pages: Callable[[], Iterator[list[Row]]]) -> list[Row]:
    """The rows of the pages ``pages()`` gives, read whole again when a write overtook the read
    (:func:`read_again_if_written`)."""
    return read_again_if_written(lambda: [row for page in pages() for row in page], f"metric {name}")


def read_again_if_written(read: Callable[[], _Value], what: str, logger: logging.Logger = log) -> _Value:
    """What ``read()`` gives, read again while it raises :class:`MetricChangedError` (a write overtook it), up to
    :data:`READ_ATTEMPTS` times in all, the last one's error then raised: the one retry of every whole read of a
    metric (:func:`every_row_in_top_order`), of an analysis (:func:`read_of_one_write`: ``fs.analysis``, the results
    API's ``/v1/analyses/<name>``) and of the results API's first page. Each read overtaken but the last is logged at
    INFO on ``logger``, naming ``what`` was read."""
    for attempt in range(READ_ATTEMPTS):
        try:
            return read()
        except MetricChangedError as exc:
            if attempt == READ_ATTEMPTS - 1:
                raise
            logger.info("metrics=%s written again while %s was read: reading it again (read %d of %d)",
                        ",".join(exc.metrics), what, attempt + 1, READ_ATTEMPTS)
    raise AssertionError("unreachable")


#: What a read raises when a metric's rows are not what this fediscope version reads (a column missing, a value its
#: column's type cannot hold, a table dropped by hand): the analyses' failures (:func:`run_analyses`), the results
#: API's 409 ``stale_metric`` and ``missing_table``. A read that a write overtook may raise them too, with rows of
#: neither write (a column the one has and the other lacks, or whose type the write changed; a table an HBase write
#: rebuilds): :func:`overtaken_as_such` tells the two apart.
UNREADABLE: tuple[type[Exception], ...] = (*UNDECODABLE, MissingTableError)  # the store's, and a dropped table
#: :data:`UNREADABLE` less ``KeyError``: what a read of rows as the store returns them raises when they are not what
#: this version reads (the report's other metrics, the period). Only an analysis raises ``KeyError`` for a column it
#: reads (:func:`_require`); anywhere else one is a bug of this code, not a stale metric, and stays a traceback.
UNREADABLE_AS_STORED: tuple[type[Exception], ...] = tuple(kind for kind in UNREADABLE if kind is not KeyError)
#: the longest reason :func:`unreadable_reason` gives: a decoding error quotes the stored value, which may be long
REASON_LENGTH = 200


def unreadable_reason(exc: BaseException) -> str:
    """Why a metric's rows are not what this version reads, from what their read raised (:data:`UNREADABLE`): the
    column a row lacks (a ``KeyError`` names only the column), else the error's text on one line, cut to
    :data:`REASON_LENGTH` characters. The analyses' failures, ``fs.metric_rows``, ``fediscope store export``, the
    erasure and export of an account and the results API's 409 ``stale_metric`` all say it so."""
    if isinstance(exc, KeyError):
        return f"column {exc} missing"
    text = " ".join(str(exc).split())
    return text if len(text) <= REASON_LENGTH else text[:REASON_LENGTH - 1] + "…"


def stale_metric_message(name: str, reason: str, *, reader: str | None = None,
                         rerun: str = "`fediscope process`") -> str:
    """The one wording of a stored metric whose rows this version does not read (``reason``:
    :func:`unreadable_reason`), read by analysis ``reader`` if any: as when another fediscope version stored it, and
    ``rerun`` (the command, or the Python API's call too) stores it again. :func:`stale_as_store_error` raises it;
    the results API answers it as 409 ``stale_metric``."""
    reading = f"analysis {reader}" if reader else "this fediscope version"
    return (f"metric {name} in the store does not have what {reading} reads ({reason}), as when another fediscope "
            f"version stored it; re-run {rerun} with this version to store it again")


@contextmanager
def stale_as_store_error(name: str, rerun: str = "`fediscope process`") -> Iterator[None]:
    """Rows of metric ``name`` this version does not read (:data:`UNREADABLE`: a value its column's type cannot
    hold, a column missing from its table) raised as a StoreError saying so and how to store it again
    (:func:`stale_metric_message`): was the store's decoding ``ValueError`` itself, a traceback on the command line.
    A table dropped by hand is no such metric (its own :class:`~fediscope.errors.MissingTableError` is raised, its fix
    naming ``rerun`` too), nor a read a write overtook (:func:`overtaken_as_such` raises that as
    :class:`MetricChangedError`, which says to read it again). Wrap the reads alone: a ``ValueError`` of what is
    done with the rows is no stale metric."""
    try:
        yield
    except MissingTableError as exc:  # its own wording, its fix naming ``rerun`` too
        if exc.rerun == rerun:
            raise
        raise exc.rerun_as(rerun) from exc.__cause__
    except UNREADABLE as exc:
        raise StoreError(stale_metric_message(name, unreadable_reason(exc), rerun=rerun)) from None


@contextmanager
def overtaken_as_such(store: MetricStore, noted: Mapping[str, str | None], metrics: Iterable[str]) -> Iterator[None]:
    """A read of ``metrics`` whose rows are not what this version reads (:data:`UNREADABLE`) is raised as
    :class:`MetricChangedError` when one of them was written since its generation was ``noted``: what failed is then
    a mix of two writes, read again (:func:`read_again_if_written`), not a metric stored by another version. Else
    the error is raised as it is. ``metrics`` is looked at only then: a set the read fills in is taken as it is
    then (:class:`ReadMetrics`)."""
    try:
        yield
    except UNREADABLE:
        written = sorted(name for name in set(metrics) if store.generation(name) != noted.get(name))
        if written:
            raise MetricChangedError(written) from None
        raise


class ReadMetrics:
    """``store`` for an analysis, noting the metrics whose rows it reads (one besides its own: hashtags per day
    reads the head of trending_hashtags), so that only theirs are compared (:func:`read_of_one_write`): a
    ``fediscope process`` writing other metrics meanwhile does not make it read again."""

    def __init__(self, store: MetricStore) -> None:
        self._store = store
        self.metrics: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name not in ROW_READS:
            return attribute

        def reading(metric: Metric, *args: Any, **kwargs: Any) -> Any:
            self.metrics.add(metric.name)
            return attribute(metric, *args, **kwargs)
        return reading


#: the :class:`~fediscope.store.port.MetricStore` calls that read a metric's rows (the metric first)
ROW_READS = frozenset({"get", "top", "all", "scan_prefix"})


def read_of_one_write(store: MetricStore, read: Callable[[MetricStore], _Value], what: str,
                      logger: logging.Logger = log) -> _Value:
    """``read(store)`` (an analysis, or one page of a metric's rows) with every metric it read of one write: each
    metric's generation is read before and after it, and compared for those it read (:class:`ReadMetrics`). A write
    in between (on HBase also one landing during a read, a scan and no snapshot) may have given rows of neither
    write, or rows of two writes to an analysis that reads its metric twice (its top rows, then all of them): it is
    read again, up to :data:`READ_ATTEMPTS` times (:func:`read_again_if_written`), then :class:`MetricChangedError`
    is raised. A read that fails on rows this version does not read (:data:`UNREADABLE`) is such a read too when a
    metric it read was written meanwhile (:func:`overtaken_as_such`); else its error is raised.

    A metric under a provisional generation the same before and after passes: it is the caller's to name it
    (``fs.analysis`` warns, the results API's pages refuse a cursor of it)."""
    def once() -> _Value:
        before = store.generations()
        reading = ReadMetrics(store)
        with overtaken_as_such(store, before, reading.metrics):
            value = read(reading)  # type: ignore[arg-type]  # a MetricStore noting the metrics read
        after = store.generations()
        written = sorted(name for name in reading.metrics if before.get(name) != after.get(name))
        if written:
            raise MetricChangedError(written)
        return value

    return read_again_if_written(once, what, logger)


def no_row_has(stored: Metric, raw: str, selected_by: str, read_all: str) -> str:
    """What a prefix read that matched no row is warned with (``fediscope store export --prefix``,
    ``fediscope.python_api.metric_rows(prefix=…)``): the column it was matched against, which is often not the one
    the value was meant for (a tag given to ``hashtags_daily``, whose prefix is ``day``), and how to select by the
    other key columns. ``selected_by`` names the option or argument, ``read_all`` how to read every row."""
    others = [column for column in stored.key if column != stored.prefix]
    by_other = f"; to select by {' or '.join(others)}, {read_all} and filter them" if others else ""
    return (f"no row of {stored.name} has {stored.prefix} = {raw!r} ({selected_by} selects by the metric's prefix "
            f"column, {stored.prefix}{by_other})")


class MetricChangedError(StoreError):
    """A metric read a page at a time was written again (``fediscope process``, an erasure) while it was read:
    between two of its pages, its rows may have moved between pages, so the pages read would mix two writes (rows
    missing, others twice); and on HBase within one page too, whose read is a scan (of the rank index, then the
    rows it names) and no snapshot: a write landing during it gives some rows old and some new, or neither. So the
    whole read is checked by the metric's generation (:meth:`MetricStore.generation`), after every page, the last
    (or only) one included, as the results API checks its cursors (``stale_cursor``)."""

    def __init__(self, metrics: str | Iterable[str]) -> None:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        one = len(names) == 1
        named = f"metric {names[0]} was" if one else f"metrics {', '.join(names)} were"
        super().__init__(f"{named} written again (fediscope process) while {'its' if one else 'their'} rows were "
                         f"read, so they would mix two writes: read {'it' if one else 'them'} again once the write "
                         "is done")
        self.metric = names[0]
        #: every metric written again (an analysis reads one or two)
        self.metrics = names


class _Unread(Enum):
    """The generation argument of :func:`pages_in_top_order` left out: read when the walk begins."""

    GENERATION = "unread"


def pages_in_top_order(store: MetricStore, stored: Metric, *,
                       generation: str | None | _Unread = _Unread.GENERATION) -> Iterator[list[Row]]:
    """Every row of ``stored`` in the order of :meth:`MetricStore.top` (its rank column, ties by key; key order
    without a rank), :data:`PAGE_ROWS` at a time: each read goes on from the last row of the one before, as the
    results API pages, so no read counts past the rows before it. A page is yielded only once the metric is known
    not to have been written since ``generation`` was noted (else :class:`MetricChangedError`): the metric's
    generation when the caller began reading it (what it read of it before its rows, its column types, is then of
    the same write), else read before the first page."""
    return _pages(store, stored.name, lambda after: store.top(stored, PAGE_ROWS, after=after), generation)


def pages_of_prefix(store: MetricStore, stored: Metric, value: Any, *,
                    generation: str | None | _Unread = _Unread.GENERATION) -> Iterator[list[Row]]:
    """The rows of ``stored`` whose prefix column equals ``value``, in key order (:meth:`MetricStore.scan_prefix`),
    :data:`PAGE_ROWS` at a time, as :func:`pages_in_top_order` pages and checks them."""
    return _pages(store, stored.name, lambda after: store.scan_prefix(stored, value, PAGE_ROWS, after=after),
                  generation)


def _pages(store: MetricStore, name: str, read: Callable[[Row | None], list[Row]],
           generation: str | None | _Unread) -> Iterator[list[Row]]:
    """The pages ``read(after)`` gives, each after the last row of the one before, until one is not full; no empty
    page. The metric's generation (noted before the first page, unless given) is compared after each page, the
    first and the last included: a write in between raises :class:`MetricChangedError` before the page that may
    mix the two is given. A page is one query on the SQL stores, but an HBase read is a scan and no snapshot, so a
    read of one page is checked too: one catalog read per page, besides the one noting the generation. Generations
    alone are compared: one provisional (:func:`provisional`) the same before and after, a write going on or
    stopped part-way, passes, and it is the caller's to name (:func:`read_one_state`'s ``partly_written`` for the
    report and ``fs.analyses``; ``fs.metric_rows`` and ``fs.analysis`` warn; ``fediscope store export`` refuses
    it)."""
    noted = store.generation(name) if isinstance(generation, _Unread) else generation
    after: Row | None = None
    while True:
        with overtaken_as_such(store, {name: noted}, [name]):  # rows of neither write may not decode
            page = read(after)
        if store.generation(name) != noted:
            raise MetricChangedError(name)
        if page:
            yield page
        if len(page) < PAGE_ROWS:
            return
        after = page[-1]


def analysis_failure(exc: Exception, metric_name: str, reader: str | None = None,
                     rerun: str = "`fediscope process`") -> str:
    """Why analysis ``reader`` of ``metric_name`` could not be computed (without ``reader``: why the metric's own rows
    could not be read, the report's other metrics), worded for a report that names the store: a table dropped by hand
    (the metric whose table it is, and the fix, naming ``rerun``), else rows or a table that are not what it reads,
    in the one wording of a stale metric (:func:`stale_metric_message`), as the results API's 409 ``stale_metric``
    says it. That is the same case as a metric ``fs.metric_rows`` cannot decode: an analysis and
    its metric's SQL file ship together, and an own file cannot take a built-in metric's name
    (:func:`~fediscope.engine.metrics.metric_files`), so a column the analysis reads is missing from the stored rows
    when another version (or a hand) wrote them, which ``rerun`` stores again. (Was "its SQL and
    fediscope/analysis.py disagree (re-run `fediscope process` after updating fediscope)": a developer's reading,
    and the fix is this version's process run, not an update.)"""
    if isinstance(exc, MissingTableError):
        return f"metric {exc.metric}: {exc.problem}: {exc.rerun_as(rerun).fix}"
    return stale_metric_message(metric_name, unreadable_reason(exc), reader=reader, rerun=rerun)


#: why every metric holds no rows, when no run's window explains it (:func:`_window_curated_nothing`)
_NO_DATA = "the lake held no data when `fediscope process` ran; run `fediscope collect`, then `fediscope process`"


def _window_curated_nothing(provenances: Mapping[str, dict[str, Any] | None], rerun: str) -> str | None:
    """Why every metric holds no rows when the runs that computed them (their provenance) curated no raw file
    within a ``--since``/``--until`` window, so that nothing was curated at all: the lake's raw files were fetched on
    other days (``--until`` typed for ``--since``, a day before the collection), and they are there, uncurated. None
    otherwise. (Was: "the lake held no data …; run `fediscope collect`", which would change nothing.)"""
    runs = [p for p in provenances.values() if p is not None]
    if not runs or any(p.get("raw_files") != 0 or not any((p.get("window") or {}).values()) for p in runs):
        return None  # a run without a window records {"since": null, "until": null}
    windows = []
    for run in runs:
        since, until = run["window"].get("since"), run["window"].get("until")
        shown = f"{since} to {until}" if since and until else f"since {since}" if since else f"until {until}"
        if shown not in windows:
            windows.append(shown)
    return (f"the run that computed them curated no raw file, as none was fetched within its window "
            f"({'; '.join(windows)}); run {rerun} without --since/--until, or with a window holding days its raw "
            "files were fetched (their dt= partitions, which `fediscope lake ls` shows)")


def run_analyses(store: MetricStore, n: int = 10, noted: Mapping[str, str | None] | None = None,
                 rerun: str = "`fediscope process`") -> AnalysisRun:
    """Every analysis whose metric the store holds; raises StoreError when the store holds nothing.

    An analysis (or the period) that fails on rows this version does not read is in ``failed`` with why and the
    fix. ``noted``: every metric's generation read before (:func:`read_one_state`'s): a failure while a metric it
    read has been written since is one a write overtook, whose rows may be of neither write
    (:func:`overtaken_as_such`), and it says to read again, not to re-run ``fediscope process``: the metric is then
    among those :func:`read_one_state` names written while read, as the results API answers such a read 409
    ``written_while_read``, not ``stale_metric``. ``rerun``: how the failure says to store such a metric again
    (:func:`analysis_failure`; the Python API names its call too)."""
    stored = store.stored_metrics()
    if not stored:
        raise StoreError(f"the store {redact_url(store.url)} holds no metrics yet: run `fediscope process` first "
                         "(it curates the lake, computes the metrics and loads them)")
    if not any(stored.values()):
        raise StoreError(f"the metrics in {redact_url(store.url)} have no rows: "
                         f"{_window_curated_nothing(store.provenances(), rerun) or _NO_DATA}")
    run = AnalysisRun(results=[], stored=stored, missing=[])
    try:
        with _overtaken_since(store, noted, [PERIOD_METRIC]):
            run.period = posted_period(store, stored)
    except MetricChangedError as exc:
        run.failed["period"] = str(exc)
        log.info("period not read: %s", run.failed["period"])
    except UNREADABLE_AS_STORED as exc:  # as an analysis' failure below
        run.failed["period"] = analysis_failure(exc, PERIOD_METRIC, "period", rerun)
        log.info("period not read: %s", run.failed["period"])  # in failed, as an analysis' failure below
    if PERIOD_METRIC not in stored:
        run.missing.append(PERIOD_METRIC)
    for analysis, metric_name in ANALYSES:
        raise_if_lost()  # a Ctrl-C raised in a finalizer (DuckDB's, Arrow's) stops the report before the next one
        if metric_name not in stored:
            if metric_name not in run.missing:
                run.missing.append(metric_name)
            continue
        reading = ReadMetrics(store)  # the metrics it reads, one besides its own for hashtags per day
        try:
            with _overtaken_since(store, noted, reading.metrics):
                run.results.append(analysis(reading, n))  # type: ignore[arg-type]  # a MetricStore noting reads
        except MetricChangedError as exc:  # overtaken: read_one_state reads again, or names the metric written
            run.failed[analysis.__name__] = str(exc)
            log.info("analysis=%s not computed: %s", analysis.__name__, run.failed[analysis.__name__])
        except UNREADABLE as exc:  # rows without the
            # columns it reads (StoreSchemaError: the stored table itself lacks a column its catalog names;
            # MissingTableError: a table of it was dropped by hand); the other analyses go on, as the results API
            # answers 409 for that metric alone
            run.failed[analysis.__name__] = analysis_failure(exc, metric_name, analysis.__name__, rerun)
            # INFO, not WARNING: ``failed`` says it to every caller (the report's "Could not compute …" and its
            # error line, ``failed`` in --format json, ``fs.analyses``); was also a log line on the report's stderr
            log.info("analysis=%s failed: %s", analysis.__name__, run.failed[analysis.__name__])
    return run


@contextmanager
def _overtaken_since(store: MetricStore, noted: Mapping[str, str | None] | None,
                     metrics: Iterable[str]) -> Iterator[None]:
    """:func:`overtaken_as_such` against the generations ``noted``; nothing without them (a run read once)."""
    if noted is None:
        yield
        return
    with overtaken_as_such(store, noted, metrics):
        yield




#: whole reads :func:`read_one_state` makes while the store is written during them
ONE_STATE_READS = 3

_Read = TypeVar("_Read")


class OneState(NamedTuple, Generic[_Read]):
    """What :func:`read_one_state` read, and what of it may not be of one state of the store."""

    value: _Read
    #: the metrics written again during each of the reads (their generation changed every time)
    written_while_read: list[str]
    #: the metrics under a provisional generation at the end of the last read, unchanged during it: a write has begun
    #: changing their rows and not recorded its end, so the rows read may be of before it, of after it, or both
    partly_written: list[str]


#: What a metric read under a provisional generation (:func:`provisional`) may be, and what to do: the one wording of
#: the report's "Partly written" line, ``partly_written`` of ``fs.analyses`` and the results API's 409
#: ``stale_cursor`` (the API's text and the OpenAPI description without the backticks). A write that stopped never
#: ends by itself: ``fediscope process`` run again writes the metric anew, and so does a stopped ``fediscope gdpr
#: erase`` run again (:func:`fediscope.gdpr.erase.erase_store` settles every metric it passes).
PARTLY_WRITTEN_ADVICE = ("being written now, or left part-way by a write that stopped: if no `fediscope process` is "
                         "running, run it again, or the erasure if one stopped")
#: :data:`PARTLY_WRITTEN_ADVICE` as the results API writes its messages, which quote no command in backticks
PLAIN_PARTLY_WRITTEN_ADVICE = PARTLY_WRITTEN_ADVICE.replace("`", "")


def provisional(generation: str | None) -> bool:
    """Whether ``generation`` is the one a write gives a metric before its rows change, until it records its final
    one (:meth:`fediscope.store.base.BaseStore._begin_change`): the write is going on, or stopped part-way (failed,
    killed) and the next ``fediscope process`` (or the erasure run again) replaces it."""
    return generation is not None and generation.startswith(PROVISIONAL)


def read_one_state(store: MetricStore, read: Callable[[Mapping[str, str | None]], _Read], reader: str,
                   logger: logging.Logger = log) -> OneState[_Read]:
    """``read(noted)`` (several reads of the store: every analysis, the report's other metrics and provenance) as of one
    state of the store, with the metrics written during each of its reads and those left partly written.

    Each analysis reads the store on its own, so a ``fediscope process`` run writing it meanwhile (the batch DAG while
    a dashboard reads it) could leave results of two writes. Every metric's generation
    (:meth:`MetricStore.generations`, which a write changes before its rows change and again once they have) is read
    before and after ``read()`` (given the generations read before, ``noted``, as :func:`run_analyses` takes them):
    the same, and no write came between them; else ``read()`` is made again, up to
    :data:`ONE_STATE_READS` times, and the metrics still written during the last one are returned. Each read that
    saw a write is logged at INFO on ``logger``, naming ``reader`` (``the report``).

    A write's first generation is provisional (:func:`provisional`) and stays while its rows change, so a write
    begun before the first read of the generations and ended after the second passes that check: a metric still
    under a provisional generation when the reads are done is returned as partly written. Its generation unchanged
    is no reason to read again: it may be a write that stopped part-way, which no wait ends (the next ``fediscope
    process`` does, or the stopped erasure run again: :data:`PARTLY_WRITTEN_ADVICE`)."""
    for attempt in range(ONE_STATE_READS):
        before = store.generations()
        value = read(before)
        after = store.generations()
        changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
        if not changed:
            break
        logger.info("metrics=%s written while %s read them (read %d of %d)", ",".join(changed), reader, attempt + 1,
                    ONE_STATE_READS)
    # a metric written during the last read is named as such alone: a write was seen going on
    partly = sorted(name for name, generation in after.items() if provisional(generation) and name not in changed)
    if partly:
        logger.info("metrics=%s partly written while %s read them (a write going on, or one that stopped part-way)",
                    ",".join(partly), reader)
    return OneState(value, changed, partly)
