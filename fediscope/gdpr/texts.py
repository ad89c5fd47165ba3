"""The curated columns computed from a status's text, kept as a curation of the erased raw record gives them.

An erasure replaces what still names the erased account inside other people's statuses (its handle, links to it
or to its statuses) by :data:`ERASED` in their raw records (:mod:`fediscope.gdpr.erase`, step 4). That changes the
columns curation computes from the text (:data:`~fediscope.engine.curate_sql.CONTENT_COLUMNS`: ``content_length``,
``url_count``, ``unicode_emoji_count``), which the curated pass would otherwise leave as they were: a rebuild
(``fediscope process --recurate``) gives the shorter length, and a ``fediscope process`` reading the rewritten batch
again keeps the curated row's, the longer text winning the tie between two versions of one fetch
(:data:`~fediscope.engine.curate_sql.STATUS_ORDER`), so the incrementally curated lake and the rebuilt one differed.

So the raw pass notes the raw status records whose text says :data:`ERASED` (:meth:`RewrittenTexts.note`): those it
rewrote, and those an earlier erasure rewrote (one interrupted before its curated pass, or by a release before
this one). The curated pass then curates them with curation's own statements
(:data:`~fediscope.engine.curate_sql.STATUS_RECORDS`, :data:`~fediscope.engine.curate_sql.STATUS_VERSIONS`, on the
DuckDB engine: the Spark engine runs the same statements) and gives each curated ``statuses`` row that is one of
those versions — equal to it in every other column but the merge's (:data:`~fediscope.engine.curate_sql.
MERGED_COLUMNS`), once the erasure's own scrub of the row is done — the version's content columns
(:meth:`RewrittenTexts.recount`). A row equal to versions whose content columns differ is left as it is: which of
them the merge chose cannot be told (two versions of one fetch that differ in their text alone).

``content_length`` is the length of the text as written, as its readers saw it (:data:`~fediscope.privacy.
AUTHORED_LENGTH`), also where an erasure rewrote it: the raw pass keeps the length landing recorded (privacy on: the
handles of the erased account and of everybody else became pseudonyms of other lengths, and the erased account's now
:data:`ERASED`), and with privacy off, where the text as collected is the text as written, records the length of the
text before its rewrite (:func:`~fediscope.privacy.keep_lengths_as_written`). So a status has one length landed with
privacy on or off, before or after the erasure (the landing records the length as written where it writes
:data:`ERASED` too, with privacy off where it rewrites a mention of an erased account); with privacy off that is
also where the erasure rewrote a mention of the account (``@<span>name</span>`` and its profile link,
:mod:`fediscope.gdpr.mentions`). Only a text landed with privacy on by a release before that length was recorded, or
rewritten by a release that dropped it, cannot be measured as written: it is measured as it is (its pseudonyms and
:data:`ERASED`, 25 and 8 characters). The content columns the curated pass recounts are then those of such texts,
and ``url_count`` and ``unicode_emoji_count`` where a rewrite changed them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from fediscope.gdpr.subject import ERASED, nested_statuses
from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import decode_jsonl, encode_jsonl
from fediscope.lake.layout import parse_partition
from fediscope.privacy import WRITTEN_LENGTHS

_MARKER = ERASED.encode()


def says_erased(data: Any) -> bool:
    """Does a raw status record's ``data`` hold :data:`ERASED` in the text or the content warning of a status it
    carries?"""
    return any(ERASED in str(status.get(text) or "") for status in nested_statuses(data) for text in WRITTEN_LENGTHS)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass
class RewrittenTexts:
    """The raw status records whose text an erasure rewrote (:meth:`note`), and the curated rows given their content
    columns by them (:meth:`recount`; counted in :attr:`rows`)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0  # curated rows whose content columns changed
    _versions: dict[str, list[dict[str, Any]]] | None = None  # the records curated (by uri), at the first recount

    def note(self, path: str, text: bytes) -> None:
        """Remember the records of a raw batch (``path``; ``text`` decompressed, as left by the erasure) whose status
        text says :data:`ERASED`. Only the lines holding it are parsed (the others are blanked, so a damaged line's
        number stays right)."""
        if _MARKER not in text or parse_partition(path).get("entity") != "statuses":
            return
        lines = b"\n".join(line if _MARKER in line else b"" for line in text.splitlines())
        self.records.extend(record for record in decode_jsonl(lines, name=path)
                            if isinstance(record, dict) and says_erased(record.get("data")))

    def counts(self) -> dict[str, int]:
        """``content_rows_recounted``, when not 0."""
        return {"content_rows_recounted": self.rows} if self.rows else {}

    def recount(self, rows: list[dict[str, Any]], schema: pa.Schema, lake: LakeBackend) -> list[dict[str, Any]]:
        """The rows of one curated ``statuses`` file (of ``schema``), each that is one of the noted records' versions
        with that version's content columns (module docstring); the same list when none changes. ``lake``: the
        erasure's, given to the engine that curates the records, which then opens no other."""
        if not self.records:
            return rows
        versions = self._curated(lake)
        found = [version for uri in {row.get("uri") for row in rows} for version in versions.get(uri, ())]
        if not found:
            return rows
        index, compared, content = _index(pa.Table.from_pylist(found), schema)
        out = [_recounted(row, index, compared, content) for row in rows]
        changed = sum(1 for before, after in zip(rows, out, strict=True) if before is not after)
        self.rows += changed
        return out if changed else rows

    def uris(self, lake: LakeBackend) -> frozenset[Any]:
        """The ``uri`` of every version of the noted records (curated on the first call, as by :meth:`recount`):
        :meth:`recount` changes no row with another."""
        return frozenset(self._curated(lake)) if self.records else frozenset()

    def _curated(self, lake: LakeBackend) -> dict[str, list[dict[str, Any]]]:
        if self._versions is None:
            self._versions = {}
            for version in curate_records(self.records, lake):
                self._versions.setdefault(version["uri"], []).append(version)
        return self._versions


