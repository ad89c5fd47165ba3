"""The walk locks of an erased account's sources go with its checkpoints.

A collect holds ``<lake>/_state/<instance>/collect-<source tag>.lock`` while it walks a source, and the file stays
(the next collect locks it again). For ``account:NAME`` and ``account_lookup:NAME`` the tag is a digest of the
handle, as the checkpoint's name is. Was: ``gdpr erase`` deleted the account's checkpoints but left its lock files,
named after the account, behind; and a source written in another case (``account:MastodonPy_Test_2``) was locked
under a digest of that spelling, which no erasure could name.

The real collector walks the sources against the recorded Mastodon double.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gdpr_lake import KEY

from fediscope.config import Settings
from fediscope.gdpr.erase import erase_account
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

USER = "mastodonpy_test_2"  # a recorded account with public statuses


def _locks(lake_dir: Path, domain: str) -> set[str]:
    return {p.name for p in (lake_dir / "_state" / domain).glob("collect-*.lock")}


@pytest.mark.parametrize("privacy", [True, False])
def test_the_erasure_deletes_the_walk_locks_of_the_accounts_sources(mastodon_server, tmp_path: Path,
                                                                    privacy: bool) -> None:
    lake_dir = tmp_path / "lake"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY,
                        backfill_pages=2, privacy=privacy)
    domain = mastodon_server.domain
    sources = [f"account:{USER}", f"account_lookup:{USER.replace('m', 'M', 1)}@{domain}",
               f"account:{USER.upper()}", "local"]
    summary = run_collection(settings, [(mastodon_server.url, parse_source(s)) for s in sources], progress=False)
    assert summary.ok and summary.sources[0].landed > 0 and summary.sources[1].fetched > 0, summary
    held = _locks(lake_dir, domain)
    personal = {name for name in held if name.startswith(("collect-account-", "collect-account_lookup-"))}
    assert held - personal == {"collect-local.lock"}
    # account:NAME in any case is one account: one lock, as it is one checkpoint
    assert len(personal) == 2, held

    erase_account(settings, f"{USER}@{domain}")

    assert _locks(lake_dir, domain) == {"collect-local.lock"}  # another source's lock is left
    assert not list((lake_dir / "_state" / domain).glob(f"*{USER}*"))
