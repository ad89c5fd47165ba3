"""The store port: the few operations the pipeline and the analyses need, implemented by every adapter.

Rows are plain dicts of JSON-compatible scalars (str, int, float, bool, None). A metric's rows are identified
by the metric's ``key`` columns (see :mod:`fediscope.engine.metrics`): ``write`` upserts, so re-running a
batch overwrites the same rows and never duplicates them. ``replace=True`` first deletes the metric's rows
not present in the new result (a full recomputation).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fediscope.engine.metrics import Metric
from fediscope.redact import PASSWORD_PLACEHOLDER, redact_url
from fediscope.store.url_options import TRUE_FALSE, mysql_option_problem, repeated_option

if TYPE_CHECKING:
    from fediscope.config import Settings
    from fediscope.errors import ConfigError

Row = dict[str, Any]


class PositionError(ValueError):
    """An ``after`` position (:meth:`MetricStore.top`) that is not one of the metric's: a column missing, or a value
    its column's type cannot hold."""


class PrefixValueError(ValueError):
    """A prefix value given as text (:func:`prefix_value`) that its column's type cannot hold: ``wanted`` says what it
    must be (``a number``), ``holds`` what the column holds (``numbers``)."""

    def __init__(self, wanted: str, holds: str) -> None:
        super().__init__(f"must be {wanted}")
        self.wanted, self.holds = wanted, holds

    def refusal(self, selected_by: str, metric: str, column: str, raw: str) -> str:
        """The one line a command (``--prefix``) or the Python API (``prefix``) refuses the value with; the results
        API says "as the API answers them" where this says "as JSON writes them"."""
        return (f"{selected_by} must be {self.wanted} for metric {metric} (its prefix column {column} holds "
                f"{self.holds}, written as JSON writes them, without spaces or leading zeros; got {raw!r})")


#: the text forms of the numbers a prefix may be: what JSON (and so the results API's answers and a JSON Lines
#: export) writes
_INT_TEXT = re.compile(r"0|-?[1-9][0-9]{0,18}")
_FLOAT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?")


def prefix_value(raw: str, column_type: str | None) -> Any:
    """A prefix given as text (a query string, a command line) as its column's stored type (``activity_by_hour``
    is prefixed by an integer weekday): text has none, so the type is the one the store's catalog records for the
    column (:meth:`MetricStore.column_types`, what the store's own lookups coerce to). A number must be written
    exactly as JSON writes it (``3``: not `` 3``, ``03``, ``+3`` or ``3.0``), a boolean as ``true`` or ``false``;
    :class:`PrefixValueError` otherwise."""
    if column_type == "bool":
        if raw not in ("true", "false"):
            raise PrefixValueError("true or false", "booleans")
        return raw == "true"
    if column_type not in ("int", "float"):
        return raw
    if column_type == "int":  # what every store's integers hold: 64 bits
        value: int | float | None = int(raw) if _INT_TEXT.fullmatch(raw) else None
        if value is None or not -2**63 <= value < 2**63:
            raise PrefixValueError("a number", "numbers")
        return value
    # a float column holds every finite double (1e+20 too, beyond the integers' range)
    value = float(raw) if _FLOAT_TEXT.fullmatch(raw) else None
    if value is None or not math.isfinite(value):
        raise PrefixValueError("a number", "numbers")
    return value


@dataclass(frozen=True)
class WriteCounts:
    """What one :meth:`MetricStore.write_counted` did: ``rows`` in the result, ``changed`` of them new or different
    from the stored row (the ones sent to the database), ``stale`` stored rows deleted as no longer in it."""

    rows: int
    changed: int
    stale: int


