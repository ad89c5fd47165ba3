"""The embedded engine: DuckDB, in process, no JVM. The default (``FEDISCOPE_ENGINE=duckdb``).

DuckDB reads the raw JSON Lines with ``read_json(files, format='newline_delimited', columns={...})`` and the
curated tables with ``read_parquet(..., hive_partitioning=true)``, runs the shared SQL as written, and writes
Parquet with ``COPY (...) TO dir (FORMAT parquet, PARTITION_BY (dt))``. The connection is in memory, within
``FEDISCOPE_DUCKDB_MEMORY_LIMIT`` on ``FEDISCOPE_DUCKDB_THREADS`` threads (DuckDB's defaults, 80% of the memory and
one thread per core, when unset); what does not fit spills to a directory of its own under the system's temporary
directory (``TMPDIR``), removed when the engine closes (:mod:`fediscope.engine.duckdb_connection`, which also
removes those of processes killed outright). DuckDB's own choice for an in-memory connection is ``.tmp``
in the current directory: a file left in the user's directory (or a failure where it is read-only), and on a
WebHDFS lake there is no lake directory to use instead. The session time zone is UTC, so ``TIMESTAMPTZ`` values
(the raw timestamps carry offsets) convert to UTC wall-clock ``TIMESTAMP`` values.

This module must not import pyspark: demo runs and the default engine need no Java.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from fediscope.config import Settings
from fediscope.engine.base import CURATED_DAMAGE_HINT, DIVISION_BY_ZERO_HINT, RAW_DAMAGE_HINT, Engine, Row
from fediscope.engine.duckdb_connection import open_connection
from fediscope.engine.schema import Table, duckdb_columns, duckdb_type
from fediscope.engine.workspace import parquet_files
from fediscope.errors import DamagedBatchError, FediscopeError, SqlError
from fediscope.interrupts import on_interrupt
from fediscope.lake.backend import LakeBackend

log = logging.getLogger(__name__)


#: what DuckDB raises about a statement's text, before it reads a row (:class:`SqlError`)
_SQL_TEXT_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)
#: the statements :meth:`DuckDBEngine._relation` takes: queries (``SELECT``, ``FROM …``, ``WITH …``, ``VALUES``),
#: and ``PIVOT``, which DuckDB parses as several statements (MULTI), the last its query
_QUERIES = (duckdb.StatementType.SELECT, duckdb.StatementType.MULTI)


def _failure(exc: duckdb.Error) -> FediscopeError:
    """A DuckDB error as one line; about a file DuckDB could not read (a raw batch's JSON, a curated Parquet file),
    with what to do; about the statement's text, a :class:`SqlError`."""
    error = str(exc).splitlines()[0].rstrip()
    if isinstance(exc, _SQL_TEXT_ERRORS):
        return SqlError(f"DuckDB failed: {error}{_line(str(exc))}{_suggestion(str(exc))}")
    hint = ""
    if "Division by zero in expression" in error:  # its advice (TRY(…), a setting) is DuckDB's only
        error, hint = re.sub(r"\.? Use TRY\(.*$", "", error), DIVISION_BY_ZERO_HINT
    # "JSON transform error": a field of a type the raw schema's cannot be made of ("tags": {}, "bot": "y",
    # "followers_count": "12.5"), which a raw file not landed by fediscope may hold (landing quarantines it)
    # no retry mends these (an Airflow task fails at once): batches are landed whole; a compressed batch cut short
    # is "IO Error: Unexpected end of GZIP stream: <file>" (check_whole_batches leaves those to the decompressor)
    if ("in file" in error and ".json" in error and any(
            what in error for what in ("Malformed JSON", "UTF-8", "JSON transform error"))) or (
            "GZIP stream" in error and ".jsonl.gz" in error):
        return DamagedBatchError(f"DuckDB failed: {error}{RAW_DAMAGE_HINT}")
    if ".parquet" in error and ("magic bytes" in error or "Invalid Input Error" in error or "IO Error" in error):
        hint = CURATED_DAMAGE_HINT
    return FediscopeError(f"DuckDB failed: {error}{hint}")


_LINE_RE = re.compile(r"^LINE (\d+):", re.MULTILINE)


def _line(message: str) -> str:
    """Where in the statement DuckDB found the error, which it gives on a line of its own (``LINE 5: <the line>``,
    then a caret under the place), as `` (line 5)``; nothing when it gives none. A metric's SQL is its file's whole
    text, so the line is the file's (was: "syntax error at or near "AND"" alone, in a file of many ANDs)."""
    match = _LINE_RE.search(message)
    return f" (line {match.group(1)})" if match else ""


def _suggestion(message: str) -> str:
    """DuckDB's own suggestion for a misspelt name, which it gives on a line of its own ("Candidate bindings:
    "language", "account_key", …" — the likeliest first —, "Did you mean "length"?"), to go on the error's one
    line: the likeliest name, or nothing."""
    for line in message.splitlines()[1:]:
        line = line.strip()
        if line.startswith("Candidate bindings:"):
            names = line.removeprefix("Candidate bindings:").strip().lstrip(":").strip()
            return f" (did you mean {names.split(', ')[0]}?)" if names else ""
        if line.startswith("Did you mean"):
            return f" ({line[0].lower()}{line[1:]})"
    return ""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(paths: Sequence[str | Path]) -> str:
    return "[" + ", ".join(_literal(str(p)) for p in paths) + "]"


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, settings: Settings, lake: LakeBackend | None = None, threads: int | None = None,
                 memory_limit: str | None = None) -> None:
        """``threads`` and ``memory_limit``: instead of ``settings.duckdb_threads`` and
        ``settings.duckdb_memory_limit``."""
        super().__init__(settings, lake)
        self._own = open_connection(settings, threads, memory_limit)
        self.memory_limit, self.threads = self._own.memory_limit, self._own.threads
        self.con, self.spill_dir = self._own.con, self._own.spill_dir
        # Ctrl-C ends a running query at once (fediscope.interrupts), not when its pipeline ends
        self._stop_relaying = on_interrupt(self.con.interrupt)
        try:
            self._run("SET TimeZone = 'UTC'")
            # The shared SQL sums a list with array_sum, the name sqlglot translates to Spark's AGGREGATE; DuckDB
            # calls it list_sum (see curate_sql._visible_length).
            self._run("CREATE OR REPLACE TEMP MACRO array_sum(elements) AS list_sum(elements)")
        except BaseException:  # nobody will close an engine that was never made: the relay would keep it forever
            self._close_connection()
            raise

    def _failure(self, exc: duckdb.Error) -> FediscopeError:
        """:func:`_failure`, but running out of memory, or of room to spill, says what to change."""
        text = str(exc)
        detail = text.splitlines()[0].removeprefix("Out of Memory Error: ").rstrip()
        if "max_temp_directory_size" in text or str(self.spill_dir) in text:
            return FediscopeError(f"DuckDB ran out of disk space to spill to in {self.spill_dir.parent} (the "
                                  "temporary directory): free space there, or point TMPDIR at a disk with more room "
                                  f"(DuckDB: {detail})")
        if isinstance(exc, duckdb.OutOfMemoryException):
            return FediscopeError(self._out_of_memory(detail))
        return _failure(exc)

    def _out_of_memory(self, detail: str) -> str:
        """What to change when DuckDB ran out of memory: the limit's setting (named where it was set), and the
        threads' unless there is one thread already."""
        where = self.settings.origin("duckdb_memory_limit")
        if self.memory_limit:
            limit, fix = f"its memory limit of {self.memory_limit} ({where})", f"raise {where}"
        else:
            limit, fix = "its default memory limit, 80% of this machine's memory", f"set {where} higher (e.g. 90%)"
        if self.threads != 1:
            fix += f", or lower {self.settings.origin('duckdb_threads')} (each thread needs memory of its own)"
        return f"DuckDB ran out of memory under {limit}: {fix} (DuckDB: {detail})"

    @contextmanager
    def curated_files_unchanged(self) -> Iterator[None]:
        """DuckDB's Parquet metadata cache, on for the stretch only: each metric reads every curated file's footer
        again otherwise (19 metrics over the bench's 500,000 statuses: 12% of their CPU time). Never on while
        curation rewrites files: the cache tells a file from its replacement by its modification time, which a
        rewrite within the same second (or a coarse clock) may leave the same."""
        self._run("SET parquet_metadata_cache = true")
        try:
            yield
        finally:
            self._run("RESET parquet_metadata_cache")

    def _run(self, sql: str) -> Any:
        try:
            return self.con.execute(sql)
        except duckdb.Error as exc:
            raise self._failure(exc) from exc

    def register_raw(self, view: str, entity: str, files: Sequence[str]) -> None:
        """A view: curation reads each raw entity in one statement (see ``curate_sql.STATUS_RECORDS``)."""
        columns = duckdb_columns(entity)
        if not files:
            cols = ", ".join(f'CAST(NULL AS {t}) AS "{n}"' for n, t in columns.items())
            self._run(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {cols} WHERE false")
            return
        spec = "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in columns.items()) + "}"
        self._run(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT meta, data FROM read_json({_list(files)}, "
                  f"format = 'newline_delimited', columns = {spec}, maximum_object_size = 16777216)")

    def register_parquet(self, view: str, table: Table, paths: Sequence[Path], root: Path) -> None:
        files = [f for p in paths for f in parquet_files(Path(p))]
        if not files:
            self.register_empty(view, table)
            return
        hive = ""
        if table.partition_by:
            hive = f", hive_partitioning = true, hive_types = {{{_literal(table.partition_by)}: 'DATE'}}"
        # by name: files written before a column was added lack it (NULL there, and everywhere if none has it)
        source = f"read_parquet({_list(files)}{hive}, union_by_name = true)"
        present = {row[0] for row in self._run(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        cols = []
        for c, t in table.columns.items():
            value = f'"{c}"' if c in present else "NULL"
            cols.append(f'CAST({value} AS {duckdb_type(t)}) AS "{c}"')
        self._run(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {', '.join(cols)} FROM {source}")

    def register_empty(self, view: str, table: Table) -> None:
        cols = ", ".join(f'CAST(NULL AS {duckdb_type(t)}) AS "{c}"' for c, t in table.columns.items())
        self._run(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {cols} WHERE false")

    def register_rows(self, view: str, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        cols = ", ".join(f'"{c}" {duckdb_type(t)}' for c, t in table.columns.items())
        self._run(f"CREATE OR REPLACE TEMP TABLE {view} ({cols})")
        if rows:
            try:
                self.con.executemany(f"INSERT INTO {view} VALUES ({', '.join('?' * len(table.columns))})",
                                     [list(r) for r in rows])
            except duckdb.Error as exc:
                raise self._failure(exc) from exc

    def materialize(self, name: str, sql: str) -> int:
        """A temp table of ``sql``'s rows, in no particular order: every reader of an intermediate table sorts or
        groups it, and keeping the scan order made the one pass over the raw statuses a quarter slower."""
        self._run("SET preserve_insertion_order = false")
        try:
            self._run(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        finally:
            self._run("RESET preserve_insertion_order")
        return int(self._run(f"SELECT count(*) FROM {name}").fetchone()[0])

    def query(self, sql: str) -> list[Row]:
        cursor = self._run(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def query_arrow(self, sql: str) -> Any:
        try:
            return self._relation(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise self._failure(exc) from exc

    def result_schema(self, sql: str) -> Any:
        """The relation's Arrow schema (:meth:`_relation`): DuckDB binds a query when it makes a relation of it, and
        asked for no row (``LIMIT 0``, which its optimizer answers with an empty result) it reads none; the types
        are those :meth:`query_arrow` gives."""
        return self._bound(sql)[1]

    def storable_schema(self, sql: str) -> Any:
        """:meth:`result_schema`, refused by DuckDB's own column types too (a TIMETZ is a plain time in Arrow), as
        :meth:`storable_arrow` refuses a result."""
        from fediscope.engine.metric_state import refuse_unstorable_types

        relation, schema = self._bound(sql)
        refuse_unstorable_types(schema, [str(kind) for kind in relation.types])
        return schema

    def storable_arrow(self, sql: str) -> Any:
        """:meth:`query_arrow`'s result, refused (:func:`~fediscope.engine.metric_state.refuse_unstorable_types`)
        by its Arrow types and DuckDB's own: its Arrow gives a TIMETZ column as a plain time, the offset dropped."""
        from fediscope.engine.metric_state import refuse_unstorable_types

        try:
            relation = self._relation(sql)
            result = relation.to_arrow_table()
        except duckdb.Error as exc:
            raise self._failure(exc) from exc
        refuse_unstorable_types(result.schema, [str(kind) for kind in relation.types])
        return result

    def _bound(self, sql: str) -> tuple[duckdb.DuckDBPyRelation, Any]:
        """The relation of ``sql`` and its Arrow schema, no row read (:meth:`result_schema`)."""
        try:
            relation = self._relation(sql)
            return relation, relation.limit(0).to_arrow_table().schema
        except duckdb.Error as exc:
            raise self._failure(exc) from exc

    def _relation(self, sql: str) -> duckdb.DuckDBPyRelation:
        """A relation of the query ``sql`` (a metric's), bound, not run. DuckDB runs any other statement as soon as
        it makes a relation of it (a ``COPY … TO`` writes its file, a ``DROP`` drops), and its result is a row count
        that lacks the metric's columns: it is refused unrun, a :class:`SqlError`."""
        kind = self.con.extract_statements(sql)[0].type
        if kind not in _QUERIES:
            raise SqlError(f"DuckDB failed: a {kind.name} statement is not a query; a metric file holds one SELECT")
        return self.con.sql(sql)

    def execute(self, sql: str) -> None:
        self._run(sql)

    def write_table(self, name: str, table: Table, out_dir: Path, order_by: Sequence[str]) -> None:
        """Rows sorted by ``order_by`` in every file, so re-curating the same rows writes the same bytes.

        A partitioned COPY is sorted by its own ``ORDER_BY`` option: with several threads it does not keep the
        order of an ``ORDER BY`` inside its query once the data spans several chunks (seen at 500,000 statuses:
        the files of a partition came out in a different row order on every run).
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        cols = ", ".join(f'"{c}"' for c in table.columns)
        order = ", ".join(f'"{c}"' for c in order_by)
        if table.partition_by:
            self._run(f"COPY (SELECT {cols} FROM {name}) TO {_literal(str(out_dir))} (FORMAT parquet, "
                      f'PARTITION_BY ("{table.partition_by}"), ORDER_BY ({order}), OVERWRITE_OR_IGNORE true)')
        else:
            self._run(f"COPY (SELECT {cols} FROM {name} ORDER BY {order}) "
                      f"TO {_literal(str(out_dir / 'part-0.parquet'))} (FORMAT parquet)")

    def _close_connection(self) -> None:
        self._stop_relaying()
        self._own.close()

    def close(self) -> None:
        try:
            self._close_connection()
        finally:
            super().close()
