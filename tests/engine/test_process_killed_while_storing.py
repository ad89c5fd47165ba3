"""``fediscope process`` killed outright (SIGKILL, the OOM killer, a reboot) while it loads the store, then run
again, leaves the store as an uninterrupted run does: no row twice, none missing, none stale.

The store phase writes one metric after another, each write followed by its kept result
(:mod:`fediscope.engine.metric_state`: ``<metric>.parquet``, then the index naming what it is current for). The
metrics whose kept result was recorded are not computed again by the run after the kill (was: every metric was,
as the index was written only at the end). A kill in between leaves a metric written without its kept result, or
its rows changed in the store before the store's catalog recorded them: the run again must compute it and compare
it with the store in full, not send the difference to an older snapshot. The real CLI runs in a child process
that ends with ``os._exit`` at a fixed kept-result write or store commit (no clean-up of any kind runs: the lake
lock stays, the SQLite store stays in WAL mode), so the kill point is deterministic.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from engine_data import KEY, raw_days, settings_for, stored_rows

from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import run_process
from fediscope.store.base import PROVISIONAL
from fediscope.store.port import store_from_settings

METRICS = load_metrics()
LOCK = "_state/process.lock"

# The real entry point, dying at the n-th kept-result write: "before" it (the metric is in the store, its kept
# result is not) or "after" it; or "uncommitted": before the n-th metric's store write records it in the store's
# catalog (its rows changed under a provisional generation).
KILLED_AT_A_SAVE = textwrap.dedent("""
    import os, sys
    from fediscope.cli import main
    from fediscope.engine import metric_state
    from fediscope.store.base import BaseStore

    WHEN, NTH = sys.argv[1], int(sys.argv[2])
    real, saves = metric_state.MetricSnapshots.save, []
    real_commit, commits = BaseStore._commit, []

    def save(self, *args, **kwargs):
        saves.append(args[0])
        if WHEN == "before" and len(saves) == NTH:
            os._exit(137)
        real(self, *args, **kwargs)
        if WHEN == "after" and len(saves) == NTH:
            os._exit(137)

    def commit(self, *args, **kwargs):
        commits.append(args[0])
        if WHEN == "uncommitted" and len(commits) == NTH:
            os._exit(137)
        return real_commit(self, *args, **kwargs)

    metric_state.MetricSnapshots.save = save
    BaseStore._commit = commit
    main(sys.argv[3:])
""")


def _killed_process(lake_dir: Path, store: str, when: str, nth: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_PSEUDONYM_KEY=KEY.decode())
    result = subprocess.run([sys.executable, "-c", KILLED_AT_A_SAVE, when, str(nth), "process", "--lake",
                             str(lake_dir), "--store", store, "--no-progress"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 137, result.stderr
    assert (lake_dir / LOCK).exists()  # killed outright: nothing was released


@pytest.mark.parametrize(("when", "nth"), [("before", 1), ("after", 1), ("before", 6), ("uncommitted", 4),
                                           ("after", len(METRICS))])
def test_a_process_killed_while_storing_and_run_again_stores_what_an_uninterrupted_run_does(
        corpus_lake: Path, tmp_path: Path, when: str, nth: int) -> None:
    settings = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'killed.db'}")
    run_process(settings, until=raw_days(corpus_lake)[-2], progress=False)  # the days before: kept results to compare

    _killed_process(corpus_lake, settings.store, when, nth)  # the last day, killed while storing
    if when == "uncommitted":  # killed part-way: the metric's rows changed, the catalog not recorded them
        with store_from_settings(settings) as store:
            assert (store.generation(list(METRICS)[nth - 1]) or "").startswith(PROVISIONAL)
    again = run_process(settings, progress=False)  # takes the dead run's lock over

    assert again.curate["noop"]  # the killed run had published the last day's curation
    kept = list(METRICS)[:nth if when == "after" else nth - 1]  # the metrics whose kept result was recorded
    assert [name for name, m in again.metrics.items() if m.reused] == kept  # not computed again
    assert again.metrics_skipped == (len(kept) == len(METRICS))
    full = settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'full.db'}")
    run_process(full, progress=False)
    assert stored_rows(settings.store) == stored_rows(full.store)
    assert run_process(settings, progress=False).metrics_skipped  # and then current: nothing left to redo
