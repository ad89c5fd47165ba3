"""Run the ``fediscope`` entry point in-process, as a user's shell would see it: (exit code, stdout, stderr)."""

from __future__ import annotations

import os

from fediscope.cli import main


def clean_env(tmp_path, monkeypatch, **variables: str):
    """A user's shell in ``tmp_path``: no FEDISCOPE_* from the caller, no fediscope.toml in the current directory,
    and ``variables`` (``FEDISCOPE_LAKE=…``) set; returns ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith("FEDISCOPE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
