"""What a curation asks of its engine: on Spark every query and every materialised table is Spark jobs of their own,
each a fixed cost whatever the data (the cost of the Spark tests, and of a small incremental run), so a curation
asks for no copy and no count it can do without. Checked on DuckDB (the same calls, engine-independent), on REAL
recorded statuses.

Was: the markers of statuses that are not public were copied whole (``status_markers_kept``, two Spark jobs)
before the write read them once. (Under curation rules 1 the days of the new versions were read with their statuses
of an empty URI in one query, not two; rules 2 skips such statuses and counts none.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_data import at, land, policy, read_table, settings_for, statuses

from fediscope.engine.duckdb_engine import DuckDBEngine
from fediscope.lake.local import LocalLake


def test_a_curation_of_statuses_materialises_no_copy_and_asks_each_count_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake_dir = tmp_path / "lake"
    land(LocalLake(lake_dir), "statuses", statuses("test_public_tl.json"), at(0), policy())
    materialised: list[str] = []
    queries: list[str] = []
    materialize, query = DuckDBEngine.materialize, DuckDBEngine.query

    def recording_materialize(self: DuckDBEngine, name: str, sql: str) -> int:
        materialised.append(name)
        return materialize(self, name, sql)

    def recording_query(self: DuckDBEngine, sql: str) -> list[dict]:
        queries.append(sql)
        return query(self, sql)

    monkeypatch.setattr(DuckDBEngine, "materialize", recording_materialize)
    monkeypatch.setattr(DuckDBEngine, "query", recording_query)
    with DuckDBEngine(settings_for(lake_dir)) as engine:
        summary = engine.curate()

    assert summary.statuses_written > 0
    assert read_table(lake_dir, "statuses")  # curated, as before
    assert materialised == ["status_records", "status_versions", "statuses_latest", "statuses_merged",
                            "status_markers", "hashtag_rows", "account_versions", "accounts_merged"]
    # versions dated after their fetch; the new days; statuses not public; the days written
    assert len(queries) == 4, queries
