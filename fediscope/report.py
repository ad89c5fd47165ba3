"""``fediscope report``'s content: the analyses as readable text tables or JSON, and their charts.

:func:`build_report` runs every analysis (:mod:`fediscope.analysis`) over a store and, unless told not to,
draws the charts (:mod:`fediscope.charts`); :class:`Report` renders the result. The text form is for a
terminal (aligned columns, shares as percentages, long keys shortened); the JSON form keeps every value
exact and every row (time series included), for scripts and dashboards.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fediscope.analysis import AnalysisResult, AnalysisRun, run_analyses
from fediscope.redact import redact_url
from fediscope.store.port import MetricStore

PERCENT_COLUMNS = {"share", "bot_share", "bot_toot_share", "engagement_rate"}
RATIO_COLUMNS = {"growth", "lift_vs_none"}
MAX_TEXT = 40

#: what an analysis's numbers mean where its column names do not say it (the definitions of the metric SQL in
#: spark_jobs/sql/), printed under its headline numbers; a rate or a ratio without one was read as a plain count
NOTES: dict[str, str] = {
    "engagement_distribution":
        "interactions = favourites + reblogs + replies; engagement rate = interactions per toot / followers, over "
        "the accounts with followers (undefined with 0 followers); a bucket a-b holds the accounts with more than a "
        "and at most b interactions per toot; share = of all accounts",
    "top_engaged_accounts":
        "interactions = favourites + reblogs + replies; engagement_rate = interactions_per_toot / followers_count "
        "(- with 0 followers: undefined)",
    "hashtags_per_day":
        "uses = toots with the tag, summed over the day's tags (a toot with 3 tags is 3 uses); uses_engagement = "
        "their interactions, counted once per tag; top_tags: the day's most used, with their uses",
    "trending_hashtags":
        "growth = (current_toots + 1) / (previous_toots + 1), the add-one smoothing of the metric: a tag not used "
        "in the 7 days before shows current_toots + 1; window_end = the last day of the latest 7",
    "languages": "share = of all toots (share events excluded); language as the author's client declared it",
    "instances": "instance = the author's home server; accounts = distinct authors of its toots; share = of all toots",
    "media_engagement":
        "means per toot; any = toots with at least one attachment, image/video/gifv/audio = with at least one of "
        "that type (a toot with an image and a video is in both); lift_vs_none = interactions_mean / that of none",
    "content_features":
        "share = toots_with / all toots; items = how many in all (a toot with 2 links counts 2); per_toot = items "
        "/ all toots",
    "bots_share": "bot_share = bots / accounts (every account collected, with or without toots); bot_toot_share = "
                  "toots by bots / toots",
}


#: under a daily series whose last day is the day of the latest fetch (``summary["partial_day"]``)
PARTIAL_NOTE = ("(partial): the day of the latest fetch; the collection stopped during it, so its numbers are a part "
                "of the day's, not a decline")


def format_value(column: str, value: Any) -> str:
    """One value on its own (a headline number); a table's column is :func:`format_column`'s."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in PERCENT_COLUMNS and _is_number(value):
        if value == 0:
            return "0%"  # exact: "0.00%" read as a share rounded down to nothing
        return f"{value:.2%}" if abs(value) < 0.01 else f"{value:.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if column in RATIO_COLUMNS:
            return f"{value:.2f}x"
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"
    return _clip(str(value), MAX_TEXT)


#: the most decimals a column of numbers is given (its smallest value below 1 asks for two significant digits)
MAX_DECIMALS = 6


def _decimals(values: list[float], least: int) -> int:
    """Decimals that show each of ``values`` with at least two significant digits (``least`` at the least)."""
    needed = [1 - math.floor(math.log10(abs(v))) for v in values if math.isfinite(v) and 0 < abs(v) < 1]
    return min(max([least, *needed]), MAX_DECIMALS)


def format_column(column: str, values: list[Any]) -> list[str]:
    """The cells of one column of a text table (and of a chart's labels of the same numbers): its numbers with one
    number of decimals (0.655 next to 1.54 read as a different precision), "0%" for an exact zero share, whole
    numbers with thousands separators, ratios as 2.50x, text clipped to :data:`MAX_TEXT` columns."""
    numbers = [float(v) for v in values if _is_number(v)]
    if column in PERCENT_COLUMNS:
        decimals = _decimals([v * 100 for v in numbers], 1) if numbers else 1
        return [("0%" if v == 0 else f"{v:.{decimals}%}") if _is_number(v) else format_value(column, v)
                for v in values]
    if column in RATIO_COLUMNS or all(not math.isfinite(v) or v.is_integer() for v in numbers):
        return [format_value(column, v) for v in values]
    decimals = _decimals(numbers, 2)
    return [f"{v:,.{decimals}f}" if _is_number(v) else format_value(column, v) for v in values]


