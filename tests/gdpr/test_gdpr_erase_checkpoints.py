"""Erasure and the status ids in checkpoints: a timeline checkpoint (``newest_id``, and a walk's ``lower``/``upper``
/``cursor``) or a settle mark holding the id of one of the erased account's statuses (or of a boost of one) on
that instance names its author through the instance's API. ``fediscope gdpr erase`` moves such an id to one that
names none — down for what bounds the landed statuses from below, up for a walk's cursor — so that the next
collection fetches some statuses again and skips none; checkpoints at other people's statuses stay as they are.
Through the CLI, against the recorded Mastodon double and on a lake landed from the recordings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gdpr_lake import LOCAL, SUBJECT, files_holding, recorded
from gdpr_lake import STATUS_FILES as RECORDED_STATUS_FILES

from fediscope.gdpr.erase import AUDIT_PATH
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.lake.state import (
    Checkpoint,
    load_checkpoint,
    load_pass_mark,
    save_checkpoint,
    save_pass_mark,
)
from fediscope.timestamps import snowflake, snowflake_ms


def _erase(run_cli, account: str) -> dict[str, Any]:  # noqa: ANN001
    result = run_cli("gdpr", "erase", "--account", account, "--yes", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _collect(run_cli, url: str, *args: str) -> dict[str, Any]:  # noqa: ANN001
    result = run_cli("collect", "--instance", url, "--timeline", "public", "--json", *args)
    assert result.code == 0, result.err + result.out
    return json.loads(result.out)


def _landed_ids(env) -> set[str]:  # noqa: ANN001
    return {r["data"]["id"] for path in raw_batch_files(env.lake, "statuses") for r in read_batch(env.lake, path)}


def _audit(env) -> dict[str, Any]:  # noqa: ANN001
    return json.loads((env.lake_dir / AUDIT_PATH).read_text().splitlines()[-1])


def _is_of(status: dict[str, Any], acct: str) -> bool:
    """Does the erasure remove ``status`` (as the double serves it) with ``acct``: its own, or a boost of its?"""
    reblog = status.get("reblog") or {}
    return status["account"]["acct"] == acct or (reblog.get("account") or {}).get("acct") == acct


def _below(ids: list[str], status_id: str) -> str:
    return max((i for i in ids if int(i) < int(status_id)), key=int)


def _above(ids: list[str], status_id: str) -> str:
    return min((i for i in ids if int(i) > int(status_id)), key=int)


@pytest.fixture()
def double_env(env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001
    """The env, collecting the whole public timeline of the double on a first run."""
    monkeypatch.setenv("FEDISCOPE_BACKFILL_PAGES", "50")
    env.url, env.domain = mastodon_server.url, mastodon_server.domain
    return env


def test_a_checkpoint_at_the_accounts_newest_status_moves_below_it_and_nothing_is_lost(
        double_env, run_cli, mastodon_server) -> None:  # noqa: ANN001
    env = double_env
    _collect(run_cli, env.url)
    served = mastodon_server.public_statuses()  # newest first
    acct = served[0]["account"]["acct"]  # the author of the newest status: the checkpoint names it
    account = acct if "@" in acct else f"{acct}@{env.domain}"
    theirs = [s["id"] for s in served if _is_of(s, acct)]
    others = [s["id"] for s in served if not _is_of(s, acct)]
    assert load_checkpoint(env.lake, env.domain, "public").newest_id == served[0]["id"]
    # a settle mark at an older status of the account, and state at other people's statuses
    save_pass_mark(env.lake, env.domain, "public", "settle", theirs[-1])
    save_pass_mark(env.lake, env.domain, "local", "settle", others[3])
    save_checkpoint(env.lake, env.domain, "tag:python", Checkpoint(others[0]))
    untouched = {p: p.read_bytes() for p in (env.lake_dir / "_state").rglob("*.json")
                 if p.name in {"local.json", "tag__python.json"}}
    assert len(untouched) == 2

    report = _erase(run_cli, account)

    assert report["other"]["checkpoints_moved"] == 2
    assert _audit(env)["other"]["checkpoints_moved"] == 2
    # down to the nearest status of somebody else: only the account's statuses lie in between
    assert load_checkpoint(env.lake, env.domain, "public").newest_id == _below(others, served[0]["id"])
    assert load_pass_mark(env.lake, env.domain, "public", "settle") == _below(others, theirs[-1])
    assert {p: p.read_bytes() for p in untouched} == untouched
    assert files_holding([env.lake_dir / "_state"], theirs) == {}

    added = mastodon_server.add_statuses(45)  # the account posts again; so do the others
    summary = _collect(run_cli, env.url)

    landed = _landed_ids(env)
    served = mastodon_server.public_statuses()
    assert {s["id"] for s in served if not _is_of(s, acct)} <= landed  # no status of anybody else is lost
    assert not landed & {s["id"] for s in served if _is_of(s, acct)}  # none of the account's came back
    assert not files_holding([env.lake_dir / "raw"], [env.key(account)])
    # nothing was landed twice: what lay between the moved checkpoint and the old one was the account's alone
    new_others = [s for s in added if not _is_of(s, acct)]
    assert [s["landed"] for s in summary["sources"]] == [len(new_others)]


def test_a_walk_cursor_at_the_accounts_status_moves_up_and_the_walk_loses_nothing(
        double_env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    env = double_env
    monkeypatch.setenv("FEDISCOPE_PAGE_LIMIT", "10")
    _collect(run_cli, env.url, "--max-pages", "1")  # a first walk, stopped after one page
    served = mastodon_server.public_statuses()
    walk = load_checkpoint(env.lake, env.domain, "public").extra["walk"]
    assert walk["cursor"] == served[9]["id"] and walk["upper"] == served[0]["id"]
    acct = served[9]["account"]["acct"]  # the author of the page's oldest status: the walk's cursor names it
    account = acct if "@" in acct else f"{acct}@{env.domain}"
    theirs = [s["id"] for s in served if _is_of(s, acct)]
    others = [s["id"] for s in served if not _is_of(s, acct)]

    report = _erase(run_cli, account)

    assert report["other"]["checkpoints_moved"] == 1
    moved = load_checkpoint(env.lake, env.domain, "public").extra["walk"]
    # up, never down: the statuses below the old cursor are not landed yet
    assert moved["cursor"] == _above(others, served[9]["id"])
    assert moved["upper"] == (served[0]["id"] if served[0]["id"] in others else _below(others, served[0]["id"]))
    assert files_holding([env.lake_dir / "_state"], theirs) == {}

    _collect(run_cli, env.url)

    landed = _landed_ids(env)
    assert set(others) <= landed and not landed & set(theirs)


def _text_id_copy(env, status_id: str) -> None:  # noqa: ANN001
    """One of the subject's recorded statuses again, as software with text ids (a ULID) would list it."""
    status = next(s for instance, s in recorded(RECORDED_STATUS_FILES, "statuses")
                  if instance == LOCAL and s["account"]["acct"] == SUBJECT.split("@")[0] and not s.get("reblog"))
    copy = json.loads(json.dumps(status))
    copy.update(id=status_id, uri=status["uri"].replace(status["id"], status_id), url=None)
    write_batch(env.lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public",
                                                       env.policy.apply("statuses", copy, LOCAL))])


