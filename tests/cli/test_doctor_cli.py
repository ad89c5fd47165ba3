"""``fediscope doctor`` leaves nothing behind: its lake probe does not create the lake it checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fediscope.cli import cli


def test_a_lake_not_created_yet_is_checked_and_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: doctor run in a new directory left an empty ./lake (and its parents) behind."""
    lake = tmp_path / "not" / "yet" / "lake"
    monkeypatch.setenv("FEDISCOPE_LAKE", str(lake))
    monkeypatch.setenv("FEDISCOPE_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "k" * 8 + "9f3a1c7e5b2d4068a1c3e5f7091b2d4f6a8c0e2")
    result = CliRunner().invoke(cli, ["doctor"])
    lake_line = next(line for line in result.output.splitlines() if line.startswith("OK    lake"))
    # was: "wrote, read and deleted a probe file (… s); the lake is not created yet", which read as a contradiction
    assert re.fullmatch(rf"OK    lake +{re.escape(str(lake))}: not created yet; the location is writable \(a probe "
                        r"file was written there, read back and removed with its directories, \d+\.\d\d s\): the "
                        r"first `fediscope collect` creates the lake", lake_line), lake_line
    assert list(tmp_path.iterdir()) == []  # neither the lake, nor its parents, nor the store


def test_an_existing_lake_keeps_everything_but_the_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lake" / "raw").mkdir(parents=True)
    monkeypatch.setenv("FEDISCOPE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("FEDISCOPE_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    result = CliRunner().invoke(cli, ["doctor"])
    assert "OK    lake" in result.output and "wrote, read and deleted a probe file" in result.output
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == ["raw"]
