"""The raw pass of an erasure parses only the lines whose bytes may hold what a key's step changes, found by one
search of a batch's lines together (:class:`fediscope.gdpr.erase._LineSearch`), with needles that grow as replies add
copies (:class:`fediscope.gdpr.erase._Needles`): the result is that of parsing every line."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from gdpr_lake import LOCAL, STATUS_FILES, SUBJECT, recorded

from fediscope.config import Settings
from fediscope.gdpr import erase
from fediscope.gdpr.erase import (
    _erase_records,
    _Line,
    _lines,
    _LineSearch,
    _Needles,
    _scrub_old_replies,
    erase_account,
    find_traces,
)
from fediscope.gdpr.old_replies import OldReplies
from fediscope.gdpr.subject import ERASED, Traces, subject_from_settings, trace_search
from fediscope.lake.backend import open_lake
from fediscope.lake.batches import decode_jsonl, encode_jsonl, raw_batch_files, read_batch
from fediscope.lake.layout import batch_path, envelope
from fediscope.privacy import policy_from_settings


def _copy(settings: Settings, to: Path) -> Settings:
    """Settings of a copy of the lake of ``settings`` (and of a store not made yet), under ``to``."""
    shutil.copytree(settings.lake, to / "lake")
    return replace(settings, lake=str(to / "lake"), store=f"sqlite:///{to / 'store.db'}")


def _raw_records(settings: Settings) -> dict[str, list[Any]]:
    """Every raw batch's records, decoded (a line parsed is written anew, one not parsed as it was read)."""
    lake = open_lake(settings.lake)
    return {path: list(decode_jsonl(erase.read_batch_text(lake, path), name=path)) for path in raw_batch_files(lake)}


