"""A corpus's next day (``CorpusGenerator.next_day``, ``write_raw_lake(next_day=…)``): the same instance a day later,
as the benchmark's incremental run lands it — the same accounts posting again, newer ids, older statuses re-fetched
with more interactions or an edit, a few new accounts — and an incremental ``fediscope process`` over it leaves the
store as one run over the corpus and its day together."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.engine_data import KEY, read_table, settings_for, stored_rows

from fediscope.engine.process import run_process
from fediscope.lake.local import LocalLake
from fediscope.privacy import PrivacyPolicy
from fediscope.sample.corpus import DEFAULT_END, CorpusGenerator, NextDay
from fediscope.sample.landing import write_raw_lake
from fediscope.timestamps import snowflake_ms, to_ms

Day = list[tuple[dict[str, Any], int | None]]


def _day(statuses: int, seed: int, day_statuses: int) -> tuple[NextDay, list[dict[str, Any]], Day]:
    """A corpus's next day (the day, once iterated), the corpus's statuses and what the day yielded."""
    generator = CorpusGenerator(statuses, seed)
    corpus = list(generator.statuses())
    day = generator.next_day(day_statuses)
    return day, corpus, list(day)


def test_the_next_day_is_posted_by_the_same_accounts_with_newer_ids() -> None:
    next_day, corpus, day = _day(3000, 4, 300)
    base_accounts = {s["account"]["id"]: s["account"] for s in corpus}
    new = [s for s, refetched_at in day if refetched_at is None]
    assert len(new) == 300
    authors = [s["account"]["id"] for s in new]
    assert sum(a in base_accounts for a in authors) >= 0.9 * len(authors)
    ids = [int(s["id"]) for s in new]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] > max(int(s["id"]) for s in corpus)
    end = to_ms(DEFAULT_END)
    assert all(end <= snowflake_ms(s["id"]) < end + 86_400_000 for s in new)  # the day after the corpus
    # the authors' snapshots moved: one status more per status posted that day
    for status in new:
        before = base_accounts.get(status["account"]["id"])
        if before is not None:
            assert status["account"]["statuses_count"] > before["statuses_count"]
            assert status["account"]["last_status_at"] == "2026-11-01"
    day_accounts = {a.id: a.entity for a in next_day.accounts}
    assert set(authors) <= set(day_accounts)
    joined = [a for a in day_accounts if a not in {a.id for a in CorpusGenerator(3000, 4).accounts}]
    assert 1 <= len(joined) <= 10  # a few new accounts, listed with their snapshot
    assert len({(e["username"], e["url"]) for e in day_accounts.values()}) == len(day_accounts)


def test_older_statuses_are_refetched_with_the_same_uri_and_later_counts_or_edits() -> None:
    _, corpus, day = _day(3000, 4, 300)
    by_id = {s["id"]: s for s in corpus}
    refetched = [(s, at) for s, at in day if at is not None]
    assert 20 <= len(refetched) <= 40  # a tenth of the day's statuses
    grew = edited = 0
    for status, at in refetched:
        before = by_id[status["id"]]
        assert status["uri"] == before["uri"] and status["created_at"] == before["created_at"]
        assert snowflake_ms(status["id"]) >= to_ms(DEFAULT_END - timedelta(hours=48))  # the refresh window
        assert at >= to_ms(DEFAULT_END)
        for name in ("favourites_count", "reblogs_count", "replies_count"):
            assert status[name] >= before[name]
        grew += status["favourites_count"] > before["favourites_count"]
        if status["edited_at"] != before["edited_at"]:
            edited += 1
            assert before["edited_at"] is None or status["edited_at"] > before["edited_at"]
            assert status["content"] != before["content"]
    assert grew and edited


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_the_next_day_is_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    policy = PrivacyPolicy(key=KEY)
    for name in ("one", "two"):
        write_raw_lake(LocalLake(tmp_path / name), 1500, seed=9, policy=policy, edit_history=True, next_day=1,
                       day_statuses=60)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    # a generator that yielded its corpus first gives the same day as one that generates it unseen
    assert _day(1500, 9, 60)[2] == list(CorpusGenerator(1500, 9).next_day(60))


def test_an_incremental_run_over_the_next_day_equals_one_run_over_both(tmp_path: Path) -> None:
    policy = PrivacyPolicy(key=KEY)

    def land(lake: Path, day: int) -> None:
        write_raw_lake(LocalLake(lake), 1200, seed=6, policy=policy, edit_history=True, batch_size=200,
                       next_day=day, day_statuses=120)

    daily, once = tmp_path / "daily" / "lake", tmp_path / "once" / "lake"
    land(daily, 0)
    run_process(settings_for(daily), progress=False)
    before = {r["uri"]: r for r in read_table(daily, "statuses")}
    land(daily, 1)
    incremental = run_process(settings_for(daily), progress=False)
    land(once, 0)
    land(once, 1)
    run_process(settings_for(once), progress=False)
    assert stored_rows(settings_for(daily).store) == stored_rows(settings_for(once).store)

    after = {r["uri"]: r for r in read_table(daily, "statuses")}
    # the re-fetched versions replaced the curated rows of their statuses (one row per URI, the latest wins) …
    changed = [u for u in before if after[u]["favourites_count"] != before[u]["favourites_count"]]
    assert changed and all(after[u]["favourites_count"] > before[u]["favourites_count"] for u in changed)
    assert any(after[u]["edited_at"] != before[u]["edited_at"] for u in before)
    # … in the corpus's partitions, besides the new day's
    assert {"2026-10-31", "2026-11-01"} <= set(incremental.curate["partitions"])
    assert len(after) > len(before)
