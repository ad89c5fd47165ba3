"""Statuses with impossible timestamps (dated after we fetched them) through the real pipeline (``run_process``).

Input: REAL recorded timelines landed at their fetch time, plus variants of a recorded status, derived from it:
its ``created_at`` (or ``edited_at``, or its author's ``created_at``) moved to 2099, as a remote server with a
broken clock or a forged date would send it. A twin lake without the variants is the reference: the variants
must leave no trace in any metric, and above all must not move the window of ``trending_hashtags`` (it was
anchored on the latest day of data, so one toot "from 2099" left the metric empty).
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import metric_reference as reference
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_run import clean_env, run
from engine_data import (
    KEY,
    assert_rows_equal,
    at,
    land,
    policy,
    read_table,
    settings_for,
    statuses,
    stored_rows,
    variant,
)

from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake

METRICS = load_metrics()
FUTURE = "2099-01-01T00:00:00.000Z"


def tagged_status() -> dict[str, Any]:
    """A recorded status with a hashtag (not a reblog)."""
    return next(s for s in statuses("test_hashtag_tl.json") if s.get("tags") and not s.get("reblog"))


def land_real(lake: LocalLake) -> None:
    for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json")):
        land(lake, "statuses", statuses(name), at(i), policy())


def twin_of(lake_dir: Path, tmp_path: Path) -> Path:
    """A copy of the raw lake as it is now (before the variants are landed)."""
    twin = tmp_path / "twin" / "lake"
    shutil.copytree(lake_dir / "raw", twin / "raw")
    return twin


def test_a_status_from_the_future_leaves_every_metric_as_it_was(lake: LocalLake, lake_dir: Path,
                                                               tmp_path: Path) -> None:
    land_real(lake)
    twin = twin_of(lake_dir, tmp_path)
    base = tagged_status()
    land(lake, "statuses", [variant(base, "1", created_at=FUTURE)], at(5), policy())

    summary = run_process(settings_for(lake_dir), progress=False)
    reference = run_process(settings_for(twin), progress=False)
    got, expected = stored_rows(settings_for(lake_dir).store), stored_rows(settings_for(twin).store)

    tag = base["tags"][0]["name"].lower()
    trending = {r["tag"]: r for r in got["trending_hashtags"]}
    assert tag in trending and trending[tag]["window_end"] == base["created_at"][:10]
    assert not [r for r in got["hashtags_daily"] if r["day"] > "2027"]
    for name in METRICS:
        assert_rows_equal(got[name], expected[name], name)
    assert summary.curate["future_versions_skipped"] == 1 and reference.curate["future_versions_skipped"] == 0
    assert "1 status version dated after its fetch skipped" in summary.line()
    assert not (lake_dir / "curated" / "statuses" / "dt=2099-01-01").exists()


def test_clock_skew_within_the_tolerance_is_kept(lake: LocalLake, lake_dir: Path) -> None:
    """A toot stamped 50 minutes after we fetched it (a server clock running fast) is kept; two hours is not."""
    land_real(lake)
    base = tagged_status()
    fetched = at(5)
    stamp = "%Y-%m-%dT%H:%M:%S.000Z"
    skewed = variant(base, "1", created_at=(fetched + timedelta(minutes=50)).strftime(stamp))
    wrong = variant(base, "2", created_at=(fetched + timedelta(hours=2)).strftime(stamp))
    land(lake, "statuses", [skewed, wrong], fetched, policy())
    summary = run_process(settings_for(lake_dir), progress=False)
    assert summary.curate["future_versions_skipped"] == 1
    uris = {r["uri"] for r in read_table(lake_dir, "statuses")}
    assert policy().apply("statuses", skewed, "localhost:3000")["uri"] in uris
    assert policy().apply("statuses", wrong, "localhost:3000")["uri"] not in uris


def test_a_version_edited_in_the_future_does_not_win(lake: LocalLake, lake_dir: Path) -> None:
    """A version claiming an edit in 2099 would win over every later fetch of the status for ever: skipped, so the
    status keeps its real latest snapshot."""
    base = tagged_status()
    land(lake, "statuses", [base], at(1), policy())
    forged = dict(copy.deepcopy(base), edited_at=FUTURE, favourites_count=999)
    land(lake, "statuses", [forged], at(2), policy())
    later = dict(copy.deepcopy(base), favourites_count=3)
    land(lake, "statuses", [later], at(3), policy())
    summary = run_process(settings_for(lake_dir), progress=False)
    assert summary.curate["future_versions_skipped"] == 1
    (row,) = read_table(lake_dir, "statuses")
    assert row["favourites_count"] == 3 and row["edited_at"] is None


def test_an_account_created_in_the_future_has_no_signup_month(lake: LocalLake, lake_dir: Path) -> None:
    """The toot is real, its author's creation date is not: the account is kept (followers, toots), without a
    creation date, so signups_by_month has no month 2099-01."""
    base = tagged_status()
    land(lake, "statuses", [dict(base, account=dict(base["account"], created_at=FUTURE))], at(1), policy())
    settings = settings_for(lake_dir)
    run_process(settings, progress=False)
    got = stored_rows(settings.store)
    assert got["signups_by_month"] == []
    assert [r["followers_count"] for r in got["top_accounts_by_followers"]] == [base["account"]["followers_count"]]
    assert [r["toots"] for r in got["account_engagement"]] == [1]


def land_every_variant(lake: LocalLake) -> None:
    """The recorded statuses, then every variant at once: a toot from 2099, one 50 minutes ahead (clock skew,
    kept), an edit from 2099, and an author created in 2099 (two versions skipped)."""
    land_real(lake)
    base = tagged_status()
    fetched = at(5)
    stamp = "%Y-%m-%dT%H:%M:%S.000Z"
    land(lake, "statuses", [
        variant(base, "1", created_at=FUTURE),
        variant(base, "2", created_at=(fetched + timedelta(minutes=50)).strftime(stamp)),
        dict(copy.deepcopy(base), edited_at=FUTURE, favourites_count=999),
        variant(base, "3", account=dict(base["account"], acct="skewed", created_at=FUTURE)),
    ], fetched, policy())


def test_the_independent_reference_applies_the_same_rule(lake: LocalLake, duckdb_engine: Any) -> None:
    """Every variant at once, curated by DuckDB and by the plain-Python reference (tests/engine/metric_reference.py):
    every metric identical."""
    land_every_variant(lake)
    engine = duckdb_engine()
    assert engine.curate().future_versions_skipped == 2
    expected = reference.metrics(*reference.curate_lake(lake))
    for name in sorted(expected):
        assert_rows_equal(engine.run_metric(METRICS[name]), expected[name], name)
    assert not [r for r in expected["signups_by_month"] if r["month"] > "2027"]


@pytest.fixture
def legacy_lake(lake: LocalLake, lake_dir: Path) -> Path:
    """A lake curated by an older fediscope, which kept a toot dated 2099: its hashtag row is there, in its own
    partition (a copy of a real curated row, moved to 2099)."""
    land_real(lake)
    run_process(settings_for(lake_dir), progress=False)
    source = next((lake_dir / "curated" / "hashtags").rglob("*.parquet"))
    table = pq.read_table(source, partitioning=None).slice(0, 1)
    table = table.set_column(table.schema.get_field_index("status_uri"), "status_uri",
                             pa.array(["urn:legacy:future-status"]))
    created = table.schema.get_field_index("created_at")
    table = table.set_column(created, "created_at", pa.array([datetime(2099, 1, 1)], table.schema.field(created).type))
    target = lake_dir / "curated" / "hashtags" / "dt=2099-01-01"
    target.mkdir(parents=True)
    pq.write_table(table, target / "legacy.parquet")
    return lake_dir


def test_trending_window_ignores_days_after_the_last_fetch(legacy_lake: Path) -> None:
    from fediscope.engine.duckdb_engine import DuckDBEngine

    with DuckDBEngine(settings_for(legacy_lake)) as duck:
        days = {r["day"] for r in duck.run_metric(METRICS["hashtags_daily"])}
        rows = duck.run_metric(METRICS["trending_hashtags"])
    assert "2099-01-01" in days  # the legacy row is there
    assert rows and {r["window_end"] for r in rows} == {"2026-08-01"}


@pytest.mark.spark
def test_spark_skips_the_same_versions(spark, lake: LocalLake, lake_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """The same variants through ``run_process`` on Spark and on DuckDB: same skips, same metrics."""
    land_every_variant(lake)
    twin = twin_of(lake_dir, tmp_path)
    on_spark = run_process(settings_for(lake_dir), engine="spark", progress=False, engine_options={"spark": spark})
    on_duckdb = run_process(settings_for(twin), engine="duckdb", progress=False)
    assert on_spark.curate["future_versions_skipped"] == on_duckdb.curate["future_versions_skipped"] == 2
    assert sorted(map(repr, read_table(lake_dir, "statuses"))) == sorted(map(repr, read_table(twin, "statuses")))
    assert sorted(map(repr, read_table(lake_dir, "accounts"))) == sorted(map(repr, read_table(twin, "accounts")))
    got, expected = stored_rows(settings_for(lake_dir).store), stored_rows(settings_for(twin).store)
    for name in METRICS:
        assert_rows_equal(got[name], expected[name], name)


def test_a_status_dated_before_the_year_1_is_skipped(lake: LocalLake, lake_dir: Path, tmp_path: Path) -> None:
    """``0001-01-01T00:00:00+01:00`` is 1 BC in UTC. Was: curated into a ``dt=0001-12-31 (BC)`` partition that no
    engine reads back, and counted as written (the MapReduce mapper skips it: tests/mapreduce)."""
    land_real(lake)
    twin = twin_of(lake_dir, tmp_path)
    land(lake, "statuses", [variant(tagged_status(), "1", created_at="0001-01-01T00:00:00+01:00")], at(5), policy())

    summary = run_process(settings_for(lake_dir), progress=False)
    reference = run_process(settings_for(twin), progress=False)

    assert summary.curate["statuses_written"] == reference.curate["statuses_written"]
    assert not [p for p in (lake_dir / "curated" / "statuses").iterdir() if "BC" in p.name]
    got, expected = stored_rows(settings_for(lake_dir).store), stored_rows(settings_for(twin).store)
    for name in METRICS:
        assert_rows_equal(got[name], expected[name], name)


def test_the_cli_says_each_condition_once_in_its_own_words(lake: LocalLake, lake_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`fediscope process` says a version dated after its fetch in its summary line alone, and a metric's row left
    out (a remote "language" of 300 characters, longer than a store key may hold: said nowhere else) as its own
    warning, once for each metric it leaves a row of. Was: a raw log line of each besides (``… WARNING
    fediscope.engine.curation curation: skipped 1 status versions dated after their fetch …``, as the summary line
    says it; ``… WARNING fediscope.engine.metric_state metric languages: …``). REAL recorded statuses, two changed."""
    public = list({s["id"]: s for s in statuses("test_public_tl.json")}.values())  # the recording has one twice
    land(lake, "statuses", [dict(public[0], language="x" * 300), *public[1:]], at(0), policy())
    land(lake, "statuses", [variant(tagged_status(), "1", created_at=FUTURE)], at(5), policy())
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_PSEUDONYM_KEY=KEY.decode(),
              FEDISCOPE_STORE=settings_for(lake_dir).store)
    code, out, err = run(capsys, "process", "--no-progress")
    assert code == 0, err
    assert "(1 status version dated after its fetch skipped)" in out, out
    assert err == "".join(f"fediscope: warning: metric {name}: 1 row(s) left out: a key (language, toots) longer "
                          "than the 255 characters a store key may hold\n"
                          for name in ("content_warnings", "languages"))
    code, out, err = run(capsys, "process", "--no-progress", "--json")  # nothing new: nothing to say
    assert (code, err, json.loads(out)["curate"]["noop"]) == (0, "", True)


