"""spark-submit entry point: compute the metrics of ``spark_jobs/sql/`` with Spark SQL and load the store.

The metrics are those of ``spark_jobs/sql/`` and of the user's own directory, ``FEDISCOPE_METRICS_DIR`` (read
on the driver; the batch DAG passes the worker's setting on, as an absolute path).

Each metric is one SQL file written in DuckDB's dialect and translated to Spark SQL by sqlglot
(:func:`fediscope.engine.dialect.to_spark`); the job registers the curated tables as views (and
``collection_starts``, read by the driver from the lake's ``_state/<domain>/start/`` records), runs every metric
(or those named with ``--metric``) and writes each result to the metric store (``FEDISCOPE_STORE`` or
``--store``), replacing what the store held for it, with what computed it (its provenance, as ``fediscope process
--engine spark`` records it, :mod:`fediscope.engine.provenance`, but with ``window`` null: this job curates nothing,
``spark_jobs/curate.py`` does). Only the driver needs the ``fediscope`` package.
The driver runs in ``PYSPARK_DRIVER_PYTHON`` (else ``PYSPARK_PYTHON``, else ``python3`` on the ``PATH``): with a
Spark installed apart from fediscope's virtualenv, set ``PYSPARK_DRIVER_PYTHON=/path/to/.venv/bin/python``, or the
job stops at ``No module named 'fediscope'`` (the batch DAG sets it to the worker's Python itself).

Command::

    export FEDISCOPE_STORE='mysql+pymysql://fediscope:…@db/fediscope'  # or in fediscope.toml: not in `ps`
    spark-submit --master spark://spark-master:7077 --deploy-mode client \\
        --conf spark.sql.session.timeZone=UTC \\
        spark_jobs/metrics.py --lake /shared/fediscope-lake \\
        [--metric top_accounts_by_followers --metric languages] [--no-store] [--out results.json]

``--out`` also writes every metric's rows as JSON, whole or not at all (a symbolic link at its name is replaced, not
written through; ``/dev/stdout`` or a named pipe is written to as it is); ``--no-store`` skips the store (to inspect
results). A ``--store`` URL holding a password is warned of on stderr (a command line is seen by other users' ``ps``).
Prints a JSON summary (rows and seconds per metric) on stdout (under spark-submit, the job's own lines come on its
stdout too: see ``spark_jobs/curate.py``); exits 1 with one line ("fediscope metrics: error: …") on failure, when
another run holds the lake lock (:mod:`fediscope.lake.lock`), when the store cannot be opened (checked before Spark
starts: nothing is computed), or when the master spark-submit was given takes no connection (probed before the
SparkContext connects to it, as in ``spark_jobs/curate.py``); exits 4 with one line when the lake does not exist or
holds no data, and 5 when it holds nothing curated yet (run ``spark_jobs/curate.py`` first; the store is not touched:
:data:`fediscope.errors.JOB_EXIT_CODES`, which the batch DAG fails its task on at once); exits 2 with a usage
line when ``--out`` names a directory or a folder that is not there, and with one line, as ``fediscope process``
does, for a bad setting (``spark-submit --master spark://host`` or ``local[x]`` too), an in-memory SQLite store, an
unknown ``--metric``, a metric file that is wrong (its header, its SQL or its result) or an ``--out`` that could not
be written once every metric ran (the store is then not written). Ctrl-C cancels the running Spark jobs, releases
the lake lock and exits 130 with "fediscope metrics: interrupted".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fediscope.config import Settings
    from fediscope.engine.metrics import Metric
    from fediscope.lake.backend import LakeBackend
    from fediscope.lake.state import CollectionStart
    from fediscope.store.port import MetricStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from spark_jobs.mapreduce.run_local import out_path_problem

    parser = argparse.ArgumentParser(prog="spark_jobs/metrics.py", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", help="lake path (overrides FEDISCOPE_LAKE)")
    parser.add_argument("--store", help="metric store URL (overrides FEDISCOPE_STORE)")
    parser.add_argument("--metric", action="append", default=[], help="metric to run (repeatable; default all)")
    parser.add_argument("--no-store", action="store_true", help="compute only; do not write the store")
    parser.add_argument("--out", type=Path, help="also write {metric: rows} as JSON to this file")
    args = parser.parse_args(argv)
    # checked before Spark starts: the file is written only after every metric ran
    if args.out is not None and (problem := out_path_problem(args.out)):
        parser.error(f"--out {problem}")
    return args


def main(argv: list[str] | None = None, spark: object = None) -> int:
    from fediscope.cli.common import settings_from_context
    from fediscope.config import option_origin
    from fediscope.engine.metrics import check_spark_portable, load_metrics
    from fediscope.errors import ConfigError, FediscopeError, job_exit_code
    from fediscope.interrupts import keyboard_interrupts
    from fediscope.store.port import require_persistent
    from spark_jobs.job_lock import job_lock

    args = parse_args(argv)
    try:
        # Ctrl-C: the running Spark jobs are cancelled (SparkEngine's relay), the store closed, the lock
        # released, and any error the interruption causes on the way out is the interruption
        with keyboard_interrupts():
            # settings_from_context also sets up logging: FEDISCOPE_LOG_LEVEL, secrets masked
            settings = settings_from_context(lake=args.lake, store=args.store, engine="spark",
                                             program="fediscope metrics")
            metrics = load_metrics(own_dir=settings.metrics_dir)
            unknown = sorted(set(args.metric) - set(metrics))
            if unknown:
                raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(metrics)}")
            chosen = {n: m for n, m in metrics.items() if not args.metric or n in args.metric}
            check_spark_portable(chosen.values())  # before the lake is locked or Spark started
            if not args.no_store:
                # results written to an in-memory SQLite store would be lost
                require_persistent(settings.store, settings.origin("store"))
            # the lake lock, as spark_jobs/curate.py: no curation or erasure may change the tables being read or the
            # store being written while this job runs (under the batch DAG, the lock it holds across both jobs). A lake
            # with nothing curated is refused (curated=True): its metrics would all be empty.
            with job_lock(settings.lake, "spark_jobs/metrics.py", curated=True,
                          chosen_by=option_origin(settings, "lake")):
                # the store is opened before Spark starts, as `fediscope process` does: a wrong URL, password or an
                # unreachable host fails in a second, not after every metric was computed
                store = None if args.no_store else _open_store(settings)
                try:
                    summary = _compute_and_store(settings, chosen, args, spark, store)
                finally:
                    if store is not None:
                        store.close()
    except KeyboardInterrupt:
        print("fediscope metrics: interrupted", file=sys.stderr)
        return 130
    except FediscopeError as exc:
        print(f"fediscope metrics: error: {exc}", file=sys.stderr)
        # as `fediscope` exits (2 for a bad setting or metric file, 1 for other failures), and 4 or 5 for a lake with
        # no data or nothing curated, so that the batch DAG can tell them from a failure a retry may mend
        return job_exit_code(exc)
    print(json.dumps(summary, sort_keys=True))
    return 0


def _open_store(settings: Any) -> MetricStore:
    """The metric store, opened (connected, its catalog created) before any metric is computed."""
    from fediscope.errors import StoreError
    from fediscope.store.port import store_from_settings

    try:
        return store_from_settings(settings)
    except StoreError as exc:
        raise StoreError(f"cannot open the metric store (--store / FEDISCOPE_STORE), so no metric was computed: "
                         f"{exc}") from None


def _compute_and_store(settings: Any, chosen: dict[str, Any], args: argparse.Namespace,
                       spark: object, store: MetricStore | None) -> dict[str, Any]:
    from fediscope.engine.metric_state import arrow_types
    from fediscope.engine.spark_engine import SparkEngine, submitted_session

    if spark is None:  # its master probed first, as `fediscope process --engine spark` probes its own
        spark = submitted_session("fediscope-metrics")
    results, summary = {}, {}
    with SparkEngine(settings, spark=spark) as engine:
        for name, metric in chosen.items():
            started = time.perf_counter()
            results[name] = engine.metric_table(metric)  # the rows run_metric gives, as typed Arrow columns
            summary[name] = {"rows": results[name].num_rows, "seconds": round(time.perf_counter() - started, 3)}
        starts = engine.collection_starts()  # what the metrics read of them, for their provenance's ``sql``
    if args.out:
        write_out(args.out, {name: table.to_pylist() for name, table in results.items()})
    if store is not None:
        provenance = _provenance(settings, engine.lake, chosen, starts)
        for name, metric in chosen.items():
            table = results[name]  # typed: a column removed from the SQL is dropped from the store too
            store.provenance = provenance[name]
            summary[name]["stored"] = store.write(metric, table.to_pylist(), replace=True,
                                                  types=arrow_types(table), exact_types=True)
    return summary


def write_out(out: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Write ``--out``'s JSON whole or not at all (:func:`fediscope.files.atomic_out`): a symbolic link planted at
    ``out`` is replaced, never written through, and a run stopped meanwhile leaves an older file as it was.
    ``/dev/stdout`` (this process's stdout, wherever it goes), a named pipe or a device is written to as it is
    (:func:`fediscope.files.written_as_is`). A failure is a :class:`~fediscope.errors.ConfigError` (one line,
    exit 2: the folder removed or made read-only since the start, a full disk)."""
    from fediscope.errors import ConfigError
    from fediscope.files import atomic_out

    def error(path: Path, exc: OSError) -> ConfigError:
        return ConfigError(f"cannot write --out {path}: {exc.strerror or exc}")

    with atomic_out(out, error=error) as write:
        write(json.dumps(rows, indent=1, sort_keys=True, default=str).encode("utf-8"))


def _provenance(settings: Settings, lake: LakeBackend, chosen: dict[str, Metric],
                starts: list[CollectionStart]) -> dict[str, dict[str, Any]]:
    """Each metric's provenance, as ``fediscope process`` records it (:mod:`fediscope.engine.provenance`), so the
    store says this job computed the rows, not whatever wrote the metric before. Its ``window`` is null: this job
    curates nothing (``spark_jobs/curate.py`` does, and the batch DAG gives the window to that job only)."""
    from fediscope.engine.provenance import input_fingerprint, lake_run_provenance, metric_provenance

    run = lake_run_provenance(settings, "spark", lake, None)
    return {name: metric_provenance(run, metric, input_fingerprint(metric, starts), settings.metrics_dir)
            for name, metric in chosen.items()}


if __name__ == "__main__":
    sys.exit(main())
