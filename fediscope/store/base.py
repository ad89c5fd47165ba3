"""What every adapter shares: the write protocol (plan, evolve or rebuild, upsert, catalog) and query coercion.

Adapters implement a handful of primitives over *raw* rows (as the database returns them); this class turns
those into the :class:`~fediscope.store.port.MetricStore` operations, so the rules that make the three stores
answer identically — which schema changes rebuild a table, how lookup values are typed, which rows a read
returns — live in one place.

Reads use the schema recorded at the last write (the catalog), not the ``Metric`` passed in: a store answers
for what it holds, even when the metric's SQL file has changed since.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace as with_fields
from typing import Any

from fediscope.engine.metrics import Metric
from fediscope.errors import MissingTableError, StoreError, StoreSchemaError
from fediscope.redact import redact_url
from fediscope.store.port import WriteCounts
from fediscope.store.schema import (
    TYPES,
    Row,
    TableSchema,
    WritePlan,
    cast,
    check_metric_name,
    check_question,
    coerce_query,
    plan_write,
)

log = logging.getLogger(__name__)


#: What a read of stored rows raises when they are not what this version decodes: a column of the catalog missing
#: from the table (:class:`StoreSchemaError`), a value its column's type cannot hold (``ValueError``, ``TypeError``
#: of the cast). :data:`fediscope.analysis.UNREADABLE` is these and a missing table (:meth:`BaseStore._reading`).
UNDECODABLE: tuple[type[Exception], ...] = (StoreSchemaError, ValueError, TypeError, KeyError)

#: The start of a generation given before a write changes rows (:meth:`BaseStore._begin_change`); the write's
#: commit replaces it, so one still in the catalog means a write failed after it.
PROVISIONAL = "w"

class BaseStore(ABC):
    url: str
    #: opened for reading (``open_store(url, read_only=True)``): nothing is created, writes are refused
    read_only: bool = False
    #: what computes the rows written next (:mod:`fediscope.engine.provenance`), set by ``fediscope process``
    #: (and ``spark_jobs/metrics.py``) per metric and recorded with its catalog entry; None: a write that computes
    #: nothing (an erasure) keeps the recorded one
    provenance: dict[str, Any] | None = None

    # -- primitives every adapter implements -------------------------------------------------------------

    @abstractmethod
    def _load_schema(self, metric: str) -> TableSchema | None:
        """The catalog entry of a metric, or None when nothing was ever stored for it."""

    @abstractmethod
    def _load_schemas(self) -> dict[str, TableSchema]:
        """Every catalog entry, by metric, in one read of the catalog."""

    @abstractmethod
    def _load_question(self, metric: str) -> str | None:
        """The question the catalog entry of a metric records, or None when there is no entry."""

    @abstractmethod
    def _save_schema(self, schema: TableSchema, question: str, row_count: int) -> None: ...

    def _create(self, schema: TableSchema) -> None:
        """Create the metric's tables, empty (for :meth:`_load`; an adapter overriding that needs none)."""
        raise NotImplementedError

    def _finish_create(self, schema: TableSchema) -> None:
        """After a table made by :meth:`_create` received its first rows: what is cheaper to build over the
        loaded rows than to keep up row by row (for :meth:`_load`)."""
        raise NotImplementedError

    @abstractmethod
    def _drop(self, schema: TableSchema) -> None:
        """Remove the metric's tables and its catalog entry."""

    @abstractmethod
    def _remove(self, metric: str) -> None:
        """Remove the metric's tables for good (not only emptied, as :meth:`_drop` may leave them for a rebuild),
        and its catalog entry: the catalog entry first, so that a removal stopped half-way leaves tables no
        catalog entry lists, which the next first write of that name empties or replaces."""

    def _load(self, replaced: TableSchema | None, schema: TableSchema, rows: list[Row]) -> None:
        """Give the metric new tables of ``schema`` holding exactly ``rows`` (none for a result with no rows whose
        column types are known, :func:`~.schema.plan_write`): its first write
        (``replaced`` None), or a rebuild of the tables of ``replaced``. Here: drop, create, upsert, finish, each
        seen by readers as it happens; the SQL stores override it to swap the loaded table in at once
        (:meth:`fediscope.store.sql.SQLStore._load`)."""
        if replaced is not None:
            self._drop(replaced)
        self._create(schema)
        self._upsert(schema, rows, [])
        self._finish_create(schema)

    @abstractmethod
    def _evolve(self, old: TableSchema, plan: WritePlan) -> None:
        """Apply added columns and widened types in place (the key and rank layout are unchanged)."""

    def _fits_in_place(self, plan: WritePlan) -> bool:
        """Whether the metric's tables can take ``plan``'s added and widened columns in place (:meth:`_evolve`):
        when not, a write that replaces every row rebuilds them from the result instead (a write keeping rows, from
        every row kept and new), and :meth:`write_changes` leaves the change to the full path. Always here; MariaDB's
        row-size limit can refuse it (:meth:`fediscope.store.mysql.MySQLStore._fits_in_place`)."""
        return True

    def _check_storable(self, metric: Metric, plan: WritePlan, creates: bool) -> None:
        """Before a write of ``metric`` changes anything, once it knows the table it leaves (``plan``'s; ``creates``:
        a new table, a first write or a rebuild, not the stored one kept): refuse, with a one-line error saying what
        to change, what the store would refuse part-way (HBase's cell size, MariaDB's table definition and row size:
        :meth:`fediscope.store.hbase.HBaseStore._check_storable`, :meth:`fediscope.store.mysql.MySQLStore.
        _check_storable`). Nothing here."""
        return None

    @abstractmethod
    def _upsert(self, schema: TableSchema, rows: list[Row], stale: list[tuple[Any, ...]]) -> None:
        """Write prepared rows (upsert by key) and delete the rows with the ``stale`` keys.

        :meth:`write` passes only what differs from the stored rows: rows that are new or changed, and the
        keys of stored rows a full recomputation no longer has.
        """

    @abstractmethod
    def _get(self, schema: TableSchema, key: tuple[Any, ...]) -> Row | None: ...

    @abstractmethod
    def _scan_prefix(self, schema: TableSchema, value: Any, limit: int | None,
                     after: tuple[Any, ...] | None = None) -> list[Row]:
        """The prefix's rows in key order; with ``after`` (a typed key), only those whose key is greater."""

    @abstractmethod
    def _top(self, schema: TableSchema, n: int, after: tuple[Any, ...] | None = None) -> list[Row]:
        """The first ``n`` rows in top order; with ``after`` (:func:`_position`), those after that position."""

    @abstractmethod
    def _all(self, schema: TableSchema) -> list[Row]: ...

    @abstractmethod
    def _delete_where(self, schema: TableSchema, column: str, value: Any,
                      begin: Callable[[int], None]) -> tuple[int, int]:
        """Delete matching rows; returns (deleted, remaining row count). Once rows matching are found, and before the
        first of them is deleted, ``begin(rows)`` is called with the metric's row count before the deletion
        (:meth:`_delete_rows_where`); not when none match."""

    @abstractmethod
    def stored_metrics(self) -> dict[str, int]:
        """Every metric the store holds, with its row count (from the catalog), by name."""

    @abstractmethod
    def _metric_tables(self) -> dict[str, list[str]]:
        """Every table named as a metric's table, by metric (catalog entry or not), with the tables' names."""

    @abstractmethod
    def _table_names(self) -> list[str]:
        """The name of every table the store holds (one round trip)."""

    @abstractmethod
    def _tables_of(self, schema: TableSchema) -> list[str]:
        """The names of the tables a metric stored with ``schema`` (one with columns) has: on HBase its rank table
        too when it is ranked."""

    def _stopped_load_tables(self) -> dict[str, list[str]]:
        """The tables a load of a metric stopped half-way left beside its table, by metric, whether the catalog
        lists the metric or not (MariaDB's ``_new_<metric>`` and ``_old_<metric>``); none here."""
        return {}

    def _remove_stopped_loads(self, metric: str) -> None:
        """Before a write of ``metric``: drop what a load of it stopped half-way left (:meth:`_stopped_load_tables`),
        which only a load of the metric would otherwise drop; nothing here."""
        return None

    @contextmanager
    def _writing(self, metric: str) -> Iterator[None]:
        """Hold ``metric`` for one change of its rows, tables or catalog entry (a write, an erasure, a drop) against
        the other writers of this store that change it at the same time: two lakes sharing one store, whose lake
        locks do not see each other. Each change reads the stored rows, then writes what differs (and MariaDB loads
        a new table under a fixed name), so two at once failed or mixed their rows; held, they take turns and the
        last one to finish wins whole. Nothing here: SQLite's write lock already serialises them; MariaDB holds a
        named lock (:meth:`fediscope.store.mysql.MySQLStore._writing`)."""
        yield

    @abstractmethod
    def _table_not_found(self, error: StoreError) -> bool:
        """Whether a failed read's error is the database's own "no such table" (not, say, a table the user may not
        read, which a listing of the tables may leave out as well)."""

    @abstractmethod
    def close(self) -> None: ...

    # -- the port -----------------------------------------------------------------------------------------

    def write(self, metric: Metric, rows: Sequence[Row], replace: bool = True,
              types: Mapping[str, str] | None = None, *, exact_types: bool = False) -> int:
        """See :meth:`~fediscope.store.port.MetricStore.write`; ``types`` as in :func:`~.schema.plan_write`."""
        return self.write_counted(metric, rows, replace, types, exact_types=exact_types).rows

    def write_counted(self, metric: Metric, rows: Sequence[Row], replace: bool = True,
                      types: Mapping[str, str] | None = None, *, exact_types: bool = False) -> WriteCounts:
        """See :meth:`~fediscope.store.port.MetricStore.write_counted`."""
        self._check_writable(f"write metric {metric.name}")
        with self._writing(check_metric_name(metric.name)):
            return self._write_counted(metric, rows, replace, types, exact_types)

    def _write_counted(self, metric: Metric, rows: Sequence[Row], replace: bool,
                       types: Mapping[str, str] | None, exact_types: bool = False) -> WriteCounts:
        """:meth:`write_counted`, with the metric held (:meth:`_writing`)."""
        self._remove_stopped_loads(metric.name)
        existing = self._without_missing_tables(self._stored(metric.name))
        plan = plan_write(metric, rows, existing, types=types)
        if existing is None and not plan.schema.columns:  # computed, no rows, no column types: listed, no table
            listed = _listed_empty(metric)
            before = self._load_schema(metric.name)
            self._commit(listed, metric.question, 0, unchanged=before if before == listed else None)
            return WriteCounts(0, 0, 0)
        written = len(plan.rows)
        # a full result with known columns replaces the table's columns too: the ones it lacks are dropped
        dropped = _columns_not_in(existing, types) if replace else []
        narrowed = _columns_narrowed(plan, types) if replace and exact_types else []
        # the stored columns with the result's added and widened ones can be more than the table may hold, when
        # columns it keeps typed are all NULL this time (typed null in the result): rebuilt from the result's own
        overfull = (existing is not None and _alters(plan) and not (plan.rebuild or dropped or narrowed)
                    and not self._fits_in_place(plan))
        if existing is not None and (plan.rebuild or dropped or narrowed or overfull):
            log.info("metric=%s rebuilding its table (%s)", metric.name,
                     "key, key types or rank changed" if plan.rebuild else
                     f"column(s) no longer in the result: {', '.join(dropped)}" if dropped else
                     f"column(s) of a narrower type now: {', '.join(narrowed)}" if narrowed else
                     f"{len(plan.added)} column(s) added and {len(plan.widened)} widened to the stored ones "
                     "would be more than it can hold")
            before = self._readable_rows(existing) if replace else self._all_rows(existing)
            kept = [] if replace else before
            # the kept rows have the stored columns, not necessarily the typed rows' ones: infer over them all
            plan = plan_write(metric, [*kept, *rows], None) if kept else plan_write(metric, rows, None, types=types)
            self._check_storable(metric, plan, creates=True)
            vanished = _vanished(existing, before, plan)
            self._begin_change(existing, metric.question, len(plan.rows))
            if not plan.schema.columns:  # computed, no rows, no column types: listed, no table, as a first such write
                self._drop(existing)
                self._commit(_listed_empty(metric), metric.question, 0)
                return WriteCounts(0, 0, vanished)
            replaced, existing = existing, None
        else:
            vanished, replaced = 0, None
            self._check_storable(metric, plan, creates=existing is None)
        diff = None if existing is None else self._diff_or_none(existing, plan, replace)
        if existing is not None and diff is None:  # stored rows this version cannot decode: a full result replaces them
            plan = plan_write(metric, rows, None, types=types)
            self._check_storable(metric, plan, creates=True)
            self._begin_change(existing, metric.question, len(plan.rows))
            if not plan.schema.columns:  # computed, no rows, no column types: listed, no table, as a first such write
                self._drop(existing)
                self._commit(_listed_empty(metric), metric.question, 0)
                return WriteCounts(0, 0, 0)
            replaced, existing = existing, None
        created = existing is None
        if created:
            self._load(replaced, plan.schema, plan.rows)
            changed, stale, count = plan.rows, [], len(plan.rows)
        else:
            assert diff is not None
            changed, stale, count = diff
            if changed or stale or plan.schema != existing:
                self._begin_change(existing, metric.question, count)
            self._evolve_if_needed(existing, plan)
            if changed or stale:
                self._upsert(plan.schema, changed, stale)
        unchanged = not (created or changed or stale or plan.schema != existing)
        self._commit(plan.schema, metric.question, count, unchanged=existing if unchanged else None)
        log.debug("metric=%s wrote %d rows (%d new or changed, %d stale deleted; replace=%s, now %d)",
                  metric.name, written, len(changed), len(stale), replace, count)
        # a rebuilt table (dropped, then created with every row) counts every row as changed, and as stale the
        # stored rows whose key the result no longer has
        return WriteCounts(rows=written, changed=len(changed), stale=len(stale) + vanished)

    def get(self, metric: Metric, key: Sequence[Any]) -> Row | None:
        schema = self._stored(metric.name)
        if schema is None:
            return None
        key = tuple(key) if isinstance(key, (list, tuple)) else (key,)
        if len(key) != len(schema.key):
            raise StoreError(f"metric {metric.name}: a key has {len(schema.key)} value(s) "
                             f"({', '.join(schema.key)}), got {len(key)}")
        typed = []
        for column, value in zip(schema.key, key, strict=True):
            ok, value = coerce_query(value, schema.types[column])
            if not ok:
                return None
            typed.append(value)
        with self._reading(schema):
            raw = self._get(schema, tuple(typed))
        return schema.decode(raw) if raw is not None else None

    def scan_prefix(self, metric: Metric, prefix: Any, limit: int | None = None,
                    after: Mapping[str, Any] | None = None) -> list[Row]:
        schema = self._stored(metric.name)
        if schema is None or (limit is not None and limit <= 0):
            return []
        position = None if after is None else _position(schema, after, ranked=False)
        ok, value = coerce_query(prefix, schema.types[schema.prefix])
        if not ok:
            return []
        with self._reading(schema):
            raw = self._scan_prefix(schema, value, limit, position)
        return [schema.decode(r) for r in raw]

    def top(self, metric: Metric, n: int, after: Mapping[str, Any] | None = None) -> list[Row]:
        schema = self._stored(metric.name)
        if schema is None or n <= 0:
            return []
        position = None if after is None else _position(schema, after, ranked=True)
        with self._reading(schema):
            raw = self._top(schema, n, position)
        return [schema.decode(r) for r in raw]

    def all(self, metric: Metric) -> list[Row]:
        schema = self._stored(metric.name)
        if schema is None:
            return []
        with self._reading(schema):
            return self._all_rows(schema)

    def delete_where(self, metric: Metric, column: str, value: Any) -> int:
        self._check_writable(f"delete rows of metric {metric.name}")
        check_question(metric)  # recorded with the deletion (in the catalog entry), as a write records it
        with self._writing(check_metric_name(metric.name)):
            return self._delete_rows_where(metric, column, value)

    def _delete_rows_where(self, metric: Metric, column: str, value: Any) -> int:
        """:meth:`delete_where`, with the metric held (:meth:`_writing`)."""
        schema = self._stored(metric.name)
        if schema is None or column not in schema.types:
            return 0
        ok, value = coerce_query(value, schema.types[column])
        if not ok:
            return 0
        begun: list[int] = []

        def begin(rows: int) -> None:
            # as a write does: a provisional generation before the rows change, so that a reader paging through the
            # metric (the results API's cursor, a whole read) is told of a deletion landing between its generation
            # and its rows, and a deletion stopped before its record (killed) leaves the metric partly written. The
            # count of before is kept meanwhile (a write records the one after): HBase counts what a deletion
            # leaves from the catalog's count, which a deletion stopped before its rows went must not have lowered
            self._begin_change(schema, metric.question, rows)
            begun.append(rows)

        with self._reading(schema):
            deleted, remaining = self._delete_where(schema, column, value, begin)
        if deleted or begun:  # begun and nothing deleted after all: the provisional generation is ended all the same
            self._commit(schema, metric.question, remaining)
        return deleted

    def unlisted_metrics(self) -> dict[str, list[str]]:
        """See :meth:`~fediscope.store.port.MetricStore.unlisted_metrics`."""
        tables = self._metric_tables()
        listed = self.stored_metrics()
        found = {name: set(names) for name, names in tables.items() if name not in listed}
        for name, names in self._stopped_load_tables().items():  # listed metric or not: no catalog entry names them
            found.setdefault(name, set()).update(names)
        return {name: sorted(found[name]) for name in sorted(found)}

    def missing_tables(self) -> dict[str, list[str]]:
        """See :meth:`~fediscope.store.port.MetricStore.missing_tables`."""
        schemas = {name: schema for name, schema in self._load_schemas().items() if schema.columns}
        if not schemas:  # nothing listed with a table: no need to list the tables
            return {}
        present = set(self._table_names())
        found = {name: self._absent_tables(schemas[name], present) for name in sorted(schemas)}
        return {name: tables for name, tables in found.items() if tables}

    def drop(self, metric: str) -> bool:
        """See :meth:`~fediscope.store.port.MetricStore.drop`."""
        self._check_writable(f"drop metric {metric}")
        with self._writing(check_metric_name(metric)):
            listed = self._load_schema(metric) is not None
            self._remove(metric)  # also without a catalog entry: tables an interrupted first write left
        log.info("metric=%s dropped from the store (it was %s)", metric, "listed" if listed else "not listed")
        return listed

    def write_changes(self, metric: Metric, rows: Sequence[Row], stale: Sequence[tuple[Any, ...]],
                      row_count: int, columns: Sequence[str] | None = None,
                      types: Mapping[str, str] | None = None) -> str | None:
        """Apply a known difference: upsert ``rows`` (new or changed) and delete the ``stale`` keys.

        For a caller that knows exactly how the stored rows differ from the new result because it kept what it
        wrote last time, and has checked with :meth:`generations` that nobody wrote since
        (:mod:`fediscope.engine.metric_state`). Skips the full read and comparison :meth:`write` makes.
        ``row_count`` is the metric's row count afterwards; ``columns``, when given, every column of the result.
        Returns the metric's generation afterwards (the one it had when nothing changed), or None when the change
        needs the full path (no table yet, a table of it missing: :meth:`missing_tables`, a schema change that
        rebuilds the table, columns the table cannot take in place: :meth:`_fits_in_place`, a stored column that is
        not among ``columns``, or a table that lacks a column of the catalog: changed by hand) and nothing was
        written.
        ``types``: the rows' column types (:func:`~fediscope.store.schema.plan_write`), used only when there are
        rows: without a row, inference knows no column, and typed columns could widen or add stored ones that
        inference leaves alone.
        """
        self._check_writable(f"write metric {metric.name}")
        with self._writing(check_metric_name(metric.name)):
            return self._write_changes(metric, rows, stale, row_count, columns, types if rows else None)

    def _write_changes(self, metric: Metric, rows: Sequence[Row], stale: Sequence[tuple[Any, ...]],
                       row_count: int, columns: Sequence[str] | None,
                       types: Mapping[str, str] | None = None) -> str | None:
        """:meth:`write_changes`, with the metric held (:meth:`_writing`)."""
        self._remove_stopped_loads(metric.name)
        existing = self._stored(metric.name)
        if existing is None or _columns_not_in(existing, columns) or self._absent_tables(existing):
            return None
        plan = plan_write(metric, rows, existing, types=types)
        if plan.rebuild or (_alters(plan) and not self._fits_in_place(plan)):
            return None
        self._check_storable(metric, plan, creates=False)
        types = [plan.schema.types[k] for k in plan.schema.key]
        keys = [tuple(cast(v, t) for v, t in zip(key, types, strict=True)) for key in stale]
        unchanged = not (plan.rows or keys) and plan.schema == existing
        if not unchanged:
            self._begin_change(existing, metric.question, row_count)
        self._evolve_if_needed(existing, plan)
        if plan.rows or keys:
            try:
                self._upsert(plan.schema, plan.rows, keys)
            except StoreSchemaError as exc:  # changed behind the catalog's back (by hand): its generation as it was
                log.warning("metric=%s its table lacks a column of the catalog (%s): writing every row anew",
                            metric.name, " ".join(str(exc).split())[:200])
                return None  # the full write replaces the table (:meth:`_diff_or_none`), the provisional mark with it
        log.debug("metric=%s wrote %d changed rows, deleted %d stale (now %d)", metric.name, len(plan.rows),
                  len(keys), row_count)
        return self._commit(plan.schema, metric.question, row_count, unchanged=existing if unchanged else None)

    def settle(self, metric: Metric, row_count: int) -> bool:
        """See :meth:`~fediscope.store.port.MetricStore.settle`.

        A write or deletion changes the rows, then records the metric in the catalog (:meth:`_commit`; HBase has no
        transactions, and the SQL stores commit them apart), so a process killed in between (SIGKILL, OOM, reboot:
        no clean-up runs) leaves the catalog behind the rows. A retry that finds nothing left to change commits
        nothing, so the stale entry stayed until the metric's next write: the erasure calls this once it is done with
        a metric (:func:`~fediscope.gdpr.erase.erase_store`). The caller holds the lake lock, so no write changes the
        rows between its count and this."""
        self._check_writable(f"record metric {metric.name}")
        check_question(metric)
        with self._writing(check_metric_name(metric.name)):
            return self._settle(metric, row_count)

    def _settle(self, metric: Metric, row_count: int) -> bool:
        """:meth:`settle`, with the metric held (:meth:`_writing`)."""
        schema = self._stored(metric.name)
        if schema is None:
            return False
        recorded = self.stored_metrics().get(metric.name)
        provisional = (schema.generation or "").startswith(PROVISIONAL)
        if recorded == row_count and not provisional:
            return False
        log.info("metric=%s: the catalog said %s rows%s, the table holds %d: recorded anew (a change was stopped "
                 "before it was recorded)", metric.name, recorded, " under a provisional generation" if provisional
                 else "", row_count)
        self._commit(schema, metric.question, row_count)
        return True

    def generations(self) -> dict[str, str | None]:
        """Every stored metric's generation: a new random value at each write or erasure that changes the metric's
        rows or columns, so a reader that noted it can tell whether anyone changed the metric since (None: written
        by an older fediscope). A write that changes nothing keeps it (see :meth:`_commit`)."""
        return {name: schema.generation for name, schema in self._load_schemas().items()}

    def provenances(self) -> dict[str, dict[str, Any] | None]:
        """See :meth:`~fediscope.store.port.MetricStore.provenances`."""
        return {name: schema.provenance for name, schema in sorted(self._load_schemas().items())}

    def generation(self, metric: str) -> str | None:
        """One metric's generation (see :meth:`generations`); None when the store holds nothing for it."""
        schema = self._load_schema(metric)
        return schema.generation if schema is not None else None

    def column_types(self, metric: str) -> dict[str, str]:
        """See :meth:`~fediscope.store.port.MetricStore.column_types`."""
        schema = self._load_schema(metric)
        return dict(schema.types) if schema is not None else {}

    def recorded_metric(self, metric: str) -> Metric | None:
        """See :meth:`~fediscope.store.port.MetricStore.recorded_metric`."""
        schema = self._load_schema(metric)
        if schema is None:
            return None
        return Metric(name=schema.metric, question=self._load_question(metric) or "", key=schema.key, sql="",
                      rank_column=schema.rank_column, rank_desc=schema.rank_desc,
                      prefix_column=schema.prefix_column)

    def __enter__(self) -> BaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------------------

    def _check_writable(self, doing: str) -> None:
        if self.read_only:
            raise StoreError(f"cannot {doing}: the store {redact_url(self.url)} was opened for reading only "
                             "(open_store(..., read_only=True))")

    def _evolve_if_needed(self, existing: TableSchema, plan: WritePlan) -> None:
        if _alters(plan):
            log.info("metric=%s schema evolves: added=%s widened=%s", plan.schema.metric, plan.added, plan.widened)
            self._evolve(existing, plan)

    def _begin_change(self, existing: TableSchema, question: str, row_count: int) -> str:
        """Give the metric a new generation *before* its rows change, as :meth:`_commit` gives it one after.

        The rows and the catalog are not written in one transaction (HBase has none), so a reader paging through
        the metric with a generation noted before the write (the results API's cursor) would otherwise see the
        rows change under an unchanged generation until the commit, and forever when the write fails in between:
        rows skipped or read twice with no sign. ``row_count`` is the count after the write (the catalog is
        briefly ahead of the rows, as it is behind them without this). The generation is marked provisional
        (:data:`PROVISIONAL`): a write that fails after changing rows leaves it, and the retry, finding nothing
        left to change, must not keep it (a reader that noted it mid-write would page on over changed rows). Returns the
        provisional generation."""
        generation = PROVISIONAL + uuid.uuid4().hex
        self._save_schema(with_fields(existing, generation=generation, provenance=self._provenance(existing)),
                          question, row_count)
        return generation

    def _commit(self, schema: TableSchema, question: str, row_count: int,
                unchanged: TableSchema | None = None) -> str:
        """Record the metric's schema and row count in the catalog, under a new generation; returns it.

        ``unchanged``: the catalog entry before a write that changed no row and no column (not even their types):
        its generation is kept, so a reader paging with it (the results API's cursor) goes on reading, and so
        are the kept results of ``fediscope process`` still known to match the store. Re-running a batch over
        unchanged data must not make every open cursor stale. An entry without a generation (written by an older
        fediscope) gets one, and so does one left by a write that failed part-way (provisional: see
        :meth:`_begin_change`)."""
        kept = unchanged.generation if unchanged is not None else None
        if kept is not None and kept.startswith(PROVISIONAL):
            kept = None
        generation = kept or uuid.uuid4().hex
        self._save_schema(with_fields(schema, generation=generation, provenance=self._provenance(schema)), question,
                          row_count)
        return generation

    def _provenance(self, schema: TableSchema) -> dict[str, Any] | None:
        """What the rows about to be recorded came from: :attr:`provenance` when set, else what the catalog recorded
        (a write that computes nothing, such as an erasure, does not change what computed the rest)."""
        if self.provenance is not None:
            return self.provenance
        if schema.provenance is not None:
            return schema.provenance
        recorded = self._load_schema(schema.metric)
        return recorded.provenance if recorded is not None else None

    def _absent_tables(self, schema: TableSchema, present: set[str] | None = None) -> list[str]:
        """The tables of a metric stored with ``schema`` (one with columns) that the store does not hold (dropped
        by hand); ``present``: every table's name, when already listed."""
        present = set(self._table_names()) if present is None else present
        return [name for name in self._tables_of(schema) if name not in present]

    @contextmanager
    def _reading(self, schema: TableSchema) -> Iterator[None]:
        """Read the rows of the metric stored with ``schema``: a read that fails because a table of it is missing
        (:meth:`missing_tables`) raises :class:`MissingTableError`, naming the metric and the fix, instead of the
        database's "no such table" (``Table '…' doesn't exist``, ``TableNotFoundException``): when the error says
        so and the store's tables confirm it. They are only listed after such a failure, so a read that works
        costs nothing more."""
        try:
            yield
        except StoreError as exc:
            if isinstance(exc, MissingTableError) or not self._table_not_found(exc):
                raise
            try:
                absent = self._absent_tables(schema)
            except StoreError:  # the store cannot be asked: the read's own error says why
                absent = []
            if not absent:
                raise
            raise MissingTableError(redact_url(self.url), schema.metric, absent) from exc

    def _without_missing_tables(self, existing: TableSchema | None) -> TableSchema | None:
        """Before a write: ``existing``, or None when a table of it is missing (:meth:`missing_tables`), after
        removing what is left of the metric (its catalog entry, on HBase its other table's rows), so that the
        write is a first write: every row written, the tables made again. Without this such a write compared the
        result with a table that is not there (an error), or left a rank table missing for good."""
        if existing is None:
            return None
        absent = self._absent_tables(existing)
        if not absent:
            return existing
        log.warning("metric=%s its table(s) %s are missing from the store (dropped by hand?): writing every row "
                    "anew", existing.metric, ", ".join(absent))
        self._drop(existing)
        return None

    def _stored(self, metric: str) -> TableSchema | None:
        """The schema of a metric that has a table (not of one only listed in the catalog with no rows)."""
        schema = self._load_schema(metric)
        return schema if schema is not None and schema.columns else None

    def _diff(self, existing: TableSchema, plan: WritePlan, replace: bool
              ) -> tuple[list[Row], list[tuple[Any, ...]], int]:
        """What a write must change: (new or changed rows, stale keys, the row count afterwards).

        One bulk read of the stored rows, decoded with the *new* schema (an added column reads as NULL, a
        widened one as its new type), so a row counts as unchanged exactly when a read after the write would
        return the same values — re-running a batch over unchanged data then writes nothing at all.
        """
        schema = plan.schema
        names = schema.names
        width = len(names)  # columns only ever get appended without a rebuild: pad the stored rows with NULLs
        key_at = [names.index(k) for k in schema.key]
        stored: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for raw in self._raw_tuples(existing):
            raw = (*raw, *(None,) * (width - len(raw)))
            stored[tuple(raw[i] for i in key_at)] = raw
        # Raw database values compare equal to the typed value exactly when decoding would give that value
        # (1 == True, 3 == 3.0, bytes never equal text): an unequal pair is rewritten, never skipped wrongly.
        changed = [row for row in plan.rows if stored.get(schema.key_of(row)) != tuple(row[n] for n in names)]
        if replace:
            new_keys = {schema.key_of(row) for row in plan.rows}
            types = [schema.types[k] for k in schema.key]
            stale = [tuple(cast(v, t) for v, t in zip(key, types, strict=True))
                     for key in stored if key not in new_keys]
            return changed, stale, len(plan.rows)
        added = sum(schema.key_of(row) not in stored for row in changed)
        return changed, [], len(stored) + added

    def _diff_or_none(self, existing: TableSchema, plan: WritePlan, replace: bool
                      ) -> tuple[list[Row], list[tuple[Any, ...]], int] | None:
        """:meth:`_diff`, or None when the stored rows are not what this version decodes (:data:`UNDECODABLE`: a
        column of the catalog missing from the table, a value its column's type cannot hold; changed by hand, or
        as when another fediscope version stored them) and ``replace``: the result is complete, so the write
        replaces the table instead of comparing with it. Every read of such a metric says to run ``fediscope
        process`` to store it again (:func:`fediscope.analysis.stale_metric_message`); without this, the write
        failed on the very rows it was to replace (``no such column``, a raw ``ValueError``). A write that keeps
        the stored rows (``replace`` False) needs them: it fails as their read does."""
        try:
            return self._diff(existing, plan, replace)
        except UNDECODABLE as exc:
            if not replace:
                raise
            log.warning("metric=%s its stored rows are not what this fediscope version reads (%s): writing every "
                        "row anew", existing.metric, " ".join(str(exc).split())[:200])
            return None

    def _readable_rows(self, schema: TableSchema) -> list[Row]:
        """The stored rows before a rebuild that replaces them all (only counted: :func:`_vanished`), or none when
        they cannot be decoded (:meth:`_diff_or_none`): the rebuild goes on, counting none as gone."""
        try:
            return self._all_rows(schema)
        except UNDECODABLE as exc:
            log.warning("metric=%s its stored rows are not what this fediscope version reads (%s): rebuilt without "
                        "counting them", schema.metric, " ".join(str(exc).split())[:200])
            return []

    def _raw_tuples(self, schema: TableSchema) -> Iterable[tuple[Any, ...]]:
        """Every stored row as raw values in the order of ``schema.names`` (any row order); adapters may do
        this faster than :meth:`_all`."""
        names = schema.names
        return (tuple(raw.get(n) for n in names) for raw in self._all(schema))

    def _all_rows(self, schema: TableSchema) -> list[Row]:
        return [schema.decode(r) for r in self._all(schema)]