class MetricStore(Protocol):
    url: str
    #: what computes the rows written next, recorded with each metric written (``fediscope process`` and
    #: ``spark_jobs/metrics.py`` set it per metric: :mod:`fediscope.engine.provenance`); None keeps what the
    #: catalog recorded
    provenance: dict[str, Any] | None

    def write(self, metric: Metric, rows: Sequence[Row], replace: bool = True,
              types: Mapping[str, str] | None = None, *, exact_types: bool = False) -> int:
        """Upsert rows by the metric's key; returns the number of rows written.

        ``types`` (optional): each column's logical type (``null``, ``bool``, ``int``, ``float``, ``str``), when
        the caller knows them; it then promises rows with exactly those columns in that order, values of those
        types already normalized, and ``null`` for a column whose values are all None (see
        :func:`fediscope.store.schema.plan_write`). The write stores the same as without ``types``, faster, with
        two differences: with ``replace``, ``types`` names every column of the result, so a stored column not
        among them (dropped from the metric's SQL) is dropped from the store too; without ``types`` the stored
        columns are kept. And a write of no rows with ``types`` (the result's schema, ``fediscope process``) gives
        a metric not stored yet its empty table with those columns (a BI tool finds it), and leaves a stored one
        its table, emptied; without ``types`` it knows no column, and a metric not stored yet is only listed
        (0 rows, no table).

        ``exact_types`` (with ``replace`` and ``types``: a metric's whole result, as ``fediscope process`` writes
        it): a column the store keeps in a wider type than ``types`` gives it (a float column whose SQL now gives
        integers) takes the result's type, the table rebuilt with the result's types, so the store holds what a
        fresh store holds; without it, stored types only widen. A column all NULL this time (``null``) alone
        rebuilds nothing.
        """

    def write_counted(self, metric: Metric, rows: Sequence[Row], replace: bool = True,
                      types: Mapping[str, str] | None = None, *, exact_types: bool = False) -> WriteCounts:
        """:meth:`write`, saying how many rows it changed and deleted (``fediscope process``'s summary)."""

    def write_changes(self, metric: Metric, rows: Sequence[Row], stale: Sequence[tuple[Any, ...]],
                      row_count: int, columns: Sequence[str] | None = None,
                      types: Mapping[str, str] | None = None) -> str | None:
        """Upsert changed rows and delete stale keys only; returns the metric's generation afterwards, the one it
        had when nothing changed (None: use ``write``).
        ``columns``: every column of the metric's result, when known (a stored column outside them needs ``write``
        to drop it). ``types``: the logical types of ``rows``' columns, as :meth:`write`'s ``types`` (with
        the same guarantees from the caller): the rows are then not normalised nor their types inferred value by
        value."""

    def settle(self, metric: Metric, row_count: int) -> bool:
        """Make the catalog entry of ``metric`` agree with its rows, which the caller has just counted
        (``row_count``): a change stopped outright after its rows changed and before the catalog recorded them leaves
        the row count of before, and the generation of before or a provisional one; they are then recorded anew,
        under a new generation. Returns whether the entry was stale (an entry that agrees is left alone)."""

    def generations(self) -> dict[str, str | None]:
        """Each stored metric's generation, which changes at every write or erasure that changes the metric's rows
        or columns (a write that changes nothing keeps it)."""

    def provenances(self) -> dict[str, dict[str, Any] | None]:
        """Each stored metric's provenance, as ``fediscope process`` (or ``spark_jobs/metrics.py``) recorded it at
        the metric's last write (what computed its rows: :mod:`fediscope.engine.provenance`); None for one written
        without it (by an older fediscope)."""

    def generation(self, metric: str) -> str | None:
        """One metric's generation (None when the store holds nothing for it)."""

    def column_types(self, metric: str) -> dict[str, str]:
        """Each stored column's logical type (``null``, ``bool``, ``int``, ``float``, ``str``), as the catalog
        recorded it at the last write, also when the metric holds no rows now; empty when none was recorded."""

    def recorded_metric(self, metric: str) -> Metric | None:
        """The metric as the catalog recorded it at its last write: its key, rank and prefix columns and its question
        (``sql`` empty), also when it holds no rows now; None when the store holds nothing for it. How a metric whose
        SQL file is gone (or is not in this shell's ``FEDISCOPE_METRICS_DIR``) is addressed by its stored key: the
        erasure deletes exactly its rows about the account (:mod:`fediscope.gdpr.erase`)."""

    def get(self, metric: Metric, key: Sequence[Any]) -> Row | None:
        """The row with exactly this key (values in the order of ``metric.key``), or None."""

    def scan_prefix(self, metric: Metric, prefix: Any, limit: int | None = None,
                    after: Mapping[str, Any] | None = None) -> list[Row]:
        """Rows whose ``metric.prefix`` column equals ``prefix``, in key order; with ``after``, only those that come
        after it (see :meth:`top`)."""

    def top(self, metric: Metric, n: int, after: Mapping[str, Any] | None = None) -> list[Row]:
        """The first ``n`` rows by the metric's rank column (ties broken by key; rows without a rank value last),
        in key order for a metric without one.

        ``after`` pages on: a position in that order, given as the last row of the previous page (its key columns,
        and its rank column when the metric has one; other columns are ignored), and the rows that come after it
        are returned. The position is a set of values, not a row that must still exist: each read starts where the
        last one stopped (a ``WHERE`` on the key and rank in SQL, a scan from a start row on HBase), never counting
        past the rows before it. A value its column's type cannot hold, or a missing one, raises
        :class:`PositionError`."""

    def all(self, metric: Metric) -> list[Row]:
        """Every row of a metric, in key order."""

    def delete_where(self, metric: Metric, column: str, value: Any) -> int:
        """Delete the rows whose ``column`` equals ``value`` (erasure); returns how many were deleted."""

    def stored_metrics(self) -> dict[str, int]:
        """Every metric the store holds, with its row count, by name (empty for an empty store)."""

    def drop(self, metric: str) -> bool:
        """Remove a metric from the store: its tables (on HBase its rank index too) and its catalog entry, so it is
        no longer among :meth:`stored_metrics` (``fediscope store drop``, for a metric whose SQL file was deleted).
        Returns whether the catalog listed it; dropping a metric the store does not hold changes nothing."""

    def unlisted_metrics(self) -> dict[str, list[str]]:
        """The metrics whose tables the store holds without a catalog entry, by name, each with those tables' names:
        left by a first write stopped before it listed the metric (its table is created first), or by a removal
        stopped between the two; on HBase also tables made beforehand (``hbase_schema --create``) for a metric not
        written yet. On MariaDB also, for a listed metric too, the ``_new_<metric>`` (``_old_<metric>``) table a
        load (a first write or a rebuild) stopped before (after) its ``RENAME TABLE`` left, which may hold rows.
        :meth:`drop` removes them; the next first write of a metric replaces its own, and its next write of any
        kind removes what a stopped load of it left. An HBase store never lists another environment's tables: it
        refuses a server where another prefix starts with its own followed by ``_``, or is the start of it
        (:class:`~fediscope.errors.PrefixClashError`)."""

    def missing_tables(self) -> dict[str, list[str]]:
        """The metrics the catalog lists whose tables the store does not hold (dropped by hand), by name, each with
        the missing tables' names: ``metric_<name>`` on the SQL stores; on HBase its data table, or its rank table
        when it is ranked. A metric listed with no columns (computed with no rows and no column types: see
        :meth:`write`) has no table by design and is never among them. Every read of such a metric fails on the
        missing table; its next :meth:`write` is a first write (every row written, its tables made again), and
        :meth:`write_changes` returns None for it. ``fediscope doctor`` FAILs naming them."""

    def close(self) -> None: ...


