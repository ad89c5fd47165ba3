"""A child process for the signal tests: text pipes, and never left running when a test fails half-way."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def child(argv: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """``argv`` started with its stdout and stderr piped (text), in ``env`` (default: this process's environment);
    killed and reaped when the block ends if it still runs."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
