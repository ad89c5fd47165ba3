"""Exceptions whose messages say what to do next; the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class FediscopeError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = 1


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line: a fediscope error's alone (it says what went wrong and what to do, as
    ``fediscope: error: …`` does), any other after its type name (``KeyError: 'id'``: there the type says what
    went wrong). The demo's failed steps and doctor's FAILs print it."""
    message = " ".join(str(exc).split())
    if isinstance(exc, FediscopeError) and message:
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class ConfigError(FediscopeError):
    """A setting is missing or invalid. The message names the setting and how to fix it."""

    exit_code = 2


class PrefixClashError(ConfigError):
    """The HBase table prefix (``FEDISCOPE_HBASE_TABLE_PREFIX``) starts with another environment's on the same
    server followed by ``_``, or that one starts with it: their table names cannot be told apart
    (:func:`~fediscope.store.hbase_schema.clashing_prefixes`). The message names both and a prefix that fits."""


class MetricFileError(ConfigError):
    """A metric's SQL file (``spark_jobs/sql/`` or ``FEDISCOPE_METRICS_DIR``) cannot be read or does not define a
    metric (no ``-- key:`` line, not UTF-8, a bad file or column name, a name of both directories), or whose SQL an
    engine refuses (:class:`SqlError`) or whose result does not fit its header (a key repeated). The message
    names the file and what to fix; the API answers it as 500 ``metric_definition_error``, keeping the file to its
    log."""


class SqlError(FediscopeError):
    """An engine refused a statement's SQL text before reading a row: a syntax error, an unknown table, column or
    function, arguments of the wrong types, or (Spark) a construct it would run differently. In fediscope's own SQL
    a bug (exit 1); in a metric file's, the file's mistake, which the engine reports as a :class:`MetricFileError`
    naming the file (exit 2), as it does a header's."""


class LakeError(FediscopeError):
    """The lake cannot be read or written."""


class NoLakeError(LakeError):
    """The lake is not there, is not a directory, or holds no data: a setting to fix (or a collection to run
    first), which no retry of the same run mends (a scheduled task fails at once rather than retrying)."""


class NothingCuratedError(LakeError):
    """Nothing is curated in the lake yet where a run needs curated tables: a batch run's store holds no metric row
    because its days have no raw files (a first backfill, or a dated run, of a day before the collection began: its
    raw files are other days', which another run curates), or ``spark_jobs/metrics.py`` is refused a lake never
    curated. No retry of the same run mends it (a scheduled task fails at once)."""


class DamagedBatchError(LakeError, ValueError):
    """A raw batch was damaged since it was landed: a line is not a JSON record, or a record of the expected shape
    (cut short, edited), or the file is empty or does not end with its last record's newline. A ValueError too, as
    the ``json`` error it replaces, for callers that catch that. Batches are landed whole (fediscope's writes and
    the NiFi flows' both rename a finished file into place), so no retry mends it: the file must be restored or
    moved out of the lake (a scheduled task fails at once)."""


class LakeLockedError(LakeError):
    """Another run holds the lake's lock (:mod:`fediscope.lake.lock`); the message names it and the lock file."""


class UpstreamError(FediscopeError):
    """A Mastodon instance failed or answered with something unusable."""


class StoreError(FediscopeError):
    """The metrics store cannot be reached or written."""


class MissingTableError(StoreError):
    """A read of a metric the store's catalog lists whose table(s) are not there (dropped by hand:
    :meth:`~fediscope.store.port.MetricStore.missing_tables`). The store itself answers; ``fediscope process``
    writes the metric again, every row, its tables made again. ``metric`` names it, for an answer that names no
    store (the results API)."""

    def __init__(self, store: str, metric: str, tables: list[str], rerun: str = "`fediscope process`") -> None:
        self.store, self.metric, self.tables, self.rerun = store, metric, tables, rerun
        super().__init__(f"store {store}: metric {metric}: {self.problem}: {self.fix}; "
                         "`fediscope doctor` lists every missing table")

    @property
    def problem(self) -> str:
        """What is wrong, without the store or the metric (a report names them already)."""
        tables = self.tables
        table = f"table {tables[0]} is" if len(tables) == 1 else f"tables {', '.join(tables)} are"
        return f"its {table} missing (dropped by hand?)"

    @property
    def fix(self) -> str:
        """How to write it again: ``rerun``, the caller's way of running ``fediscope process`` (the Python API's
        call, the batch DAG's task), as its stale-metric wording names it
        (:func:`~fediscope.analysis.stale_metric_message`)."""
        return (f"run {self.rerun} to write it again (`fediscope store drop {self.metric}` if no SQL file defines it "
                "any more)")

    def rerun_as(self, rerun: str) -> MissingTableError:
        """This error with its fix naming ``rerun`` (itself when it does already), to raise from it."""
        if rerun == self.rerun:
            return self
        return MissingTableError(self.store, self.metric, self.tables, rerun)

    def __reduce__(self) -> tuple[type, tuple[str, str, list[str], str]]:  # its arguments are not its message
        return type(self), (self.store, self.metric, self.tables, self.rerun)


class StoreSchemaError(StoreError):
    """A stored metric's table lacks a column this fediscope version reads (another version stored it)."""


class EngineStartError(FediscopeError):
    """The batch engine did not start though its settings are valid (Spark's JVM exited, a cluster master did not
    answer): unlike a :class:`ConfigError`, a retry of the same run may succeed, so a scheduled task retries it."""


class NotSupportedError(FediscopeError):
    """A feature that is documented as not yet supported."""


#: The exit codes of the ``spark-submit`` jobs (``spark_jobs/curate.py``, ``spark_jobs/metrics.py``) for the
#: failures no retry mends, beside a bad setting's 2 (:attr:`ConfigError.exit_code`; every other failure exits 1, as
#: ``fediscope`` does): the batch DAG sees a job's exit code and output only, and raises the same exception type
#: from them (:func:`job_error_type`), so its process task fails these at once as it does when it runs the engine in
#: the worker. Clear of the codes Spark's launcher exits with itself (1, 2, 3, 11, 50-52, 101, 124, 127) and of 128 +
#: a signal's number; the DAG takes a code for one of these only with the job's own error line (a JVM's exit 2 is no
#: bad setting).
JOB_EXIT_CODES: tuple[tuple[type[FediscopeError], int], ...] = (
    (NoLakeError, 4), (NothingCuratedError, 5), (DamagedBatchError, 6))


def job_exit_code(exc: FediscopeError) -> int:
    """What a ``spark-submit`` job exits with for ``exc``: its :data:`JOB_EXIT_CODES` entry, else its ``exit_code``."""
    for kind, code in JOB_EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return exc.exit_code


def job_error_type(code: int) -> type[FediscopeError]:
    """The exception type a job's exit ``code`` stands for (:func:`job_exit_code`'s inverse): ConfigError for 2, the
    :data:`JOB_EXIT_CODES` types, FediscopeError for any other."""
    if code == ConfigError.exit_code:
        return ConfigError
    return next((kind for kind, known in JOB_EXIT_CODES if known == code), FediscopeError)
