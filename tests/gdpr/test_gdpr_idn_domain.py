"""An account of a server with an internationalised domain name (``bawü.social``, a real Mastodon server).

Mastodon's API writes a remote account's domain in Unicode (``acct``: ``lfdi@bawü.social``), so the records other
instances serve land under the key of that spelling, while the records of the server itself, collected from its
address (``xn--baw-joa.social``: an instance address is ASCII), land under the punycode one. The landing now
settles on the ASCII spelling (tests/test_privacy_idn.py), but lakes landed before hold both keys. Was: ``gdpr erase
--account lfdi@bawü.social`` (and the profile link ``https://bawü.social/@lfdi``) was refused as "not an instance
address", and ``--account lfdi@xn--baw-joa.social`` erased only the punycode key: the records landed from other
instances stayed, and the export did not list them.

The records are the recorded statuses of the test server, with their author moved to that domain, landed through
the real privacy policy as the release before did (a domain's spelling as written).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from gdpr_lake import STATUS_FILES, files_holding, recorded

from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope

UNICODE, PUNYCODE = "bawü.social", "xn--baw-joa.social"
REMOTE = "mastodon.example"  # another instance, whose API names the account in Unicode
USER = "mastodonpy_test_2"  # the author the recordings' statuses are moved to the IDN server


def _moved(status: dict[str, Any], acct: str) -> dict[str, Any]:
    """A recorded status of USER, its author on the IDN server as ``acct`` names it (links with the punycode host,
    as Mastodon writes them)."""
    status = json.loads(json.dumps(status))
    account = status["account"]
    account.update(acct=acct, url=f"https://{PUNYCODE}/@{USER}", uri=f"https://{PUNYCODE}/users/{USER}")
    status.update(uri=f"https://{PUNYCODE}/users/{USER}/statuses/{status['id']}",
                  url=f"https://{PUNYCODE}/@{USER}/{status['id']}")
    return status


@pytest.fixture()
def idn_lake(env, monkeypatch):
    """USER's recorded statuses landed twice, as the release before the landing settled domains on ASCII did: from
    REMOTE (``acct`` in Unicode, keyed so) and from the server itself."""
    monkeypatch.setattr("fediscope.privacy.landed_handle", lambda handle: handle)
    monkeypatch.setattr("fediscope.privacy.landed_domain", str.lower)
    own = [item for _, item in recorded(STATUS_FILES, "statuses")
           if item["account"]["username"] == USER and not item.get("reblog")]
    assert own
    fetched = datetime(2026, 11, 20, 12, tzinfo=UTC)
    for instance, acct in ((REMOTE, f"{USER}@{UNICODE}"), (PUNYCODE, USER)):
        landed = [env.policy.apply("statuses", _moved(item, acct), instance) for item in own]
        records = [envelope(instance, "/api/v1/timelines/public", r, fetched) for r in landed if r is not None]
        assert records
        write_batch(env.lake, "statuses", instance, records, fetched_at=fetched)
    monkeypatch.undo()
    keys = {env.policy.spelled_key(f"{USER}@{UNICODE}"), env.key(f"{USER}@{PUNYCODE}")}
    assert len(keys) == 2 and all(files_holding([env.lake_dir], [k]) for k in keys)
    return env, keys


def _authors(env) -> set[str]:
    return {r["data"]["account"]["acct"] for path in raw_batch_files(env.lake, "statuses")
            for r in read_batch(env.lake, path)}


@pytest.mark.parametrize("account", [f"{USER}@{UNICODE}", f"@{USER.upper()}@Bawü.Social", f"https://{UNICODE}/@{USER}",
                                     f"{USER}@{PUNYCODE}"])
def test_every_spelling_erases_both_keys(idn_lake, account: str) -> None:
    env, keys = idn_lake
    held = sum(1 for _ in _records(env))
    report = erase_account(env.settings, account)
    assert report.raw["records_removed"] == held
    assert files_holding([env.lake_dir / "raw"], keys) == {}
    assert _authors(env) == set()
    assert keys <= load_suppressed(env.lake)


def test_the_export_lists_the_records_under_both_keys(idn_lake) -> None:
    env, keys = idn_lake
    exported = export_account(env.settings, f"{USER}@{UNICODE}")
    held = {exported["account_key"], *(also["account_key"] for also in exported["also"])}
    assert held == keys
    counts = [len(exported["raw"]["records"]), *(len(also["raw"]["records"]) for also in exported["also"])]
    assert all(counts) and sum(counts) == sum(1 for _ in _records(env))


def _records(env):
    for path in raw_batch_files(env.lake, "statuses"):
        yield from read_batch(env.lake, path)


def test_the_cli_takes_the_unicode_spelling(idn_lake, run_cli) -> None:
    env, keys = idn_lake
    result = run_cli("gdpr", "erase", "--account", f"{USER}@{UNICODE}", "--yes", "--json")
    assert result.code == 0, result.err
    assert files_holding([env.lake_dir / "raw"], keys) == {}
    bad = run_cli("gdpr", "erase", "--account", f"{USER}@ü..social", "--yes")
    assert bad.code == 2 and "Traceback" not in bad.err and "is not a domain name" in bad.err
