"""The Airflow installation of the DAG tests: AIRFLOW_HOME in a temp dir, a SQLite metadata DB migrated once."""

from __future__ import annotations

import pytest
from airflow_harness import DAGS, AirflowEnv, clean_environment


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    home = tmp_path_factory.mktemp("airflow_home")
    env = clean_environment() | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    airflow_env = AirflowEnv(home, env)
    proc = airflow_env.python("from airflow.__main__ import main; import sys; sys.argv = ['airflow', 'db', "
                              "'migrate']; main()", timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return airflow_env
