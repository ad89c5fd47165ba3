"""A DATE option takes exactly ``YYYY-MM-DD``, as its help and error say.

Python 3.11's ``date.fromisoformat`` also takes ``20261128`` and ISO week dates (``2026-W48-1``), so
``fediscope process --since 20261128`` ran, curating from a day the user may not have meant, although the message
for a bad date says YYYY-MM-DD.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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


def _lake_with_data(tmp_path, monkeypatch) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_STORE=f"sqlite:///{tmp_path}/s.db",
              FEDISCOPE_PSEUDONYM_KEY="cli-dates-test-pseudonym-key-7c1e9a3f5b2d8e4a6c0f")
    from fediscope.config import load_settings
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    settings = load_settings()
    write_raw_lake(open_lake(settings.lake), 40, seed=7, policy=policy_from_settings(settings))


def test_process_warns_of_a_since_after_today_not_of_today(tmp_path, monkeypatch, capsys) -> None:
    """Was: ``--since 2099-01-01`` (a typo, most likely) ran silently: ``nothing new to curate``, exit 0. The run
    still goes on (exit 0: the window is valid), with one warning on stderr; a window from today or before has
    none."""
    _lake_with_data(tmp_path, monkeypatch)
    today = datetime.now(UTC).date()
    for since in (today, date(2000, 1, 1)):
        code, _out, err = run(capsys, "process", "--since", since.isoformat())
        assert code == 0 and "warning" not in err, err
    for since in (today + timedelta(days=1), date(2099, 1, 1)):
        code, out, err = run(capsys, "process", "--since", since.isoformat())
        if datetime.now(UTC).date() != today:  # midnight passed (UTC) while it ran: "tomorrow" became today
            pytest.skip("the UTC day changed during the run")
        assert code == 0 and "nothing new to curate" in out, err
        assert err.splitlines() == [f"fediscope: warning: --since {since} is after today ({today}, UTC): no raw "
                                    "file was fetched that late, so this run curates nothing new (a typo?)"], err


def test_report_after_a_window_that_curated_nothing_says_so(tmp_path, monkeypatch, capsys) -> None:
    """Was: ``the metrics … have no rows: the lake held no data when `fediscope process` ran; run `fediscope
    collect`, then `fediscope process``` after ``process --until 2000-01-01`` (meant: ``--since``), although the lake
    holds data and the run said it left its raw files uncurated: collecting again would change nothing."""
    _lake_with_data(tmp_path, monkeypatch)
    code, out, err = run(capsys, "process", "--until", "2000-01-01")
    assert code == 0 and "outside --since/--until left uncurated" in out, err
    code, out, err = run(capsys, "report", "--no-charts")
    assert (code, out) == (1, "")
    assert err == (f"fediscope: error: the metrics in sqlite:///{tmp_path}/s.db have no rows: the run that computed "
                   "them curated no raw file, as none was fetched within its window (until "
                   "2000-01-01); run `fediscope process` without --since/--until, or with a window holding days its "
                   "raw files were fetched (their dt= partitions, which `fediscope lake ls` shows)\n")
    code, out, err = run(capsys, "process")  # the advice: the same lake, without the window
    assert code == 0 and "curated" in out, err
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 0 and "== Languages ==" in out, err
