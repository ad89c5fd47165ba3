"""With privacy off, another person's malformed item kept in quarantine after an erasure keeps nothing of the erased
account, and still tells what was wrong with it.

Was: quarantine kept the item as collected (privacy off keeps its values), the erased account's mention (its handle,
its profile link, in ``mentions`` and in the text) and its whole account inside a quote of its status with it, until
``gdpr erase`` was run again; landing writes the same status, were it well-formed, without them.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

from gdpr_lake import LOCAL, STATUS_FILES, SUBJECT, lake_settings, land_recordings, recorded

from fediscope.erased_mentions import ERASED
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.backend import open_lake
from fediscope.privacy import policy_from_settings
from fediscope.sources.client import MalformedResponse
from fediscope.sources.pages import QuarantinedItem
from fediscope.sources.quarantine import quarantine_body, quarantine_items, shape

USER = SUBJECT.split("@")[0]


def test_a_quarantined_item_loses_the_erased_accounts_mentions_and_quotes_at_landing(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path, privacy=False)
    lake = open_lake(settings.lake)
    assert land_recordings(lake, policy_from_settings(settings)) > 50
    erase_account(settings, SUBJECT)
    policy = policy_from_settings(settings, load_suppressed(lake))  # as a collection after the erasure lands
    statuses = [item for _, item in recorded(STATUS_FILES, "statuses")]
    mentioning = next(item for item in statuses if item["account"]["acct"] != USER
                      and any(m["acct"] == USER for m in item.get("mentions") or []) and f"/@{USER}" in item["content"])
    # a recorded quote, made one of the subject's status
    quoting = copy.deepcopy(next(item for item in statuses if (item.get("quote") or {}).get("quoted_status")))
    quoting["quote"]["quoted_status"]["account"] = copy.deepcopy(
        next(item["account"] for item in statuses if item["account"]["acct"] == USER))
    items = []
    for each in (mentioning, quoting):
        broken = {k: v for k, v in copy.deepcopy(each).items() if k != "created_at"}  # a field the API documents
        items.append(QuarantinedItem("missing field: created_at", broken))

    path = quarantine_items(lake, LOCAL, "/api/v1/timelines/public", items, "public-0123456789abcdef",
                            keep_raw=True, scrub=policy.quarantine_scrub(LOCAL))

    assert path is not None
    kept = json.loads(lake.read(path))["entries"]
    text = json.dumps([entry["item"] for entry in kept])
    assert USER not in text and ERASED in text, text
    for entry, item in zip(kept, items, strict=True):
        # what makes it a diagnosis: the reason, the shape and fingerprint of the item as sent, and its own shape
        assert entry["reason"] == item.reason and entry["shape"] == shape(item.item)
        assert shape(entry["item"]) == shape(item.item)
    # the text says what landing makes of the same status well-formed
    landed = policy.apply("statuses", copy.deepcopy(mentioning), LOCAL)
    assert landed is not None and kept[0]["item"]["content"] == landed["content"]
    # the quoted status is the erased account's (landing leaves it out): its words go too; the person quoting stays
    assert kept[1]["item"]["quote"]["quoted_status"]["content"] == ERASED
    assert quoting["quote"]["quoted_status"]["content"] not in text
    assert kept[1]["item"]["account"] == quoting["account"]


def test_without_an_erasure_the_item_is_kept_as_collected(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path, privacy=False)
    assert policy_from_settings(settings).quarantine_scrub(LOCAL) is None


def test_a_quarantined_body_loses_the_erased_accounts_mentions(tmp_path: Path) -> None:
    """A page cut short (not JSON any more) whose text mentions the erased account: its handle and profile links go,
    the rest of the body is kept to tell what went wrong."""
    settings = lake_settings(tmp_path, privacy=False)
    lake = open_lake(settings.lake)
    assert land_recordings(lake, policy_from_settings(settings)) > 50
    erase_account(settings, SUBJECT)
    policy = policy_from_settings(settings, load_suppressed(lake))
    mentioning = next(item for _, item in recorded(STATUS_FILES, "statuses") if item["account"]["acct"] != USER
                      and any(m["acct"] == USER for m in item.get("mentions") or []))
    body = json.dumps([mentioning]).encode()[:-2]  # cut short
    exc = MalformedResponse("not JSON", endpoint="/api/v1/timelines/public", status=200, content=body,
                            content_type="application/json")

    path = quarantine_body(lake, LOCAL, exc, "public-0123456789abcdef", keep_raw=True,
                           scrub=policy.quarantine_scrub(LOCAL))

    assert path is not None
    kept = json.loads(lake.read(path))["entries"][0]
    assert USER not in kept["body"] and ERASED in kept["body"]
    assert kept["sha256"] == hashlib.sha256(body).hexdigest()  # the fingerprint is of what was sent
