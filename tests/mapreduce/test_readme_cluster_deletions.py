"""The README's cluster commands gather the streamed deletions with ``hdfs dfs``; run here, as written, through
Hadoop's own shell (``org.apache.hadoop.fs.FsShell``, the class behind ``hdfs dfs``, from the Hadoop client jars
pyspark ships) over a ``file://`` lake laid out as ``infra/hdfs/create_layout.py`` lays out HDFS.

Was: the block tested for the ``status_deletions`` directory, which create_layout.py always makes, then ran
``-text`` on a glob matching no file there: exit 1 under ``set -e``, before either Hadoop job ran.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from spark_jobs.mapreduce.run_local import MAPPER

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # a JVM per hdfs command


def _deletions_block() -> str:
    text = (MAPPER.parent / "README.md").read_text()
    cluster = text.split("## On a cluster", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    start = cluster.index("set -e")
    end = cluster.index("\nfi\n", start) + len("\nfi\n")
    return cluster[start:end]


def _run(raw: Path, work: Path) -> subprocess.CompletedProcess[str]:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java: Hadoop's shell needs it")
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    if not list(jars.glob("hadoop-client-api-*.jar")):
        pytest.skip(f"no Hadoop client jars in {jars}")
    conf = work / "hadoop-conf"
    conf.mkdir(exist_ok=True)
    (conf / "core-site.xml").write_text('<?xml version="1.0"?><configuration></configuration>\n')
    # `hdfs dfs ARGS` is `FsShell ARGS`; RAW is the lake's raw/mastodon as a file:// URL, as $RAW names it on HDFS
    script = (f"hdfs() {{ shift; '{java}' -cp '{conf}:{jars}/*' org.apache.hadoop.fs.FsShell \"$@\"; }}\n"
              f"RAW='file://{raw}'\n" + _deletions_block())
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=work, timeout=300)


@pytest.mark.parametrize("layout", ["no status_deletions directory", "an empty one, as create_layout.py makes it"])
def test_no_deletion_landed_yet_gives_an_empty_deletions_file(tmp_path: Path, layout: str) -> None:
    raw = tmp_path / "lake" / "raw" / "mastodon"
    (raw / "statuses").mkdir(parents=True)
    if layout.startswith("an empty"):
        (raw / "status_deletions").mkdir()

    done = _run(raw, tmp_path)

    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "deletions.jsonl").read_bytes() == b""


def test_landed_deletions_are_gathered_and_in_flight_files_skipped(tmp_path: Path) -> None:
    raw = tmp_path / "lake" / "raw" / "mastodon"
    day = raw / "status_deletions" / "instance=a.example" / "dt=2026-11-23"
    day.mkdir(parents=True)
    (day / "20261123T000000Z-stream-1.jsonl").write_text('{"meta": {}, "data": {"id": "1"}}\n')
    (day / ".20261123T000001Z-stream-2.jsonl.1f2e.tmp").write_text('{"meta": {}, "data": {"id": "2"')

    done = _run(raw, tmp_path)

    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "deletions.jsonl").read_text() == '{"meta": {}, "data": {"id": "1"}}\n'
