"""One set of tests for every lake backend (local directory, WebHDFS double, real namenode when configured).

The contract is :class:`fediscope.lake.backend.LakeBackend`: atomic writes that replace, reads, existence,
direct listing, recursive walking, deletion, and the batch-file and checkpoint helpers built on them.
"""

from __future__ import annotations

import gzip
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lake_cases import LakeCase

from fediscope.errors import LakeError
from fediscope.lake.backend import Entry, LakeBackend
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope, partition_dir, state_path
from fediscope.lake.state import (
    SETTLE_PASS,
    Checkpoint,
    list_state,
    load_checkpoint,
    load_pass_mark,
    save_checkpoint,
    save_pass_mark,
)

PAYLOAD = "héllo wörld\n".encode() + bytes(range(256))  # not valid UTF-8 as a whole: bytes in, same bytes out


def _paths(entries: list[Entry]) -> list[str]:
    return [e.path for e in entries]


def _background_write(lake: LakeBackend, path: str, data: bytes) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            lake.write_atomic(path, data)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


# -- write, read, exists ------------------------------------------------------------------------------------


def test_write_then_read_returns_the_same_bytes(lake: LakeBackend) -> None:
    lake.write_atomic("a/b/c.bin", PAYLOAD)
    assert lake.read("a/b/c.bin") == PAYLOAD


def test_empty_file_round_trips(lake: LakeBackend) -> None:
    lake.write_atomic("empty.jsonl", b"")
    assert lake.exists("empty.jsonl")
    assert lake.read("empty.jsonl") == b""


def test_overwrite_replaces_the_whole_file(lake: LakeBackend) -> None:
    lake.write_atomic("state.json", b"x" * 5000)
    lake.write_atomic("state.json", b"short")
    assert lake.read("state.json") == b"short"
    assert _paths(lake.list("")) == ["state.json"]


def test_exists_for_files_directories_and_missing_paths(lake: LakeBackend) -> None:
    lake.write_atomic("dir/file.txt", b"1")
    assert lake.exists("dir/file.txt")
    assert lake.exists("dir")
    assert not lake.exists("dir/other.txt")
    assert not lake.exists("nowhere/at/all")


def test_is_dir_tells_directories_from_files_and_missing_paths(lake: LakeBackend) -> None:
    lake.write_atomic("dir/file.txt", b"1")
    assert lake.is_dir("") and lake.is_dir("dir")
    assert not lake.is_dir("dir/file.txt")
    assert not lake.is_dir("nowhere")


def test_reading_a_missing_file_is_a_lake_error(lake: LakeBackend) -> None:
    with pytest.raises(LakeError):
        lake.read("missing/file.jsonl")


def test_paths_outside_the_lake_are_refused(lake: LakeBackend) -> None:
    with pytest.raises(LakeError, match="escapes"):
        lake.write_atomic("../outside.txt", b"no")
    with pytest.raises(LakeError, match="escapes"):
        lake.read("a/../../outside.txt")


def test_writing_below_a_file_fails_cleanly_and_keeps_the_file(lake: LakeBackend) -> None:
    lake.write_atomic("blocker", b"keep me")
    with pytest.raises(LakeError):
        lake.write_atomic("blocker/child.jsonl", b"data")
    assert lake.read("blocker") == b"keep me"
    assert _paths(lake.walk("")) == ["blocker"]


def test_partition_names_with_a_port_work(lake: LakeBackend) -> None:
    """``instance=127.0.0.1:8080`` (a local test instance): HDFS forbids ':' in names, the backend copes."""
    path = "raw/mastodon/statuses/instance=127.0.0.1:8080/dt=2026-01-01/b%1.jsonl"
    lake.write_atomic(path, b"{}\n")
    assert lake.read(path) == b"{}\n"
    assert lake.exists(path)
    assert _paths(lake.walk("raw")) == [path]
    assert _paths(lake.list("raw/mastodon/statuses")) == ["raw/mastodon/statuses/instance=127.0.0.1:8080"]
    assert lake.delete("raw/mastodon/statuses/instance=127.0.0.1:8080", recursive=True)
    assert lake.walk("") == []