def _char_width(char: str) -> int:
    """Terminal columns of one character: 2 for wide ones (CJK, most emoji), 0 for combining marks and
    zero-width ones (variation selectors, joiners), else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (``len`` counts a CJK hashtag's characters, not their width)."""
    return sum(map(_char_width, text)) if not text.isascii() else len(text)


def _clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns, cut with "…" (never inside a character's combining marks)."""
    if display_width(text) <= width:
        return text
    used, end = 1, 0  # the "…" takes one column
    for end, char in enumerate(text):  # noqa: B007 - end is used after the loop
        used += _char_width(char)
        if used > width:
            break
    while end > 0 and _char_width(text[end]) == 0:  # keep a base character with its marks
        end -= 1
    return text[:end] + "…"


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(width - display_width(text), 0)
    return fill + text if right else text + fill


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def text_table(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Aligned columns: numbers to the right (a column of "-" only too: numbers left undefined), text and yes/no
    to the left; each column's numbers with one number of decimals (:func:`format_column`)."""
    by_column = [format_column(c, [row.get(c) for row in rows]) for c in columns]
    cells = [list(line) for line in zip(*by_column, strict=True)] if rows else []
    widths = [max([display_width(c), *(display_width(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    numeric = [not any(isinstance(row.get(c), (str, bool)) for row in rows) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(_pad(v, w, num) for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(c) for c in cells)])


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


@dataclass
class Report:
    store_url: str
    run: AnalysisRun
    charts: list[Path] = field(default_factory=list)
    chart_dir: Path | None = None

    def section(self, result: AnalysisResult) -> str:
        rows = result.rows
        note = ""
        if result.text_tail and len(rows) > result.text_tail:
            note = f"(the last {result.text_tail} of {len(rows)} rows; --format json has them all)"
            rows = rows[-result.text_tail:]
        partial = result.summary.get("partial_day")
        if partial is not None and "day" in result.columns:
            rows = [dict(r, day=f"{r['day']} (partial)") if r.get("day") == partial else r for r in rows]
            note = "\n".join(filter(None, [note, PARTIAL_NOTE]))
        parts = [f"== {result.title} ==", result.question]
        # the partial day is marked in the table itself: in the summary line it repeated the latest fetch day
        summary = _summary_line({k: v for k, v in result.summary.items() if k != "partial_day"})
        if summary:
            parts.append(summary)
        if result.name in NOTES:
            parts.append(f"Definitions: {NOTES[result.name]}")
        parts.append(text_table(result.columns, rows) if rows else "(no rows)")
        if note:
            parts.append(note)
        return "\n".join(parts)

    def text(self) -> str:
        total = sum(self.run.stored.values())
        head = (f"fediscope report · store {self.store_url} · {len(self.run.stored)} metrics, "
                f"{total:,} rows")
        blocks = [head, *(self.section(r) for r in self.run.results)]
        for name, reason in self.run.failed.items():
            blocks.append(f"Could not compute {name}: {reason}")
        if self.run.missing:
            blocks.append("Not in the store (run `fediscope process` to compute them): "
                          + ", ".join(self.run.missing))
        if self.charts:
            blocks.append(f"Charts written to {self.chart_dir}: " + ", ".join(p.name for p in self.charts))
        return "\n\n".join(blocks) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store_url, "metrics": self.run.stored, "missing": self.run.missing,
                "failed": self.run.failed,
                "analyses": [r.to_dict() for r in self.run.results], "charts": [str(p) for p in self.charts]}


def build_report(store: MetricStore, out_dir: Path | None = None, n: int = 10, charts: bool = True) -> Report:
    """Run the analyses (raises StoreError on an empty store) and draw the charts into ``out_dir``."""

    run = run_analyses(store, n)
    report = Report(store_url=redact_url(store.url), run=run)
    if charts and out_dir is not None:
        from fediscope.charts import write_charts

        report.charts = write_charts(run, out_dir)
        report.chart_dir = out_dir
    return report
