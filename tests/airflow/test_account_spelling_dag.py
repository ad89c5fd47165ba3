"""Real ``dag.test()`` runs of ``fediscope_ingest`` over an account configured in two spellings of a split-domain
instance: ``account:user`` and ``account:user@example.test`` of ``social.example.test`` (handles
``@user@example.test``).

The first run cannot know the handle domain before its collectors learn it (the ``targets`` task asks no instance):
two mapped tasks, of which the second walks the checkpoint the first left and lands nothing. The next run's
``targets`` task reads the handle domain the first remembered in the lake: one mapped task, labelled as the
collector names the source. Was: two mapped tasks in every run, sharing one checkpoint and walk lock.

The Airflow subprocess resolves ``social.example.test`` to 127.0.0.1 through a ``sitecustomize`` module on its
``PYTHONPATH`` (as tests/doubles/hostnames.py does in the pytest process).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import AirflowEnv
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, WEB_HOST

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PSEUDONYM_KEY = "airflow-spelling-pseudonym-key-0123456789"
RESOLVER = f"""
import socket
_system = socket.getaddrinfo
def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.lower().rstrip(".") == {WEB_HOST!r}:
        host = "127.0.0.1"
    return _system(host, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
"""


@pytest.fixture
def home() -> Iterator[MastodonDouble]:
    """The split-domain instance, unresolved in this process (not ``split_domain_double``): the Airflow subprocess
    resolves its name through :data:`RESOLVER`."""
    with MastodonDouble(statuses=30, hostname=WEB_HOST, handle_domain=HANDLE_DOMAIN) as double:
        yield double


def _collects(result: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((t for t in result["tasks"] if t["task_id"] == "collect"), key=lambda t: t["map_index"])


def test_the_next_run_collects_the_two_spellings_as_one_task(airflow_env: AirflowEnv, home: MastodonDouble,
                                                              tmp_path: Path) -> None:
    from fediscope.lake.state import source_for_logs
    from fediscope.privacy import PrivacyPolicy

    users = [s["account"]["acct"] for s in home.public_statuses() if "@" not in s["account"]["acct"]]
    user = max(set(users), key=users.count)
    resolver = tmp_path / "resolver"
    resolver.mkdir()
    (resolver / "sitecustomize.py").write_text(RESOLVER)
    spellings = [f"account:{user}", f"account:{user}@{HANDLE_DOMAIN}"]
    variable = {"lake": str(tmp_path / "lake"), "store": f"sqlite:///{tmp_path / 'fediscope.db'}", "engine": "duckdb",
                "max_pages": 8, "max_retries": 0, "request_timeout": 3,
                "sources": [{"instance": home.url, "timelines": spellings}]}
    python_path = [str(resolver), *filter(None, [airflow_env.env.get("PYTHONPATH", "")])]
    env = {"AIRFLOW_VAR_FEDISCOPE_SETTINGS": json.dumps(variable), "FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM_KEY,
           "PYTHONPATH": os.pathsep.join(python_path)}
    named = source_for_logs(f"account:{user}", PrivacyPolicy(key=PSEUDONYM_KEY.encode()))

    first = airflow_env.run("test", "fediscope_ingest", "--no-retries", extra_env=env)
    assert first["state"] == "success", first["_output"][-4000:]
    # dag.test() runs them one after the other, in either order: the second walks the checkpoint the first left
    states = sorted((t["state"], (t["value"] or {}).get("landed")) for t in _collects(first))
    assert states == [("skipped", None), ("success", users.count(user))], states
    # both labelled as their collectors named what they walked: the spelling with the handle domain too, once its
    # collector learned it (was: by the digest of that spelling, which no collector line named)
    assert [t["label"] for t in _collects(first)] == [f"{home.domain} {named}"] * 2, _collects(first)
    assert (tmp_path / "lake" / "_state" / "handle_domains.json").exists()

    second = airflow_env.run("test", "fediscope_ingest", "--no-retries", extra_env=env)
    assert second["state"] == "success", second["_output"][-4000:]
    (only,) = _collects(second)
    assert only["label"] == f"{home.domain} {named}" and only["state"] == "skipped", only
    assert user not in json.dumps(only)  # the targets task's list keeps the handle: the tasks collect from it
