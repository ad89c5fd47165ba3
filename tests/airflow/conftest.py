"""The Airflow installation of the DAG tests: AIRFLOW_HOME in a temp dir, a SQLite metadata DB migrated once."""

from __future__ import annotations

import pytest
from airflow_harness import AirflowEnv, create_airflow_env


@pytest.fixture(scope="session")
def airflow_template(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    """A freshly migrated metadata DB that no test uses: tests needing an Airflow of their own copy it."""
    return create_airflow_env(tmp_path_factory.mktemp("airflow_template"))


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory, airflow_template: AirflowEnv) -> AirflowEnv:
    return create_airflow_env(tmp_path_factory.mktemp("airflow_home"), template=airflow_template)
