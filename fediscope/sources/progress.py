"""Progress output of a collection run: one status line on a terminal (stderr), nothing otherwise."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """Rewrites one line per source (``\\r``) with pages and statuses; prints rate-limit waits on their own line."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._line = ""

    def _write(self, text: str, newline: bool = False) -> None:
        if not self.enabled:
            return
        pad = max(0, len(self._line) - len(text))
        self.stream.write("\r" + text + " " * pad + ("\n" if newline else ""))
        self.stream.flush()
        self._line = "" if newline else text

    def page(self, label: str, pages: int, fetched: int, landed: int, refreshed: int = 0) -> None:
        self._write(f"{label}: page {pages}, {fetched} fetched, {landed} landed"
                    + (f", {refreshed} refreshed" if refreshed else ""))

    def wait(self, what: str, seconds: float, kind: str = "rate_limit") -> None:
        if self._line:
            self._write(self._line, newline=True)
        self._write(f"  waiting {seconds:.1f} s for {what}", newline=True)

    def done(self, label: str, message: str) -> None:
        self._write(f"{label}: {message}", newline=True)
