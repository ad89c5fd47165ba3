"""Run one benchmark stage in its own process and measure it: wall time, result, peak memory.

Each stage runs as ``python -m bench.stages <stage> <json args>`` so its memory is its own (a DuckDB buffer pool
or a JVM heap does not leak into the next stage's figure) and a crash cannot take the benchmark down. The stage
prints its result as the last stdout line (``BENCH_RESULT {json}``); its progress goes to stderr, passed through.

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
SAMPLE_SECONDS = 0.05


class StageError(RuntimeError):
    """A stage exited with an error; the message holds the end of its output."""


@dataclass
class Measured:
    stage: str
    wall_seconds: float
    peak_rss_bytes: int
    memory_method: str
    result: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"wall_seconds": round(self.wall_seconds, 3), "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
                "memory_method": self.memory_method, **self.result}


def _tree_rss(proc: Any) -> int:
    import psutil

    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        with contextlib.suppress(psutil.Error):  # a process that just exited
            total += member.memory_info().rss
    return total


def run_stage(stage: str, args: dict[str, Any], env: dict[str, str] | None = None) -> Measured:
    """Run ``bench.stages`` ``stage`` with ``args`` in a child process; raise StageError if it fails."""
    command = [sys.executable, "-m", "bench.stages", stage, json.dumps(args)]
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=None, cwd=ROOT, env=child_env, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        peak, method = 0, "psutil: peak of the summed RSS of the stage's process tree, sampled every 50 ms"
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak = max(peak, _tree_rss(watched))
            time.sleep(SAMPLE_SECONDS)
        code = proc.wait()
    else:
        _, status, usage = os.wait4(proc.pid, 0)
        peak, method = usage.ru_maxrss * 1024, "ru_maxrss of the stage process (largest single process)"
        code = proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    reader.join()
    results = [line[len(RESULT_PREFIX):] for line in out if line.startswith(RESULT_PREFIX)]
    if code != 0 or not results:
        tail = "".join(out[-20:]).strip()
        raise StageError(f"benchmark stage {stage!r} failed (exit {code}); see its output above. {tail}")
    return Measured(stage, wall, peak, method, json.loads(results[-1]))
