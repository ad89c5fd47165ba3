"""Streamed ``delete`` events landed in a test lake, shared by the curation and the MapReduce tests."""

from __future__ import annotations

from datetime import datetime

from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope

STREAM_ENDPOINT = "/api/v1/streaming/public"


def land_deletion(lake: LakeBackend, status_id: str, instance: str, received: datetime) -> None:
    """One ``delete`` event as ``fediscope stream`` lands it: the instance's id of the status."""
    write_batch(lake, "status_deletions", instance, [envelope(instance, STREAM_ENDPOINT, {"id": status_id},
                                                              fetched_at=received)], fetched_at=received)


def land_deletions(lake: LakeBackend, received: datetime) -> list[tuple[str, str]]:
    """Streamed deletions of five landed statuses (their fetching instance and id) from across the lake, plus one
    for an id no instance landed and one naming a status from the wrong instance; returns the five
    (instance, id)."""
    records = [r for path in raw_batch_files(lake, "statuses") for r in read_batch(lake, path)]
    chosen = [(r["meta"]["instance"], r["data"]["id"]) for r in records[::97][:5]]
    for instance, status_id in chosen:
        land_deletion(lake, status_id, instance, received)
    land_deletion(lake, "1", records[0]["meta"]["instance"], received)
    land_deletion(lake, records[1]["data"]["id"], "elsewhere.example", received)
    return chosen
