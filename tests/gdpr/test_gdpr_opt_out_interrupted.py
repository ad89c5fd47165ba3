"""An opt-out erasure (fediscope.gdpr.opt_outs, run by the curation) stopped part-way through its curated pass.

The notes stay pending (they are deleted only after the erasure). The stopped pass rewrote the curated accounts table
first (tables are rewritten in path order), and the raw lake is rewritten already, so the next curation would find the
account nowhere in the lake and leave its curated statuses, and the replies to them: it finishes from what the stopped
erasure found and kept (``fediscope.gdpr.resume``). Once a known gap, kept then as a strict xfail.
A real local lake landed from the recorded Mastodon payloads, the real CLI in-process.
"""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq
import pytest
from gdpr_lake import RECENT, SUBJECT, land_recent_copies, stop_after

from fediscope.gdpr.export import export_account
from fediscope.gdpr.opt_outs import note_opt_outs, pending_opt_outs
from fediscope.gdpr.subject import ERASED


def _rows(env: Any, table: str) -> list[dict[str, Any]]:
    """The rows of a curated table (``table`` may name a partition: ``statuses/dt=…``)."""
    return [row for path in sorted((env.lake_dir / "curated" / table).rglob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]


@pytest.mark.parametrize("stop", [("curated/statuses/", 0), ("curated/hashtags/", 1)],
                         ids=["before-statuses", "after-hashtags"])
def test_an_opt_out_erasure_stopped_in_its_curated_pass_is_finished_by_the_next_curation(
        landed: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch, stop: tuple[str, int]) -> None:
    env = landed
    assert run_cli("process").code == 0
    key = env.key(SUBJECT)
    ids = {row["status_id"] for row in _rows(env, "statuses") if row["account_key"] == key}
    assert ids and [row for row in _rows(env, "statuses") if row["in_reply_to_id"] in ids]  # admin's reply
    note_opt_outs(env.lake, [key], "stream")
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, *stop)
        assert run_cli("process").code == 130
    assert pending_opt_outs(env.lake)[0] == {key}  # the notes are still there for the next curation
    assert not [row for row in _rows(env, "accounts") if row["account_key"] == key]  # rewritten before the stop
    document = export_account(env.settings, SUBJECT)  # the access export tells the erasure started
    assert document["erasing"] is True  # what the stopped erasure found is kept (fediscope.gdpr.resume)
    notes = document["opt_out_notes"]
    assert [(note["source"], note.get("erasing", False)) for note in notes] == [("stream", False), ("curation", True)]

    assert run_cli("process").code == 0
    assert not [row for row in _rows(env, "statuses") if row["account_key"] == key or row["in_reply_to_id"] in ids]
    assert pending_opt_outs(env.lake) == (set(), [])  # the erasure finished: its marker went with the notes


def test_a_reply_in_a_curated_partition_the_stopped_erasure_had_not_reached_loses_the_status_id(
        landed: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The account's statuses and a reply to one in two curated partitions (the reply landed again, posted on a later
    day): stopped after rewriting the first, the next curation knows the status id from nothing but the raw record of
    the reply, which says ``[erased]`` (:class:`~fediscope.gdpr.old_replies.OldReplies`)."""
    env = landed
    assert land_recent_copies(env.lake, env.policy, authors={"admin"})
    assert run_cli("process").code == 0
    key = env.key(SUBJECT)
    ids = {row["status_id"] for row in _rows(env, "statuses") if row["account_key"] == key}
    later = [row for row in _rows(env, f"statuses/dt={RECENT}") if row["in_reply_to_id"] in ids]
    assert later and not [row for row in _rows(env, f"statuses/dt={RECENT}") if row["account_key"] == key]
    note_opt_outs(env.lake, [key], "stream")
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, "curated/statuses/", 1)
        assert run_cli("process").code == 130
    assert [row for row in _rows(env, "statuses") if row["in_reply_to_id"] in ids]  # the later partition's reply

    assert run_cli("process").code == 0
    assert not [row for row in _rows(env, "statuses") if row["account_key"] == key or row["in_reply_to_id"] in ids]
    assert [row["in_reply_to_id"] for row in _rows(env, "statuses") if row["uri"] == later[0]["uri"]] == [ERASED]
    assert pending_opt_outs(env.lake) == (set(), [])


def test_an_erasure_request_after_the_stop_finishes_it_and_removes_the_marker(
        landed: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``fediscope gdpr erase`` of the account removes its key from every pending note, the marker of the stopped
    opt-out erasure included (it erases the account itself): nothing is left for the next curation to do."""
    env = landed
    assert run_cli("process").code == 0
    key = env.key(SUBJECT)
    note_opt_outs(env.lake, [key], "stream")
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, "curated/statuses/", 0)
        assert run_cli("process").code == 130
    assert len(pending_opt_outs(env.lake)[1]) == 2  # the note and the marker

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert result.code == 0 and "opt out notes removed 2" in result.out
    assert pending_opt_outs(env.lake) == (set(), [])
    assert not [row for row in _rows(env, "statuses") if row["account_key"] == key]
