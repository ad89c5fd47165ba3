"""The metric results of the last run, kept in the lake so the next run writes only what changed.

``<lake>/_state/metrics/<store id>/`` holds, per metric, the rows last written to that store (``<metric>.parquet``)
and one ``index.json`` saying for each metric what those rows were computed from:

* ``sql_sha256`` — the metric's SQL text (a changed SQL file is recomputed even when no data is new), and for a
  metric reading ``collection_starts`` the lake's records of where the collections begin;
* ``curated`` — the generation of the curated tables (:attr:`fediscope.engine.manifest.Manifest.generation`;
  every curation that publishes anything starts a new one);
* ``store_generation`` — the generation the store gave the metric when the rows were written (every write or
  erasure in any store gives the metric a new one, see :meth:`fediscope.store.base.BaseStore.generations`).

With all three current, the metric is not recomputed at all. With only the data changed, the metric is
recomputed and compared with the kept rows *in DuckDB* (``EXCEPT`` both ways, vectorised; within the DuckDB memory
limit and threads of the settings, spilling to a directory of its own: :mod:`fediscope.engine.duckdb_connection`),
and only the rows that differ — new or changed rows, and the keys of rows that disappeared — go to the store.
When the store was changed by someone else in between (an erasure, another lake writing to it, a restore), its
generation differs and the write falls back to the store's own full comparison, so the store never drifts from
the metric.

The directory is per store (the id hashes the store URL without its password) because two stores fed from one
lake hold different histories. The rows are pseudonymous metric results, the same as the store holds; erasure
deletes the whole directory (:func:`forget`), and the next run rebuilds it from a full comparison.

The index is rewritten as each metric's rows are kept (:meth:`MetricSnapshots.save`), right after its store write
committed: a run stopped part-way (Ctrl-C, SIGTERM, SIGKILL) keeps the entries of the metrics it stored, and the
next run computes only the others again.

The index also says which store the directory is for and when a run for that store last wrote it (every run
does, also one that recomputes nothing). A store without a run for :data:`UNUSED_DAYS` days loses its directory
at the next run for another store (:func:`prune_unused`): a snapshot is only a shortcut, so a store used again
later is compared in full once, never wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fediscope.console import SAID
from fediscope.engine.base import first_wide_integer, plain, wide_integer
from fediscope.engine.metrics import Metric, check_result_columns
from fediscope.errors import LakeError, MetricFileError
from fediscope.lake.backend import LakeBackend
from fediscope.lake.layout import STATE_ROOT
from fediscope.timestamps import parse_iso, rfc3339_utc

if TYPE_CHECKING:
    from fediscope.config import Settings
    from fediscope.engine.duckdb_connection import OwnConnection

log = logging.getLogger(__name__)

SNAPSHOT_ROOT = f"{STATE_ROOT}/metrics"
#: A store's kept results are deleted after this many days without a run writing to that store.
UNUSED_DAYS = 30


def sql_fingerprint(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def store_id(shown_url: str, table_prefix: str = "") -> str:
    """A stable directory name for a store (from its URL with the password hidden)."""
    return hashlib.sha256(f"{shown_url}\n{table_prefix}".encode()).hexdigest()[:16]


# -- the rows as the stores hold them ----------------------------------------------------------------------------

def _plain_column(column: pa.ChunkedArray) -> pa.Array:
    """Any other type, value by value through :func:`~fediscope.engine.base.plain` (what row reads give). With no
    values, the type :func:`plain` gives every value of the column: text (a date, a timestamp), or for a list
    (:func:`plain` keeps lists) the null type Arrow infers from nothing; so a result with no rows has the column
    type a result with rows has, for the metric's empty table (:func:`arrow_types`)."""
    if len(column) == 0:
        kind = column.type
        listed = pa.types.is_nested(kind) and not pa.types.is_struct(kind)  # lists and maps: plain() keeps lists
        return pa.array([], pa.null() if listed else pa.string())
    return pa.array([plain(v) for v in column.to_pylist()])


