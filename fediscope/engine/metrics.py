"""The metric registry: one SQL file per metric under ``spark_jobs/sql/`` (the built-in metrics) and, when the
``metrics_dir`` setting (``FEDISCOPE_METRICS_DIR``) names one, a directory of the user's own, read alike by every
engine and store (:func:`metric_files`: a name may be in only one of them).

Each file starts with a header of ``-- key: value`` lines, then one SELECT over the curated tables
(``statuses``, ``accounts``, ``hashtags``, ``instance_activity``, ``tag_trends``, ``instance_peers``) written in
DuckDB's dialect; the Spark engine translates it with sqlglot. Header keys:

* ``question`` — the one-line question the metric answers (required);
* ``key`` — comma-separated columns that identify a row (required): re-running a batch overwrites rows with
  the same key, never duplicates them; stores build their primary keys / HBase row keys from it;
* ``rank`` — ``column DESC`` or ``column ASC`` (either word in any case; DESC when left out): the order top-N
  reads use (optional); another word, more than two, or a comma is refused when the file is read; a text rank column
  outside the key holds at most ``MAX_KEY_TEXT`` (255) characters per value, as a text key does, since HBase's
  rank index keeps the value in its row keys (:mod:`fediscope.store.schema`);
* ``prefix`` — the key column that prefix reads use (optional, defaults to the first key column); a column
  that is not one of ``key``'s is refused when the file is read, with a :class:`MetricFileError` naming the file;
* ``timestamps`` — comma-separated columns holding UTC timestamps, as text ``YYYY-MM-DD HH:MM:SS`` (optional;
  ``strftime(…, '%Y-%m-%d %H:%M:%S')`` of a UTC time): the stores keep such a value as that text (they know no
  time type), and the results API and ``fediscope report --format json`` give it as RFC 3339 UTC
  (``2026-11-01T12:00:00Z``, :func:`fediscope.timestamps.rfc3339_utc`), which JavaScript's ``Date`` reads as UTC,
  not as local time. Date-only columns (``YYYY-MM-DD``) are not listed: they are no moment in time. A listed
  column of another type (a DATE, a number) or of text that is no such timestamp is refused when the result is
  computed or bound (:func:`fediscope.engine.metric_state.check_timestamp_columns`), not at its first read.

Each of these lines may be given once, with a value (:data:`HEADER_FORMS`): one given twice, or empty, is refused
the same way, as is a ``key`` naming a column twice or holding an empty name (``a,,b``, ``a,``). Other
``-- name: …`` lines are comments.

A file holding more than one SQL statement (``SELECT …; SELECT …``), or none, is refused the same way, on every
engine alike (DuckDB would run each and keep the last one's result): :func:`statement_count`.

Column names become column names in every store. Reserved words and odd characters are fine (the stores quote
them), but :func:`check_column_names` refuses, for every store alike, what one of them cannot hold: empty
names, names over 64 characters or ending in a space, control characters, characters outside Unicode's basic
plane (emoji) — all MariaDB limits —, lone surrogates (which no UTF-8 holds), and two names that differ only in
case (one column to SQLite and MariaDB). The header's columns are checked when the file is read, the result's
when its rows are stored.
:func:`check_column_count` refuses a result with more columns than the configured store's table holds
(:data:`MAX_COLUMNS`), :func:`check_definition_size` one whose column names make a MariaDB table's definition too
large, and :func:`check_row_size` one whose rows a MariaDB table cannot hold (InnoDB's row-size limit), when
``fediscope doctor`` binds the SQL and when ``process`` computes it, before any store write.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fediscope.console import SAID
from fediscope.errors import MetricFileError

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent.parent / "spark_jobs" / "sql"
_HEADER_RE = re.compile(r"^--\s*(\w+)\s*:(.*)$")
MAX_COLUMN_NAME = 64  # characters: MariaDB's limit for identifiers
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: a lone UTF-16 surrogate: a ``str`` may hold one (``"\\ud800"``, or a byte that is not UTF-8 read with
#: ``surrogateescape``), UTF-8 cannot, so every store's driver raised a UnicodeEncodeError at the write
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
#: The most columns a metric's table holds, by store kind (:func:`fediscope.store.port.store_kind`); the stores add
#: no column of their own to it (HBase keeps a row's values as cells: no limit). SQLite's is its default
#: SQLITE_MAX_COLUMN (``too many columns`` at CREATE TABLE); MariaDB's is InnoDB's per table (errno 185 ``Too
#: many columns`` from 1,018, checked on MariaDB 10.11), whose row-size limit (8,126 bytes) can refuse fewer:
#: about 380 text columns, 996 numbers, or fewer text columns holding short values (:func:`check_row_size`), and
#: the 64 KiB of its table's definition fewer when the column names are long: 795 of 64 characters
#: (:func:`check_definition_size`).
MAX_COLUMNS = {"sqlite": 2000, "mariadb": 1017}
_STORE_NAMES = {"sqlite": "SQLite", "mariadb": "MariaDB"}


@dataclass(frozen=True)
class Metric:
    name: str
    question: str
    key: tuple[str, ...]
    sql: str
    rank_column: str | None = None
    rank_desc: bool = True
    prefix_column: str | None = None
    #: the ``-- timestamps:`` columns: UTC timestamps stored as text (see the module docstring)
    timestamp_columns: tuple[str, ...] = ()
    source: str | None = field(default=None, compare=False)  # the SQL file, for messages (:func:`where`)

    @property
    def where(self) -> str:
        """``metric <name> (<its SQL file>)``: how an error about the metric names it and the file to edit."""
        return _where(self.name, self.source)

    @property
    def prefix(self) -> str:
        return self.prefix_column or self.key[0]


def column_name_problem(column: str) -> str | None:
    """Why no store can hold a column of this name, or None when every store can."""
    if not column:
        return "the name is empty"
    if len(column) > MAX_COLUMN_NAME:
        return f"the name has {len(column)} characters, at most {MAX_COLUMN_NAME} are allowed"
    if _CONTROL_RE.search(column):
        return "the name contains a control character (a tab, a line break, …)"
    if column.endswith(" "):
        return "the name ends with a space"
    if _SURROGATE_RE.search(column):
        return ("the name contains a lone surrogate (U+D800-U+DFFF: no character, as Python makes of bytes that are "
                "not UTF-8), which no store can keep: they keep names as UTF-8")
    if max(map(ord, column)) > 0xFFFF:
        return "the name contains a character outside Unicode's basic plane (an emoji?), which MariaDB refuses"
    return None


def check_column_names(metric: str, columns: Iterable[str], source: str | None = None,
                       stored: Iterable[str] = ()) -> None:
    """Raise :class:`MetricFileError` naming the metric's file and the column when a store could not hold a column.

    ``source``: the metric's SQL file (default ``spark_jobs/sql/<metric>.sql``); ``stored``: the columns a store
    already holds for the metric, only checked against ``columns`` for names differing in case (a name stored
    before these checks existed must not block every later write). See the module docstring.
    """
    where = _where(metric, source)
    seen = {column.lower(): column for column in stored}
    for column in columns:
        problem = column_name_problem(column)
        if problem:
            raise MetricFileError(f"{where}: column {column!r} cannot be stored: {problem}; "
                                  "rename it in the SQL (… AS new_name)")
        other = seen.setdefault(column.lower(), column)
        if other != column:
            raise MetricFileError(f"{where}: columns {other!r} and {column!r} differ only in case, which SQLite "
                                  "and MariaDB take as one column; rename one of them in the SQL (… AS new_name)")


def check_column_count(metric: Metric, count: int, store_url: str) -> None:
    """Refuse, with a :class:`MetricFileError` naming the metric's file, a result of ``count`` columns, more than the
    table of the store ``store_url`` names holds (:data:`MAX_COLUMNS`). Was: found by the store's CREATE TABLE,
    after every metric was computed and the ones before it written (SQLite's ``too many columns``, exit 1), and
    not by ``fediscope doctor``."""
    from fediscope.store.port import store_kind  # port imports this module

    kind = store_kind(store_url)
    limit = MAX_COLUMNS.get(kind)
    if limit is not None and count > limit:
        raise MetricFileError(f"{metric.where}: the result has {count} columns, more than the {limit:,} a "
                              f"{_STORE_NAMES[kind]} store's table holds; select fewer columns, or split it into "
                              "several metrics")


def check_definition_size(metric: Metric, columns: Sequence[str], store_url: str) -> None:
    """Refuse, with a :class:`MetricFileError` naming the metric's file, a result whose columns make a MariaDB table
    definition over the 64 KiB MariaDB allows (:mod:`fediscope.store.table_definition`: 18 bytes a column and its
    name's bytes), which is the column names' length as much as their count: 800 columns of 64-character names are
    over, far below the 1,017 columns :func:`check_column_count` allows. Was: found by the store's CREATE TABLE
    (errno 1117, ``Table definition is too large``), after every metric was computed and the ones before it
    written, naming no file. Other stores have no such limit."""
    from fediscope.store import table_definition
    from fediscope.store.port import store_kind  # port imports this module

    if store_kind(store_url) != "mariadb":
        return
    size = table_definition.definition_bytes(columns)
    if size > table_definition.DEFINITION_LIMIT:
        names = table_definition.name_bytes(columns)
        raise MetricFileError(f"{metric.where}: a MariaDB table of its {len(columns)} columns has a definition of "
                              f"{size:,} bytes as MariaDB counts it ({table_definition.PER_COLUMN} a column and "
                              f"its name's bytes; the names take {names:,}), and MariaDB refuses one over "
                              f"{table_definition.DEFINITION_LIMIT:,} bytes; shorten the column names (… AS "
                              "new_name), select fewer columns, or split it into several metrics")


def check_row_size(metric: Metric, types: Mapping[str, str], store_url: str, table: Any = None) -> None:
    """Refuse, with a :class:`MetricFileError` naming the metric's file, a result whose rows a MariaDB store's table
    cannot hold by InnoDB's row-size limit (:mod:`fediscope.store.innodb_rows`): its columns (``types``: their
    store types by name) make a table InnoDB refuses to create, or a row of ``table`` (the result as an Arrow table,
    when there is one) is one it refuses to store. Only what the server is sure to refuse: was refused by its
    CREATE TABLE or INSERT (errno 1118, ``Row size too large``), after every metric was computed and the ones
    before it written, naming no file. Other stores have no such limit.

    The table counted is the one the store declares for the result (:func:`~fediscope.store.innodb_rows.
    table_row_bytes`), as its first write and every rebuild create it: a column all NULL is ``BIGINT`` there, 8
    bytes. It counted 1 (the narrowest a kept table may hold it in), so about 1,000 such columns passed here and
    the CREATE TABLE refused them. A kept table holding those columns as booleans could take them in place; such a
    result is refused all the same, as the next rebuild of the table (a changed key, a stale metric stored again)
    would be refused."""
    from fediscope.store import innodb_rows
    from fediscope.store.port import store_kind  # port imports this module

    if store_kind(store_url) != "mariadb" or any(column not in types for column in metric.key):
        return
    fix = "select fewer columns, or split it into several metrics"
    # the table the store declares: a column all NULL is BIGINT there (was counted 1 byte, so ~1,000 of them passed
    # here and CREATE TABLE refused them)
    size = innodb_rows.table_row_bytes(metric.key, metric.rank_column, types)
    if size >= innodb_rows.ROW_LIMIT:
        texts = sum(1 for type_ in types.values() if type_ == "str")
        raise MetricFileError(f"{metric.where}: a MariaDB table of its {len(types)} columns ({texts} of them text) "
                              f"has rows of up to {size:,} bytes as InnoDB counts them (21 a text column, 8 a "
                              f"number or a column all NULL), and InnoDB refuses a table whose rows reach "
                              f"{innodb_rows.ROW_LIMIT:,}; {fix}")
    if table is None:
        return
    size, index = innodb_rows.least_row_bytes(metric.key, metric.rank_column, types, table)
    if size >= innodb_rows.ROW_LIMIT:
        _refuse_row(metric, table.slice(index, 1).select(list(metric.key)).to_pylist()[0], size)


def check_row_values_size(metric: Metric, types: Mapping[str, str], store_url: str,
                          rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, with the :class:`MetricFileError` :func:`check_row_size` gives for such a row of a result, one of
    ``rows`` (dicts of these columns and store types, as a write from Python gives them) that a MariaDB store's table
    cannot hold by its values (:func:`~fediscope.store.innodb_rows.least_dict_row_bytes`). The table itself is not
    counted here: a kept table is checked by the store (:meth:`fediscope.store.mysql.MySQLStore._fits_in_place`).
    Was: only ``fediscope process`` counted its rows (an Arrow table), so a row written from Python reached the
    INSERT (errno 1118, ``Row size too large``), after the write had altered the table or loaded part of a new one."""
    from fediscope.store import innodb_rows
    from fediscope.store.port import store_kind  # port imports this module

    if store_kind(store_url) != "mariadb" or any(column not in types for column in metric.key):
        return
    size, index = innodb_rows.least_dict_row_bytes(metric.key, metric.rank_column, types, rows)
    if size >= innodb_rows.ROW_LIMIT:
        _refuse_row(metric, {column: rows[index][column] for column in metric.key}, size)


def _refuse_row(metric: Metric, key: Mapping[str, Any], size: int) -> None:
    """The :class:`MetricFileError` of a row of ``size`` bytes (at least), of key ``key``, that InnoDB refuses."""
    from fediscope.store import innodb_rows

    shown = ", ".join(f"{column}={value!r}" for column, value in key.items())
    raise MetricFileError(f"{metric.where}: the row {shown} takes at least {size:,} bytes in a MariaDB table "
                          f"(a text value its length up to {innodb_rows.INLINE_TEXT} bytes, "
                          f"{innodb_rows.OFF_PAGE_VALUE} when longer; a number 8), and InnoDB refuses a row of "
                          f"{innodb_rows.ROW_LIMIT:,} bytes or more; select fewer columns, or split it into several "
                          "metrics, or shorten its text values")


def check_result_columns(metric: Metric, columns: Sequence[str]) -> None:
    """Refuse, with a :class:`MetricFileError` naming the metric's file, a result whose ``columns`` lack a key or
    rank column the header names (checked also when the result has no rows, or only bound: ``fediscope doctor``)."""
    named = list(dict.fromkeys([*metric.key, *([metric.rank_column] if metric.rank_column else [])]))
    named += [column for column in metric.timestamp_columns if column not in named]
    missing = [column for column in named if column not in columns]
    if missing:
        raise MetricFileError(f"{metric.where}: column(s) {', '.join(missing)} named in its header are not in the "
                              f"result, whose columns are {', '.join(columns) or 'none'}; select them "
                              "or fix the '-- key:'/'-- rank:'/'-- timestamps:' line")


def check_spark_portable(metrics: Iterable[Metric]) -> None:
    """Refuse, with a :class:`MetricFileError` naming its file, the first of ``metrics`` whose SQL uses a construct
    Spark would run differently or not at all (:func:`~fediscope.engine.dialect.to_spark`), before anything is
    computed: the Spark engine translates each metric only when it comes to run it, after curation and the metrics
    before it. Pure Python (sqlglot), no Java started; ``fediscope doctor`` finds them alike."""
    from fediscope.engine.dialect import NotPortableError, to_spark

    for metric in metrics:
        try:
            to_spark(metric.sql)
        except NotPortableError as exc:
            raise MetricFileError(f"{metric.where}: {exc}") from None


def _where(metric: str, source: str | None) -> str:
    return f"metric {metric} ({source or f'spark_jobs/sql/{metric}.sql'})"


#: the header lines a metric file may hold, each at most once, and the value each takes
HEADER_FORMS = {"question": "'-- question: <the question the metric answers>'",
                "key": "'-- key: <column>[, <column>…]'",
                "rank": "'-- rank: <column> [ASC|DESC]'",
                "prefix": "'-- prefix: <one of the key columns>'",
                "timestamps": "'-- timestamps: <column>[, <column>…]'"}


def _meant_header(name: str) -> str | None:
    """The header name ``name`` (lower case, not one of :data:`HEADER_FORMS`) looks like a misspelling or a longer
    form of (``keys``, ``prefx``, ``rank_by``), or None for a comment's word (``note``, ``see``)."""
    longer = next((header for header in HEADER_FORMS if name.startswith(header)), None)
    close = difflib.get_close_matches(name, HEADER_FORMS, n=1, cutoff=0.75)
    return longer or (close[0] if close else None)


def parse_metric(name: str, text: str, source: str | None = None) -> Metric:
    """A metric from its SQL file's text; ``source`` names the file in error messages."""
    where = _where(name, source)
    header = _header(text, where)
    for required in ("question", "key"):
        if required not in header:
            raise MetricFileError(f"{where}: missing '-- {required}: …' header line (the file starts "
                                  "with '-- question: …' and '-- key: column[, column…]' lines, then one SELECT)")
    rank_column, rank_desc = _rank(header.get("rank"), where)
    key = _columns("key", header["key"], where)
    prefix = header.get("prefix")
    timestamps = _columns("timestamps", header["timestamps"], where) if "timestamps" in header else ()
    named = [*key, *(c for c in (rank_column, prefix, *timestamps) if c and c not in key)]
    check_column_names(name, dict.fromkeys(named), source)
    if prefix is not None and prefix not in key:
        raise MetricFileError(f"{where}: '-- prefix: {prefix}' is not a key column; the prefix column "
                              f"must be one of '-- key: {header['key']}' (prefix reads give one value's rows in key "
                              "order, and HBase's row keys start with it)")
    count = statement_count(text)
    if count is not None and count != 1:
        raise MetricFileError(f"{where}: holds {count or 'no'} SQL statement{'s' if count else ''}; "
                              "a metric file holds one SELECT (after its '-- ' header lines)")
    return Metric(name=name, question=header["question"], key=key, sql=text, rank_column=rank_column,
                  rank_desc=rank_desc, prefix_column=prefix, timestamp_columns=timestamps, source=source)


def _header(text: str, where: str) -> dict[str, str]:
    """The ``-- name: value`` lines before the SQL, by lower-case name. A line of :data:`HEADER_FORMS` given twice
    or with no value is refused: the last one would silently win, and an empty one would be read as a comment.
    Other names (``-- Note: …``) are comments, except one that looks like a misspelt header name (``-- keys:``,
    ``-- prefx:``, ``-- ranking:``): read as a comment, it would leave the metric without that line unsaid."""
    header: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HEADER_RE.match(line)
        if not match:
            if line.strip() and not line.lstrip().startswith("--"):
                break
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name not in HEADER_FORMS:
            meant = _meant_header(name)
            if meant is not None:
                raise MetricFileError(f"{where}: '-- {match.group(1)}:' on line {number} is no header line; did you "
                                      f"mean {HEADER_FORMS[meant]}? (a comment line reads '-- note: …' or '-- …')")
            continue
        if name in lines:
            raise MetricFileError(f"{where}: '-- {name}:' is given twice (lines {lines[name]} and {number}); "
                                  f"keep one {HEADER_FORMS[name]} line")
        if not value:
            raise MetricFileError(f"{where}: '-- {name}:' on line {number} is empty; "
                                  f"the header line is {HEADER_FORMS[name]}")
        header[name], lines[name] = value, number
    return header


def _rank(value: str | None, where: str) -> tuple[str | None, bool]:
    """The rank column and whether it ranks descending, of a ``-- rank:`` value (None: no rank line)."""
    if value is None:
        return None, True
    if "," in value:  # as in a key line, a stray comma often stands for a column too many or left out
        raise MetricFileError(f"{where}: '-- rank: {value}' holds a comma; a metric ranks by one column: the header "
                              f"line is {HEADER_FORMS['rank']}")
    parts = value.split()
    if len(parts) > 2 or len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC"):
        raise MetricFileError(f"{where}: '-- rank: {value}' is not {HEADER_FORMS['rank']} (ASC or DESC in any "
                              "case, DESC when left out; a column named in the header cannot contain spaces: "
                              "rename it in the SQL with … AS new_name)")
    return parts[0], len(parts) < 2 or parts[1].upper() != "ASC"


def _columns(line: str, value: str, where: str) -> tuple[str, ...]:
    """The columns of a ``-- key:`` or ``-- timestamps:`` value: each named once, none empty (a stray comma often
    stands for a column left out)."""
    columns = tuple(column.strip() for column in value.split(","))
    if "" in columns:
        raise MetricFileError(f"{where}: '-- {line}: {value}' has an empty column name (a comma too many?); "
                              f"the header line is {HEADER_FORMS[line]}")
    twice = next((column for index, column in enumerate(columns) if column in columns[:index]), None)
    if twice is not None:
        raise MetricFileError(f"{where}: '-- {line}: {value}' names {twice!r} twice; name each {line} column once")
    return columns


def statement_count(sql: str) -> int | None:
    """How many SQL statements ``sql`` holds, as DuckDB's own parser splits them; None when it cannot parse them
    (the engine then reports the syntax error, naming the metric's file).

    Reading the metric files at every command's start must stay cheap, and importing duckdb alone takes a tenth of
    a second, so text that is plainly one statement (:func:`_plainly_one_statement`; every shipped file) is
    answered without the parser."""
    if _plainly_one_statement(sql):
        return 1
    import duckdb  # only here: most commands that read metric files never need it otherwise

    try:
        with duckdb.connect() as con:
            return len(con.extract_statements(sql))
    except duckdb.Error:
        return None


#: what :func:`_plainly_one_statement` tells apart: a '…' string or "…" identifier (a doubled quote inside is two
#: of them back to back, which splits statements no differently), a -- comment, a ';', a run of other characters;
#: the last alternative (``other``, one character) is what it leaves to DuckDB's parser: a '/*' comment, a '$' (dollar
#: quoting), a backslash (E'…' escapes), a quote left open
_LEXEME = re.compile(r"""'[^']*'|"[^"]*"|--[^\n]*|;|[^'";$\\/-]+|/(?!\*)|-(?!-)|(?P<other>.)""", re.DOTALL)


def _plainly_one_statement(sql: str) -> bool:
    """True when ``sql`` is one statement by a lexer that knows strings, quoted identifiers and -- comments: no
    ';' outside them but at the end. False when it holds anything else, or anything this lexer leaves to DuckDB's."""
    parts, code = 0, False  # statements ended so far; whether the current one holds code yet
    for match in _LEXEME.finditer(sql):
        lexeme = match.group()
        if lexeme == ";":
            parts, code = parts + code, False
        elif match.lastgroup == "other":
            return False
        elif not lexeme.startswith("--") and not lexeme.isspace():
            code = True
    return parts + code == 1


def read_metric(path: Path) -> Metric:
    """The metric of one SQL file. Its name (the file name without ``.sql``) is its store table's name, so it is
    checked here, as the file's encoding (UTF-8) is: either refused with a :class:`MetricFileError` naming the file,
    before anything runs, rather than by the store after every other metric was computed, or as a traceback."""
    from fediscope.store.schema import metric_name_problem  # the store's rule; schema imports this module

    problem = metric_name_problem(path.stem)
    if problem:
        raise MetricFileError(f"metric file {path}: {problem}; rename the file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MetricFileError(f"metric file {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise MetricFileError(f"metric file {path}: cannot be read: {exc.strerror or exc}") from None
    return parse_metric(path.stem, text, str(path))


def metrics_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the directory of a user's own metric files (``FEDISCOPE_METRICS_DIR``), or None.
    A directory that cannot be listed would otherwise hold no metric files, without a word."""
    if not path.exists():
        return f"{path} does not exist; create it, or point the setting at the directory holding your metric files"
    if not path.is_dir():
        return f"{path} is not a directory; point the setting at the directory holding your metric files"
    if not os.access(path, os.R_OK | os.X_OK):
        return f"{path} cannot be read (permission denied); let this user read it"
    return None


def metric_dirs(sql_dir: Path | None = None, own_dir: Path | None = None) -> tuple[Path, ...]:
    """The directories metric files are read from: the built-in one (``sql_dir``, default :data:`SQL_DIR`), then
    the user's own (``own_dir``, the ``metrics_dir`` setting) when there is one."""
    built_in = SQL_DIR if sql_dir is None else sql_dir
    return (built_in,) if own_dir is None else (built_in, own_dir)


def metric_files(sql_dir: Path | None = None, own_dir: Path | None = None) -> dict[str, Path]:
    """Every metric's SQL file, by metric name (the file name without ``.sql``), in name order: the built-in ones
    of ``sql_dir`` (default :data:`SQL_DIR`) and the user's own of ``own_dir`` (the ``metrics_dir`` setting), read
    alike. Nothing is read here, only listed.

    A file of ``own_dir`` named as a built-in metric is refused with a :class:`MetricFileError` naming both files:
    a metric's name is its table in the store, so one would silently replace the other's rows. So is an ``own_dir``
    that is gone or cannot be listed (:func:`metrics_dir_problem`; the settings check it when they load), and a
    built-in directory that is not there: an installation that lacks it would otherwise compute no metric and say
    nothing (``spark_jobs/sql/`` is package data of the wheel, beside the ``fediscope`` package)."""
    files, clashes = listed_metric_files(sql_dir, own_dir)
    if clashes:
        raise next(iter(clashes.values()))
    return files


def listed_metric_files(sql_dir: Path | None = None,
                        own_dir: Path | None = None) -> tuple[dict[str, Path], dict[Path, MetricFileError]]:
    """:func:`metric_files`' listing, with each own file named as a built-in metric given apart (its path → its error)
    rather than raised: ``fediscope doctor`` names it among the other broken files, and a question that only needs
    to know which metrics have a file (:func:`without_metric_file`) is not stopped by it. A missing directory
    raises as in :func:`metric_files`."""
    built_in, *own = metric_dirs(sql_dir, own_dir)
    if not built_in.is_dir():
        raise MetricFileError(f"the built-in metric files are missing: {built_in} is not a directory, so this "
                              "fediscope installation is incomplete; reinstall fediscope (its wheel holds "
                              "spark_jobs/sql/)")
    files = {path.stem: path for path in sorted(built_in.glob("*.sql"))}
    clashes: dict[Path, MetricFileError] = {}
    for directory in own:
        if problem := metrics_dir_problem(directory):
            raise MetricFileError(f"the directory of your own metric files (FEDISCOPE_METRICS_DIR): {problem}")
        for path in sorted(directory.glob("*.sql")):
            if path.stem in files:
                clashes[path] = MetricFileError(
                    f"metric file {path} has the name of the built-in metric {files[path.stem]}; rename yours (a "
                    "metric's name is its table in the store, so one cannot replace the other)")
                continue
            files[path.stem] = path
    return dict(sorted(files.items())), clashes


def load_metrics(sql_dir: Path | None = None, own_dir: Path | None = None) -> dict[str, Metric]:
    """Every metric, by name (the file name without ``.sql``), in name order: those of :func:`metric_files`, the
    built-in ones and the user's own (``own_dir``: pass the ``metrics_dir`` setting). A file whose suffix is
    ``.sql`` in another case (``.SQL``) is not a metric file: it is named in a warning, as it looks like one
    meant to be.

    ``sql_dir`` defaults to :data:`SQL_DIR`, looked up when called. The files are read once, and again when one was
    added, removed or changed (its size or modification time) since: a long-lived interpreter (a notebook calling
    :func:`fediscope.python_api.process` while its own metric file is being written) runs the SQL the file holds
    now, not the SQL it held at the first call. A file that is not a metric raises; a failure is not kept, so the
    next call reads the directory again. ``load_metrics.cache_clear()`` forgets what was read."""
    files = metric_files(sql_dir, own_dir)
    return _read_metrics(tuple((name, path, _stamp(path)) for name, path in files.items()),
                         tuple(metric_dirs(sql_dir, own_dir)))


def _stamp(path: Path) -> tuple[int, int]:
    """What changes when a file is written: its modification time (ns) and size."""
    status = path.stat()
    return status.st_mtime_ns, status.st_size


@cache
def _read_metrics(files: tuple[tuple[str, Path, tuple[int, int]], ...],
                  directories: tuple[Path, ...]) -> dict[str, Metric]:
    """:func:`load_metrics`' reading, kept for as long as ``files`` (name, path, :func:`_stamp`) stay the same."""
    for directory in directories:
        for path in unread_metric_files(directory):
            # a command says it as its own warning (fediscope: warning: …), not as a log line
            log.warning("%s is not read: metric files end in '.sql' (lower case)", path, extra={SAID: True})
    return {name: read_metric(path) for name, path, _ in files}


load_metrics.cache_clear = _read_metrics.cache_clear  # type: ignore[attr-defined]


def without_metric_file(names: Iterable[str], sql_dir: Path | None = None, own_dir: Path | None = None) -> list[str]:
    """Of ``names`` (metrics a store holds), those whose SQL file is gone from both directories
    (:func:`metric_files`), in name order. Deleting a metric's file leaves its table in the store, which
    ``fediscope process`` then names and ``fediscope store drop`` removes. Only the file's presence counts (it is
    not read): a broken file still is the metric's, and so is an own file named as a built-in metric (the built-in
    one's is the metric's file)."""
    files, _ = listed_metric_files(sql_dir, own_dir)
    return sorted(name for name in names if name not in files)


def unread_metric_files(sql_dir: Path) -> list[Path]:
    """The files of ``sql_dir`` that look like metric files but are not read: their suffix is ``.sql`` in another
    case (``.SQL``)."""
    return [path for path in sorted(sql_dir.glob("*")) if path.suffix.lower() == ".sql" and path.suffix != ".sql"]
