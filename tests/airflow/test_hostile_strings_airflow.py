"""Strings a hostile server sends, in an Airflow task's log: shown escaped, never obeyed.

Inside an Airflow task fediscope has no log handler of its own: its records go to Airflow's (structlog's
``ProcessorFormatter`` on the root logger), where :func:`fediscope.redact.install_redacting_filter` puts fediscope's
filters. A real ``dag.test()`` of ``fediscope_ingest`` collects from :class:`~doubles.hostile_strings.HostileDouble`,
whose public timeline answers 422 with :func:`~doubles.hostile_strings.hostile_error` as Mastodon's error message (a
newline forging a log line, a carriage return, CSI and OSC 52 escapes, C1 controls, bidi overrides); ``dag.test()``
prints the task's log as text lines (structlog's ``ConsoleRenderer``).

Was: the collector's warning quoting the error was split in two, its second line a forged ``ERROR`` line, with the
escape sequences as they were (masked, not escaped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from airflow_harness import AirflowEnv
from doubles.hostile_strings import RAW_CONTROLS, HostileDouble, hostile_error

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

#: The start of the line the hostile error's newline forges.
FORGED = "2026-01-01 00:00:00,000"


@pytest.fixture(scope="module")
def double() -> Iterator[HostileDouble]:
    with HostileDouble(statuses=5) as server:
        yield server


@pytest.fixture(scope="module")
def ingest(airflow_env: AirflowEnv, double: HostileDouble, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A ``dag.test()`` of ``fediscope_ingest`` whose one source answers with the hostile error."""
    double.fail(status=422, error=hostile_error(), times=1, path="/api/v1/timelines/public")
    work = tmp_path_factory.mktemp("fediscope_hostile")
    variable = {"lake": str(work / "lake"), "store": f"sqlite:///{work / 'fediscope.db'}", "engine": "duckdb",
                "max_pages": 1, "max_retries": 0, "request_timeout": 5,
                "sources": [{"instance": double.url, "timelines": ["public"]}]}
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable),
           "FEDISCOPE_PSEUDONYM_KEY": "hostile-airflow-pseudonym-key-7c2e9b"}
    return airflow_env.run("test", "fediscope_ingest", "--no-retries", extra_env=env, timeout=240)


def _lines(ingest: dict[str, Any], holding: str) -> list[str]:
    return [line for line in ingest["_output"].splitlines() if holding in line]


def test_the_collectors_warning_shows_the_error_escaped_on_one_line(ingest: dict[str, Any]) -> None:
    collect = [t for t in ingest["tasks"] if t["task_id"] == "collect"]
    assert [t["state"] for t in collect] == ["failed"], ingest["tasks"]
    warning = _lines(ingest, "public failed: ")
    assert len(warning) == 1, ingest["_output"][-6000:]
    assert "Something went wrong\\n2026-01-01 00:00:00,000 ERROR fediscope forged log line" in warning[0]
    assert "\\rforged" in warning[0] and "\\x1b[2J" in warning[0], warning[0]
    assert RAW_CONTROLS.findall(warning[0]) == [], warning[0]


def test_the_failure_callbacks_line_shows_the_error_escaped(ingest: dict[str, Any]) -> None:
    callback = _lines(ingest, "fediscope task fediscope_ingest.collect")
    assert len(callback) == 1, ingest["_output"][-6000:]
    assert "\\x1b[2J" in callback[0] and RAW_CONTROLS.findall(callback[0]) == [], callback[0]


def test_json_task_logs_keep_the_value_as_sent(airflow_env: AirflowEnv) -> None:
    """A deployed task process logs JSON to Airflow's supervisor (``configure_logging(json_output=True,
    sending_to_supervisor=True)``, as the task runner calls it): JSON escapes every control character itself, so
    the value arrives exactly as sent, not escaped twice (``\\\\x1b`` where the server sent ESC)."""
    value = hostile_error()
    code = ("import io, json, logging, sys\n"
            "from airflow.sdk.log import configure_logging\n"
            "from fediscope.redact import install_redacting_filter\n"
            "out = io.BytesIO()\n"
            "configure_logging(json_output=True, output=out, sending_to_supervisor=True)\n"
            "covered = install_redacting_filter()\n"
            f"logging.getLogger('fediscope.sources.collector').warning('failed: %s', {value!r})\n"
            "lines = [json.loads(line) for line in out.getvalue().decode().splitlines()]\n"
            "print(json.dumps({'covered': len(covered), 'events': [l['event'] for l in lines]}))\n")
    proc = airflow_env.python(code)
    assert proc.returncode == 0, proc.stderr[-6000:]
    shown = json.loads(proc.stdout.splitlines()[-1])
    assert shown == {"covered": 1, "events": [f"failed: {value}"]}, shown


def test_no_line_of_the_task_output_is_forged(ingest: dict[str, Any]) -> None:
    """Also the task's traceback, which Airflow prints itself (the failed collection's message, escaped by
    ``orchestration.collect_target``)."""
    output = ingest["_output"]
    assert not any(line.startswith(FORGED) for line in output.splitlines()), output[-6000:]
    assert RAW_CONTROLS.findall(output.replace("\n", "")) == [], output[-6000:]
