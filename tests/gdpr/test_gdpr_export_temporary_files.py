"""``fediscope gdpr export`` and the temporary files that raw batches' writes killed before their rename leave.

A collector lands a batch by writing it to a hidden ``.<name>.<random>.tmp`` beside its target and renaming it into
place (:meth:`~fediscope.lake.local.LocalLake.write_atomic`); ``fediscope collect`` killed in between leaves that
file, with the batch's records, the account's among them, until an erasure or retention removes it a day later. Was:
the export read only the batches, so its answer left out records the lake held. Now it reads such files too (never
changes them), lists what they hold as the batches' records are listed, with ``unfinished_write``: true, and leaves
out a last line a write under way has not finished, without failing.

The temporary files are made by the backend's own temporary-file writer from the bytes of landed batches holding the
account, each batch then removed, as a collector killed between writing and renaming it leaves the lake.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gdpr_lake import SUBJECT, files_holding

from fediscope.gdpr.export import export_account
from fediscope.lake.local import LocalLake


def _killed_write(lake_dir: Path, batch: Path, data: bytes) -> str:
    """The lake path of the temporary file a write of ``data`` to ``batch`` killed before its rename leaves (the batch
    never landed)."""
    temporary = Path(LocalLake._write_temporary(batch, data))
    batch.unlink()
    return temporary.relative_to(lake_dir).as_posix()


def _entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["raw"]["records"] + document["raw"]["references"]


def _moved(entries: list[dict[str, Any]], batch: str, temporary: str) -> list[dict[str, Any]]:
    """``entries`` of ``batch`` as the export lists them once read from its write's ``temporary`` file."""
    return [{**entry, "path": temporary, "unfinished_write": True} for entry in entries if entry["path"] == batch]


def _sorted(entries: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(entry, sort_keys=True) for entry in entries)


def test_the_export_lists_the_records_of_killed_writes_and_skips_a_cut_last_line(landed) -> None:  # noqa: ANN001
    key = landed.key(SUBJECT)
    lake_dir = landed.lake_dir
    batches = {Path(p).relative_to(lake_dir).as_posix(): Path(p) for p in files_holding([lake_dir / "raw"], [key])}
    whole = next(p for p in sorted(batches) if "/statuses/" in p and p.endswith(".jsonl"))
    compressed = next(p for p in sorted(batches) if p.endswith(".jsonl.gz"))
    cut = next(p for p in sorted(batches) if "/accounts/" in p)
    cut_lines = batches[cut].read_bytes().splitlines(keepends=True)
    assert key.encode() in cut_lines[-1]  # the search finds the cut line: it is parsed
    before = export_account(landed.settings, SUBJECT)
    assert all(any(e["path"] == batch for e in _entries(before)) for batch in (whole, compressed, cut))

    temporary = {whole: _killed_write(lake_dir, batches[whole], batches[whole].read_bytes())}
    # a write under way (or killed) part-way through its last line, just after the account's key in it
    last = cut_lines[-1]
    cut_bytes = b"".join(cut_lines[:-1]) + last[:last.index(key.encode()) + 8]
    temporary[cut] = _killed_write(lake_dir, batches[cut], cut_bytes)
    gz = batches[compressed].read_bytes()
    temporary[compressed] = _killed_write(lake_dir, batches[compressed], gz[:len(gz) // 2])  # no gzip trailer yet

    after = export_account(landed.settings, SUBJECT)

    untouched = [e for e in _entries(before) if e["path"] not in temporary]
    cut_record = json.loads(last)
    expected = (untouched + _moved(_entries(before), whole, temporary[whole])
                + [e for e in _moved(_entries(before), cut, temporary[cut]) if e.get("record") != cut_record])
    listed = [e for e in _entries(after) if e["path"] != temporary[compressed]]
    assert _sorted(listed) == _sorted(expected)
    assert len(expected) < len(_entries(before))  # the cut record is left out, the others are listed
    # the compressed one as far as the half of its bytes decompresses: the first of its entries, in order
    from_gz = [e for e in _entries(after) if e["path"] == temporary[compressed]]
    of_gz = _moved(_entries(before), compressed, temporary[compressed])
    assert from_gz and from_gz == of_gz[:len(from_gz)]
    # read only
    assert all((lake_dir / path).exists() for path in temporary.values())
