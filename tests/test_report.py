"""``fediscope report``: text and JSON output, the PNG charts, and clear errors."""

from __future__ import annotations

import json
import logging
import math
import os
import re

import pytest
from cli_run import clean_env, run
from report_text import unwrapped

from fediscope import analysis
from fediscope.engine.metrics import parse_metric
from fediscope.report import Report, format_column, format_value, text_table
from fediscope.store.port import open_store

PNG = b"\x89PNG\r\n\x1a\n"
CHARTS = ["top_accounts.png", "engagement_distribution.png", "signups_over_time.png", "hashtags_per_day.png",
          "languages.png", "activity.png"]


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    return clean_env(tmp_path, monkeypatch)


@pytest.fixture
def loaded_store(cli_env, sample_metric_rows, monkeypatch):
    url = f"sqlite:///{cli_env / 'metrics.db'}"
    store = open_store(url)
    for name, rows in sample_metric_rows.items():
        store.write(analysis.metric(name), rows)
    store.close()
    monkeypatch.setenv("FEDISCOPE_STORE", url)
    return url


def test_text_report_prints_every_analysis_and_writes_the_charts(capsys, loaded_store, cli_env):
    code, out, err = run(capsys, "report", "--out", "charts")
    assert code == 0, err
    for title in ("== Top accounts by followers ==", "== Engagement distribution", "== Sign-ups over time",
                  "== Hashtags per day ==", "== Trending hashtags", "== Hashtags by engagement ==",
                  "== Languages ==", "== Top toots",
                  "== Engagement of toots with and without media ==", "== Most-mentioned accounts ==",
                  "== Activity by hour", "== Activity by weekday", "== Share of bots =="):
        assert title in out
    store = open_store(loaded_store)
    leader = store.top(analysis.metric("top_accounts_by_followers"), 1)[0]
    section = out.split("== Top accounts by followers ==")[1]
    first_row = section.splitlines()[4]
    assert leader["account_key"] in first_row and f"{leader['followers_count']:,}" in first_row
    assert "== Instance activity" in out  # computed by process even when the lake has no activity reports
    for name in CHARTS:
        data = (cli_env / "charts" / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name
    assert f"Charts written to charts: {', '.join(CHARTS)}" in unwrapped(out)


def test_json_report_has_every_row_and_the_chart_paths(capsys, loaded_store, cli_env, sample_metric_rows):
    code, out, err = run(capsys, "report", "--format", "json", "--top", "3", "--out", str(cli_env / "o"))
    assert code == 0, err
    document = json.loads(out)
    by_name = {a["name"]: a for a in document["analyses"]}
    expected = sorted(sample_metric_rows["top_accounts_by_followers"],
                      key=lambda r: (-r["followers_count"], r["account_key"]))[:3]
    assert [r["account_key"] for r in by_name["top_accounts"]["rows"]] == [r["account_key"] for r in expected]
    assert len(by_name["hashtags_per_day"]["rows"]) == len({r["day"] for r in sample_metric_rows["hashtags_daily"]})
    assert document["metrics"]["top_toots"] == len(sample_metric_rows["top_toots"])
    assert [os.path.basename(p) for p in document["charts"]] == CHARTS
    assert by_name["languages"]["question"] == "In which languages are toots written?"
    assert document["other_metrics"] == {}  # every stored metric has an analysis


def test_the_json_document_says_ok_as_the_exit_code_does(capsys, loaded_store, cli_env):
    """Was: the report's document had no "ok", where the error document printed in its place has "ok": false (and
    process, collect, doctor their "ok"): a script keeping the document without the exit code could not tell a
    report missing an analysis (exit 1) from a whole one but by reading "failed" and every other metric's "error"."""
    import sqlite3

    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    with sqlite3.connect(loaded_store.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TABLE metric_languages")
    code, out, _ = run(capsys, "report", "--format", "json", "--no-charts")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False and list(document["failed"]) == ["languages"]


def test_the_format_is_case_insensitive_as_every_enumerated_option(capsys, loaded_store, cli_env):
    """Was: `--format JSON` was refused (exit 2) while `process --engine SPARK` worked, as the README promises."""
    code, out, err = run(capsys, "report", "--format", "JSON", "--no-charts")
    assert code == 0, err
    assert json.loads(out)["analyses"]


def test_no_charts_writes_nothing(capsys, loaded_store, cli_env):
    code, out, _ = run(capsys, "report", "--no-charts")
    assert code == 0
    assert not (cli_env / "fediscope-out").exists()
    assert "Charts written" not in out


def test_an_empty_store_is_one_clear_error(capsys, cli_env):
    code, out, err = run(capsys, "report", "--store", f"sqlite:///{cli_env / 'empty.db'}")
    assert code == 1
    assert err.startswith("fediscope: error: ") and "run `fediscope process` first" in err
    assert "Traceback" not in err and out == ""


def test_an_unreachable_store_is_one_clear_error(capsys, cli_env):
    code, _, err = run(capsys, "report", "--store", "hbase://127.0.0.1:1")
    assert code == 1
    assert "HBase at 127.0.0.1:1: could not connect" in err and "Traceback" not in err


def test_bad_options_are_usage_errors(capsys, cli_env):
    code, _, err = run(capsys, "report", "--format", "xml")
    assert code == 2 and "xml" in err
    code, _, err = run(capsys, "report", "--top", "0")
    assert code == 2


def test_a_chart_directory_that_cannot_be_written_is_one_clear_error(capsys, loaded_store, cli_env):
    (cli_env / "a-file").write_text("in the way")
    code, out, err = run(capsys, "report", "--out", str(cli_env / "a-file" / "charts"))
    assert code == 2
    assert err.startswith("fediscope: error: cannot write the charts into ") and "--no-charts" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and out == ""


def test_an_empty_out_is_refused_not_taken_as_the_current_directory(capsys, loaded_store, cli_env):
    code, out, err = run(capsys, "report", "--out", "")
    assert code == 2 and "must not be empty" in err and "--out" in err
    assert not any(p.suffix == ".png" for p in cli_env.iterdir())


def test_charts_of_empty_analyses_still_draw(capsys, cli_env):
    store = open_store(f"sqlite:///{cli_env / 'm.db'}")
    store.write(analysis.metric("languages"), [{"language": "en", "toots": 2, "share": 1.0}])
    for name in ("top_accounts_by_followers", "account_engagement", "signups_by_month", "hashtags_daily",
                 "activity_by_hour"):
        store.write(analysis.metric(name), [])
    code, out, err = run(capsys, "report", "--store", f"sqlite:///{cli_env / 'm.db'}", "--out", "c")
    assert code == 0, err
    assert sorted(p.name for p in (cli_env / "c").iterdir()) == sorted(CHARTS)
    assert "(no rows)" in out


def test_process_then_report_end_to_end(capsys, cli_env, sample_metric_rows, monkeypatch):
    """The real pipeline: a generated lake, `fediscope process`, then `fediscope report`."""
    from doubles.sample_metrics import SEED, STATUSES

    from fediscope.config import load_settings
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env / "lake"))
    monkeypatch.setenv("FEDISCOPE_STORE", f"sqlite:///{cli_env / 'pipeline.db'}")
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "sample-metrics-test-key")
    settings = load_settings()
    write_raw_lake(open_lake(settings.lake), STATUSES, seed=SEED, policy=policy_from_settings(settings))
    code, _, err = run(capsys, "process")
    assert code == 0, err
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    languages = {a["name"]: a for a in json.loads(out)["analyses"]}["languages"]
    expected = sorted(sample_metric_rows["languages"], key=lambda r: (-r["toots"], r["language"]))[:10]
    assert languages["rows"][:10] == expected


def test_format_value():
    assert format_value("toots", 1234567) == "1,234,567"
    assert format_value("share", 0.1234) == "12.3%"
    assert format_value("engagement_rate", 0.00123) == "0.12%"
    assert format_value("growth", 2.5) == "2.50x"
    assert format_value("mean", 3.0) == "3"
    assert format_value("mean", 12.3456) == "12.35"
    assert format_value("mean", 0.012345) == "0.0123"
    assert format_value("bot", True) == "yes"
    assert format_value("x", None) == "-"
    assert [format_value(c, math.nan) for c in ("mean", "share", "growth")] == ["-", "-", "-"]  # was nan%, nanx
    assert format_value("share", math.inf) == "inf" and format_value("growth", -math.inf) == "-inf"
    assert format_value("uri", "u" * 60) == "u" * 39 + "…"


def test_an_own_metric_column_named_like_share_or_growth_prints_as_a_percentage_or_ratio():
    """The README: an own metric's columns follow the analyses' formatting, "a column named like share or growth
    prints as a percentage or ratio". Was: only the exact names did (``media_share`` printed 0.261, not 26.1%)."""
    table = text_table(["language", "media_share", "toot_growth", "shared"],
                       [{"language": "en", "media_share": 0.2608, "toot_growth": 1.5, "shared": 2},
                        {"language": "de", "media_share": 0.0, "toot_growth": 2.0, "shared": 3}])
    assert table.splitlines()[2:] == ["en              26.1%         1.5x       2",
                                      "de                 0%         2.0x       3"]
    assert format_value("cw_share", 0.125) == "12.5%" and format_value("tag_growth", 2.5) == "2.50x"


def test_text_table_aligns_numbers_right_and_text_left():
    table = text_table(["tag", "toots"], [{"tag": "python", "toots": 5}, {"tag": "c", "toots": 1234}])
    assert table.splitlines() == ["tag     toots", "------  -----", "python      5", "c       1,234"]


