"""The engine interface: curate the raw lake, run a metric. DuckDB and Spark implement the same few primitives.

An engine knows how to register a view over raw JSON Lines or curated Parquet files, run one DuckDB-dialect
statement (Spark translates it with sqlglot), materialise a result as a named table, and write a table as
Parquet. Everything else — which files to read, the curation SQL, merging, publishing, the metric SQL — is
shared (:mod:`fediscope.engine.curation`, :mod:`fediscope.engine.curate_sql`, ``spark_jobs/sql/``), so the two
engines cannot drift apart: the parity tests compare them on the same input.

Pick one with :func:`open_engine` (``settings.engine``); always ``close()`` it (or use it as a context manager).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fediscope.config import ENGINES, Settings
from fediscope.engine.curate_sql import VISIBLE_STATUSES
from fediscope.engine.metrics import (
    Metric,
    check_column_count,
    check_column_names,
    check_definition_size,
    check_result_columns,
    check_row_size,
)
from fediscope.engine.schema import COLLECTION_STARTS, CURATED, Table
from fediscope.engine.workspace import Workspace
from fediscope.errors import ConfigError, FediscopeError, MetricFileError, SqlError
from fediscope.lake.backend import Entry, LakeBackend, open_lake
from fediscope.lake.batches import RESTORE_ADVICE
from fediscope.lake.state import CollectionStart, collection_starts

Row = dict[str, Any]

#: What to do, appended to an engine's error about a damaged file: a raw batch (not valid JSON Lines of the declared
#: shape), or a curated Parquet file (which the raw batches can make again).
RAW_DAMAGE_HINT = ("; a raw file holds a line that is not a record of the expected shape (cut short, edited or "
                   f"damaged since it was landed): {RESTORE_ADVICE}")
#: What to do, appended to an engine's error about a divisor of 0: ``//`` and ``%`` (of whole numbers and DECIMALs)
#: stop there on DuckDB, and on Spark (ANSI mode, where the Spark SQL gives ``/`` and ``%`` of a DOUBLE DuckDB's
#: ±infinity and NaN, which a store keeps as NULL); DuckDB's own advice (``TRY(…)``, a setting) and Spark's
#: (``try_divide``) are no SQL the other engine runs
DIVISION_BY_ZERO_HINT = (" (// and % stop at a divisor of 0 on DuckDB and on Spark; write nullif(y, 0) as the divisor "
                         "in the metric's SQL, which gives NULL there on both)")
CURATED_DAMAGE_HINT = ("; a curated file is damaged: `fediscope process --recurate` makes the curated tables again "
                       "from the raw files")


def plain(value: Any) -> Any:
    """A result value as a JSON-compatible scalar (what the stores accept)."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):  # one with a time zone (DuckDB's TIMESTAMPTZ) as its UTC time, as stored
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


#: the integers every store holds (SQLite and MariaDB hold 64 bits), and so every metric result
INT64_RANGE = (-(1 << 63), (1 << 63) - 1)


def wide_integer(column: str, value: int) -> MetricFileError:
    """The error for a metric result holding an integer no store holds; whoever runs the metric names its file
    first (:func:`_naming`). Refused rather than stored as a float: the README says so, and a float would change
    the column's type for all of its values, whichever run first returns one such value."""
    return MetricFileError(f"column {column!r} has the integer {value}, wider than the 64 bits every store holds; "
                           "CAST it to DOUBLE in the metric's SQL")


def first_wide_integer(columns: dict[str, list[Any]]) -> tuple[str, int] | None:
    """The first (column, value) of ``columns`` whose value is an integer outside :data:`INT64_RANGE`."""
    low, high = INT64_RANGE
    for column, values in columns.items():
        for value in values:
            integral = isinstance(value, int | decimal.Decimal) and not isinstance(value, bool)
            if integral and not low <= value <= high:
                return column, int(value)
    return None


