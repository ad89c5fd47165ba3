"""Fixtures for the GDPR tests (helpers live in gdpr_lake.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from gdpr_lake import KEY, land_recordings

from fediscope.config import Settings
from fediscope.lake.backend import LakeBackend, open_lake
from fediscope.privacy import PrivacyPolicy, policy_from_settings


@dataclass
class Env:
    settings: Settings
    lake: LakeBackend
    lake_dir: Path
    db: Path

    @property
    def policy(self) -> PrivacyPolicy:
        return policy_from_settings(self.settings)

    def key(self, account: str) -> str:
        return self.policy.account_key(account)


@pytest.fixture()
def env(tmp_path: Path) -> Env:
    lake_dir, db = tmp_path / "lake", tmp_path / "store.db"
    settings = Settings(lake=str(lake_dir), store=f"sqlite:///{db}", pseudonym_key=KEY)
    return Env(settings, open_lake(str(lake_dir)), lake_dir, db)


@pytest.fixture()
def landed(env: Env) -> Env:
    assert land_recordings(env.lake, env.policy) > 50
    return env
