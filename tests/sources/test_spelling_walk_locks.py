"""The walk lock of another spelling of an account source goes once the source adopted that spelling's state.

A run that walked ``account:alice@<domain>`` as a source of its own (an older fediscope, or one that did not know the
instance's handle domain) left ``_state/<domain>/collect-<digest of that spelling>.lock``. Once ``account:alice``
adopted that spelling's checkpoint (:func:`~fediscope.lake.state.adopt_spelling`), no collect takes that lock again.
Was: it stayed, named after the account, for good. Now it is deleted when no collect holds it; ``gdpr erase`` then
finds the source's own lock, the only one left of the account.

Against the sample instance served over real HTTP on 127.0.0.1, collecting into a local lake.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fediscope.errors import FediscopeError
from fediscope.gdpr.erase import account_state_files
from fediscope.gdpr.subject import Subject
from fediscope.lake.layout import state_path
from fediscope.lake.local import LocalLake
from fediscope.lake.state import checkpoint_source
from fediscope.privacy import policy_from_settings
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer
from fediscope.sources import walk_lock
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source
from fediscope.sources.walk_lock import remove_walk_lock, source_walk_lock, walk_lock_name, walk_lock_tag

ACCT = "ada_raven"  # a local account of the sample instance below


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(400, seed=5), rate_limit=100_000) as running:
        yield running


def _locks(lake_dir: Path, domain: str) -> set[str]:
    return {p.name for p in (lake_dir / "_state" / domain).glob("collect-*.lock")}


@pytest.mark.parametrize("privacy", [True, False])
def test_the_walk_lock_of_an_adopted_spelling_is_deleted_once_no_collect_holds_it(
        server, make_settings, lake_dir, caplog, privacy: bool) -> None:
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}))
    policy = policy_from_settings(settings) if privacy else None
    domain = server.url.split("//", 1)[1]
    lake = LocalLake(str(lake_dir))
    spelled = f"account:{ACCT}@{domain}"
    bare = lake_dir / state_path(domain, checkpoint_source(f"account:{ACCT}", policy))
    old = lake_dir / state_path(domain, checkpoint_source(spelled, policy))
    first = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert first.ok and first.landed > 0, first.line()
    own_lock = walk_lock_name(walk_lock_tag(policy, parse_source(f"account:{ACCT}")))
    spelling_lock = walk_lock_name(walk_lock_tag(policy, parse_source(spelled)))
    # the state and the walk lock as a run that walked the spelling as its own source left them
    for path in (bare, bare.parent / "start" / bare.name):
        path.rename(path.parent / old.name)

    def walking() -> contextlib.AbstractContextManager[None]:
        return source_walk_lock(lake, domain, spelled, walk_lock_tag(policy, parse_source(spelled)))

    with walking():
        pass
    assert _locks(lake_dir, domain) == {own_lock, spelling_lock}
    named = checkpoint_source(f"account:{ACCT}", policy) if privacy else f"account:{ACCT}"

    # a collect walking the spelling holds its lock: left
    with walking(), caplog.at_level(logging.INFO, logger="fediscope"):
        again = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert again.ok and again.fetched == 0, again.line()  # the spelling's checkpoint adopted: nothing walked again
    assert _locks(lake_dir, domain) == {own_lock, spelling_lock}
    # no collect holds it: the next run deletes it
    with caplog.at_level(logging.INFO, logger="fediscope"):
        third = run_collection(settings, [(server.url, parse_source(f"account:{ACCT}"))], progress=False)
    assert third.ok and third.fetched == 0, third.line()
    assert _locks(lake_dir, domain) == {own_lock}
    assert [r.getMessage() for r in caplog.records if "walk lock" in r.getMessage()] == [
        f"{domain} {named}: the walk lock of its spelling with the instance's domain is deleted"]
    if privacy:
        assert ACCT not in caplog.text
    # gdpr erase finds the account's lock left (and deletes it with the checkpoints)
    subject = Subject(key="@" + ACCT, pseudonymised=privacy, username=ACCT, domain=domain)
    found = [Path(f.path).name for f in account_state_files(lake, [subject], policy, {}) if f.kind == "walk_lock"]
    assert found == [own_lock]


def test_a_collect_that_opened_a_lock_just_before_it_was_deleted_locks_the_one_at_its_name(
        lake_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`remove_walk_lock` deletes a lock file no collect holds, but a collect may have opened it just before and
    lock it just after: it would hold a file no longer there while the next collect creates and locks another, two
    walks at once. The collect sees the file it locked is gone and locks the one at its name."""
    lake = LocalLake(str(lake_dir))
    path = lake.local_path(f"_state/example.org/{walk_lock_name('public')}")
    with source_walk_lock(lake, "example.org", "public", "public"):  # the lock file, as a walk left it
        pass
    opened = os.open

    def deleted_right_after_opening(name, flags, *args):  # type: ignore[no-untyped-def]
        fd = opened(name, flags, *args)
        if name == path:
            monkeypatch.setattr(walk_lock.os, "open", opened)  # once
            assert remove_walk_lock(lake, "example.org", "public")  # not locked yet: deleted
        return fd

    monkeypatch.setattr(walk_lock.os, "open", deleted_right_after_opening)
    with source_walk_lock(lake, "example.org", "public", "public"):
        assert os.path.exists(path)
        with (pytest.raises(FediscopeError, match="another fediscope collect is walking example.org public"),
              source_walk_lock(lake, "example.org", "public", "public")):
            pass
        assert not remove_walk_lock(lake, "example.org", "public")  # held
    assert os.path.exists(path)
