"""The ``spark-submit`` entry points refuse bad arguments with a usage error (exit 2) before Spark starts.

Before: ``curate.py --since`` after ``--until`` started Spark and exited 0 having curated nothing, and
``metrics.py --out`` into a missing folder computed every metric, then died with a traceback and left the store
unwritten.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_jobs import curate, metrics

pytestmark = pytest.mark.airflow


@pytest.mark.parametrize(("argv", "message"), [
    (["--since", "2026-11-25", "--until", "2026-11-20"], "--since 2026-11-25 is after --until 2026-11-20"),
    (["--since", "23/11/2026"], "argument --since: '23/11/2026' is not a date (YYYY-MM-DD)"),
    (["--until", "2026-02-30"], "argument --until: '2026-02-30' is not a date (YYYY-MM-DD)"),
    (["--since", "20261123"], "argument --since: '20261123' is not a date (YYYY-MM-DD)"),
    (["--until", "2026-W48-1"], "argument --until: '2026-W48-1' is not a date (YYYY-MM-DD)"),
    (["--recurate", "--since", "2026-11-20"], "--recurate curates every raw file; leave out --since/--until"),
    (["--force"], "--force only applies with --recurate"),
    (["--window-name", " ", "--until", "2026-11-20"], "--window-name must not be empty"),
    (["--recurate-name", ""], "--recurate-name must not be empty"),
])
def test_curate_refuses_bad_days(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        curate.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"spark_jobs/curate.py: error: {message}"


def test_curate_accepts_one_day() -> None:
    args = curate.parse_args(["--since", "2026-11-23", "--until", "2026-11-23"])
    assert args.since == args.until and args.since.isoformat() == "2026-11-23"


def test_curate_takes_the_name_the_batch_dag_gives_its_window() -> None:
    """Its messages name the run's day under the DAG (was: --since/--until, options the DAG's task has none of)."""
    assert curate.parse_args(["--window-name", "this run's day 2026-11-23", "--until", "2026-11-23"]).window_name \
        == "this run's day 2026-11-23"
    assert curate.parse_args(["--until", "2026-11-23"]).window_name is None  # by hand: --since/--until


def test_curate_names_its_own_recurate_unless_told_otherwise() -> None:
    """Run by hand, its messages name its own ``--recurate`` (was: ``fediscope process --recurate``, a command
    spark-submit's user may not have where the job runs); the batch DAG names the worker's command."""
    assert curate.parse_args([]).recurate_name == "`spark_jobs/curate.py --recurate`"
    assert curate.parse_args(["--recurate-name", "`fediscope process --recurate`"]).recurate_name \
        == "`fediscope process --recurate`"


@pytest.mark.parametrize("where", ["missing-folder", "a-directory"])
def test_metrics_refuses_an_out_it_cannot_write_before_spark_starts(where: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nope" / "results.json" if where == "missing-folder" else tmp_path
    with pytest.raises(SystemExit) as info:
        metrics.main(["--lake", str(tmp_path / "lake"), "--no-store", "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = "is a directory; name a file" if where == "a-directory" else "does not exist or is not writable"
    assert err[-1].startswith(f"spark_jobs/metrics.py: error: --out {out}") and err[-1].endswith(expected)
    assert not (tmp_path / "lake").exists()


def test_metrics_accepts_an_out_in_an_existing_folder(tmp_path: Path) -> None:
    assert metrics.parse_args(["--out", str(tmp_path / "results.json")]).out == tmp_path / "results.json"
