"""infra/cluster/README.md's Airflow step configures the sources ``fediscope_ingest`` collects.

The compose ``airflow`` service sets the lake, store and engine through ``FEDISCOPE_*`` but no sources (no
variable holds them), so the ingest DAG's ``targets`` task has nothing to collect until the Airflow Variable
``fediscope_settings`` has ``sources``. The ``airflow variables set`` command of the README is run here as written
(minus ``docker compose … exec airflow``) against a real Airflow, then the real ``targets`` task.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import pytest
from airflow_harness import ROOT, AirflowEnv, create_airflow_env

pytestmark = pytest.mark.airflow

README = ROOT / "infra" / "cluster" / "README.md"


def _readme_variable_command() -> list[str]:
    """``airflow variables set fediscope_settings '{…}'`` as the README has it run in the airflow container."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    lines = [line for block in blocks for line in re.sub(r"\\\n\s*", " ", block).splitlines()]
    commands = [shlex.split(line) for line in lines if "airflow variables set" in line]
    assert commands, "infra/cluster/README.md does not set the Airflow Variable fediscope_settings"
    (argv,) = commands
    at = argv.index("exec")
    assert argv[at + 1] == "airflow", argv  # the compose service
    return argv[at + 2:]


def _targets(env: AirflowEnv) -> tuple[str, list[dict[str, str]] | None]:
    """Run the ``targets`` task of ``fediscope_ingest`` for real (``airflow tasks test``): its output and return
    value (None when it failed: ``tasks test`` exits 0 either way)."""
    proc = env.airflow("tasks", "test", "fediscope_ingest", "targets", timeout=180)
    output = proc.stdout + proc.stderr
    returned = [line.split("Returned value was: ", 1)[1] for line in output.splitlines()
                if "Returned value was: " in line]
    return output, ast.literal_eval(returned[-1].split(" [airflow.", 1)[0].strip()) if returned else None


def test_the_readme_variable_gives_the_ingest_dag_its_sources(tmp_path: Path, airflow_template: AirflowEnv) -> None:
    home = tmp_path / "airflow_home"
    home.mkdir()
    # its own metadata DB: the Variable set here must not reach other tests
    env = create_airflow_env(home, template=airflow_template)
    proc = env.airflow("dags", "reserialize")
    assert proc.returncode == 0, proc.stderr[-3000:]

    output, value = _targets(env)  # what the compose service does without the Variable
    assert value is None and "ConfigError: nothing to collect" in output, output[-3000:]

    argv = _readme_variable_command()
    assert argv[:4] == ["airflow", "variables", "set", "fediscope_settings"], argv
    proc = env.airflow(*argv[1:])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

    output, value = _targets(env)
    sources = json.loads(argv[4])["sources"]
    expected = [{"instance": s["instance"], "source": t} for s in sources for t in s["timelines"]]
    assert sources and value == expected, (value, expected, output[-3000:])
