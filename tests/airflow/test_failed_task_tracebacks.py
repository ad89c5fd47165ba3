"""A failed task's traceback, as Airflow prints it, shows no secret and no raw control character.

Airflow formats the exception of a failed task itself (structlog's exception renderer, ``str()`` of each exception
of the chain), through none of fediscope's log filters, and ``dag.test()`` prints it without Airflow's secrets
masker too. A real ``dag.test()`` of ``fediscope_maintenance`` whose two checks fail with exceptions holding
configured secrets, as a third-party error may quote them: ``lake_health`` with a ValueError naming the pseudonym
key and the hostile error text (a newline forging a log line, escape sequences), raised from an error naming the
API key; ``store_health`` with an SQLAlchemy error (its own ``__str__``) quoting the store's password.

Was: both tracebacks showed every secret in clear, and the forged line and escape sequences as they were
(``orchestration.failing_at_once`` masks them now: :func:`fediscope.orchestration.masked_exception`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import MARKER, AirflowEnv
from doubles.hostile_strings import RAW_CONTROLS, hostile_error

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
PSEUDONYM_KEY = "traceback-test-pseudonym-key-3e8f1a"
API_KEY = "traceback-test-api-key-6b2d"
PASSWORD = "tb-db-Pass-41x"
FORGED = "2026-01-01 00:00:00,000"

#: Run in Airflow's process before ``dag.test()``: the checks the two tasks call raise (the DAG file's tasks call
#: ``orch.check_lake``/``orch.check_store`` with the settings ``orch.task_settings()`` read, secrets registered).
RAISING = f"""
import sqlalchemy.exc
from fediscope import orchestration as orch

def check_lake(settings):
    try:
        raise RuntimeError('the API key ' + settings.api_key[0] + ' is not allowed here')
    except RuntimeError as exc:
        raise ValueError('pseudonym key ' + settings.pseudonym_key + ' refused: ' + {hostile_error()!r}) from exc

def check_store(settings):
    raise sqlalchemy.exc.OperationalError('SELECT 1', {{}}, Exception("Access denied (using password '{PASSWORD}')"))

orch.check_lake, orch.check_store = check_lake, check_store
"""


@pytest.fixture(scope="module")
def maintenance(airflow_env: AirflowEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("fediscope_tracebacks")
    variable = {"lake": str(work / "lake"), "store": f"mysql+pymysql://fediscope:{PASSWORD}@127.0.0.1:9/fediscope"}
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY,
           "FEDISCOPE_API_KEY": API_KEY}
    code = (f"import sys\nsys.path.insert(0, {str(HERE)!r})\n{RAISING}\nimport dag_runner\n"
            "dag_runner.test('fediscope_maintenance', None, True)\n")
    proc = airflow_env.python(code, extra_env=env, timeout=240)
    output = proc.stdout + proc.stderr
    results = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not results:
        pytest.fail(f"exited {proc.returncode}\n{output[-6000:]}")
    return {"result": json.loads(results[-1][len(MARKER):]), "output": output}


def _lines(maintenance: dict[str, Any], holding: str) -> list[str]:
    return [line for line in maintenance["output"].splitlines() if holding in line]


def test_no_secret_is_in_the_task_output(maintenance: dict[str, Any]) -> None:
    output = maintenance["output"]
    for secret in (PSEUDONYM_KEY, API_KEY, PASSWORD):
        assert secret.lower() not in output.lower(), secret


def _traceback_lines(maintenance: dict[str, Any], start: str) -> list[str]:
    """The lines of the tracebacks that start with ``start``: an exception's type and text."""
    return [line for line in maintenance["output"].splitlines() if line.startswith(start)]


def test_the_tracebacks_show_the_exceptions_masked(maintenance: dict[str, Any]) -> None:
    """Each exception of the chain, as the traceback's line of it: its type, then its text masked; the ValueError
    keeps its type (Airflow's retries go by it), the SQLAlchemy error has a stand-in naming it, and the failure
    callback's line names each by its own type."""
    states = {t["task_id"]: t["state"] for t in maintenance["result"]["tasks"]}
    assert states["lake_health"] == "failed" and states["store_health"] == "failed", states
    output = maintenance["output"][-6000:]
    assert _traceback_lines(maintenance, "RuntimeError: the API key *** is not allowed here"), output
    assert _traceback_lines(maintenance, "ValueError: pseudonym key *** refused: Something went wrong"), output
    assert _traceback_lines(maintenance, "fediscope.orchestration.MaskedError: sqlalchemy.exc.OperationalError: "
                                         "(builtins.Exception) Access denied (using password '***')"), output
    lake = _lines(maintenance, "fediscope_maintenance.lake_health failed (run ")
    assert len(lake) == 1 and "ValueError: pseudonym key *** refused: " in lake[0], output
    store = _lines(maintenance, "fediscope_maintenance.store_health failed (run ")
    assert len(store) == 1 and "OperationalError: (builtins.Exception) Access denied (using password '***')" in store[0]


def test_the_tracebacks_forge_no_line_and_carry_no_control_character(maintenance: dict[str, Any]) -> None:
    output = maintenance["output"]
    lake = _traceback_lines(maintenance, "ValueError: pseudonym key *** refused: ")
    assert lake and f"Something went wrong\\n{FORGED} ERROR fediscope forged log line" in lake[0], lake
    assert "\\x1b[2J" in lake[0], lake
    assert not any(line.startswith(FORGED) for line in output.splitlines()), output[-6000:]
    assert RAW_CONTROLS.findall(output.replace("\n", "")) == [], output[-6000:]