def test_erasing_with_the_line_search_gives_what_parsing_every_line_gives(landed: Any, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    every_line = _copy(landed.settings, tmp_path / "every-line")
    searched = erase_account(landed.settings, SUBJECT).as_dict()
    with monkeypatch.context() as patch:
        patch.setattr(_LineSearch, "holds", lambda *_: True)  # the pass as it was: each line parsed
        parsed = erase_account(every_line, SUBJECT).as_dict()

    assert searched["raw"]["records_removed"] > 0 and searched["raw"]["records_scrubbed"] > 0
    assert {k: v for k, v in searched.items() if k != "at"} == {k: v for k, v in parsed.items() if k != "at"}
    assert _raw_records(landed.settings) == _raw_records(every_line)


def _reply_and_other(landed: Any) -> tuple[str, list[dict[str, Any]], Traces]:
    """A raw statuses batch's path, a reply to the subject landed there and another person's status of that batch that
    names neither the subject nor its statuses, and the subject's traces with no copy of its statuses known."""
    subject = subject_from_settings(landed.settings, SUBJECT)
    found = find_traces(landed.lake, subject)
    for path in raw_batch_files(landed.lake):
        records = list(decode_jsonl(erase.read_batch_text(landed.lake, path), name=path))
        replies = [r for r in records if r["data"].get("in_reply_to_account_id") in found.ids]
        others = [r for r in records if r["data"].get("in_reply_to_id") is None
                  and not trace_search(found.values()).search(json.dumps(r).encode())]
        if replies and others:
            traces = Traces(key=found.key, ids=set(found.ids), status_links=set(found.status_links))
            return path, [replies[0], others[0]], traces
    raise AssertionError("the recorded lake has no batch with a reply to the subject and an unrelated status")


def test_a_line_after_a_reply_that_adds_a_copy_is_searched_for_the_copys_id(landed: Any) -> None:
    path, (reply, other), traces = _reply_and_other(landed)
    replied = reply["data"]["in_reply_to_id"]
    # another status of the batch replying to the same status, known by its id alone (no account id): the reply
    # before it adds the copy, and with it the id as a needle, for the lines after it
    other["data"]["in_reply_to_id"] = replied
    other["data"].pop("in_reply_to_account_id", None)
    lines = [_Line(number, json.dumps(record).encode()) for number, record in enumerate([reply, other], 1)]
    values = traces.values()
    assert not trace_search(values).search(lines[1].data) and not traces.status_copies

    kept, _, counts = _erase_records(path, list(lines), [None, None], traces, values, _Needles(traces, values))

    assert counts["records_scrubbed"] == 2, counts
    assert [record["data"]["in_reply_to_id"] for record in kept] == [ERASED, ERASED]


LINES = [b"ab", b"q", b"xyz", b"b\\u000a", b"no", b"cx", b"b"]
TRACES = [{"ab\nq"}, {"ab\nq", "b"}, {"z\nb"}, {"b\nc", "cx"}, {"\n"}, {"q"}, {"nothing"}, set()]


@pytest.mark.parametrize("traces", TRACES)
def test_the_lines_searched_together_hold_what_each_searched_alone_holds(traces: set[str]) -> None:
    pattern = trace_search(traces)
    alone = [pattern.search(line) is not None for line in LINES]
    search = _LineSearch([_Line(number, line) for number, line in enumerate(LINES, 1)])

    assert [search.holds(i, [pattern]) for i in range(len(LINES))] == alone


def test_several_patterns_asked_from_a_later_line_on() -> None:
    search = _LineSearch([_Line(number, line) for number, line in enumerate(LINES, 1)])
    first, second = trace_search({"b"}), trace_search({"q", "no"})

    assert search.holds(0, [first])  # "ab"
    assert not search.holds(1, [first]) and search.holds(1, [first, second])  # "q": the second pattern, asked anew
    assert [search.holds(i, [first, second]) for i in range(2, len(LINES))] == [False, True, True, False, True]


def test_needles_added_one_by_one_are_all_searched_by_a_few_patterns() -> None:
    traces = Traces(key="k0123456789abcdef01234567")
    needles = _Needles(traces, traces.values())
    for n in range(1, 65):  # one new copy of the account's statuses at a time, as replies add them
        traces.status_copies.add(f"x.social/{1000 + n}")
        patterns = needles.patterns()
        assert len(patterns) <= (n + 1).bit_length(), (n, len(patterns))

    assert all(any(p.search(b'"id":"%d"' % (1000 + n)) for p in patterns) for n in range(1, 65))
    assert any(p.search(traces.key.encode()) for p in patterns)
    assert not any(p.search(b'"id":"999"') for p in patterns)


def test_a_reply_to_an_erased_account_is_looked_at_without_a_reply_id(env: Any) -> None:
    """The old replies' line search (:data:`~fediscope.gdpr.old_replies.LINE_PATTERNS`) finds a reply to an erased
    account by its account id alone: its ``in_reply_to_id`` may be null, or erased already."""
    statuses = [env.policy.apply("statuses", json.loads(json.dumps(status)), LOCAL)
                for instance, status in recorded(STATUS_FILES, "statuses") if instance == LOCAL]
    reply = next(status for status in statuses if status["in_reply_to_account_id"])
    others = [status for status in statuses if not status["in_reply_to_account_id"]][:3]
    for replied in (None, ERASED):
        reply["in_reply_to_id"] = replied
        records = [envelope(LOCAL, "/api/v1/timelines/public", status) for status in [*others, reply, *others]]
        lines = _lines(encode_jsonl(records))
        listed = policy_from_settings(env.settings, suppressed={reply["in_reply_to_account_id"]})

        assert _scrub_old_replies(batch_path("statuses", LOCAL, date(2026, 11, 20), "b1"), lines,
                                  OldReplies(suppression=listed))
        assert [type(each).__name__ for each in lines] == ["_Line"] * 3 + ["dict"] + ["_Line"] * 3
        assert lines[3]["data"]["in_reply_to_account_id"] is None
        assert lines[3]["data"]["in_reply_to_id"] == replied


def test_the_deletion_batches_are_searched_with_needles_made_once_per_erasure(landed: Any,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: each raw batch of streamed deletions made a set of the id of every copy of the account's statuses and
    of every ``origin_ref`` anew, which the pattern cache then hashed and compared with the one it held, element by
    element: each deletion batch cost as much as the account has statuses. Now the key's needles
    (:class:`~fediscope.gdpr.erase._Needles`) search them, made once: no set searched is made again."""
    from streamed_deletions import land_deletion

    from fediscope.gdpr import subject as subject_module

    subject = subject_from_settings(landed.settings, SUBJECT)
    mine = sorted(find_traces(landed.lake, subject).status_copies)[:3]
    received = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    for copy in [*mine, f"{LOCAL}/1"]:  # the last: of no status of the account
        instance, _, status_id = copy.rpartition("/")
        land_deletion(landed.lake, status_id, instance, received, landed.policy)
    traces = find_traces(landed.lake, subject)
    searched: list[frozenset[str]] = []  # held: no set's id is reused by another
    original = subject_module._any_of_bytes

    def spy(needles: frozenset[str]) -> Any:
        searched.append(needles)
        return original(needles)

    monkeypatch.setattr(subject_module, "_any_of_bytes", spy)
    erase.erase_raw(landed.lake, [(subject, traces)])

    left = [record["data"]["id"] for path in raw_batch_files(landed.lake, "status_deletions")
            for record in read_batch(landed.lake, path)]
    assert left == ["1"], left  # the account's deletions went, each batch searched
    made = {id(needles): needles for needles in searched}
    assert len(made) == len(set(made.values())), [len(needles) for needles in made.values()]
