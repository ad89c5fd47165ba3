"""The text report's lines of prose as one line each again, for tests that check what a sentence says rather than
where the report wrapped it (:func:`fediscope.report.prose`: at 100 columns, or the width asked for)."""

from __future__ import annotations

import re

#: a table's dashed line (:func:`fediscope.report.text_table`): the rows below it are never wrapped
SEPARATOR = re.compile(r"-+(  -+)*")


def unwrapped(text: str) -> str:
    """``text`` with each wrapped line of prose joined back into one: a line indented by exactly two spaces continues
    the one above it, except in a table (from its dashed line to a blank line or the note under it, which starts
    with "("), whose rows may start with spaces of their own (a right-aligned number)."""
    lines: list[str] = []
    in_table = False
    for line in text.split("\n"):
        if SEPARATOR.fullmatch(line):
            in_table = True
        elif not line or line.startswith("("):
            in_table = False
        if not in_table and lines and lines[-1] and re.match(r"  \S", line):
            lines[-1] += " " + line[2:]
        else:
            lines.append(line)
    return "\n".join(lines)
