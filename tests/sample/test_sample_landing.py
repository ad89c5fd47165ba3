"""Writing the corpus in bulk: JSONL files and raw lake batches (layout, envelopes, privacy, determinism)."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.layout import SCHEMA_VERSION, parse_partition
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.corpus import Corpus, generate_corpus, on_public_timeline
from fediscope.sample.landing import StatusEncoder, write_jsonl, write_raw_lake


def test_write_jsonl_writes_the_corpus_line_by_line(tmp_path: Path) -> None:
    target = tmp_path / "statuses.jsonl"
    assert write_jsonl(target, 700, seed=4) == 700
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert lines == json.loads(json.dumps(generate_corpus(700, seed=4).statuses))


def test_write_jsonl_to_an_open_file_is_byte_identical_per_seed() -> None:
    first, second = io.StringIO(), io.StringIO()
    write_jsonl(first, 300, seed=1)
    write_jsonl(second, 300, seed=1)
    assert first.getvalue() == second.getvalue() and first.getvalue().count("\n") == 300


def test_encoder_is_byte_identical_to_json_dumps(corpus: Corpus) -> None:
    encode = StatusEncoder()
    for status in corpus.statuses:
        assert encode(status) == json.dumps(status, ensure_ascii=False, separators=(",", ":"))


def test_encoder_falls_back_for_foreign_statuses() -> None:
    status = generate_corpus(5, seed=1).statuses[0]
    foreign = json.loads(json.dumps(status))  # same data, not the generator's shared objects
    foreign["pinned"] = True
    assert json.loads(StatusEncoder()(foreign)) == foreign


def _landed(lake: LocalLake, entity: str) -> list[tuple[str, dict]]:
    return [(path, record) for path in raw_batch_files(lake, entity) for record in read_batch(lake, path)]


def test_raw_lake_layout_envelopes_and_partitions(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    summary = write_raw_lake(lake, 3000, seed=6, batch_size=400)
    corpus = generate_corpus(3000, seed=6)
    statuses = _landed(lake, "statuses")
    assert summary.statuses == len(statuses) == 3000 and summary.skipped_by_policy == 0
    assert sorted(r["data"]["id"] for _, r in statuses) == sorted(s["id"] for s in corpus.statuses)
    per_file = Counter(path for path, _ in statuses)
    assert max(per_file.values()) <= 400 and summary.batches == len(per_file) + len(raw_batch_files(lake, "accounts"))
    for path, record in statuses:
        meta, data = record["meta"], record["data"]
        part = parse_partition(path)
        assert part["instance"] == corpus.domains[data["account"]["id"]] == meta["instance"]
        fetched = datetime.fromisoformat(meta["fetched_at"].replace("Z", "+00:00"))
        created = datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
        assert part["dt"] == fetched.date().isoformat()
        assert created < fetched < created + timedelta(days=1)  # fetched a little after, edits included
        assert meta["schema_version"] == SCHEMA_VERSION and meta["collector"] == "fediscope-sample"
    accounts = _landed(lake, "accounts")
    assert summary.accounts == len(accounts) == len(corpus.accounts)


def test_raw_lake_is_deterministic_and_rerunnable(tmp_path: Path) -> None:
    a, b = LocalLake(tmp_path / "a"), LocalLake(tmp_path / "b")
    write_raw_lake(a, 500, seed=2, include_accounts=False)
    write_raw_lake(b, 500, seed=2, include_accounts=False)
    files_a = raw_batch_files(a)
    assert files_a == raw_batch_files(b)
    assert all(a.read(p) == b.read(p) for p in files_a)
    write_raw_lake(a, 500, seed=2, include_accounts=False)  # same call again: same files, replaced
    assert raw_batch_files(a) == files_a


def test_raw_lake_with_privacy_policy(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    summary = write_raw_lake(lake, 2000, seed=3, policy=PrivacyPolicy(key=b"k" * 32))
    corpus = generate_corpus(2000, seed=3)
    assert summary.skipped_by_policy > 0  # opted-out accounts and their statuses
    raw = b"".join(lake.read(p) for p in raw_batch_files(lake))
    for account in corpus.accounts[:200]:
        assert f"/@{account['username']}".encode() not in raw
        assert account["id"].encode() not in raw  # not in the data, nor in meta.endpoint
    landed = _landed(lake, "statuses")
    assert summary.statuses == len(landed) and summary.statuses + summary.skipped_by_policy > 2000


def test_public_timeline_only_and_edit_history(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    corpus = generate_corpus(2500, seed=9)
    write_raw_lake(lake, 2500, seed=9, public_timeline_only=True, edit_history=True, include_accounts=False)
    landed = [r for _, r in _landed(lake, "statuses")]
    expected = {s["id"] for s in corpus.statuses if on_public_timeline(s)}
    assert {r["data"]["id"] for r in landed} == expected
    assert {r["meta"]["endpoint"] for r in landed} == {"/api/v1/timelines/public?local=true"}
    versions: dict[str, list[dict]] = {}
    for record in landed:
        versions.setdefault(record["data"]["id"], []).append(record)
    edited = {sid: v for sid, v in versions.items() if len(v) > 1}
    assert edited
    for records in edited.values():
        before, after = sorted(records, key=lambda r: r["meta"]["fetched_at"])
        assert before["data"]["edited_at"] is None and after["data"]["edited_at"] is not None
        assert after["data"]["content"] != before["data"]["content"]


def test_raw_lake_window_and_compression(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    end = datetime(2026, 1, 10, tzinfo=UTC)
    write_raw_lake(lake, 300, seed=1, end=end, window=timedelta(days=3), compressed=True, include_accounts=False)
    files = raw_batch_files(lake, "statuses")
    assert files and all(p.endswith(".jsonl.gz") for p in files)
    assert {parse_partition(p)["dt"] for p in files} <= {"2026-01-07", "2026-01-08", "2026-01-09", "2026-01-10"}
    assert sum(1 for p in files for _ in read_batch(lake, p)) == 300
