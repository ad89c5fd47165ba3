"""Progress of a long command on stderr: shown on a terminal, or when ``--progress`` asks for it; nothing
otherwise, so a piped run stays quiet.

Two kinds: :class:`LineProgress` writes each step as a line of its own (``fediscope process``, ``fediscope gdpr
erase``); :class:`StatusLine` rewrites one line in place with ``\\r`` on a terminal (the collector's pages,
``fediscope store export``'s rows, ``fediscope lake ls --records``' files), cut to the terminal's width, and writes
no ``\\r`` at all to a pipe or a file (a log): only its final lines there, and for long work a plain line now and
then. Either shows the control characters of its text as escapes (:func:`~fediscope.console.printable`): a
progress line names sources, tags and lake files, which a server or another writer of the lake chose.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO, TypeVar

from fediscope.console import as_shown, clip, display_width, printable, terminal_columns
from fediscope.interrupts import raise_if_lost

T = TypeVar("T")

#: The StatusLine whose line is open (written without its newline), if any: see :func:`break_open_line`.
_open: StatusLine | None = None


def break_open_line(stream: TextIO) -> None:
    """End the status line left open on ``stream``, so that what is written next (a log line) starts a line of its
    own instead of running on after the progress text. The next progress update starts a new status line."""
    current = _open
    if current is not None and current.stream is stream:
        current.end_line()


class StatusLine:
    """One line of progress on ``stream`` (stderr).

    On a terminal, :meth:`show` rewrites it in place (``\\r``), cut to the terminal's width: a longer line wraps,
    and ``\\r`` then rewrites only its last row, leaving the others behind at every update (a narrow terminal, a
    tmux split, a long tag name; a CJK character takes two columns). Each rewrite, and :meth:`clear`, blanks what
    the line before it took, no more: a fixed run of spaces wider than the terminal wraps too. :meth:`finish`
    writes a final line whole, and ends it.

    On a pipe or a file there is no ``\\r``: :meth:`show` writes a plain line when ``plain_seconds`` have passed
    since the last line (never when None), :meth:`finish` a plain line, :meth:`clear` nothing.
    """

    def __init__(self, stream: TextIO | None = None, plain_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.plain_seconds, self.clock = plain_seconds, clock
        self._last = clock()
        self._shown = ""  # the open line as written on the terminal ("" when none is open)

    def show(self, text: str) -> bool:
        """Show ``text``; whether it was written (on a pipe, only every ``plain_seconds``)."""
        text = printable(text)
        if self.terminal:
            shown = as_shown(text, self.stream)
            width = terminal_columns(self.stream) - 1  # the last column: some terminals wrap on it already
            self._rewrite(clip(shown, width, ellipsis=as_shown("\u2026", self.stream)), "")
            return True
        if self.plain_seconds is not None and self.clock() - self._last >= self.plain_seconds:
            self._plain(text)
            return True
        return False

    def finish(self, text: str) -> None:
        text = printable(text)
        if self.terminal:
            self._rewrite(as_shown(text, self.stream), "\n")
        else:
            self._plain(text)

    def clear(self) -> None:
        """Blank the open line and leave the cursor at its start (what comes next is written there)."""
        if self._shown:
            self._rewrite("", "\r")

    def end_line(self) -> None:
        """End the open line as it is (a newline after it), so that what follows starts a line of its own."""
        if self._shown:
            self._write("\n", "")

    def _rewrite(self, text: str, end: str) -> None:
        pad = max(0, display_width(self._shown) - display_width(text))
        self._write("\r" + text + " " * pad + end, "" if end else text)

    def _plain(self, text: str) -> None:
        self._last = self.clock()
        self._write(text + "\n", "")

    def _write(self, text: str, left_open: str) -> None:
        global _open
        self.stream.write(text)
        self.stream.flush()
        self._shown = left_open
        if left_open:
            _open = self
        elif _open is self:
            _open = None


class LineProgress:
    """Writes each step as one line on ``stream`` (stderr) when enabled; does nothing otherwise."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled, self.stream = enabled, stream or sys.stderr

    def __call__(self, text: str) -> None:
        if self.enabled:
            self.stream.write(printable(text) + "\n")
            self.stream.flush()


def in_steps(items: Sequence[T], label: str, show: Callable[[str], None] | None, steps: int = 10) -> Iterator[T]:
    """``items``, saying ``label: 12/120`` to ``show`` after each tenth of them (``steps``) and after the last: a
    pass over thousands of files shows it is moving without a line per file."""
    total = len(items)
    every = max(1, -(-total // steps))
    for done, item in enumerate(items, 1):
        raise_if_lost()  # a Ctrl-C raised in a finalizer stops the pass before its next item
        yield item
        if show is not None and (done % every == 0 or done == total):
            show(f"{label}: {done}/{total}")
