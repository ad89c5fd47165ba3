"""Reply ids an erasure by an older release left behind (:mod:`fediscope.gdpr.old_replies`).

Before ``in_reply_to_id`` was scrubbed too, an erasure nulled a reply's ``in_reply_to_account_id`` but kept the id of
the erased account's status it answers, and a landing after the erasure did the same for new replies to it. The
erasure cannot be redone for that account (its statuses are gone, so their ids are not known), so every ``fediscope
gdpr erase`` run, whichever account it is for, scrubs such ids in the raw lake and the curated statuses. Through the
CLI, on a lake landed from the recordings and processed by ``fediscope process``; the old release's state is made by
today's erasure with the reply ids put back, or by today's landing with the old release's rule."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from gdpr_lake import LOCAL, SUBJECT, files_holding, land_recordings, recorded, stop_after, store_files
from non_public_statuses import visible

from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.gdpr.old_replies import OldReplies, is_old_reply, may_hold
from fediscope.gdpr.resume import TRACES_PATH
from fediscope.gdpr.subject import ERASED, account_key_of, nested_statuses
from fediscope.gdpr.suppression import load_suppressed
from fediscope.lake.batches import encode_jsonl, raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import clear_key_digest, policy_from_settings

#: Recorded replies of mastodonpy_test to its own statuses: replies to nobody erased, which keep their ids.
OTHER_REPLIES = ("test_id_hook_in_reply_to.json", "test_status_reply_with_quote.json")
NOBODY = f"nobody@{LOCAL}"


def _raw(env) -> dict[str, list[dict[str, Any]]]:  # noqa: ANN001
    return {path: list(read_batch(env.lake, path)) for path in raw_batch_files(env.lake, "statuses")}


def _curated(env) -> dict[str, list[dict[str, Any]]]:  # noqa: ANN001
    return {str(path): pq.read_table(path).to_pylist()
            for path in sorted((env.lake_dir / "curated" / "statuses").rglob("*.parquet"))}


def _replies(raw: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [status for records in raw.values() for record in records for status in nested_statuses(record["data"])
            if status.get("in_reply_to_id")]


def _write_raw(env, path: str, records: list[dict[str, Any]]) -> None:  # noqa: ANN001
    payload = encode_jsonl(records)
    env.lake.write_atomic(path, gzip.compress(payload) if path.endswith(".gz") else payload)


def _land_other_replies(env, policy) -> None:  # noqa: ANN001
    records = [envelope(instance, "/api/v1/timelines/public", landed, datetime.now(UTC))
               for instance, status in recorded(OTHER_REPLIES, "statuses")
               if (landed := policy.apply("statuses", json.loads(json.dumps(status)), instance)) is not None]
    assert records
    write_batch(env.lake, "statuses", LOCAL, records)


@pytest.fixture(params=[True, False], ids=["privacy-on", "privacy-off"])
def lake_with_replies(env, run_cli, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """The recordings (admin's reply to the subject's status among them) and mastodonpy_test's replies to its own
    statuses, landed (pseudonymised, or as collected) and processed."""
    if not request.param:  # clear ids in in_reply_to_account_id; the lake's records are parsed without a fast path
        env = dataclasses.replace(env, settings=env.settings.replace(privacy=False, pseudonym_key=None))
        monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
        monkeypatch.delenv("FEDISCOPE_PSEUDONYM_KEY")
    assert land_recordings(env.lake, env.policy) > 50
    _land_other_replies(env, env.policy)
    assert run_cli("process").code == 0
    admin = env.key(f"admin@{LOCAL}")
    env.answered = {s["in_reply_to_id"] for s in _replies(_raw(env)) if account_key_of(s["account"], LOCAL) == admin}
    assert len(env.answered) == 1  # admin's reply to the subject's status
    env.kept = {s["in_reply_to_id"] for s in _replies(_raw(env))} - env.answered
    assert env.kept  # the other replies
    return env


@pytest.fixture()
def old_erasure(lake_with_replies, run_cli):
    """The state an erasure of the subject by the previous release left: today's erasure, with every reply id it
    replaced by [erased] put back (raw and curated), the account id staying null."""
    env = lake_with_replies
    assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 0
    (answered,) = env.answered
    for path, records in _raw(env).items():
        erased = [s for record in records for s in nested_statuses(record["data"]) if s.get("in_reply_to_id") == ERASED]
        for status in erased:
            status["in_reply_to_id"] = answered
        if erased:
            _write_raw(env, path, records)
    for path, rows in _curated(env).items():
        if any(row["in_reply_to_id"] == ERASED for row in rows):
            schema = pq.read_schema(path)
            rows = [{**row, "in_reply_to_id": answered if row["in_reply_to_id"] == ERASED else row["in_reply_to_id"]}
                    for row in rows]
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    old = [s for s in _replies(_raw(env)) if s["in_reply_to_id"] == answered]
    assert old and all(s["in_reply_to_account_id"] is None for s in old)  # the old release's shape
    assert [row for rows in _curated(env).values() for row in rows if row["in_reply_to_id"] == answered]
    return env


def _everywhere(env) -> list:  # noqa: ANN001
    return [env.lake_dir, *store_files(env.db)]


def _plain(data: dict[str, list[dict[str, Any]]]) -> Any:
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def _with_erased_replies(data: dict[str, list[dict[str, Any]]], ids: set[str]) -> Any:
    """``data`` (records or rows by file) as the scrub leaves it: every ``in_reply_to_id`` among ``ids`` erased."""
    text = json.dumps(data, sort_keys=True, default=str)
    for each in ids:
        text = text.replace(f'"in_reply_to_id": "{each}"', f'"in_reply_to_id": "{ERASED}"')
    return json.loads(text)


@pytest.mark.parametrize("account", [SUBJECT, NOBODY])
def test_any_erasure_scrubs_the_reply_ids_an_older_erasure_kept(old_erasure, run_cli, account: str) -> None:
    """Was: the old erasure's reply ids stayed for good (erasing the account again found nothing to match them by).
    Now any erasure — the subject's again, or one of an account the lake never held — scrubs them, raw and curated,
    and changes nothing else: the other replies keep their ids."""
    env = old_erasure
    raw_before, curated_before = _raw(env), _curated(env)
    old_records = sum(1 for records in raw_before.values() for record in records
                      if any(s.get("in_reply_to_id") in env.answered for s in nested_statuses(record["data"])))
    assert files_holding(_everywhere(env), env.answered)

    result = run_cli("gdpr", "erase", "--account", account, "--yes", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)

    assert files_holding(_everywhere(env), env.answered) == {}
    old = {"old_reply_records_scrubbed": old_records, "old_reply_rows_scrubbed": 1}
    assert {k: report["other"].get(k) for k in old} == old
    assert report["raw"] == {} and report["curated"] == {}  # the counts of what was found of the account
    audit = json.loads((env.lake_dir / AUDIT_PATH).read_text().splitlines()[-1])
    assert {k: audit["other"].get(k) for k in old} == old
    # nothing else changed: the other replies keep their ids, the scrubbed ones are still replies
    assert _plain(_raw(env)) == _with_erased_replies(raw_before, env.answered)
    assert _plain(_curated(env)) == _with_erased_replies(curated_before, env.answered)
    kept = {s["in_reply_to_id"] for s in _replies(_raw(env))}
    assert env.kept < kept and ERASED in kept
    assert all(row["is_reply"] for rows in _curated(env).values() for row in rows if row["in_reply_to_id"] == ERASED)

    again = run_cli("gdpr", "erase", "--account", account, "--yes")  # nothing left: the summary names none
    assert again.code == 0 and "old reply" not in again.out


@pytest.mark.parametrize(("stop", "process"), [(("raw/", 1), False), (("curated/", 0), False), (("curated/", 0), True)],
                         ids=["mid-raw", "before-curated", "then-process"])
def test_an_interrupted_scrub_is_finished_by_the_next_erasure(old_erasure, run_cli, monkeypatch: pytest.MonkeyPatch,
                                                              stop: tuple[str, int], process: bool) -> None:
    """Was: an erasure stopped after rewriting the raw batches (Ctrl-C, a lost machine) left the curated rows with
    the old reply ids for good. The raw records were scrubbed, so running it again found no old reply to note the
    replied-to statuses from, and no curated row was matched. Now the curated pass also scrubs a row whose status
    says ``[erased]`` in its raw records, and the erasure run again finishes the first one. A ``fediscope process``
    in between reads the rewritten batches again, and their versions win over the curated rows (the same fetch: the
    ``[erased]`` reply id wins the tie), so it leaves no old reply id for the erasure to count."""
    env = old_erasure
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, *stop)
        assert run_cli("gdpr", "erase", "--account", NOBODY, "--yes").code == 130
    if process:
        assert run_cli("process").code == 0
    left = [p for p in files_holding(_everywhere(env), env.answered) if "/curated/" in p]
    assert left or process

    result = run_cli("gdpr", "erase", "--account", NOBODY, "--yes", "--json")
    assert result.code == 0, result.err
    assert files_holding(_everywhere(env), env.answered) == {}
    assert json.loads(result.out)["other"].get("old_reply_rows_scrubbed", 0) == len(left)
    kept = {row["in_reply_to_id"] for rows in _curated(env).values() for row in rows}
    assert env.kept < kept and ERASED in kept


def test_a_process_after_an_erasure_stopped_after_its_raw_pass_keeps_the_scrubbed_replies(
        lake_with_replies, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """An erasure stopped after rewriting the raw batches, before the curated pass (Ctrl-C, a lost machine), then a
    ``fediscope process``: it reads the rewritten batches again (their size changed), and their versions of other
    people's statuses tie with the curated rows (the same fetch, the same counts). The erasure's version wins, so
    the reply to the account's status keeps ``[erased]`` and no row mentions the account. Was: the unscrubbed row
    won (its text, still holding the account's handle, is longer) and the reply id was back in the curated
    statuses until the erasure was run again."""
    env = lake_with_replies
    key = env.key(SUBJECT) if env.settings.privacy else SUBJECT
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, "curated/", 0)
        assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 130
    assert run_cli("process").code == 0

    others = [row for rows in _curated(env).values() for row in visible(rows) if row["account_key"] != key]
    assert {row["in_reply_to_id"] for row in others} & env.answered == set()
    assert ERASED in {row["in_reply_to_id"] for row in others}
    assert not [row for row in others if key in row["mentions"] or row["quoted_account_key"] == key]


def test_the_summary_counts_them_apart_from_the_account(old_erasure, run_cli) -> None:
    """They are nobody's in particular: an account the lake does not hold is still said to be found nowhere, with
    the hint about an instance the lake was not collected from."""
    result = run_cli("gdpr", "erase", "--account", "nobody@typo.example", "--yes")
    assert result.code == 0, result.err
    assert "raw: nothing; curated: nothing; store: nothing; other:" in result.out
    assert "old reply records scrubbed 2" in result.out and "old reply rows scrubbed 1" in result.out, result.out
    assert "nothing is held under nobody@typo.example" in result.err


def test_replies_an_older_landing_kept_the_id_of_are_scrubbed_too(lake_with_replies, run_cli,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply to an erased account landed by the previous release (the suppression list nulled its account id only)
    and processed: the next erasure of anybody scrubs its id in the raw batch and in the curated row."""
    import fediscope.privacy

    env = lake_with_replies
    assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 0
    assert files_holding(_everywhere(env), env.answered) == {}
    with monkeypatch.context() as old_release:
        old_release.setattr(fediscope.privacy, "unreplied", lambda status: {**status, "in_reply_to_account_id": None})
        policy = policy_from_settings(env.settings, suppressed=load_suppressed(env.lake))
        land_recordings(env.lake, policy, fetched_at=datetime.now(UTC) + timedelta(minutes=1))  # the newest version
    assert run_cli("process").code == 0
    assert [p for p in files_holding(_everywhere(env), env.answered) if "/curated/" in p]

    result = run_cli("gdpr", "erase", "--account", NOBODY, "--yes", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["other"]["old_reply_records_scrubbed"] >= 1 and report["other"]["old_reply_rows_scrubbed"] == 1
    assert files_holding(_everywhere(env), env.answered) == {}
    assert env.kept < {s["in_reply_to_id"] for s in _replies(_raw(env))}


def test_only_a_null_account_id_beside_a_reply_id_is_an_old_reply() -> None:
    """Mastodon sends both or neither; a server that sends ``""`` for an unknown author (Pleroma) or leaves the field
    out is not taken for an older erasure (the latter only where the lake keeps the field as collected)."""
    (reply, *_) = [status for _, status in recorded(["test_status_reply.json"], "statuses")
                   if status["in_reply_to_id"]]
    assert reply["in_reply_to_id"] and reply["in_reply_to_account_id"]
    assert not is_old_reply(reply)
    assert is_old_reply({**reply, "in_reply_to_account_id": None})
    assert not is_old_reply({**reply, "in_reply_to_account_id": ""})
    assert not is_old_reply({k: v for k, v in reply.items() if k != "in_reply_to_account_id"})
    assert not is_old_reply({**reply, "in_reply_to_account_id": None, "in_reply_to_id": ERASED})
    line = encode_jsonl([{"data": {**reply, "in_reply_to_account_id": None}}])
    assert may_hold(line) and may_hold(line.replace(b'":null', b'": null'))
    assert not may_hold(encode_jsonl([{"data": reply}]))
    assert not may_hold(encode_jsonl([{"data": {**reply, "in_reply_to_account_id": None, "in_reply_to_id": ERASED}}]))


#: The recorded reply of admin to the subject's status.
REPLY = next(s for _, s in recorded(["test_status_reply.json"], "statuses") if s["in_reply_to_id"])
#: Its mention of the subject, as a handle in its text (a reply whose author deleted it from the text).
_HANDLE = re.compile(r'<span class="h-card"[^>]*><a [^>]*>@<span>[^<]*</span></a></span>\s*')


@pytest.fixture()
def unmentioned_reply(lake_with_replies: Any, run_cli: Any) -> Any:
    """``lake_with_replies`` without the subject's statuses, plus admin's reply to one of them (never collected)
    that does not mention the subject: its ``in_reply_to_account_id`` is its only link to the subject."""
    env = lake_with_replies
    for path, records in _raw(env).items():  # the subject's statuses and the replies naming them, never collected
        kept = [r for r in records if not any(account_key_of(s["account"], LOCAL) == env.key(SUBJECT)
                                              or s.get("in_reply_to_id") in env.answered
                                              for s in nested_statuses(r["data"]))]
        if not kept:
            env.lake.delete(path)
        elif kept != records:
            _write_raw(env, path, kept)
    assert not [s for s in _replies(_raw(env)) if s["in_reply_to_id"] in env.answered]
    reply = {**json.loads(json.dumps(REPLY)), "mentions": [], "content": _HANDLE.sub("", REPLY["content"])}
    assert "mastodonpy_test_2" not in json.dumps({k: v for k, v in reply.items() if k != "account"})
    landed = env.policy.apply("statuses", reply, LOCAL)
    fetched = datetime.now(UTC) + timedelta(days=1)  # a partition of its own, after every other
    env.reply_path = write_batch(env.lake, "statuses", LOCAL,
                                 [envelope(LOCAL, "/api/v1/timelines/public", landed, fetched)], fetched_at=fetched)
    assert raw_batch_files(env.lake)[-1] == env.reply_path  # the erasure's raw pass rewrites it last
    assert run_cli("process", "--recurate").code == 0
    env.reply_uri, env.replied_to = landed["uri"], landed["in_reply_to_account_id"]  # privacy off: the clear id
    assert [row for rows in _curated(env).values() for row in rows if row["in_reply_to_id"] in env.answered]
    return env


@pytest.mark.parametrize("account", [SUBJECT, NOBODY])
def test_a_reply_linked_by_its_account_id_alone_is_scrubbed_after_an_interrupted_erasure(
        unmentioned_reply, run_cli, monkeypatch: pytest.MonkeyPatch, account: str) -> None:
    """An erasure stopped (Ctrl-C) after rewriting the raw batches that held the subject's id (its account records,
    the statuses mentioning it), before the one holding a reply to it that neither mentions it nor answers a status
    the lake holds, then run again (or any erasure after it). Was: the rerun no longer knew the subject's ids (they
    are on the suppression list, but not tied to the subject), so the reply kept them, raw and curated. Now the
    subject's erasure run again starts from the ids the stopped run found (fediscope.gdpr.resume) and scrubs the reply
    as the subject's; any other erasure scrubs a reply whose ``in_reply_to_account_id`` is on the suppression list as
    landing scrubs it (``unreplied``), counted as an old reply: nobody's in particular. What the stopped run found is
    kept until the subject's erasure is run again."""
    env = unmentioned_reply
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, env.reply_path, 0)
        assert run_cli("gdpr", "erase", "--account", SUBJECT, "--yes").code == 130
    suppressed = str(env.lake_dir / "_state" / "suppressed.json")
    assert files_holding(_everywhere(env), env.answered)
    listed = env.replied_to if env.settings.privacy else clear_key_digest(f"{LOCAL}/{env.replied_to}")
    assert listed in load_suppressed(env.lake)  # by the first run, which found the subject's ids

    result = run_cli("gdpr", "erase", "--account", account, "--yes", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)

    assert files_holding(_everywhere(env), env.answered) == {}
    kept_traces = str(env.lake_dir / TRACES_PATH)
    assert set(files_holding(_everywhere(env), [env.replied_to])) <= {suppressed, kept_traces}
    assert (kept_traces in files_holding(_everywhere(env), [env.replied_to])) == (account == NOBODY)
    (reply,) = [s for s in _replies(_raw(env)) if s["uri"] == env.reply_uri]
    assert (reply["in_reply_to_id"], reply["in_reply_to_account_id"]) == (ERASED, None)
    rows = [row for rows in _curated(env).values() for row in rows if row["uri"] == reply["uri"]]
    assert rows and all(row["in_reply_to_id"] == ERASED and row["is_reply"] for row in rows)
    old = {k: report["other"].get(k) for k in ("old_reply_records_scrubbed", "old_reply_rows_scrubbed")}
    if account == NOBODY:
        assert old == {"old_reply_records_scrubbed": 1, "old_reply_rows_scrubbed": len(rows)}
    else:  # the subject's reply: the raw pass stopped before its batch, the last one
        assert old == {"old_reply_records_scrubbed": None, "old_reply_rows_scrubbed": None}
        assert report["raw"]["records_scrubbed"] == 1
    kept = {s["in_reply_to_id"] for s in _replies(_raw(env))}
    assert env.kept < kept  # the replies to nobody erased keep their ids


def test_the_fast_path_reads_a_batch_whose_reply_names_a_suppressed_account_id(env) -> None:  # noqa: ANN001
    """With privacy on, a batch is parsed for replies to an erased account only when one of its replies names an id
    pseudonym on the suppression list (the reply below is not an old reply: both its ids are set)."""
    landed = env.policy.apply("statuses", json.loads(json.dumps(REPLY)), LOCAL)
    line = encode_jsonl([envelope(LOCAL, "/api/v1/timelines/public", landed)])
    assert landed["in_reply_to_account_id"] and not may_hold(line)
    listed = policy_from_settings(env.settings, suppressed={landed["in_reply_to_account_id"]})
    assert OldReplies(suppression=listed).may_hold(line)
    assert OldReplies(suppression=listed).may_hold(line.replace(b'":"', b'": "'))
    assert not OldReplies(suppression=policy_from_settings(env.settings, suppressed={env.key(SUBJECT)})).may_hold(line)
    assert not OldReplies(suppression=env.policy).may_hold(line) and not OldReplies().may_hold(line)
