"""fediscope from Python (a notebook, a script): settings built in code, ``process``, the analyses as objects.

The same work as the commands, without their terminal: nothing is printed unless asked (``progress=True``;
warnings go to the ``fediscope`` loggers, and no logging handler is added: configure logging as you like), and
errors are raised, not turned into exit codes: a :class:`~fediscope.errors.FediscopeError` (``ConfigError`` for
a bad value, ``LakeError``, ``StoreError``…) carries the one-line message the command would print, naming this
module's arguments where the command names its options or variables (``point the 'store' argument at an existing
one``, ``since=2026-11-05 is after until=2026-11-01``).

Each call opens what it uses (the lake lock, the DuckDB connection or Spark session, the store) and closes it
before returning, so calling it again, from the same or another thread, starts afresh. Ctrl-C (a notebook's
"interrupt the kernel") stops a call at once and is raised as KeyboardInterrupt
(:func:`~fediscope.interrupts.keyboard_interrupts`); what the interrupted run had not finished is left as an
interrupted ``fediscope process`` leaves it (the lock released, nothing half-written in the store), and the next
call goes on from there. A Ctrl-C that Python swallowed in a finalizer (DuckDB's, Arrow's: "Exception ignored …
KeyboardInterrupt") is not lost: the call stops at its next step (``process`` before its next metric) or raises
KeyboardInterrupt when it returns, as the commands do.

Example (after ``make demo``, in the directory holding ``demo-lake``)::

    from fediscope import python_api as fs

    settings = fs.settings(lake="demo-lake", store="sqlite:///notebook.db")
    print(fs.process(settings).line())
    for result in fs.analyses(settings, n=3).results:
        print(result.title, result.rows)  # rows: a list of dicts, which pandas.DataFrame(result.rows) takes
    languages = fs.analysis(settings, "languages").rows

"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fediscope.analysis import (
    ANALYSES,
    PARTLY_WRITTEN_ADVICE,
    UNREADABLE,
    AnalysisResult,
    AnalysisRun,
    analysis_failure,
    provisional,
    read_of_one_write,
    read_one_state,
    run_analyses,
    stale_as_store_error,
)
from fediscope.config import SETTINGS, Settings, load_settings
from fediscope.engine.process import PYTHON_ARGUMENTS, ProcessSummary, run_process
from fediscope.errors import ConfigError, MissingTableError, StoreError
from fediscope.interrupts import keyboard_interrupts
from fediscope.timestamps import parse_day, rfc3339_rows

if TYPE_CHECKING:
    from fediscope.engine.metrics import Metric
    from fediscope.store.port import MetricStore

__all__ = ["analyses", "analysis", "analysis_names", "metric_rows", "process", "settings"]

_NAMES = frozenset(s.name for s in SETTINGS)

log = logging.getLogger(__name__)


def settings(*, environment: bool = False, config_file: str | os.PathLike[str] | None = None,
             **values: Any) -> Settings:
    """Settings built in code: the defaults, then ``config_file`` (a ``fediscope.toml``) when given, then the
    ``FEDISCOPE_*`` variables when ``environment`` is true, then ``values`` by setting name (``lake``, ``store``,
    ``engine``, ``privacy``, ``duckdb_memory_limit``…: the names ``fediscope config show`` lists).

    Without ``environment``, neither the process environment nor a ``./fediscope.toml`` is read, so a notebook
    gets the same settings whichever directory it was started in; with it, they are read as the commands read
    them. Each value is checked as the variable's text would be (``engine="sprak"`` is a ConfigError naming the
    argument); a path may be a :class:`~pathlib.Path`, a list a tuple. ``tokens`` (instance → access token) and
    ``sources`` are taken as given.

    With ``environment``, each ``FEDISCOPE_*`` variable nothing reads (a mistyped setting's, left at its default)
    is a warning of this module's logger, once per call, in the words every command warns of it
    (``FEDISCOPE_BACKFIL_PAGES: unknown variable, ignored: did you mean FEDISCOPE_BACKFILL_PAGES?``).
    """
    given = {name: _as_setting_value(value) for name, value in values.items()}
    origins = {name: _argument(name) for name in given if name in _NAMES}
    origins["config_file"] = _argument("config_file")  # its errors name it, not FEDISCOPE_CONFIG
    env: Mapping[str, str] = os.environ if environment else {}
    toml_path = config_file if config_file is not None else None if environment else False
    loaded = load_settings(env=env, toml_path=toml_path, origins=origins, **given)
    if environment:
        _warn_of_unknown_variables(env)
    return loaded


def _argument(name: str) -> str:
    """How an error names one of this module's arguments (``the 'lake' argument``), where the command's names its
    option or variable: the ``chosen_by`` of the checks that say what to point elsewhere."""
    return f"the {name!r} argument"


def _chosen_by(settings: Settings, name: str) -> str:
    """How an error's fix names where setting ``name`` is changed: where its value came from (a variable, with
    ``environment``; a key of ``config_file``), else this module's argument, also for a default: the variable is
    not read without ``environment``."""
    return settings.origins.get(name) or _argument(name)


def _warn_of_unknown_variables(env: Mapping[str, str]) -> None:
    """What :func:`fediscope.cli.common.warn_of_unknown_variables` says on stderr, as warnings of the logger (a
    library prints nothing itself); ``variable`` names the variable for a handler that writes fields."""
    from fediscope.config_check import unknown_variables

    for finding in unknown_variables(env):
        log.warning("%s", finding.text, extra={"variable": finding.setting})


def _as_setting_value(value: Any) -> Any:
    """A value as a TOML file could give it (what :func:`~fediscope.config.load_settings` checks): a path as its
    text, a tuple as a list."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def process(settings: Settings, *, since: date | str | None = None, until: date | str | None = None,
            recurate: bool = False, allow_missing: bool = False, progress: bool = False) -> ProcessSummary:
    """``fediscope process``: curate the lake's new raw files, compute every metric, load the store.

    ``since``/``until`` (a date or ``YYYY-MM-DD``) limit the fetch days curated, ``recurate``/``allow_missing``
    are ``--recurate``/``--force``; ``progress=True`` prints the command's progress lines on stderr. As the
    command, it refuses a lake that holds no data (a mistyped path would store empty metrics) and an in-memory
    store, before anything is written. The summary's :meth:`~fediscope.engine.process.ProcessSummary.as_dict` is
    ``--json``'s document, :meth:`~fediscope.engine.process.ProcessSummary.line` the command's line.
    """
    from fediscope.lake.backend import open_lake, require_batch_lake

    first, last = _day(since, "since"), _day(until, "until")
    require_batch_lake(open_lake(settings.lake), chosen_by=_chosen_by(settings, "lake"))
    with keyboard_interrupts():
        return run_process(settings, since=first, until=last, progress=progress, recurate=recurate,
                           allow_missing=allow_missing, named=PYTHON_ARGUMENTS)


