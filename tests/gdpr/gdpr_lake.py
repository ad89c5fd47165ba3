"""GDPR test helpers: a lake landed from REAL recorded entities, and scans of every byte of lake and store."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fediscope.config import Settings
from fediscope.engine.metrics import Metric
from fediscope.gdpr.erase import stored_metrics
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import PrivacyPolicy, policy_from_settings
from fediscope.store.port import open_store

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "mastodon" / "recordings"
LOCAL = "localhost:3000"  # the recorded server
KEY = "gdpr-test-pseudonym-key-5f1d0c9e8b7a6f4e3d2c1b0a"
#: The data subject of the erasure tests: the author of the status the recorded reply answers (and mentions),
#: boosted by admin in another recording, mentioned by mastodonpy_test in the home timeline.
SUBJECT = f"mastodonpy_test_2@{LOCAL}"
OTHERS = (f"admin@{LOCAL}", f"mastodonpy_test@{LOCAL}")

#: Recordings whose statuses / accounts / instance documents make the test lake.
STATUS_FILES = ("test_status_reply.json", "test_follow_with_notify_reblog.json", "test_home_tl.json",
                "test_conversations.json", "test_hashtag_tl.json", "test_status_reblog_unreblog.json",
                "test_status_quote_revoke.json", "test_list_timeline.json")
ACCOUNT_FILES = ("test_accounts.json", "test_directory.json")
INSTANCE_FILES = ("test_instance.json", "test_instance_v1.json")
#: Recordings of instance-level lists (no account's data): raw entity → (recording, endpoint).
INSTANCE_LISTS = {"instance_activity": ("test_instance_activity.json", "/api/v1/instance/activity"),
                  "instance_peers": ("test_instance_peers.json", "/api/v1/instance/peers")}


def recorded(files: Iterable[str], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(instance, raw entity) for every successful recorded response of ``kind`` in ``files``."""
    found = []
    for name in files:
        for interaction in json.loads((RECORDINGS / name).read_text())["interactions"]:
            if interaction["response"]["status"] != 200:
                continue
            body = interaction["response"]["body"]
            instance = interaction["request"]["uri"].split("/")[2]
            for item in body if isinstance(body, list) else [body]:
                if not isinstance(item, dict):
                    continue
                is_status = "account" in item and "uri" in item
                is_account = "acct" in item and "username" in item
                is_instance = "contact" in item or "contact_account" in item
                if {"statuses": is_status, "accounts": is_account, "instance": is_instance}[kind]:
                    found.append((instance, item))
    return found


def land_recordings(lake: LakeBackend, policy: PrivacyPolicy, fetched_at: datetime | None = None,
                    kinds: Iterable[str] = ("statuses", "accounts", "instance")) -> int:
    """Land the recorded entities (of ``kinds``) through the privacy policy into raw batches, the collector's way."""
    fetched_at = fetched_at or datetime.now(UTC)
    batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for kind, files, endpoint in (("statuses", STATUS_FILES, "/api/v1/timelines/public"),
                                  ("accounts", ACCOUNT_FILES, "/api/v1/accounts/lookup"),
                                  ("instance", INSTANCE_FILES, "/api/v2/instance")):
        if kind not in kinds:
            continue
        for instance, item in recorded(files, kind):
            landed = policy.apply(kind, json.loads(json.dumps(item)), instance)
            if landed is not None:
                batches[(kind, instance)].append(envelope(instance, endpoint, landed, fetched_at))
    total = 0
    for (kind, instance), records in sorted(batches.items()):
        for i in range(0, len(records), 25):  # several batch files per partition, one of them gzip
            write_batch(lake, kind, instance, records[i:i + 25], fetched_at=fetched_at, compressed=i == 25)
            total += len(records[i:i + 25])
    return total


def land_instance_lists(lake: LakeBackend, fetched_at: datetime) -> None:
    """Land the recorded server's weekly activity and peer list (:data:`INSTANCE_LISTS`), one batch each."""
    for entity, (name, endpoint) in INSTANCE_LISTS.items():
        for interaction in json.loads((RECORDINGS / name).read_text())["interactions"]:
            if interaction["response"]["status"] == 200:
                instance = interaction["request"]["uri"].split("/")[2]
                records = [envelope(instance, endpoint, item, fetched_at) for item in interaction["response"]["body"]]
                write_batch(lake, entity, instance, records, fetched_at=fetched_at)
                break


#: The day :func:`land_recent_copies` posts (and fetches) its copies of the recorded statuses on.
RECENT = "2026-11-20"


