"""Streamed ``delete`` events landed in a test lake, shared by the curation and the MapReduce tests."""

from __future__ import annotations

from datetime import datetime

from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import PrivacyPolicy
from fediscope.sources.stream import deletion_data

STREAM_ENDPOINT = "/api/v1/streaming/public"


def land_deletion(lake: LakeBackend, status_id: str, instance: str, received: datetime,
                  policy: PrivacyPolicy | None = None, origin_ref: str | None = None) -> None:
    """One ``delete`` event as ``fediscope stream`` lands it from ``instance`` (privacy on when ``policy`` is given).

    ``origin_ref`` replaces the one the stream would compute: a deletion from a status's home instance, for a
    status whose landed record is all a test has (its home id is pseudonymised away).
    """
    data = deletion_data(instance, status_id, policy or PrivacyPolicy(key=None, enabled=False))
    if origin_ref is not None:
        data["origin_ref"] = origin_ref
    write_batch(lake, "status_deletions", instance, [envelope(instance, STREAM_ENDPOINT, data, fetched_at=received)],
                fetched_at=received)


def land_deletions(lake: LakeBackend, received: datetime) -> list[tuple[str, str]]:
    """Streamed deletions of five landed statuses (their fetching instance and id) from across the lake, one of a
    sixth status matched only by its ``origin_ref`` (a deletion from its home instance, with an id no copy has),
    plus one for an id no instance landed and one naming a status from the wrong instance; returns the five
    (instance, id)."""
    records = [r for path in raw_batch_files(lake, "statuses") for r in read_batch(lake, path)]
    chosen = [(r["meta"]["instance"], r["data"]["id"]) for r in records[::97][:5]]
    for instance, status_id in chosen:
        land_deletion(lake, status_id, instance, received)
    home = next(r for r in records[50::97] if r["data"].get("origin_ref") and not r["data"].get("reblog"))
    land_deletion(lake, "home-id-unknown-here", home["data"]["account"].get("domain") or home["meta"]["instance"],
                  received, origin_ref=home["data"]["origin_ref"])
    land_deletion(lake, "1", records[0]["meta"]["instance"], received)
    land_deletion(lake, records[1]["data"]["id"], "elsewhere.example", received)
    return chosen
