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
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, split_domain_double, without_instance_document

from fediscope.gdpr.erase import AUDIT_PATH, erase_account
from fediscope.gdpr.export import export_account
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

SUBJECT = "mastodonpy_test_2"


def test_erase_by_the_handle_finds_the_records_of_the_home_and_of_a_remote_instance(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    public = parse_source("public")
    with (split_domain_double(monkeypatch) as home,
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


def keyed_statuses(env: Any, keys: set[str]) -> int:
    """The subject's statuses in the raw lake under any of ``keys``."""
    return sum(json.loads(line)["data"]["account"]["acct"] in keys
               for path in env.lake_dir.glob("raw/mastodon/statuses/*/*/*.jsonl")
               for line in path.read_text().splitlines())


@pytest.mark.parametrize("asked", ["handle", "served"])
def test_erase_also_removes_what_a_run_without_the_document_keyed_by_the_served_domain(
        env: Any, monkeypatch: pytest.MonkeyPatch, asked: str) -> None:
    """A first run could not read the instance document (records keyed by the served domain), a later one learned
    the handle domain (remembered in the lake): one erasure — by the handle, or by the served-domain handle —
    removes both, suppresses both keys and says so in one report and one audit line."""
    public = parse_source("public")
    collecting = env.settings.replace(retry_backoff=0.01, max_retries=1)
    with split_domain_double(monkeypatch) as home:
        with without_instance_document(home):
            run_collection(collecting, [(home.url, public)])
        home.add_statuses(30)
        run_collection(collecting, [(home.url, public)])
        served = home.domain
    handle_key, served_key = env.key(f"{SUBJECT}@{HANDLE_DOMAIN}"), env.key(f"{SUBJECT}@{served}")
    assert keyed_statuses(env, {handle_key}) and keyed_statuses(env, {served_key})  # two keys for one person

    account = f"{SUBJECT}@{HANDLE_DOMAIN}" if asked == "handle" else f"{SUBJECT}@{served}"
    first, other = (handle_key, served_key) if asked == "handle" else (served_key, handle_key)
    exported = export_account(env.settings, account)  # the right of access covers both keys too
    assert exported["account_key"] == first and [a["account_key"] for a in exported["also"]] == [other]
    assert exported["raw"]["records"] and exported["also"][0]["raw"]["records"]
    report = erase_account(env.settings, account)
    assert keyed_statuses(env, {handle_key, served_key}) == 0
    assert [p for p in env.lake_dir.rglob("raw/**/*.jsonl")
            if handle_key in p.read_text() or served_key in p.read_text()] == []
    assert report.account_key == first and report.also_keys == [other]
    assert other in report.summary()
    suppressed = json.loads((env.lake_dir / "_state" / "suppressed.json").read_text())["accounts"]
    assert {handle_key, served_key} <= set(suppressed)
    audit = [json.loads(line) for line in (env.lake_dir / AUDIT_PATH).read_text().splitlines()]
    assert [(a["account_key"], a["also_keys"]) for a in audit] == [(first, [other])]


def test_erase_of_an_account_of_an_instance_without_a_handle_domain_erases_one_key(env: Any) -> None:
    with MastodonDouble(statuses=30) as double:
        run_collection(env.settings, [(double.url, parse_source("public"))])
        domain = double.domain
    report = erase_account(env.settings, f"{SUBJECT}@{domain}")
    assert report.raw and report.also_keys == []
    audit = [json.loads(line) for line in (env.lake_dir / AUDIT_PATH).read_text().splitlines()]
    assert "also_keys" not in audit[0]
