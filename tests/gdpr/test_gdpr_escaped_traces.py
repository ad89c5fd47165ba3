"""The byte searches of an erasure find a trace however a JSON writer wrote it
(:func:`fediscope.gdpr.subject.may_hold_trace`).

An erasure (and the access export) skips a file whose bytes hold none of the account's traces. JSON may write a
character of a string escaped: ``"``, ``\\`` and control characters always (the lake's own writer,
:func:`~fediscope.lake.batches.encode_jsonl`), non-ASCII characters with ``ensure_ascii`` (Python's default: the
opt-out notes, the export's own JSON), ``/`` as ``\\/`` (Java JSON libraries, such as NiFi's). A trace searched for
as written alone was not found in such a file, the file was skipped and the trace left in the lake.

With privacy on, every trace of the raw pass is a pseudonym (letters, digits, ``urn:fediscope:``), which no writer
escapes; with privacy off the raw pass reads every batch. So the raw batches were not affected; the search is
checked here on real recorded statuses as each writer writes them, and end to end where it did leave traces: an
opt-out note naming an account by a non-ASCII clear key, and a quarantined NiFi batch written with ``\\/``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from gdpr_lake import ACCOUNT_FILES, LOCAL, STATUS_FILES, SUBJECT, files_holding, land_recordings, recorded

from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.gdpr.opt_outs import OPT_OUTS_ROOT, note_opt_outs, pending_opt_outs
from fediscope.gdpr.subject import Traces, may_hold_trace
from fediscope.lake.batches import encode_jsonl, raw_batch_files, read_batch
from fediscope.lake.layout import envelope
from fediscope.privacy import policy_from_settings

USER = SUBJECT.split("@", 1)[0]


def _as_lake_writes(records: list[dict[str, Any]]) -> bytes:
    return encode_jsonl(records)


def _ensure_ascii(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _solidus_escaped(records: list[dict[str, Any]]) -> bytes:
    """As Java JSON libraries write (json-smart by default, Jackson with an escaping option): ``/`` as ``\\/``."""
    return encode_jsonl(records).replace(b"/", b"\\/")


def _upper_hex(records: list[dict[str, Any]]) -> bytes:
    """``ensure_ascii`` with the hex digits in upper case, as Jackson writes ``\\u00E9``."""
    text = _ensure_ascii(records).decode()
    return "\\u".join([text.split("\\u")[0], *(part[:4].upper() + part[4:] for part in text.split("\\u")[1:])]).encode()


def _html_safe(records: list[dict[str, Any]]) -> bytes:
    """As HTML-safe writers write (Go's encoding/json, Flask's htmlsafe dumps): ``<``, ``>``, ``&`` as ``\\u00XX``."""
    text = encode_jsonl(records)
    for char in b"<>&":
        text = text.replace(bytes([char]), f"\\u{char:04x}".encode())
    return text


WRITERS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "lake": _as_lake_writes, "ensure_ascii": _ensure_ascii, "solidus": _solidus_escaped, "upper_hex": _upper_hex,
    "html_safe": _html_safe}
#: What a status link (privacy off: as collected) may hold that some writer escapes.
ODD_LINKS = {"quote": 'http://localhost:3000/@{user}/"{id}"', "backslash": "http://localhost:3000/@{user}/\\{id}",
             "non_ascii": "http://bücher.localhost:3000/@{user}/{id}", "emoji": "http://localhost:3000/@{user}/😀{id}",
             "tab": "http://localhost:3000/@{user}/\t{id}", "html": "http://localhost:3000/@{user}/{id}?a=1&b=<2>"}


def _privacy_off(env: Any) -> Any:
    return dataclasses.replace(env, settings=env.settings.replace(privacy=False, pseudonym_key=None))


def _subject_status() -> dict[str, Any]:
    """A REAL recorded status of the subject (a copy)."""
    status = next(s for instance, s in recorded(STATUS_FILES, "statuses")
                  if instance == LOCAL and s["account"]["acct"] == USER and not s.get("reblog"))
    return copy.deepcopy(status)


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("odd", ODD_LINKS)
def test_a_batch_holding_a_trace_is_found_however_it_was_written(env: Any, writer: str, odd: str) -> None:
    """The subject's recorded status, landed with privacy off, its ``url`` holding a character some writer escapes:
    that link, a trace as the first pass notes it from the decoded record, is found in the batch's bytes as each
    writer writes them; a batch of the same record with another status's link is not taken for it."""
    status = _subject_status()
    status["url"] = ODD_LINKS[odd].format(user=USER, id=status["id"])
    landed = policy_from_settings(_privacy_off(env).settings).apply("statuses", status, LOCAL)
    record = envelope(LOCAL, "/api/v1/timelines/public", landed, None)
    traces = Traces(key=SUBJECT, clear=True)
    traces.note_record("statuses", json.loads(encode_jsonl([record]))["data"], LOCAL)
    assert status["url"] in traces.values()

    written = WRITERS[writer]([record])
    assert [json.loads(line) for line in written.splitlines()] == [json.loads(encode_jsonl([record]))]  # same JSON
    assert may_hold_trace(written, {status["url"]})
    other = copy.deepcopy(record)
    other["data"].update(url=status["url"].replace(str(status["id"]), "1"), uri=None)
    assert not may_hold_trace(WRITERS[writer]([other]), {status["url"]})


