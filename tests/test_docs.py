"""The README, CI and the code must agree: settings, commands and the quick start."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from fediscope.cli import COMMANDS, cli
from fediscope.config import SETTINGS
from fediscope.lake.lock import INHERIT_ENV

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in README]
    assert not missing, f"README.md lacks these settings: {missing}"


def test_readme_documents_no_setting_that_does_not_exist() -> None:
    known = {s.env for s in SETTINGS} | {"FEDISCOPE_CONFIG", "FEDISCOPE_TOKEN_<INSTANCE>",
                                         "FEDISCOPE_TEST_WEBHDFS", "FEDISCOPE_TEST_HBASE", "FEDISCOPE_TEST_MARIADB",
                                         INHERIT_ENV}
    mentioned = set(re.findall(r"`(FEDISCOPE_[A-Z_<>]+)`", README))
    tokens = {m for m in mentioned if m.startswith("FEDISCOPE_TOKEN_")}
    assert mentioned - known - tokens == set()


def test_quick_start_is_the_two_make_commands_and_ci_runs_the_same() -> None:
    assert "make demo" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, re.MULTILINE)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.MULTILINE) and re.search(r"^demo:", makefile, re.MULTILINE)


def test_every_cli_command_is_documented_and_has_help() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        assert f"fediscope {name}" in README, f"README.md does not show `fediscope {name}`"
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_python_dash_m_fediscope_is_the_command_too() -> None:
    """Was: ``python -m fediscope`` answered "'fediscope' is a package and cannot be directly executed"; only
    ``python -m fediscope.cli`` (the README's spelling, kept) ran the command."""
    import subprocess
    import sys

    for module in ("fediscope", "fediscope.cli"):
        result = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True,
                                timeout=60, cwd=ROOT)
        assert result.returncode == 0 and result.stdout.startswith("fediscope, version "), (module, result.stderr)
        bad = subprocess.run([sys.executable, "-m", module, "process", "--engine", "sprk"], capture_output=True,
                             text=True, timeout=60, cwd=ROOT)
        assert bad.returncode == 2 and "'sprk' is not one of" in bad.stderr, (module, bad.stderr)
