"""The curated columns computed from a status's text, after an erasure rewrote the text (fediscope.gdpr.texts).

The recordings landed through the privacy policy (the subject's handle is in the text of another person's reply to
it and of a status mentioning it), curated by the real DuckDB curation. Was: the erasure replaced the handle by
``[erased]`` in the raw records and scrubbed the curated rows, but those kept the ``content_length`` of the text
before (34 where a curation of the rewritten record gives 17), and a ``fediscope process`` reading the rewritten
batches again kept it too (the longer text wins a tie of one fetch): the lake differed from its rebuild.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import KEY, LOCAL, SUBJECT, curated_tables, lake_settings, land_recordings, recorded, stop_after
from non_public_statuses import visible

from fediscope.config import Settings
from fediscope.engine.base import open_engine
from fediscope.engine.curate_sql import CONTENT_COLUMNS
from fediscope.engine.process import run_process
from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.opt_outs import note_opt_outs
from fediscope.gdpr.subject import ERASED, nested_statuses
from fediscope.gdpr.texts import RewrittenTexts
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import raw_batch_files, read_batch, write_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import AUTHORED_LENGTH, AUTHORED_SPOILER_LENGTH, PrivacyPolicy, policy_from_settings

NOBODY = "nobody-here@localhost:3000"


def rebuilt(env: Any, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The curated tables ``fediscope process --recurate`` makes of a copy of the env's lake as it is now."""
    copy = tmp_path / "rebuilt"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(env.lake_dir, copy)
    with open_engine(Settings(lake=str(copy), store=f"sqlite:///{tmp_path / 'rebuilt.db'}",
                              pseudonym_key=KEY)) as engine:
        engine.curate(rebuild=True)
    return curated_tables(copy)


def assert_same(got: dict[str, list[dict[str, Any]]], want: dict[str, list[dict[str, Any]]]) -> None:
    """Table by table, row by row, column by column (so a failure names the column)."""
    assert sorted(got) == sorted(want)
    for table in want:
        by_rest = {repr(sorted((k, v) for k, v in r.items() if k not in CONTENT_COLUMNS)): r for r in want[table]}
        for row in got[table]:
            expected = by_rest.get(repr(sorted((k, v) for k, v in row.items() if k not in CONTENT_COLUMNS)))
            assert expected is not None, (table, row)
            assert {c: row[c] for c in row if row[c] != expected[c]} == {}, (table, row.get("uri"))
        assert got[table] == want[table], table


def texts_with_erased(env: Any) -> set[str]:
    """The statuses (uri) whose raw text says [erased]."""
    return {record["data"]["uri"] for path in raw_batch_files(env.lake, "statuses")
            for record in read_batch(env.lake, path) if ERASED in (record["data"].get("content") or "")}


def curated_of(tables: dict[str, list[dict[str, Any]]], uris: set[str]) -> set[str]:
    """Those of ``uris`` the curated ``tables`` hold as public statuses: not the direct messages of the recordings
    (curation keeps of those only a marker without content, which no recount touches)."""
    return uris & {row["uri"] for row in visible(tables["statuses"])}


def lengths(tables: dict[str, list[dict[str, Any]]], uris: set[str]) -> dict[str, int]:
    return {row["uri"]: row["content_length"] for row in visible(tables["statuses"]) if row["uri"] in uris}


@pytest.fixture()
def curated(landed):
    """The recordings landed and processed (DuckDB, SQLite)."""
    run_process(landed.settings, progress=False)
    return landed


class OlderLanding:
    """The landing of a release that recorded no length as written: the policy's records without it. Their rewritten
    texts are measured as they are, so an erasure changes their ``content_length``, which the curated pass recounts."""

    def __init__(self, policy: PrivacyPolicy) -> None:
        self.policy = policy

    def apply(self, entity: str, record: Any, instance: str) -> Any:
        landed = self.policy.apply(entity, record, instance)
        for status in nested_statuses(landed) if entity == "statuses" else ():
            status.pop(AUTHORED_LENGTH, None)
            status.pop(AUTHORED_SPOILER_LENGTH, None)
        return landed