# -- atomicity: observe the lake while a write is in flight ---------------------------------------------------


def test_a_reader_never_sees_a_batch_that_is_being_written(lake_case: LakeCase) -> None:
    if lake_case.hold_next_write is None:
        pytest.skip(f"{lake_case.name}: cannot pause a write half-way")
    lake = lake_case.lake
    lake.write_atomic("raw/other.jsonl", b"already here\n")
    hold = lake_case.hold_next_write()
    data = b"".join(b'{"n": %d}\n' % i for i in range(2000))
    thread, errors = _background_write(lake, "raw/batch.jsonl", data)
    try:
        assert hold.reached.wait(10), "the write never reached its half-way point"
        assert not lake.exists("raw/batch.jsonl")
        assert _paths(lake.list("raw")) == ["raw/other.jsonl"]
        assert _paths(lake.walk("")) == ["raw/other.jsonl"]
        if lake_case.disk is not None:  # the temporary file is really there, just hidden
            assert len(lake_case.names_on_disk()) == 2
    finally:
        hold.release()
        thread.join(10)
    assert not errors
    assert lake.read("raw/batch.jsonl") == data
    assert _paths(lake.walk("")) == ["raw/batch.jsonl", "raw/other.jsonl"]


def test_during_an_overwrite_readers_see_the_old_version_whole(lake_case: LakeCase) -> None:
    if lake_case.hold_next_write is None:
        pytest.skip(f"{lake_case.name}: cannot pause a write half-way")
    lake = lake_case.lake
    old, new = b"old\n" * 1000, b"new\n" * 3000
    lake.write_atomic("_state/x.json", old)
    hold = lake_case.hold_next_write()
    thread, errors = _background_write(lake, "_state/x.json", new)
    try:
        assert hold.reached.wait(10)
        assert lake.read("_state/x.json") == old
    finally:
        hold.release()
        thread.join(10)
    assert not errors
    assert lake.read("_state/x.json") == new


def test_files_being_written_by_other_tools_are_not_listed(lake: LakeBackend) -> None:
    """NiFi's PutFile/PutHDFS write ``.<name>`` and rename it: a reader must not pick it up half-written."""
    lake.write_atomic("raw/s/.20260101T000000Z-abcd1234.jsonl", b'{"partial": ')
    lake.write_atomic("raw/s/20260101T000000Z-ffff0000.jsonl", b"{}\n")
    assert _paths(lake.walk("raw")) == ["raw/s/20260101T000000Z-ffff0000.jsonl"]
    assert _paths(lake.list("raw/s")) == ["raw/s/20260101T000000Z-ffff0000.jsonl"]
    assert raw_batch_files(lake) == []  # not under raw/mastodon
    lake.write_atomic("raw/mastodon/statuses/.b.jsonl", b"{")
    assert raw_batch_files(lake) == []


def test_a_failed_write_leaves_no_target_and_no_temporary_file(lake_case: LakeCase) -> None:
    if lake_case.break_next_write is None:
        pytest.skip(f"{lake_case.name}: cannot make a write fail half-way")
    lake = lake_case.lake
    lake_case.break_next_write()
    with pytest.raises(LakeError):
        lake.write_atomic("raw/batch.jsonl", b"0123456789" * 100)
    assert not lake.exists("raw/batch.jsonl")
    assert lake.walk("") == []
    if lake_case.disk is not None:
        assert lake_case.names_on_disk() == []
    lake.write_atomic("raw/batch.jsonl", b"second try")  # the backend is still usable
    assert lake.read("raw/batch.jsonl") == b"second try"


