"""Erasure and the ids of the account's statuses: streamed deletions of them (``status_deletions``, raw and curated)
and other people's replies to them (``in_reply_to_id``). A status id on a known instance names its author through
the instance's API, so after ``fediscope gdpr erase`` no file may hold one; deletions of other people's statuses
stay, and still apply when their statuses are collected again. End to end through the CLI, on a lake landed from
the recordings and processed by ``fediscope process``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest
from gdpr_lake import (
    LOCAL,
    OTHERS,
    RECENT,
    SUBJECT,
    files_holding,
    land_recent_copies,
    land_recordings,
    stop_after,
    store_files,
)
from streamed_deletions import land_deletion

from fediscope.gdpr.subject import ERASED
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.state import Checkpoint, load_checkpoint, save_checkpoint
from fediscope.privacy import policy_from_settings

RECEIVED = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _raw(env, entity: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [r for path in raw_batch_files(env.lake, entity) for r in read_batch(env.lake, path)]


def _curated(env, table: str) -> list[dict[str, Any]]:  # noqa: ANN001
    return [row for path in sorted((env.lake_dir / "curated" / table).rglob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]


def _statuses_of(env, account: str) -> list[dict[str, Any]]:  # noqa: ANN001
    """The landed statuses (not boosts) of ``account``, one per id."""
    key = env.key(account)
    found = {r["data"]["id"]: r["data"] for r in _raw(env, "statuses")
             if r["data"]["account"]["acct"] == key and not r["data"].get("reblog")}
    return [found[i] for i in sorted(found)]


@pytest.fixture()
def with_deletions(landed, run_cli):
    """The recordings landed with three streamed deletions, then processed: one of the subject's statuses reported
    by the instance it was fetched from (its copy and its origin_ref), one of its statuses reported by its home
    instance with an id no copy has (its origin_ref alone), and one of another person's status."""
    env = landed
    replied = {r["data"]["in_reply_to_id"] for r in _raw(env, "statuses") if r["data"].get("in_reply_to_id")}
    mine = [s for s in _statuses_of(env, SUBJECT) if s["id"] not in replied]  # its replied-to status stays live
    other = _statuses_of(env, OTHERS[0])[0]
    assert len(mine) >= 2 and mine[1]["origin_ref"]
    policy = env.policy
    land_deletion(env.lake, mine[0]["id"], LOCAL, RECEIVED, policy)
    land_deletion(env.lake, "home-id-unknown-here", LOCAL, RECEIVED, policy, origin_ref=mine[1]["origin_ref"])
    land_deletion(env.lake, other["id"], LOCAL, RECEIVED, policy)
    result = run_cli("process")
    assert result.code == 0, result.err
    env.deleted = {"mine": mine[:2], "other": other}
    return env


def _deletions(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(row["instance"], row["status_id"]) for row in rows}


def test_the_erasure_removes_the_deletions_and_reply_ids_of_the_accounts_statuses(with_deletions, run_cli) -> None:
    env = with_deletions
    mine, other = env.deleted["mine"], env.deleted["other"]
    subject_ids = {s["id"] for s in _statuses_of(env, SUBJECT)}
    everywhere = [env.lake_dir, *store_files(env.db)]
    ours = {(LOCAL, mine[0]["id"]), (LOCAL, "home-id-unknown-here")}
    assert _deletions(_curated(env, "status_deletions")) == {*ours, (LOCAL, other["id"])}
    replies = [row for row in _curated(env, "statuses") if row["in_reply_to_id"] in subject_ids]
    assert replies and all(row["account_key"] != env.key(SUBJECT) for row in replies)
    assert files_holding(everywhere, subject_ids)  # the scan sees them before

    exported = json.loads(run_cli("gdpr", "export", "--account", SUBJECT).out)  # the right of access lists them
    assert {(r["record"]["meta"]["instance"], r["record"]["data"]["id"]) for r in exported["raw"]["records"]
            if r["entity"] == "status_deletions"} == ours
    assert _deletions(exported["curated"]["status_deletions"]) == ours

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["raw"]["records_removed"] == len(exported["raw"]["records"])

    # no byte of the lake or the store holds an id of the subject's statuses any more (was: status_deletions, raw
    # and curated, and every reply's in_reply_to_id)
    assert files_holding(everywhere, subject_ids) == {}
    assert _deletions(_curated(env, "status_deletions")) == {(LOCAL, other["id"])}
    assert [(r["meta"]["instance"], r["data"]["id"]) for r in _raw(env, "status_deletions")] == [(LOCAL, other["id"])]
    after = {row["uri"]: row for row in _curated(env, "statuses")}
    for reply in replies:  # still replies, to a status nobody can look up
        assert after[reply["uri"]]["in_reply_to_id"] == ERASED and after[reply["uri"]]["is_reply"]
    tombstones = [row for row in after.values() if row["deleted"]]
    assert [row["status_id"] for row in tombstones] == [other["id"]]  # the other deletion still applies