@pytest.fixture()
def curated_measured(env):
    """The recordings landed by :class:`OlderLanding` and processed (DuckDB, SQLite)."""
    assert land_recordings(env.lake, OlderLanding(env.policy)) > 50  # type: ignore[arg-type]
    run_process(env.settings, progress=False)
    return env


def test_the_curated_rows_of_rewritten_texts_are_those_of_a_rebuild(curated_measured, run_cli,
                                                                   tmp_path: Path) -> None:
    env = curated_measured
    before = curated_tables(env.lake_dir)

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")

    assert result.code == 0, result.err
    rewritten = texts_with_erased(env)
    assert len(rewritten) >= 2  # the reply to the subject and a status mentioning it
    erased = curated_tables(env.lake_dir)
    shorter = lengths(erased, rewritten)
    assert all(shorter[uri] < length for uri, length in lengths(before, rewritten).items()), shorter
    assert f"content rows recounted {len(curated_of(before, rewritten))}" in result.out
    assert_same(erased, rebuilt(env, tmp_path))

    assert run_cli("process").code == 0  # reads the rewritten batches again: changes nothing
    assert_same(curated_tables(env.lake_dir), erased)
    assert_same(curated_tables(env.lake_dir), rebuilt(env, tmp_path))


def test_a_content_warning_an_older_release_landed_is_recounted_as_a_rebuild_counts_it(env, tmp_path: Path) -> None:
    """A content warning naming the subject, landed with privacy on by a release that recorded no length as written
    (measured as landed: the subject's pseudonym): the erasure makes it ``[erased]``, and the curated row gets the
    ``content_warning_length`` a rebuild gives, also where the status's text does not name the subject (a REAL
    recorded status of another person, a warning added) and where it does (the REAL recorded reply to the subject)."""
    older = OlderLanding(env.policy)
    assert land_recordings(env.lake, older) > 50
    reply = next(s for _, s in recorded(("test_status_reply.json",), "statuses") if s.get("mentions"))
    other = next(s for _, s in recorded(("test_status_post[Content warning-public].json",), "statuses"))
    warned = [dict(status, id=status["id"] + "5", uri=status["uri"] + "-5", spoiler_text=f"about @{SUBJECT}")
              for status in (reply, other)]
    now = datetime.now(UTC)
    write_batch(env.lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", older.apply(
        "statuses", json.loads(json.dumps(status)), LOCAL), now) for status in warned], fetched_at=now)
    run_process(env.settings, progress=False)

    erase_account(env.settings, SUBJECT)

    erased = {row["uri"]: row for row in visible(curated_tables(env.lake_dir)["statuses"])}
    assert {erased[f"{env.policy.apply('statuses', dict(s), LOCAL)['uri']}"]["content_warning_length"]
            for s in warned} == {len(f"about @{ERASED}")}
    assert_same(curated_tables(env.lake_dir), rebuilt(env, tmp_path))