def refuse_unstorable_types(schema: pa.Schema, engine_types: Sequence[str] | None = None) -> None:
    """Refuse, with a :class:`MetricFileError` the caller prefixes with the metric's file, a metric result (its
    schema: of an engine's result, rows or none, or of its SQL only bound, as ``fediscope doctor`` checks it) with a
    column no store holds, naming the column and how to convert it in the SQL. The one rule of both.

    A list or map column (DuckDB's ``list()``, ``array_agg``, a ``MAP``; Spark's ``collect_list``): was every
    metric computed, the metrics before it written to the store, then its write failed with ``cannot store a value
    of type list`` (a map: a pyarrow traceback), naming neither the metric, its file nor the column (exit 1). So is
    an INTERVAL column (DuckDB's ``a - b`` of two timestamps), whose values were lists of months, days and
    nanoseconds to the store; a BLOB (or BIT) column, stored as Python's text of its bytes (``b'ab'``); a STRUCT,
    stored as Python's text of a dict (``{'a': 1}``); a UNION (DuckDB's), whose rows holding different members
    failed with a pyarrow traceback (and held the member's value, whichever it was, when they held one); and a
    type of the engine's own Arrow knows only as an extension (DuckDB's BIGNUM), stored as its bytes' text.

    ``engine_types`` (the engine's own names of the columns' types, in the schema's order) tells what the schema
    cannot: DuckDB's Arrow gives a TIMETZ column as a plain time, its offset dropped (``12:00:01+02`` stored as
    ``12:00:01``, neither that moment in UTC nor saying it is not), so it is refused by DuckDB's type."""
    for index, field in enumerate(schema):
        kind, name = field.type, field.name
        if engine_types is not None and engine_types[index] == TIMETZ:
            raise _unstorable(name, "times with a time zone (TIMETZ)", TIMETZ_ADVICE.format(column=name))
        if isinstance(kind, pa.BaseExtensionType):
            raise _unstorable(name, f"values of the engine's own type {getattr(kind, 'type_name', kind)}",
                              f"give it as a number or text in the metric's SQL: CAST({name} AS DOUBLE) or "
                              f"CAST({name} AS VARCHAR)")
        if (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
                or pa.types.is_list_view(kind) or pa.types.is_large_list_view(kind) or pa.types.is_map(kind)):
            raise list_column_error(name)
        if pa.types.is_interval(kind):
            raise interval_column_error(name)
        if (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)
                or pa.types.is_fixed_size_binary(kind)):
            raise _unstorable(name, "bytes (a BLOB)", f"give it as text in the metric's SQL: hex({name}), or "
                                                      f"{name}::VARCHAR for a BIT")
        if pa.types.is_struct(kind):
            raise _unstorable(name, "structs", f"give it as text in the metric's SQL: to_json({name}), or select "
                                               f"its fields as columns of their own ({name}.field AS field)")
        if pa.types.is_union(kind):
            raise _unstorable(name, "values of a union type",
                              f"give it as one type in the metric's SQL: CAST({name} AS VARCHAR), or a CASE on "
                              f"union_tag({name})")


#: DuckDB's name of a TIMETZ column's type (``str()`` of its ``DuckDBPyType``)
TIMETZ = "TIME WITH TIME ZONE"
#: What the error of a TIMETZ column advises: that time in UTC (DuckDB's cast to TIME keeps the time of day as
#: written, dropping the offset, so ``timezone('UTC', …)`` first), or the text, which keeps the offset
TIMETZ_ADVICE = ("give it as a time in UTC in the metric's SQL: CAST(timezone('UTC', {column}) AS TIME), or as text, "
                 "which keeps its offset: CAST({column} AS VARCHAR)")


def _unstorable(column: str, holds: str, fix: str) -> MetricFileError:
    return MetricFileError(f"column {column!r} holds {holds}, which no store holds (a value is a number, text, a "
                           f"boolean or NULL); {fix}")


def list_column_error(column: str) -> MetricFileError:
    """The error of a metric result's list or map column."""
    return _unstorable(column, "lists", f"join them into text in the metric's SQL (array_to_string({column}, ', '), "
                                        "or string_agg(x, ', ' ORDER BY x) instead of list(x)), or unnest them into "
                                        "rows")


def interval_advice() -> str:
    """What the error of an interval column advises: spellings :func:`~fediscope.engine.dialect.check_portable` lets
    through that give the same number on both engines, as its own refusal words them
    (:func:`~fediscope.engine.dialect.interval_as_number`: ``epoch()`` keeps the fraction of a second on DuckDB,
    drops it on Spark, so the check refuses it; ``date_diff`` counts only days between DATEs alike). Imported here,
    not at the top: the dialect loads sqlglot, which the readers of this module (``gdpr export``, erasure) need not."""
    from fediscope.engine.dialect import interval_as_number

    return ("give it as a number in the metric's SQL; for b - a between two timestamps, e.g. "
            f"{interval_as_number('a', 'b')}")


def interval_column_error(column: str) -> MetricFileError:
    """The error of a metric result's interval column."""
    return _unstorable(column, "intervals", interval_advice())


