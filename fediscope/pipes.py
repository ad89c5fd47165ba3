"""Stop quietly when the reader of standard output goes away (``command | head``), as Unix tools do."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

#: The exit status of a Unix tool that SIGPIPE ended (128 + 13).
BROKEN_PIPE_EXIT = 141


def quiet_on_broken_pipe(run: Callable[[], int]) -> int:
    """``run()``'s exit status, or :data:`BROKEN_PIPE_EXIT` without a traceback when its output's reader left.
    Standard output is pointed at ``/dev/null`` then (:func:`silence_stdout`)."""
    try:
        return run()
    except BrokenPipeError:
        silence_stdout()
        return BROKEN_PIPE_EXIT


def silence_stdout() -> None:
    """Point standard output at ``/dev/null`` once its reader has gone, so that flushing it at exit does not fail
    again (Python would print an "Exception ignored" message)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
