"""The curated pass of an erasure looks in Python only at the rows Arrow says may hold a trace
(:func:`fediscope.gdpr.curated._candidates`), and the result is that of looking at every row."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from gdpr_lake import SUBJECT

from fediscope.config import Settings
from fediscope.engine.process import run_process
from fediscope.gdpr import curated
from fediscope.gdpr.curated import curated_rows_about, erase_curated
from fediscope.gdpr.erase import erase_account, find_all_traces, find_traces
from fediscope.gdpr.subject import subject_from_settings
from fediscope.lake.backend import open_lake


@pytest.fixture()
def processed(landed: Any) -> Any:
    """The recordings landed and processed (DuckDB, SQLite)."""
    run_process(landed.settings, progress=False)
    return landed


def _copy(settings: Settings, to: Path) -> Settings:
    """Settings of a copy of the lake and store of ``settings``, made under ``to``."""
    lake_dir, db = to / "lake", to / "store.db"
    shutil.copytree(settings.lake, lake_dir)
    shutil.copy2(settings.store.removeprefix("sqlite:///"), db)
    return replace(settings, lake=str(lake_dir), store=f"sqlite:///{db}")


def _curated_files(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every curated file's rows, in the file's order."""
    lake_dir = Path(settings.lake)
    return {str(path.relative_to(lake_dir)): pq.read_table(path).to_pylist()
            for path in sorted((lake_dir / "curated").rglob("*.parquet"))}


def _every_row(table: pa.Table, *_: Any) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array([True] * table.num_rows, pa.bool_())])


def test_erasing_with_the_row_filter_gives_what_looking_at_every_row_gives(processed: Any, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    every_row = _copy(processed.settings, tmp_path / "every-row")
    filtered = erase_account(processed.settings, SUBJECT).as_dict()
    with monkeypatch.context() as patch:
        patch.setattr(curated, "_candidates", _every_row)  # the pass as it was: each row of each file in Python
        walked = erase_account(every_row, SUBJECT).as_dict()

    assert filtered["curated"]["rows_removed"] > 0 and filtered["curated"]["rows_scrubbed"] > 0
    assert {k: v for k, v in filtered.items() if k != "at"} == {k: v for k, v in walked.items() if k != "at"}
    assert _curated_files(processed.settings) == _curated_files(every_row)  # every row, in the same order


def test_only_the_rows_that_may_hold_a_trace_are_looked_at_in_python(processed: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    rows = sum(len(each) for each in _curated_files(processed.settings).values())
    seen: list[dict[str, Any]] = []
    belongs = curated._belongs

    def counting(row: dict[str, Any], *args: Any) -> bool:
        seen.append(row)
        return belongs(row, *args)

    monkeypatch.setattr(curated, "_belongs", counting)
    report = erase_account(processed.settings, SUBJECT)

    changed = report.curated["rows_removed"] + report.curated["rows_scrubbed"]
    assert changed <= len(seen) < rows / 2, (changed, len(seen), rows)


def test_a_trace_is_found_in_strings_nested_in_lists_structs_and_maps() -> None:
    table = pa.table({
        "text": pa.array(["x", None, "it says key.1 here", "y", "z"]),
        "list": pa.array([["u"], None, [], ["w", "(key.1)"], None], pa.list_(pa.string())),
        "map": pa.array([[("k", "v")], None, [], [], [("key.1", "q")]], pa.map_(pa.string(), pa.string())),
        "struct": pa.array([{"f": "key.1", "n": 1}, None, {"f": None, "n": 2}, {"f": "n", "n": 3}, None],
                           pa.struct([("f", pa.string()), ("n", pa.int64())])),
        "number": pa.array([1, 2, 3, 4, 5]),
    })
    table = pa.concat_tables([table, table.slice(1)])  # two chunks, the second a slice

    assert curated._holds_any(table, frozenset({"key.1"})).to_pylist() == [True, False, True, True, True,
                                                                           False, True, True, True]
    assert curated._holds_any(table, frozenset({"key+1", "u"})).to_pylist() == [True] + [False] * 8
    assert curated._holds_any(table, frozenset({"5"})).to_pylist() == [False] * 9  # numbers hold no text


def test_the_traces_of_an_account_of_tens_of_thousands_of_statuses_are_all_searched() -> None:
    """Was: one RE2 pattern of all the account's values, which RE2 refuses past its memory budget ("pattern too
    large - compile failed", an ArrowInvalid out of the erasure) at about 50,000 status links."""
    values = frozenset(f"urn:fediscope:{n:032x}/statuses/{10**15 + n}" for n in range(60_000))
    first, last = sorted(values)[0], sorted(values)[-1]
    table = pa.table({"uri": pa.array(["none here", f"boost of {last}", first, "urn:fediscope:0/statuses/1"])})

    assert curated._holds_any(table, values).to_pylist() == [False, True, True, False]


def test_the_curated_pass_alone_gives_what_looking_at_every_row_gives(processed: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the raw pass before it (raw batches retention dropped), only the rows' own values lead to them."""
    every_row = _copy(processed.settings, tmp_path / "every-row")
    found = find_all_traces(open_lake(processed.settings.lake),
                            [subject_from_settings(processed.settings, SUBJECT)])
    filtered = erase_curated(open_lake(processed.settings.lake), found)
    with monkeypatch.context() as patch:
        patch.setattr(curated, "_candidates", _every_row)
        walked = erase_curated(open_lake(every_row.lake), found)

    assert filtered["rows_removed"] > 0 and filtered["rows_scrubbed"] > 0
    assert filtered == walked
    assert _curated_files(processed.settings) == _curated_files(every_row)


def test_the_export_with_the_row_filter_finds_what_looking_at_every_row_finds(processed: Any,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    traces = find_traces(processed.lake, subject_from_settings(processed.settings, SUBJECT))
    filtered = curated_rows_about(processed.lake, traces)
    with monkeypatch.context() as patch:
        patch.setattr(curated, "_candidates", _every_row)  # the export as it was: each row of each file in Python
        walked = curated_rows_about(processed.lake, traces)

    assert filtered["statuses"] and filtered["statuses (references)"], sorted(filtered)
    assert filtered == walked  # every row, in the same order