def test_a_failed_overwrite_keeps_the_old_file(lake_case: LakeCase) -> None:
    if lake_case.break_next_write is None:
        pytest.skip(f"{lake_case.name}: cannot make a write fail half-way")
    lake = lake_case.lake
    lake.write_atomic("_state/cp.json", b'{"newest_id": "1"}')
    lake_case.break_next_write()
    with pytest.raises(LakeError):
        lake.write_atomic("_state/cp.json", b'{"newest_id": "2"}')
    assert lake.read("_state/cp.json") == b'{"newest_id": "1"}'
    if lake_case.disk is not None:
        assert lake_case.names_on_disk() == ["_state/cp.json"]


# -- list and walk ------------------------------------------------------------------------------------------


@pytest.fixture
def tree(lake: LakeBackend) -> LakeBackend:
    for path, data in {"raw/s/a.jsonl": b"12", "raw/s/b.jsonl": b"1234", "raw/t/x/y.jsonl": b"1",
                       "raw/top.txt": b"123", "raw-2/z.jsonl": b"", "other.txt": b"9"}.items():
        lake.write_atomic(path, data)
    return lake


def test_list_gives_direct_children_with_kind_and_size(tree: LakeBackend) -> None:
    assert tree.list("raw") == [Entry("raw/s", True, 0), Entry("raw/t", True, 0), Entry("raw/top.txt", False, 3)]
    assert tree.list("raw/s") == [Entry("raw/s/a.jsonl", False, 2), Entry("raw/s/b.jsonl", False, 4)]
    assert _paths(tree.list("")) == ["other.txt", "raw", "raw-2"]


def test_list_of_a_missing_directory_or_a_file_is_empty(tree: LakeBackend) -> None:
    assert tree.list("nope") == []
    assert tree.list("raw/top.txt") == []
    assert tree.list("raw/top.txt/below") == []  # below a file: no such directory either


def test_walk_gives_every_file_below_sorted_by_path(tree: LakeBackend) -> None:
    assert tree.walk("raw") == [Entry("raw/s/a.jsonl", False, 2), Entry("raw/s/b.jsonl", False, 4),
                                Entry("raw/t/x/y.jsonl", False, 1), Entry("raw/top.txt", False, 3)]
    assert _paths(tree.walk("")) == ["other.txt", "raw/s/a.jsonl", "raw/s/b.jsonl", "raw/t/x/y.jsonl",
                                     "raw/top.txt", "raw-2/z.jsonl"]
    assert tree.walk("nope") == []


# -- delete -------------------------------------------------------------------------------------------------


def test_delete_a_file(tree: LakeBackend) -> None:
    assert tree.delete("raw/top.txt") is True
    assert not tree.exists("raw/top.txt")
    assert tree.delete("raw/top.txt") is False


def test_delete_a_missing_path_is_false(lake: LakeBackend) -> None:
    assert lake.delete("never/was") is False


def test_delete_a_non_empty_directory_needs_recursive(tree: LakeBackend) -> None:
    with pytest.raises(LakeError):
        tree.delete("raw/s")
    assert tree.exists("raw/s/a.jsonl")
    assert tree.delete("raw/s", recursive=True) is True
    assert not tree.exists("raw/s")
    assert _paths(tree.walk("raw")) == ["raw/t/x/y.jsonl", "raw/top.txt"]


def test_delete_an_empty_directory(lake: LakeBackend) -> None:
    lake.write_atomic("d/f", b"1")
    lake.delete("d/f")
    assert lake.delete("d") is True
    assert not lake.exists("d")


# -- rename (publishing what an engine wrote into the lake directly) ---------------------------------------


def test_rename_moves_a_whole_directory_and_creates_the_parents(tree: LakeBackend) -> None:
    tree.rename("raw/s", "curated/new/parent/s2")
    assert not tree.exists("raw/s")
    assert tree.walk("curated") == [Entry("curated/new/parent/s2/a.jsonl", False, 2),
                                    Entry("curated/new/parent/s2/b.jsonl", False, 4)]
    tree.rename("raw/top.txt", "moved.txt")
    assert tree.read("moved.txt") == b"123" and not tree.exists("raw/top.txt")