def test_a_table_for_a_width_keeps_the_leading_columns_that_fit_and_names_the_others():
    """The demo's excerpt of the report (``text_table(..., width)``): was only ever the whole table, 100 to 200
    columns wide, which an 80-column terminal wrapped into a tangle. Without a width, every column, as before."""
    columns = ["ranking", "account_key", "instance", "followers_count", "following_count", "bot"]
    rows = [{"ranking": 1, "account_key": "a" * 25, "instance": "日本.example", "followers_count": 4146,
             "following_count": 24, "bot": False}]
    whole = text_table(columns, rows)
    assert whole.splitlines()[0] == ("ranking  account_key                instance      followers_count  "
                                     "following_count  bot")
    fitted = text_table(columns, rows, width=70)
    from fediscope.console import display_width
    assert fitted.splitlines() == [
        "ranking  account_key                instance      followers_count",
        "-------  -------------------------  ------------  ---------------",
        "      1  aaaaaaaaaaaaaaaaaaaaaaaaa  日本.example            4,146",  # 日本: 4 columns
        "(2 more columns in the full report: following_count, bot)"]
    assert all(display_width(line) <= 70 for line in fitted.splitlines())
    assert text_table(columns, rows, width=200) == whole  # a table that fits is the report's
    # even the first column too wide: it alone, clipped, and the others named
    narrow = text_table(["account_key", "bot"], rows, width=12).splitlines()
    assert narrow[:3] == ["account_key", "-----------…", "aaaaaaaaaaa…"]
    assert " ".join(line.strip() for line in narrow[3:]) == "(1 more column in the full report: bot)"


def test_a_table_for_a_width_shortens_the_days_top_tags_to_the_room_left_rather_than_leaving_them_out():
    """Hashtags per day at 80 columns: was its day and counts (50 columns) and "(1 more column left out to fit 80
    columns: top_tags …)", the column its table is read for. Now top_tags takes the 28 columns left, each cell
    clipped with "…" where longer; every line still fits, and no column is said to be left out. Where the room left
    is less than :data:`~fediscope.report.FIT_WIDTHS`' 20 columns, it is left out and named as before; a table that
    fits is the whole table."""
    from fediscope.console import display_width
    from fediscope.report import FIT_WIDTHS

    columns = ["day", "tags", "uses", "uses_engagement", "top_tags"]
    tags = analysis.TagUses([("mastodon", 249), ("fediverse", 120), ("caturday", 90)])
    rows = [{"day": "2026-10-18 (partial?)", "tags": 28, "uses": 45, "uses_engagement": 274, "top_tags": tags},
            {"day": "2026-10-19", "tags": 38, "uses": 65, "uses_engagement": 2485,
             "top_tags": analysis.TagUses([("rust", 3)])}]
    fitted = text_table(columns, rows, width=80).splitlines()
    assert fitted[0].split() == columns and len(fitted) == 4, fitted  # no line naming a column left out
    assert all(display_width(line) <= 80 for line in fitted), fitted
    assert max(display_width(line) for line in fitted) == 80  # the room left, all of it
    assert fitted[2].endswith("  #mastodon (249), #fediverse…") and fitted[3].endswith("#rust (3)"), fitted
    # 20 columns left: shortened to them; 19: left out and named, as any column that does not fit
    assert text_table(columns, rows, width=50 + 2 + FIT_WIDTHS["top_tags"]).splitlines()[0].split() == columns
    narrow = text_table(columns, rows, width=50 + 2 + FIT_WIDTHS["top_tags"] - 1).splitlines()
    assert narrow[0].split() == columns[:-1] and narrow[-1] == "(1 more column in the full report: top_tags)"
    assert text_table(columns, rows, width=200) == text_table(columns, rows)  # one that fits is the whole table
    # the first column of all, where it is top_tags: shortened to the width, not its lines clipped
    alone = text_table(["top_tags", "uses"], rows, width=FIT_WIDTHS["top_tags"] + 4).splitlines()
    assert alone[:3] == ["top_tags", "-" * 24, "#mastodon (249), #fediv…"] and alone[-1].endswith("uses)")


def test_a_table_for_a_width_keeps_the_column_it_is_read_for_before_the_others():
    """Top accounts by followers at 60 columns (the demo's excerpt, 56 columns beside its indent): was the ranking,
    the pseudonym and the instance, and followers_count left out with the rest. The kept column
    (:data:`~fediscope.report.KEEP_COLUMNS`) is fitted right after the first, shown in its place, and a column
    before it is left out first; a table that fits, or one without a width, is as before."""
    from fediscope.console import display_width
    from fediscope.report import KEEP_COLUMNS

    assert KEEP_COLUMNS["top_accounts"] == "followers_count"
    columns = ["ranking", "account_key", "instance", "followers_count", "following_count", "statuses_count", "bot"]
    rows = [{"ranking": i, "account_key": f"a{i}b7cff176bf639cd6a349bf"[:25], "instance": "127.0.0.1:44525",
             "followers_count": 4146 * i, "following_count": 24, "statuses_count": 7, "bot": False}
            for i in range(1, 11)]
    fitted = text_table(columns, rows, width=56, keep="followers_count").splitlines()
    assert fitted[0].split() == ["ranking", "account_key", "followers_count"], fitted
    assert fitted[2].split() == ["1", "a1b7cff176bf639cd6a349bf", "4,146"], fitted
    assert " ".join(line.strip() for line in fitted[-2:]) == ("(4 more columns in the full report: instance, "
                                                              "following_count, statuses_count, bot)"), fitted
    assert all(display_width(line) <= 56 for line in fitted), fitted
    # wide enough for the leading columns: the same table as without keep
    assert text_table(columns, rows, width=80, keep="followers_count") == text_table(columns, rows, width=80)
    assert text_table(columns, rows, keep="followers_count") == text_table(columns, rows)  # no width: every column
    # too narrow even for the first two: the first alone, as before
    assert text_table(columns, rows, width=12, keep="followers_count").splitlines()[0] == "ranking"


def test_the_days_top_tags_shortened_never_show_part_of_a_count():
    """A day's top tags cut inside a tag's count leave the count out (``#mastodon …``): was ``#mastodon (2…``,
    read as 2 uses where there were 249. Cut elsewhere, as before: inside a tag, after a count or a comma."""
    tags = analysis.TagUses([("mastodon", 249), ("fediverse", 120), ("caturday", 90)])
    seen = set()
    for width in range(8, 60):
        cell = re.sub("[\u2066-\u2069]", "", format_value("top_tags", tags, text_width=width))  # the isolates
        assert len(cell) <= width, (width, cell)
        assert re.fullmatch(r"(#\w+ \(\d+\)(, )?)*(#\w*…|#\w+ …|, …|,…|…)?", cell), (width, cell)
        seen.add(cell)
    assert "#mastodon …" in seen and "#mastodon (249), #fediverse …" in seen


def _table_lines(text: str) -> set[int]:
    """The indexes of ``text``'s lines that are a table's (its header, dashes and rows: up to a blank line or the
    note under it, which starts with "(")."""
    lines, found = text.split("\n"), set()
    for i, line in enumerate(lines):
        if i and line and set(line) <= {"-", " "}:
            found.add(i - 1)
            rows = lines[i:]
            end = next((j for j, row in enumerate(rows) if not row or row.startswith("(")), len(rows))
            found.update(range(i, i + end))
    return found


TOP_ACCOUNTS_HEADER = ("ranking  account_key                instance        followers_count  following_count  "
                       "statuses_count  bot")


@pytest.fixture
def short_store(loaded_store, cli_env, monkeypatch):
    """The loaded store named relative to the current directory (``cli_env``): a path, which no line breaks, as
    short as a reader's usually is, not pytest's 90 columns."""
    monkeypatch.setenv("FEDISCOPE_STORE", "sqlite:///metrics.db")
    return "sqlite:///metrics.db"


def test_a_report_to_a_file_keeps_every_column_and_wraps_its_prose(capsys, short_store, monkeypatch):
    """``fediscope report > report.txt``: was a "Definitions" line of up to 860 characters (no reader wants it, in
    a file either). Its prose now wraps at 100 columns; its tables keep every column, however wide, whatever the
    terminal around it says (COLUMNS): a file or a pipe never loses a column."""
    prose_width = 100  # as the README and --help say

    monkeypatch.setenv("COLUMNS", "60")
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    lines, tables = out.split("\n"), _table_lines(out)
    prose = [line for i, line in enumerate(lines) if i not in tables]
    assert max(len(line) for line in prose) <= prose_width, max(prose, key=len)
    assert any(len(line) > 60 for line in prose)  # not the terminal's 60: a file's prose is 100 wide
    assert max(len(lines[i]) for i in tables) > prose_width  # a table wider than that is kept whole
    assert TOP_ACCOUNTS_HEADER in lines and "columns left out to fit" not in out
    definitions = next(line for line in unwrapped(out).split("\n") if line.startswith("Definitions: growth"))
    assert len(definitions) > 2 * prose_width  # said whole, over several lines
    code, again, err = run(capsys, "report", "--no-charts", "--width", "0")
    assert code == 0 and again == out, err  # --width 0: every column, as in a file


