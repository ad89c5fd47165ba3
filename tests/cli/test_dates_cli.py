"""A DATE option takes exactly ``YYYY-MM-DD``, as its help and error say.

Python 3.11's ``date.fromisoformat`` also takes ``20261128`` and ISO week dates (``2026-W48-1``), so
``fediscope process --since 20261128`` ran, curating from a day the user may not have meant, although the message
for a bad date says YYYY-MM-DD.
"""

from __future__ import annotations

import pytest
from cli_run import clean_env, run

LOOSE_DATES = ["20261128", "2026-W48-1", "2026W481"]


@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("value", LOOSE_DATES)
def test_process_refuses_a_date_not_written_yyyy_mm_dd(tmp_path, monkeypatch, capsys, option: str,
                                                       value: str) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"))

    code, out, err = run(capsys, "process", option, value)

    assert code == 2 and out == ""
    assert f"Invalid value for '{option}': {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-23" in err
    assert "Traceback" not in err


def test_process_takes_a_date_written_yyyy_mm_dd(tmp_path, monkeypatch, capsys) -> None:
    """The option is read, and the run goes on to find no lake (exit 1), not a usage error (exit 2)."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"))

    code, _out, err = run(capsys, "process", "--since", "2026-11-28", "--until", "2026-11-30")

    assert code == 1 and "no lake at" in err, err
