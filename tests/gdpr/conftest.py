"""Fixtures for the GDPR tests (helpers live in gdpr_lake.py)."""

from __future__ import annotations

import os
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


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture()
def run_cli(env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run ``fediscope …`` in-process with the env's lake/store/key in the environment (as a user would)."""
    import logging

    from fediscope.cli import main

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("FEDISCOPE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FEDISCOPE_LAKE", env.settings.lake)
    monkeypatch.setenv("FEDISCOPE_STORE", env.settings.store)
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", KEY)
    root = logging.getLogger()
    handlers, configured = list(root.handlers), getattr(root, "_fediscope_configured", False)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(args)) or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    for handler in root.handlers[:]:  # configure_logging binds a handler to the captured stderr
        if handler not in handlers:
            root.removeHandler(handler)
    root._fediscope_configured = configured  # type: ignore[attr-defined]
