"""Which raw batch files are already curated: ``<lake>/_state/curated_manifest.json``.

Curation is incremental: a run reads only raw files not in the manifest (or whose size changed, e.g. a batch
rewritten by an erasure), merges them into the curated tables, and records them here *after* the curated
tables are published. A crash in between makes the next run read those files again, which is harmless: merging
the same versions twice gives the same rows (see :mod:`fediscope.engine.curate_sql`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fediscope.errors import LakeError
from fediscope.lake.backend import Entry, LakeBackend
from fediscope.lake.layout import RAW_ROOT, STATE_ROOT, parse_partition

MANIFEST_PATH = f"{STATE_ROOT}/curated_manifest.json"
#: Written when a rebuild (``fediscope process --recurate``) starts publishing, removed once its manifest is saved:
#: a rebuild publishes table by table, so one stopped part-way leaves some tables rebuilt and others not, and the
#: next curation must finish it (:func:`~fediscope.engine.curation.run_curation`).
REBUILD_MARKER_PATH = f"{STATE_ROOT}/curation_rebuild.json"
#: Raw entities curation reads (``directory`` entries are account snapshots).
CURATED_ENTITIES = ("statuses", "accounts", "directory", "instance_activity", "trends_tags", "instance_peers",
                    "status_deletions")


@dataclass
class Manifest:
    files: dict[str, int] = field(default_factory=dict)  # lake path → size in bytes when curated
    updated_at: str | None = None
    #: A new random value each time a curation publishes: metrics computed over an older generation are stale
    #: (:mod:`fediscope.engine.metric_state`). None for a manifest written before generations existed.
    generation: str | None = None
    #: The curation rules every curated row was made by (:func:`~fediscope.engine.curate_sql.rules_fingerprint`).
    #: Set when a run curates an empty lake or rebuilds it (``fediscope process --recurate``); an incremental run
    #: over rows made by other rules keeps the old value, as those rows stay as they were. None: a manifest
    #: written before fediscope recorded its rules.
    rules: str | None = None

    def missing_files(self, present: set[str]) -> list[str]:
        """Curated raw files that are no longer in the lake (deleted by retention; one an erasure emptied leaves the
        manifest with it, :func:`forget_erased_files`, except by a fediscope older than that)."""
        return sorted(path for path in self.files if path not in present)


def load_manifest(lake: LakeBackend) -> Manifest:
    if not lake.exists(MANIFEST_PATH):
        return Manifest()
    try:
        raw = json.loads(lake.read(MANIFEST_PATH))
        return Manifest(files={str(k): int(v) for k, v in raw.get("files", {}).items()},
                        updated_at=raw.get("updated_at"), generation=raw.get("generation"),
                        rules=None if raw.get("rules") is None else str(raw["rules"]))
    except (ValueError, AttributeError, TypeError) as exc:
        raise LakeError(f"{MANIFEST_PATH} is corrupt ({exc}); delete it to curate every raw file again "
                        "(the result is the same, only slower)") from None


def save_manifest(lake: LakeBackend, manifest: Manifest) -> None:
    manifest.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
    manifest.generation = uuid.uuid4().hex
    body = {"version": 1, "updated_at": manifest.updated_at, "generation": manifest.generation,
            "rules": manifest.rules, "files": dict(sorted(manifest.files.items()))}
    lake.write_atomic(MANIFEST_PATH, json.dumps(body, indent=1).encode())


def rebuild_interrupted(lake: LakeBackend) -> dict[str, object] | None:
    """What the marker of a rebuild stopped before it finished says (``started_at``, ``force``); None: no such."""
    if not lake.exists(REBUILD_MARKER_PATH):
        return None
    try:
        marker = json.loads(lake.read(REBUILD_MARKER_PATH))
    except ValueError:
        marker = None
    return marker if isinstance(marker, dict) else {}


def mark_rebuild_started(lake: LakeBackend, force: bool) -> None:
    lake.write_atomic(REBUILD_MARKER_PATH, json.dumps({
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "force": force}).encode())


def clear_rebuild_marker(lake: LakeBackend) -> None:
    lake.delete(REBUILD_MARKER_PATH)


def forget_erased_files(lake: LakeBackend, paths: list[str], unnamed: Sequence[str] = ()) -> int:
    """Drop raw files an erasure deleted (every record in them erased) from the manifest; how many were listed.
    Their curated rows went with the erasure, so a rebuild (``fediscope process --recurate``) loses nothing
    without them and need not be forced, as it must for files retention deleted (whose rows are still curated).

    ``unnamed``: files an erasure deleted whose curated rows are partly other people's, named after the erased
    account (:func:`unnamed_path`): they stay listed (a rebuild without them must still be forced), under another
    name in the same partition."""
    if not (paths or unnamed) or not lake.exists(MANIFEST_PATH):
        return 0
    manifest = load_manifest(lake)
    listed = [path for path in paths if manifest.files.pop(path, None) is not None]
    renamed = 0
    for path in unnamed:
        size = manifest.files.pop(path, None)
        if size is not None:
            manifest.files[unnamed_path(path)] = size
            renamed += 1
    if listed or renamed:
        save_manifest(lake, manifest)
    return len(listed)


def unnamed_path(path: str) -> str:
    """What the manifest lists a deleted raw file as whose name named an erased account (:func:`forget_erased_files`):
    a name in the same partition that is no batch's and names nobody (``erased-<random>``), so that it counts among
    the files curated before and gone (:meth:`Manifest.missing_files`) and is never taken for a file of the lake."""
    directory, _, name = path.rpartition("/")
    suffix = ".jsonl.gz" if name.endswith(".jsonl.gz") else ".jsonl"
    return f"{directory}/erased-{uuid.uuid4().hex}{suffix}"


@dataclass
class CurationPlan:
    """The raw files a run reads, by entity, and their sizes (to record in the manifest afterwards)."""

    files: dict[str, list[str]]
    sizes: dict[str, int]
    skipped_outside_window: int = 0
    present: set[str] = field(default_factory=set)  # every raw file of a curated entity in the lake

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.files.values())


def list_raw_files(lake: LakeBackend, entities: Sequence[str] = CURATED_ENTITIES) -> list[tuple[str, Entry]]:
    """(entity, entry) of every raw batch file of a curated entity: the one walk of the raw lake a curation makes
    (``fediscope process`` reads where the curated statuses begin from it too: :meth:`~fediscope.engine.base.Engine.
    collection_starts`)."""
    return [(entity, entry) for entity in entities for entry in lake.walk(f"{RAW_ROOT}/{entity}")
            if not entry.is_dir and entry.path.endswith((".jsonl", ".jsonl.gz"))]


def plan_curation(lake: LakeBackend, manifest: Manifest, since: date | None = None,
                  until: date | None = None, listed: list[tuple[str, Entry]] | None = None) -> CurationPlan:
    """The raw files not yet curated, limited to fetch dates ``since``..``until`` (inclusive) when given;
    ``listed``: the lake's :func:`list_raw_files`, when the caller walked it already."""
    files: dict[str, list[str]] = {e: [] for e in CURATED_ENTITIES}
    sizes: dict[str, int] = {}
    present: set[str] = set()
    outside = 0
    for entity, entry in list_raw_files(lake) if listed is None else listed:
        present.add(entry.path)
        if manifest.files.get(entry.path) == entry.size:
            continue
        if since or until:
            try:
                day = date.fromisoformat(parse_partition(entry.path).get("dt", ""))
            except ValueError:
                day = None
            if day is None or (since and day < since) or (until and day > until):
                outside += 1
                continue
        files[entity].append(entry.path)
        sizes[entry.path] = entry.size
    return CurationPlan(files=files, sizes=sizes, skipped_outside_window=outside, present=present)


