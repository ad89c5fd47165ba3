"""One wording of a metric whose rows cannot be read, on every read path of its rows, on a real SQLite store: a table
dropped by hand is ``metric <name>: its table … is missing (dropped by hand?): <fix>`` (where nothing else names the
store, after ``store <url>: `` and with the ``fediscope doctor`` hint), rows this version does not decode ``metric
<name> in the store does not have what … reads (…)``. Was: the report's other metrics (text and ``--format json``)
said a dropped table without its metric, ``Could not read day_uses: its table metric_day_uses is missing …``, where
the analyses, ``fs.analyses`` and every command named it. The results API and the Airflow verify task are checked
beside their other tests (tests/api/test_api_results_stale.py, tests/airflow/test_orchestration.py), ``gdpr export``
in tests/gdpr/test_gdpr_stale_metric.py."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from cli_run import clean_env, run
from report_text import unwrapped

from fediscope import python_api as fs
from fediscope.analysis import metric
from fediscope.engine.metrics import parse_metric
from fediscope.errors import MissingTableError, StoreError
from fediscope.store.port import open_store

#: a metric no analysis reads (the report's "other metrics"), read by the key and rank the store recorded
OWN = parse_metric("day_uses", "-- question: q?\n-- key: day, tag\n-- rank: uses DESC\nSELECT 1")
OWN_ROWS = [{"tag": "a", "day": "2024-01-01", "uses": 5, "mean": 0.5},
            {"tag": "b", "day": "2024-01-02", "uses": 1, "mean": 2.0}]
#: the metric the analysis ``languages`` reads
LANGUAGES_ROWS = [{"language": "en", "toots": 3, "share": 0.75}, {"language": "de", "toots": 1, "share": 0.25}]
#: how each metric is damaged behind the store's back, and the reason the message gives for undecodable rows
DAMAGE = {
    "dropped": {"day_uses": ("DROP TABLE metric_day_uses", None),
                "languages": ("DROP TABLE metric_languages", None)},
    "undecodable": {"day_uses": ("UPDATE metric_day_uses SET mean = 'lots'",
                                 "could not convert string to float: 'lots'"),
                    "languages": ("UPDATE metric_languages SET toots = 'lots'",
                                  "invalid literal for int() with base 10: 'lots'")},
}
PYTHON_RERUN = "`fediscope process` (fediscope.python_api.process)"


def dropped(name: str, rerun: str = "`fediscope process`") -> str:
    """Its fix names the caller's rerun as a stale metric's does (was: `fediscope process` alone, from the Python API
    too)."""
    return (f"metric {name}: its table metric_{name} is missing (dropped by hand?): run {rerun} to write it again "
            f"(`fediscope store drop {name}` if no SQL file defines it any more)")


def stale(name: str, reason: str, reader: str = "this fediscope version", rerun: str = "`fediscope process`") -> str:
    return (f"metric {name} in the store does not have what {reader} reads ({reason}), as when another fediscope "
            f"version stored it; re-run {rerun} with this version to store it again")


@pytest.fixture(params=list(DAMAGE))
def damaged(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """``day_uses`` and ``languages`` stored in SQLite, then both damaged by hand as :data:`DAMAGE` says; the CLI
    pointed at the store. Yields the damage and the store's file."""
    path = tmp_path / "metrics.db"
    with contextlib.closing(open_store(f"sqlite:///{path}")) as store:
        store.write(OWN, OWN_ROWS)
        store.write(metric("languages"), LANGUAGES_ROWS)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for statement, _ in DAMAGE[request.param].values():
            db.execute(statement)
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=f"sqlite:///{path}")
    return request.param, path


def in_a_report(kind: str, name: str, reader: str | None = None, rerun: str = "`fediscope process`") -> str:
    """What a report (text, JSON, ``fs.analyses``) says of ``name``, read by analysis ``reader`` if any: the report
    names the store in its head."""
    reason = DAMAGE[kind][name][1]
    if reason is None:
        return dropped(name, rerun)
    return stale(name, reason, f"analysis {reader}" if reader else "this fediscope version", rerun)


def on_its_own(kind: str, name: str, path: Path, rerun: str = "`fediscope process`") -> str:
    """What a read of ``name`` alone says (``store export``, ``fs.metric_rows``): nothing else names the store."""
    reason = DAMAGE[kind][name][1]
    if reason is None:
        return f"store sqlite:///{path}: {dropped(name, rerun)}; `fediscope doctor` lists every missing table"
    return stale(name, reason, rerun=rerun)


def test_the_text_report_says_it_of_an_analysis_and_of_another_metric_alike(damaged, capsys) -> None:  # noqa: ANN001
    kind, _ = damaged
    code, out, err = run(capsys, "report", "--no-charts")
    assert code == 1 and "Traceback" not in err
    lines = unwrapped(out).splitlines()
    assert f"Could not read day_uses: {in_a_report(kind, 'day_uses')}" in lines
    assert f"Could not compute languages: {in_a_report(kind, 'languages', 'languages')}" in lines
    # said once, on stdout, and named by the error lines: stderr holds nothing else (was: a WARNING log line of
    # each failure too, "… WARNING fediscope.analysis analysis=languages failed: <the same text>")
    assert err == ERROR_LINES


#: stderr of a report with an analysis and another metric unread, whatever its --format
ERROR_LINES = ("fediscope: error: 1 analysis could not be computed (see above)\n"
               "fediscope: error: 1 other metric could not be read (see above): day_uses\n")


def test_the_json_report_says_it_so_too(damaged, capsys) -> None:  # noqa: ANN001
    kind, _ = damaged
    code, out, err = run(capsys, "report", "--no-charts", "--format", "json")
    assert code == 1 and "Traceback" not in err
    document = json.loads(out)
    assert err == ERROR_LINES
    assert document["ok"] is False
    assert document["failed"] == {"languages": in_a_report(kind, "languages", "languages")}
    assert document["other_metrics"]["day_uses"]["error"] == in_a_report(kind, "day_uses")


def test_the_python_api_says_it_so(damaged) -> None:  # noqa: ANN001
    kind, path = damaged
    settings = fs.settings(store=f"sqlite:///{path}")
    assert fs.analyses(settings).failed == {"languages": in_a_report(kind, "languages", "languages", PYTHON_RERUN)}
    with pytest.raises(StoreError) as analysis:
        fs.analysis(settings, "languages")
    said = in_a_report(kind, "languages", "languages", PYTHON_RERUN)
    assert str(analysis.value) == (f"analysis languages: {said}" if kind == "dropped" else said)
    for name in ("day_uses", "languages"):
        with pytest.raises(StoreError) as rows:
            fs.metric_rows(settings, name)
        assert isinstance(rows.value, MissingTableError) == (kind == "dropped")
        assert str(rows.value) == on_its_own(kind, name, path, PYTHON_RERUN)


@pytest.mark.parametrize("name", ["day_uses", "languages"])
def test_store_export_says_it_in_one_line_exit_1(damaged, capsys, name: str) -> None:  # noqa: ANN001
    kind, path = damaged
    code, out, err = run(capsys, "store", "export", name)
    assert (code, out, err) == (1, "", f"fediscope: error: {on_its_own(kind, name, path)}\n")