def store_from_settings(settings: Settings, read_only: bool = False) -> MetricStore:
    """The configured store (``FEDISCOPE_STORE``), with the HBase table prefix from the settings;
    ``read_only`` as in :func:`open_store`."""
    options: dict[str, Any] = {}
    if store_kind(settings.store) == "hbase":
        options["table_prefix"] = settings.hbase_table_prefix
    return open_store(settings.store, read_only=read_only, **options)


def require_persistent(url: str, origin: str | None = None) -> None:
    """Refuse a store that keeps nothing once the process ends (SQLite in memory: ``sqlite://``, ``sqlite:///``,
    ``sqlite:///:memory:``): ``fediscope process`` would report rows stored that are gone when it exits, and
    ``fediscope report`` could only ever find it empty. For the commands a user runs; the Python API still
    opens such stores (tests use them). ``origin``: where the URL was set (:meth:`Settings.origin
    <fediscope.config.Settings.origin>`), which the error names; without it, every place it may come from."""
    from fediscope.errors import ConfigError
    from fediscope.redact import redact_url
    from fediscope.store.sqlite import sqlite_in_memory

    if sqlite_in_memory(url):
        where = origin or STORE_ANYWHERE
        raise ConfigError(f"the store {redact_url(url)!r} ({where}) is an in-memory SQLite database: whatever is "
                          "stored in it is lost when the command ends; use a file, e.g. sqlite:///fediscope.db")


#: How the store was chosen, as the fix of a store error names it: ``chosen_by`` of :func:`open_for_reading`. The
#: default names only the setting (``FEDISCOPE_STORE``, or ``store`` in fediscope.toml), which every reader reads
#: (the Airflow DAGs); a command with a ``--store`` option passes where the store was set
#: (:func:`~fediscope.config.option_origin`), the Python API its argument.
STORE_SETTING = "FEDISCOPE_STORE"
#: Every place the store may be set, for a message about a store whose settings are not at hand.
STORE_ANYWHERE = "--store, FEDISCOPE_STORE or [fediscope] store"


def open_for_reading(settings: Settings, *, chosen_by: str = STORE_SETTING) -> MetricStore:
    """The configured store for a command that only reads it (``fediscope report``): persistent
    (:func:`require_persistent`), opened read-only (``read_only=True``: nothing created, so a database user
    with SELECT only will do), and never created by the read — a SQLite file that does not exist yet is
    refused (:class:`~fediscope.errors.StoreError`) instead of being reported empty, its fix pointing
    ``chosen_by`` at an existing one."""
    from fediscope.store.sqlite import require_store_file, sqlite_file

    require_persistent(settings.store, settings.origin("store"))
    path = sqlite_file(settings.store)
    if path is not None:
        require_store_file(path, chosen_by)
    return store_from_settings(settings, read_only=True)


def open_existing(settings: Settings, read_only: bool = False) -> MetricStore | None:
    """The configured store, or None when it is a SQLite file that does not exist yet: nothing is held there,
    and opening it would create it (or, read-only, refuse it). For the readers and erasers that must not create
    a store: the results API, the access export, the erasure."""
    from fediscope.store.sqlite import sqlite_file

    path = sqlite_file(settings.store)
    if path is not None and not path.exists():
        return None
    return store_from_settings(settings, read_only=read_only)


#: Store URL forms, as :func:`open_store` dispatches them. The password is the placeholder no redaction masks
#: (:data:`~fediscope.redact.PASSWORD_PLACEHOLDER`), so a hint reads the same in every output.
STORE_PREFIXES = ("sqlite:", "mysql", "mariadb", "hbase://")


def store_kind(url: str) -> str:
    """``sqlite``, ``mariadb`` (``mysql…`` and ``mariadb…`` URLs) or ``hbase``: the adapter :func:`open_store`
    opens for a store URL (``""`` for none of :data:`STORE_PREFIXES`). The one place the scheme rule lives: the
    settings check, the dispatch and the column-count check (:func:`fediscope.engine.metrics.check_column_count`)
    read it."""
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith(("mysql", "mariadb")):
        return "mariadb"
    return "hbase" if url.startswith("hbase://") else ""