def test_width_fits_the_tables_and_the_prose_and_names_the_columns_left_out(capsys, short_store):
    """``--width 60``: every line fits in 60 columns; a table keeps its leading columns that fit and says which it
    left out and how to see them; top accounts by followers keeps followers_count, the column it is read for
    (:data:`~fediscope.report.KEEP_COLUMNS`; was left out, with the instance shown). A width no table fits in is
    refused, one line, exit 2."""
    code, out, err = run(capsys, "report", "--no-charts", "--width", "60")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 60, max(out.splitlines(), key=len)
    top = unwrapped(out).split("== Top accounts by followers ==\n")[1].split("\n\n")[0].splitlines()
    assert top[1].split() == ["ranking", "account_key", "followers_count"]
    assert top[-1] == ("(4 more columns left out to fit 60 columns: instance, following_count, statuses_count, "
                       "bot; `--width 0` shows every column)")
    for narrow in ("39", "-1"):
        code, out, err = run(capsys, "report", "--no-charts", "--width", narrow)
        assert code == 2 and out == "" and "Traceback" not in err
        assert f"Invalid value for '--width': must be 0 (every column) or at least 40, not {narrow}" in err


@pytest.mark.parametrize("args", [("--width", "80", "--format", "json"), ("--format=JSON", "--width=0")])
def test_width_with_json_is_a_usage_error_naming_both_options(capsys, short_store, args):
    """Was: ``--width`` silently ignored with ``--format json`` (exit 0, the document as without it). The JSON
    document has no table to fit: the two together are a usage error (exit 2), named in one line, and the error
    document on stdout as for every usage error of a command asked for JSON; nothing else is printed."""
    code, out, err = run(capsys, "report", "--no-charts", *args)
    assert code == 2 and "Traceback" not in err, (out, err)
    document = json.loads(out)
    assert document["ok"] is False and document["error"]["exit_code"] == 2, document
    said = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert said == ["Error: --width fits the text report's tables to a width; --format json keeps every column and "
                    "value whole: leave out --width, or use --format text"], err
    assert said[0].removeprefix("Error: ") == document["error"]["message"]
    code, out, err = run(capsys, "report", "--no-charts", "--format", "json")  # without --width: the report
    assert code == 0 and json.loads(out)["ok"] is True, err


def test_at_80_columns_hashtags_per_day_keeps_its_top_tags(capsys, short_store):
    """Was: at 80 columns (``--width 80``, an 80-column terminal) the table of hashtags per day left out its
    top_tags, the day's most used tags. Now they are there, shortened to the columns left; every line fits."""
    code, out, err = run(capsys, "report", "--no-charts", "--width", "80")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80, max(out.splitlines(), key=len)
    section = unwrapped(out).split("== Hashtags per day ==\n")[1].split("\n\n")[0].splitlines()
    header = next(i for i, line in enumerate(section) if line.startswith("day "))
    assert section[header].split() == ["day", "tags", "uses", "uses_engagement", "top_tags"]
    rows = section[header + 2:header + 16]
    assert all(row.split()[-1].startswith("#") or "#" in row for row in rows), rows
    assert not any("left out" in line for line in section), section


def test_on_a_terminal_the_report_fits_its_width_and_in_a_pipe_keeps_every_column(short_store, cli_env):
    """Was: on an 80-column terminal, tables of up to 168 columns and 860-character lines, which the terminal
    wrapped into a tangle. Now no line is wider than the terminal (read on a real pty: no row the terminal had to
    wrap), and the columns left out are named; its stdout piped on (``| less -S``), every column is kept."""
    from terminal_screen import Screen, fediscope_argv, on_terminal

    env = dict(os.environ)
    shown = on_terminal(fediscope_argv("report", "--no-charts"), 80, env, cwd=cli_env)
    assert shown.code == 0, shown.terminal
    screen = Screen(80).write(shown.terminal)
    assert not any(screen.continued), [line for line in screen.lines() if len(line) > 80]
    said = unwrapped("\n".join(screen.lines()))
    assert ("(3 more columns left out to fit 80 columns: following_count, statuses_count, bot; `--width 0` shows "
            "every column)") in said
    assert TOP_ACCOUNTS_HEADER not in said
    # hashtags per day keeps its top_tags, shortened to the columns left (was: left out at 80 columns)
    assert "day                    tags  uses  uses_engagement  top_tags" in said.splitlines()
    piped = on_terminal(fediscope_argv("report", "--no-charts"), 80, env, cwd=cli_env, stdout_pipe=True)
    assert piped.code == 0 and TOP_ACCOUNTS_HEADER in piped.stdout.splitlines(), piped.terminal
    assert "columns left out to fit" not in piped.stdout
    every = on_terminal(fediscope_argv("report", "--no-charts", "--width", "0"), 80, env, cwd=cli_env)
    assert every.code == 0 and TOP_ACCOUNTS_HEADER in every.terminal.splitlines()  # the terminal wraps it


def test_a_metric_whose_columns_changed_is_reported_not_a_traceback(capsys, cli_env, monkeypatch):
    # the CLI's stderr log handler is bound to the stream of the first test that configured logging
    monkeypatch.setattr(logging.getLogger("fediscope.analysis"), "disabled", True)
    store = open_store(f"sqlite:///{cli_env / 'm.db'}")
    store.write(analysis.metric("languages"), [{"language": "en", "toots": 2, "share": 1.0}])
    renamed = parse_metric("signups_by_month", "-- question: q\n-- key: instance, period\nSELECT 1")
    store.write(renamed, [{"instance": "x", "period": "2024-01", "accounts": 1}])
    code, out, err = run(capsys, "report", "--store", f"sqlite:///{cli_env / 'm.db'}", "--no-charts")
    assert code == 1
    assert "== Languages ==" in out
    # the one wording of a stale metric, as the results API's 409 stale_metric (was "…; its SQL and
    # fediscope/analysis.py disagree (re-run `fediscope process` after updating fediscope)")
    assert ("Could not compute signups_over_time: metric signups_by_month in the store does not have what analysis "
            "signups_over_time reads (column 'month' missing), as when another fediscope version stored it; re-run "
            "`fediscope process` with this version to store it again\n") in unwrapped(out)
    assert "Traceback" not in err and "1 analysis could not be computed (see above)" in err


# -- charts and text with awkward data -------------------------------------------------------------------------

def _drawn_figures(monkeypatch):
    """Every matplotlib figure the charts save, recorded as they are saved."""
    from matplotlib.figure import Figure

    figures = []
    save = Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures


def test_accounts_whose_shortened_labels_are_alike_get_a_bar_and_a_label_each(tmp_path, monkeypatch):
    """With privacy off account keys are handles; long ones sharing a beginning shortened to one label, and
    matplotlib drew the accounts of one label as a single bar."""
    from fediscope.charts import top_accounts_chart

    rows = [{"account_key": f"photographer_{name}@mastodon.social", "instance": "mastodon.social",
             "followers_count": 100 - i} for i, name in enumerate(["anna", "ben", "carl"])]
    result = analysis.AnalysisResult("top_accounts", "t", "q", "top_accounts_by_followers",
                                     ["account_key", "instance", "followers_count"], rows)
    figures = _drawn_figures(monkeypatch)
    top_accounts_chart(result, tmp_path / "top.png")
    ax = figures[0].axes[0]
    assert len({bar.get_y() for bar in ax.patches}) == 3
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert len(set(labels)) == 3 and all("(mastodon.social)" in label for label in labels)


def test_huge_counts_have_short_tick_labels():
    from fediscope.charts import _count

    assert [_count(v) for v in (0, 7500, 999_999, 1_500_000, 20e9, 3e12, 4.6e18)] == \
        ["0", "7,500", "999,999", "1.5M", "20B", "3T", "4.6e18"]


def test_characters_no_font_has_are_one_warning_not_one_per_character(tmp_path, caplog):
    import warnings

    from fediscope.charts import write_charts

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("languages"), [{"language": "日本", "toots": 2, "share": 0.5},
                                               {"language": "ελ", "toots": 2, "share": 0.5}])
    store.write(analysis.metric("hashtags_daily"), [
        {"day": "2024-01-01", "tag": "日本語", "toots": 5, "accounts": 2, "engagement_total": 9, "engagement_mean": 2},
        {"day": "2024-01-01", "tag": "🐘", "toots": 3, "accounts": 2, "engagement_total": 9, "engagement_mean": 3.0}])
    with warnings.catch_warnings(record=True) as escaped, caplog.at_level(logging.WARNING, "fediscope.charts"):
        warnings.simplefilter("always")
        written = write_charts(analysis.run_analyses(store), tmp_path / "c")
    assert [p.name for p in written] == ["hashtags_per_day.png", "languages.png"]
    assert not [w for w in escaped if "Glyph" in str(w.message)]
    records = [r for r in caplog.records if r.name == "fediscope.charts"]
    if records:  # none when fonts with these characters are installed
        assert len(records) == 1 and "drawn as boxes" in records[0].getMessage()
        assert "日" in records[0].getMessage()


