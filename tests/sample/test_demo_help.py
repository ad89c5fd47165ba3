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


@pytest.mark.parametrize(("argv", "expected"), [
    (["--port", "70000"], "--port must be between 0 and 65535"),
    (["--port", "-1"], "--port must be between 0 and 65535"),
    (["--statuses", "0"], "--statuses must be >= 1"),
    (["--new", "-1"], "--new must be >= 0"),
    (["--statuses", "0", "--port", "70000"], "--statuses must be >= 1; --port must be between 0 and 65535"),
])
def test_a_bad_option_is_named_alone(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    """Was: any one of them got "--statuses must be >= 1, --new >= 0 and --port between 0 and 65535"."""
    with pytest.raises(SystemExit) as done:
        parse_args(argv)
    assert done.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == f"python -m fediscope.demo: error: {expected}"
