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

from pathlib import Path

import pytest
from gdpr_lake import collect_with_broken_pages, quarantined_files

from fediscope.gdpr.erase import erase_account

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
