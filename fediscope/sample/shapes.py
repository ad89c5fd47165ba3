"""The recorded Mastodon entities the sample corpus is shaped on, loaded once from the package.

The files in ``templates/`` are real API responses (see ``templates/README.md``): a status from a public
timeline, its account, media attachments, a card, a poll, a mention, a tag with history and both instance
documents. The generator copies their key sets and constant parts (``filtered``, ``quote_approval``,
``feature_approval`` …) so generated records look like what a real server returns, field for field.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

TEMPLATE_NAMES = ("status", "account", "media_image", "media_video", "card", "poll", "mention", "tag",
                  "instance_v2", "instance_v1", "activity")


@cache
def _load(name: str) -> Any:
    if name not in TEMPLATE_NAMES:
        raise KeyError(f"no template {name!r}; known: {', '.join(TEMPLATE_NAMES)}")
    text = resources.files("fediscope.sample").joinpath("templates", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def template(name: str) -> Any:
    """A fresh deep copy of one recorded entity (callers may change it freely)."""
    return copy.deepcopy(_load(name))


def status_keys() -> tuple[str, ...]:
    """Every key of the recorded status, in the order the server sent them."""
    return tuple(_load("status"))


def account_keys() -> tuple[str, ...]:
    return tuple(_load("account"))
