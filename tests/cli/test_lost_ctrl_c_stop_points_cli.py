"""A Ctrl-C lost in a finalizer stops ``fediscope report`` and ``fediscope store export`` at their next stop point.

Python cannot raise KeyboardInterrupt out of a finalizer (DuckDB's, Arrow's, matplotlib's); the command line notes
it (:class:`~fediscope.interrupts.LostInterrupts`) and the work stops at its next :func:`~fediscope.interrupts.
raise_if_lost`, as ``process`` does between metrics and ``collect`` between pages. Was: these commands had none, so
such a Ctrl-C ended them only after all their work: every analysis computed and every chart drawn, every row
exported (exit 130 then).
"""

from __future__ import annotations

import pytest
from cli_run import run
from lost_ctrl_c import losing_at_the_first_call
from test_report import cli_env, loaded_store  # noqa: F401 - fixtures
from test_report_own_metrics import processed  # noqa: F401 - a fixture

import fediscope.analysis as analysis
import fediscope.store.export as export

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


def test_a_lost_ctrl_c_stops_the_report_after_the_analysis_it_came_in(capsys, loaded_store, cli_env,  # noqa: F811
                                                                      monkeypatch) -> None:
    calls: list = []
    monkeypatch.setattr(analysis, "ANALYSES", tuple((losing_at_the_first_call(each, calls), name)
                                                    for each, name in analysis.ANALYSES))
    code, out, err = run(capsys, "report", "--out", "charts")
    assert (code, err.splitlines()[-1]) == (130, "fediscope: interrupted"), err
    assert len(calls) == 1  # no other analysis computed
    assert not (cli_env / "charts").exists() and "==" not in out  # no chart drawn, no section printed


def test_a_lost_ctrl_c_stops_the_store_export_after_the_page_it_came_in(capsys, processed,  # noqa: F811
                                                                        monkeypatch) -> None:
    monkeypatch.setattr(analysis, "PAGE_ROWS", 2)  # a page of two rows: several pages
    code, whole, err = run(capsys, "store", "export", "language_mix", "--format", "jsonl")
    assert code == 0 and len(whole.splitlines()) > 4, err
    calls: list = []
    monkeypatch.setattr(export, "_page_text", losing_at_the_first_call(export._page_text, calls))
    code, out, err = run(capsys, "store", "export", "language_mix", "--format", "jsonl")
    assert (code, err.splitlines()[-1]) == (130, "fediscope: interrupted"), err
    assert len(calls) == 1 and out.splitlines() == whole.splitlines()[:2]  # the first page, no other
