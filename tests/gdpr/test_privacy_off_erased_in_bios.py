"""With privacy off, another person's bio naming an erased account says the same landed before or after the erasure.

Was: ``gdpr erase`` rewrote the erased handle in the account records landed before (its search of the key), but left
the profile link of a mention in the bio; landing with privacy off after the erasure rewrote neither: another
person's bio (and the bio of a status's author) kept a mention of the erased account, landed again with every
collection of that person. Both now write it as landing with privacy on writes an erased account's mention
(:meth:`fediscope.erased_mentions.ProfileLinks.erase_profile`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from gdpr_lake import ACCOUNT_FILES, LOCAL, STATUS_FILES, SUBJECT, lake_settings, raw_records, recorded

from fediscope.erased_mentions import ERASED
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import policy_from_settings

USER = SUBJECT.split("@")[0]
OTHER = "mastodonpy_test"  # another recorded account


def _mentioning_html() -> str:
    """The recorded HTML of a status by another person mentioning the subject: a mention anchor and its handle."""
    return next(item["content"] for _, item in recorded(STATUS_FILES, "statuses")
                if item["account"]["acct"] != USER and any(m["acct"] == USER for m in item.get("mentions") or [])
                and f"/@{USER}" in item["content"])


def test_a_bio_naming_the_erased_account_is_rewritten_at_landing_as_the_erasure_rewrites_it(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path, privacy=False)
    lake = open_lake(settings.lake)
    other = copy.deepcopy(next(item for _, item in recorded(ACCOUNT_FILES, "accounts") if item["acct"] == OTHER))
    other["note"] = f"<p>with {USER}@{LOCAL}</p>" + _mentioning_html()  # a handle written out, and a mention
    status = copy.deepcopy(next(item for _, item in recorded(STATUS_FILES, "statuses")
                                if item["account"]["acct"] == OTHER and USER not in json.dumps(item)))
    status["account"] = copy.deepcopy(other)  # its author's bio, as a status carries it
    own = next(item for _, item in recorded(ACCOUNT_FILES, "accounts") if item["acct"] == USER)
    before = policy_from_settings(settings)
    for entity, item in (("accounts", other), ("accounts", own), ("statuses", status)):
        write_batch(lake, entity, LOCAL, [envelope(LOCAL, "/api/v1/accounts/lookup",
                                                   before.apply(entity, copy.deepcopy(item), LOCAL))])

    erase_account(settings, SUBJECT)

    erased = {json.dumps(record["data"]["note"] if "note" in record["data"] else record["data"]["account"]["note"])
              for records in raw_records(settings).values() for record in records}
    after = policy_from_settings(settings, load_suppressed(lake))
    landed_account = after.apply("accounts", copy.deepcopy(other), LOCAL)
    landed_status = after.apply("statuses", copy.deepcopy(status), LOCAL)
    assert landed_account is not None and landed_status is not None
    for note in (landed_account["note"], landed_status["account"]["note"]):
        assert f"/@{USER}" not in note and f"{USER}@" not in note and ERASED in note, note
        assert json.dumps(note) in erased  # what the erasure made of the records landed before
    assert len(erased) == 1
