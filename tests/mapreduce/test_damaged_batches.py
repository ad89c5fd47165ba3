"""Damaged or unusual raw batches: ``run_local`` (the MapReduce chain over a local lake) must treat them as the
DuckDB curation treats the same lake. Input: small lakes of REAL recorded statuses (``tests/data``), landed as a
collector lands them, then one batch damaged; both are run over them.

* An empty batch file (no bytes, plain or ``.gz``) is refused by both, in the same words: a batch is landed
  with its records, so an empty one was emptied since. The mapper itself accepts an empty input: on a cluster an
  empty split is normal (it sees a split of a file, or a ``cat`` of several, never a whole batch), so the check is
  ``run_local``'s, which reads whole files as curation does.
* A batch cut short (no final newline) is refused by both, in the same words.
* A streamed deletions batch that is empty or cut short is refused by both (its deletions are lost).
* Partitions moved elsewhere and linked back are read by both; one that cannot be listed stops both.
* A line that is not a record stops curation; the chain skips it and says how many for each reason (Hadoop
  counters ``skipped_<reason>``, a line of ``run_local``), or with ``--strict`` stops, naming the file and line,
  and writes nothing. Empty lines, ``{}`` and ``null`` hold no record: skipped by both without a word.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from permissions import without_dac_rights
from streamed_deletions import land_deletion

from fediscope.config import load_settings
from fediscope.engine.base import open_engine
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from spark_jobs.mapreduce.run_local import MAPPER, PipelineError, empty_batch_message, raw_files, run_lake

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
RUN_LOCAL = [sys.executable, str(MAPPER.with_name("run_local.py"))]
T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)  # after the recorded statuses were created
INSTANCE = "localhost:3000"


def _statuses() -> list[dict[str, Any]]:
    found = []
    for path in sorted(RECORDINGS.glob("test_*.json")):
        for interaction in json.loads(path.read_text())["interactions"]:
            body = interaction["response"]["body"]
            found += [copy.deepcopy(s) for s in (body if isinstance(body, list) else [body])
                      if isinstance(s, dict) and "uri" in s and "account" in s and isinstance(s.get("content"), str)]
    assert len(found) >= 4
    return found


def _lake(tmp_path: Path, compressed: bool = False) -> tuple[Path, list[Path]]:
    """A lake of two statuses batches (privacy off), fetched a minute apart; the batches in reading order."""
    lake = tmp_path / "lake"
    statuses = _statuses()
    batches = []
    for minute, chunk in ((1, statuses[:2]), (2, statuses[2:4])):
        at = T0 + timedelta(minutes=minute)
        batches.append(lake / write_batch(LocalLake(lake), "statuses", INSTANCE,
                                          [envelope(INSTANCE, "/api/v1/timelines/tag/x", s, fetched_at=at)
                                           for s in chunk], fetched_at=at, compressed=compressed))
    assert raw_files(lake) == batches
    return lake, batches


def _curation_error(lake: Path, tmp_path: Path) -> str | None:
    """What the DuckDB curation of a copy of ``lake`` says when it refuses it (paths as in ``lake``); None when it
    curates it."""
    copy_root = tmp_path / "sql" / "lake"
    shutil.copytree(lake / "raw", copy_root / "raw", symlinks=True)
    settings = load_settings(env={}, toml_path=None, lake=str(copy_root), pseudonym_key="unused-privacy-is-off",
                             store=f"sqlite:///{tmp_path / 'sql' / 'metrics.db'}")
    try:
        with open_engine(settings, "duckdb") as engine:
            engine.curate()
    except Exception as exc:  # noqa: BLE001 - what it says is the point
        return str(exc).replace(str(copy_root), str(lake))
    return None


def _run_local(lake: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUN_LOCAL, str(lake), *mode], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("which", [0, 1], ids=["first", "last"])
def test_run_local_refuses_an_empty_batch_as_curation_does(tmp_path: Path, which: int) -> None:
    lake, batches = _lake(tmp_path)
    empty = batches[which]
    empty.write_bytes(b"")
    said = _curation_error(lake, tmp_path)
    assert said == empty_batch_message(empty)  # curation's words, word for word
    for mode in ([], ["--json"], ["--out", str(tmp_path / "metrics.tsv")]):
        out = _run_local(lake, *mode)
        assert (out.returncode, out.stderr, out.stdout) == (1, f"run_local: {said}\n", ""), mode
    assert not (tmp_path / "metrics.tsv").exists()  # nothing computed from part of the lake
    with pytest.raises(PipelineError, match=" is empty: a batch is landed with its records"):
        run_lake(lake)


def test_run_local_refuses_an_empty_gz_batch_as_curation_does(tmp_path: Path) -> None:
    """No bytes at all, not even a gzip header: curation refuses it as an empty batch (before DuckDB's "not a GZIP
    stream"), and so does run_local, in the same words. (A gzip stream of no records is read as no records by
    both.)"""
    lake, batches = _lake(tmp_path, compressed=True)
    batches[0].write_bytes(b"")
    said = _curation_error(lake, tmp_path)
    assert said == empty_batch_message(batches[0])
    out = _run_local(lake)
    assert (out.returncode, out.stderr, out.stdout) == (1, f"run_local: {said}\n", "")


def test_the_mapper_takes_an_empty_split(tmp_path: Path) -> None:
    """On a cluster a map task may be handed an empty split (of an empty file, or the end of one): not an error."""
    lake, batches = _lake(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("mapreduce_map_input_file", "map_input_file")}
    env.update(mapreduce_task_id="task_1", mapreduce_map_input_file=f"hdfs://nn:8020{batches[0]}")
    out = subprocess.run([sys.executable, str(MAPPER)], input=b"", capture_output=True, env=env, timeout=120)
    assert (out.returncode, out.stdout) == (0, b"")
    assert b"reporter:counter:fediscope,map_lines_out,0\n" in out.stderr
    assert b"reporter:counter:fediscope,malformed_input_lines,0\n" in out.stderr


def test_a_gzip_stream_of_no_records_is_no_records_to_both(tmp_path: Path) -> None:
    lake, batches = _lake(tmp_path, compressed=True)
    batches[0].write_bytes(gzip.compress(b""))
    assert _curation_error(lake, tmp_path) is None
    got = run_lake(lake)
    assert got["account_engagement"]
    batches[0].unlink()
    assert got == run_lake(lake)


def test_run_local_says_what_curation_says_of_a_batch_cut_short(tmp_path: Path) -> None:
    """Up to what the records become (not curated / not counted), so the README's Troubleshooting row for
    ``the raw file … is cut short or damaged`` covers both."""
    lake, batches = _lake(tmp_path)
    batches[0].write_bytes(batches[0].read_bytes()[:-200])
    said = _curation_error(lake, tmp_path) or ""
    common = said.split(" (its records are then")[0]
    assert common.startswith(f"the raw file {batches[0]} is cut short or damaged: it does not end with a newline")
    out = _run_local(lake)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith(f"run_local: {common} (its records are then not counted)"), out.stderr


def _link_back(directory: Path, elsewhere: Path) -> None:
    """Move ``directory`` to ``elsewhere`` (another disk) and link it back, as an operator moving a partition does."""
    shutil.move(str(directory), str(elsewhere))
    directory.symlink_to(elsewhere, target_is_directory=True)


def test_partitions_linked_from_elsewhere_are_read_as_curation_reads_them(tmp_path: Path, sql_results) -> None:
    """A statuses partition and a deletions partition moved away and linked back: curation follows the links (as
    the lake does), so must the chain (``Path.rglob`` skipped them: the batches not counted, the deleted status
    counted)."""
    lake, batches = _lake(tmp_path)
    record = json.loads(batches[1].read_bytes().splitlines()[0])
    land_deletion(LocalLake(lake), record["data"]["id"], INSTANCE, T0 + timedelta(minutes=5))
    expected = sql_results(lake)  # copied with the links followed
    assert expected["account_engagement"]
    moved = tmp_path / "other-disk"
    moved.mkdir()
    _link_back(batches[0].parent.parent, moved / "statuses-instance")
    (deletions,) = (lake / "raw" / "mastodon" / "status_deletions").iterdir()
    _link_back(deletions, moved / "deletions-instance")
    assert _curation_error(lake, tmp_path) is None
    assert raw_files(lake) == batches
    assert run_lake(lake) == expected


def test_a_partition_that_cannot_be_listed_stops_run_local(tmp_path: Path) -> None:
    """Curation stops on it ("cannot list …"); the chain skipped its batches without a word."""
    lake, batches = _lake(tmp_path)
    partition = batches[0].parent
    partition.chmod(0)
    try:
        out = subprocess.run([*without_dac_rights(), *RUN_LOCAL, str(lake)], capture_output=True, text=True,
                             timeout=300)
    finally:
        partition.chmod(0o755)
    assert (out.returncode, out.stderr, out.stdout) == (1, f"run_local: cannot list {partition}: Permission denied\n",
                                                        "")


@pytest.mark.parametrize("damage", ["empty", "empty .gz", "cut short"])
def test_a_damaged_deletions_batch_stops_run_local_as_it_stops_curation(tmp_path: Path, damage: str) -> None:
    """The deletions it held are lost: the SQL curation stops, and the chain must not count those statuses."""
    lake, batches = _lake(tmp_path)
    record = json.loads(batches[1].read_bytes().splitlines()[0])
    land_deletion(LocalLake(lake), record["data"]["id"], INSTANCE, T0 + timedelta(minutes=5))
    (landed,) = (lake / "raw" / "mastodon" / "status_deletions").rglob("*.jsonl")
    damaged = landed.with_name(landed.name + ".gz") if damage == "empty .gz" else landed
    data = b"" if damage.startswith("empty") else landed.read_bytes()[:-1]
    landed.unlink()
    damaged.write_bytes(data)
    said = _curation_error(lake, tmp_path) or ""
    out = _run_local(lake)
    assert out.returncode == 1 and out.stdout == "", out.stderr
    if damage.startswith("empty"):
        assert out.stderr == f"run_local: {said}\n" == f"run_local: {empty_batch_message(damaged)}\n"
    else:
        assert out.stderr.startswith(f"run_local: {said.split(' (its records are then')[0]} (its records are then "
                                     "not counted)"), (out.stderr, said)
    with pytest.raises(PipelineError, match=str(damaged)):
        run_lake(lake)


#: Lines that hold no record: curation skips them, and so does the chain, without counting them.
NO_RECORD = [b"\n", b"{}\n", b"null\n", b" null \n"]
#: Lines that are not records, one of each reason the chain tells, and how it reports each.
NOT_RECORDS = [b"this is {not json\n", b"[1, 2]\n", b'{"meta": {"instance": "x"}}\n', b"\xff\xfe\n"]
NOT_RECORDS_SAID = ("run_local: skipped 4 line(s) that are not records (not UTF-8 text: 1, not JSON: 1, JSON that is "
                    "not an object: 1, not a lake envelope: 1); the SQL curation stops on such a line, except an "
                    "envelope without a data object, which it skips (--strict stops on each)\n")


def _insert(batch: Path, at: int, lines: list[bytes]) -> None:
    """``lines`` put before line ``at`` (from 0) of a batch, plain or ``.gz``."""
    compressed = batch.name.endswith(".gz")
    data = batch.read_bytes()
    records = (gzip.decompress(data) if compressed else data).splitlines(keepends=True)
    text = b"".join([*records[:at], *lines, *records[at:]])
    batch.write_bytes(gzip.compress(text) if compressed else text)


def test_lines_holding_no_record_are_skipped_without_a_word(tmp_path: Path) -> None:
    """Curation reads them as nothing (README: "Empty lines, {} and null hold no record"); the chain too."""
    lake, batches = _lake(tmp_path)
    clean = _run_local(lake)
    _insert(batches[0], 1, NO_RECORD)
    assert _curation_error(lake, tmp_path) is None
    for strict in ([], ["--strict"]):
        out = _run_local(lake, *strict)
        assert (out.returncode, out.stderr, out.stdout) == (0, "", clean.stdout), strict
    assert clean.returncode == 0 and clean.stdout


def test_run_local_says_how_many_lines_it_skipped_for_each_reason(tmp_path: Path) -> None:
    """The numbers are those of the lake without them, and stderr says that lines were skipped and why."""
    lake, batches = _lake(tmp_path)
    clean = _run_local(lake, "--json")
    _insert(batches[0], 1, [*NO_RECORD, *NOT_RECORDS])
    out = _run_local(lake, "--json")
    assert (out.returncode, out.stderr) == (0, NOT_RECORDS_SAID)
    assert json.loads(out.stdout) == json.loads(clean.stdout) and json.loads(out.stdout)["account_engagement"]
    assert _curation_error(lake, tmp_path) is not None  # which is why it is said


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gz"])
def test_strict_run_local_stops_at_a_line_that_is_not_a_record_naming_it(tmp_path: Path, compressed: bool) -> None:
    """Its file and line (the second batch's: lines are counted per file, ``.gz`` decompressed), exit 1, and no
    output: nothing on stdout, no ``--out`` file (one there before is left as it was), no partial file beside it."""
    lake, batches = _lake(tmp_path, compressed)
    _insert(batches[0], 1, NO_RECORD)
    _insert(batches[1], 1, [b"null\n", b"[1, 2]\n", b"this is {not json\n"])
    said = (f"run_local: the raw file {batches[1]} is damaged: line 3 is not a JSON record (JSON that is not an "
            "object: an array); restore it from a copy, or move it out of the lake, and run again\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "before.tsv").write_text("an older run's metrics\n")
    for mode in ([], ["--json"], ["--out", str(out_dir / "metrics.tsv")], ["--out", str(out_dir / "before.tsv")]):
        out = _run_local(lake, "--strict", *mode)
        assert (out.returncode, out.stderr, out.stdout) == (1, said, ""), mode
    assert sorted(p.name for p in out_dir.iterdir()) == ["before.tsv"]
    assert (out_dir / "before.tsv").read_text() == "an older run's metrics\n"
    with pytest.raises(PipelineError, match=re.escape(said.removeprefix("run_local: ").strip())):
        run_lake(lake, strict=True)
    assert _run_local(lake, "--out", str(out_dir / "before.tsv")).returncode == 0  # without --strict: skipped
    assert "\naccount_engagement\t" in (out_dir / "before.tsv").read_text()


def _map_task(text: bytes, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """The mapper as a Hadoop streaming task runs it: its input file's path and task id in the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("mapreduce_", "map_", "mapred_"))}
    return subprocess.run([sys.executable, str(MAPPER), *args], input=text, capture_output=True, timeout=120,
                          env={**clean, "mapreduce_task_id": "task_1", **env})


def test_the_mapper_reports_skipped_lines_as_hadoop_counters_and_strict_names_the_file(tmp_path: Path) -> None:
    lake, batches = _lake(tmp_path)
    path = f"hdfs://nn:8020{batches[0]}"
    records = batches[0].read_bytes().splitlines(keepends=True)
    text = b"".join([records[0], *NO_RECORD, *NOT_RECORDS, b'{"data": {"uri": "u", "replies_count": 1e999}}\n',
                     *records[1:]])
    out = _map_task(text, mapreduce_map_input_file=path)
    counters = [line for line in out.stderr.decode().splitlines() if "skipped_" in line or "malformed" in line]
    assert out.returncode == 0 and counters == [
        "reporter:counter:fediscope,malformed_input_lines,5", "reporter:counter:fediscope,skipped_not_utf8,1",
        "reporter:counter:fediscope,skipped_not_json,1", "reporter:counter:fediscope,skipped_not_an_object,1",
        "reporter:counter:fediscope,skipped_not_an_envelope,1", "reporter:counter:fediscope,skipped_bad_count,1",
        "reporter:counter:fediscope,skipped_bad_type,0"]
    assert out.stdout == _map_task(b"".join(records), mapreduce_map_input_file=path).stdout != b""

    stopped = _map_task(text, "--strict", mapreduce_map_input_file=path)
    assert (stopped.returncode, stopped.stderr.decode()) == (2, (
        f"mapper: the raw file {path} is damaged: line 6 is not a JSON record (not JSON: Expecting value at "
        "character 1); restore it from a copy, or move it out of the lake, and run again\n"))
    split = _map_task(text, "--strict", mapreduce_map_input_file=path, mapreduce_map_input_start="1048576")
    assert b" is damaged: line 6 of its split from byte 1048576 is not a JSON record " in split.stderr