def sort_by_rank(schema: TableSchema, rows: list[Row]) -> list[Row]:
    """Rows in top-N order: rank column (NULLs last in both directions), ties by key ascending."""
    by_key = sorted(rows, key=schema.key_of)
    if not schema.rank_column:
        return by_key
    rank = schema.rank_column
    present = [r for r in by_key if r[rank] is not None]
    present.sort(key=lambda r: r[rank], reverse=schema.rank_desc)  # stable: ties keep key order
    return present + [r for r in by_key if r[rank] is None]


def position_columns(schema: TableSchema, ranked: bool) -> list[str]:
    """The columns of a position in a metric's rows: its key, preceded by its rank column in top order."""
    return [schema.rank_column, *schema.key] if ranked and schema.rank_column else list(schema.key)


def _position(schema: TableSchema, after: Mapping[str, Any], ranked: bool) -> tuple[Any, ...]:
    """An ``after`` row as the typed values of :func:`position_columns` (the rank value may be None: the rows
    without one come last); :class:`~fediscope.store.port.PositionError` when one is missing or of a type its
    column cannot hold."""
    from fediscope.store.port import PositionError

    typed = []
    for column in position_columns(schema, ranked):
        if column not in after:
            raise PositionError(f"metric {schema.metric}: a position needs a value for column {column}")
        raw = after[column]
        if raw is None and column == schema.rank_column and column not in schema.key:
            typed.append(None)
            continue
        ok, value = coerce_query(raw, schema.types[column])
        if not ok or isinstance(raw, bool) != (schema.types[column] == "bool"):
            raise PositionError(f"metric {schema.metric}: column {column} holds {schema.types[column]} values, "
                                f"not {raw!r}")
        typed.append(value)
    return tuple(typed)


