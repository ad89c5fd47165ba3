"""``fediscope process`` stopped by Ctrl-C or SIGTERM says what it finished before it stopped, as ``collect`` does:
a summary line on stdout (``interrupted: process …``), or with ``--json`` its document with ``"ok": false`` and
``"interrupted": true``, then ``fediscope: interrupted`` / ``stopped (SIGTERM)`` on stderr (exit 130 / 143). Was:
the stderr line alone, so whether curation had finished and which metrics were stored was not said.

The real CLI runs in a child process, held in a wait at a fixed point of the run (after the n-th publish of a
curated table, metric computed, or metric stored) that it says on stderr; the signal is sent once that line is
read, so where it lands does not depend on timing. What the line says about the next run is checked by running it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from child_process import child
from engine_data import KEY, settings_for, stored_rows

from fediscope.engine.manifest import list_raw_files
from fediscope.engine.metrics import load_metrics
from fediscope.engine.process import MetricResult, ProcessSummary, run_process
from fediscope.lake.local import LocalLake

METRICS = list(load_metrics())  # in the order a run computes and stores them

# The real entry point, held after the NTH call of one method: a wait in short sleeps (a signal is seen at once).
HELD_AT = textwrap.dedent("""
    import sys, time
    from fediscope.cli import main
    from fediscope.engine.base import Engine
    from fediscope.engine.metric_state import MetricSnapshots
    from fediscope.engine.workspace import Workspace
    from fediscope.store.base import BaseStore
    from fediscope.store.sqlite import SQLiteStore

    WHERE, NTH = sys.argv[1], int(sys.argv[2])
    owner = {"publish": Workspace, "metric_table": Engine, "save": MetricSnapshots, "generation": BaseStore,
             "_load": SQLiteStore}[WHERE]
    real, calls = getattr(owner, WHERE), []

    def held(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        calls.append(WHERE)
        if len(calls) == NTH:
            print(f"held after {WHERE} {NTH}", file=sys.stderr, flush=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.05)
        return result

    setattr(owner, WHERE, held)
    sys.exit(main(sys.argv[3:]))
""")


def _stopped_process(lake: Path, store: str, where: str, nth: int, signum: int,
                     *options: str) -> tuple[int, str, str]:
    """``fediscope process`` held after the ``nth`` call of ``where``, then sent ``signum``: exit code, stdout and
    stderr (without the held line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_PSEUDONYM_KEY=KEY.decode())
    argv = [sys.executable, "-c", HELD_AT, where, str(nth), "process", "--lake", str(lake), "--store", store,
            "--no-progress", *options]
    with child(argv, env=env) as process:
        assert process.stderr is not None
        held = process.stderr.readline()
        assert held.strip() == f"held after {where} {nth}", held + process.communicate(timeout=60)[1]
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def raw_files(lake: Path) -> int:
    return len(list_raw_files(LocalLake(lake)))


SIGNALS = [pytest.param(signal.SIGINT, 130, "interrupted", id="sigint"),
           pytest.param(signal.SIGTERM, 143, "stopped (SIGTERM)", id="sigterm")]


@pytest.mark.parametrize(("signum", "code", "said"), SIGNALS)
def test_stopped_while_storing_it_says_which_metrics_were_stored(
        corpus_lake: Path, tmp_path: Path, signum: int, code: int, said: str) -> None:
    store = f"sqlite:///{tmp_path / 'metrics.db'}"
    exit_code, out, err = _stopped_process(corpus_lake, store, "save", 2, signum)

    assert exit_code == code, err
    assert err == f"fediscope: {said}\n"
    line = out.strip()
    assert line.startswith(f"interrupted: process (duckdb): curated {raw_files(corpus_lake)} raw files ("), line
    assert (f"; stopped while storing the metrics in {store}: 2 of {len(METRICS)} metrics stored "
            f"({METRICS[0]}, {METRICS[1]}), the others not: the next run computes only the others again; "
            ) in line, line
    assert {name for name, rows in stored_rows(store).items() if rows} <= {METRICS[0], METRICS[1]}
    assert stored_rows(store)[METRICS[1]]

    again = run_process(settings_for(corpus_lake, store=store), progress=False)  # what the line says it does
    assert again.curate["noop"] and len(again.metrics) == len(METRICS)
    # the two stored ones are kept: not computed again (was: every metric computed again)
    assert [name for name, m in again.metrics.items() if m.reused] == METRICS[:2]
    assert all(m.stored is not None and m.seconds > 0 for m in list(again.metrics.values())[2:])
    _stores_what_an_uninterrupted_run_does(corpus_lake, store, tmp_path)


def _stores_what_an_uninterrupted_run_does(lake: Path, store: str, tmp_path: Path) -> None:
    full = f"sqlite:///{tmp_path / 'full.db'}"
    run_process(settings_for(lake, store=full), progress=False)
    assert stored_rows(store) == stored_rows(full)
    assert run_process(settings_for(lake, store=store), progress=False).metrics_skipped


def test_stopped_in_a_store_write_the_next_run_writes_that_metric_again(corpus_lake: Path, tmp_path: Path) -> None:
    """Stopped once the third metric's table was loaded, before the store's catalog recorded it: its write did not
    finish, so its result is not kept, and the next run computes it again (with the ones not stored)."""
    store = f"sqlite:///{tmp_path / 'metrics.db'}"
    exit_code, out, err = _stopped_process(corpus_lake, store, "_load", 3, signal.SIGTERM)

    assert exit_code == 143, err
    assert (f"; stopped while storing the metrics in {store}: 2 of {len(METRICS)} metrics stored "
            f"({METRICS[0]}, {METRICS[1]}), the others not: the next run computes only the others again; ") in out, out

    again = run_process(settings_for(corpus_lake, store=store), progress=False)
    assert [name for name, m in again.metrics.items() if m.reused] == METRICS[:2]
    assert again.metrics[METRICS[2]].stored == again.metrics[METRICS[2]].rows > 0  # written again, in full
    _stores_what_an_uninterrupted_run_does(corpus_lake, store, tmp_path)


def test_stopped_after_a_store_write_before_its_result_was_kept_it_names_that_metric(
        corpus_lake: Path, tmp_path: Path) -> None:
    """Stopped after the third metric's store write committed, before its result was kept (a short moment in a
    real run): the line says the next run computes that one again too, and with --json it is not ``kept``."""
    store = f"sqlite:///{tmp_path / 'metrics.db'}"
    exit_code, out, err = _stopped_process(corpus_lake, store, "generation", 3, signal.SIGTERM, "--json")

    assert exit_code == 143, err
    document = json.loads(out)
    assert document["interrupted_step"] == "store"
    metrics = document["metrics"]
    assert [name for name in METRICS if metrics[name]["stored"] is not None] == METRICS[:3]
    assert [name for name in METRICS if metrics[name]["kept"]] == METRICS[:2]

    again = run_process(settings_for(corpus_lake, store=store), progress=False)
    assert [name for name, m in again.metrics.items() if m.reused] == METRICS[:2]
    assert again.metrics[METRICS[2]].stored == 0  # computed again, and found in the store as it is
    _stores_what_an_uninterrupted_run_does(corpus_lake, store, tmp_path)


def test_the_line_names_a_metric_stored_but_not_kept() -> None:
    summary = ProcessSummary(engine="duckdb", store="sqlite:///m.db", interrupted=True,
                             curate={"raw_files": 1, "noop": False},
                             seconds={"start": 1.0, "curate": 1.0, "metrics": 1.0},
                             metrics={"a": MetricResult(1, 1.0, stored=1, kept=True),
                                      "b": MetricResult(1, 1.0, stored=1), "c": MetricResult(1, 1.0)})
    assert ("stopped while storing the metrics in sqlite:///m.db: 2 of 3 metrics stored (a, b), the others not: the "
            "next run computes again the others and b (stopped before it was recorded as stored); ") in summary.line()


def test_stopped_while_computing_the_metrics_it_says_the_curation_finished_and_nothing_was_stored(
        corpus_lake: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'metrics.db'}"
    # held in the third computation, as it returns: two metrics are computed
    exit_code, out, err = _stopped_process(corpus_lake, store, "metric_table", 3, signal.SIGTERM)

    assert exit_code == 143, err
    assert err == "fediscope: stopped (SIGTERM)\n"
    line = out.strip()
    assert line.startswith(f"interrupted: process (duckdb): curated {raw_files(corpus_lake)} raw files ("), line
    assert (f"; stopped while computing the metrics (2 computed), before storing any in {store}: the next run "
            "computes them again; ") in line, line

    again = run_process(settings_for(corpus_lake, store=store), progress=False)
    assert again.curate["noop"] and len(again.metrics) == len(METRICS)


def test_stopped_while_curating_it_says_the_next_run_curates_again(corpus_lake: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'metrics.db'}"
    exit_code, out, err = _stopped_process(corpus_lake, store, "publish", 1, signal.SIGINT)

    assert exit_code == 130, err
    assert err == "fediscope: interrupted\n"
    assert out.startswith("interrupted: process (duckdb): stopped while curating, before the curated tables were "
                          "complete: the next run curates the new raw files again; nothing stored in "
                          f"{store}; "), out

    again = run_process(settings_for(corpus_lake, store=store), progress=False)
    assert again.curate["raw_files"] == raw_files(corpus_lake) and not again.curate["noop"]


@pytest.mark.parametrize(("signum", "code", "said"), SIGNALS)
def test_stopped_with_json_its_document_says_what_was_finished(
        corpus_lake: Path, tmp_path: Path, signum: int, code: int, said: str) -> None:
    """The command's own document, as collect's: no error document after it (one JSON document on stdout)."""
    store = f"sqlite:///{tmp_path / 'metrics.db'}"
    exit_code, out, err = _stopped_process(corpus_lake, store, "save", 1, signum, "--json")

    assert exit_code == code, err
    assert err == f"fediscope: {said}\n"
    document = json.loads(out)
    assert document["ok"] is False and document["interrupted"] is True
    assert document["interrupted_step"] == "store"
    assert document["curate"]["raw_files"] == raw_files(corpus_lake)
    stored = {name for name, metric in document["metrics"].items() if metric["stored"] is not None}
    assert stored == {METRICS[0]} and len(document["metrics"]) == len(METRICS)
    # kept for the next run, which computes only the others (was: none kept, every metric computed again)
    assert {name for name, metric in document["metrics"].items() if metric["kept"]} == {METRICS[0]}


def test_a_run_that_is_not_stopped_says_ok_in_its_document(corpus_lake: Path, tmp_path: Path) -> None:
    summary = run_process(settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'metrics.db'}"), progress=False)
    document = summary.as_dict()
    assert document["ok"] is True and "interrupted" not in document and "interrupted_step" not in document
    assert all(metric["kept"] for metric in document["metrics"].values())
    assert not summary.line().startswith("interrupted")


# The real entry point, where Ctrl-C arrives while Python runs a finalizer (as DuckDB's and Arrow's are) at the end
# of the NTH metric computation: Python cannot raise KeyboardInterrupt out of a finalizer, it printed "Exception
# ignored … Traceback" and went on.
CTRL_C_IN_A_FINALIZER_AT = textwrap.dedent("""
    import gc, signal, sys, weakref
    from fediscope.cli import main
    from fediscope.engine.base import Engine

    NTH = int(sys.argv[1])
    real, calls = Engine.metric_table, []

    class Resource:
        pass

    def metric_table(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == NTH:
            resource = Resource()
            weakref.finalize(resource, signal.raise_signal, signal.SIGINT)
            del resource
            gc.collect()
        return result

    Engine.metric_table = metric_table
    sys.exit(main(sys.argv[2:]))
""")


def test_ctrl_c_raised_in_a_finalizer_stops_the_run_before_the_next_metric(corpus_lake: Path, tmp_path: Path) -> None:
    """Was: the run computed and stored every metric and said so, exit 0, after the "Exception ignored" traceback."""
    store = f"sqlite:///{tmp_path / 'metrics.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_PSEUDONYM_KEY=KEY.decode())
    argv = [sys.executable, "-c", CTRL_C_IN_A_FINALIZER_AT, "3", "process", "--lake", str(corpus_lake), "--store",
            store, "--no-progress"]
    with child(argv, env=env) as process:
        out, err = process.communicate(timeout=300)

    assert (process.returncode, err) == (130, "fediscope: interrupted\n")
    line = out.strip()
    assert line.startswith(f"interrupted: process (duckdb): curated {raw_files(corpus_lake)} raw files ("), line
    assert "; stopped while computing the metrics (3 computed), before storing any in " in line, line
