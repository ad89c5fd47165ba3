"""The results routes: the store's metrics and the report's analyses over HTTP, for dashboards and scripts.

``fediscope process`` loads the metrics into the configured store (``FEDISCOPE_STORE``: SQLite, MariaDB or HBase);
these routes read them back through the store port only (:mod:`fediscope.store.port`), so they answer the same
on every store, and through the same functions as ``fediscope report`` (:mod:`fediscope.analysis`), so a
dashboard shows what the report prints:

* ``GET /v1/analyses`` — every analysis, the metric it reads and whether the store holds it;
* ``GET /v1/analyses/<name>?n=10`` — one analysis, as ``fediscope report --format json`` gives it;
* ``GET /v1/metrics`` — every metric: its question, key, rank and prefix columns, and its stored row count; the
  metrics of the SQL files (``sql_file`` true) and every other metric the store holds (``sql_file`` false: its file
  was deleted, or is in a ``FEDISCOPE_METRICS_DIR`` not set for the API), as ``fediscope report`` shows them;
* ``GET /v1/metrics/<name>?limit=100`` — its first rows by its rank column (in key order when it has none); a
  metric without its SQL file by the key, rank and prefix the store recorded at its last write
  (:meth:`~fediscope.store.port.MetricStore.recorded_metric`);
  with ``prefix=<value>``, the rows whose prefix column equals the value (one account's, one instance's, one
  day's), in key order; with ``after=<cursor>`` (the ``next.after`` of the page before, also its ``Link:
  rel="next"``), the page after that one, so every row of a metric of any size can be read, 1,000 at a time.

A metric's ``-- timestamps:`` columns (:attr:`fediscope.engine.metrics.Metric.timestamp_columns`, listed as
``timestamps`` by ``GET /v1/metrics``) are stored as UTC text ``YYYY-MM-DD HH:MM:SS`` and answered as RFC 3339 UTC
(``2026-11-01T12:00:00Z``: :func:`fediscope.timestamps.rfc3339_rows`), as ``fediscope report --format json`` gives
them; cursors and the ``prefix`` echo keep the stored values, which is what the store compares.

A cursor is the position of the page's last row (its rank value and key, base64url JSON; the store reads on
from there, a scan from a start row on HBase: :meth:`fediscope.store.port.MetricStore.top`)
with the prefix and the metric's generation (:meth:`~fediscope.store.port.MetricStore.generation`). Paging on
after ``fediscope process`` wrote the metric again would mix two results, rows moving between pages: such a
cursor is 409 ``stale_cursor`` (start again from the first page), so a walk that ends read every row once, in
order, as one write left them. A first page has no cursor, and may be the last (``next: null``), but a write may
land while it is read too (on HBase a page is a scan, not a snapshot: rows of neither write): the generation is
compared after it as well, and it is read again, up to :data:`~fediscope.analysis.READ_ATTEMPTS` times as the
store's whole reads are, then is 409 ``written_while_read`` (retry once the write is done). An analysis is read
the same way, comparing the generations of the metrics it read.

The store is opened at the first results request, not when the app starts: a scraping-only deployment needs
no store. It is opened for reading (:func:`fediscope.store.port.open_store` with ``read_only``): a request
creates nothing — no SQLite file, no catalog table — so a database user with SELECT only (the read-only user of
``infra/mariadb/``) serves these routes; a store without a catalog, or a SQLite file that does not exist yet,
holds nothing (the lists say ``"stored": false``, one metric or analysis is 404 ``not_stored``). Store
adapters are safe to share between the server's threads (SQLAlchemy's connection pool, happybase's pool), so
one store serves every request. A store that cannot be reached answers 503 (the reason goes to the server log:
answers never name the store, where it lives is the operator's business); a store without the metric answers
404 saying to run ``fediscope process``; a metric stored as another fediscope version wrote it (its table lacks a
column the current schema reads, a value does not have its column's type, the rows lack a column an analysis
reads) answers 409 ``stale_metric`` saying to re-run ``fediscope process``; a metric the catalog lists whose
table was dropped by hand answers 409 ``missing_table``, saying the same. A metric SQL file of
``spark_jobs/sql/`` or ``FEDISCOPE_METRICS_DIR`` that is not a metric (a user's own without its ``-- key:`` line,
say) answers 500 ``metric_definition_error`` on every route that reads the registry (the file, again, only in the
server log).
Rows are what the store holds: pseudonymous account keys, never a handle.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, request
from flask_restful import Resource
from werkzeug.urls import iri_to_uri

from api.errors import ApiError, bad_parameter
from api.params import AFTER_MAX_LENGTH, NAME_PATTERN, ResultsQuery, parse_results_query
from fediscope.analysis import (
    ANALYSES,
    PERIOD_METRIC,
    PLAIN_PARTLY_WRITTEN_ADVICE,
    READ_ATTEMPTS,
    Analysis,
    MetricChangedError,
    Period,
    analysis_question,
    overtaken_as_such,
    posted_period,
    provisional,
    read_again_if_written,
    read_of_one_write,
    stale_metric_message,
    unreadable_reason,
)
from fediscope.config import Settings
from fediscope.engine.metrics import Metric, load_metrics
from fediscope.errors import FediscopeError, MetricFileError, MissingTableError, StoreSchemaError
from fediscope.redact import redact_url
from fediscope.report import report_provenance
from fediscope.store.port import MetricStore, PositionError, PrefixValueError, Row, open_existing, prefix_value
from fediscope.store.sqlite import sqlite_file
from fediscope.timestamps import rfc3339_rows
from fediscope.wording import quoted

log = logging.getLogger(__name__)

_NAME_RE = re.compile(NAME_PATTERN)


class ResultsStore:
    """The configured store, opened once, at the first request that needs it; a SQLite store again when its file
    was replaced or deleted (``mv`` of a backup, ``python -m fediscope.demo --fresh``, rm): its open connections
    would otherwise go on reading the old file for the life of the server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shown = redact_url(settings.store)
        self._store: MetricStore | None = None
        self._file = sqlite_file(settings.store)
        self._opened: tuple[int, ...] | None = None  # the SQLite file's identity when it was opened
        self._lock = threading.Lock()

    def _identity(self) -> tuple[int, ...] | None:
        """The SQLite file's device, inode and modification time (a file written anew at the same path, even on a
        reused inode, has another time); None when there is no file."""
        if self._file is None:
            return None
        try:
            info = self._file.stat()
        except OSError:
            return None
        return info.st_dev, info.st_ino, info.st_mtime_ns

    def get(self) -> MetricStore | None:
        """The store, opened for reading (it creates nothing: no file, no catalog; SELECT rights suffice); None
        while a SQLite store's file does not exist (nothing stored yet, or deleted: it is looked for again next
        time)."""
        with self._lock:
            identity = self._identity()
            if self._store is not None and self._file is not None and identity != self._opened:
                log.info("results: the SQLite store %s was %s: opening it again", self.shown,
                         "deleted" if identity is None else "replaced or written")
                self._store.close()  # connections in use by other requests finish their query first
                self._store = None
            if self._store is None:
                self._store = _store_call(self.shown, lambda: open_existing(self.settings, read_only=True))
                self._opened = identity
                if self._store is None:
                    log.info("results: the SQLite store %s does not exist yet: nothing stored", self.shown)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _store_call(shown: str, call: Any, metric: str | None = None, reader: str | None = None) -> Any:
    """Run a store operation; a store failure becomes 503. The reason goes to the server log only: where the
    store lives (host, user, path) is the operator's business, not every API key holder's.

    With ``metric``, a read of that metric's rows (by ``reader``, an analysis, if any): rows that are not what this
    fediscope version reads become 409 ``stale_metric`` instead (:func:`_stale`).

    A metric SQL file that is not a metric is no store failure: an analysis reads the registry too
    (:func:`fediscope.analysis.metric`), and that error is answered as itself (:func:`api.errors.to_api_error`)."""
    try:
        return call()
    except MetricFileError:
        raise
    except MetricChangedError as exc:  # written again during each read (:func:`_read_page`, an analysis)
        raise _written_while_read(exc.metrics) from None
    except MissingTableError as exc:  # the store answers: a retry does not help, `fediscope process` does
        log.warning("results: %s", exc)
        raise ApiError(409, "missing_table", f"metric {exc.metric}: its table is missing from the metrics store "
                                             f"(dropped by hand?): {exc.fix}") from None
    except FediscopeError as exc:
        if metric is not None and isinstance(exc, StoreSchemaError):
            log.warning("results: metric %s in store %s lacks a column: %s", metric, shown, exc)
            raise _stale(metric, reader, "a column is missing from its table") from None
        log.warning("results: store %s failed: %s", shown, exc)
        raise ApiError(503, "store_unavailable", "the metrics store (FEDISCOPE_STORE) cannot be reached or read; "
                       "the server log has the reason", setting="FEDISCOPE_STORE") from None
    except (KeyError, TypeError, ValueError) as exc:
        if metric is None:
            raise
        # a stored value its column's type cannot hold (the store's decoding), or rows without a column the
        # analysis reads
        reason = unreadable_reason(exc)
        log.warning("results: metric %s%s: %s", metric, f" (analysis {reader})" if reader else "", reason)
        raise _stale(metric, reader, reason) from None