def normalize_table(table: pa.Table) -> pa.Table:
    """A metric result with the column types the stores hold: int64, float64, bool, string (or null).

    The values are the ones :meth:`~fediscope.engine.base.Engine.run_metric` gives row by row (integral decimals
    as integers, NaN as NULL), and ``-0.0`` becomes ``0.0`` as the stores normalise it; so results of both engines
    compare equal, and a kept snapshot compares equal to a recomputation of the same data. An integer column
    holding a value wider than 64 bits is refused (:func:`~fediscope.engine.base.wide_integer`, a
    :class:`MetricFileError` the caller prefixes with the metric's file).
    """
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_integer(kind) or (pa.types.is_decimal(kind) and kind.scale == 0):
            column = _int64(field.name, column)  # a DuckDB HUGEINT (its sum of a BIGINT) is a decimal of scale 0
        elif pa.types.is_decimal(kind):
            column = column.cast(pa.float64())
        elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            column = _datetimes(field.name, column)
        if pa.types.is_floating(column.type):
            column = column.cast(pa.float64())
            finite = pc.is_finite(column)
            column = pc.if_else(pc.and_kleene(finite, pc.not_equal(column, 0.0)), column,
                                pc.if_else(finite, pa.scalar(0.0), pa.scalar(None, pa.float64())))
        elif pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        elif not (pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)
                  or pa.types.is_string(column.type) or pa.types.is_null(column.type)):
            column = _plain_column(column)
        columns.append(column)
    return pa.table(columns, names=table.schema.names)


