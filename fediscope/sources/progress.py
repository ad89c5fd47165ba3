"""Progress output of a collection run on stderr: one status line per source on a terminal; with ``--progress``
on a pipe or a file (a log), a plain line every :data:`PLAIN_SECONDS` and each source's final line; nothing
otherwise."""

from __future__ import annotations

from typing import TextIO

from fediscope.step_progress import StatusLine

#: seconds between two plain progress lines in a log (a line per page would flood it)
PLAIN_SECONDS = 30.0


class Progress:
    """A source's pages and statuses on one :class:`~fediscope.step_progress.StatusLine` (rewritten in place on a
    terminal); rate-limit waits on their own line. A log line written to the same stream meanwhile gets a line of
    its own (:func:`~fediscope.step_progress.break_open_line`)."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.line = StatusLine(stream, plain_seconds=PLAIN_SECONDS) if enabled else None

    def page(self, label: str, pages: int, fetched: int, landed: int, refreshed: int = 0) -> None:
        if self.line is not None:
            self.line.show(f"{label}: page {pages}, {fetched} fetched, {landed} landed"
                           + (f", {refreshed} refreshed" if refreshed else ""))

    def wait(self, what: str, seconds: float, kind: str = "rate_limit") -> None:
        if self.line is not None:
            self.line.end_line()  # the page line stays, the wait goes below it
            self.line.finish(f"  waiting {seconds:.1f} s for {what}")

    def done(self, label: str, message: str) -> None:
        if self.line is not None:
            self.line.finish(f"{label}: {message}")
