"""Temporary files left by interrupted writes: found by their exact names once a day old, removed by retention,
reported by doctor; everything else (young temporary files, other dot-files, locks, data) is left alone, and no
reader ever sees them. Runs on a real local lake and on the WebHDFS double (``lake_case``).

The NiFi flows' in-flight dot-files (PutFile/PutHDFS write ``.<batch name>``, then rename it) are such files too,
only with the flows' exact names where the flows write them. Was: retention left them in the partition forever."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cli_run import clean_env, run
from doubles.webhdfs_server import WebHDFSDouble
from lake_cases import LakeCase, double_case

from fediscope.cli.lake import listing
from fediscope.config import load_settings
from fediscope.doctor import OK, WARN, check_lake
from fediscope.engine.manifest import list_raw_files
from fediscope.errors import LakeLockedError
from fediscope.gdpr.retention import apply_retention
from fediscope.lake.debris import (
    STALE_AFTER_SECONDS,
    format_bytes,
    is_nifi_in_flight,
    is_temporary_name,
    is_temporary_path,
    remove_stale_temporary_files,
    stale_temporary_files,
)
from fediscope.lake.local import LocalLake
from fediscope.lake.lock import lake_lock

PARTITION = "raw/mastodon/statuses/instance=localhost:3000/dt=2026-11-20"
BATCH = f"{PARTITION}/b1.jsonl"
NOW = time.time()
OLD = NOW - 2 * STALE_AFTER_SECONDS
YOUNG = NOW - 3600


def _on_disk(case: LakeCase, path: str) -> Path:
    """Where a lake file is on disk (the WebHDFS double stores ``:`` escaped as ``%3A``, as HDFS does)."""
    assert case.disk is not None
    return case.disk / (path.replace(":", "%3A") if case.name.startswith("webhdfs") else path)


def _put(directory: Path, name: str, data: bytes, mtime: float) -> Path:
    path = directory / name
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _local_temp_name(directory: Path, target: str) -> str:
    """A temporary name exactly as LocalLake makes it (``tempfile.mkstemp``), left behind as a killed write would."""
    fd, name = tempfile.mkstemp(prefix="." + target + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    os.unlink(name)
    return Path(name).name


def _webhdfs_temp_name(target: str) -> str:
    """A temporary name exactly as WebHDFSLake makes it."""
    return f".{target}.{uuid.uuid4().hex[:12]}.tmp"


def _debris(case: LakeCase) -> tuple[dict[str, int], set[str]]:
    """A lake with data, a lock, checkpoints, two stale temporary files of each backend's shape, a young one and
    look-alikes (all old). Returns the stale ones (lake path → size) and every other file on disk."""
    lake = case.lake
    lake.write_atomic(BATCH, b'{"meta": {}, "data": {}}\n')
    lake.write_atomic("_state/checkpoints/localhost:3000/statuses.json", b"{}")
    assert lake.create_exclusive("_state/process.lock", b"{}")
    assert lake.create_exclusive("_state/process.lock.takeover", b"{}")
    partition, state = _on_disk(case, PARTITION), _on_disk(case, "_state")
    stale = {
        f"{PARTITION}/{_local_temp_name(partition, 'b2.jsonl')}": 100,
        f"{PARTITION}/{_webhdfs_temp_name('b3.jsonl')}": 250,
        f"_state/{_local_temp_name(state, 'process.lock')}": 7,  # a lock's create_exclusive, killed
        f"_state/{_webhdfs_temp_name('process.lock')}": 9,
    }
    for path, size in stale.items():
        _put(_on_disk(case, path).parent, _on_disk(case, path).name, b"x" * size, OLD)
    _put(partition, _local_temp_name(partition, "b4.jsonl"), b"young", YOUNG)  # a write under way
    _put(partition, _webhdfs_temp_name("b5.jsonl"), b"young", YOUNG)
    for name in (".hidden", ".b1.jsonl", ".b1.jsonl.tmp", ".b1.jsonl.abcdefg.tmp", ".b1.jsonl.ABCDEFGH.tmp",
                 "b1.jsonl.abcdefgh.tmp", ".b1.jsonl.abcdefgh.tmp.keep", ".b1.jsonl.0123456789abc.tmp",
                 "..abcdefgh.tmp", ".part-0.parquet.crc", "b1.jsonl.0123456789ab.tmp"):
        _put(partition, name, b"keep", OLD)
    for name in ("process.lock", "process.lock.takeover"):
        os.utime(state / name, (OLD, OLD))
    assert case.disk is not None
    stale_on_disk = {_on_disk(case, p).relative_to(case.disk).as_posix() for p in stale}
    return stale, set(case.names_on_disk()) - stale_on_disk


def test_names_are_exactly_the_backends_temporary_names(tmp_path: Path) -> None:
    assert is_temporary_name(_local_temp_name(tmp_path, "b1.jsonl"))
    assert is_temporary_name(_webhdfs_temp_name("instance=a%3A1"))
    for name in (".b1.jsonl", ".b1.jsonl.tmp", ".b1.jsonl.abcdefg.tmp", ".b1.jsonl.ABCDEFGH.tmp",
                 "b1.jsonl.abcdefgh.tmp", ".b1.jsonl.abcdefgh.tmp.keep", ".b1.jsonl.0123456789abc.tmp",
                 "..abcdefgh.tmp", "process.lock", "process.lock.takeover", ".hidden"):
        assert not is_temporary_name(name), name


def test_listing_entries_carry_the_modification_time(lake_case: LakeCase) -> None:
    lake = lake_case.lake
    lake.write_atomic(BATCH, b"{}\n")
    os.utime(_on_disk(lake_case, BATCH), (OLD, OLD))
    (listed,) = lake.list(PARTITION)
    (walked,) = lake.walk(PARTITION)
    assert listed.mtime == walked.mtime == pytest.approx(OLD, abs=1)  # WebHDFS: modificationTime in ms


def test_stale_temporary_files_are_removed_and_nothing_else(lake_case: LakeCase) -> None:
    stale, others = _debris(lake_case)
    lake = lake_case.lake

    def readers() -> tuple[object, ...]:
        return lake.walk(""), lake.list(PARTITION), listing(lake, PARTITION, records=True), listing(lake, "_state")

    seen_by_readers = readers()

    assert {e.path for e in stale_temporary_files(lake)} == set(stale)
    before = set(lake_case.names_on_disk())
    dry = remove_stale_temporary_files(lake, dry_run=True)
    assert sorted(dry.paths) == sorted(stale) and (dry.count, dry.bytes) == (4, 366)
    assert set(lake_case.names_on_disk()) == before and len(before) == len(others) + len(stale)

    removed = remove_stale_temporary_files(lake)

    assert sorted(removed.paths) == sorted(stale) and (removed.count, removed.bytes) == (4, 366)
    assert not removed.failed
    assert set(lake_case.names_on_disk()) == others  # young ones, look-alikes, locks, checkpoints, data: kept
    assert removed.describe() == "removed 4 stale temporary files (366 bytes) left by interrupted writes, older " \
                                 "than 24 h"
    assert readers() == seen_by_readers
    assert [e.path for e in lake.walk(PARTITION)] == [BATCH]  # readers never saw any of it
    assert not remove_stale_temporary_files(lake).paths  # nothing left to do


def test_young_temporary_files_become_stale_a_day_after_their_write(lake_case: LakeCase) -> None:
    _debris(lake_case)
    young = {e.path for e in lake_case.lake.walk_hidden(PARTITION) if is_temporary_name(e.path.rsplit("/", 1)[1])
             and e.mtime is not None and e.mtime > OLD + 60}
    assert len(young) == 2
    kept = remove_stale_temporary_files(lake_case.lake, dry_run=True, now=NOW)
    assert young == {path for path, _ in kept.young} and not young & set(kept.paths)
    assert all(when is not None and NOW < when <= NOW + STALE_AFTER_SECONDS for _, when in kept.young)  # then stale
    later = remove_stale_temporary_files(lake_case.lake, now=NOW + STALE_AFTER_SECONDS)
    assert young <= set(later.paths)


def test_mapreduce_input_ignores_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lake_cases import local_case

    from spark_jobs.mapreduce.run_local import raw_files

    case = local_case(tmp_path, monkeypatch)
    _debris(case)
    assert case.disk is not None
    assert [p.relative_to(case.disk).as_posix() for p in raw_files(case.disk)] == [BATCH]
    assert remove_stale_temporary_files(case.lake).count == 4
    assert [p.relative_to(case.disk).as_posix() for p in raw_files(case.disk)] == [BATCH]


# -- NiFi's in-flight dot-files ----------------------------------------------------------------------------------

QUARANTINE = "quarantine/instance=localhost:3000/dt=2026-11-20"
#: A batch name as the flows' ``Name batch file`` gives it (nifi_templates/build_flows.py BATCH_ID + ".jsonl").
NIFI_BATCH = "20261120T101500Z-1a2b3c4d.jsonl"
NIFI_QUARANTINED = "nifi_landing-20261120T101500Z-1a2b3c4d.json"
#: The batches in PARTITION, in name order: one NiFi landed, one of the collector.
LANDED = [f"{PARTITION}/{NIFI_BATCH}", BATCH]
#: The same names in directories the flows never write to, and other names in the directories they write to.
NIFI_LOOK_ALIKES = (
    *(f"{PARTITION}/{name}" for name in (
        ".20261120T101500Z-1A2B3C4D.jsonl", ".20261120T101500Z-1a2b3c4d.jsonl.gz", ".20261120T101500Z-1a2b3c4.jsonl",
        ".2026112T101500Z-1a2b3c4d.jsonl", "..20261120T101500Z-1a2b3c4d.jsonl", ".20261120T101500Z-1a2b3c4d.json",
        ".20261120T101500Z-1a2b3c4d.jsonl.keep", ".x20261120T101500Z-1a2b3c4d.jsonl",
        "._20261120T101500Z-1a2b3c4d.jsonl", f".{NIFI_QUARANTINED}", ".b1.jsonl")),
    *(f"{QUARANTINE}/{name}" for name in (
        f".{NIFI_BATCH}", ".nifi_other-20261120T101500Z-1a2b3c4d.json", ".nifi_landing-20261120T101500Z-1a2b3c4d.jsonl",
        ".nifi_landing-b1.json", ".statuses-20261120T101500Z-1a2b3c4d.json")),
    f"raw/mastodon/accounts/instance=localhost:3000/dt=2026-11-20/.{NIFI_BATCH}",  # the flows land statuses only
    f"raw/mastodon/statuses/instance=localhost:3000/.{NIFI_BATCH}",  # above the dt= directory
    f"{PARTITION}/nested/.{NIFI_BATCH}",  # below it
    f"raw/mastodon/statuses/instance=localhost:3000/dt=latest/.{NIFI_BATCH}",
    f"raw/mastodon/statuses/dt=2026-11-20/.{NIFI_BATCH}",
    f"mine/{PARTITION}/.{NIFI_BATCH}",
    f"curated/statuses/dt=2026-11-20/.{NIFI_BATCH}",
    f"_state/.{NIFI_BATCH}",
    f".{NIFI_BATCH}",
    f"quarantine/instance=localhost:3000/.{NIFI_QUARANTINED}",
)


def _put_at(case: LakeCase, path: str, data: bytes, mtime: float) -> None:
    on_disk = _on_disk(case, path)
    on_disk.parent.mkdir(parents=True, exist_ok=True)
    _put(on_disk.parent, on_disk.name, data, mtime)


def _nifi_debris(case: LakeCase) -> tuple[dict[str, int], set[str]]:
    """A lake with a batch of the collector and one NiFi landed whole, a quarantine file of NiFi, the dot-files a
    NiFi killed before its renames left (a day old: two batches, three quarantine files), one NiFi is writing now,
    and look-alikes (all old). Returns the stale ones (lake path → size) and every other file on disk."""
    lake = case.lake
    lake.write_atomic(BATCH, b'{"meta": {}, "data": {}}\n')
    lake.write_atomic(f"{PARTITION}/{NIFI_BATCH}", b'{"meta": {}, "data": {}}\n')
    lake.write_atomic(f"{QUARANTINE}/{NIFI_QUARANTINED}", b"{}")
    stale = {
        f"{PARTITION}/.{NIFI_BATCH}": 300,  # the same name as a landed batch: a retry landed it, this copy is left
        f"{PARTITION}/.20261120T235959Z-00ff9a0b.jsonl": 120,
        f"{QUARANTINE}/.{NIFI_QUARANTINED}": 40,
        f"{QUARANTINE}/.nifi_fetch-20261120T000000Z-0123abcd.json": 30,
        f"{QUARANTINE}/.nifi_unprocessable-20261120T000001Z-89efcdab.json": 20,
    }
    for path, size in stale.items():
        _put_at(case, path, b"x" * size, OLD)
    _put_at(case, f"{PARTITION}/.20261120T120000Z-abcdef01.jsonl", b'{"meta": {}, "data"', YOUNG)  # under way
    for path in NIFI_LOOK_ALIKES:
        _put_at(case, path, b"keep", OLD)
    assert case.disk is not None
    stale_on_disk = {_on_disk(case, p).relative_to(case.disk).as_posix() for p in stale}
    return stale, set(case.names_on_disk()) - stale_on_disk


def test_nifi_in_flight_paths_are_exactly_the_flows_dot_files() -> None:
    for path in (f"{PARTITION}/.{NIFI_BATCH}", f"{QUARANTINE}/.{NIFI_QUARANTINED}",
                 f"{QUARANTINE}/.nifi_fetch-20261120T101500Z-1a2b3c4d.json",
                 f"{QUARANTINE}/.nifi_unprocessable-20261120T101500Z-1a2b3c4d.json",
                 "raw/mastodon/statuses/instance=mastodon.social/dt=2026-01-31/.20260131T235959Z-ffffffff.jsonl"):
        assert is_nifi_in_flight(path) and is_temporary_path(path), path
    for path in (*NIFI_LOOK_ALIKES, f"{PARTITION}/{NIFI_BATCH}", f"{QUARANTINE}/{NIFI_QUARANTINED}",
                 f"/{PARTITION}/.{NIFI_BATCH}", f"{PARTITION}/.{NIFI_BATCH}/"):
        assert not is_nifi_in_flight(path) and not is_temporary_path(path), path
    assert is_temporary_path(f"{PARTITION}/{_webhdfs_temp_name('b1.jsonl')}")  # the backends' names, anywhere
    assert is_temporary_path(f"_state/{_webhdfs_temp_name('process.lock')}")


def test_stale_nifi_dot_files_are_removed_and_nothing_else(lake_case: LakeCase) -> None:
    stale, others = _nifi_debris(lake_case)
    lake = lake_case.lake

    def readers() -> tuple[object, ...]:
        return (lake.walk(""), lake.list(PARTITION), lake.list(QUARANTINE), listing(lake, "", records=True),
                listing(lake, PARTITION, records=True), listing(lake, QUARANTINE), list_raw_files(lake))

    seen_by_readers = readers()
    assert {e.path for e in stale_temporary_files(lake)} == set(stale)

    removed = remove_stale_temporary_files(lake)

    assert sorted(removed.paths) == sorted(stale) and (removed.count, removed.bytes) == (5, 510)
    assert not removed.failed
    assert set(lake_case.names_on_disk()) == others  # the one being written, look-alikes, batches: kept
    assert readers() == seen_by_readers
    assert sorted(e.path for e in lake.walk(PARTITION)) == LANDED  # readers never saw them
    assert [e.path for _, e in list_raw_files(lake)] == LANDED
    later = remove_stale_temporary_files(lake, now=NOW + STALE_AFTER_SECONDS)  # a day after the write under way
    assert later.paths == [f"{PARTITION}/.20261120T120000Z-abcdef01.jsonl"]


def test_readers_never_see_nifi_dot_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``lake ls`` (listing), curation's input (list_raw_files, for DuckDB and Spark alike) and the MapReduce
    job's input leave NiFi's in-flight dot-files out, stale or not."""
    from lake_cases import local_case

    from spark_jobs.mapreduce.run_local import raw_files

    case = local_case(tmp_path, monkeypatch)
    _nifi_debris(case)
    assert case.disk is not None
    assert [p.relative_to(case.disk).as_posix() for p in raw_files(case.disk)] == LANDED
    assert [e.path for _, e in list_raw_files(case.lake)] == LANDED
    rows = sorted(listing(case.lake, PARTITION, records=True), key=lambda r: str(r["path"]))
    assert [(r["path"], r.get("files"), r["records"]) for r in rows] == [
        (LANDED[0], None, 1), (BATCH, None, 1), (f"{PARTITION}/nested/", 0, None)]  # only a dot-file there
    assert [r["path"] for r in listing(case.lake, QUARANTINE)] == [f"{QUARANTINE}/{NIFI_QUARANTINED}"]


