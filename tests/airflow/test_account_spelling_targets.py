"""The ingest DAG's targets of an account configured in two spellings of a split-domain instance.

``account:user`` and ``account:user@example.test`` of ``social.example.test`` (handles ``@user@example.test``) are one
source to the collector once it knows the handle domain (fediscope/sources/spellings.py). Was: the ``targets`` task
folded the instance's own domain and the case but not the handle domain, so they were two mapped tasks sharing one
checkpoint and walk lock, and the one that met the other walking failed (and was retried) with ``another fediscope
collect is walking …``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, WEB_HOST, split_domain_double

from fediscope import orchestration as orch
from fediscope.config import Settings
from fediscope.errors import UpstreamError
from fediscope.lake.local import LocalLake
from fediscope.sources.handle_domains import HANDLE_DOMAINS_PATH, remember_handle_domain

PSEUDONYM = "orchestration-spelling-pseudonym-key-0123456789"


@pytest.fixture(autouse=True)
def _no_local_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # load_settings reads ./fediscope.toml


def _settings(lake: Path, instance: str, timelines: list[str], privacy: bool = True) -> Settings:
    overrides = {"lake": str(lake), "privacy": privacy, "max_retries": 0, "request_timeout": 3,
                 "sources": [{"instance": instance, "timelines": timelines}]}
    return orch.settings_from_overrides(overrides, env={"FEDISCOPE_PSEUDONYM_KEY": PSEUDONYM} if privacy else {})


def _named(source: str, settings: Settings) -> str:
    """As the collector's log lines name the source (its digest while privacy is on)."""
    return orch.logged_source(source, settings)


# -- the targets task: the handle domain the lake remembers ---------------------------------------------------------
@pytest.mark.parametrize("privacy", [True, False])
def test_the_spelling_with_a_remembered_handle_domain_is_one_target(tmp_path: Path, privacy: bool) -> None:
    """Before the lake remembers the handle domain (a first run) the spellings stay apart: the targets task asks no
    instance, and it leaves a lake that is not there yet so (ingest's collect tasks create it)."""
    lake = tmp_path / "lake"
    settings = _settings(lake, f"https://{WEB_HOST}",
                         ["account:Alice@Example.Test", "public", "account:alice", "account:bob@elsewhere.org"],
                         privacy)
    first = orch.collection_targets(settings)
    assert [t["source"] for t in first] == ["account:alice@example.test", "public", "account:alice",
                                            "account:bob@elsewhere.org"]
    assert not lake.exists()
    remember_handle_domain(LocalLake(lake), WEB_HOST, HANDLE_DOMAIN)  # as the first run's collector does
    targets = orch.collection_targets(settings)
    assert targets == [{"instance": f"https://{WEB_HOST}", "source": "account:alice"},
                       {"instance": f"https://{WEB_HOST}", "source": "public"},
                       {"instance": f"https://{WEB_HOST}", "source": "account:bob@elsewhere.org"}]
    label = orch.target_label(targets[0], settings)
    assert label == f"{WEB_HOST} {_named('account:alice', settings)}"  # as the collector names what it walks
    assert (label == f"{WEB_HOST} account:alice") is not privacy
    if privacy:
        assert "alice" not in label


def test_a_damaged_memory_is_a_warning_and_the_spellings_stay_apart(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """As the collector does then (it leaves such spellings as written); the collect tasks report the damage."""
    lake = tmp_path / "lake"
    (lake / HANDLE_DOMAINS_PATH).parent.mkdir(parents=True)
    (lake / HANDLE_DOMAINS_PATH).write_text("{not json")
    settings = _settings(lake, f"https://{WEB_HOST}", ["account:alice@example.test", "account:alice"])
    with caplog.at_level(logging.WARNING, logger="fediscope"):
        targets = orch.collection_targets(settings)
    assert [t["source"] for t in targets] == ["account:alice@example.test", "account:alice"]
    (line,) = [r.getMessage() for r in caplog.records if "handle domains remembered" in r.getMessage()]
    assert "is damaged" in line and WEB_HOST in line


# -- a first run: two tasks of one account ------------------------------------------------------------------------
@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    """A split-domain instance: served from social.example.test (resolved to 127.0.0.1), handles @…@example.test."""
    with split_domain_double(monkeypatch) as double:
        yield double


def _local_user(home: MastodonDouble) -> str:
    users = [s["account"]["acct"] for s in home.public_statuses() if "@" not in s["account"]["acct"]]
    assert users
    return max(set(users), key=users.count)


def _walking(settings: Settings, home: MastodonDouble, source: str):  # noqa: ANN202
    """The walk lock of ``source`` on ``home``, held as the other task's collector holds it while it walks."""
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sources.spec import parse_source
    from fediscope.sources.walk_lock import source_walk_lock, walk_lock_tag

    ref = parse_source(source)
    policy = policy_from_settings(settings) if settings.privacy else None
    return source_walk_lock(open_lake(settings.lake), home.domain, ref.name, walk_lock_tag(policy, ref))


@pytest.mark.parametrize("privacy", [True, False])
def test_the_task_that_finds_its_twin_walking_the_account_is_skipped_not_failed(
        home: MastodonDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture, privacy: bool) -> None:
    """Before the lake remembers the handle domain, ``account:user@example.test`` is a task of its own; its collector
    learns the handle domain, takes it as ``account:user``, and finds that source's walk lock held by the other
    task. Was: ``UpstreamError: collecting … another fediscope collect is walking …`` and retries."""
    user = _local_user(home)
    written = f"account:{user}@{HANDLE_DOMAIN}"
    settings = _settings(tmp_path / "lake", home.url, [f"account:{user}", written], privacy)
    targets = orch.collection_targets(settings)
    assert [t["source"] for t in targets] == [f"account:{user}", written]
    # only a twin spelling configured for the instance makes it a skip: a lock held by anything else (another
    # collect of a source configured once) fails the task, retried, as before
    alone = _settings(tmp_path / "lake", home.url, [written], privacy)
    with _walking(settings, home, f"account:{user}"):
        with pytest.raises(UpstreamError, match="another fediscope collect is walking") as failed:
            orch.collect_target(alone, targets[1], 3)
        # the failure line names the source as its collector did (folded by the handle domain it learned)
        assert str(failed.value).startswith(
            f"collecting {home.domain} {_named(f'account:{user}', settings) if privacy else written}: "), failed.value
        with caplog.at_level(logging.WARNING, logger="fediscope"):
            result = orch.collect_target(settings, targets[1], 3)
    assert orch.new_records(result) == 0
    reason = orch.skip_reason(result)
    assert reason == (f"skipped: the same account as the source {_named(f'account:{user}', settings)} of "
                      f"{home.domain} ({home.domain}'s handle domain is {HANDLE_DOMAIN}), whose task is walking it; "
                      "from the next run on, the two are one task (remove one spelling from the sources)")
    # the task's line names it as its collector named what it walked: while privacy is on by the bare spelling's
    # digest (its collector learned the handle domain; was: the digest of the spelling as written), else as written
    label = f"{home.domain} {_named(f'account:{user}', settings) if privacy else written}"
    assert f"{label}: {reason}" in caplog.text
    if privacy:
        assert user not in reason and user not in caplog.text and user not in str(result)
    # and the next run's targets task makes them one, as the collector names it
    assert orch.collection_targets(settings) == [{"instance": home.url, "source": f"account:{user}"}]
