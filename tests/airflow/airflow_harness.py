"""The Airflow side of the DAG tests: paths and :class:`AirflowEnv`, which runs Airflow in subprocesses.

Airflow reads its configuration and sets up logging when it is imported, so it never runs in the pytest
process: every Airflow step runs in a subprocess with the environment of :class:`AirflowEnv` (``run`` for
``tests/airflow/dag_runner.py``, ``python`` for a snippet). The ``FEDISCOPE_*`` and ``AIRFLOW_*`` variables of
the calling shell are not passed on, so a developer's configuration cannot leak into the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "airflow" / "dags"
RUNNER = Path(__file__).resolve().parent / "dag_runner.py"
MARKER = "FEDISCOPE_RESULT "


@dataclass
class AirflowEnv:
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def _run(self, argv: list[str], extra_env: dict[str, str] | None, timeout: float) -> subprocess.CompletedProcess:
        env = self.env | (extra_env or {})
        return subprocess.run(argv, env=env, cwd=self.home, capture_output=True, text=True, timeout=timeout)

    def python(self, code: str, extra_env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
        return self._run([sys.executable, "-c", code], extra_env, timeout)

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The ``airflow`` command line (``airflow.__main__`` of this interpreter)."""
        return self._run([sys.executable, "-m", "airflow", *args], None, timeout)

    def run(self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 150) -> dict[str, Any]:
        """``dag_runner.py`` with ``args``; its JSON result (the test fails with the output when there is none)."""
        proc = self._run([sys.executable, str(RUNNER), *args], extra_env, timeout)
        lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
        if proc.returncode != 0 or not lines:
            pytest.fail(f"dag_runner {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}"
                        f"\n--- stderr\n{proc.stderr[-6000:]}")
        result = json.loads(lines[-1][len(MARKER):])
        result["_output"] = proc.stdout + proc.stderr
        return result


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FEDISCOPE_", "_AIRFLOW"))}


def create_airflow_env(home: Path, template: AirflowEnv | None = None) -> AirflowEnv:
    """An AIRFLOW_HOME in ``home`` with the repository's DAG folder and a migrated SQLite metadata DB: a copy of
    ``template``'s when given (the session's :func:`conftest.airflow_template`, migrated once: a migration takes
    about 6 s here), else migrated now."""
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
    if template is not None:
        shutil.copyfile(template.home / "airflow.db", home / "airflow.db")
        return airflow_env
    proc = airflow_env.airflow("db", "migrate", timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return airflow_env
