"""A weak pseudonym key is warned about at landing, once per run (not refused: tests and demos use short keys).

Was: ``doctor`` and ``config check`` call ``FEDISCOPE_PSEUDONYM_KEY=demo`` "a common default value: anyone can
recompute the pseudonyms", yet ``collect`` landed with it silently, and ``fediscope sample-instance --help``
suggested exactly ``FEDISCOPE_PSEUDONYM_KEY=demo fediscope collect …``. Run for real: the sample instance on
127.0.0.1, the ``fediscope`` command in-process (``serve-api`` in a subprocess), lakes in tmp dirs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import clean_env, run
from click.testing import CliRunner

from fediscope.config import Settings
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer

STRONG = "weak-key-test-strong-key-8d2f6b0a4e1c9f3a7b5d"
COMMAND = [sys.executable, "-c", "from fediscope.cli import main; main()"]
ROOT = Path(__file__).resolve().parents[2]  # the subprocess runs the fediscope these tests import


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(60, seed=7), rate_limit=100_000) as sample:
        yield sample


@pytest.fixture
def lake_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true")
    return tmp_path / "lake"


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if " WARNING fediscope.lake.key_check " in line]


@pytest.mark.parametrize(("key", "why"), [("demo", "is a common default value"),
                                          ("Change_Me", "is a common default value"),
                                          ("a-short-test-key", "is shorter than 32 characters")])
def test_collect_lands_with_a_weak_key_and_warns_once(capsys, monkeypatch, server, lake_dir, key, why) -> None:
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", key)
    code, out, err = run(capsys, "collect", "--instance", server.url, "--timeline", "public", "--timeline",
                         "instance")
    assert code == 0 and "landed" in out, err
    (warning,) = _warnings(err)
    assert f"FEDISCOPE_PSEUDONYM_KEY {why}" in warning and "secrets.token_hex(32)" in warning
    assert key not in warning
    assert err.splitlines() == [warning]


def test_stream_warns_once_for_all_its_timelines(capsys, monkeypatch, server, lake_dir) -> None:
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "a-short-test-key")
    code, _out, err = run(capsys, "stream", "--instance", server.url, "--timeline", "public", "--timeline", "local",
                          "--duration", "0.3")
    assert code == 0, err
    (warning,) = _warnings(err)
    assert "is shorter than 32 characters" in warning


@pytest.mark.parametrize("env", [{"FEDISCOPE_PSEUDONYM_KEY": STRONG},
                                 {"FEDISCOPE_PSEUDONYM_KEY": "demo", "FEDISCOPE_PRIVACY": "off"}])
def test_a_strong_key_or_no_key_in_use_is_quiet(capsys, monkeypatch, server, lake_dir, env) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _out, err = run(capsys, "collect", "--instance", server.url, "--timeline", "public")
    assert code == 0 and err == ""


def test_the_ingest_task_warns(server, lake_dir, caplog: pytest.LogCaptureFixture) -> None:
    from fediscope.orchestration import collect_target

    settings = Settings(lake=str(lake_dir), pseudonym_key="demo", allow_private_addresses=True)
    with caplog.at_level(logging.WARNING, logger="fediscope.lake.key_check"):
        assert collect_target(settings, {"instance": server.url, "source": "public"}, pages=1)["landed"] > 0
    (record,) = [r for r in caplog.records if r.name == "fediscope.lake.key_check"]
    assert record.levelno == logging.WARNING and "is a common default value" in record.getMessage()


def test_serve_api_warns_at_start(server, lake_dir) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_PSEUDONYM_KEY="demo", FEDISCOPE_INSTANCES=server.url,
               FEDISCOPE_API_KEY="weak-key-test-api-key-3a9e1f7c5b2d",
               FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true", PYTHONPATH=str(ROOT))
    process = subprocess.Popen([*COMMAND, "serve-api", "--port", "0"], env=env, cwd=lake_dir.parent,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert _warnings(first) and "is a common default value" in first, first
        second = process.stderr.readline()
        assert "fediscope API on http://127.0.0.1:" in second, second
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sample_instance_help_suggests_a_generated_key() -> None:
    from fediscope.cli import cli

    result = CliRunner().invoke(cli, ["sample-instance", "--help"])
    assert result.exit_code == 0
    assert "PSEUDONYM_KEY=demo" not in result.output
    assert "export FEDISCOPE_PSEUDONYM_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
        in result.output


def test_the_demo_key_is_not_weak(tmp_path: Path) -> None:
    """`make demo` lands with its own generated key: no warning to expect there."""
    from fediscope.demo import demo_key
    from fediscope.lake.key_check import key_weakness

    assert key_weakness(Settings(pseudonym_key=demo_key(tmp_path))) is None
    assert key_weakness(Settings(pseudonym_key="demo")) == "is a common default value"
