"""Finding and removing rows in the curated Parquet tables (``<lake>/curated/<table>/…``): one account's (erasure),
or the account snapshots retention expires (:func:`drop_rows`).

Parquet files are immutable: removing a row means writing the file again without it. Each affected file is
read through the lake backend, filtered in memory and written back under the same name with
:meth:`~fediscope.lake.backend.LakeBackend.write_atomic` (same schema, same compression), so a reader sees the
old file or the new one, never half of one; a file left without rows is deleted. Files that hold no trace of
the account are not touched. Only the rows in which Arrow finds a trace or an id of the account (or what the raw
pass noted, below) become Python objects and go through the steps (:func:`_candidates`); the others are copied into
the rewritten file as they were read.

Rows are removed when they *are* the account's (``account_key`` equals its key) or describe one of its statuses
(``uri``, ``status_uri`` or ``reblog_of_uri`` is one of its status links — boosts of its statuses, its hashtag
uses; ``status_deletions``: a deletion of one of them, by a copy's instance and id or by its ``origin_ref``); in the
remaining rows, its key is dropped from lists (``mentions``) and replaced in text; a ``statuses`` row whose text the
raw pass rewrote gets the columns curation computes from the text anew (:mod:`fediscope.gdpr.texts`).
"""

from __future__ import annotations

import functools
import string
from collections import Counter
from collections.abc import Callable, Iterator, Sequence, Set
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fediscope.engine.schema import STATUS_DELETIONS
from fediscope.gdpr.old_replies import OldReplies
from fediscope.gdpr.subject import (
    ERASED,
    ORIGIN_REF_COLUMN,
    STATUS_ID_COLUMN,
    STATUS_INSTANCE_COLUMNS,
    Traces,
    contains_trace,
    copy_ids,
    scrub,
    status_copy,
)
from fediscope.gdpr.texts import RewrittenTexts
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import CURATED_ROOT, curated_dir, is_staged
from fediscope.step_progress import in_steps

STATUS_LINK_COLUMNS = ("uri", "status_uri", "reblog_of_uri")
#: Columns of other people's rows that hold one account key: where it is the account's, it becomes NULL, as the raw
#: record it was curated from loses the reference (a quote post loses ``quoted_status``, so a re-curation gives
#: NULL). Scrubbed to ``[erased]`` instead, the row would still say "this status quoted somebody who asked to be
#: forgotten", which mentions are removed to avoid (:mod:`fediscope.gdpr.erase`).
KEY_REFERENCE_COLUMNS = ("quoted_account_key",)


def curated_files(lake: LakeBackend, table: str | None = None) -> list[str]:
    """The Parquet files of every curated table, or of ``table`` alone. A curation's staged output is not curated
    data: left by a run killed outright, it may hold a file cut short (the next curation, or an erasure, removes it:
    :func:`~fediscope.engine.workspace.tidy_stopped_runs`)."""
    root = CURATED_ROOT if table is None else curated_dir(table)
    return [e.path for e in lake.walk(root) if e.path.endswith(".parquet") and not is_staged(e.path)]


def table_of(path: str) -> str:
    """``curated/statuses/dt=2026-08-01/part-0.parquet`` → ``statuses``."""
    return path.split("/")[1]


def read_table(lake: LakeBackend, path: str) -> tuple[pa.Table, str]:
    """The file's rows and its compression codec (kept when the file is rewritten)."""
    data = lake.read(path)
    parquet = pq.ParquetFile(pa.BufferReader(data))
    metadata = parquet.metadata
    codec = "snappy"
    if metadata.num_row_groups and metadata.num_columns:
        codec = str(metadata.row_group(0).column(0).compression).lower()
    return parquet.read(), ("none" if codec == "uncompressed" else codec)


def write_table(lake: LakeBackend, path: str, table: pa.Table, codec: str) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=codec)
    lake.write_atomic(path, sink.getvalue().to_pybytes())


def replace_file(lake: LakeBackend, path: str, table: pa.Table, codec: str) -> None:
    """Put ``table`` in place of the curated file at ``path`` (atomically), or delete the file when no row is left."""
    if table.num_rows:
        write_table(lake, path, table, codec)
    else:
        lake.delete(path)


