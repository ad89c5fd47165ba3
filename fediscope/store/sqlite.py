"""SQLite, the default store (``sqlite:///path/to/fediscope.db``): a single file, nothing to run.

SQLite types are per value, not per column (a column's declared type is only an "affinity"), which is why the
logical types live in the catalog (:mod:`fediscope.store.schema`). A column whose type is not known yet (every
value NULL so far) is declared ``BLOB`` — the affinity that stores whatever comes later unchanged — and a widened
column's values need no change; its declaration, which BI tools go by, is brought up to date by copying the table
(:meth:`SQLiteStore._evolve`).

A writer runs the file in WAL mode (``synchronous=NORMAL``), so a report can read while a batch writes, and
leaves it in rollback-journal mode when it closes the store (:meth:`SQLiteStore.close`). A WAL file at rest needs
its ``-shm`` index made beside it by its next reader, which a reader that cannot write there (a read-only mount,
another account's share) cannot do: "attempt to write a readonly database". A rollback-journal file such a reader
reads under a shared lock (a writer from elsewhere waits for it), so its reads are consistent. A store still in WAL
mode there (its writer is running, or was killed) can be read while a writer keeps its ``-shm``; otherwise the
error says what to do.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import BigInteger, Boolean, Double, Table, Text, create_engine, event, false, literal_column, select
from sqlalchemy import insert as plain_insert
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine, UserDefinedType

from fediscope.errors import ConfigError, StoreError
from fediscope.redact import redact_url
from fediscope.store.port import SQLITE_FORMS, STORE_ANYWHERE, store_url_problem, url_error
from fediscope.store.schema import Row, TableSchema, WritePlan
from fediscope.store.sql import LOADING_PREFIX, SQLStore, create_indexes

log = logging.getLogger(__name__)


class _Untyped(UserDefinedType):
    """A column declared ``BLOB``: no affinity, values kept as written."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "BLOB"


_SQLITE_FORMS = SQLITE_FORMS

_TYPES: dict[str, TypeEngine] = {"bool": Boolean(), "int": BigInteger(), "float": Double(), "str": Text(),
                                 "null": _Untyped()}


def parse_sqlite_url(url: str) -> URL:
    """The parsed ``sqlite:`` URL, or :class:`ConfigError` for one SQLite cannot use: unparsable, or with a host
    (``sqlite://relative`` reads ``relative`` as a host; a file takes three slashes, an absolute path four)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"FEDISCOPE_STORE={redact_url(url)!r} is not a valid URL ({exc}); {_SQLITE_FORMS}") \
            from None
    if parsed.get_backend_name() != "sqlite":
        raise ConfigError(f"not a SQLite URL: {redact_url(url)!r}; {_SQLITE_FORMS}")
    if parsed.host or parsed.port or parsed.username or parsed.password:
        raise ConfigError(f"FEDISCOPE_STORE={redact_url(url)!r}: a SQLite URL names a file, not a host "
                          f"({parsed.host or parsed.username!r}); {_SQLITE_FORMS}")
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URL; None for other stores, in-memory databases, ``file:``
    URIs (whose path SQLite itself resolves) and URLs that are not valid (opening them says why)."""
    if not url.startswith("sqlite:"):
        return None
    try:
        database = parse_sqlite_url(url).database or ""
    except ConfigError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def sqlite_in_memory(url: str) -> bool:
    """Whether a valid ``sqlite:`` URL names an in-memory database, gone when the process ends: ``sqlite://``,
    ``sqlite:///``, ``sqlite:///:memory:``, or a ``file:`` URI with ``:memory:`` or ``mode=memory``."""
    if not url.startswith("sqlite:"):
        return False
    parsed = parse_sqlite_url(url)
    database = parsed.database or ""
    if database.startswith("file:"):
        return database[len("file:"):].startswith(":memory:") or parsed.query.get("mode") == "memory"
    return database in ("", ":memory:")