#: A store URL whose scheme lost its colon (``sqlite//x.db``, ``hbase//host:9090``): read as a bare path, it was
#: answered with ``sqlite:///sqlite//x.db``.
_MISSING_COLON_RE = re.compile(r"(sqlite|(?:mysql|mariadb)(?:\+\w+)?|hbase)//", re.IGNORECASE)
MYSQL_FORM = f"mysql+pymysql://user:{PASSWORD_PLACEHOLDER}@host:3306/<database>"
HBASE_FORM = "hbase://host:9090"
STORE_FORMS = f"use sqlite:///path, {MYSQL_FORM} or {HBASE_FORM}"
SQLITE_FORMS = "use sqlite:///relative/path/to/file.db or sqlite:////absolute/path/to/file.db"
#: HBase URL options (``hbase://host:9090?transport=framed``) and their defaults; every number must be positive.
HBASE_OPTIONS: dict[str, type] = {"transport": str, "protocol": str, "pool_size": int, "timeout": int,
                                  "batch_size": int, "max_cell_bytes": int, "max_frame_bytes": int}
HBASE_DEFAULTS: dict[str, Any] = {"transport": "buffered", "protocol": "binary", "pool_size": 4, "timeout": 30000,
                                  "batch_size": 1000, "max_cell_bytes": 10 * 1024 * 1024,
                                  "max_frame_bytes": 2 * 1024 * 1024}
#: the bytes ``max_cell_bytes`` may be (the cluster's ``hbase.client.keyvalue.maxsize``, 10 MiB by default): from
#: 1 MiB (a value in KiB or MiB by mistake, ``10240`` or ``20``, is refused rather than taken for bytes) to the most
#: a cell can hold (its length is a Java int)
HBASE_CELL_BYTES = (1024 * 1024, 2**31 - 1)
#: the bytes ``max_frame_bytes`` may be (with ``transport=framed``: the Thrift server's
#: ``hbase.regionserver.thrift.framed.max_frame_size_in_mb``, 2 MiB by default), the same way: from 1 MiB (a value in
#: MiB by mistake, ``2``, is refused) to the most a frame's length can say
HBASE_FRAME_BYTES = (1024 * 1024, 2**31 - 1)


class StoreURLProblem(ValueError):
    """What is wrong with a store URL, worded to follow the URL (``'hbase://' names no host; …``); any other
    ValueError met while parsing one is worded as "is not a valid URL" (:func:`store_url_problem`)."""


def unsupported_mysql_driver(backend: str, drivername: str) -> str | None:
    """PyMySQL is the one MySQL driver fediscope depends on (requirements.txt): a URL naming another is refused.
    ``drivername`` is the URL's scheme (``mysql``, ``mysql+pymysql``, ``mariadb+mariadbconnector``)."""
    driver = drivername.partition("+")[2] or "pymysql"
    if driver == "pymysql":
        return None
    return (f"uses the {driver} driver, which fediscope does not support (it talks to MySQL/MariaDB through "
            f"PyMySQL): use {backend}+pymysql://…")


