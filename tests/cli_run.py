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


def exit_code(status: object) -> int:
    """The exit code ``sys.exit(status)`` gives, as the installed ``fediscope`` script ends: ``sys.exit(main())``
    (None is 0, an int itself, anything else 1)."""
    return 0 if status is None else status if isinstance(status, int) else 1


def run(capsys, *args: str) -> tuple[int, str, str]:
    """``main``'s return value counts too: a command that ends with ``ctx.exit(1)`` returns 1 from ``main``
    (click's non-standalone mode), which the script passes to ``sys.exit``."""
    try:
        code = exit_code(main(list(args)))
    except SystemExit as exc:
        code = exit_code(exc.code)
    out, err = capsys.readouterr()
    return code, out, err
