"""``fediscope report``'s content: the analyses as readable text tables or JSON, and their charts.

:func:`build_report` runs every analysis (:mod:`fediscope.analysis`) over a store and, unless told not to,
draws the charts (:mod:`fediscope.charts`); :class:`Report` renders the result. The text form is for a
terminal (aligned columns, shares as percentages, long keys shortened); the JSON form keeps every value
exact and every row (time series included), for scripts and dashboards. A stored metric no analysis reads (a
user's own) follows the analyses as a table of its first rows (every row in JSON, under ``other_metrics``), without
a chart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fediscope import __version__
from fediscope.analysis import (
    ONE_STATE_READS,
    PARTLY_WRITTEN_ADVICE,
    AnalysisResult,
    AnalysisRun,
    MetricRows,
    TagUses,
    other_metrics,
    partial_marks,
    read_one_state,
    run_analyses,
    trending_start,
    trending_window,
)
from fediscope.console import clip, display_width, isolated, printable, wrap_line
from fediscope.engine.provenance import (
    LANDED_OFF,
    LANDED_PSEUDONYMISED,
    LANDED_UNKNOWN,
    METRIC_FIELDS,
    run_fields,
)
from fediscope.redact import redact_url
from fediscope.store.port import MetricStore
from fediscope.wording import count

log = logging.getLogger(__name__)

PERCENT_COLUMNS = {"share", "bot_share", "bot_toot_share", "engagement_rate"}
RATIO_COLUMNS = {"growth", "lift_vs_none", "media_lift"}


def is_percent(column: str) -> bool:
    """Whether a column's numbers are shares printed as percentages: the analyses' (:data:`PERCENT_COLUMNS`), and
    in an own metric any column named ``share`` or ``…_share`` (``media_share``), as the README promises "a column
    named like share" (was: ``media_share`` printed 0.261 where ``share`` printed 26.1%)."""
    return column in PERCENT_COLUMNS or column.endswith("_share")


def is_ratio(column: str) -> bool:
    """Whether a column's numbers are ratios printed with an ``x``: :data:`RATIO_COLUMNS`, and ``…_growth``."""
    return column in RATIO_COLUMNS or column.endswith("_growth")
MAX_TEXT = 40
#: the widest line of prose (the head, a question, a definition, a note) the text report writes, whatever its tables'
#: width: in a file as on a wide terminal, a definition of 860 characters on one line was read by no one
PROSE_WIDTH = 100
#: the narrowest width the text report is laid out for (``fediscope report --width``; a narrower terminal gets it)
MIN_WIDTH = 40
#: the line under a table whose trailing columns did not fit its width (:func:`text_table`): {more} "2 more columns",
#: {names} theirs, {width} the width; this one the demo's excerpt's, whose full report is its report file
IN_THE_FULL_REPORT = "({more} in the full report: {names})"
#: text columns that list several values and get more room than :data:`MAX_TEXT` (hashtags per day's three most
#: used tags with their uses: cut at 40 columns, the third tag was rarely whole and often the second was not)
TEXT_WIDTHS = {"top_tags": 72}
#: the text columns of :data:`TEXT_WIDTHS` a table fitted to a width (:func:`text_table`) shortens to the room its
#: leading columns leave, rather than leaving them out, with the fewest columns they are shortened to: hashtags per
#: day's ``top_tags`` (the day's most used tags, what its table is read for) was left out at 80 columns, where 28
#: were left beside the day and its counts
FIT_WIDTHS = {"top_tags": 20}
#: the column a table fitted to a width (:func:`text_table`) keeps whatever columns before it it leaves out, by
#: analysis: the one its title names. Top accounts by followers at 60 columns (the demo's excerpt on a 60-column
#: terminal) showed the ranking, the pseudonym and the instance, and left out followers_count.
KEEP_COLUMNS = {"top_accounts": "followers_count"}

