"""``fediscope gdpr erase`` and the account's records in the temporary files of raw batches' unfinished writes.

A collector lands a batch by writing it to a hidden ``.<name>.<random>.tmp`` beside its target and renaming it into
place (:meth:`~fediscope.lake.local.LocalLake.write_atomic`); collectors take no lake lock. A temporary file less
than a day old may be a write under way, so the erasure neither removes nor rewrites it (the collector would rename
the old bytes into place, or fail). Was: the erasure did not read such files at all — what only they held of the
account (its id pseudonyms) missed the suppression list, its warning said only that they "may hold" the account's
records, and once the collector renamed one into place, nothing erased the records it landed: the account was back
in the raw lake, and the next curation published it again.

Now the erasure reads them (of any age) for the account's traces, names exactly those that hold its records
(``unfinished_writes``), and leaves a pending note that the next curation applies once such a file has landed
(:mod:`fediscope.gdpr.opt_outs`). The temporary files are made by the backend's own temporary-file writer from the
bytes of landed batches holding the account, each batch then removed, as a collector killed (or still running)
between writing and renaming it leaves the lake.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import LOCAL, OTHERS, SUBJECT, files_holding

from fediscope.engine.process import run_process
from fediscope.gdpr.erase import AUDIT_PATH, erase_account
from fediscope.gdpr.export import export_account
from fediscope.gdpr.opt_outs import apply_opt_outs, note_opt_outs, pending_opt_outs
from fediscope.gdpr.subject import status_author
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.layout import parse_partition
from fediscope.lake.local import LocalLake
from fediscope.lake.state import Checkpoint, load_checkpoint, load_pass_mark, save_checkpoint, save_pass_mark


def _unfinished(lake_dir: Path, batch: Path) -> str:
    """The lake path of the temporary file of a write of ``batch`` not renamed yet (the batch not landed)."""
    temporary = Path(LocalLake._write_temporary(batch, batch.read_bytes()))
    batch.unlink()
    return temporary.relative_to(lake_dir).as_posix()


def _land(lake_dir: Path, temporary: str, batch: Path) -> None:
    """The collector's rename of its temporary file into place, after the erasure."""
    os.rename(lake_dir / temporary, batch)


def _holding(env: Any, needles: list[str], *roots: str) -> set[str]:
    return set(files_holding([env.lake_dir / root for root in roots], needles))


def _statuses_batch(env: Any, key: str) -> Path:
    return Path(sorted(p for p in files_holding([env.lake_dir / "raw"], [key]) if "/statuses/" in p)[0])


def test_ids_only_an_unfinished_write_holds_go_on_the_suppression_list(landed) -> None:
    """Later landings drop replies to (and mentions of) an erased account by the ids on the suppression list: an id
    pseudonym held only by an unfinished write was left off it."""
    ids = export_account(landed.settings, SUBJECT)["pseudonyms"]["account_ids"]
    assert ids
    for batch in files_holding([landed.lake_dir / "raw"], ids):
        _unfinished(landed.lake_dir, Path(batch))
    assert all(Path(p).name.startswith(".") for p in _holding(landed, ids, "raw"))  # only unfinished writes

    erase_account(landed.settings, SUBJECT)

    assert set(ids) <= load_suppressed(landed.lake)


def test_the_erasure_names_the_unfinished_writes_holding_the_account_and_the_next_curation_erases_them_once_landed(
        landed, run_cli) -> None:  # noqa: ANN001
    key = landed.key(SUBJECT)
    batch = _statuses_batch(landed, key)
    pseudonyms = export_account(landed.settings, SUBJECT)["pseudonyms"]
    ids = pseudonyms["account_ids"]
    traces = [key, *ids, *pseudonyms["status_links"]]
    other = next(Path(p) for p in sorted(files_holding([landed.lake_dir / "raw"], [LOCAL]))
                 if p.endswith(".jsonl") and not files_holding([Path(p)], traces))
    temporary = _unfinished(landed.lake_dir, batch)
    _unfinished(landed.lake_dir, other)  # a write under way that holds nothing of the account: not named

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")

    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["unfinished_writes"] == [temporary]
    assert [w for w in report["warnings"] if temporary in w and "holds the account's records" in w
            and "next `fediscope process`" in w]
    assert not [w for w in report["warnings"] if "may hold" in w]  # the other one was read: nothing of the account
    assert (landed.lake_dir / temporary).exists()  # perhaps a write under way: never touched
    keys, _notes = pending_opt_outs(landed.lake)
    assert keys == {key}
    assert export_account(landed.settings, SUBJECT)["opt_out_notes"][0]["unfinished_writes"] == [temporary]

    _land(landed.lake_dir, temporary, batch)  # the collector renames it into place
    assert _holding(landed, [key, *ids], "raw") == {str(batch)}

    summary = run_process(landed.settings, progress=False)

    # an erasure finished, not an opt-out: counted apart (was: "(1 opted-out account erased)", opted_out_erased 1)
    assert (summary.curate["erasures_finished"], summary.curate["opted_out_erased"]) == (1, 0)
    assert "(finished the erasure of 1 account: records landed after `fediscope gdpr erase`)" in summary.line()
    assert "opted-out" not in summary.line()
    assert _holding(landed, [key, *ids], "raw", "curated") == set()
    assert pending_opt_outs(landed.lake) == (set(), [])


