"""PNG charts of the analyses, drawn with matplotlib's Agg renderer (no display, no pyplot global state).

Each chart function takes an :class:`~fediscope.analysis.AnalysisResult` and a path; :func:`write_charts`
draws every chart whose analysis ran and returns the files written. Charts are for people: titles say what
is shown, axes carry units, long pseudonymous account keys are shortened.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fediscope import __version__
from fediscope.analysis import WEEKDAYS, AnalysisResult, AnalysisRun, partial_marks
from fediscope.console import isolated, printable
from fediscope.errors import ConfigError
from fediscope.files import atomic_out
from fediscope.interrupts import raise_if_lost
from fediscope.wording import count, some_of

log = logging.getLogger(__name__)

SIZE = (9, 5)
LEGEND_WIDTH = 24  # characters of a legend entry (a hashtag may be 255)
DPI = 110
COLOR = "#4c72b0"
ACCENT = "#dd8452"
#: the most bars a chart of a top-N list draws (``--top`` goes up to 1000, the text table shows them all): beyond
#: about 20 the labels of a 9 × 5 inch chart ran into one another, and at a few hundred the chart was black
CHART_BARS = 20


#: fonts tried, in order, for characters DejaVu Sans (matplotlib's own) lacks: hashtags, languages and account
#: names in CJK scripts, Arabic, … — used when installed (Debian: fonts-noto-cjk, fonts-noto-core)
FALLBACK_FONTS = ("Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK KR", "Noto Sans Arabic",
                  "Noto Sans Hebrew", "Noto Sans Devanagari", "Noto Sans Thai", "Noto Sans Symbols 2", "Noto Emoji",
                  "WenQuanYi Zen Hei", "Droid Sans Fallback", "Unifont")
_MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from font")


def _font_families() -> list[str]:
    """DejaVu Sans, then the installed fallback fonts (matplotlib draws a character with the first that has it)."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in FALLBACK_FONTS if name in installed)]


def _figure() -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    return figure, figure.add_subplot()