def land_recent_copies(lake: LakeBackend, policy: PrivacyPolicy, authors: set[str] | None = None,
                       reblogs: bool = False) -> int:
    """The recorded statuses of localhost:3000 (of ``authors`` alone, by username, when given) again, created (and
    fetched) on :data:`RECENT`: each its own status (another id and URI), so the curated tables hold two days.
    Public statuses only, or with ``reblogs`` the reblogs alone: a share event of :data:`RECENT` whose original
    (embedded as recorded) was posted on the recorded day."""
    fetched = datetime.fromisoformat(f"{RECENT}T12:00:00+00:00").astimezone(UTC)
    records = []
    for instance, status in recorded(STATUS_FILES, "statuses"):
        if instance != LOCAL or bool(status.get("reblog")) != reblogs or (
                not reblogs and status["visibility"] != "public"):
            continue
        if authors is not None and status["account"]["acct"] not in authors:
            continue
        copy = json.loads(json.dumps(status))
        copy.update(id=f"9{status['id']}", uri=status["uri"].replace(status["id"], f"9{status['id']}"),
                    url=None, created_at=f"{RECENT}T10:00:00.000Z")
        landed = policy.apply("statuses", copy, instance)
        if landed is not None:
            records.append(envelope(instance, "/api/v1/timelines/public", landed, fetched))
    write_batch(lake, "statuses", LOCAL, records, fetched_at=fetched)
    return len(records)


# -- byte scans -------------------------------------------------------------------------------------------------
def file_bytes(path: Path) -> bytes:
    """A file's bytes, and a gzip file's decompressed too (known by its magic number: the temporary file of a
    ``.jsonl.gz`` batch is named ``….jsonl.gz.<random>.tmp``)."""
    data = path.read_bytes()
    if data.startswith(b"\x1f\x8b"):
        data += gzip.decompress(data)
    return data


def files_holding(roots: Iterable[Path], needles: Iterable[str]) -> dict[str, list[str]]:
    """Every file below ``roots`` (hidden and temporary ones included) whose bytes hold one of ``needles``. A needle of
    digits alone (a status id: ``116``) counts only where no hex digit is beside it: the pseudonyms the lake keeps
    (the suppression list's, hex digests) hold such runs by chance (was: a flaky failure when an id whose pseudonym
    changes with the clock, a Pleroma FlakeId's, made a digest holding ``116``)."""
    hits: dict[str, list[str]] = {}
    patterns = {n: re.compile(rb"(?<![0-9a-fA-F])" + re.escape(n.encode()) + rb"(?![0-9a-fA-F])") if n.isdigit()
                else re.compile(re.escape(n.encode())) for n in needles if n}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            data = file_bytes(path)
            found = [n for n, pattern in patterns.items() if pattern.search(data)]
            if found:
                hits[str(path)] = found
    return hits


def store_files(db: Path) -> list[Path]:
    return [p for p in db.parent.glob(db.name + "*") if p.is_file()]


# -- comparisons ----------------------------------------------------------------------------------------------
def curated_tables(lake_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every curated table's rows (each file's, the ``dt`` of its directory added), in a fixed order."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((lake_dir / "curated").rglob("*.parquet")):
        day = {"dt": path.parent.name.split("=", 1)[1]} if path.parent.name.startswith("dt=") else {}
        tables.setdefault(path.relative_to(lake_dir / "curated").parts[0], []).extend(
            {**row, **day} for row in pq.read_table(path).to_pylist())
    return {name: sorted(rows, key=repr) for name, rows in tables.items()}


# -- interruptions ----------------------------------------------------------------------------------------------
def stop_after(monkeypatch: Any, prefix: str, writes: int) -> list[str]:
    """Make the lake stop (Ctrl-C: KeyboardInterrupt) right after its ``writes``-th rewrite or deletion of a file
    under ``prefix`` (``raw/``, ``curated/statuses/``), as an erasure interrupted there; ``writes=0`` stops at the
    first such write, before it is made. Returns the paths written until then."""
    from fediscope.lake.local import LocalLake

    written: list[str] = []
    write_atomic, delete = LocalLake.write_atomic, LocalLake.delete

    def stopping(real: Any) -> Any:
        def change(self: LocalLake, path: str, *args: Any, **kwargs: Any) -> Any:
            if path.startswith(prefix) and len(written) >= writes:
                raise KeyboardInterrupt
            result = real(self, path, *args, **kwargs)
            if path.startswith(prefix):
                written.append(path)
                if len(written) >= writes:
                    raise KeyboardInterrupt
            return result
        return change

    monkeypatch.setattr(LocalLake, "write_atomic", stopping(write_atomic))
    monkeypatch.setattr(LocalLake, "delete", stopping(delete))
    return written


# -- a processed lake and its store, twice ---------------------------------------------------------------------
#: Metrics that name a status by its id alone (a result per status, no account column, no link): the erasure finds
#: their rows of the subject's statuses by the ids it knows (fediscope.gdpr.subject.names_status).
BY_ID = Metric(name="gdpr_test_by_status_id", question="How often was each status boosted?",
               key=("fetched_from", "status_id"), sql="-- test metric, rows written by the test")
