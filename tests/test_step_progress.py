"""The progress lines of long commands (:mod:`fediscope.step_progress`)."""

from __future__ import annotations

import io

from terminal_screen import TerminalStream

from fediscope.step_progress import LineProgress, StatusLine, in_steps


def test_a_long_pass_says_how_far_it_got_each_tenth_and_at_the_end() -> None:
    said: list[str] = []
    assert list(in_steps(list(range(25)), "pass", said.append)) == list(range(25))
    assert said == [f"pass: {n}/25" for n in (3, 6, 9, 12, 15, 18, 21, 24, 25)]
    said.clear()
    assert list(in_steps([], "pass", said.append)) == [] and said == []
    assert list(in_steps(["a", "b"], "pass", None)) == ["a", "b"]  # nobody told: nothing said


def test_lines_are_written_only_when_enabled() -> None:
    stream = io.StringIO()
    LineProgress(False, stream)("hidden")
    LineProgress(True, stream)("shown")
    assert stream.getvalue() == "shown\n"


def test_a_status_line_on_a_terminal_fits_its_width_and_blanks_no_more_than_it_wrote(monkeypatch) -> None:
    """Was (``store export``, ``lake ls --records``): cleared with 60 spaces, which wrap a 40-column terminal and
    leave the cursor a row down. A CJK character takes two columns."""
    monkeypatch.setenv("COLUMNS", "20")
    terminal = TerminalStream()
    line = StatusLine(terminal)
    line.show("counting 日本語 files: 1/300")  # 27 columns: cut to 19
    line.show("short")
    line.clear()
    line.finish("a final line wider than twenty columns")  # whole
    assert terminal.getvalue().split("\r")[1:] == ["counting 日本語 fi…", "short" + " " * 14, " " * 5, "",
                                                   "a final line wider than twenty columns\n"]


def test_a_status_line_on_a_pipe_writes_plain_lines_now_and_then() -> None:
    pipe, now = io.StringIO(), [0.0]
    line = StatusLine(pipe, plain_seconds=30, clock=lambda: now[0])
    line.show("pass: 1/9")  # at the start: nothing yet
    now[0] = 31
    line.show("pass: 5/9")
    now[0] = 40
    line.show("pass: 6/9")  # 9 s after the last line
    line.clear()
    line.finish("pass: done")
    assert pipe.getvalue() == "pass: 5/9\npass: done\n"
    quiet = io.StringIO()
    now[0] = 1000
    StatusLine(quiet, clock=lambda: now[0]).show("never in a log")  # no plain_seconds: only final lines
    assert quiet.getvalue() == ""
