"""Progress of a long command as lines on stderr (``fediscope process``, ``fediscope gdpr erase``): shown on a
terminal, or when ``--progress`` asks for it; nothing otherwise, so a piped run stays quiet."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO, TypeVar

T = TypeVar("T")


class LineProgress:
    """Writes each step as one line on ``stream`` (stderr) when enabled; does nothing otherwise."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled, self.stream = enabled, stream or sys.stderr

    def __call__(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()


def in_steps(items: Sequence[T], label: str, show: Callable[[str], None] | None, steps: int = 10) -> Iterator[T]:
    """``items``, saying ``label: 12/120`` to ``show`` after each tenth of them (``steps``) and after the last: a
    pass over thousands of files shows it is moving without a line per file."""
    total = len(items)
    every = max(1, -(-total // steps))
    for done, item in enumerate(items, 1):
        yield item
        if show is not None and (done % every == 0 or done == total):
            show(f"{label}: {done}/{total}")
