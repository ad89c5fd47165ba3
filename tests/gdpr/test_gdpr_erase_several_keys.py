"""An erasure of one account held under two keys (a split-domain instance: its local accounts keyed by the served
domain by runs that did not know the handle domain, by the handle domain afterwards) gives exactly what erasing
the two keys one after the other gives — the same lake, report counts and store rows — while reading each raw
batch and curated file as often as an erasure of one key does, and rewriting each affected file once.

The lake is landed from the real recordings through the real privacy policy (once without the handle domain,
once with it), curated by the real DuckDB curation, with metric rows in a real SQLite store; the one-by-one
erasures run on a copy of it that does not remember the handle domain (so each erasure has one key).
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from gdpr_lake import ACCOUNT_FILES, INSTANCE_FILES, KEY, STATUS_FILES, recorded

from fediscope.config import Settings
from fediscope.engine.metrics import Metric
from fediscope.gdpr.erase import AUDIT_PATH, ErasureReport, erase_account
from fediscope.gdpr.suppression import SUPPRESSED_PATH, load_suppressed
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.local import LocalLake
from fediscope.lake.state import Checkpoint, save_checkpoint
from fediscope.privacy import PrivacyPolicy, policy_from_settings
from fediscope.sources.handle_domains import HANDLE_DOMAINS_PATH, remember_handle_domain
from fediscope.sources.quarantine import item_entry, write_quarantine
from fediscope.store.port import open_store

SERVED = "social.example.test"  # the instance connected to
HANDLE = "example.test"  # the domain of its local accounts' handles
USER = "mastodonpy_test_2"
POSTS = Metric(name="gdpr_test_posts_per_account", question="How many statuses did each account post?",
               key=("account_key",), sql="-- test metric, rows written by the test")
MENTIONED = Metric(name="gdpr_test_mentioned", question="Who is mentioned by whom?",
                   key=("status_uri", "mentioned"), sql="-- test metric, rows written by the test")
METRICS = {m.name: m for m in (POSTS, MENTIONED)}


class CountingLake(LocalLake):
    """A real local lake that counts the reads and atomic writes of every path."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()

    def read(self, path: str) -> bytes:
        self.reads[path] += 1
        return super().read(path)

    def write_atomic(self, path: str, data: bytes) -> None:
        self.writes[path] += 1
        super().write_atomic(path, data)


def land(lake: LakeBackend, policy: PrivacyPolicy, status_files: Iterable[str], fetched_at: datetime) -> None:
    """The recorded entities, landed as if fetched from SERVED (several batches per partition, some gzip)."""
    for kind, files, endpoint in (("statuses", status_files, "/api/v1/timelines/public"),
                                  ("accounts", ACCOUNT_FILES, "/api/v1/accounts/lookup"),
                                  ("instance", INSTANCE_FILES, "/api/v2/instance")):
        records = []
        for _, item in recorded(files, kind):
            landed = policy.apply(kind, json.loads(json.dumps(item)), SERVED)
            if landed is not None:
                records.append(envelope(SERVED, endpoint, landed, fetched_at))
        for i in range(0, len(records), 20):
            write_batch(lake, kind, SERVED, records[i:i + 20], fetched_at=fetched_at, compressed=i == 20)


def curate(settings: Settings) -> None:
    from fediscope.engine.base import open_engine
    from fediscope.engine.curation import run_curation

    engine = open_engine(settings)
    try:
        assert not run_curation(engine).noop
    finally:
        getattr(engine, "close", lambda: None)()


def fill_store(settings: Settings, lake: LakeBackend) -> None:
    posts: Counter[str] = Counter()
    mentioned = []
    for path in raw_batch_files(lake, "statuses"):
        for record in read_batch(lake, path):
            data = record["data"]
            posts[data["account"]["acct"]] += 1
            mentioned += [{"status_uri": data["uri"], "mentioned": m["acct"], "n": 1} for m in data["mentions"]]
    store = open_store(settings.store)
    try:
        store.write(POSTS, [{"account_key": k, "posts": n} for k, n in posts.items()])
        store.write(MENTIONED, list({(r["status_uri"], r["mentioned"]): r for r in mentioned}.values()))
    finally:
        store.close()


def settings_for(root: Path) -> Settings:
    return Settings(lake=str(root / "lake"), store=f"sqlite:///{root / 'store.db'}", pseudonym_key=KEY)


@pytest.fixture()
def two_keyed(tmp_path: Path) -> tuple[Settings, Settings]:
    """Two identical copies (lake and store) of a lake holding the subject under two keys."""
    base = settings_for(tmp_path / "base")
    lake = open_lake(base.lake)
    served = policy_from_settings(base)  # a run that could not read the instance document
    handle = policy_from_settings(base)
    assert handle.use_handle_domain(SERVED, HANDLE) == HANDLE
    now = datetime.now(UTC)
    land(lake, served, STATUS_FILES[:5], now - timedelta(days=2))
    land(lake, handle, STATUS_FILES, now - timedelta(days=1))
    # files named after the account: checkpoints (by handle, and by keyed digest), a quarantined raw item
    save_checkpoint(lake, SERVED, f"account:{USER}", Checkpoint("1"))
    save_checkpoint(lake, SERVED, f"account:{USER}@{SERVED}", Checkpoint("2"), served)
    save_checkpoint(lake, SERVED, f"account:{USER}@{HANDLE}", Checkpoint("3"), handle)
    save_checkpoint(lake, SERVED, "account:admin", Checkpoint("4"))
    status = next(s for _, s in recorded(["test_status_reply.json"], "statuses") if s["account"]["acct"] == USER)
    write_quarantine(lake, SERVED, "/api/v1/timelines/public", [item_entry("wrong_types", status, keep_raw=True)],
                     batch_id="q1")
    curate(base)
    fill_store(base, lake)
    copies = []
    for name in ("one_by_one", "together"):
        shutil.copytree(tmp_path / "base", tmp_path / name)
        copies.append(settings_for(tmp_path / name))
    return copies[0], copies[1]


