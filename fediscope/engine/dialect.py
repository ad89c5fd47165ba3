"""One SQL text, two engines: the fediscope SQL is written in DuckDB's dialect and translated to Spark SQL.

sqlglot (``sqlglot.transpile(sql, read="duckdb", write="spark")``) rewrites function names, casts, lambdas,
``UNNEST``, ``QUALIFY`` and NULL ordering. A few DuckDB constructs translate to Spark SQL that runs but means
something else; :func:`check_portable` refuses them, so a metric cannot silently differ between engines:

* ``isodow``/``dayofweek``/``dow``/``weekday``/``yearweek``: the day numbering differs between the engines and
  sqlglot's rewrite is off by one. Compute the weekday from a day difference instead (see ``activity_by_hour.sql``).
* ``extract(<part> FROM x)``/``date_part('<part>', x)`` other than year, quarter, month, week (ISO in both), day,
  day of year, hour and minute: ``dow`` is Sunday=0 in DuckDB, Sunday=1 in Spark; ``second`` is a whole number in
  DuckDB, with the fraction in Spark; others (``isodow``, ``yearweek``, ``epoch``, …) Spark does not know.
* ``date_diff``/``datediff``: DuckDB counts the unit's boundaries crossed, Spark whole units elapsed (23:00 to
  01:00 the next day is 1 day in DuckDB, 0 in Spark). Both agree only on days between two DATEs, so the unit
  must be ``'day'`` and both arguments DATEs (a ``CAST(… AS DATE)``, a DATE literal, a DATE column of a curated
  table, or a column computed from those: the types are inferred from :mod:`fediscope.engine.schema`).
* ``regexp_replace`` without the ``'g'`` flag replaces only the first match in DuckDB, every match in Spark.
* ``len``/``length`` on a list becomes Spark's string ``LENGTH``; use ``array_length`` (Spark ``SIZE``).
* ``strftime`` formats with literal letters (``'%Y-%m-%dT%H'``): Spark reads the ``T`` as a pattern letter.
* ``strftime`` codes sqlglot does not translate (``%w``, ``%u``, ``%V``, ``%e``, ``%%``, …), ``%j`` (zero-padded to
  3 digits in DuckDB, 2 in Spark) and the zone codes ``%z``/``%Z`` (the curated timestamps have no zone).

The parity test runs every metric on both engines, so anything this check misses still fails a test.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from fediscope.engine.schema import COLLECTION_STARTS, CURATED, duckdb_type

_FORBIDDEN_FUNCTIONS = {"ISODOW", "DOW", "WEEKDAY", "DAYOFWEEK", "YEARWEEK", "LEN"}

#: ``extract``/``date_part`` parts both engines number alike (checked on DuckDB and Spark 4)
_PORTABLE_PARTS = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOY", "HOUR", "MINUTE"}
_DATE_PART_FUNCTIONS = {"DATE_PART", "DATEPART"}
#: ``date_diff`` units both engines count alike (between two DATEs only)
_PORTABLE_DIFF_UNITS = {"DAY", "DAYS", "D"}
#: ``strftime`` codes sqlglot translates to a Spark pattern that formats alike
_PORTABLE_FORMAT_CODES = {"%a", "%A", "%b", "%B", "%d", "%-d", "%f", "%H", "%-H", "%I", "%-I", "%m", "%-m", "%M",
                          "%-M", "%p", "%S", "%-S", "%y", "%Y", "%-j"}
_WEEKDAY_HINT = "(date_diff('day', DATE '1970-01-05', CAST(x AS DATE)) % 7 + 7) % 7 + 1 (Monday = 1)"


class NotPortableError(ValueError):
    """The SQL uses a DuckDB construct whose Spark translation means something different."""


def check_portable(sql: str, name: str = "query") -> None:
    """Raise :class:`NotPortableError` when ``sql`` uses a construct listed in the module docstring; its message
    starts with ``name``."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise NotPortableError(f"{name}: not valid DuckDB SQL: {_parse_error(exc)}") from None
    for node in tree.walk():
        if isinstance(node, exp.DayOfWeekIso | exp.DayOfWeek):
            raise NotPortableError(f"{name}: isodow/dayofweek differ between DuckDB and Spark; "
                                   "use date_diff('day', DATE '1970-01-05', d) % 7 + 1 (ISO weekday)")
        if isinstance(node, exp.Anonymous) and node.name.upper() in _FORBIDDEN_FUNCTIONS:
            raise NotPortableError(f"{name}: {node.name}() is not portable to Spark SQL "
                                   "(use array_length for lists, date_diff arithmetic for weekdays)")
        if isinstance(node, exp.Extract):
            _check_part(node.this.name, "extract", name)
        if isinstance(node, exp.Anonymous) and node.name.upper() in _DATE_PART_FUNCTIONS:
            part = node.expressions[0] if node.expressions else None
            if not (isinstance(part, exp.Literal) and part.is_string):
                raise NotPortableError(f"{name}: {node.name}() needs its part as one quoted name "
                                       "('year', 'month', …) to be checked for Spark")
            _check_part(part.name, node.name, name)
        if isinstance(node, exp.RegexpReplace):
            modifiers = node.args.get("modifiers")
            if modifiers is None or "g" not in modifiers.name:
                raise NotPortableError(f"{name}: regexp_replace needs the 'g' flag (Spark always replaces "
                                       "every match, DuckDB only the first without it)")
        if isinstance(node, exp.TimeToStr) and re.search(r"[A-Za-z]", re.sub(r"%-?.", "", node.args["format"].name)):
            raise NotPortableError(f"{name}: strftime format {node.args['format'].name!r} has literal letters, "
                                   "which Spark's date_format reads as pattern letters; use only %-codes")
        if isinstance(node, exp.TimeToStr):
            codes = [c for c in re.findall(r"%-?.", node.args["format"].name) if c not in _PORTABLE_FORMAT_CODES]
            if codes:
                raise NotPortableError(
                    f"{name}: strftime code {codes[0]} formats differently in Spark (or not at all); use "
                    f"%Y %m %d %H %M %S %f %y %a %A %b %B %I %p (%-d and the like unpadded, %-j the day of the "
                    f"year), and for a weekday {_WEEKDAY_HINT}")
        if isinstance(node, exp.Length) and _is_list_expression(node.this):
            raise NotPortableError(f"{name}: length() of a list becomes a string LENGTH in Spark; "
                                   "use array_length()")
    _check_date_diffs(tree, name)