def mysql_url(url: str, files: bool = True) -> Any:
    """The SQLAlchemy URL a MySQL/MariaDB store connects with: parsed as SQLAlchemy parses it (it takes unencoded
    ``/ ?`` in passwords), PyMySQL as its driver, ``charset=utf8mb4`` unless the URL sets one. A URL with more than
    one ``@`` before its query, or a ``#`` there, is refused (a password's ``@`` or ``#`` must be percent-encoded:
    SQLAlchemy would take the rest of the password for the host, and ``urlsplit`` would end the URL at the ``#``).

    Raises :class:`StoreURLProblem` for what would fail at connect, or with a traceback inside PyMySQL, without
    the server having a say: another driver, no database, an ``ssl_ca``/``ssl_cert``/``ssl_key`` that is not a
    readable file (PyMySQL reads them at connect), a ``charset`` PyMySQL does not know (an AttributeError in
    PyMySQL), a query parameter of the wrong type (``connect_timeout=abc``: read as SQLAlchemy's
    ``create_engine`` reads it, without building an engine); a plain ValueError for a URL that does not parse.

    ``files=False`` leaves out the check of the TLS files: they are this host's, not the URL's form, and a host that
    never opens the store (a worker that only collects) need not have them; the settings check passes it, the
    adapter checks them when it opens the store."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    _check_unencoded_userinfo(url)
    if problem := port_problem(url):  # was: 99999 reached PyMySQL, whose connect went to port 34463 (99999 mod 2**16)
        raise StoreURLProblem(problem)
    try:
        parsed = make_url(url, keep_blank_values=True)  # an empty value is refused, not dropped silently
    except ArgumentError as exc:  # not a ValueError
        raise ValueError(str(exc)) from None
    if "@" in (parsed.host or "") or "@" in (parsed.database or ""):  # user:a?b@c@host/db: an @ after the ?
        _check_unencoded_userinfo(url, force=True)
    if (parsed.host or "").lower() != _host_as_shown(url):
        # an @ in the query where no password precedes it (``user@host:3306/db?password=a@b``): SQLAlchemy took
        # ``user@host`` for the user, all to that @ for the password and a piece of the value for the host, which
        # PyMySQL's "Can't connect to MySQL server on '<host>'" then quoted, unmasked
        raise StoreURLProblem("has an @ in its query where SQLAlchemy takes it for the end of a password, and so reads "
                              "another host than the one named; an option's value holding @ must be percent-encoded "
                              "(as %40), as in mysql+pymysql://user@host:3306/<database>?password=p%40ss")
    backend = parsed.get_backend_name()
    if backend not in ("mysql", "mariadb"):
        raise StoreURLProblem(f"is not a MySQL/MariaDB URL (scheme {parsed.drivername!r}); use {MYSQL_FORM}")
    if problem := unsupported_mysql_driver(backend, parsed.drivername):
        raise StoreURLProblem(problem)
    if not parsed.database:
        raise StoreURLProblem(f"names no database; use {MYSQL_FORM}")
    for name in parsed.query:  # was: passed on to PyMySQL, whose connect refused it (a TypeError) when opened
        if name not in mysql_url_options():
            # not the options refused below (a slip of ?host= was told "did you mean 'host'?", then refused)
            offered = [option for option in mysql_url_options() if option not in _URL_PART_OPTIONS]
            close = difflib.get_close_matches(name.lower(), offered, n=1, cutoff=0.7)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(offered)}"
            raise StoreURLProblem(f"has an unknown option {name!r}, which PyMySQL does not take; {hint}")
    for name in _URL_PART_OPTIONS:
        # was: taken over the URL's own host or database (SQLAlchemy lets the query win), so the store connected to
        # another host or database than the one every message, the store's lock and the lake's snapshots name
        if name in parsed.query:
            raise StoreURLProblem(f"names the {_URL_PART_OPTIONS[name]} in its query (?{name}=…), which would be used "
                                  f"instead of the URL's own; give it in the URL alone: {MYSQL_FORM}")
    if "port" in parsed.query and parsed.port is not None and parsed.query["port"] != str(parsed.port):
        raise StoreURLProblem(f"names two ports, {parsed.port} and ?port={parsed.query['port']} (which would be used, "
                              f"though the messages name {parsed.port}); give it once, in the URL: {MYSQL_FORM}")
    for name, value in parsed.query.items():  # was: a wrong value failed at connect, or was misread silently
        if problem := mysql_option_problem(name, value):
            raise StoreURLProblem(problem)
    for name in ("ssl_ca", "ssl_cert", "ssl_key") if files else ():
        value = parsed.query.get(name)
        if isinstance(value, str) and not _readable(value):
            raise StoreURLProblem(f"cannot be used: {name}={value} is not a readable file")
    charset = parsed.query.get("charset")
    if isinstance(charset, str) and not _pymysql_charset(charset):
        raise StoreURLProblem(f"cannot be used: charset={charset} is not a character set PyMySQL knows; leave it "
                              "out (utf8mb4 is the default)")
    parsed = parsed.set(drivername=f"{backend}+pymysql")
    if "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    try:
        parsed.get_dialect()().create_connect_args(parsed)  # what create_engine does with the query parameters
    except (ArgumentError, ValueError, TypeError) as exc:  # a later SQLAlchemy's own rule: one line, all the same
        raise StoreURLProblem(f"cannot be used: {str(exc).splitlines()[0]}; check the URL's query parameters") from None
    return parsed


#: PyMySQL's arguments that a MySQL URL gives in its own parts, not its query (:func:`mysql_url`), and what they are.
_URL_PART_OPTIONS = {"host": "host", "db": "database", "database": "database"}
#: Arguments of PyMySQL's ``connect`` a URL's query cannot give: Python objects (``conv``, ``cursorclass``,
#: ``auth_plugin_map``, ``ssl`` as a dict, of which the query's ``ssl_*`` options are the URL's form), and
#: ``defer_connect``, which would hand SQLAlchemy a connection never opened.
_PYMYSQL_OBJECT_ARGUMENTS = frozenset({"self", "conv", "cursorclass", "auth_plugin_map", "ssl", "defer_connect"})
#: TLS options SQLAlchemy reads from a MySQL URL's query beside PyMySQL's own, and gives PyMySQL in its ``ssl``.
_SQLALCHEMY_SSL_OPTIONS = frozenset({"ssl_capath", "ssl_cipher", "ssl_check_hostname"})


@functools.cache
def mysql_url_options() -> tuple[str, ...]:
    """The query options a MySQL/MariaDB store URL takes, sorted: the arguments of the installed PyMySQL's
    ``connect`` that a URL can give (``connect_timeout``, ``password``, ``charset``, ``ssl_ca``, …; fediscope reads
    none of its own from the URL), and SQLAlchemy's TLS options. Any other one was passed on to PyMySQL, whose
    ``connect`` refused it when the store was opened, after the settings check had found the URL good."""
    import inspect

    from pymysql.connections import Connection

    arguments = set(inspect.signature(Connection.__init__).parameters) - _PYMYSQL_OBJECT_ARGUMENTS
    return tuple(sorted(arguments | _SQLALCHEMY_SSL_OPTIONS))


def _check_unencoded_userinfo(url: str, force: bool = False) -> None:
    """Refuse a URL whose part before the query holds more than one ``@``, or a ``#``: a password with an unencoded
    ``@`` or ``#``, which SQLAlchemy parses at the first ``@`` (the rest of the password taken for the host) and
    ``urlsplit`` at the ``#``. The password is never quoted."""
    rest = url.split("://", 1)[-1]
    head = rest.split("?", 1)[0]
    if force or head.count("@") > 1 or "#" in head:
        raise StoreURLProblem(
            f"has {'a # before its query' if '#' in head and head.count('@') < 2 else 'more than one @'}: a "
            "password holding "
            "@ / # ? must be percent-encoded (@ as %40, / as %2F, # as %23, ? as %3F), as in "
            "mysql+pymysql://user:p%40ss@host:3306/<database>")