def left_out_before_curated(lake: LakeBackend, manifest: Manifest,
                            listed: list[tuple[str, Entry]] | None = None) -> dict[str, date]:
    """Per instance, the latest fetch day of its raw status files no curation took in that were fetched before every
    one of its curated ones: what ``fediscope process --since`` left out of the curated tables (the raw files of a
    collection's first walk among them, most often). The curated statuses of such an instance begin where a later
    fetch's walk began, not where the lake's records say its collection began. An instance with no curated status
    file is not listed (it adds no status); files retention deleted are gone from the lake, not left out.
    ``listed``: the lake's :func:`list_raw_files`, when the caller walked it already (a curation in this process:
    one walk of the raw lake per run, which over WebHDFS is a request per directory)."""
    curated: dict[str, date] = {}
    uncurated: dict[str, list[date]] = {}
    listed = list_raw_files(lake, ("statuses",)) if listed is None else listed
    for entry in (entry for entity, entry in listed if entity == "statuses"):
        partition = parse_partition(entry.path)
        try:
            day = date.fromisoformat(partition.get("dt", ""))
        except ValueError:
            continue
        instance = partition.get("instance", "").lower()
        if entry.path in manifest.files:  # curated (an erasure's rewrite of it too, in any size)
            curated[instance] = min(day, curated.get(instance, day))
        else:
            uncurated.setdefault(instance, []).append(day)
    left = {instance: max((d for d in days if d < curated[instance]), default=None)
            for instance, days in uncurated.items() if instance in curated}
    return {instance: day for instance, day in left.items() if day is not None}
