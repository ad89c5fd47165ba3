"""An erased account of a split-domain instance (tests/doubles/split_domain.py: served from
``social.example.test``, handles ``@user@example.test``) is not collected as an ``account:`` source, whichever
spelling names it: ``account:user@example.test`` (the handle the erasure was given), or ``account:user``, the source
the collector takes that spelling as once the handle domain is known (:mod:`fediscope.sources.spellings`).

Was, with privacy off: ``account:user@example.test`` was folded into ``account:user``, whose check keyed the account
by the domain connected to (``user@social.example.test``, privacy off's clear key), not on the suppression list: the
erased account's timeline was collected and landed again (before the fold, the spelling was checked as written and
skipped). ``account:user`` was collected so too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN
from test_handle_domain_spellings import local_user

from fediscope.config import Settings
from fediscope.gdpr.erase import erase_account
from fediscope.sources.collector import ERASED_SOURCE_REASON, run_collection
from fediscope.sources.spec import parse_source


@pytest.mark.parametrize("privacy", [True, False])
@pytest.mark.parametrize("written", ["handle_domain", "bare"])
def test_an_erased_account_is_not_collected_in_any_spelling(
        home: MastodonDouble, make_settings: Callable[..., Settings], lake: object, tmp_path: Path,
        privacy: bool, written: str) -> None:
    settings = make_settings(**({} if privacy else {"privacy": False, "pseudonym_key": None}),
                             store=f"sqlite:///{tmp_path / 'metrics.db'}")
    user, _statuses = local_user(home)
    assert run_collection(settings, [(home.url, parse_source("public"))], progress=False).landed
    erase_account(settings, f"{user}@{HANDLE_DOMAIN}")
    source = f"account:{user}@{HANDLE_DOMAIN}" if written == "handle_domain" else f"account:{user}"
    asked = len(home.requests_to("/api/v1/accounts/lookup"))

    summary = run_collection(settings, [(home.url, parse_source(source))], progress=False)

    assert [(s.status, s.reason) for s in summary.sources] == [("skipped", ERASED_SOURCE_REASON)], summary.to_dict()
    assert summary.landed == 0 and summary.fetched == 0
    assert len(home.requests_to("/api/v1/accounts/lookup")) == asked  # not even looked up