def _erased_with_a_write_under_way(env: Any) -> tuple[str, str, Path]:
    key = env.key(SUBJECT)
    batch = _statuses_batch(env, key)
    temporary = _unfinished(env.lake_dir, batch)
    assert erase_account(env.settings, SUBJECT).unfinished_writes == [temporary]
    return key, temporary, batch


def _landed_holding(env: Any, key: str) -> set[str]:
    """The raw batches (not the temporary files) holding ``key``."""
    return {p for p in _holding(env, [key], "raw") if not Path(p).name.startswith(".")}


def test_the_note_waits_while_the_write_is_unfinished_and_goes_once_its_file_is_removed(landed) -> None:
    """A curation before the collector renames the file must not use up the note (the file would land after it,
    and nothing would erase it); a killed write's file, removed a day later, ends the wait."""
    key, temporary, _batch = _erased_with_a_write_under_way(landed)

    report = apply_opt_outs(landed.lake)  # a curation while the write is still unfinished

    assert report.erased == []
    assert pending_opt_outs(landed.lake)[0] == {key}
    (landed.lake_dir / temporary).unlink()  # a killed write's file, removed by retention (or an erasure) a day later
    assert apply_opt_outs(landed.lake).erased == []
    assert pending_opt_outs(landed.lake) == (set(), [])


@pytest.mark.parametrize("landed_before_rerun", [True, False], ids=["landed", "unfinished"])
def test_running_the_erasure_again_replaces_the_note(landed, landed_before_rerun: bool) -> None:
    """The erasure run again (as its warning says) erases what has landed meanwhile and leaves one note only while
    a write holding the account is still unfinished."""
    key, temporary, batch = _erased_with_a_write_under_way(landed)
    if landed_before_rerun:
        _land(landed.lake_dir, temporary, batch)

    again = erase_account(landed.settings, SUBJECT)

    assert again.unfinished_writes == ([] if landed_before_rerun else [temporary])
    assert pending_opt_outs(landed.lake)[0] == (set() if landed_before_rerun else {key})
    assert len(pending_opt_outs(landed.lake)[1]) == (0 if landed_before_rerun else 1)
    assert not _landed_holding(landed, key)


