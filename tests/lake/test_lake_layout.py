"""The lake layout (where files go) and the record envelope, as ARCHITECTURE.md defines them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from fediscope.lake.layout import (
    ENTITIES,
    SCHEMA_VERSION,
    batch_path,
    curated_dir,
    envelope,
    new_batch_id,
    parse_partition,
    partition_dir,
    quarantine_path,
    state_path,
)


def test_partition_dir_follows_the_documented_layout() -> None:
    assert partition_dir("statuses", "mastodon.social", date(2026, 11, 23)) == \
        "raw/mastodon/statuses/instance=mastodon.social/dt=2026-11-23"
    assert partition_dir("trends_tags", "127.0.0.1:8080", "2026-01-05") == \
        "raw/mastodon/trends_tags/instance=127.0.0.1:8080/dt=2026-01-05"


def test_batch_path_adds_the_batch_file_name() -> None:
    base = "raw/mastodon/accounts/instance=fosstodon.org/dt=2026-02-03"
    assert batch_path("accounts", "fosstodon.org", date(2026, 2, 3), "b-1") == f"{base}/b-1.jsonl"
    assert batch_path("accounts", "fosstodon.org", "2026-02-03", "b-1", compressed=True) == f"{base}/b-1.jsonl.gz"


@pytest.mark.parametrize("entity", ["status", "Statuses", "", "../statuses", "statuses/x"])
def test_unknown_entities_are_refused(entity: str) -> None:
    with pytest.raises(ValueError, match="unknown lake entity"):
        partition_dir(entity, "mastodon.social", "2026-01-01")


@pytest.mark.parametrize("domain", ["Mastodon.Social", "mastodon.social/..", "../etc", "a b", "host:123456", "",
                                    "https://mastodon.social", "mastodon.social\n"])
def test_bad_instance_domains_are_refused(domain: str) -> None:
    with pytest.raises(ValueError, match="not an instance domain"):
        partition_dir("statuses", domain, "2026-01-01")
    with pytest.raises(ValueError):
        state_path(domain, "public")


@pytest.mark.parametrize("batch_id", ["a/b", "", "x y", "id\n", "../../etc/passwd"])
def test_bad_batch_ids_are_refused(batch_id: str) -> None:
    with pytest.raises(ValueError, match="invalid batch id"):
        batch_path("statuses", "mastodon.social", "2026-01-01", batch_id)


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026/01/01"])
def test_bad_dates_are_refused(day: str) -> None:
    with pytest.raises(ValueError):
        partition_dir("statuses", "mastodon.social", day)


def test_every_entity_has_a_partition() -> None:
    dirs = {partition_dir(e, "a.example", "2026-01-01") for e in ENTITIES}
    assert len(dirs) == len(ENTITIES)


def test_batch_ids_are_valid_sortable_and_unique() -> None:
    t0 = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    ids = [new_batch_id(t0 + timedelta(seconds=s)) for s in (0, 1, 61, 3600)]
    assert ids == sorted(ids)
    assert len({new_batch_id(t0) for _ in range(100)}) == 100
    assert re.fullmatch(r"20260101T000000Z-[0-9a-f]{8}", ids[0])
    batch_path("statuses", "a.example", "2026-01-01", new_batch_id())  # accepted by the path validation


def test_parse_partition_reverses_batch_path() -> None:
    path = batch_path("instance_activity", "mstdn.example:8443", date(2026, 5, 6), "b1")
    assert parse_partition(path) == {"entity": "instance_activity", "instance": "mstdn.example:8443",
                                     "dt": "2026-05-06"}
    assert parse_partition("curated/statuses/dt=2026-05-06/part-0.parquet") == {"dt": "2026-05-06"}


def test_state_quarantine_and_curated_paths() -> None:
    assert state_path("mastodon.social", "tag:python") == "_state/mastodon.social/tag__python.json"
    assert state_path("mastodon.social", "account:Gargron@mastodon.social") == \
        "_state/mastodon.social/account__Gargron@mastodon.social.json"
    assert "/" not in state_path("a.example", "tag:../../x").removeprefix("_state/a.example/")
    assert quarantine_path("a.example", "/api/v1/timelines/public", date(2026, 1, 2), "b9") == \
        "quarantine/instance=a.example/dt=2026-01-02/api_v1_timelines_public-b9.json"
    assert curated_dir("statuses") == "curated/statuses"


def test_envelope_wraps_the_entity_with_its_provenance() -> None:
    fetched = datetime(2026, 3, 4, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    data = {"id": "1", "content": "<p>hi</p>"}
    record = envelope("mastodon.social", "/api/v1/timelines/public", data, fetched, collector="nifi")
    assert record == {
        "meta": {"instance": "mastodon.social", "endpoint": "/api/v1/timelines/public",
                 "fetched_at": "2026-03-04T05:08:09.123Z", "collector": "nifi", "schema_version": SCHEMA_VERSION},
        "data": data,
    }


def test_envelope_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    meta = envelope("a.example", "/x", {})["meta"]
    fetched = datetime.fromisoformat(meta["fetched_at"].replace("Z", "+00:00"))
    assert before - timedelta(milliseconds=1) <= fetched <= datetime.now(UTC)
    assert meta["collector"] == "fediscope"


def test_checkpoints_of_account_sources_are_named_after_a_keyed_digest(tmp_path) -> None:
    from fediscope.lake.local import LocalLake
    from fediscope.lake.state import Checkpoint, checkpoint_source, load_checkpoint, save_checkpoint
    from fediscope.privacy import PrivacyPolicy

    policy = PrivacyPolicy(key=b"k" * 32)
    name = checkpoint_source("account:Gargron@mastodon.social", policy)
    assert name.startswith("account:") and "gargron" not in name.lower()
    assert name == checkpoint_source("account:gargron@Mastodon.Social", policy)  # handles are case-insensitive
    assert name != checkpoint_source("account:Gargron@mastodon.social", PrivacyPolicy(key=b"x" * 32))
    assert checkpoint_source("tag:python", policy) == "tag:python"
    assert checkpoint_source("account:a@b.c", PrivacyPolicy(key=None, enabled=False)) == "account:a@b.c"

    lake = LocalLake(tmp_path / "lake")
    save_checkpoint(lake, "mastodon.social", "account:Gargron", Checkpoint("42"))  # an older fediscope's name
    legacy = state_path("mastodon.social", "account:Gargron")
    assert lake.exists(legacy)
    assert load_checkpoint(lake, "mastodon.social", "account:Gargron", policy).newest_id == "42"  # moved
    assert not lake.exists(legacy)
    assert load_checkpoint(lake, "mastodon.social", "account:Gargron", policy).newest_id == "42"
    assert [e.path for e in lake.walk("_state") if not e.is_dir] == [
        state_path("mastodon.social", checkpoint_source("account:Gargron", policy))]


def test_collection_starts_are_read_without_sources_and_a_damaged_record_is_left_out(tmp_path, caplog) -> None:
    """The metrics' ``collection_starts`` rows: instance, how the first walk ended and the UTC day of its oldest
    status (a ``created_at`` with an offset is that moment's UTC day), no source name; a record that is not one
    (not JSON, an unknown end) is left out with a warning naming it, not a failure of the metrics."""
    from fediscope.lake.local import LocalLake
    from fediscope.lake.state import Checkpoint, CollectionStart, collection_starts, save_checkpoint, save_walk_start
    from fediscope.privacy import PrivacyPolicy

    lake = LocalLake(tmp_path / "lake")
    policy = PrivacyPolicy(key=b"k" * 32)
    save_walk_start(lake, "mastodon.social", "account:Gargron", "cut", "2026-08-01T23:30:00.000-02:00", policy)
    save_walk_start(lake, "mastodon.social", "public", "end", None)
    save_walk_start(lake, "example.org:8080", "tag:python", "since", "2026-07-31T00:00:00.000Z")
    lake.write_atomic(state_path("example.org:8080", "local", "start"), b"{not json")
    lake.write_atomic(state_path("example.org:8080", "public", "start"), b'{"extra": {"ended": "maybe"}}')
    save_checkpoint(lake, "mastodon.social", "public", Checkpoint("12"))  # a checkpoint: not a start record
    with caplog.at_level("WARNING"):
        starts = collection_starts(lake)
    assert starts == [CollectionStart("example.org:8080", "since", date(2026, 7, 31)),
                      CollectionStart("mastodon.social", "cut", date(2026, 8, 2)),
                      CollectionStart("mastodon.social", "end", None)]
    # the day alone is kept, not the status's time (a snowflake id is its time and a few bits)
    kept = [p.read_text() for p in (tmp_path / "lake").rglob("start/*.json")]
    assert len(kept) == 5 and not any("23:30" in text or "T00:00" in text for text in kept)
    assert [r.getMessage().split()[0] for r in caplog.records] == [
        state_path("example.org:8080", "local", "start"), state_path("example.org:8080", "public", "start")]


def test_collection_starts_name_the_timelines_first_collected_before_the_records(tmp_path) -> None:
    """Was: a lake collected by an older fediscope (checkpoints, no records of where the walks began) gained a
    record for a source first collected after the upgrade, and the metrics saw only that one: a first day whole for
    it was called whole, though the older sources may have begun on it cut. Each timeline with a checkpoint but no
    record is a row ``unknown`` (no day); snapshot sources, pass marks and recorded timelines are none."""
    from fediscope.lake.local import LocalLake
    from fediscope.lake.state import (
        Checkpoint,
        CollectionStart,
        collection_starts,
        save_checkpoint,
        save_pass_mark,
        save_walk_start,
    )
    from fediscope.privacy import PrivacyPolicy

    lake = LocalLake(tmp_path / "lake")
    policy = PrivacyPolicy(key=b"k" * 32)
    for source in ("public", "local", "tag:python", "account:Gargron", "instance_activity", "account_lookup:Gargron",
                   "directory"):
        save_checkpoint(lake, "mastodon.social", source, Checkpoint("12"), policy)
    save_walk_start(lake, "mastodon.social", "tag:python", "end", "2026-08-01T10:00:00.000Z")
    save_pass_mark(lake, "example.org", "public", "settle", "12")  # a mark, not a checkpoint
    assert collection_starts(lake) == [CollectionStart("mastodon.social", "end", date(2026, 8, 1))] + [
        CollectionStart("mastodon.social", "unknown", None)] * 3  # public, local, account:<digest>
