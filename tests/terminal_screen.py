"""A command run on a real pseudo-terminal of a given width, and what its screen then shows.

:func:`on_terminal` starts ``python -m fediscope …`` (or any argv) with its stderr (and its stdout, unless
``stdout_pipe``) on a pty whose window size is set with ``TIOCSWINSZ``, as a narrow terminal or a tmux split is;
:class:`Screen` replays what it wrote as a terminal does (``\\r`` back to the first column, a line wider than the
terminal wrapped onto the next row, a CJK character two columns), so a test can check what the operator sees.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import selectors
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

from fediscope.console import char_width


class TerminalStream(io.StringIO):
    """A terminal's stderr as a progress line sees it, in memory (its width is ``COLUMNS``, else 80)."""

    def isatty(self) -> bool:
        return True


def stderr_as_a_wide_terminal(monkeypatch) -> None:
    """Make (pytest's captured) ``sys.stderr`` say it is a terminal, 200 columns wide: progress is then written as
    a terminal gets it (each page on its status line), and read with ``capsys``."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")


@dataclass
class TerminalRun:
    code: int
    terminal: str  # what the command wrote to the pty, with the pty's "\r\n" for "\n" back to "\n"
    stdout: str | None  # what it wrote to its stdout when that was a pipe


def on_terminal(argv: list[str], columns: int, env: dict[str, str], cwd: Path | None = None,
                stdout_pipe: bool = False, timeout: float = 120) -> TerminalRun:
    """Run ``argv`` with stderr (and stdout unless ``stdout_pipe``) on a pty of ``columns`` columns; stdin is
    /dev/null (no question is asked)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {key: value for key, value in env.items() if key not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if stdout_pipe else slave,
                               stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    out_fd = process.stdout.fileno() if process.stdout else None
    chunks: dict[int, list[bytes]] = {master: [], **({out_fd: []} if out_fd is not None else {})}
    selector = selectors.DefaultSelector()
    for fd in chunks:
        selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                try:
                    data = os.read(key.fd, 65536)
                except OSError:  # EIO: the pty's last writer is gone
                    data = b""
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
        if process.stdout:
            process.stdout.close()
    terminal = b"".join(chunks[master]).decode("utf-8").replace("\r\n", "\n")
    stdout = b"".join(chunks[out_fd]).decode("utf-8") if out_fd is not None else None
    return TerminalRun(code, terminal, stdout)


def fediscope_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "fediscope", *args]


@dataclass
class Screen:
    """A terminal ``columns`` wide replaying text: rows of cells, a row a continuation of the one before when the
    line above wrapped onto it (auto-margin, as xterm: the wrap happens at the character after the last column)."""

    columns: int
    rows: list[list[str]] = field(default_factory=lambda: [[]])
    continued: list[bool] = field(default_factory=lambda: [False])
    row: int = 0
    col: int = 0
    #: each ``\\r`` written on a continuation row: a line wider than the terminal being rewritten, which rewrites
    #: only its last row and leaves the rows above it behind
    rewrites_of_wrapped_lines: int = 0

    def write(self, text: str) -> Screen:
        for char in text:
            if char == "\n":
                self._next_row(continued=False)
            elif char == "\r":
                if self.continued[self.row]:
                    self.rewrites_of_wrapped_lines += 1
                self.col = 0
            else:
                self._put(char)
        return self

    def _next_row(self, continued: bool) -> None:
        self.row, self.col = self.row + 1, 0
        if self.row == len(self.rows):
            self.rows.append([])
            self.continued.append(continued)
        elif continued:
            self.continued[self.row] = True

    def _put(self, char: str) -> None:
        width = char_width(char)
        if width == 0:
            return
        if self.col + width > self.columns:
            self._next_row(continued=True)
        cells = self.rows[self.row]
        cells.extend(" " * (self.col + width - len(cells)))
        cells[self.col] = char
        if width == 2:
            cells[self.col + 1] = ""
        self.col += width

    def lines(self) -> list[str]:
        """The screen's lines as the operator reads them: a wrapped line's rows joined, trailing blanks dropped,
        the empty row the cursor ends on left out."""
        lines: list[str] = []
        for cells, continued in zip(self.rows, self.continued, strict=True):
            text = "".join(cells)
            if continued and lines:
                lines[-1] += text
            else:
                lines.append(text)
        lines = [line.rstrip() for line in lines]
        return lines[:-1] if lines and not lines[-1] else lines