def _listed_empty(metric: Metric) -> TableSchema:
    """The catalog entry of a metric computed with no rows whose column types are unknown (a write without
    ``types``): listed with 0 rows, no table. With ``types`` (``fediscope process`` gives them) such a metric gets
    its empty table instead, so that a BI tool finds the table and its columns whether or not there are rows."""
    return TableSchema(metric=metric.name, key=metric.key, columns=())


def _alters(plan: WritePlan) -> bool:
    """Whether a write of ``plan`` in place changes the table's columns (:meth:`BaseStore._evolve`)."""
    return bool(plan.added or plan.widened)


def _columns_not_in(existing: TableSchema | None, columns: Iterable[str] | None) -> list[str]:
    """The stored columns a result with exactly ``columns`` no longer has (none when either is unknown)."""
    if existing is None or columns is None:
        return []
    present = set(columns)
    return [name for name in existing.names if name not in present]


def _columns_narrowed(plan: WritePlan, types: Mapping[str, str] | None) -> list[str]:
    """The columns a full result with these ``types`` gives a narrower type than the store keeps them in (an int
    where a float is stored: the metric's SQL edited from ``avg(x)`` to ``count(*)``). A widening plan keeps the
    stored type, so such a column stayed a float for good (``127.0``), where a fresh store holds the integer ``127``:
    the table is rebuilt with the result's types instead. A column whose values are all NULL (typed ``null``)
    alone rebuilds nothing: its stored type holds NULLs as well, and a metric with a column NULL in one run only
    is not rebuilt twice for it (every row written, a new generation)."""
    if types is None:
        return []
    return [name for name, type_ in types.items()
            if type_ in TYPES and type_ != "null" and plan.schema.types.get(name, type_) != type_]


def _vanished(existing: TableSchema, before: Sequence[Row], plan: WritePlan) -> int:
    """Stored rows (``before``) whose key a rebuilt table no longer has: all of them when the key columns changed."""
    if list(existing.key) != list(plan.schema.key):
        return len(before)
    remaining = {plan.schema.key_of(row) for row in plan.rows}
    return sum(existing.key_of(row) not in remaining for row in before)