def _day(value: date | str | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return parse_day(str(value))
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-23") from None


def analyses(settings: Settings, n: int = 10) -> AnalysisRun:
    """Every analysis ``fediscope report`` shows, over the stored metrics: an
    :class:`~fediscope.analysis.AnalysisRun` whose ``results`` are :class:`~fediscope.analysis.AnalysisResult`
    (``name``, ``title``, ``question``, ``columns``, ``rows`` as a list of dicts, ``summary``; ``to_dict()`` is
    the report's JSON), with ``missing`` (metrics not stored) and ``failed`` (analysis → why). ``n``: rows per
    top-N analysis, from 1 up (ConfigError otherwise). The store is opened read-only and closed again; StoreError
    when it holds no metrics yet.

    The results are of one state of the store, as the report's: a ``fediscope process`` (or an erasure) writing it
    while they are read makes every analysis read again, up to 3 times
    (:func:`~fediscope.analysis.read_one_state`); ``written_while_read`` names the metrics still written during
    each of them (the results may then be of different writes: call again once the run is done), ``[]`` when they
    are of one state. ``partly_written`` names the metrics a write had begun changing and not finished when they were
    read (:data:`~fediscope.analysis.PARTLY_WRITTEN_ADVICE`: being written now, or left part-way by a write that
    stopped: if no ``fediscope process`` is running, run it again, or the erasure if one stopped), whose results may
    mix rows of before and after that write; ``[]`` otherwise."""
    _check_count(n, "n")
    with keyboard_interrupts(), _reading(settings) as store:
        state = read_one_state(store, lambda noted: run_analyses(store, n, noted, _STORE_AGAIN), "the analyses", log)
        run = state.value
        run.written_while_read, run.partly_written = state.written_while_read, state.partly_written
        return run


def analysis_names() -> list[str]:
    """The analyses' names, in report order (what :func:`analysis` takes)."""
    return [function.__name__ for function, _ in ANALYSES]


def analysis(settings: Settings, name: str, n: int = 10) -> AnalysisResult:
    """One analysis by name (:func:`analysis_names`), as :func:`analyses` gives it; StoreError when the store does
    not hold the metric it reads, or holds it as this version does not read it (what :func:`analyses` lists under
    ``failed``). Every metric it reads is of one write: a ``fediscope process`` writing one
    meanwhile makes it read again, up to 3 times, then it is a StoreError saying to read it again
    (:func:`~fediscope.analysis.read_of_one_write`, as the results API reads an analysis). A metric a write had
    begun and not finished when it was read is warned of (:func:`_warn_if_partly_written`), as :func:`analyses`
    lists it under ``partly_written``."""
    table = {function.__name__: (function, metric) for function, metric in ANALYSES}
    if name not in table:
        raise ConfigError(_no_analysis(settings, name, list(table)))
    function, metric = table[name]
    _check_count(n, "n")
    with keyboard_interrupts(), _reading(settings) as store:
        if metric not in store.stored_metrics():
            raise StoreError(f"the store holds no metric {metric} (read by analysis {name}): run `fediscope "
                             "process` (fediscope.python_api.process) first")
        try:
            result = read_of_one_write(store, lambda reading: function(reading, n), f"analysis {name}", log)
        except UNREADABLE as exc:  # rows this version does not read: fs.analyses lists it under failed
            failure = analysis_failure(exc, metric, name, _STORE_AGAIN)
            if isinstance(exc, MissingTableError):  # a stale metric's own wording names the analysis already
                failure = f"analysis {name}: {failure}"
            raise StoreError(failure) from None
        _warn_if_partly_written(store, metric)
        return result


def _no_analysis(settings: Settings, name: str, analyses: list[str]) -> str:
    """What :func:`analysis` says of a name no analysis has: a metric's name (one's own, which ``fediscope report``
    shows beside the analyses, or a built-in metric's table) is told to :func:`metric_rows`, a typo the name meant.
    The metric files are read as ``process`` reads them; broken ones are not this call's business, so then only the
    built-in names are known."""
    from fediscope.engine.metrics import load_metrics
    from fediscope.errors import FediscopeError

    readers = [function.__name__ for function, metric in ANALYSES if metric == name]
    try:
        is_metric = bool(readers) or name in load_metrics(own_dir=settings.metrics_dir)
    except FediscopeError:
        is_metric = False
    listed = f"the analyses are: {', '.join(analyses)}"
    if is_metric:
        whose = (f"the metric of analys{'es' if len(readers) > 1 else 'is'} {', '.join(readers)}" if readers
                 else "a metric no analysis reads")
        return (f"no analysis named {name!r}: it is {whose}; read its rows with fediscope.python_api.metric_rows("
                f"settings, {name!r}). T{listed[1:]}")
    close = difflib.get_close_matches(name, analyses, n=1)
    meant = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no analysis named {name!r}{meant}; {listed}"


def _warn_if_partly_written(store: MetricStore, name: str) -> None:
    """Warn when ``name`` is still under a provisional generation once read. A whole read compares the metric's
    generation before and after (:func:`~fediscope.analysis.every_row_in_top_order`), and a write gives it a
    provisional one before its rows change: a read made while that write went on, or after it stopped part-way,
    passes the check with rows that may mix the two. The report and :func:`analyses` name it (``partly_written``,
    :func:`~fediscope.analysis.read_one_state`); a read of one metric, which returns rows alone, says it here."""
    if provisional(store.generation(name)):
        log.warning("metric %s: a write had begun and not finished when it was read (%s): its rows may mix rows of "
                    "before and after that write", name, PARTLY_WRITTEN_ADVICE)


def metric_rows(settings: Settings, name: str, limit: int | None = None, *,
                prefix: str | int | float | bool | date | None = None) -> list[dict[str, Any]]:
    """A stored metric's rows (every row, or the first ``limit``), in the order of its rank column (ties by key; key
    order without a rank): for a metric no analysis shows, such as one of your own (the ``metrics_dir`` setting).
    ``limit`` is from 1 up (ConfigError otherwise). Every row is read a page at a time, all from one write of the
    metric: a ``fediscope process`` writing it meanwhile makes the read start again
    (:func:`~fediscope.analysis.every_row_in_top_order`; the first ``limit`` rows, one read, likewise:
    :func:`~fediscope.analysis.read_of_one_write`), up to 3 times, then it is a StoreError saying to read it
    again; a write begun before the read and not finished after it is warned of (:func:`_warn_if_partly_written`).
    StoreError when the store does not hold it, or holds rows this version does not read (a value its column's type
    cannot hold, a column missing: :func:`~fediscope.analysis.stale_as_store_error`, the results API's 409
    ``stale_metric``).

    ``prefix`` gives only the rows whose prefix column (its SQL file's ``-- prefix:`` line, else its first key
    column: ``day`` for ``hashtags_daily``, ``instance`` for ``signups_by_month``) holds that value, in key order,
    as ``fediscope store export --prefix`` and the results API's ``?prefix=`` read them
    (:func:`~fediscope.analysis.every_row_of_prefix`), and with ``limit`` the first of those. The value is taken as
    ``--prefix``'s text (:func:`~fediscope.store.port.prefix_value`): a string as it is, a number or boolean as
    JSON writes it, a :class:`~datetime.date` as ``YYYY-MM-DD``, a whole float (``3.0``, as pandas gives a column
    of integers holding a NaN) as its integer for an integer column; one the column's type cannot hold (``"03"``
    or ``3.5`` for an integer column) is a ConfigError. A value no row holds gives ``[]`` and a warning naming the
    prefix column, as the export warns.

    The values are those ``fediscope store export --format jsonl`` writes, but for the columns its SQL file's
    ``-- timestamps:`` line names: those come as RFC 3339 in UTC (``2026-11-01T12:00:00Z``), as an analysis'
    ``to_dict()`` and the results API give them, whichever store holds them and however the metric wrote them
    (``2026-11-01 12:00:00``, with a ``T`` or an offset: the store keeps the metric's text), so that
    ``pandas.to_datetime`` reads them as UTC. A metric whose SQL file is gone gives them as stored (the store does
    not record the line). A value there that is no timestamp is a StoreError naming the column(s).
    """
    from fediscope.analysis import every_row_in_top_order, stored_definition
    from fediscope.engine.metrics import load_metrics

    if limit is not None:
        _check_count(limit, "limit")
    raw = None if prefix is None else _prefix_text(prefix)
    whole = _whole_float(prefix)
    with keyboard_interrupts(), _reading(settings) as store:
        held = store.stored_metrics()
        if not held:  # was told to see analyses(settings).stored, which itself says the store holds no metrics yet
            raise StoreError(f"the store holds no metrics yet, so no metric {name}: run `fediscope process` "
                             "(fediscope.python_api.process) first")
        if name not in held:
            close = difflib.get_close_matches(name, sorted(held), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise StoreError(f"the store holds no metric {name}: {hint}run `fediscope process` (fediscope.python_api."
                             "process) first, or see fediscope.python_api.analyses(settings).stored for those it holds")
        stored = stored_definition(store, name, load_metrics(own_dir=settings.metrics_dir).get(name))
        # all from one write of the metric: a `fediscope process` writing it meanwhile would mix two
        with stale_as_store_error(name, _STORE_AGAIN):
            if raw is not None:
                rows = _rows_of_prefix(store, stored, raw, limit, whole)
            else:
                rows = (read_of_one_write(store, lambda reading: reading.top(stored, limit), f"metric {name}", log)
                        if limit is not None else every_row_in_top_order(store, stored))
        _warn_if_partly_written(store, name)
    return _timestamps_as_rfc3339(rows, stored)


#: how the Python API says to store a metric again (:func:`~fediscope.analysis.stale_as_store_error`)
_STORE_AGAIN = "`fediscope process` (fediscope.python_api.process)"


def _prefix_text(value: Any) -> str:
    """A ``prefix`` argument as ``store export --prefix``'s text, which :func:`~fediscope.store.port.prefix_value`
    then reads as the column's type: a number or boolean as JSON writes it (``3``, ``1e+20``, ``true``), a date as
    ``YYYY-MM-DD`` (a day column's text); ConfigError for anything else (a datetime: no metric's prefix holds
    one). A numpy scalar (a value of a pandas column: ``numpy.int64``, ``numpy.datetime64`` of a day) is taken as
    the Python value it holds; an array is no one value."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        try:
            return json.dumps(value, allow_nan=False)
        except ValueError:  # NaN, inf: no column holds them
            raise ConfigError(f"prefix must be a finite number (got {value!r})") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    raise ConfigError(f"prefix must be text, a number, true or false, or a date (got {type(value).__name__} "
                      f"{value!r})")


def _whole_float(value: Any) -> int | None:
    """``value`` as an integer when it is a whole float (``3.0``, ``numpy.float64(3.0)``: what a pandas column of
    integers gives once it holds a NaN, or after arithmetic), else None."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and -2**63 <= value < 2**63:
        return int(value)
    return None


def _rows_of_prefix(store: MetricStore, stored: Metric, raw: str, limit: int | None,
                    whole: int | None = None) -> list[dict[str, Any]]:
    """The rows whose prefix column holds ``raw`` (as the column's type), in key order: every one of them, a page at
    a time from one write (:func:`~fediscope.analysis.every_row_of_prefix`), or the first ``limit``; none is warned
    of as ``store export --prefix`` warns (:func:`~fediscope.analysis.no_row_has`). ``whole`` is the integer a
    whole float argument holds: an integer column takes it as that integer (``3.0`` as ``3``; was refused as not
    written as JSON writes an integer, though pandas gives a column of integers with a NaN as floats)."""
    from fediscope.analysis import every_row_of_prefix, no_row_has
    from fediscope.store.port import PrefixValueError, prefix_value

    column_type = store.column_types(stored.name).get(stored.prefix)
    if column_type == "int" and whole is not None:
        raw = str(whole)
    try:
        value = prefix_value(raw, column_type)
    except PrefixValueError as exc:
        raise ConfigError(exc.refusal("prefix", stored.name, stored.prefix, raw)) from None
    if limit is not None:  # one page, of one write as a whole read's pages are
        rows = read_of_one_write(store, lambda reading: reading.scan_prefix(stored, value, limit),
                                 f"metric {stored.name}", log)
    else:
        rows = every_row_of_prefix(store, stored, value)
    if not rows:
        log.warning("%s", no_row_has(stored, raw, _argument("prefix"), "read every row (without prefix)"),
                    extra={"metric": stored.name, "prefix_column": stored.prefix})
    return rows


def _timestamps_as_rfc3339(rows: list[dict[str, Any]], stored: Metric) -> list[dict[str, Any]]:
    """The metric's ``-- timestamps:`` columns as the results API gives them (:func:`~fediscope.timestamps.
    rfc3339_rows`); a value that is no timestamp (the line names the wrong column) is a StoreError, where the API
    answers 409 stale_metric."""
    try:
        return rfc3339_rows(rows, stored.timestamp_columns)
    except ValueError as exc:
        raise StoreError(f"metric {stored.name}: its -- timestamps: column(s) {', '.join(stored.timestamp_columns)} "
                         f"hold a value that is {exc}: correct the line in its SQL file, or re-run `fediscope "
                         "process` if another fediscope version stored it") from None


def _check_count(value: Any, name: str) -> None:
    """``n`` and ``limit`` are whole numbers from 1 up: 0 or less would quietly give no rows, as if the store held
    none (the results API refuses them too)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number from 1 up (got {value!r})")


@contextmanager
def _reading(settings: Settings) -> Iterator[MetricStore]:
    """The configured store opened for reading (:func:`~fediscope.store.port.open_for_reading`), closed after."""
    from fediscope.store.port import open_for_reading

    store = open_for_reading(settings, chosen_by=_chosen_by(settings, "store"))
    try:
        yield store
    finally:
        store.close()

