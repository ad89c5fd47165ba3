"""Erasure end to end: the real collector against the recorded Mastodon double, the real processing (curation,
every metric of spark_jobs/sql, the SQLite store), erasure, then every byte of the lake and the store is
scanned; a new collection and processing run must not bring the account back."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from gdpr_lake import KEY, files_holding, store_files

from fediscope.config import Settings
from fediscope.gdpr.erase import AUDIT_PATH, erase_account, find_traces
from fediscope.gdpr.export import export_account
from fediscope.gdpr.subject import subject_from_settings
from fediscope.gdpr.suppression import SUPPRESSED_PATH
from fediscope.lake.backend import open_lake
from fediscope.lake.state import checkpoint_source, source_for_logs
from fediscope.privacy import policy_from_settings
from fediscope.sources.spec import parse_source

collector = pytest.importorskip("fediscope.sources.collector")
process = pytest.importorskip("fediscope.engine.process")

SOURCES = ("public", "local", "directory", "instance")


def collect_and_process(settings: Settings, instance: str) -> None:
    summary = collector.run_collection(settings, [(instance, parse_source(s)) for s in SOURCES], progress=False)
    assert all(r.status != "failed" for r in summary.sources), summary
    process.run_process(settings, progress=False)


def test_erased_account_leaves_no_trace_and_does_not_come_back(mastodon_server, tmp_path: Path) -> None:
    lake_dir, db = tmp_path / "lake", tmp_path / "store.db"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{db}", pseudonym_key=KEY, backfill_pages=5)
    collect_and_process(settings, mastodon_server.url)

    authors = Counter(s["account"]["acct"] for s in mastodon_server.public_statuses())
    username = authors.most_common(1)[0][0]
    account = f"{username}@{mastodon_server.domain}"
    key = subject_from_settings(settings, account).key
    traces = find_traces(open_lake(settings.lake), subject_from_settings(settings, account))
    everywhere = [lake_dir, *store_files(db)]
    before = files_holding(everywhere, [key])
    assert any("/raw/" in p for p in before) and any("/curated/" in p for p in before)
    assert any(p.startswith(str(db)) for p in before)
    exported = export_account(settings, account)
    assert exported["raw"]["records"] and exported["store"]  # the account is really held before

    report = erase_account(settings, account)

    allowed = {str(lake_dir / AUDIT_PATH), str(lake_dir / SUPPRESSED_PATH)}
    assert set(files_holding(everywhere, traces.values())) == allowed
    assert report.raw["records_removed"] == len(exported["raw"]["records"])
    assert set(report.store) <= set(exported["store"])
    clear = {username, *(str(a[k]) for a in mastodon_server.accounts() if a["acct"] == username
                         for k in ("url", "uri") if a.get(k))}
    assert not files_holding(everywhere, clear)  # the clear identifiers were never landed at all

    mastodon_server.add_statuses(60)  # the account posts again, others mention and boost it
    collect_and_process(settings, mastodon_server.url)
    assert set(files_holding(everywhere, traces.values())) == allowed
    audit = [json.loads(line) for line in (lake_dir / AUDIT_PATH).read_text().splitlines()]
    assert [a["account_key"] for a in audit] == [key]


@pytest.mark.parametrize("privacy", [True, False])
def test_a_source_naming_an_erased_account_is_not_collected_and_writes_no_checkpoint(
        mastodon_server, tmp_path: Path, caplog: pytest.LogCaptureFixture, privacy: bool) -> None:
    """Was: `account:NAME` of an erased account fetched its statuses (all skipped) and wrote its checkpoint again,
    the erased account's newest status id, which the erasure had removed as a trace. Its warning named the handle,
    and logs end up in Airflow's: it names the source by a digest (keyed, its checkpoint name, with privacy on)."""
    lake_dir = tmp_path / "lake"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY,
                        backfill_pages=2, privacy=privacy)
    username = Counter(s["account"]["acct"] for s in mastodon_server.public_statuses()).most_common(1)[0][0]
    sources = [(mastodon_server.url, parse_source(f"account:{username}")), (mastodon_server.url, parse_source("local"))]
    first = collector.run_collection(settings, sources, progress=False)
    assert first.ok and first.sources[0].landed > 0
    account = f"{username}@{mastodon_server.domain}"
    erase_account(settings, account)
    traces = find_traces(open_lake(settings.lake), subject_from_settings(settings, account))
    # (with privacy off these two hold digests of the key, not the key)
    allowed = {str(lake_dir / AUDIT_PATH), str(lake_dir / SUPPRESSED_PATH)} if privacy else set()
    assert set(files_holding([lake_dir], traces.values())) == allowed
    asked = len(mastodon_server.requests_to("/api/v1/accounts"))

    with caplog.at_level("WARNING", logger="fediscope.sources.collector"):
        again = collector.run_collection(settings, sources, progress=False)

    assert again.ok and (again.sources[0].pages, again.sources[0].fetched) == (0, 0)
    assert len(mastodon_server.requests_to("/api/v1/accounts")) == asked  # nothing of it asked for
    assert again.sources[1].pages > 0  # the other source is collected
    assert "names an erased account" in caplog.text
    assert username not in again.line() and "page budget" not in again.line()  # not a walk cut short
    if privacy:  # by its keyed digest, its checkpoint's name, never the handle
        named = source_for_logs(f"account:{username}", policy_from_settings(settings))
        assert named in caplog.text and username not in caplog.text
        assert named == checkpoint_source(f"account:{username}", policy_from_settings(settings))
    else:  # as the run's other lines name it with privacy off: as written (the configuration's own words)
        assert f"account:{username} names an erased account" in caplog.text
    assert set(files_holding([lake_dir], traces.values())) == allowed
