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
from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake

METRICS = list(load_metrics())  # in the order a run computes and stores them

# The real entry point, held after the NTH call of one method: a wait in short sleeps (a signal is seen at once).
HELD_AT = textwrap.dedent("""
    import sys, time
    from fediscope.cli import main
    from fediscope.engine.base import Engine
    from fediscope.engine.metric_state import MetricSnapshots
    from fediscope.engine.workspace import Workspace

    WHERE, NTH = sys.argv[1], int(sys.argv[2])
    owner = {"publish": Workspace, "metric_table": Engine, "save": MetricSnapshots}[WHERE]
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
            f"({METRICS[0]}, {METRICS[1]}), the others not: the next run computes them all again; ") in line, line
    assert {name for name, rows in stored_rows(store).items() if rows} <= {METRICS[0], METRICS[1]}
    assert stored_rows(store)[METRICS[1]]

    again = run_process(settings_for(corpus_lake, store=store), progress=False)  # what the line says it does
    assert again.curate["noop"] and len(again.metrics) == len(METRICS)
    assert not any(m.reused for m in again.metrics.values())
    assert again.metrics[METRICS[0]].stored == 0  # computed again, and found in the store as it is


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


def test_a_run_that_is_not_stopped_says_ok_in_its_document(corpus_lake: Path, tmp_path: Path) -> None:
    summary = run_process(settings_for(corpus_lake, store=f"sqlite:///{tmp_path / 'metrics.db'}"), progress=False)
    document = summary.as_dict()
    assert document["ok"] is True and "interrupted" not in document and "interrupted_step" not in document
    assert not summary.line().startswith("interrupted")
