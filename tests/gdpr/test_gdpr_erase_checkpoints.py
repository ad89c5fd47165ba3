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
from doubles.fediverse_ids import PleromaDouble, flake_id, ulid
from gdpr_lake import LOCAL, SUBJECT, files_holding, recorded
from gdpr_lake import STATUS_FILES as RECORDED_STATUS_FILES

from fediscope.gdpr.cursors import KeptIds
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


def _minute_start(status_id: str, later: int = 0) -> str:
    """The first snowflake of the minute of ``status_id`` (of the ``later``-th minute after it): a time, no status."""
    return str(snowflake((snowflake_ms(status_id) // 60_000 + later) * 60_000, 0))


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
    # down by the least: to the first id of its minute, above the nearest status of somebody else (a minute older)
    newest = load_checkpoint(env.lake, env.domain, "public").newest_id
    assert newest == _minute_start(served[0]["id"]) and int(_below(others, served[0]["id"])) < int(newest)
    assert load_pass_mark(env.lake, env.domain, "public", "settle") == _minute_start(theirs[-1])
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
    # up, never down (the statuses below the old cursor are not landed yet), by the least: to the first id of the
    # next minute, below the nearest status of somebody else
    assert moved["cursor"] == _minute_start(served[9]["id"], later=1)
    assert int(served[9]["id"]) < int(moved["cursor"]) < int(_above(others, served[9]["id"]))
    assert moved["upper"] == (served[0]["id"] if served[0]["id"] in others else _below(others, served[0]["id"]))
    assert files_holding([env.lake_dir / "_state"], theirs) == {}

    _collect(run_cli, env.url)

    landed = _landed_ids(env)
    assert set(others) <= landed and not landed & set(theirs)


def _text_id_copy(env, status_id: str) -> None:  # noqa: ANN001
    """One of the subject's recorded statuses again, as other software would list it: a ULID, or a number of a
    Pleroma instance older than its FlakeIds."""
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
    _text_id_copy(env, "5")
    save_checkpoint(env.lake, LOCAL, "public", Checkpoint("117020593780198542", extra={"walk": {
        "lower": "117020583245459824", "upper": "117020593780198542", "cursor": "117020593741189701", "pages": 3}}))
    save_checkpoint(env.lake, LOCAL, "local", Checkpoint("117020569685834492"))  # nothing of anybody else below
    save_checkpoint(env.lake, LOCAL, "tag:python", Checkpoint("117020569768720055"))  # admin's boost of it
    save_checkpoint(env.lake, LOCAL, "tag:fediverse", Checkpoint("01JE5ZQ4H7Y3R8P2M6N0TQW9XA"))  # numbers below
    save_checkpoint(env.lake, LOCAL, "tag:art", Checkpoint("5"))  # no id below, not a snowflake
    save_checkpoint(env.lake, LOCAL, "tag:mastodon", Checkpoint("117020593473214477"))  # somebody else's
    save_checkpoint(env.lake, "other.example", "public", Checkpoint("117020593780198542"))  # the id, elsewhere

    report = _erase(run_cli, SUBJECT)

    assert report["other"]["checkpoints_moved"] == 4
    assert report["other"]["checkpoints_deleted"] == 1
    public = load_checkpoint(env.lake, LOCAL, "public")
    assert public.newest_id == "117020593473214477"
    # the cursor …701 moves up to the minute after its own: nearer than …261, the next status of somebody else
    assert public.extra["walk"] == {"lower": "117020583080889590", "upper": "117020593473214477",
                                    "cursor": _minute_start("117020593741189701", later=1), "pages": 3}
    assert int(public.extra["walk"]["cursor"]) < 117020598436551261
    # the first snowflake of the minute of the account's oldest status: a time, no status
    oldest = 117020569685834492
    floor = load_checkpoint(env.lake, LOCAL, "local").newest_id
    assert floor == str(snowflake(snowflake_ms(oldest) // 60_000 * 60_000, 0)) and int(floor) < oldest
    assert load_checkpoint(env.lake, LOCAL, "tag:python").newest_id == "117020569759328240"
    # a text id above the numbers most ids are (Pleroma's FlakeIds above its old numeric ids): onto the nearest
    # number below it (was: deleted, nothing of its kind below it)
    assert load_checkpoint(env.lake, LOCAL, "tag:fediverse").newest_id == "117020598436551261"  # …261 a
    # nothing to move to: the checkpoint goes and a warning says what that costs
    assert load_checkpoint(env.lake, LOCAL, "tag:art").newest_id is None
    assert [w for w in report["warnings"] if "starts over" in w and "FEDISCOPE_BACKFILL_PAGES" in w]
    assert load_checkpoint(env.lake, LOCAL, "tag:mastodon").newest_id == "117020593473214477"
    assert load_checkpoint(env.lake, "other.example", "public").newest_id == "117020593780198542"


# -- collections after the erasure: the account's new statuses are skipped, and their ids are not saved either ----
ERASED_ACCT = "mastodonpy_test"  # one of the double's three authors (the fewest statuses)


def _erase_author(env, run_cli, mastodon_server) -> tuple[str, str]:  # noqa: ANN001
    """Collect the whole timeline, then erase :data:`ERASED_ACCT`; (its acct as served, its account)."""
    _collect(run_cli, env.url)
    _erase(run_cli, f"{ERASED_ACCT}@{env.domain}")
    return ERASED_ACCT, f"{ERASED_ACCT}@{env.domain}"


def _split(mastodon_server, acct: str) -> tuple[list[str], list[str]]:  # noqa: ANN001
    """(the account's status ids, everybody else's) as the double serves them now, newest first."""
    served = mastodon_server.public_statuses()
    return [s["id"] for s in served if _is_of(s, acct)], [s["id"] for s in served if not _is_of(s, acct)]


def _nothing_of_it_saved_or_landed(env, mastodon_server, acct: str, account: str) -> None:  # noqa: ANN001
    theirs, others = _split(mastodon_server, acct)
    assert files_holding([env.lake_dir / "_state"], theirs) == {}
    landed = _landed_ids(env)
    assert set(others) <= landed and not landed & set(theirs)
    assert not files_holding([env.lake_dir / "raw"], [env.key(account)])


def test_a_collection_after_the_erasure_saves_no_id_of_the_accounts_new_statuses(
        double_env, run_cli, mastodon_server) -> None:  # noqa: ANN001
    env = double_env
    acct, account = _erase_author(env, run_cli, mastodon_server)
    mastodon_server.add_statuses(5)  # others post; then the erased account does, on top of the timeline
    newest = mastodon_server.add_statuses(3, author=acct)

    _collect(run_cli, env.url)

    _nothing_of_it_saved_or_landed(env, mastodon_server, acct, account)
    theirs, others = _split(mastodon_server, acct)
    checkpoint = load_checkpoint(env.lake, env.domain, "public").newest_id
    # below the account's newest status, yet not below the minute it was posted in: the timeline moves on
    top = max(int(s["id"]) for s in newest)
    assert int(others[0]) < int(checkpoint) < top
    assert snowflake_ms(checkpoint) == snowflake_ms(top) // 60_000 * 60_000
    # the next collection fetches again only that status (skipped again), nothing older
    again = _collect(run_cli, env.url)
    assert (again["fetched"], again["landed"]) == (1, 0)
    _nothing_of_it_saved_or_landed(env, mastodon_server, acct, account)


def test_a_newest_page_all_of_the_erased_account_and_a_walk_stopped_on_it_save_none_of_its_ids(
        double_env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    env = double_env
    acct, account = _erase_author(env, run_cli, mastodon_server)
    monkeypatch.setenv("FEDISCOPE_PAGE_LIMIT", "10")
    mastodon_server.add_statuses(4)
    mastodon_server.add_statuses(25, author=acct)  # the newest pages are the account's alone

    stopped = _collect(run_cli, env.url, "--max-pages", "1")  # killed, in effect, after a page of its statuses

    assert stopped["landed"] == 0
    theirs, _others = _split(mastodon_server, acct)
    walk = load_checkpoint(env.lake, env.domain, "public").extra["walk"]
    # the cursor moved up (re-fetching some of the account's statuses, skipped again), never down
    assert int(walk["cursor"]) > int(theirs[9]) and int(walk["upper"]) < int(theirs[0])
    assert files_holding([env.lake_dir / "_state"], theirs) == {}

    _collect(run_cli, env.url)  # resumes the walk, down to the checkpoint of the first collection

    _nothing_of_it_saved_or_landed(env, mastodon_server, acct, account)
    again = _collect(run_cli, env.url)
    assert (again["fetched"], again["landed"]) == (1, 0)  # not the whole run of the account's statuses again


def test_settle_marks_and_opted_out_accounts_statuses_are_not_saved_either(
        double_env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The settle pass walks up over the account's statuses; an opted-out account's statuses are skipped too, and
    their ids are not kept anywhere else in the lake."""
    env = double_env
    monkeypatch.setenv("FEDISCOPE_SETTLE_HOURS", "1")  # the double's statuses are months old: all settle at once
    acct, account = _erase_author(env, run_cli, mastodon_server)
    assert mastodon_server.set_account_note("admin", "<p>#nobot</p>")
    mastodon_server.add_statuses(6)
    mastodon_server.add_statuses(2, author=acct)
    opted_out = [s["id"] for s in mastodon_server.add_statuses(2, author="admin")]  # the newest statuses

    summary = _collect(run_cli, env.url)

    assert summary["settled"] > 0
    theirs, _others = _split(mastodon_server, acct)
    assert files_holding([env.lake_dir / "_state"], theirs + opted_out) == {}
    assert not _landed_ids(env) & set(theirs + opted_out)


def _collect_local(run_cli, env) -> dict[str, Any]:  # noqa: ANN001
    """The public timeline again and a first collection of the local one (here the same statuses)."""
    return _collect(run_cli, env.url, "--timeline", "local")


def test_a_new_source_started_from_now_does_not_start_at_the_accounts_newest_status(
        double_env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    env = double_env
    acct, _account = _erase_author(env, run_cli, mastodon_server)
    mastodon_server.add_statuses(2, author=acct)
    monkeypatch.setenv("FEDISCOPE_BACKFILL_PAGES", "0")  # land nothing, remember the newest status

    _collect_local(run_cli, env)

    theirs, others = _split(mastodon_server, acct)
    assert files_holding([env.lake_dir / "_state"], theirs) == {}
    assert int(others[0]) < int(load_checkpoint(env.lake, env.domain, "local").newest_id) < int(theirs[0])


def test_a_first_settle_mark_is_not_just_below_one_of_the_accounts_statuses(
        double_env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """A source's first run starts its settle pass just below the oldest status it landed while young: an id
    that gives the status away (one more), so never one of the account's (here the timeline's oldest)."""
    env = double_env
    _collect(run_cli, env.url)
    served = mastodon_server.public_statuses()
    acct = served[-1]["account"]["acct"]
    _erase(run_cli, f"{acct}@{env.domain}")
    monkeypatch.setenv("FEDISCOPE_SETTLE_HOURS", "100000")  # every status is still young

    _collect_local(run_cli, env)

    theirs, others = _split(mastodon_server, acct)
    mark = load_pass_mark(env.lake, env.domain, "local", "settle")
    assert str(int(mark) + 1) == others[-1] and others[-1] not in theirs


def test_an_erasure_and_a_collection_move_the_same_ids_to_the_same_place(
        double_env, run_cli, mastodon_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """One rule (:func:`~fediscope.gdpr.cursors.moved_down`, :func:`~fediscope.gdpr.cursors.moved_up`): a walk
    stopped on a page whose newest and oldest statuses are the account's holds the same ids whether the account
    was erased after the page was collected (the erasure moves them) or before (the collection never saves them).
    Statuses a minute apart: each id moves the least, to a time in the next minute on its side, not as far as the
    nearest status of somebody else."""
    env = double_env
    monkeypatch.setenv("FEDISCOPE_PAGE_LIMIT", "10")
    mastodon_server.add_statuses(1, author=ERASED_ACCT)  # the page's oldest: the walk's cursor
    mastodon_server.add_statuses(8, author="admin")
    mastodon_server.add_statuses(1, author=ERASED_ACCT)  # the page's newest: the walk's upper
    page = mastodon_server.public_statuses()[:10]
    assert [_is_of(s, ERASED_ACCT) for s in page] == [True] + [False] * 8 + [True]
    _collect(run_cli, env.url, "--max-pages", "1")
    walk = load_checkpoint(env.lake, env.domain, "public").extra["walk"]
    assert (walk["upper"], walk["cursor"]) == (page[0]["id"], page[9]["id"])

    _erase(run_cli, f"{ERASED_ACCT}@{env.domain}")
    erased = load_checkpoint(env.lake, env.domain, "public").extra["walk"]
    # the same page, collected after the erasure by a new source (the double's local timeline serves it too)
    result = run_cli("collect", "--instance", env.url, "--timeline", "local", "--json", "--max-pages", "1")
    assert result.code == 0, result.err + result.out
    collected = load_checkpoint(env.lake, env.domain, "local").extra["walk"]

    assert (collected["upper"], collected["cursor"]) == (erased["upper"], erased["cursor"])
    minute = [snowflake(snowflake_ms(s["id"]) // 60_000 * 60_000, 0) for s in page]
    assert (erased["upper"], erased["cursor"]) == (str(minute[0]), str(minute[8]))
    assert int(page[1]["id"]) < minute[0] < int(page[0]["id"]) and int(page[9]["id"]) < minute[8] < int(page[8]["id"])
    assert files_holding([env.lake_dir / "_state"], [s["id"] for s in page if _is_of(s, ERASED_ACCT)]) == {}


def test_a_checkpoint_at_a_flake_id_above_pleromas_old_numeric_ids_moves_onto_them(
        env, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Pleroma lists the statuses it stored before its FlakeIds by their numeric ids, below every FlakeId
    (:class:`~doubles.fediverse_ids.PleromaDouble`). A checkpoint and a settle mark at the account's first status
    with a FlakeId, above only old numbered ones, move down onto the nearest number of somebody else. Was: a number
    is of another kind than a FlakeId, so nothing lay below it: both were deleted (the source started over)."""
    monkeypatch.setenv("FEDISCOPE_BACKFILL_PAGES", "50")
    with PleromaDouble(numbered=20, statuses=20) as server:
        _collect(run_cli, server.url)
        assert load_checkpoint(env.lake, server.domain, "public").newest_id == "152"  # 95 + 19 × 3
        flake = server.text(server.add_statuses(1, author=ERASED_ACCT)[0]["id"])
        _collect(run_cli, server.url)
        assert load_checkpoint(env.lake, server.domain, "public").newest_id == flake
        save_pass_mark(env.lake, server.domain, "public", "settle", flake)
        others = [server.text(s["id"]) for s in server.public_statuses() if not _is_of(s, ERASED_ACCT)]
        theirs = [server.text(s["id"]) for s in server.public_statuses() if _is_of(s, ERASED_ACCT)]
        assert others[0].isdigit() and {flake, "152"} <= set(theirs) | set(others)

        report = _erase(run_cli, f"{ERASED_ACCT}@{server.domain}")

        assert report["other"]["checkpoints_moved"] == 2 and "checkpoints_deleted" not in report["other"]
        assert load_checkpoint(env.lake, server.domain, "public").newest_id == others[0]  # was: None (deleted)
        assert load_pass_mark(env.lake, server.domain, "public", "settle") == others[0]
        assert files_holding([env.lake_dir / "_state"], theirs) == {}
        server.add_statuses(3, author="admin")
        assert _collect(run_cli, server.url)["landed"] == 3  # the gap above the moved checkpoint, not the timeline
        assert set(others) <= _landed_ids(env) and not _landed_ids(env) & set(theirs)


def test_kept_ids_are_neighbours_across_kinds_only_of_the_kind_most_are() -> None:
    """Pleroma's old numbers below its FlakeIds; not a malformed item's id of the minority kind: a text id above
    Mastodon's snowflakes, a number below GoToSocial's ULIDs."""
    flake, ulids = flake_id("113456789012345678"), [ulid("113456789012345678"), ulid("113456789012345679")]
    assert KeptIds.of(["95", "120", "152"]).below(flake) == "152"  # was: None
    assert KeptIds.of(["95", "120", flake]).above("120") is None  # the FlakeIds are fewer: that could be malformed
    assert KeptIds.of(["95", flake, flake_id("113456789012345679")]).above("95") == flake  # was: None
    assert KeptIds.of(["109", "110", "abc"]).above("110") is None and KeptIds.of(["109", "abc"]).below("110") == "109"
    assert KeptIds.of(["42", *ulids]).below(ulids[0]) is None and KeptIds.of(["42", *ulids]).above(ulids[0]) == ulids[1]
    assert KeptIds.of(["42", *ulids]).below("43") == "42"
