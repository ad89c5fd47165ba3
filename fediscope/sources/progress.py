"""Progress output of a collection run: one status line on a terminal (stderr), nothing otherwise."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from fediscope.console import as_shown, clip, display_width

#: The Progress whose status line is open (written without its newline), if any: see :func:`break_open_line`.
_open: Progress | None = None


def break_open_line(stream: TextIO) -> None:
    """End the status line left open on ``stream``, so that what is written next (a log line) starts a line of its
    own instead of running on after the progress text. The next progress update starts a new status line."""
    global _open
    current = _open
    if current is None or current.stream is not stream:
        return
    if current._line:
        current._line = ""
        stream.write("\n")
    _open = None


class Progress:
    """Rewrites one line per source (``\\r``) with pages and statuses; prints rate-limit waits on their own line.
    A log line written to the same stream meanwhile gets a line of its own (:func:`break_open_line`)."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._line = ""

    def _fitted(self, text: str, newline: bool) -> str:
        """``text`` as the stream shows it (:func:`~fediscope.console.as_shown`); a line left open on a terminal
        cut to its width: a longer one wraps, and ``\\r`` then rewrites only its last row, leaving the others
        behind at every update (a narrow terminal, or a long tag name). A finished line is shown whole."""
        shown = as_shown(text, self.stream)
        if newline or not self.stream.isatty():
            return shown
        return clip(shown, shutil.get_terminal_size().columns - 1, ellipsis=as_shown("\u2026", self.stream))

    def _write(self, text: str, newline: bool = False) -> None:
        global _open
        if not self.enabled:
            return
        text = self._fitted(text, newline)
        pad = max(0, display_width(self._line) - display_width(text))
        self.stream.write("\r" + text + " " * pad + ("\n" if newline else ""))
        self.stream.flush()
        self._line = "" if newline else text
        _open = None if newline else self

    def page(self, label: str, pages: int, fetched: int, landed: int, refreshed: int = 0) -> None:
        self._write(f"{label}: page {pages}, {fetched} fetched, {landed} landed"
                    + (f", {refreshed} refreshed" if refreshed else ""))

    def wait(self, what: str, seconds: float, kind: str = "rate_limit") -> None:
        if self._line:
            self._write(self._line, newline=True)
        self._write(f"  waiting {seconds:.1f} s for {what}", newline=True)

    def done(self, label: str, message: str) -> None:
        self._write(f"{label}: {message}", newline=True)
