"""Statuses with an empty ``uri`` (a hostile or broken server's, valid JSON; landed with privacy off, or by other means
than fediscope's collectors) are counted and said: curation keeps one row per URI, so they are one status to it.

Was: three different statuses with an empty URI became one curated row (the latest), the two others gone without a
word. Curated as they were (treating an empty URI as none would change the curation rules, and tell every lake to
re-curate), but the run counts them (``empty_uri_statuses``) and says so. Input: REAL recorded statuses, their URIs
emptied; privacy on lands no such status (a status without a URI is skipped, as the curation skips one).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from engine_data import at, land, policy, read_table, settings_for, statuses, variant

from fediscope.engine.base import open_engine
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake


def _land(lake_dir: Path) -> list[dict]:
    """Three variants of a recorded status with an empty URI (each its own id and counts), and the recorded status
    itself, landed with privacy off."""
    base = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    empty = [variant(base, str(i), uri="", favourites_count=i) for i in range(1, 4)]
    land(LocalLake(lake_dir), "statuses", [base, *empty], at(1))
    return empty


def test_statuses_with_an_empty_uri_are_counted_and_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lake_dir = tmp_path / "lake"
    empty = _land(lake_dir)

    with caplog.at_level(logging.WARNING, logger="fediscope.engine.curation"), \
            open_engine(settings_for(lake_dir), "duckdb") as engine:
        summary = engine.curate()

    assert summary.empty_uri_statuses == 3
    rows = read_table(lake_dir, "statuses")
    assert sorted(row["uri"] for row in rows).count("") == 1 and len(rows) == 2  # one row per URI, as before
    (kept,) = [row for row in rows if row["uri"] == ""]
    assert kept["status_id"] == empty[-1]["id"]  # the most favourited: the latest version's rule
    assert [r.getMessage() for r in caplog.records if "empty uri" in r.getMessage()] == [
        "curation: 3 statuses with an empty uri, merged as versions of one status (one row per URI: the latest is "
        "kept); raw files landed with privacy off or by other means"]


def test_the_process_summary_says_them(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    _land(lake_dir)

    summary = run_process(settings_for(lake_dir), progress=False)

    assert summary.curate["empty_uri_statuses"] == 3
    assert "(3 statuses with an empty uri merged as one)" in summary.line()


def test_privacy_on_lands_no_status_with_an_empty_uri() -> None:
    base = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    landed = policy().apply("statuses", variant(base, "1", uri=""), "localhost:3000")
    assert landed is not None and "uri" not in landed


@pytest.mark.spark
def test_spark_counts_them_alike(spark, tmp_path: Path) -> None:  # noqa: ANN001
    lake_dir, twin = tmp_path / "spark" / "lake", tmp_path / "duckdb" / "lake"
    _land(lake_dir)
    _land(twin)

    on_spark = run_process(settings_for(lake_dir), engine="spark", progress=False, engine_options={"spark": spark})
    on_duckdb = run_process(settings_for(twin), engine="duckdb", progress=False)

    assert on_spark.curate["empty_uri_statuses"] == on_duckdb.curate["empty_uri_statuses"] == 3
    assert sorted(map(repr, read_table(lake_dir, "statuses"))) == sorted(map(repr, read_table(twin, "statuses")))
