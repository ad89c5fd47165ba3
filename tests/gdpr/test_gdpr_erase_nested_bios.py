"""With privacy off, a bio naming an erased account says the same landed before or after the erasure, wherever the
account object is nested: the account another account ``moved`` to, a link preview's author account, an instance's
contact account.

Landing with privacy off after the erasure rewrites each of them (:meth:`fediscope.privacy.PrivacyPolicy.
_collected_profile`, which every account object it lands goes through). Was: ``gdpr erase`` rewrote only the top
account object of an account record and the authors of the statuses a status record carries, so the same bio landed
before the erasure kept the erased account's mention (its profile link) there.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import ACCOUNT_FILES, INSTANCE_FILES, LOCAL, STATUS_FILES, SUBJECT, lake_settings, raw_records, recorded

from fediscope.erased_mentions import ERASED
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import policy_from_settings

USER = SUBJECT.split("@")[0]
OTHER = "mastodonpy_test"  # another recorded account
THIRD = "admin"  # and another


def _mentioning_html() -> str:
    """The recorded HTML of a status by another person mentioning the subject: a mention anchor and its handle."""
    return next(item["content"] for _, item in recorded(STATUS_FILES, "statuses")
                if item["account"]["acct"] != USER and any(m["acct"] == USER for m in item.get("mentions") or [])
                and f"/@{USER}" in item["content"])


def _account(acct: str) -> dict[str, Any]:
    """A recorded account: an ``accounts`` answer, or a status's author."""
    accounts = [item for _, item in recorded(ACCOUNT_FILES, "accounts")]
    accounts += [item["account"] for _, item in recorded(STATUS_FILES, "statuses")]
    return copy.deepcopy(next(item for item in accounts if item["acct"] == acct))


def _naming_bio() -> dict[str, Any]:
    """Another person's account whose bio holds a mention of the subject (its profile link)."""
    other = _account(OTHER)
    other["note"] = _mentioning_html()
    return other


def _moved() -> tuple[str, dict[str, Any], Any]:
    record = _account(THIRD)
    record["moved"] = _naming_bio()
    return "accounts", record, lambda data: data["moved"]


def _card_author() -> tuple[str, dict[str, Any], Any]:
    status = copy.deepcopy(next(item for _, item in recorded(STATUS_FILES, "statuses")
                                if item["account"]["acct"] == THIRD and USER not in json.dumps(item)
                                and item["visibility"] == "public" and not item.get("reblog")))
    author = _naming_bio()
    status["card"] = {"url": "https://example.org/", "title": "Example", "description": "", "type": "link",
                      "authors": [{"name": author["display_name"], "url": author["url"], "account": author}]}
    return "statuses", status, lambda data: data["card"]["authors"][0]["account"]


def _contact() -> tuple[str, dict[str, Any], Any]:
    document = copy.deepcopy(next(item for _, item in recorded(INSTANCE_FILES, "instance")
                                  if isinstance(item.get("contact"), dict)))
    document["contact"]["account"] = _naming_bio()
    return "instance", document, lambda data: data["contact"]["account"]


@pytest.mark.parametrize("made", [_moved, _card_author, _contact], ids=["moved", "card_author", "contact"])
def test_a_nested_bio_naming_the_erased_account_is_rewritten_as_landing_rewrites_it(tmp_path: Path, made) -> None:
    settings = lake_settings(tmp_path, privacy=False)
    lake = open_lake(settings.lake)
    entity, item, nested = made()
    assert f"/@{USER}" in nested(item)["note"]
    own = _account(USER)
    before = policy_from_settings(settings)
    for each_entity, each in ((entity, item), ("accounts", own)):
        write_batch(lake, each_entity, LOCAL, [envelope(LOCAL, "/api/v1/x", before.apply(each_entity,
                                                                                        copy.deepcopy(each), LOCAL))])

    erase_account(settings, SUBJECT)

    kept = [record["data"] for records in raw_records(settings).values() for record in records]
    assert len(kept) == 1
    after = policy_from_settings(settings, load_suppressed(lake))
    landed = after.apply(entity, copy.deepcopy(item), LOCAL)
    assert landed is not None
    note = nested(landed)["note"]
    assert f"/@{USER}" not in note and ERASED in note, note  # landing after the erasure rewrites it
    assert nested(kept[0])["note"] == note  # and the erasure rewrote it so in the record landed before
    erase_account(settings, SUBJECT)  # again: nothing more to rewrite
    assert [record["data"] for records in raw_records(settings).values() for record in records] == kept