def _stale(metric: str, reader: str | None, reason: str) -> ApiError:
    """409 ``stale_metric``, worded as ``fediscope store export`` and ``fs.metric_rows`` say it
    (:func:`~fediscope.analysis.stale_metric_message`)."""
    return ApiError(409, "stale_metric", stale_metric_message(metric, reason, reader=reader))


def _results() -> ResultsStore:
    return current_app.extensions["fediscope_api"].results


def _stored(results: ResultsStore) -> tuple[MetricStore | None, dict[str, int]]:
    """The store and what it holds (nothing, and no store, while a SQLite store's file does not exist)."""
    store = results.get()
    return store, ({} if store is None else _store_call(results.shown, store.stored_metrics))


def _check_name(name: str) -> None:
    """A path name outside the documented pattern (``NAME_PATTERN``) is a malformed request, not an unknown name."""
    if not _NAME_RE.fullmatch(name):
        raise bad_parameter("name", f"name must be 1 to 64 lowercase letters, digits or underscores "
                                    f"({NAME_PATTERN}; got {quoted(name, 64)})")


def _not_stored(what: str) -> ApiError:
    return ApiError(404, "not_stored", f"{what} is in the metrics store yet: run `fediscope process` (it curates "
                                       "the lake, computes the metrics and loads the store)")