def test_dollar_signs_in_data_are_drawn_as_written_not_as_math(tmp_path, monkeypatch):
    """Was: matplotlib read "$…$" in a label as math: a language "$\\frac$" failed the chart (and `report` exited
    1), a tag "a$x$b" was drawn as italic "axb". Labels come from remote servers' data."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from fediscope.charts import write_charts

    drawn: list[tuple[str, bool]] = []
    save = Figure.savefig

    def savefig(self, *args, **kwargs):
        result = save(self, *args, **kwargs)  # drawn first: a label matplotlib cannot parse fails here
        drawn.extend((text.get_text(), text.get_parse_math()) for text in self.findobj(Text) if text.get_text())
        return result

    monkeypatch.setattr(Figure, "savefig", savefig)
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("languages"), [{"language": "$\\frac$", "toots": 3, "share": 0.75},
                                               {"language": "en", "toots": 1, "share": 0.25}])
    store.write(analysis.metric("hashtags_daily"), [
        {"day": "2024-01-01", "tag": "a$x$b", "toots": 5, "accounts": 2, "engagement_total": 9, "engagement_mean": 2}])
    run = analysis.run_analyses(store)
    written = write_charts(run, tmp_path / "c")
    assert not run.failed, run.failed
    assert [p.name for p in written] == ["hashtags_per_day.png", "languages.png"]
    labels = dict(drawn)
    assert labels["$\\frac$"] is False and labels["#a$x$b"] is False, labels


def test_a_chart_that_cannot_be_drawn_is_named_not_a_traceback(tmp_path):
    from fediscope.charts import write_charts

    run = analysis.AnalysisRun(results=[
        analysis.AnalysisResult("activity", "t", "q", "activity_by_hour", ["hour"], [],
                                summary={"grid": {"1.5:3": 2}}),  # a weekday stored as a float
        analysis.AnalysisResult("languages", "t", "q", "languages", ["language", "toots", "share"],
                                [{"language": "en", "toots": None, "share": None}])], stored={}, missing=[])
    written = write_charts(run, tmp_path)
    assert [p.name for p in written] == ["languages.png"]
    assert "cannot draw activity.png: ValueError" in run.failed["activity chart"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["languages.png"]  # no temporary file left


def test_a_chart_not_drawn_this_time_loses_its_file_of_an_earlier_report(tmp_path):
    """It would show the earlier report's numbers beside the current charts. Other files are left alone."""
    from fediscope.charts import write_charts

    languages = analysis.AnalysisResult("languages", "t", "q", "languages", ["language", "toots", "share"],
                                        [{"language": "en", "toots": 3, "share": 1.0}])
    activity = analysis.AnalysisResult("activity", "t", "q", "activity_by_hour", ["hour"], [], summary={"grid": {}})
    first = write_charts(analysis.AnalysisRun(results=[languages, activity], stored={}, missing=[]), tmp_path)
    assert sorted(p.name for p in first) == ["activity.png", "languages.png"]
    (tmp_path / "notes.png").write_bytes(PNG)  # the user's own
    broken = analysis.AnalysisResult("languages", "t", "q", "languages", ["language", "toots", "share"],
                                     [{"language": "en", "toots": "many", "share": "all"}])
    run = analysis.AnalysisRun(results=[broken], stored={}, missing=[])  # activity's metric gone
    assert write_charts(run, tmp_path) == []
    assert "languages chart" in run.failed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.png"]


def test_charts_are_never_written_through_a_symbolic_link(tmp_path):
    """Was: each chart was drawn into ``<name>.tmp.png`` beside it, opened following links: a link planted at that
    name (in a shared ``--out`` such as /tmp) had its target overwritten with the chart. A link at the chart's own
    name is replaced, as before."""
    from fediscope.charts import write_charts

    languages = analysis.AnalysisResult("languages", "t", "q", "languages", ["language", "toots", "share"],
                                        [{"language": "en", "toots": 3, "share": 1.0}])
    activity = analysis.AnalysisResult("activity", "t", "q", "activity_by_hour", ["hour"], [], summary={"grid": {}})
    out = tmp_path / "charts"
    out.mkdir()
    targets = {name: tmp_path / f"victim-{name}" for name in ("languages.tmp.png", "activity.png")}
    for name, target in targets.items():
        target.write_text("not yours\n")
        (out / name).symlink_to(target)
    written = write_charts(analysis.AnalysisRun(results=[languages, activity], stored={}, missing=[]), out)
    assert sorted(p.name for p in written) == ["activity.png", "languages.png"]
    assert all(target.read_bytes() == b"not yours\n" for target in targets.values())
    for path in written:
        assert not path.is_symlink() and path.read_bytes().startswith(PNG)


# Run in a child: fediscope.cli (and click) must not be imported, and this process has them already.
_CHARTS_WITHOUT_THE_CLI = """
import sys
from pathlib import Path

class NoCli:
    def find_spec(self, name, path=None, target=None):
        if name == "click" or name.startswith(("click.", "fediscope.cli")):
            raise ImportError(f"{name} imported")

sys.meta_path.insert(0, NoCli())
from fediscope import analysis
from fediscope.charts import write_charts

languages = analysis.AnalysisResult("languages", "t", "q", "languages", ["language", "toots", "share"],
                                    [{"language": "en", "toots": 3, "share": 1.0}])
run = analysis.AnalysisRun(results=[languages], stored={}, missing=[])
print([path.name for path in write_charts(run, Path(sys.argv[1]))], dict(run.failed))
"""


def test_charts_are_written_without_the_cli_package(tmp_path):
    """Was: each chart was written by ``fediscope.cli.common.atomic_out``, a library module depending on the CLI
    package (and click); now :func:`fediscope.files.atomic_out`."""
    import subprocess
    import sys
    from pathlib import Path

    import fediscope

    env = {**os.environ, "PYTHONPATH": str(Path(fediscope.__file__).parent.parent), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-c", _CHARTS_WITHOUT_THE_CLI, str(tmp_path)], capture_output=True,
                            text=True, env=env, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['languages.png'] {}", result.stdout
    assert (tmp_path / "languages.png").read_bytes().startswith(PNG)


def test_the_days_top_tags_are_shown_whole_and_other_text_is_clipped_at_40_columns():
    top = "#mastodon (249), #fediverse (120), #caturday (90)"  # 48 columns: was cut after "#fedive"
    table = text_table(["top_tags", "tag"], [{"top_tags": top, "tag": "x" * 50}])
    assert top in table
    assert ("x" * 39 + "…") in table and "x" * 40 not in table
    assert format_value("top_tags", "#a (1), " * 20).endswith("…")
    assert len(format_value("top_tags", "#a (1), " * 20)) == 72


def test_text_table_aligns_wide_and_combining_characters():
    table = text_table(["tag", "toots"], [{"tag": "日本語", "toots": 5}, {"tag": "cafe\u0301", "toots": 1234},
                                          {"tag": "🐘", "toots": 2}])
    from fediscope.report import display_width

    widths = {display_width(line) for line in table.splitlines()}
    assert widths == {len("tag     toots")}
    assert table.splitlines()[2] == "日本語      5"
    assert format_value("tag", "語" * 30) == "語" * 19 + "…"  # 39 columns
    assert format_value("tag", "e\u0301" * 45).endswith("e\u0301…")


def test_charts_of_empty_metrics_say_so_instead_of_drawing_empty_axes(tmp_path, monkeypatch):
    """Was: with no accounts the engagement chart's y axis was ticked "0, 0, 0, -0, -0" (bars of height 0), the
    activity heatmap was one flat colour over a colour bar from -0.1 to 0.1 toots, and titles read "Top 0
    accounts by followers" and "the 0 most used tags"."""
    from fediscope.charts import write_charts

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    for name in ("top_accounts_by_followers", "account_engagement", "hashtags_daily", "activity_by_hour"):
        store.write(analysis.metric(name), [])
    store.write(analysis.metric("languages"), [{"language": "en", "toots": 2, "share": 1.0}])  # the store is not empty
    figures = _drawn_figures(monkeypatch)
    written = write_charts(analysis.run_analyses(store), tmp_path / "c")
    assert [p.name for p in written] == ["top_accounts.png", "engagement_distribution.png", "hashtags_per_day.png",
                                         "languages.png", "activity.png"]
    charts = dict(zip((p.name for p in written), figures, strict=True))

    def texts(name):
        ax = charts[name].axes[0]
        ticks = [t.get_text() for t in (*ax.get_xticklabels(), *ax.get_yticklabels())]
        return ax.get_title(), [t.get_text() for t in ax.texts], ticks, len(charts[name].axes)

    assert texts("engagement_distribution.png")[1:] == (["no accounts"], [], 1)
    assert texts("activity.png")[1:] == (["no toots"], [], 1)  # no colour bar
    assert texts("top_accounts.png")[0] == "Top accounts by followers"
    assert texts("hashtags_per_day.png")[0] == "Hashtags per day"


def test_the_activity_colour_scale_starts_at_zero_toots(tmp_path, monkeypatch):
    """Was: scaled from the quietest cell, an hour with 40 toots was drawn white next to hours with 50."""
    from fediscope.charts import activity_chart

    cells = [{"weekday": day, "hour": hour, "toots": 40 + (hour % 3) * 5} for day in range(1, 8) for hour in range(24)]
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("activity_by_hour"), cells)
    figures = _drawn_figures(monkeypatch)
    activity_chart(analysis.activity(store), tmp_path / "a.png")
    image = figures[0].axes[0].images[0]
    assert image.get_clim() == (0, 50)


