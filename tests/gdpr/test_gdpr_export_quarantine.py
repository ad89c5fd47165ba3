"""The access export lists every quarantine file the erasure deletes.

Was: ``gdpr export`` did not look at the quarantine at all, while ``gdpr erase`` deletes the quarantine files that
name the account and those named after a page of its own ``account:`` source (whose batch id holds a digest of its
handle): the answer to an access request left out data the erasure of the same account deleted.

The real collector walks the sources against the recorded Mastodon double, which breaks some answers.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gdpr_lake import (
    ACCOUNT_FILES,
    KEY,
    LOCAL,
    STATUS_FILES,
    SUBJECT,
    collect_with_broken_pages,
    land_recordings,
    quarantined_files,
    recorded,
)

from fediscope.config import Settings
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.batches import encode_jsonl
from fediscope.lake.layout import envelope
from fediscope.privacy import policy_from_settings
from fediscope.sources.pages import QuarantinedItem
from fediscope.sources.quarantine import quarantine_items

USER = "mastodonpy_test_2"  # a recorded account with public statuses


def _quarantined(lake_dir: Path) -> set[str]:
    return {p.relative_to(lake_dir).as_posix() for p in quarantined_files(lake_dir)}


@pytest.mark.parametrize("privacy", [True, False])
def test_the_export_lists_the_quarantine_files_the_erasure_deletes(mastodon_server, tmp_path: Path,
                                                                   privacy: bool) -> None:
    lake_dir = tmp_path / "lake"
    settings, _, tag = collect_with_broken_pages(mastodon_server, lake_dir, tmp_path / "store.db", privacy, USER)
    domain = mastodon_server.domain
    before = _quarantined(lake_dir)
    own = {path for path in before if f"-{tag}-" in path}
    assert len(own) >= 2 and before - own, before

    document = export_account(settings, f"{USER}@{domain}")
    listed = {entry["path"]: entry for entry in document["quarantine"]}
    assert set(document) == set(document["about"])  # the field is explained in the answer

    erase_account(settings, f"{USER}@{domain}")

    deleted = before - _quarantined(lake_dir)
    assert deleted == own  # what makes the comparison meaningful: the erasure deletes these files
    assert set(listed) == deleted
    for path in own:  # a page of the account's own source: listed with what it holds
        assert listed[path]["why"] == "source" and listed[path]["endpoint"] and listed[path]["entries"]
        assert all(entry["reason"] for entry in listed[path]["entries"])


def _privacy_off_lake(tmp_path: Path) -> tuple[Settings, LakeBackend]:
    """A lake of the recorded statuses and accounts, landed with privacy off (quarantined items keep their content)."""
    settings = Settings(lake=str(tmp_path / "lake"), store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY,
                        privacy=False)
    lake = open_lake(settings.lake)
    assert land_recordings(lake, policy_from_settings(settings)) > 50
    return settings, lake


def test_the_export_lists_another_sources_quarantine_naming_the_account_without_its_content(tmp_path: Path) -> None:
    """A page of another source kept aside (privacy off keeps its items) with an item that mentions the account: the
    erasure deletes the file, so the export lists it, with only the kind and reason of the entry naming the
    account (the item is another person's status)."""
    settings, lake = _privacy_off_lake(tmp_path)
    statuses = recorded(STATUS_FILES, "statuses")
    user = SUBJECT.split("@")[0]
    mentioning = next(item for _, item in statuses
                      if any(m.get("acct") == user for m in item.get("mentions") or [])
                      and item["account"]["acct"] != user)
    other = next(item for _, item in statuses if user not in json.dumps(item))
    # malformed as a server may send them: a field the API documents left out
    items = [QuarantinedItem("missing field: created_at", {k: v for k, v in each.items() if k != "created_at"})
             for each in (mentioning, other)]
    path = quarantine_items(lake, LOCAL, "/api/v1/timelines/public", items, "20260101T000000-public-0001",
                            keep_raw=True)
    assert path is not None

    document = export_account(settings, SUBJECT)
    listed = [entry for entry in document["quarantine"] if entry["path"] == path]
    assert listed == [{"path": path, "why": "names", "instance": LOCAL, "endpoint": "/api/v1/timelines/public",
                       "fetched_at": listed[0]["fetched_at"] if listed else None,
                       "entries": [{"kind": "item", "reason": "missing field: created_at"}]}]
    assert mentioning["content"] not in json.dumps(document)  # another person's words are not in the answer

    erase_account(settings, SUBJECT)
    assert not (tmp_path / "lake" / path).exists()


def test_the_export_gives_the_accounts_own_quarantined_items_and_nobody_elses(tmp_path: Path) -> None:
    """Privacy off: a page of another source kept aside holds the account's own status, another person's status that
    mentions it and another person's boost of its status, all malformed. The person is entitled to their own data:
    their own status is listed with its content (``item``, as kept); the other two, other people's items, with their
    kind and reason alone. Was: every entry by kind and reason only, also the person's own status."""
    settings, lake = _privacy_off_lake(tmp_path)
    statuses = [item for _, item in recorded(STATUS_FILES, "statuses")]
    user = SUBJECT.split("@")[0]
    own = next(item for item in statuses if item["account"]["acct"] == user and not item.get("reblog"))
    mentioning = next(item for item in statuses if item["account"]["acct"] != user
                      and any(m.get("acct") == user for m in item.get("mentions") or []))
    boost = next(item for item in statuses if item["account"]["acct"] != user
                 and (item.get("reblog") or {}).get("account", {}).get("acct") == user)
    items = [QuarantinedItem("missing field: created_at", {k: v for k, v in each.items() if k != "created_at"})
             for each in (own, mentioning, boost)]
    path = quarantine_items(lake, LOCAL, "/api/v1/timelines/public", items, "20260101T000000-public-0002",
                            keep_raw=True)
    assert path is not None
    kept = json.loads(lake.read(path))["entries"]

    document = export_account(settings, SUBJECT)
    (listed,) = [entry for entry in document["quarantine"] if entry["path"] == path]
    reason = "missing field: created_at"
    assert listed["why"] == "names" and listed["entries"] == [
        {"kind": "item", "reason": reason, "item": kept[0]["item"]},
        {"kind": "item", "reason": reason}, {"kind": "item", "reason": reason}]
    assert kept[0]["item"]["id"] == own["id"] and kept[0]["item"]["content"] == own["content"]
    text = json.dumps(listed)
    for other in (mentioning, boost):  # nothing of the other people's items: their words, their accounts
        assert json.dumps(other["uri"]) not in text and json.dumps(other["account"]["url"]) not in text
    assert json.dumps(own["uri"]) in text


def test_the_export_reads_a_nifi_json_lines_quarantine_file(tmp_path: Path) -> None:
    """Privacy off: a batch NiFi could not land goes to quarantine whole (``nifi_landing-…``), as JSON Lines of
    landed records, one of them the account's own record. The erasure deletes the file, so the export lists it, with
    the kind and reason of each record naming the account (the file's other records are other people's), never
    their content but for the account's own record, given whole (``record``). Was: listed as ``unreadable`` (it is
    not one JSON document with ``entries``), though it is readable: the answer did not say what of the account it
    held; then the account's own record was listed by kind and reason alone."""
    settings, lake = _privacy_off_lake(tmp_path)
    user = SUBJECT.split("@")[0]
    accounts = {a["acct"]: a for instance, a in recorded(ACCOUNT_FILES, "accounts") if instance == LOCAL}
    other = next(a for acct, a in accounts.items() if acct != user)
    day = f"quarantine/instance={LOCAL}/dt=2026-08-01/"
    path = day + "nifi_landing-20260801T000000Z-0a1b2c3d.json"
    fetched = datetime(2026, 8, 1, tzinfo=UTC)
    lake.write_atomic(path, encode_jsonl([envelope(LOCAL, "/api/v1/directory", account, fetched)
                                          for account in (other, accounts[user])]))
    # a file of one line is one JSON document, a record, not a quarantine file's: read as a record too
    single = day + "nifi_fetch-20260801T000000Z-4e5f6a7b.json"
    lake.write_atomic(single, encode_jsonl([envelope(LOCAL, "/api/v1/directory", accounts[user], fetched)]))

    document = export_account(settings, SUBJECT)
    listed = {entry["path"]: entry for entry in document["quarantine"]}
    own = envelope(LOCAL, "/api/v1/directory", accounts[user], fetched)
    record = {"kind": "record", "reason": "landing", "endpoint": "/api/v1/directory",
              "fetched_at": "2026-08-01T00:00:00.000Z", "record": json.loads(json.dumps(own))}
    # the record naming the account, its own, whole: nothing of the other's record
    assert listed.get(path) == {"path": path, "why": "names", "instance": LOCAL, "endpoint": None, "fetched_at": None,
                                "entries": [record]}
    assert json.dumps(other["url"]) not in json.dumps(listed)
    assert listed.get(single, {}).get("entries") == [record | {"reason": "fetch"}]

    erase_account(settings, SUBJECT)
    assert not lake.exists(path) and not lake.exists(single)


def test_a_quarantine_gzip_cut_short_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    """Privacy off: quarantine files compressed (``.json.gz``) and cut short, a copy that stopped part-way. The one
    whose readable part holds the account's record is listed by the export and deleted by the erasure; one whose
    gzip header is damaged (nothing readable) names nobody and stays. Was: ``gzip``'s EOFError stopped both the
    export and the erasure with "fediscope: aborted" (click takes an EOFError for a Ctrl-D), exit 130, as if the user
    had stopped them: an erasure could not finish while such a file was in the quarantine."""
    settings, lake = _privacy_off_lake(tmp_path)
    user = SUBJECT.split("@")[0]
    accounts = {a["acct"]: a for instance, a in recorded(ACCOUNT_FILES, "accounts") if instance == LOCAL}
    records = [envelope(LOCAL, "/api/v1/directory", accounts[user], datetime(2026, 8, 1, tzinfo=UTC))] * 40
    compressed = gzip.compress(encode_jsonl(records))
    day = f"quarantine/instance={LOCAL}/dt=2026-08-01/"
    cut = day + "nifi_landing-20260801T000000Z-0a1b2c3d.json.gz"
    lake.write_atomic(cut, compressed[:len(compressed) // 2])
    header = day + "nifi_landing-20260801T000000Z-4e5f6a7b.json.gz"
    lake.write_atomic(header, b"\x1f\x8b\x08\x00" + compressed[10:len(compressed) // 2])  # its header cut

    document = export_account(settings, SUBJECT)
    assert cut in {entry["path"] for entry in document["quarantine"]}

    erase_account(settings, SUBJECT)
    assert not lake.exists(cut) and lake.exists(header)