def test_a_run_that_fails_after_its_curation_still_says_what_the_curation_found(
        lake: LocalLake, lake_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """No summary line says it then (the run stops with its error, after the manifest recorded the raw files, so the
    next run does not find them again): the curation's warning is written after all, once, before the error line.
    Here the run stops at an own metric whose key is NULL (a MetricFileError, exit 2), after curating."""
    land_real(lake)
    land(lake, "statuses", [variant(tagged_status(), "1", created_at=FUTURE)], at(5), policy())
    own = tmp_path / "own"
    own.mkdir()
    (own / "null_key.sql").write_text("-- question: a key that is NULL?\n-- key: k\n"
                                      "SELECT CAST(NULL AS VARCHAR) AS k, count(*) AS n FROM statuses\n")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_PSEUDONYM_KEY=KEY.decode(),
              FEDISCOPE_STORE=settings_for(lake_dir).store, FEDISCOPE_METRICS_DIR=str(own))
    code, out, err = run(capsys, "process", "--no-progress")
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 2, err
    assert lines[0].endswith(" WARNING fediscope.engine.curation curation: skipped 1 status versions dated after "
                             "their fetch (a remote clock or a forged date)"), err
    assert lines[1].startswith("fediscope: error: ") and "key column k is NULL in 1 row(s)" in lines[1], err