def test_ids_move_to_the_nearest_other_status_or_a_time_and_a_boost_of_the_accounts_status_counts(
        landed, run_cli) -> None:  # noqa: ANN001
    """On the recorded server (ids in order; ``s`` the subject's statuses, ``a`` admin's, ``m`` mastodonpy_test's):
    ``…492 s`` (its oldest), ``…240 a``, ``…055`` admin's boost of ``…492``, ``…590 a``, ``…824 s``, ``…477 m``,
    ``…701 s``, ``…542 s``, ``…261 a``."""
    env = landed
    _text_id_copy(env, "01JE5ZQ4H7Y3R8P2M6N0TQW9XA")
    save_checkpoint(env.lake, LOCAL, "public", Checkpoint("117020593780198542", extra={"walk": {
        "lower": "117020583245459824", "upper": "117020593780198542", "cursor": "117020593741189701", "pages": 3}}))
    save_checkpoint(env.lake, LOCAL, "local", Checkpoint("117020569685834492"))  # nothing of anybody else below
    save_checkpoint(env.lake, LOCAL, "tag:python", Checkpoint("117020569768720055"))  # admin's boost of it
    save_checkpoint(env.lake, LOCAL, "tag:fediverse", Checkpoint("01JE5ZQ4H7Y3R8P2M6N0TQW9XA"))  # no id below
    save_checkpoint(env.lake, LOCAL, "tag:mastodon", Checkpoint("117020593473214477"))  # somebody else's
    save_checkpoint(env.lake, "other.example", "public", Checkpoint("117020593780198542"))  # the id, elsewhere

    report = _erase(run_cli, SUBJECT)

    assert report["other"]["checkpoints_moved"] == 3
    assert report["other"]["checkpoints_deleted"] == 1
    public = load_checkpoint(env.lake, LOCAL, "public")
    assert public.newest_id == "117020593473214477"
    assert public.extra["walk"] == {"lower": "117020583080889590", "upper": "117020593473214477",
                                    "cursor": "117020598436551261", "pages": 3}
    # the first snowflake of the minute of the account's oldest status: a time, no status
    oldest = 117020569685834492
    floor = load_checkpoint(env.lake, LOCAL, "local").newest_id
    assert floor == str(snowflake(snowflake_ms(oldest) // 60_000 * 60_000, 0)) and int(floor) < oldest
    assert load_checkpoint(env.lake, LOCAL, "tag:python").newest_id == "117020569759328240"
    # text ids of another kind: nothing to move to, so the checkpoint goes and a warning says what that costs
    assert load_checkpoint(env.lake, LOCAL, "tag:fediverse").newest_id is None
    assert [w for w in report["warnings"] if "starts over" in w and "FEDISCOPE_BACKFILL_PAGES" in w]
    assert load_checkpoint(env.lake, LOCAL, "tag:mastodon").newest_id == "117020593473214477"
    assert load_checkpoint(env.lake, "other.example", "public").newest_id == "117020593780198542"