class SQLiteStore(SQLStore):
    """``read_only=True`` opens the file with SQLite's ``mode=ro`` (and ``PRAGMA query_only``): the file, its
    directory and the catalog are never created, and a file that does not exist is a :class:`StoreError`."""

    connecting = "open the store"

    def __init__(self, url: str, read_only: bool = False, **options: Any) -> None:
        if url.startswith("sqlite:") and (problem := store_url_problem(url)):  # the settings check's words
            raise url_error(url, problem)
        parsed = parse_sqlite_url(url)
        database = parsed.database or ""
        path = sqlite_file(url)
        if read_only:
            parsed = _read_only_url(parsed, path)
        elif path is not None:
            _make_parent(path)
        try:
            engine = create_engine(parsed.set(drivername="sqlite"), connect_args={"timeout": 30})
        except (ArgumentError, ValueError, TypeError) as exc:  # e.g. a query parameter SQLite does not take
            raise url_error(url, f"cannot be opened: {exc}; {_SQLITE_FORMS}") from None
        self._file = path if not read_only else None  # left in rollback-journal mode at close

        if read_only and path is not None:
            @event.listens_for(engine, "do_connect")
            def _connect(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
                return _open_read_only(path, cargs, cparams)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            elif database and database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL's recommended level: never corrupts; a power cut may lose the last commits, which the
                # next `fediscope process` rewrites (its kept results then no longer match the generation).
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        super().__init__(url, engine, read_only=read_only)

    def close(self) -> None:
        super().close()
        if self._file is not None and self._file.is_file():
            _leave_wal(self._file)

    def column_type(self, type_: str, key_text_length: int | None) -> TypeEngine:
        return _TYPES[type_]

    def _evolve(self, old: TableSchema, plan: WritePlan) -> None:
        """Added columns as on every SQL store; a widened column (bool → int → float, or a column with no value
        until now, declared ``BLOB``) also gets its new declared type. Values need none (typing is per value), but a
        BI tool types a column by its declaration (a ``BOOLEAN`` holding 5 shown as true, a ``BLOB`` as binary), and
        SQLite cannot change a column's type: the table is copied into one declaring today's types, in one
        transaction, so a reader sees the old table or the new one."""
        if not plan.widened:
            super()._evolve(old, plan)
            return
        table = self.table(plan.schema)
        aside = self.table(plan.schema, name=LOADING_PREFIX + plan.schema.metric)
        quoted = self._engine.dialect.identifier_preparer.format_table
        with self._errors(f"change the column types of {table.name}"), self._engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            present = set(conn.execute(select(literal_column("*")).select_from(table).where(false())).keys())
            names = [name for name in plan.schema.names if name in present]  # not the columns added now
            aside.drop(conn, checkfirst=True)
            conn.execute(CreateTable(aside))
            conn.execute(plain_insert(aside).from_select(names, select(*(table.c[name] for name in names))))
            table.drop(conn)  # its indexes with it: index names are the database's, not the table's
            conn.exec_driver_sql(f"ALTER TABLE {quoted(aside)} RENAME TO {quoted(table)}")
            create_indexes(conn, table)
        log.info("store %s: table %s copied to change the declared type of %s", redact_url(self.url), table.name,
                 ", ".join(plan.widened))

    def _load(self, replaced: TableSchema | None, schema: TableSchema, rows: list[Row]) -> None:
        """A first write or a rebuild in one transaction (SQLite's DDL is transactional): the old table (or a
        leftover without a catalog entry) dropped, the new one created, loaded and indexed. A reader (WAL) sees
        the old table with its old rows until the commit, then the new one with all its rows; never no table or a
        table half-loaded. ``BEGIN IMMEDIATE`` is sent by hand: Python's sqlite3 begins a transaction on its own
        only before an INSERT, UPDATE or DELETE, so the ``DROP`` and ``CREATE`` would each commit at once."""
        table = self.table(schema)
        with self._errors(f"load table {table.name}"), self._engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            table.drop(conn, checkfirst=True)
            conn.execute(CreateTable(table))
            self._write_rows(conn, table, schema, rows, [])
            create_indexes(conn, table)
        self._current.add(table.name)

    def upsert(self, table: Table, value_columns: list[str]) -> Insert:
        statement = insert(table)
        if not value_columns:
            return statement.on_conflict_do_nothing()
        return statement.on_conflict_do_update(
            index_elements=[c for c in table.primary_key.columns],
            set_={name: statement.excluded[name] for name in value_columns})


def require_store_file(path: Path, chosen_by: str = STORE_ANYWHERE) -> None:
    """A SQLite store to read must be a file that exists (read-only, nothing is created): StoreError otherwise,
    whose fix points ``chosen_by`` elsewhere: where the store was set (:func:`~fediscope.config.option_origin` for
    a command with ``--store``, :data:`~fediscope.store.port.STORE_SETTING`, or the Python API's ``the 'store'
    argument``); every place it may be set when the opener has no settings at hand."""
    if path.is_dir():
        raise StoreError(f"the SQLite store {path} is a directory, not a database file: point {chosen_by} at a file")
    if not path.is_file():
        near = stores_near(path)
        raise StoreError(f"the SQLite store {path} does not exist yet: run `fediscope process` first (it curates "
                         f"the lake, computes the metrics and creates the store), or point {chosen_by} at an "
                         f"existing one{f' (near it: {near})' if near else ''}{absolute_hint(path)}")


#: suffixes of the files :func:`stores_near` looks into, and how many of them at most
_STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_MOST_LOOKED_AT = 50


def stores_near(path: Path, most: int = 3) -> str:
    """The fediscope stores (SQLite files holding a ``fediscope_catalog``) beside the missing store ``path`` or in
    the directories beside it, as the URLs to give (``sqlite:///demo-out/demo.db``, for `fediscope report` in the
    demo's directory, whose default store is ./fediscope.db), at most ``most``, comma-separated; empty when there
    is none. Each file is opened immutable (nothing written, no journal or lock left), at most
    ``_MOST_LOOKED_AT`` of them. (Was: only "run `fediscope process` first", which computes a second store.)"""
    try:
        entries = sorted(path.parent.iterdir())
        candidates = [entry for entry in entries if entry.is_file()]
        directories = [entry for entry in entries if entry.is_dir() and not entry.name.startswith(".")]
    except OSError:
        return ""
    for directory in directories[:20]:
        try:
            candidates += sorted(child for child in directory.iterdir() if child.is_file())
        except OSError:  # a directory this user may not look into
            continue
    found: list[str] = []
    looked_at = 0
    for candidate in candidates:
        if candidate.suffix not in _STORE_SUFFIXES or candidate == path:
            continue
        looked_at += 1
        if looked_at > _MOST_LOOKED_AT or len(found) == most:
            break
        if _holds_catalog(candidate):
            found.append(f"sqlite:///{candidate}")
    return ", ".join(found)


def _holds_catalog(path: Path) -> bool:
    """Whether ``path`` is a SQLite database holding fediscope's catalog, read as an immutable file (SQLite then
    writes nothing, nor takes a lock)."""
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?immutable=1", uri=True)
    except sqlite3.Error:
        return False
    try:
        return connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fediscope_catalog'"
                                  ).fetchone() is not None
    except sqlite3.Error:  # not a database
        return False
    finally:
        connection.close()


