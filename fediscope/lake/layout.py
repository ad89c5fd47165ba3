"""Where things live in the lake, and the envelope every raw record is wrapped in.

Raw batches: ``raw/mastodon/<entity>/instance=<domain>/dt=<YYYY-MM-DD>/<batch-id>.jsonl[.gz]``, where ``dt``
is the UTC fetch date. Each line is ``{"meta": {...}, "data": <Mastodon entity after the privacy policy>}``.
The NiFi flows, the scraping API and the Python collector all use these functions, so they cannot drift.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

SCHEMA_VERSION = 1
RAW_ROOT = "raw/mastodon"
CURATED_ROOT = "curated"
STATE_ROOT = "_state"
QUARANTINE_ROOT = "quarantine"
AUDIT_ROOT = "_audit"

ENTITIES = (
    "statuses", "accounts", "instance", "instance_activity", "instance_peers", "trends_tags", "directory",
    "status_deletions",  # ``delete`` events of the streaming API (fediscope.sources.stream)
)
_DOMAIN_RE = re.compile(r"^[a-z0-9.\-]+(:[0-9]{1,5})?$")
_BATCH_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _check_entity(entity: str) -> str:
    if entity not in ENTITIES:
        raise ValueError(f"unknown lake entity {entity!r}; known: {', '.join(ENTITIES)}")
    return entity


def _check_domain(domain: str) -> str:
    if not _DOMAIN_RE.fullmatch(domain):
        raise ValueError(f"not an instance domain: {domain!r}")
    return domain


def partition_dir(entity: str, instance: str, dt: date | str) -> str:
    """``raw/mastodon/statuses/instance=mastodon.social/dt=2026-11-23`` (relative to the lake root)."""
    day = dt.isoformat() if isinstance(dt, date) else date.fromisoformat(dt).isoformat()
    return f"{RAW_ROOT}/{_check_entity(entity)}/instance={_check_domain(instance)}/dt={day}"


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable, unique batch id: UTC timestamp plus a random suffix (``20261123T190501Z-1a2b3c4d``)."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def batch_path(entity: str, instance: str, dt: date | str, batch_id: str, compressed: bool = False) -> str:
    if not _BATCH_RE.fullmatch(batch_id):
        raise ValueError(f"invalid batch id {batch_id!r}")
    suffix = ".jsonl.gz" if compressed else ".jsonl"
    return f"{partition_dir(entity, instance, dt)}/{batch_id}{suffix}"


def parse_partition(path: str) -> dict[str, str]:
    """The ``key=value`` parts and the entity of a raw path: ``{"entity", "instance", "dt"}``."""
    parts = path.strip("/").split("/")
    out: dict[str, str] = {}
    if RAW_ROOT.split("/")[-1] in parts:
        idx = parts.index(RAW_ROOT.split("/")[-1])
        if idx + 1 < len(parts):
            out["entity"] = parts[idx + 1]
    for part in parts:
        if "=" in part:
            key, value = part.split("=", 1)
            out[key] = value
    return out


def curated_dir(table: str) -> str:
    return f"{CURATED_ROOT}/{table}"


#: Where a curation stages its output before renaming it into place, one directory per run
#: (:mod:`fediscope.engine.workspace`): never curated data, and a run killed outright leaves its files there, one of
#: them possibly cut short.
STAGING_DIR = curated_dir("_staging")


def is_staged(path: str) -> bool:
    """Whether a lake path (relative to the root) is below :data:`STAGING_DIR`."""
    return path.strip("/").startswith(STAGING_DIR + "/")


def state_path(instance: str, source: str, collection_pass: str | None = None) -> str:
    """Checkpoint file of one (instance, source): ``_state/<domain>/<source>.json``; the mark of another pass
    over the source's timeline (``settle``) is ``_state/<domain>/<pass>/<source>.json``."""
    safe_source = re.sub(r"[^A-Za-z0-9_.@\-]", "_", source.replace(":", "__"))
    if collection_pass is not None:
        if not re.fullmatch(r"[a-z]+", collection_pass):
            raise ValueError(f"invalid collection pass name {collection_pass!r}")
        return f"{STATE_ROOT}/{_check_domain(instance)}/{collection_pass}/{safe_source}.json"
    return f"{STATE_ROOT}/{_check_domain(instance)}/{safe_source}.json"


def quarantine_path(instance: str, endpoint: str, dt: date | str, batch_id: str) -> str:
    day = dt.isoformat() if isinstance(dt, date) else dt
    safe = re.sub(r"[^A-Za-z0-9_\-]", "_", endpoint.strip("/")) or "unknown"
    return f"{QUARANTINE_ROOT}/instance={_check_domain(instance)}/dt={day}/{safe}-{batch_id}.json"


def envelope(instance: str, endpoint: str, data: Any, fetched_at: datetime | None = None,
             collector: str = "fediscope") -> dict[str, Any]:
    """Wrap one Mastodon entity in the lake's record envelope."""
    fetched = (fetched_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "meta": {
            "instance": instance,
            "endpoint": endpoint,
            "fetched_at": fetched.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "collector": collector,
            "schema_version": SCHEMA_VERSION,
        },
        "data": data,
    }
