"""Quote posts as Akkoma and Fedibird (``quote``: the quoted status itself) and Pleroma (``pleroma.quote``) send
them, in a lake landed with ``FEDISCOPE_PRIVACY=off``, from REAL recorded statuses (the quoted one put where those
servers put it).

Was: only Mastodon's ``quote.quoted_status`` was looked at. With privacy off such a quote landed as collected, the
quoted author's whole account (id, handle, profile link, bio, avatar) and words with it, also when that author had
opted out or been erased; and ``gdpr erase`` left it there (their id and profile link in the raw lake: only the
status links were scrubbed). With privacy on nothing of it lands (Akkoma's quote lands without its status,
``pleroma`` is dropped), as before.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import KEY, LOCAL, STATUS_FILES, SUBJECT, files_holding, land_recordings, recorded
from privacy_skips import NOBOT_NOTE

from fediscope.config import Settings
from fediscope.erased_mentions import ERASED
from fediscope.gdpr.erase import erase_account, find_traces
from fediscope.gdpr.subject import subject_from_settings
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import PrivacyPolicy, policy_from_settings

QUOTING_IDS = ("990001", "990002")


def _statuses() -> tuple[dict[str, Any], dict[str, Any]]:
    """A public status of the subject (mastodonpy_test_2) and one of admin that quotes nothing, as recorded."""
    public = [s for instance, s in recorded(STATUS_FILES, "statuses")
              if instance == LOCAL and not s.get("reblog") and s["visibility"] == "public"]
    quoted = next(s for s in public if f"{s['account']['acct']}@{LOCAL}" == SUBJECT)
    quoting = next(s for s in public if s["account"]["acct"] == "admin" and not s.get("quote"))
    return copy.deepcopy(quoted), copy.deepcopy(quoting)


def _quoting(quoted: dict[str, Any], quoting: dict[str, Any], style: str, new_id: str) -> dict[str, Any]:
    """``quoting`` (another status: new id and uri) quoting ``quoted`` as Akkoma/Fedibird or Pleroma send it."""
    out = copy.deepcopy(quoting)
    out.update(id=new_id, uri=f"{quoting['uri']}-{new_id}", url=f"{quoting['url']}-{new_id}")
    if style == "akkoma":
        out.update(quote=copy.deepcopy(quoted), quote_id=quoted["id"], quote_url=quoted["url"])
    else:
        out["pleroma"] = {"quote": copy.deepcopy(quoted), "quote_id": quoted["id"], "quote_url": quoted["url"],
                          "quote_visible": True}
    return out


def _traces_of(quoted: dict[str, Any]) -> set[str]:
    """What names the quoted author in clear: its account id, profile link and the quoted words."""
    return {quoted["account"]["id"], quoted["account"]["url"], quoted["content"]}


@pytest.fixture()
def off_lake(tmp_path: Path) -> tuple[Settings, Path]:
    lake_dir = tmp_path / "lake"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'store.db'}", privacy=False)
    assert land_recordings(open_lake(str(lake_dir)), policy_from_settings(settings)) > 50
    return settings, lake_dir


def test_erasure_removes_the_erased_authors_status_quoted_as_other_servers_send_it(off_lake) -> None:
    settings, lake_dir = off_lake
    lake = open_lake(str(lake_dir))
    quoted, quoting = _statuses()
    policy = policy_from_settings(settings)
    records = [envelope(LOCAL, "/api/v1/timelines/public",
                        policy.apply("statuses", _quoting(quoted, quoting, style, new_id), LOCAL), datetime.now(UTC))
               for style, new_id in zip(("akkoma", "pleroma"), QUOTING_IDS, strict=True)]
    write_batch(lake, "statuses", LOCAL, records, fetched_at=datetime.now(UTC), batch_id="other-servers-quotes")
    assert all(isinstance(r["data"].get("quote") or r["data"]["pleroma"]["quote"], dict) for r in records)
    assert find_traces(lake, subject_from_settings(settings, SUBJECT)).status_links

    erase_account(settings, SUBJECT)

    assert files_holding([lake_dir / "raw"], _traces_of(quoted)) == {}
    kept = {r["data"]["id"]: r["data"] for path in raw_batch_files(lake, "statuses") for r in read_batch(lake, path)
            if r["data"]["id"] in QUOTING_IDS}
    assert set(kept) == set(QUOTING_IDS)  # admin's statuses stay, without the quoted status
    akkoma, pleroma = kept[QUOTING_IDS[0]], kept[QUOTING_IDS[1]]
    assert akkoma["quote"] is None and akkoma["quote_url"] == ERASED
    assert pleroma["pleroma"]["quote"] is None and pleroma["pleroma"]["quote_url"] == ERASED


@pytest.mark.parametrize("style", ["akkoma", "pleroma"])
def test_a_status_quoting_an_erased_account_lands_as_the_erasure_left_it(off_lake, style: str) -> None:
    settings, lake_dir = off_lake
    lake = open_lake(str(lake_dir))
    quoted, quoting = _statuses()
    erase_account(settings, SUBJECT)
    policy = policy_from_settings(settings, load_suppressed(lake))
    landed = policy.apply("statuses", _quoting(quoted, quoting, style, QUOTING_IDS[0]), LOCAL)
    holder = landed if style == "akkoma" else landed["pleroma"]
    assert holder["quote"] is None and holder["quote_url"] == ERASED and holder["quote_id"] == quoted["id"]
    assert not [t for t in _traces_of(quoted) if t in json.dumps(landed)]
    assert landed["account"] == quoting["account"]  # admin's status, as collected (its mention of the subject erased)


@pytest.mark.parametrize("style", ["akkoma", "pleroma"])
def test_a_status_quoting_an_opted_out_account_lands_without_it_and_notes_it(style: str) -> None:
    quoted, quoting = _statuses()
    quoted["account"]["note"] = NOBOT_NOTE
    off = PrivacyPolicy(key=None, enabled=False)
    landed = off.apply("statuses", _quoting(quoted, quoting, style, QUOTING_IDS[0]), LOCAL)
    holder = landed if style == "akkoma" else landed["pleroma"]
    assert holder["quote"] is None and NOBOT_NOTE not in json.dumps(landed)
    assert off.opted_out == {SUBJECT}
    assert holder["quote_url"] == quoted["url"]  # as Mastodon's link to it in the text stays for an opt-out


@pytest.mark.parametrize("style", ["akkoma", "pleroma"])
def test_a_status_quoting_anyone_else_lands_as_collected(style: str) -> None:
    quoted, quoting = _statuses()
    status = _quoting(quoted, quoting, style, QUOTING_IDS[0])
    assert PrivacyPolicy(key=None, enabled=False).apply("statuses", copy.deepcopy(status), LOCAL) == status


def test_with_privacy_on_nothing_of_such_a_quote_lands_as_before() -> None:
    quoted, quoting = _statuses()
    on = PrivacyPolicy(key=KEY.encode())
    akkoma = on.apply("statuses", _quoting(quoted, quoting, "akkoma", QUOTING_IDS[0]), LOCAL)
    pleroma = on.apply("statuses", _quoting(quoted, quoting, "pleroma", QUOTING_IDS[1]), LOCAL)
    assert akkoma["quote"] == {"state": None, "quoted_status": None} and "quote_url" not in akkoma
    assert "pleroma" not in pleroma
    assert not [t for t in _traces_of(quoted) if t in json.dumps([akkoma, pleroma])]


@pytest.mark.parametrize("style", ["akkoma", "pleroma", "mastodon"])
def test_a_status_quoting_an_erased_account_that_also_opted_out_lands_as_the_erasure_left_it(off_lake,
                                                                                           style: str) -> None:
    """The quoted author is on the suppression list and has opted out since (``#nobot``): erased all the same, as
    its mentions and a link preview naming it are. Was: taken as an opt-out only (the reason checked first), so the
    link to its status stayed (``quote_url``, and Mastodon's ``RE:`` link in the text, ``@name/<id>``)."""
    settings, lake_dir = off_lake
    lake = open_lake(str(lake_dir))
    quoted, quoting = _statuses()
    erase_account(settings, SUBJECT)
    quoted["account"]["note"] = NOBOT_NOTE
    if style == "mastodon":
        status = copy.deepcopy(quoting)
        status.update(id=QUOTING_IDS[0], content=f'<p>as said</p><p class="quote-inline">RE: <a href="{quoted["url"]}">'
                                                 f'{quoted["url"]}</a></p>',
                      quote={"state": "accepted", "quoted_status": quoted})
    else:
        status = _quoting(quoted, quoting, style, QUOTING_IDS[0])
    landed = policy_from_settings(settings, load_suppressed(lake)).apply("statuses", status, LOCAL)
    assert quoted["url"] not in json.dumps(landed)
    assert not [t for t in _traces_of(quoted) if t in json.dumps(landed)]
    if style != "mastodon":
        assert (landed if style == "akkoma" else landed["pleroma"])["quote_url"] == ERASED