#: the first and last moments the stores' text of a timestamp (Python's ``datetime.isoformat``) can hold, in
#: seconds since 1970 (years 1 to 9999), and a timestamp's units in a second
_DATETIME_RANGE = (-62135596800, 253402300800)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _datetimes(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A date or timestamp column, a timestamp with a time zone as its UTC wall-clock time without it (as the curated
    timestamps and Spark's are: DuckDB's ``TIMESTAMPTZ`` was stored as ``2024-01-01 08:00:00+00:00``, Spark's
    ``2024-01-01 08:00:00``); a value outside years 1 to 9999, which no store's text of it holds, refused naming the
    column (was: a Python ``OverflowError`` on DuckDB, ``ValueError: year 10000 is out of range`` on Spark)."""
    if pa.types.is_timestamp(column.type):
        if column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))  # the UTC instants, naive
        per_second, values = _PER_SECOND[column.type.unit], column.cast(pa.int64())
    else:
        column = column.cast(pa.date32())
        per_second, values = 1, pc.multiply(column.cast(pa.int32()).cast(pa.int64()), 86_400)
    low, high = _DATETIME_RANGE
    lowest, highest = pc.min(values).as_py(), pc.max(values).as_py()
    if (lowest is not None and lowest < low * per_second) or (highest is not None and highest >= high * per_second):
        what = "dates" if pa.types.is_date(column.type) else "timestamps"
        raise MetricFileError(
            f"column {name!r} holds {what} outside the years 1 to 9999, which no store holds; keep them within those "
            f"years in the metric's SQL (CASE WHEN year({name}) BETWEEN 1 AND 9999 THEN {name} END), or give them as "
            f"a number of days: date_diff('day', DATE '1970-01-01', CAST({name} AS DATE))")
    return column


def _int64(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """An integer column (or a decimal one of scale 0) as int64; one holding a value int64 cannot hold is
    refused, naming the column and the value. Was: an ArrowInvalid traceback (an unsigned BIGINT), or the whole
    column made float (a HUGEINT, a DECIMAL(38, 0)), though the README says such a metric is refused."""
    try:
        return column.cast(pa.int64())
    except (pa.ArrowInvalid, OverflowError):
        wide = first_wide_integer({name: column.to_pylist()})
        if wide is None:
            raise
        raise wide_integer(*wide) from None


def check_timestamp_columns(metric: Metric, schema: pa.Schema, table: pa.Table | None = None) -> None:
    """Refuse, with a :class:`MetricFileError` naming the metric's file, a ``-- timestamps:`` column that holds no
    timestamps: of another type (a DATE, a number, a boolean: by ``schema``, also of a result only bound, as
    ``fediscope doctor`` checks it), or, of ``table``'s text, a value that is no timestamp as every reader of the
    store reads it (:func:`~fediscope.timestamps.rfc3339_utc`: ``2026-11-01`` alone is no moment in time). Was:
    stored without a word, then every read of the metric (the report, ``fs.metric_rows``, the results API) failed
    saying to re-run ``fediscope process``, which stored it again as it was. A column the result lacks is left to
    :func:`~fediscope.engine.metrics.check_result_columns`."""
    for column in metric.timestamp_columns:
        if column not in schema.names:
            continue
        kind = schema.field(column).type
        if pa.types.is_timestamp(kind) or pa.types.is_null(kind):
            continue
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            if table is not None:
                _refuse_text_no_timestamp(metric, column, table.column(column))
            continue
        if pa.types.is_date(kind):
            holds = "dates"
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            holds = "numbers"
        elif pa.types.is_boolean(kind):
            holds = "booleans"
        else:
            holds = f"values of type {kind}"
        raise MetricFileError(f"{metric.where}: column {column}, named in its '-- timestamps:' line, holds {holds}, "
                              "not UTC timestamps; name only columns of timestamps there, selected as they are or "
                              f"as text (strftime(x, '%Y-%m-%d %H:%M:%S')), and leave a date column out of the line "
                              "(a date is given as YYYY-MM-DD without it)")


#: text Arrow's cast to a timestamp reads exactly as :func:`~fediscope.timestamps.rfc3339_utc` does (a date and a
#: time to the second, a fraction of up to 6 digits, no offset): the cast refuses what ``datetime.fromisoformat``
#: refuses (2026-02-29, 24:00:00, 23:59:60, month 13), but for the year 0, left out here
_PLAIN_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$"


def _refuse_text_no_timestamp(metric: Metric, column: str, values: pa.ChunkedArray) -> None:
    """The text of a ``-- timestamps:`` column, each distinct value read as the stores' readers read it.

    The plain ones (:data:`_PLAIN_TIMESTAMP`, what ``strftime(x, '%Y-%m-%d %H:%M:%S')`` writes) are checked at once
    by Arrow's cast, only the others one by one in Python; when the cast refuses one of them, every value is read
    in Python, so the value named is the first of the column's that is no timestamp, as before. Was: every distinct
    value read in Python, about 13 µs each (1.3 s a run for 100,000 distinct timestamps)."""
    distinct = pc.unique(values)
    if distinct.null_count:
        distinct = distinct.drop_null()  # NULL is no refusal (rfc3339_utc(None) is None)
    try:
        plain = pc.and_(pc.match_substring_regex(distinct, _PLAIN_TIMESTAMP),
                        pc.invert(pc.starts_with(distinct, "0000")))
        pc.cast(distinct.filter(plain), pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        rest = distinct  # one of them is no timestamp (or a text type Arrow's functions lack): each in Python
    else:
        rest = distinct.filter(pc.invert(plain))
    for value in rest.to_pylist():
        try:
            rfc3339_utc(value)
        except ValueError:
            raise MetricFileError(f"{metric.where}: column {column}, named in its '-- timestamps:' line, holds "
                                  f"{str(value)[:40]!r}, which is not a UTC timestamp written YYYY-MM-DD HH:MM:SS; "
                                  f"write it with strftime({column}, '%Y-%m-%d %H:%M:%S'), or leave the column out "
                                  "of the line") from None


def check_result(metric: Metric, table: pa.Table) -> None:
    """Refuse, with a :class:`MetricFileError` naming the metric's file, a result that does not fit its header: a key
    or rank column the SQL does not select (also when it returns no rows, which would otherwise pass until a
    later run has some), a NULL in a key column, or two rows with one key. A store keeps one row per key, so such
    rows were silently collapsed into whichever came last, though the header says the key identifies a row."""
    check_result_columns(metric, table.column_names)
    check_timestamp_columns(metric, table.schema, table)
    _refuse_null_keys(metric, table)
    if table.num_rows < 2:
        return
    keys = table.select(list(metric.key))
    try:
        counts = keys.group_by(list(metric.key), use_threads=False).aggregate([([], "count_all")])
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):  # a key type Arrow cannot group: the store refuses it
        return
    if counts.num_rows == table.num_rows:
        return
    repeated = counts.filter(pc.greater(counts["count_all"], 1)).slice(0, 1).to_pylist()[0]
    count = repeated.pop("count_all")
    shown = ", ".join(f"{column}={value!r}" for column, value in repeated.items())
    raise MetricFileError(f"{metric.where}: {table.num_rows - counts.num_rows} row(s) repeat a key ({shown} is in "
                          f"{count} rows); the '-- key: {', '.join(metric.key)}' columns must identify one row "
                          "each: add the column that tells them apart to the key, or GROUP BY the key")


def _refuse_null_keys(metric: Metric, table: pa.Table) -> None:
    """A NULL in a key column identifies no row: every store refuses it, but only at the write, naming no file (a
    StoreError, exit 1); refused here as the metric file's mistake, as a repeated key is."""
    for column in metric.key:
        nulls = table.column(column).null_count
        if nulls:
            raise MetricFileError(f"{metric.where}: key column {column} is NULL in {nulls} row(s); the "
                                  f"'-- key: {', '.join(metric.key)}' columns must identify each row: "
                                  f"COALESCE({column}, …) in the SQL, or leave those rows out")


def without_unstorable_keys(name: str, table: pa.Table, key: Sequence[str], rank: str | None = None) -> pa.Table:
    """The result without rows whose text key is longer than a store key of the metric may be (``MAX_KEY_TEXT``
    characters, fewer for a key of many columns: :func:`fediscope.store.schema.key_text_limit`): such a value comes
    from a remote server (a language code, a status URI with privacy off), and refused by the store it stopped
    every later run at the same row. The rows are left out, logged at WARNING with the count. So are rows whose
    value of a text ``rank`` column outside the key is longer than ``MAX_KEY_TEXT``: a rank value is part of a key
    too (of HBase's rank index), and the stores refuse it alike (:func:`fediscope.store.schema.plan_write`). And so
    are rows whose key and rank together make an HBase row key longer than HBase takes
    (:func:`_without_long_row_keys`)."""
    from fediscope.store.schema import MAX_KEY_TEXT, key_text_limit

    types = arrow_types(table)
    ranked = rank is not None and rank not in key
    key_limit = key_text_limit([types.get(k, "null") for k in key], types.get(rank) if ranked and rank else None)
    limits = {**{k: key_limit for k in key}, **({rank: MAX_KEY_TEXT} if ranked and rank else {})}
    keep = None
    for column, limit in limits.items():
        if column in table.column_names and pa.types.is_string(table.schema.field(column).type):
            fits = pc.fill_null(pc.less_equal(pc.utf8_length(table[column]), limit), True)
            keep = fits if keep is None else pc.and_(keep, fits)
    kept = table if keep is None else table.filter(keep)
    if kept.num_rows < table.num_rows:
        shown = "" if key_limit == MAX_KEY_TEXT or not ranked else f" ({MAX_KEY_TEXT} the rank column's)"
        # said nowhere else: a command says it as its own warning (fediscope: warning: …), not as a log line
        log.warning("metric %s: %d row(s) left out: a key (%s) longer than the %d characters a store key may hold%s",
                    name, table.num_rows - kept.num_rows, ", ".join(limits), key_limit, shown, extra={SAID: True})
    return _without_long_row_keys(name, kept, key, rank)


def _without_long_row_keys(name: str, table: pa.Table, key: Sequence[str], rank: str | None) -> pa.Table:
    """The table without rows whose HBase row key would be longer than HBase takes (``MAX_ROW_LENGTH`` bytes), logged
    at WARNING with the count: the stores refuse such a row alike (HBase would refuse its whole batch). Only a
    metric with many text key columns can have one; for any other, nothing is read."""
    from fediscope.store.rowkeys import MAX_ROW_LENGTH
    from fediscope.store.schema import row_key_limit

    if any(column not in table.column_names for column in [*key, *([rank] if rank else [])]):
        return table  # the store names the missing column
    types = arrow_types(table)
    length = row_key_limit([types[k] for k in key], types[rank] if rank else None)
    if length is None or table.num_rows == 0:
        return table
    keys = zip(*(table[k].to_pylist() for k in key), strict=True)
    ranks = table[rank].to_pylist() if rank else [None] * table.num_rows
    fits = [length(values, value) <= MAX_ROW_LENGTH for values, value in zip(keys, ranks, strict=True)]
    if all(fits):
        return table
    log.warning("metric %s: %d row(s) left out: a key (%s) that makes an HBase row key longer than the %d bytes "
                "HBase takes", name, fits.count(False), ", ".join(dict.fromkeys([*key, *([rank] if rank else [])])),
                MAX_ROW_LENGTH, extra={SAID: True})  # as the key too long above
    return table.filter(pa.array(fits))


def arrow_types(table: pa.Table) -> dict[str, str]:
    """The store types of a :func:`normalize_table` result's columns, for ``MetricStore.write(types=…)``.

    int64 → ``int``, float64 → ``float``, bool → ``bool``, string → ``str``; a column whose values are all NULL
    is ``null`` whatever its Arrow type, as a store infers it from the values (an int64 column of NULLs must not
    create an int column that a store without ``types`` would have left untyped). A result with no rows has no
    values to go by: its columns have their Arrow types, with which a store makes the metric's empty table (see
    :func:`~fediscope.store.schema.plan_write`). Any other Arrow type (a list from :func:`_plain_column`) is named
    as Arrow names it, which makes the store infer from the values instead.
    """
    names = {"int64": "int", "double": "float", "bool": "bool", "string": "str", "null": "null"}
    rows = table.num_rows
    return {field.name: "null" if rows and column.null_count == rows else names.get(str(field.type), str(field.type))
            for field, column in zip(table.schema, table.columns, strict=True)}


def schema_types(schema: pa.Schema) -> dict[str, str]:
    """The store types (as :func:`arrow_types` names them) of a result of this Arrow schema once normalised
    (:func:`normalize_table`), each column taken to hold values: for ``fediscope doctor``, which binds a metric's
    SQL without reading a row (:meth:`~fediscope.engine.base.Engine.check_metric`). A date, time or timestamp is
    text; a type no store holds (refused before this) is named as Arrow names it."""
    types = {}
    for field in schema:
        kind = field.type
        if pa.types.is_integer(kind) or (pa.types.is_decimal(kind) and kind.scale == 0):
            types[field.name] = "int"
        elif pa.types.is_decimal(kind) or pa.types.is_floating(kind):
            types[field.name] = "float"
        elif pa.types.is_boolean(kind):
            types[field.name] = "bool"
        elif pa.types.is_null(kind):
            types[field.name] = "null"
        elif pa.types.is_nested(kind):
            types[field.name] = str(kind)
        else:
            types[field.name] = "str"
    return types


@dataclass(frozen=True)
class Delta:
    """What a write must change: new or changed rows, and the keys of rows no longer in the result."""

    changed: list[dict[str, Any]]
    stale: list[tuple[Any, ...]]
    #: the store types of ``changed``'s columns (:func:`arrow_types` of the compared rows), for
    #: :meth:`~fediscope.store.port.MetricStore.write_changes`: the rows come from a :func:`normalize_table` result,
    #: so the store need not normalise nor infer them value by value
    types: dict[str, str] | None = None


#: Results of at most this many rows (new and kept together) are compared in Python (:func:`_diff_rows`), not in
#: DuckDB: registering the two tables and running two ``EXCEPT`` queries costs 5-10 ms whatever the size, while
#: Python compares a thousand rows in about a millisecond. Most metrics have a few rows to a few hundred (15 of the
#: 19 at 200,000 statuses); the break-even, measured, is near 10,000 rows.
PYTHON_DIFF_ROWS = 4000
#: The column types :func:`_diff_rows` compares (what :func:`normalize_table` makes of any store type): their Python
#: values compare as DuckDB's ``EXCEPT`` compares them (NULL equal to NULL; a float by its value, ``-0.0`` and NaN
#: normalised away; text by its characters), and hash.
_PYTHON_COMPARED = (pa.int64(), pa.float64(), pa.bool_(), pa.string(), pa.null())


def diff(new: pa.Table, old: pa.Table, key: Sequence[str], con: Any = None,
         python_rows: int | None = None) -> Delta | None:
    """``new`` against ``old`` (both normalised), compared in DuckDB, or in Python when both together have at most
    ``python_rows`` rows (default :data:`PYTHON_DIFF_ROWS`; the same delta); None when they cannot be compared
    (different columns, or a column of another type) and the caller must write everything. ``con``: a DuckDB
    connection to reuse (opening one costs tens of milliseconds); without one, one of
    :func:`~fediscope.engine.duckdb_connection.open_connection` with DuckDB's default limits (never one that
    spills to the current directory)."""
    import duckdb

    from fediscope.engine.duckdb_connection import open_connection

    if new.schema.names != old.schema.names or any(k not in new.schema.names for k in key):
        return None
    if new.schema.types != old.schema.types:
        # EXCEPT unifies the types (1 = 1.0, '1' = 1, true = 1): no row would differ, and the store would keep its
        # old column types (a text key the new integer keys find nothing under), unlike a fresh store
        changed_types = [n for n, a, b in zip(new.schema.names, new.schema.types, old.schema.types, strict=True)
                         if a != b]
        log.info("metric snapshot: column(s) %s changed type; writing every row", ", ".join(changed_types))
        return None
    limit = PYTHON_DIFF_ROWS if python_rows is None else python_rows
    if new.num_rows + old.num_rows <= limit and all(t in _PYTHON_COMPARED for t in new.schema.types):
        return _diff_rows(new, old, key)
    own = open_connection(None) if con is None else None
    con = own.con if own is not None else con
    views = ("new_rows", "old_rows", "new_keys", "old_keys")
    try:
        con.register("new_rows", new)
        con.register("old_rows", old)
        # the key columns chosen here, not named in the SQL: a column name is the user's text (its own metric file)
        con.register("new_keys", new.select(list(key)))
        con.register("old_keys", old.select(list(key)))
        changed = con.sql("SELECT * FROM new_rows EXCEPT SELECT * FROM old_rows").to_arrow_table()
        stale = con.sql("SELECT * FROM old_keys EXCEPT SELECT * FROM new_keys").fetchall()
    except duckdb.Error as exc:  # the types are the same, but DuckDB cannot compare them: compare in the store
        log.info("metric snapshot: cannot compare (%s); writing every row", str(exc).splitlines()[0])
        return None
    finally:
        for view in views:
            con.unregister(view)
        if own is not None:
            own.close()
    return Delta(changed=changed.to_pylist(), stale=[tuple(row) for row in stale], types=arrow_types(changed))


def _rows(table: pa.Table, columns: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``table`` (of its ``columns`` only) as tuples, in its order."""
    chosen = table.columns if columns is None else [table.column(c) for c in columns]
    return list(zip(*(c.to_pylist() for c in chosen), strict=True)) if chosen else [()] * table.num_rows


def _diff_rows(new: pa.Table, old: pa.Table, key: Sequence[str]) -> Delta:
    """:func:`diff` of two small tables of the same columns and types, in Python: the rows of ``new`` not in ``old``
    and the keys of ``old`` not in ``new``, each once, as the two ``EXCEPT`` queries give them (in ``new``'s and
    ``old``'s order, where DuckDB gives no order). The changed rows keep ``new``'s Arrow types, so the store
    types (:func:`arrow_types`) are the same as of DuckDB's result."""
    kept = set(_rows(old))
    seen: set[tuple[Any, ...]] = set()
    changed = []
    for index, row in enumerate(_rows(new)):
        if row not in kept and row not in seen:
            seen.add(row)
            changed.append(index)
    new_keys = set(_rows(new, key))
    stale = list(dict.fromkeys(k for k in _rows(old, key) if k not in new_keys))
    rows = new.take(pa.array(changed, pa.int64()))
    return Delta(changed=rows.to_pylist(), stale=stale, types=arrow_types(rows))


# -- the snapshot directory --------------------------------------------------------------------------------------

@dataclass
class SnapshotEntry:
    sql_sha256: str
    curated: str | None
    store_generation: str | None
    rows: int

    def current(self, sql_sha256: str, curated: str | None, store_generation: str | None) -> bool:
        """Computed from this SQL, over these curated tables, and still what the store holds."""
        return (None not in (curated, store_generation) and self.sql_sha256 == sql_sha256
                and self.curated == curated and self.store_generation == store_generation)


class MetricSnapshots:
    """The kept results of one store's metrics (see the module docstring)."""

    def __init__(self, lake: LakeBackend, store: str, label: str = "", settings: Settings | None = None) -> None:
        """``store``: the directory name (:func:`store_id`); ``label``: the store as the index names it (its URL
        without the password), for whoever looks at the directory; ``settings``: the DuckDB memory limit and
        threads the comparisons run within (:func:`~fediscope.engine.duckdb_connection.open_connection`)."""
        self.lake = lake
        self.store = store
        self.label = label
        self.root = f"{SNAPSHOT_ROOT}/{store}"
        self.settings = settings
        self._own: OwnConnection | None = None  # DuckDB, for the comparisons
        self.entries: dict[str, SnapshotEntry] = self.recorded(warn=True)
        #: the entries :meth:`save` made (in this object's life), each recorded in the index unless stopped before
        self.saved: dict[str, SnapshotEntry] = {}

    def recorded(self, warn: bool = False) -> dict[str, SnapshotEntry]:
        """The entries the index in the lake holds now (none when it is missing or unreadable). ``warn``: say that
        an unreadable one makes every metric compared in full."""
        index = f"{self.root}/index.json"
        if not self.lake.exists(index):
            return {}
        try:
            raw = json.loads(self.lake.read(index))
            return {name: SnapshotEntry(**entry) for name, entry in raw.get("metrics", {}).items()}
        except (ValueError, TypeError, AttributeError) as exc:
            if warn:
                log.warning("metric snapshots: %s is unreadable (%s); every metric is compared in full", index, exc)
            return {}

    def changes(self, name: str, table: pa.Table, key: Sequence[str]) -> Delta | None:
        """How ``table`` differs from the kept rows of ``name`` (None: nothing kept, or not comparable)."""
        from fediscope.engine.duckdb_connection import open_connection

        old = self.table(name)
        if old is None:
            return None
        if self._own is None:
            self._own = open_connection(self.settings)
        return diff(table, old, key, self._own.con)

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None

    def entry(self, name: str) -> SnapshotEntry | None:
        return self.entries.get(name)

    def table(self, name: str) -> pa.Table | None:
        path = f"{self.root}/{name}.parquet"
        if not self.lake.exists(path):
            return None
        try:
            return pq.read_table(pa.BufferReader(self.lake.read(path)))
        except (pa.ArrowException, OSError) as exc:
            log.warning("metric snapshot %s is unreadable (%s); comparing in the store instead", path, exc)
            return None

    def save(self, name: str, table: pa.Table, entry: SnapshotEntry) -> None:
        """Keep one metric's rows, then record its entry in the index (:meth:`flush`). Call once the store write
        has committed, with the store's generation of the metric after it.

        Both files are written whole (a temporary file renamed), the rows first: a run stopped or killed after
        this keeps the metric's entry, exactly as a finished run records it, so the next run does not compute it
        again (one stopped before, or in its store write, leaves the entry of the run before, which no longer
        matches: the metric is computed and written again). An index rewritten per metric costs a few small
        writes, next to the store write and the rows kept with each."""
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        self.lake.write_atomic(f"{self.root}/{name}.parquet", buffer.getvalue())
        self.entries[name] = self.saved[name] = entry
        self.flush()

    def drop(self, name: str) -> bool:
        """Delete one metric's kept rows and index entry (``fediscope store drop``); returns whether any were kept.
        The index is rewritten at once, and only when it named the metric."""
        path = f"{self.root}/{name}.parquet"
        had_rows = self.lake.exists(path)
        if had_rows:
            self.lake.delete(path)
        if self.entries.pop(name, None) is None:
            return had_rows
        self.flush()
        return True

    def flush(self) -> None:
        written_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {"version": 1, "store": self.label, "written_at": written_at,
                "metrics": {n: asdict(e) for n, e in sorted(self.entries.items())}}
        self.lake.write_atomic(f"{self.root}/index.json", json.dumps(body, indent=1).encode())


def prune_unused(lake: LakeBackend, keep: str, now: datetime | None = None) -> list[str]:
    """Delete the kept results of every store but ``keep`` whose index was last written more than
    :data:`UNUSED_DAYS` days before ``now``; returns the store ids deleted. A directory whose index does not say
    when it was written (written before the index recorded it, or unreadable) is left alone."""
    now = now or datetime.now(UTC)
    pruned = []
    for entry in lake.list(SNAPSHOT_ROOT):
        name = entry.path.rstrip("/").rsplit("/", 1)[-1]
        if not entry.is_dir or name == keep:
            continue
        written = _written_at(lake, f"{SNAPSHOT_ROOT}/{name}/index.json")
        if written is None or now - written <= timedelta(days=UNUSED_DAYS):
            continue
        lake.delete(f"{SNAPSHOT_ROOT}/{name}", recursive=True)
        log.info("metric snapshots: deleted those of store %s, unused since %s", name, written.date())
        pruned.append(name)
    return pruned


def _written_at(lake: LakeBackend, index: str) -> datetime | None:
    try:
        return parse_iso(json.loads(lake.read(index))["written_at"])
    except (LakeError, ValueError, TypeError, KeyError):
        return None


def kept_files(lake: LakeBackend) -> list[str]:
    """Every file of the kept metric results of every store (``<store id>/<metric>.parquet``, ``index.json``)."""
    return [e.path for e in lake.walk(SNAPSHOT_ROOT) if not e.is_dir]


def kept_rows(lake: LakeBackend) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(path, metric, rows) of every metric's kept rows, of every store, among :func:`kept_files` (what
    :func:`forget` deletes): the rows as the store holds them (the access export lists an account's). A file that
    cannot be read is named in a warning and left out."""
    for path in kept_files(lake):
        if not path.endswith(".parquet"):
            continue
        try:
            rows = pq.read_table(pa.BufferReader(lake.read(path))).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            log.warning("metric snapshot %s is unreadable (%s): the rows it keeps are not searched", path, exc)
            continue
        yield path, path.rsplit("/", 1)[-1].removesuffix(".parquet"), rows


def forget(lake: LakeBackend) -> int:
    """Delete every kept metric result (erasure); returns the number of files deleted."""
    files = kept_files(lake)
    for path in files:
        lake.delete(path)
    return len(files)
