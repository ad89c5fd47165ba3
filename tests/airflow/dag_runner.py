"""Run inside a subprocess with AIRFLOW_HOME set by tests/airflow/conftest.py; prints one JSON result line.

``python dag_runner.py check`` — parse the DAG folder with a DagBag: import errors, tags, retries per task.
``python dag_runner.py test DAG_ID [--logical-date ISO] [--no-retries | --retries N]`` — one ``dag.test()`` run:
the run's state and data interval, each task instance's state, map index, try number and return value (XCom), and
the Asset events its tasks emitted. ``--retries N``: every task retried N times, 1 s apart.
``python dag_runner.py runs DAG_ID`` — the DAG runs in the metadata DB: run id, type, state, data interval.

Airflow configures logging and global state on import, so the tests run it out of the pytest process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check")
    sub.add_parser("runs").add_argument("dag_id")
    run = sub.add_parser("test")
    run.add_argument("dag_id")
    run.add_argument("--logical-date")
    run.add_argument("--no-retries", action="store_true")
    run.add_argument("--retries", type=int)
    args = parser.parse_args()
    if args.command == "check":
        check()
    elif args.command == "runs":
        runs(args.dag_id)
    else:
        test(args.dag_id, args.logical_date, args.no_retries, args.retries)


if __name__ == "__main__":
    main()