def test_pseudonyms_are_searched_as_written(landed: Any) -> None:
    """The traces of a lake landed with privacy on hold no character a writer escapes: their search is a plain one,
    and finds the key in the lake's batches as before."""
    from fediscope.gdpr.subject import _any_of_bytes

    key = landed.key(SUBJECT)
    assert _any_of_bytes(frozenset({key, f"urn:fediscope:u{key[1:]}"})).pattern == (
        f"(?:{key}|urn:fediscope:u{key[1:]})".encode())
    assert any(may_hold_trace(landed.lake.read(p), {key}) for p in raw_batch_files(landed.lake)
               if not p.endswith(".gz"))


def test_an_opt_out_note_naming_a_non_ascii_clear_key_is_exported_and_erased(env: Any) -> None:
    """Privacy off: a note holds the clear key, written with ``ensure_ascii`` (``mastodonpy_t\\u00ebst_2@…``). Was:
    the note's bytes were searched for the key as UTF-8, so the export did not list the note and the erasure left
    it, the erased account named in the lake until the next curation."""
    env = _privacy_off(env)
    land_recordings(env.lake, policy_from_settings(env.settings))
    account = next(a for instance, a in recorded(ACCOUNT_FILES, "accounts") if instance == LOCAL and a["acct"] == USER)
    opted = {**copy.deepcopy(account), "username": "mastodonpy_tëst_2", "acct": "mastodonpy_tëst_2", "noindex": True}
    policy = policy_from_settings(env.settings)
    assert policy.apply("accounts", opted, LOCAL) is None  # skipped, and noted as a landing run notes it
    key = f"mastodonpy_tëst_2@{LOCAL}"
    assert policy.opted_out == {key}
    note = note_opt_outs(env.lake, policy.opted_out, "collect")
    assert note is not None and json.dumps(key)[1:-1].encode() in env.lake.read(note)  # escaped, as json writes it

    exported = export_account(env.settings, key)
    assert [n["path"] for n in exported["opt_out_notes"]] == [note]

    report = erase_account(env.settings, key)
    assert report.other.get("opt_out_notes_removed") == 1
    assert key not in pending_opt_outs(env.lake)[0]
    assert files_holding([env.lake_dir / OPT_OUTS_ROOT], [key, json.dumps(key)[1:-1]]) == {}


def test_a_quarantined_nifi_batch_written_with_escaped_slashes_is_erased(env: Any) -> None:
    """Privacy off: a batch NiFi could not land goes to quarantine whole (``nifi_landing-…``), JSON Lines as its JSON
    library wrote them, here with ``/`` as ``\\/``. Was: neither the account's status links nor its profile link
    were found in its bytes, the file is not one JSON document, and it stayed with the account's statuses."""
    env = _privacy_off(env)
    land_recordings(env.lake, policy_from_settings(env.settings))
    own = [record for path in raw_batch_files(env.lake, "statuses") for record in read_batch(env.lake, path)
           if record["data"]["account"]["acct"] == USER]
    assert own
    path = f"quarantine/instance={LOCAL}/dt=2026-08-01/nifi_landing-20260801T000000Z-0a1b2c3d.json"
    env.lake.write_atomic(path, _solidus_escaped(own))
    assert f"{LOCAL}/@{USER}".encode() not in env.lake.read(path)  # only escaped forms

    report = erase_account(env.settings, SUBJECT)
    assert report.other.get("quarantined_files_deleted") == 1
    assert not env.lake.exists(path)


def test_a_quarantined_json_lines_batch_is_read_line_by_line_for_the_account(env: Any) -> None:
    """Privacy off: a NiFi batch quarantined whole, JSON Lines, holds the subject's account record without its
    links (``url`` and ``uri`` null: why it was refused), so its bytes hold neither the account's key nor a link of
    it; the record's ``acct`` and ``instance`` name it. Was: the file, not one JSON document, was not read at all,
    and stayed; a batch of other accounts stays."""
    env = _privacy_off(env)
    land_recordings(env.lake, policy_from_settings(env.settings))
    accounts = {a["acct"]: a for instance, a in recorded(ACCOUNT_FILES, "accounts") if instance == LOCAL}
    subject = {**copy.deepcopy(accounts[USER]), "url": None, "uri": None}
    other = copy.deepcopy(next(a for acct, a in accounts.items() if acct != USER))
    day = "quarantine/instance=" + LOCAL + "/dt=2026-08-01/"
    named = day + "nifi_landing-20260801T000000Z-0a1b2c3d.json"
    others = day + "nifi_landing-20260801T000000Z-4e5f6a7b.json"
    env.lake.write_atomic(named, encode_jsonl([envelope(LOCAL, "/api/v1/directory", account, None)
                                               for account in (other, subject)]))
    env.lake.write_atomic(others, encode_jsonl([envelope(LOCAL, "/api/v1/directory", other, None)] * 2))
    data = env.lake.read(named)
    assert data.count(b"\n") == 2 and SUBJECT.encode() not in data and f"{LOCAL}/@{USER}".encode() not in data
    assert f"{LOCAL}/ap/users/{subject['id']}".encode() not in data

    report = erase_account(env.settings, SUBJECT)
    assert report.other.get("quarantined_files_deleted") == 1
    assert not env.lake.exists(named) and env.lake.exists(others)