def test_the_erasure_walks_the_hidden_files_once(landed, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the unfinished writes costs no walk of its own (over WebHDFS, one request per directory): the
    listing that finds the day-old temporary files to remove is the one read."""
    key = landed.key(SUBJECT)
    _unfinished(landed.lake_dir, _statuses_batch(landed, key))
    walks: list[str] = []
    original = LocalLake.walk_hidden

    def counted(self: LocalLake, path: str) -> list[Any]:
        walks.append(path)
        return original(self, path)

    monkeypatch.setattr(LocalLake, "walk_hidden", counted)
    report = erase_account(landed.settings, SUBJECT)
    assert report.unfinished_writes and walks == [""]


def test_a_note_erases_once_per_landed_write_and_waits_for_the_others(landed) -> None:
    """Two writes holding the account: the curation after the first lands erases it, and the note then waits for
    the second alone (the first is not erased again at every curation)."""
    key = landed.key(SUBJECT)
    first, second = sorted(Path(p) for p in files_holding([landed.lake_dir / "raw"], [key]))[:2]
    temporaries = {_unfinished(landed.lake_dir, first): first, _unfinished(landed.lake_dir, second): second}
    assert sorted(erase_account(landed.settings, SUBJECT).unfinished_writes) == sorted(temporaries)
    (landed_one, batch), (waiting, _) = sorted(temporaries.items())
    _land(landed.lake_dir, landed_one, batch)

    assert apply_opt_outs(landed.lake).erased == [key]

    assert not _landed_holding(landed, key)
    (note,) = pending_opt_outs(landed.lake)[1]
    assert json.loads(landed.lake.read(note))["unfinished_writes"] == [waiting]
    assert apply_opt_outs(landed.lake).erased == []  # nothing landed since: no erasure again


def _looked_up(env: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """Apply the notes as a curation does; the curated tables walked and the plans of uncurated raw files asked for
    meanwhile (the look-up of the noted keys), and the report."""
    walked: list[str] = []
    original = LocalLake.walk

    def counted(self: LocalLake, path: str) -> list[Any]:
        walked.append(path)
        return original(self, path)

    planned: list[str] = []

    def uncurated() -> dict[str, list[str]]:
        planned.append("asked")
        return {}

    monkeypatch.setattr(LocalLake, "walk", counted)
    env.report = apply_opt_outs(env.lake, uncurated)
    monkeypatch.undo()
    return [path for path in walked if path.startswith("curated")], planned


def test_a_note_waiting_for_a_write_is_not_looked_up_until_the_write_lands(landed,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: every curation while the write was unfinished (up to a day) looked the note's keys up in the curated
    tables and the uncurated raw files, and counted them as noted, although nothing was applied."""
    key, temporary, batch = _erased_with_a_write_under_way(landed)

    curated, planned = _looked_up(landed, monkeypatch)  # a curation while the write is still unfinished

    assert (landed.report.noted, landed.report.erased, curated, planned) == (0, [], [], [])
    assert pending_opt_outs(landed.lake)[0] == {key}  # still waiting
    _land(landed.lake_dir, temporary, batch)
    assert _landed_holding(landed, key)

    _curated, planned = _looked_up(landed, monkeypatch)  # the next curation after the collector renamed it

    assert (landed.report.noted, landed.report.erased, planned) == (1, [key], [])  # erased without looking for it
    assert not _landed_holding(landed, key)
    assert pending_opt_outs(landed.lake) == (set(), [])


def test_a_key_noted_again_by_a_landing_run_is_looked_up_while_the_erasure_note_waits(
        landed, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only keys whose every note waits for a write are passed over: one a landing run noted too is looked up (and
    counted) as any other, and the waiting note is kept."""
    key, _temporary, _batch = _erased_with_a_write_under_way(landed)
    (waiting,) = pending_opt_outs(landed.lake)[1]
    note_opt_outs(landed.lake, [key], "stream")

    curated, planned = _looked_up(landed, monkeypatch)

    assert (landed.report.noted, landed.report.erased) == (1, [])  # erased already: nothing of it found
    assert curated and planned
    assert pending_opt_outs(landed.lake) == ({key}, [waiting])


def _ids_of(env: Any, batch: Path, key: str) -> tuple[str, list[str]]:
    """(instance, the ids there of ``key``'s statuses and of boosts of them) in the raw ``batch``."""
    path = batch.relative_to(env.lake_dir).as_posix()
    instance = parse_partition(path)["instance"]
    ids = [r["data"]["id"] for r in read_batch(env.lake, path)
           if key in {status_author(s, instance) for s in (r["data"], r["data"].get("reblog"))}]
    return instance, ids


def _audit_lines(env: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (env.lake_dir / AUDIT_PATH).read_text().splitlines()]


def test_the_curation_finishing_the_erasure_moves_the_checkpoints_and_audits_it_as_the_erasure(landed) -> None:
    """A collector that started before the erasure renames its batch into place after it and then saves its
    checkpoint at the newest status it landed: one of the account's (it did not know the account was suppressed).
    Was: the curation erasing the landed records left that id in the checkpoint (only `fediscope gdpr erase` moved
    checkpoints: with the instance, the id names its author), and audited its erasure as an opt-out's, which an
    auditor could not match to the erasure it finished."""
    key, temporary, batch = _erased_with_a_write_under_way(landed)
    _land(landed.lake_dir, temporary, batch)
    instance, theirs = _ids_of(landed, batch, key)
    assert theirs
    newest = max(theirs, key=int)
    save_checkpoint(landed.lake, instance, "public", Checkpoint(newest))  # the collector's save, after landing
    before = len(_audit_lines(landed))

    summary = run_process(landed.settings, progress=False)

    assert (summary.curate["erasures_finished"], summary.curate["opted_out_erased"]) == (1, 0)
    assert not _landed_holding(landed, key)
    assert files_holding([landed.lake_dir / "_state"], theirs) == {}
    moved = load_checkpoint(landed.lake, instance, "public").newest_id
    assert moved is not None and int(moved) < int(newest)  # down: the next collection fetches again, skips nothing
    (audit,) = _audit_lines(landed)[before:]
    assert (audit["action"], audit["account_keys"]) == ("erase", [key])
    assert audit["other"]["checkpoints_moved"] == 1


def _erasure_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The erasure's passes over the lake (trace search, checkpoints, raw and curated rewrites), in the order they
    run from now on."""
    from fediscope.gdpr import curated, cursors, erase

    steps: list[str] = []
    for module, name in ((erase, "find_all_traces"), (cursors, "move_checkpoints"), (erase, "erase_raw"),
                         (curated, "erase_curated")):
        def counted(*args: Any, _name: str = name, _original: Any = getattr(module, name), **kwargs: Any) -> Any:
            steps.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return steps


def _nearest_below(env: Any, instance: str, status_id: str, erased: set[str]) -> tuple[str, str]:
    """(author, id) of the status landed from ``instance`` nearest below ``status_id`` but ``erased``, in the same
    minute (a checkpoint at ``status_id`` erased moves down onto it: :func:`~fediscope.gdpr.cursors.moved_down`)."""
    landed = {(r["data"]["id"], status_author(r["data"], instance)) for path in raw_batch_files(env.lake, "statuses")
              if parse_partition(path)["instance"] == instance for r in read_batch(env.lake, path)}
    nearest, author = max(((i, a) for i, a in landed if i not in erased and int(i) < int(status_id)),
                          key=lambda pair: int(pair[0]))
    assert (int(nearest) >> 16) // 60_000 == (int(status_id) >> 16) // 60_000  # a snowflake's ms, its minute
    return author, nearest


def _state_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """The files written under ``_state`` (lake path, bytes) from now on, in order."""
    written: list[tuple[str, bytes]] = []
    original = LocalLake.write_atomic

    def recorded(self: LocalLake, path: str, data: bytes) -> None:
        if path.startswith("_state/"):
            written.append((path, data))
        return original(self, path, data)

    monkeypatch.setattr(LocalLake, "write_atomic", recorded)
    return written


def test_a_curation_finishing_an_erasure_and_applying_an_opt_out_audits_each_as_what_it_is(
        landed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same curation erases a landed write of an erased account and an opted-out account's records: one audit
    line for each, the erasure's as an erasure (its checkpoint moved), the opt-out's as an opt-out. Both in one
    erasure: the traces found in one read of the raw lake, the checkpoint moved once, off the statuses of both.
    Was: a pass for each, one after the other — the erasure's moved the checkpoint onto a status of the opted-out
    account (written to ``_state`` until the opt-out's moved it again, counted twice), and each read the raw lake
    to find its traces and again to erase them."""
    key, temporary, batch = _erased_with_a_write_under_way(landed)
    _land(landed.lake_dir, temporary, batch)
    instance, theirs = _ids_of(landed, batch, key)
    newest = max(theirs, key=int)
    save_checkpoint(landed.lake, instance, "public", Checkpoint(newest))
    # the opted-out account: the author of the status nearest below the checkpoint, where the erasure alone moves it
    other, nearest = _nearest_below(landed, instance, newest, set(theirs))
    others = [i for p in files_holding([landed.lake_dir / "raw"], [other]) if "/statuses/" in p
              for i in _ids_of(landed, Path(p), other)[1]]
    assert nearest in others and other in {landed.key(account) for account in OTHERS}
    save_pass_mark(landed.lake, instance, "public", "settle", nearest)  # the opted-out account's id alone
    note_opt_outs(landed.lake, [other], "stream")
    before = len(_audit_lines(landed))
    steps = _erasure_steps(monkeypatch)
    written = _state_writes(monkeypatch)

    report = apply_opt_outs(landed.lake)

    monkeypatch.undo()
    assert report.erased == sorted([key, other])
    assert (report.finished, report.opted_out) == ([key], [other])
    assert (report.as_dict()["erased"], report.as_dict()["erasures_finished"]) == (2, 1)
    audits = _audit_lines(landed)[before:]
    assert [(a["action"], a["account_keys"]) for a in audits] == [("erase", [key]), ("opt_out", [other])]
    # each moved once, off the ids of both, and counted in the line of the kind whose id it held
    assert [a.get("other", {}).get("checkpoints_moved", 0) for a in audits] == [1, 1]
    assert report.other["checkpoints_moved"] == 2
    assert files_holding([landed.lake_dir / "_state"], [*theirs, *others]) == {}
    # nor for a while: the checkpoint written once, onto nobody's status of the two
    (checkpoint,) = [body for path, body in written if path == f"_state/{instance}/public.json"]
    assert not any(status_id.encode() in checkpoint for status_id in [*theirs, *others])
    moved = load_checkpoint(landed.lake, instance, "public").newest_id
    assert moved is not None and int(moved) < int(nearest)
    assert int(load_pass_mark(landed.lake, instance, "public", "settle") or 0) < int(nearest)
    assert not _landed_holding(landed, key) and not _landed_holding(landed, other)
    # what each line counts is the erasure of its own keys; together, what the curation erased
    for name in ("raw", "curated"):  # (nothing curated yet here)
        assert dict(sum((Counter(a[name]) for a in audits), Counter())) == getattr(report, name)
    assert all(a["raw"].get("records_removed") for a in audits)
    # one erasure: the traces found once, the checkpoints moved before the raw lake is rewritten, once
    assert steps == ["find_all_traces", "move_checkpoints", "erase_raw", "erase_curated"]
