"""How the streaming mapper and the local runner deal with where their input comes from: the entity named by a
Hadoop input path (a lake under directories called ``mastodon`` or ``raw`` too), input paths that name no entity
the job reads, and the local runner's pipe and ``.gz`` errors. Input: batches of the recorded lake (REAL recorded
statuses and accounts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spark_jobs.mapreduce.run_local import MAPPER, raw_files


def _map(text: str, input_file: str | None) -> subprocess.CompletedProcess[str]:
    """The mapper script as a Hadoop map task over one input file (``input_file``: its path, as Hadoop sets it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("mapreduce_map_input_file", "map_input_file")}
    if input_file is not None:
        env.update(mapreduce_map_input_file=input_file, mapreduce_task_id="task_1")
    return subprocess.run([sys.executable, str(MAPPER)], input=text, capture_output=True, text=True, env=env,
                          check=True)


def _batch(lake: Path, entity: str) -> tuple[str, str]:
    """(the lake-relative path, the text) of the largest plain batch of ``entity``."""
    path = max((p for p in raw_files(lake, (entity,)) if not p.name.endswith(".gz")), key=lambda p: p.stat().st_size)
    return str(path.relative_to(lake)), path.read_text()


def _counter(stderr: str, name: str) -> int:
    (value,) = [line.rsplit(",", 1)[1] for line in stderr.splitlines()
                if line.startswith(f"reporter:counter:fediscope,{name},")]
    return int(value)


def test_the_entity_is_the_last_raw_mastodon_directory_of_the_path(recorded_lake: Path) -> None:
    """A lake under a directory called ``mastodon`` (or ``raw``) is read as the lake it is: the entity is the
    directory after the path's last ``raw/mastodon/``, not the first thing after some ``/mastodon/``."""
    for entity in ("statuses", "accounts"):
        relative, text = _batch(recorded_lake, entity)
        expected = _map(text, f"hdfs://nn:8020/lake/{relative}").stdout
        assert expected
        for root in ("hdfs://nn:8020/mastodon", "hdfs://nn:8020/mastodon/raw/mastodon", "/data/mastodon/lake",
                     "hdfs://nn:8020/raw/mastodon/statuses/old-lake", "file:/raw/mastodon/accounts/x"):
            out = _map(text, f"{root}/{relative}")
            assert out.stdout == expected, (entity, root)
            assert _counter(out.stderr, "unknown_entity_input_lines") == 0
            assert _counter(out.stderr, "map_lines_out") == expected.count("\n")


def test_an_input_path_naming_no_entity_of_the_job_is_counted_and_said(recorded_lake: Path) -> None:
    relative, text = _batch(recorded_lake, "statuses")
    lines = sum(1 for line in text.splitlines() if line.strip())
    for path, why in ((f"hdfs://nn:8020/lake/{relative.replace('raw/mastodon/', '')}", "has no raw/mastodon/"),
                      (f"hdfs://nn:8020/lake/{relative.replace('/statuses/', '/instance_activity/')}",
                       "entity 'instance_activity' is none of statuses, accounts, directory")):
        out = _map(text, path)
        assert out.stdout == ""
        assert _counter(out.stderr, "unknown_entity_input_lines") == lines
        assert _counter(out.stderr, "map_lines_out") == 0
        said = [line for line in out.stderr.splitlines() if not line.startswith("reporter:")]
        assert len(said) == 1 and path in said[0] and why in said[0] and f"skipped {lines} line(s)" in said[0]
    # outside Hadoop (no input path) the records' shape tells, as before
    assert _map(text, None).stdout == _map(text, f"hdfs://nn:8020/lake/{relative}").stdout
