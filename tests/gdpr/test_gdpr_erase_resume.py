"""An erasure stopped part-way through its curated pass and run again gives what an uninterrupted erasure gives.

The recordings (admin boosts the subject's status) landed through the real privacy policy, with admin's boost landed
again as a share event posted on a later day (:func:`~gdpr_lake.land_recent_copies`): its curated row lies in a later
``statuses`` partition than the subject's status it boosts. Curated by the real DuckDB curation, metric rows in a real
SQLite store by ``fediscope process``. One copy of the lake and store is erased in one go, the other is stopped
(Ctrl-C) after the first curated ``statuses`` partition was rewritten — the one holding the subject's statuses —
then erased again.

Was: the run again left admin's later boost in the curated statuses (and the store's rows of the subject's statuses
by id). A boost row names the status it boosts by its link only, which the erasure knew from the raw records (erased
by the first run) or from the subject's curated rows (rewritten by the first run): found nowhere any more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import (
    BY_ID,
    BY_ORIGIN,
    OTHERS,
    RECENT,
    SUBJECT,
    curated_tables,
    processed_twins,
    raw_records,
    stop_after,
    store_rows,
)

from fediscope.config import Settings
from fediscope.engine.process import run_process
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.gdpr.opt_outs import note_opt_outs
from fediscope.gdpr.resume import TRACES_PATH
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings


@pytest.fixture(params=[True, False], ids=["privacy-on", "privacy-off"])
def twins(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Settings, Settings]:
    """Two identical copies (lake and store) of the processed lake, admin's later boost in it."""
    return processed_twins(tmp_path, request.param)


def _boosts_of_the_subject(settings: Settings) -> list[dict[str, Any]]:
    key = policy_from_settings(settings).account_key(SUBJECT) if settings.privacy else SUBJECT
    rows = curated_tables(Path(settings.lake))["statuses"]
    links = {row["uri"] for row in rows if row["account_key"] == key}
    return [row for row in rows if row["reblog_of_uri"] in links]


