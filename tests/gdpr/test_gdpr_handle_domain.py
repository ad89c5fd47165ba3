"""`fediscope gdpr erase --account user@example.test` finds an account of a server served from social.example.test
(``LOCAL_DOMAIN`` ≠ ``WEB_DOMAIN``) both in what its home instance answered and in what another instance did.

Both instances are the recorded Mastodon double over real HTTP: the home one reached as social.example.test
(resolved to 127.0.0.1 for the test) with its recorded instance document declaring example.test, the other one on
127.0.0.1 serving the same corpus as another instance sees it (``acct: "user@example.test"``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from doubles.hostnames import resolve_to_loopback
from doubles.mastodon_server import MastodonDouble

from fediscope.gdpr.erase import erase_account
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

WEB_HOST = "social.example.test"
HANDLE_DOMAIN = "example.test"
SUBJECT = "mastodonpy_test_2"


def test_erase_by_the_handle_finds_the_records_of_the_home_and_of_a_remote_instance(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_to_loopback(monkeypatch, WEB_HOST)
    public = parse_source("public")
    with (MastodonDouble(statuses=30, hostname=WEB_HOST, handle_domain=HANDLE_DOMAIN) as home,
          MastodonDouble(statuses=30, accounts_domain=HANDLE_DOMAIN) as remote):
        summary = run_collection(env.settings, [(home.url, public), (remote.url, public)])
        domains = (home.domain, remote.domain)
    assert [r.status for r in summary.sources] == ["ok", "ok"]
    key = env.key(f"{SUBJECT}@{HANDLE_DOMAIN}")

    def authored() -> dict[str, int]:
        """The subject's statuses in the raw lake, by the instance they were fetched from."""
        counts = dict.fromkeys(domains, 0)
        for path in env.lake_dir.glob("raw/mastodon/statuses/*/*/*.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                counts[record["meta"]["instance"]] += record["data"]["account"]["acct"] == key
        return counts

    before = authored()
    assert all(before.values()), before  # the subject's statuses landed from both, under one key
    report = erase_account(env.settings, f"{SUBJECT}@{HANDLE_DOMAIN}")
    assert report.raw
    assert authored() == dict.fromkeys(domains, 0)
    leftover = [p for p in env.lake_dir.rglob("raw/**/*.jsonl") if key in p.read_text()]
    assert leftover == []