def _rows(lake: LakeBackend, progress: Callable[[str], None] | None = None,
          label: str = "") -> Iterator[tuple[str, pa.Table, str]]:
    for path in in_steps(curated_files(lake), label, progress):
        table, codec = read_table(lake, path)
        yield path, table, codec


def _as_list(traces: Traces | Sequence[Traces]) -> list[Traces]:
    return [traces] if isinstance(traces, Traces) else list(traces)


#: The columns of a curated row that identify a status besides its link (:func:`~fediscope.gdpr.subject.names_status`),
#: and its other copies.
_STATUS_IDENTITY_COLUMNS = (STATUS_ID_COLUMN, *STATUS_INSTANCE_COLUMNS, ORIGIN_REF_COLUMN, "copies")


def note_curated_traces(lake: LakeBackend, traces: Traces | Sequence[Traces]) -> None:
    """Add the links and ids (:attr:`Traces.status_ids`, :attr:`Traces.origin_refs`) of the account's statuses
    known only to the curated tables (raw partitions may be gone); for several keys of one account, each file is
    read once for all of them."""
    found = {each.key: each for each in _as_list(traces)}
    for _, table, _ in _rows(lake):
        if "account_key" not in table.column_names or "uri" not in table.column_names:
            continue
        columns = ["account_key", "uri", *(c for c in _STATUS_IDENTITY_COLUMNS if c in table.column_names)]
        # only the keys' rows become Python objects: the others are skipped below anyway
        theirs = table.select(columns).filter(_equal_to_any(table["account_key"], set(found)))
        for row in theirs.to_pylist():
            owner = found.get(row["account_key"])
            if owner is None:
                continue
            if row["uri"] and row["uri"] != ERASED:
                owner.status_links.add(row["uri"])
            owner.note_status(row.get(STATUS_ID_COLUMN), (row.get(c) for c in STATUS_INSTANCE_COLUMNS),
                              row.get(ORIGIN_REF_COLUMN),
                              copies=[status_copy(row.get("fetched_from"), row.get(STATUS_ID_COLUMN)),
                                      *(row.get("copies") or [])])


def _belongs(row: dict[str, Any], traces: Traces, table: str) -> bool:
    """Is the row the account's: its own, one describing one of its statuses, or (``status_deletions``) a
    deletion of one of its statuses — a status id on a known instance names its author, through the instance's
    API or any archive of it. Later copies of such a status need no tombstone: the suppression list keeps the
    account's statuses from being landed again."""
    if table == STATUS_DELETIONS.name:
        return traces.with_deletions and traces.names_deletion(row.get("instance"), row.get(STATUS_ID_COLUMN),
                                                               row.get(ORIGIN_REF_COLUMN))
    return row.get("account_key") == traces.key or any(
        row.get(column) in traces.status_links for column in STATUS_LINK_COLUMNS if row.get(column))


def _scrubbed(row: dict[str, Any], traces: Traces, values: Set[str]) -> dict[str, Any]:
    """A kept row without the account: :data:`KEY_REFERENCE_COLUMNS` holding its key set to NULL, an
    ``in_reply_to_id`` naming one of its statuses (on the row's ``fetched_from``) replaced by :data:`ERASED` (the
    row stays a reply, as the raw record it was curated from does), then every trace in ``values`` scrubbed (the
    same object when nothing changes)."""
    named = [column for column in KEY_REFERENCE_COLUMNS if row.get(column) == traces.key]
    if named:
        row = {**row, **dict.fromkeys(named, None)}
    if status_copy(row.get("fetched_from"), row.get("in_reply_to_id")) in traces.status_copies:
        row = {**row, "in_reply_to_id": ERASED}
    return scrub(row, values) if contains_trace(row, values) else row


def _erase_rows(rows: list[dict[str, Any]], traces: Traces,
                table: str) -> tuple[list[int], list[dict[str, Any]], Counter[str] | None]:
    """One key's step over the rows of one file of ``table``: the indices in ``rows`` of the rows kept, those rows
    (scrubbed), and the rows removed and scrubbed (None when the key changes nothing in the file)."""
    values = traces.values()
    keep = [i for i, row in enumerate(rows) if not _belongs(row, traces, table)]
    kept = [rows[i] for i in keep]
    scrubbed = [_scrubbed(row, traces, values) for row in kept]
    changed = sum(1 for before, after in zip(kept, scrubbed, strict=True) if before is not after)
    if len(kept) == len(rows) and not changed:
        return keep, rows, None
    return keep, scrubbed, Counter(rows_removed=len(rows) - len(kept), rows_scrubbed=changed)