def _thousands(axis: Any) -> None:
    """Whole-number ticks with thousands separators (counts have no halves)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _count(v)))


def _count(value: float) -> str:
    """A tick label: whole numbers with separators below a million, then 1.5M, 20B, 3T, then 4.6e18 (ticks of
    huge counts written out in full ran into each other)."""
    size = abs(value)
    if size < 1e6:
        text = f"{value:,.0f}"
        return "0" if text == "-0" else text  # a tick at -0.0 (or -0.02) is no negative count
    for limit, suffix in ((1e9, "M"), (1e12, "B"), (1e15, "T")):
        if size < limit:
            return f"{value / (limit / 1000):.3g}{suffix}"
    return f"{value:.2g}".replace("e+", "e")


def label(value: Any) -> str:
    """A chart's text of a value a server sent (a tag, a language, an instance): its control characters as escapes
    (:func:`~fediscope.console.printable`), as the text report shows them, rather than boxes no font can fill."""
    return printable(str(value))


def _short(key: Any, width: int = 14) -> str:
    text = label(key)
    return text if len(text) <= width else text[: width - 1] + "…"


def _distinct_labels(keys: list[Any], width: int = 14) -> list[str]:
    """Keys shortened to ``width`` characters (pseudonyms are long), yet told apart: keys that end-truncation
    makes alike (long handles sharing a beginning, with privacy off) keep their ends instead, or else whole."""
    texts = [label(k) for k in keys]
    distinct = len(set(texts))
    shortened = [_short(t, width) for t in texts]
    if len(set(shortened)) == distinct:
        return shortened
    head = (width - 1) // 2
    middle = [t if len(t) <= width else f"{t[:head]}…{t[len(t) - (width - 1 - head):]}" for t in texts]
    return middle if len(set(middle)) == distinct else texts


def _without_instance(key: Any, instance: Any) -> str:
    """An account key without the ``@instance`` the label shows next to it (a handle, with privacy off)."""
    text = str(key)
    suffix = f"@{instance}"
    return text[: -len(suffix)] if instance and text.endswith(suffix) and len(text) > len(suffix) else text


def account_label(key: str, instance: Any) -> str:
    """A bar's label of an account: its key (shortened, :func:`_distinct_labels`), then its instance in brackets,
    each part written right to left isolated (:func:`~fediscope.console.isolated`): matplotlib lays text out with
    the Unicode bidi algorithm, which drew ``مرحبا  (mastodon.social)`` as a right-to-left line, the instance first.
    Both are escaped (:func:`label`) before the isolates are added: a server's own bidi control (an override, a PDI
    to end an isolate early) is shown as an escape; escaping the key again changes nothing."""
    return f"{isolated(label(key))}  ({isolated(label(instance or '?'))})"


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _save(figure: Any, path: Path, footnote: str) -> None:
    """Write ``figure`` to ``path``, with ``footnote`` (the period the numbers cover) small under it: a chart is
    often read apart from the report that drew it. Drawn in memory, then written whole or not at all by
    :func:`~fediscope.files.atomic_out` (a random hidden temporary file renamed over ``path``): a symbolic
    link at ``path`` is replaced, never written through (was: drawn into ``<name>.tmp.png``, a name anyone who can
    write the directory could have planted a link at, whose target received the chart). Failing to write raises
    the OSError, which :func:`write_charts` words."""
    if footnote:
        figure.supxlabel(footnote, fontsize=7, color="grey")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata=png_metadata())
    with atomic_out(path) as write:
        write(buffer.getvalue())


def png_metadata() -> dict[str, str]:
    """The PNG text chunks of a chart: what drew it, and nothing of when (matplotlib's PNG writer adds no date), so
    the same data drawn by the same versions gives the same bytes."""
    import matplotlib

    return {"Software": f"fediscope {__version__} (matplotlib {matplotlib.__version__})"}


def top_accounts_chart(result: AnalysisResult, path: Path, footnote: str = "") -> None:
    figure, ax = _figure()
    rows = list(reversed(result.rows[:CHART_BARS]))  # largest at the top
    keys = [_without_instance(r["account_key"], r.get("instance")) for r in rows]
    labels = [account_label(key, r.get("instance")) for key, r in zip(_distinct_labels(keys), rows, strict=True)]
    values = [r.get("followers_count") or 0 for r in rows]
    if rows:
        # bars at positions, labelled after: as categories, two accounts whose shortened labels are the same
        # (long handles with privacy off) were drawn as one bar
        bars = ax.barh(range(len(rows)), values, color=COLOR)
        ax.set_yticks(range(len(rows)), labels)
        ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8)
        _thousands(ax.xaxis)
        ax.set_xlabel("followers")
        ax.margins(x=0.12)
        # counts start at 0; every one 0 (new accounts, or a server hiding them: -1, stored as 0), the axis ran from
        # -0.05 to 0.05, ticked "-0, -0, 0, 0, 0"
        ax.set_xlim(left=0, right=None if any(values) else 1)
    else:
        _empty(ax, "no accounts")
    ax.set_title(f"Top {count(len(rows), 'account')} by followers" if rows else "Top accounts by followers")
    _save(figure, path, footnote)


def engagement_chart(result: AnalysisResult, path: Path, footnote: str = "") -> None:
    figure, ax = _figure()
    labels = [r["interactions_per_toot"] for r in result.rows]
    values = [r["accounts"] or 0 for r in result.rows]
    if any(values):
        bars = ax.bar(labels, values, color=COLOR)
        ax.bar_label(bars, labels=[f"{v:,}" if v else "" for v in values], padding=2, fontsize=8)
        ax.set_xlabel("interactions (favourites + reblogs + replies) per toot")
        ax.set_ylabel("accounts")
        _thousands(ax.yaxis)
    else:  # every bucket 0: bars of height 0 on an axis from -0.05 to 0.05 ticked "0, 0, 0, -0, -0"
        _empty(ax, "no accounts")
    from fediscope.report import format_value

    median = result.summary.get("median_engagement_rate")
    # rounded as the text report rounds it (it said 3.0% where the chart said 2.97%), and over which accounts
    with_followers = count(result.summary.get("accounts_with_followers", 0), "account", thousands=True)
    subtitle = (f"median engagement rate {format_value('share', median)} of followers per toot, over the "
                f"{with_followers} with followers" if median is not None else "")
    ax.set_title(f"Engagement distribution over {count(result.summary.get('accounts', 0), 'account', thousands=True)}"
                 + (f"\n{subtitle}" if subtitle else ""))
    _save(figure, path, footnote)


def _month_ticks(ax: Any, months: list[str]) -> None:
    """Ticks of a monthly series: over two years, at Januaries, labelled with the year (every few years for a
    long series); else every month or few, labelled ``YYYY-MM``. Ticks every ``len // 12`` months from the first
    fell on any month (2016-04, 2017-02, 2017-12, …), which made the years hard to read off."""
    januaries = [i for i, month in enumerate(months) if month[4:] == "-01"]
    if len(months) > 24 and januaries:
        every = -(-len(januaries) // 12)  # at most 12 year labels
        ticks = januaries[::every]
        ax.set_xticks(ticks, [months[i][:4] for i in ticks])
        return
    step = max(1, len(months) // 12)
    ax.set_xticks(range(0, len(months), step), months[::step], rotation=45, ha="right")


def signups_chart(result: AnalysisResult, path: Path, footnote: str = "") -> None:
    figure, ax = _figure()
    months = [r["month"] for r in result.rows]
    if months:
        ax.bar(months, [r["accounts"] for r in result.rows], color=COLOR, label="new accounts")
        ax.set_ylabel("accounts created per month (bars)", color=COLOR)
        _thousands(ax.yaxis)
        cumulative = ax.twinx()
        # one month: its "." was a speck on the bar's top edge, a full marker shows the line's one point
        cumulative.plot(months, [r["accounts_cumulative"] for r in result.rows], color=ACCENT,
                        marker="o" if len(months) == 1 else ".", label="cumulative")
        cumulative.set_ylabel("accounts created so far (line)", color=ACCENT)
        cumulative.set_ylim(bottom=0)
        _thousands(cumulative.yaxis)
        _month_ticks(ax, months)
    else:
        _empty(ax, "no sign-ups")
    ax.set_title(result.title)
    _save(figure, path, footnote)


def _mark_source_starts(ax: Any, days: list[str], began: list[str], ticks: list[int], step: int) -> list[int]:
    """Hatch the later days on which a source's collection began in part (``began``), else the rise there read as
    growth; ``ticks`` with a tick on each of them (the regular ticks too close to one left out)."""
    where = [days.index(day) for day in began if day in days]
    for n, at in enumerate(where):
        ax.axvspan(at - 0.5, at + 0.5, facecolor="none", edgecolor="lightgrey", hatch="xx", linewidth=0,
                   label="_nolegend_" if n else "partial day (a source's collection began)")
    kept = [t for t in ticks if all(abs(t - at) > step / 2 for at in where) or t in (0, len(days) - 1)]
    return sorted({*kept, *where})


def hashtags_chart(result: AnalysisResult, path: Path, footnote: str = "") -> None:
    figure, ax = _figure()
    per_day: dict[str, dict[str, int]] = result.summary.get("per_day", {})
    days = [r["day"] for r in result.rows]
    if days and per_day:
        tags = result.summary.get("top_tags", [])
        for tag, label in zip(tags, _distinct_labels([f"#{tag}" for tag in tags], LEGEND_WIDTH), strict=True):
            ax.plot(days, [per_day[tag].get(day, 0) for day in days], marker="o", markersize=3, label=label)
        # a line of one point is not drawn: with a single day, a marker shows it (as the legend promised it)
        ax.plot(days, [r["uses"] for r in result.rows], color="grey", linestyle="--", linewidth=1,
                marker="o" if len(days) == 1 else "", markersize=4, label="all hashtag uses")
        ax.set_ylabel("toots using the tag, per day")
        ax.set_ylim(bottom=0)
        _thousands(ax.yaxis)
        step = max(1, len(days) // 14)
        ticks = list(range(0, len(days), step))
        partial = result.summary.get("partial_day")
        if partial is not None and days[-1] == partial:
            # the day of the latest fetch, collected in part: hatched and named, else its drop read as a decline
            last = len(days) - 1
            ax.axvspan(last - 0.5, last + 0.5, facecolor="none", edgecolor="lightgrey", hatch="//", linewidth=0,
                       label="partial day (latest fetch)")
            ticks = [t for t in ticks if last - t >= max(step / 2, 1)] + [last]
        marks = partial_marks(result)
        if days[0] in marks and days[0] != partial:
            # the first day, where the walk back in time began (in part, or maybe): hatched and named, else the rise
            # after it read as growth (always a tick: ticks start at 0)
            ax.axvspan(-0.5, 0.5, facecolor="none", edgecolor="lightgrey", hatch="\\\\", linewidth=0,
                       label=("partial day" if marks[days[0]] == "(partial)" else "maybe partial day")
                       + " (collection began)")
        ticks = _mark_source_starts(ax, days, result.summary.get("source_start_days") or [], ticks, step)
        labels = [f"{days[t]} {marks[days[t]]}" if days[t] in marks else days[t] for t in ticks]
        ax.set_xticks(ticks, labels, rotation=45, ha="right")
        # beside the plot, not in it: inside, it hid the lines of the first days (the busiest, "all hashtag
        # uses", runs along the top), and a long tag stretched it across the whole chart
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    else:
        _empty(ax, "no hashtags")
    leaders = len(result.summary.get("top_tags", []))
    shown = {0: "", 1: ": the most used tag"}.get(leaders, f": the {leaders} most used tags")
    ax.set_title(f"Hashtags per day{shown}")
    _save(figure, path, footnote)


def _chart_languages(result: AnalysisResult) -> list[dict[str, Any]]:
    """The languages analysis' rows as its chart draws them: at most :data:`CHART_BARS`, the languages after the
    first ``CHART_BARS - 1`` (and the analysis' own "other" row) folded into one "other (k)" row."""
    rows = result.rows
    if len(rows) <= CHART_BARS:
        return list(rows)
    kept = rows[: CHART_BARS - 1]
    rest = sum(r.get("toots") or 0 for r in rows[CHART_BARS - 1:])
    total = result.summary.get("toots") or 0
    folded = (result.summary.get("languages") or 0) - len(kept)
    return [*kept, {"language": f"other ({folded})", "toots": rest, "share": rest / total if total else None}]


def languages_chart(result: AnalysisResult, path: Path, footnote: str = "") -> None:
    figure, ax = _figure()
    rows = list(reversed(_chart_languages(result)))
    if rows:
        bars = ax.barh(range(len(rows)), [(r.get("share") or 0) * 100 for r in rows], color=COLOR)
        ax.set_yticks(range(len(rows)), [label(r["language"]) for r in rows])
        from fediscope.report import format_column

        # the shares as the text report's column rounds them (it said 0.49% where the chart said 0.5%)
        shares = format_column("share", [r.get("share") for r in rows])
        labels = [f"{share}  ({r.get('toots') or 0:,})" for share, r in zip(shares, rows, strict=True)]
        ax.bar_label(bars, labels=labels, padding=3, fontsize=8)
        ax.set_xlabel("share of toots (%)")
        ax.margins(x=0.2)
    else:
        _empty(ax, "no toots")
    ax.set_title(f"Languages of {result.summary.get('toots', 0):,} toots")
    _save(figure, path, footnote)


def activity_chart(result: AnalysisResult, path: Path, footnote: str = "") -> None:
    figure, ax = _figure()
    grid = [[0] * 24 for _ in range(7)]
    for cell, toots in result.summary.get("grid", {}).items():
        weekday, hour = (int(x) for x in cell.split(":"))
        grid[(weekday - 1) % 7][hour % 24] = toots
    if not any(map(any, grid)):  # no toots: one flat colour, a colour bar from -0.1 to 0.1 toots
        _empty(ax, "no toots")
        ax.set_title("When toots are posted (weekday × hour, UTC)")
        _save(figure, path, footnote)
        return
    # counts start at 0: scaled from the smallest cell, the quietest hour was white however many toots it had
    image = ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0)
    ax.set_yticks(range(7), [d[:3] for d in WEEKDAYS])
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day (UTC)")
    figure.colorbar(image, ax=ax, label="toots")
    ax.set_title("When toots are posted (weekday × hour, UTC)")
    _save(figure, path, footnote)


#: analysis name → (file name, drawing function)
CHARTS: dict[str, tuple[str, Callable[[AnalysisResult, Path, str], None]]] = {
    "top_accounts": ("top_accounts.png", top_accounts_chart),
    "engagement_distribution": ("engagement_distribution.png", engagement_chart),
    "signups_over_time": ("signups_over_time.png", signups_chart),
    "hashtags_per_day": ("hashtags_per_day.png", hashtags_chart),
    "languages": ("languages.png", languages_chart),
    "activity": ("activity.png", activity_chart),
}


def _remove_stale(path: Path) -> None:
    """Remove the chart an earlier report wrote at ``path`` (it shows that report's numbers)."""
    if path.is_file():
        path.unlink()
        log.info("chart %s of an earlier report removed: not drawn this time", path)


def write_charts(run: AnalysisRun, out_dir: Path) -> list[Path]:
    """Draw the chart of every analysis that ran into ``out_dir`` (created); returns the files, in order.

    ConfigError when the directory cannot be created or written (a file in the way, no permission). A chart
    whose rows it cannot draw is left out and named in ``run.failed`` (``<analysis> chart``). A chart not drawn
    this time (its analysis failed or its metric is missing) loses its file from an earlier report in
    ``out_dir``, which would otherwise be taken for a current one; only these chart names are ever removed.
    Characters no installed font has are drawn as boxes and named in one warning (matplotlib warned once per
    character)."""
    written = []
    missing: dict[str, None] = {}
    footnote = f"Period: {run.period.describe()}"
    try:
        from matplotlib import rc_context

        out_dir.mkdir(parents=True, exist_ok=True)
        # text.parse_math off: labels are data (a language, a tag, an account), never matplotlib math: "$\\frac$" in
        # one failed the chart, "a$x$b" was drawn as italic "axb"
        with rc_context({"font.family": _font_families(), "text.parse_math": False}), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for name, (file_name, draw) in CHARTS.items():
                raise_if_lost()  # a Ctrl-C raised in a finalizer (matplotlib's) stops it before the next chart
                result = run.get(name)
                path = out_dir / file_name
                if result is None:
                    _remove_stale(path)
                    continue
                try:
                    draw(result, path, footnote)  # whole or not at all (_save)
                except (KeyError, TypeError, ValueError) as exc:  # rows of a metric whose columns changed
                    run.failed[f"{name} chart"] = f"cannot draw {file_name}: {type(exc).__name__}: {exc}"
                    log.warning("chart=%s not drawn: %s", name, run.failed[f"{name} chart"])
                    _remove_stale(path)
                    continue
                written.append(path)
                log.debug("chart=%s written to %s", name, path)
    except OSError as exc:
        raise ConfigError(f"cannot write the charts into {out_dir}: {exc.strerror or exc}; choose a writable "
                          "directory (fediscope report --out DIR) or leave the charts out (--no-charts)") from None
    for warning in caught:
        match = _MISSING_GLYPH.search(str(warning.message))
        if match:
            missing[chr(int(match.group(1)))] = None
        else:
            log.debug("matplotlib: %s", warning.message)
    if missing:
        shown = some_of(list(missing))
        log.warning("charts: %d character(s) no installed font has are drawn as boxes (%s); install fonts that "
                    "have them (Debian: fonts-noto-cjk, fonts-noto-core)", len(missing), shown)
    return written
