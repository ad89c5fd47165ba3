"""``python -m fediscope.demo --help``, which the README points to for the demo's options."""

from __future__ import annotations

import pytest

from fediscope.demo import parse_args


def test_help_reads_as_text_not_as_the_docstring_markup(capsys: pytest.CaptureFixture[str]) -> None:
    """Was: its description was the module docstring's first paragraph as is: ``make demo`` (``python -m …``)."""
    with pytest.raises(SystemExit) as done:
        parse_args(["--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # as wrapped for any terminal width
    assert "``" not in shown
    assert "`make demo` (`python -m fediscope.demo`): the whole pipeline on one machine" in shown
    for option in ("--statuses", "--seed", "--port", "--new", "--dir", "--fresh"):  # the README's list
        assert option in shown
