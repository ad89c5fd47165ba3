"""``fediscope report`` says which days its numbers cover (text head, JSON ``period``, each chart's footnote), and
marks the first day of what ``fediscope process --since`` curated as the lake's records say it is.

One lake, collected from the sample instance by the CLI on two fetch days: three days ago at 13:00 (the first walk,
to the timeline's beginning; the instance's statuses end at noon), then today, after statuses were posted that
afternoon and the next day. ``--since`` today curates the second fetch alone: its first posted day lacks the morning
the first fetch collected.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_run import clean_env, exit_code, run
from report_text import unwrapped

from fediscope.cli import main
from fediscope.engine.base import starts_in_curated
from fediscope.lake.state import CollectionStart
from fediscope.report import FIRST_DAY_NOTE
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer

pytestmark = pytest.mark.slow  # two collections and a few process runs

KEY = "report-period-test-pseudonym-key-7c2e9a4b1d8f6e30"
#: the day of the first collection (three days ago, UTC midnight)
FIRST = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
FIRST_DAY, NEXT_DAY = FIRST.date().isoformat(), (FIRST + timedelta(days=1)).date().isoformat()


class _FirstFetch(datetime):
    """``datetime`` whose ``now`` is the first collection's moment: the pages it fetches land on that fetch day."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return FIRST.replace(hour=13)


def _cli(*args: str) -> None:
    try:
        code = exit_code(main(list(args)))
    except SystemExit as exc:
        code = exit_code(exc.code)
    assert code == 0, args


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw lake with its records of where the collection began (nothing curated)."""
    root = tmp_path_factory.mktemp("collected")
    instance = SampleInstance.generate(200, seed=7, end=FIRST.replace(hour=12))
    with pytest.MonkeyPatch.context() as patch, SampleServer(instance, rate_limit=100_000) as server:
        clean_env(root, patch, FEDISCOPE_LAKE=str(root / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
                  FEDISCOPE_BACKFILL_PAGES="1000")
        collect = ("collect", "--instance", server.url, "--timeline", "public")
        with pytest.MonkeyPatch.context() as clock:
            clock.setattr("fediscope.sources.pages.datetime", _FirstFetch)
            _cli(*collect)
        instance.grow(40, at=FIRST.replace(hour=18))
        instance.grow(40, at=FIRST + timedelta(days=1, hours=12))
        _cli(*collect)
    return root / "lake"


@pytest.fixture
def lake(collected: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the collected lake, and a shell whose FEDISCOPE_STORE is a fresh SQLite store."""
    shutil.copytree(collected, tmp_path / "lake")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY,
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'm.db'}")
    yield tmp_path / "lake"


def _process(capsys: pytest.CaptureFixture[str], *args: str) -> None:
    code, _, err = run(capsys, "process", "--no-progress", *args)
    assert code == 0, err


def _json_report(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = run(capsys, "report", "--format", "json", "--no-charts")
    assert code == 0, err
    return json.loads(out)


def _first_posted_day() -> str:
    """The first posted day of the curated statuses, as the curated ``statuses`` view holds them."""
    from fediscope.config import load_settings
    from fediscope.engine.base import open_engine

    with open_engine(load_settings(), "duckdb") as engine:
        engine.register_curated_views()
        (row,) = engine.query("SELECT strftime(min(dt), '%Y-%m-%d') AS first FROM statuses")
    return str(row["first"])


def _hashtags_per_day(report: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in report["analyses"] if a["name"] == "hashtags_per_day")


def test_the_report_says_the_days_it_covers_in_text_json_and_every_chart(lake, tmp_path, monkeypatch, capsys):
    """Was: nothing in the report said which days its numbers are of; a chart or the JSON read apart from the rest
    could be of any week. Now the text report's head, the JSON's ``period`` and a footnote on every chart give the
    first and last posted day (with their partial marks) and the day of the latest fetch."""
    from matplotlib.figure import Figure

    _process(capsys)
    report = _json_report(capsys)
    first = _first_posted_day()
    today = datetime.now(UTC).date().isoformat()
    assert first < FIRST_DAY  # the first walk reached the timeline's beginning
    days = (datetime.fromisoformat(NEXT_DAY) - datetime.fromisoformat(first)).days + 1
    assert report["period"] == {"first_day": first, "last_day": NEXT_DAY, "first_day_partial": False,
                                "last_day_partial": False, "latest_fetch_day": today, "days": days,
                                "metric": "posted_days"}

    said = f"statuses posted {first} to {NEXT_DAY}, UTC days; latest fetch on {today}"
    figures: list[Figure] = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    code, out, err = run(capsys, "report", "--out", str(tmp_path / "charts"))
    assert code == 0, err
    assert unwrapped(out).splitlines()[1] == f"Period: {said}"
    assert len(figures) == len(list((tmp_path / "charts").glob("*.png"))) == 6
    for figure in figures:
        assert f"Period: {said}" in [text.get_text() for text in figure.texts]


def test_a_since_window_that_leaves_out_the_first_walk_marks_its_first_day_partial(lake, capsys):
    """Was: ``fediscope process --since`` today, over a lake whose first walk (to the timeline's beginning) was
    fetched days before, curated the later fetch alone, whose statuses begin in the afternoon of the first fetch's
    day: that day lacked its morning, yet it was called whole (the lake's record says the collection began on an
    earlier day, whole). Now it is marked "(partial)"; once a run without --since curates the first walk, the
    series begins on the timeline's first day, whole, as the record says."""
    today = datetime.now(UTC).date().isoformat()
    _process(capsys, "--since", today)
    report = _json_report(capsys)
    hashtags = _hashtags_per_day(report)
    assert [row["day"] for row in hashtags["rows"]] == [FIRST_DAY, NEXT_DAY]
    assert hashtags["summary"]["first_day_partial"] is True and hashtags["summary"]["partial_days"] == [FIRST_DAY]
    assert report["period"]["first_day"] == FIRST_DAY and report["period"]["first_day_partial"] is True
    code, text, err = run(capsys, "report", "--no-charts")
    assert code == 0, err
    text = unwrapped(text)
    assert f"Period: statuses posted {FIRST_DAY} (partial) to {NEXT_DAY}, UTC days; " in text
    assert any(line.startswith(f"{FIRST_DAY} (partial) ") for line in text.splitlines())
    assert FIRST_DAY_NOTE in text

    _process(capsys)  # curates the first fetch too
    hashtags = _hashtags_per_day(_json_report(capsys))
    assert hashtags["rows"][0]["day"] < FIRST_DAY
    assert hashtags["summary"]["first_day_partial"] is False and hashtags["summary"]["partial_days"] == []


@pytest.mark.parametrize(("fetched", "cut"), [("2024-01-09", True), ("2024-01-08", False)])
def test_files_left_out_cut_the_first_curated_day_only_when_they_can_hold_its_statuses(fetched, cut):
    """A status dated more than an hour after its fetch is never curated, so raw files fetched two days or more
    before the first curated posted day hold none of that day's statuses: the records stand."""
    records = [CollectionStart("a.example", "end", datetime(2024, 1, 1).date()), CollectionStart("a.example",
                                                                                                 "unknown", None)]
    first = {"a.example": datetime(2024, 1, 10).date()}
    starts = starts_in_curated(records, {"a.example": datetime.fromisoformat(fetched).date()}, first)
    if cut:
        assert starts == [CollectionStart("a.example", "cut", first["a.example"]), records[1]]
    else:
        assert starts == records
