"""The progress lines of long commands (:mod:`fediscope.step_progress`)."""

from __future__ import annotations

import io

from fediscope.step_progress import LineProgress, in_steps


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
