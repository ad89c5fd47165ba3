"""``spark_jobs/metrics.py`` checks what it would write to before Spark starts (pyspark is not even imported).

Before: on a lake holding raw batches but nothing curated (the job run before ``spark_jobs/curate.py``, or pointed
at a copy of ``raw/``) it computed every metric as 0 rows, replaced what the store held with them and exited 0;
and it opened the store only after every metric was computed, so an unreachable database was found out after the
whole Spark run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_data import at, land, policy, settings_for, statuses, stored_rows

from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake

ROOT = Path(__file__).resolve().parents[2]
METRICS = load_metrics()


def _files(lake_dir: Path) -> dict[str, str]:
    return {p.relative_to(lake_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake_dir.rglob("*")) if p.is_file()}


def _job(lake_dir: Path, *argv: str, metrics_dir: Path | None = None) -> tuple[str, list[str]]:
    """Run the job in a process of its own (``metrics_dir``: its ``FEDISCOPE_METRICS_DIR``): (its exit code and
    whether pyspark was imported, its stderr lines)."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from spark_jobs.metrics import main\n"
            f"code = main(['--lake', {str(lake_dir)!r}, *{list(argv)!r}]); print(code, 'pyspark' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    if metrics_dir is not None:
        env["FEDISCOPE_METRICS_DIR"] = str(metrics_dir)
    job = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=lake_dir.parent, env=env,
                         timeout=120)
    return job.stdout.strip(), job.stderr.strip().splitlines()


@pytest.fixture
def processed(lake: LocalLake, lake_dir: Path) -> Path:
    """A lake of recorded statuses, curated and its metrics stored (``metrics.db`` beside it)."""
    for i, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json")):
        land(lake, "statuses", statuses(name), at(i), policy())
    run_process(settings_for(lake_dir), progress=False)
    return lake_dir


@pytest.mark.parametrize("metric_args", [["--metric", "languages"], []], ids=["one-metric", "every-metric"])
def test_a_lake_with_nothing_curated_is_refused_and_the_store_left_alone(processed: Path, tmp_path: Path,
                                                                         metric_args: list[str]) -> None:
    raw_only = tmp_path / "raw-only" / "lake"
    shutil.copytree(processed / "raw", raw_only / "raw")
    store = settings_for(processed).store
    rows, files = stored_rows(store), _files(raw_only)
    assert rows["languages"], "the store holds results to lose"

    status, err = _job(raw_only, "--store", store, *metric_args)

    assert status == "5 False", err  # NothingCuratedError's own code (was 1, which the batch DAG retried)
    assert err == [f"fediscope metrics: error: nothing is curated in the lake {raw_only} (no "
                   "_state/curated_manifest.json, no curated tables): run spark_jobs/curate.py (or `fediscope "
                   "process`) first; the store was not touched"]
    assert stored_rows(store) == rows
    assert _files(raw_only) == files  # no lock left behind, nothing curated
    assert sorted(p.name for p in raw_only.iterdir()) == ["raw"]  # was: an empty _state/ the lock file made


def test_an_unreachable_store_fails_before_spark_starts(processed: Path) -> None:
    manifest = _files(processed)
    status, err = _job(processed, "--store", "mysql+pymysql://fediscope:pw-123@127.0.0.1:1/fediscope",
                       "--metric", "languages")
    assert status == "1 False", err
    assert len(err) == 2 and err[0].startswith("fediscope metrics: warning: --store holds a password"), err
    assert err[1].startswith("fediscope metrics: error: cannot open the metric store (--store / FEDISCOPE_STORE), "
                             "so no metric was computed: store mysql+pymysql://fediscope:***@127.0.0.1:1/fediscope")
    assert "Can't connect to MySQL server on '127.0.0.1'" in err[1] and "pw-123" not in "".join(err)
    assert _files(processed) == manifest  # the lake lock released


def test_an_in_memory_store_is_refused_before_spark_starts(processed: Path) -> None:
    status, err = _job(processed, "--store", "sqlite://", "--metric", "languages")
    assert status == "2 False", err  # a bad setting, as `fediscope process` exits
    assert len(err) == 1 and err[0].startswith("fediscope metrics: error: the store 'sqlite://' (--store) is an "
                                               "in-memory SQLite database")


