"""The logical schema of a stored metric, inferred from its rows, and the rules every adapter shares.

A metric's rows are flat dicts of scalars. The stores need column types (SQL DDL, HBase value decoding), so
the types are inferred from the rows and kept in a catalog next to the data (``fediscope_catalog`` in SQL,
``<prefix>-catalog`` in HBase). Keeping the *logical* types there, rather than trusting each database's
physical types, is what lets SQLite (dynamic typing), MariaDB (``TINYINT(1)`` for booleans) and HBase
(bytes only) hand back exactly the Python values that were written.

Types form a small lattice: ``null`` (every value so far was None) widens to anything; ``bool`` → ``int`` →
``float`` widen in that order; ``str`` never mixes with numbers. A later batch may add columns (schema
evolution) or widen a type; a change the store cannot apply in place (a different key, a key column changing
type, a column switching between text and numbers) rebuilds the metric's table.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any

from fediscope.engine.metrics import Metric, check_column_names
from fediscope.errors import StoreError
from fediscope.store.rowkeys import MAX_ROW_LENGTH, longest_row_key, row_key_length

log = logging.getLogger(__name__)

Row = dict[str, Any]

TYPES = ("null", "bool", "int", "float", "str")
_NUMERIC_ORDER = {"null": 0, "bool": 1, "int": 2, "float": 3}
_METRIC_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,56}$")
MAX_KEY_TEXT = 255  # characters; MariaDB primary keys of utf8mb4 text are limited to 3072 bytes
#: bytes of a MariaDB (InnoDB) index: the primary key, and the rank index (the rank column, then the key); utf8mb4
#: text (``VARCHAR(n)``) counts 4 bytes a character
MAX_INDEX_BYTES = 3072
#: the most columns a MariaDB index holds: a metric with a longer key has no MariaDB table at all
MAX_KEY_COLUMNS = 32
#: bytes of a column that is not text in a MariaDB index, by logical type (``BIGINT``, ``DOUBLE``, ``TINYINT(1)``; a
#: column with no value yet is ``BIGINT``); a type not listed counts as the widest
_INDEX_BYTES = {"int": 8, "float": 8, "bool": 1, "null": 8}


def key_text_limit(key_types: Sequence[str], rank_type: str | None = None) -> int:
    """The characters each text key value of a metric may hold, on every store alike (so that every store holds
    the same rows): :data:`MAX_KEY_TEXT`, or fewer where a MariaDB index could not hold that many in each text key
    column. Its :data:`MAX_INDEX_BYTES` are shared by the text key columns (4 bytes a character), less the bytes of
    the key's other columns and of a rank column outside the key that is not text (it leads the rank index, which
    holds the key too); MariaDB refused to create a table over them (error 1071), and with a key column shorter
    than 255 characters, a longer value ("Data too long"). ``key_types``: the key columns' types; ``rank_type``:
    the rank column's when it is not a key column. A key of more than :data:`MAX_KEY_COLUMNS` columns, which no
    MariaDB table holds, keeps :data:`MAX_KEY_TEXT`."""
    text = sum(type_ == "str" for type_ in key_types)
    if not text or len(key_types) > MAX_KEY_COLUMNS:
        return MAX_KEY_TEXT
    other = sum(_INDEX_BYTES.get(type_, 8) for type_ in key_types if type_ != "str")
    if rank_type not in (None, "str"):
        other += _INDEX_BYTES.get(rank_type, 8)
    return min(MAX_KEY_TEXT, (MAX_INDEX_BYTES - other) // 4 // text)


def metric_name_problem(name: str) -> str | None:
    """Why no store can hold a metric of this name, or None: names become table names in every store, so they
    are limited to ``[a-z][a-z0-9_]*`` (≤ 57). Matched whole (``fullmatch``): ``$`` also matches before a final line
    break, so a metric file whose name held one before ``.sql`` was taken, catalogued under that name and stored in
    the table of the name without it."""
    if _METRIC_NAME_RE.fullmatch(name):
        return None
    return (f"metric name {name!r} cannot be stored: use lowercase letters, digits and '_' "
            "(starting with a letter, at most 57 characters)")


def check_metric_name(name: str) -> str:
    """``name``, or a :class:`StoreError` when no store can hold it (:func:`metric_name_problem`)."""
    problem = metric_name_problem(name)
    if problem:
        raise StoreError(f"{problem}; rename spark_jobs/sql/<name>.sql")
    return name


def normalize_value(value: Any) -> Any:
    """A JSON-compatible scalar for any value an engine may return (dates as ISO text, decimals as floats)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None  # neither MariaDB nor JSON can hold them; SQL engines give NULL for 0/0 anyway
        return 0.0 if value == 0 else value  # -0.0 and 0.0 are one key
    if isinstance(value, decimal.Decimal):
        return normalize_value(float(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return normalize_value(item())
    raise StoreError(f"cannot store a value of type {type(value).__name__} ({value!r}); "
                     "metrics must return numbers, text, booleans or NULL")


def value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def merge_types(old: str, new: str) -> str | None:
    """The narrowest type holding both, or None when text meets numbers."""
    if old == new or new == "null":
        return old
    if old == "null":
        return new
    if "str" in (old, new):
        return None
    return old if _NUMERIC_ORDER[old] >= _NUMERIC_ORDER[new] else new


def cast(value: Any, type_: str) -> Any:
    """A stored (or written) value as the column's logical type; None stays None."""
    if value is None:
        return None
    if type_ == "bool":
        return bool(int(value)) if isinstance(value, (str, bytes)) else bool(value)
    if type_ == "int":
        return int(value)
    if type_ == "float":
        return float(value)
    if type_ == "str":
        return value.decode() if isinstance(value, bytes) else str(value)
    return value


_PLAIN = frozenset({type(None), bool, int, str})  # what normalize_value returns unchanged
_EXACT = {"bool": bool, "int": int, "float": float, "str": str}


def _cast_fast(value: Any, type_: str) -> Any:
    """:func:`cast`, without the call when the value already has the column's type (most values)."""
    return value if value is None or type(value) is _EXACT.get(type_) else cast(value, type_)


def _infer_types(metric: Metric, rows: list[Row]) -> dict[str, str]:
    """Each column's type (columns in first-seen order): the merge of the types of its values.

    The merge is a lattice join, so it is computed over each column's *set* of Python types; only when that
    fails (text meets numbers) are the values walked again, to name the first offending one.
    """
    kinds: dict[str, set[type]] = {}
    for row in rows:
        for column, value in row.items():
            seen = kinds.get(column)
            if seen is None:
                kinds[column] = {type(value)}
            else:
                seen.add(type(value))
    order: dict[str, str] = {}
    for column, types in kinds.items():
        merged: str | None = "null"
        for kind in types:
            merged = merge_types(merged, _type_name(kind)) if merged is not None else None
        if merged is None:
            merged = "null"
            for row in rows:
                if column in row:
                    value = row[column]
                    step = merge_types(merged, value_type(value))
                    if step is None:
                        raise StoreError(f"metric {metric.name}: column {column!r} mixes text and numbers "
                                         f"(e.g. {value!r}); fix the metric's SQL so each column has one type")
                    merged = step
        order[column] = merged
    return order


def _type_name(kind: type) -> str:
    """:func:`value_type` for a Python type (subclasses of int or str included)."""
    for base, name in ((type(None), "null"), (bool, "bool"), (int, "int"), (float, "float")):
        if issubclass(kind, base):
            return name
    return "str"


def coerce_query(value: Any, type_: str) -> tuple[bool, Any]:
    """A value used in a lookup, as the column's type; ``(False, None)`` when it can never match.

    Every store applies this before querying, so no database's own implicit conversions (SQLite's
    affinity, MariaDB's string-to-number comparisons) can make the stores answer differently.
    """
    value = normalize_value(value)
    if value is None or type_ == "null":
        return False, None
    kind = value_type(value)
    if type_ == "str":
        return (True, value) if kind == "str" and _utf8(value) else (False, None)
    if kind == "str":
        return False, None
    if type_ == "float":
        try:
            return True, float(value)
        except OverflowError:  # an int beyond any float: no stored float equals it
            return False, None
    if type_ == "int":
        if kind == "float" and not value.is_integer():
            return False, None
        number = int(value)
        low, high = _INT64
        if not low <= number <= high:  # no store holds such an integer (writes refuse it)
            return False, None
        return True, number
    # bool column
    if value in (0, 1):
        return True, bool(value)
    return False, None


def _utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8, as every store keeps text: not when it holds a lone surrogate, such
    as Python makes of a command-line argument's bytes that are not UTF-8 (``--prefix $'\\xff'``). No stored value
    equals such text; looked up, it was a UnicodeEncodeError raised by the database driver (a traceback)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class TableSchema:
    """What a store knows about one metric: its key, its typed columns (in order) and how it is read."""

    metric: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    rank_column: str | None = None
    rank_desc: bool = True
    prefix_column: str | None = None
    #: A new random value at every write or erasure that changes the metric (see BaseStore.generations); not
    #: layout.
    generation: str | None = field(default=None, compare=False)
    #: What computed the rows (:mod:`fediscope.engine.provenance`), recorded by ``fediscope process`` and
    #: ``spark_jobs/metrics.py`` at each write; None when written otherwise (a test, or a fediscope that did not
    #: record it). Not layout.
    provenance: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    types: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", dict(self.columns))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def prefix(self) -> str:
        return self.prefix_column or self.key[0]

    @property
    def value_columns(self) -> list[str]:
        return [name for name, _ in self.columns if name not in self.key]

    def key_of(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[k] for k in self.key)

    def decode(self, raw: Row) -> Row:
        """A row read from a store, with every column of the schema, as the logical types."""
        return {name: cast(raw.get(name), type_) for name, type_ in self.columns}

    def key_text_limit(self) -> int:
        """The characters each text key value may hold (:func:`key_text_limit`), the length of MariaDB's text key
        columns: it follows from the layout (key and rank types), so it changes only with a rebuild."""
        rank = self.rank_column
        rank_type = self.types.get(rank) if rank and rank not in self.key else None
        return key_text_limit([self.types[k] for k in self.key], rank_type)

    def layout(self) -> tuple[Any, ...]:
        """What cannot change without rebuilding the physical table (row keys, primary key, rank index)."""
        rank_type = self.types.get(self.rank_column) if self.rank_column else None  # HBase encodes it in keys
        return (self.key, tuple(self.types[k] for k in self.key), self.rank_column, rank_type, self.rank_desc,
                self.prefix_column)

    def to_json(self) -> str:
        return json.dumps({"metric": self.metric, "key": list(self.key), "columns": [list(c) for c in self.columns],
                           "rank_column": self.rank_column, "rank_desc": self.rank_desc,
                           "prefix_column": self.prefix_column, "generation": self.generation,
                           "provenance": self.provenance})

    @classmethod
    def from_json(cls, text: str | bytes) -> TableSchema:
        data = json.loads(text)
        return cls(metric=data["metric"], key=tuple(data["key"]),
                   columns=tuple((name, type_) for name, type_ in data["columns"]),
                   rank_column=data.get("rank_column"), rank_desc=data.get("rank_desc", True),
                   prefix_column=data.get("prefix_column"), generation=data.get("generation"),
                   provenance=data.get("provenance") if isinstance(data.get("provenance"), dict) else None)


@dataclass(frozen=True)
class WritePlan:
    """Rows ready to store (normalized, deduplicated by key, one value per schema column, cast to its type)."""

    schema: TableSchema
    rows: list[Row]
    rebuild: bool  # the existing table cannot take this schema in place
    added: tuple[str, ...] = ()
    widened: tuple[str, ...] = ()


def plan_write(metric: Metric, rows: Sequence[Row], existing: TableSchema | None,
               types: Mapping[str, str] | None = None) -> WritePlan:
    """Infer the schema of ``rows``, merge it with what is stored, and prepare the rows for writing.

    ``types``: the columns of ``rows`` with their logical types (names from :data:`TYPES`), for a caller that
    already knows them, e.g. from an Arrow schema (:func:`fediscope.engine.metric_state.arrow_types`). The caller
    then guarantees that every row is a dict with exactly these columns, in this order, holding values of these
    types or None, already normalized (:func:`normalize_value` gives each back unchanged), and that a column whose
    values are *all* None is typed ``"null"`` — what inference gives it, whatever the column's type in the source.
    Normalisation and inference are skipped, and so is rebuilding the rows when the merged schema is exactly
    ``types`` (the plan's rows are then the caller's dicts: they must not be changed afterwards); a column the
    store keeps wider (an int column stored as float) is cast as usual. The plan is the one the call without
    ``types`` gives for the same rows, except with no rows: inference then knows no column, while ``types`` (the
    result schema's own types) give the schema of the metric's empty table, so that a metric computed with no
    rows has its table and columns as one with rows does. A type name outside :data:`TYPES` makes the call infer
    as without ``types``.
    """
    check_metric_name(metric.name)
    typed = types if types is not None and all(t in TYPES for t in types.values()) else None
    if typed is not None:
        normalized = rows if isinstance(rows, list) else list(rows)
        order = dict(typed)
        if normalized and list(normalized[0]) != list(order):  # cheap guard against a caller mixing things up
            raise ValueError(f"metric {metric.name}: the rows' columns {list(normalized[0])} are not the given "
                             f"types' columns {list(order)}")
    else:
        normalized = [{column: value if type(value) in _PLAIN else normalize_value(value)
                       for column, value in row.items()} for row in rows]
        order = _infer_types(metric, normalized)
    # a name no store can hold is refused before anything is written
    check_column_names(metric.name, order, stored=existing.names if existing is not None else ())
    check_question(metric)
    known = bool(normalized) or typed is not None  # the result's columns are known: from its rows or its types
    missing = [k for k in metric.key if k not in order] if known else []
    if missing:
        raise StoreError(f"metric {metric.name}: key column(s) {', '.join(missing)} missing from the result; "
                         f"the SQL must select every column named in its '-- key:' header")
    if metric.rank_column and known and metric.rank_column not in order:
        raise StoreError(f"metric {metric.name}: rank column {metric.rank_column!r} is not in the result")

    rebuild = False
    added: list[str] = []
    widened: list[str] = []
    if existing is None:
        columns = dict(order)
    else:
        columns = dict(existing.columns)
        for column, type_ in order.items():
            if column not in columns:
                columns[column] = type_
                added.append(column)
                continue
            merged = merge_types(columns[column], type_)
            if merged is None:
                rebuild = True
                merged = type_
            if merged != columns[column]:
                widened.append(column)
            columns[column] = merged
    schema = TableSchema(metric=metric.name, key=metric.key, columns=tuple(columns.items()),
                         rank_column=metric.rank_column, rank_desc=metric.rank_desc,
                         prefix_column=metric.prefix_column)
    if existing is not None and schema.layout() != existing.layout():
        rebuild = True

    if typed is None:
        prepared = [{name: _cast_fast(row.get(name), type_) for name, type_ in schema.columns} for row in normalized]
    elif schema.columns == tuple(order.items()):
        prepared = normalized  # every value already has its column's type, columns in the schema's order
    else:
        prepared = _retyped(schema, normalized, order)
    if typed is None:  # typed rows come from Arrow int64 columns (always in range) and UTF-8 text
        _check_int_range(metric, schema, prepared)
        _check_text(metric, schema, prepared)
    _check_rank_text(metric, schema, prepared)
    by_key = _by_key(metric, schema, prepared)
    _check_row_key_length(metric, schema, by_key.values())
    return WritePlan(schema=schema, rows=list(by_key.values()), rebuild=rebuild, added=tuple(added),
                     widened=tuple(widened))


def check_question(metric: Metric) -> None:
    """Refuse a metric whose question no store can keep in its catalog entry: one holding a lone surrogate
    (:func:`_utf8`). Every change that records the metric checks it before changing anything: a write
    (:func:`plan_write`), a deletion and a settling (:meth:`fediscope.store.base.BaseStore.delete_where`, ``settle``),
    which raised the driver's UnicodeEncodeError (a traceback) when recording the catalog entry."""
    if not _utf8(metric.question):
        raise StoreError(f"metric {metric.name}: its question {_shown(metric.question)} holds a lone surrogate "
                         "(U+D800-U+DFFF: no character, as Python makes of bytes that are not UTF-8), which no store "
                         "can keep: they keep text as UTF-8")


_INT64 = (-(1 << 63), (1 << 63) - 1)


def _check_int_range(metric: Metric, schema: TableSchema, rows: list[Row]) -> None:
    """Refuse an integer no store can hold as an integer (SQLite and MariaDB hold 64 bits; SQLite's driver
    raised an OverflowError, MariaDB refused the write, HBase kept it), so every store refuses it alike."""
    low, high = _INT64
    for name, type_ in schema.columns:
        if type_ != "int":
            continue
        for row in rows:
            value = row[name]
            if value is not None and not low <= value <= high:
                raise StoreError(f"metric {metric.name}: column {name!r} has the integer {value}, outside the 64-bit "
                                 "range the stores hold; CAST it to DOUBLE in the metric's SQL")


def _check_text(metric: Metric, schema: TableSchema, rows: list[Row]) -> None:
    """Refuse a text value no store can keep, one holding a lone surrogate (:func:`_utf8`): every store keeps text
    as UTF-8, and each driver raised a UnicodeEncodeError (a traceback) at the write, on HBase after other rows of
    the write were stored."""
    texts = [name for name, type_ in schema.columns if type_ == "str"]
    for row in rows:
        for name in texts:
            value = row[name]
            if value is not None and not value.isascii() and not _utf8(value):
                raise StoreError(f"metric {metric.name}: column {name!r} has the text {_shown(value)} (key "
                                 f"{schema.key_of(row)!r}), which holds a lone surrogate (U+D800-U+DFFF: no "
                                 "character, as Python makes of bytes that are not UTF-8); no store can keep it: "
                                 "they keep text as UTF-8")


def _shown(text: str, limit: int = 80) -> str:
    """``text`` as a quoted, escaped literal (a lone surrogate as ``\\ud800``), cut at ``limit`` characters."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}…"


def _check_rank_text(metric: Metric, schema: TableSchema, rows: list[Row]) -> None:
    """Refuse a text rank value longer than a text key may be (:data:`MAX_KEY_TEXT`), on every store alike: HBase
    keeps the value in the row keys of its rank index (at most 32767 bytes), MariaDB indexes the first
    ``MAX_KEY_TEXT`` characters of it, and the results API's page cursors carry it. A text rank column that is a
    key column is limited as a key (:func:`_by_key`)."""
    rank = schema.rank_column
    if not rank or rank in schema.key or schema.types.get(rank) != "str":
        return
    values = [row[rank] for row in rows if row[rank] is not None]
    if max(map(len, values), default=0) > MAX_KEY_TEXT:
        longest = max(values, key=len)
        raise StoreError(f"metric {metric.name}: rank column {rank!r} has a value of {len(longest)} characters; "
                         f"text rank values are limited to {MAX_KEY_TEXT}, as text keys are")


def row_key_limit(key_types: Sequence[str], rank_type: str | None) -> Callable[[Sequence[Any], Any], int] | None:
    """None when no row of a metric with these key (and rank) types can make a row key longer than HBase takes
    (:data:`~fediscope.store.rowkeys.MAX_ROW_LENGTH`): every metric with fewer than 32 text key columns. Else
    ``length(key values, rank value)``, the row's longest HBase row key in bytes, to check each row with."""
    if longest_row_key(key_types, rank_type, MAX_KEY_TEXT) <= MAX_ROW_LENGTH:
        return None
    return lambda key, rank: row_key_length(key, key_types, rank, rank_type)


def _check_row_key_length(metric: Metric, schema: TableSchema, rows: Collection[Row]) -> None:
    """Refuse, on every store alike and before anything is written, a row whose HBase row key would be longer than
    HBase takes: HBase refuses the whole batch holding it, saying only "Internal error processing mutateRows"."""
    if not rows:
        return  # a write of no rows may not know its key's types
    rank = schema.rank_column
    length = row_key_limit([schema.types[k] for k in schema.key], schema.types[rank] if rank else None)
    if length is None:
        return
    for row in rows:
        if (bytes_ := length(schema.key_of(row), row[rank] if rank else None)) > MAX_ROW_LENGTH:
            columns = ", ".join(dict.fromkeys([*schema.key, *([rank] if rank else [])]))
            raise StoreError(f"metric {metric.name}: a row's key ({columns}) makes a row key of {bytes_} bytes, "
                             f"longer than the {MAX_ROW_LENGTH} HBase takes; use fewer text key columns")


def _retyped(schema: TableSchema, rows: list[Row], given: dict[str, str]) -> list[Row]:
    """Typed rows (``given``: their columns' types) as the schema's rows: its columns in its order, a column the
    rows lack as None, and only the columns whose schema type differs from the given one cast, value by value."""
    columns: list[Iterable[Any]] = []
    for name, type_ in schema.columns:
        kind = given.get(name)
        if kind is None:
            columns.append(repeat(None, len(rows)))
            continue
        values = map(itemgetter(name), rows)
        columns.append(values if kind in (type_, "null") else [_cast_fast(v, type_) for v in values])
    names = schema.names
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _by_key(metric: Metric, schema: TableSchema, rows: list[Row]) -> dict[Any, Row]:
    """The rows by key, the last row with a key winning (in every store); refuses NULL or over-long text keys
    (longer than :meth:`TableSchema.key_text_limit`).

    The common case (every key fine) is checked over the distinct keys at C speed; only a refused write walks
    the rows again, to name the first offending row as the error.
    """
    if not rows:
        return {}
    key = schema.key
    by_key = dict(zip(map(itemgetter(*key), rows), rows, strict=True))  # one key column: its value, else a tuple
    text_at = [i for i, k in enumerate(key) if schema.types[k] == "str"]
    limit = schema.key_text_limit()
    if len(key) == 1:
        bad = None in by_key or bool(text_at) and max(map(len, by_key), default=0) > limit
    else:
        bad = any(None in k for k in by_key) or any(
            max((len(k[i]) for k in by_key), default=0) > limit for i in text_at)
    if bad:
        for row in rows:
            values = schema.key_of(row)
            if any(v is None for v in values):
                nulls = [k for k, v in zip(key, values, strict=True) if v is None]
                raise StoreError(f"metric {metric.name}: key column(s) {', '.join(nulls)} are NULL in a row; "
                                 "key columns identify rows and must not be NULL (COALESCE them in the SQL)")
            for k in key:
                if schema.types[k] == "str" and len(row[k]) > limit:
                    why = "" if limit == MAX_KEY_TEXT else (
                        f" in a metric with this key (its text key columns share the {MAX_INDEX_BYTES} bytes of a "
                        "MariaDB key)")
                    raise StoreError(f"metric {metric.name}: key column {k!r} has a value of {len(row[k])} "
                                     f"characters; keys are limited to {limit}{why}")
    return by_key
