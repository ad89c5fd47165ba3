"""Erasure of one account from a lake landed from real recordings, curated by the real DuckDB curation, and from
the SQLite store: afterwards no byte of any file holds a trace of the account, except the suppression list and
the audit log (which hold the pseudonym by design), and landing the same data again does not bring it back."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from gdpr_lake import OTHERS, SUBJECT, files_holding, land_recordings, store_files

from fediscope.engine.metrics import Metric
from fediscope.errors import ConfigError
from fediscope.gdpr.erase import AUDIT_PATH, erase_account, find_traces
from fediscope.gdpr.subject import ERASED, subject_from_settings
from fediscope.gdpr.suppression import SUPPRESSED_PATH, load_suppressed
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.privacy import clear_key_digest, policy_from_settings
from fediscope.store.port import open_store

POSTS = Metric(name="gdpr_test_posts_per_account", question="How many statuses did each account post?",
               key=("account_key",), sql="-- test metric, rows written by the test")
MENTIONED = Metric(name="gdpr_test_mentioned", question="Who is mentioned by whom?",
                   key=("status_uri", "mentioned"), sql="-- test metric, rows written by the test")


def raw_records(env) -> list[dict]:
    return [r for path in raw_batch_files(env.lake) for r in read_batch(env.lake, path)]


def raw_statuses(env) -> list[dict]:
    return [r["data"] for path in raw_batch_files(env.lake, "statuses") for r in read_batch(env.lake, path)]


def curate(env) -> None:
    from fediscope.engine.base import open_engine
    from fediscope.engine.curation import run_curation

    engine = open_engine(env.settings)
    try:
        assert not run_curation(engine).noop
    finally:
        getattr(engine, "close", lambda: None)()


def curated_rows(env) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for path in sorted((env.lake_dir / "curated").rglob("*.parquet")):
        out.setdefault(path.relative_to(env.lake_dir / "curated").parts[0], []).extend(
            pq.read_table(path).to_pylist())
    return out


def fill_store(env) -> None:
    """Metric rows derived from the landed statuses (the store helper's adapters, a real SQLite file)."""
    posts: Counter[str] = Counter()
    mentioned = []
    for data in raw_statuses(env):
        posts[data["account"]["acct"]] += 1
        mentioned += [{"status_uri": data["uri"], "mentioned": m["acct"], "n": 1} for m in data["mentions"]]
    store = open_store(env.settings.store)
    try:
        store.write(POSTS, [{"account_key": k, "posts": n} for k, n in posts.items()])
        store.write(MENTIONED, mentioned)
    finally:
        store.close()


def everywhere(env) -> list[Path]:
    return [env.lake_dir, *store_files(env.db)]


@pytest.fixture()
def processed(landed):
    curate(landed)
    fill_store(landed)
    return landed


def test_erasure_leaves_no_trace_in_any_file(processed) -> None:
    env = processed
    key = env.key(SUBJECT)
    traces = find_traces(env.lake, subject_from_settings(env.settings, SUBJECT))
    assert traces.ids and traces.status_links  # the recordings reference the subject in several ways
    before = files_holding(everywhere(env), traces.values())
    assert any("/raw/" in p for p in before) and any("/curated/" in p for p in before)
    assert any(p.startswith(str(env.db)) for p in before)  # the scan can see the store too
    others_before = Counter(s["account"]["acct"] for s in raw_statuses(env))

    report = erase_account(env.settings, SUBJECT)

    after = files_holding(everywhere(env), traces.values())
    assert {p: set(found) for p, found in after.items()} == {  # where the pseudonyms must stay, by design
        str(env.lake_dir / AUDIT_PATH): {key}, str(env.lake_dir / SUPPRESSED_PATH): {key, *traces.ids}}
    for table, rows in curated_rows(env).items():  # Parquet pages are compressed: check the values too
        assert not [r for r in rows if traces.key in json.dumps(r, default=str)], table
    assert report.raw["records_removed"] > 0 and report.raw["records_scrubbed"] > 0
    assert report.curated["rows_removed"] > 0
    assert report.store[POSTS.name] == 1 and report.store[MENTIONED.name] >= 1
    others_after = Counter(s["account"]["acct"] for s in raw_statuses(env))
    assert key not in others_after
    for other in OTHERS:  # nobody else lost a status, except boosts of the subject's statuses
        other_key = env.key(other)
        assert others_after[other_key] >= 1 and others_after[other_key] <= others_before[other_key]
    assert sum(others_before.values()) - sum(others_after.values()) <= report.raw["records_removed"]


def test_others_records_keep_their_content_without_the_reference(processed) -> None:
    env = processed
    key = env.key(SUBJECT)
    replies_before = [s for s in raw_statuses(env)
                      if any(m["acct"] == key for m in s["mentions"]) and s["account"]["acct"] != key]
    assert replies_before
    erase_account(env.settings, SUBJECT)
    versions = {(s["uri"], "content" in s): s for s in raw_statuses(env)}  # a deleted status: "text" only
    for before in replies_before:
        after = versions[(before["uri"], "content" in before)]
        assert after["mentions"] == [m for m in before["mentions"] if m["acct"] != key]
        assert after["id"] == before["id"] and after["created_at"] == before["created_at"]
        text = "content" if "content" in before else "text"
        assert key in before[text] and ERASED in after[text] and key not in after[text]
        if before["in_reply_to_account_id"]:  # a reply to the subject: still a reply, to a status nobody can name
            assert after["in_reply_to_account_id"] is None and after["in_reply_to_id"] == ERASED, after
    statuses = curated_rows(env)["statuses"]
    assert statuses and all(key not in (row["mentions"] or []) for row in statuses)
    assert all(row["account_key"] != key for row in statuses)


def test_audit_line_and_suppression_list(processed) -> None:
    env = processed
    key = env.key(SUBJECT)
    first = erase_account(env.settings, SUBJECT)
    again = erase_account(env.settings, "@MastodonPy_Test_2@LocalHost:3000")  # same account
    assert first.newly_suppressed and not again.newly_suppressed
    assert not any(again.raw.values()) and not any(again.curated.values()) and again.store == {}
    ids = find_traces(env.lake, subject_from_settings(env.settings, SUBJECT)).ids
    assert not ids  # nothing in the lake refers to the account any more…
    assert key in load_suppressed(env.lake) and all(p.startswith("i") for p in load_suppressed(env.lake) - {key})
    audit = (env.lake_dir / AUDIT_PATH).read_text()
    lines = [json.loads(line) for line in audit.splitlines()]
    assert [line["account_key"] for line in lines] == [key, key]
    assert lines[0]["raw"] == first.raw and lines[0]["store"] == first.store and lines[0]["time"]
    assert "mastodonpy_test_2" not in audit.lower()


def test_a_new_landing_does_not_bring_the_account_back(processed) -> None:
    env = processed
    key = env.key(SUBJECT)
    erase_account(env.settings, SUBJECT)
    policy = policy_from_settings(env.settings, suppressed=load_suppressed(env.lake))
    land_recordings(env.lake, policy)  # the collector's way: the policy built with the suppression list
    assert policy.counts["skipped_suppressed"] > 0 and policy.counts["skipped_reblog_of_opted_out"] > 0
    curate(env)
    assert set(files_holding(everywhere(env), [key])) == {str(env.lake_dir / AUDIT_PATH),
                                                          str(env.lake_dir / SUPPRESSED_PATH)}


def test_a_pseudonym_the_landing_glued_to_a_dot_or_hyphen_in_text_is_erased_too(landed) -> None:
    """The landing replaces a mentioned handle in text up to any non-word character (``mastodonpy_test_2-style`` →
    ``<key>-style``). Was: the whole-word erasure looked for a pseudonym between characters other than word
    characters, dots and hyphens, so those stayed in other people's statuses."""
    import copy

    from gdpr_lake import recorded

    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope

    env = landed
    instance, reply = next((h, s) for h, s in recorded(["test_status_reply.json"], "statuses")
                           if [m["acct"] for m in s["mentions"]] == ["mastodonpy_test_2"])
    reply = copy.deepcopy(reply)
    reply["content"] = reply["content"].replace("</p>", " mastodonpy_test_2-style, x.mastodonpy_test_2</p>")
    reply["uri"] += "-glued"
    landed_reply = env.policy.apply("statuses", reply, instance)
    key = env.key(SUBJECT)
    assert f"{key}-style" in landed_reply["content"] and f"x.{key}" in landed_reply["content"]
    write_batch(env.lake, "statuses", instance, [envelope(instance, "/api/v1/timelines/public", landed_reply,
                                                           datetime.now(UTC))])

    erase_account(env.settings, SUBJECT)

    assert set(files_holding([env.lake_dir], [key])) == {str(env.lake_dir / AUDIT_PATH),
                                                          str(env.lake_dir / SUPPRESSED_PATH)}
    (kept,) = [s for s in raw_statuses(env) if s["uri"] == landed_reply["uri"]]
    assert f"{ERASED}-style, x.{ERASED}" in kept["content"]


def test_without_the_suppression_list_the_account_would_come_back(processed) -> None:
    """The control for the test above: the same landing, without the list, lands the account again."""
    env = processed
    key = env.key(SUBJECT)
    erase_account(env.settings, SUBJECT)
    land_recordings(env.lake, policy_from_settings(env.settings))
    assert any("/raw/" in p for p in files_holding([env.lake_dir], [key]))


def test_erasing_an_unknown_account_changes_nothing_but_the_lists(landed) -> None:
    env = landed
    before = {p: p.read_bytes() for p in env.lake_dir.rglob("*") if p.is_file()}
    report = erase_account(env.settings, "nobody@localhost:3000")
    assert not any(report.raw.values()) and not any(report.curated.values())
    after = {p: p.read_bytes() for p in env.lake_dir.rglob("*") if p.is_file()}
    changed = {p.relative_to(env.lake_dir).as_posix() for p in after if before.get(p) != after[p]}
    assert changed == {AUDIT_PATH, SUPPRESSED_PATH}


@pytest.mark.parametrize("account", ["mastodonpy_test_2", "a@", "@b", "a b@c", "a@b@c"])
def test_account_must_be_acct_at_instance(env, account: str) -> None:
    with pytest.raises(ConfigError, match="ACCT@INSTANCE"):
        erase_account(env.settings, account)


def test_erasure_needs_the_pseudonym_key(env) -> None:
    with pytest.raises(ConfigError, match="FEDISCOPE_PSEUDONYM_KEY"):
        erase_account(env.settings.replace(pseudonym_key=None), SUBJECT)


def test_erasure_works_through_the_webhdfs_backend(webhdfs_server, tmp_path: Path) -> None:
    """The same erasure on an HDFS lake (WebHDFS REST double): rewrites go through CREATE + RENAME."""
    from gdpr_lake import KEY

    from fediscope.config import Settings
    from fediscope.lake.backend import open_lake

    settings = Settings(lake=webhdfs_server.lake_url("/data/lake", user="fediscope"),
                        store=f"sqlite:///{tmp_path / 'store.db'}", pseudonym_key=KEY)
    lake = open_lake(settings.lake)
    land_recordings(lake, policy_from_settings(settings))
    traces = find_traces(lake, subject_from_settings(settings, SUBJECT))
    assert files_holding([webhdfs_server.root], traces.values())

    report = erase_account(settings, SUBJECT, lake=lake)

    assert report.raw["records_removed"] > 0
    held = files_holding([webhdfs_server.root], traces.values())
    assert sorted(Path(p).name for p in held) == ["erasures.jsonl", "suppressed.json"]


def test_checkpoints_and_quarantine_naming_the_account_are_deleted(landed) -> None:
    from gdpr_lake import recorded

    from fediscope.lake.state import (
        Checkpoint,
        load_checkpoint,
        load_pass_mark,
        load_walk_start,
        save_checkpoint,
        save_pass_mark,
        save_walk_start,
    )
    from fediscope.sources.quarantine import body_entry, item_entry, write_quarantine

    env = landed
    save_checkpoint(env.lake, "localhost:3000", "account:mastodonpy_test_2", Checkpoint("117020583258292382"))
    save_checkpoint(env.lake, "localhost:3000", "account:admin", Checkpoint("117020583258292382"))
    # as the collector names them with the privacy policy on: after a keyed digest of the source
    save_checkpoint(env.lake, "localhost:3000", "account_lookup:MastodonPy_Test_2", Checkpoint("1"), env.policy)
    save_checkpoint(env.lake, "localhost:3000", "account:admin@localhost:3000", Checkpoint("2"), env.policy)
    # the settle pass's marks, named like the checkpoints (_state/<domain>/settle/…)
    save_pass_mark(env.lake, "localhost:3000", "account:mastodonpy_test_2", "settle", "3")
    save_pass_mark(env.lake, "localhost:3000", "account:mastodonpy_test_2", "settle", "4", env.policy)
    save_pass_mark(env.lake, "localhost:3000", "account:admin", "settle", "5", env.policy)
    # where its first walk began (_state/<domain>/start/…): names the account as the checkpoint does
    save_walk_start(env.lake, "localhost:3000", "account:mastodonpy_test_2", "cut", None, env.policy)
    (_, status), *_ = [(i, s) for i, s in recorded(["test_status_reply.json"], "statuses")
                       if s["account"]["acct"] == "mastodonpy_test_2"]
    status["account"]["followers_count"] = "many"  # malformed: quarantined by the collector, raw item kept
    bad = write_quarantine(env.lake, "localhost:3000", "/api/v1/timelines/public",
                           [item_entry("wrong_types", status, keep_raw=True)], batch_id="b1")
    other = write_quarantine(env.lake, "localhost:3000", "/api/v1/timelines/public",
                             [body_entry("not_json", b"<html>502</html>", 502, "text/html", keep_raw=True)],
                             batch_id="b2")

    report = erase_account(env.settings, SUBJECT)

    assert report.other == {"checkpoints_deleted": 5, "quarantined_files_deleted": 1}
    assert load_walk_start(env.lake, "localhost:3000", "account:mastodonpy_test_2", env.policy) is None
    assert load_pass_mark(env.lake, "localhost:3000", "account:mastodonpy_test_2", "settle") is None
    assert load_pass_mark(env.lake, "localhost:3000", "account:mastodonpy_test_2", "settle", env.policy) is None
    assert load_pass_mark(env.lake, "localhost:3000", "account:admin", "settle", env.policy) == "5"
    assert load_checkpoint(env.lake, "localhost:3000", "account:mastodonpy_test_2").newest_id is None
    assert load_checkpoint(env.lake, "localhost:3000", "account_lookup:mastodonpy_test_2", env.policy) \
        .newest_id is None
    assert load_checkpoint(env.lake, "localhost:3000", "account:admin").newest_id == "117020583258292382"
    assert load_checkpoint(env.lake, "localhost:3000", "account:admin@localhost:3000", env.policy).newest_id == "2"
    assert not env.lake.exists(bad) and env.lake.exists(other)
    assert not [p for p in env.lake_dir.rglob("*") if "mastodonpy_test_2" in p.name.lower()]


def test_erasure_of_a_lake_landed_with_privacy_off(env) -> None:
    """Clear names in the lake: the account's records still go; the audit log and the suppression list get a hash,
    never the name, and the next landing (privacy still off) skips the account. Was: with privacy off the
    suppression list was not kept, so the next collection landed the erased account again."""
    from fediscope.gdpr.export import export_account

    env = _privacy_off(env)
    settings = env.settings
    owned = [s for s in raw_statuses(env) if s["account"]["acct"] == "mastodonpy_test_2"]
    ids = {s["account"]["id"] for s in owned}
    assert owned and ids
    assert not export_account(settings, SUBJECT)["suppressed"]

    report = erase_account(settings, SUBJECT)
    # the right of access says it is suppressed (was: false, the list holding a digest of the clear key)
    assert export_account(settings, SUBJECT)["suppressed"]

    assert report.raw["records_removed"] >= len(owned) and report.warnings
    # the warning says what stays, not that the account's own mentions stay (the erasure rewrites them: was "handles
    # and links inside other people's status text stay as collected")
    privacy_warning = [w for w in report.warnings if w.startswith("privacy is off")]
    assert privacy_warning and "stay as collected" not in privacy_warning[0]
    assert "other accounts' handles and links stay in clear" in privacy_warning[0]
    assert report.account_key.startswith("sha256:") and report.newly_suppressed
    assert not [s for s in raw_statuses(env) if s["account"]["acct"] == "mastodonpy_test_2"]
    assert not files_holding([env.lake_dir / "raw"], ids)
    audit = (env.lake_dir / AUDIT_PATH).read_text()
    assert report.account_key in audit and "mastodonpy_test_2" not in audit
    # the key and the account's ids (replies name it by id; one per instance it was seen from), as digests: never
    # the name or the id
    suppressed = load_suppressed(env.lake)
    assert {report.account_key, *(clear_key_digest(f"localhost:3000/{i}") for i in ids)} <= suppressed
    assert all(entry.startswith("sha256:") for entry in suppressed)
    assert not files_holding([env.lake_dir / "_state"], ["mastodonpy_test_2", *ids])

    policy = policy_from_settings(settings, suppressed=load_suppressed(env.lake))
    land_recordings(env.lake, policy)
    assert policy.counts["skipped_suppressed"] > 0
    statuses = raw_statuses(env)
    assert statuses and not [s for s in statuses if s["account"]["acct"] == "mastodonpy_test_2"]
    assert not [m for s in statuses for m in s.get("mentions") or [] if m["acct"] == "mastodonpy_test_2"]
    # Was: a reply to the erased account landed again with its id in in_reply_to_account_id (admin's replies to it
    # in test_status_reply.json); the reply itself, admin's, lands, still a reply, without the id of the status it
    # answers (was kept: with the instance, it names the erased account through the instance's API)
    assert not [s for s in statuses if s["in_reply_to_id"] in {s["id"] for s in owned}]
    replies = [s for s in statuses if s["in_reply_to_id"] == ERASED]
    assert replies and all(s["in_reply_to_account_id"] is None for s in replies)
    assert not files_holding([env.lake_dir / "raw"], ids)


def _privacy_off(env):  # noqa: ANN001, ANN202
    """The env with privacy off, the recordings landed with clear names."""
    env = dataclasses.replace(env, settings=env.settings.replace(privacy=False, pseudonym_key=None))
    land_recordings(env.lake, policy_from_settings(env.settings))
    return env


def test_with_privacy_off_erasing_a_name_inside_another_leaves_the_other_alone(env) -> None:
    """Was: traces were replaced as substrings, and with privacy off the key is the clear ``user@domain``: erasing
    ``test_2@localhost:3000`` (nobody in the lake) rewrote every ``mastodonpy_test_2@localhost:3000`` in it to
    ``mastodonpy_[erased]``, and the access export of test_2 listed mastodonpy_test_2's records."""
    from fediscope.gdpr.export import export_account

    env = _privacy_off(env)
    curate(env)
    raw_before, curated_before = raw_records(env), curated_rows(env)
    assert "mastodonpy_test_2@localhost:3000" in json.dumps(curated_before, default=str)

    exported = export_account(env.settings, "test_2@localhost:3000")
    assert not exported["raw"]["records"] and not exported["raw"]["references"] and not exported["curated"]
    report = erase_account(env.settings, "test_2@localhost:3000")

    assert not report.raw.get("records_scrubbed") and not report.curated
    assert raw_records(env) == raw_before and curated_rows(env) == curated_before


def test_with_privacy_off_an_account_id_is_not_erased_from_other_numbers(env) -> None:
    """Was: clear account ids were traces like any text, as substrings: erasing mastodon.social's @Mastodon
    (REAL recorded instance contact, account id 13179) rewrote any id holding 13179 (one in about 7,000
    snowflakes does) in other people's statuses, raw and curated, to ``…[erased]…``."""
    from gdpr_lake import recorded

    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope

    env = _privacy_off(env)
    (host, document), = [(h, d) for h, d in recorded(["test_timeline_disabled.json"], "instance")
                          if h == "mastodon.social" and "contact" in d]  # v2 (v1 has contact_account)
    assert document["contact"]["account"]["id"] == "13179"
    (_, status), *_ = recorded(["test_hashtag_tl.json"], "statuses")
    status["id"] = "11" + "13179" + status["id"][7:]  # a snowflake of the same length that holds 13179
    policy, fetched = policy_from_settings(env.settings), datetime.now(UTC)
    document, status = policy.apply("instance", document, host), policy.apply("statuses", status, host)
    write_batch(env.lake, "instance", host, [envelope(host, "/api/v2/instance", document, fetched)],
                fetched_at=fetched)
    write_batch(env.lake, "statuses", host, [envelope(host, "/api/v1/timelines/public", status, fetched)],
                fetched_at=fetched)
    curate(env)

    erase_account(env.settings, "Mastodon@mastodon.social")

    statuses = [s for s in raw_statuses(env) if s["id"] == status["id"]]
    assert len(statuses) == 1 and statuses[0] == status  # the status of another person, untouched
    assert status["id"] in {r["status_id"] for r in curated_rows(env)["statuses"]}
    (instance,) = [r["data"] for r in raw_records(env) if r["data"].get("domain") == "mastodon.social"]
    assert instance["contact"]["account"] is None  # the subject's own reference is cut


def test_the_passes_are_shown_on_stderr_only_when_asked_and_the_json_stays_alone_on_stdout(processed, run_cli) -> None:
    """Like ``fediscope process``: progress on stderr on a terminal (here stderr is not one) or with --progress;
    the report on stdout either way."""
    batches = len(raw_batch_files(processed.lake))
    quiet = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")
    assert quiet.code == 0 and json.loads(quiet.out)["raw"]["records_removed"] > 0
    assert "erase:" not in quiet.err

    shown = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json", "--progress")
    assert shown.code == 0 and json.loads(shown.out)["account_key"] == processed.key(SUBJECT)
    lines = [line for line in shown.err.splitlines() if line.startswith("erase:")]
    left = len(raw_batch_files(processed.lake))  # the first erasure deleted the batches of only the account's own
    assert f"erase: finding the account in the raw batches: {left}/{left}" in lines
    assert f"erase: raw batches: {left}/{left}" in lines and left <= batches
    assert any(line.startswith("erase: curated files: ") for line in lines)
    assert any(line.startswith("erase: the store's ") for line in lines)