#: what an analysis's numbers mean where its column names do not say it (the definitions of the metric SQL in
#: spark_jobs/sql/), printed under its headline numbers; a rate or a ratio without one was read as a plain count
NOTES: dict[str, str] = {
    "engagement_distribution":
        "interactions = favourites + reblogs + replies; engagement rate = interactions per toot / followers, over "
        "the accounts with followers (undefined with 0 or unknown followers); a bucket a-b holds the accounts with "
        "more than a and at most b interactions per toot; share = of all accounts",
    "top_engaged_accounts":
        "interactions = favourites + reblogs + replies; engagement_rate = interactions_per_toot / followers_count "
        "(- with 0 or unknown followers: undefined)",
    "hashtags_per_day":
        "uses = toots with the tag, summed over the day's tags (a toot with 3 tags is 3 uses); uses_engagement = "
        "their interactions, counted once per tag; top_tags: the day's most used, with their uses",
    "trending_hashtags":
        "growth = (current_toots + 1) / (previous_toots + 1), the add-one smoothing of the metric: a tag not used "
        "in the 7 days before shows current_toots + 1; window_end = the last day of the latest 7: the last "
        "complete day (before the day of the latest fetch, which the collection stopped during)",
    "hashtag_engagement":
        "engagement = favourites + reblogs + replies of the toots using the tag (a boost is no use: it counts once, "
        "in its original's reblogs); per_toot = engagement_total / toots; with media = at least one attachment; "
        "per_toot_with_media / per_toot_without_media: - when the tag has no such toot; media_lift = "
        "per_toot_with_media / per_toot_without_media; the per-use figures above count a toot once per tag it has",
    "languages":
        "share = of all toots (boosts excluded: a boost is no toot of its own); language as the author's client "
        "declared it; und = no language declared (ISO 639's undetermined), counted among the languages; other (N) = "
        "the N languages below the rows shown (--top), in one row",
    "instances": "instance = the author's home server; accounts = distinct authors of its toots; share = of all toots",
    "media_engagement":
        "means per toot; any = toots with at least one attachment, image/video/gifv/audio = with at least one of "
        "that type (a toot with an image and a video is in both); lift_vs_none = interactions_mean / that of none",
    "content_features":
        "share = toots_with / all toots; items = how many in all (a toot with 2 links counts 2); per_toot = items "
        "/ all toots",
    "content_warnings":
        "a content warning = a spoiler_text holding more than white space (its text is not curated); cw_share = "
        "toots_with_cw / toots; sensitive_share = toots Mastodon flags sensitive (a warning sets it, so do media "
        "marked sensitive) / toots; interactions_mean_with_cw / _without_cw = favourites + reblogs + replies per "
        "toot with / without a warning (- when the language has none); cw_length_mean = mean characters of a "
        "warning, as written; the numbers above are over every language",
    "server_trending_tags":
        "uses_7d, uses_latest_day = the instance's own count (Mastodon's history of the tag) of the toots with the "
        "tag it knows of: its accounts' and those that reached it from other servers, public ones only (Mastodon "
        "counts no unlisted toot, no boost, no toot of an account it limits), over the 7 days ending on latest_day "
        "(its latest reported day) and on latest_day alone; collected_toots_7d = the toots with the tag that "
        "fediscope collected, from every source and whichever server they were posted on, public and unlisted "
        "(boosts excluded), by the UTC day they were posted: the same figure beside every instance listing the tag "
        "(- when none of the 7 days was collected); they count different toots, so either can be the larger: more "
        "collected (toots that never reached the instance, unlisted ones), or fewer (toots it knows of that were "
        "not collected)",
    "bots_share": "bot_share = bots / accounts (every account collected, with or without toots; - with no "
                  "account: an instance known only from toots whose authors have no account row); bot_toot_share = "
                  "toots by bots / toots (a toot whose author has no account row, e.g. left out by the curated "
                  "retention, counts as a toot, not a bot's: its bot flag is unknown)",
}


#: under a daily series whose last day is the day of the latest fetch (``summary["partial_day"]``)
PARTIAL_NOTE = ("(partial): the day of the latest fetch; the collection stopped during it, so its numbers are a part "
                "of the day's, not a decline")
#: under a daily series whose first day is shown and partial (``summary["first_day_partial"]`` True)
FIRST_DAY_NOTE = ("(partial), first day: the collection began during it (its walk back in time was cut by "
                  "FEDISCOPE_BACKFILL_PAGES, or it started from its first run, or `fediscope process --since` left "
                  "out what was fetched before), so its numbers are a part of the day's, not a rise")
