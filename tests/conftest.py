"""Shared fixtures. Each area keeps its own fixtures in tests/<area>/conftest.py; only cross-area ones live here."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    return DATA / "mastodon" / "recordings"
