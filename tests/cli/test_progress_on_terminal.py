"""Progress lines on a real, narrow pseudo-terminal (40 columns, as a tmux split), and on a pipe (a log file).

Was: ``fediscope store export`` and ``fediscope lake ls --records`` cleared their ``\\r`` progress line with 60
spaces, which wrap on a 40-column terminal: the cursor then sat one row down, and the export's closing line or
the listing's first row was written after a row of blanks (``lake ls``: glued to them, ``      46,850 B …``).
The export's ``exporting NAME: 12,000 rows`` was not cut to the terminal's width either, so a long metric name
wrapped and each update left a row behind. The collector cut its line to the width of standard output's
terminal, 80 columns when standard output is a file (``fediscope collect --json > summary.json``): its lines
wrapped on a narrower stderr terminal the same way. And ``fediscope collect --progress 2> collect.log`` wrote
``\\r`` progress into the log, a line per page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from terminal_screen import Screen, fediscope_argv, on_terminal
from test_encodings_cli import KEY, LOCAL, child_env, recorded_statuses_with_non_ascii_text

from fediscope.console import display_width
from fediscope.engine.metrics import parse_metric
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.store.sqlite import SQLiteStore

COLUMNS = 40
#: a metric name long enough that ``exporting NAME: 12 rows`` is wider than the terminal
LONG_NAME = "hashtag_engagement_by_instance_and_day"
#: ``fediscope`` with the export's progress shown at every page of one row (it waits 2 s between updates)
EVERY_ROW = ("import sys; from fediscope import analysis; from fediscope.store import export; "
             "analysis.PAGE_ROWS = 1; export.PROGRESS_SECONDS = 0; from fediscope.cli import main; "
             "sys.exit(main(sys.argv[1:]))")


def progress_texts(terminal: str) -> list[str]:
    """Each text a ``\\r`` starts and another ``\\r`` ends: what a progress update left open on the line (the
    text a newline ends is a final line)."""
    *lines, unended = terminal.split("\n")
    parts = [part for line in lines for part in line.split("\r")[1:-1]] + unended.split("\r")[1:]
    return [part for part in parts if part.strip()]


def assert_clean(run_terminal: str) -> Screen:
    """No progress text wider than the terminal (less its last column), none rewritten after it wrapped."""
    texts = progress_texts(run_terminal)
    assert texts, run_terminal  # progress was shown: the test looks at something
    assert max(display_width(text) for text in texts) < COLUMNS, texts
    screen = Screen(COLUMNS).write(run_terminal)
    assert screen.rewrites_of_wrapped_lines == 0
    return screen


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of twelve batch files of the recorded statuses (CJK hashtags among them), and a store holding
    :data:`LONG_NAME`."""
    base = tmp_path_factory.mktemp("progress")
    policy = PrivacyPolicy(key=KEY.encode())
    records = [envelope(LOCAL, "/api/v1/timelines/public", landed) for status in recorded_statuses_with_non_ascii_text()
               if (landed := policy.status(status, LOCAL)) is not None]
    lake = open_lake(str(base / "lake"))
    for _ in range(12):
        write_batch(lake, "statuses", LOCAL, records)
    store = SQLiteStore(f"sqlite:///{base / 'store.db'}")
    metric = parse_metric(LONG_NAME, "-- question: q?\n-- key: day, tag\n-- rank: uses DESC\nSELECT 1")
    store.write(metric, [{"tag": f"tag{n}", "day": "2024-01-01", "uses": n} for n in range(12)])
    store.close()
    return base


@pytest.fixture(scope="module")
def env(base: Path) -> dict[str, str]:
    return child_env(FEDISCOPE_LAKE=str(base / "lake"), FEDISCOPE_STORE=f"sqlite:///{base / 'store.db'}",
                     FEDISCOPE_PSEUDONYM_KEY=KEY)


@pytest.mark.parametrize("stdout_pipe", [False, True], ids=["out-file", "stdout-piped"])
def test_store_export_progress_fits_the_terminal_and_is_cleared_by_its_width(base: Path, env: dict[str, str],
                                                                             stdout_pipe: bool) -> None:
    args = ["store", "export", LONG_NAME, *([] if stdout_pipe else ["--out", "rows.csv"])]
    run = on_terminal([sys.executable, "-c", EVERY_ROW, *args], COLUMNS, env, cwd=base, stdout_pipe=stdout_pipe)
    assert run.code == 0, run.terminal
    screen = assert_clean(run.terminal)
    assert progress_texts(run.terminal)[0] == "exporting hashtag_engagement_by_instan…"  # cut, not wrapped
    # the progress is gone, blanked by its own width (not 60 spaces, which wrapped): the closing line alone
    assert screen.lines() == ([] if stdout_pipe else [f"exported 12 rows of {LONG_NAME} to rows.csv"])
    assert f"\r{' ' * (COLUMNS - 1)}\r" in run.terminal
    if stdout_pipe:
        assert run.stdout is not None and run.stdout.count("\n") == 13  # the header and the rows, no progress


