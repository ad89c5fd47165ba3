"""The access export lists the state files of the account's own sources and its kept metric rows.

``gdpr erase`` deletes the checkpoint of an ``account:`` (or ``account_lookup:``) source naming the account (the
newest status id collected), the ``start/`` record of that source (the day of its oldest status, how its first walk
ended), the count of records a failed try of it landed (``unannounced/``), its walk lock, and the metric results
kept for incremental runs (``<lake>/_state/metrics/<store>/``), which hold copies of the account's store rows. Was:
``gdpr export`` listed none of them, so the answer to the right of access left out data the lake held about the
account.

The real collector walks the sources against the recorded Mastodon double, the real processing computes every
metric into the SQLite store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gdpr_lake import KEY

from fediscope import orchestration as orch
from fediscope.config import Settings
from fediscope.errors import UpstreamError
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account, holds_nothing
from fediscope.gdpr.subject import subject_from_settings
from fediscope.lake.backend import open_lake
from fediscope.lake.layout import state_path
from fediscope.lake.state import (
    WALK_START,
    Checkpoint,
    checkpoint_source,
    load_checkpoint,
    load_walk_start,
    read_state,
    save_checkpoint,
)
from fediscope.privacy import policy_from_settings
from fediscope.sources.spec import parse_source

collector = pytest.importorskip("fediscope.sources.collector")
process = pytest.importorskip("fediscope.engine.process")

USER = "mastodonpy_test_2"  # a recorded account with public statuses


@pytest.mark.parametrize("privacy", [True, False])
def test_the_export_lists_the_accounts_checkpoint_walk_start_lock_and_kept_metric_rows(
        mastodon_server, tmp_path: Path, privacy: bool) -> None:
    lake_dir = tmp_path / "lake"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY,
                        backfill_pages=2, privacy=privacy)
    domain, source = mastodon_server.domain, f"account:{USER}"
    summary = collector.run_collection(settings, [(mastodon_server.url, parse_source(s))
                                                  for s in (source, "local")], progress=False)
    assert summary.ok and summary.sources[0].landed > 0, summary
    process.run_process(settings, progress=False)
    # the account posts again, and a collection of its source lands a page, then fails: the count of what it
    # landed waits in the source's `unannounced` file for the next try's event (fediscope.orchestration)
    mastodon_server.add_statuses(30, author=USER)
    mastodon_server.fail(times=5, path="/api/v1/accounts/", after=2)  # the lookup and the first page pass
    with pytest.raises(UpstreamError):
        orch.collect_target(settings.replace(page_limit=5, max_retries=0),
                            {"instance": mastodon_server.url, "source": source}, 3)
    account = f"{USER}@{domain}"
    key = subject_from_settings(settings, account).key
    policy = policy_from_settings(settings) if privacy else None
    lake = open_lake(settings.lake)
    checkpoint = load_checkpoint(lake, domain, source, policy)
    start = load_walk_start(lake, domain, source, policy)
    assert checkpoint.newest_id and start is not None and start.extra["oldest_day"]  # really held
    name = checkpoint_source(source, policy)
    unannounced = read_state(lake, state_path(domain, name, orch.UNANNOUNCED_PASS))
    assert unannounced.extra["records"] == 5

    exported = export_account(settings, account)

    state = {entry["path"]: entry for entry in exported["state"]}
    held = state[state_path(domain, name)]
    assert held["kind"] == "checkpoint" and held["newest_id"] == checkpoint.newest_id
    walk_start = state[state_path(domain, name, WALK_START)]
    assert walk_start["kind"] == "start" and walk_start["extra"] == start.extra
    locks = [entry for entry in exported["state"] if entry["kind"] == "walk_lock"]
    assert len(locks) == 1 and (lake_dir / locks[0]["path"]).is_file()
    pending = state[state_path(domain, name, orch.UNANNOUNCED_PASS)]
    assert pending["kind"] == "unannounced" and pending["extra"] == {"records": 5}
    # the local timeline's checkpoint, start and lock are not the account's
    assert set(state) == {held["path"], walk_start["path"], pending["path"], locks[0]["path"]}
    assert not any("local" in path for path in state)

    snapshots = exported["metric_snapshots"]
    assert snapshots and all(entry["path"].startswith("_state/metrics/") and (lake_dir / entry["path"]).is_file()
                             for entry in snapshots)
    kept = {entry["metric"]: entry["rows"] for entry in snapshots}
    own = exported["store"]
    assert set(kept) == set(own)  # the copies of the rows the store holds, metric by metric
    for metric, rows in kept.items():
        assert len(rows) == len(own[metric]), metric
    assert any(row.get("account_key") == key for rows in kept.values() for row in rows)

    erase_account(settings, account)
    after = export_account(settings, account)
    assert after["state"] == [] and after["metric_snapshots"] == [] and after["store"] == {}
    assert not list((lake_dir / "_state" / "metrics").rglob("*.parquet"))
    assert not any((lake_dir / path).exists() for path in state)
    assert holds_nothing({**after, "suppressed": False})  # only the suppression list keeps the account


def test_the_export_lists_another_sources_checkpoint_at_the_accounts_status_until_the_erasure_moves_it(
        mastodon_server, tmp_path: Path) -> None:
    """The ``local`` timeline's checkpoint is at the account's newest status: its id, with the instance, names the
    account, and ``gdpr erase`` moves it (:func:`~fediscope.gdpr.cursors.move_checkpoints`). Was: the export listed
    only the files of the account's own sources, so the right of access left that id out."""
    settings = Settings(lake=str(tmp_path / "lake"), store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY,
                        backfill_pages=50)
    domain = mastodon_server.domain
    summary = collector.run_collection(settings, [(mastodon_server.url, parse_source("local"))], progress=False)
    assert summary.ok and summary.sources[0].landed > 0, summary
    newest = next(s for s in mastodon_server.public_statuses() if "@" not in s["account"]["acct"])
    acct = newest["account"]["acct"]
    lake = open_lake(settings.lake)
    assert load_checkpoint(lake, domain, "local").newest_id == newest["id"]  # really held
    theirs = {s["id"] for s in mastodon_server.public_statuses() if acct in
              (s["account"]["acct"], ((s.get("reblog") or {}).get("account") or {}).get("acct"))}
    account = f"{acct}@{domain}"
    # another person's source at the same status (as when that person boosted it): named by its kind alone
    other = next(s["account"]["acct"] for s in mastodon_server.public_statuses() if s["account"]["acct"] != acct)
    save_checkpoint(lake, domain, f"account:{other}", Checkpoint(newest["id"]))

    exported = export_account(settings, account)

    others = [entry for entry in exported["state"] if entry["kind"].endswith("_of_another_source")]
    listed = {entry.get("path"): entry for entry in others}
    assert listed[state_path(domain, "local")] == {"path": state_path(domain, "local"), "source": "local",
                                                   "kind": "checkpoint_of_another_source",
                                                   "holds": {"newest_id": newest["id"]}}
    assert all(set(entry["holds"].values()) <= theirs for entry in others)  # no id of anybody else's status
    assert {"source": "account", "kind": "checkpoint_of_another_source", "holds": {"newest_id": newest["id"]}} in others
    assert other not in json.dumps(exported["state"])
    assert not holds_nothing(exported)

    erase_account(settings, account)

    moved = load_checkpoint(lake, domain, "local").newest_id
    assert moved is not None and moved not in theirs
    after = export_account(settings, account)
    assert [entry for entry in after["state"] if entry["kind"].endswith("_of_another_source")] == []