def lake_contents(root: Path) -> dict[str, Any]:
    """Every file of a lake, decoded (gzip batches decompressed, Parquet files as rows), but the audit log and
    the lists that differ by design (compared on their own)."""
    skip = {AUDIT_PATH, SUPPRESSED_PATH, HANDLE_DOMAINS_PATH}
    contents: dict[str, Any] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if name in skip:
            continue
        if name.endswith(".parquet"):
            contents[name] = pq.read_table(path).to_pylist()
        elif name.endswith(".gz"):
            contents[name] = gzip.decompress(path.read_bytes())
        else:
            contents[name] = path.read_bytes()
    return contents


def store_rows(settings: Settings) -> dict[str, list[str]]:
    store = open_store(settings.store)
    try:
        return {name: sorted(json.dumps(row, sort_keys=True, default=str) for row in store.all(metric))
                for name, metric in METRICS.items()}
    finally:
        store.close()


def added(*counts: Mapping[str, int]) -> dict[str, int]:
    """The sum of the counts of several reports (keys with a count of 0 kept, as a report keeps them)."""
    total: dict[str, int] = {}
    for each in counts:
        for key, value in each.items():
            total[key] = total.get(key, 0) + value
    return total


def keyed(lake: LakeBackend, key: str) -> int:
    return sum(r["data"]["account"]["acct"] == key
               for path in raw_batch_files(lake, "statuses") for r in read_batch(lake, path))


def test_two_keys_erased_in_one_erasure_as_one_by_one_reading_each_file_once_per_pass(two_keyed) -> None:
    one_by_one, together = two_keyed
    policy = policy_from_settings(together)
    handle_key, served_key = policy.account_key(f"{USER}@{HANDLE}"), policy.account_key(f"{USER}@{SERVED}")
    assert keyed(open_lake(one_by_one.lake), handle_key) and keyed(open_lake(one_by_one.lake), served_key)

    single = CountingLake(one_by_one.lake)

    # one by one: the lake does not remember the handle domain, so each erasure has one key
    first = erase_account(one_by_one, f"{USER}@{HANDLE}", lake=single)
    single_reads = Counter(single.reads)
    second = erase_account(one_by_one, f"{USER}@{SERVED}")
    assert first.also_keys == [] and second.also_keys == []
    assert first.raw["records_removed"] and second.raw["records_removed"]  # each key had records of its own

    # together: the handle domain remembered, one erasure by the handle has both keys
    lake = CountingLake(together.lake)
    remember_handle_domain(lake, SERVED, HANDLE)
    raw_files = raw_batch_files(lake)
    curated_files = sorted(p.relative_to(Path(together.lake)).as_posix()
                           for p in Path(together.lake).rglob("curated/**/*.parquet"))
    assert raw_files and curated_files
    report = erase_account(together, f"{USER}@{HANDLE}", lake=lake)
    reads, writes = Counter(lake.reads), Counter(lake.writes)
    assert report.account_key == handle_key and report.also_keys == [served_key]

    # the same lake, store and suppression list as erasing the keys one by one
    assert lake_contents(Path(together.lake)) == lake_contents(Path(one_by_one.lake))
    assert store_rows(together) == store_rows(one_by_one)
    assert keyed(lake, handle_key) == keyed(lake, served_key) == 0
    suppressed = load_suppressed(lake)
    assert {handle_key, served_key} <= suppressed
    assert suppressed == load_suppressed(single)
    # the same counts: those of the two erasures added up
    expected = ErasureReport(account_key=handle_key, at=report.at, raw=added(first.raw, second.raw),
                             curated=added(first.curated, second.curated), store=added(first.store, second.store),
                             other=added(first.other, second.other), newly_suppressed=True,
                             also_keys=[served_key])
    assert report == expected
    assert report.other["checkpoints_deleted"] == 3 and report.other["quarantined_files_deleted"] == 1
    audit = [json.loads(line) for line in (Path(together.lake) / AUDIT_PATH).read_text().splitlines()]
    assert audit == [{"time": report.at, "action": "erase", "account_key": handle_key, "also_keys": [served_key],
                      "raw": report.raw, "curated": report.curated, "store": report.store, "other": report.other}]

    # each raw batch and curated file read as often as by the erasure of one key (find, then rewrite) ...
    for path in [*raw_files, *curated_files]:
        assert reads[path] == single_reads[path] == 2, path
    # ... and an affected one written once
    assert {p: n for p, n in writes.items() if (p in raw_files or p in curated_files) and n > 1} == {}
    assert any(p in raw_files for p in writes) and any(p in curated_files for p in writes)
