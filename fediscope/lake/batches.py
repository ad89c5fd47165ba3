"""Writing and reading raw batch files (JSON Lines, optionally gzip) through any lake backend."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from fediscope.errors import DamagedBatchError, LakeError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import RAW_ROOT, batch_path, new_batch_id

#: What to do about a raw batch damaged since it was landed (a line that is not JSON; the engines say it too).
RESTORE_ADVICE = "restore it from a copy, or move it out of the lake, and run again"


def encode_jsonl(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
                    for r in records)


def write_batch(lake: LakeBackend, entity: str, instance: str, records: list[dict[str, Any]],
                fetched_at: datetime | None = None, batch_id: str | None = None,
                compressed: bool = False) -> str | None:
    """Land enveloped records as one batch file, atomically. Returns its lake path (None if no records)."""
    if not records:
        return None
    fetched_at = fetched_at or datetime.now(UTC)
    path = batch_path(entity, instance, fetched_at.astimezone(UTC).date(), batch_id or new_batch_id(fetched_at),
                      compressed=compressed)
    payload = encode_jsonl(records)
    lake.write_atomic(path, gzip.compress(payload) if compressed else payload)
    return path


def decode_jsonl(data: bytes, path: str = "", name: str | None = None) -> Iterator[dict[str, Any]]:
    """The records of a batch's bytes (decompressed first when ``path`` ends in ``.gz``); a line that is not JSON
    is a :class:`DamagedBatchError` naming the file (``name``, else ``path``) and the line, saying what to do (it
    was a ``json`` traceback out of an erasure)."""
    if path.endswith(".gz"):
        data = gunzip_batch(data, name or path)
    for number, line in enumerate(data.splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise DamagedBatchError(
                    f"the raw file {name or path or '(unnamed)'} is damaged: line {number} is not a JSON record "
                    f"({exc}); {RESTORE_ADVICE}") from None


def gunzip_batch(data: bytes, name: str) -> bytes:
    """A ``.jsonl.gz`` batch's bytes decompressed; one that is no whole gzip file (cut short, its header or stream
    damaged) is a :class:`DamagedBatchError` naming it (``name``) and saying what to do. Was: ``gzip``'s EOFError of a
    file cut short, which click takes for a Ctrl-D at a prompt (``gdpr erase``/``export`` said "aborted", exit 130,
    as if stopped), or a traceback of its ``BadGzipFile``/``zlib.error``."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DamagedBatchError(f"the raw file {name or '(unnamed)'} is damaged: it is not a whole gzip file "
                                f"({exc}); {RESTORE_ADVICE}") from None


def read_batch(lake: LakeBackend, path: str) -> Iterator[dict[str, Any]]:
    return decode_jsonl(lake.read(path), path)


def raw_batch_files(lake: LakeBackend, entity: str | None = None) -> list[str]:
    """Every raw batch file (sorted), optionally of one entity."""
    root = f"{RAW_ROOT}/{entity}" if entity else RAW_ROOT
    return [e.path for e in lake.walk(root) if e.path.endswith((".jsonl", ".jsonl.gz"))]


def check_whole_batches(paths: Sequence[str]) -> None:
    """Refuse raw batch files (local paths, as an engine reads them) that cannot be as they were landed: empty, or
    not ending with a newline. A batch is written whole (:func:`write_batch`, NiFi's merge with its newline
    footer), so either means it was cut or damaged since, and its last record is lost or partial: DuckDB drops
    such a line without a word when the file is not the last it reads (:class:`DamagedBatchError`; one that cannot
    be read, :class:`LakeError`). A compressed batch is refused here only when
    empty (no bytes, not even a gzip header; DuckDB said "Input is not a GZIP stream"): a cut one is left to the
    decompressor, which detects it itself; paths that are not local files (``hdfs://``) to the engine."""
    for path in paths:
        if "://" in path:
            continue
        compressed = path.endswith(".gz")
        try:
            with open(path, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                if size and not compressed:
                    handle.seek(size - 1)
                    last = handle.read(1)
        except OSError as exc:
            raise LakeError(f"cannot read the raw file {path}: {exc.strerror or exc}") from None
        if not size:
            raise DamagedBatchError(f"the raw file {path} is empty: a batch is landed with its records, so it was "
                                    "emptied since; restore it from a copy, or delete it, and run again")
        if not compressed and last != b"\n":
            raise DamagedBatchError(f"the raw file {path} is cut short or damaged: it does not end with a newline, so "
                                    "its last record is incomplete (a batch is landed whole); restore it from a copy, "
                                    "or move it out of the lake (its records are then not curated), and run again")
