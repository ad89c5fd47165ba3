"""A log line written while the collector's progress line is open starts a line of its own.

Was: on a terminal, a WARNING (a source failed, an item quarantined) ran on after the progress text,
``instance public: page 3, 120 fetched, 120 landed2026-12-03 … WARNING …``.
"""

from __future__ import annotations

import io
import logging

import pytest
from terminal_screen import TerminalStream

from fediscope.cli.common import configure_logging
from fediscope.sources.progress import Progress
from fediscope.step_progress import break_open_line


@pytest.fixture
def fresh_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level, getattr(root, "_fediscope_configured", False)
    root.handlers = []
    root._fediscope_configured = False  # type: ignore[attr-defined]
    yield
    root.handlers, root.level = saved[0], saved[1]
    root._fediscope_configured = saved[2]  # type: ignore[attr-defined]


def test_a_warning_during_progress_gets_its_own_line(monkeypatch: pytest.MonkeyPatch, fresh_logging) -> None:
    import sys

    monkeypatch.setattr(sys, "stderr", TerminalStream())
    monkeypatch.setenv("COLUMNS", "200")
    configure_logging("WARNING")
    progress = Progress(True, sys.stderr)
    progress.page("x.social public", 3, 120, 120)
    logging.getLogger("fediscope.test").warning("source x.social tag:a failed: boom")
    progress.page("x.social public", 4, 160, 160)
    progress.done("x.social public", "4 pages, 160 landed")
    lines = sys.stderr.getvalue().split("\n")
    assert lines[0] == "\rx.social public: page 3, 120 fetched, 120 landed"
    assert lines[1].endswith("WARNING fediscope.test source x.social tag:a failed: boom")
    assert lines[2].startswith("\rx.social public: page 4")
    assert lines[2].rstrip().endswith("\rx.social public: 4 pages, 160 landed")
    assert lines[3] == ""


def test_nothing_is_added_without_an_open_line_or_on_another_stream() -> None:
    other, mine = TerminalStream(), TerminalStream()
    progress = Progress(True, mine)
    progress.page("a public", 1, 40, 40)
    break_open_line(other)  # another stream: the open line stays open, nothing written anywhere
    assert other.getvalue() == "" and mine.getvalue() == "\ra public: page 1, 40 fetched, 40 landed"
    progress.done("a public", "1 pages, 40 landed")
    break_open_line(mine)  # no open line: nothing to end
    assert mine.getvalue().count("\n") == 1


def test_the_open_line_fits_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was written whole: on a terminal narrower than the line it wrapped, and each ``\\r`` update rewrote only its
    last row, leaving the others behind. A wide (CJK) tag name counts its columns, not its characters."""
    from fediscope.report import display_width

    monkeypatch.setenv("COLUMNS", "40")
    terminal = TerminalStream()
    progress = Progress(True, terminal)
    progress.page("mastodon.example tag:日本語のタグ", 12, 480, 470)
    progress.page("a public", 1, 4, 4)
    progress.done("mastodon.example tag:日本語のタグ", "12 pages, 470 landed")  # a finished line is whole
    first, second, done = terminal.getvalue().split("\r")[1:]
    assert first == "mastodon.example tag:日本語のタグ: pag…" and display_width(first) == 39
    assert second == "a public: page 1, 4 fetched, 4 landed  "  # padded over the wide line it rewrites
    assert done == "mastodon.example tag:日本語のタグ: 12 pages, 470 landed\n"


def test_a_pipe_or_a_log_file_gets_no_carriage_return(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: ``collect --progress 2> collect.log`` wrote each page as a ``\\r`` line into the log. Now the final
    lines, whole, and a plain line per page no more often than every PLAIN_SECONDS."""
    from fediscope.sources import progress as module

    pipe = io.StringIO()
    progress = Progress(True, pipe)
    progress.page("mastodon.example tag:日本語のタグ", 12, 480, 470)  # too soon after the start: not logged
    progress.wait("mastodon.example's rate limit", 3)
    progress.done("mastodon.example tag:日本語のタグ", "12 pages, 470 landed")
    assert pipe.getvalue() == ("  waiting 3.0 s for mastodon.example's rate limit\n"
                               "mastodon.example tag:日本語のタグ: 12 pages, 470 landed\n")
    monkeypatch.setattr(module, "PLAIN_SECONDS", 0.0)  # very long work: each update is past the interval
    log = io.StringIO()
    Progress(True, log).page("a public", 1, 40, 40)
    assert log.getvalue() == "a public: page 1, 40 fetched, 40 landed\n"


def test_a_pipe_folds_the_pacing_waits_into_its_page_line_and_keeps_the_reset_waits() -> None:
    """Was: with ``--progress`` on a pipe, every request paced within a rate-limit window wrote its own
    ``waiting 4.3 s for pacing requests …`` line (73 lines in 40 s, 2 of them page lines). Now the plain page line,
    every PLAIN_SECONDS, says how many pacing waits there were since the last one; a wait for a spent window to
    reset (a real rate-limit wait) still gets its line at once."""
    now = [0.0]
    pipe = io.StringIO()
    progress = Progress(True, pipe, clock=lambda: now[0])
    for page in range(1, 61):  # a page a second, each request paced by 0.5 s
        progress.wait("pacing requests to a.example (57 left in this rate-limit window)", 0.5, "pace")
        now[0] += 1
        progress.page("a.example public", page, 40 * page, 40 * page)
    progress.wait("the rate-limit window of a.example to reset (budget spent)", 12.0)
    progress.done("a.example public", "60 pages, 2400 landed")
    assert pipe.getvalue().splitlines() == [
        "a.example public: page 30, 1200 fetched, 1200 landed (paced: 30 waits, 15.0 s)",
        "a.example public: page 60, 2400 fetched, 2400 landed (paced: 30 waits, 15.0 s)",
        "  waiting 12.0 s for the rate-limit window of a.example to reset (budget spent)",
        "a.example public: 60 pages, 2400 landed",
    ]


def test_a_terminal_still_shows_each_pacing_wait() -> None:
    terminal = TerminalStream()
    progress = Progress(True, terminal)
    progress.page("a.example public", 1, 40, 40)
    progress.wait("pacing requests to a.example (57 left in this rate-limit window)", 0.5, "pace")
    assert "waiting 0.5 s for pacing requests to a.example" in terminal.getvalue()
