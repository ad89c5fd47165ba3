"""Raw batch files damaged after landing (cut short, emptied, NUL bytes after the last record) stop curation with
the file's name and what to do, before any engine reads them, and nothing is curated; a line that is not JSON
stops DuckDB's and Spark's curation with what to do.

Was: DuckDB dropped a last line cut short when its file was not the last one read (exit 0, the records gone); it
read an emptied file or NUL bytes after the last record as nothing. Spark read a line that is not JSON as a row of
NULLs and skipped it without a word.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_data import at, land, policy, settings_for, statuses, tree_digest

from fediscope.engine.base import Engine, open_engine
from fediscope.engine.curation import CurateSummary
from fediscope.errors import FediscopeError, LakeError
from fediscope.lake.local import LocalLake

MANIFEST = Path("_state") / "curated_manifest.json"


def _two_batches(lake: LocalLake) -> tuple[str, str]:
    """Two batches of REAL recorded statuses; the first one is read first (files are read in name order)."""
    first = land(lake, "statuses", statuses("test_hashtag_tl.json"), at(1), policy())
    second = land(lake, "statuses", statuses("test_public_tl.json", method="GET", path_contains="local=1"), at(2),
                  policy())
    assert first and second and first < second
    return first, second


def _cut_mid_line(path: Path) -> None:
    data = path.read_bytes()
    last_line = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[:last_line + (len(data) - last_line) // 2])


@pytest.mark.parametrize("damage", ["cut mid-line", "emptied", "NUL bytes after the last record"])
def test_a_damaged_batch_stops_duckdb_curation_naming_it(lake: LocalLake, lake_dir: Path,
                                                          duckdb_engine: Callable[[], Engine], damage: str) -> None:
    first, _second = _two_batches(lake)
    path = lake_dir / first
    if damage == "cut mid-line":
        _cut_mid_line(path)
    elif damage == "emptied":
        path.write_bytes(b"")
    else:
        path.write_bytes(path.read_bytes() + b"\x00\x00\x00\x00")

    with pytest.raises(LakeError) as raised:
        duckdb_engine().curate()

    assert str(path) in str(raised.value)
    assert ("is empty" if damage == "emptied" else "cut short or damaged") in str(raised.value)
    assert "restore it from a copy" in str(raised.value)
    assert not (lake_dir / MANIFEST).exists()  # nothing curated: the next run reads every file again


def test_a_compressed_batch_cut_short_stops_curation(lake: LocalLake, lake_dir: Path,
                                                     duckdb_engine: Callable[[], Engine]) -> None:
    """Compressed batches are not checked by their last byte: the decompressor finds the cut."""
    first, _second = _two_batches(lake)
    path = lake_dir / first
    packed = gzip.compress(path.read_bytes())
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(packed[:len(packed) // 2])
    path.unlink()

    with pytest.raises(FediscopeError, match="DuckDB failed"):
        duckdb_engine().curate()
    assert not (lake_dir / MANIFEST).exists()


def test_whole_batches_are_curated_as_before(lake: LocalLake, lake_dir: Path,
                                             duckdb_engine: Callable[[], Engine]) -> None:
    _two_batches(lake)
    summary = duckdb_engine().curate()
    assert summary.raw_files == 2 and summary.statuses_written > 0


def test_a_line_that_is_not_json_says_what_to_do(lake: LocalLake, lake_dir: Path,
                                                 duckdb_engine: Callable[[], Engine]) -> None:
    first, _second = _two_batches(lake)
    path = lake_dir / first
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], b"this is {not json\n", *lines[1:]]))

    with pytest.raises(FediscopeError) as raised:
        duckdb_engine().curate()

    message = str(raised.value)
    assert message.startswith("DuckDB failed:") and str(path) in message, message
    assert message.endswith("restore it from a copy, or move it out of the lake, and run again"), message


def test_a_damaged_curated_file_says_recurate_makes_it_again(lake: LocalLake, lake_dir: Path,
                                                             duckdb_engine: Callable[[], Engine]) -> None:
    _two_batches(lake)
    duckdb_engine().curate()
    damaged = sorted((lake_dir / "curated" / "statuses").rglob("*.parquet"))[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    land(lake, "statuses", statuses("test_hashtag_tl.json"), at(3), policy())  # new data: the partitions are read

    with pytest.raises(FediscopeError) as raised:
        duckdb_engine().curate()

    assert str(damaged) in str(raised.value), raised.value
    assert str(raised.value).endswith("`fediscope process --recurate` makes the curated tables again from the raw "
                                      "files"), raised.value
    duckdb_engine().curate(rebuild=True)  # as it says
    assert sorted((lake_dir / "curated" / "statuses").rglob("*.parquet"))


@pytest.mark.spark
@pytest.mark.parametrize("line", [b"this is {not json", b'{"meta": {"instance": "x"}, "data": {"id": "1', b"[1, 2]"],
                         ids=["not json", "cut short inside", "not an object"])
def test_a_line_that_is_not_a_record_stops_spark_curation_naming_the_file(lake: LocalLake, lake_dir: Path,
                                                                          spark: object, line: bytes) -> None:
    """The file still ends with a newline (the last-byte check passes): Spark read the line as a row of NULLs and
    curated the rest without a word."""
    from fediscope.engine.spark_engine import SparkEngine

    first, _second = _two_batches(lake)
    path = lake_dir / first
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], line + b"\n", *lines[1:]]))

    with SparkEngine(settings_for(lake_dir), spark=spark) as engine, pytest.raises(LakeError) as raised:
        engine.curate()

    message = str(raised.value)
    assert message.startswith(f"the raw file {path} is damaged: a line is not a JSON record"), message
    assert message.endswith("restore it from a copy, or move it out of the lake, and run again"), message
    assert not (lake_dir / MANIFEST).exists()  # nothing curated: the next run reads every file again
    assert not list((lake_dir / "curated").rglob("*.parquet"))


def _curated_naming_the_case(curate: Callable[[], CurateSummary], files: dict[str, Path]) -> CurateSummary:
    """``curate()``; its failure said as that of the case whose file it names (``files``: case → the file of its
    damage; several cases share one curation on Spark, each in a file of its own)."""
    try:
        return curate()
    except FediscopeError as exc:
        named = [case for case, path in files.items() if str(path) in str(exc)]
        pytest.fail(f"{' and '.join(named) or ' or '.join(files) + ' (no file named)'}: the curation failed: {exc}")


def _with_empty_records(path: Path) -> None:
    """Empty, ``{}`` and ``null`` lines after the first line of the batch at ``path``."""
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], b"null\n", b"{}\n", b"\n", b" null \n", b"\tnull\r\n", *lines[1:]]))


def _a_nifi_dot_file(batch: Path) -> Path:
    """What a NiFi killed while writing a batch leaves beside ``batch`` (a copy of it, cut short)."""
    dot_file = batch.parent / ".20261123T190501Z-9f8e7d6c.jsonl"  # the flows' batch name (build_flows.py BATCH_ID)
    dot_file.write_bytes(batch.read_bytes())
    _cut_mid_line(dot_file)
    return dot_file


def test_empty_records_are_skipped_alike_by_both_engines(lake: LocalLake, lake_dir: Path, tmp_path: Path,
                                                         duckdb_engine: Callable[[], Engine]) -> None:
    """Empty, ``{}`` and ``null`` lines hold no record: both engines curate the rest as if they were not there (Spark
    stopped on ``null``, which DuckDB reads as an empty record). Spark's run:
    :func:`test_spark_skips_empty_records_and_a_nifi_dot_file`."""
    first, _second = _two_batches(lake)
    clean_dir = tmp_path / "clean"
    _two_batches(LocalLake(clean_dir))
    _with_empty_records(lake_dir / first)

    summary = duckdb_engine().curate()
    with open_engine(settings_for(clean_dir), "duckdb") as engine:
        clean = engine.curate()

    assert summary.raw_files == 2 and summary.statuses_written == clean.statuses_written > 0


def test_a_nifi_dot_file_in_a_partition_is_not_read(lake: LocalLake, lake_dir: Path,
                                                    duckdb_engine: Callable[[], Engine]) -> None:
    """A NiFi killed while writing a batch leaves ``.<batch name>`` (PutFile/PutHDFS write it, then rename it) in
    the partition, cut short: neither engine reads it (both are given the lake's listing, which hides dot-files),
    so curation neither fails on it nor curates part of it. Spark's run:
    :func:`test_spark_skips_empty_records_and_a_nifi_dot_file`."""
    first, _second = _two_batches(lake)
    dot_file = _a_nifi_dot_file(lake_dir / first)

    summary = duckdb_engine().curate()

    assert summary.raw_files == 2 and summary.statuses_written > 0
    assert dot_file.name not in (lake_dir / MANIFEST).read_text()
    assert dot_file.exists()  # curation leaves it to retention (fediscope.lake.debris), a day after its write


@pytest.mark.spark
def test_spark_skips_empty_records_and_a_nifi_dot_file(lake: LocalLake, lake_dir: Path, tmp_path: Path,
                                                       spark: object) -> None:
    """The two tests above on Spark, in one lake (one Spark curation: its cost is Spark's overhead per job, not the
    rows): the empty records in the first batch, the dot-file beside it. Each failure names its case."""
    from fediscope.engine.spark_engine import SparkEngine

    first, _second = _two_batches(lake)
    clean_dir = tmp_path / "clean"
    _two_batches(LocalLake(clean_dir))
    dot_file = _a_nifi_dot_file(lake_dir / first)
    _with_empty_records(lake_dir / first)

    def curate() -> CurateSummary:
        with SparkEngine(settings_for(lake_dir), spark=spark) as engine:
            return engine.curate()

    summary = _curated_naming_the_case(curate, {"empty records": lake_dir / first, "a NiFi dot-file": dot_file})
    with open_engine(settings_for(clean_dir), "duckdb") as engine:
        clean = engine.curate()

    assert summary.raw_files == 2, f"empty records, a NiFi dot-file: {summary.raw_files} raw files read, not 2"
    assert summary.statuses_written == clean.statuses_written > 0, (
        f"empty records: {summary.statuses_written} statuses written, {clean.statuses_written} without them")
    assert dot_file.name not in (lake_dir / MANIFEST).read_text(), "a NiFi dot-file: in the manifest"
    assert dot_file.exists(), "a NiFi dot-file: deleted"  # curation leaves it to retention, a day after its write


def _a_run_stopped_by_an_unreadable_accounts_file_leaves_the_curated_tables(
        lake: LocalLake, lake_dir: Path, curate: Callable[[], object], posts: list[dict]) -> None:
    """After a first curation of ``posts`` and an accounts file: new statuses (their partitions would be rewritten),
    then an accounts file read after them that stops the run; the curated tables are those of the run before."""
    case = "an unreadable accounts file"
    curated = tree_digest(lake_dir / "curated")
    manifest = (lake_dir / MANIFEST).read_bytes()
    assert any(name.startswith("statuses/") for name in curated) and any(name.startswith("accounts/")
                                                                        for name in curated), case
    land(lake, "statuses", statuses("test_public_tl.json", method="GET", path_contains="local=1"), at(3), policy())
    bad = land(lake, "accounts", [dict(posts[0]["account"], bot="y")], at(4), policy())
    assert bad

    try:
        curate()
    except FediscopeError as exc:
        raised = exc
    else:
        pytest.fail(f"{case}: the run did not stop")

    assert str(lake_dir / bad) in str(raised), f"{case}: {raised}"
    assert tree_digest(lake_dir / "curated") == curated, f"{case}: the curated tables changed"
    assert (lake_dir / MANIFEST).read_bytes() == manifest, f"{case}: the manifest changed"  # the next run reads
    # the new files again


def test_an_unreadable_accounts_file_leaves_the_curated_tables_as_they_were(
        lake: LocalLake, lake_dir: Path, duckdb_engine: Callable[[], Engine]) -> None:
    """New statuses and an accounts file holding a record with a field neither engine can read as its type
    (``"bot": "y"``, as in tests/mapreduce/test_field_types.py): the run stops naming the accounts file, and the
    curated tables are byte for byte those of the run before. Was: the statuses and hashtags partitions were
    published first (the accounts are read after them), the manifest not saved, so the lake held statuses curated
    by a run that failed. Spark's run: :func:`test_spark_curates_a_flag_of_another_json_type_and_stops_whole`."""
    posts = statuses("test_hashtag_tl.json")
    land(lake, "statuses", posts, at(1), policy())
    land(lake, "accounts", [posts[0]["account"]], at(2), policy())
    duckdb_engine().curate()
    _a_run_stopped_by_an_unreadable_accounts_file_leaves_the_curated_tables(
        lake, lake_dir, lambda: duckdb_engine().curate(), posts)


@pytest.mark.spark
def test_spark_curates_a_flag_of_another_json_type_and_stops_whole(lake: LocalLake, lake_dir: Path,
                                                                    spark: object) -> None:
    """Spark curates a record with a flag of another JSON type, and a run it stops at an unreadable accounts file
    leaves the curated tables as they were (the test above), in one lake: the record is in the first batch, whose
    curation is the one before the run that stops (one Spark curation fewer). Each failure names its case.

    ``"bot": "true"`` (landing quarantines it, but a raw file written by other means or an older fediscope may
    hold it) is cast by DuckDB: Spark must not fail the lake on it (it did with FAILFAST, calling the file damaged);
    it reads it as DuckDB does (tests/mapreduce/test_field_types.py), the status is curated."""
    from fediscope.engine.spark_engine import SparkEngine

    def curate() -> CurateSummary:
        with SparkEngine(settings_for(lake_dir), spark=spark) as engine:
            return engine.curate()

    posts = statuses("test_hashtag_tl.json")
    odd = dict(posts[0], account=dict(posts[0]["account"], bot="true"))
    # the odd record alone: the recording holds its status twice, and the other copy would be curated if Spark
    # dropped this one (was: both landed, so a dropped record went unseen)
    flagged = land(lake, "statuses", [odd], at(1), policy())
    land(lake, "accounts", [posts[0]["account"]], at(2), policy())
    assert flagged

    summary = _curated_naming_the_case(curate, {"a flag of another JSON type": lake_dir / flagged})

    assert summary.statuses_written == 1, (
        f"a flag of another JSON type: {summary.statuses_written} statuses written, not 1 (the record was dropped)")
    _a_run_stopped_by_an_unreadable_accounts_file_leaves_the_curated_tables(lake, lake_dir, curate, posts)