def erase_curated(lake: LakeBackend, traces: Traces | Sequence[Traces],
                  old_replies: OldReplies | None = None, texts: RewrittenTexts | None = None,
                  progress: Callable[[str], None] | None = None, *,
                  by_key: dict[str, Counter[str]] | None = None) -> Counter[str]:
    """Rewrite every curated file that holds a trace of the account. Counts rows and files touched.

    With the traces of several keys of one account (the asked key first), each file is read once, the keys are
    applied to its rows one after the other, and it is rewritten once; the counts are those of erasing the keys
    one by one (``files_rewritten``: one per key that changed the file). With ``old_replies`` (filled by the raw
    pass, :func:`~fediscope.gdpr.erase.erase_raw`), the same pass then scrubs the reply ids an older erasure left
    in the rows kept, and the ``in_reply_to_id`` of rows whose statuses' raw records say ``[erased]`` (what an
    interrupted erasure scrubbed in the raw lake only: :mod:`fediscope.gdpr.old_replies`), counted there, not in
    the counts returned. With ``texts`` (filled by the raw pass too), the ``statuses`` rows whose text an erasure
    rewrote in the raw lake then get the content columns a curation of the rewritten record gives
    (:mod:`fediscope.gdpr.texts`), counted there. ``progress`` is told how far the pass got. ``by_key`` (several
    accounts erased in one pass, each audited apart: :mod:`fediscope.gdpr.opt_outs`) is given the counts of each
    key's steps too, under its key (:attr:`Traces.key`); they add up to the counts returned."""
    counts: Counter[str] = Counter()
    found = _as_list(traces)
    for path, table, codec in _rows(lake, progress, "erase: curated files"):
        name = table_of(path)
        uris = texts.uris(lake) if texts is not None and name == "statuses" else frozenset()
        positions = _indices(_candidates(table, found, old_replies, uris))
        if not positions:  # no row any step below could change: the file stays as it is
            continue
        looked_at = positions
        rows = table.take(pa.array(positions, pa.int64())).to_pylist()
        others = table.num_rows - len(positions)  # rows no step changes, kept as they are
        changed = False
        for each in found:
            kept, rows, step = _erase_rows(rows, each, name)
            if step is None:
                continue
            positions = [positions[i] for i in kept]
            changed = True
            step["files_deleted" if not rows and not others else "files_rewritten"] += 1
            counts.update(step)
            if by_key is not None:
                by_key.setdefault(each.key, Counter()).update(step)
            if not rows and not others:
                break
        if old_replies and rows:
            scrubbed = [old_replies.scrub_row(row) for row in rows]
            if any(before is not after for before, after in zip(rows, scrubbed, strict=True)):
                rows, changed = scrubbed, True
        if texts is not None and rows and name == "statuses":
            recounted = texts.recount(rows, table.schema, lake)
            rows, changed = recounted, changed or recounted is not rows
        if changed:
            replace_file(lake, path, _spliced(table, looked_at, positions, rows), codec)
    return counts


# -- which rows the erasure's Python steps need to see ---------------------------------------------------------
# A curated file holds thousands of rows and one account a handful of them: every row made a Python dict and walked
# for traces was most of an erasure's curated pass. A row is looked at only when pyarrow says some step may change
# it (:func:`_candidates`: a superset of the rows the steps change, never a decision of its own); every other row
# is copied into the rewritten file as it was read.

