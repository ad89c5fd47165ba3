"""``fediscope doctor`` leaves nothing behind: its lake probe does not create the lake it checks.

Each test runs as a shell in its tmp_path (:func:`cli_run.clean_env`): no FEDISCOPE_* of the caller, no ./fediscope.toml
(a FEDISCOPE_PRIVACY=maybe in the caller's shell failed all four; FEDISCOPE_INSTANCES sent doctor to the network)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_run import clean_env, run
from click.testing import CliRunner

from fediscope.cli import cli


def test_a_lake_not_created_yet_is_checked_and_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: doctor run in a new directory left an empty ./lake (and its parents) behind."""
    lake = tmp_path / "not" / "yet" / "lake"
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(lake), FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}",
              FEDISCOPE_PSEUDONYM_KEY="k" * 8 + "9f3a1c7e5b2d4068a1c3e5f7091b2d4f6a8c0e2")
    result = CliRunner().invoke(cli, ["doctor"])
    lake_line = next(line for line in result.output.splitlines() if line.startswith("OK    lake"))
    # was: "wrote, read and deleted a probe file (… s); the lake is not created yet", which read as a contradiction
    assert re.fullmatch(rf"OK    lake +{re.escape(str(lake))}: not created yet; the location is writable \(a probe "
                        r"file was written there, read back and removed with its directories, \d+\.\d\d s\): the "
                        r"first `fediscope collect` creates the lake", lake_line), lake_line
    assert list(tmp_path.iterdir()) == []  # neither the lake, nor its parents, nor the store


def test_an_existing_lake_keeps_everything_but_the_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lake" / "raw").mkdir(parents=True)
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"),
              FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}")
    result = CliRunner().invoke(cli, ["doctor"])
    assert "OK    lake" in result.output and "wrote, read and deleted a probe file" in result.output
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == ["raw"]


def _lake_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lake: Path) -> str:
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(lake), FEDISCOPE_STORE=f"sqlite:///{tmp_path / 'store.db'}")
    result = CliRunner().invoke(cli, ["doctor"])
    return next(line for line in result.output.splitlines() if line.split()[1:2] == ["lake"])


NO_LAKE = ("but it is no lake: it holds none of a lake's directories (raw/, curated/, quarantine/, _state/, "
           "_audit/){}, so `fediscope gdpr erase`, `gdpr export`, `gdpr retention` and `store drop` refuse it and "
           "`process` finds no data in it -> fix: point FEDISCOPE_LAKE {}")


def test_a_directory_that_is_no_lake_warns_naming_the_lake_below_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: OK (the probe could be written), while `gdpr erase`, `export`, `retention` and `store drop` refuse the
    directory: the one above the lake, or any other holding none of a lake's directories."""
    above = tmp_path / "data"
    (above / "lake" / "raw").mkdir(parents=True)
    (above / "notes.txt").write_text("mine")
    line = _lake_line(tmp_path, monkeypatch, above)
    assert line.startswith(f"WARN  lake           {above}: wrote, read and deleted a probe file"), line
    assert line.endswith(NO_LAKE.format("", f"at the lake in it: {above / 'lake'}")), line
    elsewhere = tmp_path / "home"
    (elsewhere / "projects").mkdir(parents=True)
    line = _lake_line(tmp_path, monkeypatch, elsewhere)
    assert line.endswith(NO_LAKE.format("", "at the lake's own directory, or at a new or empty one for a new "
                                            "lake")), line
    assert sorted(p.name for p in above.iterdir()) == ["lake", "notes.txt"]  # the probe left nothing behind


def test_doctor_warns_about_a_lake_directory_exactly_when_the_commands_refuse_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """doctor and `gdpr retention` (:func:`fediscope.lake.backend.require_lake_layout`) say the same of a
    directory: hidden files alone make no lake (they may be another program's, and retention removes day-old
    temporary files at any depth), an empty directory or one whose hidden directories hold no hidden file is a new
    lake, and a directory holding a lake's directory is a lake."""
    cases = {"hidden file": ({".DS_Store": ""}, True), "hidden file deeper": ({".work/.draft.a1b2c3d4.tmp": ""}, True),
             "other files": ({"notes.txt": "", "projects/a.txt": ""}, True),
             "hidden directory": ({".cache/a": ""}, False), "empty": ({}, False),
             "lake": ({"raw/x.jsonl": "{}\n", ".DS_Store": ""}, False), "new lake": ({"_state/x": ""}, False)}
    for name, (files, refused) in cases.items():
        lake = tmp_path / name.replace(" ", "-")
        lake.mkdir()
        for path, text in files.items():
            (lake / path).parent.mkdir(parents=True, exist_ok=True)
            (lake / path).write_text(text)
        line = _lake_line(tmp_path, monkeypatch, lake)
        code, _out, err = run(capsys, "gdpr", "retention", "--dry-run")
        assert (code, err.startswith("fediscope: error: no lake at")) == ((1, True) if refused else (0, False)), \
            (name, err)
        assert line.startswith("WARN  lake" if refused else "OK    lake"), (name, line)
        if name == "hidden file":
            assert line.endswith(NO_LAKE.format(", only 1 hidden file (.DS_Store)", "at the lake's own directory; "
                                                "for a new lake there, remove the hidden files or run `fediscope "
                                                "collect`, which makes it a lake")), line