def test_an_erasure_stopped_before_its_curated_pass_finishes_it_when_run_again(
        curated, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Stopped (Ctrl-C) after the raw pass, before the first curated statuses file: run again, the raw records no
    longer hold the subject, but their text says [erased], which is what the curated pass recounts by."""
    env = curated
    with monkeypatch.context() as interrupted:
        stop_after(interrupted, "curated/statuses/", 0)
        with pytest.raises(KeyboardInterrupt):
            erase_account(env.settings, SUBJECT)
    assert texts_with_erased(env)

    erase_account(env.settings, SUBJECT)

    assert_same(curated_tables(env.lake_dir), rebuilt(env, tmp_path))


def test_rows_an_older_release_left_are_recounted_by_the_next_erasure(
        curated_measured, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A lake erased by a release that did not recount (its rows keep the longer length): any erasure after, of an
    account the lake does not even hold, gives them the rebuild's, counted apart (nobody's in particular)."""
    env = curated_measured
    with monkeypatch.context() as older:
        older.setattr(RewrittenTexts, "recount", lambda self, rows, schema, lake: rows)
        erase_account(env.settings, SUBJECT)
    want = rebuilt(env, tmp_path)
    rewritten = texts_with_erased(env)
    assert lengths(curated_tables(env.lake_dir), rewritten) != lengths(want, rewritten)

    report = erase_account(env.settings, NOBODY)

    assert report.other["content_rows_recounted"] == len(curated_of(want, rewritten)) > 0
    assert not report.curated and not report.raw.get("records_removed")
    assert_same(curated_tables(env.lake_dir), want)
    assert "content_rows_recounted" not in erase_account(env.settings, NOBODY).other  # nothing left to recount


def test_an_opt_out_erasure_recounts_the_texts_it_rewrites(curated, tmp_path: Path) -> None:
    """The erasure ``fediscope process`` runs for an account that opted out (fediscope.gdpr.opt_outs) rewrites the
    texts mentioning it too, and curates the rewritten batches in the same run."""
    env = curated
    note_opt_outs(env.lake, [env.key(SUBJECT)], "collect")

    summary = run_process(env.settings, progress=False)

    assert summary.curate["opted_out_erased"] == 1
    assert texts_with_erased(env)
    assert_same(curated_tables(env.lake_dir), rebuilt(env, tmp_path))


def lengths_as_written(env: Any) -> dict[tuple[str, bool], int | None]:
    """Each status whose raw text says [erased], by its uri and whether a reblog or a quote carries it: the length of
    its text as written it carries (None without one)."""
    return {(status["uri"], status is not record["data"]): status.get(AUTHORED_LENGTH)
            for path in raw_batch_files(env.lake, "statuses") for record in read_batch(env.lake, path)
            for status in nested_statuses(record["data"]) if ERASED in (status.get("content") or "")}


def test_an_erasure_keeps_the_length_as_written_of_the_texts_it_rewrites(landed, tmp_path: Path) -> None:
    """Was: an erasure replaced the subject's pseudonym by [erased] in the text of a status and dropped the length of
    the text as written that landing recorded (``authored_length``): ``content_length`` became that of the text as
    landed, shorter by the handle, and longer by the pseudonym (25 characters) of everybody else it named. Now every
    status whose text says [erased] keeps the length landed, also the original a reblog carries (a REAL recorded
    boost of the REAL recorded reply to the subject), its ``content_length`` is the one of before the erasure, and
    curated incrementally and rebuilt it is the same."""
    env = landed
    (wrapper,) = {s["id"]: s for _, s in recorded(("test_status_reblog_unreblog.json",), "statuses")
                  if s.get("reblog")}.values()
    reply = next(s for _, s in recorded(("test_status_reply.json",), "statuses") if s.get("mentions"))
    boost = dict(wrapper, id=wrapper["id"] + "1", uri=wrapper["uri"] + "-1", reblog=reply)  # a boost of the reply
    landed_boost = env.policy.apply("statuses", json.loads(json.dumps(boost)), LOCAL)
    assert landed_boost is not None and AUTHORED_LENGTH in landed_boost["reblog"]
    write_batch(env.lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", landed_boost,
                                                       datetime.now(UTC))], fetched_at=datetime.now(UTC))
    carried = {status["uri"]: status[AUTHORED_LENGTH] for path in raw_batch_files(env.lake, "statuses")
               for record in read_batch(env.lake, path) for status in nested_statuses(record["data"])
               if AUTHORED_LENGTH in status}
    run_process(env.settings, progress=False)
    before = curated_tables(env.lake_dir)

    erase_account(env.settings, SUBJECT)

    after = lengths_as_written(env)
    assert {nested for _, nested in after} == {True, False}  # a reblog's original too
    assert after == {(uri, nested): carried[uri] for uri, nested in after}, after
    rewritten = {uri for uri, _ in after}
    assert lengths(curated_tables(env.lake_dir), rewritten) == lengths(before, rewritten)
    assert_same(curated_tables(env.lake_dir), rebuilt(env, tmp_path))