def _candidates(table: pa.Table, found: Sequence[Traces], old_replies: OldReplies | None,
                uris: Set[Any]) -> pa.ChunkedArray:
    """A boolean mask of the rows of ``table`` (a curated file) that the erasure of ``found`` may change: those with a
    string holding one of a key's values anywhere (:func:`_holds_any`: a superset of
    :func:`~fediscope.gdpr.subject.contains_trace`, which looks for them as whole words, and of the rows
    :func:`_belongs` and :func:`_scrubbed` match by a key or a link, which are values), those naming one of its
    statuses by id (a deletion, a reply: :func:`_belongs`, :func:`_scrubbed`), those ``old_replies`` may scrub
    (:meth:`~fediscope.gdpr.old_replies.OldReplies.scrub_row`), and those whose ``uri`` is among ``uris``, the
    statuses :meth:`~fediscope.gdpr.texts.RewrittenTexts.recount` may give new content columns. No row outside it is
    changed by the steps, in whatever order they run: a row none of the keys changes reaches the next one as it was.
    The access export's rows (:func:`curated_rows_about`: those :func:`_belongs` gives, and those holding a trace)
    are among them too."""
    traces = list(found)
    deleted = set().union(*(each.status_copies for each in traces if each.with_deletions))
    origin_refs = set().union(*(each.origin_refs for each in traces if each.with_deletions))
    replied = set().union(*(each.status_copies for each in traces), old_replies.copies if old_replies else ())
    # a copy ``instance/id`` by its id alone: the instance's case is folded by Python's rules, not Arrow's
    masks = [_equal_to_any(_column(table, STATUS_ID_COLUMN), copy_ids(deleted)),
             _equal_to_any(_column(table, ORIGIN_REF_COLUMN), origin_refs),
             _equal_to_any(_column(table, "in_reply_to_id"), copy_ids(replied)),
             _equal_to_any(_column(table, "uri"), set(old_replies.erased) if old_replies else set()),
             _equal_to_any(_column(table, "uri"), uris),
             _holds_any(table, frozenset().union(*(each.values() for each in traces)))]
    mask = pa.chunked_array([pa.array([False] * table.num_rows, pa.bool_())])
    for each in masks:
        if each is not None:
            mask = pc.or_(mask, each)
    return mask


def _column(table: pa.Table, name: str) -> pa.ChunkedArray | None:
    return table[name] if name in table.column_names else None


def _equal_to_any(column: pa.ChunkedArray | None, values: Set[Any]) -> pa.ChunkedArray | None:
    """Which values of ``column`` (None: a column the file lacks) are, as text, one of ``values`` (None among them:
    which are null); None when none can be."""
    if column is None or not values:
        return None
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    found = pc.is_in(text, value_set=pa.array(sorted(str(v) for v in values if v is not None), pa.string()),
                     skip_nulls=True)
    return pc.or_(found, pc.is_null(text)) if None in values else found


def _holds_any(table: pa.Table, values: frozenset[str]) -> pa.Array | None:
    """Which rows hold one of ``values`` inside a string, at any depth (lists, structs, maps), or None for no values.
    Values of other types hold none, as :func:`~fediscope.gdpr.subject.contains_trace` sees them. Every string of the
    file is searched in one call: Arrow compiles the pattern (thousands of links, for an account that posted a lot)
    once per call."""
    if not values:
        return None
    leaves = [leaf for offset, column in _whole_columns(table)
              for leaf in _string_leaves(column, pa.arange(offset, offset + len(column)))]
    if not leaves:
        return pa.array([False] * table.num_rows, pa.bool_())
    strings = pa.concat_arrays([pc.cast(strings, pa.large_string()) for strings, _ in leaves])
    rows = pa.concat_arrays([rows for _, rows in leaves])
    found = None
    for pattern in _re2_any_of(values):
        matched = pc.fill_null(pc.match_substring_regex(strings, pattern), False)
        found = matched if found is None else pc.or_(found, matched)
    held = pc.filter(rows, found)
    return pc.is_in(pa.arange(0, table.num_rows), value_set=pc.unique(held))


def _whole_columns(table: pa.Table) -> Iterator[tuple[int, pa.Array]]:
    """Each chunk of each column of ``table``, with the index of its first row."""
    for column in table.columns:
        offset = 0
        for chunk in column.chunks:
            yield offset, chunk
            offset += len(chunk)


#: The most values one RE2 pattern holds: RE2 refuses to compile a pattern past its memory budget ("pattern too large
#: - compile failed" at about 50,000 status links, an account of some 25,000 statuses), so more are searched by
#: several patterns.
RE2_VALUES_PER_PATTERN = 5000


@functools.lru_cache(maxsize=8)
def _re2_any_of(values: frozenset[str]) -> tuple[str, ...]:
    """The RE2 patterns found where one of ``values`` is, :data:`RE2_VALUES_PER_PATTERN` values each: made once per
    erasure or export, not once per file (thousands of links, each escaped character by character)."""
    ordered = sorted(values)
    return tuple("|".join(_re2_literal(value) for value in ordered[start:start + RE2_VALUES_PER_PATTERN])
                 for start in range(0, len(ordered), RE2_VALUES_PER_PATTERN))


