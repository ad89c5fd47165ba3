"""Statuses with an empty ``uri`` (a hostile or broken server's, valid JSON; landed with privacy off, or by other means
than fediscope's collectors) are curated as privacy-on landing lands them: without a URI, so skipped.

Was (curation rules version 1): the merge keeps one row per URI, so every status with an empty URI was taken for a
version of one status: three different statuses became one curated row (the latest), the two others gone, counted
(``empty_uri_statuses``) and said. Rules version 2 treats an empty URI as none (``curate_sql._uri``), as privacy on
does (the status is landed without a ``uri``): not keyed by (instance, id) instead, which would count a status fetched
from two instances twice, and give a boost nothing to name. The changed rules tell a lake curated under version 1 to
re-curate, and ``--recurate`` rebuilds it without the merged row. Input: REAL recorded statuses, their URIs emptied.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_data import at, land, policy, read_table, settings_for, statuses, variant

from fediscope.engine.base import open_engine
from fediscope.engine.curate_sql import rules_fingerprint
from fediscope.engine.manifest import MANIFEST_PATH, load_manifest
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake

#: The curation rules fingerprint fediscope recorded in a lake's manifest under rules version 1 (before an empty URI
#: was none): what a lake curated by the release before holds.
RULES_1 = "8e289683b0f2ba44"


def _land(lake_dir: Path, privacy: bool = False) -> dict:
    """Three variants of a recorded status with an empty URI (each its own id and counts), and the recorded status
    itself, landed with privacy off (or on); the recorded status."""
    base = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    empty = [variant(base, str(i), uri="", favourites_count=i) for i in range(1, 4)]
    land(LocalLake(lake_dir), "statuses", [base, *empty], at(1), policy() if privacy else None)
    return base


def test_statuses_with_an_empty_uri_are_skipped_as_with_privacy_on(tmp_path: Path) -> None:
    off, on = tmp_path / "off" / "lake", tmp_path / "on" / "lake"
    base = _land(off)
    _land(on, privacy=True)

    for lake_dir in (off, on):
        with open_engine(settings_for(lake_dir), "duckdb") as engine:
            summary = engine.curate()
        assert summary.status_versions == 1, lake_dir
        assert not hasattr(summary, "empty_uri_statuses")
    assert [(row["uri"], row["status_id"]) for row in read_table(off, "statuses")] == [(base["uri"], base["id"])]
    assert len(read_table(on, "statuses")) == 1  # the same status, pseudonymised


def test_the_process_summary_says_nothing_of_them(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lake_dir = tmp_path / "lake"
    _land(lake_dir)

    with caplog.at_level(logging.WARNING, logger="fediscope.engine.curation"):
        summary = run_process(settings_for(lake_dir), progress=False)

    assert "empty_uri_statuses" not in summary.curate
    assert "empty uri" not in summary.line() and not [r for r in caplog.records if "empty uri" in r.getMessage()]


def test_privacy_on_lands_no_status_with_an_empty_uri() -> None:
    base = next(s for s in statuses("test_public_tl.json") if not s.get("reblog"))
    landed = policy().apply("statuses", variant(base, "1", uri=""), "localhost:3000")
    assert landed is not None and "uri" not in landed


def _as_rules_1_left_it(lake_dir: Path) -> None:
    """What curation under rules version 1 left in the lake: the manifest's rules, and the row it made of the
    statuses with an empty URI (the latest of them: one more row in the partition, with an empty URI)."""
    (file,) = sorted((lake_dir / "curated" / "statuses").rglob("*.parquet"))
    table = pq.read_table(file, partitioning=None)
    merged = table.slice(0, 1)
    merged = merged.set_column(merged.schema.get_field_index("uri"), "uri", pa.array([""], type=pa.string()))
    pq.write_table(pa.concat_tables([table, merged]), file)
    path = lake_dir / MANIFEST_PATH
    body = json.loads(path.read_text())
    body["rules"] = RULES_1
    path.write_text(json.dumps(body))


def test_a_lake_curated_under_rules_1_is_told_to_re_curate_and_rebuilds_cleanly(tmp_path: Path) -> None:
    lake_dir, twin = tmp_path / "lake", tmp_path / "twin" / "lake"
    _land(lake_dir)
    shutil.copytree(lake_dir / "raw", twin / "raw")
    run_process(settings_for(twin), progress=False)  # the reference: curated fresh under the rules now
    run_process(settings_for(lake_dir), progress=False)
    _as_rules_1_left_it(lake_dir)
    assert rules_fingerprint() != RULES_1

    told = run_process(settings_for(lake_dir), progress=False)
    assert told.curate["rules_changed"]
    assert ("(rows curated before were made by other curation rules: --recurate rebuilds them)" in told.line())
    assert sorted(row["uri"] for row in read_table(lake_dir, "statuses")).count("") == 1  # kept until the rebuild

    rebuilt = run_process(settings_for(lake_dir), progress=False, recurate=True)
    assert rebuilt.curate["rebuilt"] and not rebuilt.curate["rules_changed"]
    rows = read_table(lake_dir, "statuses")
    assert all(row["uri"] for row in rows)
    assert rows == read_table(twin, "statuses")
    assert load_manifest(LocalLake(lake_dir)).rules == rules_fingerprint()
    assert not run_process(settings_for(lake_dir), progress=False).curate["rules_changed"]


@pytest.mark.spark
def test_spark_skips_them_alike(spark, tmp_path: Path) -> None:  # noqa: ANN001
    """Each engine's ``curate()`` alone: only the curated table is compared, and the process path on Spark is
    test_spark_parity.py's ``test_process_with_spark_matches_duckdb`` (the metrics cost a Spark run seconds more)."""
    from fediscope.engine.spark_engine import SparkEngine

    lake_dir, twin = tmp_path / "spark" / "lake", tmp_path / "duckdb" / "lake"
    base = _land(lake_dir)
    _land(twin)

    with SparkEngine(settings_for(lake_dir), spark=spark) as engine:
        engine.curate()
    with open_engine(settings_for(twin), "duckdb") as engine:
        engine.curate()

    assert [row["uri"] for row in read_table(lake_dir, "statuses")] == [base["uri"]]
    assert sorted(map(repr, read_table(lake_dir, "statuses"))) == sorted(map(repr, read_table(twin, "statuses")))