def test_a_bad_metric_file_or_name_exits_2_as_fediscope_process_does(processed: Path, tmp_path: Path) -> None:
    """A metric file the user wrote that is wrong, or an unknown --metric, is their input's mistake: exit 2, as
    `fediscope process` exits (the job exited 1 for every failure), one line naming it, before Spark starts."""
    own = tmp_path / "own"
    own.mkdir()
    (own / "broken.sql").write_text("-- question: q\n-- key: k\n-- key: k\nSELECT 1 AS k\n")
    status, err = _job(processed, "--no-store", metrics_dir=own)
    assert status == "2 False", err
    assert len(err) == 1 and err[0].startswith("fediscope metrics: error: ") and "broken.sql" in err[0], err

    status, err = _job(processed, "--no-store", "--metric", "no_such_metric")
    assert status == "2 False", err
    assert len(err) == 1 and err[0].startswith("fediscope metrics: error: unknown metric(s) no_such_metric"), err


@pytest.mark.parametrize("job_name", ["curate", "metrics"])
def test_a_bad_setting_exits_2_from_either_spark_job(processed: Path, tmp_path: Path, job_name: str) -> None:
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from spark_jobs.{job_name} import main\n"
            f"code = main(['--lake', {str(processed)!r}]); print(code, 'pyspark' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")} | {"FEDISCOPE_PRIVACY": "maybe"}
    job = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=120)
    err = job.stderr.strip().splitlines()
    assert job.stdout.strip() == "2 False", job.stderr
    assert len(err) == 1 and err[0].startswith(f"fediscope {job_name}: error: ") and "FEDISCOPE_PRIVACY" in err[0], err


@pytest.mark.parametrize(("job_name", "option"), [("curate", "--lake"), ("metrics", "--lake"), ("metrics", "--store")])
def test_an_empty_lake_or_store_argument_is_refused_not_replaced_by_the_setting(tmp_path: Path, job_name: str,
                                                                                option: str) -> None:
    """``--lake ""`` (``--lake "$LAKE"`` with the variable unset) was read as no option: the job went on with
    ``FEDISCOPE_LAKE`` (or ``./lake``), and ``metrics.py --store ""`` wrote the metrics to ``FEDISCOPE_STORE``'s
    store. ``fediscope process`` refuses both as invalid (exit 2); so do the jobs, before Spark starts."""
    configured = tmp_path / "configured"  # what the settings name: never reached
    argv = [option, ""] if option == "--lake" else ["--lake", str(tmp_path / "lake"), option, ""]
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from spark_jobs.{job_name} import main\n"
            f"code = main({argv!r}); print(code, 'pyspark' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")} | {
        "FEDISCOPE_LAKE": str(configured / "lake"), "FEDISCOPE_STORE": f"sqlite:///{configured / 'metrics.db'}"}
    job = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=120)
    err = job.stderr.strip().splitlines()
    assert job.stdout.strip() == "2 False", job.stderr
    assert len(err) == 1 and err[0].startswith(f"fediscope {job_name}: error: {option} is invalid: "), err
    assert not configured.exists()


def test_a_metric_spark_would_not_run_alike_exits_2_before_spark_starts(processed: Path, tmp_path: Path) -> None:
    """Was: Spark started, and the job stopped at the metric when it came to run it (after the metrics before it),
    in Spark's words ("Cannot resolve routine `list_sum`"); now the dialect check refuses it first, as `fediscope
    process --engine spark` and `fediscope doctor` do."""
    own = tmp_path / "own"
    own.mkdir()
    path = own / "favourites.sql"
    path.write_text("-- question: How many favourites?\n-- key: instance\n"
                    "SELECT instance, list_sum(list(favourites_count)) AS n FROM statuses GROUP BY instance\n")
    status, err = _job(processed, "--no-store", metrics_dir=own)
    assert status == "2 False", err
    assert err == [f"fediscope metrics: error: metric favourites ({path}): not portable to Spark SQL: list_sum() is "
                   "not a Spark function; aggregate the items as rows instead: for list_sum(list(x)) aggregate x "
                   "itself, or unnest the list in a subquery and aggregate that"], err
