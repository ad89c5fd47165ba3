"""Progress output of a collection run on stderr: one status line per source on a terminal; with ``--progress``
on a pipe or a file (a log), a plain line every :data:`PLAIN_SECONDS`, each source's final line and the waits for
a rate-limit window to reset; nothing otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from fediscope.step_progress import StatusLine

#: seconds between two plain progress lines in a log (a line per page would flood it)
PLAIN_SECONDS = 30.0


class Progress:
    """A source's pages and statuses on one :class:`~fediscope.step_progress.StatusLine` (rewritten in place on a
    terminal); rate-limit waits on their own line. A log line written to the same stream meanwhile gets a line of
    its own (:func:`~fediscope.step_progress.break_open_line`).

    On a pipe or a file, the waits that only spread the requests left in a rate-limit window (``kind`` ``pace``:
    one before nearly every request once a window runs low) get no line each, which flooded a log with them: the
    next plain page line says how many there were since the last line, and for how long."""

    def __init__(self, enabled: bool, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.line = StatusLine(stream, plain_seconds=PLAIN_SECONDS, clock=clock) if enabled else None
        self._paced = 0  # pacing waits on a pipe not said yet, and their seconds
        self._paced_seconds = 0.0

    def page(self, label: str, pages: int, fetched: int, landed: int, refreshed: int = 0) -> None:
        if self.line is not None:
            text = (f"{label}: page {pages}, {fetched} fetched, {landed} landed"
                    + (f", {refreshed} refreshed" if refreshed else ""))
            if self._paced:
                text += f" (paced: {self._paced} waits, {self._paced_seconds:.1f} s)"
            if self.line.show(text):
                self._paced, self._paced_seconds = 0, 0.0

    def wait(self, what: str, seconds: float, kind: str = "rate_limit") -> None:
        if self.line is not None:
            if kind == "pace" and not self.line.terminal:
                self._paced += 1
                self._paced_seconds += seconds
                return
            self.line.end_line()  # the page line stays, the wait goes below it
            self.line.finish(f"  waiting {seconds:.1f} s for {what}")

    def done(self, label: str, message: str) -> None:
        if self.line is not None:
            self._paced, self._paced_seconds = 0, 0.0
            self.line.finish(f"{label}: {message}")