# -- retention -------------------------------------------------------------------------------------------------


def test_retention_removes_stale_temporary_files(lake_case: LakeCase) -> None:
    stale, others = _debris(lake_case)
    lake = lake_case.lake
    lake.delete("_state/process.lock")  # retention takes the lake lock itself
    lake.delete("_state/process.lock.takeover")
    others -= {"_state/process.lock", "_state/process.lock.takeover"}
    settings = load_settings(env={}, toml_path=None, lake=lake.url, retention_raw_days=0, retention_curated_days=0)

    dry = apply_retention(settings, dry_run=True, today=date(2026, 11, 23), lake=lake)
    assert sorted(dry.temporary_files.paths) == sorted(stale) and dry.temporary_files.dry_run
    assert len(lake_case.names_on_disk()) == len(others) + len(stale)

    summary = apply_retention(settings, today=date(2026, 11, 23), lake=lake)

    assert not summary.deleted  # 0 days: every partition kept, the temporary files are removed all the same
    assert summary.as_dict()["temporary_files"] == {"count": 4, "bytes": 366, "older_than_hours": 24.0,
                                                    "paths": summary.temporary_files.paths, "failed": []}
    assert set(lake_case.names_on_disk()) == others


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_retention_walks_the_hidden_files_once(lake_case: LakeCase, monkeypatch: pytest.MonkeyPatch,
                                               dry_run: bool) -> None:
    """One walk of the lake's hidden files per run (over WebHDFS, one request per directory), as the erasure's."""
    stale, _others = _debris(lake_case)
    lake = lake_case.lake
    lake.delete("_state/process.lock")  # retention takes the lake lock itself
    lake.delete("_state/process.lock.takeover")
    settings = load_settings(env={}, toml_path=None, lake=lake.url, retention_raw_days=0, retention_curated_days=0)
    walks: list[str] = []
    original = type(lake).walk_hidden

    def counted(self: Any, path: str) -> list[Any]:
        walks.append(path)
        return original(self, path)

    monkeypatch.setattr(type(lake), "walk_hidden", counted)
    summary = apply_retention(settings, dry_run=dry_run, today=date(2026, 11, 23), lake=lake)

    assert sorted(summary.temporary_files.paths) == sorted(stale) and walks == [""]


