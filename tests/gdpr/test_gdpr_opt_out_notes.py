"""Pending opt-out notes (fediscope.gdpr.opt_outs) are data about the accounts they name: the access export lists
the notes naming the account, and an erasure removes the account's key(s) from them — only those keys: the other
accounts a note names stay noted for the next curation, and notes written meanwhile by a landing run are kept.

A real local lake landed from the recorded Mastodon payloads (gdpr_lake), the real CLI in-process.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from gdpr_lake import OTHERS, SUBJECT, files_holding

from fediscope.gdpr.erase import AUDIT_PATH, erase_account
from fediscope.gdpr.export import export_account
from fediscope.gdpr.opt_outs import OPT_OUTS_ROOT, note_opt_outs, pending_opt_outs
from fediscope.lake.backend import open_lake
from fediscope.sources.handle_domains import remember_handle_domain


def note_body(env: Any, path: str) -> dict[str, Any]:
    return json.loads(env.lake.read(path))


def three_notes(env: Any) -> tuple[str, str, str, str, str]:
    """The subject noted alone by ``stream``, with another account by ``collect``; a third note names only that
    other account. Returns the subject's key, the other's and the three note files."""
    key, other = env.key(SUBJECT), env.key(OTHERS[0])
    alone = note_opt_outs(env.lake, [key], "stream")
    shared = note_opt_outs(env.lake, [key, other], "collect")
    others = note_opt_outs(env.lake, [other], "api")
    assert alone and shared and others
    return key, other, alone, shared, others


def test_the_export_lists_the_pending_notes_naming_the_account(landed, run_cli, tmp_path) -> None:
    key, _other, alone, shared, _others = three_notes(landed)
    exported = export_account(landed.settings, SUBJECT)
    assert exported["opt_out_notes"] == [
        {"path": alone, "source": "stream", "noted_at": note_body(landed, alone)["noted_at"]},
        {"path": shared, "source": "collect", "noted_at": note_body(landed, shared)["noted_at"]},
    ]

    out = tmp_path / "export.json"
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))
    assert result.code == 0
    written = json.loads(out.read_text())
    assert written["account_key"] == key and [n["path"] for n in written["opt_out_notes"]] == [alone, shared]
    # an account named by no note has an empty list, not a missing field
    assert export_account(landed.settings, OTHERS[1])["opt_out_notes"] == []


def test_erasure_removes_the_account_from_the_notes_and_keeps_the_others(landed, run_cli) -> None:
    key, other, alone, shared, others = three_notes(landed)
    untouched = landed.lake.read(others)
    shared_before = note_body(landed, shared)

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")
    assert result.code == 0, result.err
    assert not landed.lake.exists(alone)  # named only the erased account
    assert note_body(landed, shared) == {**shared_before, "keys": [other]}  # rewritten under its name, other kept
    assert landed.lake.read(others) == untouched
    assert pending_opt_outs(landed.lake) == ({other}, sorted([shared, others]))
    assert files_holding([landed.lake_dir / OPT_OUTS_ROOT], [key]) == {}
    assert landed.lake_dir.joinpath(OPT_OUTS_ROOT).exists() and not [
        p for p in landed.lake_dir.joinpath(OPT_OUTS_ROOT).iterdir() if p.name.startswith(".")]  # no temp left
    assert json.loads(result.out)["other"]["opt_out_notes_removed"] == 2
    audit = [json.loads(line) for line in (landed.lake_dir / AUDIT_PATH).read_text().splitlines()]
    assert audit[-1]["action"] == "erase" and audit[-1]["other"]["opt_out_notes_removed"] == 2

    again = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")  # nothing left to remove: not counted
    assert again.code == 0 and "opt out notes" not in again.out


def test_the_summary_counts_the_notes_removed(landed, run_cli) -> None:
    three_notes(landed)
    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert result.code == 0 and "other: opt out notes removed 2" in result.out


def test_an_unreadable_note_holding_the_key_is_exported_and_erased(landed) -> None:
    key = landed.key(SUBJECT)
    broken = f"{OPT_OUTS_ROOT}/broken.json"
    landed.lake.write_atomic(broken, f'{{"keys": ["{key}"'.encode())  # cut short: no run can read it
    assert export_account(landed.settings, SUBJECT)["opt_out_notes"] == [
        {"path": broken, "source": None, "noted_at": None, "unreadable": True}]
    report = erase_account(landed.settings, SUBJECT)
    assert report.other["opt_out_notes_removed"] == 1 and not landed.lake.exists(broken)


def test_every_key_of_the_account_is_exported_and_erased_from_the_notes(env) -> None:
    """A local account of a server whose handles have another domain is noted under both keys (opt_outs module
    docstring): the export's ``also`` lists the served-domain key's notes, and the erasure removes both keys."""
    served, handle = "social.example.test", "example.test"
    assert remember_handle_domain(env.lake, served, handle)
    handle_key, served_key = env.key(f"alice@{handle}"), env.key(f"alice@{served}")
    bystander = env.key(f"bob@{served}")
    both = note_opt_outs(env.lake, [handle_key, served_key, bystander], "collect")
    served_only = note_opt_outs(env.lake, [served_key], "stream")

    exported = export_account(env.settings, f"alice@{handle}")
    assert [n["path"] for n in exported["opt_out_notes"]] == [both]
    assert [(a["account_key"], [n["path"] for n in a["opt_out_notes"]]) for a in exported["also"]] == [
        (served_key, [both, served_only])]

    report = erase_account(env.settings, f"alice@{handle}")
    assert report.other["opt_out_notes_removed"] == 2
    assert pending_opt_outs(env.lake) == ({bystander}, [both])
    assert note_body(env, both)["keys"] == [bystander]


def test_notes_written_during_an_erasure_are_never_lost(landed) -> None:
    """A landing run keeps noting (each note its own file, from its own lake handle, as another process would)
    while the erasure rewrites the notes naming the erased account: every other account it noted stays noted,
    and the notes written before the erasure lose the erased key."""
    key = landed.key(SUBJECT)
    before = [note_opt_outs(landed.lake, [key, f"before-{i}"], "collect") for i in range(20)]
    done = threading.Event()
    written: list[str] = []

    def land() -> None:
        lake = open_lake(landed.settings.lake)
        i = 0
        while not done.is_set() or i < 5:
            note_opt_outs(lake, [key, f"during-{i}"], "stream")
            written.append(f"during-{i}")
            time.sleep(0.002)  # a landing run between two pages
            i += 1

    writer = threading.Thread(target=land)
    writer.start()
    try:
        report = erase_account(landed.settings, SUBJECT)
    finally:
        done.set()
        writer.join(timeout=60)
    assert not writer.is_alive()
    keys, files = pending_opt_outs(landed.lake)
    assert {f"before-{i}" for i in range(20)} | set(written) <= keys
    assert all(note_body(landed, path)["keys"] == [f"before-{i}"] for i, path in enumerate(before))
    assert report.other["opt_out_notes_removed"] >= 20
    assert len(files) == 20 + len(written)


def test_a_note_applied_while_the_export_reads_the_notes_is_left_out(landed, monkeypatch) -> None:
    """The export does not hold the lake lock: a curation may apply (and delete) the notes between the export
    listing them and reading them. Such a note is no longer pending: left out, not a 'cannot read' error."""
    from fediscope.gdpr.opt_outs import apply_opt_outs
    from fediscope.lake.local import LocalLake

    key, _other, alone, shared, _others = three_notes(landed)
    read, applied = LocalLake.read, []

    def curation_meanwhile(self: LocalLake, path: str) -> bytes:
        if path.startswith(OPT_OUTS_ROOT) and not applied:  # the export's first read of a note listed
            applied.append(path)
            apply_opt_outs(self)  # the real step of a curation: every note applied, then deleted
        return read(self, path)

    monkeypatch.setattr(LocalLake, "read", curation_meanwhile)
    exported = export_account(landed.settings, SUBJECT)
    assert applied == [alone] and not landed.lake.exists(alone) and not landed.lake.exists(shared)
    assert exported["account_key"] == key and exported["opt_out_notes"] == []
