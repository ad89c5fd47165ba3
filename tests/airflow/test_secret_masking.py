"""Secrets stay out of Airflow task logs: ``orchestration.mask_secrets_for_airflow`` at the start of each task.

The real path: an instance that answers 401 with an error message repeating the access token it was sent
(some servers and proxies do). fediscope's collector logs that message and the mapped ``collect`` task fails
with it; under Airflow neither goes through the CLI's redacting handler. A real ``dag.test()`` of
``fediscope_ingest`` runs against such an instance with a configured token, and its whole output (task log
lines, the task's traceback, the failure callback line) must show the token masked.

``dag.test()`` runs tasks in its own process and prints their log lines without Airflow's secrets masker (in
production the task's supervisor process applies it when it writes the log file), so the run also reports
what that masker makes of each secret afterwards: ``***`` once the task registered them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import MARKER, AirflowEnv
from doubles import serving

from fediscope.config import token_env_name

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
TOKEN = "tok-3f9a1c7e5b2d4860-airflow-test"
PSEUDONYM_KEY = "masking-test-pseudonym-key-5d1e2f3a4b"
API_KEY = "masking-test-api-key-8c7b6a5f"
MASKER = "FEDISCOPE_MASKER "


class _EchoingRejection(BaseHTTPRequestHandler):
    """Every GET is refused with HTTP 401, and the error text repeats the bearer token the client sent."""

    def do_GET(self) -> None:  # noqa: N802
        auth = self.headers.get("Authorization") or ""
        sent = auth[len("Bearer "):] if auth.startswith("Bearer ") else "(none)"
        body = json.dumps({"error": f"The access token {sent} was revoked"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def rejecting_instance() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _EchoingRejection)) as port:
        yield f"http://127.0.0.1:{port}"


def _run_and_read_masker(airflow_env: AirflowEnv, code: str, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Run ``code`` in Airflow's environment; the JSON of its masker line (which names the secrets in clear)
    and the rest of its output."""
    proc = airflow_env.python(code, extra_env=env, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MASKER)]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    output = "\n".join(line for line in (proc.stdout + proc.stderr).splitlines() if not line.startswith(MASKER))
    return json.loads(lines[-1][len(MASKER):]), output


@pytest.fixture(scope="module")
def ingest(airflow_env: AirflowEnv, rejecting_instance: str,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("fediscope_masking")
    variable = {"lake": str(work / "lake"), "store": f"sqlite:///{work / 'fediscope.db'}", "engine": "duckdb",
                "max_pages": 2, "max_retries": 0, "request_timeout": 5,
                "sources": [{"instance": rejecting_instance, "timelines": ["public"]}]}
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY,
           "FEDISCOPE_API_KEY": API_KEY, token_env_name(rejecting_instance): TOKEN}
    secrets = [TOKEN, PSEUDONYM_KEY, API_KEY]
    code = (f"import json, sys\nsys.path.insert(0, {str(HERE)!r})\nimport dag_runner\n"
            "dag_runner.test('fediscope_ingest', None, True)\n"
            "from airflow.sdk._shared.secrets_masker import redact\n"
            f"print({MASKER!r} + json.dumps({{s: redact(s) for s in {secrets!r}}}), flush=True)\n")
    masker, output = _run_and_read_masker(airflow_env, code, env)
    results = [line for line in output.splitlines() if line.startswith(MARKER)]
    assert results, output[-6000:]
    return {"result": json.loads(results[-1][len(MARKER):]), "masker": masker, "output": output,
            "domain": rejecting_instance.split("://", 1)[1]}


def test_the_echoed_token_is_masked_in_every_line_of_the_task_output(ingest: dict[str, Any]) -> None:
    collect = [t for t in ingest["result"]["tasks"] if t["task_id"] == "collect"]
    assert [t["state"] for t in collect] == ["failed"], ingest["result"]["tasks"]
    output = ingest["output"]
    assert TOKEN not in output
    warning = [line for line in output.splitlines() if f"source {ingest['domain']} public failed" in line]
    assert warning, "the collector logs the failed source"
    assert all("The access token *** was revoked" in line for line in warning), warning
    callback = [line for line in output.splitlines() if "fediscope task fediscope_ingest.collect" in line]
    assert callback and all("The access token *** was revoked" in line for line in callback), callback
    assert PSEUDONYM_KEY not in output and API_KEY not in output


def test_the_task_registered_the_secrets_with_airflows_masker(ingest: dict[str, Any]) -> None:
    assert ingest["masker"] == {TOKEN: "***", PSEUDONYM_KEY: "***", API_KEY: "***"}


def test_every_kind_of_secret_is_registered_and_the_filter_installed_once(airflow_env: AirflowEnv) -> None:
    """API keys with and without ``:ro``, the pseudonym key, a token, a store password with ``/``, ``?`` and ``#``
    (also in its URL-quoted form); a second call adds no second filter."""
    password = "db/pa?ss#word-77"
    env = {"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY, "FEDISCOPE_API_KEY": f"{API_KEY}:ro",
           "FEDISCOPE_STORE": f"mysql+pymysql://fediscope:{password}@127.0.0.1:3306/fediscope",
           "FEDISCOPE_TOKEN_MASTODON_EXAMPLE": TOKEN}
    expected = [TOKEN, PSEUDONYM_KEY, API_KEY, f"{API_KEY}:ro", password, "db%2Fpa%3Fss%23word-77"]
    code = ("import json, logging\n"
            "logging.getLogger().addHandler(logging.StreamHandler())\n"
            "from fediscope import orchestration as orch\n"
            "from fediscope.redact import RedactingFilter\n"
            "settings = orch.settings_from_overrides({})\n"
            "registered = orch.mask_secrets_for_airflow(settings)\n"
            "orch.mask_secrets_for_airflow(settings)\n"
            "from airflow.sdk._shared.secrets_masker import redact\n"
            "filters = [sum(isinstance(f, RedactingFilter) for f in h.filters) for h in logging.getLogger().handlers]\n"
            f"print({MASKER!r} + json.dumps({{'registered': registered, 'filters': filters,\n"
            f"    'redacted': {{s: redact(s) for s in {expected!r}}}}}), flush=True)\n"
            "logging.getLogger('fediscope.x').warning('store password %s', " + repr(password) + ")\n")
    masker, output = _run_and_read_masker(airflow_env, code, env)
    assert set(masker["registered"]) == {TOKEN, PSEUDONYM_KEY, API_KEY, f"{API_KEY}:ro", password}
    # Airflow's masker tries its patterns in no fixed order: "<key>:ro" is masked whole or as "***:ro" (the key
    # alone matched first); either way nothing secret is left
    for secret, shown in masker["redacted"].items():
        assert shown in (("***", "***:ro") if secret.endswith(":ro") else ("***",)), (secret, shown)
    assert set(masker["redacted"]) == set(expected)
    assert masker["filters"] and set(masker["filters"]) == {1}, masker["filters"]
    assert "store password ***" in output and password not in output