@pytest.mark.parametrize("rebuild", [False, True])
def test_deletions_of_other_people_still_apply_and_the_account_does_not_come_back(
        with_deletions, run_cli, rebuild: bool) -> None:
    """The erasure's tombstones are the suppression list: collected again, the subject's statuses (deleted or not)
    are not landed, so no deletion is needed to keep them out; another person's deleted status, collected again,
    is still a tombstone. A rebuild (``process --recurate``) brings back nothing erased (the deletion batch that
    held only the subject's deletions left the manifest with its file)."""
    env = with_deletions
    other = env.deleted["other"]
    subject_ids = {s["id"] for s in _statuses_of(env, SUBJECT)}
    assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 0

    policy = policy_from_settings(env.settings, suppressed=load_suppressed(env.lake))
    land_recordings(env.lake, policy, fetched_at=datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
    assert policy.counts["skipped_suppressed"] > 0
    result = run_cli("process", *(["--recurate"] if rebuild else []))
    assert result.code == 0, result.err

    statuses = _curated(env, "statuses")
    assert not [row for row in statuses if row["account_key"] == env.key(SUBJECT)]
    assert [row["status_id"] for row in statuses if row["deleted"]] == [other["id"]]
    assert _deletions(_curated(env, "status_deletions")) == {(LOCAL, other["id"])}
    assert files_holding([env.lake_dir, *store_files(env.db)], subject_ids) == {}


def test_an_opt_out_keeps_the_deletions_of_the_accounts_statuses(with_deletions, run_cli) -> None:
    """An opted-out account is not suppressed: once it opts back in it is landed again, and a lagging copy of a status
    it deleted must still be a tombstone. Its statuses go, the deletions of them stay (its replies' ids go too)."""
    from fediscope.gdpr.opt_outs import note_opt_outs

    env = with_deletions
    key = env.key(SUBJECT)
    before = _deletions(_curated(env, "status_deletions"))
    note_opt_outs(env.lake, [key], "test")
    result = run_cli("process", "--json")
    assert result.code == 0 and json.loads(result.out)["curate"]["opted_out_erased"] == 1, result.err
    assert not [row for row in _curated(env, "statuses") if row["account_key"] == key]
    assert _deletions(_curated(env, "status_deletions")) == before
    assert len(_raw(env, "status_deletions")) == len(before)
    subject_ids = {s["id"] for s in _statuses_of(env, SUBJECT)}
    assert not [row for row in _curated(env, "statuses") if row["in_reply_to_id"] in subject_ids]


@pytest.mark.parametrize("stop", [("raw/", 0), ("raw/", 1), ("curated/", 0), ("curated/statuses/", 1)],
                         ids=["before-raw", "mid-raw", "before-curated", "mid-curated"])
def test_an_interrupted_erasure_run_again_leaves_no_id_of_the_accounts_statuses(
        with_deletions, run_cli, monkeypatch: pytest.MonkeyPatch, stop: tuple[str, int]) -> None:
    """An erasure stopped (Ctrl-C) after the checkpoints moved, part-way through the raw batches, between the raw and
    the curated pass or part-way through the curated statuses, then run again: no byte of the lake or the store holds
    an id of the subject's statuses — deletions, checkpoints, and the replies to them, among which admin's reply
    collected again and posted on another day (another partition than the status it answers).

    Was (mid-curated): the first run rewrote the partition holding the subject's statuses and stopped before the one
    holding that reply; run again, it found the subject's statuses neither in the raw batches nor in the curated
    rows, and the reply kept their id."""
    env = with_deletions
    assert land_recent_copies(env.lake, env.policy, authors={"admin"}) > 0
    assert run_cli("process").code == 0
    subject_ids = {s["id"] for s in _statuses_of(env, SUBJECT)}
    recent = [row for row in _curated(env, "statuses") if str(row["created_at"]).startswith(RECENT)
              and row["in_reply_to_id"] in subject_ids]
    assert recent  # admin's reply, again, a day of its own
    newest = max(subject_ids, key=int)
    save_checkpoint(env.lake, LOCAL, "public", Checkpoint(newest))
    everywhere = [env.lake_dir, *store_files(env.db)]

    with monkeypatch.context() as interrupted:
        stop_after(interrupted, *stop)
        assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 130
    assert files_holding(everywhere, subject_ids)  # stopped before it was done

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert result.code == 0, result.err
    assert files_holding(everywhere, subject_ids) == {}
    assert load_checkpoint(env.lake, LOCAL, "public").newest_id not in subject_ids
    assert _deletions(_curated(env, "status_deletions")) == {(LOCAL, env.deleted["other"]["id"])}
    after = {row["uri"]: row for row in _curated(env, "statuses")}
    assert all(after[row["uri"]]["in_reply_to_id"] == ERASED for row in recent)


def test_a_batch_deleted_before_the_erasure_was_stopped_leaves_the_manifest(
        with_deletions, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A raw batch of only the subject's records (here one of its deletions), deleted by an erasure stopped right
    after (Ctrl-C), leaves the curated manifest as it does when the erasure finishes: ``process --recurate`` then
    needs no ``--force``. Was: the manifest was updated once the raw pass was over, so the stopped erasure left the
    file listed, and running it again could not tell (the file was gone): the rebuild was refused as if retention
    had deleted a file whose rows were still curated."""
    env = with_deletions
    with monkeypatch.context() as interrupted:
        deleted = stop_after(interrupted, "raw/mastodon/status_deletions/", 1)
        assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 130
    assert deleted and not env.lake.exists(deleted[0])
    assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 0

    result = run_cli("process", "--recurate")
    assert result.code == 0, result.err
    assert _deletions(_curated(env, "status_deletions")) == {(LOCAL, env.deleted["other"]["id"])}