def test_the_hashtag_legend_is_beside_the_lines_and_shortens_long_tags(tmp_path, monkeypatch):
    """Was: the legend sat in the upper left of the plot, over the first days' lines (the dashed "all hashtag uses"
    among them), and a 64-character tag was written out whole, the legend reaching across the chart."""
    from fediscope.charts import write_charts

    long_tag = "thisisaveryveryverylonghashtagthatkeepsgoingandgoingforever2024"
    rows = [{"day": f"2024-01-0{day}", "tag": tag, "toots": 10 - i + day, "accounts": 2, "engagement_total": 9,
             "engagement_mean": 2.0} for day in (1, 2, 3) for i, tag in enumerate([long_tag, "mastodon", "ελληνικά"])]
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("hashtags_daily"), rows)
    figures = _drawn_figures(monkeypatch)
    write_charts(analysis.run_analyses(store), tmp_path / "c")
    figure = figures[0]
    ax = figure.axes[0]
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["#thisisaveryveryverylon…", "#mastodon", "#ελληνικά", "all hashtag uses",
                      "maybe partial day (collection began)"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # laid out as saved
    renderer = canvas.get_renderer()
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    assert legend.get_window_extent(renderer).x1 <= figure.bbox.x1  # not cut off at the figure's edge


def test_a_long_sign_up_series_is_ticked_at_years(tmp_path, monkeypatch):
    """Was: a tick every len // 12 months from the first, at 2016-04, 2017-02, 2017-12, …; the axes said
    "accounts created" and "cumulative" without telling which was the bars and which the line."""
    from fediscope.charts import signups_chart

    rows = [{"instance": "a.example", "month": f"{2016 + m // 12}-{m % 12 + 1:02d}", "accounts": m % 5 + 1}
            for m in range(3, 131)]  # 2016-04 to 2026-11
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("signups_by_month"), rows)
    figures = _drawn_figures(monkeypatch)
    signups_chart(analysis.signups_over_time(store), tmp_path / "s.png")
    bars, line = figures[0].axes
    assert [t.get_text() for t in bars.get_xticklabels()] == [str(year) for year in range(2017, 2027)]
    assert [round(t) for t in bars.get_xticks()] == [9 + 12 * i for i in range(10)]  # Januaries: 2017-01 is row 9
    assert bars.get_ylabel() == "accounts created per month (bars)"
    assert line.get_ylabel() == "accounts created so far (line)"
    short = [{"instance": "a.example", "month": f"2024-{m:02d}", "accounts": 1} for m in range(1, 7)]
    store = open_store(f"sqlite:///{tmp_path / 'n.db'}")
    store.write(analysis.metric("signups_by_month"), short)
    signups_chart(analysis.signups_over_time(store), tmp_path / "s.png")
    assert [t.get_text() for t in figures[1].axes[0].get_xticklabels()] == [f"2024-{m:02d}" for m in range(1, 7)]


def test_the_text_report_defines_its_rates_and_ratios(capsys, loaded_store, cli_env):
    """Was: "growth 6.00x" for a tag used 5 times against 0, an engagement rate and a lift with no word on what
    they divide, hashtag "uses" that count a toot once per tag: a reader could not tell what the numbers meant."""
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    sections = {block.splitlines()[0]: block for block in unwrapped(out).split("\n\n")}

    def definitions(title):
        return next(line for line in sections[title].splitlines() if line.startswith("Definitions: "))

    assert "growth = (current_toots + 1) / (previous_toots + 1)" in definitions(
        "== Trending hashtags (the latest 7 days of data vs the 7 before) ==")
    engagement = definitions("== Engagement distribution (accounts by interactions per toot) ==")
    assert "engagement rate = interactions per toot / followers" in engagement
    assert "undefined with 0 or unknown followers" in engagement
    assert "engagement_rate = interactions_per_toot / followers_count" in definitions(
        "== Accounts with the most interactions ==")
    assert "a toot with 3 tags is 3 uses" in definitions("== Hashtags per day ==")
    assert "lift_vs_none = interactions_mean / that of none" in definitions(
        "== Engagement of toots with and without media ==")
    assert "bot_share = bots / accounts" in definitions("== Share of bots ==")
    tags = definitions("== Hashtags by engagement ==")
    assert "media_lift = per_toot_with_media / per_toot_without_media" in tags
    assert "a boost is no use" in tags and "- when the tag has no such toot" in tags
    # was "(share events excluded)": read beside a column named share, it said nothing of boosts
    assert "share = of all toots (boosts excluded" in definitions("== Languages ==")


def test_the_languages_say_what_und_and_other_are(capsys, loaded_store, cli_env):
    """Was: "languages: 11" and a row "other (1)  17" in the demo's report, whose 17 toots declared no language (the
    metric's 'und'): a reader counted 11 languages, and read "other (1)" as one more language, not as a count of the
    languages folded into that row, with no word on either."""
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    section = next(block for block in unwrapped(out).split("\n\n") if block.startswith("== Languages =="))
    (line,) = [line for line in section.splitlines() if line.startswith("Definitions: ")]
    assert "und = no language declared (ISO 639's undetermined), counted among the languages" in line
    assert "other (N) = the N languages below the rows shown (--top), in one row" in line


def test_the_instances_trending_tags_say_what_their_own_count_and_the_collected_toots_each_count(
        capsys, cli_env, monkeypatch):
    """Was: no definition under "Trending on the instances": a reader saw #mastodon with collected_toots_7d 254 beside
    the instance's own uses_7d 252 and took it for an error, the collected toots being, as they thought, a part of
    the instance's. They are not: the instance counts the public toots it knows of, the collection every public or
    unlisted toot it collected, from whichever instance, so either can be the larger."""
    url = f"sqlite:///{cli_env / 'metrics.db'}"
    monkeypatch.setenv("FEDISCOPE_STORE", url)
    store = open_store(url)
    store.write(analysis.metric("server_trending_tags"), [
        {"instance": "mastodon.social", "tag": "mastodon", "day": f"2026-11-0{day}", "uses": uses, "accounts": 9,
         "collected_toots": collected} for day, uses, collected in [(1, 40, 41), (2, 200, 203), (3, 12, 10)]])
    store.close()
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    section = next(block for block in unwrapped(out).split("\n\n")
                   if block.startswith("== Trending on the instances (their own counts, last 7 days) =="))
    row = next(line for line in section.splitlines() if line.startswith("mastodon.social"))
    assert row.split()[2:5] == ["252", "12", "254"]  # uses_7d, uses_latest_day, collected_toots_7d
    definitions = next(line for line in section.splitlines() if line.startswith("Definitions: "))
    assert ("uses_7d, uses_latest_day = the instance's own count (Mastodon's history of the tag) of the toots with "
            "the tag it knows of: its accounts' and those that reached it from other servers, public ones only "
            "(Mastodon counts no unlisted toot, no boost, no toot of an account it limits)") in definitions
    assert ("collected_toots_7d = the toots with the tag that fediscope collected, from every source and whichever "
            "server they were posted on, public and unlisted (boosts excluded), by the UTC day they were posted: the "
            "same figure beside every instance listing the tag") in definitions
    assert ("they count different toots, so either can be the larger: more collected (toots that never reached "
            "the instance, unlisted ones), or fewer (toots it knows of that were not collected)") in definitions


def test_the_engagement_chart_rounds_the_median_rate_as_the_text_report(tmp_path, monkeypatch):
    """Was: the chart said "median engagement rate 2.97%" where the text report said 3.0%, and not that the median
    is over the accounts with followers only."""
    from fediscope.charts import engagement_chart

    rows = [{"account_key": f"k{i}", "instance": "a.example", "followers_count": followers, "toots": 1,
             "interactions_total": interactions, "interactions_per_toot": float(interactions),
             "engagement_rate": interactions / followers if followers else None}
            for i, (followers, interactions) in enumerate([(1000, 29), (1000, 30), (100, 3), (0, 4)])]
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("account_engagement"), rows)
    result = analysis.engagement_distribution(store)
    figures = _drawn_figures(monkeypatch)
    engagement_chart(result, tmp_path / "e.png")
    title = figures[0].axes[0].get_title()
    assert title.splitlines()[1] == ("median engagement rate 3.0% of followers per toot, over the 3 accounts with "
                                     "followers")
    text = Report("sqlite://", analysis.AnalysisRun([result], {"account_engagement": 4}, [])).section(result)
    assert "median engagement rate: 3.0%" in text


def test_a_top_list_chart_draws_at_most_20_bars_whatever_the_top(tmp_path, monkeypatch):
    """Was: `fediscope report --top 40` drew 40 account labels into a 9 × 5 inch chart, one on another, and --top
    1000 a black column of text; the languages chart, likewise. The chart shows the first 20 (the languages after
    the first 19 as one "other" bar), the text table every row asked for."""
    from fediscope.charts import languages_chart, top_accounts_chart

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("top_accounts_by_followers"),
                [{"account_key": f"k{i:02d}", "instance": "a.example", "followers_count": 1000 - i,
                  "following_count": 1, "statuses_count": 1, "bot": False} for i in range(60)])
    toots = {f"l{i:02d}": 100 - i for i in range(30)}
    total = sum(toots.values())
    store.write(analysis.metric("languages"),
                [{"language": lang, "toots": n, "share": n / total} for lang, n in toots.items()])
    figures = _drawn_figures(monkeypatch)
    accounts = analysis.top_accounts(store, 1000)
    assert len(accounts.rows) == 60  # the text table and the JSON keep them all
    top_accounts_chart(accounts, tmp_path / "t.png")
    ax = figures[0].axes[0]
    assert len(ax.patches) == 20 and ax.get_title() == "Top 20 accounts by followers"
    assert ax.get_yticklabels()[-1].get_text().startswith("k00")  # the largest at the top

    languages = analysis.languages(store, 1000)
    assert len(languages.rows) == 30
    languages_chart(languages, tmp_path / "l.png")
    ax = figures[1].axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]  # bottom to top
    assert len(ax.patches) == 20 and names[0] == "other (11)" and names[-1] == "l00"
    rest = sum(list(toots.values())[19:])
    assert ax.texts[0].get_text() == f"{format_column('share', [rest / total])[0]}  ({rest})"
    assert sum(int(t.get_text().split("(")[1].rstrip(")").replace(",", "")) for t in ax.texts) == total


