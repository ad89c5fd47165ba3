"""Reads of every row of a metric, a page at a time (``fediscope.python_api.metric_rows``, ``fediscope store
export``), while ``fediscope process`` writes the metric again: each page is one query, so a write committed
between two pages would give the first pages of the old rows and the rest of the new ones (rows missing, others
twice). The read is checked by the metric's generation: the Python API reads again and gets the new rows whole;
an export, whose pages are already written, fails saying to run it again, and ``--out`` is left as it was.

A real SQLite store, written between two pages by a second store object (its own connections, as the
``fediscope process`` of another process would).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_run import run

from fediscope import analysis
from fediscope import python_api as fs
from fediscope.engine.metrics import Metric, parse_metric
from fediscope.errors import ConfigError
from fediscope.store.port import open_store
from fediscope.store.sqlite import SQLiteStore

METRIC = parse_metric("followers", "-- question: Who has the most followers?\n-- key: account\n-- rank: followers\n"
                                   "SELECT 1")
OLD = [{"account": f"a{i}", "followers": 100 - i} for i in range(7)]  # a0 … a6
NEW = [{"account": f"a{i}", "followers": 200 + i} for i in range(7)]  # the same accounts, in the other order


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store holding OLD, read 2 rows a page."""
    monkeypatch.setattr(analysis, "PAGE_ROWS", 2)
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    _write(url, OLD)
    return url


def _write(url: str, rows: list[dict[str, Any]]) -> None:
    """The metric written with ``rows`` by a store of its own, as another process's ``fediscope process`` would."""
    writer = open_store(url)
    try:
        writer.write(METRIC, rows)
    finally:
        writer.close()


@pytest.fixture
def written_after_first_page(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The metric written again (NEW) once, right after the first page of a read; yields the pages read."""
    pages: list[int] = []
    top = SQLiteStore.top

    def top_then_write(self: SQLiteStore, metric: Metric, n: int, after: Any = None) -> list[dict[str, Any]]:
        rows = top(self, metric, n, after=after)
        pages.append(len(rows))
        if len(pages) == 1:
            _write(store_url, NEW)
        return rows

    monkeypatch.setattr(SQLiteStore, "top", top_then_write)
    yield pages


def by_rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: -row["followers"])


def test_metric_rows_read_while_the_metric_is_written_are_its_new_rows_whole(store_url: str,
                                                                             written_after_first_page: list[int]
                                                                             ) -> None:
    rows = fs.metric_rows(fs.settings(store=store_url), "followers")
    # not a0 and a1 of OLD alone: the page after a1's 99 followers holds none of NEW (200 and more)
    assert rows == by_rank(NEW)
    # the first page (the generation compared after it is the write's) is refused, then the whole read again,
    # once: 2, then 2 + 2 + 2 + 1 rows
    assert written_after_first_page == [2, 2, 2, 2, 1]


def test_an_export_overtaken_by_a_write_fails_and_leaves_its_out_file_as_it_was(
        store_url: str, written_after_first_page: list[int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "followers.csv"
    out.write_text("the export of yesterday\n")
    code, _, err = run(capsys, "store", "export", "followers", "--store", store_url, "--out", str(out))
    assert code == 1
    assert err.strip() == ("fediscope: error: metric followers was written again (fediscope process) while its rows "
                           "were read, so they would mix two writes: read it again once the write is done")
    assert out.read_text() == "the export of yesterday\n"
    code, out_text, err = run(capsys, "store", "export", "followers", "--store", store_url, "--format", "jsonl")
    assert (code, err) == (0, "")  # written once: read again, the export is whole
    assert out_text.count("\n") == len(NEW)


@pytest.mark.parametrize(("call", "wrong"), [
    (lambda settings: fs.metric_rows(settings, "followers", limit=0), "limit must be a whole number from 1 up (got 0)"),
    (lambda settings: fs.metric_rows(settings, "followers", -1), "limit must be a whole number from 1 up (got -1)"),
    (lambda settings: fs.analyses(settings, n=0), "n must be a whole number from 1 up (got 0)"),
    (lambda settings: fs.analysis(settings, "top_accounts", n=-3), "n must be a whole number from 1 up (got -3)"),
    (lambda settings: fs.analyses(settings, n=True), "n must be a whole number from 1 up (got True)"),
])
def test_a_count_of_rows_below_one_is_refused_not_answered_with_no_rows(store_url: str, call: Any,
                                                                        wrong: str) -> None:
    with pytest.raises(ConfigError) as raised:
        call(fs.settings(store=store_url))
    assert str(raised.value) == wrong
