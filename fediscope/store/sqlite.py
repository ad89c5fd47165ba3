"""SQLite, the default store (``sqlite:///path/to/fediscope.db``): a single file, nothing to run.

SQLite types are per value, not per column (a column's declared type is only an "affinity"), which is why the
logical types live in the catalog (:mod:`fediscope.store.schema`): a widened column needs no ``ALTER``, and a
column whose type is not known yet (every value NULL so far) is declared ``BLOB`` — the affinity that stores
whatever comes later unchanged. The file runs in WAL mode (``synchronous=NORMAL``) so a report can read while
a batch writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Boolean, Double, Table, Text, create_engine, event
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine, UserDefinedType

from fediscope.errors import ConfigError
from fediscope.store.sql import SQLStore


class _Untyped(UserDefinedType):
    """A column declared ``BLOB``: no affinity, values kept as written."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "BLOB"


_TYPES: dict[str, TypeEngine] = {"bool": Boolean(), "int": BigInteger(), "float": Double(), "str": Text(),
                                 "null": _Untyped()}


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URL; None for other stores, in-memory databases and ``file:``
    URIs (whose path SQLite itself resolves)."""
    if not url.startswith("sqlite:"):
        return None
    database = make_url(url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


class SQLiteStore(SQLStore):
    def __init__(self, url: str, **options: Any) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            raise ConfigError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
        database = parsed.database or ""
        path = sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed.set(drivername="sqlite"), connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if database and database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL's recommended level: never corrupts; a power cut may lose the last commits, which the
                # next `fediscope process` rewrites (its kept results then no longer match the generation).
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        super().__init__(url, engine)

    def column_type(self, type_: str, key_text_length: int | None) -> TypeEngine:
        return _TYPES[type_]

    def upsert(self, table: Table, value_columns: list[str]) -> Insert:
        statement = insert(table)
        if not value_columns:
            return statement.on_conflict_do_nothing()
        return statement.on_conflict_do_update(
            index_elements=[c for c in table.primary_key.columns],
            set_={name: statement.excluded[name] for name in value_columns})
