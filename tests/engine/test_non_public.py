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
from non_public_statuses import boost, land_raw, tagged, visible, with_visibility

from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.backend import LakeBackend
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
    assert landed_uri(hidden) not in {r["uri"] for r in public_rows(lake_dir)}
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
    assert public_rows(lake_dir) == [] and read_table(lake_dir, "hashtags") == []
    assert last["non_public_left_out"] == 1
    fetched("public", 3)
    run_process(settings, progress=False)
    assert [r["uri"] for r in read_table(lake_dir, "statuses")] == [landed_uri(base)]
    assert {r["tag"] for r in read_table(lake_dir, "hashtags")} == {"hoot"}


def public_rows(lake_dir: Path) -> list[dict]:
    return visible(read_table(lake_dir, "statuses"))


def test_an_older_public_version_landed_late_stays_out(lake: LakeBackend, lake_dir: Path, tmp_path: Path) -> None:
    """Was: a status public, then followers-only, left no row; a raw file of an earlier fetch (public) landed late
    and curated by a later run brought it back until ``--recurate``. The status now stays gone, and every metric and
    the curated statuses equal those of a rebuild of the same lake. The marker it leaves keeps none of its content."""
    base = tagged()
    settings = settings_for(lake_dir)
    land(lake, "statuses", statuses("test_public_tl.json"), at(0), policy())
    land_raw(lake, [with_visibility(base, "public")], at(1), policy())
    run_process(settings, progress=False)
    land_raw(lake, [with_visibility(base, "private")], at(3), policy())
    assert run_process(settings, progress=False).curate["non_public_left_out"] == 1
    land_raw(lake, [with_visibility(base, "unlisted")], at(2), policy())  # an earlier fetch, landed late
    late = run_process(settings, progress=False).curate
    assert late["raw_files"] == 1 and late["non_public_left_out"] == 1

    assert landed_uri(base) not in {r["uri"] for r in public_rows(lake_dir)}
    assert "hoot" not in {r["tag"] for r in read_table(lake_dir, "hashtags")}
    (marker,) = [r for r in read_table(lake_dir, "statuses") if r["uri"] == landed_uri(base)]
    assert marker["visibility"] == "private" and marker["account_key"] is not None
    assert all(marker[c] is None for c in ("hashtags", "mentions", "content_length", "language", "url_count"))

    twin = tmp_path / "twin" / "lake"
    shutil.copytree(lake_dir, twin)
    run_process(settings_for(twin), progress=False, recurate=True)
    got, expected = stored_rows(settings.store), stored_rows(settings_for(twin).store)
    for name in METRICS:
        assert_rows_equal(got[name], expected[name], name)
    by_uri = sorted(read_table(lake_dir, "statuses"), key=lambda r: r["uri"])
    assert by_uri == sorted(read_table(twin, "statuses"), key=lambda r: r["uri"])


def test_a_boost_of_a_status_that_is_not_public_is_curated_as_nothing(lake: LocalLake, lake_dir: Path) -> None:
    """A public boost of a followers-only status (landing skips the whole record, ``reblog_of_non_public``): neither
    the share event nor the boosted status is curated, nor the snapshot of either author."""
    shared = boost()
    shared["reblog"] = with_visibility(shared["reblog"], "private")  # the recorded original, only visibility changed
    assert shared["visibility"] == "unlisted"
    land_raw(lake, [shared], at(1))  # as collected, without privacy: the policy would drop the whole record
    summary = run_process(settings_for(lake_dir), progress=False)
    assert public_rows(lake_dir) == [] and read_table(lake_dir, "accounts") == []
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