#: A ``%`` that does not start a percent-escape (``%40``): ``p%ZZ``, a trailing ``%``.
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: What a connection refused with such a ``%`` in the URL's user name or password adds to the error
#: (:func:`userinfo_bad_escape`); the password itself is never shown.
BAD_ESCAPE_HINT = ("the URL's user name or password holds a % that is not followed by two hex digits, which is sent "
                   "as written: is the password written unencoded? A % in it is written %25 (and @ / # ? as %40, "
                   "%2F, %23, %3F)")


def userinfo_bad_escape(url: str) -> bool:
    """Whether the user name or password of a MySQL URL (before its first ``@``, as SQLAlchemy reads it) holds a
    ``%`` not followed by two hex digits. SQLAlchemy (as ``urllib.parse.unquote``) keeps such a ``%`` as written, so
    the URL is not refused: a password that is ``p%ZZ`` indeed connects. But it says the password was most likely
    written unencoded, where an escape that happens to be valid (``%41``) was decoded (``A``): when the server
    refuses the login, the error says so (:data:`BAD_ESCAPE_HINT`)."""
    userinfo, at, _rest = url.split("://", 1)[-1].partition("@")
    return bool(at) and _BAD_ESCAPE_RE.search(userinfo) is not None


def port_problem(url: str) -> str | None:
    """What is wrong with the port of a MySQL or HBase URL (None: none, or a good one), read from the masked URL
    (a password's unencoded ``/ ? #`` would end the host early). A port that is no whole number from 1 to 65535 is
    refused: was 99999 or -5 passed on, the system's resolver keeping the low 16 bits (99999 connected to port
    34463: another service, or "connection refused" for a port never named), 0 taken for the default port, and
    ``abc`` worded as Python's ``invalid literal for int()``. So is a ``:`` with no port after it."""
    from urllib.parse import urlsplit

    netloc = urlsplit(redact_url(url)).netloc
    hostport = netloc.rpartition("@")[2]
    text = hostport.rpartition("]")[2] if hostport.startswith("[") else hostport
    _host, colon, port = text.partition(":")
    if not colon:  # no port: the default
        return None
    if not port:  # was: SQLAlchemy's "invalid literal for int()" (MySQL), the default port silently (HBase)
        return "has a ':' after its host but no port: give the port, or leave the ':' out for the default one"
    if port.isascii() and port.isdigit() and 1 <= int(port) <= 65535:
        return None
    return f"has the port {port[:20]!r}, which is not a whole number from 1 to 65535"


def _host_as_shown(url: str) -> str:
    """The host of a URL as fediscope shows it (in lower case, without IPv6 brackets): after the last ``@`` of the
    userinfo, a password with an unencoded ``/ ? #`` masked first (:func:`~fediscope.redact.redact_url`)."""
    from urllib.parse import urlsplit

    try:
        return (urlsplit(redact_url(url)).hostname or "").lower()
    except ValueError:
        return ""


def _readable(path: str) -> bool:
    import os
    from pathlib import Path

    file = Path(path).expanduser()
    return file.is_file() and os.access(file, os.R_OK)


def _pymysql_charset(name: str) -> bool:
    from pymysql.charset import charset_by_name

    return charset_by_name(name) is not None