def test_rename_never_moves_into_or_over_an_existing_destination(tree: LakeBackend) -> None:
    """HDFS would move a directory *into* an existing one; the contract refuses instead, touching nothing."""
    with pytest.raises(LakeError, match="destination exists"):
        tree.rename("raw/s", "raw/t")
    with pytest.raises(LakeError, match="destination exists"):
        tree.rename("raw/top.txt", "other.txt")
    assert _paths(tree.walk("raw/t")) == ["raw/t/x/y.jsonl"] and tree.read("other.txt") == b"9"
    assert _paths(tree.walk("raw/s")) == ["raw/s/a.jsonl", "raw/s/b.jsonl"]


def test_storage_path_is_the_name_an_engine_reading_the_directory_uses(lake_case: LakeCase) -> None:
    lake = lake_case.lake
    lake.write_atomic("raw/instance=127.0.0.1:8080/dt=2026-11-01/b.jsonl", b"1")
    stored = lake.storage_path("raw/instance=127.0.0.1:8080/dt=2026-11-01/b.jsonl")
    if lake_case.name == "local":
        assert stored == "raw/instance=127.0.0.1:8080/dt=2026-11-01/b.jsonl"
    else:  # HDFS names cannot hold ':'
        assert stored == "raw/instance=127.0.0.1%3A8080/dt=2026-11-01/b.jsonl"
    assert lake.storage_path("curated/statuses/dt=2026-11-01") == "curated/statuses/dt=2026-11-01"
    assert lake.storage_path("") == ""


# -- batches and checkpoints on top of the backend ------------------------------------------------------------


def _records(n: int) -> list[dict]:
    fetched = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    return [envelope("mastodon.example", "/api/v1/timelines/public", {"id": str(100 + i), "content": f"ü{i}"},
                     fetched) for i in range(n)]


@pytest.mark.parametrize("compressed", [False, True])
def test_write_batch_lands_one_file_in_its_partition(lake: LakeBackend, compressed: bool) -> None:
    records = _records(25)
    fetched = datetime(2026, 3, 4, 23, 59, tzinfo=UTC)
    path = write_batch(lake, "statuses", "mastodon.example", records, fetched_at=fetched,
                       batch_id="20260304T235900Z-abc", compressed=compressed)
    suffix = ".jsonl.gz" if compressed else ".jsonl"
    assert path == f"{partition_dir('statuses', 'mastodon.example', date(2026, 3, 4))}/20260304T235900Z-abc{suffix}"
    assert raw_batch_files(lake) == [path]
    assert raw_batch_files(lake, "statuses") == [path]
    assert raw_batch_files(lake, "accounts") == []
    assert list(read_batch(lake, path)) == records
    raw = lake.read(path)
    lines = (gzip.decompress(raw) if compressed else raw).splitlines()
    assert [json.loads(line) for line in lines] == records


def test_write_batch_without_records_writes_nothing(lake: LakeBackend) -> None:
    assert write_batch(lake, "statuses", "mastodon.example", []) is None
    assert lake.walk("") == []


def test_batches_of_several_partitions_are_listed_in_order(lake: LakeBackend) -> None:
    day1, day2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    second = write_batch(lake, "statuses", "b.example", _records(1), fetched_at=day2, batch_id="b2")
    first = write_batch(lake, "statuses", "a.example", _records(2), fetched_at=day1, batch_id="a1")
    other = write_batch(lake, "trends_tags", "a.example", _records(1), fetched_at=day1, batch_id="t1")
    assert raw_batch_files(lake, "statuses") == [first, second]
    assert set(raw_batch_files(lake)) == {first, second, other}