def test_accounts_that_all_have_0_followers_are_charted_from_0_not_minus_0(tmp_path, monkeypatch):
    """Was: with every follower count 0 (new accounts, or a server hiding them: -1, stored as 0) the axis ran from
    -0.05 to 0.05, ticked "-0, -0, 0, 0, 0"; and one account was "Top 1 accounts"."""
    from fediscope.charts import _count, top_accounts_chart

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("top_accounts_by_followers"),
                [{"account_key": f"k{i}", "instance": "a.example", "followers_count": 0, "following_count": 0,
                  "statuses_count": 3, "bot": False} for i in range(3)])
    figures = _drawn_figures(monkeypatch)
    top_accounts_chart(analysis.top_accounts(store), tmp_path / "t.png")
    ax = figures[0].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ax.get_xlim()[0] == 0 and ticks == ["0", "1"], ticks
    assert [t.get_text() for t in ax.texts] == ["0", "0", "0"]
    assert _count(-0.0) == _count(-0.02) == "0"

    store.write(analysis.metric("top_accounts_by_followers"),
                [{"account_key": "k", "instance": "a.example", "followers_count": 5, "following_count": 0,
                  "statuses_count": 3, "bot": False}])
    top_accounts_chart(analysis.top_accounts(store), tmp_path / "t.png")
    assert figures[1].axes[0].get_title() == "Top 1 account by followers"


def test_the_engagement_chart_of_one_account_says_one_account(tmp_path, monkeypatch):
    """Was: "Engagement distribution over 1 accounts … over the 1 accounts with followers"."""
    from fediscope.charts import engagement_chart

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("account_engagement"),
                [{"account_key": "k", "instance": "a.example", "followers_count": 10, "toots": 2,
                  "interactions_total": 6, "interactions_per_toot": 3.0, "engagement_rate": 0.3}])
    figures = _drawn_figures(monkeypatch)
    engagement_chart(analysis.engagement_distribution(store), tmp_path / "e.png")
    assert figures[0].axes[0].get_title() == ("Engagement distribution over 1 account\nmedian engagement rate 30.0% "
                                              "of followers per toot, over the 1 account with followers")


def test_the_help_lists_every_analysis_the_report_prints(capsys, loaded_store, cli_env):
    """Was: the help, written out by hand, left out the engaged accounts, the instances' trending tags, instances,
    instance activity and federation, which the report printed."""
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    printed = [a["name"] for a in json.loads(out)["analyses"]]
    assert {"top_engaged_accounts", "server_trending_tags", "instances", "instance_activity", "federation"} <= set(
        printed)
    code, out, err = run(capsys, "report", "--help")
    assert code == 0, err
    listed = " ".join(out.split()).split("the store holds: ")[1].split(". Charts")[0].split(", ")
    assert listed == [analysis.short_title(function.__name__) for function, _ in analysis.ANALYSES]
    assert set(analysis.SHORT_TITLES) == {function.__name__ for function, _ in analysis.ANALYSES}
    for name in printed:
        assert analysis.short_title(name) in listed, name
    assert "the accounts with the most interactions" in listed and "instances" in listed
    assert "federation (the peers each instance knows of)" in listed
    assert ", ".join(CHARTS) in " ".join(out.split())


def test_the_help_says_the_period_is_of_posted_days_as_the_report_computes_it(capsys, cli_env, tmp_path):
    """Was: the help said the report's period is "the first and last UTC day with hashtag use", while the report
    takes the first and last posted day of every curated status, hashtags or not (the metric posted_days), so a
    day of statuses without a hashtag is in the period: the help described the older rule."""
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    # statuses posted on 2024-05-01 to 2024-05-03; hashtags used on 2024-05-02 only
    store.write(analysis.metric("posted_days"), [
        {"instance": "*", "first_day": "2024-05-01", "last_day": "2024-05-03", "days": 3, "statuses": 3,
         "latest_fetch_day": "2024-05-04", "first_day_partial": False}])
    store.write(analysis.metric("hashtags_daily"), [
        {"day": "2024-05-02", "tag": "python", "toots": 1, "accounts": 1, "engagement_total": 1,
         "engagement_mean": 1.0}])
    store.close()
    code, out, err = run(capsys, "report", "--no-charts", "--store", f"sqlite:///{tmp_path / 'm.db'}")
    assert unwrapped(out).splitlines()[1].startswith("Period: statuses posted 2024-05-01 to 2024-05-03"), out
    code, out, err = run(capsys, "report", "--help")
    assert code == 0, err
    period = " ".join(out.split()).split('says which days the numbers cover: ')[1].split(", \"(partial)")[0]
    assert "hashtag use" not in period
    assert period.startswith("the first and last UTC day a curated status was posted on (with or without hashtags")


def test_the_period_line_after_a_partial_last_day_has_one_pair_of_brackets(capsys, cli_env, tmp_path, monkeypatch):
    """Was: ``Period: statuses posted 2024-05-01 to 2024-05-03 (partial) (UTC days); latest fetch on 2024-05-03``
    in the head and on every chart: the last day's mark and the days' zone read as two brackets in a row."""
    from matplotlib.figure import Figure

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("posted_days"), [  # the last day is the latest fetch's: partial
        {"instance": "*", "first_day": "2024-05-01", "last_day": "2024-05-03", "days": 3, "statuses": 3,
         "latest_fetch_day": "2024-05-03", "first_day_partial": False}])
    store.write(analysis.metric("hashtags_daily"), [  # a chart, with the period as its footnote
        {"day": "2024-05-02", "tag": "python", "toots": 1, "accounts": 1, "engagement_total": 1,
         "engagement_mean": 1.0}])
    store.close()
    figures: list[Figure] = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    code, out, err = run(capsys, "report", "--store", f"sqlite:///{tmp_path / 'm.db'}", "--out", "charts")
    assert code == 0, err
    said = "Period: statuses posted 2024-05-01 to 2024-05-03 (partial), UTC days; latest fetch on 2024-05-03"
    assert unwrapped(out).splitlines()[1] == said, out
    assert figures and all(said in [text.get_text() for text in figure.texts] for figure in figures)


def test_each_analysis_asks_the_question_it_answers(capsys, loaded_store, cli_env):
    """Was: activity by weekday asked "by weekday and hour of the day" (the hourly grid's question), sign-ups,
    summed over the instances, asked "per instance?", the top engaged accounts asked account_engagement's question
    about every account, and instance activity, the latest week of each instance, asked "per week"."""
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    questions = {a["name"]: a["question"] for a in json.loads(out)["analyses"]}
    assert questions["activity_by_weekday"] == "On which weekdays (UTC) are toots posted?"
    assert questions["activity"] != questions["activity_by_weekday"]
    assert questions["signups_over_time"] == "How many accounts were created each month, summed over the instances?"
    assert "per instance" not in questions["signups_over_time"]
    # the top of account_engagement, and the latest week of instance_activity_weekly: not their metrics' questions
    assert questions["top_engaged_accounts"] == "Which accounts' toots get the most interactions in all?"
    assert questions["instance_activity"] == ("How active was each instance in its latest complete week, as it "
                                              "reports itself?")
    code, out, err = run(capsys, "report", "--no-charts")
    sections = {block.splitlines()[0]: block.splitlines()[1] for block in out.split("\n\n") if block.startswith("==")}
    assert sections["== Activity by weekday (UTC) =="] == questions["activity_by_weekday"]
    assert sections["== Sign-ups over time (all instances) =="] == questions["signups_over_time"]
    store = open_store(loaded_store)
    one = analysis.signups_over_time(store, instance="mastodon.social")
    assert one.question == "How many accounts of mastodon.social were created each month?"


def _section(result, stored=1):
    """An analysis's section as the text report prints it, each line of prose in one line (:func:`unwrapped`)."""
    return unwrapped(Report("sqlite://", analysis.AnalysisRun([result], {result.metric: stored}, [])).section(result))


def _table_rows(section):
    """The rows of a section's table, each split into its cells (below the header and its rule of dashes; the
    notes under it, in parentheses, left out)."""
    lines = section.splitlines()
    rule = next(i for i, line in enumerate(lines) if line and set(line) <= {"-", " "})
    rows = lines[rule + 1:]
    notes = next((i for i, line in enumerate(rows) if line.startswith("(")), len(rows))
    return [line.split() for line in rows[:notes]]