def _re2_literal(text: str) -> str:
    """``text`` as a pattern of RE2 (Arrow's regular expressions) that matches it literally."""
    return "".join("\\" + char if char in string.punctuation else char for char in text)


def _string_leaves(array: pa.Array, rows: pa.Array) -> Iterator[tuple[pa.Array, pa.Array]]:
    """The strings in ``array`` (its values, or those nested in its lists, structs or maps), each array of them with
    the row each string is in (``rows``: the row of each value of ``array``)."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        yield from _string_leaves(array.dictionary_decode(), rows)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield array, rows
    elif pa.types.is_map(kind):  # as the list of its entries (no kernel flattens a map)
        yield from _string_leaves(array.cast(pa.list_(pa.struct([kind.key_field, kind.item_field]))), rows)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        yield from _string_leaves(pc.list_flatten(array), pc.take(rows, pc.list_parent_indices(array)))
    elif pa.types.is_struct(kind):
        for field in array.flatten():
            yield from _string_leaves(field, rows)


def _indices(mask: pa.ChunkedArray | pa.Array) -> list[int]:
    return pc.indices_nonzero(mask).to_pylist()


def _spliced(table: pa.Table, looked_at: Sequence[int], kept: Sequence[int], rows: list[dict[str, Any]]) -> pa.Table:
    """``table`` with the rows looked at in Python (at ``looked_at``) replaced by ``rows``, those left of them (at
    ``kept``, in order): the rows removed gone, every other row as it was read, in the file's order."""
    size = table.num_rows
    order = list(range(size))
    for position in looked_at:
        order[position] = -1
    for i, position in enumerate(kept):
        order[position] = size + i
    changed = pa.Table.from_pylist(rows, schema=table.schema)
    return pa.concat_tables([table, changed]).take(pa.array([i for i in order if i >= 0], pa.int64()))


def drop_rows(lake: LakeBackend, table: str, expired: Callable[[pa.Table], Any], counts: Counter[str],
              dry_run: bool = False) -> Counter[str]:
    """Remove from each file of the curated ``table`` the rows ``expired`` marks (a boolean mask over the file's rows;
    NULL keeps a row), rewriting the file as an erasure does (:func:`replace_file`); files losing no row are not
    touched. ``counts`` (``rows_removed``, ``files_rewritten``, ``files_deleted``) is added to before each file is
    rewritten, so a caller whose run fails part-way still sees that the table changed; ``dry_run`` only counts."""
    for path in curated_files(lake, table):
        data, codec = read_table(lake, path)
        mask = pc.fill_null(expired(data), False)
        removed = pc.sum(mask).as_py() or 0
        if not removed:
            continue
        counts["rows_removed"] += removed
        counts["files_deleted" if removed == data.num_rows else "files_rewritten"] += 1
        if not dry_run:
            replace_file(lake, path, data.filter(pc.invert(mask)), codec)
    return counts


def curated_rows_about(lake: LakeBackend, traces: Traces) -> dict[str, list[dict[str, Any]]]:
    """For an access request: the account's own rows, and the rows of others that refer to it, per table (under
    ``<table> (references)``: where the row is and which of its columns refer to the account — ``mentions``,
    ``quoted_account_key`` — never the rest of another person's row). Only the rows Arrow finds a trace or an id of
    the account in become Python objects (:func:`_candidates`, as for the erasure)."""
    found: dict[str, list[dict[str, Any]]] = {}
    values = traces.values()
    for path, table, _ in _rows(lake):
        positions = _indices(_candidates(table, [traces], None, frozenset()))
        if not positions:
            continue
        for row in table.take(pa.array(positions, pa.int64())).to_pylist():
            if _belongs(row, traces, table_of(path)):
                found.setdefault(table_of(path), []).append(row)
            elif contains_trace(row, values):
                reference = {c: row[c] for c in ("uri", "status_uri", "created_at") if c in row}
                reference["relation"] = sorted(c for c, v in row.items() if contains_trace(v, values))
                found.setdefault(f"{table_of(path)} (references)", []).append(reference)
    return found
