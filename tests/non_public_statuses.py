"""Statuses that are not public, as raw files landed by other means than fediscope's collectors may hold them (a NiFi
flow, an older release, files copied into the lake): REAL recorded statuses (tests/data/mastodon/recordings) with
ONLY their ``visibility`` changed, landed straight into a lake (landing's own check, which skips them, bypassed).

Shared by the curation tests (DuckDB, Spark) and the MapReduce tests, which must leave all of them out alike.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import PUBLIC_VISIBILITIES, PrivacyPolicy

RECORDINGS = Path(__file__).resolve().parent / "data" / "mastodon" / "recordings"
INSTANCE = "localhost:3000"  # the recorded server


def recorded(name: str, keep: Any = lambda _status: True) -> dict[str, Any]:
    """The first status of a successful response of the recording ``name`` that ``keep`` accepts (a copy)."""
    for interaction in json.loads((RECORDINGS / name).read_text())["interactions"]:
        body = interaction["response"]["body"]
        for item in body if isinstance(body, list) else [body]:
            if interaction["response"]["status"] == 200 and isinstance(item, dict) and "content" in item \
                    and keep(item):
                return copy.deepcopy(item)
    raise LookupError(f"no such status in {name}")


def timeline(name: str) -> list[dict[str, Any]]:
    """Every status of the successful responses of the recording ``name`` (copies), in recorded order."""
    found = []
    for interaction in json.loads((RECORDINGS / name).read_text())["interactions"]:
        body = interaction["response"]["body"]
        if interaction["response"]["status"] == 200:
            found += [copy.deepcopy(i) for i in (body if isinstance(body, list) else [body])
                      if isinstance(i, dict) and "content" in i]
    return found


def with_visibility(status: dict[str, Any], visibility: str | None) -> dict[str, Any]:
    """A copy of the recorded ``status`` that differs ONLY in its ``visibility``."""
    return dict(copy.deepcopy(status), visibility=visibility)


def tagged() -> dict[str, Any]:
    """A recorded public status with a hashtag (``#hoot``), not a reblog; none of test_public_tl.json's."""
    return recorded("test_hashtag_tl.json", lambda s: s.get("tags") and not s.get("reblog"))


def boost() -> dict[str, Any]:
    """A recorded boost (test_status_reblog_unreblog.json: the author boosting their own unlisted status)."""
    return recorded("test_status_reblog_unreblog.json", lambda s: isinstance(s.get("reblog"), dict))


def land_raw(lake: LakeBackend, items: list[dict[str, Any]], fetched_at: datetime,
             policy: PrivacyPolicy | None = None) -> None:
    """Land ``items`` as one raw batch as a tool other than fediscope's collectors would: no visibility check, and
    through ``policy`` when given (which keeps a top-level status whatever its visibility: landing checks that)."""
    records = [envelope(INSTANCE, "/api/v1/timelines/public", data, fetched_at=fetched_at)
               for data in ((policy.apply("statuses", s, INSTANCE) if policy else s) for s in items)
               if data is not None]
    write_batch(lake, "statuses", INSTANCE, records, fetched_at=fetched_at)


def visible(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The curated ``statuses`` rows (read from the files) but the markers of statuses that are not public
    (``curate_sql.NON_PUBLIC_MARKERS``): what the metrics see of them, tombstones apart."""
    return [row for row in rows if row["visibility"] in PUBLIC_VISIBILITIES]