def test_a_column_of_numbers_has_one_number_of_decimals_and_exact_zero_shares_are_zero(tmp_path):
    """Was: replies_mean 0.655 next to 1.54 (three decimals beside two), 3.0 as "3", and a share of exactly 0
    printed "0.00%", as if rounded down from a small share. Then: per_toot 0.13 beside 0.004 read 0.1300 / 0.0040
    and means 2 / 3.5 read 2.00 / 3.50, zeros no value needs."""
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("media_engagement"), [
        {"media_type": media, "toots": toots, "interactions_mean": mean, "favourites_mean": mean,
         "reblogs_mean": 0.0, "replies_mean": replies}
        for media, toots, mean, replies in [("none", 200, 2.0, 0.655), ("any", 40, 3.5, 1.54),
                                            ("image", 30, 3.0, 3.0)]])
    table = _table_rows(_section(analysis.media_engagement(store)))
    assert [row[5] for row in table] == ["0.66", "1.54", "3.00"]  # replies_mean
    assert [row[2] for row in table] == ["2.0", "3.5", "3.0"]  # interactions_mean: 3.5 needs one decimal
    assert [row[4] for row in table] == ["0", "0", "0"]  # reblogs_mean: all whole
    store.write(analysis.metric("content_features"), [
        {"feature": "links", "toots_with": 123, "share": 0.123, "items": 130, "per_toot": 0.13},
        {"feature": "audio", "toots_with": 0, "share": 0.0, "items": 0, "per_toot": 0.0},
        {"feature": "polls", "toots_with": 4, "share": 0.004, "items": 4, "per_toot": 0.004}])
    rows = {row[0]: row for row in _table_rows(_section(analysis.content_features(store)))}
    assert rows["audio"][2] == "0%" and rows["polls"][2] == "0.4%" and rows["links"][2] == "12.3%"
    assert [rows[f][4] for f in ("audio", "links", "polls")] == ["0.000", "0.130", "0.004"]


@pytest.mark.parametrize(("column", "values", "cells"), [
    # the smallest non-zero value shows two significant digits; the others take its decimals, so that they line up
    ("per_toot", [0.13, 0.0041], ["0.1300", "0.0041"]),
    # ... but no more than show every value: 0.004 is whole at 3 (was 0.1300 / 0.0040)
    ("per_toot", [0.13, 0.004], ["0.130", "0.004"]),
    ("mean", [1234.5, 0.5], ["1,234.5", "0.5"]),  # was 1,234.50 / 0.50
    ("mean", [1234.5678, 0.5], ["1,234.57", "0.50"]),  # two decimals from 1 up
    ("mean", [0.06002, 0.733], ["0.060", "0.733"]),  # a zero that rounding gives is kept: 0.06 would lose a digit
    ("mean", [-0.25, -1234.5, 2.0], ["-0.25", "-1,234.50", "2.00"]),
    ("mean", [0.0000012, 1.0], ["0.000001", "1.000000"]),  # at most MAX_DECIMALS
    ("mean", [0.0, 0, 0.0], ["0", "0", "0"]),
    ("share", [0.0, 0.0], ["0%", "0%"]),
    ("mean", [None, math.nan, 1.25, 0.5], ["-", "-", "1.25", "0.50"]),  # was "nan" beside "-"
    ("share", [None, math.nan, 0.07, 0.5], ["-", "-", "7%", "50%"]),  # 0.07 * 100 is 7.000000000000001
    ("growth", [6.0, 2.0], ["6x", "2x"]),
    ("growth", [None, math.nan, 1.5], ["-", "-", "1.5x"]),
])
def test_a_column_has_the_fewest_decimals_that_show_its_smallest_value(column, values, cells):
    assert format_column(column, values) == cells


def test_trending_declines_keep_their_significant_digits_in_text_and_every_digit_in_json(tmp_path):
    """Was: growth (current + 1) / (previous + 1) with two decimals whatever its size: a tag used once against 250
    times before (2/251) read "0.01x", and 6 read "6.00x". Growth is never negative (both counts are at least 0);
    a decline is a growth below 1."""
    counts = {"urbanism": (5, 0), "film": (8, 1), "python": (2, 5), "fading": (1, 250)}
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("trending_hashtags"), [
        {"ranking": i, "tag": tag, "window_end": "2024-01-10", "current_toots": current, "previous_toots": previous,
         "delta": current - previous, "growth": (current + 1) / (previous + 1), "current_engagement": 3}
        for i, (tag, (current, previous)) in enumerate(counts.items(), 1)])
    result = analysis.trending_hashtags(store)
    growth = {row[0]: row[3] for row in _table_rows(_section(result))}
    assert growth == {"urbanism": "6.0000x", "film": "4.5000x", "python": "0.5000x", "fading": "0.0080x"}
    document = json.loads(json.dumps(Report("sqlite://", analysis.AnalysisRun([result], {}, [])).to_dict()))
    assert {r["tag"]: r["growth"] for r in document["analyses"][0]["rows"]} == {
        tag: (current + 1) / (previous + 1) for tag, (current, previous) in counts.items()}


def test_a_column_of_dashes_is_aligned_as_the_numbers(tmp_path):
    """Was: engagement_rate, "-" for every account without followers, was aligned left where numbers align
    right (its header's start, not its end)."""
    rows = [{"account_key": f"k{i}", "instance": "a.example", "followers_count": 0, "toots": 2,
             "interactions_total": 10 * i, "interactions_per_toot": 5.0 * i, "engagement_rate": None}
            for i in range(1, 4)]
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("account_engagement"), rows)
    lines = _section(analysis.top_engaged_accounts(store)).splitlines()
    header = next(line for line in lines if line.startswith("account_key"))
    body = lines[lines.index(header) + 2:]
    end = header.index("engagement_rate") + len("engagement_rate")
    assert all(line.endswith("-") and len(line) == end for line in body), body
    toots_end = header.index("toots") + len("toots")
    assert all(line[toots_end - 1] == "2" for line in body)


def test_the_languages_chart_rounds_shares_as_the_text_report(tmp_path, monkeypatch):
    """Was: the chart labelled a share of 0.49% "0.5%" (one decimal always) where the text said 0.49%."""
    from fediscope.charts import languages_chart

    counts = {"en": 9000, "de": 951, "eo": 49}
    total = sum(counts.values())
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("languages"),
                [{"language": lang, "toots": toots, "share": toots / total} for lang, toots in counts.items()])
    result = analysis.languages(store)
    figures = _drawn_figures(monkeypatch)
    languages_chart(result, tmp_path / "l.png")
    labels = [t.get_text() for t in figures[0].axes[0].texts]
    assert labels == ["0.49%  (49)", "9.51%  (951)", "90.00%  (9,000)"]  # bottom to top
    text = {row[0]: row[2] for row in _table_rows(_section(result))}
    assert text == {"en": "90.00%", "de": "9.51%", "eo": "0.49%"}
    assert [label.split()[0] for label in labels] == [text["eo"], text["de"], text["en"]]


@pytest.mark.parametrize("fetched", ["2024-01-10", "2024-01-11", None])
def test_the_day_of_the_latest_fetch_is_marked_partial_in_text_and_chart(tmp_path, monkeypatch, fetched):
    """Was: the last day, the one the collection stopped in, showed as a drop (text and chart) that read as a real
    decline. Marked when it is the latest fetch's day, never dropped; unmarked when the fetch came a day later or
    the store does not say (metrics computed before trending_hashtags had latest_fetch_day)."""
    from fediscope.charts import hashtags_chart

    days = [f"2024-01-{d:02d}" for d in range(1, 11)]
    daily = [{"day": day, "tag": tag, "toots": 3 if day == days[-1] else 20 + i, "accounts": 2,
              "engagement_total": 5, "engagement_mean": 1.0} for i, day in enumerate(days) for tag in ("a", "b")]
    trending = [{"ranking": 1, "tag": "a", "window_end": days[-1], "current_toots": 7, "previous_toots": 3,
                 "delta": 4, "growth": 2.0, "current_engagement": 35}]
    if fetched:
        trending[0]["latest_fetch_day"] = fetched
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("hashtags_daily"), daily)
    store.write(analysis.metric("trending_hashtags"), trending)
    result = analysis.hashtags_per_day(store)
    partial = fetched == days[-1]
    assert [r["day"] for r in result.rows] == days and result.rows[-1]["uses"] == 6  # the day is kept, as it is
    assert result.summary["partial_day"] == (days[-1] if partial else None)
    text = _section(result)
    table = _table_rows(text)
    assert table[-1][:2] == (["2024-01-10", "(partial)"] if partial else ["2024-01-10", "2"])
    # the first day is marked "(partial?)": the store does not say whether the collection's first day is whole
    # (tests/engine/test_metrics.py::test_the_first_day_is_marked_as_the_lake_records_where_collections_begin)
    assert table[0][:2] == ["2024-01-01", "(partial?)"]
    assert sum("(partial)" in " ".join(row) for row in table) == partial
    assert ("(partial): the day of the latest fetch" in text) == partial
    summary_line = text.splitlines()[2]
    assert (f"latest fetch day: {fetched}" in summary_line) == bool(fetched), summary_line
    assert "partial day" not in summary_line, summary_line  # the table marks it; the line repeated the fetch day
    figures = _drawn_figures(monkeypatch)
    hashtags_chart(result, tmp_path / "h.png")
    ax = figures[0].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert ticks[0] == "2024-01-01 (partial?)" and "maybe partial day (collection began)" in legend
    if partial:
        assert ticks[-1] == "2024-01-10 (partial)" and sum("(partial)" in t for t in ticks) == 1
        assert "partial day (latest fetch)" in legend
    else:
        assert not any("partial" in t for t in ticks[1:]) and "partial day (latest fetch)" not in legend


