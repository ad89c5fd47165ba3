"""How often one ``fediscope process`` walks the raw lake: once. Over WebHDFS a walk is a request per directory,
so a second one (where the curated statuses begin, for the report's partial-day marks) doubled the listing cost.

Input: REAL recorded statuses (``test_public_tl.json``), landed as fetched on two days.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_data import at, land, policy, settings_for, statuses

from fediscope.engine.process import run_process
from fediscope.lake.layout import RAW_ROOT
from fediscope.lake.local import LocalLake


def test_a_process_run_walks_the_raw_statuses_once(lake: LocalLake, lake_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    posts = statuses("test_public_tl.json", method="GET")
    land(lake, "statuses", posts[:2], at(1), policy())
    land(lake, "statuses", posts[2:4], at(60 * 24 + 1), policy())
    walks: list[str] = []
    walk = LocalLake.walk

    def counted(self: LocalLake, path: str) -> list:
        walks.append(path)
        return walk(self, path)

    monkeypatch.setattr(LocalLake, "walk", counted)
    settings = settings_for(lake_dir)
    run_process(settings, progress=False)
    assert walks.count(f"{RAW_ROOT}/statuses") == 1, walks