def test_an_erasure_stopped_in_its_curated_pass_and_run_again_leaves_what_an_uninterrupted_one_leaves(
        twins: tuple[Settings, Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    interrupted, uninterrupted = twins
    boosts = _boosts_of_the_subject(interrupted)
    assert sorted(row["dt"] for row in boosts) == ["2026-08-01", RECENT]  # admin's boost, and again a later day
    stored = store_rows(interrupted)
    assert stored[BY_ID.name] and stored[BY_ORIGIN.name] and stored == store_rows(uninterrupted)

    erase_account(uninterrupted, SUBJECT)
    with monkeypatch.context() as stopped:
        written = stop_after(stopped, "curated/statuses/", 1)
        with pytest.raises(KeyboardInterrupt):
            erase_account(interrupted, SUBJECT)
    assert len(written) == 1 and "dt=2026-08-01" in written[0]  # the subject's statuses, not the later boost's day
    lake = open_lake(interrupted.lake)
    assert lake.exists(TRACES_PATH)  # what the stopped erasure knew, kept for the run again
    if interrupted.privacy:  # pseudonyms only
        assert SUBJECT.split("@")[0].encode() not in lake.read(TRACES_PATH)

    erase_account(interrupted, SUBJECT)

    left = {row["uri"] for row in curated_tables(Path(interrupted.lake))["statuses"]}
    assert left.isdisjoint(row["uri"] for row in boosts)
    assert curated_tables(Path(interrupted.lake)) == curated_tables(Path(uninterrupted.lake))
    assert raw_records(interrupted) == raw_records(uninterrupted)
    assert store_rows(interrupted) == store_rows(uninterrupted)
    assert not lake.exists(TRACES_PATH) and not open_lake(uninterrupted.lake).exists(TRACES_PATH)


def test_an_opt_out_erasure_stopped_in_its_curated_pass_is_finished_as_an_uninterrupted_one(
        twins: tuple[Settings, Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """The opt-out erasure a curation runs (fediscope.gdpr.opt_outs) keeps what it found alike: the next curation,
    which finishes it, erases admin's later boost of the subject's status too."""
    interrupted, uninterrupted = twins
    boosts = _boosts_of_the_subject(interrupted)
    assert len(boosts) == 2
    for settings in twins:
        key = policy_from_settings(settings).account_key(SUBJECT) if settings.privacy else SUBJECT
        note_opt_outs(open_lake(settings.lake), [key], "stream")

    assert run_process(uninterrupted, progress=False).curate["opted_out_erased"] == 1
    with monkeypatch.context() as stopped:
        written = stop_after(stopped, "curated/statuses/", 1)
        with pytest.raises(KeyboardInterrupt):
            run_process(interrupted, progress=False)
    assert len(written) == 1 and "dt=2026-08-01" in written[0]
    assert open_lake(interrupted.lake).exists(TRACES_PATH)
    run_process(interrupted, progress=False)

    left = {row["uri"] for row in curated_tables(Path(interrupted.lake))["statuses"]}
    assert left.isdisjoint(row["uri"] for row in boosts)
    assert curated_tables(Path(interrupted.lake)) == curated_tables(Path(uninterrupted.lake))
    assert raw_records(interrupted) == raw_records(uninterrupted)
    assert not open_lake(interrupted.lake).exists(TRACES_PATH)


def test_an_unreadable_note_is_named_and_replaced_and_other_accounts_entries_are_kept(
        twins: tuple[Settings, Settings]) -> None:
    """A damaged note does not hold the erasure up (the law gives it a deadline): the report says what may remain, and
    the erasure goes on with what it finds. Another account's entry (its erasure stopped) stays for its run again."""
    settings, _ = twins
    lake = open_lake(settings.lake)
    lake.write_atomic(TRACES_PATH, b"{not json")
    report = erase_account(settings, SUBJECT)
    assert [w for w in report.warnings if TRACES_PATH in w and "unreadable" in w and "boost" in w]
    assert not lake.exists(TRACES_PATH)

    other = {"somebody-else": {"status_links": ["urn:fediscope:u000000000000000000000000"]}}
    lake.write_atomic(TRACES_PATH, json.dumps(other).encode())
    report = erase_account(settings, SUBJECT)
    assert not [w for w in report.warnings if TRACES_PATH in w]
    assert json.loads(lake.read(TRACES_PATH)) == other


def _without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != "generated_at"}


def test_an_export_during_a_stopped_erasure_lists_what_the_erasure_will_remove_and_says_it_was_started(
        twins: tuple[Settings, Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    """The access export reads what the stopped erasure kept: admin's later boost of the subject's status and the
    store's rows of its statuses by id, tied to the subject by nothing else any more, are listed — exactly the
    rows the uninterrupted erasure removed — and ``erasing`` says an erasure was started and not finished. Was: the
    export missed them and said nothing of the erasure. Another account's export shows nothing of the entry."""
    interrupted, uninterrupted = twins
    boosts = _boosts_of_the_subject(interrupted)
    assert export_account(interrupted, SUBJECT)["erasing"] is False
    before = store_rows(uninterrupted)
    erase_account(uninterrupted, SUBJECT)
    removed = {name: sorted(set(rows) - set(store_rows(uninterrupted).get(name, []))) for name, rows in before.items()}
    assert removed[BY_ID.name] and removed[BY_ORIGIN.name]
    with monkeypatch.context() as stopped:
        stop_after(stopped, "curated/statuses/", 1)
        with pytest.raises(KeyboardInterrupt):
            erase_account(interrupted, SUBJECT)
    lake = open_lake(interrupted.lake)
    kept = lake.read(TRACES_PATH)

    document = export_account(interrupted, SUBJECT)

    assert document["erasing"] is True and "erasing" in document["about"]
    listed = {row["uri"] for row in document["curated"]["statuses"]}
    later = [row["uri"] for row in boosts if row["dt"] == RECENT]
    assert later and listed.issuperset(later)  # admin's boost in the partition the erasure had not reached
    exported = {name: sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)
                for name, rows in document["store"].items()}
    assert {name: exported.get(name, []) for name in (BY_ID.name, BY_ORIGIN.name)} == {
        name: removed[name] for name in (BY_ID.name, BY_ORIGIN.name)}
    assert lake.read(TRACES_PATH) == kept  # an export writes nothing

    for other in OTHERS:  # the entry is the subject's: another account's export is as without it
        with_entry = export_account(interrupted, other)
        lake.delete(TRACES_PATH)
        assert with_entry["erasing"] is False
        assert _without_time(with_entry) == _without_time(export_account(interrupted, other))
        lake.write_atomic(TRACES_PATH, kept)


def test_an_export_with_an_unreadable_note_of_a_stopped_erasure_answers_and_says_what_it_may_miss(
        twins: tuple[Settings, Settings], caplog: pytest.LogCaptureFixture) -> None:
    """The export never writes the note (the next erasure replaces it): it answers without it, and warns."""
    settings, _ = twins
    lake = open_lake(settings.lake)
    lake.write_atomic(TRACES_PATH, b"{not json")
    document = export_account(settings, SUBJECT)
    assert document["erasing"] is False and document["curated"]["statuses"]  # what the lake holds, still listed
    assert [r for r in caplog.records if TRACES_PATH in r.getMessage() and "unreadable" in r.getMessage()]
    assert lake.read(TRACES_PATH) == b"{not json"