def rows_table(rows: list[dict[str, Any]]) -> Any:
    """Result rows as an Arrow table of their :func:`plain` values (for engines without a native Arrow path). An
    integer wider than 64 bits, which Arrow cannot infer a column for, is refused (:func:`wide_integer`)."""
    import pyarrow as pa

    values = [{k: plain(v) for k, v in row.items()} for row in rows]
    try:
        return pa.Table.from_pylist(values)
    except (OverflowError, pa.ArrowInvalid):
        wide = first_wide_integer({k: [row.get(k) for row in values] for k in dict.fromkeys(k for r in values
                                                                                             for k in r)})
        if wide is None:
            raise
        raise wide_integer(*wide) from None


@contextmanager
def _naming(metric: Metric) -> Iterator[None]:
    """An engine's error running a metric's SQL (a syntax error, an unknown function or column) names the metric
    and its file first: the engine's own message names neither, and a run computes every metric. An error in the
    SQL's text (:class:`SqlError`) is the file's mistake, as a header's is: a :class:`MetricFileError` (exit 2)."""
    try:
        yield
    except SqlError as exc:
        raise MetricFileError(f"{metric.where}: {exc}") from exc
    except FediscopeError as exc:
        if not str(exc).startswith(metric.where):
            exc.args = (f"{metric.where}: {exc}",)  # the same error (type, attributes, traceback)
        raise


