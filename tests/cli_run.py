"""Run the ``fediscope`` entry point in-process, as a user's shell would see it: (exit code, stdout, stderr)."""

from __future__ import annotations

from fediscope.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