#: under a daily series whose first day is shown and the lake does not say whether it is whole (None)
FIRST_DAY_UNKNOWN_NOTE = ("(partial?), first day: the collection began during it, and the store does not say whether "
                          "its walk back in time reached the timeline's beginning or FEDISCOPE_BACKFILL_SINCE (its "
                          "sources were first collected before fediscope recorded it, or the store's metrics were "
                          "computed before: `fediscope process` recomputes them): its numbers may be a part of "
                          "the day's")
#: under a daily series with later days shown on which a source's collection began in part
#: (``summary["source_start_days"]``): {days} the days, {it} "it" or "each"
SOURCE_START_NOTE = ("(partial), {days}: a source's collection began during {it} (a source added later, its walk "
                     "back in time cut by FEDISCOPE_BACKFILL_PAGES, or started from its first run; or `fediscope "
                     "process --since` left out what it fetched before), so the rise from the day before is that "
                     "source's statuses beginning, not growth")
#: under trending hashtags when the collection of a source added later began in part within its 14 days
#: (``window_partial_days``): {days} each day with the window it falls in
WINDOW_START_NOTE = ("(partial): on {days} a source's collection began in part (a source added later, cut by "
                     "FEDISCOPE_BACKFILL_PAGES or started from its first run): the tags it collects count from then "
                     "on, so their growth is overstated")
#: under trending hashtags when the 7 days before reach the first day with data (``previous_window_partial``)
PREVIOUS_WINDOW_NOTE = ("(partial): the 7 days before reach the first day with hashtag data ({first}), where the "
                        "collection began: their counts are low, so the growth is overstated")
#: instead of :data:`PREVIOUS_WINDOW_NOTE` when those 7 days begin on that first day and the store does not say whether
#: it is whole (``summary["first_day_partial"]`` None: a lake first collected by an older fediscope)
PREVIOUS_WINDOW_UNKNOWN_NOTE = ("(partial?): the 7 days before begin on the first day with hashtag data ({first}), "
                                "where the collection began, and the store does not say whether that day is whole "
                                "(see hashtags per day): their counts may be low, so the growth may be overstated")
#: summary entries the table's marks and the notes under it say (the summary line repeated them)
_SAID_UNDER_THE_TABLE = ("partial_day", "partial_days", "first_day_partial", "previous_window_partial",
                         "source_start_days", "window_partial_days")