class Engine(ABC):
    """Base class of the engines. Subclasses implement the primitives marked abstract."""

    name = "engine"

    def __init__(self, settings: Settings, lake: LakeBackend | None = None) -> None:
        self.settings = settings
        self._lake = lake
        self._workspace: Workspace | None = None
        self._curated_views = False
        self._starts: list[CollectionStart] | None = None
        #: the raw batch files the last curation listed (:func:`~fediscope.engine.manifest.list_raw_files`), so that
        #: :meth:`collection_starts` does not walk the raw lake a second time
        self.raw_listing: list[tuple[str, Entry]] | None = None

    @property
    def lake(self) -> LakeBackend:
        """The lake (``settings.lake`` unless one was given), opened when first used: binding metric SQL to empty
        curated views (:meth:`check_metric`, ``fediscope doctor``) needs none, and works before the lake exists."""
        if self._lake is None:
            self._lake = open_lake(self.settings.lake)
        return self._lake

    # -- the interface other parts call ------------------------------------------------------------------
    def curate(self, since: dt.date | None = None, until: dt.date | None = None,
               progress: Callable[[str], None] | None = None, rebuild: bool = False,
               allow_missing: bool = False, today: dt.date | None = None, window_named: str | None = None,
               recurate_named: str | None = None) -> Any:
        """Curate raw files not yet curated (fetch dates ``since``..``until``); returns a CurateSummary.
        ``progress`` is told each step as it starts (one line each). ``rebuild``: curate every raw file again and
        replace every curated table (see :mod:`fediscope.engine.curation`). ``today`` (UTC, default today) dates
        the curated retention's cutoff. ``window_named``: how a refusal names what limits the run to
        ``since``..``until`` (:func:`~fediscope.engine.curation.run_curation`; ``--since/--until`` by default), and
        ``recurate_named`` the run that finishes an interrupted rebuild (``fediscope process --recurate``)."""
        from fediscope.engine.curation import RECURATE_NAMED, WINDOW_NAMED, run_curation

        with self._errors_in_lake_terms():
            summary = run_curation(self, since=since, until=until, progress=progress, rebuild=rebuild,
                                   allow_missing=allow_missing, today=today, window_named=window_named or WINDOW_NAMED,
                                   recurate_named=recurate_named or RECURATE_NAMED)
        self._curated_views = False
        self._starts = None  # what the run curated decides where the curated statuses begin
        return summary

    @contextmanager
    def _errors_in_lake_terms(self) -> Iterator[None]:
        """An error naming a file downloaded from a remote lake names the lake's file instead (same type)."""
        try:
            yield
        except FediscopeError as exc:
            text = self.workspace.in_lake_terms(str(exc)) if self._workspace is not None else str(exc)
            if text != str(exc):
                exc.args = (text,)  # the same error (type, attributes, traceback), the message changed
            raise

    def run_metric(self, metric: Metric) -> list[Row]:
        """Every row of one metric over the curated tables, in the metric's own (deterministic) order."""
        with self._errors_in_lake_terms():
            if not self._curated_views:
                self.register_curated_views()
            return [{k: plain(v) for k, v in row.items()} for row in self.query(metric.sql)]

    def metric_table(self, metric: Metric) -> Any:
        """One metric's result as an Arrow table with the stores' column types (see
        :func:`fediscope.engine.metric_state.normalize_table`): the rows :meth:`run_metric` gives, without
        building a Python object per value, so the incremental path can compare results in bulk; except that
        rows whose text key (or text rank value) no store can hold are left out here, the rows stores get
        (:func:`~fediscope.engine.metric_state.without_unstorable_keys`)."""
        from fediscope.engine.metric_state import (
            arrow_types,
            check_result,
            check_timestamp_columns,
            normalize_table,
            without_unstorable_keys,
        )

        with self._errors_in_lake_terms():
            if not self._curated_views:
                self.register_curated_views()
            with _naming(metric):
                result = self.storable_arrow(metric.sql)
                # by the engine's types: normalize_table gives a DATE as its text, which says less than "dates"
                check_timestamp_columns(metric, result.schema)
                table = normalize_table(result)
            # before any store write: the store's CREATE TABLE refused it only after every metric was computed
            check_column_count(metric, table.num_columns, self.settings.store)
            check_definition_size(metric, table.column_names, self.settings.store)
            # the rows no store can hold are left out first: a key repeated only among them is no mistake
            table = without_unstorable_keys(metric.name, table, metric.key, metric.rank_column)
            check_result(metric, table)
            check_row_size(metric, arrow_types(table), self.settings.store, table)
            return table

    @contextmanager
    def curated_files_unchanged(self) -> Iterator[None]:
        """A stretch in which the caller guarantees that no curated file changes (``fediscope process``'s metrics,
        under the lake lock, after curation): an engine may keep what it read of the files' layout for the length
        of it. Nothing by default."""
        yield

    def check_metric(self, metric: Metric) -> None:
        """Refuse, with a :class:`MetricFileError` naming the metric's file, a metric whose SQL the engine does not
        accept over the curated views (a syntax error, an unknown table, column or function), or whose result lacks
        a column its header names, has a column name or a column type no store can hold, or more columns than the
        configured store's table holds (:func:`~fediscope.engine.metrics.check_column_count`; for MariaDB, also by
        the size of the table's definition, :func:`~fediscope.engine.metrics.check_definition_size`): what
        :meth:`metric_table` (the types by the same :func:`~fediscope.engine.metric_state.refuse_unstorable_types`)
        and the store's write refuse, found by binding the SQL (:meth:`result_schema`) without reading a row.
        ``fediscope doctor`` runs it on :meth:`register_curated_views` ``(empty=True)``, so it needs no lake. Rows too
        large for a MariaDB table (:func:`~fediscope.engine.metrics.check_row_size`) are found by the columns' types
        alone, each column taken to hold values (a text column all NULL in a run is stored as a number)."""
        from fediscope.engine.metric_state import check_timestamp_columns, schema_types

        with self._errors_in_lake_terms():
            if not self._curated_views:
                self.register_curated_views()
            with _naming(metric):
                schema = self.storable_schema(metric.sql)
            columns = list(schema.names)
            check_result_columns(metric, columns)
            check_timestamp_columns(metric, schema)
            check_column_names(metric.name, columns, metric.source)
            check_column_count(metric, len(columns), self.settings.store)
            check_definition_size(metric, columns, self.settings.store)
            check_row_size(metric, schema_types(schema), self.settings.store)

    def result_columns(self, sql: str) -> list[str]:
        """The names of ``sql``'s result columns, from binding it alone (:meth:`result_schema`)."""
        return list(self.result_schema(sql).names)

    def result_schema(self, sql: str) -> Any:
        """The Arrow schema of ``sql``'s result (its columns' names and types), from binding the statement alone (no
        row is read). Only the DuckDB engine binds a statement alone (:meth:`check_metric` uses it)."""
        raise NotImplementedError(f"the {self.name} engine does not bind SQL alone; use the duckdb engine")

    def storable_schema(self, sql: str) -> Any:
        """:meth:`result_schema`, refused first as :meth:`storable_arrow` refuses a result (the same rule: an engine
        that overrides one to apply it to its own column types overrides both)."""
        from fediscope.engine.metric_state import refuse_unstorable_types

        schema = self.result_schema(sql)
        refuse_unstorable_types(schema)
        return schema

    def query_arrow(self, sql: str) -> Any:
        """A query's result as an Arrow table; engines with a native Arrow path override this."""
        return rows_table(self.query(sql))

    def storable_arrow(self, sql: str) -> Any:
        """A metric's result as :meth:`query_arrow` gives it, refused first (a :class:`MetricFileError` the caller
        prefixes with the metric's file) when a column has a type no store holds, by
        :func:`~fediscope.engine.metric_state.refuse_unstorable_types`. An engine whose :meth:`query_arrow` gives
        such a column as something else (Spark's collected rows: a struct, map, binary or interval as its text)
        overrides this to apply the rule to its own column types."""
        from fediscope.engine.metric_state import refuse_unstorable_types

        result = self.query_arrow(sql)
        refuse_unstorable_types(result.schema)
        return result

    def collection_starts(self) -> list[CollectionStart]:
        """Where each source's collection begins in the curated tables, read once per curation: the lake's records
        (:func:`~fediscope.lake.state.collection_starts`), but for an instance whose earlier raw status files
        ``fediscope process --since`` left uncurated, a ``cut`` start on the first day of its curated statuses
        (:func:`starts_in_curated`). The metrics' ``collection_starts`` table and ``fediscope process``'s check of
        whether a metric reading it is current see the same starts."""
        if self._starts is None:
            from fediscope.engine.manifest import left_out_before_curated, load_manifest

            starts = collection_starts(self.lake)
            left_out = left_out_before_curated(self.lake, load_manifest(self.lake), self.raw_listing)
            self._starts = starts_in_curated(starts, left_out, self._first_posted_days()) if left_out else starts
        return self._starts

    def _first_posted_days(self) -> dict[str, dt.date]:
        """The first posted day (``dt``) of the curated statuses fetched from each instance."""
        if not self._curated_views:
            self._register_curated_tables(empty=False)
        rows = self.query("SELECT fetched_from, min(dt) AS first_day FROM statuses GROUP BY fetched_from")
        return {str(row["fetched_from"]).lower(): row["first_day"] for row in rows
                if row["fetched_from"] is not None and isinstance(row["first_day"], dt.date)}

    def register_curated_views(self, empty: bool = False) -> None:
        """Views ``statuses`` (tombstones and the markers of statuses not public excluded), ``accounts``,
        ``hashtags``, ``instance_activity``, ``tag_trends``, ``instance_peers``, ``status_deletions``, and the table
        ``collection_starts`` (:data:`COLLECTION_STARTS`): of the lake's curated tables and records, or with
        ``empty`` of none (each table's columns and types, no rows, the lake not read: :meth:`check_metric`)."""
        self._register_curated_tables(empty)
        starts = [] if empty else self.collection_starts()
        self.register_rows(COLLECTION_STARTS.name, COLLECTION_STARTS,
                           [(s.instance, s.ended, s.oldest_day) for s in starts])
        self._curated_views = True

    def _register_curated_tables(self, empty: bool) -> None:
        """The views of :meth:`register_curated_views` but ``collection_starts``."""
        for table in CURATED.values():
            view = table.name if table.name != "statuses" else "curated_statuses"
            directory = None if empty else self.workspace.table_dir(table.name)
            if directory is not None and self.workspace.has_parquet(directory):
                self.register_parquet(view, table, [directory], root=directory)
            else:
                self.register_empty(view, table)
        self.execute(f"CREATE OR REPLACE TEMP VIEW statuses AS {VISIBLE_STATUSES}")

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace(self.lake, direct_uri=self.direct_lake_uri())
        return self._workspace

    def direct_lake_uri(self) -> str | None:
        """The lake's root as this engine reads and writes it directly, or None to work on local paths
        (see :mod:`fediscope.engine.workspace`); only Spark reads Hadoop filesystem URIs."""
        return None

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- primitives ------------------------------------------------------------------------------------------
    @abstractmethod
    def register_raw(self, view: str, entity: str, files: Sequence[str]) -> None:
        """A view ``(meta, data)`` over raw JSON Lines files of ``entity`` (empty when ``files`` is)."""

    @abstractmethod
    def register_parquet(self, view: str, table: Table, paths: Sequence[Path], root: Path) -> None:
        """A view with ``table``'s columns over the Parquet files under ``paths`` (partitions below ``root``)."""

    @abstractmethod
    def register_empty(self, view: str, table: Table) -> None:
        """An empty view with ``table``'s columns and types."""

    @abstractmethod
    def register_rows(self, view: str, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        """A view (or temp table) named ``view`` with ``table``'s columns holding ``rows`` (a few, given as
        Python values in column order)."""

    @abstractmethod
    def materialize(self, name: str, sql: str) -> int:
        """Run ``sql`` (DuckDB dialect) once and keep its result as the table ``name``; returns its row count."""

    @abstractmethod
    def query(self, sql: str) -> list[Row]:
        """Rows of one DuckDB-dialect SELECT."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run one DuckDB-dialect statement that returns nothing (``CREATE TEMP VIEW``)."""

    @abstractmethod
    def write_table(self, name: str, table: Table, out_dir: Path, order_by: Sequence[str]) -> None:
        """Write the materialised ``name`` as Parquet under ``out_dir`` (``col=value/`` dirs when partitioned)."""


def starts_in_curated(starts: list[CollectionStart], left_out: dict[str, dt.date],
                      first_days: dict[str, dt.date]) -> list[CollectionStart]:
    """``starts`` (the lake's records) as the curated tables have them, when raw status files fetched before the
    first curated one of an instance were left uncurated (``left_out``: the latest such fetch day per instance,
    :func:`~fediscope.engine.manifest.left_out_before_curated`): that instance's curated statuses begin on their first
    posted day (``first_days``) where a later fetch's walk began, so that day is collected in part (a ``cut`` start),
    and its records of days up to it (where its collection began, not curated) no longer speak for the curated
    tables. Unchanged for an instance whose left-out files were all fetched more than a day before that day: they
    cannot hold its statuses (curation skips a status dated more than an hour after its fetch)."""
    cut = {instance: first_days[instance] for instance, fetched in left_out.items()
           if instance in first_days and fetched >= first_days[instance] - dt.timedelta(days=1)}
    kept = [s for s in starts if s.instance not in cut or s.oldest_day is None or s.oldest_day > cut[s.instance]]
    return sorted([*kept, *(CollectionStart(instance, "cut", day) for instance, day in cut.items())],
                  key=lambda s: (s.instance, s.ended, s.oldest_day or dt.date.min))


def open_engine(settings: Settings, name: str | None = None, **options: Any) -> Engine:
    """The engine named ``name`` (default ``settings.engine``). The DuckDB engine never imports pyspark."""
    name = name or settings.engine
    if name == "duckdb":
        from fediscope.engine.duckdb_engine import DuckDBEngine

        return DuckDBEngine(settings, **options)
    if name == "spark":
        from fediscope.engine.spark_engine import SparkEngine

        return SparkEngine(settings, **options)
    raise ConfigError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)} (FEDISCOPE_ENGINE or --engine)")