#: analysis name → (function, metric it reads), in report order
ANALYSIS_TABLE: dict[str, tuple[Analysis, str]] = {function.__name__: (function, name) for function, name in ANALYSES}


def _metric_info(metric: Metric, rows: int | None, sql_file: bool) -> dict[str, Any]:
    rank = ({"column": metric.rank_column, "order": "desc" if metric.rank_desc else "asc"}
            if metric.rank_column else None)
    return {"name": metric.name, "question": metric.question, "key": list(metric.key), "prefix": metric.prefix,
            "rank": rank, "timestamps": list(metric.timestamp_columns), "stored": rows is not None, "rows": rows,
            "sql_file": sql_file}


def _recorded(results: ResultsStore, store: MetricStore | None, stored: dict[str, int], name: str) -> Metric | None:
    """The stored metric ``name`` as the store recorded it at its last write, or None when the store does not hold it
    (also when it was dropped since ``stored`` was read): how a metric without its SQL file (deleted, or in a
    ``FEDISCOPE_METRICS_DIR`` the API is not given) is read, as ``fediscope report`` reads it
    (:func:`fediscope.analysis.other_metrics`)."""
    if store is None or name not in stored:
        return None
    return _store_call(results.shown, lambda: store.recorded_metric(name))


class Analyses(Resource):
    """Every analysis ``fediscope report`` runs, and whether the store holds what it reads."""

    def get(self) -> Response:
        results = _results()
        parse_results_query(request.args, ())
        store, stored = _stored(results)
        # the analysis' own question (engagement_distribution asks another than its metric's), as its answer gives it
        body = [{"name": name, "metric": metric_name, "question": analysis_question(name, metric_name),
                 "stored": metric_name in stored} for name, (_, metric_name) in ANALYSIS_TABLE.items()]
        return jsonify({"analyses": body, "period": _period(results, store, stored),
                        "provenance": _provenance(results, store)})


def _period(results: ResultsStore, store: MetricStore | None, stored: dict[str, int]) -> dict[str, Any] | None:
    """The days the analyses cover, as the report's ``period`` (:func:`fediscope.analysis.posted_period`); None when
    ``posted_days`` cannot be read as this version reads it (logged: the list of analyses is still answered, as the
    report is, and ``GET /v1/metrics/posted_days`` says what is wrong)."""
    if store is None:
        return Period(computed=False).to_dict()
    try:
        return _store_call(results.shown, lambda: posted_period(store, stored).to_dict(), PERIOD_METRIC, "period")
    except ApiError as exc:
        if exc.status != 409:
            raise
        return None