def hbase_url(url: str, options: Mapping[str, Any] | None = None) -> tuple[str, int, dict[str, Any]]:
    """The host, port (9090 unless given) and options (:data:`HBASE_OPTIONS`: the URL's query, then
    ``options``, over :data:`HBASE_DEFAULTS`) of an HBase URL; :class:`StoreURLProblem` for no host, a user or
    password, a path, an unknown option, a value of the wrong type, a transport or protocol happybase does not
    speak; a port that is not a whole number from 1 to 65535."""
    from urllib.parse import parse_qsl, urlsplit

    # HBase's Thrift server takes no password: the URL is read with any password masked, which a password holding
    # an unencoded / ? # would otherwise end the host at (and a port error would quote a piece of it)
    parts = urlsplit(redact_url(url))
    if parts.scheme != "hbase":
        raise StoreURLProblem(f"is not an HBase URL; use {HBASE_FORM}")
    if "@" in parts.netloc:  # was: dropped silently; never quoted (what precedes the @ may be a password)
        raise StoreURLProblem("names a user or password (before the @), which fediscope never sends to HBase (its "
                              "client, happybase, reaches the Thrift server without authentication): give the host "
                              f"alone, {HBASE_FORM}")
    if problem := port_problem(url):
        raise StoreURLProblem(problem)
    port = parts.port
    if not parts.hostname:
        raise StoreURLProblem(f"names no host; use {HBASE_FORM}")
    extra = parts.path if parts.path not in ("", "/") else f"#{parts.fragment}" if parts.fragment else ""
    if extra:  # was: dropped silently (a namespace or table named there was never used)
        raise StoreURLProblem(f"has a path or fragment ({extra!r}), which an HBase URL does not take (tables are "
                              f"named by FEDISCOPE_HBASE_TABLE_PREFIX); use {HBASE_FORM}")
    settings = dict(HBASE_DEFAULTS)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if problem := repeated_option(name for name, _value in query):  # was: the last one taken, silently
        raise StoreURLProblem(problem)
    for name, value in [*query, *(options or {}).items()]:
        if name not in HBASE_OPTIONS:
            close = difflib.get_close_matches(name.lower(), list(HBASE_OPTIONS), n=1, cutoff=0.7)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(HBASE_OPTIONS)}"
            raise StoreURLProblem(f"has an unknown option {name!r}; {hint}")
        settings[name] = _hbase_option(name, value)
    if settings["transport"] not in ("buffered", "framed") or settings["protocol"] not in ("binary", "compact"):
        raise StoreURLProblem(f"has transport={settings['transport']} and protocol={settings['protocol']}: the "
                              "transport must be buffered or framed, the protocol binary or compact")
    framed = [name for name, _value in [*query, *(options or {}).items()] if name == "max_frame_bytes"]
    if framed and settings["transport"] != "framed":  # was no option; a buffered server reads no frames
        raise StoreURLProblem(f"has option max_frame_bytes={settings['max_frame_bytes']} with transport="
                              f"{settings['transport']}: it is the frame limit of a framed Thrift server; give "
                              "transport=framed too, or leave it out")
    return parts.hostname, port or 9090, settings


def _hbase_option(name: str, value: Any) -> Any:
    if name in ("max_cell_bytes", "max_frame_bytes"):
        return _hbase_bytes(name, value)
    kind = HBASE_OPTIONS[name]
    try:
        typed = kind(value)
    except (TypeError, ValueError):
        typed = None
    if typed is None or kind is int and typed < 1:
        raise StoreURLProblem(f"has option {name}={value}, which is not a whole number above 0")
    return typed


def _hbase_bytes(name: str, value: Any) -> int:
    """``max_cell_bytes``, ``max_frame_bytes``: digits only (``1e7``, ``10_000_000``, ``10MiB`` are refused, not read
    otherwise)."""
    low, high = HBASE_CELL_BYTES if name == "max_cell_bytes" else HBASE_FRAME_BYTES
    if isinstance(value, str):
        number = int(value) if value.isascii() and value.isdigit() else None  # "²".isdigit() is True
    else:  # open_store's option
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if number is None or not low <= number <= high:
        setting = ("the cluster's hbase.client.keyvalue.maxsize" if name == "max_cell_bytes" else
                   "the Thrift server's hbase.regionserver.thrift.framed.max_frame_size_in_mb, in bytes")
        raise StoreURLProblem(f"has option {name}={value}, which is not a whole number of bytes from {low} (1 MiB) to "
                              f"{high} ({setting}; {HBASE_DEFAULTS[name]} by default)")
    return number


def store_url_problem(url: str) -> str | None:
    """What is wrong with a store URL, found without connecting to anything (None: nothing found), for the
    settings loader and :func:`open_store` alike: the one place such rules live (the adapters call
    :func:`mysql_url` and :func:`hbase_url`, which hold them). A SQLite URL is checked for its form only (so a
    settings check of it imports no SQLAlchemy; its adapter, :func:`fediscope.store.sqlite.parse_sqlite_url`,
    parses it when it is opened)."""
    from urllib.parse import urlsplit

    if not url.strip():  # an unset shell variable (--store "$URL"): was "unsupported scheme ''"
        return f"is empty; {STORE_FORMS}"
    if slip := _MISSING_COLON_RE.match(url):  # sqlite//x.db: not the path "sqlite//x.db"
        return f"is missing the ':' after {slip.group(1)!r} (write {slip.group(1)}://…); {STORE_FORMS}"
    if not url.startswith(STORE_PREFIXES):
        scheme = url.split(":", 1)[0] if ":" in url else ""
        if not scheme and url:  # a bare file path, the commonest slip: say how to write it as a SQLite URL
            return (f"is a path, not a store URL; a SQLite file is written sqlite:///{url} (three slashes, then "
                    "the path: sqlite:////absolute/path.db has four)")
        return f"is not a supported store URL (unsupported scheme {scheme!r}); {STORE_FORMS}"
    try:
        if (kind := store_kind(url)) == "sqlite":
            if not url.startswith("sqlite://"):
                return f"is not a valid URL (a SQLite URL starts with sqlite:///); {SQLITE_FORMS}"
            # the masked URL: urlsplit ends the host at a password's unencoded / ? #, and would take a piece of it
            _, at, host = urlsplit(redact_url(url)).netloc.rpartition("@")
            if host:  # never the user or password before the @
                return f"names a host ({host!r}), but a SQLite URL names a file, not a host; {SQLITE_FORMS}"
            if at:
                return f"names a user (before an @), but a SQLite URL names a file, not a user; {SQLITE_FORMS}"
            if problem := _sqlite_query_problem(url):
                return problem
        elif kind == "mariadb":
            mysql_url(url, files=False)  # the TLS files: when the store is opened (see mysql_url)
        else:
            hbase_url(url)
    except ValueError as exc:
        return problem_text(exc)
    return None


