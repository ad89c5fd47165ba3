"""MySQL / MariaDB (``mysql+pymysql://user:password@host:3306/db``), the store for BI tools such as Superset.

Tables use real column types (``BIGINT``, ``DOUBLE``, ``BOOL``, ``VARCHAR`` keys, ``LONGTEXT`` values), a primary
key on the metric's key, an index on the rank column (a text one by its first 255 characters, the most a text rank
value holds: MariaDB cannot index ``LONGTEXT`` whole), and a binary, no-pad utf8mb4 collation (MariaDB's
``utf8mb4_nopad_bin``, MySQL 8.0.17+'s ``utf8mb4_0900_bin``, by the server connected to): keys compare byte
for byte, so ``#Python`` and ``#python`` (or ``"a"`` and ``"a "``) stay two rows, and text sorts in the same
code-point order as SQLite and HBase (whole: a session sorts by at least the bytes a rank or key text takes,
:func:`_sort_whole_texts`, where the server's ``max_sort_length`` was set lower). The tests run MariaDB; MySQL
has not been run here. Upserts are
``INSERT … ON DUPLICATE KEY UPDATE`` sent in batches (PyMySQL folds them into multi-row inserts). The database
itself must exist: ``infra/mariadb/bootstrap.py`` creates it with a least-privilege writer and a read-only user;
by hand, as an administrator::

    CREATE DATABASE fediscope CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;  -- MySQL: utf8mb4_0900_bin
    CREATE USER 'fediscope'@'%' IDENTIFIED BY '…';
    GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON fediscope.* TO 'fediscope'@'%';

Readers (the results API, ``fediscope report``, BI tools) need SELECT only: a store opened for reading creates
nothing (infra/mariadb/bootstrap.sql creates such a user, ``fediscope_ro``).

A column whose type is not known yet (only NULLs so far) starts as ``BIGINT`` (it may be the rank column, and
MariaDB cannot index text without a length) and is changed with ``ALTER TABLE … MODIFY COLUMN`` when values arrive;
so is a column that widens (``BOOL`` → ``BIGINT`` → ``DOUBLE``). Schema changes (DDL) commit on their own in MySQL,
so the columns one write adds and widens are one ``ALTER TABLE`` (:meth:`MySQLStore._alter`), and a table that could
not hold them beside its kept columns by InnoDB's row-size limit or MariaDB's 64 KiB table definition is rebuilt from
the result instead, or from the kept rows and the new ones for a write keeping them (:meth:`MySQLStore._fits_in_place`);
a table to create that MariaDB would refuse is refused before anything changes (:meth:`MySQLStore._check_storable`).
The rows of one write are one transaction. A new or rebuilt table is loaded as
``_new_<metric>`` and swapped in with one ``RENAME TABLE`` (:meth:`SQLStore._load
<fediscope.store.sql.SQLStore._load>`), so a reader never finds the metric's table missing or half-loaded. Two
writers of one metric (two lakes sharing one store) take turns on a named lock,
``GET_LOCK('fediscope:<database>:<metric>')`` (:meth:`MySQLStore._writing`), which needs no privilege; readers take
none.

Tables made by older fediscope versions (2026-12-02 and before) have ``TEXT`` text values, which hold 64 KiB (one
longer value failed the whole write), and ``TEXT`` columns with no value yet. A store's first write of rows to such
a table changes its text value columns (``TINYTEXT``, ``TEXT`` or ``MEDIUMTEXT``) to ``LONGTEXT`` the same way,
``MODIFY``, once (:meth:`MySQLStore.outdated_columns`); key columns stay ``VARCHAR``, and the ``TEXT`` columns with
no value yet change when their first values arrive, like any. MariaDB (10.11) copies the table for each such change,
as it cannot change that type in place: readers go on meanwhile, other writers to that table wait. A store opened
for reading alters nothing, so an older table keeps its ``TEXT`` columns until a writer writes to it.

PyMySQL is the one driver fediscope depends on: ``mysql+pymysql://`` (or ``mariadb+pymysql://``; a URL without
a driver uses it too), and a URL naming another driver (``mysql+mysqldb://``) is refused.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace as with_fields
from typing import Any

import pymysql
from pymysql.constants.CR import CR_CONN_HOST_ERROR, CR_SERVER_LOST
from pymysql.constants.ER import ACCESS_DENIED_ERROR
from sqlalchemy import BigInteger, Boolean, Column, Double, String, Table, create_engine, delete, event, func, select
from sqlalchemy import column as column_clause
from sqlalchemy import table as table_clause
from sqlalchemy.dialects.mysql import LONGTEXT, insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

from fediscope.engine.metrics import Metric, check_definition_size, check_row_size, check_row_values_size
from fediscope.errors import StoreError
from fediscope.port_probe import http_status_line, readable_within
from fediscope.store import innodb_rows, packets, table_definition
from fediscope.store.base import PROVISIONAL
from fediscope.store.port import BAD_ESCAPE_HINT, mysql_url, problem_text, url_error, userinfo_bad_escape
from fediscope.store.schema import MAX_KEY_TEXT, TableSchema, WritePlan
from fediscope.store.sql import CATALOG, CHUNK, AlterColumn, AlterColumns, SQLStore, _key_in
from fediscope.store.url_options import mysql_connect_args

COLLATION = "utf8mb4_nopad_bin"  # MariaDB's binary no-pad utf8mb4 collation, named in the tables' options
MYSQL_COLLATION = "utf8mb4_0900_bin"  # MySQL's (8.0.17+), which has no utf8mb4_nopad_bin
#: the text types narrower than LONGTEXT (TEXT: 64 KiB), as information_schema.columns.data_type names them
NARROW_TEXT = frozenset({"tinytext", "text", "mediumtext"})
_COLUMNS = table_clause("columns", *map(column_clause, ("table_schema", "table_name", "column_name", "data_type")),
                        schema="information_schema")


#: seconds a change of a metric waits by default for another writer's change of it (:meth:`MySQLStore._writing`):
#: a big metric's load takes minutes
LOCK_TIMEOUT = 3600
#: the idle timeout (seconds) of the session holding a metric's lock, at least: it idles while the change runs
LOCK_SESSION_TIMEOUT = 86400
#: the longest name a named lock may have (MySQL refuses longer ones)
LOCK_NAME_LENGTH = 64


def lock_name(database: str, metric: str) -> str:
    """The named lock of a metric of one database: ``fediscope:<database>:<metric>``, readable in
    ``information_schema.metadata_lock_info`` or ``IS_USED_LOCK``; a name longer than MySQL takes (64 characters:
    long database and metric names) is ``fediscope:`` and a hash of both."""
    name = f"fediscope:{database}:{metric}"
    if len(name) <= LOCK_NAME_LENGTH:
        return name
    return "fediscope:" + hashlib.sha256(f"{database}:{metric}".encode()).hexdigest()[:LOCK_NAME_LENGTH - 10]


class MySQLStore(SQLStore):
    table_options = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": COLLATION,
                     "mariadb_engine": "InnoDB", "mariadb_charset": "utf8mb4", "mariadb_collate": COLLATION}
    #: a text rank column (``LONGTEXT``) is indexed by a prefix: MariaDB cannot index text without a length, and
    #: with the key, its whole length was over the 3072 bytes of an index; its values hold at most this many
    #: characters (:data:`~fediscope.store.schema.MAX_KEY_TEXT`), so the prefix is each whole value
    text_index_length = MAX_KEY_TEXT
    #: the catalog's ``question`` and ``definition``: an older fediscope declared them ``TEXT`` (65,535 bytes), which
    #: a wide metric's definition outgrows; such a catalog is widened when a value needs it (:meth:`_widen_catalog`)
    catalog_text = LONGTEXT
    catalog_text_limit = 65535
    #: seconds a change of a metric waits for another writer's change of it to finish (:meth:`_writing`); the
    #: ``lock_timeout`` option of :func:`~fediscope.store.port.open_store`
    lock_timeout = LOCK_TIMEOUT
    #: the (store, metric) pairs each thread's changes hold (:meth:`_writing`)
    _held = threading.local()
    #: the bytes of the catalog's ``INSERT`` without its values, once compiled (:meth:`_catalog_template_bytes`)
    _catalog_template: int | None = None

    def __init__(self, url: str, read_only: bool = False, **options: Any) -> None:
        """``read_only=True``: nothing is created (no catalog table), so a user with SELECT only can read.

        The URL's form is checked by :func:`fediscope.store.port.mysql_url`, the rules the settings loader applies
        too (an error there names ``--store``, ``FEDISCOPE_STORE`` or the TOML key); what is left for here needs
        the server."""
        try:
            parsed = mysql_url(url)
        except ValueError as exc:
            raise url_error(url, problem_text(exc)) from None
        # the URL's connect_timeout unless the caller gives one (was: always 10, the URL's ignored), and the typed
        # values of the options SQLAlchemy passes on as text (ssl_disabled=false disabled TLS)
        timeout = options.get("connect_timeout", parsed.query.get("connect_timeout", 10))
        engine = create_engine(parsed, pool_pre_ping=True, pool_recycle=3600,
                               connect_args={**mysql_connect_args(parsed.query), "connect_timeout": int(timeout)})
        self.lock_timeout = int(options.get("lock_timeout", LOCK_TIMEOUT))
        event.listen(engine, "do_connect", _connect_bounded)
        event.listen(engine, "connect", _note_packet)
        event.listen(engine, "connect", _sort_whole_texts)
        event.listen(engine, "before_cursor_execute", self._fold_within_packet)
        super().__init__(url, engine, read_only=read_only)

    def _connect_hint(self, driver: Any) -> str:
        """A login refused (1045, "Access denied") with a URL whose user name or password holds a ``%`` that starts
        no escape: the password was probably written unencoded (:func:`~fediscope.store.port.userinfo_bad_escape`)."""
        denied = getattr(driver, "args", ())[:1] == (ACCESS_DENIED_ERROR,)
        return f"; {BAD_ESCAPE_HINT}" if denied and userinfo_bad_escape(self.url) else ""

    @property
    def _lock_connections(self) -> dict[str, Any]:
        """The connection holding each metric's named lock while this store changes it (:meth:`_writing`)."""
        return self.__dict__.setdefault("_lock_connection_of", {})

    @contextmanager
    def _writing(self, metric: str) -> Iterator[None]:
        """Hold the server's named lock ``fediscope:<database>:<metric>`` (:func:`lock_name`) while ``metric``
        changes, so that the writers of one metric take turns: two lakes sharing one store (each lake's lock sees
        only its own writers) failed with ``Table '_new_<metric>' already exists`` (or ``doesn't exist``), each load
        dropping the other's table mid-load, and a write's read of the stored rows could meet the other writer's
        half-written change. Only the writer that holds the lock drops a leftover ``_new_``/``_old_`` table
        (:meth:`_remove_stopped_loads`, :meth:`_load`, :meth:`drop`), so it is one a stopped load left, never the
        table another writer is loading.

        ``GET_LOCK`` needs no privilege, and the lock belongs to a session: it is taken and released on one
        connection kept out of the pool for the change (the change itself runs on others), whose idle timeout is
        raised so that the server does not close it (and so release the lock) during a long load. A server closes
        the session, and so releases the lock, when a writer dies. A change already holding the metric (in this
        thread) does not take it again. The checks before the change read the server's ``max_allowed_packet`` of
        that connection (:meth:`_check_storable`), checked out already: no checkout of their own."""
        held: set[tuple[int, str]] = self._held.__dict__.setdefault("metrics", set())  # this thread's
        mine = (id(self), metric)
        if mine in held:
            yield
            return
        name = lock_name(self._engine.url.database or "", metric)
        with self._errors(f"lock metric {metric} for writing"):
            conn = self._engine.connect()
        try:
            with self._errors(f"lock metric {metric} for writing"):
                conn.exec_driver_sql(f"SET SESSION wait_timeout = GREATEST(@@wait_timeout, {LOCK_SESSION_TIMEOUT})")
                got = conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (name, self.lock_timeout)).scalar()
                conn.commit()  # the lock is the session's, not the transaction's: nothing else is kept open
        except BaseException:
            conn.invalidate()  # a lock GET_LOCK may have taken all the same goes with the session
            conn.close()
            raise
        if got != 1:
            conn.close()
            raise StoreError(f"store {self._shown_url}: could not write metric {metric}: another writer (another lake "
                             f"sharing this store?) has been changing it for over {self.lock_timeout} s (MariaDB lock "
                             f"{name!r}); run again once it is done")
        held.add(mine)
        self._lock_connections[metric] = conn
        try:
            yield
        finally:
            held.discard(mine)
            self._lock_connections.pop(metric, None)  # before the release: the next holder puts its own
            try:
                conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))
                conn.commit()
            except BaseException:
                conn.invalidate()  # closing the session releases the lock: never back to the pool holding it
                raise
            finally:
                conn.close()

    def column_type(self, type_: str, key_text_length: int | None) -> TypeEngine:
        """Key text is ``VARCHAR`` (indexable, its length bounded). Other text is ``LONGTEXT``: ``TEXT`` holds
        64 KiB, and one longer value (remote servers choose them) failed the whole write. A column with no value
        yet is ``BIGINT``, not text: it may be the rank column, which is indexed, and MariaDB cannot index text
        without a length; its first values widen it (``MODIFY``) like any other."""
        if type_ == "str" and key_text_length:
            return String(key_text_length)
        return {"bool": Boolean(), "int": BigInteger(), "float": Double(), "str": LONGTEXT(),
                "null": BigInteger()}[type_]

    def _sort_terms(self, column: Any, type_: str, descending: bool) -> list[Any]:
        """A text column also by its length in bytes, in the same direction, in a sort MariaDB makes itself: a top-N
        read by rank (``ORDER BY rank IS NULL, rank, key LIMIT n``), a prefix's rows (``ORDER BY key``, which it
        sorts after reading them by an index: ``Using filesort``). Its sort of the first N rows compares text
        by fixed-length sort keys padded with 0x00 bytes, so texts that differ only by trailing NUL characters
        (``"a"``, ``"a\\0"``) tie in it, although they are two rows, told apart by ``<`` and ``=`` (the binary no-pad
        collation), and SQLite and HBase sort them apart (``"a"`` first). Such a tie came back in whatever order the
        sort left it (10.11: ``"a\\0"`` before ``"a"`` in a descending rank, keys out of order among tied ranks), and
        a page reading on ``after`` the last row of the one before (the results API, ``store export``) skipped rows
        or read some twice. Among texts that tie so the longer is the greater, as the collation compares them.

        A prefix's rows came right without it, only because the index they are read by gives them in key order and
        tied rows kept that order (10.11: ``ORDER BY t LIMIT 2`` of rows read in the order ``"a\\0\\0"``, ``"a\\0"``,
        ``"a"`` gives those first two, where ``ORDER BY t`` alone sorts all three right); the length makes the order
        the sort's own. Key
        order with no prefix (:meth:`~fediscope.store.sql.SQLStore._all`, a top-N without a rank) is read in the
        primary key's order, which compares as ``<`` does, and sorted by nothing."""
        terms = super()._sort_terms(column, type_, descending)
        if type_ != "str":
            return terms
        length = func.length(column)  # bytes
        return [*terms, length.desc() if descending else length.asc()]

    def upsert(self, table: Table, value_columns: list[str]) -> Insert:
        statement = insert(table)
        columns = value_columns or [c.key for c in table.primary_key.columns][:1]
        # not statement.inserted[name]: SQLAlchemy renders it as a literal_column of the already quoted and
        # %-escaped name and escapes it again, so `share_%` became VALUES(`share_%%%%`) — an unknown column
        return statement.on_duplicate_key_update({name: _Inserted(table.c[name]) for name in columns})

    def widen(self, conn: Any, table: Table, column: str, type_: TypeEngine) -> None:
        conn.execute(AlterColumn(table.c[column], "MODIFY"))  # the column is declared with its new type

    def _alter(self, conn: Any, table: Table, added: list[str], widened: list[str]) -> None:
        """Every added and widened column in one ``ALTER TABLE``: MariaDB commits each DDL statement on its own, so
        a write adding three columns one statement each left the first two added when the server refused the third,
        the catalog not knowing them. One statement is taken or refused whole."""
        changes = [*(AlterColumn(table.c[name], "ADD") for name in added),
                   *(AlterColumn(table.c[name], "MODIFY") for name in widened)]
        if changes:
            conn.execute(AlterColumns(changes))

    def _fits_in_place(self, plan: WritePlan) -> bool:
        """Whether the table the write leaves (the stored columns, the added ones, every column in its widened type)
        is one InnoDB would create (:func:`~fediscope.store.innodb_rows.table_row_bytes`), of a definition MariaDB
        takes (:mod:`~fediscope.store.table_definition`: an ``ADD`` past it was refused, errno 1117, after the
        catalog entry had been given a provisional generation). Its ``ALTER TABLE … ADD``
        does not check that (:mod:`fediscope.store.innodb_rows`): it took columns past the limit and then refused
        every later change of the table (errno 1118). A result's own columns are checked before any write
        (:func:`~fediscope.engine.metrics.check_row_size`), but a column the table keeps typed (``LONGTEXT``) and
        the result has all NULL (``null``) is counted 8 bytes there (``BIGINT``, as a new table declares it) and 21
        in the table."""
        schema = plan.schema
        return (innodb_rows.table_row_bytes(schema.key, schema.rank_column, schema.types) < innodb_rows.ROW_LIMIT
                and table_definition.definition_bytes(schema.names) <= table_definition.DEFINITION_LIMIT)

    def _check_storable(self, metric: Metric, plan: WritePlan, creates: bool) -> None:
        """Refuse a table the write would create (a first write, a rebuild) that MariaDB refuses, by its definition
        (:func:`~fediscope.engine.metrics.check_definition_size`) or its rows' size
        (:func:`~fediscope.engine.metrics.check_row_size`), with the message ``fediscope process`` gives for such a
        result before any write. The process checks the result's own columns; a write keeping the stored rows
        (``replace=False``) whose added columns the table cannot take in place (:meth:`_fits_in_place`) rebuilds it
        from the stored rows and the new ones, all the columns of both, and a write from Python is checked by
        nothing else: its ``CREATE TABLE`` was refused part-way (errno 1117 ``Table definition is too large``, 1118
        ``Row size too large``), after the catalog entry had been given a provisional generation. A table kept in
        place takes what :meth:`_fits_in_place` allows.

        The rows' own values are counted too, in a new table or a kept one
        (:func:`~fediscope.engine.metrics.check_row_values_size`): ``fediscope process`` counts its result's
        (:func:`~fediscope.engine.metrics.check_row_size`), but a write from Python (rows as dicts, ``replace=False``
        among them) reached the INSERT, refused there (errno 1118) after the table was altered for the write's new
        columns or a new one partly loaded (``_new_<metric>`` left behind)."""
        if creates and plan.schema.columns:
            check_definition_size(metric, plan.schema.names, self.url)
            check_row_size(metric, plan.schema.types, self.url)
        if plan.rows:
            check_row_values_size(metric, plan.schema.types, self.url, plan.rows)
        recorded = with_fields(plan.schema, generation=PROVISIONAL + uuid.uuid4().hex,
                               provenance=self._provenance(plan.schema))
        packet = self._max_allowed_packet(self._lock_connections.get(metric.name))
        self._check_catalog_packet(recorded, metric.question, packet)
        self._check_rows_packet(plan, packet)

    def _max_allowed_packet(self, conn: Any = None) -> int:
        """The ``max_allowed_packet`` (bytes) of ``conn``'s session (a SQLAlchemy connection), read when its
        connection was made (:func:`_note_packet`); without one (a change that holds no lock), of a pooled connection
        checked out for it.

        Per connection, not once per store: a session's value is the server's global one when it connected (MariaDB's
        session ``max_allowed_packet`` is read-only), so after a ``SET GLOBAL max_allowed_packet`` (or a restart with
        another setting) the connections made since take another size than the store's first one; a value read once
        and cached folded the rows of a new connection to the old size (refused: 2006, once lowered). And a value
        read while a statement was being executed (the rows folded by :meth:`_fold_within_packet`) took a second
        pooled connection then, mid-execute; now it is the connection at hand's. The checks made before a write
        changes anything (:meth:`_check_rows_packet`, :meth:`_check_storable`) use the connection holding the
        metric's lock (:meth:`_writing`), a pooled one like the write's own, which have the same value unless the
        setting changed in between; a catalog entry is checked again on the connection that writes it
        (:meth:`_check_catalog_entry`). Was: a pooled connection checked out for each of those checks alone (a
        pre-ping each), three a write."""
        if conn is None:
            with self._errors("read the server's max_allowed_packet"), self._engine.connect() as pooled:
                return self._max_allowed_packet(pooled)
        if PACKET_INFO not in conn.info:  # a connection made before the hook listened (none is): read on this one
            conn.info[PACKET_INFO] = _read_packet(conn.connection.dbapi_connection)
        return int(conn.info[PACKET_INFO])

    def _fold_within_packet(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                            executemany: bool) -> None:
        """SQLAlchemy's ``before_cursor_execute`` hook: an ``executemany`` (a write's rows, :meth:`_write_rows
        <fediscope.store.sql.SQLStore._write_rows>`) has PyMySQL fold its rows into statements the server takes.
        PyMySQL's are of up to 1,024,000 bytes whatever the server's ``max_allowed_packet``: a server set below that
        refused a write (1153, seen as 2006 or 2013) whose every row fits (:meth:`_check_rows_packet`)."""
        if executemany:
            cursor.max_stmt_length = packets.batch_statement(self._max_allowed_packet(conn))

    def _stale_chunks(self, conn: Any, table: Table, schema: TableSchema,
                      stale: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
        """The stale keys of a write in ``DELETE`` statements the server's ``max_allowed_packet`` takes, of at most
        :data:`~fediscope.store.sql.CHUNK` keys (:func:`~fediscope.store.packets.key_chunks`): a thousand keys of long
        text were more than a server set low takes."""
        if not stale:
            return
        keys = [table.c[k] for k in schema.key]
        one = delete(table).where(_key_in(keys, stale[:1])).compile(
            dialect=self._engine.dialect, compile_kwargs={"render_postcompile": True})
        longest = packets.longest_statement(self._max_allowed_packet(conn))
        yield from packets.key_chunks(packets.template_bytes(one), stale, longest, CHUNK)

    def _packet_refused(self, what: str, size: int, packet: int, fix: str) -> StoreError:
        return StoreError(f"store {self._shown_url}: could not write metric {what} makes a statement of {size:,} "
                          f"bytes, and the server takes at most {packets.longest_statement(packet):,} (its "
                          f"max_allowed_packet is {packet:,} bytes); {fix}, or raise max_allowed_packet on the server "
                          "(SET GLOBAL max_allowed_packet = …, or in its configuration; at most 1 GiB)")

    def _check_rows_packet(self, plan: WritePlan, packet: int) -> None:
        """Refuse a row whose ``INSERT`` is more than the server's ``max_allowed_packet`` takes
        (:mod:`~fediscope.store.packets`). Was: refused by the server part-way (errno 1153, mostly seen as 2006 or
        2013: the server closes the connection), after the table was altered or a new one partly loaded."""
        schema = plan.schema
        if not plan.rows:
            return
        compiled = self.upsert(self.table(schema), schema.value_columns).compile(dialect=self._engine.dialect)
        fixed = packets.template_bytes(compiled)
        longest = packets.longest_statement(packet)
        found = packets.oversized_row(fixed, schema.types, plan.rows, longest)
        if found is None:
            return
        index, size = found
        row = plan.rows[index]
        column = max(schema.names, key=lambda name: packets.literal_bytes(row[name]))
        raise self._packet_refused(
            f"{schema.metric}: the row of key {schema.key_of(row)!r} (its value of column {column!r} "
            f"{packets.literal_bytes(row[column]):,} bytes as sent)", size, packet,
            "shorten such values in the metric's SQL (left(…, n))")

    def _check_catalog_packet(self, schema: TableSchema, question: str, packet: int) -> None:
        """Refuse a catalog entry (the metric's question, its definition) whose ``INSERT`` is more than the server's
        ``max_allowed_packet`` takes. Was: refused by the server (2006) after a first write had loaded the metric's
        table, left with no catalog entry (:meth:`unlisted_metrics`)."""
        definition = schema.to_json()
        sizes = {name: packets.literal_bytes(value) for name, value in
                 (("question", question), ("definition", definition), ("metric", schema.metric))}
        # the row count (at most 20 digits) and the time ('YYYY-MM-DD HH:MM:SS.ffffff' quoted): at most 48 bytes
        size = self._catalog_template_bytes() + sum(sizes.values()) + 48
        if size > packets.longest_statement(packet):
            raise self._packet_refused(
                f"{schema.metric}: its catalog entry (its question {sizes['question']:,} bytes as sent, its "
                f"definition {sizes['definition']:,})", size, packet, "shorten its question ('-- question:' line)")

    def _catalog_template_bytes(self) -> int:
        """The bytes of the catalog's ``INSERT`` without its values, compiled once per store (its columns are
        fixed): a write checks its catalog entry before it changes anything and again at each catalog write
        (:meth:`_save_schema`: its provisional generation, its commit), and compiling was most of each check."""
        if self._catalog_template is None:
            compiled = self._catalog.insert().values(metric="", question="", definition="", row_count=0,
                                                     updated_at=None).compile(dialect=self._engine.dialect)
            self._catalog_template = packets.template_bytes(compiled)
        return self._catalog_template

    def _check_catalog_entry(self, conn: Any, schema: TableSchema, question: str) -> None:
        """Refuse a catalog entry whose ``INSERT`` is more than the ``max_allowed_packet`` of ``conn``, the connection
        about to write it, takes (:meth:`_check_catalog_packet`): a write checked it before any change
        (:meth:`_check_storable`); a deletion (``delete_where``) is refused here before any row goes."""
        self._check_catalog_packet(schema, question, self._max_allowed_packet(conn))

    def outdated_columns(self, conn: Any, table: Table, schema: TableSchema) -> list[str]:
        """The text value columns the table has as ``TEXT`` (what fediscope declared before ``LONGTEXT``), or
        ``TINYTEXT``/``MEDIUMTEXT``. Key columns are ``VARCHAR`` and stay so. The types come from
        ``information_schema.columns``, which names a column exactly (SQLAlchemy's reflection, parsing ``SHOW
        CREATE TABLE`` on MariaDB, gives a name with a backtick back still escaped)."""
        text_values = [name for name in schema.value_columns if schema.types[name] == "str"]
        if not text_values:
            return []
        found = dict(conn.execute(select(_COLUMNS.c.column_name, _COLUMNS.c.data_type).where(
            _COLUMNS.c.table_schema == func.database(), _COLUMNS.c.table_name == table.name)).all())
        return [name for name in text_values if str(found.get(name, "")).lower() in NARROW_TEXT]

    def outdated_catalog_columns(self, conn: Any) -> list[str]:
        """The catalog's text columns that are ``TEXT`` (or ``TINYTEXT``/``MEDIUMTEXT``), from
        ``information_schema.columns``."""
        found = dict(conn.execute(select(_COLUMNS.c.column_name, _COLUMNS.c.data_type).where(
            _COLUMNS.c.table_schema == func.database(), _COLUMNS.c.table_name == CATALOG)).all())
        return [name for name in ("question", "definition") if str(found.get(name, "")).lower() in NARROW_TEXT]


#: the key of a pooled connection's ``info`` holding its session's ``max_allowed_packet`` (:func:`_note_packet`)
PACKET_INFO = "fediscope_max_allowed_packet"


#: the query reading a session's ``max_allowed_packet`` (:func:`_read_packet`)
PACKET_QUERY = "SELECT @@max_allowed_packet"


def _note_packet(dbapi_connection: Any, record: Any) -> None:
    """SQLAlchemy's pool ``connect`` hook: the new connection's ``max_allowed_packet``, kept in its record's ``info``
    (which goes with the connection: one made again after it was lost reads it again).

    A failed read is raised as the driver's error of the same kind and code, saying that it was this read on a new
    connection: it surfaced as the server's bare reason ("could not connect to the store: (2013, 'Lost connection to
    MySQL server during query')"), no query named. The connection is not closed here: SQLAlchemy's pool closes the
    one a failed ``connect`` hook strands (2.1: ``_ConnectionRecord.__connect``), and PyMySQL refuses a second
    ``close()`` ("Already closed"), which the pool would log as an error of its own;
    tests/store/test_mariadb_connect_hook.py checks that no session is left on the server."""
    try:
        record.info[PACKET_INFO] = _read_packet(dbapi_connection)
    except pymysql.err.MySQLError as exc:
        raise _failed_on_new_connection(exc, f"reading the server's max_allowed_packet ({PACKET_QUERY})") from exc


#: the bytes of a sort key that holds a whole rank or key text: at most :data:`~fediscope.store.schema.MAX_KEY_TEXT`
#: characters, weighed in 3 bytes each by MariaDB's ``utf8mb4_nopad_bin`` (``WEIGHT_STRING``: 765 for 255 of them), at
#: most 4 by MySQL's ``utf8mb4_0900_bin`` (a character's UTF-8 bytes); below the servers' default ``max_sort_length``,
#: 1024
SORT_LENGTH = 4 * MAX_KEY_TEXT


def _sort_whole_texts(dbapi_connection: Any, record: Any) -> None:
    """SQLAlchemy's pool ``connect`` hook: the session's ``max_sort_length`` raised to :data:`SORT_LENGTH` where the
    server's is lower. A sort (``ORDER BY`` a top-N's rank, a prefix's key) compares text by its first
    ``max_sort_length`` bytes only, which a server may set as low as 64 (MariaDB 10.11; MySQL 4): rank texts that
    differ only past them tied, and came back in key order where SQLite and HBase order them (a page read on after
    the last row then skipped rows or read some twice). A session's value is its own to set (no privilege), and one
    at the default already holds every such text whole: it stays."""
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET SESSION max_sort_length = GREATEST(@@session.max_sort_length, {SORT_LENGTH})")
    except pymysql.err.MySQLError as exc:
        raise _failed_on_new_connection(exc, f"raising the session's max_sort_length to {SORT_LENGTH}") from exc


def _failed_on_new_connection(exc: pymysql.err.MySQLError, what: str) -> pymysql.err.MySQLError:
    """The driver's error ``exc``, of the same kind and code, saying that ``what`` failed on a new connection."""
    what = f"{what} on a new connection failed"
    if len(exc.args) == 2:  # (errno, message), as the server's errors and PyMySQL's own (2013, …) are
        return type(exc)(exc.args[0], f"{what}: {exc.args[1]}")
    return type(exc)(f"{what}: {exc}")


def _read_packet(dbapi_connection: Any) -> int:
    """The ``max_allowed_packet`` of a PyMySQL connection's session, read on it."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute(PACKET_QUERY)
        return int(cursor.fetchone()[0])


#: Seconds a port that gave no MySQL greeting is given to answer an HTTP request (:func:`~fediscope.port_probe.
#: http_status_line`), so that an HTTP port is named as one.
HTTP_PROBE_SECONDS = 3.0
#: Seconds a server is given to send its greeting before its port is asked, meanwhile, whether it speaks HTTP
#: (:meth:`_BoundedHandshake._refuse_an_http_port`): MariaDB and MySQL greet within milliseconds of the connection.
GREETING_GRACE_SECONDS = 0.5
#: The protocol version of every MySQL and MariaDB server's greeting since MySQL 3.21 (the greeting's first byte).
MYSQL_PROTOCOL = 10


class _BoundedHandshake(pymysql.connections.Connection):
    """A PyMySQL connection whose opening (the server's greeting, the login, ``SET NAMES``) waits at most
    ``connect_timeout`` for each answer. PyMySQL bounds only the TCP connect by it and then waits for the greeting with
    ``read_timeout``, None by default: a port that takes connections but never speaks MySQL (another service, a
    proxy whose backend is down, a stopped server's half-open socket) made every command hang for good. Queries after
    the opening keep ``read_timeout`` (none): a long write or ``ALTER TABLE`` sends nothing until it is done."""

    #: the TLS context of every connection given no TLS option, made once (:meth:`_create_ssl_ctx`)
    _preferred_tls: Any = None

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        """The TLS context of the connection; where no TLS option is given (PyMySQL's "preferred" mode: TLS if the
        server offers it, unverified), the one such context of the process, made by PyMySQL's own code the first
        time and shared (an ``SSLContext`` is made to be: each connection wraps its own socket with it). PyMySQL
        made one per connection, and making one loads the system's CA certificates although this one verifies
        nothing: ~40 ms of CPU per connection, of which a store opens several per command. Two threads making the
        first at once make two equal ones, of which the last is kept."""
        if not (isinstance(sslp, dict) and not sslp):
            return super()._create_ssl_ctx(sslp)
        if _BoundedHandshake._preferred_tls is None:
            _BoundedHandshake._preferred_tls = super()._create_ssl_ctx(sslp)
        return _BoundedHandshake._preferred_tls

    def connect(self, sock: Any = None) -> None:
        read_timeout, self._read_timeout = self._read_timeout, self.connect_timeout
        try:
            super().connect(sock)
        except pymysql.err.OperationalError as exc:
            if exc.args[:1] != (CR_SERVER_LOST,) or "timed out" not in str(exc):
                raise
            # PyMySQL says "Lost connection to MySQL server during query (timed out)": there was no query yet
            raise pymysql.err.OperationalError(
                CR_CONN_HOST_ERROR, f"Can't connect to MySQL server on {self.host!r} port {self.port}: it took the "
                f"connection but gave no MySQL answer within connect_timeout={self.connect_timeout:g} s (timed out); "
                "is this port MariaDB's/MySQL's, or another service's?") from None
        finally:
            self._read_timeout = read_timeout  # each later read sets the socket's timeout back to it

    def _get_server_information(self) -> None:
        """The server's greeting, read as PyMySQL reads it; one that is no MySQL/MariaDB greeting (protocol 10) is
        a connection error naming the port. Was: a port whose service speaks first with something else (an SSH
        banner, another protocol's hello) gave PyMySQL's "Packet sequence number wrong - got 45 expected 0", or a
        ``struct.error`` from parsing a packet too short for a greeting: a traceback."""
        started = time.monotonic()
        self._refuse_an_http_port()
        # the greeting is awaited connect_timeout in all, the wait for the probe included
        self._read_timeout = max(self.connect_timeout - (time.monotonic() - started), 0.001)
        try:
            super()._get_server_information()
        except (pymysql.err.InternalError, struct.error, IndexError, ValueError) as exc:
            if isinstance(exc, pymysql.err.InternalError) and "Packet sequence number wrong" not in str(exc):
                raise  # an error packet of the server's own (e.g. too many connections): its words are the reason
            raise self._not_mysql(str(exc) if isinstance(exc, pymysql.err.InternalError)
                                  else "its first packet cannot be read as one") from None
        finally:
            self._read_timeout = self.connect_timeout  # the login's and SET NAMES's answers
        if self.protocol_version != MYSQL_PROTOCOL:
            raise self._not_mysql(f"protocol version {self.protocol_version}, not {MYSQL_PROTOCOL}")

    def _refuse_an_http_port(self) -> None:
        """Name an HTTP port as one at once (an operator's slip: the port of a web admin). An HTTP server waits for
        the client's request as a MySQL client waits for the greeting, so such a URL waited the whole
        ``connect_timeout`` (10 s by default) before the port was asked. A MySQL/MariaDB server greets within
        milliseconds: when no greeting has come within :data:`GREETING_GRACE_SECONDS`, the port is asked now, on a
        connection of its own (:func:`~fediscope.port_probe.http_status_line`), which gives up the moment the
        greeting arrives. A healthy server's greeting is read as before, never delayed; a server slow to greet (one
        resolving the client's host name) gets one connection that sends ``HEAD /``, which it counts as an aborted
        connect (its ``max_connect_errors`` count is cleared again by this connection's success)."""
        if self.unix_socket:  # no port to ask
            return
        grace = min(GREETING_GRACE_SECONDS, self.connect_timeout / 2)
        if readable_within(self._sock, grace):
            return
        probe_seconds = min(HTTP_PROBE_SECONDS, self.connect_timeout - grace)
        # from the URL's bind_address too, as the connection itself (a firewall may let only that address through)
        if status := http_status_line(self.host, self.port, probe_seconds, unless_readable=self._sock,
                                      source=self.bind_address):
            # an HTTP server waits for a request, as a MySQL client waits for the greeting: name it
            raise pymysql.err.OperationalError(
                CR_CONN_HOST_ERROR, f"Can't connect to MySQL server on {self.host!r} port {self.port}: it took the "
                f"connection but sent no MySQL greeting within {grace:g} s, and that port speaks HTTP (it answered an "
                f"HTTP request with {status!r}): point the URL at MariaDB's/MySQL's port (3306 by default)")

    def _not_mysql(self, why: str) -> pymysql.err.OperationalError:
        return pymysql.err.OperationalError(
            CR_CONN_HOST_ERROR, f"Can't connect to MySQL server on {self.host!r} port {self.port}: it answered "
            f"something that is not a MySQL/MariaDB greeting ({why}); is this port MariaDB's/MySQL's, or another "
            "service's?")


def bounded_connection(**params: Any) -> pymysql.connections.Connection:
    """A PyMySQL connection (``pymysql.connect``'s parameters) opened as the store opens its own: the greeting, the
    login and ``SET NAMES`` wait at most ``connect_timeout`` each, and a port that answers no MySQL greeting is an
    ``OperationalError`` naming it (:class:`_BoundedHandshake`). For ``infra/mariadb/bootstrap.py``, whose
    ``pymysql.connect`` hung on a port that says nothing."""
    return _BoundedHandshake(**params)


def _connect_bounded(dialect: Any, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
    """SQLAlchemy's ``do_connect`` hook: the dialect's connection, opened as :class:`_BoundedHandshake`."""
    return _BoundedHandshake(*cargs, **cparams)


class _Inserted(ColumnElement[Any]):
    """The value a row of an ``INSERT … ON DUPLICATE KEY UPDATE`` brought for a column: ``VALUES(`col`)``, or
    ``new.`col``` where the server wants the row alias instead (MySQL ≥ 8.0.20, as SQLAlchemy decides)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # part of the statement cache key

    def __init__(self, column: Column[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(_Inserted)
def _compile_inserted(element: _Inserted, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.preparer.format_column(element.column)  # quoted, a `%` doubled when the driver interpolates
    if getattr(compiler.dialect, "_requires_alias_for_on_duplicate_key", False):
        return f"new.{name}"  # the alias SQLAlchemy's INSERT declares (tables named "new" excepted: ours are metric_*)
    return f"VALUES({name})"


@compiles(CreateTable, "mysql")
@compiles(CreateTable, "mariadb")
def _create_table(element: CreateTable, compiler: Any, **kw: Any) -> str:
    """``CREATE TABLE`` with the collation of the server it is sent to. The table options name MariaDB's
    ``utf8mb4_nopad_bin``, and which option set SQLAlchemy applies follows the URL's scheme (``mysql+`` or
    ``mariadb+``), not the server; once connected the dialect knows the server (``is_mariadb``), and MySQL, which
    has no collation of that name, gets its own binary no-pad one."""
    ddl = compiler.visit_create_table(element, **kw)
    if getattr(compiler.dialect, "is_mariadb", True):
        return ddl
    return ddl.replace(f"COLLATE {COLLATION}", f"COLLATE {MYSQL_COLLATION}")