def absolute_hint(path: Path) -> str:
    """For a relative store path that does not exist where the absolute path it reads as with a leading ``/``
    does (the file, or its directory where the relative one is missing: ``sqlite:///tmp/x.db`` names ``tmp/x.db``,
    though ``/tmp`` was meant), the four-slash form; empty otherwise (a relative store not created yet is common,
    and needs no hint)."""
    if path.is_absolute():
        return ""
    absolute = Path("/") / path
    if absolute.is_file():
        found = f"{absolute} exists"
    elif path.parent != Path(".") and not path.parent.exists() and absolute.parent.is_dir():
        found = f"the directory {absolute.parent} exists"
    else:
        return ""
    return (f"; {path} is relative to the current directory, but {found}: an absolute path takes four slashes, "
            f"sqlite:///{absolute}")


def _read_only_url(parsed: URL, path: Path | None) -> URL:
    """The URL opening the database with SQLite's ``mode=ro``: as a ``file:`` URI, which SQLite opens without
    creating it (a plain path would be created); in-memory databases stay as they are (there is nothing to
    protect)."""
    database = parsed.database or ""
    if path is None:  # in memory, or already a file: URI (the caller's query options apply)
        if database.startswith("file:") and parsed.query.get("uri") == "true" and "mode" not in parsed.query:
            return parsed.update_query_dict({"mode": "ro"})
        return parsed
    require_store_file(path)
    uri = "file:" + quote(str(path.absolute()))  # escaped: a ? or # in the path is part of the file name
    return parsed.set(database=uri).update_query_dict({"mode": "ro", "uri": "true"})