def _provenance(results: ResultsStore, store: MetricStore | None) -> dict[str, Any]:
    """What computed the stored metrics, as the report's ``provenance`` without its ``report`` part (the report's own
    settings): ``runs``, ``metrics``, ``unrecorded`` (:func:`fediscope.report.report_provenance`)."""
    recorded = {} if store is None else _store_call(results.shown, store.provenances)
    provenance = report_provenance(recorded, 0)
    del provenance["report"]
    return provenance


class OneAnalysis(Resource):
    """One analysis over the stored metrics: title, question, columns, rows and headline numbers."""

    def get(self, name: str) -> Response:
        results = _results()
        query = parse_results_query(request.args, ("n",))
        _check_name(name)
        if name not in ANALYSIS_TABLE:
            raise ApiError(404, "unknown_analysis", f"no analysis named {name[:64]!r}; GET /v1/analyses lists them "
                                                    f"({', '.join(ANALYSIS_TABLE)})")
        function, metric_name = ANALYSIS_TABLE[name]
        store, stored = _stored(results)
        if store is None or metric_name not in stored:
            raise _not_stored(f"no metric {metric_name} (read by analysis {name})")

        # every metric it reads of one write, read again while one is written, then 409 written_while_read
        # (fediscope.analysis.read_of_one_write, as fs.analysis reads it); to_dict inside: a stored timestamp that is
        # none (its RFC 3339 form) is a stale metric too
        return jsonify(_store_call(results.shown, lambda: read_of_one_write(
            store, lambda reading: function(reading, query.n).to_dict(), f"analysis {name}", log), metric_name, name))


class Metrics(Resource):
    """Every metric of ``spark_jobs/sql/`` and ``FEDISCOPE_METRICS_DIR``, and every other metric the store holds (its
    SQL file gone), with its key and rank, and its row count in the store."""

    def get(self) -> Response:
        results = _results()
        parse_results_query(request.args, ())
        store, stored = _stored(results)
        metrics = load_metrics(own_dir=results.settings.metrics_dir)
        body = [_metric_info(metric, stored.get(name), sql_file=True) for name, metric in metrics.items()]
        without_file = (_recorded(results, store, stored, name) for name in set(stored) - set(metrics))
        body += [_metric_info(metric, stored[metric.name], sql_file=False) for metric in without_file if metric]
        return jsonify({"metrics": sorted(body, key=lambda entry: entry["name"])})


class MetricRows(Resource):
    """A page of a metric's rows: the first ``limit`` by its rank column, or those whose prefix column equals
    ``prefix``; with ``after``, the page after the one whose ``next.after`` it is."""

    def get(self, name: str) -> Response:
        results = _results()
        query = parse_results_query(request.args, ("prefix", "limit", "after"))
        _check_name(name)
        metrics = load_metrics(own_dir=results.settings.metrics_dir)
        store, stored = _stored(results)
        # without a SQL file: a metric the store holds, by its recorded definition; else no metric at all
        metric = metrics.get(name) or _recorded(results, store, stored, name)
        if metric is None:
            raise ApiError(404, "unknown_metric", f"no metric named {name[:64]!r}; GET /v1/metrics lists them")
        if store is None or name not in stored:
            raise _not_stored(f"no metric {name}")
        columns = _position_columns(metric, ranked=query.prefix is None)
        rows, generation, prefix = _read_page(results, store, metric, query, columns)
        rows, more = rows[:query.limit], len(rows) > query.limit
        cursor = _cursor(metric, columns, rows[-1], generation, query.prefix) if more else None
        order = "key" if prefix is not None or metric.rank_column is None else "rank"
        shown = _store_call(results.shown, lambda: rfc3339_rows(rows, metric.timestamp_columns), name)
        response = jsonify({"metric": name, "question": metric.question, "prefix": prefix, "order": order,
                            "limit": query.limit, "count": len(rows), "rows": shown,
                            "next": {"after": cursor} if cursor else None})
        if cursor:
            response.headers["Link"] = _next_link(query, cursor)
        return response


