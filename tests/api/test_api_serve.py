"""``fediscope serve-api``: the real command, served by waitress in a subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api_testing import KEY, PSEUDONYM_KEY, assert_error

COMMAND = [sys.executable, "-c", "from fediscope.cli import main; main()"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env.update(FEDISCOPE_LAKE=str(tmp_path / "lake"), **extra)  # cwd is tmp_path: no fediscope.toml
    return env


@pytest.fixture
def served(tmp_path: Path, mastodon_server: Any) -> Iterator[str]:
    env = _env(tmp_path, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY,
               FEDISCOPE_INSTANCES=mastodon_server.url, FEDISCOPE_ALLOW_PRIVATE_ADDRESSES="true")
    process = subprocess.Popen([*COMMAND, "serve-api", "--host", "127.0.0.1", "--port", "0"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_api_answers_over_waitress(served: str, mastodon_server: Any) -> None:
    health = requests.get(f"{served}/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["Server"] == "fediscope"  # waitress, with its version hidden
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert_error(requests.get(f"{served}/v1/instance", params={"instance": mastodon_server.domain}, timeout=10),
                 401)
    page = requests.get(f"{served}/v1/timelines/public", params={"instance": mastodon_server.domain, "limit": 3},
                        headers={"X-API-Key": KEY}, timeout=30)
    assert page.status_code == 200 and page.json()["count"] == 3
    assert 'rel="next"' in page.headers["Link"]


def test_serve_api_refuses_large_bodies_at_the_server(served: str) -> None:
    response = requests.post(f"{served}/health", data=b"x" * 100_000, timeout=10)
    assert response.status_code == 413


@pytest.mark.parametrize(("env", "message"), [
    ({"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY}, "FEDISCOPE_API_KEY"),
    ({"FEDISCOPE_API_KEY": KEY}, "FEDISCOPE_PSEUDONYM_KEY"),
])
def test_serve_api_without_keys_is_one_clear_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    started = time.monotonic()
    result = subprocess.run([*COMMAND, "serve-api", "--port", "0"], env=_env(tmp_path, **env), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("where", ["taken", "999.1.1.1"])
def test_serve_api_that_cannot_listen_is_one_clear_line(tmp_path: Path, where: str) -> None:
    env = _env(tmp_path, FEDISCOPE_API_KEY=KEY, FEDISCOPE_PSEUDONYM_KEY=PSEUDONYM_KEY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = (["--port", str(taken.getsockname()[1])] if where == "taken"
                   else ["--host", where, "--port", "0"])
        result = subprocess.run([*COMMAND, "serve-api", *address], env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
