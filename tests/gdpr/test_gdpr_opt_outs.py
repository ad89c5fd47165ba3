"""Opt-outs honoured backwards (fediscope.gdpr.opt_outs): an account that opts out after records of it were landed
loses them at the next `fediscope process` — raw lake, curated tables and store — without going on the
suppression list, so it is landed again once it opts back in.

The real collector against the recorded Mastodon double, the real processing (DuckDB, every metric, SQLite).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from gdpr_lake import KEY, SUBJECT, files_holding, store_files

from fediscope.config import Settings
from fediscope.engine.process import run_process
from fediscope.gdpr.erase import AUDIT_PATH, entity_and_instance, is_owned
from fediscope.gdpr.opt_outs import OPT_OUTS_ROOT, apply_opt_outs, note_opt_outs, pending_opt_outs
from fediscope.gdpr.suppression import SUPPRESSED_PATH, load_suppressed
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.lake.batches import decode_jsonl, raw_batch_files
from fediscope.privacy import clear_key_digest, policy_from_settings
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

SOURCES = ("public", "local", "directory", "instance")
NOBOT = "<p>Please leave me out #nobot</p>"


def collect(settings: Settings, instance: str) -> None:
    summary = run_collection(settings, [(instance, parse_source(s)) for s in SOURCES], progress=False)
    assert all(r.status != "failed" for r in summary.sources), summary


def own_raw_records(lake: LakeBackend, key: str) -> int:
    """Records of the lake's raw batches that are the account's own (its statuses, boosts, snapshots)."""
    from fediscope.gdpr.erase import read_batch_text

    owned = 0
    for path in raw_batch_files(lake):
        for record in decode_jsonl(read_batch_text(lake, path)):
            entity, instance = entity_and_instance(path, record)
            owned += is_owned(entity, record.get("data"), instance, key)
    return owned


def curated_keys(lake_dir: Path, table: str) -> set[str]:
    files = sorted((lake_dir / "curated" / table).rglob("*.parquet"))
    return {k for f in files for k in pq.read_table(f, columns=["account_key"]).column(0).to_pylist()}


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy-on", "privacy-off"])
def test_an_account_that_opts_out_loses_what_was_landed_and_comes_back_when_it_opts_in(
        mastodon_server, tmp_path: Path, privacy: bool) -> None:
    """With privacy off too (was: records landed as collected, opted out or not): the key is then the clear
    ``user@domain`` in the note, as in the lake, and its digest in the audit line."""
    lake_dir, db = tmp_path / "lake", tmp_path / "store.db"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{db}", pseudonym_key=KEY if privacy else None,
                        privacy=privacy, backfill_pages=5)
    collect(settings, mastodon_server.url)
    run_process(settings, progress=False)
    lake = open_lake(settings.lake)
    author = Counter(s["account"]["acct"] for s in mastodon_server.public_statuses()).most_common(1)[0][0]
    key = policy_from_settings(settings).account_key(author, mastodon_server.domain)
    assert own_raw_records(lake, key) > 0 and key in curated_keys(lake_dir, "accounts")
    assert files_holding(store_files(db), [key])

    assert mastodon_server.set_account_note(author, NOBOT) > 0
    mastodon_server.add_statuses(30)  # the account posts again, now opted out
    collect(settings, mastodon_server.url)
    keys, notes = pending_opt_outs(lake)
    assert key in keys and notes  # noted by the collector, nothing erased yet
    assert own_raw_records(lake, key) > 0

    summary = run_process(settings, progress=False)

    assert summary.curate["opted_out_erased"] == 1
    assert "(1 opted-out account erased)" in summary.line()
    assert own_raw_records(lake, key) == 0
    assert key not in curated_keys(lake_dir, "accounts") | curated_keys(lake_dir, "statuses")
    for path, _found in files_holding(store_files(db), [key]).items():  # mentions by others may stay
        raise AssertionError(f"the store still holds the opted-out account: {path}")
    assert pending_opt_outs(lake) == (set(), [])  # the notes are applied and gone
    assert key not in load_suppressed(lake)  # an opt-out is not an erasure request
    assert not (lake_dir / SUPPRESSED_PATH).exists() or key not in (lake_dir / SUPPRESSED_PATH).read_text()
    audit = [json.loads(line) for line in (lake_dir / AUDIT_PATH).read_text().splitlines()]
    assert [(a["action"], a["account_keys"]) for a in audit] == [("opt_out", [key if privacy else
                                                                              clear_key_digest(key)])]
    assert privacy or ("@" in key and key not in (lake_dir / AUDIT_PATH).read_text())
    assert audit[0]["raw"]["records_removed"] > 0

    again = run_process(settings, progress=False)  # nothing noted since: nothing more to do
    assert again.curate["opted_out_erased"] == 0 and len((lake_dir / AUDIT_PATH).read_text().splitlines()) == 1

    mastodon_server.set_account_note(author, "<p>back again</p>")
    mastodon_server.add_statuses(30)
    collect(settings, mastodon_server.url)
    run_process(settings, progress=False)
    assert own_raw_records(lake, key) > 0 and key in curated_keys(lake_dir, "accounts")


@pytest.fixture()
def curated(landed):
    """The recordings landed and processed (DuckDB, SQLite)."""
    run_process(landed.settings, progress=False)
    return landed


def test_a_noted_account_with_nothing_of_its_own_costs_no_erasure(curated) -> None:
    lake = curated.lake
    before = {p: lake.read(p) for p in raw_batch_files(lake)}
    note_opt_outs(lake, [curated.key("nobody-here@localhost:3000")], "collect")
    report = apply_opt_outs(lake)
    assert (report.noted, report.erased) == (1, [])
    assert {p: lake.read(p) for p in raw_batch_files(lake)} == before
    assert not lake.exists(AUDIT_PATH) and pending_opt_outs(lake) == (set(), [])


@pytest.mark.parametrize("privacy", [True, False], ids=["privacy-on", "privacy-off"])
def test_records_landed_but_not_curated_yet_never_reach_the_curated_tables(env, privacy: bool) -> None:
    """The account's records are in raw files no curation read yet: erased before the curation reads them.

    Privacy off: the note holds the clear key ``user@localhost:3000``, which a local account's raw records do not
    hold as such (their ``acct`` has no domain). Was: the raw files not curated yet were looked in for the key's
    bytes only, so the account was not found there, its note was deleted, and its records were curated."""
    import dataclasses

    from gdpr_lake import land_recordings

    if not privacy:
        env = dataclasses.replace(env, settings=env.settings.replace(privacy=False, pseudonym_key=None))
    land_recordings(env.lake, policy_from_settings(env.settings))
    key = policy_from_settings(env.settings).account_key(SUBJECT)
    assert own_raw_records(env.lake, key) > 0
    note_opt_outs(env.lake, [key], "stream")
    summary = run_process(env.settings, progress=False)
    assert summary.curate["opted_out_erased"] == 1
    assert own_raw_records(env.lake, key) == 0
    assert key not in curated_keys(env.lake_dir, "accounts") | curated_keys(env.lake_dir, "statuses")


def test_an_unreadable_note_is_reported_and_removed(curated, caplog: pytest.LogCaptureFixture) -> None:
    curated.lake.write_atomic(f"{OPT_OUTS_ROOT}/broken.json", b"{not json")
    with caplog.at_level("WARNING", logger="fediscope.gdpr.opt_outs"):
        report = apply_opt_outs(curated.lake)
    assert report.noted == 0
    assert any("broken.json is unreadable" in r.getMessage() for r in caplog.records)
    assert pending_opt_outs(curated.lake) == (set(), [])



def test_a_local_account_also_loses_what_was_keyed_by_its_served_domain(env) -> None:
    """Was: only the key by the handle domain was noted, so the records of the same account keyed by the served
    domain (landed before the handle-domain rule, or by a run that could not learn it) stayed, where an erasure
    removes them too."""
    import copy
    from datetime import UTC, datetime

    from gdpr_lake import STATUS_FILES, recorded

    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope

    served, handle = "social.example.com", "example.com"
    status = next(s for _, s in recorded(STATUS_FILES, "statuses") if "@" not in s["account"]["acct"])
    acct = status["account"]["acct"]
    before = env.policy  # the handle domain not known: keyed acct@social.example.com
    landed = before.apply("statuses", copy.deepcopy(status), served)
    write_batch(env.lake, "statuses", served, [envelope(served, "/api/v1/timelines/public", landed,
                                                        datetime.now(UTC))], fetched_at=datetime.now(UTC))
    served_key = before.account_key(acct, served)
    assert own_raw_records(env.lake, served_key) == 1

    after = env.policy
    assert after.use_handle_domain(served, handle) == handle
    opted_out = copy.deepcopy(status)
    opted_out["account"]["note"] = NOBOT
    assert after.apply("statuses", opted_out, served) is None
    assert after.account_key(acct, served) in after.opted_out
    note_opt_outs(env.lake, after.opted_out, "collect")

    report = apply_opt_outs(env.lake)
    assert report.erased == [served_key] and own_raw_records(env.lake, served_key) == 0
