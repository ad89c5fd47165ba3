"""The cluster engine: Spark SQL (``FEDISCOPE_ENGINE=spark``, master from ``FEDISCOPE_SPARK_MASTER``).

Spark reads the raw JSON Lines with ``spark.read.schema(ddl).json(files)`` (the same declared schema as
DuckDB, rendered as Spark DDL) and the curated tables with ``spark.read.parquet`` (``dt=`` directories become
a ``date`` column), runs the shared DuckDB-dialect SQL translated by sqlglot, and writes Parquet with
``df.write.partitionBy("dt")``. Intermediate results are persisted (memory, then disk) so each is computed once; on a
local master they are local checkpoints (:meth:`SparkEngine.materialize`).

The session time zone is forced to UTC: raw timestamps carry offsets and are converted to UTC wall-clock
``TIMESTAMP_NTZ`` values, the same values DuckDB computes. Run it locally (``local[2]``) or submit it to a
cluster with ``spark_jobs/curate.py`` and ``spark_jobs/metrics.py`` (see their docstrings for the command).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from fediscope.config import Settings, set_to
from fediscope.engine import spark_raw
from fediscope.engine.base import CURATED_DAMAGE_HINT, DIVISION_BY_ZERO_HINT, RAW_DAMAGE_HINT, Engine, Row, rows_table
from fediscope.engine.dialect import NotPortableError, to_spark
from fediscope.engine.schema import Table, record_schema, spark_ddl, spark_type, table_spark_ddl
from fediscope.engine.spark_master import SETTING, master_addresses
from fediscope.engine.workspace import LakeURI, Location, parquet_files
from fediscope.errors import ConfigError, DamagedBatchError, EngineStartError, FediscopeError, SqlError
from fediscope.interrupts import on_interrupt
from fediscope.lake.backend import LakeBackend
from fediscope.lake.batches import RESTORE_ADVICE
from fediscope.redact import redact_url

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Session settings fediscope relies on; applied to sessions it creates and to sessions handed to it.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "true",
}


#: The log configuration of a local driver's JVM, when fediscope does not log at DEBUG.
LOCAL_LOG4J2 = Path(__file__).with_name("spark_log4j2.properties")

#: What :meth:`SparkEngine.register_raw` raises (``raise_error``) on a raw line that is not a JSON record, and how
#: :func:`_job_failures` finds it again in the failure Spark reports.
NOT_A_RECORD = "fediscope: not a record in "
#: The raw reader's corrupt-record column, and the filter that fails a job on a line that is not a record: its text
#: is there and neither ``meta`` nor ``data`` was read (a field of another type leaves the rest read, see
#: :data:`TO_CONVERT`; referring to them also keeps Spark from refusing a query that would read the corrupt-record
#: column alone). A line ``null``
#: is an empty record, skipped, as DuckDB reads it (and Spark reads ``{}``).
_CORRUPT = "_fediscope_corrupt_record"
#: The loose read (:mod:`fediscope.engine.spark_raw`) of a record in the corrupt-record column.
_LOOSE = "_fediscope_loose_record"
_NOT_A_RECORD_LINE = (f"`{_CORRUPT}` IS NOT NULL AND meta IS NULL AND data IS NULL "
                      f"AND trim(BOTH ' \\t\\r' FROM `{_CORRUPT}`) <> 'null'")
_STOP_AT_A_LINE_NOT_A_RECORD = (
    f"CASE WHEN {_NOT_A_RECORD_LINE} THEN raise_error(concat('{NOT_A_RECORD}', input_file_name())) ELSE TRUE END")
#: What the typed read of a raw view raises (``raise_error``) on a record it could not read whole (a field of another
#: JSON type than declared: its line is in the corrupt-record column, and ``meta`` or ``data`` was read), followed
#: by the view's name and the file: :meth:`SparkEngine._job` reads that view again converting such fields as DuckDB
#: does (:mod:`fediscope.engine.spark_raw`) and runs the job again.
TO_CONVERT = "fediscope: fields to convert in "


def _stop_at_a_line_not_read_whole(view: str) -> str:
    """The typed read's filter: a job fails on a line that is not a record (:data:`NOT_A_RECORD`), and on a record
    with a field of another type (:data:`TO_CONVERT`), naming ``view`` (a name of letters and ``_``)."""
    return (f"CASE WHEN {_NOT_A_RECORD_LINE} THEN raise_error(concat('{NOT_A_RECORD}', input_file_name())) "
            f"WHEN `{_CORRUPT}` IS NOT NULL AND (meta IS NOT NULL OR data IS NOT NULL) "
            f"THEN raise_error(concat('{TO_CONVERT}{view} ', input_file_name())) ELSE TRUE END")


class _ToConvert(Exception):
    """A job read a raw view holding a record with a field of another type (:data:`TO_CONVERT`)."""

    def __init__(self, view: str, file: str) -> None:
        super().__init__(f"{view}: {file}")
        self.view, self.file = view, file


class _SumOverflow(Exception):
    """A job's query holding a ``sum`` of whole numbers overflowed 64 bits (``[ARITHMETIC_OVERFLOW]``): to run again
    summing them as DuckDB does (:meth:`SparkEngine._job`)."""


#: Spark's failure at an arithmetic overflow in ANSI mode (a BIGINT ``sum``'s partial sum past 64 bits among them)
_ARITHMETIC_OVERFLOW = "[ARITHMETIC_OVERFLOW]"

# Spark types whose Arrow values are the same Python values as collect()'s (timestamps would gain a time zone).
_ARROW_TYPES = frozenset({"boolean", "byte", "short", "integer", "long", "float", "double", "string", "date"})
# Spark's timestamp types: through Arrow too, their time zone cast away after (SparkEngine._arrow)
_TIMESTAMP_TYPES = frozenset({"timestamp", "timestamp_ntz"})


@contextmanager
def _job_failures(sums_to_widen: Callable[[], bool] | None = None, wide_sums: bool = False) -> Iterator[None]:
    """A Spark job that fails (a task's error, as py4j's ``Py4JJavaError``) as one line, a
    :class:`FediscopeError`: the failure's message and its innermost cause; a file Spark could not read (a raw
    batch it cannot decompress, a damaged curated Parquet file) is named, with what to do, and a raw line that is
    not a record (:data:`NOT_A_RECORD`), or holds a field DuckDB's reader refuses (:data:`spark_raw.WRONG_TYPE`), is
    a :class:`~fediscope.errors.DamagedBatchError` (a LakeError) naming its file. A job cancelled (an interrupt
    cancels every job) is left as it is, for the interrupt's own handling. An arithmetic overflow where
    ``sums_to_widen()`` says the job's queries hold a ``sum`` of whole numbers is a :class:`_SumOverflow`; with
    ``wide_sums`` (the job's second run, its sums as DECIMALs), a wide sum's cast back to a BIGINT failing is DuckDB's
    refusal of it (:func:`_raise_if_wide_sum`; not in another run, whose DECIMAL cast to a BIGINT is the metric's
    own, not a sum's)."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except Py4JJavaError as exc:
        failure, cause = _java_messages(exc.java_exception)
        if "cancelled" in failure.lower():
            raise
        _raise_if_to_convert(failure, cause, exc)
        _raise_if_not_a_record(failure, cause, exc)
        if wide_sums:
            _raise_if_wide_sum(failure, exc)
        _raise_if_sum_overflow(failure + cause, sums_to_widen, exc)
        if _by_zero(failure) != failure:
            failure, cause = _by_zero(failure), ""
        message = f"Spark failed: {failure}" + (f" ({cause})" if cause and cause != failure else "")
        if "FAILED_READ_FILE" in failure and ".json" in failure:
            message += RAW_DAMAGE_HINT
        elif "FAILED_READ_FILE" in failure and ".parquet" in failure:
            message += CURATED_DAMAGE_HINT
        raise FediscopeError(message) from exc
    except PySparkException as exc:  # what pyspark converts a task's error into, on some calls (collect, toArrow)
        _raise_if_to_convert(str(exc), "", exc)
        _raise_if_not_a_record(str(exc), "", exc)
        if wide_sums:
            _raise_if_wide_sum(str(exc), exc)
        _raise_if_sum_overflow(str(exc), sums_to_widen, exc)
        text = str(exc).strip()
        failure = re.sub(r"\s+SQLSTATE: \w+\s*$", "", text.splitlines()[0]).strip() if text else type(exc).__name__
        if "cancelled" in failure.lower():
            raise
        failure = _by_zero(failure)
        # was: raised as it came, a traceback for a metric's value Spark refuses while its rows are read (a division
        # by zero, a cast of 'many' to INTEGER), where DuckDB's engine says it in one line
        raise FediscopeError(f"Spark failed: {failure}") from exc


_BY_ZERO = {"[DIVIDE_BY_ZERO]": "Division by zero", "[REMAINDER_BY_ZERO]": "Remainder by zero"}
#: Spark's failure casting a ``DECIMAL(38, 0)`` back to a BIGINT: a ``sum`` of whole numbers beyond 64 bits, summed
#: so as DuckDB sums to a HUGEINT (:func:`fediscope.engine.dialect._wide_sum`)
_WIDE_SUM = re.compile(
    r'\[CAST_OVERFLOW\] The value (-?\d+)BD of the type "DECIMAL\(38,0\)" cannot be cast to "BIGINT"')


def _raise_if_wide_sum(failure: str, exc: BaseException) -> None:
    """A sum of whole numbers wider than 64 bits as the :class:`SqlError` (exit 2, naming the metric's file) whose
    advice is DuckDB's refusal of it when stored (:func:`~fediscope.engine.base.wide_integer`): CAST it to DOUBLE,
    which the Spark SQL then sums whole, as DuckDB does. Was: ``[ARITHMETIC_OVERFLOW] … Use 'try_add' …``, Spark's
    advice, also where DuckDB's partial sums passed 64 bits and its total did not."""
    match = _WIDE_SUM.search(failure)
    if match:
        raise SqlError(f"a sum of whole numbers is {match.group(1)}, wider than the 64 bits every store holds; CAST "
                       "it to DOUBLE in the metric's SQL: CAST(sum(x) AS DOUBLE)") from exc


def _raise_if_sum_overflow(failure: str, sums_to_widen: Callable[[], bool] | None, exc: BaseException) -> None:
    if _ARITHMETIC_OVERFLOW in failure and sums_to_widen is not None and sums_to_widen():
        raise _SumOverflow() from exc


def _widens(sql: str) -> bool:
    """Whether ``sql`` sums whole numbers: its wide-sum translation differs (:func:`to_spark`)."""
    try:
        return to_spark(sql, True) != to_spark(sql)
    except NotPortableError:  # pragma: no cover - both translate what the job ran
        return False


def _by_zero(failure: str) -> str:
    """Spark's failure at a divisor of 0 (``//``; ``%``) with :data:`DIVISION_BY_ZERO_HINT` for its advice
    (``try_divide``, ``spark.sql.ansi.enabled``), which is no DuckDB SQL; another failure as it is. (``/``, and ``%``
    of a DOUBLE, the Spark SQL gives DuckDB's ±infinity and NaN: :func:`fediscope.engine.dialect._by_zero`.)"""
    for code, what in _BY_ZERO.items():
        if failure.startswith(code):
            return f"{code} {what}{DIVISION_BY_ZERO_HINT}"
    return failure


_TO_CONVERT_RE = re.compile(re.escape(TO_CONVERT) + r"(\w+) (\S+)")


def _raise_if_to_convert(failure: str, cause: str, exc: BaseException) -> None:
    match = _TO_CONVERT_RE.search(failure) or _TO_CONVERT_RE.search(cause)
    if match:
        raise _ToConvert(match.group(1), _local(match.group(2))) from exc


_NOT_A_RECORD_RE = re.compile(re.escape(NOT_A_RECORD) + r"(\S+)")
_WRONG_TYPE_RE = re.compile(re.escape(spark_raw.WRONG_TYPE) + r"(\S+) ([^\n]*?)(?:\s+SQLSTATE: \w+)?\s*(?:\n|$)")


def _raise_if_not_a_record(failure: str, cause: str, exc: BaseException) -> None:
    match = _NOT_A_RECORD_RE.search(failure) or _NOT_A_RECORD_RE.search(cause)
    if match:
        raise DamagedBatchError(f"the raw file {_local(match.group(1))} is damaged: a line is not a JSON record (cut "
                                f"short, edited or damaged since it was landed); nothing was curated; {RESTORE_ADVICE}"
                                ) from exc
    match = _WRONG_TYPE_RE.search(failure) or _WRONG_TYPE_RE.search(cause)
    if match:
        raise DamagedBatchError(f"the raw file {_local(match.group(1))} holds a record with a field curation cannot "
                                f"read as its type: {match.group(2)} (edited, or landed by other means than "
                                f"fediscope's, which quarantines such records); {RESTORE_ADVICE}") from exc


def _local(file: str) -> str:
    """A file Spark names by its URI: a local one by its path."""
    return unquote(urlsplit(file).path) if file.startswith("file:") else file


def _java_messages(error: Any) -> tuple[str, str]:
    """The first line of a Java exception's message (its SQLSTATE dropped) and of its innermost cause's."""
    def first_line(throwable: Any) -> str:
        text = str(throwable.getMessage() or throwable.getClass().getName()).strip().splitlines()[0]
        return re.sub(r"\s+SQLSTATE: \w+\s*$", "", text).strip()

    innermost, depth = error, 0
    while innermost.getCause() is not None and depth < 20:
        innermost, depth = innermost.getCause(), depth + 1
    return first_line(error), first_line(innermost) if depth else ""


def is_local_master(master: str) -> bool:
    return master.startswith("local")


def checkpoints_steps(master: str) -> bool:
    """Whether :meth:`SparkEngine.materialize` makes its steps local checkpoints (on ``master``, a local one), not
    persisted frames."""
    return is_local_master(master)


def find_java(which: Callable[[str], str | None] | None = None) -> str | None:
    """The ``java`` executable Spark's launcher will run, or None if it is not there: ``$JAVA_HOME/bin/java`` when
    ``JAVA_HOME`` is set, else ``java`` on PATH, in that order, as ``spark-class`` chooses.

    PySpark runs the JVM itself (``spark-submit`` → ``java``), also for a cluster master: the driver is local.
    """
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else (which or shutil.which)("java")
    return java if java and os.path.exists(java) else None


def java_not_found() -> str:
    """Why :func:`find_java` found none, in the terms of where Spark looks."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return f"JAVA_HOME={home} has no bin/java (Spark runs that one when JAVA_HOME is set)"
    return "no java on PATH, JAVA_HOME not set"


#: The oldest Java the bundled Spark runs on.
MIN_JAVA = 17


def java_major(java: str) -> int | None:
    """The major version ``java -version`` reports (``1.8.0`` is 8), or None when it does not say."""
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, errors="replace", timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


#: How long the probe of a cluster master waits for each address to take a connection (the JVM itself retries a
#: master that does not answer for over a minute, then says only that the SparkContext could not start).
MASTER_PROBE_SECONDS = 5.0

#: The masters whose address the probe knows, and what to call the one that answers there.
MASTER_KINDS = {"spark": "the Spark master", "k8s": "the Kubernetes API server"}


def unreachable_master(master: str, timeout: float = MASTER_PROBE_SECONDS, origin: str = SETTING) -> str | None:
    """Why no address of ``master`` (:func:`master_addresses`) takes a TCP connection within ``timeout`` seconds
    each, as one line naming each address and its failure; None when one does, or when there is nothing to probe.
    A connection taken is not a master that will accept the application (a wrong service on that port is found
    by the JVM), but it is what the JVM would retry for over a minute without saying why. The addresses are tried
    one after the other: standby masters that all drop the connection cost ``timeout`` each."""
    failures = []
    for host, port in master_addresses(master, origin):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            failures.append(f"{_host_port(host, port)}: {_connect_failure(exc, timeout)}")
        except UnicodeError as exc:  # the resolver's idna codec: an empty or over-long label ("a..b")
            reason = exc.__cause__ or exc.__context__ or exc
            failures.append(f"{_host_port(host, port)}: the host name is not valid ({reason})")
    return "; ".join(failures) or None


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _connect_failure(exc: OSError, timeout: float) -> str:
    if isinstance(exc, socket.gaierror):
        return f"the host name does not resolve ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    return exc.strerror or str(exc) or type(exc).__name__


#: Where the master of a job of ``spark_jobs/`` is set (spark-submit's ``--master`` sets it): not the setting.
SUBMITTED_MASTER = "spark.master"

#: How the duckdb engine is chosen instead, when neither the settings that chose Spark are known nor was Spark
#: chosen by them (``--engine spark``, ``run_process(engine="spark")``): the variable.
DUCKDB_BY_VARIABLE = "use FEDISCOPE_ENGINE=duckdb"


def duckdb_instead(settings: Settings | None = None) -> str:
    """How to choose the duckdb engine instead, where ``settings`` chose Spark (:func:`~fediscope.config.set_to`, as
    ``fediscope doctor`` says it): ``use FEDISCOPE_ENGINE=duckdb``, ``set fediscope.toml: [fediscope] engine to
    'duckdb'``, the Airflow Variable's key. Was: the variable always, also for an engine set in fediscope.toml."""
    if settings is None or settings.engine != "spark":
        return DUCKDB_BY_VARIABLE
    return set_to(settings, "engine", "duckdb", fix=True)


def master_origin(settings: Settings | None = None) -> str:
    """Where the master of ``settings`` was set (:meth:`~fediscope.config.Settings.origin`: the variable, the
    file's key, the Airflow Variable's), as the messages about its value name it; :data:`SETTING` without them."""
    return settings.origin("spark_master") if settings is not None else SETTING


def _local_master_instead(settings: Settings, spark: Any = None) -> str:  # noqa: ANN401 - a SparkSession
    """How to run Spark on this machine instead, where ``settings`` set the master (:func:`~fediscope.config.set_to`);
    the variable for a session given (its master is not the settings')."""
    if spark is not None:
        return f"use {SETTING}=local[*]"
    return set_to(settings, "spark_master", "local[*]", fix=True)


def require_reachable_master(master: str, timeout: float = MASTER_PROBE_SECONDS, origin: str = SETTING,
                             settings: Settings | None = None) -> None:
    """An :class:`EngineStartError` (retried by a scheduled task: a master restarting answers again) when no
    address of a cluster ``master`` takes a connection, before a JVM is started for it; a :class:`ConfigError`
    when it has no address to probe where it needs one (:func:`master_addresses`). ``origin``: where the master
    was set, named as what to check (the setting, or spark-submit's ``--master`` for :func:`submitted_session`);
    the setting as ``settings`` say where it was set (:func:`master_origin`, :func:`duckdb_instead`)."""
    if origin == SETTING:
        origin = master_origin(settings)
    failures = unreachable_master(master, timeout, origin)
    if failures is None:
        return
    kind = MASTER_KINDS[master.partition("://")[0]]
    what = f"{kind} of {master} does not answer" if ";" not in failures else f"no address of {master} answers"
    if origin == SUBMITTED_MASTER:
        check = "spark.master (spark-submit's --master) its right address?"
    else:
        check = f"{origin} its right address? Or {duckdb_instead(settings)}"
    raise EngineStartError(f"cannot start Spark: {what} ({failures}): is {kind} running, and is {check}")


#: The endings of the configuration files log4j2 reads (``log4j2.properties``, ``log4j2-test.xml``, …): not Spark's
#: ``log4j2.properties.template``, which every Spark distribution has in its ``conf`` directory and log4j2 ignores.
_LOG4J2_FILE_RE = re.compile(r"log4j2.*\.(?:properties|xml|json|jsn|yaml|yml)")


def _users_log_configuration(java_options: str = "") -> bool:
    """Whether the user chose the JVM's log configuration: log4j2's variable, a log4j2 configuration file in Spark's
    configuration directory (``SPARK_CONF_DIR``, else ``SPARK_HOME/conf`` as pyspark's launcher finds it), or a
    ``-Dlog4j…`` system property in the driver's ``java_options`` (``spark.driver.extraJavaOptions``)."""
    if "LOG4J_CONFIGURATION_FILE" in os.environ or "-Dlog4j" in java_options:
        return True
    import pyspark

    spark_home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    conf_dir = Path(os.environ.get("SPARK_CONF_DIR") or os.path.join(spark_home, "conf"))
    return conf_dir.is_dir() and any(_LOG4J2_FILE_RE.fullmatch(path.name) for path in conf_dir.iterdir())


@contextmanager
def _quiet_local_jvm(quiet: bool) -> Iterator[None]:
    """While a local driver's JVM starts: its log configuration :data:`LOCAL_LOG4J2`, through log4j2's own
    environment variable, which the JVM inherits. Not a Spark option (``spark.driver.extraJavaOptions`` given by
    the builder would replace the user's own from ``spark-defaults.conf``), and not over a configuration file the
    user chose: through that variable, or a ``log4j2.*`` file in Spark's configuration directory."""
    if not quiet or _users_log_configuration():
        yield
        return
    os.environ["LOG4J_CONFIGURATION_FILE"] = LOCAL_LOG4J2.as_uri()
    try:
        yield
    finally:
        os.environ.pop("LOG4J_CONFIGURATION_FILE", None)


def require_java(prefix: str, alternative: str = "") -> None:
    """A :class:`ConfigError` (``prefix`` first, ``alternative`` last) when the Java Spark's launcher would run is
    missing or older than :data:`MIN_JAVA`: a setting to fix, said as such, where pyspark would raise
    ``JAVA_GATEWAY_EXITED``, which does not say why (and Airflow would retry it)."""
    java = find_java()
    if java is None:
        raise ConfigError(f"{prefix}Java not found ({java_not_found()}); install Java 17 "
                          f"(apt-get install openjdk-17-jre-headless){alternative}")
    major = java_major(java)
    if major is not None and major < MIN_JAVA:
        raise ConfigError(f"{prefix}Java {major} found at {java}; Spark needs Java {MIN_JAVA}+: install it "
                          f"(apt-get install openjdk-17-jre-headless) and set JAVA_HOME to it{alternative}")


#: What a missing Java is told to do instead: the engine that needs none (:func:`no_java_alternative`).
NO_JAVA_ALTERNATIVE = " or use the duckdb engine, which needs no Java (--engine duckdb, FEDISCOPE_ENGINE=duckdb)"


def no_java_alternative(settings: Settings | None = None) -> str:
    """:data:`NO_JAVA_ALTERNATIVE`, naming where ``settings`` chose Spark (:func:`duckdb_instead`) when that is not
    the variable."""
    instead = duckdb_instead(settings)
    if instead == DUCKDB_BY_VARIABLE:
        return NO_JAVA_ALTERNATIVE
    return f" or use the duckdb engine, which needs no Java (--engine duckdb, or {instead})"


def session_defaults(master: str) -> dict[str, str]:
    """The Spark settings :func:`build_session` gives a session the user's Spark configuration (``spark-defaults.conf``,
    ``PYSPARK_SUBMIT_ARGS``' ``--conf``) does not set: on one machine, few shuffle partitions, no web UI, and input
    files listed in the driver (no job). (The console progress bar is off whatever it says: spark-submit turns it
    on for the pyspark shell it starts the driver's JVM as, so a user's choice cannot be told from its own.)"""
    if not is_local_master(master):
        return {}
    return {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
            "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000"}


#: The variables one of which spark-submit requires for a ``yarn`` master (where Hadoop's client finds the
#: ResourceManager's address, ``yarn-site.xml``).
YARN_CONF_VARIABLES = ("HADOOP_CONF_DIR", "YARN_CONF_DIR")


def yarn_conf_dir_missing(master: str) -> str | None:
    """Why spark-submit would refuse a ``yarn`` master in this environment (neither of
    :data:`YARN_CONF_VARIABLES` set, its own check), or None."""
    if not master.startswith("yarn") or any(name in os.environ for name in YARN_CONF_VARIABLES):
        return None
    return ("a yarn master needs HADOOP_CONF_DIR or YARN_CONF_DIR set to the directory of the cluster's "
            "yarn-site.xml and core-site.xml (Hadoop's client finds the ResourceManager there)")


def require_yarn_conf_dir(master: str, settings: Settings | None = None) -> None:
    """A :class:`ConfigError` (exit 2) for a ``yarn`` master without :data:`YARN_CONF_VARIABLES`, before the JVM
    starts: spark-submit printed its stack trace for it, then the engine said only that the JVM exited. The master
    and the engine are named where ``settings`` set them (:func:`~fediscope.config.set_to`)."""
    problem = yarn_conf_dir_missing(master)
    if problem:
        setting = set_to(settings, "spark_master", master) if settings is not None else f"{SETTING}={master}"
        raise ConfigError(f"{setting}: {problem}; or {duckdb_instead(settings)}")


#: Spark's setting of the directory its catalog's default database is in: unless set, ``spark-warehouse`` in the current
#: directory, which Spark makes (empty: fediscope keeps its tables in the lake, and temporary views only in Spark) the
#: first time a query names a table that is no view, a user's metric reading a table that is not there, say. So
#: ``fediscope process --engine spark`` left an empty ``spark-warehouse/`` in the directory it was run from (a
#: user's home, the worker's of an Airflow task), and the Spark tests one in the checkout.
WAREHOUSE_DIR = "spark.sql.warehouse.dir"
#: the names of :func:`process_warehouse`'s directories under the temporary directory
WAREHOUSE_PREFIX = "fediscope-spark-warehouse-"
_process_warehouse: list[Any] = []  # the process's SpillDirectory, once made


def process_warehouse() -> str:
    """The ``file:`` URI of a directory of this process's own under the temporary directory (``TMPDIR``), for
    :data:`WAREHOUSE_DIR`: made the first time it is asked for, and removed with what Spark may have put in it when
    the process exits (every session of the process shares it). It is locked as DuckDB's spill directories are
    (:class:`~fediscope.engine.duckdb_connection.SpillDirectory`): one left by a process killed outright (SIGKILL,
    the SIGKILL Airflow sends a task 5 s after SIGTERM, a test run stopped) is removed when the next one is made.
    Was: removed at exit only, so each killed process left a ``fediscope-spark-warehouse-*`` in /tmp for good."""
    from fediscope.engine.duckdb_connection import SpillDirectory, remove_abandoned

    if not _process_warehouse:
        remove_abandoned(prefix=WAREHOUSE_PREFIX, whose=("Spark", "the catalog's warehouse directory"))
        _process_warehouse.append(SpillDirectory(WAREHOUSE_PREFIX, "for Spark's catalog warehouse"))
    return _process_warehouse[0].path.as_uri()


def remove_process_warehouse() -> None:
    """:func:`process_warehouse`'s directory removed now rather than at exit, if made (the test session's end, its
    Spark session stopped; tests/conftest.py); the next session of the process gets a new one."""
    while _process_warehouse:
        _process_warehouse.pop().remove()


def _with_warehouse(builder: Any) -> Any:  # noqa: ANN401 - a SparkSession.Builder
    """``builder`` with :data:`WAREHOUSE_DIR` at :func:`process_warehouse` where the Spark configuration the driver's
    JVM was started with (``spark-defaults.conf``, ``--conf``, ``PYSPARK_SUBMIT_ARGS``) sets none, and the session is
    to start with it: not where a SparkContext runs already (its warehouse is set), nor with a Hive metastore
    (``spark.sql.catalogImplementation`` ``hive``), whose warehouse is the metastore's."""
    from pyspark import SparkConf, SparkContext

    users = SparkConf()
    if (SparkContext._active_spark_context is not None or users.contains(WAREHOUSE_DIR)
            or users.get("spark.sql.catalogImplementation", "in-memory") == "hive"):
        return builder
    return builder.config(WAREHOUSE_DIR, process_warehouse())


def build_session(master: str, app_name: str = "fediscope", settings: Settings | None = None) -> Any:
    """A SparkSession for ``master``; small shuffles and no UI/progress bar when local. ``settings``: those that
    chose Spark and ``master``, whose errors name where they set them (else the variables)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is a dependency, but keep the message clear
        raise ConfigError("engine=spark needs pyspark (pip install pyspark) and Java 17+; "
                          f"or {duckdb_instead(settings)}") from None
    require_java("engine=spark: ", no_java_alternative(settings))
    require_yarn_conf_dir(master, settings)  # else spark-submit's stack trace, and "its Java process exited at start"
    # else the JVM retries it for over a minute, then fails without saying why
    require_reachable_master(master, settings=settings)
    from pyspark import SparkConf, SparkContext

    builder = SparkSession.builder.appName(app_name).master(master)
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.ui.showConsoleProgress", "false")  # its bar would draw over fediscope's lines
    # a local driver's JVM logs only its errors, unless fediscope logs at DEBUG
    quiet = is_local_master(master) and not log.isEnabledFor(logging.DEBUG)
    handler = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    try:
        with _quiet_local_jvm(quiet):
            # the driver's JVM first (spark-submit, which reads spark-defaults.conf and PYSPARK_SUBMIT_ARGS), with
            # what fediscope sets whatever the user's configuration says, as getOrCreate would start it ...
            launch = SparkConf().setMaster(master).setAppName(app_name).setAll(list(SESSION_CONF.items()))
            SparkContext._ensure_initialized(conf=launch)
            # ... so that fediscope's defaults go only where that configuration sets nothing (was: they replaced it,
            # so a spark.sql.shuffle.partitions or spark.ui.enabled of spark-defaults.conf was ignored in local mode)
            users = SparkConf()
            for key, value in session_defaults(master).items():
                if not users.contains(key):
                    builder = builder.config(key, value)
            # its catalog's warehouse not in the current directory, which it would litter (WAREHOUSE_DIR)
            session = _with_warehouse(builder).getOrCreate()
    except Exception as exc:  # the JVM exited, a master did not answer: py4j and pyspark raise plain exceptions
        # not a ConfigError: the settings were checked (the master's form, Java found), and a JVM that could not
        # start for want of memory or a master restarting may well start on a retry (Airflow retries this one)
        failure = _start_failure(exc, master, master_origin(settings))
        raise EngineStartError(f"cannot start Spark with master {master!r}: {failure}, "
                               f"or {duckdb_instead(settings)}") from None
    _one_line_accumulator_errors(session.sparkContext)
    if quiet:
        # the JVM's own log (WARN by default: a line per windowed metric, a task's stack trace when a job fails,
        # which the job's FediscopeError already says in one line) only when fediscope logs at DEBUG
        session.sparkContext.setLogLevel("FATAL")
        _quiet_query_context_loggers()
    if handler is not None and signal.getsignal(signal.SIGINT) is not handler:
        # A new SparkContext puts its own SIGINT handler in place, which cancels the jobs through the py4j connection
        # the main thread is waiting on for its job's answer: Ctrl-C then failed with "reentrant call inside
        # BufferedReader", logged tracebacks and "aborted". The handler that was there stays (the CLI's:
        # "interrupted", exit 130; a task's stop_on_sigterm), and SparkEngine cancels the jobs from the interrupt
        # relay's own thread instead.
        signal.signal(signal.SIGINT, handler)
    return session


def submitted_session(app_name: str) -> Any:
    """The SparkSession of a job of ``spark_jobs/``, on the master spark-submit was given (its ``--master``, else
    ``spark.master`` of ``--conf`` or ``spark-defaults.conf``, else ``local[*]``; run by hand, the same through
    ``PYSPARK_SUBMIT_ARGS``), which is probed first as :func:`build_session` probes its own: a master that takes
    no connection is an :class:`EngineStartError` in one line, not the SparkContext's retries for over a minute.

    Only the SparkContext connects to the master, not the driver's JVM: spark-submit started that one already
    (pyspark finds it by ``PYSPARK_GATEWAY_PORT``); run by hand, it is started here as ``getOrCreate`` would start
    it. The master is read from that JVM's configuration, so what is probed is what the SparkContext will use; a
    master it does not hold (or a session already running) is not probed. The job runs with the configuration it
    was submitted with, but for its catalog's warehouse where that sets none (:func:`_with_warehouse`: not in the
    directory spark-submit was run from); only the JVM's log is quieted once its SparkContext has started, when the
    user chose no log configuration of their own (:func:`_quiet_submitted_jvm`)."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    started_here = SparkContext._active_spark_context is None
    if started_here:
        if "PYSPARK_GATEWAY_PORT" not in os.environ:  # run by hand: the JVM is started here, with this Java
            require_java("cannot start Spark: ", "; or run the job with spark-submit on a machine that has it")
        try:
            SparkContext._ensure_initialized()  # the driver's JVM (py4j's gateway), which getOrCreate starts first
        except Exception as exc:  # py4j and pyspark raise plain exceptions
            raise EngineStartError(f"cannot start Spark: {_start_failure(exc, '', SUBMITTED_MASTER)}") from None
        master = SparkConf().get("spark.master", None)
        if master:
            _require_master_form(master)
            require_reachable_master(master, origin=SUBMITTED_MASTER)
    handler = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    try:
        # the one setting given where the job's configuration sets none: its catalog's warehouse is not made in the
        # directory spark-submit was run from (WAREHOUSE_DIR)
        session = _with_warehouse(SparkSession.builder.appName(app_name)).getOrCreate()
    except Exception as exc:  # the SparkContext did not start: py4j and pyspark raise plain exceptions
        raise EngineStartError(f"cannot start Spark: {_context_failure(exc)} (check spark-submit's --master and "
                               "--conf)") from None
    if handler is not None and signal.getsignal(signal.SIGINT) is not handler:
        # as in build_session: the SparkContext's own SIGINT handler is taken out again (it made Ctrl-C end the job
        # in a KeyboardInterrupt traceback); the job's (fediscope.interrupts.keyboard_interrupts) cancels the jobs
        # from its relay's thread and says "interrupted"
        signal.signal(signal.SIGINT, handler)
    if started_here:
        _one_line_accumulator_errors(session.sparkContext)
        _quiet_submitted_jvm(session)
    return session


def _one_line_accumulator_errors(context: Any) -> None:  # noqa: ANN401 - a SparkContext
    """A failure of pyspark's accumulator server (a TCP port on localhost the JVM sends task results' accumulator
    updates to) as one WARNING line, not socketserver's traceback on stderr: any other local process connecting to
    that port (a port scan, a program probing for a free port) made it print 17 lines ("Exception occurred during
    processing of request …", "The value of the provided token to the AccumulatorServer is not correct") in the
    middle of a run, which went on unharmed."""
    server = getattr(context, "_accumulatorServer", None)
    if server is None:
        return

    def handle_error(request: Any, client_address: Any) -> None:  # noqa: ANN401 - socketserver's arguments
        exc = sys.exc_info()[1]
        log.warning("spark: pyspark's accumulator server refused a connection from %s: %s",
                    client_address, str(exc).strip() or type(exc).__name__)

    server.handle_error = handle_error


def _quiet_submitted_jvm(session: Any) -> None:  # noqa: ANN401 - a SparkSession
    """A job of ``spark_jobs/`` logs the JVM's warnings (on a cluster) or errors (local mode) only, not Spark's
    default INFO: 27,000 lines on spark-submit's stderr for a curation of 2,000 statuses, each query's plans among
    them; and pyspark's Python loggers are quieted as :func:`build_session` quiets them. Not when fediscope logs at
    DEBUG, nor over a log configuration the user chose (:func:`_users_log_configuration`, with the driver's
    ``spark.driver.extraJavaOptions``). Only from here on: the JVM's lines while its SparkContext started are
    logged as its configuration says."""
    if log.isEnabledFor(logging.DEBUG):
        return
    context = session.sparkContext
    if _users_log_configuration(context.getConf().get("spark.driver.extraJavaOptions", "") or ""):
        return
    context.setLogLevel("ERROR" if is_local_master(context.master) else "WARN")
    _quiet_query_context_loggers()


def _require_master_form(master: str) -> None:
    """A :class:`ConfigError` (exit 2, as for FEDISCOPE_SPARK_MASTER) for a ``spark.master`` of no form Spark takes:
    spark-submit refuses a master that does not start with ``local``, ``spark``, ``k8s`` or ``yarn`` itself, but
    passes ``local[x]`` on, and the SparkContext then failed with a Python traceback ("Could not parse Master
    URL") on stdout."""
    from fediscope.engine.spark_master import LOCAL_CLUSTER_REFUSED, MASTER_FORM_RE, MASTER_FORMS, shown_master

    if master.startswith("local-cluster"):  # spark-submit passes it on too
        raise ConfigError(f"{SUBMITTED_MASTER}={shown_master(master)}: {LOCAL_CLUSTER_REFUSED}")
    if not MASTER_FORM_RE.fullmatch(master):
        raise ConfigError(f"{SUBMITTED_MASTER}={shown_master(master)}: not a Spark master URL; give spark-submit's "
                          f"--master one of {MASTER_FORMS}")


def _context_failure(exc: Exception) -> str:
    """The first line of why the SparkContext did not start: the Java exception's own message for py4j's error,
    whose text is only "An error occurred while calling …" followed by the JVM's stack trace."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        failure, cause = _java_messages(java)
        return failure + (f" ({cause})" if cause and cause != failure else "")
    return str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__


def _start_failure(exc: Exception, master: str, setting: str = SETTING) -> str:
    """Why ``getOrCreate`` failed, with where to look. When the JVM exits before it answers (pyspark's
    ``JAVA_GATEWAY_EXITED``, which says no more), Java was found and is recent enough, so what remains is what the
    JVM was started with, and the JVM has said which on stderr just above: a driver memory it refuses
    (``-Xmxbanana``), a Java option, too little free memory, or a cluster master's own settings (yarn without
    ``HADOOP_CONF_DIR``). Pointing at FEDISCOPE_SPARK_MASTER and Java then sent users to the wrong place."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "JAVA_GATEWAY_EXITED" not in first:
        return f"{first} (check {setting} and that Java 17+ is installed)"
    options = ("the driver memory or Java options given by SPARK_DRIVER_MEMORY, PYSPARK_SUBMIT_ARGS or "
               "spark-defaults.conf, or free memory")
    if not is_local_master(master):
        options += ", or this master's own settings"
    return f"its Java process exited at start; the JVM's message above says why: check {options}"