def test_store_export_shows_no_progress_among_the_rows_it_prints_on_the_terminal(base: Path,
                                                                                env: dict[str, str]) -> None:
    """Was: ``exporting NAME: 1 row`` left open on the terminal the rows are printed to, each row after the next
    page run on after it (``exporting hashtag_engagement_by_instan…tag10,2024-01-01,10``)."""
    run = on_terminal([sys.executable, "-c", EVERY_ROW, "store", "export", LONG_NAME], COLUMNS, env, cwd=base)
    assert run.code == 0, run.terminal
    assert "exporting" not in run.terminal
    lines = Screen(COLUMNS).write(run.terminal).lines()
    assert lines == ["tag,day,uses", *(f"tag{n},2024-01-01,{n}" for n in reversed(range(12)))]


def test_lake_ls_records_counter_is_cleared_and_leaves_the_listing_as_a_pipe_gets_it(base: Path,
                                                                                     env: dict[str, str]) -> None:
    run = on_terminal(fediscope_argv("lake", "ls", "--records"), COLUMNS, env, cwd=base)
    assert run.code == 0, run.terminal
    screen = assert_clean(run.terminal)
    piped = subprocess.run(fediscope_argv("lake", "ls", "--records"), env=env, cwd=base, capture_output=True,
                           text=True, timeout=120, check=True)
    assert piped.stderr == ""  # no terminal: no counter at all
    assert screen.lines() == piped.stdout.rstrip("\n").split("\n")  # was: the first row after 40 blanks
    assert "12 files, " in piped.stdout


@pytest.fixture(scope="module")
def instance() -> SampleServer:
    with SampleServer(SampleInstance.generate(300, seed=3), rate_limit=100_000) as server:
        yield server


def test_collect_progress_fits_the_terminal_stderr_writes_to_when_stdout_is_a_file(
        instance: SampleServer, tmp_path: Path) -> None:
    """The width is stderr's terminal's, not the 80 columns assumed for a standard output that is no terminal;
    a CJK tag counts two columns. The final lines are whole."""
    env = child_env(FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
                    FEDISCOPE_BACKFILL_PAGES="1000")
    run = on_terminal(fediscope_argv("collect", "--instance", instance.url, "--timeline", "public",
                                     "--timeline", "tag:日本語のタグ", "--json"),
                      COLUMNS, env, cwd=tmp_path, stdout_pipe=True)
    assert run.code == 0, run.terminal
    assert_clean(run.terminal)
    domain = instance.url.removeprefix("http://")
    assert any(text.startswith(f"{domain} tag:日本語の") for text in progress_texts(run.terminal))
    summary = json.loads(run.stdout or "")
    lines = Screen(COLUMNS).write(run.terminal).lines()
    assert lines[0].startswith(f"{domain} public: {summary['sources'][0]['pages']} pages")  # whole: wider than 40
    assert display_width(lines[0]) > COLUMNS and lines[1].startswith(f"{domain} tag:日本語のタグ: ")


def test_collect_progress_into_a_log_file_has_no_carriage_returns(instance: SampleServer, tmp_path: Path) -> None:
    env = child_env(FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
                    FEDISCOPE_BACKFILL_PAGES="1000")
    with (tmp_path / "collect.log").open("w") as log:
        done = subprocess.run(fediscope_argv("collect", "--instance", instance.url, "--timeline", "public",
                                             "--progress", "--json"),
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=log, timeout=120, check=False)
    assert done.returncode == 0
    logged = (tmp_path / "collect.log").read_bytes().decode()  # as written: read_text() makes "\r" a "\n"
    pages = json.loads(done.stdout)["sources"][0]["pages"]
    assert pages > 1 and "\r" not in logged  # was: "\r… public: page 1, …" and so on, a line per page
    assert logged.startswith(f"{instance.url.removeprefix('http://')} public: {pages} pages")  # the final line