def _check_part(part: str, function: str, name: str) -> None:
    if part.upper() not in _PORTABLE_PARTS:
        raise NotPortableError(
            f"{name}: {function}({part.lower()}) differs between DuckDB and Spark; use year, quarter, month, week, "
            f"day, doy, hour or minute, and for a weekday {_WEEKDAY_HINT}")


def _check_date_diffs(tree: exp.Expression, name: str) -> None:
    """Refuse a ``date_diff`` other than in days between two DATEs (see the module docstring)."""
    diffs = list(tree.find_all(exp.DateDiff))
    if not diffs:
        return
    for diff in diffs:
        unit = diff.unit.name.upper() if diff.unit else "DAY"
        if unit not in _PORTABLE_DIFF_UNITS:
            raise NotPortableError(
                f"{name}: date_diff('{unit.lower()}', …) counts boundaries crossed in DuckDB, whole units in Spark; "
                "use date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) and divide")
    typed = list(_typed(tree).find_all(exp.DateDiff))  # the same walk: the same diffs in the same order
    for diff, typed_diff in zip(diffs, typed if len(typed) == len(diffs) else [None] * len(diffs), strict=True):
        for arg, typed_arg in ((diff.expression, typed_diff and typed_diff.expression),
                               (diff.this, typed_diff and typed_diff.this)):
            if not (typed_arg and typed_arg.type and typed_arg.type.is_type(exp.DataType.Type.DATE)):
                text = arg.sql("duckdb")
                raise NotPortableError(
                    f"{name}: date_diff('day', …) of {text}, not known to be a DATE: DuckDB counts midnights "
                    f"crossed, Spark whole 24-hour periods; write CAST({text} AS DATE)")


def _typed(tree: exp.Expression) -> exp.Expression:
    """A copy of ``tree`` with the types sqlglot infers from the curated tables' schemas. When its columns cannot
    be resolved (an unknown column, which the engine reports itself), only casts and literals are typed."""
    try:
        return annotate_types(qualify(tree.copy(), schema=_SCHEMA, dialect="duckdb"), schema=_SCHEMA,
                              dialect="duckdb")
    except sqlglot.errors.SqlglotError:
        return annotate_types(tree.copy(), dialect="duckdb")


_SCHEMA = {t.name: {c: duckdb_type(ty) for c, ty in t.columns.items()}
           for t in (*CURATED.values(), COLLECTION_STARTS)}


def _parse_error(exc: sqlglot.errors.ParseError) -> str:
    """sqlglot's parse error in one line: its own message spans lines, the text near the error underlined with
    terminal escape codes. Its column is where the token named ends, so the token is named instead."""
    if not exc.errors:
        return str(exc).splitlines()[0]
    error = exc.errors[0]
    near = f" near {error['highlight']!r}" if error.get("highlight") else ""
    return f"{error['description']} at line {error['line']}{near}"


def _is_list_expression(node: exp.Expression) -> bool:
    return isinstance(node, exp.ArrayFilter | exp.Transform | exp.RegexpExtractAll | exp.Array)


@lru_cache(maxsize=256)
def to_spark(sql: str) -> str:
    """The Spark SQL translation of one DuckDB statement (checked with :func:`check_portable` first)."""
    check_portable(sql, "not portable to Spark SQL")
    statements = sqlglot.transpile(sql, read="duckdb", write="spark")
    if len(statements) != 1:
        raise NotPortableError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]