def test_retention_removes_stale_nifi_dot_files(lake_case: LakeCase) -> None:
    stale, others = _nifi_debris(lake_case)
    settings = load_settings(env={}, toml_path=None, lake=lake_case.lake.url, retention_raw_days=0,
                             retention_curated_days=0)

    dry = apply_retention(settings, dry_run=True, today=date(2026, 11, 23), lake=lake_case.lake)
    assert sorted(dry.temporary_files.paths) == sorted(stale)
    assert len(lake_case.names_on_disk()) == len(others) + len(stale)

    summary = apply_retention(settings, today=date(2026, 11, 23), lake=lake_case.lake)

    assert summary.as_dict()["temporary_files"] == {"count": 5, "bytes": 510, "older_than_hours": 24.0,
                                                    "paths": summary.temporary_files.paths, "failed": []}
    assert sorted(summary.temporary_files.paths) == sorted(stale)
    assert set(lake_case.names_on_disk()) == others


def test_retention_leaves_temporary_files_while_the_lake_is_locked(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_atomic(BATCH, b"{}\n")
    stale = _put(_on_disk(LakeCase("local", lake, disk=lake.root), PARTITION),
                 _webhdfs_temp_name("b2.jsonl"), b"x", OLD)
    settings = load_settings(env={}, toml_path=None, lake=str(lake.root))
    with lake_lock(lake, command="fediscope process"), pytest.raises(LakeLockedError):
        apply_retention(settings, lake=lake)
    assert stale.exists()
    assert apply_retention(settings, lake=lake).temporary_files.count == 1
    assert not stale.exists()


def test_retention_command_reports_the_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY="debris-test-pseudonym-key-0123456789abcdef",
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'metrics.db'}", FEDISCOPE_LAKE=str(tmp_path / "lake"))
    lake = LocalLake(tmp_path / "lake")
    lake.write_atomic(BATCH, b"{}\n")
    partition = _on_disk(LakeCase("local", lake, disk=lake.root), PARTITION)
    name = _local_temp_name(partition, "b2.jsonl")
    _put(partition, name, b"x" * 1536, OLD)

    code, out, err = run(capsys, "gdpr", "retention", "--dry-run")
    assert code == 0, err
    assert f"would remove {PARTITION}/{name} (a stale temporary file)" in out
    assert "would remove 1 stale temporary file (1.5 KiB)" in out and (partition / name).exists()

    code, out, err = run(capsys, "gdpr", "retention")
    assert code == 0, err
    assert out.splitlines()[-1] == ("removed 1 stale temporary file (1.5 KiB) left by interrupted writes, older "
                                    "than 24 h")
    assert not (partition / name).exists() and (partition / "b1.jsonl").exists()

    code, out, err = run(capsys, "gdpr", "retention")
    assert code == 0 and out.splitlines()[-1] == "no stale temporary files (older than 24 h)"