def curate_records(records: Iterable[dict[str, Any]], lake: LakeBackend) -> list[dict[str, Any]]:
    """The status versions curation makes of raw status ``records`` (envelopes: ``meta``, ``data``), by its own
    statements (:data:`~fediscope.engine.curate_sql.STATUS_RECORDS`, then
    :data:`~fediscope.engine.curate_sql.STATUS_VERSIONS`), on the DuckDB engine."""
    from fediscope.config import Settings
    from fediscope.engine import curate_sql as sql
    from fediscope.engine.duckdb_engine import DuckDBEngine

    with tempfile.TemporaryDirectory(prefix="fediscope-erased-") as tmp:
        path = Path(tmp) / "statuses.jsonl"
        path.write_bytes(encode_jsonl(records))
        with DuckDBEngine(Settings(), lake) as engine:
            engine.register_raw("raw_statuses", "statuses", [str(path)])
            engine.materialize("status_records", sql.STATUS_RECORDS)
            return engine.query(sql.STATUS_VERSIONS)


_Index = dict[tuple[Any, ...], set[tuple[Any, ...]]]


def _index(versions: pa.Table, schema: pa.Schema) -> tuple[_Index, list[str], list[str]]:
    """The ``versions`` as a file of ``schema`` holds them (its columns, its types): their content columns (those
    the file has) by the values of every other column the file has but the merge's, and the names of both."""
    from fediscope.engine.curate_sql import CONTENT_COLUMNS, MERGED_COLUMNS

    names = [name for name in schema.names if name in versions.column_names and name not in MERGED_COLUMNS]
    typed = versions.select(names).cast(pa.schema([schema.field(name) for name in names]))
    content = [name for name in names if name in CONTENT_COLUMNS]
    compared = [name for name in names if name not in CONTENT_COLUMNS]
    index: _Index = {}
    for version in typed.to_pylist():
        key = tuple(_hashable(version[name]) for name in compared)
        index.setdefault(key, set()).add(tuple(version[name] for name in content))
    return index, compared, content


def _recounted(row: dict[str, Any], index: _Index, compared: Sequence[str], content: Sequence[str]) -> dict[str, Any]:
    """``row`` with the content columns of the one noted version it is, or the same object (none, several, or
    those it has already)."""
    matches = index.get(tuple(_hashable(row.get(name)) for name in compared), set())
    if len(matches) != 1:
        return row
    values = dict(zip(content, next(iter(matches)), strict=True))
    return row if all(row.get(name) == value for name, value in values.items()) else {**row, **values}