def test_the_days_a_source_added_later_began_are_marked_in_text_chart_and_trending(tmp_path, monkeypatch):
    """Was: only the series' first day was marked: a source added later (its walk cut by FEDISCOPE_BACKFILL_PAGES,
    or started from its first run) made a rise on the day it began that read as growth. The days trending_hashtags
    records (``partial_start_days``) are marked "(partial)" in the table (the note names the days shown) and the
    chart (hatched, each a tick), and trending says which of its windows each day of its 14 falls in."""
    from fediscope.charts import hashtags_chart

    days = [f"2024-01-{d:02d}" for d in range(1, 31)]
    daily = [{"day": day, "tag": "a", "toots": 10, "accounts": 2, "engagement_total": 5, "engagement_mean": 0.5}
             for day in days]
    trending = [{"ranking": 1, "tag": "a", "window_end": days[-1], "current_toots": 70, "previous_toots": 70,
                 "delta": 0, "growth": 1.0, "current_engagement": 35, "latest_fetch_day": "2024-02-01",
                 "first_day": days[0], "first_day_partial": False,
                 "partial_start_days": "2024-01-10,2024-01-20,2024-01-28"}]
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("hashtags_daily"), daily)
    store.write(analysis.metric("trending_hashtags"), trending)
    result = analysis.hashtags_per_day(store)
    assert result.summary["partial_days"] == result.summary["source_start_days"] == [
        "2024-01-10", "2024-01-20", "2024-01-28"]
    text = _section(result)  # the last 20 days: 2024-01-10 is not shown
    assert [row[0] for row in _table_rows(text) if row[1] == "(partial)"] == ["2024-01-20", "2024-01-28"]
    assert "(partial), 2024-01-20, 2024-01-28: a source's collection began during each" in text
    figures = _drawn_figures(monkeypatch)
    hashtags_chart(result, tmp_path / "h.png")
    ax = figures[0].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert [t for t in ticks if "partial" in t] == [f"{d} (partial)" for d in ("2024-01-10", "2024-01-20",
                                                                                 "2024-01-28")]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend.count("partial day (a source's collection began)") == 1
    said = _section(analysis.trending_hashtags(store))
    assert ("(partial): on 2024-01-20 (the 7 days before), 2024-01-28 (the latest 7 days) a source's collection "
            "began in part") in said


def test_a_table_dropped_by_hand_fails_doctor_and_the_next_process_makes_report_work_again(
        capsys, cli_env, monkeypatch):
    """Was: report stopped at the missing table while doctor said OK, and process reported the metric "unchanged
    (not recomputed)" without making its table again."""
    import sqlite3

    from doubles.sample_metrics import SEED, STATUSES

    from fediscope.config import load_settings
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    store = cli_env / "pipeline.db"
    monkeypatch.setenv("FEDISCOPE_LAKE", str(cli_env / "lake"))
    monkeypatch.setenv("FEDISCOPE_STORE", f"sqlite:///{store}")
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "sample-metrics-test-key")
    settings = load_settings()
    write_raw_lake(open_lake(settings.lake), STATUSES, seed=SEED, policy=policy_from_settings(settings))
    assert run(capsys, "process")[0] == 0
    with sqlite3.connect(store) as connection:
        connection.execute("DROP TABLE metric_languages")

    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 1 and "its table metric_languages is missing" in out and "Traceback" not in err
    assert "== Top accounts by followers ==" in out  # the other analyses are printed
    code, out, _ = run(capsys, "doctor")
    store_line = next(line for line in out.splitlines() if " store " in f" {line} ")
    assert store_line.startswith("FAIL") and "metric_languages (metric languages)" in store_line, out
    assert "`fediscope process` rewrites them" in out

    code, out, err = run(capsys, "process")
    assert code == 0 and "unchanged (not recomputed)" not in out and "stored (0 written)" not in out, out + err
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0 and "== Languages ==" in out, err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_metric_table_dropped_by_hand_is_named_and_the_other_analyses_are_printed(capsys, loaded_store, cli_env,
                                                                                    fmt):
    """Was: the report stopped at the first analysis whose table was gone (MissingTableError), printing none. Now,
    as for a table that lacks a column, that analysis says why and how to fix it, the others are printed, exit 1."""
    import sqlite3

    with sqlite3.connect(loaded_store.removeprefix("sqlite:///")) as connection:
        connection.execute("DROP TABLE metric_languages")
    code, out, err = run(capsys, "report", "--format", fmt, "--no-charts")
    assert code == 1 and "Traceback" not in err
    assert "fediscope: error: 1 analysis could not be computed (see above)" in err
    said = ("metric languages: its table metric_languages is missing (dropped by hand?): run `fediscope process` to "
            "write it again (`fediscope store drop languages` if no SQL file defines it any more)")
    if fmt == "json":
        document = json.loads(out)
        assert document["failed"] == {"languages": said}
        names = {a["name"] for a in document["analyses"]}
        assert "languages" not in names and {"top_accounts", "hashtags_per_day", "activity"} <= names
    else:
        assert f"Could not compute languages: {said}" in unwrapped(out)
        assert "== Languages ==" not in out
        assert "== Top accounts by followers ==" in out and "== Activity by hour" in out


def test_sign_ups_of_0_accounts_name_no_busiest_month_in_text_or_json(capsys, loaded_store, cli_env):
    """Was: with every month's accounts 0, "busiest month: <the last month>" (the ties broken by the latest month),
    where activity's peak hour is left out with no toot."""
    import sqlite3

    with sqlite3.connect(loaded_store.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE metric_signups_by_month SET accounts = 0")
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    section = out.split("== Sign-ups over time")[1].split("\n== ")[0]
    assert "accounts: 0 ·" in section and "busiest month" not in section
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    summary = next(a for a in json.loads(out)["analyses"] if a["name"] == "signups_over_time")["summary"]
    assert summary["accounts"] == 0 and summary["months"] > 1 and summary["busiest_month"] is None


def test_a_media_group_without_a_mean_has_no_lift_not_0x(capsys, loaded_store, cli_env):
    """Was: a NULL interactions_mean was taken as 0, its lift_vs_none shown as 0.00x (0.0 in JSON), not "-"."""
    import sqlite3

    with sqlite3.connect(loaded_store.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE metric_media_engagement SET interactions_mean = NULL WHERE media_type = 'any'")
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    section = out.split("== Engagement of toots with and without media ==")[1].split("\n== ")[0]
    rows = {row[0]: row for row in _table_rows(section)}
    assert rows["any"][2] == "-" and rows["any"][-1] == "-"
    assert rows["none"][-1] == "1.00x"
    assert "lift with media" not in section  # the summary's lift is that of "any"
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    media = next(a for a in json.loads(out)["analyses"] if a["name"] == "media_engagement")
    assert next(r for r in media["rows"] if r["media_type"] == "any")["lift_vs_none"] is None
    assert media["summary"]["lift_with_media"] is None


def test_a_line_of_one_point_is_drawn_with_a_marker(tmp_path, monkeypatch):
    """Was: with one day of hashtags, the dashed "all hashtag uses" line was in the legend but not drawn (a line
    of one point, no marker); with one month of sign-ups, the cumulative line's point was a "." speck on the bar."""
    from fediscope.charts import hashtags_chart, signups_chart

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    store.write(analysis.metric("hashtags_daily"), [
        {"day": "2024-01-01", "tag": tag, "toots": toots, "accounts": 1, "engagement_total": 1,
         "engagement_mean": 1.0} for tag, toots in (("a", 5), ("b", 3))])
    store.write(analysis.metric("signups_by_month"), [{"instance": "a.example", "month": "2024-01", "accounts": 4}])
    figures = _drawn_figures(monkeypatch)
    hashtags_chart(analysis.hashtags_per_day(store), tmp_path / "h.png")
    signups_chart(analysis.signups_over_time(store), tmp_path / "s.png")
    lines = {line.get_label(): line for line in figures[0].axes[0].get_lines()}
    assert list(lines) == ["#a", "#b", "all hashtag uses"]
    for line in lines.values():
        assert len(line.get_xdata()) == 1 and line.get_marker() == "o", line.get_label()
    assert list(lines["all hashtag uses"].get_ydata()) == [8]
    (cumulative,) = figures[1].axes[1].get_lines()
    assert len(cumulative.get_xdata()) == 1 and cumulative.get_marker() == "o"


def test_a_file_at_out_is_refused_only_where_charts_are_written(capsys, loaded_store, cli_env):
    """Was: `--out FILE --no-charts` was refused ("Directory 'FILE' is a file", exit 2) though --out is not used
    without charts (nothing is written; the JSON's "charts" is empty)."""
    (cli_env / "afile").write_text("in the way")
    code, out, err = run(capsys, "report", "--out", "afile", "--no-charts", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["charts"] == [] and (cli_env / "afile").read_text() == "in the way"
    code, out, err = run(capsys, "report", "--out", "afile")
    assert code == 2 and out == "" and "Traceback" not in err
    assert "Invalid value for '--out': Directory 'afile' is a file." in err
    assert (cli_env / "afile").read_text() == "in the way"


@pytest.mark.parametrize("name", ["x.json", "report.TXT", "c.png", "rows.csv"])
def test_an_out_not_there_yet_with_a_file_suffix_is_refused_as_a_file_out_refuses_a_directory(capsys, loaded_store,
                                                                                             cli_env, name):
    """Was: exit 0 and a directory named x.json (--out is a directory). Refused, exit 2, as `store export --out` and
    `gdpr export --out` (files) refuse a directory; with --no-charts --out is not used, and a directory of that name
    that exists is used."""
    target = cli_env / "nonexist" / name
    code, out, err = run(capsys, "report", "--out", str(target))
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"Invalid value for '--out': '{target}' looks like a file name, but --out is the directory" in err, err
    assert not (cli_env / "nonexist").exists()
    code, out, err = run(capsys, "report", "--out", str(target), "--no-charts")
    assert code == 0, err
    target.mkdir(parents=True)
    code, out, err = run(capsys, "report", "--out", str(target))
    assert code == 0 and (target / "languages.png").is_file(), err
