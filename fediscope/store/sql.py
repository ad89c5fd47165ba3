"""The relational adapters' shared half: one table per metric, built with SQLAlchemy Core.

Each metric is a table ``metric_<name>`` whose primary key is the metric's key (so an upsert by key is the
database's own ``INSERT … ON CONFLICT`` / ``ON DUPLICATE KEY UPDATE``), with an index on the rank column for
top-N reads (on MariaDB, of a text rank column's first 255 characters, the most a text rank value holds) and
one on the prefix column when it is not the first key column. Tables are created on first
write and grow a column (``ALTER TABLE … ADD COLUMN``) when a metric gains one; a column that an older fediscope
declared narrower than today (MariaDB's ``TEXT`` values) is widened before a store's first write to its table
(:meth:`SQLStore.outdated_columns`). A first write and a rebuild (a changed key or rank, a column gone) load the
whole table before a reader can see it (:meth:`SQLStore._load`), and the rows one write changes are one
transaction: a reader sees a metric's table with its old rows or with all its new rows, never no table, an empty
one or a part of the rows. ``fediscope_catalog`` holds one
row per metric: its question, typed column list, row count and load time — handy in a BI tool too. A store
opened for reading (``read_only``: the results API, ``fediscope report``) creates no catalog and reads a
missing one as an empty store, so a database user with SELECT only can read.

Column names come from the metrics' SQL, so any text a result column may be called (``nothing``, ``order``,
``share_%``, ``Mixed Case``) must reach the database intact: every column is declared ``quote=True`` and every
statement naming one is a SQLAlchemy construct, never text pasted together. SQLAlchemy then quotes each name
whatever its dialect's list of reserved words says (SQLite's ``nothing`` is missing from it), and escapes a
``%`` as ``%%`` exactly when the driver interpolates statements with ``%`` (PyMySQL), on its own path and on
the compiled upsert sent with ``exec_driver_sql``. Names no store can hold are refused before a write
(:func:`fediscope.engine.metrics.check_column_names`).

Subclasses say how the dialect spells types and upserts (:mod:`fediscope.store.sqlite`,
:mod:`fediscope.store.mysql`).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    delete,
    event,
    false,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable, ExecutableDDLElement
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

from fediscope.errors import ConfigError, StoreError, StoreSchemaError
from fediscope.redact import redact_url
from fediscope.store.base import BaseStore
from fediscope.store.schema import Row, TableSchema, WritePlan, metric_name_problem

log = logging.getLogger(__name__)

CHUNK = 1000
DRIVER_CHUNK = 10_000  # rows per executemany of prepared tuples (PyMySQL folds them into ~1 MB INSERTs)
CATALOG = "fediscope_catalog"
#: The name of a metric's table is this and the metric's name.
METRIC_TABLE_PREFIX = "metric_"
#: A table being loaded (:meth:`SQLStore._load`) has this name and the metric's until it replaces the metric's table,
#: which has the other one until it is dropped: at most 62 characters, within MariaDB's 64
LOADING_PREFIX, REPLACED_PREFIX = "_new_", "_old_"
T = TypeVar("T")


class SQLStore(BaseStore):
    """A :class:`~fediscope.store.port.MetricStore` over a SQLAlchemy engine; see the module docstring."""

    table_options: dict[str, Any] = {}
    #: what a failure to reach the database is called (:meth:`_errors`): a server is connected to, a file opened
    connecting = "connect to the store"
    #: characters of a text value column a dialect's index may hold (None: whole values, as SQLite indexes them)
    text_index_length: int | None = None
    #: the type of the catalog's text columns (``question``, ``definition``)
    catalog_text: type[TypeEngine] = Text
    #: bytes a catalog text column made by an older fediscope may hold (None: no limit, as in SQLite), over which
    #: it is widened before it is written (:meth:`_widen_catalog`)
    catalog_text_limit: int | None = None

    def __init__(self, url: str, engine: Engine, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._engine = engine
        event.listen(engine, "handle_error", _note_connect_failure)
        self._shown_url = redact_url(url)  # every secret masked: the password, also one in the query string
        self._catalog = self.catalog_table()
        self._has_catalog = False
        #: the catalog's text columns are known to hold any value (:meth:`_widen_catalog`)
        self._catalog_wide = self.catalog_text_limit is None
        #: tables whose columns have today's types: created by this store, or checked (and widened) before its
        #: first write to them (:meth:`_bring_up_to_date`)
        self._current: set[str] = set()
        #: the tables stopped loads left, by metric, once listed (:meth:`_remove_stopped_loads`)
        self._stopped: dict[str, list[str]] | None = None
        try:
            if read_only:  # creates nothing: a catalog that does not exist (yet) reads as an empty store
                with self._errors("read the catalog"), self._engine.connect() as conn:
                    self._catalog_exists(conn)  # connects now, so an unreachable store fails at open as below
            else:
                # looked for first (a catalog that exists needs no CREATE right), then created IF NOT EXISTS: two
                # writers opening a new store at once (two lakes, a `gdpr erase` beside a first `process`) both
                # found no catalog, and the second plain CREATE failed ("table fediscope_catalog already exists")
                with self._errors("create the catalog table"), self._engine.begin() as conn:
                    if not inspect(conn).has_table(CATALOG):
                        conn.execute(CreateTable(self._catalog, if_not_exists=True))
                self._has_catalog = True
        except (OSError, ValueError, TypeError) as exc:
            # raised by the driver itself, before any round trip, for an option of the URL it cannot use
            # (ssl_ca naming a missing file, connect_timeout=abc): a setting to fix, not a store failure
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"FEDISCOPE_STORE={self._shown_url!r}: the database driver refused an option of "
                              f"the URL ({type(exc).__name__}: {reason}); check its query parameters") from None

    @classmethod
    def catalog_table(cls) -> Table:
        """The catalog table (:data:`CATALOG`) as this store declares it."""
        return Table(CATALOG, MetaData(),
                     Column("metric", String(64), primary_key=True),
                     Column("question", cls.catalog_text),
                     Column("definition", cls.catalog_text, nullable=False),
                     Column("row_count", BigInteger, nullable=False),
                     Column("updated_at", DateTime, nullable=False),
                     **cls.table_options)

    # -- dialect hooks ------------------------------------------------------------------------------------

    def _connect_hint(self, driver: Any) -> str:
        """What to add to the reason a connection failed (``driver``: the database driver's error, or None), when
        the URL explains it; empty here."""
        return ""

    @abstractmethod
    def column_type(self, type_: str, key_text_length: int | None) -> TypeEngine:
        """The column type for a logical type; ``key_text_length`` is set for text key columns."""

    @abstractmethod
    def upsert(self, table: Table, value_columns: list[str]) -> Insert:
        """An INSERT that overwrites the row with the same primary key."""

    def widen(self, conn: Any, table: Table, column: str, type_: TypeEngine) -> None:
        """Change a column to a wider type in place (not needed where typing is dynamic)."""

    def outdated_columns(self, conn: Any, table: Table, schema: TableSchema) -> list[str]:
        """The columns of an existing table that an older fediscope declared narrower than :meth:`column_type`
        declares them now, to be changed with :meth:`widen` (none where typing is dynamic)."""
        return []

    # -- catalog ------------------------------------------------------------------------------------------

    def _catalog_exists(self, conn: Any) -> bool:
        """Whether the catalog table exists (known once seen); a store opened for reading asks the database, since
        it does not create the catalog and a writer may create it at any time."""
        if not self._has_catalog:
            self._has_catalog = inspect(conn).has_table(CATALOG)
        return self._has_catalog

    def _read_catalog(self, doing: str, read: Callable[[Any], T], empty: T) -> T:
        """``read(connection)`` of the catalog, or ``empty`` when there is no catalog.

        A store opened for reading that saw the catalog and then fails to read it asks again whether it exists
        (:meth:`_catalog_dropped`): a store reset since (its tables dropped, to be loaded again by ``fediscope
        process``) then reads as empty, as before its first load, and the catalog a writer creates again is
        looked for at each read, instead of every read failing on the table that was seen once."""
        try:
            with self._errors(doing), self._engine.connect() as conn:
                if not self._catalog_exists(conn):
                    return empty
                return read(conn)
        except StoreError:
            if self._catalog_dropped():
                return empty
            raise

    def _catalog_dropped(self) -> bool:
        """After a failed read of the catalog: whether a store opened for reading lost the catalog it had seen
        (then forgotten, so that the next read looks for it again). False when the store cannot tell (it cannot be
        reached: the read's own error says so) or was opened for writing (it created the catalog it writes to)."""
        if not (self.read_only and self._has_catalog):
            return False
        try:
            with self._engine.connect() as conn:
                self._has_catalog = inspect(conn).has_table(CATALOG)
        except SQLAlchemyError:
            return False
        if not self._has_catalog:
            log.info("store %s: the catalog table is gone (the store was reset): read as empty until it is "
                     "created again", self._shown_url)
        return not self._has_catalog

    def _load_schema(self, metric: str) -> TableSchema | None:
        definition = self._read_catalog(
            f"read the catalog entry of {metric}",
            lambda conn: conn.execute(select(self._catalog.c.definition).where(self._catalog.c.metric == metric))
            .scalar(), None)
        return TableSchema.from_json(definition) if definition else None

    def _load_schemas(self) -> dict[str, TableSchema]:
        rows = self._read_catalog(
            "read the catalog",
            lambda conn: conn.execute(select(self._catalog.c.metric, self._catalog.c.definition)).all(), [])
        return {name: TableSchema.from_json(definition) for name, definition in rows}

    def _load_question(self, metric: str) -> str | None:
        return self._read_catalog(
            f"read the catalog entry of {metric}",
            lambda conn: conn.execute(select(self._catalog.c.question).where(self._catalog.c.metric == metric))
            .scalar(), None)

    def _save_schema(self, schema: TableSchema, question: str, row_count: int) -> None:
        values = {"metric": schema.metric, "question": question, "definition": schema.to_json(),
                  "row_count": row_count, "updated_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
        with self._errors(f"update the catalog entry of {schema.metric}"), self._engine.begin() as conn:
            self._check_catalog_entry(conn, schema, question)
            if not self._catalog_wide and max(_utf8_bytes(question), _utf8_bytes(values["definition"])) > (
                    self.catalog_text_limit or 0):
                self._widen_catalog(conn)
            conn.execute(delete(self._catalog).where(self._catalog.c.metric == schema.metric))
            conn.execute(self._catalog.insert().values(**values))

    def _check_catalog_entry(self, conn: Any, schema: TableSchema, question: str) -> None:
        """Refuse a catalog entry the database would refuse, before anything of it is written, on ``conn``, the
        connection that writes it (MySQL: its session's ``max_allowed_packet``). Nothing here."""

    def _widen_catalog(self, conn: Any) -> None:
        """Before writing a catalog value of more than :attr:`catalog_text_limit` bytes: change the catalog's text
        columns that an older fediscope declared narrower than :attr:`catalog_text` to it (MariaDB's ``TEXT``,
        65,535 bytes, which a metric's definition outgrows: its column names, JSON-escaped ``\\u00e9`` for an
        ``é``, took up to 3 times the bytes they take in the table's own definition). Was: the write refused
        (``Data too long for column 'definition'``) after the metric's table was loaded, leaving it with no
        catalog entry. Once per store; only where a value needs it, so a store whose values fit alters nothing.

        On ``conn``, the connection about to write the entry, before it writes anything: MySQL commits each
        ``ALTER TABLE`` on its own, so the change stays whatever becomes of the entry."""
        with self._errors(f"widen the columns of {CATALOG}"):
            for name in self.outdated_catalog_columns(conn):
                column = self._catalog.c[name]
                log.info("store %s: column %r of %s (made by an older fediscope) changed to %s", self._shown_url,
                         name, CATALOG, column.type.compile(dialect=self._engine.dialect))
                conn.execute(AlterColumn(column, "MODIFY"))
        self._catalog_wide = True

    def outdated_catalog_columns(self, conn: Any) -> list[str]:
        """The catalog's text columns declared narrower than :attr:`catalog_text` (by an older fediscope); none
        where :attr:`catalog_text_limit` is None."""
        return []

    def stored_metrics(self) -> dict[str, int]:
        rows = self._read_catalog(
            "read the catalog",
            lambda conn: conn.execute(select(self._catalog.c.metric, self._catalog.c.row_count)
                                      .order_by(self._catalog.c.metric)).all(), [])
        return {name: count for name, count in rows}

    def _metric_tables(self) -> dict[str, list[str]]:
        return _by_metric(self._table_names(), (METRIC_TABLE_PREFIX,))

    def _tables_of(self, schema: TableSchema) -> list[str]:
        return [f"{METRIC_TABLE_PREFIX}{schema.metric}"]

    def _stopped_load_tables(self) -> dict[str, list[str]]:
        """The ``_new_<metric>`` and ``_old_<metric>`` tables a load stopped half-way left (:meth:`_load`): only
        MariaDB leaves them, whose DDL commits at once; SQLite loads in one transaction, rolled back when stopped."""
        return _by_metric(self._table_names(), (LOADING_PREFIX, REPLACED_PREFIX))

    def _remove_stopped_loads(self, metric: str) -> None:
        """Drop the tables a load of ``metric`` stopped half-way left: the tables are listed once per store (at its
        first write), as only a stopped run leaves them; this store's own loads note theirs until done
        (:meth:`_load`), so a load that failed here is cleaned up by the next write too."""
        if self._stopped is None:
            self._stopped = self._stopped_load_tables()
        names = self._stopped.pop(metric, [])
        if not names:
            return
        with self._errors(f"drop table(s) {', '.join(names)}"), self._engine.begin() as conn:
            for name in names:
                Table(name, MetaData()).drop(conn, checkfirst=True)
        log.info("metric=%s dropped %s, left by a load of it that stopped half-way", metric, ", ".join(names))

    def _table_names(self) -> list[str]:
        with self._errors("list the tables"), self._engine.connect() as conn:
            return inspect(conn).get_table_names()

    # -- tables -------------------------------------------------------------------------------------------

    def table(self, schema: TableSchema, name: str | None = None) -> Table:
        """The SQLAlchemy table of a metric, built from its schema (no reflection round trip); ``name``: the
        same table under another name (:meth:`_load`)."""
        key_length = schema.key_text_limit()  # as long as every store's text keys: MariaDB's key holds them all
        # quote=True: quoted in every statement, not only when the dialect's reserved-word list knows the name
        columns = [Column(name, self.column_type(type_, key_length if name in schema.key else None),
                          nullable=name not in schema.key, autoincrement=False, quote=True)
                   for name, type_ in schema.columns]
        table = Table(name or f"{METRIC_TABLE_PREFIX}{schema.metric}", MetaData(), *columns,
                      PrimaryKeyConstraint(*schema.key, name=f"pk_{schema.metric}"), **self.table_options)
        if schema.rank_column:
            rank = schema.rank_column
            if self.text_index_length and schema.types.get(rank) == "str" and rank not in schema.key:
                # a text value column (MariaDB's LONGTEXT) is indexed by its first characters only, the most a
                # text key holds, so every value is indexed whole (MAX_KEY_TEXT); the ORDER BY of top-N compares
                # the whole column, as SQLite and HBase do. The key is left out: the prefix index cannot give
                # the order anyway, and InnoDB adds the primary key to every secondary index
                length = {rank: self.text_index_length}
                Index(f"rank_{schema.metric}", table.c[rank], mysql_length=length, mariadb_length=length)
            else:  # a rank column that is a key column is named once (MariaDB refuses a column twice)
                Index(f"rank_{schema.metric}", table.c[rank], *(table.c[k] for k in schema.key if k != rank))
        if schema.prefix != schema.key[0]:
            Index(f"prefix_{schema.metric}", table.c[schema.prefix])
        return table

    def _load(self, replaced: TableSchema | None, schema: TableSchema, rows: list[Row]) -> None:
        """A first write or a rebuild, swapped in at once: the table is created, loaded and indexed under another
        name (``_new_<metric>``), then ``RENAME TABLE metric_<m> TO _old_<m>, _new_<m> TO metric_<m>`` (one atomic
        statement; it waits for the queries still reading the old table) and the old one dropped. A reader (a BI
        tool, the results API) sees the old table with its old rows or the new one with all its rows, never no
        table or a table half-loaded. A load stopped half-way leaves ``_new_<metric>`` (stopped between the
        rename and the drop, ``_old_<metric>``), which the metric's next write drops (:meth:`_remove_stopped_loads`),
        :meth:`unlisted_metrics` lists and :meth:`drop` removes; a first write stopped so has no catalog entry, so
        the next one is a first write again. Each of those runs with the metric held (:meth:`_writing`: MariaDB's
        named lock), so the ``_new_<metric>`` it drops is a stopped load's, never one another writer is loading.
        SQLite does it in one transaction instead (:class:`SQLiteStore`)."""
        table = self.table(schema)
        aside = self.table(schema, name=LOADING_PREFIX + schema.metric)
        old = Table(REPLACED_PREFIX + schema.metric, MetaData())
        quoted = self._engine.dialect.identifier_preparer.format_table
        if self._stopped is not None:  # until done, what this load makes is what a stopped one leaves (a failure)
            self._stopped[schema.metric] = [aside.name, old.name]
        with self._errors(f"load table {table.name}"):
            with self._engine.begin() as conn:
                aside.drop(conn, checkfirst=True)  # leftovers of a load stopped half-way
                old.drop(conn, checkfirst=True)
                conn.execute(CreateTable(aside))
            with self._engine.begin() as conn:
                self._write_rows(conn, aside, schema, rows, [])
            with self._engine.begin() as conn:
                create_indexes(conn, aside)
                if inspect(conn).has_table(table.name):
                    conn.exec_driver_sql(f"RENAME TABLE {quoted(table)} TO {quoted(old)}, "
                                         f"{quoted(aside)} TO {quoted(table)}")
                    old.drop(conn)
                else:
                    conn.exec_driver_sql(f"RENAME TABLE {quoted(aside)} TO {quoted(table)}")
        if self._stopped is not None:
            self._stopped.pop(schema.metric, None)
        self._current.add(table.name)

    def _drop(self, schema: TableSchema) -> None:
        """As :meth:`_remove`: a SQL store has nothing to keep of a table it rebuilds."""
        self._remove(schema.metric)

    def _remove(self, metric: str) -> None:
        """``DROP TABLE metric_<name>`` (its indexes go with it) after deleting the catalog row, in one transaction
        (on MariaDB the DROP commits the delete first: a removal stopped in between leaves a table no catalog entry
        lists, which the next first write replaces). The table is named, not built from the catalog's schema: a
        metric listed without column types (written with no rows and no ``types``) has no columns (and no table).
        The tables a load of the metric stopped half-way left (``_new_<name>``, ``_old_<name>``) are dropped too."""
        table = Table(f"{METRIC_TABLE_PREFIX}{metric}", MetaData())
        with self._errors(f"drop table {table.name}"), self._engine.begin() as conn:
            if self._catalog_exists(conn):
                conn.execute(delete(self._catalog).where(self._catalog.c.metric == metric))
            table.drop(conn, checkfirst=True)
            for prefix in (LOADING_PREFIX, REPLACED_PREFIX):
                Table(prefix + metric, MetaData()).drop(conn, checkfirst=True)
        self._current.discard(table.name)
        if self._stopped is not None:
            self._stopped.pop(metric, None)

    def _evolve(self, old: TableSchema, plan: WritePlan) -> None:
        table = self.table(plan.schema)
        with self._errors(f"alter table {table.name}"), self._engine.begin() as conn:
            # the columns the table has, from a query's result description: reflection (SHOW CREATE TABLE parsed
            # by SQLAlchemy on MariaDB) gives a name with a backtick back still escaped
            present = set(conn.execute(select(literal_column("*")).select_from(table).where(false())).keys())
            # a column present already was added by a write that stopped before updating the catalog
            self._alter(conn, table, [name for name in plan.added if name not in present], list(plan.widened))

    def _alter(self, conn: Any, table: Table, added: list[str], widened: list[str]) -> None:
        """Add the ``added`` columns of ``table`` (as it is declared) and widen the ``widened`` ones
        (:meth:`widen`): one statement each here (SQLite adds one column a statement)."""
        for name in added:
            conn.execute(AlterColumn(table.c[name], "ADD"))
        for name in widened:
            self.widen(conn, table, name, table.c[name].type)

    def _bring_up_to_date(self, schema: TableSchema, table: Table) -> None:
        """Before this store's first rows to a table it did not create: widen (:meth:`widen`) the columns an older
        fediscope declared narrower than today (:meth:`outdated_columns`: MariaDB's ``TEXT`` values, 64 KiB), so
        that a value today's tables hold does not fail the write. Once per table and store, and only on writes: a
        store opened for reading alters nothing."""
        if table.name in self._current:
            return
        with self._errors(f"bring the column types of {table.name} up to date"), self._engine.begin() as conn:
            for name in self.outdated_columns(conn, table, schema):
                log.info("store %s: column %r of %s (made by an older fediscope) changed to %s", self._shown_url,
                         name, table.name, table.c[name].type.compile(dialect=self._engine.dialect))
                self.widen(conn, table, name, table.c[name].type)
        self._current.add(table.name)

    # -- writes -------------------------------------------------------------------------------------------

    def _upsert(self, schema: TableSchema, rows: list[Row], stale: list[tuple[Any, ...]]) -> None:
        """One transaction: stale keys deleted in ``IN (…)`` chunks, rows upserted with ``executemany``; before it,
        the first time this store writes to a table it did not create, that table's columns are brought up to date
        (:meth:`_bring_up_to_date`).

        The upsert is compiled once and its rows go to the driver as tuples (:meth:`_driver_rows`): building
        SQLAlchemy's parameters row by row cost more than the database's own work on large writes.
        """
        table = self.table(schema)
        self._bring_up_to_date(schema, table)
        with self._errors(f"write {len(rows)} rows to {table.name}"), self._engine.begin() as conn:
            self._write_rows(conn, table, schema, rows, stale)

    def _write_rows(self, conn: Any, table: Table, schema: TableSchema, rows: list[Row],
                    stale: list[tuple[Any, ...]]) -> None:
        """In ``conn``'s transaction: delete the ``stale`` keys, upsert ``rows``."""
        keys = [table.c[k] for k in schema.key]
        for chunk in self._stale_chunks(conn, table, schema, stale):
            conn.execute(delete(table).where(_key_in(keys, chunk)))
        statement = self.upsert(table, schema.value_columns)
        compiled = statement.compile(dialect=self._engine.dialect)
        order = list(compiled.positiontup or ()) if compiled.positional else []
        if sorted(order) != sorted(schema.names):  # a dialect with named parameters: SQLAlchemy's own path
            for start in range(0, len(rows), CHUNK):
                conn.execute(statement, rows[start:start + CHUNK])
            return
        tuples = self._driver_rows(table, order, rows)
        # in primary-key order: each row then lands next to the previous one in the key's B-tree (SQLite's
        # table, InnoDB's clustered index) instead of at a random page (SQLite, the 222,000 rows of the bench's
        # metrics: their executemany took 1.4 s sorted, 1.9 s shuffled)
        tuples.sort(key=itemgetter(*(order.index(k) for k in schema.key)))  # typed keys: one type a column
        for start in range(0, len(tuples), DRIVER_CHUNK):
            conn.exec_driver_sql(compiled.string, tuples[start:start + DRIVER_CHUNK])

    def _stale_chunks(self, conn: Any, table: Table, schema: TableSchema,
                      stale: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
        """The stale keys of a write, a ``DELETE … WHERE key IN (…)`` each: :data:`CHUNK` keys at a time here."""
        for start in range(0, len(stale), CHUNK):
            yield stale[start:start + CHUNK]

    def _driver_rows(self, table: Table, order: list[str], rows: list[Row]) -> list[tuple[Any, ...]]:
        """Rows as the positional parameter tuples of the compiled upsert, each value through the bind processor
        SQLAlchemy would apply to it (booleans as integers, …); built column by column, at C speed where a
        column has no processor."""
        dialect = self._engine.dialect
        columns: list[Iterable[Any]] = []
        for name in order:
            values: Iterable[Any] = map(itemgetter(name), rows)
            process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            columns.append(values if process is None else map(process, values))
        return list(zip(*columns, strict=True))

    def _delete_where(self, schema: TableSchema, column: str, value: Any,
                      begin: Callable[[int], None]) -> tuple[int, int]:
        """The matching rows counted first, in a read of their own (``begin`` writes the catalog, which the
        deletion's transaction must not hold up), then deleted in one transaction."""
        table = self.table(schema)
        matching = table.c[column] == value
        with self._errors(f"count the rows to delete from {table.name}"), self._engine.connect() as conn:
            found = conn.execute(select(func.count()).select_from(table).where(matching)).scalar_one()
            total = conn.execute(select(func.count()).select_from(table)).scalar_one() if found else 0
        if not found:
            return 0, total
        begin(total)
        with self._errors(f"delete from {table.name}"), self._engine.begin() as conn:
            deleted = conn.execute(delete(table).where(matching)).rowcount
            remaining = conn.execute(select(func.count()).select_from(table)).scalar_one()
        return deleted, remaining

    # -- reads --------------------------------------------------------------------------------------------

    def _get(self, schema: TableSchema, key: tuple[Any, ...]) -> Row | None:
        table = self.table(schema)
        where = and_(*(table.c[k] == v for k, v in zip(schema.key, key, strict=True)))
        rows = self._select(select(table).where(where), table.name)
        return rows[0] if rows else None

    def _scan_prefix(self, schema: TableSchema, value: Any, limit: int | None,
                     after: tuple[Any, ...] | None = None) -> list[Row]:
        """In key order, which the database sorts the prefix's rows in (MariaDB reads them by an index, its primary
        key's or the prefix column's, then sorts them: :meth:`_sort_terms`)."""
        table = self.table(schema)
        keys = [table.c[k] for k in schema.key]
        query = select(table).where(table.c[schema.prefix] == value)
        if after is not None:
            query = query.where(_after(keys, after))
        order = [term for name, key in zip(schema.key, keys, strict=True)
                 for term in self._sort_terms(key, schema.types[name], False)]
        query = query.order_by(*order)
        return self._select(query.limit(limit) if limit is not None else query, table.name)

    def _top(self, schema: TableSchema, n: int, after: tuple[Any, ...] | None = None) -> list[Row]:
        """Without a rank column: key order, read in the primary key's order, not sorted (as :meth:`_all`): the
        index compares its keys as ``<`` does, so no :meth:`_sort_terms` here, which would make the database sort
        every row after ``after`` for each page. With one: ``ORDER BY rank IS NULL, rank, key``, which no index
        gives, so the database sorts the rows itself (:meth:`_sort_terms`)."""
        table = self.table(schema)
        keys = [table.c[k] for k in schema.key]
        query = select(table)
        if not schema.rank_column:
            if after is not None:
                query = query.where(_after(keys, after))
            return self._select(query.order_by(*keys).limit(n), table.name)
        rank = table.c[schema.rank_column]
        if after is not None:
            query = query.where(_after_rank(rank, schema.rank_desc, keys, after))
        order = [rank.is_(None), *self._sort_terms(rank, schema.types[schema.rank_column], schema.rank_desc)]
        for name, key in zip(schema.key, keys, strict=True):  # ties by key
            order += self._sort_terms(key, schema.types[name], False)
        return self._select(query.order_by(*order).limit(n), table.name)

    def _sort_terms(self, column: Any, type_: str, descending: bool) -> list[Any]:
        """The ``ORDER BY`` terms of a sort the database makes by ``column`` (of logical type ``type_``), in the
        order the column's comparisons give (``<``, ``>``: what a page's ``after`` reads by): a top-N by rank, a
        prefix's rows. Here the column in its direction; MariaDB adds a length to a text column
        (:meth:`fediscope.store.mysql.MySQLStore._sort_terms`)."""
        return [column.desc() if descending else column.asc()]

    def _all(self, schema: TableSchema) -> list[Row]:
        table = self.table(schema)
        return self._select(select(table).order_by(*(table.c[k] for k in schema.key)), table.name)

    def _raw_tuples(self, schema: TableSchema) -> list[tuple[Any, ...]]:
        table = self.table(schema)
        with self._errors(f"read {table.name}"), self._engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(*(table.c[n] for n in schema.names))).tuples()]

    def _select(self, query: Any, what: str) -> list[Row]:
        with self._errors(f"read {what}"), self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def _table_not_found(self, error: StoreError) -> bool:
        return _missing_table(getattr(error.__cause__, "orig", None))

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            driver = getattr(exc, "orig", None)
            reason = str(driver or exc).splitlines()[0]
            kind = StoreSchemaError if _missing_column(driver) else StoreError
            if getattr(exc, _CONNECTING, False):  # not what was being done: no connection was made for it
                doing = self.connecting
                reason += self._connect_hint(driver)
            raise kind(f"store {self._shown_url}: could not {doing}: {reason}") from exc


def _utf8_bytes(text: str | None) -> int:
    """The bytes of ``text`` in UTF-8 (utf8mb4), as a text column counts them."""
    return len(text.encode("utf-8", "surrogatepass")) if text else 0


#: the attribute :func:`_note_connect_failure` sets on an error raised while connecting
_CONNECTING = "fediscope_while_connecting"


def _note_connect_failure(context: ExceptionContext) -> None:
    """Mark an error the database raised while a connection was being made (a wrong password, no server at that
    address, a SQLite file that cannot be opened): :meth:`SQLStore._errors` then says it could not connect, not
    that it could not do what it was about to ("could not create the catalog table: (1045, Access denied…)").
    SQLAlchemy's own marks do not tell them apart: the error has no statement, but neither has one raised by a
    COMMIT; its handle_error event has no connection only for an error raised while connecting."""
    if context.connection is None and context.sqlalchemy_exception is not None:
        setattr(context.sqlalchemy_exception, _CONNECTING, True)


#: MySQL's and MariaDB's ER_BAD_FIELD_ERROR, "Unknown column"
_MYSQL_UNKNOWN_COLUMN = 1054
#: MySQL's and MariaDB's ER_NO_SUCH_TABLE, "Table '…' doesn't exist"
_MYSQL_NO_SUCH_TABLE = 1146


def _missing_column(driver: Any) -> bool:
    """Whether the database driver's error says a table lacks a column the statement names: SQLite's "no such
    column" (a read) or "table … has no column named" (a write), MySQL's error 1054 (a metric stored by another
    fediscope version or changed by hand, not a store that cannot be read)."""
    return (_driver_says(driver, "no such column", _MYSQL_UNKNOWN_COLUMN)
            or (isinstance(driver, sqlite3.OperationalError) and " has no column named " in str(driver)))


def _missing_table(driver: Any) -> bool:
    """Whether the database driver's error says a table the statement names does not exist: SQLite's "no such
    table", MySQL's error 1146 (not 1142, a table the user may not read)."""
    return _driver_says(driver, "no such table", _MYSQL_NO_SUCH_TABLE)


def _driver_says(driver: Any, sqlite_prefix: str, mysql_code: int) -> bool:
    """Whether a driver's error is SQLite's starting with ``sqlite_prefix`` or MySQL's numbered ``mysql_code``."""
    if isinstance(driver, sqlite3.OperationalError):
        return str(driver).startswith(sqlite_prefix)
    args = getattr(driver, "args", None)
    return isinstance(args, tuple) and args[:1] == (mysql_code,)


class AlterColumn(ExecutableDDLElement):
    """``ALTER TABLE <table> ADD COLUMN | MODIFY COLUMN <column's definition>`` for a column of a :class:`Table`.

    SQLAlchemy has no construct for it; this one is compiled by the dialect's own DDL compiler, so the column is
    quoted and typed (and a ``%`` in its name escaped) exactly as in the ``CREATE TABLE`` of the same table.
    """

    def __init__(self, column: Column[Any], verb: str) -> None:
        if verb not in ("ADD", "MODIFY"):
            raise ValueError(f"ALTER TABLE … {verb} COLUMN is not supported")
        self.column = column
        self.verb = verb


@compiles(AlterColumn)
def _compile_alter_column(element: AlterColumn, compiler: DDLCompiler, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.column.table)
    return f"ALTER TABLE {table} {element.verb} COLUMN {compiler.get_column_specification(element.column)}"


class AlterColumns(ExecutableDDLElement):
    """One ``ALTER TABLE <table> ADD COLUMN …, MODIFY COLUMN …`` of several :class:`AlterColumn` changes of one table
    (MariaDB; SQLite takes one column a statement)."""

    def __init__(self, changes: Sequence[AlterColumn]) -> None:
        if not changes or len({id(change.column.table) for change in changes}) != 1:
            raise ValueError("ALTER TABLE needs changes of one table")
        self.changes = list(changes)


@compiles(AlterColumns)
def _compile_alter_columns(element: AlterColumns, compiler: DDLCompiler, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.changes[0].column.table)
    clauses = [f"{change.verb} COLUMN {compiler.get_column_specification(change.column)}" for change in element.changes]
    return f"ALTER TABLE {table} {', '.join(clauses)}"


def _by_metric(names: Iterable[str], prefixes: tuple[str, ...]) -> dict[str, list[str]]:
    """The table ``names`` that are a prefix of ``prefixes`` followed by a metric's name, by that metric."""
    found: dict[str, list[str]] = {}
    for name in sorted(names):
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is not None and not metric_name_problem(metric := name[len(prefix):]):
            found.setdefault(metric, []).append(name)
    return found


def create_indexes(conn: Any, table: Table) -> None:
    """A loaded table's secondary indexes: built over its rows, about twice as fast as updating them row by row
    (measured on SQLite with 90,000 rows)."""
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        index.create(conn)


def _after(keys: list[Any], position: tuple[Any, ...]) -> Any:
    """The rows whose key comes after ``position`` in key order: ``(k1, k2) > (v1, v2)`` spelled out, with the first
    column's ``k1 >= v1`` in front so that both databases read a range of the primary key, not all of it."""
    position = tuple(_bound(k, v) for k, v in zip(keys, position, strict=True))
    later = [and_(*(k == v for k, v in zip(keys[:i], position, strict=False)), keys[i] > position[i])
             for i in range(len(keys))]
    return and_(keys[0] >= position[0], or_(*later))


def _bound(column: Any, value: Any) -> Any:
    """``value`` as a bound parameter of ``column``'s type: SQLAlchemy refuses ``column > True`` (a bare Python bool
    is taken for the SQL constant, which only ``=``/``IS`` take), and a boolean key or rank is paged past too."""
    return literal(value, column.type)


def _after_rank(rank: Any, descending: bool, keys: list[Any], position: tuple[Any, ...]) -> Any:
    """The rows after ``position`` (rank value, then key) in top order: rank values in their direction, NULL last,
    ties by key."""
    value, key = position[0], position[1:]
    if value is None:
        return and_(rank.is_(None), _after(keys, key))
    value = _bound(rank, value)
    beyond = rank < value if descending else rank > value
    return or_(beyond, and_(rank == value, _after(keys, key)), rank.is_(None))


def _key_in(keys: list[Any], values: list[tuple[Any, ...]]) -> Any:
    if len(keys) == 1:
        return keys[0].in_([v[0] for v in values])
    return tuple_(*keys).in_(values)