def _quiet_query_context_loggers() -> None:
    """pyspark's own Python loggers print a failed query's error again, as a JSON line holding the JVM's stack
    trace (a metric's SQL naming an unknown function, say), before the job's FediscopeError says it in one line:
    on a quiet local driver (and a quiet job of ``spark_jobs/``, :func:`_quiet_submitted_jvm`) only a CRITICAL one is
    shown."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # pragma: no cover - pyspark < 4 has neither those loggers nor the module
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def arrow_schema(schema: Any) -> Any:
    """A Spark result's column types (``frame.schema``, known once the query is analysed: no job runs) as the Arrow
    types DuckDB's result has for them, which :func:`~fediscope.engine.metric_state.refuse_unstorable_types`
    checks: an array is a list, a map a map, a struct a struct, binary is binary, and each of Spark's intervals
    (day-time, year-month, calendar) DuckDB's INTERVAL. A type with no counterpart here (Spark's variant, time,
    geometry) is text, as its collected values are."""
    import pyarrow as pa

    return pa.schema([pa.field(field.name, _arrow_type(field.dataType)) for field in schema.fields])


def _arrow_type(kind: Any) -> Any:
    import pyarrow as pa
    from pyspark.sql import types

    if isinstance(kind, types.ArrayType):
        return pa.list_(_arrow_type(kind.elementType))
    if isinstance(kind, types.MapType):
        return pa.map_(_arrow_type(kind.keyType), _arrow_type(kind.valueType))
    if isinstance(kind, types.StructType):
        return pa.struct([pa.field(field.name, _arrow_type(field.dataType)) for field in kind.fields])
    if isinstance(kind, types.DecimalType):
        return pa.decimal128(kind.precision, kind.scale)
    if isinstance(kind, types.DayTimeIntervalType | types.YearMonthIntervalType | types.CalendarIntervalType):
        return pa.month_day_nano_interval()
    leaves = {"boolean": pa.bool_(), "byte": pa.int8(), "short": pa.int16(), "integer": pa.int32(),
              "long": pa.int64(), "float": pa.float32(), "double": pa.float64(), "binary": pa.binary(),
              "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"), "timestamp_ntz": pa.timestamp("us"),
              "void": pa.null()}
    return leaves.get(kind.typeName(), pa.string())


#: the Spark types whose collected Python values (``int``, ``float``, ``Decimal``, ``str``, ``date``, a naive
#: ``datetime``) :func:`collected_table` puts in a column of the type :func:`arrow_schema` gives
_COLLECTED_TYPES = _ARROW_TYPES | _TIMESTAMP_TYPES | {"void"}


def collected_table(rows: list[dict[str, Any]], schema: Any) -> Any:
    """Collected rows (a result outside Spark's Arrow path: one with a timestamp column, say) as an Arrow table typed
    by the result's Spark schema, as ``toArrow`` and DuckDB type theirs, not by the values: a DECIMAL column
    (``count(*) * 1.0``) was an integer column when a run's values were all whole, a float one otherwise, so a
    store's column type (and :meth:`~fediscope.store.base.MetricStore.write`'s ``exact_types`` rebuild) depended on
    the data. A timestamp is naive, as collected (the curated tables' ``TIMESTAMP_NTZ``, DuckDB's ``TIMESTAMP``).
    Other types (lists, structs, binary, intervals, which no store holds) keep the values' inferred types."""
    import pyarrow as pa

    types = {field.name: _arrow_type(field.dataType) for field in schema.fields
             if field.dataType.typeName() in _COLLECTED_TYPES or field.dataType.typeName().startswith("decimal")}
    types = {name: pa.timestamp("us") if pa.types.is_timestamp(kind) else kind for name, kind in types.items()}
    names = list(dict.fromkeys(field.name for field in schema.fields))
    inferred = [name for name in names if name not in types]
    rest = rows_table([{name: row[name] for name in inferred} for row in rows]) if inferred else None
    return pa.table([pa.array([row[name] for row in rows], types[name]) if name in types else rest.column(name)
                     for name in names], names=names)


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, settings: Settings, lake: LakeBackend | None = None, spark: Any = None) -> None:
        super().__init__(settings, lake)
        master = spark.sparkContext.master if spark is not None else settings.spark_master
        if self.lake.local_path("") is None and not settings.spark_lake_uri and not is_local_master(master):
            path = urlsplit(self.lake.url).path or "/"
            raise ConfigError(
                f"engine=spark on a cluster ({master}) with a WebHDFS lake ({redact_url(self.lake.url)}) needs "
                f"{settings.origin('spark_lake_uri', advice=True)}: the same directory as the executors address "
                f"it, e.g. hdfs://<namenode>:8020{path} (executors cannot see a copy on the driver). "
                f"Or {_local_master_instead(settings, spark)} or the duckdb engine")
        self._owns_session = spark is None
        self._direct_root_checked = False
        self.spark = spark if spark is not None else build_session(master, settings=settings)
        for key, value in SESSION_CONF.items():
            if key != "spark.sql.parquet.inferTimestampNTZ.enabled":
                self.spark.conf.set(key, value)
        self._persisted: dict[str, Any] = {}
        self._checkpoints = checkpoints_steps(self.spark.sparkContext.master)
        self._raw: dict[str, tuple[str, list[str]]] = {}  # raw view -> its entity and files (register_raw)
        self._converting: set[str] = set()  # raw views read converting fields of another type (_job)
        self._wide_sums = False  # sums of whole numbers summed as DuckDB does, on a job's second run (_job)
        self._ran: list[str] = []  # the SQL a job's run translated (_job)
        self._views: set[str] = set()  # temporary views this engine created (dropped on close)
        # Ctrl-C, or SIGTERM under stop_on_sigterm: the running jobs end at once (from the relay's thread, on a py4j
        # connection of its own), and the main thread's wait for their answer with them
        self._stop_relaying = on_interrupt(self.spark.sparkContext.cancelAllJobs)

    def direct_lake_uri(self) -> str | None:
        """``spark_lake_uri``: Spark reads and writes the lake there itself (``hdfs://…``), no local copy. Checked
        once, when the workspace is made (before anything is read or written), to name the lake's directory:
        :meth:`_check_direct_root`."""
        uri = self.settings.spark_lake_uri
        if uri and not self._direct_root_checked:
            self._check_direct_root(uri)
            self._direct_root_checked = True
        return uri

    def _check_direct_root(self, uri: str) -> None:
        """Refuse a ``spark_lake_uri`` that is not the lake's directory as Spark addresses it: the lake's top-level
        directories (``raw/``, ``_state/``, …, listed through the lake backend) must be there too, as Spark's Hadoop
        filesystem sees them. A :class:`ConfigError` naming the setting when one is missing (a typo in the path,
        another namenode's directory); a :class:`FediscopeError` when Spark cannot reach it at all (no filesystem
        for its scheme, a namenode that does not answer). Was: the first read there (the curated tables, for the
        metrics) ended in a traceback of pyspark's (``[PATH_NOT_FOUND] Path does not exist``), or of 200 lines of
        Java for a namenode that does not answer. A lake with nothing in it yet has nothing to compare."""
        from py4j.protocol import Py4JJavaError

        setting = f"{self.settings.origin('spark_lake_uri')}={redact_url(uri)}"
        tops = sorted(entry.path.rstrip("/").rsplit("/", 1)[-1] for entry in self.lake.list("") if entry.is_dir)
        if not tops:
            return
        jvm = self.spark._jvm
        try:
            root = jvm.org.apache.hadoop.fs.Path(uri)
            filesystem = root.getFileSystem(self.spark._jsc.hadoopConfiguration())
            missing = [name for name in tops if not filesystem.exists(jvm.org.apache.hadoop.fs.Path(root, name))]
        except Py4JJavaError as exc:
            failure, cause = _java_messages(exc.java_exception)
            reason = failure + (f" ({cause})" if cause and cause != failure else "")
            raise FediscopeError(f"Spark cannot reach the lake at {setting}: {reason}; check that it is the lake's "
                                 "directory as Spark addresses it (hdfs://<namenode>:8020/<the lake's path>) and that "
                                 "the namenode's RPC port answers") from None
        if missing:
            raise ConfigError(f"{setting} is not the lake's directory as Spark addresses it: Spark finds no "
                              f"{', '.join(name + '/' for name in missing)} there, which the lake "
                              f"{redact_url(self.lake.url)} holds; set it to the same directory as the lake's, e.g. "
                              f"hdfs://<namenode>:8020{urlsplit(self.lake.url).path or '/'} for a webhdfs:// lake")

    def _sql(self, sql: str) -> Any:
        """``sql`` run: its text refused (not portable, not valid, an unknown table, column or function) is a
        :class:`SqlError`, which a metric's run reports as its file's mistake."""
        from pyspark.errors import AnalysisException, PySparkException

        try:
            self._ran.append(sql)
            # the plain call as metrics.check_spark_portable makes it, whose cached translation it reuses
            return self.spark.sql(to_spark(sql, True) if self._wide_sums else to_spark(sql))
        except NotPortableError as exc:  # a user's metric (ours are tested): a ValueError, else a traceback
            raise SqlError(str(exc)) from None
        except AnalysisException as exc:  # ParseException included: what Spark refuses before running a job
            raise SqlError(f"Spark SQL failed: {str(exc).splitlines()[0]}") from exc
        except PySparkException as exc:
            raise FediscopeError(f"Spark SQL failed: {str(exc).splitlines()[0]}") from exc

    def register_raw(self, view: str, entity: str, files: Sequence[str]) -> None:
        self._raw[view] = (entity, list(files))
        if files:
            # PERMISSIVE: a record Spark cannot read whole (a field of another JSON type than declared) keeps the
            # fields it could read and its line in the corrupt-record column; FAILFAST failed the whole lake on
            # `"bot": "true"`, which DuckDB casts. The typed read stops the job there (TO_CONVERT): _job reads the
            # view again, converting such fields as DuckDB converts them or stopping where DuckDB stops (spark_raw),
            # and runs the job again. So a lake without such records costs one cheap filter, and one with them a
            # second pass. A line that is not a JSON record at all (edited, or damaged inside a file that still ends
            # with a newline) reads as a row of NULLs whose text is in the corrupt-record column: the filter stops
            # the job there, naming the file, as DuckDB stops. Files cut short or emptied are refused before any
            # engine reads them (lake.batches.check_whole_batches).
            frame = (self.spark.read.schema(f"{spark_ddl(entity)}, `{_CORRUPT}` STRING")
                     .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", _CORRUPT).json(list(files)))
            if view in self._converting:
                frame = self._as_duckdb_reads(frame.where(_STOP_AT_A_LINE_NOT_A_RECORD), entity)
            else:
                frame = frame.where(_stop_at_a_line_not_read_whole(view)).drop(_CORRUPT)
        else:
            frame = self.spark.createDataFrame([], spark_ddl(entity))
        self._view(frame, view)

    @staticmethod
    def _as_duckdb_reads(frame: Any, entity: str) -> Any:
        """The typed read's records, those Spark could not read whole (their line in the corrupt-record column)
        read again loosely and converted as DuckDB's reader converts them (:mod:`fediscope.engine.spark_raw`); a
        record DuckDB refuses fails the job (:data:`spark_raw.WRONG_TYPE`). Every record pays for the projection
        (a copy of each row: 15 to 40% more time for the one pass over the raw statuses, measured), hence only
        after a job met such a record (:meth:`_job`)."""
        loose = (f"CASE WHEN `{_CORRUPT}` IS NOT NULL AND (meta IS NOT NULL OR data IS NOT NULL) "
                 f"THEN from_json(`{_CORRUPT}`, '{spark_raw.loose_ddl(entity, _CORRUPT)}', "
                 f"map('mode', 'PERMISSIVE', 'columnNameOfCorruptRecord', '{_CORRUPT}')) END")
        schema = record_schema(entity)
        return (frame.selectExpr("meta", "data", f"`{_CORRUPT}`", f"{loose} AS `{_LOOSE}`")
                .where(spark_raw.stop_at_a_wrong_shape(entity, f"`{_LOOSE}`", _CORRUPT, f"`{_CORRUPT}`"))
                .selectExpr(*[f"CASE WHEN `{_LOOSE}` IS NULL THEN `{name}` "
                              f"ELSE {spark_raw.converted(f'`{_LOOSE}`.`{name}`', t, name)} END AS `{name}`"
                              for name, t in schema.items()]))

    def _view(self, frame: Any, name: str) -> None:
        frame.createOrReplaceTempView(name)
        self._views.add(name)

    def register_parquet(self, view: str, table: Table, paths: Sequence[Location], root: Location) -> None:
        # a LakeURI was listed through the lake by the workspace; a local directory is listed here
        paths = [p for p in paths if isinstance(p, LakeURI) or parquet_files(Path(p))]
        if not paths:
            self.register_empty(view, table)
            return
        # merged by name: files written before a column was added lack it (NULL there, and everywhere if none has it)
        frame = (self.spark.read.option("basePath", str(root)).option("mergeSchema", "true")
                 .parquet(*[str(p) for p in paths]))
        present = set(frame.columns)
        cols = [f"CAST({f'`{c}`' if c in present else 'NULL'} AS {spark_type(t)}) AS `{c}`"
                for c, t in table.columns.items()]
        self._view(frame.selectExpr(*cols), view)

    def register_empty(self, view: str, table: Table) -> None:
        self._view(self.spark.createDataFrame([], table_spark_ddl(table)), view)

    def register_rows(self, view: str, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        self._view(self.spark.createDataFrame(list(rows), table_spark_ddl(table)), view)

    def _job(self, run: Callable[[], _T]) -> _T:
        """``run()``, whose Spark job's failure is one line (:func:`_job_failures`). A job that met a raw record
        with a field of another type (:data:`TO_CONVERT`) runs again once its raw view reads such fields as DuckDB
        does (:meth:`_as_duckdb_reads`); ``run`` builds its frames from SQL each time, so they read that view anew
        (views made from the raw ones before read them whole: they hold no such record).

        A job whose query sums whole numbers and that overflowed 64 bits (Spark's BIGINT ``sum`` stops once a
        partial sum does) runs again once, summing them as DuckDB does, to a ``DECIMAL(38, 0)``
        (``to_spark(sql, wide_sums=True)``); a total still beyond 64 bits is then refused as DuckDB refuses it
        (:func:`_raise_if_wide_sum`), another overflow fails as before. Only then: the DECIMAL sums cost (the
        built-in metrics took half as long again), for totals that hardly ever near 2^63."""
        def sums_to_widen() -> bool:
            return not self._wide_sums and any(_widens(sql) for sql in self._ran)

        try:
            while True:
                self._ran = []
                try:
                    with _job_failures(sums_to_widen, self._wide_sums):
                        return run()
                except _SumOverflow:
                    log.info("spark: a sum of whole numbers overflowed 64 bits: running the query again summing "
                             "them as DuckDB does (DECIMAL(38, 0))")
                    self._wide_sums = True
                except _ToConvert as exc:
                    if exc.view in self._converting or exc.view not in self._raw:  # pragma: no cover - defensive
                        raise FediscopeError(f"Spark failed: {exc.view} read its records twice ({exc.file})") from exc
                    log.info("spark: %s holds a record with a field of another JSON type than declared (the first "
                             "in %s): reading it again as DuckDB converts such fields", exc.view, exc.file)
                    self._converting.add(exc.view)
                    self.register_raw(exc.view, *self._raw[exc.view])
        finally:
            self._wide_sums = False

    def materialize(self, name: str, sql: str) -> int:
        """The rows of ``sql`` computed once, as the view ``name``: persisted (memory, then disk), or on a local
        master a local checkpoint, whose plan is a leaf. Why: a query over a persisted frame's view is analysed with
        the whole plan of every step before it inlined (the cache is used only after analysis), and Spark's analyser
        (``DeduplicateRelations``, ``CheckAnalysis``) took most of a curation's time walking them: a small lake's
        curation took 16 to 20 s once warm, 6 to 8 s with checkpoints. A checkpoint's blocks have no lineage to
        recompute them from, so a lost executor would fail the run: on a cluster the frames stay persisted; on a
        local master the executor is the driver's own JVM, and cannot be lost alone. (``unpersist`` releases a
        persisted step at once; a checkpoint's blocks are released by Spark's ContextCleaner once the JVM no longer
        holds its plan: after :meth:`close` drops the views.)"""
        from pyspark import StorageLevel

        def run() -> int:
            if name in self._persisted:
                self._persisted.pop(name).unpersist()
            frame = self._sql(sql)
            frame = (frame.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK) if self._checkpoints
                     else frame.persist(StorageLevel.MEMORY_AND_DISK))
            self._view(frame, name)
            self._persisted[name] = frame
            return int(frame.count())

        return self._job(run)

    def query(self, sql: str) -> list[Row]:
        """The rows of a query; flat results come back through Arrow (``toArrow``), faster than
        ``collect()``, which builds one pickled ``Row`` per record. Timestamps, nested types and duplicate
        column names keep the ``collect()`` path, whose Python values they would otherwise change."""
        def run() -> list[Row]:
            frame = self._sql(sql)
            if self._flat(frame):
                return list(frame.toArrow().to_pylist())
            return [row.asDict(recursive=True) for row in frame.collect()]

        return self._job(run)

    def query_arrow(self, sql: str) -> Any:
        return self._job(lambda: self._arrow(self._sql(sql)))

    def storable_arrow(self, sql: str) -> Any:
        """The rule of :meth:`Engine.storable_arrow <fediscope.engine.base.Engine.storable_arrow>` applied to the
        result's Spark column types (:func:`arrow_schema`), before a job runs: :meth:`query_arrow` collects a
        struct, map, binary or interval column as its Python text (``{'n': 1}``, ``b'ab'``, ``1 day, 0:00:00``), and
        fails on a year-month interval (pyspark converts none), which DuckDB's engine refuses by its types."""
        from fediscope.engine.metric_state import refuse_unstorable_types

        refuse_unstorable_types(arrow_schema(self._sql(sql).schema))
        return self.query_arrow(sql)

    def _arrow(self, frame: Any) -> Any:
        """A frame's rows as Arrow (run inside :meth:`_job`). Timestamps too come through ``toArrow``, as the naive UTC
        times :func:`collected_table` gives (the session's time zone is UTC): ``collect()`` makes each a Python
        ``datetime``, and failed with ``ValueError: year 10000 is out of range`` beyond one
        (:func:`~fediscope.engine.metric_state.normalize_table` refuses it naming the column, as on DuckDB)."""
        if self._flat(frame, _TIMESTAMP_TYPES):
            import pyarrow as pa

            table = frame.toArrow()
            return table.cast(pa.schema([
                field.with_type(pa.timestamp(field.type.unit)) if pa.types.is_timestamp(field.type) else field
                for field in table.schema]))
        rows = [row.asDict(recursive=True) for row in frame.collect()]
        # no rows: no values to build a table from, but the schema's columns and types (an empty metric's
        # table is typed from them, as DuckDB's is)
        return collected_table(rows, frame.schema) if rows else frame.limit(0).toArrow()

    @staticmethod
    def _flat(frame: Any, also: frozenset[str] = frozenset()) -> bool:
        names = [field.name for field in frame.schema.fields]
        return len(set(names)) == len(names) and all(
            field.dataType.typeName() in _ARROW_TYPES | also or field.dataType.typeName().startswith("decimal")
            for field in frame.schema.fields)

    def execute(self, sql: str) -> None:
        self._sql(sql)
        match = re.match(r"\s*CREATE\s+OR\s+REPLACE\s+TEMP(?:ORARY)?\s+VIEW\s+(\w+)", sql, re.IGNORECASE)
        if match:
            self._views.add(match.group(1))

    def write_table(self, name: str, table: Table, out_dir: Location, order_by: Sequence[str]) -> None:
        def run() -> None:
            frame = self.spark.table(name).select(*[f"`{c}`" for c in table.columns])
            if table.partition_by:
                frame = frame.repartition(f"`{table.partition_by}`").sortWithinPartitions(*order_by)
                frame.write.mode("overwrite").partitionBy(table.partition_by).parquet(str(out_dir))
            else:
                frame.coalesce(1).sortWithinPartitions(*order_by).write.mode("overwrite").parquet(str(out_dir))

        self._job(run)
        if isinstance(out_dir, Path):  # in the lake (direct), readers skip _SUCCESS and dot-files by name
            for junk in [*out_dir.rglob(".*.crc"), *out_dir.rglob("_SUCCESS")]:
                junk.unlink(missing_ok=True)

    def close(self) -> None:
        self._stop_relaying()
        for frame in self._persisted.values():
            frame.unpersist()
        self._persisted.clear()
        for view in sorted(self._views):
            self.spark.catalog.dropTempView(view)
        self._views.clear()
        if self._owns_session:
            self.spark.stop()
        super().close()