BY_ORIGIN = Metric(name="gdpr_test_by_origin_ref", question="How often was each status favourited?",
                   key=("origin_ref",), sql="-- test metric, rows written by the test")


def lake_settings(root: Path, privacy: bool = True) -> Settings:
    """``root/lake`` and the SQLite store ``root/store.db``, with the test key (or privacy off)."""
    return Settings(lake=str(root / "lake"), store=f"sqlite:///{root / 'store.db'}",
                    **({"pseudonym_key": KEY} if privacy else {"privacy": False}))


def raw_records(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every raw batch's records, by path."""
    lake = open_lake(settings.lake)
    return {path: list(read_batch(lake, path)) for path in raw_batch_files(lake)}


def store_rows(settings: Settings) -> dict[str, list[str]]:
    """Every metric table's rows, as the store lists its metrics."""
    store = open_store(settings.store)
    try:
        return {name: sorted(json.dumps(row, sort_keys=True, default=str) for row in store.all(metric))
                for name, metric in stored_metrics(store).items()}
    finally:
        store.close()


def fill_status_metrics(settings: Settings) -> None:
    """A row of :data:`BY_ID` and of :data:`BY_ORIGIN` for every curated status."""
    rows = curated_tables(Path(settings.lake))["statuses"]
    store = open_store(settings.store)
    try:
        store.write(BY_ID, list({(r["fetched_from"], r["status_id"]): {
            "fetched_from": r["fetched_from"], "status_id": r["status_id"], "reblogs": r["reblogs_count"]}
            for r in rows}.values()))
        store.write(BY_ORIGIN, list({r["origin_ref"]: {"origin_ref": r["origin_ref"], "favourites": r[
            "favourites_count"]} for r in rows if r["origin_ref"]}.values()))
    finally:
        store.close()


def processed_twins(root: Path, privacy: bool = True) -> tuple[Settings, Settings]:
    """Two identical copies (lake and store), ``root/interrupted`` and ``root/uninterrupted``, of a lake landed from
    the recordings with admin's boost of the subject's status landed again on :data:`RECENT`, processed by
    ``fediscope process`` (the built-in metrics in a SQLite store) and :func:`fill_status_metrics`."""
    from fediscope.engine.process import run_process

    base = lake_settings(root / "base", privacy)
    lake, policy = open_lake(base.lake), policy_from_settings(base)
    assert land_recordings(lake, policy) > 50
    assert land_recent_copies(lake, policy, authors={"admin"}, reblogs=True) == 1
    run_process(base, progress=False)
    fill_status_metrics(base)
    copies = []
    for name in ("interrupted", "uninterrupted"):
        shutil.copytree(root / "base", root / name)
        copies.append(lake_settings(root / name, privacy))
    return copies[0], copies[1]


def collect_with_broken_pages(mastodon_server: Any, lake_dir: Path, store: Path, privacy: bool,
                              user: str) -> tuple[Settings, Any, str]:
    """The real collector over ``account:<user>@<double>`` and ``public`` against the recorded Mastodon double, which
    breaks some answers: the account's own timeline answers an HTML page once (its body quarantined: it names nobody),
    then a page with a malformed status (quarantined as its shape alone with privacy on); the public timeline breaks
    once too (a page of another source). The settings, the collection's summary and the account source's batch tag
    (:func:`~fediscope.lake.state.source_batch_tag`, as the collector tags it: bare, lower case), which names its
    pages' quarantine files."""
    from fediscope.lake.state import source_batch_tag
    from fediscope.sources.collector import run_collection
    from fediscope.sources.spec import parse_source
    from fediscope.sources.spellings import on_instance

    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{store}", pseudonym_key=KEY, backfill_pages=2,
                        privacy=privacy, max_retries=0)
    domain = mastodon_server.domain
    mastodon_server.malformed("not_json", times=1, after=1, path="/api/v1/accounts/")
    mastodon_server.malformed("missing_fields", times=1, after=2, path="/api/v1/accounts/")
    mastodon_server.malformed("not_json", times=1, path="/api/v1/timelines/public")
    sources = [parse_source(f"account:{user}@{domain}"), parse_source("public")]
    summary = run_collection(settings, [(mastodon_server.url, s) for s in sources], max_pages=2, progress=False)
    policy = policy_from_settings(settings) if privacy else None
    return settings, summary, source_batch_tag(policy, on_instance(sources[0], domain))


def quarantined_files(lake_dir: Path) -> list[Path]:
    """The files under the lake's quarantine, sorted."""
    return sorted(p for p in (lake_dir / "quarantine").rglob("*") if p.is_file())
