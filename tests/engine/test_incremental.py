"""Incremental curation on a generated corpus: curating day by day gives exactly what one run gives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from engine_data import read_table, tree_digest

from fediscope.engine.manifest import MANIFEST_PATH, load_manifest
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.layout import parse_partition
from fediscope.lake.local import LocalLake

TABLES = ("statuses", "accounts", "hashtags")


def _rows(lake_dir: Path) -> dict[str, list[str]]:
    return {t: sorted(map(repr, read_table(lake_dir, t))) for t in TABLES}


def test_day_by_day_equals_all_at_once(corpus_lake: Path, curated_corpus: Path, duckdb_engine) -> None:
    lake = LocalLake(corpus_lake)
    days = sorted({date.fromisoformat(parse_partition(p)["dt"]) for p in raw_batch_files(lake)})
    assert len(days) >= 10
    touched: list[int] = []
    for day in days:
        summary = duckdb_engine().curate(since=day, until=day)
        assert summary.raw_files > 0
        touched.append(len(summary.partitions))
    # a day's fetches touch the statuses created that day and the days before it (edits, late fetches)
    assert max(touched) < len(days)
    assert _rows(corpus_lake) == _rows(curated_corpus)
    assert set(load_manifest(lake).files) == set(raw_batch_files(lake))


def test_new_files_rewrite_only_the_partitions_they_touch(corpus_lake: Path, duckdb_engine) -> None:
    lake = LocalLake(corpus_lake)
    days = sorted({date.fromisoformat(parse_partition(p)["dt"]) for p in raw_batch_files(lake)})
    duckdb_engine().curate(until=days[-2])
    new_files = [p for p in raw_batch_files(lake, "statuses") if parse_partition(p)["dt"] == str(days[-1])]
    created = set()
    for path in new_files:
        for record in read_batch(lake, path):
            for status in (record["data"], record["data"].get("reblog")):
                if status:
                    created.add(datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
                                .astimezone(UTC).date().isoformat())
    # the day's streamed deletions name statuses of other days: their partitions are rewritten too
    reported = [r for p in raw_batch_files(lake, "status_deletions") if parse_partition(p)["dt"] == str(days[-1])
                for r in read_batch(lake, p)]
    deleted = {(r["meta"]["instance"], r["data"]["id"]) for r in reported}
    origins = {r["data"]["origin_ref"] for r in reported if r["data"].get("origin_ref")}  # from a status's home
    assert deleted and origins
    for path in raw_batch_files(lake, "statuses"):
        for record in read_batch(lake, path):
            for status in (record["data"], record["data"].get("reblog")):
                if status and ((status is record["data"] and (record["meta"]["instance"], status["id"]) in deleted)
                               or status.get("origin_ref") in origins):
                    created.add(datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
                                .astimezone(UTC).date().isoformat())
    before = tree_digest(corpus_lake / "curated" / "statuses")
    summary = duckdb_engine().curate()
    after = tree_digest(corpus_lake / "curated" / "statuses")
    changed = {path.split("/")[0] for path in set(before) | set(after) if before.get(path) != after.get(path)}
    assert summary.partitions == sorted(created)
    assert changed == {f"dt={day}" for day in created}
    assert 1 < len(changed) < len(days)


def test_manifest_records_file_sizes(corpus_lake: Path, duckdb_engine) -> None:
    duckdb_engine().curate()
    manifest = load_manifest(LocalLake(corpus_lake))
    for path, size in manifest.files.items():
        assert (corpus_lake / path).stat().st_size == size
    assert (corpus_lake / MANIFEST_PATH).exists()
