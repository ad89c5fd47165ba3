"""How the streaming mapper and the local runner deal with where their input comes from: the entity named by a
Hadoop input path (a lake under directories called ``mastodon`` or ``raw`` too), input paths that name no entity
the job reads, and the local runner's pipe and ``.gz`` errors. Input: batches of the recorded lake (REAL recorded
statuses and accounts)."""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spark_jobs.mapreduce.run_local import MAPPER, PipelineError, publish, raw_files, run_lake


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


RUN_LOCAL = [sys.executable, str(Path(MAPPER).with_name("run_local.py"))]


def test_run_local_stops_quietly_when_its_output_is_closed(recorded_lake: Path) -> None:
    """``run_local.py LAKE | head``: the reader goes away; the runner exits as a Unix tool ended by SIGPIPE
    does (status 141, no traceback), in both output modes."""
    for mode in ([], ["--json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # a reader that is already gone: every write to the pipe fails with EPIPE
        try:
            out = subprocess.run([*RUN_LOCAL, str(recorded_lake), *mode], stdout=write_end, stderr=subprocess.PIPE,
                                 text=True, timeout=300)
        finally:
            os.close(write_end)
        # nothing but what the reducer says it left out (the recordings hold statuses that are not public)
        said = [line for line in out.stderr.splitlines() if not line.startswith("reducer: left out ")]
        assert (out.returncode, said) == (141, []), mode


def test_run_local_refuses_an_out_it_cannot_write_before_the_chain_runs(recorded_lake: Path,
                                                                         tmp_path: Path) -> None:
    """A usage error (exit 2) naming ``--out``, as ``spark_jobs/metrics.py`` gives. Before, the whole chain ran
    first, then it failed with exit 1 naming a temporary file (``[Errno 2] … '/missing/.m.tsv.123.tmp'``) or
    ``[Errno 21] Is a directory``."""
    folder = tmp_path / "missing"
    for out, said in ((folder / "m.tsv", f"{folder / 'm.tsv'}: the directory {folder} does not exist or is not "
                                         "writable"),
                      (tmp_path, f"{tmp_path} is a directory; name a file")):
        # a lake that does not exist: refused for --out before the lake is even looked at
        for lake in (recorded_lake, tmp_path / "no-lake"):
            done = subprocess.run([*RUN_LOCAL, str(lake), "--out", str(out)], capture_output=True, text=True,
                                  timeout=300)
            assert (done.returncode, done.stdout) == (2, ""), (out, lake)
            assert done.stderr.splitlines()[-1] == f"run_local.py: error: --out {said}", done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # a path that is no regular file but no directory either is written to as it is
    done = subprocess.run([*RUN_LOCAL, str(recorded_lake), "--out", "/dev/stdout"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "\naccount_engagement\t" in done.stdout, done.stderr


def test_run_local_takes_the_lake_setting_s_file_url_and_refuses_a_url_of_another_lake(recorded_lake: Path,
                                                                                      tmp_path: Path) -> None:
    """``run_local.py "$FEDISCOPE_LAKE"``: a ``file://`` lake (percent-decoded, as the setting reads it) is its
    directory. Was: taken as the relative path ``file:/…`` (exit 1, "no raw statuses/accounts batches under
    file:/…"), and a ``webhdfs://`` lake the same way (``under webhdfs:/namenode:9870/…``, as though the lake were
    empty). A lake run_local cannot read is a usage error (exit 2) saying where that chain runs; a password in it
    is not shown."""
    spaced = tmp_path / "my lake"
    shutil.copytree(recorded_lake, spaced)
    by_path = subprocess.run([*RUN_LOCAL, str(spaced)], capture_output=True, timeout=300)
    by_url = subprocess.run([*RUN_LOCAL, spaced.as_uri()], capture_output=True, timeout=300)
    assert by_url.returncode == by_path.returncode == 0, by_url.stderr
    assert by_url.stdout == by_path.stdout and b"\naccount_engagement\t" in by_url.stdout
    for lake in ("webhdfs://etl:Kq7wRt4Lm@namenode:9870/data/fediscope", "hdfs://namenode:8020/data/fediscope"):
        done = subprocess.run([*RUN_LOCAL, lake], capture_output=True, text=True, timeout=300)
        assert (done.returncode, done.stdout) == (2, ""), done
        scheme = lake.partition(":")[0]
        shown = lake.replace("Kq7wRt4Lm", "***")
        assert done.stderr.splitlines()[-1].startswith(
            f"run_local.py: error: the lake {shown!r} is not a local directory: run_local.py reads"), done.stderr
        assert f"a {scheme}:// lake" in done.stderr and "Kq7wRt4Lm" not in done.stderr
    done = subprocess.run([*RUN_LOCAL, "file://other-host/data/lake"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "is not a directory of this machine: write it file:///path" in done.stderr


def test_run_local_writes_out_through_no_symbolic_link(tmp_path: Path) -> None:
    """Was: ``--out``'s file beside it (``.<name>.<pid>.tmp``, a foreseeable name) was opened following a link
    left there, whose target received the metric lines. A link at ``--out`` itself to a regular file is replaced."""
    targets = {name: tmp_path / f"victim-{name}" for name in (f".m.tsv.{os.getpid()}.tmp", "m.tsv")}
    for name, target in targets.items():
        target.write_bytes(b"not yours\n")
        (tmp_path / name).symlink_to(target)
    publish(io.BytesIO(b"metric lines\n"), tmp_path / "m.tsv")
    assert all(target.read_bytes() == b"not yours\n" for target in targets.values())
    out = tmp_path / "m.tsv"
    assert not out.is_symlink() and out.read_bytes() == b"metric lines\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tsv", *sorted(p.name for p in targets.values())]


def test_the_reducer_refuses_an_option_instead_of_ignoring_it() -> None:
    """It takes none: ``--first-day`` meant for the mapper (which marks the expired versions) was ignored, exit 0,
    and the curated retention silently not applied."""
    reducer = str(Path(MAPPER).with_name("reducer.py"))
    done = subprocess.run([sys.executable, reducer, "--first-day", "2026-08-02"], input="", capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1] == "reducer.py: error: unrecognized arguments: --first-day 2026-08-02"
    bare = subprocess.run([sys.executable, reducer], input="", capture_output=True, text=True, timeout=60)
    assert (bare.returncode, bare.stdout, bare.stderr) == (0, "", "")


def test_run_local_names_a_corrupt_gz_batch_and_prints_no_partial_metrics(recorded_lake: Path,
                                                                            tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(recorded_lake / "raw", lake / "raw")
    relative, text = _batch(recorded_lake, "statuses")
    whole = gzip.compress(text.encode())
    corrupt = lake / relative.replace(".jsonl", "-truncated.jsonl.gz")
    corrupt.write_bytes(whole[: len(whole) // 2])  # a batch cut short (a copy interrupted)
    assert corrupt in raw_files(lake) and raw_files(lake)[-1] != corrupt  # batches follow it
    for mode in ([], ["--json"], ["--out", str(tmp_path / "metrics.tsv")]):
        out = subprocess.run([*RUN_LOCAL, str(lake), *mode], capture_output=True, text=True, timeout=300)
        assert out.returncode == 1, mode
        assert out.stderr == f"run_local: cannot read the raw file {corrupt}: Compressed file ended before the " \
                             "end-of-stream marker was reached\n", mode
        assert out.stdout == "", mode  # nothing computed from part of the lake
    assert not (tmp_path / "metrics.tsv").exists()
    with pytest.raises(PipelineError, match=f"cannot read the raw file {re.escape(str(corrupt))}: "):
        run_lake(lake)
