"""On a split-domain instance (tests/doubles/split_domain.py: served from ``social.example.test``, handles
``@user@example.test``) ``account:user@example.test`` is the same source as ``account:user`` once the handle domain
is known: learned from the instance document this run, or remembered in the lake from an earlier one.

Was: the two spellings had a checkpoint each, so the timeline was collected twice into the raw lake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN

from fediscope.config import Settings
from fediscope.lake.layout import state_path
from fediscope.lake.state import checkpoint_source
from fediscope.privacy import policy_from_settings
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source


def local_user(home: MastodonDouble) -> tuple[str, int]:
    """A local account of the instance with several public statuses, and their number."""
    counts: dict[str, int] = {}
    for status in home.public_statuses():
        if "@" not in status["account"]["acct"]:
            counts[status["account"]["acct"]] = counts.get(status["account"]["acct"], 0) + 1
    user = max(counts, key=lambda u: counts[u])
    assert counts[user] > 5
    return user, counts[user]


def state_files(lake_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(lake_dir / "_state")) for p in (lake_dir / "_state").rglob("*.json")
                  if p.parent.name != "_state")


def settings_for(make_settings: Callable[..., Settings], privacy: bool) -> Settings:
    return make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))


@pytest.mark.parametrize("privacy", [True, False])
def test_an_account_written_with_the_handle_domain_is_the_bare_source(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake: Any, lake_dir: Path,
        privacy: bool) -> None:
    settings = settings_for(make_settings, privacy)
    user, statuses = local_user(home)
    both = [(home.url, parse_source(f"account:{user}@{HANDLE_DOMAIN.upper()}")),
            (home.url, parse_source(f"account:{user}"))]
    summary = run_collection(settings, both, progress=False)
    assert summary.ok and len(summary.sources) == 1, summary.line()
    assert summary.to_dict()["sources"][0]["source"] == f"account:{user}@{HANDLE_DOMAIN.upper()}"  # as written
    assert summary.landed == statuses and max(lake.ids().values()) == 1
    # a later run of the other spelling alone walks the same checkpoint: nothing new
    again = run_collection(settings, both[1:], progress=False)
    assert again.ok and again.fetched == 0, again.line()
    policy = policy_from_settings(settings) if privacy else None
    name = Path(state_path(home.domain, checkpoint_source(f"account:{user}", policy))).name
    assert state_files(lake_dir) == [f"{home.domain}/{name}", f"{home.domain}/start/{name}"]
    assert len(home.requests_to("/api/v2/instance")) == 2  # once a run
    if privacy:
        assert user not in " ".join(str(p) for p in lake_dir.rglob("*"))


@pytest.mark.parametrize("document", ["read", "remembered"])
def test_a_lake_checkpointed_under_the_handle_domain_spelling_goes_on_where_it_was(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake_dir: Path,
        caplog: pytest.LogCaptureFixture, document: str) -> None:
    """A checkpoint kept under ``account:user@example.test`` by an earlier run is the bare source's from now on,
    also in a run that cannot read the instance document (the handle domain remembered in the lake), with no
    handle in any state name or log line (privacy on)."""
    settings = make_settings()
    policy = policy_from_settings(settings)
    user, statuses = local_user(home)
    bare = lake_dir / state_path(home.domain, checkpoint_source(f"account:{user}", policy))
    old = lake_dir / state_path(home.domain, checkpoint_source(f"account:{user}@{HANDLE_DOMAIN}", policy))
    first = run_collection(settings, [(home.url, parse_source(f"account:{user}"))], progress=False)
    assert first.landed == statuses
    for path in (bare, bare.parent / "start" / bare.name):  # as a run collecting the other spelling kept it
        path.rename(path.parent / old.name)
    checkpoint = json.loads(old.read_text())
    if document == "remembered":
        for path in ("/api/v2/instance", "/api/v1/instance"):
            home.fail(status=500, times=1000, path=path)
    with caplog.at_level(logging.INFO, logger="fediscope"):
        again = run_collection(settings, [(home.url, parse_source(f"account:{user}"))], progress=False)
    assert again.ok and again.fetched == 0, again.line()
    assert again.sources[0].checkpoint == checkpoint["newest_id"]
    assert state_files(lake_dir) == [f"{home.domain}/{bare.name}", f"{home.domain}/start/{bare.name}"]
    assert [r.getMessage() for r in caplog.records if "is its own from now on" in r.getMessage()] == [
        f"{home.domain} {checkpoint_source(f'account:{user}', policy)}: the checkpoint kept under its spelling with "
        "the instance's handle domain is its own from now on"]
    assert user not in caplog.text
    assert user not in " ".join(str(p) for p in lake_dir.rglob("*"))