def _open_read_only(path: Path, cargs: list[Any], cparams: dict[str, Any]) -> sqlite3.Connection:
    """A ``mode=ro`` connection to the store file. One that cannot read it because the file is in WAL mode and its
    ``-shm`` index cannot be made here fails saying why and what to do, rather than "attempt to write a readonly
    database"."""
    connection = sqlite3.connect(*cargs, **cparams)
    try:
        connection.execute("PRAGMA schema_version").fetchone()  # the first read takes the WAL index, if WAL
        return connection
    except sqlite3.OperationalError as exc:
        connection.close()
        wal = path.with_name(path.name + "-wal")
        if "readonly" not in str(exc) and not ("unable to open" in str(exc) and wal.exists()):
            raise
        waiting = wal.exists() and wal.stat().st_size > 0
        why = f"commits wait in {wal.name}" if waiting else \
            "its writer is running, or was stopped before it closed the store"
        raise sqlite3.OperationalError(
            f"{exc}: the store is in WAL mode ({why}) "
            f"and its WAL index ({path.name}-shm) cannot be made here; once `fediscope process` has ended where "
            "the store can be written, the store reads here; or copy it with its -wal and -shm files somewhere "
            "writable and read it there") from None


def _leave_wal(path: Path) -> None:
    """Put a store file its writer is done with back in rollback-journal mode (see the module docstring). Where
    another connection has it open (a report reading meanwhile), SQLite keeps WAL mode: nothing to do then."""
    try:
        connection = sqlite3.connect(path, timeout=5)
        try:
            mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        log.debug("store %s: left in WAL mode (%s)", path, exc)
        return
    if mode and mode[0] != "delete":
        log.debug("store %s: left in %s mode (another connection has it open)", path, mode[0])


def _make_parent(path: Path) -> None:
    """Create the directory of a SQLite file, with every missing directory above it; a parent that is a file (or
    not writable) is one clear error.

    Deliberate, as for the lake (:func:`fediscope.lake.backend.prepare_lake`): a first ``fediscope process`` on a
    new machine or Airflow worker (``sqlite:////data/fediscope/metrics.db``) works without a ``mkdir`` first, and
    ``fediscope doctor`` checks a store not created yet only to be creatable (``not created yet; `fediscope
    process` creates it``). The cost: a typo in the path makes a new, empty store there silently; ``doctor`` and
    ``process --help`` say so."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocking} is a file, not a directory" if blocking else (exc.strerror or str(exc))
        raise StoreError(f"cannot create the directory of the SQLite store {path}: {reason}; set FEDISCOPE_STORE "
                         "(or --store) to a path whose directories can be created") from None