# -- doctor ----------------------------------------------------------------------------------------------------


def test_doctor_warns_about_stale_temporary_files_on_a_local_lake(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_atomic(BATCH, b"{}\n")
    partition = _on_disk(LakeCase("local", lake, disk=lake.root), PARTITION)
    settings = load_settings(env={}, toml_path=None, lake=str(lake.root))
    _put(partition, _local_temp_name(partition, "b2.jsonl"), b"young", YOUNG)
    _put(partition, ".b1.jsonl", b"NiFi's", OLD)
    assert check_lake(settings).status == OK  # a write under way, another tool's dot-file: nothing to say

    _put(partition, _webhdfs_temp_name("b3.jsonl"), b"x" * 2048, OLD)
    check = check_lake(settings)

    assert check.status == WARN
    assert "1 temporary file (2.0 KiB) left by interrupted writes, older than 24 h" in check.detail
    assert "wrote, read and deleted a probe file" in check.detail
    assert "`fediscope gdpr retention` removes them" in check.fix


def test_doctor_warns_about_a_stale_nifi_dot_file_on_a_local_lake(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_atomic(BATCH, b"{}\n")
    partition = _on_disk(LakeCase("local", lake, disk=lake.root), PARTITION)
    settings = load_settings(env={}, toml_path=None, lake=str(lake.root))
    _put(partition, ".20261120T120000Z-abcdef01.jsonl", b"being written", YOUNG)
    assert check_lake(settings).status == OK

    _put(partition, f".{NIFI_BATCH}", b"x" * 1024, OLD)
    check = check_lake(settings)

    assert check.status == WARN
    assert f"1 temporary file (1.0 KiB) left by interrupted writes, older than 24 h, e.g. {PARTITION}/.{NIFI_BATCH}" \
        in check.detail


def test_sizes_read_as_people_write_them() -> None:
    assert [format_bytes(n) for n in (0, 1, 1023, 1536, 5 * 1024**2 + 1)] == [
        "0 bytes", "1 byte", "1023 bytes", "1.5 KiB", "5.0 MiB"]


# -- whose clock: on WebHDFS the namenode's ---------------------------------------------------------------------


def _young_and_old(case: LakeCase) -> tuple[str, str]:
    """A temporary file written an hour ago and one written two days ago, both by the host's clock (the double
    reports them shifted by its ``clock_offset``, as a namenode stamps them by its own clock)."""
    case.lake.write_atomic(BATCH, b"{}\n")
    partition, now = _on_disk(case, PARTITION), time.time()
    young = _put(partition, _webhdfs_temp_name("b2.jsonl"), b"young", now - 3600).name
    old = _put(partition, _webhdfs_temp_name("b3.jsonl"), b"old", now - 2 * STALE_AFTER_SECONDS).name
    return f"{PARTITION}/{young}", f"{PARTITION}/{old}"


@pytest.mark.parametrize("hours", [-36, 36], ids=["host-ahead", "host-behind"])
def test_on_webhdfs_the_age_of_temporary_files_is_judged_by_the_namenode_clock(
        webhdfs_server: WebHDFSDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        hours: int) -> None:
    """Was: the namenode's modification times against this host's clock. A host a day and a half ahead removed a
    write under way (an hour old); one a day and a half behind left a two-day-old file."""
    case = double_case(webhdfs_server, monkeypatch)
    young, old = _young_and_old(case)
    webhdfs_server.clock_offset = hours * 3600.0
    server_time = case.lake.server_time()  # type: ignore[attr-defined]
    assert server_time == pytest.approx(time.time() + hours * 3600, abs=2)
    with caplog.at_level(logging.INFO, logger="fediscope.lake.debris"):
        removed = remove_stale_temporary_files(case.lake)
    assert removed.paths == [old]
    assert case.lake.exists(BATCH) and young.rsplit("/", 1)[1] in os.listdir(_on_disk(case, PARTITION))
    assert f"runs 36.0 h {'ahead of' if hours > 0 else 'behind'} this host's" in caplog.text


def test_a_namenode_answer_without_a_date_falls_back_to_the_host_clock_and_says_so(
        webhdfs_server: WebHDFSDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    case = double_case(webhdfs_server, monkeypatch)
    young, old = _young_and_old(case)
    webhdfs_server.send_date = False
    assert case.lake.server_time() is None  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.debris"):
        assert [e.path for e in stale_temporary_files(case.lake)] == [old]
    assert "did not say what time it is (no Date header in its answer)" in caplog.text
    assert "judged by this host's clock" in caplog.text


def test_a_local_lake_is_judged_by_this_host_clock_without_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    from lake_cases import local_case

    case = local_case(tmp_path, monkeypatch)
    _young, old = _young_and_old(case)
    with caplog.at_level(logging.INFO, logger="fediscope.lake.debris"):
        assert [e.path for e in stale_temporary_files(case.lake)] == [old]
    assert caplog.text == ""
