"""spark-submit entry point: curate the raw lake into the curated Parquet tables with Spark.

The job is thin: it builds the settings (``FEDISCOPE_*`` / ``fediscope.toml``, then the arguments below), takes
the SparkSession spark-submit configured, and calls :meth:`fediscope.engine.spark_engine.SparkEngine.curate`
(the same code ``fediscope process --engine spark`` runs). All the work is Spark SQL, so only the driver needs
the ``fediscope`` package (``pip install -r requirements.txt .``; run in client deploy mode) — executors run no Python.
The driver runs in ``PYSPARK_DRIVER_PYTHON`` (else ``PYSPARK_PYTHON``, else ``python3`` on the ``PATH``): with a
Spark installed apart from fediscope's virtualenv, set ``PYSPARK_DRIVER_PYTHON=/path/to/.venv/bin/python``, or the
job stops at ``No module named 'fediscope'`` (the batch DAG sets it to the worker's Python itself).

Command (every executor must see the lake: an HDFS lake is named twice, ``FEDISCOPE_LAKE`` for fediscope's
WebHDFS client and ``FEDISCOPE_SPARK_LAKE_URI`` for Spark; or a path on a shared mount; see
fediscope.engine.workspace)::

    FEDISCOPE_LAKE='webhdfs://namenode:9870/data/fediscope?user=fediscope' \\
    FEDISCOPE_SPARK_LAKE_URI=hdfs://namenode:8020/data/fediscope HADOOP_USER_NAME=fediscope \\
    spark-submit --master spark://spark-master:7077 --deploy-mode client \\
        --conf spark.sql.session.timeZone=UTC \\
        spark_jobs/curate.py [--since 2026-11-20] [--until 2026-11-23] [--recurate [--force]]
        [--window-name "this run's day 2026-11-23"] [--recurate-name TEXT]

Locally: ``spark-submit --master 'local[2]' spark_jobs/curate.py --lake ./demo-lake``, with fediscope's virtualenv
active (``. .venv/bin/activate``): pyspark's own ``spark-submit`` finds its Spark through ``python3`` on the ``PATH``,
and run by its path without it, stops at ``Could not find valid SPARK_HOME``. Prints the curation summary as JSON
on stdout. Spark runs the Python driver with its stderr merged into its stdout, so under spark-submit the job's own
lines (its warnings and errors) come on spark-submit's stdout too, before the summary; the JVM's log is on
spark-submit's stderr: its errors only (its warnings on a cluster) once the SparkContext has started, unless a
log4j2 configuration of the user's or ``FEDISCOPE_LOG_LEVEL=DEBUG`` keeps Spark's INFO
(:func:`fediscope.engine.spark_engine.submitted_session`). Exits 1 with one line ("fediscope curate: error: …") when
curation fails, when another run (``fediscope process``, an erasure) holds the lake lock
(:mod:`fediscope.lake.lock`), or when the master given to ``spark-submit --master`` takes no connection (probed
before the SparkContext connects to it, :func:`fediscope.engine.spark_engine.submitted_session`); exits 2 with a
usage line for a bad argument (a date that is not ``YYYY-MM-DD``, ``--since`` after ``--until``, ``--recurate`` with
either, ``--force`` without it, an empty ``--window-name``) and with one line for a bad setting (a ``FEDISCOPE_*``
value, ``fediscope.toml``, a ``spark-submit --master spark://host`` without its port, or a master Spark cannot read,
``local[x]``) and for a rebuild (``--recurate``) that was interrupted, which a run limited by ``--since``/``--until``
cannot finish; exits 4 with one line when the lake does not exist or holds no data, and 6 when a raw file was damaged
since it was landed (:data:`fediscope.errors.JOB_EXIT_CODES`: the batch DAG fails its task at once on 2, 4 and 6, and
retries on 1). ``--window-name`` names what limits the run where its messages say ``--since/--until`` (the batch DAG
passes ``this run's day 2026-11-23``, its task having no options), and ``--recurate-name`` the run that rebuilds the
curated tables (an interrupted rebuild's refusal, the warning of tables made by other curation rules): by default
this job's own ``--recurate``; the batch DAG passes ``fediscope process --recurate``. Ctrl-C
cancels the running Spark jobs, releases the lake lock and exits 130 with "fediscope curate: interrupted"; the
next run curates again what it did not publish. ``--recurate`` rebuilds every curated table
from the raw lake after an upgrade changed the curation rules, as ``fediscope process --recurate`` does
(:mod:`fediscope.engine.curation`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from fediscope.timestamps import parse_day

#: how a refusal before curation ends (a missing or empty lake): curation has no store to leave alone
NOTHING_CURATED = "nothing was curated"
#: how its messages name the run that rebuilds the curated tables (an interrupted rebuild, tables made by other
#: curation rules), by default: this job's own option, run as it was (``fediscope process --recurate`` needs
#: fediscope's command where spark-submit runs; the batch DAG, whose worker has it, names that: ``--recurate-name``)
RECURATE_NAMED = "`spark_jobs/curate.py --recurate`"


def day(text: str) -> date:
    """A ``YYYY-MM-DD`` argument; argparse turns the ValueError into a usage error (exit 2) naming the option."""
    try:
        return parse_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The arguments; a usage error (exit 2, one line) for a bad date or ``--since`` after ``--until``, before
    Spark starts, as ``fediscope process`` refuses them."""
    parser = argparse.ArgumentParser(prog="spark_jobs/curate.py", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", help="lake path (overrides FEDISCOPE_LAKE)")
    parser.add_argument("--since", type=day, help="first raw fetch day to curate (YYYY-MM-DD)")
    parser.add_argument("--until", type=day, help="last raw fetch day to curate (YYYY-MM-DD)")
    parser.add_argument("--recurate", action="store_true",
                        help="curate every raw file again and replace every curated table (after the curation "
                             "rules changed)")
    parser.add_argument("--force", action="store_true",
                        help="with --recurate: rebuild even though raw files curated before are gone")
    parser.add_argument("--window-name", metavar="TEXT",
                        help="how messages name what limits this run's days (default: --since/--until; the batch "
                             "DAG passes \"this run's day YYYY-MM-DD\")")
    parser.add_argument("--recurate-name", metavar="TEXT", default=RECURATE_NAMED,
                        help="how messages name the run that rebuilds the curated tables (default: this job's own "
                             f"{RECURATE_NAMED}; the batch DAG passes \"`fediscope process --recurate`\")")
    args = parser.parse_args(argv)
    for option in ("window_name", "recurate_name"):
        if getattr(args, option) is not None and not getattr(args, option).strip():
            parser.error(f"--{option.replace('_', '-')} must not be empty")
    if args.since and args.until and args.since > args.until:
        parser.error(f"--since {args.since} is after --until {args.until}")
    if args.recurate and (args.since or args.until):
        parser.error("--recurate curates every raw file; leave out --since/--until")
    if args.force and not args.recurate:
        parser.error("--force only applies with --recurate")
    return args


def main(argv: list[str] | None = None, spark: object = None) -> int:
    from fediscope.cli.common import settings_from_context
    from fediscope.config import option_origin
    from fediscope.engine.spark_engine import SparkEngine, submitted_session
    from fediscope.errors import FediscopeError, job_exit_code
    from fediscope.interrupts import keyboard_interrupts
    from spark_jobs.job_lock import job_lock

    args = parse_args(argv)
    try:
        # Ctrl-C: the running Spark jobs are cancelled (SparkEngine's relay), the lock released, and any error
        # the interruption causes on the way out is the interruption
        with keyboard_interrupts():
            settings = settings_from_context(lake=args.lake, engine="spark",
                                             program="fediscope curate")  # and logging: level, secrets masked
            # The lake lock of fediscope.lake.lock, taken before Spark starts: a lake being curated fails at once.
            with job_lock(settings.lake, "spark_jobs/curate.py", untouched=NOTHING_CURATED,
                          chosen_by=option_origin(settings, "lake")):
                if spark is None:  # its master probed first, as `fediscope process --engine spark` probes its own
                    spark = submitted_session("fediscope-curate")
                with SparkEngine(settings, spark=spark) as engine:
                    summary = engine.curate(since=args.since, until=args.until, rebuild=args.recurate,
                                            allow_missing=args.force, window_named=args.window_name,
                                            recurate_named=args.recurate_name)
    except KeyboardInterrupt:
        print("fediscope curate: interrupted", file=sys.stderr)
        return 130
    except FediscopeError as exc:
        print(f"fediscope curate: error: {exc}", file=sys.stderr)
        # as `fediscope` exits (2 for a bad setting, 1 for other failures), and 4 or 6 for a lake with no data or
        # a damaged raw file, so that the batch DAG can tell them from a failure a retry may mend
        return job_exit_code(exc)
    print(json.dumps(summary.as_dict(), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