#: The query options of a ``sqlite:`` URL that the driver takes (SQLAlchemy's pysqlite dialect); with ``uri=true``
#: the path is a SQLite ``file:`` URI, whose own options SQLite reads.
SQLITE_OPTIONS = ("timeout", "detect_types", "check_same_thread", "cached_statements", "uri")


def _sqlite_query_problem(url: str) -> str | None:
    """An option of a SQLite URL the driver would ignore with only a warning, or a ``?`` that cut the file name
    (``st?ore.db`` is the file ``st``)."""
    from urllib.parse import parse_qsl

    _, mark, query = url.partition("?")
    if not mark:
        return None
    options = parse_qsl(query.split("#", 1)[0], keep_blank_values=True)
    if problem := repeated_option(name for name, _value in options):  # was: the last one taken, silently
        return problem
    for name, value in options:  # the driver's own options, with or without uri=true
        if name in _SQLITE_IGNORED:
            return f"has the option {name}, {_SQLITE_IGNORED[name]}"
        if (expected := _SQLITE_OPTION_VALUES.get(name)) and not expected[0](value):
            return f"has the option {name}={value!r}, which is not {expected[1]}"
    if any(name == "uri" and TRUE_FALSE[value.strip().lower()] for name, value in options):
        return None  # a file: URI: its other options are SQLite's own
    unknown = [name for name, _value in options if name not in SQLITE_OPTIONS]
    if unknown or not options:
        return (f"has {'the option ' + repr(unknown[0]) if unknown else 'an empty query'} after its '?', which "
                f"SQLite does not take (known: {', '.join(SQLITE_OPTIONS)}); a ? in the file name is written %3F")
    return None


def _is_seconds(value: str) -> bool:
    try:
        return 0 <= float(value) < float("inf")  # also refuses nan
    except ValueError:
        return False


#: What the driver's typed options take (SQLAlchemy converts them, and raised a bare ValueError when the store was
#: opened, after the settings were found good).
_SQLITE_OPTION_VALUES: dict[str, tuple[Callable[[str], bool], str]] = {
    "timeout": (_is_seconds, "a number of seconds >= 0"),
    "detect_types": (lambda v: v.isascii() and v.isdigit(), "an integer >= 0"),  # "²".isdigit() is True
    "cached_statements": (lambda v: v.isascii() and v.isdigit(), "an integer >= 0"),
    "check_same_thread": (lambda v: v.strip().lower() in TRUE_FALSE, "true or false"),
    "uri": (lambda v: v.strip().lower() in TRUE_FALSE, "true or false"),
}
#: Driver options a URL may name that never take effect: refused, saying why, rather than silently dropped.
_SQLITE_IGNORED = {
    "isolation_level": "which has no effect (SQLAlchemy does not pass it on to SQLite, and fediscope runs its own "
                       "transactions): leave it out",
}


def problem_text(exc: ValueError) -> str:
    """A problem raised while parsing a store URL, worded to follow the URL."""
    if isinstance(exc, StoreURLProblem):
        return str(exc)
    return f"is not a valid URL ({exc}); {STORE_FORMS}"


def url_error(url: str, problem: str) -> ConfigError:
    """The error for a store URL given to :func:`open_store` or an adapter, which do not know where it came from;
    the settings loader reports the same problem naming the option, variable or TOML key that set it."""
    from fediscope.errors import ConfigError
    from fediscope.redact import redact_url

    return ConfigError(f"the store URL {redact_url(url)!r} {problem}")


def open_store(url: str, read_only: bool = False, **options: Any) -> MetricStore:
    """``sqlite:///path`` (default), ``mysql+pymysql://…`` (MariaDB/MySQL), ``hbase://host:9090``.

    ``read_only=True`` opens it for reading: nothing is created (no SQLite file or directory, no catalog table,
    whose absence reads as an empty store), writes raise :class:`~fediscope.errors.StoreError`, and a database
    user with SELECT only can read; a SQLite file that does not exist is a ``StoreError``.
    """
    if problem := store_url_problem(url):
        raise url_error(url, problem)
    kind = store_kind(url)
    if kind == "sqlite":
        from fediscope.store.sqlite import SQLiteStore

        return SQLiteStore(url, read_only=read_only, **options)
    if kind == "mariadb":
        from fediscope.store.mysql import MySQLStore

        return MySQLStore(url, read_only=read_only, **options)
    from fediscope.store.hbase import HBaseStore  # the last of STORE_PREFIXES

    return HBaseStore(url, read_only=read_only, **options)
