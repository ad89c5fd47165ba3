"""The curated manifest keeps no path naming an erased account.

A page of an ``account:`` source lands in a raw batch whose name begins with the source's batch tag, a digest of
the handle (keyed with privacy on; unkeyed with privacy off, so anyone can check a guessed handle against it). When
the account's own timeline held its boost of another person's status, the erasure empties the file and deletes it,
but keeps it in ``curated_manifest.json``: curation keeps that other status (and its author's snapshot) from it, so a
rebuild without it must be forced. Was: it stayed listed under its own name, the erased handle's digest with it.
Now it is listed under a name that names nobody: the rebuild must still be forced, an ordinary curation neither
reads anything again nor loses the other person's status.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from gdpr_lake import LOCAL, STATUS_FILES, SUBJECT, curated_tables, lake_settings, land_recordings, recorded

from fediscope.engine.manifest import load_manifest
from fediscope.engine.process import run_process
from fediscope.errors import ConfigError
from fediscope.gdpr.erase import erase_account
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.state import source_batch_tag
from fediscope.privacy import policy_from_settings
from fediscope.sources.spec import parse_source
from fediscope.sources.spellings import on_instance

USER = SUBJECT.split("@")[0]


@pytest.mark.parametrize("privacy", [True, False])
def test_an_emptied_file_of_the_accounts_own_source_stays_listed_under_another_name(tmp_path: Path,
                                                                                   privacy: bool) -> None:
    settings = lake_settings(tmp_path, privacy)
    lake, policy = open_lake(settings.lake), policy_from_settings(settings)
    assert land_recordings(lake, policy) > 50
    statuses = [item for _, item in recorded(STATUS_FILES, "statuses")]
    own = next(item for item in statuses if item["account"]["acct"] == USER and item["visibility"] == "public")
    # the recorded boost (admin's, of the subject's status) made the subject's boost of admin's public status
    boost = copy.deepcopy(next(item for item in statuses if item.get("reblog")
                               and item["account"]["acct"] == "admin"))
    theirs = next(item for item in statuses if item["account"]["acct"] == "admin" and item["visibility"] == "public"
                  and not item.get("reblog") and USER not in json.dumps(item))
    boost["account"], boost["reblog"] = copy.deepcopy(own["account"]), copy.deepcopy(theirs)
    # a page of the subject's own timeline, named as the collector names it
    tag = source_batch_tag(policy if privacy else None, on_instance(parse_source(f"account:{USER}@{LOCAL}"), LOCAL))
    records = [envelope(LOCAL, "/api/v1/accounts/1/statuses", policy.apply("statuses", copy.deepcopy(each), LOCAL))
               for each in (own, boost)]
    path = write_batch(lake, "statuses", LOCAL, records, batch_id=f"{tag}-0123456789abcdef")
    assert path is not None and tag in path
    run_process(settings, progress=False)
    assert path in load_manifest(lake).files
    landed_theirs = policy.apply("statuses", copy.deepcopy(theirs), LOCAL)

    def theirs_curated() -> list[dict]:
        return [row for row in curated_tables(Path(settings.lake))["statuses"]
                if row["uri"] == landed_theirs["uri"]]

    assert theirs_curated()

    erase_account(settings, SUBJECT)

    assert not lake.exists(path)
    listed = load_manifest(lake).files
    assert not [each for each in listed if tag in each], listed  # no path names the erased account
    assert theirs_curated()  # the other person's status is still curated
    gone = {each: size for each, size in listed.items() if not lake.exists(each)}
    assert len(gone) == 1  # listed under another name, as curated before and gone
    # a curation takes in the files the erasure rewrote, and then none again (no loop); the other status stays
    run_process(settings, progress=False)
    curated = load_manifest(lake).files
    assert {each: size for each, size in curated.items() if not lake.exists(each)} == gone
    run_process(settings, progress=False)
    assert load_manifest(lake).files == curated and theirs_curated()
    # a rebuild would drop it: it must still be forced, as before
    with pytest.raises(ConfigError, match=r"raw file\(s\) curated before are no longer in the lake.*--force"):
        run_process(settings, progress=False, recurate=True)
