"""Quarantine files named after an erased account's source go with the erasure, whatever they hold.

The collector names the quarantine file of a page after the page's batch id, which begins with the source's batch
tag: for ``account:NAME`` and ``account_lookup:NAME`` a digest of the handle (keyed with privacy on, unkeyed — so
anyone can check a guessed handle against it — with privacy off). Was: ``gdpr erase`` deleted a quarantine file only
when its content named the account, so an answer of the account's own timeline that was not JSON (an HTML error
page), or a malformed status of it kept as its shape alone (privacy on), outlived the erasure in a file named after
the account's source.

The real collector walks the sources against the recorded Mastodon double, which breaks some answers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gdpr_lake import (
    LOCAL,
    OTHERS,
    STATUS_FILES,
    SUBJECT,
    collect_with_broken_pages,
    lake_settings,
    land_recordings,
    quarantined_files,
    recorded,
)

from fediscope.gdpr.erase import erase_account
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import encode_jsonl
from fediscope.lake.layout import envelope
from fediscope.privacy import policy_from_settings

USER = "mastodonpy_test_2"  # a recorded account with public statuses


@pytest.mark.parametrize("privacy", [True, False])
def test_the_erasure_deletes_the_quarantine_files_of_the_accounts_sources(mastodon_server, tmp_path: Path,
                                                                          privacy: bool) -> None:
    lake_dir = tmp_path / "lake"
    settings, summary, tag = collect_with_broken_pages(mastodon_server, lake_dir, tmp_path / "store.db", privacy, USER)
    domain = mastodon_server.domain
    assert summary.quarantined >= 3, summary.line()
    own = [p for p in quarantined_files(lake_dir) if f"-{tag}-" in p.name]
    others = [p for p in quarantined_files(lake_dir) if p not in own]
    assert len(own) >= 2 and others, quarantined_files(lake_dir)
    # what makes this test: some of them do not hold the account's handle, nor a link or id of it
    assert any(USER not in p.read_text() for p in own)

    report = erase_account(settings, f"{USER}@{domain}")

    assert quarantined_files(lake_dir) == others  # another source's quarantine is left
    assert report.other["quarantined_files_deleted"] == len(own)
    assert not [p for p in lake_dir.rglob("*") if tag in p.name], list(lake_dir.rglob(f"*{tag}*"))


@pytest.mark.parametrize("privacy", [True, False])
def test_an_erasure_deletes_what_nifi_quarantined_of_an_account_erased_before(tmp_path: Path, privacy: bool) -> None:
    """The NiFi flows write the batches they could not land to the quarantine themselves (``nifi_landing-…``, JSON
    Lines of the records the API served), after up to 10 minutes of retries: records of an account served before its
    erasure reach the quarantine after it, where no privacy policy and no erasure looks again. Was: they stayed (its
    statuses, with privacy off its handle and words) until that account's erasure was run again by hand; now every
    erasure deletes the NiFi quarantine files naming an account on the suppression list. A NiFi file naming nobody
    erased stays."""
    settings = lake_settings(tmp_path, privacy=privacy)
    lake = open_lake(settings.lake)
    before = policy_from_settings(settings)  # the API's policy when it served the page: nobody erased yet
    assert land_recordings(lake, before) > 50
    user = SUBJECT.split("@")[0]
    statuses = [item for instance, item in recorded(STATUS_FILES, "statuses") if instance == LOCAL]
    fetched = datetime(2026, 8, 1, tzinfo=UTC)

    def served(items: list[dict]) -> bytes:
        landed = [before.apply("statuses", item, LOCAL) for item in items]
        return encode_jsonl([envelope(LOCAL, "/api/v1/timelines/tag/x", data, fetched) for data in landed if data])

    second = OTHERS[0].split("@")[0]  # erased next: a file naming it goes with its erasure
    nobody = [item for item in statuses if user not in str(item) and second not in str(item)][:3]
    assert nobody
    erase_account(settings, SUBJECT)
    day = f"quarantine/instance={LOCAL}/dt=2026-08-01/"
    late = day + "nifi_landing-20260801T000000Z-0a1b2c3d.json"  # quarantined by NiFi after the erasure
    lake.write_atomic(late, served([item for item in statuses if item["account"]["acct"] == user][:2] + nobody))
    kept = day + "nifi_landing-20260801T000000Z-4e5f6a7b.json"
    lake.write_atomic(kept, served(nobody))
    # a failed request's description as a flow built before its URL's account was masked wrote it (NiFi's escapeJson)
    described = day + "nifi_unprocessable-20260801T000500Z-5f6a7b8c.json"
    lake.write_atomic(described, json.dumps({"stage": "fetch", "status": "410", "url": (
        f"http://api:8000/v1/accounts/{SUBJECT}/statuses?instance={LOCAL}&limit=40")}).replace("/", "\\/").encode())

    report = erase_account(settings, OTHERS[0])  # the next erasure, of anybody

    assert not lake.exists(late) and not lake.exists(described) and lake.exists(kept)
    assert report.other.get("quarantined_files_of_earlier_erasures_deleted") == 2
