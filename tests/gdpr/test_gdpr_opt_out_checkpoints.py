"""Opt-outs and the status ids in checkpoints (fediscope.gdpr.opt_outs, fediscope.gdpr.cursors): a collection that
ran before an account opted out saved its checkpoint (or settle mark) at the newest status it landed, perhaps the
account's, and with the instance a status id names its author. The curation that erases the opted-out account
moves such ids off its statuses as ``fediscope gdpr erase`` does, so that no ``_state`` file names it, and counts
it in the opt-out's audit line. Was: only erasures moved checkpoints; an opt-out left the ids where they were.

Against the recorded Mastodon double (real collector and CLI), and on a lake landed from the recordings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import LOCAL, SUBJECT, files_holding

from fediscope.engine.process import run_process
from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.opt_outs import note_opt_outs, pending_opt_outs
from fediscope.gdpr.subject import status_author
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.state import Checkpoint, load_checkpoint, load_pass_mark, save_checkpoint, save_pass_mark

NOBOT = "<p>Please leave me out #nobot</p>"
OPTING_OUT = "mastodonpy_test"  # one of the double's authors


def _audit_lines(lake_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (lake_dir / AUDIT_PATH).read_text().splitlines()]


def _landed_ids(env: Any) -> set[str]:
    return {r["data"]["id"] for path in raw_batch_files(env.lake, "statuses") for r in read_batch(env.lake, path)}


def _is_of(status: dict[str, Any], acct: str) -> bool:
    """Is ``status`` (as the double serves it) ``acct``'s own, or a boost of one of its?"""
    reblog = status.get("reblog") or {}
    return status["account"]["acct"] == acct or (reblog.get("account") or {}).get("acct") == acct


def _collect(run_cli, url: str, *sources: str) -> dict[str, Any]:  # noqa: ANN001
    result = run_cli("collect", "--instance", url, *(a for s in sources for a in ("--timeline", s)), "--json")
    assert result.code == 0, result.err + result.out
    return json.loads(result.out)


def test_the_opt_out_erasure_moves_the_checkpoint_at_the_accounts_newest_status_and_nothing_is_lost(
        env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The public timeline's checkpoint is saved at the account's newest status; the account then opts out, and a
    lookup of it notes it (the public timeline has nothing new: its checkpoint stays). `fediscope process` erases it
    and moves the checkpoint off its id; the next collection loses nobody else's status and lands none of its."""
    monkeypatch.setenv("FEDISCOPE_BACKFILL_PAGES", "50")
    mastodon_server.add_statuses(2, author=OPTING_OUT)  # the newest statuses: the checkpoint names their author
    _collect(run_cli, mastodon_server.url, "public")
    assert run_cli("process").code == 0
    served = mastodon_server.public_statuses()  # newest first
    theirs = [s["id"] for s in served if _is_of(s, OPTING_OUT)]
    domain = mastodon_server.domain
    assert load_checkpoint(env.lake, domain, "public").newest_id == served[0]["id"] == theirs[0]

    assert mastodon_server.set_account_note(OPTING_OUT, NOBOT) > 0
    _collect(run_cli, mastodon_server.url, "public", f"account_lookup:{OPTING_OUT}")
    key = env.key(f"{OPTING_OUT}@{domain}")
    assert key in pending_opt_outs(env.lake)[0]
    assert files_holding([env.lake_dir / "_state"], theirs)  # saved before the account opted out
    before = len(_audit_lines(env.lake_dir)) if (env.lake_dir / AUDIT_PATH).exists() else 0

    result = run_cli("process", "--json")

    assert result.code == 0, result.err
    curate = json.loads(result.out)["curate"]
    assert (curate["opted_out_erased"], curate["erasures_finished"]) == (1, 0)
    assert files_holding([env.lake_dir / "_state"], theirs) == {}
    newest = load_checkpoint(env.lake, domain, "public").newest_id
    assert newest is not None and int(newest) < int(theirs[0])  # down: fetched again, nothing skipped
    (audit,) = _audit_lines(env.lake_dir)[before:]
    assert (audit["action"], audit["account_keys"]) == ("opt_out", [key])
    assert audit["other"]["checkpoints_moved"] == 1
    assert key not in load_suppressed(env.lake)  # still an opt-out, not an erasure

    mastodon_server.add_statuses(10)
    _collect(run_cli, mastodon_server.url, "public")

    landed, served = _landed_ids(env), mastodon_server.public_statuses()
    assert {s["id"] for s in served if not _is_of(s, OPTING_OUT)} <= landed  # nobody else's status is lost
    assert not landed & {s["id"] for s in served if _is_of(s, OPTING_OUT)}
    assert files_holding([env.lake_dir / "_state"], [s["id"] for s in served if _is_of(s, OPTING_OUT)]) == {}


def test_a_checkpoint_and_a_settle_mark_at_the_opted_out_accounts_statuses_are_moved(landed) -> None:
    """Both kinds of state file, on a lake landed from the recordings; the process summary says what it erased."""
    key = landed.key(SUBJECT)
    theirs = sorted({r["data"]["id"] for path in raw_batch_files(landed.lake, "statuses")
                     for r in read_batch(landed.lake, path) if status_author(r["data"], LOCAL) == key}, key=int)
    assert len(theirs) >= 1
    save_checkpoint(landed.lake, LOCAL, "public", Checkpoint(theirs[-1]))  # saved before the account opted out
    save_pass_mark(landed.lake, LOCAL, "public", "settle", theirs[0])
    note_opt_outs(landed.lake, [key], "stream")

    summary = run_process(landed.settings, progress=False)

    assert (summary.curate["opted_out_erased"], summary.curate["erasures_finished"]) == (1, 0)
    assert "(1 opted-out account erased)" in summary.line() and "finished the erasure" not in summary.line()
    assert files_holding([landed.lake_dir / "_state"], theirs) == {}
    newest, mark = load_checkpoint(landed.lake, LOCAL, "public").newest_id, load_pass_mark(
        landed.lake, LOCAL, "public", "settle")
    assert newest is not None and int(newest) < int(theirs[-1])
    assert mark is not None and int(mark) < int(theirs[0])
    (audit,) = _audit_lines(landed.lake_dir)
    assert (audit["action"], audit["other"]["checkpoints_moved"]) == ("opt_out", 2)
