"""Curation keeps only public statuses, whatever the raw lake holds (DuckDB; Spark in test_spark_parity.py, the
MapReduce chain in tests/mapreduce/test_mapreduce_parity.py).

Landing never lands a followers-only or direct status, but raw files landed by other means (a NiFi flow, an older
release, files copied into the lake) may hold some. The input: REAL recorded statuses, and copies of recorded
statuses that differ ONLY in their ``visibility`` (tests/non_public_statuses.py), landed without landing's check.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from engine_data import assert_rows_equal, at, land, policy, read_table, settings_for, statuses, stored_rows
from non_public_statuses import boost, land_raw, tagged, with_visibility

from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake

METRICS = load_metrics()


def landed_uri(status: dict) -> str:
    return policy().apply("statuses", dict(status), "localhost:3000")["uri"]


@pytest.mark.parametrize("visibility", ["private", "direct", "limited", "followers"])
def test_a_status_that_is_not_public_leaves_every_table_and_metric(lake: LocalLake, lake_dir: Path, tmp_path: Path,
                                                                    visibility: str) -> None:
    """Was: curation kept it, so its hashtag, its engagement and its author's snapshot reached the metrics. Every
    metric now equals that of the same lake without it. ``followers`` is a visibility landing does not know
    (another server's word): not public either."""
    land(lake, "statuses", statuses("test_public_tl.json"), at(0), policy())
    twin = tmp_path / "twin" / "lake"
    shutil.copytree(lake_dir / "raw", twin / "raw")
    hidden = with_visibility(tagged(), visibility)  # a recorded status, only its visibility changed
    land_raw(lake, [hidden], at(1), policy())

    summary = run_process(settings_for(lake_dir), progress=False)
    run_process(settings_for(twin), progress=False)

    got, expected = stored_rows(settings_for(lake_dir).store), stored_rows(settings_for(twin).store)
    for name in METRICS:
        assert_rows_equal(got[name], expected[name], name)
    assert landed_uri(hidden) not in {r["uri"] for r in read_table(lake_dir, "statuses")}
    assert "hoot" not in {r["tag"] for r in read_table(lake_dir, "hashtags")}
    assert summary.curate["non_public_left_out"] == 1
    assert "1 status not public (followers-only, direct…) left out" in summary.line()


@pytest.mark.parametrize("runs", ["one run", "a run per fetch"])
def test_the_latest_version_decides(lake: LocalLake, lake_dir: Path, runs: str) -> None:
    """A status public when first fetched and followers-only at the next fetch leaves the curated tables (the
    latest version wins, as for an edit); made public again at a later fetch, it comes back. Alike whether the
    fetches are curated together or each in its own run."""
    base = tagged()
    settings = settings_for(lake_dir)

    def fetched(visibility: str, minutes: int) -> dict:
        land_raw(lake, [with_visibility(base, visibility)], at(minutes), policy())  # only the visibility differs
        return run_process(settings, progress=False).curate if runs == "a run per fetch" else {}

    fetched("public", 1)
    last = fetched("private", 2)
    if runs == "one run":
        last = run_process(settings, progress=False).curate
    assert read_table(lake_dir, "statuses") == [] and read_table(lake_dir, "hashtags") == []
    assert last["non_public_left_out"] == 1
    fetched("public", 3)
    run_process(settings, progress=False)
    assert [r["uri"] for r in read_table(lake_dir, "statuses")] == [landed_uri(base)]
    assert {r["tag"] for r in read_table(lake_dir, "hashtags")} == {"hoot"}


def test_a_boost_of_a_status_that_is_not_public_is_curated_as_nothing(lake: LocalLake, lake_dir: Path) -> None:
    """A public boost of a followers-only status (landing skips the whole record, ``reblog_of_non_public``): neither
    the share event nor the boosted status is curated, nor the snapshot of either author."""
    shared = boost()
    shared["reblog"] = with_visibility(shared["reblog"], "private")  # the recorded original, only visibility changed
    assert shared["visibility"] == "unlisted"
    land_raw(lake, [shared], at(1))  # as collected, without privacy: the policy would drop the whole record
    summary = run_process(settings_for(lake_dir), progress=False)
    assert read_table(lake_dir, "statuses") == [] and read_table(lake_dir, "accounts") == []
    assert summary.curate["non_public_left_out"] == 2  # the share event and its original


def test_no_author_of_a_quoted_status_that_is_not_public(lake: LocalLake, lake_dir: Path) -> None:
    """A quote of a followers-only status (landing drops the quoted status): the quote is curated, without the
    quoted status's author (``quoted_account_key``)."""
    from non_public_statuses import recorded

    quote = recorded("test_status_post_with_quote.json", lambda s: (s.get("quote") or {}).get("quoted_status"))
    hidden = dict(quote, quote=dict(quote["quote"], quoted_status=with_visibility(quote["quote"]["quoted_status"],
                                                                                   "private")))
    land_raw(lake, [quote], at(1))  # as collected, without privacy (the policy would drop the quoted status)
    run_process(settings_for(lake_dir), progress=False)
    (row,) = read_table(lake_dir, "statuses")
    assert row["quoted_account_key"] == "mastodonpy_test@localhost:3000"
    land_raw(lake, [hidden], at(2))  # a later fetch: the quoted status, only its visibility changed
    run_process(settings_for(lake_dir), progress=False)
    (row,) = read_table(lake_dir, "statuses")
    assert row["uri"] == quote["uri"] and row["quoted_account_key"] is None
