"""Run one benchmark stage in its own process and measure it: wall time, result, peak memory.

Each stage runs as ``python -m bench.stages <stage> <json args>`` so its memory is its own (a DuckDB buffer pool
or a JVM heap does not leak into the next stage's figure) and a crash cannot take the benchmark down. The stage
prints its result as the last stdout line (``BENCH_RESULT {json}``), or its one-line error (``BENCH_ERROR {json}``)
when it fails; its progress goes to stderr, passed through. Interrupted (Ctrl-C, or the SIGTERM :mod:`bench.run`
turns into one), :func:`run_stage` ends the stage and its descendants before passing the interruption on, so that
no stage goes on writing into a work folder being removed.

Peak memory is the largest **sum** of the resident set sizes of the stage process and all its descendants
(the JVM Spark starts, the mapper/sort/reducer processes of the MapReduce pipe, which run at the same time),
sampled with psutil every 50 ms. Without psutil it falls back to the kernel's ``ru_maxrss`` of the stage
(``os.wait4``), the peak of the single largest process, which understates pipes of concurrent processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH_RESULT "
ERROR_PREFIX = "BENCH_ERROR "
SAMPLE_SECONDS = 0.05


class StageError(RuntimeError):
    """A stage exited with an error: ``error`` is its one-line error (what the stage reported, else its exit)."""

    def __init__(self, stage: str, error: str, run: str = "") -> None:
        super().__init__(f"benchmark step {stage!r}{f' ({run})' if run else ''} failed: {error}")
        self.stage, self.error, self.run = stage, error, run  # run: which of its repeats, e.g. "run 2/3"


@dataclass
class Measured:
    stage: str
    wall_seconds: float
    peak_rss_bytes: int
    memory_method: str
    result: dict[str, Any] = field(default_factory=dict)
    #: every process of the stage's tree seen while sampling its memory (the stage's own pid at least): what the
    #: peak covers
    pids: frozenset[int] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        return {"wall_seconds": round(self.wall_seconds, 3), "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
                "memory_method": self.memory_method, **self.result}


def _tree_rss(proc: Any, seen: set[int]) -> int:
    """The summed RSS of ``proc`` and its descendants; their pids are added to ``seen``."""
    import psutil

    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        with contextlib.suppress(psutil.Error):  # a process that just exited
            total += member.memory_info().rss
            seen.add(member.pid)
    return total


def _end_tree(proc: subprocess.Popen[str]) -> None:
    """Terminate the stage and every descendant (a Spark JVM, the MapReduce pipe), then reap the stage."""
    try:
        import psutil

        members = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except Exception:  # noqa: BLE001 - no psutil, or the stage already exited: the stage alone
        members = []
    for member in reversed(members):
        with contextlib.suppress(Exception):
            member.terminate()
    end_process(proc)
    for member in members[1:]:  # descendants that ignored SIGTERM
        with contextlib.suppress(Exception):
            member.wait(timeout=2)
        with contextlib.suppress(Exception):
            member.kill()


def end_process(proc: subprocess.Popen[str]) -> None:
    """Terminate ``proc`` and reap it: killed when it has not ended 10 s after SIGTERM."""
    with contextlib.suppress(OSError):
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _exit_text(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with ``env`` and the project on ``PYTHONPATH``: what the benchmark's processes run with."""
    return {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}


def run_stage(stage: str, args: dict[str, Any], env: dict[str, str] | None = None) -> Measured:
    """Run ``bench.stages`` ``stage`` with ``args`` in a child process; raise StageError if it fails."""
    command = [sys.executable, "-m", "bench.stages", stage, json.dumps(args)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=None, cwd=ROOT, env=child_env(env), text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        import psutil
    except ImportError:
        psutil = None
    seen = {proc.pid}
    try:
        if psutil is not None:
            peak, method = 0, "psutil: peak of the summed RSS of the stage's process tree, sampled every 50 ms"
            watched = psutil.Process(proc.pid)
            while proc.poll() is None:
                peak = max(peak, _tree_rss(watched, seen))
                time.sleep(SAMPLE_SECONDS)
            code = proc.wait()
        else:
            _, status, usage = os.wait4(proc.pid, 0)
            peak, method = usage.ru_maxrss * 1024, "ru_maxrss of the stage process (largest single process)"
            code = proc.returncode = os.waitstatus_to_exitcode(status)
    except BaseException:  # Ctrl-C or SIGTERM: the stage must not outlive the benchmark
        _end_tree(proc)
        raise
    wall = time.perf_counter() - started
    reader.join()
    results = [line[len(RESULT_PREFIX):] for line in out if line.startswith(RESULT_PREFIX)]
    if code != 0 or not results:
        errors = [line[len(ERROR_PREFIX):] for line in out if line.startswith(ERROR_PREFIX)]
        error = json.loads(errors[-1]) if errors else f"{_exit_text(code)}, no result (see its output above)"
        raise StageError(stage, error)
    return Measured(stage, wall, peak, method, json.loads(results[-1]), frozenset(seen))