def format_value(column: str, value: Any, text_width: int | None = None) -> str:
    """One value on its own (a headline number); a table's column is :func:`format_column`'s. Text is clipped to
    ``text_width`` columns where given, else to its column's (:data:`TEXT_WIDTHS`, :data:`MAX_TEXT`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"  # undefined: NaN is a 0/0 an engine left as it is, as None is one a store could not hold
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isinf(value):
        return str(value)  # "inf", not "inf%" or "infx"
    if is_percent(column) and _is_number(value):
        if value == 0:
            return "0%"  # exact: "0.00%" read as a share rounded down to nothing
        return f"{value:.2%}" if abs(value) < 0.01 else f"{value:.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if is_ratio(column):
            return f"{value:.2f}x"
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"
    width = text_width or TEXT_WIDTHS.get(column, MAX_TEXT)
    if isinstance(value, TagUses):
        return _tag_uses(value, width)
    # a hashtag, a language, an instance's name are what a server sent: its escape sequences are shown, not obeyed;
    # a part written right to left is isolated (after the escaping, which would show the isolates as escapes): in a
    # right-to-left line a handle's instance came first, and the columns were read from the right
    return isolated(clip(printable(str(value)), width))


def _tag_uses(value: TagUses, width: int) -> str:
    """A day's top tags (:class:`~fediscope.analysis.TagUses`) clipped to ``width`` columns as its joined text is,
    each ``#tag`` isolated on its own (:func:`~fediscope.console.isolated`; an ellipsis that cuts one inside it):
    the whole text isolated as one made a line with an Arabic or Hebrew tag right to left, so that tag's count read
    as the next tag's and the tags came in reverse. A cut inside a tag's count leaves the count out (``#foo …``),
    never a part of it (was ``#foo (12…``, read as 12 uses where there were 120)."""
    pieces: list[tuple[str, bool]] = []  # (printable text, whether it is a tag)
    for i, (tag, uses) in enumerate(value.pairs):
        pieces += [(", ", False)] if i else []
        pieces += [(printable(f"#{tag}"), True), (f" ({uses})", False)]
    whole = "".join(text for text, _ in pieces)
    shown = clip(whole, width)
    left = len(shown) if shown == whole else len(shown) - 1  # the characters kept before clip's ellipsis
    ellipsis, out = shown[left:], []
    for text, is_tag in pieces:
        if left <= 0:
            break
        kept, left = text[:left], left - len(text)
        if left < 0 and not is_tag and text.startswith(" ("):  # cut inside a count: none of it, "#foo …"
            kept, ellipsis = " " + ellipsis, ""  # not "#foo (12…", a count of 12 read where there are 120
        elif left < 0:  # cut inside this piece: a tag's ellipsis inside its isolate
            kept, ellipsis = kept + ellipsis, ""
        out.append(isolated(kept) if is_tag else kept)
    return "".join(out) + ellipsis


#: the most decimals a column of numbers is given (a value that rounds to 0 with them shows 0.000000)
MAX_DECIMALS = 6


def _places(value: float, least: int) -> int:
    """Decimals that show ``value``: ``least`` from 1 up, two significant digits below 1 (0.0041 takes 4), but
    fewer where fewer show it exactly (3.5 takes 1, 0.004 takes 3, 6.0 none), and at most :data:`MAX_DECIMALS`.

    The exact case is what keeps a column free of zeros that claim a precision no value has: 0.13 beside 0.004
    read 0.1300 / 0.0040 (two significant digits for 0.004); with 3 decimals they read 0.130 / 0.004."""
    magnitude = abs(value)
    wanted = least if magnitude >= 1 else max(least, 1 - math.floor(math.log10(magnitude)))
    wanted = min(wanted, MAX_DECIMALS)
    # rel_tol: 0.07 * 100 is 7.000000000000001, a 7% share all the same
    return next((d for d in range(wanted) if math.isclose(value, round(value, d), rel_tol=1e-9)), wanted)


def _decimals(values: list[float], least: int) -> int:
    """The decimals of a column: those of the value that needs the most (:func:`_places`); exact zeros need none."""
    return max((_places(v, least) for v in values if v != 0), default=0)


def format_column(column: str, values: list[Any], text_width: int | None = None) -> list[str]:
    """The cells of one column of a text table (and of a chart's labels of the same numbers): its numbers with one
    number of decimals, so that they line up (0.655 next to 1.54 read as a different precision), as few as show
    every value (:func:`_decimals`); "0%" for an exact zero share, whole numbers with thousands separators,
    ratios with an x, "-" for an undefined value (None, NaN), text clipped to :data:`MAX_TEXT` columns
    (:data:`TEXT_WIDTHS` for a few; ``text_width`` where given)."""
    numbers = [float(v) for v in values if _is_finite(v)]
    if is_percent(column):
        decimals = _decimals([v * 100 for v in numbers], 1)
        return [("0%" if v == 0 else f"{v:.{decimals}%}") if _is_finite(v) else format_value(column, v)
                for v in values]
    if not is_ratio(column) and all(v.is_integer() for v in numbers):
        return [format_value(column, v, text_width) for v in values]
    decimals, unit = _decimals(numbers, 2), "x" if is_ratio(column) else ""
    return [f"{v:,.{decimals}f}{unit}" if _is_finite(v) else format_value(column, v) for v in values]


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(width - display_width(text), 0)
    return fill + text if right else text + fill


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


def prose(text: str, width: int | None = None) -> str:
    """``text``'s lines wrapped at :data:`PROSE_WIDTH` columns, or at ``width`` where narrower (:func:`wrap_line`:
    at spaces, the later lines of each indented by two; never inside a word, a date or a path)."""
    limit = PROSE_WIDTH if width is None else min(width, PROSE_WIDTH)
    return "\n".join(wrapped for line in text.split("\n") for wrapped in wrap_line(line, limit))


def text_table(columns: list[str], rows: list[dict[str, Any]], width: int | None = None,
               hidden_line: str = IN_THE_FULL_REPORT, keep: str | None = None) -> str:
    """Aligned columns: numbers to the right (a column of "-" only too: numbers left undefined), text and yes/no
    to the left; each column's numbers with one number of decimals (:func:`format_column`).

    With ``width`` (an excerpt for a terminal of that many columns, as the demo prints): only the leading columns
    that fit in it, each whole (the first alone, its lines clipped with "…", when even it does not fit), and a
    line naming the others (``hidden_line``, :data:`IN_THE_FULL_REPORT`'s fields), wrapped at that width; but the
    first column that does not fit, where it is one of :data:`FIT_WIDTHS` and the room left is at least its fewest
    columns, is shown shortened to that room (its cells clipped with "…"), not left out. ``keep`` (the column the
    table is read for, :data:`KEEP_COLUMNS`) is fitted right after the first column, before the others, and shown
    in its place: a column before it is left out first. Without ``width`` (a file, a pipe), every column, however
    wide."""
    by_column = [format_column(c, [row.get(c) for row in rows]) for c in columns]
    widths = [max([display_width(c), *map(display_width, cells)]) for c, cells in zip(columns, by_column, strict=True)]
    numeric = [not any(isinstance(row.get(c), (str, bool)) for row in rows) for c in columns]
    # the order the columns are fitted in: the first, the kept one, then the others as they come
    order = list(range(len(columns)))
    if width is not None and keep in columns[1:]:
        order.remove(columns.index(keep))
        order.insert(1, columns.index(keep))
    fitted = len(columns) if width is None else _columns_fitting([widths[i] for i in order], width)
    if width is not None and fitted < len(columns) and columns[order[fitted]] in FIT_WIDTHS:
        at = order[fitted]
        column, room = columns[at], width - sum(widths[i] for i in order[:fitted]) - 2 * fitted  # beside those, 2 apart
        if room >= max(FIT_WIDTHS[column], display_width(column)):
            by_column[at] = format_column(column, [row.get(column) for row in rows], text_width=room)
            widths[at] = max([display_width(column), *map(display_width, by_column[at])])
            fitted += 1
    fitted = max(1, fitted)
    chosen, left_out = sorted(order[:fitted]), sorted(order[fitted:])  # each in the table's own order
    hidden = [columns[i] for i in left_out]
    cells = [[by_column[i][r] for i in chosen] for r in range(len(rows))]
    columns, widths, numeric = [columns[i] for i in chosen], [widths[i] for i in chosen], [numeric[i] for i in chosen]

    def line(values: list[str]) -> str:
        text = "  ".join(_pad(v, w, num) for v, w, num in zip(values, widths, numeric, strict=False)).rstrip()
        return text if width is None else clip(text, width)

    table = [line(columns), line(["-" * w for w in widths]), *(line(c) for c in cells)]
    if hidden and width is not None:
        said = hidden_line.format(more=count(len(hidden), "more column"), names=", ".join(hidden), width=width)
        table.extend(wrap_line(said, width))
    return "\n".join(table)


def _columns_fitting(widths: list[int], width: int) -> int:
    """How many leading columns of these widths, two spaces apart, fit in ``width`` columns."""
    used = -2
    for shown, column in enumerate(widths):
        used += 2 + column
        if used > width:
            return shown
    return len(widths)


def _summary_line(summary: dict[str, Any]) -> str:
    parts = []
    for name, value in summary.items():
        if isinstance(value, (dict, list)) or value is None:
            continue
        column = "share" if name.endswith("share") or name.endswith("rate") else name
        if name.startswith("lift"):
            column = "lift_vs_none"
        parts.append(f"{name.replace('_', ' ')}: {format_value(column, value)}")
    return " · ".join(parts)


def _mark_partial_days(result: AnalysisResult, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """``rows`` (those shown) with each partial day of the series marked "(partial)" (a first day not known to be
    whole or partial "(partial?)"), and the notes that say why: the first day's when the series' first day is
    shown, the later days' on which a source's collection began when one of them is, the latest fetch's when its
    last day is that one."""
    marks = partial_marks(result)
    summary = result.summary
    first = result.rows[0].get("day") if result.rows else None
    state = summary.get("first_day_partial", False)
    first_note = FIRST_DAY_NOTE if state is True else FIRST_DAY_UNKNOWN_NOTE if state is None else None
    shown = {r.get("day") for r in rows}
    began = [day for day in summary.get("source_start_days") or [] if day in shown]
    began_note = SOURCE_START_NOTE.format(days=", ".join(began), it="it" if len(began) == 1 else "each")
    notes = [text for day, text in ((first, first_note), (began[0] if began else None, began_note),
                                    (summary.get("partial_day"), PARTIAL_NOTE))
             if text is not None and day is not None and day in shown]
    return [dict(r, day=f"{r['day']} {marks[r['day']]}") if r.get("day") in marks else r for r in rows], notes


def _window_start_note(result: AnalysisResult) -> str:
    """:data:`WINDOW_START_NOTE` for trending hashtags: each day a source's collection began in part, with the
    window it falls in (the windows end on the rows' ``window_end``)."""
    end = str(result.rows[0].get("window_end"))
    days = ", ".join(f"{day} ({trending_window(day, end)})" for day in result.summary["window_partial_days"])
    return WINDOW_START_NOTE.format(days=days)


def _previous_window_note(result: AnalysisResult) -> str:
    """Trending's note when its 7 days before reach the first day with hashtag data or days before it: said as a
    fact, unless they begin on that day and the store does not know whether it is whole."""
    first = result.summary.get("first_day")
    end = result.rows[0].get("window_end") if result.rows else None
    unknown = result.summary.get("first_day_partial") is None and isinstance(end, str) and first == trending_start(end)
    return (PREVIOUS_WINDOW_UNKNOWN_NOTE if unknown else PREVIOUS_WINDOW_NOTE).format(first=first)


def report_provenance(recorded: dict[str, dict[str, Any] | None], top: int) -> dict[str, Any]:
    """The report's ``provenance``: this report's own settings (``report``), each run whose rows the store holds with
    the metrics it computed (``runs``, usually one; in the order of their first metric's name), each metric's SQL
    fingerprint and whether it is one of the ``metrics_dir`` files (``metrics``), and the metrics written without a
    record (``unrecorded``: by an older fediscope). Nothing in it is of the time of the run: two reports of the same
    data, made alike, are byte for byte the same. See :mod:`fediscope.engine.provenance`."""
    runs: list[dict[str, Any]] = []
    metrics: dict[str, dict[str, Any]] = {}
    for name, provenance in sorted(recorded.items()):
        if provenance is None:
            continue
        fields = run_fields(provenance)
        found = next((r for r in runs if r["run"] == fields), None)
        if found is None:
            runs.append({"run": fields, "metrics": [name]})
        else:
            found["metrics"].append(name)
        metrics[name] = {k: provenance.get(k) for k in METRIC_FIELDS}
    return {"report": {"fediscope_version": __version__, "top": top}, "runs": runs, "metrics": metrics,
            "unrecorded": sorted(name for name, provenance in recorded.items() if provenance is None)}


#: how :func:`_describe_run` says a run's ``privacy`` (:func:`fediscope.engine.provenance.landed_privacy`); nothing
#: for a run recorded by a fediscope that did not record it
_LANDED = {LANDED_PSEUDONYMISED: ", landed pseudonymised", LANDED_OFF: ", landed with privacy off",
           LANDED_UNKNOWN: ", privacy at landing not recorded"}


def _describe_run(run: dict[str, Any]) -> str:
    """One run of :func:`report_provenance` in words (the text report's head)."""
    first, days = run.get("curated_from_day"), run.get("retention_curated_days")
    retention = "every curated day kept" if first is None else f"curated days from {first} (retention {days} days)"
    window = run.get("window") or {}
    since, until = window.get("since"), window.get("until")
    curated = ("" if since is None and until is None
               else f", that run curated fetch days {since or '…'} to {until or '…'}")
    return (f"fediscope {run.get('fediscope_version')} ({run.get('engine')} engine) over inputs {run.get('inputs')} "
            f"({count(run.get('raw_files') or 0, 'raw file', thousands=True)}), {retention}{curated}"
            f"{_LANDED.get(run.get('privacy'), '')}")


def provenance_lines(provenance: dict[str, Any]) -> list[str]:
    """The text report's lines saying what computed the stored metrics (:func:`report_provenance`)."""
    runs, unrecorded = provenance["runs"], provenance["unrecorded"]
    if len(runs) == 1 and not unrecorded:
        return [f"Computed by: {_describe_run(runs[0]['run'])}"]
    lines = [f"Computed by: {_describe_run(r['run'])}: {', '.join(r['metrics'])}" for r in runs]
    if unrecorded:
        lines.append("Computed by: not recorded (an older fediscope; `fediscope process` records it): "
                     + ", ".join(unrecorded))
    return lines


@dataclass
class Report:
    store_url: str
    run: AnalysisRun
    charts: list[Path] = field(default_factory=list)
    chart_dir: Path | None = None
    #: the stored metrics no analysis reads (a user's own), shown as their rows, without charts
    others: list[MetricRows] = field(default_factory=list)
    #: what computed the stored metrics (:func:`report_provenance`)
    provenance: dict[str, Any] = field(default_factory=lambda: report_provenance({}, 0))
    #: the metrics written again while every read of the report was made (:func:`build_report`): its sections may be
    #: of different writes, and its provenance need not say which; empty for a report read from one state of the store
    written_while_read: list[str] = field(default_factory=list)
    #: the metrics a write had begun changing and not finished when the report's reads were done (:func:`build_report`)
    partly_written: list[str] = field(default_factory=list)

    def section(self, result: AnalysisResult, width: int | None = None,
                hidden_line: str = IN_THE_FULL_REPORT) -> str:
        """An analysis's section: its title, question, summary and definitions, its table (the columns that fit in
        ``width``, see :func:`text_table`) and the notes under it; the lines of prose wrapped (:func:`prose`)."""
        rows = result.rows
        note = ""
        if result.text_tail and len(rows) > result.text_tail:
            note = f"(the last {result.text_tail} of {count(len(rows), 'row')}; --format json has them all)"
            rows = rows[-result.text_tail:]
        if "day" in result.columns:
            rows, partial_notes = _mark_partial_days(result, rows)
            note = "\n".join(filter(None, [note, *partial_notes]))
        if result.summary.get("previous_window_partial"):
            note = "\n".join(filter(None, [note, _previous_window_note(result)]))
        if result.summary.get("window_partial_days") and result.rows:
            note = "\n".join(filter(None, [note, _window_start_note(result)]))
        parts = [prose(f"== {result.title} ==", width), prose(result.question, width)]
        # the partial days are marked in the table itself: in the summary line they repeated the latest fetch day
        summary = _summary_line({k: v for k, v in result.summary.items() if k not in _SAID_UNDER_THE_TABLE})
        if summary:
            parts.append(prose(summary, width))
        if result.name in NOTES:
            parts.append(prose(f"Definitions: {NOTES[result.name]}", width))
        parts.append(text_table(result.columns, rows, width, hidden_line, KEEP_COLUMNS.get(result.name))
                     if rows else "(no rows)")
        if note:
            parts.append(prose(note, width))
        return "\n".join(parts)

    def other_section(self, other: MetricRows, width: int | None = None,
                      hidden_line: str = IN_THE_FULL_REPORT) -> str:
        """A metric no analysis reads: its question (or that its SQL file is gone), then its first rows as stored."""
        parts = [prose(f"== {other.name} ==", width)]
        if other.question is not None:
            parts.append(prose(other.question, width))
        if not other.sql_file:
            parts.append(prose(f"(its SQL file is gone; the store keeps it: `fediscope store drop {other.name}` "
                               "removes it)", width))
        if other.error is not None:
            parts.append(prose(f"Could not read {other.name}: {printable(other.error)}", width))
            return "\n".join(parts)
        parts.append(text_table(other.columns, other.rows, width, hidden_line) if other.rows else "(no rows)")
        if other.total_rows > len(other.rows):
            parts.append(prose(f"(the first {len(other.rows)} of {count(other.total_rows, 'row', thousands=True)}; "
                               "--format json has them all)", width))
        return "\n".join(parts)

    @property
    def unreadable(self) -> list[str]:
        """The metrics no analysis reads whose rows could not be read."""
        return [other.name for other in self.others if other.error is not None]

    def text(self, width: int | None = None, hidden_line: str = IN_THE_FULL_REPORT) -> str:
        """The report as text. Its lines of prose wrap at :data:`PROSE_WIDTH` columns, or ``width`` where narrower
        (:func:`prose`); its tables keep every column, or with ``width`` only those that fit in it, ``hidden_line``
        naming the others (:func:`text_table`). Without ``width``: what a file or a pipe gets."""
        total = sum(self.run.stored.values())
        head = (f"fediscope report · store {self.store_url} · {count(len(self.run.stored), 'metric')}, "
                f"{count(total, 'row', thousands=True)}\nPeriod: {self.run.period.describe()}\n"
                + "\n".join(provenance_lines(self.provenance)))
        if self.written_while_read:
            head += (f"\nWritten while read: {', '.join(self.written_while_read)} (by `fediscope process` or an "
                     f"erasure, during each of the report's {REPORT_READS} reads): its sections may be of different "
                     "runs, and the lines above need not say which; make the report again once the run is done")
        if self.partly_written:
            head += (f"\nPartly written: {', '.join(self.partly_written)} ({PARTLY_WRITTEN_ADVICE}): their sections "
                     "may mix rows of before and after that write")
        blocks = [prose(head, width), *(self.section(r, width, hidden_line) for r in self.run.results),
                  *(self.other_section(o, width, hidden_line) for o in self.others)]
        for name, reason in self.run.failed.items():
            blocks.append(prose(f"Could not compute {name}: {printable(reason)}", width))
        if self.run.missing:
            blocks.append(prose("Not in the store (run `fediscope process` to compute them): "
                                + ", ".join(self.run.missing), width))
        if self.charts:
            blocks.append(prose(f"Charts written to {self.chart_dir}: " + ", ".join(p.name for p in self.charts),
                                width))
        return "\n\n".join(blocks) + "\n"

    @property
    def ok(self) -> bool:
        """Whether every analysis was computed and every other metric read: the command exits 1 otherwise."""
        return not self.run.failed and not self.unreadable

    def to_dict(self) -> dict[str, Any]:
        """``--format json``'s document. ``ok`` says what the exit code says (false: an analysis not computed or
        another metric unreadable, exit 1), as the other commands' documents and the error document do: a script
        that keeps the document without its exit code can tell a partial report from a whole one."""
        return {"ok": self.ok, "store": self.store_url, "period": self.run.period.to_dict(), "metrics": self.run.stored,
                "missing": self.run.missing,
                "failed": self.run.failed,
                "analyses": [r.to_dict() for r in self.run.results], "charts": [str(p) for p in self.charts],
                "other_metrics": {o.name: o.to_dict() for o in self.others}, "provenance": self.provenance,
                "written_while_read": self.written_while_read, "partly_written": self.partly_written}


#: whole reads :func:`build_report` makes while the store is written during them (:func:`read_one_state`'s)
REPORT_READS = ONE_STATE_READS


def build_report(store: MetricStore, out_dir: Path | None = None, n: int = 10, charts: bool = True,
                 every_row: bool = False, metrics_dir: Path | None = None) -> Report:
    """Run the analyses (raises StoreError on an empty store), read the metrics no analysis reads (their first ``n``
    rows, or with ``every_row`` all of them, as ``--format json`` gives them) and draw the charts into ``out_dir``.

    Each analysis reads the store on its own, so a ``fediscope process`` run writing it meanwhile (the batch DAG while
    a dashboard makes its report) could leave sections of two writes, with a provenance read after both: all the
    report's reads are made again when a write landed meanwhile, up to :data:`REPORT_READS` times
    (:func:`~fediscope.analysis.read_one_state`), and the metrics still written during each of them are named
    (:attr:`Report.written_while_read`, also the run's), and so are those a write had begun and not finished when
    the reads were done (:attr:`Report.partly_written`: a write going on, or one that stopped part-way). Else every
    section is of what the store held then and the provenance says what computed each. A report read wholly between
    two of a run's writes holds the metrics it wrote and those of the run before it: the provenance's runs say which
    (a run over the same inputs computes the same rows, and records the same provenance)."""

    def read(noted: Mapping[str, str | None]) -> tuple[AnalysisRun, list[MetricRows], dict[str, Any]]:
        run = run_analyses(store, n, noted)
        others = other_metrics(store, run.stored, None if every_row else n, own_dir=metrics_dir)
        return run, others, report_provenance(store.provenances(), n)

    state = read_one_state(store, read, "the report", log)
    run, others, provenance = state.value
    run.written_while_read, run.partly_written = state.written_while_read, state.partly_written
    report = Report(store_url=redact_url(store.url), run=run, others=others, provenance=provenance,
                    written_while_read=state.written_while_read, partly_written=state.partly_written)
    if charts and out_dir is not None:
        from fediscope.charts import write_charts

        report.charts = write_charts(run, out_dir)
        report.chart_dir = out_dir
    return report
