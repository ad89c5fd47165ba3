"""Run inside a subprocess with AIRFLOW_HOME set by tests/airflow/conftest.py; prints one JSON result line.

``python dag_runner.py check`` — parse the DAG folder with a DagBag: import errors, tags, retries per task.
``python dag_runner.py test DAG_ID [--logical-date ISO] [--no-retries | --retries N]`` — one ``dag.test()`` run:
the run's state and data interval, each task instance's state, map index, try number and return value (XCom), and
the Asset events its tasks emitted. ``--retries N``: every task retried N times, 1 s apart.
``python dag_runner.py runs DAG_ID`` — the DAG runs in the metadata DB: run id, type, state, data interval.
``python dag_runner.py serve`` — a fork server (see :func:`serve`): imports Airflow once, then runs each command it is
sent (one of the above, or an ``airflow`` command line) in a forked child of its own, as a new process would, minus
the ~5 s of importing Airflow and building its in-process execution API (``airflow_harness.AirflowEnv.run``).

Airflow configures logging and global state on import, so the tests run it out of the pytest process.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import sys
import time
import traceback
from datetime import datetime
from typing import Any

MARKER = "FEDISCOPE_RESULT "


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.flush()
    print(MARKER + json.dumps(result, default=str), flush=True)


def _bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(collect_dags=True)


def check() -> None:
    started = time.monotonic()
    bag = _bag()
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "fileloc": dag.fileloc,
            "tags": sorted(dag.tags),
            "doc_md": bool(dag.doc_md),
            "catchup": dag.catchup,
            "start_date": dag.start_date.isoformat() if dag.start_date else None,
            "timetable": type(dag.timetable).__name__,
            "tasks": {t.task_id: {"retries": t.retries, "backoff": t.retry_exponential_backoff,
                                  "retry_delay": t.retry_delay.total_seconds(),
                                  "max_retry_delay": t.max_retry_delay.total_seconds() if t.max_retry_delay else None,
                                  "on_failure_callback": bool(t.on_failure_callback),
                                  "max_active_tis_per_dag": t.max_active_tis_per_dag,
                                  "execution_timeout": t.execution_timeout.total_seconds()
                                  if t.execution_timeout else None} for t in dag.tasks},
            "dagrun_timeout": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
        }
    _emit({"import_errors": bag.import_errors, "warnings": {k: list(v) for k, v in bag.captured_warnings.items()},
           "dags": dags, "seconds": time.monotonic() - started})


def test(dag_id: str, logical_date: str | None, no_retries: bool, retries: int | None = None) -> None:
    from datetime import timedelta

    from airflow.models.asset import AssetEvent
    from airflow.models.xcom import XComModel
    from airflow.settings import Session
    from sqlalchemy import select

    bag = _bag()
    if bag.import_errors:
        _emit({"import_errors": bag.import_errors})
        return
    dag = bag.get_dag(dag_id)
    if no_retries:
        for t in dag.tasks:
            t.retries = 0
    if retries is not None:
        for t in dag.tasks:
            t.retries, t.retry_delay, t.retry_exponential_backoff = retries, timedelta(seconds=1), 0
    kwargs: dict[str, Any] = {}
    if logical_date:
        kwargs["logical_date"] = datetime.fromisoformat(logical_date)
    run = dag.test(**kwargs)
    session = Session()
    xcoms = {(x.task_id, x.map_index): XComModel.deserialize_value(x)
             for x in session.scalars(select(XComModel).where(XComModel.dag_id == dag_id,
                                                              XComModel.run_id == run.run_id,
                                                              XComModel.key == "return_value"))}
    tasks = [{"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state),
              "label": ti.rendered_map_index, "value": xcoms.get((ti.task_id, ti.map_index)),
              "try_number": ti.try_number}
             for ti in run.get_task_instances(session=session)]
    events = [{"task_id": e.source_task_id, "map_index": e.source_map_index, "extra": e.extra}
              for e in session.scalars(select(AssetEvent).where(AssetEvent.source_dag_id == dag_id,
                                                                AssetEvent.source_run_id == run.run_id))]
    _emit({"state": str(run.state), "run_id": run.run_id,
           "data_interval": [run.data_interval_start, run.data_interval_end], "tasks": tasks,
           "asset_events": events})


def runs(dag_id: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.settings import Session
    from sqlalchemy import select

    session = Session()
    rows = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date))
    _emit({"runs": [{"run_id": r.run_id, "run_type": str(r.run_type), "state": str(r.state),
                     "logical_date": r.logical_date,
                     "data_interval": [r.data_interval_start, r.data_interval_end]} for r in rows]})


def _warm_up() -> None:
    """What every command of a child would otherwise import or build first: Airflow, its ORM models, its command
    line's parser, and the in-process execution API app that ``dag.test()`` builds once per process, with the
    versioned routes that Cadwyn (the app's class) generates at its first request: built in each child, they were
    over half of a ``dag.test()`` run's CPU time (py-spy of a whole ``make test``: ~150 of ~270 CPU-s of the DAG
    runs). No DB connection is kept (Airflow disposes of its engine's pool in a forked child) and no thread is started
    (the API's event loop thread is started by its transport, in the child)."""
    from airflow.cli import cli_parser  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401
    from airflow.models.asset import AssetEvent  # noqa: F401
    from airflow.models.dagrun import DagRun  # noqa: F401
    from airflow.models.xcom import XComModel  # noqa: F401
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    app = in_process_api_server().app
    if not getattr(app, "_cadwyn_initialized", True):  # what Cadwyn.__call__ does first (a Cadwyn without it: none)
        app._cadwyn_initialize()


def _child(request: dict[str, Any], protocol: int) -> None:
    """In the forked child: stdin, stdout and stderr as a new process of its own would have them, the request's
    environment, then the command; never returns."""
    code = 1
    try:
        os.close(protocol)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        try:
            if request.get("airflow"):  # ``python -m airflow ARGV``
                from airflow import __main__ as cli

                sys.argv = [cli.__file__, *request["argv"]]
                cli.main()
            else:
                sys.argv = [sys.argv[0], *request["argv"]]
                main(request["argv"])
            code = 0
        except SystemExit as stop:  # argparse's usage errors: exit 2, its message already printed
            code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        except BaseException:  # noqa: BLE001 - as an uncaught exception would end a process: traceback, exit 1
            traceback.print_exc()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def serve() -> None:
    """Read one JSON request a line from stdin (``argv``, ``env``, ``stdout`` and ``stderr`` file paths; ``airflow``:
    true for the ``airflow`` command line, else this file's commands), fork a
    child that runs it (:func:`_child`), and answer ``{"pid": …}`` when it started and ``{"returncode": …}`` when it
    ended, one JSON line each, on the stdout the server was started with (its own output goes to its stderr)."""
    protocol = os.dup(1)
    os.dup2(2, 1)
    _warm_up()
    answers = os.fdopen(protocol, "w", buffering=1)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, protocol)
        answers.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check")
    sub.add_parser("runs").add_argument("dag_id")
    run = sub.add_parser("test")
    run.add_argument("dag_id")
    run.add_argument("--logical-date")
    run.add_argument("--no-retries", action="store_true")
    run.add_argument("--retries", type=int)
    sub.add_parser("serve")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve()
    elif args.command == "check":
        check()
    elif args.command == "runs":
        runs(args.dag_id)
    else:
        test(args.dag_id, args.logical_date, args.no_retries, args.retries)


if __name__ == "__main__":
    main()