def erased_lengths(settings: Settings, statuses: list[dict[str, Any]],
                   column: str = "content_length") -> dict[str, int]:
    """``column`` (``content_length``) by status id of every public status of a lake that holds the recordings and
    ``statuses`` (landed by ``settings``' policy), processed, then ``SUBJECT`` erased."""
    lake = open_lake(settings.lake)
    policy = policy_from_settings(settings)
    assert land_recordings(lake, policy) > 50
    now = datetime.now(UTC)
    write_batch(lake, "statuses", LOCAL, [envelope(LOCAL, "/api/v1/timelines/public", policy.apply(
        "statuses", json.loads(json.dumps(status)), LOCAL), now) for status in statuses], fetched_at=now)
    run_process(settings, progress=False)
    erase_account(settings, SUBJECT)
    return {row["status_id"]: row[column]
            for row in visible(curated_tables(Path(settings.lake))["statuses"]) if not row["deleted"]}


def test_after_an_erasure_a_text_has_its_length_as_written_with_privacy_on_as_off(tmp_path: Path) -> None:
    """Was: with privacy on, the erasure of an account left the text of another person's status that named it, and
    somebody else, measured as landed: ``@[erased] same! cc @<25-character pseudonym>`` (45) for the text its readers
    saw, ``@mastodonpy_test_2 same! cc @carol@elsewhere.social`` (51), which privacy off counted (its erasure left
    the mention's ``@<span>name</span>`` in the text); and with privacy off, a text the erasure rewrote
    (a handle written whole, ``@mastodonpy_test_2@localhost:3000``, became ``@[erased]``) was measured as rewritten.
    Now every status has the same length with privacy on and off, before and after the erasure: the length of its
    text as written. The REAL recordings, and the REAL recorded reply to the subject with handles added to its text.
    """
    reply = next(s for _, s in recorded(("test_status_reply.json",), "statuses") if s.get("mentions"))
    named = dict(reply, id=reply["id"] + "7", uri=reply["uri"] + "-7",
                 content=reply["content"].removesuffix("</p>") + " cc @carol@elsewhere.social</p>")
    whole = dict(reply, id=reply["id"] + "8", uri=reply["uri"] + "-8",
                 content=reply["content"].removesuffix("</p>") + f" cc @{SUBJECT}</p>")

    on, off = (erased_lengths(lake_settings(tmp_path / name, privacy), [named, whole])
               for name, privacy in (("on", True), ("off", False)))

    assert on[named["id"]] == off[named["id"]] == len("@mastodonpy_test_2 same! cc @carol@elsewhere.social")
    assert on[whole["id"]] == off[whole["id"]] == len(f"@mastodonpy_test_2 same! cc @{SUBJECT}")
    assert on[reply["id"]] == off[reply["id"]] == len("@mastodonpy_test_2 same!")
    assert on == off


def test_after_an_erasure_a_content_warning_has_its_length_as_written_with_privacy_on_as_off(tmp_path: Path) -> None:
    """``content_warning_length`` as ``content_length``: a content warning naming the subject (written whole) and
    somebody else has the length its author wrote, with privacy on (landing replaced both handles by pseudonyms and
    recorded the length; the erasure makes the subject's ``[erased]`` and keeps it) as off (the erasure rewrites
    the warning as collected, and records the length before). The REAL recorded reply to the subject with a
    warning added."""
    reply = next(s for _, s in recorded(("test_status_reply.json",), "statuses") if s.get("mentions"))
    warning = f"about @{SUBJECT} and @carol@elsewhere.social"
    warned = dict(reply, id=reply["id"] + "9", uri=reply["uri"] + "-9", spoiler_text=warning, sensitive=True)

    settings = {name: lake_settings(tmp_path / name, privacy) for name, privacy in (("on", True), ("off", False))}
    on, off = (erased_lengths(settings[name], [warned], "content_warning_length") for name in ("on", "off"))

    assert on[warned["id"]] == off[warned["id"]] == len(warning)
    assert on == off
    for name, erased in (("on", on), ("off", off)):  # a rebuild from the rewritten raw records says the same
        with open_engine(settings[name]) as engine:
            engine.curate(rebuild=True)
        assert {row["status_id"]: row["content_warning_length"] for row in visible(curated_tables(
            Path(settings[name].lake))["statuses"]) if not row["deleted"]} == erased, name
