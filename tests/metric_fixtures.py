"""Shared set-up of the tests that run ``fediscope process`` over a small generated lake with a registry of their
own: the lake landed as the collector would land it, and the built-in metrics cut to a few shipped ones."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

import fediscope.engine.metrics as registry


def land_generated_corpus(statuses: int, seed: int = 7) -> None:
    """A generated corpus of ``statuses`` landed in the lake of the current settings (``FEDISCOPE_*``), with their
    privacy policy."""
    from fediscope.config import load_settings
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    settings = load_settings()
    write_raw_lake(open_lake(settings.lake), statuses, seed=seed, policy=policy_from_settings(settings))


def shipped_metrics_dir(directory: Path, names: Iterable[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """``directory`` created, holding copies of the shipped metric files ``names``, and set as the built-in metrics'
    directory (:data:`~fediscope.engine.metrics.SQL_DIR`) with the registry's cache cleared."""
    directory.mkdir()
    for name in names:
        shutil.copy(registry.SQL_DIR / f"{name}.sql", directory)
    monkeypatch.setattr(registry, "SQL_DIR", directory)
    registry.load_metrics.cache_clear()
    return directory
