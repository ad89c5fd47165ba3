"""The raw pass of the access export parses only the lines whose bytes may hold what lists a record — the account's
key, a trace, the id of a copy of one of its statuses or an ``origin_ref`` of one (a streamed deletion of it): the
erasure's needles (:func:`fediscope.gdpr.erase.concern_search`, :func:`fediscope.gdpr.erase.records_found`) — and
the export is that of parsing every line. With clear names (privacy off) every line is parsed, as the erasure does.

On the recordings landed through the real privacy policy (or with privacy off), admin's later boost of the subject's
status, streamed deletions (one of the subject's statuses by its copy's id, one by its ``origin_ref`` alone, one of
another person's status), processed by ``fediscope process``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import KEY, LOCAL, OTHERS, SUBJECT, land_recent_copies, land_recordings, stop_after
from streamed_deletions import land_deletion

from fediscope.config import Settings
from fediscope.engine.process import run_process
from fediscope.gdpr import erase, export
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.gdpr.subject import status_author
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.privacy import policy_from_settings

RECEIVED = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _settings(root: Path, privacy: bool) -> Settings:
    return Settings(lake=str(root / "lake"), store=f"sqlite:///{root / 'store.db'}",
                    **({"pseudonym_key": KEY} if privacy else {"privacy": False}))


def _statuses_of(settings: Settings, account: str) -> list[dict[str, Any]]:
    """The landed statuses (not boosts) of ``account``, one per id."""
    key = policy_from_settings(settings).account_key(account) if settings.privacy else account
    lake = open_lake(settings.lake)
    found = {r["data"]["id"]: r["data"] for path in raw_batch_files(lake, "statuses") for r in read_batch(lake, path)
             if status_author(r["data"], r["meta"]["instance"]) == key and not r["data"].get("reblog")}
    return [found[i] for i in sorted(found)]


@pytest.fixture(params=[True, False], ids=["privacy-on", "privacy-off"])
def lake(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    settings = _settings(tmp_path, request.param)
    lake, policy = open_lake(settings.lake), policy_from_settings(settings)
    assert land_recordings(lake, policy) > 50
    assert land_recent_copies(lake, policy, authors={"admin"}, reblogs=True) == 1
    mine, other = _statuses_of(settings, SUBJECT), _statuses_of(settings, OTHERS[0])[0]
    assert len(mine) >= 2 and (mine[1].get("origin_ref") or not settings.privacy)
    landed_by = policy if settings.privacy else None
    land_deletion(lake, mine[0]["id"], LOCAL, RECEIVED, landed_by)
    land_deletion(lake, "home-id-unknown-here", LOCAL, RECEIVED, landed_by,
                  origin_ref=mine[1].get("origin_ref") or f"{LOCAL}/{mine[1]['id']}")
    land_deletion(lake, other["id"], LOCAL, RECEIVED, landed_by)
    run_process(settings, progress=False)
    return settings


def _export_both_ways(settings: Settings, account: str,
                      monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any]]:
    """The export of ``account`` with the line search, and with every line of every batch parsed (as it was)."""
    searched = export_account(settings, account)
    with monkeypatch.context() as patch:
        patch.setattr(export, "concern_search", lambda *_: None)  # records_found then parses every line
        parsed = export_account(settings, account)
    return ({k: v for k, v in searched.items() if k != "generated_at"},
            {k: v for k, v in parsed.items() if k != "generated_at"})


def test_the_export_with_the_line_search_lists_what_parsing_every_line_lists(
        lake: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    searched, parsed = _export_both_ways(lake, SUBJECT, monkeypatch)

    entities = [record["entity"] for record in searched["raw"]["records"]]
    assert entities.count("status_deletions") == 2  # by the copy's id, by the origin_ref: no trace in either line
    assert entities.count("statuses") > 2 and "accounts" in entities
    relations = {r for reference in searched["raw"]["references"] for r in reference["relation"]}
    assert {"mentions", "replies_to"} <= relations, relations
    assert searched == parsed


def test_the_export_of_other_accounts_with_the_line_search_lists_what_parsing_every_line_lists(
        lake: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for account in OTHERS:
        searched, parsed = _export_both_ways(lake, account, monkeypatch)
        assert searched["raw"]["records"], account
        assert searched == parsed, account


def test_an_export_during_a_stopped_erasure_with_the_line_search_lists_what_parsing_every_line_lists(
        lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stopped erasure rewrote the first raw batches: the traces it kept (copies of the subject's statuses whose
    records are gone, their ``origin_ref`` values) still lead to the lines of the batches it had not reached."""
    with monkeypatch.context() as stopped:
        stop_after(stopped, "raw/", 2)
        with pytest.raises(KeyboardInterrupt):
            erase_account(lake, SUBJECT)

    searched, parsed = _export_both_ways(lake, SUBJECT, monkeypatch)

    assert searched["erasing"] is True and searched["raw"]["records"]
    assert searched == parsed


def test_with_privacy_on_only_the_lines_holding_a_needle_are_parsed(lake: Settings,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    raw = open_lake(lake.lake)
    lines = sum(erase.read_batch_text(raw, path).count(b"\n") for path in raw_batch_files(raw))
    parsed: list[int] = []
    parse = erase._Line.parse

    def counting(self: erase._Line, path: str) -> dict[str, Any]:
        parsed.append(self.number)
        return parse(self, path)

    monkeypatch.setattr(erase._Line, "parse", counting)
    document = export_account(lake, SUBJECT)

    listed = len(document["raw"]["records"]) + len(document["raw"]["references"])
    if lake.privacy:
        assert listed <= len(parsed) < lines / 2, (listed, len(parsed), lines)
    else:  # clear names: every line, as decode_jsonl reads them
        assert not parsed


def test_a_batch_the_search_finds_nothing_in_is_not_split_into_lines(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, True)
    assert land_recordings(open_lake(settings.lake), policy_from_settings(settings), kinds=("instance",)) > 0
    split: list[bytes] = []
    lines = erase._lines
    monkeypatch.setattr(erase, "_lines", lambda text: split.append(text) or lines(text))

    document = export_account(settings, SUBJECT)

    assert not document["raw"]["records"] and not split
