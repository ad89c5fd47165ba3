"""Checkpoints: the newest id seen per (instance, source), kept in ``<lake>/_state/``.

A checkpoint is advanced only after the batch it covers is durable in the lake, so a crash between the two
re-fetches (and re-lands into a new batch) at most the last page; readers deduplicate by status URI.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import state_path


@dataclass
class Checkpoint:
    newest_id: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] | None = None


def load_checkpoint(lake: LakeBackend, instance: str, source: str) -> Checkpoint:
    path = state_path(instance, source)
    if not lake.exists(path):
        return Checkpoint()
    raw = json.loads(lake.read(path))
    return Checkpoint(raw.get("newest_id"), raw.get("updated_at"), raw.get("extra"))


def save_checkpoint(lake: LakeBackend, instance: str, source: str, checkpoint: Checkpoint) -> None:
    checkpoint.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    lake.write_atomic(state_path(instance, source), json.dumps(asdict(checkpoint)).encode())
