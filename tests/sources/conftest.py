"""Fixtures of the collector tests: settings pointing at a temporary lake, and readers of what was landed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from collector_testing import TEST_KEY
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import split_domain_double

from fediscope.config import Settings


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def make_settings(lake_dir: Path, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a fast test run: short backoff and timeout, small pages, deep backfill; the test's own store
    (the default, sqlite:///fediscope.db, is a file of the directory the tests run in: the checkout)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"lake": str(lake_dir), "store": f"sqlite:///{tmp_path / 'metrics.db'}",
                                  "pseudonym_key": TEST_KEY, "retry_backoff": 0.01,
                                  "request_timeout": 2.0, "max_retries": 3, "page_limit": 10,
                                  "backfill_pages": 1000, "rate_limit_max_wait": 10.0}
        values.update(overrides)
        return Settings(**values)

    return make


class LakeReader:
    """Reads what a test run landed in a local lake."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def records(self, entity: str = "statuses") -> list[tuple[str, dict[str, Any]]]:
        """(partition directory, record) for every line of every raw batch of ``entity``."""
        out = []
        for path in sorted((self.root / "raw" / "mastodon" / entity).rglob("*.jsonl")):
            for line in path.read_text().splitlines():
                out.append((str(path.parent.relative_to(self.root)), json.loads(line)))
        return out

    def ids(self) -> Counter[tuple[str, str]]:
        """How often each (partition, status id) was landed."""
        return Counter((partition, record["data"]["id"]) for partition, record in self.records())

    def status_ids(self) -> set[str]:
        return {record["data"]["id"] for _p, record in self.records()}

    def quarantine_files(self) -> list[Path]:
        return sorted((self.root / "quarantine").rglob("*.json"))

    def quarantine_entries(self) -> list[dict[str, Any]]:
        return [e for f in self.quarantine_files() for e in json.loads(f.read_text())["entries"]]

    def checkpoint(self, domain: str, source: str) -> dict[str, Any]:
        from fediscope.lake.layout import state_path

        return json.loads((self.root / state_path(domain, source)).read_text())

    def curated_favourites(self, settings: Settings) -> dict[str, int]:
        """Curate the lake (``settings.lake``) with DuckDB and read every curated status's favourites count."""
        from fediscope.engine.base import open_engine

        with open_engine(settings, "duckdb") as engine:
            engine.curate()
            engine.register_curated_views()
            rows = engine.query_arrow("SELECT status_id, favourites_count FROM statuses").to_pylist()
        return {row["status_id"]: row["favourites_count"] for row in rows}

    def all_bytes(self) -> list[tuple[Path, bytes]]:
        return [(p, p.read_bytes()) for p in sorted(self.root.rglob("*")) if p.is_file()]


@pytest.fixture
def lake(lake_dir: Path) -> LakeReader:
    return LakeReader(lake_dir)


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonDouble]:
    """The split-domain instance (tests/doubles/split_domain.py), served by the recorded Mastodon double."""
    with split_domain_double(monkeypatch) as double:
        yield double