def _read_page(results: ResultsStore, store: MetricStore, metric: Metric, query: ResultsQuery,
               columns: list[str]) -> tuple[list[Row], str | None, dict[str, Any] | None]:
    """The page's rows (one more than ``limit``: whether a next page follows), the metric's generation they are of,
    and the prefix read (None without one).

    The generation is read before the rows and again after them: a write in between (on HBase also one landing
    during the read, a scan and no snapshot) may have given rows of neither write. A page after a cursor is then
    409 ``stale_cursor`` (the walk starts again); a first page has no cursor to call stale, and may be the last one
    (``next: null``), so it is read again, up to :data:`~fediscope.analysis.READ_ATTEMPTS` times as the store's whole
    reads are, then 409 ``written_while_read`` (:func:`~fediscope.analysis.read_again_if_written`). A read that
    fails on rows this version does not read is 409 ``stale_metric`` only when the generation did not move: rows of
    neither write may not decode (a column whose type the write changed), which is such an overtaken read
    (:func:`~fediscope.analysis.overtaken_as_such`)."""
    name = metric.name

    def read() -> tuple[list[Row], str | None, dict[str, Any] | None]:
        # read before the rows: a write between the two makes the next page's cursor stale, never a mixed walk
        generation = store.generation(name)
        after = None if query.after is None else _read_cursor(query, metric, columns, generation)
        prefix: dict[str, Any] | None = None
        wanted = query.limit + 1  # one more than the page: whether there is a next one
        try:
            # rows of neither write may not decode: the write is then named, not the metric called stale
            with overtaken_as_such(store, {name: generation}, [name]):
                if query.prefix is None:
                    rows = _paged(lambda: store.top(metric, wanted, after=after))()
                else:
                    value = _prefix_value(store, metric, query.prefix, results)
                    rows = _paged(lambda: store.scan_prefix(metric, value, wanted, after=after))()
                    prefix = {"column": metric.prefix, "value": value}
            if store.generation(name) != generation:
                raise MetricChangedError(name)
        except MetricChangedError:
            if after is not None:
                # its rows may be the new ones, after pages of the old ones, and a last page has no cursor whose
                # staleness the next request would catch
                raise _stale_cursor(name) from None
            raise
        return rows, generation, prefix

    # a store failure is 503, rows this version does not read 409 stale_metric, a first page written again during
    # each read 409 written_while_read
    return _store_call(results.shown, lambda: read_again_if_written(read, f"metric {name}", log), name)


def _written_while_read(metrics: list[str]) -> ApiError:
    named = f"metric {metrics[0]} was" if len(metrics) == 1 else f"metrics {', '.join(metrics)} were"
    return ApiError(409, "written_while_read", f"{named} written again (fediscope process or an erasure) while this "
                                               f"request read it, each of the {READ_ATTEMPTS} times it was read, so "
                                               "its rows would mix two writes: retry once the write is done")


def _position_columns(metric: Metric, ranked: bool) -> list[str]:
    """The columns of a page's position: the key, after the rank column in rank order (as the store's)."""
    return [metric.rank_column, *metric.key] if ranked and metric.rank_column else list(metric.key)


def _paged(read: Any) -> Any:
    """``read`` with an ``after`` position the store refuses (a value its column cannot hold) as a 400."""
    def call() -> Any:
        try:
            return read()
        except PositionError:
            raise _bad_cursor("it does not hold a position in this metric's rows") from None
    return call


