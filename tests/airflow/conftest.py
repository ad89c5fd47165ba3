"""The Airflow installation of the DAG tests: AIRFLOW_HOME in a temp dir, a SQLite metadata DB migrated once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from airflow_harness import AirflowEnv, create_airflow_env


@pytest.fixture(scope="session")
def airflow_template(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    """A freshly migrated metadata DB that no test uses: tests needing an Airflow of their own copy it."""
    return create_airflow_env(tmp_path_factory.mktemp("airflow_template"))


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory, airflow_template: AirflowEnv) -> AirflowEnv:
    return create_airflow_env(tmp_path_factory.mktemp("airflow_home"), template=airflow_template)


@pytest.fixture(autouse=True)
def _logging_as_before() -> Iterator[None]:
    """Airflow configures logging process-wide (structlog, its handlers on the root logger, logger levels): left in
    place, a later test in the same worker saw fediscope's warnings go to stdout in Airflow's format instead of to
    its own stderr handler, or twice. Each DAG test gives the logging it found back."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level, root.disabled, dict(vars(root)))
    saved = {name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled)
             for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    disabled, logger_class = manager.disable, logging.getLoggerClass()
    yield
    root.handlers[:] = saved_root[0]
    root.setLevel(saved_root[1])
    root.disabled = saved_root[2]
    for attribute in set(vars(root)) - set(saved_root[3]):
        delattr(root, attribute)
    for name, lg in list(manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger):
            continue
        if name in saved:
            handlers, level, propagate, was_disabled = saved[name]
            lg.handlers[:], lg.propagate, lg.disabled = handlers, propagate, was_disabled
            lg.setLevel(level)
        else:  # a logger made during the test: as a new one would be
            lg.handlers[:], lg.propagate, lg.disabled = [], True, False
            lg.setLevel(logging.NOTSET)
    logging.disable(disabled)
    logging.setLoggerClass(logger_class)