def test_checkpoints_round_trip_and_advance(lake: LakeBackend) -> None:
    assert load_checkpoint(lake, "mastodon.example", "tag:python") == Checkpoint()
    save_checkpoint(lake, "mastodon.example", "tag:python", Checkpoint(newest_id="111", extra={"pages": 2}))
    save_checkpoint(lake, "mastodon.example", "public", Checkpoint(newest_id="5"))
    loaded = load_checkpoint(lake, "mastodon.example", "tag:python")
    assert (loaded.newest_id, loaded.extra) == ("111", {"pages": 2})
    assert loaded.updated_at
    save_checkpoint(lake, "mastodon.example", "tag:python", Checkpoint(newest_id="222"))
    assert load_checkpoint(lake, "mastodon.example", "tag:python").newest_id == "222"
    assert load_checkpoint(lake, "mastodon.example", "public").newest_id == "5"
    assert len(lake.walk("_state")) == 2


def test_a_checkpoint_listed_earlier_in_the_run_and_gone_since_is_none(lake: LakeBackend) -> None:
    """A collection reads a checkpoint its run's listing of the state folder shows without asking first whether it is
    there (one request less per source); deleted since (an erasure, a user starting the source over), it is no
    checkpoint, as before, not a lake error. One the listing does not show is asked about all the same."""
    save_checkpoint(lake, "mastodon.example", "tag:python", Checkpoint(newest_id="111"))
    listing = list_state(lake, "mastodon.example")
    assert load_checkpoint(lake, "mastodon.example", "tag:python", listing=listing).newest_id == "111"
    lake.delete(state_path("mastodon.example", "tag:python"))
    assert load_checkpoint(lake, "mastodon.example", "tag:python", listing=listing) == Checkpoint()
    save_checkpoint(lake, "mastodon.example", "public", Checkpoint(newest_id="5"))  # written since the listing
    assert load_checkpoint(lake, "mastodon.example", "public", listing=listing).newest_id == "5"


def test_a_pass_mark_listed_earlier_in_the_run_and_gone_since_is_none(lake: LakeBackend) -> None:
    """The settle mark, as the checkpoint: one the run's listing shows is read without asking first whether it is
    there; deleted since, it is none (the pass starts over), not a lake error; one written since the listing (by
    another collect) is read all the same. Its folder is listed only when first asked about."""
    save_pass_mark(lake, "mastodon.example", "tag:python", SETTLE_PASS, "111")
    listing = list_state(lake, "mastodon.example")
    save_pass_mark(lake, "mastodon.example", "public", SETTLE_PASS, "5")  # before the settle folder is listed
    save_pass_mark(lake, "mastodon.example", "tag:rust", SETTLE_PASS, "7")
    assert load_pass_mark(lake, "mastodon.example", "tag:python", SETTLE_PASS, listing=listing) == "111"
    lake.delete(state_path("mastodon.example", "tag:python", SETTLE_PASS))
    assert load_pass_mark(lake, "mastodon.example", "tag:python", SETTLE_PASS, listing=listing) is None
    assert load_pass_mark(lake, "mastodon.example", "public", SETTLE_PASS, listing=listing) == "5"
    lake.delete(state_path("mastodon.example", "tag:rust", SETTLE_PASS))
    assert load_pass_mark(lake, "mastodon.example", "tag:rust", SETTLE_PASS, listing=listing) is None
    save_pass_mark(lake, "mastodon.example", "tag:go", SETTLE_PASS, "9")  # after the settle folder was listed
    assert load_pass_mark(lake, "mastodon.example", "tag:go", SETTLE_PASS, listing=listing) == "9"
    assert load_pass_mark(lake, "mastodon.example", "tag:none", SETTLE_PASS, listing=listing) is None


def test_local_path_only_for_local_backends(lake_case: LakeCase) -> None:
    lake_case.lake.write_atomic("f.txt", b"1")
    local = lake_case.lake.local_path("f.txt")
    if lake_case.name == "local":
        assert local is not None and Path(local).read_bytes() == b"1"
    else:
        assert local is None