def _cursor(metric: Metric, columns: list[str], last: Row, generation: str | None, prefix: str | None) -> str:
    """The ``after`` of the next page: the metric, the last row's position, the prefix and the metric's generation,
    as base64url JSON (no padding)."""
    missing = [c for c in columns if c not in last]
    if missing:
        raise _stale(metric.name, None, f"column {missing[0]} missing")
    state = {"metric": metric.name, "after": [last[c] for c in columns], "generation": generation, "prefix": prefix}
    text = json.dumps(state, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    cursor = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")
    if len(cursor) > AFTER_MAX_LENGTH:  # keys far longer than any store holds in a MariaDB key column
        log.warning("results: metric %s: a page cursor would be %d characters, more than after takes (%d)",
                    metric.name, len(cursor), AFTER_MAX_LENGTH)
        raise ApiError(409, "cursor_too_long", f"metric {metric.name} has a key too long to page past (the next "
                                               f"page's cursor would be over {AFTER_MAX_LENGTH} characters): read "
                                               f"every row with `fediscope store export {metric.name}` (CSV or "
                                               "JSON Lines)")
    return cursor


def _read_cursor(query: ResultsQuery, metric: Metric, columns: list[str], generation: str | None) -> Row:
    """The ``after`` row of a cursor made by :func:`_cursor` for this query: 400 when it is not one (or for
    another metric, prefix or order), 409 ``stale_cursor`` when the metric was written since.

    The metric is checked before the generation: a cursor of another metric would otherwise be called stale
    (generations differ), or read from that metric's position when neither metric has a generation."""
    raw = query.after or ""
    try:
        state = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), parse_constant=_no_constant)
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: JSON nested deeper than json goes
        raise _bad_cursor("it is not one") from None
    if isinstance(state, dict) and set(state) == {"after", "generation", "prefix"}:
        raise _bad_cursor("it was given by an older fediscope API, without the metric it pages: start again from "
                          "the first page (without after)")
    if not (isinstance(state, dict) and set(state) == {"metric", "after", "generation", "prefix"}
            and _text(state["metric"])
            and isinstance(state["after"], list) and all(_scalar(v) for v in state["after"])
            and (state["generation"] is None or _text(state["generation"]))
            and (state["prefix"] is None or _text(state["prefix"]))):
        raise _bad_cursor("it is not one")
    if state["metric"] != metric.name:
        raise _bad_cursor("it was given by a page of another metric: page on with the metric of that page")
    if state["prefix"] != query.prefix or len(state["after"]) != len(columns):
        raise _bad_cursor("it was given by a page of another query: page on with the same prefix as that page")
    # rows read under a provisional generation may be the old ones or the new: pages would mix the two
    if state["generation"] != generation or provisional(state["generation"]):
        raise _stale_cursor(metric.name)
    return dict(zip(columns, state["after"], strict=True))


def _stale_cursor(metric: str) -> ApiError:
    return ApiError(409, "stale_cursor", f"metric {metric} was written again (fediscope process or an erasure) "
                                         "since the page that gave this cursor, or was being written when that page "
                                         f"was read ({PLAIN_PARTLY_WRITTEN_ADVICE}), so its rows may have moved "
                                         "between pages: start again from the first page (without after)",
                    parameter="after")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a value")


def _scalar(value: Any) -> bool:
    """A value a stored column may hold: text, a boolean, a number each store holds (64-bit integers, finite
    floats), or null."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -2**63 <= value < 2**63
    return value is None or isinstance(value, bool | float) or _text(value)


def _text(value: Any) -> bool:
    """Text a store can hold: a string that is UTF-8. JSON's ``\\ud800`` reads as a lone surrogate, which no
    cursor of ours holds (they are made from stored text) and which a store cannot encode: its ValueError was
    answered 409 ``stale_metric``, telling the operator the metric is stale."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_cursor(why: str) -> ApiError:
    return bad_parameter("after", f"after must be the cursor a previous page of this metric gave as next.after, "
                                  f"unchanged; {why}")


def _next_link(query: ResultsQuery, cursor: str) -> str:
    """The ``Link`` header of the next page (``request.base_url`` is an IRI; a header holds a URI)."""
    params = {"limit": str(query.limit), **({"prefix": query.prefix} if query.prefix is not None else {}),
              "after": cursor}
    return f'<{iri_to_uri(request.base_url)}?{urlencode(params)}>; rel="next"'


def _prefix_value(store: MetricStore, metric: Metric, raw: str, results: ResultsStore) -> Any:
    """The query's text as the prefix column's stored type (:func:`fediscope.store.port.prefix_value`, by the type
    the store's catalog records for the column: a stored row would not tell it when the metric holds none); 400
    when it cannot be one."""
    types = _store_call(results.shown, lambda: store.column_types(metric.name), metric.name)
    try:
        return prefix_value(raw, types.get(metric.prefix))
    except PrefixValueError as exc:
        raise _bad_prefix(metric, exc.wanted, exc.holds, raw) from None


def _bad_prefix(metric: Metric, wanted: str, holds: str, raw: str) -> ApiError:
    return bad_parameter("prefix", f"prefix must be {wanted} for metric {metric.name} (its prefix column "
                                   f"{metric.prefix} holds {holds}, written as the API answers them, without "
                                   f"spaces or leading zeros; got {quoted(raw, 40)})")
