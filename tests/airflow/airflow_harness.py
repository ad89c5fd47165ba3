"""The Airflow side of the DAG tests: paths and :class:`AirflowEnv`, which runs Airflow in subprocesses.

Airflow reads its configuration and sets up logging when it is imported, so it never runs in the pytest
process: every Airflow step runs in a subprocess with the environment of :class:`AirflowEnv` (``run`` for
``tests/airflow/dag_runner.py``, ``python`` for a snippet). The ``FEDISCOPE_*`` and ``AIRFLOW_*`` variables of
the calling shell are not passed on, so a developer's configuration cannot leak into the tests.

``run`` and ``airflow`` send their command to a fork server of the environment (``dag_runner.py serve``, started
at the first): the command runs in a forked child of its own, with its own environment, stdin, stdout and stderr,
as a new process would, minus the ~5 s that each new process spent importing Airflow and building its in-process
execution API (of a ``dag.test()`` run: about a third). The variables read before the server forks, ``AIRFLOW__*``
(Airflow's configuration, read when it is imported) and ``PYTHON*`` (read when Python starts), are the server's
own: a command given other values of them than the running server's is run by a new server started with them.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
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
    _server: subprocess.Popen | None = field(default=None, init=False, repr=False, compare=False)
    _server_env: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _run(self, argv: list[str], extra_env: dict[str, str] | None, timeout: float) -> subprocess.CompletedProcess:
        env = self.env | (extra_env or {})
        return subprocess.run(argv, env=env, cwd=self.home, capture_output=True, text=True, timeout=timeout)

    def python(self, code: str, extra_env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
        return self._run([sys.executable, "-c", code], extra_env, timeout)

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The ``airflow`` command line (``airflow.__main__`` of this interpreter), run by the fork server."""
        return self._forked(list(args), None, timeout, cli=True)

    def _forked(self, args: list[str], extra_env: dict[str, str] | None, timeout: float,
                cli: bool = False) -> subprocess.CompletedProcess:
        """``dag_runner.py`` with ``args`` (``cli``: ``python -m airflow`` with ``args``) run by the fork server,
        which is started first when there is none."""
        env = self.env | (extra_env or {})
        # what the server read before forking: the command's values, or a server of their own
        before_fork = {k: v for k, v in env.items() if k.startswith(("AIRFLOW__", "PYTHON"))}
        if self._server is not None and (self._server_env != before_fork or self._server.poll() is not None):
            _stop_server(self._server)
            self._server = None
        if self._server is None:
            self._server_env = before_fork
            with open(self.home / "dag_runner_serve.log", "ab") as log:
                self._server = subprocess.Popen([sys.executable, str(RUNNER), "serve"], env=env, cwd=self.home,
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                                start_new_session=True)
            weakref.finalize(self, _stop_server, self._server)
        server = self._server
        argv = [sys.executable, *(["-m", "airflow"] if cli else [str(RUNNER)]), *args]
        with tempfile.TemporaryDirectory(prefix="dag_runner_") as tmp:
            out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
            request = {"argv": args, "env": env, "stdout": str(out), "stderr": str(err),
                       "airflow": cli}
            server.stdin.write((json.dumps(request) + "\n").encode())
            server.stdin.flush()
            deadline = time.monotonic() + timeout
            answers = b""
            while answers.count(b"\n") < 2:  # {"pid": …} when the child started, {"returncode": …} when it ended
                ready, _, _ = select.select([server.stdout], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(server.stdout.fileno(), 4096) if ready else None
                if not chunk:  # timed out, or the server ended
                    _stop_server(server)
                    self._server = None
                    output = (out.read_text(errors="replace") if out.exists() else "",
                              err.read_text(errors="replace") if err.exists() else "")
                    if ready:
                        log = (self.home / "dag_runner_serve.log").read_text(errors="replace")[-4000:]
                        pytest.fail(f"the dag_runner fork server ended\n--- its log\n{log}\n--- stdout\n"
                                    f"{output[0][-4000:]}\n--- stderr\n{output[1][-4000:]}")
                    raise subprocess.TimeoutExpired(argv, timeout, output=output[0], stderr=output[1])
                answers += chunk
            returncode = json.loads(answers.splitlines()[1])["returncode"]
            return subprocess.CompletedProcess(argv, returncode, out.read_text(errors="replace"),
                                               err.read_text(errors="replace"))

    def run(self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 150) -> dict[str, Any]:
        """``dag_runner.py`` with ``args``, run by the fork server; its JSON result (the test fails with the output
        when there is none)."""
        proc = self._forked(list(args), extra_env, timeout)
        lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
        if proc.returncode != 0 or not lines:
            pytest.fail(f"dag_runner {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}"
                        f"\n--- stderr\n{proc.stderr[-6000:]}")
        result = json.loads(lines[-1][len(MARKER):])
        result["_output"] = proc.stdout + proc.stderr
        return result


def _stop_server(server: subprocess.Popen) -> None:
    """End a fork server and any child it runs: killed with its process group (an idle server has nothing to
    finish or clean up, and its interpreter's exit took 2 s)."""
    if server.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    for stream in (server.stdin, server.stdout):
        if stream and not stream.closed:
            stream.close()


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
    proc = airflow_env._run([sys.executable, "-m", "airflow", "db", "migrate"], None, 300)  # no fork server: no DB yet
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return airflow_env
