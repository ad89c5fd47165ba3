"""``fediscope report``: print the analyses of the stored metrics and write their charts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from fediscope.cli.common import emit_json, json_format_option, say, settings_from_context
from fediscope.wording import count

DEFAULT_OUT = Path("fediscope-out")


def _out_dir(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    """``--out ""`` would silently be the current directory: refuse it (``--out .`` says so on purpose)."""
    if not value.strip():
        raise click.BadParameter("must not be empty (use --out . for the current directory)")
    return Path(value)


#: Suffixes of an ``--out`` that names a file, not the directory it is (``--out report.json``).
FILE_SUFFIXES = frozenset({".json", ".jsonl", ".txt", ".png", ".csv", ".md", ".html", ".pdf", ".svg"})


def _refuse_a_file(out: Path) -> None:
    """A file at ``--out`` is a usage error where the charts are to be written there, before the analyses run (as
    ``click.Path(file_okay=False)`` said it, which refused it with --no-charts too, though nothing is written). So is
    one not there yet whose name has a file's suffix (:data:`FILE_SUFFIXES`): was created as a directory named
    ``x.json``, exit 0. A directory of that name that exists is used. The other ``--out`` options (``gdpr export``,
    ``store export``) are files, and refuse a directory the same way (exit 2)."""
    ctx = click.get_current_context()
    param = next(p for p in ctx.command.params if p.name == "out")
    click.Path(file_okay=False).convert(str(out), param, ctx)
    if out.suffix.lower() in FILE_SUFFIXES and not out.exists():
        raise click.BadParameter(
            f"{str(out)!r} looks like a file name, but --out is the directory the PNG charts are written into (the "
            f"report itself goes to stdout: redirect it, > {out.name}); give a directory, or create {out.name} "
            "first to use a directory of that name", ctx=ctx, param=param)


def _width(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """``--width``: 0 (every column) or at least :data:`~fediscope.report.MIN_WIDTH` columns (a table of 10 columns
    was its first column cut to nothing)."""
    from fediscope.report import MIN_WIDTH

    if value is not None and (value < 0 or 0 < value < MIN_WIDTH):
        raise click.BadParameter(f"must be 0 (every column) or at least {MIN_WIDTH}, not {value}")
    return value


def table_width(width: int | None) -> int | None:
    """The width the text report's tables are fitted to: ``--width`` (0: none, every column), else the terminal's
    (``COLUMNS`` when set; at least :data:`~fediscope.report.MIN_WIDTH`) where standard output is one, else none: a
    file or a pipe (``> report.txt``, ``| less -S``) keeps every column, whatever the terminal around it."""
    from fediscope.console import terminal_columns
    from fediscope.report import MIN_WIDTH

    if width is not None:
        return width or None
    if not sys.stdout.isatty():
        return None
    return max(terminal_columns(sys.stdout), MIN_WIDTH)


def _width_help() -> str:
    from fediscope.report import MIN_WIDTH, PROSE_WIDTH

    return (f"Text only (refused with --format json): fit each table in this many columns (0, or at least "
            f"{MIN_WIDTH}), keeping its leading columns that fit and naming the others under it (a day's top tags "
            "are shortened to fit instead); 0 keeps every column. Default: the terminal's width on a terminal, "
            f"every column in a file or a pipe. Prose lines wrap at {PROSE_WIDTH} columns, or this width when "
            "narrower.")


#: the line under a table fitted to a width (--width, or the terminal's) naming the columns left out
LEFT_OUT = "({more} left out to fit {width} columns: {names}; `--width 0` shows every column)"


def _help() -> str:
    """The command's help, its lists of analyses and charts made from the lists the report runs and draws (written
    out by hand, it had left out five of the analyses the report prints)."""
    from fediscope.analysis import ANALYSES, short_title
    from fediscope.charts import CHARTS

    analyses = [short_title(function.__name__) for function, _ in ANALYSES]
    charts = [file_name for file_name, _ in CHARTS.values()]
    return f"""Print the analyses of the stored metrics and write charts.

    Reads the metrics `fediscope process` loaded into the store (SQLite, MariaDB or HBase: the same answers
    from each) and prints each analysis whose metric the store holds: {", ".join(analyses)}. Charts, into
    --out: {", ".join(charts)}.

    The report's head (JSON: "period"; each chart: its footnote) says which days the numbers cover: the first
    and last UTC day a curated status was posted on (with or without hashtags, boosts included; the metric
    posted_days), "(partial)" when collected in part, and the day of the latest fetch.

    Every other stored metric (your own: a SQL file of FEDISCOPE_METRICS_DIR or spark_jobs/sql/, or one whose
    file is gone) follows them as a table of its first --top rows, in the store's order (its rank column, else
    its key), without a chart; --format json gives all its rows, under "other_metrics".

    \b
    Examples:
      fediscope report
      fediscope report --format json --out ./demo-out
      fediscope report --store sqlite:///demo-out/demo.db --top 20 --no-charts   # make demo's store
      fediscope report | less -S   # a pipe gets every column: scroll sideways (on a terminal: --width 0)
    """


@click.command(help=_help())
@json_format_option("text: readable tables; json: every row and value, for scripts.")
# a file at --out is refused in report() only when charts are written: --no-charts writes nothing into --out
@click.option("--out", type=click.Path(), metavar="DIRECTORY", callback=_out_dir, default=str(DEFAULT_OUT),
              show_default=True,
              help="Directory the PNG charts are written to (created if needed).")
@click.option("--top", "top_n", type=click.IntRange(min=1, max=1000), default=10, show_default=True,
              help="Rows of each top-N analysis and of each other metric's table (a chart draws at most 20 bars).")
@click.option("--charts/--no-charts", default=True, show_default=True, help="Write the PNG charts.")
@click.option("--width", type=int, default=None, metavar="COLUMNS", callback=_width,
              help=_width_help())
@click.option("--store", default=None, metavar="URL", help="Store to read (overrides FEDISCOPE_STORE).")
def report(fmt: str, out: Path, top_n: int, charts: bool, width: int | None, store: str | None) -> None:
    """Print the analyses of the stored metrics and write charts (the help is :func:`_help`'s)."""
    if width is not None and fmt == "json":
        # was silently ignored: the JSON document has no tables to fit, it keeps every column and value whole
        raise click.BadOptionUsage("width", "--width fits the text report's tables to a width; --format json keeps "
                                   "every column and value whole: leave out --width, or use --format text")
    if charts:
        _refuse_a_file(out)
    settings = settings_from_context(store=store)
    from fediscope.config import option_origin
    from fediscope.report import build_report
    from fediscope.store.port import open_for_reading

    # creates nothing: a store that does not exist yet is an error
    metric_store = open_for_reading(settings, chosen_by=option_origin(settings, "store"))
    try:
        result = build_report(metric_store, out_dir=out, n=top_n, charts=charts, every_row=fmt == "json",
                              metrics_dir=settings.metrics_dir)
    finally:
        metric_store.close()
    if fmt == "json":
        emit_json(result.to_dict())
    else:
        click.echo(result.text(table_width(width), LEFT_OUT), nl=False)
    if result.run.failed:
        say(f"{count(len(result.run.failed), 'analysis', 'analyses')} could not be computed (see above)",
            level=logging.ERROR, prefix="fediscope: error: ")
    if result.unreadable:
        say(f"{count(len(result.unreadable), 'other metric')} could not be read (see above): "
            f"{', '.join(result.unreadable)}", level=logging.ERROR, prefix="fediscope: error: ")
    if not result.ok:
        sys.exit(1)
