"""One SQL text, two engines: the fediscope SQL is written in DuckDB's dialect and translated to Spark SQL.

sqlglot (``sqlglot.transpile(sql, read="duckdb", write="spark")``) rewrites function names, casts, lambdas,
``UNNEST``, ``QUALIFY`` and NULL ordering. A few DuckDB constructs translate to Spark SQL that runs but means
something else; :func:`check_portable` refuses them, so a metric cannot silently differ between engines:

* ``isodow``/``dayofweek``/``dow``/``weekday``: the day numbering differs between the engines and sqlglot's
  rewrite is off by one. Compute the weekday from a day difference instead (see ``activity_by_hour.sql``).
* ``regexp_replace`` without the ``'g'`` flag replaces only the first match in DuckDB, every match in Spark.
* ``len``/``length`` on a list becomes Spark's string ``LENGTH``; use ``array_length`` (Spark ``SIZE``).
* ``strftime`` formats with literal letters (``'%Y-%m-%dT%H'``): Spark reads the ``T`` as a pattern letter.

The parity test runs every metric on both engines, so anything this check misses still fails a test.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

_FORBIDDEN_FUNCTIONS = {"ISODOW", "DOW", "WEEKDAY", "DAYOFWEEK", "LEN"}


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
        if isinstance(node, exp.RegexpReplace):
            modifiers = node.args.get("modifiers")
            if modifiers is None or "g" not in modifiers.name:
                raise NotPortableError(f"{name}: regexp_replace needs the 'g' flag (Spark always replaces "
                                       "every match, DuckDB only the first without it)")
        if isinstance(node, exp.TimeToStr) and re.search(r"[A-Za-z]", re.sub(r"%.", "", node.args["format"].name)):
            raise NotPortableError(f"{name}: strftime format {node.args['format'].name!r} has literal letters, "
                                   "which Spark's date_format reads as pattern letters; use only %-codes")
        if isinstance(node, exp.Length) and _is_list_expression(node.this):
            raise NotPortableError(f"{name}: length() of a list becomes a string LENGTH in Spark; "
                                   "use array_length()")


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
