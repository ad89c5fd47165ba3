"""``spark_jobs/metrics.py --out``: the JSON is written whole (:func:`fediscope.files.atomic_out`), through the
function the job calls once every metric ran (no Spark session needed).

Before: ``write_text`` opened ``--out`` through a symbolic link planted at it (the file it named received the
rows) and left a half-written file when the run stopped meanwhile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from spark_jobs.metrics import write_out

ROOT = Path(__file__).resolve().parents[2]
ROWS = {"languages": [{"language": "en", "toots": 3}]}


def test_a_symbolic_link_at_out_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("not the metrics\n")
    out = tmp_path / "results.json"
    out.symlink_to(victim)
    write_out(out, ROWS)
    assert not out.is_symlink()
    assert json.loads(out.read_text()) == ROWS
    assert victim.read_text() == "not the metrics\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "victim.txt"]  # no temporary file left


def _through_pipe(fifo: Path, out: Path) -> bytes:
    """What came through the named pipe ``fifo`` while ``write_out`` wrote the rows to ``out``: its reading end opened
    first, so that writing to it never waits (the rows fit in the pipe's buffer)."""
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_out(out, ROWS)
        return os.read(reader, 1 << 16)
    except BlockingIOError:  # nothing came through the pipe
        return b""
    finally:
        os.close(reader)

def test_a_named_pipe_at_out_is_written_to_as_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    received = _through_pipe(fifo, fifo)
    assert fifo.is_fifo()  # not replaced by a regular file
    assert json.loads(received) == ROWS


def test_stdout_redirected_to_a_file_is_written_to_not_replaced(tmp_path: Path) -> None:
    """``--out /dev/stdout > file`` (here ``/proc/self/fd/1``, the link ``/dev/stdout`` names, so that a regression
    cannot replace this machine's ``/dev/stdout``): a regular file's link, written through, not renamed over."""
    redirected = tmp_path / "redirected.json"
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path\n"
            f"from spark_jobs.metrics import write_out\nwrite_out(Path('/proc/self/fd/1'), {ROWS!r})")
    with redirected.open("wb") as stdout:
        job = subprocess.run([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE, text=True,
                             timeout=60)
    assert job.returncode == 0, job.stderr
    assert json.loads(redirected.read_text()) == ROWS


def test_a_symbolic_link_to_a_named_pipe_is_replaced_not_written_through(tmp_path: Path) -> None:
    """Was: the job's own rule followed the link (``exists()`` and not ``is_file()``), so a link planted at ``--out``
    in a shared folder, to a pipe its planter reads, received the rows."""
    fifo = tmp_path / "planted.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "results.json"
    out.symlink_to(fifo)
    received = _through_pipe(fifo, out)
    assert received == b""
    assert not out.is_symlink() and json.loads(out.read_text()) == ROWS
