"""The erasure deletes the state of the sources naming the erased account, and no other person's.

A bare ``account:alice`` source on instance X names X's local alice (:func:`~fediscope.sources.spellings.
on_instance`): the erased person only where X is the account's instance, or an instance serving its handle domain.
``account:alice@<its domain>`` names it wherever it is collected from. Was: the erasure (and the access export, which
lists what the erasure deletes) took the bare name in every instance's ``_state/<instance>/``, so erasing
``alice@mastodon.social`` deleted the checkpoint, pass marks, walk start and walk lock of every other instance's
alice, whose collections then started over, and the export of alice@mastodon.social listed them as hers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from gdpr_lake import LOCAL, SUBJECT, land_recordings

from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.lake.layout import state_path
from fediscope.lake.state import (
    Checkpoint,
    checkpoint_source,
    save_checkpoint,
    save_pass_mark,
    save_walk_start,
    write_state,
)
from fediscope.privacy import PrivacyPolicy, policy_from_settings
from fediscope.sources.handle_domains import remember_handle_domain
from fediscope.sources.spec import parse_source
from fediscope.sources.walk_lock import walk_lock_name, walk_lock_tag

USER = SUBJECT.partition("@")[0]
OTHER = "other.example"  # another instance, with a local account of the same name


def _state(env: Any, domain: str, source: str, policy: PrivacyPolicy | None) -> set[str]:
    """Every state file a collection keeps for ``source`` of ``domain`` (checkpoint, walk start, settle mark,
    unannounced count, walk lock), written as the collector names them; their lake paths."""
    save_checkpoint(env.lake, domain, source, Checkpoint("1"), policy)
    save_walk_start(env.lake, domain, source, "cut", None, policy)
    save_pass_mark(env.lake, domain, source, "settle", "1", policy)
    unannounced = state_path(domain, checkpoint_source(source, policy), "unannounced")
    write_state(env.lake, unannounced, Checkpoint(None, None, {"records": 2}))
    lock = f"_state/{domain}/{walk_lock_name(walk_lock_tag(policy, parse_source(source)))}"
    env.lake.write_atomic(lock, b"")
    name = checkpoint_source(source, policy)
    return {state_path(domain, name), *(state_path(domain, name, p) for p in ("start", "settle")), unannounced, lock}


def _exported_state(env: Any, account: str) -> set[str]:
    document = export_account(env.settings, account)
    return {entry["path"] for each in (document, *document["also"]) for entry in each["state"] if "path" in entry}


def _present(env: Any, paths: set[str]) -> set[str]:
    return {path for path in paths if env.lake.exists(path)}


@pytest.fixture(params=["privacy on", "privacy off"])
def lake_env(request: pytest.FixtureRequest, env: Any) -> tuple[Any, PrivacyPolicy | None]:
    """The recordings landed with the privacy policy on (state named after keyed digests) or off (handles)."""
    if request.param == "privacy off":
        env = dataclasses.replace(env, settings=env.settings.replace(privacy=False, pseudonym_key=None))
    land_recordings(env.lake, policy_from_settings(env.settings))
    return env, (env.policy if env.settings.privacy else None)


def test_the_erasure_leaves_the_state_of_another_instances_account_of_the_same_name(lake_env) -> None:
    env, policy = lake_env
    own = (_state(env, LOCAL, f"account:{USER}", policy)
           | _state(env, OTHER, f"account:{USER}@{LOCAL}", policy)  # the account, collected from another instance
           | _state(env, OTHER, f"account_lookup:{USER}@{LOCAL}", policy))
    others = _state(env, OTHER, f"account:{USER}", policy) | _state(env, OTHER, f"account_lookup:{USER}", policy)
    assert len(own) == 15 and len(others) == 10

    # the right of access lists the account's sources' files alone, as the erasure deletes them
    assert _exported_state(env, SUBJECT) == own

    report = erase_account(env.settings, SUBJECT)

    assert _present(env, own) == set()
    assert _present(env, others) == others
    assert report.other["checkpoints_deleted"] == 12  # the walk locks are not counted
    assert _exported_state(env, SUBJECT) == set()


def test_a_bare_name_is_the_accounts_on_an_instance_serving_its_handle_domain(lake_env) -> None:
    """``social.example.test`` serves the handles ``@…@example.test`` (remembered in the lake): its bare
    ``account:alice`` is ``alice@example.test``, and is given to that key, the one asked for; another instance's is
    not the account's."""
    env, policy = lake_env
    served, handle_domain = "social.example.test", "example.test"
    assert remember_handle_domain(env.lake, served, handle_domain)
    account = f"{USER}@{handle_domain}"
    own = _state(env, served, f"account:{USER}", policy) | _state(env, OTHER, f"account:{account}", policy)
    others = _state(env, OTHER, f"account:{USER}", policy) | _state(env, LOCAL, f"account:{USER}", policy)

    document = export_account(env.settings, account)
    assert {entry["path"] for entry in document["state"]} == own  # under the key asked for, not the served one's
    assert [each["state"] for each in document["also"]] == [[]]

    erase_account(env.settings, account)

    assert _present(env, own) == set()
    assert _present(env, others) == others
